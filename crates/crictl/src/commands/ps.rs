//! `ps`, and the container selection of `inspect` and `exec` (crictl's `ListContainers`).
//!
//! The list comes page by page (see `listing`); from each container only what will be printed
//! is kept: a table row (one string of its fields and the creation time, ~200 bytes), an ID
//! for `-q`, for `-o json|yaml` (printed newest first, so all must be seen first) the place of
//! its encoding in a temporary file, or the whole container for `-v`.

use std::collections::HashMap;
use std::io::Write;

use cri_api_v1 as v1;
use cri_client::Client;

use super::image::image_id_of;
use super::listing;
use super::{count, matches, now, parse_labels, print_labels, regex, rpc};
use crate::cli::{ContainerSelect, Output, PsArgs};
use crate::failure::{Failure, Out, Result};
use crate::human::{ago, truncate_id};
use crate::output::ListWriter;
use crate::output::table::Table;

pub(super) const POD_NAME_LABEL: &str = "io.kubernetes.pod.name";
pub(super) const POD_NAMESPACE_LABEL: &str = "io.kubernetes.pod.namespace";

pub(super) fn container_state_name(state: i32) -> &'static str {
    match v1::ContainerState::try_from(state) {
        Ok(v1::ContainerState::ContainerCreated) => "Created",
        Ok(v1::ContainerState::ContainerRunning) => "Running",
        Ok(v1::ContainerState::ContainerExited) => "Exited",
        _ => "Unknown",
    }
}

fn label_or_unknown<'a>(
    labels: &'a std::collections::BTreeMap<String, String>,
    key: &str,
) -> &'a str {
    labels.get(key).map_or("unknown", |s| s.as_str())
}

/// Whether `image` is a digest (`algorithm:hex`), as Go's `digest.Parse` accepts it.
fn digest_hex(image: &str) -> Option<&str> {
    let (algorithm, hex) = image.split_once(':')?;
    let expected = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return None,
    };
    (hex.len() == expected
        && hex
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)))
    .then_some(hex)
}

/// crictl's list options for containers, as the runtime's filter and the client-side ones.
struct Query {
    filter: v1::ContainerFilter,
    name: Option<regex::Regex>,
    namespace: Option<regex::Regex>,
    image: String,
    latest: bool,
    last: usize,
}

impl Query {
    #[allow(clippy::too_many_arguments)]
    fn new(
        id: &str,
        pod: &str,
        state: &str,
        all: bool,
        labels: &[String],
        name: &str,
        namespace: &str,
        image: &str,
        latest: bool,
        last: usize,
    ) -> Result<Query> {
        let mut filter = v1::ContainerFilter {
            id: id.to_string(),
            pod_sandbox_id: pod.to_string(),
            ..Default::default()
        };
        if !all && state.is_empty() {
            filter.state = Some(v1::ContainerStateValue {
                state: v1::ContainerState::ContainerRunning as i32,
            });
        }
        if !state.is_empty() {
            let state = match state.to_lowercase().as_str() {
                "created" => v1::ContainerState::ContainerCreated,
                "running" => v1::ContainerState::ContainerRunning,
                "exited" => v1::ContainerState::ContainerExited,
                "unknown" => v1::ContainerState::ContainerUnknown,
                _ => {
                    return Err(Failure::msg(
                        "--state should be one of created, running, exited or unknown",
                    ));
                }
            };
            filter.state = Some(v1::ContainerStateValue {
                state: state as i32,
            });
        }
        if latest || last > 0 {
            filter.state = None;
        }
        filter.label_selector = parse_labels(labels)?;
        Ok(Query {
            filter,
            name: regex(name)?,
            namespace: regex(namespace)?,
            image: image.to_string(),
            latest,
            last,
        })
    }

    fn keeps(&self, container: &v1::Container) -> bool {
        container.metadata.as_ref().is_some_and(|meta| {
            matches(&self.name, &meta.name)
                && matches(
                    &self.namespace,
                    label_or_unknown(&container.labels, POD_NAMESPACE_LABEL),
                )
        })
    }
}

/// What is kept of one listed container.
struct Kept<T> {
    created_at: i64,
    image: Box<str>,
    item: T,
}

