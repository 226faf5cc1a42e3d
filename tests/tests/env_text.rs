//! Environment variables as text: `KeyValue.value` is `bytes` since cri-api v0.36.2 (the wire
//! is unchanged), so canonical proto3 JSON reads and writes it as base64, while crictl's config
//! files hold text and Go crictl v1.36.0 (built on cri-api v0.36.0, where the field is a
//! `string`) reads and prints text. `JsonOptions::key_value_text` (on in
//! `JsonOptions::crictl()`) reads and writes text.
//!
//! - **Go crictl reads the same configs.** The real Go crictl `create`s a container from
//!   configs in crictl's format (JSON and YAML, proto field names, environment values of every
//!   kind of text) against a server of this test that records the request; the crate reads the
//!   same files with `JsonOptions::crictl()` (as crictl's config reader must) and must get the
//!   same `ContainerConfig`, environment values byte for byte.
//! - **Python writes and reads the same text.** Python's protobuf with the `string`-typed
//!   `KeyValue` of runtime.v1alpha2 (the wire is the same) reads the crate's text JSON to the
//!   same value and writes it back as the same JSON, and the crate reads Python's text.
//! - **Bytes that are not UTF-8** are an error when written as text, and base64 without the
//!   option.

use std::path::Path;
use std::sync::{Arc, Mutex};

use cri_api_v1::json::{self, JsonOptions};
use cri_api_v1::runtime_service_server::{RuntimeService, RuntimeServiceServer};
use cri_api_v1::{
    ContainerConfig, CreateContainerRequest, CreateContainerResponse, KeyValue, VersionRequest,
    VersionResponse,
};
use cri_tests::python::WirePeer;
use prost::Message;
use serde_json::{Value as Json, json};
use tonic::{Request, Response, Status};

/// Environment values of every kind of text, one per variable.
const VALUES: &[&str] = &[
    "bar",
    "",
    "Zm9v",
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "a=b c=d",
    "ü ✓ 日本 🦀",
    "line one\nline two\ttab \"quoted\" \\back\\",
    "<html>&amp;</html>",
];

fn envs_json() -> Json {
    Json::Array(
        VALUES
            .iter()
            .enumerate()
            .map(|(i, value)| json!({"key": format!("VAR_{i}"), "value": value}))
            .collect(),
    )
}

/// A container config in crictl's format: proto field names, as crictl's own files hold.
fn container_config_json() -> String {
    json!({
        "metadata": {"name": "envs", "attempt": 0},
        "image": {"image": "localhost/busybox:1"},
        "command": ["/bin/sh", "-c", "env"],
        "envs": envs_json(),
        "labels": {"role": "env-test"},
        "log_path": "envs.log",
        "linux": {}
    })
    .to_string()
}

/// The same config as YAML (a JSON document is YAML; this one is block style), as users write.
fn container_config_yaml() -> String {
    let mut yaml = String::from(
        "metadata:\n  name: envs\n  attempt: 0\nimage:\n  image: localhost/busybox:1\n\
         command:\n- /bin/sh\n- -c\n- env\nlabels:\n  role: env-test\nlog_path: envs.log\n\
         linux: {}\nenvs:\n",
    );
    for (i, value) in VALUES.iter().enumerate() {
        // A JSON string is a valid YAML double-quoted scalar with the same escapes.
        yaml.push_str(&format!(
            "- key: VAR_{i}\n  value: {}\n",
            Json::String(value.to_string())
        ));
    }
    yaml
}

const POD_CONFIG: &str = r#"{"metadata":{"name":"envs-pod","namespace":"default","uid":"envs-uid","attempt":0},"linux":{}}"#;

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<CreateContainerRequest>>>);

#[tonic::async_trait]
impl RuntimeService for Recorder {
    async fn version(
        &self,
        _: Request<VersionRequest>,
    ) -> Result<Response<VersionResponse>, Status> {
        Ok(Response::new(VersionResponse {
            version: "0.1.0".into(),
            runtime_name: "env-recorder".into(),
            runtime_version: "0.1.0".into(),
            runtime_api_version: "v1".into(),
        }))
    }

