//! What `stop`/`rm` (containers) and `stopp`/`rmp` (pod sandboxes) share: the same steps,
//! written once and generic over the resource, as crictl's `collectIDs[T]` is over the listing.

use std::io::Write;

use cri_client::Client;

use super::{need_ids, rpc};
use crate::cli::RemoveArgs;
use crate::failure::{Failure, Out, Result};

/// A resource the runtime stops and removes by ID: containers or pod sandboxes.
pub(super) trait Resource {
    /// Its name in messages ("container").
    const NOUN: &'static str;
    /// Its plural in messages ("containers").
    const PLURAL: &'static str;

    /// The IDs of all of them (`--all`).
    async fn ids(client: &Client) -> std::result::Result<Vec<String>, cri_client::Error>;
    /// Whether this one runs (a running container, a ready pod sandbox).
    async fn running(client: &Client, id: &str) -> std::result::Result<bool, cri_client::Error>;
    /// Stops it; `timeout` is the seconds a container has before it is killed (pod sandboxes
    /// take none).
    async fn stop(
        client: &Client,
        id: &str,
        timeout: i64,
    ) -> std::result::Result<(), cri_client::Error>;
    /// Removes it.
    async fn remove(client: &Client, id: &str) -> std::result::Result<(), cri_client::Error>;
    /// Its log file, which `rm` deletes with its rotations unless `--keep-logs` (containers).
    async fn log_path(_client: &Client, _id: &str) -> Option<String> {
        None
    }
    /// The line printed once it is stopped.
    fn stopped(id: &str) -> String;
    /// The line printed once it is removed.
    fn removed(id: &str) -> String;
}

/// `stop`/`stopp`: stops each ID in turn, printing a line for each; the first failure ends it.
pub(super) async fn stop<R: Resource>(
    client: &Client,
    ids: &[String],
    timeout: i64,
    out: &mut Out,
) -> Result<()> {
    need_ids(ids)?;
    for id in ids {
        rpc(
            &format!("stopping the {} {id:?}", R::NOUN),
            R::stop(client, id, timeout).await,
        )?;
        writeln!(out, "{}", R::stopped(id))?;
    }
    Ok(())
}

/// `rm`/`rmp`: removes the IDs (or all with `--all`) in turn, printing a line for each; a
/// running one is refused, or stopped first with `--force`; the first failure ends it.
pub(super) async fn remove<R: Resource>(
    client: &Client,
    args: &RemoveArgs,
    keep_logs: bool,
    out: &mut Out,
) -> Result<()> {
    let ids = if args.all {
        rpc(&format!("list {}", R::PLURAL), R::ids(client).await)?
    } else {
        need_ids(&args.ids)?;
        args.ids.clone()
    };
    for id in &ids {
        let running = rpc(
            &format!("get {} status", R::NOUN),
            R::running(client, id).await,
        )?;
        if running {
            if !args.force {
                return Err(Failure::msg(format!(
                    "{} {id} is running, please stop it first or use --force",
                    R::NOUN
                )));
            }
            rpc(
                &format!("stopping the {}", R::NOUN),
                R::stop(client, id, 0).await,
            )?;
        }
        let log = if keep_logs {
            None
        } else {
            R::log_path(client, id).await
        };
        rpc(
            &format!("removing the {} {id:?}", R::NOUN),
            R::remove(client, id).await,
        )?;
        if let Some(log) = log.filter(|l| !l.is_empty()) {
            remove_log(&log, id);
        }
        writeln!(out, "{}", R::removed(id))?;
    }
    Ok(())
}

/// Deletes a removed container's log file and its rotations (`PATH.*`), as crictl's `rm` does;
/// a file that cannot be deleted is reported on stderr, not fatal.
fn remove_log(path: &str, id: &str) {
    let path = std::path::Path::new(path);
    let mut files = vec![path.to_path_buf()];
    if let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) {
        let prefix = format!("{name}.");
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                if entry
                    .file_name()
                    .to_str()
                    .is_some_and(|n| n.starts_with(&prefix))
                {
                    files.push(entry.path());
                }
            }
        }
    }
    for file in files {
        match std::fs::remove_file(&file) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => eprintln!(
                "crictl: removing log file {} for container {id:?} failed: {error}",
                file.display()
            ),
            _ => {}
        }
    }
}
