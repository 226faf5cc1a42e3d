//! `attach`: the streams of a running container's process.

use cri_api_v1 as v1;
use cri_client::Client;
use cri_streaming::client::ExecOptions;

use super::rpc;
use super::session::{run_session, transport};
use super::tls::client_tls;
use crate::cli::AttachArgs;
use crate::failure::{Failure, Out, Result};

pub(super) async fn attach(client: &Client, args: &AttachArgs, out: &mut Out) -> Result<()> {
    let transport = transport(args.transport.as_deref())?;
    let tls = client_tls(&args.tls)?;
    let request = v1::AttachRequest {
        container_id: args.container.clone(),
        stdin: args.stdin,
        tty: args.tty,
        stdout: true,
        stderr: !args.tty,
    };
    let options = ExecOptions::from_attach_request(&request)
        .transport(transport)
        .tls(tls);
    let response = rpc("attach", client.attach_url(request).await)?;
    let session = cri_streaming::client::attach(&response.url, &options)
        .await
        .map_err(|e| Failure::msg(format!("attach to container {}: {e}", args.container)))?;
    run_session(session, args.stdin, args.tty, out).await
}
