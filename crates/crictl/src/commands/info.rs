//! The runtime itself: `version`, `info` and `runtime-config`.

use std::io::Write;

use cri_api_v1 as v1;
use cri_client::Client;
use serde_json::Value;

use super::rpc;
use crate::cli::{InfoArgs, Output};
use crate::failure::{Out, Result};
use crate::output::{status_document, write_document, write_document_or_template};
use crate::proto::{to_value, to_value_with};
use cri_api_v1::json::JsonOptions;

pub(super) async fn version(client: &Client, out: &mut Out) -> Result<()> {
    let version = rpc(
        "get the runtime version",
        client
            .version(v1::VersionRequest {
                version: "0.1.0".into(),
            })
            .await,
    )?;
    writeln!(out, "Version:  {}", version.version)?;
    writeln!(out, "RuntimeName:  {}", version.runtime_name)?;
    writeln!(out, "RuntimeVersion:  {}", version.runtime_version)?;
    writeln!(out, "RuntimeApiVersion:  {}", version.runtime_api_version)?;
    Ok(())
}

pub(super) async fn info(client: &Client, args: &InfoArgs, out: &mut Out) -> Result<()> {
    let status = rpc(
        "get the status of runtime",
        client
            .status(v1::StatusRequest {
                verbose: !args.quiet,
            })
            .await,
    )?;
    let status_value = match &status.status {
        Some(s) => to_value(s)?,
        None => Value::Null,
    };
    // crictl marshals these two with Go's `encoding/json` (the structs' tags): proto field
    // names, default values left out.
    let go_json = JsonOptions::new().proto_field_names(true);
    let mut extra = Vec::new();
    if !status.runtime_handlers.is_empty() {
        let handlers: Vec<Value> = status
            .runtime_handlers
            .iter()
            .map(|handler| to_value_with(handler, go_json))
            .collect::<Result<_>>()?;
        extra.push(("runtimeHandlers", Value::Array(handlers)));
    }
    if let Some(features) = &status.features {
        extra.push(("features", to_value_with(features, go_json)?));
    }
    let document = status_document(status_value, &status.info, extra)?;
    match args.output {
        Output::Table => write_document(out, &document, Output::Json),
        other => write_document_or_template(out, &document, other, args.template.as_deref()),
    }
}

pub(super) async fn runtime_config(client: &Client, out: &mut Out) -> Result<()> {
    let response = rpc(
        "get runtime config: call RuntimeConfig RPC",
        client.runtime_config(v1::RuntimeConfigRequest {}).await,
    )?;
    if let Some(linux) = &response.linux {
        let driver = v1::CgroupDriver::try_from(linux.cgroup_driver).map_or_else(
            |_| linux.cgroup_driver.to_string(),
            |d| d.as_str_name().to_string(),
        );
        let row = ["cgroup driver:".to_string(), driver];
        let width = (row[0].len() + 3).max(10);
        writeln!(out, "{:width$}{}", row[0], row[1])?;
    }
    Ok(())
}
