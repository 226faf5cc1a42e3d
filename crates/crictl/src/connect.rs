//! Where crictl connects: flags, environment, the config file, crictl's default endpoints,
//! and, with none of them present, the built-in fake runtime.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use cri_client::{Client, Endpoint, VersionPolicy};

use crate::cli::Cli;
use crate::config::Config;
use crate::duration::{format_duration, parse_duration};
use crate::failure::Failure;

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

/// A connected client, and the fake runtime it talks to when there is one.
pub struct Connection {
    pub client: Client,
    _fake: Option<(cri_fake::ServerHandle, tempfile::TempDir)>,
    /// The built-in fake's state file, saved when the command is done.
    state: Option<FakeState>,
}

/// The state file of the built-in fake, held (locked) for the run.
struct FakeState {
    runtime: cri_fake::FakeRuntime,
    path: PathBuf,
    /// The runtime's generation after loading: unchanged, there is nothing to save.
    loaded: u64,
    _lock: cri_fake::StateLock,
}

impl Connection {
    /// Ends the connection; the built-in fake saves its state (a failure is a warning line:
    /// the command itself has run).
    pub fn close(self) {
        let Connection {
            client,
            _fake,
            state,
        } = self;
        drop(client);
        if let Some(state) = state
            && state.runtime.generation() != state.loaded
            && let Err(error) = state.runtime.save_state(&state.path)
        {
            eprintln!("crictl: the built-in fake runtime's state was not saved: {error}");
        }
        drop(_fake);
    }
}

/// How long a crictl waits for another one that uses the built-in fake's state file.
const STATE_LOCK_WAIT: Duration = Duration::from_secs(10);

/// Where the built-in fake keeps its state: `$CRICTL_FAKE_STATE` (empty or `none`: nowhere,
/// a fresh fake each run), else `$XDG_STATE_HOME/crictl-rs/fake-state.pb`, else
/// `~/.local/state/crictl-rs/fake-state.pb`; nowhere when none of them is set.
fn fake_state_path() -> Option<PathBuf> {
    fake_state_path_from(|name| std::env::var_os(name))
}

fn fake_state_path_from(var: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    if let Some(value) = var("CRICTL_FAKE_STATE") {
        if value.is_empty() || value == "none" {
            return None;
        }
        return Some(PathBuf::from(value));
    }
    let absolute = |v: OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    let base = var("XDG_STATE_HOME").and_then(absolute).or_else(|| {
        var("HOME")
            .and_then(absolute)
            .map(|h| h.join(".local/state"))
    })?;
    Some(base.join("crictl-rs").join("fake-state.pb"))
}

/// The built-in fake: its state loaded from `path` (locked for the run), or seeded afresh
/// when there is no file yet (or no path).
fn fake_runtime(
    path: Option<PathBuf>,
) -> Result<(cri_fake::FakeRuntime, Option<FakeState>), Failure> {
    let runtime = cri_fake::FakeRuntime::builder().page_size(5000).build();
    let Some(path) = path else {
        let (pods, per_pod) = fake_seed();
        runtime.seed(pods, per_pod);
        return Ok((runtime, None));
    };
    let fail = |e: &dyn std::fmt::Display| {
        Failure::msg(format!(
            "the built-in fake runtime's state: {e} (CRICTL_FAKE_STATE=none runs without it)"
        ))
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| fail(&format!("create {}: {e}", dir.display())))?;
    }
    let lock = cri_fake::StateLock::acquire(&path, STATE_LOCK_WAIT).map_err(|e| fail(&e))?;
    if path.exists() {
        runtime
            .load_state(&path)
            .map_err(|e| fail(&format!("{e}; delete {} to start afresh", path.display())))?;
    } else {
        let (pods, per_pod) = fake_seed();
        runtime.seed(pods, per_pod);
        runtime.save_state(&path).map_err(|e| fail(&e))?;
    }
    let loaded = runtime.generation();
    Ok((
        runtime.clone(),
        Some(FakeState {
            runtime,
            path,
            loaded,
            _lock: lock,
        }),
    ))
}

