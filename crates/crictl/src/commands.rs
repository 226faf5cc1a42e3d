//! The commands.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use cri_api_v1 as v1;
use cri_client::Client;
use regex::Regex;
use serde_json::{Map, Value};

use crate::cli::*;
use crate::connect::{self, Config};
use crate::encode::{self, write_go_json, write_protojson, write_yaml, write_yaml_item};
use crate::human::{self, Table, ago, human_size, truncate_id};
use crate::proto::{self, fill_nulls, to_value};
use crate::{Failure, Out};

type Result<T> = std::result::Result<T, Failure>;

/// The clock: now, or `CRICTL_NOW_UNIX_NANOS` (fixed by tests that compare relative times).
fn now() -> i128 {
    if let Some(fixed) = std::env::var("CRICTL_NOW_UNIX_NANOS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return fixed;
    }
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

fn rpc<T>(what: &str, result: std::result::Result<T, cri_client::Error>) -> Result<T> {
    result.map_err(|error| Failure::msg(format!("{what}: {error}")))
}

fn clear_progress() {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        eprint!("\r\x1b[K");
    }
}

/// Runs the command line.
pub async fn run(cli: Cli, out: &mut Out) -> Result<()> {
    if cli.print_version {
        writeln!(out, "crictl version v{}", env!("CARGO_PKG_VERSION"))?;
        return Ok(());
    }
    let Some(command) = &cli.command else {
        return Err(Failure::msg("no command given: see crictl --help"));
    };
    let explicit_config = cli.config != "/etc/crictl.yaml";
    if let Command::Config(args) = command {
        return config_command(&cli.config, args, out);
    }
    let config = connect::read_config(&cli.config, explicit_config)?;
    let connection = connect::connect(&cli, &config).await?;
    let client = &connection.client;
    let result = dispatch(command, client, &config, out).await;
    drop(connection);
    result
}

async fn dispatch(
    command: &Command,
    client: &Client,
    config: &Config,
    out: &mut Out,
) -> Result<()> {
    match command {
        Command::Version => version(client, out).await,
        Command::Info(args) => info(client, args, out).await,
        Command::Pods(args) => pods(client, args, out).await,
        Command::Ps(args) => ps(client, args, out).await,
        Command::Images(args) => images(client, args, out).await,
        Command::Inspect(args) => inspect(client, args, out).await,
        Command::Inspectp(args) => inspectp(client, args, out).await,
        Command::Inspecti(args) => inspecti(client, args, out).await,
        Command::Imagefsinfo(args) => imagefsinfo(client, args, out).await,
        Command::Stats(args) => stats(client, args, out).await,
        Command::Statsp(args) => statsp(client, args, out).await,
        Command::RuntimeConfig => runtime_config(client, out).await,
        Command::Pull(args) => pull(client, args, out).await,
        Command::Rmi(args) => rmi(client, args, out).await,
        Command::Runp(args) => {
            let id = runp(client, &args.config, args.runtime.as_deref()).await?;
            writeln!(out, "{id}")?;
            Ok(())
        }
        Command::Create(args) => {
            let pull = (config.pull_image_on_create || args.with_pull) && !args.no_pull;
            let id = create(
                client,
                &args.pod_id,
                &args.container_config,
                &args.pod_config,
                pull,
                &args.auth,
            )
            .await?;
            writeln!(out, "{id}")?;
            Ok(())
        }
        Command::Start(args) => start(client, &args.ids, out).await,
        Command::Run(args) => {
            let pull = (!config.disable_pull_on_run || args.with_pull) && !args.no_pull;
            let pod = runp(client, &args.pod_config, args.runtime.as_deref()).await?;
            let id = create(
                client,
                &pod,
                &args.container_config,
                &args.pod_config,
                pull,
                &args.auth,
            )
            .await?;
            start(client, &[id], out).await
        }
        Command::Stop(args) => stop(client, args, out).await,
        Command::Rm(args) => rm(client, args, out).await,
        Command::Stopp(args) => stopp(client, &args.ids, out).await,
        Command::Rmp(args) => rmp(client, args, out).await,
        Command::Events(args) => events(client, args, out).await,
        Command::Logs(args) => logs(client, args, out).await,
        Command::Exec(args) => exec(client, args, out).await,
        Command::Attach(args) => attach(client, args, out).await,
        Command::PortForward(args) => port_forward(client, args, out).await,
        Command::Config(_) => Err(Failure::msg("config is handled before connecting")),
    }
}

fn unsupported(output: Output) -> Failure {
    Failure::msg(match output {
        Output::GoTemplate => {
            "output format go-template is not supported by this crictl: use -o json and jq"
                .to_string()
        }
        other => format!("unsupported output format {other:?}"),
    })
}

// ------------------------------------------------------------------------------------------
// Shared output helpers.

/// A list response `{"key": [items]}` streamed item by item, as crictl prints it.
fn write_list<T: cri_api_v1::json::JsonMessage>(
    out: &mut Out,
    key: &str,
    items: &[T],
    output: Output,
) -> Result<()> {
    match output {
        Output::Json => {
            if items.is_empty() {
                writeln!(out, "{{\n  \"{key}\":  []\n}}")?;
                return Ok(());
            }
            write!(out, "{{\n  \"{key}\":  [")?;
            for (index, item) in items.iter().enumerate() {
                out.write_all(if index == 0 { b"\n    " } else { b",\n    " })?;
                write_protojson(out, &proto::view(item), 2)?;
            }
            writeln!(out, "\n  ]\n}}")?;
        }
        Output::Yaml => {
            if items.is_empty() {
                writeln!(out, "{key}: []\n")?;
                return Ok(());
            }
            writeln!(out, "{key}:")?;
            for item in items {
                write_yaml_item(out, &to_value(item)?)?;
            }
            writeln!(out)?;
        }
        other => return Err(unsupported(other)),
    }
    Ok(())
}

/// A document through Go maps (sorted keys) in JSON or YAML, as `inspect*`/`info` print it.
fn write_document(out: &mut Out, document: &Value, output: Output) -> Result<()> {
    match output {
        Output::Json => {
            write_go_json(out, document, 0)?;
            writeln!(out)?;
        }
        Output::Yaml => {
            write_yaml(out, document)?;
            writeln!(out)?;
        }
        other => return Err(unsupported(other)),
    }
    Ok(())
}

/// crictl's `outputStatusData`: the status and the runtime's verbose info parsed as JSON.
fn status_document(
    status: Value,
    info: &BTreeMap<String, String>,
    extra: Vec<(&str, Value)>,
) -> Result<Value> {
    let mut map = Map::new();
    map.insert("status".into(), status);
    for (key, value) in extra {
        map.insert(key.into(), value);
    }
    for (key, raw) in info {
        let value = if raw.starts_with('{') {
            serde_json::from_str::<Value>(raw)
                .map_err(|e| Failure::msg(format!("unmarshal status info JSON: {e}")))?
        } else {
            Value::String(raw.trim_matches('"').to_string())
        };
        map.insert(key.clone(), value);
    }
    let mut document = Value::Object(map);
    encode::go_numbers(&mut document);
    Ok(document)
}

fn documents(mut documents: Vec<Value>) -> Value {
    if documents.len() == 1 {
        documents.remove(0)
    } else {
        Value::Array(documents)
    }
}

