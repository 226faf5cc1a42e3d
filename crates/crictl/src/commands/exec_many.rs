//! `exec` with selection flags (`--name`, `--pod`, `--image`, `--state`, `--label`,
//! `--latest`, `--last`): the command in every container they select, one after the other,
//! each headed by `ID:` unless `--quiet` or `--parallel`; `--ignore-errors` reports failures on
//! stderr and succeeds.

use std::io::Write;

use cri_client::Client;

use super::exec::exec_one;
use crate::cli::ExecArgs;
use crate::failure::{Failure, Out, Result};

pub(super) async fn exec_many(client: &Client, args: &ExecArgs, out: &mut Out) -> Result<()> {
    let select = args.select.to_select();
    let ids = super::ps::select(client, &select)
        .await
        .map_err(|e| match e {
            Failure::Message(m) => Failure::msg(format!("listing containers: {m}")),
            other => other,
        })?;
    if ids.is_empty() {
        return Err(Failure::msg(
            "no containers found per filter flags: see crictl exec --help",
        ));
    }
    let print_ids = !args.select.quiet && !args.select.parallel;
    let mut failures = Vec::new();
    let mut exit = None;
    for id in &ids {
        if print_ids {
            writeln!(out, "{id}:")?;
            out.flush()?;
        }
        match exec_one(client, args, id, &args.args, out).await {
            Ok(()) => {}
            Err(Failure::BrokenPipe) => return Err(Failure::BrokenPipe),
            Err(Failure::Exit(code)) => {
                exit = Some(code);
                failures.push(format!("{id}: exit code {code}"));
            }
            Err(Failure::Message(message)) => failures.push(message),
        }
    }
    if failures.is_empty() || args.select.ignore_errors {
        return Ok(());
    }
    match (failures.len(), exit) {
        (1, Some(code)) => Err(Failure::Exit(code)),
        _ => Err(Failure::msg(failures.join("; "))),
    }
}
