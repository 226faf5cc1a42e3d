//! `exec`: a command in a running container, streamed or synchronous (`--sync`).

use std::io::Write;

use cri_api_v1 as v1;
use cri_client::Client;
use cri_streaming::client::ExecOptions;

use super::rpc;
use super::session::{run_session, transport};
use super::tls::client_tls;
use crate::cli::ExecArgs;
use crate::failure::{Failure, Out, Result};

pub(super) async fn exec(client: &Client, args: &ExecArgs, out: &mut Out) -> Result<()> {
    if args.select.any() {
        return super::exec_many::exec_many(client, args, out).await;
    }
    let (id, cmd) = args
        .args
        .split_first()
        .expect("clap requires the container ID");
    exec_one(client, args, id, cmd, out).await
}

/// `exec` in one container.
pub(super) async fn exec_one(
    client: &Client,
    args: &ExecArgs,
    id: &String,
    cmd: &[String],
    out: &mut Out,
) -> Result<()> {
    if cmd.is_empty() {
        return Err(Failure::msg(
            "no command given: crictl exec [--sync] CONTAINER-ID COMMAND [ARG...]",
        ));
    }
    if args.timeout < 0 {
        return Err(Failure::msg(format!(
            "--timeout {}: give a number of seconds, or 0 for none",
            args.timeout
        )));
    }
    if !args.sync {
        let transport = transport(args.transport.as_deref())?;
        let tls = client_tls(&args.tls)?;
        let request = v1::ExecRequest {
            container_id: id.clone(),
            cmd: cmd.to_vec(),
            tty: args.tty,
            stdin: args.interactive,
            stdout: true,
            stderr: !args.tty,
        };
        let options = ExecOptions::from_exec_request(&request)
            .transport(transport)
            .tls(tls);
        let response = rpc("exec", client.exec_url(request).await)?;
        let session = cri_streaming::client::exec(&response.url, &options)
            .await
            .map_err(|e| Failure::msg(format!("exec in container {id}: {e}")))?;
        return run_session(session, args.interactive, args.tty, out).await;
    }
    let response = rpc(
        "execing command in container synchronously",
        client
            .exec_sync(v1::ExecSyncRequest {
                container_id: id.clone(),
                cmd: cmd.to_vec(),
                timeout: args.timeout,
            })
            .await,
    )?;
    if response.exit_code == 0 {
        // crictl prints the output, a newline, the error output and a newline, all on stdout.
        out.write_all(&response.stdout)?;
        out.write_all(b"\n")?;
        out.write_all(&response.stderr)?;
        out.write_all(b"\n")?;
        return Ok(());
    }
    // A failed command: crictl reports only "exited with N" and exits 1, losing the output;
    // this one keeps stdout and stderr apart and exits with the command's code.
    out.write_all(&response.stdout)?;
    out.flush()?;
    std::io::stderr().write_all(&response.stderr)?;
    Err(Failure::Exit(
        u8::try_from(response.exit_code).unwrap_or(1).max(1),
    ))
}
