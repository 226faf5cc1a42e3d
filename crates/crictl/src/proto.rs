//! Proto3 JSON of CRI messages, from the API crate (`cri_api_v1`'s serde support), with
//! crictl's options: what Go's `protojson` with `EmitDefaultValues` prints.

use cri_api_v1::json::{self, JsonMessage, JsonOptions, WithOptions};
use serde_json::Value;

use crate::failure::Failure;

/// A serializable view of `message` as crictl prints it (`JsonOptions::crictl()`).
pub fn view<M: JsonMessage>(message: &M) -> WithOptions<'_, M> {
    json::with_options(message, JsonOptions::crictl())
}

/// `message` as a JSON value, as crictl prints it.
pub fn to_value<M: JsonMessage>(message: &M) -> Result<Value, Failure> {
    serde_json::to_value(view(message)).map_err(|e| Failure::msg(format!("encode JSON: {e}")))
}

/// `message` as a JSON value with other options (what crictl's `encoding/json` calls print).
pub fn to_value_with<M: JsonMessage>(message: &M, options: JsonOptions) -> Result<Value, Failure> {
    serde_json::to_value(json::with_options(message, options))
        .map_err(|e| Failure::msg(format!("encode JSON: {e}")))
}

/// Reads one of crictl's config files (JSON or YAML; proto field names, enums as numbers,
/// unknown fields ignored as Go's `encoding/json` ignores them).
pub fn from_config_file<M: JsonMessage>(path: &str) -> Result<M, Failure> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        if error.kind() == std::io::ErrorKind::NotFound {
            Failure::msg(format!("config at {path} not found"))
        } else {
            Failure::msg(format!("read {path}: {error}"))
        }
    })?;
    let value: Value = match serde_json::from_str(&text) {
        Ok(value) => value,
        Err(_) => crate::yaml_input::from_str(&text)
            .map_err(|e| Failure::msg(format!("{path}: neither JSON nor YAML: {e}")))?,
    };
    let text = value.to_string();
    json::from_str(&text, JsonOptions::crictl().ignore_unknown_fields(true))
        .map_err(|e| Failure::msg(format!("{path}: {e}")))
}

/// The JSON names of `ContainerStatus`'s fields (crictl writes `null` for unset messages).
pub const CONTAINER_STATUS_FIELDS: &[&str] = &[
    "id",
    "metadata",
    "state",
    "createdAt",
    "startedAt",
    "finishedAt",
    "exitCode",
    "image",
    "imageRef",
    "reason",
    "message",
    "labels",
    "annotations",
    "mounts",
    "logPath",
    "resources",
    "user",
    "imageId",
    "stopSignal",
];

/// The JSON names of `PodSandboxStatus`'s fields.
pub const POD_SANDBOX_STATUS_FIELDS: &[&str] = &[
    "id",
    "metadata",
    "state",
    "createdAt",
    "network",
    "linux",
    "labels",
    "annotations",
    "runtimeHandler",
];

/// Adds `null` for every listed field the JSON object lacks (crictl's `marshalMapInOrder`).
pub fn fill_nulls(value: &mut Value, fields: &[&str]) {
    if let Value::Object(map) = value {
        for field in fields {
            map.entry(field.to_string()).or_insert(Value::Null);
        }
    }
}
