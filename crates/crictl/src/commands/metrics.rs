//! Metrics: `metricsp` (the pods' metrics, once or every half second with `--watch`) and
//! `metricdescs` (what the metrics mean).

use std::io::Write;
use std::time::Duration;

use cri_api_v1 as v1;
use cri_client::Client;

use super::rpc;
use crate::cli::{MetricdescsArgs, MetricspArgs, Output};
use crate::failure::{Out, Result};
use crate::output::json::write_protojson;
use crate::output::unsupported;
use crate::output::yaml::write_yaml;
use crate::proto::{self, to_value};

/// One response as crictl's `outputProtobufObjAsJSON`/`YAML` prints it.
fn write_response<M: cri_api_v1::json::JsonMessage>(
    out: &mut Out,
    response: &M,
    output: Output,
) -> Result<()> {
    match output {
        Output::Json => {
            write_protojson(out, &proto::view(response), 0)?;
            writeln!(out)?;
        }
        Output::Yaml => {
            write_yaml(out, &to_value(response)?)?;
            writeln!(out)?;
        }
        other => return Err(unsupported(other)),
    }
    out.flush()?;
    Ok(())
}

pub(super) async fn metricsp(client: &Client, args: &MetricspArgs, out: &mut Out) -> Result<()> {
    if !matches!(args.output, Output::Json | Output::Yaml) {
        return Err(unsupported(args.output));
    }
    loop {
        let response = rpc(
            "get pod metrics: list pod sandbox metrics",
            client
                .list_pod_sandbox_metrics(v1::ListPodSandboxMetricsRequest {})
                .await,
        )?;
        super::clear_progress();
        write_response(out, &response, args.output)?;
        if !args.watch {
            return Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

pub(super) async fn metricdescs(
    client: &Client,
    args: &MetricdescsArgs,
    out: &mut Out,
) -> Result<()> {
    if !matches!(args.output, Output::Json | Output::Yaml) {
        return Err(unsupported(args.output));
    }
    let response = rpc(
        "get metric descriptors: list metric descriptors",
        client
            .list_metric_descriptors(v1::ListMetricDescriptorsRequest {})
            .await,
    )?;
    write_response(out, &response, args.output)
}
