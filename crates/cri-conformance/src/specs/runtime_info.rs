//! `runtime_info`: Version and Status.

use anyhow::{Context as _, ensure};
use cri_api_v1 as v1;

use crate::{Ctx, Spec, SpecResult};

/// The group's specs.
pub fn specs() -> Vec<Spec> {
    vec![
        Spec::new("runtime_info", "version", version).also_in_critest(),
        Spec::new("runtime_info", "status_ready", status_ready).also_in_critest(),
    ]
}

/// Version names the runtime and says it speaks `v1`.
async fn version(ctx: Ctx) -> SpecResult {
    let v = ctx
        .client()
        .version(v1::VersionRequest {
            version: "v1".into(),
        })
        .await
        .context("Version")?;
    ensure!(!v.runtime_name.is_empty(), "runtime_name is empty");
    ensure!(!v.runtime_version.is_empty(), "runtime_version is empty");
    ensure!(
        v.runtime_api_version == "v1",
        "runtime_api_version is {:?}, not \"v1\"",
        v.runtime_api_version
    );
    Ok(())
}

/// Status reports RuntimeReady and NetworkReady, both true.
async fn status_ready(ctx: Ctx) -> SpecResult {
    let status = ctx
        .client()
        .status(v1::StatusRequest { verbose: false })
        .await
        .context("Status")?
        .status
        .context("Status answered no status")?;
    for want in ["RuntimeReady", "NetworkReady"] {
        let condition = status
            .conditions
            .iter()
            .find(|c| c.r#type == want)
            .with_context(|| format!("no {want} condition"))?;
        ensure!(
            condition.status,
            "{want} is false: {} {}",
            condition.reason,
            condition.message
        );
    }
    Ok(())
}
