//! `events`: the runtime's container events as they come.

use std::io::Write;

use cri_api_v1 as v1;
use cri_client::Client;

use super::rpc;
use crate::cli::{EventsArgs, Output};
use crate::failure::{Failure, Out, Result};
use crate::output::json::write_protojson;
use crate::output::unsupported;
use crate::output::yaml::write_yaml;
use crate::proto::{self, to_value};

pub(super) async fn events(client: &Client, args: &EventsArgs, out: &mut Out) -> Result<()> {
    use tokio_stream::StreamExt;
    if args.output == Output::GoTemplate {
        crate::output::template::check(args.template.as_deref().unwrap_or(""))?;
    }
    let mut stream = rpc(
        "get container events",
        client.get_container_events(v1::GetEventsRequest {}).await,
    )?;
    while let Some(event) = stream.next().await {
        let event = event.map_err(|status| {
            Failure::msg(format!("receive container event: {}", status.message()))
        })?;
        match args.output {
            Output::Json => {
                write_protojson(out, &proto::view(&event), 0)?;
                writeln!(out)?;
            }
            Output::Yaml => {
                write_yaml(out, &to_value(&event)?)?;
                writeln!(out)?;
            }
            Output::GoTemplate => {
                let text = crate::output::template::render(
                    args.template.as_deref().unwrap_or(""),
                    to_value(&event)?,
                )?;
                writeln!(out, "{text}")?;
            }
            other => return Err(unsupported(other)),
        }
        out.flush()?;
    }
    Ok(())
}