fn parse_labels(labels: &[String]) -> Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for label in labels {
        let parts: Vec<&str> = label.split('=').collect();
        if parts.len() != 2 {
            return Err(Failure::msg(format!(
                "incorrectly specified label: {label} (use --label key=value)"
            )));
        }
        map.insert(parts[0].to_string(), parts[1].to_string());
    }
    Ok(map)
}

fn regex(pattern: &str) -> Result<Option<Regex>> {
    if pattern.is_empty() {
        return Ok(None);
    }
    Regex::new(pattern)
        .map(Some)
        .map_err(|e| Failure::msg(format!("invalid regular expression {pattern:?}: {e}")))
}

fn matches(re: &Option<Regex>, text: &str) -> bool {
    re.as_ref().is_none_or(|re| re.is_match(text))
}

fn count(total: usize, latest: bool, last: usize) -> usize {
    let mut n = total;
    if latest {
        n = 1;
    }
    if last > 0 {
        n = last;
    }
    n.min(total)
}

fn print_labels(out: &mut Out, title: &str, map: &BTreeMap<String, String>) -> Result<()> {
    writeln!(out, "{title}:")?;
    for (k, v) in map {
        writeln!(out, "\t{k} -> {v}")?;
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// Read commands.

async fn version(client: &Client, out: &mut Out) -> Result<()> {
    let version = rpc(
        "get the runtime version",
        client
            .version(v1::VersionRequest {
                version: "0.1.0".into(),
            })
            .await,
    )?;
    writeln!(out, "Version:  {}", version.version)?;
    writeln!(out, "RuntimeName:  {}", version.runtime_name)?;
    writeln!(out, "RuntimeVersion:  {}", version.runtime_version)?;
    writeln!(out, "RuntimeApiVersion:  {}", version.runtime_api_version)?;
    Ok(())
}

async fn info(client: &Client, args: &InfoArgs, out: &mut Out) -> Result<()> {
    let status = rpc(
        "get the status of runtime",
        client
            .status(v1::StatusRequest {
                verbose: !args.quiet,
            })
            .await,
    )?;
    let status_value = match &status.status {
        Some(s) => to_value(s)?,
        None => Value::Null,
    };
    let mut extra = Vec::new();
    if !status.runtime_handlers.is_empty() {
        let handlers: Vec<Value> = status
            .runtime_handlers
            .iter()
            .map(to_value)
            .collect::<Result<_>>()?;
        extra.push(("runtimeHandlers", Value::Array(handlers)));
    }
    if let Some(features) = &status.features {
        extra.push(("features", to_value(features)?));
    }
    let document = status_document(status_value, &status.info, extra)?;
    match args.output {
        Output::Table => write_document(out, &document, Output::Json),
        other => write_document(out, &document, other),
    }
}

fn pod_state_name(state: i32) -> &'static str {
    match v1::PodSandboxState::try_from(state) {
        Ok(v1::PodSandboxState::SandboxReady) => "Ready",
        Ok(v1::PodSandboxState::SandboxNotready) => "NotReady",
        _ => "Unknown",
    }
}

async fn pods(client: &Client, args: &PodsArgs, out: &mut Out) -> Result<()> {
    let mut filter = v1::PodSandboxFilter {
        id: args.id.clone(),
        ..Default::default()
    };
    if !args.state.is_empty() {
        let state = match args.state.to_lowercase().as_str() {
            "ready" => v1::PodSandboxState::SandboxReady,
            "notready" => v1::PodSandboxState::SandboxNotready,
            _ => {
                return Err(Failure::msg(format!(
                    "--state should be ready or notready, not {:?}",
                    args.state
                )));
            }
        };
        filter.state = Some(v1::PodSandboxStateValue {
            state: state as i32,
        });
    }
    filter.label_selector = parse_labels(&args.label)?;
    let name = regex(&args.name)?;
    let namespace = regex(&args.namespace)?;
    let response = rpc(
        "list pod sandboxes",
        client
            .list_pod_sandbox(v1::ListPodSandboxRequest {
                filter: Some(filter),
            })
            .await,
    )?;
    clear_progress();
    let mut items: Vec<v1::PodSandbox> = response
        .items
        .into_iter()
        .filter(|p| {
            let meta = p.metadata.as_ref();
            matches(&name, meta.map_or("", |m| &m.name))
                && matches(&namespace, meta.map_or("", |m| &m.namespace))
        })
        .collect();
    items.sort_by_key(|item| std::cmp::Reverse(item.created_at));
    items.truncate(count(items.len(), args.latest, args.last));
    match args.output {
        Output::Table => {}
        other => return write_list(out, "items", &items, other),
    }
    if args.quiet {
        for pod in &items {
            writeln!(out, "{}", pod.id)?;
        }
        return Ok(());
    }
    let now = now();
    if args.verbose {
        for pod in &items {
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
            if !pod.runtime_handler.is_empty() {
                writeln!(out, "Runtime handler: {}", pod.runtime_handler)?;
            }
            writeln!(out)?;
        }
        return Ok(());
    }
    let row = |pod: &v1::PodSandbox| -> [String; 7] {
        let meta = pod.metadata.clone().unwrap_or_default();
        let id = if args.no_trunc {
            pod.id.clone()
        } else {
            truncate_id(&pod.id, "").to_string()
        };
        let handler = if pod.runtime_handler.is_empty() {
            "(default)".to_string()
        } else {
            pod.runtime_handler.clone()
        };
        [
            id,
            ago(now, pod.created_at),
            pod_state_name(pod.state).into(),
            meta.name,
            meta.namespace,
            meta.attempt.to_string(),
            handler,
        ]
    };
    let header = [
        "POD ID",
        "CREATED",
        "STATE",
        "NAME",
        "NAMESPACE",
        "ATTEMPT",
        "RUNTIME",
    ];
    let mut table = Table::new();
    table.measure(&header);
    for pod in &items {
        table.measure(&row(pod));
    }
    table.write(out, &header)?;
    for pod in &items {
        table.write(out, &row(pod))?;
    }
    Ok(())
}

fn container_state_name(state: i32) -> &'static str {
    match v1::ContainerState::try_from(state) {
        Ok(v1::ContainerState::ContainerCreated) => "Created",
        Ok(v1::ContainerState::ContainerRunning) => "Running",
        Ok(v1::ContainerState::ContainerExited) => "Exited",
        _ => "Unknown",
    }
}

fn label_or_unknown<'a>(labels: &'a BTreeMap<String, String>, key: &str) -> &'a str {
    labels.get(key).map_or("unknown", |s| s.as_str())
}

const POD_NAME_LABEL: &str = "io.kubernetes.pod.name";
const POD_NAMESPACE_LABEL: &str = "io.kubernetes.pod.namespace";

/// Whether `image` is a digest (`algorithm:hex`), as Go's `digest.Parse` accepts it.
fn digest_hex(image: &str) -> Option<&str> {
    let (algorithm, hex) = image.split_once(':')?;
    let valid_algorithm = !algorithm.is_empty()
        && algorithm
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+._-".contains(c));
    let expected = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return None,
    };
    (valid_algorithm
        && hex.len() == expected
        && hex
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)))
    .then_some(hex)
}

async fn image_id_of(client: &Client, image: &str) -> Result<Option<String>> {
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
    Ok(response.image.map(|i| i.id))
}