/// Lists, keeps `keep(container)` of each matching one, applies `--image` (by the image ID the
/// runtime resolves both to), sorts newest first (stable, as crictl's sort on distinct times)
/// and applies `--latest`/`--last`.
async fn collect<T>(
    client: &Client,
    query: &Query,
    mut keep: impl FnMut(v1::Container) -> T,
) -> Result<Vec<T>> {
    let mut pages = listing::containers(client, query.filter.clone()).await?;
    let mut kept = Vec::new();
    while let Some(page) = pages.next().await? {
        for container in page {
            if query.keeps(&container) {
                let created_at = container.created_at;
                // The image is kept only to be matched against `--image`.
                let image = if query.image.is_empty() {
                    Box::default()
                } else {
                    container
                        .image
                        .as_ref()
                        .map_or("", |i| i.image.as_str())
                        .into()
                };
                kept.push(Kept {
                    created_at,
                    image,
                    item: keep(container),
                });
            }
        }
    }
    super::clear_progress();
    super::debug_list_path(pages.rpc);
    if !query.image.is_empty() {
        let wanted = image_id_of(client, &query.image).await?;
        let mut ids: HashMap<Box<str>, Option<String>> = HashMap::new();
        let mut matched = Vec::with_capacity(kept.len());
        for entry in kept {
            if !ids.contains_key(&entry.image) {
                let id = image_id_of(client, &entry.image).await?;
                ids.insert(entry.image.clone(), id);
            }
            if matches!((&wanted, &ids[&entry.image]), (Some(a), Some(b)) if a == b) {
                matched.push(entry);
            }
        }
        kept = matched;
    }
    kept.sort_by_key(|entry| std::cmp::Reverse(entry.created_at));
    kept.truncate(count(kept.len(), query.latest, query.last));
    Ok(kept.into_iter().map(|entry| entry.item).collect())
}

/// The IDs of the containers `select` picks, newest first (for `inspect` and `exec`).
pub(super) async fn select(client: &Client, select: &ContainerSelect) -> Result<Vec<String>> {
    let query = Query::new(
        "",
        &select.pod,
        &select.state,
        select.all,
        &select.label,
        &select.name,
        &select.namespace,
        &select.image,
        select.latest,
        select.last,
    )?;
    collect(client, &query, |c| c.id).await
}

/// A table row: the fields joined by NUL, with the creation time and state apart.
struct Row {
    created_at: i64,
    state: i32,
    attempt: u32,
    fields: Box<str>,
}

const ROW_FIELDS: usize = 7;

impl Row {
    /// The row of `c`; `keep_raw_image`: also the image as the runtime named it (to resolve
    /// it for `--resolve-image-path`), else left empty.
    fn new(c: &v1::Container, no_trunc: bool, keep_raw_image: bool) -> Row {
        let mut image = c.image.as_ref().map_or("", |i| i.image.as_str());
        let (id, pod_id) = if no_trunc {
            (c.id.as_str(), c.pod_sandbox_id.as_str())
        } else {
            if let Some(hex) = digest_hex(image) {
                image = truncate_id(hex, "");
            }
            (truncate_id(&c.id, ""), truncate_id(&c.pod_sandbox_id, ""))
        };
        let meta = c.metadata.as_ref();
        let fields = [
            id,
            image,
            meta.map_or("", |m| m.name.as_str()),
            pod_id,
            label_or_unknown(&c.labels, POD_NAME_LABEL),
            label_or_unknown(&c.labels, POD_NAMESPACE_LABEL),
            if keep_raw_image {
                c.image.as_ref().map_or("", |i| i.image.as_str())
            } else {
                ""
            },
        ];
        Row {
            created_at: c.created_at,
            state: c.state,
            attempt: meta.map_or(0, |m| m.attempt),
            fields: fields.join("\0").into(),
        }
    }

    fn fields(&self) -> [&str; ROW_FIELDS] {
        let mut out = [""; ROW_FIELDS];
        for (slot, field) in out.iter_mut().zip(self.fields.split('\0')) {
            *slot = field;
        }
        out
    }
}

