//! Resource usage: `stats` (containers) and `statsp` (pods), sampled twice for the CPU share.

use std::collections::HashMap;
use std::io::Write;

use cri_api_v1 as v1;
use cri_client::Client;

use super::{clear_progress, parse_labels, rpc};
use crate::cli::{Output, StatsArgs, StatspArgs};
use crate::failure::{Failure, Out, Result};
use crate::human::{human_size, truncate_id};
use crate::output::table::write_table;
use crate::output::write_list;

pub(super) async fn stats(client: &Client, args: &StatsArgs, out: &mut Out) -> Result<()> {
    let id = if args.id.is_empty() {
        args.container.clone().unwrap_or_default()
    } else {
        args.id.clone()
    };
    let request = v1::ListContainerStatsRequest {
        filter: Some(v1::ContainerStatsFilter {
            id,
            pod_sandbox_id: args.pod.clone(),
            label_selector: parse_labels(&args.label)?,
        }),
    };
    loop {
        let sample = || async {
            let mut stats = rpc(
                "get container stats",
                client.list_container_stats(request.clone()).await,
            )?
            .stats;
            stats.sort_by(|a, b| stat_id(&a.attributes).cmp(stat_id(&b.attributes)));
            Ok::<_, Failure>(stats)
        };
        let first = sample().await?;
        clear_progress();
        if args.output != Output::Table {
            return write_list(out, "stats", &first, args.output);
        }
        let old: HashMap<&str, &v1::ContainerStats> =
            first.iter().map(|s| (stat_id(&s.attributes), s)).collect();
        tokio::time::sleep(std::time::Duration::from_secs(args.seconds)).await;
        let second = sample().await?;
        let mut rows = Vec::new();
        for s in &second {
            let id = stat_id(&s.attributes);
            let cpu = s
                .cpu
                .as_ref()
                .and_then(|c| c.usage_core_nano_seconds.as_ref())
                .map_or(0, |v| v.value);
            let mem = s
                .memory
                .as_ref()
                .and_then(|m| m.working_set_bytes.as_ref())
                .map_or(0, |v| v.value);
            let disk = s
                .writable_layer
                .as_ref()
                .and_then(|w| w.used_bytes.as_ref())
                .map_or(0, |v| v.value);
            let inodes = s
                .writable_layer
                .as_ref()
                .and_then(|w| w.inodes_used.as_ref())
                .map_or(0, |v| v.value);
            let swap = s
                .swap
                .as_ref()
                .and_then(|w| w.swap_usage_bytes.as_ref())
                .map_or(0, |v| v.value);
            if !args.all && cpu == 0 && mem == 0 {
                continue;
            }
            let Some(before) = old.get(id) else { continue };
            let mut percent = 0.0;
            if cpu != 0 {
                let duration = s.cpu.as_ref().map_or(0, |c| c.timestamp)
                    - before.cpu.as_ref().map_or(0, |c| c.timestamp);
                if duration == 0 {
                    return Err(Failure::msg("cpu stat is not updated during sample"));
                }
                let old_cpu = before
                    .cpu
                    .as_ref()
                    .and_then(|c| c.usage_core_nano_seconds.as_ref())
                    .map_or(0, |v| v.value);
                percent = cpu.wrapping_sub(old_cpu) as f64 / duration as f64 * 100.0;
            }
            let name = s
                .attributes
                .as_ref()
                .and_then(|a| a.metadata.as_ref())
                .map_or("", |m| m.name.as_str());
            rows.push([
                truncate_id(id, "").to_string(),
                name.to_string(),
                format!("{percent:.2}"),
                human_size(mem as f64, 4),
                human_size(disk as f64, 4),
                inodes.to_string(),
                human_size(swap as f64, 4),
            ]);
        }
        let header = [
            "CONTAINER",
            "NAME",
            "CPU %",
            "MEM",
            "DISK",
            "INODES",
            "SWAP",
        ];
        write!(out, "\x1b[2J\x1b[H")?;
        write_table(out, &header, &rows)?;
        if !args.watch {
            return Ok(());
        }
        out.flush()?;
    }
}

