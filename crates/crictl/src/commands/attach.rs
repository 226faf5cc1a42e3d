//! `attach`: the streams of a running container's process.

use cri_api_v1 as v1;
use cri_client::Client;

use super::rpc;
use super::session::{run_session, transport};
use crate::cli::AttachArgs;
use crate::failure::{Failure, Out, Result};

pub(super) async fn attach(client: &Client, args: &AttachArgs, out: &mut Out) -> Result<()> {
    let response = rpc(
        "attach",
        client
            .attach(v1::AttachRequest {
                container_id: args.container.clone(),
                stdin: args.stdin,
                tty: args.tty,
                stdout: true,
                stderr: !args.tty,
            })
            .await,
    )?;
    let options = cri_streaming::client::ExecOptions::new()
        .stdin(args.stdin)
        .stdout(true)
        .stderr(!args.tty)
        .tty(args.tty)
        .transport(transport(&args.transport)?);
    let session = cri_streaming::client::attach(&response.url, &options)
        .await
        .map_err(|e| Failure::msg(format!("attach to container {}: {e}", args.container)))?;
    run_session(session, args.stdin, args.tty, out).await
}