    async fn create_container(
        &self,
        request: Request<CreateContainerRequest>,
    ) -> Result<Response<CreateContainerResponse>, Status> {
        self.0.lock().unwrap().push(request.into_inner());
        Ok(Response::new(CreateContainerResponse {
            container_id: "recorded".into(),
        }))
    }
}

/// Runs Go crictl `create --no-pull` with `config` against a recording server; answers the
/// request it sent.
fn go_crictl_create(crictl: &Path, dir: &Path, config_name: &str) -> CreateContainerRequest {
    let socket = dir.join("recorder.sock");
    let _ = std::fs::remove_file(&socket);
    let recorder = Recorder::default();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime.block_on(async { tokio::net::UnixListener::bind(&socket).unwrap() });
    let server = runtime.spawn(
        tonic::transport::Server::builder()
            .add_service(RuntimeServiceServer::new(recorder.clone()))
            .serve_with_incoming(tokio_stream::wrappers::UnixListenerStream::new(listener)),
    );
    let endpoint = format!("unix://{}", socket.display());
    let output = std::process::Command::new(crictl)
        .args(["--config", "/dev/null", "--runtime-endpoint", &endpoint])
        .args(["--image-endpoint", &endpoint, "--timeout", "10s"])
        .args(["create", "--no-pull", "pod-id"])
        .arg(dir.join(config_name))
        .arg(dir.join("pod.json"))
        .output()
        .expect("run Go crictl");
    server.abort();
    assert!(
        output.status.success(),
        "Go crictl create {config_name} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "recorded");
    let mut requests = recorder.0.lock().unwrap();
    assert_eq!(requests.len(), 1, "one CreateContainer call");
    requests.pop().unwrap()
}

/// What crictl's config reader does: JSON, else YAML, to a JSON value, then the crate's reader
/// with crictl's options (unknown fields ignored, as Go's `encoding/json` ignores them).
fn read_as_crictl(text: &str) -> ContainerConfig {
    let value: Json = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(_) => serde_yaml::from_str(text).expect("the test's YAML parses"),
    };
    json::from_str(
        &value.to_string(),
        JsonOptions::crictl().ignore_unknown_fields(true),
    )
    .expect("the crate reads crictl's config")
}

#[test]
fn go_crictl_and_the_crate_read_the_same_env_values_from_crictl_configs() {
    let crictl = cri_tests::go_crictl::binary(Path::new(env!("CARGO_TARGET_TMPDIR")));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pod.json"), POD_CONFIG).unwrap();
    std::fs::write(dir.path().join("ctr.json"), container_config_json()).unwrap();
    std::fs::write(dir.path().join("ctr.yaml"), container_config_yaml()).unwrap();

    for name in ["ctr.json", "ctr.yaml"] {
        let request = go_crictl_create(&crictl, dir.path(), name);
        let go = request.config.expect("Go crictl sends the config");
        let go_values: Vec<&[u8]> = go.envs.iter().map(|kv| kv.value.as_slice()).collect();
        let expected: Vec<&[u8]> = VALUES.iter().map(|v| v.as_bytes()).collect();
        assert_eq!(go_values, expected, "{name}: Go crictl's env values");

        let text = std::fs::read_to_string(dir.path().join(name)).unwrap();
        let mut ours = read_as_crictl(&text);
        // Go crictl fills `user_specified_image` from `image` before sending.
        if let Some(image) = &mut ours.image
            && image.user_specified_image.is_empty()
        {
            image.user_specified_image = image.image.clone();
        }
        assert_eq!(
            ours, go,
            "{name}: the crate reads the config as Go crictl does"
        );
        assert_eq!(
            ours.encode_to_vec(),
            go.encode_to_vec(),
            "{name}: same bytes"
        );

        // Written back with crictl's options, the values are the config's text again.
        let written: Json =
            serde_json::from_str(&json::to_string(&ours, JsonOptions::crictl()).unwrap()).unwrap();
        assert_eq!(written["envs"], envs_json(), "{name}: written as text");
    }

    // Canonical proto3 JSON reads the same file as base64: `PATH`'s value is not base64.
    let error = json::from_str::<ContainerConfig>(
        &container_config_json(),
        JsonOptions::new().ignore_unknown_fields(true),
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("expected base64"), "{error}");
}