fn stat_id(attributes: &Option<v1::ContainerAttributes>) -> &str {
    attributes.as_ref().map_or("", |a| a.id.as_str())
}

pub(super) async fn statsp(client: &Client, args: &StatspArgs, out: &mut Out) -> Result<()> {
    let id = if args.id.is_empty() {
        args.pod.clone().unwrap_or_default()
    } else {
        args.id.clone()
    };
    let request = v1::ListPodSandboxStatsRequest {
        filter: Some(v1::PodSandboxStatsFilter {
            id,
            label_selector: parse_labels(&args.label)?,
        }),
    };
    let pod_id = |s: &v1::PodSandboxStats| {
        s.attributes
            .as_ref()
            .map_or(String::new(), |a| a.id.clone())
    };
    loop {
        let sample = || async {
            let mut stats = rpc(
                "get pod stats: list pod sandbox stats",
                client.list_pod_sandbox_stats(request.clone()).await,
            )?
            .stats;
            stats.sort_by_key(pod_id);
            Ok::<_, Failure>(stats)
        };
        let first = sample().await?;
        clear_progress();
        if args.output != Output::Table {
            return write_list(out, "stats", &first, args.output);
        }
        let old: HashMap<String, &v1::PodSandboxStats> =
            first.iter().map(|s| (pod_id(s), s)).collect();
        tokio::time::sleep(std::time::Duration::from_secs(args.seconds)).await;
        let second = sample().await?;
        let mut rows = Vec::new();
        let cpu_of = |s: &v1::PodSandboxStats| -> (u64, u64, i64) {
            if let Some(linux) = &s.linux {
                (
                    linux
                        .cpu
                        .as_ref()
                        .and_then(|c| c.usage_core_nano_seconds.as_ref())
                        .map_or(0, |v| v.value),
                    linux
                        .memory
                        .as_ref()
                        .and_then(|m| m.working_set_bytes.as_ref())
                        .map_or(0, |v| v.value),
                    linux.cpu.as_ref().map_or(0, |c| c.timestamp),
                )
            } else if let Some(windows) = &s.windows {
                (
                    windows
                        .cpu
                        .as_ref()
                        .and_then(|c| c.usage_core_nano_seconds.as_ref())
                        .map_or(0, |v| v.value),
                    windows
                        .memory
                        .as_ref()
                        .and_then(|m| m.working_set_bytes.as_ref())
                        .map_or(0, |v| v.value),
                    windows.cpu.as_ref().map_or(0, |c| c.timestamp),
                )
            } else {
                (0, 0, 0)
            }
        };
        for s in &second {
            let id = pod_id(s);
            let (cpu, mem, ts) = cpu_of(s);
            if cpu == 0 && mem == 0 {
                continue;
            }
            let Some(before) = old.get(&id) else { continue };
            let (old_cpu, _, old_ts) = cpu_of(before);
            let mut percent = 0.0;
            if cpu != 0 {
                let duration = ts - old_ts;
                if duration == 0 {
                    return Err(Failure::msg("cpu stat is not updated during sample"));
                }
                percent = cpu.wrapping_sub(old_cpu) as f64 / duration as f64 * 100.0;
            }
            let name = s
                .attributes
                .as_ref()
                .and_then(|a| a.metadata.as_ref())
                .map_or("", |m| m.name.as_str());
            rows.push([
                name.to_string(),
                truncate_id(&id, "").to_string(),
                format!("{percent:.2}"),
                human_size(mem as f64, 4),
            ]);
        }
        write!(out, "\x1b[2J\x1b[H")?;
        write_table(out, &["POD", "POD ID", "CPU %", "MEM"], &rows)?;
        if !args.watch {
            return Ok(());
        }
        out.flush()?;
    }
}
