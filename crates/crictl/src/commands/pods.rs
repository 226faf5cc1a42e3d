//! `pods`, and the pod selection of `inspectp` (crictl's `ListPodSandboxes`), page by page,
//! keeping only what is printed (see `ps`).

use std::io::Write;

use cri_api_v1 as v1;
use cri_client::Client;

use super::listing;
use super::{count, matches, now, parse_labels, print_labels, regex};
use crate::cli::{InspectPodsArgs, Output, PodsArgs};
use crate::failure::{Failure, Out, Result};
use crate::human::{self, ago, truncate_id};
use crate::output::ListWriter;
use crate::output::table::Table;

pub(super) fn pod_state_name(state: i32) -> &'static str {
    match v1::PodSandboxState::try_from(state) {
        Ok(v1::PodSandboxState::SandboxReady) => "Ready",
        Ok(v1::PodSandboxState::SandboxNotready) => "NotReady",
        _ => "Unknown",
    }
}

struct Query {
    filter: v1::PodSandboxFilter,
    name: Option<regex::Regex>,
    namespace: Option<regex::Regex>,
    latest: bool,
    last: usize,
}

impl Query {
    fn new(
        id: &str,
        state: &str,
        labels: &[String],
        name: &str,
        namespace: &str,
        latest: bool,
        last: usize,
    ) -> Result<Query> {
        let mut filter = v1::PodSandboxFilter {
            id: id.to_string(),
            ..Default::default()
        };
        if !state.is_empty() {
            let state = match state.to_lowercase().as_str() {
                "ready" => v1::PodSandboxState::SandboxReady,
                "notready" => v1::PodSandboxState::SandboxNotready,
                _ => {
                    return Err(Failure::msg(format!(
                        "--state should be ready or notready, not {state:?}"
                    )));
                }
            };
            filter.state = Some(v1::PodSandboxStateValue {
                state: state as i32,
            });
        }
        filter.label_selector = parse_labels(labels)?;
        Ok(Query {
            filter,
            name: regex(name)?,
            namespace: regex(namespace)?,
            latest,
            last,
        })
    }
}

/// Lists, keeps `keep(pod)` of each matching one, newest first, `--latest`/`--last` applied.
async fn collect<T>(
    client: &Client,
    query: &Query,
    mut keep: impl FnMut(v1::PodSandbox) -> T,
) -> Result<Vec<T>> {
    let mut pages = listing::pod_sandboxes(client, query.filter.clone()).await?;
    let mut kept = Vec::new();
    while let Some(page) = pages.next().await? {
        for pod in page {
            let meta = pod.metadata.as_ref();
            if matches(&query.name, meta.map_or("", |m| &m.name))
                && matches(&query.namespace, meta.map_or("", |m| &m.namespace))
            {
                kept.push((pod.created_at, keep(pod)));
            }
        }
    }
    super::clear_progress();
    super::debug_list_path(pages.rpc);
    kept.sort_by_key(|(created_at, _)| std::cmp::Reverse(*created_at));
    kept.truncate(count(kept.len(), query.latest, query.last));
    Ok(kept.into_iter().map(|(_, item)| item).collect())
}

/// The IDs of the pods `inspectp`'s flags pick, newest first.
pub(super) async fn select(client: &Client, args: &InspectPodsArgs) -> Result<Vec<String>> {
    let query = Query::new(
        "",
        &args.state,
        &args.label,
        &args.name,
        &args.namespace,
        args.latest,
        args.last,
    )?;
    collect(client, &query, |pod| pod.id).await
}

/// A table row: the fields joined by NUL, with the creation time, state and attempt apart.
struct Row {
    created_at: i64,
    state: i32,
    attempt: u32,
    fields: Box<str>,
}

pub(super) async fn pods(client: &Client, args: &PodsArgs, out: &mut Out) -> Result<()> {
    let query = Query::new(
        &args.id,
        &args.state,
        &args.label,
        &args.name,
        &args.namespace,
        args.latest,
        args.last,
    )?;
    match args.output {
        Output::Table => {}
        other => {
            let mut writer = ListWriter::new("items", other)?;
            let mut spill = listing::Spill::new()?;
            let spilled = collect(client, &query, |p| spill.push(&p)).await?;
            let reader = spill.into_reader()?;
            let mut buffer = Vec::new();
            for at in spilled {
                let pod: v1::PodSandbox = reader.read(at, &mut buffer)?;
                writer.item(out, &pod)?;
            }
            return writer.finish(out);
        }
    }
    if args.quiet {
        for id in collect(client, &query, |p| p.id).await? {
            writeln!(out, "{id}")?;
        }
        return Ok(());
    }
    let now = now();
    if args.verbose {
        for pod in collect(client, &query, |p| p).await? {
            writeln!(out, "ID: {}", pod.id)?;
            if let Some(meta) = &pod.metadata {
                if !meta.name.is_empty() {
                    writeln!(out, "Name: {}", meta.name)?;
                }
                if !meta.uid.is_empty() {
                    writeln!(out, "UID: {}", meta.uid)?;
                }
                if !meta.namespace.is_empty() {
                    writeln!(out, "Namespace: {}", meta.namespace)?;
                }
                if meta.attempt != 0 {
                    writeln!(out, "Attempt: {}", meta.attempt)?;
                }
            }
            writeln!(out, "Status: {}", pod_state_name(pod.state))?;
            writeln!(out, "Created: {}", human::go_time_string(pod.created_at))?;
            print_labels(out, "Labels", &pod.labels)?;
            print_labels(out, "Annotations", &pod.annotations)?;
            let handler = if pod.runtime_handler.is_empty() {
                "(default)"
            } else {
                pod.runtime_handler.as_str()
            };
            writeln!(out, "Runtime: {handler}")?;
            writeln!(out)?;
        }
        return Ok(());
    }
    let no_trunc = args.no_trunc;
    let rows = collect(client, &query, |pod| {
        let meta = pod.metadata.as_ref();
        let id = if no_trunc {
            pod.id.as_str()
        } else {
            truncate_id(&pod.id, "")
        };
        let handler = if pod.runtime_handler.is_empty() {
            "(default)"
        } else {
            pod.runtime_handler.as_str()
        };
        let fields = [
            id,
            meta.map_or("", |m| m.name.as_str()),
            meta.map_or("", |m| m.namespace.as_str()),
            handler,
        ];
        Row {
            created_at: pod.created_at,
            state: pod.state,
            attempt: meta.map_or(0, |m| m.attempt),
            fields: fields.join("\0").into(),
        }
    })
    .await?;
    let header = [
        "POD ID",
        "CREATED",
        "STATE",
        "NAME",
        "NAMESPACE",
        "ATTEMPT",
        "RUNTIME",
    ];
    let line = |row: &Row| -> [String; 7] {
        let mut fields = row.fields.split('\0');
        let mut next = || fields.next().unwrap_or("").to_string();
        let (id, name, namespace, handler) = (next(), next(), next(), next());
        [
            id,
            ago(now, row.created_at),
            pod_state_name(row.state).into(),
            name,
            namespace,
            row.attempt.to_string(),
            handler,
        ]
    };
    let mut table = Table::new();
    table.measure(&header);
    for row in &rows {
        table.measure(&line(row));
    }
    table.write(out, &header)?;
    for row in &rows {
        table.write(out, &line(row))?;
    }
    Ok(())
}