/// Whether `endpoint` names a Unix socket that is present (other endpoints count as present,
/// and so does one that does not parse: dialing it reports why).
fn present(endpoint: &str) -> bool {
    match endpoint.parse::<Endpoint>() {
        Ok(Endpoint::Unix(path)) => path.exists(),
        _ => true,
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

/// Connects as crictl does: flag or environment, then the config file, then the default
/// endpoints in order, then (none present) the built-in fake runtime.
pub async fn connect(cli: &Cli, config: &Config) -> Result<Connection, Failure> {
    let timeout = match (cli.timeout.as_deref(), config.timeout.as_deref()) {
        (Some(text), _) => {
            Some(parse_duration(text).map_err(|e| Failure::msg(format!("--timeout: {e}")))?)
        }
        (None, Some(text)) => Some(
            parse_duration(text)
                .map_err(|e| Failure::msg(format!("timeout in the config file: {e}")))?,
        ),
        (None, None) => None,
    }
    .filter(|d| !d.is_zero());
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
            state: None,
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
                    state: None,
                });
            }
            Err(error) => last_error = Some(error),
        }
    }
    if let Some(error) = last_error {
        return Err(error);
    }
    // Nothing present: serve the built-in fake runtime on a private socket for this run,
    // with the state the previous runs left.
    let path = fake_state_path();
    let (runtime, state) = fake_runtime(path.clone())?;
    let dir = tempfile::tempdir()
        .map_err(|e| Failure::msg(format!("start the built-in fake runtime: {e}")))?;
    let server = runtime
        .serve_unix(dir.path().join("cri-fake.sock"))
        .await
        .map_err(|e| Failure::msg(format!("start the built-in fake runtime: {e}")))?;
    let endpoint = server.endpoint();
    let kept = match &path {
        Some(path) => format!(
            "whose state is kept in {} (delete the file to reset it, or set CRICTL_FAKE_STATE=none for a fresh fake each run)",
            path.display()
        ),
        None => "whose state lasts for this run only".to_string(),
    };
    eprintln!(
        "crictl: no runtime endpoint configured and none of the default sockets present: using the built-in fake runtime, {kept}; give --runtime-endpoint or set CONTAINER_RUNTIME_ENDPOINT to reach a real runtime"
    );
    let client = dial(&endpoint, None, connect_timeout, call_timeout).await?;
    Ok(Connection {
        client,
        _fake: Some((server, dir)),
        state,
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
    fn only_unix_sockets_can_be_absent() {
        assert!(!present("unix:///nonexistent/crictl-test.sock"));
        assert!(!present("unix:/nonexistent/crictl-test.sock"));
        assert!(present("tcp://127.0.0.1:1"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cri.sock");
        std::fs::write(&path, b"").unwrap();
        assert!(present(&format!("unix://{}", path.display())));
    }

    #[test]
    fn where_the_fake_keeps_its_state() {
        let path = |vars: &[(&str, &str)]| {
            let vars: Vec<(String, OsString)> = vars
                .iter()
                .map(|(k, v)| (k.to_string(), OsString::from(v)))
                .collect();
            fake_state_path_from(|name| {
                vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
            })
        };
        let home = [("HOME", "/home/u")];
        assert_eq!(
            path(&home),
            Some(PathBuf::from(
                "/home/u/.local/state/crictl-rs/fake-state.pb"
            ))
        );
        assert_eq!(
            path(&[("HOME", "/home/u"), ("XDG_STATE_HOME", "/x")]),
            Some(PathBuf::from("/x/crictl-rs/fake-state.pb"))
        );
        // A relative XDG_STATE_HOME is ignored, as the spec says.
        assert_eq!(
            path(&[("HOME", "/h"), ("XDG_STATE_HOME", "rel")]),
            path(&[("HOME", "/h")])
        );
        assert_eq!(
            path(&[("HOME", "/h"), ("CRICTL_FAKE_STATE", "/s/f")]),
            Some(PathBuf::from("/s/f"))
        );
        assert_eq!(path(&[("HOME", "/h"), ("CRICTL_FAKE_STATE", "")]), None);
        assert_eq!(path(&[("HOME", "/h"), ("CRICTL_FAKE_STATE", "none")]), None);
        assert_eq!(path(&[]), None);
    }
}