async fn ps(client: &Client, args: &PsArgs, out: &mut Out) -> Result<()> {
    let mut filter = v1::ContainerFilter {
        id: args.id.clone(),
        pod_sandbox_id: args.pod.clone(),
        ..Default::default()
    };
    if !args.all && args.state.is_empty() {
        filter.state = Some(v1::ContainerStateValue {
            state: v1::ContainerState::ContainerRunning as i32,
        });
    }
    if !args.state.is_empty() {
        let state = match args.state.to_lowercase().as_str() {
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
    if args.latest || args.last > 0 {
        filter.state = None;
    }
    filter.label_selector = parse_labels(&args.label)?;
    let name = regex(&args.name)?;
    let namespace = regex(&args.namespace)?;
    let response = rpc(
        "list containers",
        client
            .list_containers(v1::ListContainersRequest {
                filter: Some(filter),
            })
            .await,
    )?;
    clear_progress();
    let wanted_image = if args.image.is_empty() {
        None
    } else {
        Some(image_id_of(client, &args.image).await?)
    };
    let mut image_ids: HashMap<String, Option<String>> = HashMap::new();
    let mut items = Vec::with_capacity(response.containers.len());
    for container in response.containers {
        if let Some(wanted) = &wanted_image {
            let image = container
                .image
                .as_ref()
                .map_or("", |i| &i.image)
                .to_string();
            if !image_ids.contains_key(&image) {
                let id = image_id_of(client, &image).await?;
                image_ids.insert(image.clone(), id);
            }
            let matched = matches!((wanted, &image_ids[&image]), (Some(a), Some(b)) if a == b);
            if !matched {
                continue;
            }
        }
        let Some(meta) = &container.metadata else {
            continue;
        };
        if matches(&name, &meta.name)
            && matches(
                &namespace,
                label_or_unknown(&container.labels, POD_NAMESPACE_LABEL),
            )
        {
            items.push(container);
        }
    }
    items.sort_by_key(|item| std::cmp::Reverse(item.created_at));
    items.truncate(count(items.len(), args.latest, args.last));
    match args.output {
        Output::Table => {}
        other => return write_list(out, "containers", &items, other),
    }
    if args.quiet {
        for c in &items {
            writeln!(out, "{}", c.id)?;
        }
        return Ok(());
    }
    let now = now();
    if args.verbose {
        for c in &items {
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
    let mut repo_images: HashMap<String, String> = HashMap::new();
    if args.resolve_image_path {
        for c in &items {
            let image = c.image.as_ref().map_or("", |i| &i.image).to_string();
            if let std::collections::hash_map::Entry::Vacant(slot) =
                repo_images.entry(image.clone())
            {
                let response = rpc(
                    "get image status",
                    client
                        .image_status(v1::ImageStatusRequest {
                            image: Some(v1::ImageSpec {
                                image: image.clone(),
                                ..Default::default()
                            }),
                            verbose: false,
                        })
                        .await,
                )?;
                let repo = response
                    .image
                    .and_then(|i| i.repo_tags.first().cloned())
                    .unwrap_or_else(|| image.clone());
                slot.insert(repo);
            }
        }
    }
    let row = |c: &v1::Container| -> [String; 9] {
        let mut image = c
            .image
            .as_ref()
            .map_or("", |i| i.image.as_str())
            .to_string();
        let (id, pod_id) = if args.no_trunc {
            (c.id.clone(), c.pod_sandbox_id.clone())
        } else {
            if let Some(hex) = digest_hex(&image) {
                image = truncate_id(hex, "").to_string();
            }
            (
                truncate_id(&c.id, "").to_string(),
                truncate_id(&c.pod_sandbox_id, "").to_string(),
            )
        };
        if args.resolve_image_path {
            let key = c.image.as_ref().map_or("", |i| i.image.as_str());
            if let Some(repo) = repo_images.get(key) {
                image = repo.clone();
            }
        }
        let meta = c.metadata.clone().unwrap_or_default();
        [
            id,
            image,
            ago(now, c.created_at),
            container_state_name(c.state).into(),
            meta.name,
            meta.attempt.to_string(),
            pod_id,
            label_or_unknown(&c.labels, POD_NAME_LABEL).into(),
            label_or_unknown(&c.labels, POD_NAMESPACE_LABEL).into(),
        ]
    };
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
    for c in &items {
        table.measure(&row(c));
    }
    table.write(out, &header)?;
    for c in &items {
        table.write(out, &row(c))?;
    }
    Ok(())
}

/// crictl's `normalizeRepoDigest`: the name and digest of the first repo digest.
fn normalize_repo_digest(digests: &[String]) -> (String, String) {
    let Some(first) = digests.first() else {
        return ("<none>".into(), "<none>".into());
    };
    let parts: Vec<&str> = first.split('@').collect();
    if parts.len() != 2 {
        return ("errorName".into(), "errorRepoDigest".into());
    }
    (parts[0].to_string(), parts[1].to_string())
}

fn normalize_repo_tags(tags: &[String], image_name: &str) -> Vec<(String, String)> {
    if tags.is_empty() {
        return vec![(image_name.to_string(), "<none>".into())];
    }
    tags.iter()
        .map(|tag| match tag.rfind(':') {
            Some(at) => {
                let name = &tag[..at];
                let name = if name == "<none>" { image_name } else { name };
                (name.to_string(), tag[at + 1..].to_string())
            }
            None => ("errorRepoTag".into(), "errorRepoTag".into()),
        })
        .collect()
}

async fn images(client: &Client, args: &ImagesArgs, out: &mut Out) -> Result<()> {
    let filter = args.image.as_ref().map(|image| v1::ImageFilter {
        image: Some(v1::ImageSpec {
            image: image.clone(),
            ..Default::default()
        }),
    });
    let response = rpc(
        "listing images",
        client.list_images(v1::ListImagesRequest { filter }).await,
    )?;
    clear_progress();
    let mut images = response.images;
    images.sort_by(|a, b| {
        if let (Some(x), Some(y)) = (a.repo_tags.first(), b.repo_tags.first()) {
            return x.cmp(y);
        }
        if let (Some(x), Some(y)) = (a.repo_digests.first(), b.repo_digests.first()) {
            return x.cmp(y);
        }
        a.id.cmp(&b.id)
    });
    match args.output {
        Output::Table => {}
        other => return write_list(out, "images", &images, other),
    }
    if args.quiet {
        for image in &images {
            writeln!(out, "{}", image.id)?;
        }
        return Ok(());
    }
    if args.verbose {
        for image in &images {
            writeln!(out, "ID: {}", image.id)?;
            for tag in &image.repo_tags {
                writeln!(out, "RepoTags: {tag}")?;
            }
            for digest in &image.repo_digests {
                writeln!(out, "RepoDigests: {digest}")?;
            }
            if image.size != 0 {
                writeln!(out, "Size: {}", image.size)?;
            }
            if let Some(uid) = &image.uid {
                writeln!(out, "Uid: {}", uid.value)?;
            }
            if !image.username.is_empty() {
                writeln!(out, "Username: {}", image.username)?;
            }
            if image.pinned {
                writeln!(out, "Pinned: {}", image.pinned)?;
            }
            writeln!(out)?;
        }
        return Ok(());
    }
    let mut header = vec!["IMAGE", "TAG"];
    if args.digests {
        header.push("DIGEST");
    }
    header.extend(["IMAGE ID", "SIZE"]);
    if args.pinned {
        header.push("PINNED");
    }
    let rows = |image: &v1::Image| -> Vec<Vec<String>> {
        let (name, digest) = normalize_repo_digest(&image.repo_digests);
        let pairs = normalize_repo_tags(&image.repo_tags, &name);
        let size = human_size(image.size as f64, 3);
        let (id, digest) = if args.no_trunc {
            (image.id.clone(), digest)
        } else {
            (
                truncate_id(&image.id, "sha256:").to_string(),
                truncate_id(&digest, "sha256:").to_string(),
            )
        };
        pairs
            .into_iter()
            .map(|(repo, tag)| {
                let mut row = vec![repo, tag];
                if args.digests {
                    row.push(digest.clone());
                }
                row.push(id.clone());
                row.push(size.clone());
                if args.pinned {
                    row.push(image.pinned.to_string());
                }
                row
            })
            .collect()
    };
    let mut table = Table::new();
    table.measure(&header);
    for image in &images {
        for row in rows(image) {
            table.measure(&row);
        }
    }
    table.write(out, &header)?;
    for image in &images {
        for row in rows(image) {
            table.write(out, &row)?;
        }
    }
    Ok(())
}

fn need_ids(ids: &[String]) -> Result<()> {
    if ids.is_empty() {
        return Err(Failure::msg("ID cannot be empty: give one or more IDs"));
    }
    Ok(())
}

async fn inspect(client: &Client, args: &InspectArgs, out: &mut Out) -> Result<()> {
    need_ids(&args.ids)?;
    let output = args.output.unwrap_or(Output::Json);
    let verbose = !args.quiet;
    let now = now();
    let mut docs = Vec::new();
    for id in &args.ids {
        let response = rpc(
            "get the status of containers: get container status",
            client
                .container_status(v1::ContainerStatusRequest {
                    container_id: id.clone(),
                    verbose,
                })
                .await,
        )?;
        let status = response.status.clone().unwrap_or_default();
        if output == Output::Table {
            writeln!(out, "ID: {}", status.id)?;
            if let Some(meta) = &status.metadata {
                if !meta.name.is_empty() {
                    writeln!(out, "Name: {}", meta.name)?;
                }
                if meta.attempt != 0 {
                    writeln!(out, "Attempt: {}", meta.attempt)?;
                }
            }
            let state = v1::ContainerState::try_from(status.state).ok();
            writeln!(
                out,
                "State: {}",
                state.map_or_else(|| status.state.to_string(), |s| s.as_str_name().to_string())
            )?;
            writeln!(out, "Created: {}", ago(now, status.created_at))?;
            if state != Some(v1::ContainerState::ContainerCreated) {
                writeln!(out, "Started: {}", ago(now, status.started_at))?;
            }
            if state == Some(v1::ContainerState::ContainerExited) {
                if status.finished_at > 0 {
                    writeln!(out, "Finished: {}", ago(now, status.finished_at))?;
                }
                writeln!(out, "Exit Code: {}", status.exit_code)?;
            }
            print_labels(out, "Labels", &status.labels)?;
            print_labels(out, "Annotations", &status.annotations)?;
            if verbose {
                writeln!(out, "Info: {}", encode::go_map_string(&response.info))?;
            }
            continue;
        }
        let mut value = to_value(&status)?;
        let state = v1::ContainerState::try_from(status.state).ok();
        if let Value::Object(map) = &mut value {
            map.insert(
                "createdAt".into(),
                human::rfc3339_nano(status.created_at).into(),
            );
            let started = if state != Some(v1::ContainerState::ContainerCreated) {
                human::rfc3339_nano(status.started_at)
            } else {
                human::GO_ZERO_TIME.into()
            };
            let finished = if state == Some(v1::ContainerState::ContainerExited)
                || (state == Some(v1::ContainerState::ContainerUnknown) && status.finished_at > 0)
            {
                human::rfc3339_nano(status.finished_at)
            } else {
                human::GO_ZERO_TIME.into()
            };
            map.insert("startedAt".into(), started.into());
            map.insert("finishedAt".into(), finished.into());
        }
        fill_nulls(&mut value, proto::CONTAINER_STATUS_FIELDS);
        docs.push(status_document(value, &response.info, Vec::new())?);
    }
    if output == Output::Table {
        return Ok(());
    }
    write_document(out, &documents(docs), output)
}

async fn inspectp(client: &Client, args: &InspectArgs, out: &mut Out) -> Result<()> {
    need_ids(&args.ids)?;
    let output = args.output.unwrap_or(Output::Json);
    let verbose = !args.quiet;
    let mut docs = Vec::new();
    for id in &args.ids {
        let response = rpc(
            "get the status of pod sandboxes: get pod sandbox status",
            client
                .pod_sandbox_status(v1::PodSandboxStatusRequest {
                    pod_sandbox_id: id.clone(),
                    verbose,
                })
                .await,
        )?;
        let status = response.status.clone().unwrap_or_default();
        if output == Output::Table {
            writeln!(out, "ID: {}", status.id)?;
            if let Some(meta) = &status.metadata {
                if !meta.name.is_empty() {
                    writeln!(out, "Name: {}", meta.name)?;
                }
                if !meta.uid.is_empty() {
                    writeln!(out, "UID: {}", meta.uid)?;
                }
                if !meta.namespace.is_empty() {
                    writeln!(out, "Namespace: {}", meta.namespace)?;
                }
                writeln!(out, "Attempt: {}", meta.attempt)?;
            }
            let state = v1::PodSandboxState::try_from(status.state).ok();
            writeln!(
                out,
                "Status: {}",
                state.map_or_else(|| status.state.to_string(), |s| s.as_str_name().to_string())
            )?;
            writeln!(out, "Created: {}", human::go_time_string(status.created_at))?;
            if let Some(network) = &status.network {
                writeln!(out, "IP Addresses: {}", network.ip)?;
                for ip in &network.additional_ips {
                    writeln!(out, "Additional IP: {}", ip.ip)?;
                }
            }
            print_labels(out, "Labels", &status.labels)?;
            print_labels(out, "Annotations", &status.annotations)?;
            if verbose {
                writeln!(out, "Info: {}", encode::go_map_string(&response.info))?;
            }
            continue;
        }
        let mut value = to_value(&status)?;
        if let Value::Object(map) = &mut value {
            map.insert(
                "createdAt".into(),
                human::rfc3339_nano(status.created_at).into(),
            );
        }
        fill_nulls(&mut value, proto::POD_SANDBOX_STATUS_FIELDS);
        docs.push(status_document(value, &response.info, Vec::new())?);
    }
    if output == Output::Table {
        return Ok(());
    }
    write_document(out, &documents(docs), output)
}

async fn inspecti(client: &Client, args: &InspectArgs, out: &mut Out) -> Result<()> {
    need_ids(&args.ids)?;
    let output = args.output.unwrap_or(Output::Json);
    let verbose = !args.quiet;
    let mut docs = Vec::new();
    for id in &args.ids {
        let response = rpc(
            "image status request",
            client
                .image_status(v1::ImageStatusRequest {
                    image: Some(v1::ImageSpec {
                        image: id.clone(),
                        ..Default::default()
                    }),
                    verbose,
                })
                .await,
        )?;
        let Some(image) = &response.image else {
            return Err(Failure::msg(format!("no such image {id:?} present")));
        };
        if output == Output::Table {
            writeln!(out, "ID: {}", image.id)?;
            for tag in &image.repo_tags {
                writeln!(out, "Tag: {tag}")?;
            }
            for digest in &image.repo_digests {
                writeln!(out, "Digest: {digest}")?;
            }
            writeln!(out, "Size: {}", human_size(image.size as f64, 3))?;
            if verbose {
                writeln!(out, "Info: {}", encode::go_map_string(&response.info))?;
            }
            continue;
        }
        docs.push(status_document(
            to_value(image)?,
            &response.info,
            Vec::new(),
        )?);
    }
    if output == Output::Table {
        return Ok(());
    }
    write_document(out, &documents(docs), output)
}

async fn imagefsinfo(client: &Client, args: &OutputArgs, out: &mut Out) -> Result<()> {
    let response = rpc(
        "image filesystem info request",
        client.image_fs_info(v1::ImageFsInfoRequest {}).await,
    )?;
    let output = args.output.unwrap_or(Output::Json);
    if output != Output::Table {
        let document = status_document(to_value(&response)?, &BTreeMap::new(), Vec::new())?;
        return write_document(out, &document, output);
    }
    let print = |out: &mut Out, title: &str, list: &[v1::FilesystemUsage]| -> Result<()> {
        writeln!(out, "{title} ")?;
        for (i, fs) in list.iter().enumerate() {
            writeln!(out, "TimeStamp[{i}]: {}", fs.timestamp)?;
            writeln!(
                out,
                "Disk[{i}]: {}",
                human_size(fs.used_bytes.as_ref().map_or(0, |v| v.value) as f64, 4)
            )?;
            writeln!(
                out,
                "Inodes[{i}]: {}",
                fs.inodes_used.as_ref().map_or(0, |v| v.value)
            )?;
            writeln!(
                out,
                "Mountpoint[{i}]: {}",
                fs.fs_id.as_ref().map_or("", |f| f.mountpoint.as_str())
            )?;
        }
        Ok(())
    };
    print(out, "Container Filesystem", &response.container_filesystems)?;
    print(out, "Image Filesystem", &response.image_filesystems)
}

async fn stats(client: &Client, args: &StatsArgs, out: &mut Out) -> Result<()> {
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

fn write_table<const N: usize>(
    out: &mut Out,
    header: &[&str; N],
    rows: &[[String; N]],
) -> Result<()> {
    let mut table = Table::new();
    table.measure(header);
    for row in rows {
        table.measure(row);
    }
    table.write(out, header)?;
    for row in rows {
        table.write(out, row)?;
    }
    Ok(())
}

async fn statsp(client: &Client, args: &StatspArgs, out: &mut Out) -> Result<()> {
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

async fn runtime_config(client: &Client, out: &mut Out) -> Result<()> {
    let response = rpc(
        "get runtime config: call RuntimeConfig RPC",
        client.runtime_config(v1::RuntimeConfigRequest {}).await,
    )?;
    if let Some(linux) = &response.linux {
        let driver = v1::CgroupDriver::try_from(linux.cgroup_driver).map_or_else(
            |_| linux.cgroup_driver.to_string(),
            |d| d.as_str_name().to_string(),
        );
        let row = ["cgroup driver:".to_string(), driver];
        let width = (row[0].len() + 3).max(10);
        writeln!(out, "{:width$}{}", row[0], row[1])?;
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// Write commands.

fn auth_config(args: &AuthArgs) -> Result<Option<v1::AuthConfig>> {
    if let Some(auth) = &args.auth {
        return Ok(Some(v1::AuthConfig {
            auth: auth.clone(),
            ..Default::default()
        }));
    }
    if let Some(creds) = &args.creds {
        let (username, password) = match creds.split_once(':') {
            Some((u, p)) => (u.to_string(), p.to_string()),
            None => (creds.clone(), String::new()),
        };
        if username.is_empty() {
            return Err(Failure::msg(
                "--creds: the username is empty (use --creds USERNAME[:PASSWORD])",
            ));
        }
        if password.is_empty() {
            return Err(Failure::msg(
                "--creds: no password given (use --creds USERNAME:PASSWORD or --auth)",
            ));
        }
        return Ok(Some(v1::AuthConfig {
            username,
            password,
            ..Default::default()
        }));
    }
    if let Some(username) = &args.username {
        return Err(Failure::msg(format!(
            "--username {username}: reading a password from the terminal is not supported; use --creds USERNAME:PASSWORD or --auth"
        )));
    }
    Ok(None)
}

async fn pull(client: &Client, args: &PullArgs, out: &mut Out) -> Result<()> {
    let auth = auth_config(&args.auth)?;
    let sandbox_config: Option<v1::PodSandboxConfig> = match &args.pod_config {
        Some(path) => Some(proto::from_config_file(path)?),
        None => None,
    };
    let mut annotations = BTreeMap::new();
    for annotation in &args.annotation {
        let (k, v) = annotation.split_once('=').ok_or_else(|| {
            Failure::msg(format!(
                "incorrectly specified annotation: {annotation} (use key=value)"
            ))
        })?;
        annotations.insert(k.to_string(), v.to_string());
    }
    let response = rpc(
        "pulling image",
        client
            .pull_image(v1::PullImageRequest {
                image: Some(v1::ImageSpec {
                    image: args.image.clone(),
                    annotations,
                    ..Default::default()
                }),
                auth,
                sandbox_config,
            })
            .await,
    )?;
    writeln!(out, "Image is up to date for {}", response.image_ref)?;
    Ok(())
}

async fn rmi(client: &Client, args: &RmiArgs, out: &mut Out) -> Result<()> {
    let mut ids = args.ids.clone();
    if args.all || args.prune {
        let images = rpc(
            "list images",
            client.list_images(v1::ListImagesRequest::default()).await,
        )?
        .images;
        clear_progress();
        let mut in_use = std::collections::HashSet::new();
        if args.prune {
            let containers = rpc(
                "list containers",
                client
                    .list_containers(v1::ListContainersRequest::default())
                    .await,
            )?;
            for c in containers.containers {
                in_use.insert(c.image_ref.clone());
                if let Some(image) = c.image {
                    in_use.insert(image.image);
                }
            }
        }
        ids = images
            .into_iter()
            .filter(|i| {
                !(args.prune
                    && (in_use.contains(&i.id) || i.repo_tags.iter().any(|t| in_use.contains(t))))
            })
            .map(|i| i.id)
            .collect();
    } else if ids.is_empty() {
        return Err(Failure::msg(
            "no image given: give image IDs or references, or use --all or --prune",
        ));
    }
    let mut failed = Vec::new();
    for id in &ids {
        let status = rpc(
            "image status",
            client
                .image_status(v1::ImageStatusRequest {
                    image: Some(v1::ImageSpec {
                        image: id.clone(),
                        ..Default::default()
                    }),
                    verbose: false,
                })
                .await,
        )?;
        let Some(image) = status.image else {
            failed.push(format!("no such image {id}"));
            continue;
        };
        if image.pinned && args.prune {
            continue;
        }
        match client
            .remove_image(v1::RemoveImageRequest {
                image: Some(v1::ImageSpec {
                    image: image.id.clone(),
                    ..Default::default()
                }),
            })
            .await
        {
            Ok(_) => {
                if image.repo_tags.is_empty() {
                    writeln!(out, "Deleted: {}", image.id)?;
                }
                for tag in &image.repo_tags {
                    writeln!(out, "Deleted: {tag}")?;
                }
            }
            Err(error) => failed.push(format!("error of removing image {id:?}: {error}")),
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::msg(failed.join("; ")))
    }
}

fn random_uid() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hex = String::new();
    for i in 0..2 {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(now() as u128 + i);
        hex.push_str(&format!("{:016x}", hasher.finish()));
    }
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

fn load_pod_config(path: &str) -> Result<v1::PodSandboxConfig> {
    let mut config: v1::PodSandboxConfig = proto::from_config_file(path)?;
    let Some(meta) = config.metadata.as_mut() else {
        return Err(Failure::msg(format!("{path}: metadata is not set")));
    };
    if meta.uid.is_empty() {
        meta.uid = random_uid();
    }
    if meta.name.is_empty() || meta.namespace.is_empty() {
        return Err(Failure::msg(format!(
            "{path}: name or namespace is not in metadata"
        )));
    }
    Ok(config)
}

async fn runp(client: &Client, path: &str, runtime: Option<&str>) -> Result<String> {
    let config = load_pod_config(path)?;
    let response = rpc(
        "run pod sandbox",
        client
            .run_pod_sandbox(v1::RunPodSandboxRequest {
                config: Some(config),
                runtime_handler: runtime.unwrap_or_default().to_string(),
            })
            .await,
    )?;
    Ok(response.pod_sandbox_id)
}

async fn create(
    client: &Client,
    pod_id: &str,
    container_config: &str,
    pod_config: &str,
    pull: bool,
    auth: &AuthArgs,
) -> Result<String> {
    let mut config: v1::ContainerConfig = proto::from_config_file(container_config)?;
    match &config.metadata {
        None => {
            return Err(Failure::msg(format!(
                "{container_config}: metadata is not set"
            )));
        }
        Some(meta) if meta.name.is_empty() => {
            return Err(Failure::msg(format!(
                "{container_config}: name is not in metadata"
            )));
        }
        _ => {}
    }
    let image = match config.image.as_mut() {
        Some(image) if !image.image.is_empty() => {
            if image.user_specified_image.is_empty() {
                image.user_specified_image = image.image.clone();
            }
            image.image.clone()
        }
        _ => {
            return Err(Failure::msg(format!(
                "{container_config}: image is not set"
            )));
        }
    };
    let sandbox = load_pod_config(pod_config)?;
    if pull {
        let auth = auth_config(auth)?;
        rpc(
            "pulling image",
            client
                .pull_image(v1::PullImageRequest {
                    image: Some(v1::ImageSpec {
                        image: image.clone(),
                        ..Default::default()
                    }),
                    auth,
                    sandbox_config: Some(sandbox.clone()),
                })
                .await,
        )?;
    }
    let response = rpc(
        "creating container",
        client
            .create_container(v1::CreateContainerRequest {
                pod_sandbox_id: pod_id.to_string(),
                config: Some(config),
                sandbox_config: Some(sandbox),
            })
            .await,
    )?;
    Ok(response.container_id)
}

async fn start(client: &Client, ids: &[String], out: &mut Out) -> Result<()> {
    need_ids(ids)?;
    for id in ids {
        rpc(
            &format!("starting the container {id:?}"),
            client
                .start_container(v1::StartContainerRequest {
                    container_id: id.clone(),
                })
                .await,
        )?;
        writeln!(out, "{id}")?;
    }
    Ok(())
}

async fn stop(client: &Client, args: &StopArgs, out: &mut Out) -> Result<()> {
    need_ids(&args.ids)?;
    for id in &args.ids {
        rpc(
            &format!("stopping the container {id:?}"),
            client
                .stop_container(v1::StopContainerRequest {
                    container_id: id.clone(),
                    timeout: args.timeout,
                })
                .await,
        )?;
        writeln!(out, "{id}")?;
    }
    Ok(())
}

async fn rm(client: &Client, args: &RemoveArgs, out: &mut Out) -> Result<()> {
    let ids = if args.all {
        let list = rpc(
            "list containers",
            client
                .list_containers(v1::ListContainersRequest::default())
                .await,
        )?;
        list.containers.into_iter().map(|c| c.id).collect()
    } else {
        need_ids(&args.ids)?;
        args.ids.clone()
    };
    for id in &ids {
        let status = rpc(
            "get container status",
            client
                .container_status(v1::ContainerStatusRequest {
                    container_id: id.clone(),
                    verbose: false,
                })
                .await,
        )?;
        let running = status
            .status
            .is_some_and(|s| s.state == v1::ContainerState::ContainerRunning as i32);
        if running {
            if !args.force {
                return Err(Failure::msg(format!(
                    "container {id} is running, please stop it first or use --force"
                )));
            }
            rpc(
                "stopping the container",
                client
                    .stop_container(v1::StopContainerRequest {
                        container_id: id.clone(),
                        timeout: 0,
                    })
                    .await,
            )?;
        }
        rpc(
            &format!("removing the container {id:?}"),
            client
                .remove_container(v1::RemoveContainerRequest {
                    container_id: id.clone(),
                })
                .await,
        )?;
        writeln!(out, "{id}")?;
    }
    Ok(())
}

async fn stopp(client: &Client, ids: &[String], out: &mut Out) -> Result<()> {
    need_ids(ids)?;
    for id in ids {
        rpc(
            &format!("stopping the pod sandbox {id:?}"),
            client
                .stop_pod_sandbox(v1::StopPodSandboxRequest {
                    pod_sandbox_id: id.clone(),
                })
                .await,
        )?;
        writeln!(out, "Stopped sandbox {id}")?;
    }
    Ok(())
}

async fn rmp(client: &Client, args: &RemoveArgs, out: &mut Out) -> Result<()> {
    let ids = if args.all {
        let list = rpc(
            "list pod sandboxes",
            client
                .list_pod_sandbox(v1::ListPodSandboxRequest::default())
                .await,
        )?;
        list.items.into_iter().map(|p| p.id).collect()
    } else {
        need_ids(&args.ids)?;
        args.ids.clone()
    };
    for id in &ids {
        let status = rpc(
            "get pod sandbox status",
            client
                .pod_sandbox_status(v1::PodSandboxStatusRequest {
                    pod_sandbox_id: id.clone(),
                    verbose: false,
                })
                .await,
        )?;
        let ready = status
            .status
            .is_some_and(|s| s.state == v1::PodSandboxState::SandboxReady as i32);
        if ready {
            if !args.force {
                return Err(Failure::msg(format!(
                    "pod sandbox {id} is running, please stop it first or use --force"
                )));
            }
            rpc(
                "stopping the pod sandbox",
                client
                    .stop_pod_sandbox(v1::StopPodSandboxRequest {
                        pod_sandbox_id: id.clone(),
                    })
                    .await,
            )?;
        }
        rpc(
            &format!("removing the pod sandbox {id:?}"),
            client
                .remove_pod_sandbox(v1::RemovePodSandboxRequest {
                    pod_sandbox_id: id.clone(),
                })
                .await,
        )?;
        writeln!(out, "Removed sandbox {id}")?;
    }
    Ok(())
}

async fn events(client: &Client, args: &EventsArgs, out: &mut Out) -> Result<()> {
    use tokio_stream::StreamExt;
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
            other => return Err(unsupported(other)),
        }
        out.flush()?;
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// Logs, read from the container's log file with cri-log.

async fn logs(client: &Client, args: &LogsArgs, out: &mut Out) -> Result<()> {
    use cri_log::{Follower, LogReader, ReadOptions, Stream, Streams, Timestamp};
    if args.previous {
        return Err(Failure::msg(
            "--previous is not supported by this crictl: give the previous container's ID",
        ));
    }
    let status = rpc(
        "get container status",
        client
            .container_status(v1::ContainerStatusRequest {
                container_id: args.container.clone(),
                verbose: false,
            })
            .await,
    )?
    .status
    .unwrap_or_default();
    if status.log_path.is_empty() {
        return Err(Failure::msg(format!(
            "the container {} has not set a log path",
            args.container
        )));
    }
    let streams = match args.stream.as_deref() {
        None | Some("") => Streams::Both,
        Some("stdout") => Streams::Stdout,
        Some("stderr") => Streams::Stderr,
        Some(other) => {
            return Err(Failure::msg(format!(
                "--stream must be stdout or stderr, not {other:?}"
            )));
        }
    };
    let since = match &args.since {
        None => None,
        Some(text) => Some(match Timestamp::parse(text) {
            Ok(at) => at,
            Err(_) => Timestamp::now().saturating_sub(connect::parse_duration(text).map_err(|_| {
                Failure::msg(format!("--since {text:?}: give an RFC 3339 time (2013-01-02T13:23:37Z) or a duration (42m)"))
            })?),
        }),
    };
    let options = ReadOptions::new()
        .tail(usize::try_from(args.tail).ok())
        .since(since)
        .streams(streams);
    let mut limit = usize::try_from(args.limit_bytes).ok();
    let mut stderr = std::io::stderr().lock();
    let mut buffer = Vec::new();
    // Writes a message to stdout or stderr (as the container wrote it); `false` at the limit.
    let mut emit = |message: cri_log::Message, out: &mut Out| -> Result<bool> {
        buffer.clear();
        message.write_to(&mut buffer, args.timestamps);
        let mut done = false;
        if let Some(left) = limit.as_mut() {
            if buffer.len() >= *left {
                buffer.truncate(*left);
                done = true;
            }
            *left -= buffer.len();
        }
        match message.stream {
            Stream::Stdout => out.write_all(&buffer)?,
            Stream::Stderr => {
                out.flush()?;
                stderr.write_all(&buffer)?;
            }
        }
        Ok(!done)
    };
    let report = |error: cri_log::Error| -> Result<()> {
        if error.is_recoverable() {
            eprintln!("crictl: {}: {error}", status.log_path);
            Ok(())
        } else {
            Err(Failure::msg(format!("read {}: {error}", status.log_path)))
        }
    };
    if !args.follow {
        let file = std::fs::File::open(&status.log_path)
            .map_err(|e| Failure::msg(format!("open the log file {}: {e}", status.log_path)))?;
        for message in LogReader::new(std::io::BufReader::new(file), options) {
            match message {
                Ok(message) => {
                    if !emit(message, out)? {
                        break;
                    }
                }
                Err(error) => report(error)?,
            }
        }
        return Ok(());
    }
    let mut follower = Follower::open(&status.log_path, options)
        .map_err(|e| Failure::msg(format!("open the log file {}: {e}", status.log_path)))?;
    let poll = std::time::Duration::from_millis(100);
    let mut check = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tokio::select! {
            message = follower.next_async(poll) => match message {
                Ok(message) => {
                    if !emit(message, out)? {
                        return Ok(());
                    }
                    out.flush()?;
                }
                Err(error) => report(error)?,
            },
            _ = check.tick() => {
                // Stop once the container is no longer running, after what it wrote last.
                let running = client
                    .container_status(v1::ContainerStatusRequest { container_id: args.container.clone(), verbose: false })
                    .await
                    .ok()
                    .and_then(|r| r.status)
                    .is_some_and(|s| s.state == v1::ContainerState::ContainerRunning as i32);
                if !running {
                    follower.flush().map_err(|e| Failure::msg(format!("read {}: {e}", status.log_path)))?;
                    while let Some(message) = follower.try_next() {
                        match message {
                            Ok(message) => {
                                if !emit(message, out)? {
                                    return Ok(());
                                }
                            }
                            Err(error) => report(error)?,
                        }
                    }
                    return Ok(());
                }
            }
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

// ------------------------------------------------------------------------------------------
// Exec.

async fn exec(client: &Client, args: &ExecArgs, out: &mut Out) -> Result<()> {
    let (id, cmd) = args
        .args
        .split_first()
        .expect("clap requires the container ID");
    if cmd.is_empty() {
        return Err(Failure::msg(
            "no command given: crictl exec [--sync] CONTAINER-ID COMMAND [ARG...]",
        ));
    }
    if !args.sync {
        let response = rpc(
            "exec",
            client
                .exec_url(v1::ExecRequest {
                    container_id: id.clone(),
                    cmd: cmd.to_vec(),
                    tty: args.tty,
                    stdin: args.interactive,
                    stdout: true,
                    stderr: !args.tty,
                })
                .await,
        )?;
        let options = cri_streaming::client::ExecOptions::new()
            .stdin(args.interactive)
            .stdout(true)
            .stderr(!args.tty)
            .tty(args.tty)
            .transport(transport(&args.transport)?);
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
    out.write_all(&response.stdout)?;
    out.flush()?;
    std::io::stderr().write_all(&response.stderr)?;
    if response.exit_code != 0 {
        return Err(Failure::Exit(
            u8::try_from(response.exit_code).unwrap_or(1).max(1),
        ));
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// Config.

fn config_command(path: &str, args: &ConfigArgs, out: &mut Out) -> Result<()> {
    let mut config = connect::read_config(path, false)?;
    if let Some(key) = &args.get {
        let value = config.get(key).ok_or_else(|| {
            Failure::msg(format!(
                "no such option {key:?}: use one of {}",
                connect::CONFIG_KEYS.join(", ")
            ))
        })?;
        writeln!(out, "{value}")?;
        return Ok(());
    }
    if args.list {
        let rows: Vec<[String; 2]> = connect::CONFIG_KEYS
            .iter()
            .map(|key| [key.to_string(), config.get(key).unwrap_or_default()])
            .collect();
        return write_table(out, &["KEY", "VALUE"], &rows);
    }
    let mut changes = Vec::new();
    for set in &args.set {
        for pair in set.split(',') {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| Failure::msg(format!("--set {pair:?}: use --set key=value")))?;
            changes.push((key.to_string(), value.to_string()));
        }
    }
    match args.args.as_slice() {
        [] => {}
        [key, value] => changes.push((key.clone(), value.clone())),
        _ => {
            return Err(Failure::msg(
                "use crictl config KEY VALUE, --set KEY=VALUE, --get KEY or --list",
            ));
        }
    }
    if changes.is_empty() {
        return Err(Failure::msg(
            "use crictl config KEY VALUE, --set KEY=VALUE, --get KEY or --list",
        ));
    }
    for (key, value) in changes {
        config.set(&key, &value)?;
    }
    std::fs::write(path, config.to_yaml())
        .map_err(|e| Failure::msg(format!("write {path}: {e}")))?;
    Ok(())
}

/// The streaming transport: `--transport`, SPDY by default as in crictl (a runtime's
/// streaming URL is single-use, so a failed WebSocket attempt would spend it).
fn transport(name: &Option<String>) -> Result<cri_streaming::client::Transport> {
    match name.as_deref().unwrap_or("spdy") {
        "auto" => Ok(cri_streaming::client::Transport::Auto),
        "spdy" => Ok(cri_streaming::client::Transport::Spdy),
        "websocket" => Ok(cri_streaming::client::Transport::WebSocket),
        other => Err(Failure::msg(format!(
            "--transport must be spdy, websocket or auto, not {other:?}"
        ))),
    }
}

/// Puts the terminal in raw mode for a TTY session and restores it when dropped.
struct RawTerminal(bool);

impl RawTerminal {
    fn enter(tty: bool) -> Result<Self> {
        use std::io::IsTerminal;
        if tty && std::io::stdin().is_terminal() {
            crossterm::terminal::enable_raw_mode()
                .map_err(|e| Failure::msg(format!("put the terminal in raw mode: {e}")))?;
            return Ok(RawTerminal(true));
        }
        Ok(RawTerminal(false))
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if self.0 {
            let _ = crossterm::terminal::disable_raw_mode();
        }
    }
}

/// Runs an exec or attach session: stdin in, stdout and stderr out, terminal size sent on
/// SIGWINCH for a TTY; the command's exit code becomes crictl's.
async fn run_session(
    mut session: cri_streaming::client::ExecSession,
    stdin: bool,
    tty: bool,
    out: &mut Out,
) -> Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    out.flush()?;
    let raw = RawTerminal::enter(tty)?;
    if let Some(resizer) = session.resizer().filter(|_| raw.0) {
        if let Ok((width, height)) = crossterm::terminal::size() {
            let _ = resizer.resize(width, height).await;
        }
        tokio::spawn(async move {
            let Ok(mut changes) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
            else {
                return;
            };
            while changes.recv().await.is_some() {
                let Ok((width, height)) = crossterm::terminal::size() else {
                    continue;
                };
                if resizer.resize(width, height).await.is_err() {
                    return;
                }
            }
        });
    }
    if let (true, Some(mut writer)) = (stdin, session.stdin.take()) {
        tokio::spawn(async move {
            let mut input = tokio::io::stdin();
            let mut buf = vec![0u8; 8192];
            loop {
                match input.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if writer.write_all(&buf[..n]).await.is_err()
                            || writer.flush().await.is_err()
                        {
                            return;
                        }
                    }
                }
            }
            let _ = writer.shutdown().await;
        });
    }
    // stderr in a task; stdout here, through `out` (which holds the stdout lock).
    let stderr_task = session.stderr.take().map(|mut reader| {
        tokio::spawn(async move {
            let mut buf = vec![0u8; 8192];
            let mut err = tokio::io::stderr();
            loop {
                match reader.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if err.write_all(&buf[..n]).await.is_err() || err.flush().await.is_err() {
                            return;
                        }
                    }
                }
            }
        })
    });
    if let Some(mut reader) = session.stdout.take() {
        let mut buf = vec![0u8; 8192];
        loop {
            let n = reader
                .read(&mut buf)
                .await
                .map_err(|e| Failure::msg(format!("read the session's stdout: {e}")))?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n])?;
            out.flush()?;
        }
    }
    if let Some(task) = stderr_task {
        let _ = task.await;
    }
    let code = session
        .wait()
        .await
        .map_err(|e| Failure::msg(format!("session: {e}")))?;
    drop(raw);
    if code != 0 {
        return Err(Failure::Exit(u8::try_from(code).unwrap_or(1).max(1)));
    }
    Ok(())
}

async fn attach(client: &Client, args: &AttachArgs, out: &mut Out) -> Result<()> {
    let response = rpc(
        "attach",
        client
            .attach_url(v1::AttachRequest {
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

async fn port_forward(client: &Client, args: &PortForwardArgs, out: &mut Out) -> Result<()> {
    let mut pairs = Vec::new();
    for spec in &args.ports {
        let parse = |p: &str| {
            p.parse::<u16>()
                .map_err(|_| Failure::msg(format!("port {spec:?}: use [LOCAL_PORT:]REMOTE_PORT")))
        };
        let (local, remote) = match spec.split_once(':') {
            Some((local, remote)) => (
                if local.is_empty() { 0 } else { parse(local)? },
                parse(remote)?,
            ),
            None => (parse(spec)?, parse(spec)?),
        };
        pairs.push((local, remote));
    }
    let remote: Vec<u16> = pairs.iter().map(|p| p.1).collect();
    let response = rpc(
        "port forward",
        client
            .port_forward_url(v1::PortForwardRequest {
                pod_sandbox_id: args.pod.clone(),
                port: remote.iter().map(|&p| i32::from(p)).collect(),
            })
            .await,
    )?;
    let options =
        cri_streaming::client::PortForwardOptions::new().transport(transport(&args.transport)?);
    let forward = std::sync::Arc::new(
        cri_streaming::client::port_forward(&response.url, &remote, &options)
            .await
            .map_err(|e| Failure::msg(format!("port forward to pod {}: {e}", args.pod)))?,
    );
    let mut tasks = Vec::new();
    for (local, remote) in pairs {
        let address = std::net::SocketAddr::from(([127, 0, 0, 1], local));
        let (bound, task) = forward
            .clone()
            .listen(address, remote)
            .await
            .map_err(|e| Failure::msg(format!("listen on {address}: {e}")))?;
        writeln!(out, "Forwarding from {bound} -> {remote}")?;
        out.flush()?;
        tasks.push(task);
    }
    tokio::select! {
        _ = tokio::signal::ctrl_c() => Ok(()),
        result = futures_first(tasks) => result,
    }
}

async fn futures_first(
    tasks: Vec<tokio::task::JoinHandle<std::result::Result<(), cri_streaming::client::Error>>>,
) -> Result<()> {
    for task in tasks {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(Failure::msg(format!("port forward: {e}"))),
            Err(e) => return Err(Failure::msg(format!("port forward: {e}"))),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_tags_and_digests_split_like_crictl() {
        assert_eq!(
            normalize_repo_digest(&["docker.io/library/busybox@sha256:abc".into()]),
            ("docker.io/library/busybox".into(), "sha256:abc".into())
        );
        assert_eq!(
            normalize_repo_digest(&[]),
            ("<none>".into(), "<none>".into())
        );
        assert_eq!(
            normalize_repo_digest(&["bad".into()]),
            ("errorName".into(), "errorRepoDigest".into())
        );
        assert_eq!(
            normalize_repo_tags(
                &["localhost:5000/a:1".into(), "<none>:<none>".into()],
                "img"
            ),
            vec![
                ("localhost:5000/a".into(), "1".into()),
                ("img".into(), "<none>".into())
            ]
        );
        assert_eq!(
            normalize_repo_tags(&[], "img"),
            vec![("img".into(), "<none>".into())]
        );
        assert_eq!(
            normalize_repo_tags(&["x".into()], "img"),
            vec![("errorRepoTag".into(), "errorRepoTag".into())]
        );
    }

    #[test]
    fn digests_are_recognised_like_go_digest() {
        let hex = "ff6a47eb455d41507a0905ad400a6219874b8fb14db89778a1cb35ef4ca2df47";
        assert_eq!(digest_hex(&format!("sha256:{hex}")), Some(hex));
        assert_eq!(digest_hex("sha256:short"), None);
        assert_eq!(digest_hex("localhost/busybox:1"), None);
    }
}
