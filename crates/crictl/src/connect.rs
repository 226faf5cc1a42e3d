//! Where crictl connects: flags, environment, the config file, crictl's default endpoints,
//! and, with none of them present, the built-in fake runtime.

use std::io::IsTerminal;
use std::time::Duration;

use cri_client::{Client, VersionPolicy};

use crate::failure::Failure;
use crate::cli::Cli;

/// crictl's default runtime endpoints, in the order it tries them.
pub const DEFAULT_ENDPOINTS: [&str; 3] = [
    "unix:///run/containerd/containerd.sock",
    "unix:///run/crio/crio.sock",
    "unix:///var/run/cri-dockerd.sock",
];

/// crictl's default connection timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// The deadline of each call when `--timeout` is not given.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// Settings of the config file (`/etc/crictl.yaml`).
#[derive(Debug, Default)]
pub struct Config {
    pub runtime_endpoint: Option<String>,
    pub image_endpoint: Option<String>,
    pub timeout: Option<String>,
    pub debug: bool,
    pub pull_image_on_create: bool,
    pub disable_pull_on_run: bool,
}

/// The config file's keys, in the order crictl writes them.
pub const CONFIG_KEYS: [&str; 6] = [
    "runtime-endpoint",
    "image-endpoint",
    "timeout",
    "debug",
    "pull-image-on-create",
    "disable-pull-on-run",
];

impl Config {
    /// The value of `key` as text.
    pub fn get(&self, key: &str) -> Option<String> {
        Some(match key {
            "runtime-endpoint" => self.runtime_endpoint.clone().unwrap_or_default(),
            "image-endpoint" => self.image_endpoint.clone().unwrap_or_default(),
            "timeout" => self.timeout.clone().unwrap_or_else(|| "0".into()),
            "debug" => self.debug.to_string(),
            "pull-image-on-create" => self.pull_image_on_create.to_string(),
            "disable-pull-on-run" => self.disable_pull_on_run.to_string(),
            _ => return None,
        })
    }

    /// Sets `key` from text.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), Failure> {
        let flag = |value: &str| match value {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(Failure::msg(format!(
                "{key}: use true or false, not {value:?}"
            ))),
        };
        match key {
            "runtime-endpoint" => {
                self.runtime_endpoint = Some(value.to_string()).filter(|s| !s.is_empty())
            }
            "image-endpoint" => {
                self.image_endpoint = Some(value.to_string()).filter(|s| !s.is_empty())
            }
            "timeout" => {
                value.parse::<u64>().map_err(|_| {
                    Failure::msg(format!("timeout: a number of seconds, not {value:?}"))
                })?;
                self.timeout = Some(value.to_string());
            }
            "debug" => self.debug = flag(value)?,
            "pull-image-on-create" => self.pull_image_on_create = flag(value)?,
            "disable-pull-on-run" => self.disable_pull_on_run = flag(value)?,
            _ => {
                return Err(Failure::msg(format!(
                    "no such option {key:?}: use one of {}",
                    CONFIG_KEYS.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// The config file's text.
    pub fn to_yaml(&self) -> String {
        let quoted = |s: Option<&String>| {
            serde_json::to_string(s.map_or("", |s| s.as_str())).unwrap_or_default()
        };
        format!(
            "runtime-endpoint: {}\nimage-endpoint: {}\ntimeout: {}\ndebug: {}\npull-image-on-create: {}\ndisable-pull-on-run: {}\n",
            quoted(self.runtime_endpoint.as_ref()),
            quoted(self.image_endpoint.as_ref()),
            self.timeout.as_deref().unwrap_or("0"),
            self.debug,
            self.pull_image_on_create,
            self.disable_pull_on_run
        )
    }
}

/// Reads the config file; a missing default file is no error.
pub fn read_config(path: &str, explicit: bool) -> Result<Config, Failure> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && !explicit => {
            return Ok(Config::default());
        }
        Err(error) => return Err(Failure::msg(format!("load config file {path}: {error}"))),
    };
    let value: serde_yaml::Value = serde_yaml::from_str(&text)
        .map_err(|error| Failure::msg(format!("load config file {path}: {error}")))?;
    let mut config = Config::default();
    let Some(map) = value.as_mapping() else {
        return Ok(config);
    };
    let text_of = |value: &serde_yaml::Value| match value {
        serde_yaml::Value::String(s) => Some(s.clone()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    for (key, value) in map {
        let Some(key) = key.as_str() else { continue };
        let text = text_of(value);
        match key {
            "runtime-endpoint" => config.runtime_endpoint = text.filter(|s| !s.is_empty()),
            "image-endpoint" => config.image_endpoint = text.filter(|s| !s.is_empty()),
            "timeout" => config.timeout = text,
            "debug" => config.debug = text.as_deref() == Some("true"),
            "pull-image-on-create" => config.pull_image_on_create = text.as_deref() == Some("true"),
            "disable-pull-on-run" => config.disable_pull_on_run = text.as_deref() == Some("true"),
            _ => {}
        }
    }
    Ok(config)
}

/// Parses a Go duration ("2s", "1m30s", "500ms") or a number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, Failure> {
    let bad = || {
        Failure::msg(format!(
            "invalid duration {text:?}: use a number of seconds or a duration such as 2s, 500ms, 1m"
        ))
    };
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        return if seconds >= 0.0 && seconds.is_finite() {
            Ok(Duration::from_secs_f64(seconds))
        } else {
            Err(bad())
        };
    }
    let mut total = 0f64;
    let mut rest = text;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let number: f64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += number * scale;
        rest = &rest[unit_len..];
    }
    Ok(Duration::from_secs_f64(total))
}

/// A connected client, and the fake runtime it talks to when there is one.
pub struct Connection {
    pub client: Client,
    _fake: Option<(cri_fake::ServerHandle, tempfile::TempDir)>,
}

fn socket_path(endpoint: &str) -> Option<&str> {
    endpoint
        .strip_prefix("unix://")
        .or_else(|| endpoint.strip_prefix("unix:"))
}

/// Whether `endpoint` names a Unix socket that is present (other endpoints count as present).
fn present(endpoint: &str) -> bool {
    match socket_path(endpoint) {
        Some(path) => std::path::Path::new(path).exists(),
        None => true,
    }
}

async fn dial(
    endpoint: &str,
    image_endpoint: Option<&str>,
    connect_timeout: Duration,
    call_timeout: Duration,
) -> Result<Client, Failure> {
    let progress = std::io::stderr().is_terminal();
    let mut builder = Client::builder(endpoint.to_string())
        .version_policy(VersionPolicy::PreferV1)
        .list_streaming(true)
        .timeout(call_timeout)
        .connect_timeout(connect_timeout)
        .on_list_progress(move |rpc, items| {
            if progress {
                eprint!("\r\x1b[K{rpc}: {items} received…");
            }
        });
    if let Some(image) = image_endpoint {
        builder = builder.image_endpoint(image.to_string());
    }
    // cri-client bounds the dial and the version check by the connect timeout; this is only a
    // backstop a little later.
    let backstop = connect_timeout + Duration::from_secs(1);
    match tokio::time::timeout(backstop, builder.connect()).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(error @ cri_client::Error::DeadlineExceeded { .. })) => Err(Failure::msg(format!(
            "{error} (use --timeout to wait longer)"
        ))),
        Ok(Err(error)) => Err(Failure::msg(error.to_string())),
        Err(_) => Err(Failure::msg(format!(
            "connect to {endpoint}: no answer within the deadline of {} (use --timeout to wait longer)",
            format_duration(connect_timeout)
        ))),
    }
}

