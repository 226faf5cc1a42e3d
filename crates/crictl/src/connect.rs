//! Where crictl connects: flags, environment, the config file, crictl's default endpoints,
//! and, with none of them present, the built-in fake runtime.

use std::io::IsTerminal;
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
    fn only_unix_sockets_can_be_absent() {
        assert!(!present("unix:///nonexistent/crictl-test.sock"));
        assert!(!present("unix:/nonexistent/crictl-test.sock"));
        assert!(present("tcp://127.0.0.1:1"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cri.sock");
        std::fs::write(&path, b"").unwrap();
        assert!(present(&format!("unix://{}", path.display())));
    }
}