pub(super) async fn ps(client: &Client, args: &PsArgs, out: &mut Out) -> Result<()> {
    let query = Query::new(
        &args.id,
        &args.pod,
        &args.state,
        args.all,
        &args.label,
        &args.name,
        &args.namespace,
        &args.image,
        args.latest,
        args.last,
    )?;
    match args.output {
        Output::Table => {}
        other => {
            let mut writer = ListWriter::new("containers", other)?;
            let mut spill = listing::Spill::new()?;
            let spilled = collect(client, &query, |c| spill.push(&c)).await?;
            let reader = spill.into_reader()?;
            let mut buffer = Vec::new();
            for at in spilled {
                let container: v1::Container = reader.read(at, &mut buffer)?;
                writer.item(out, &container)?;
            }
            return writer.finish(out);
        }
    }
    if args.quiet {
        for id in collect(client, &query, |c| c.id).await? {
            writeln!(out, "{id}")?;
        }
        return Ok(());
    }
    let now = now();
    if args.verbose {
        for c in collect(client, &query, |c| c).await? {
            writeln!(out, "ID: {}", c.id)?;
            writeln!(out, "PodID: {}", c.pod_sandbox_id)?;
            writeln!(
                out,
                "Namespace: {}",
                label_or_unknown(&c.labels, POD_NAMESPACE_LABEL)
            )?;
            if let Some(meta) = &c.metadata {
                if !meta.name.is_empty() {
                    writeln!(out, "Name: {}", meta.name)?;
                }
                writeln!(out, "Attempt: {}", meta.attempt)?;
            }
            writeln!(out, "State: {}", container_state_name(c.state))?;
            if let Some(image) = &c.image {
                writeln!(out, "Image: {}", image.image)?;
            }
            writeln!(out, "Created: {}", ago(now, c.created_at))?;
            print_labels(out, "Labels", &c.labels)?;
            print_labels(out, "Annotations", &c.annotations)?;
            writeln!(out)?;
        }
        return Ok(());
    }
    let no_trunc = args.no_trunc;
    let resolve = args.resolve_image_path;
    let rows = collect(client, &query, |c| Row::new(&c, no_trunc, resolve)).await?;
    let mut repo_images: HashMap<String, String> = HashMap::new();
    if args.resolve_image_path {
        for row in &rows {
            let image = row.fields()[6];
            if repo_images.contains_key(image) {
                continue;
            }
            let response = rpc(
                "get image status",
                client
                    .image_status(v1::ImageStatusRequest {
                        image: Some(v1::ImageSpec {
                            image: image.to_string(),
                            ..Default::default()
                        }),
                        verbose: false,
                    })
                    .await,
            )?;
            let repo = response
                .image
                .and_then(|i| i.repo_tags.first().cloned())
                .unwrap_or_else(|| image.to_string());
            repo_images.insert(image.to_string(), repo);
        }
    }
    let header = [
        "CONTAINER",
        "IMAGE",
        "CREATED",
        "STATE",
        "NAME",
        "ATTEMPT",
        "POD ID",
        "POD",
        "NAMESPACE",
    ];
    let mut table = Table::new();
    table.measure(&header);
    for row in &rows {
        let (created, attempt) = (ago(now, row.created_at), row.attempt.to_string());
        table.measure(&cells(row, &created, &attempt, &repo_images));
    }
    table.write(out, &header)?;
    for row in &rows {
        let (created, attempt) = (ago(now, row.created_at), row.attempt.to_string());
        table.write(out, &cells(row, &created, &attempt, &repo_images))?;
    }
    Ok(())
}

/// A row's cells, borrowed: only the relative time and the attempt are formatted.
fn cells<'a>(
    row: &'a Row,
    created: &'a str,
    attempt: &'a str,
    repo_images: &'a HashMap<String, String>,
) -> [&'a str; 9] {
    let [id, image, name, pod_id, pod, namespace, raw_image] = row.fields();
    let image = repo_images.get(raw_image).map_or(image, String::as_str);
    [
        id,
        image,
        created,
        container_state_name(row.state),
        name,
        attempt,
        pod_id,
        pod,
        namespace,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_recognised_like_go_digest() {
        let hex = "ff6a47eb455d41507a0905ad400a6219874b8fb14db89778a1cb35ef4ca2df47";
        assert_eq!(digest_hex(&format!("sha256:{hex}")), Some(hex));
        assert_eq!(digest_hex("sha256:short"), None);
        assert_eq!(digest_hex("localhost/busybox:1"), None);
    }

    #[test]
    fn a_row_keeps_its_fields() {
        let container = v1::Container {
            id: "0123456789abcdef".into(),
            pod_sandbox_id: "fedcba9876543210".into(),
            metadata: Some(v1::ContainerMetadata {
                name: "app".into(),
                attempt: 2,
            }),
            image: Some(v1::ImageSpec {
                image: "busybox".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let row = Row::new(&container, false, true);
        assert_eq!(
            row.fields(),
            [
                "0123456789abc",
                "busybox",
                "app",
                "fedcba9876543",
                "unknown",
                "unknown",
                "busybox"
            ]
        );
        assert_eq!(row.attempt, 2);
    }
}