/// A duration as Go prints it for whole seconds or milliseconds.
pub fn format_duration(duration: Duration) -> String {
    if duration.subsec_nanos() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

/// Connects as crictl does: flag or environment, then the config file, then the default
/// endpoints in order, then (none present) the built-in fake runtime.
pub async fn connect(cli: &Cli, config: &Config) -> Result<Connection, Failure> {
    let timeout = match cli.timeout.as_deref().or(config.timeout.as_deref()) {
        Some(text) => Some(parse_duration(text)?).filter(|d| !d.is_zero()),
        None => None,
    };
    let connect_timeout = timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT);
    let call_timeout = timeout.unwrap_or(DEFAULT_CALL_TIMEOUT);
    let image_endpoint = cli
        .image_endpoint
        .clone()
        .filter(|s| !s.is_empty())
        .or_else(|| config.image_endpoint.clone());
    let runtime_endpoint = cli
        .runtime_endpoint
        .clone()
        .filter(|s| !s.is_empty())
        .or_else(|| config.runtime_endpoint.clone());
    if let Some(endpoint) = runtime_endpoint {
        let client = dial(
            &endpoint,
            image_endpoint.as_deref(),
            connect_timeout,
            call_timeout,
        )
        .await?;
        return Ok(Connection {
            client,
            _fake: None,
        });
    }
    let mut last_error = None;
    for endpoint in DEFAULT_ENDPOINTS.iter().filter(|e| present(e)) {
        if cli.debug {
            eprintln!("crictl: trying the default endpoint {endpoint}");
        }
        match dial(
            endpoint,
            image_endpoint.as_deref(),
            connect_timeout,
            call_timeout,
        )
        .await
        {
            Ok(client) => {
                return Ok(Connection {
                    client,
                    _fake: None,
                });
            }
            Err(error) => last_error = Some(error),
        }
    }
    if let Some(error) = last_error {
        return Err(error);
    }
    // Nothing present: serve the built-in fake runtime on a private socket for this run.
    let runtime = cri_fake::FakeRuntime::builder().page_size(5000).build();
    let (pods, per_pod) = fake_seed();
    runtime.seed(pods, per_pod);
    let dir = tempfile::tempdir()
        .map_err(|e| Failure::msg(format!("start the built-in fake runtime: {e}")))?;
    let server = runtime
        .serve_unix(dir.path().join("cri-fake.sock"))
        .await
        .map_err(|e| Failure::msg(format!("start the built-in fake runtime: {e}")))?;
    let endpoint = server.endpoint();
    eprintln!(
        "crictl: no runtime endpoint configured and none of the default sockets present: using the built-in fake runtime (give --runtime-endpoint or set CONTAINER_RUNTIME_ENDPOINT to reach a real runtime)"
    );
    let client = dial(&endpoint, None, connect_timeout, call_timeout).await?;
    Ok(Connection {
        client,
        _fake: Some((server, dir)),
    })
}

/// How the built-in fake is seeded: 3 pods of 2 containers, or `CRICTL_FAKE_SEED=PODSxCONTAINERS`
/// (what the benchmark uses to reach 200,000 containers).
fn fake_seed() -> (usize, usize) {
    std::env::var("CRICTL_FAKE_SEED")
        .ok()
        .and_then(|s| {
            let (pods, per_pod) = s.split_once('x')?;
            Some((pods.parse().ok()?, per_pod.parse().ok()?))
        })
        .unwrap_or((3, 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("").is_err());
    }
}