#[test]
fn python_with_a_string_value_writes_and_reads_the_same_text() {
    let mut peer = WirePeer::start();
    let items: Vec<Json> = VALUES
        .iter()
        .map(|value| {
            let kv = KeyValue {
                key: "K".into(),
                value: value.as_bytes().to_vec(),
            };
            let text = json::to_string(&kv, JsonOptions::crictl()).unwrap();
            json!({
                "op": "write",
                "type": "runtime.v1alpha2.KeyValue",
                "json": text,
                "options": {"emit_defaults": true, "proto_field_names": false, "enums_as_numbers": false},
            })
        })
        .collect();
    let answers = peer.request(&json!({"op": "json", "items": items}));
    for ((value, item), answer) in VALUES.iter().zip(&items).zip(answers.as_array().unwrap()) {
        let python = answer["json"]
            .as_str()
            .unwrap_or_else(|| panic!("Python reads {:?}: {answer}", item["json"]));
        let ours: Json = serde_json::from_str(item["json"].as_str().unwrap()).unwrap();
        assert_eq!(
            serde_json::from_str::<Json>(python).unwrap(),
            ours,
            "{value:?}: Python's string-typed KeyValue writes what the crate writes"
        );
        let back: KeyValue = json::from_str(python, JsonOptions::crictl()).unwrap();
        assert_eq!(
            back.value,
            value.as_bytes(),
            "the crate reads Python's text"
        );
    }

    // The wire is the same for `string` and `bytes`: Python's v1alpha2 bytes decode as v1.
    let parse: Vec<Json> = VALUES
        .iter()
        .map(|value| {
            json!({"op": "parse", "type": "runtime.v1alpha2.KeyValue",
                   "json": json!({"key": "K", "value": value}).to_string()})
        })
        .collect();
    let answers = peer.request(&json!({"op": "json", "items": parse}));
    for (value, answer) in VALUES.iter().zip(answers.as_array().unwrap()) {
        let hex = answer["bytes"]
            .as_str()
            .expect("Python parses its own text");
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let kv = KeyValue::decode(bytes.as_slice()).unwrap();
        assert_eq!(kv.value, value.as_bytes());
        assert_eq!(kv.encode_to_vec(), bytes);
    }
}

#[test]
fn bytes_that_are_not_utf8_are_an_error_as_text_and_base64_without_the_option() {
    let kv = KeyValue {
        key: "SECRET".into(),
        value: vec![b'o', b'k', 0xff, 0xfe],
    };
    let error = json::to_string(&kv, JsonOptions::crictl()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "KeyValue.value is not UTF-8 (its byte 2 of 4 is not), so it cannot be written as \
         text (JsonOptions::key_value_text); write it without that option to get base64"
    );
    let config = ContainerConfig {
        envs: vec![kv.clone()],
        ..Default::default()
    };
    assert!(json::to_string(&config, JsonOptions::crictl()).is_err());
    assert_eq!(
        json::to_string(&kv, JsonOptions::new()).unwrap(),
        r#"{"key":"SECRET","value":"b2v//g=="}"#
    );
    assert_eq!(
        json::to_string(&kv, JsonOptions::crictl().key_value_text(false)).unwrap(),
        r#"{"key":"SECRET","value":"b2v//g=="}"#
    );
    // Reading text takes the string as it is; `null` is empty; a non-string is an error.
    let read = |text: &str| json::from_str::<KeyValue>(text, JsonOptions::crictl());
    assert_eq!(read(r#"{"value":"b2v//g=="}"#).unwrap().value, b"b2v//g==");
    assert_eq!(read(r#"{"value":null}"#).unwrap().value, b"");
    let error = read(r#"{"value":5}"#).unwrap_err().to_string();
    assert!(error.contains("a string for field `value`"), "{error}");
    // runtime.v1alpha2's `value` is a string: the option changes nothing there.
    let old = cri_api_v1alpha2::KeyValue {
        key: "K".into(),
        value: "bar".into(),
    };
    let options = cri_api_v1alpha2::json::JsonOptions::crictl();
    assert_eq!(
        cri_api_v1alpha2::json::to_string(&old, options).unwrap(),
        cri_api_v1alpha2::json::to_string(&old, options.key_value_text(false)).unwrap()
    );
}
