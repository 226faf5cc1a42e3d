//! `cri-fake`: the fake CRI runtime as a program, for test suites in any language.
//!
//! Run `cri-fake --help` for the flags. It serves until SIGINT or SIGTERM (or, with
//! `--exit-on-stdin-close`, until its stdin closes), then removes its socket. Once it
//! listens it prints one line, `cri-fake: serving unix:///PATH`, on stdout.
//!
//! The flags are parsed by hand (a dozen `--name value` flags) so that the library's users
//! never build a command-line parser.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use cri_fake::{FakeRuntime, FakeRuntimeBuilder, ImageConfig};

const USAGE: &str = "\
cri-fake: an in-memory Kubernetes CRI runtime (runtime.v1) on a Unix socket, for tests

Usage: cri-fake --socket PATH [OPTIONS]

Options:
  --socket PATH               the Unix socket to serve on (required; a stale socket file
                              that nobody listens on is replaced)
  --seed PODS                 start with PODS ready pods (default 0)
  --containers-per-pod N      running containers per seeded pod (default 1)
  --without-stream-rpcs       behave like a runtime older than Kubernetes 1.36: every
                              Stream* RPC answers UNIMPLEMENTED
  --page-size N               the largest number of items in one Stream* message (default 100)
  --runtime-name NAME         the runtime_name Version reports (default cri-fake)
  --runtime-version VERSION   the runtime_version Version reports (default this version)
  --no-default-images         start without the pause and busybox images
  --image REF[,REF...][=USER] an image of the fake's registry, known under every REF (one id,
                              all tags), with the config user USER (`1000`, `www-data`);
                              repeatable
  --pull IMAGE                start with IMAGE pulled (repeatable)
  --pull-delay MILLISECONDS   how long PullImage takes (to test deadlines; default 5)
  --state FILE                load the runtime's state from FILE (if it exists) and keep FILE
                              current (within 50 ms of a change, and at exit); a second
                              process on FILE waits up to 5 s for it, then refuses. What ran
                              comes back running, without running its program again
  --replay FILE               answer from a recording of `cri-proxy --record FILE` instead
                              of running the fake: each recorded request (method and
                              request) gets its recorded response; a request the
                              recording lacks gets an error naming the method
  --exit-on-stdin-close       stop when stdin reaches its end (for a parent process that may
                              die without stopping its children)
  --stream-tls-cert PATH      serve the Exec/Attach/PortForward URLs over TLS (https) with
                              this PEM certificate chain (needs --stream-tls-key)
  --stream-tls-key PATH       the PEM private key of --stream-tls-cert
  --stream-tls-ca PATH        require streaming clients to present a certificate signed by
                              one of the CAs of this PEM bundle
  -h, --help                  this help
  -V, --version               the version
";

#[derive(Debug)]
struct Options {
    socket: PathBuf,
    seed: usize,
    containers_per_pod: usize,
    pulls: Vec<String>,
    exit_on_stdin_close: bool,
    stream_tls: StreamTls,
    state: Option<PathBuf>,
    replay: Option<PathBuf>,
    builder: FakeRuntimeBuilder,
}

/// The streaming server's TLS files, as given.
#[derive(Debug, Default)]
struct StreamTls {
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    ca: Option<PathBuf>,
}

impl StreamTls {
    fn check(&self) -> Result<(), UsageError> {
        match (&self.cert, &self.key) {
            (Some(_), Some(_)) => Ok(()),
            (None, None) if self.ca.is_none() => Ok(()),
            _ => Err(UsageError(
                "--stream-tls-cert and --stream-tls-key go together (--stream-tls-ca needs them)"
                    .into(),
            )),
        }
    }

    /// The streaming server's settings: TLS from the files, when given.
    #[cfg(feature = "tls")]
    fn config(&self) -> Result<Option<cri_streaming::server::Config>, String> {
        let (Some(cert), Some(key)) = (&self.cert, &self.key) else {
            return Ok(None);
        };
        let tls = cri_streaming::server::ServerTls::from_pem_files(cert, key, self.ca.as_deref())
            .map_err(|e| format!("streaming TLS: {e}"))?;
        let mut config = cri_streaming::server::Config::default();
        config.tls = Some(tls);
        Ok(Some(config))
    }

    #[cfg(not(feature = "tls"))]
    fn config(&self) -> Result<Option<cri_streaming::server::Config>, String> {
        match self.cert {
            None => Ok(None),
            Some(_) => {
                Err("--stream-tls-cert: this cri-fake was built without its `tls` feature".into())
            }
        }
    }
}

/// A command-line error: the message, shown with a hint to `--help`.
#[derive(Debug)]
struct UsageError(String);

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, UsageError> {
    value
        .parse()
        .map_err(|_| UsageError(format!("{flag} wants a number, not {value:?}")))
}

fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<Options>, UsageError> {
    let mut args = args.into_iter();
    let mut socket = None;
    let mut seed = 0;
    let mut containers_per_pod = 1;
    let mut pulls = Vec::new();
    let mut exit_on_stdin_close = false;
    let mut stream_tls = StreamTls::default();
    let mut state = None;
    let mut replay = None;
    let mut builder = FakeRuntime::builder();
    let (mut name, mut version) = (None, None);
    while let Some(arg) = args.next() {
        // `--flag=value` and `--flag value` alike.
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_string(), Some(value.to_string()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = |what: &str| -> Result<String, UsageError> {
            match inline.clone().or_else(|| args.next()) {
                Some(v) => Ok(v),
                None => Err(UsageError(format!("{flag} needs a value ({what})"))),
            }
        };
        match flag.as_str() {
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(None);
            }
            "-V" | "--version" => {
                println!("cri-fake {}", env!("CARGO_PKG_VERSION"));
                return Ok(None);
            }
            "--socket" => socket = Some(PathBuf::from(value("a path")?)),
            "--seed" => seed = number(&flag, &value("a number of pods")?)?,
            "--containers-per-pod" => {
                containers_per_pod = number(&flag, &value("a number of containers")?)?
            }
            "--without-stream-rpcs" => builder = builder.without_stream_rpcs(),
            "--page-size" => builder = builder.page_size(number(&flag, &value("a number")?)?),
            "--runtime-name" => name = Some(value("a name")?),
            "--runtime-version" => version = Some(value("a version")?),
            "--no-default-images" => builder = builder.default_images(false),
            "--image" => {
                let spec = value("REF[,REF...][=USER]")?;
                let (refs, user) = match spec.split_once('=') {
                    Some((refs, user)) => (refs, Some(user)),
                    None => (spec.as_str(), None),
                };
                let refs: Vec<&str> = refs.split(',').filter(|r| !r.is_empty()).collect();
                if refs.is_empty() {
                    return Err(UsageError(format!("--image {spec:?} names no image")));
                }
                let mut image = ImageConfig::new(refs);
                if let Some(user) = user {
                    image = image.user(user);
                }
                builder = builder.image(image);
            }
            "--pull" => pulls.push(value("an image")?),
            "--pull-delay" => {
                let ms: u64 = number(&flag, &value("milliseconds")?)?;
                builder = builder.pull_delay(Duration::from_millis(ms));
            }
            "--exit-on-stdin-close" => exit_on_stdin_close = true,
            "--stream-tls-cert" => stream_tls.cert = Some(value("a path")?.into()),
            "--stream-tls-key" => stream_tls.key = Some(value("a path")?.into()),
            "--stream-tls-ca" => stream_tls.ca = Some(value("a path")?.into()),
            "--state" => state = Some(PathBuf::from(value("a file")?)),
            "--replay" => replay = Some(PathBuf::from(value("a recording")?)),
            other => return Err(UsageError(format!("unknown argument {other:?}"))),
        }
    }
    if name.is_some() || version.is_some() {
        builder = builder.runtime_name(
            name.unwrap_or_else(|| cri_fake::RUNTIME_NAME.to_string()),
            version.unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string()),
        );
    }
    let Some(socket) = socket else {
        return Err(UsageError("--socket PATH is required".into()));
    };
    stream_tls.check()?;
    Ok(Some(Options {
        socket,
        seed,
        containers_per_pod,
        pulls,
        exit_on_stdin_close,
        stream_tls,
        state,
        replay,
        builder,
    }))
}

/// Removes a socket file nobody listens on (left by a killed run); refuses anything else.
fn clear_stale_socket(path: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::FileTypeExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    if !meta.file_type().is_socket() {
        return Err(format!("{} exists and is not a socket", path.display()));
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(format!("{} is in use by another server", path.display()));
    }
    std::fs::remove_file(path)
        .map_err(|e| format!("cannot remove the stale socket {}: {e}", path.display()))
}

/// `--replay FILE`: serves the recording until SIGINT, SIGTERM or the end of stdin.
async fn serve_replay(options: &Options, file: &std::path::Path) -> Result<(), String> {
    let replay = cri_fake::replay::Replay::load(file).map_err(|e| format!("--replay {e}"))?;
    clear_stale_socket(&options.socket)?;
    let server = cri_fake::replay::serve_unix(replay, &options.socket)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", options.socket.display()))?;
    println!("cri-fake: serving {}", server.endpoint());
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("cannot handle SIGTERM: {e}"))?;
    let stdin_closed = async {
        if options.exit_on_stdin_close {
            use tokio::io::AsyncReadExt;
            let mut stdin = tokio::io::stdin();
            let mut buf = [0u8; 256];
            while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
        _ = stdin_closed => {}
    }
    server
        .shutdown()
        .await
        .map_err(|e| format!("shutting down: {e}"))
}

async fn serve(options: Options) -> Result<(), String> {
    if let Some(file) = options.replay.clone() {
        return serve_replay(&options, &file).await;
    }
    let mut builder = options.builder;
    if let Some(config) = options.stream_tls.config()? {
        builder = builder.streaming_config(config);
    }
    let runtime = builder.build();
    let _lock = match &options.state {
        Some(path) => {
            let lock = cri_fake::StateLock::acquire(path, Duration::from_secs(5))
                .map_err(|e| e.to_string())?;
            runtime.load_state(path).map_err(|e| e.to_string())?;
            Some(lock)
        }
        None => None,
    };
    if options.seed > 0 {
        runtime.seed(options.seed, options.containers_per_pod);
    }
    for image in &options.pulls {
        runtime.add_image(image, 4 << 20, false);
    }
    clear_stale_socket(&options.socket)?;
    let server = runtime
        .serve_unix(&options.socket)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", options.socket.display()))?;
    println!("cri-fake: serving {}", server.endpoint());
    let stdin_closed = async {
        if options.exit_on_stdin_close {
            use tokio::io::AsyncReadExt;
            let mut stdin = tokio::io::stdin();
            let mut buf = [0u8; 256];
            while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
        } else {
            std::future::pending::<()>().await;
        }
    };
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("cannot handle SIGTERM: {e}"))?;
    let saver = {
        let runtime = runtime.clone();
        let path = options.state.clone();
        async move {
            let Some(path) = path else {
                return std::future::pending::<String>().await;
            };
            let mut saved = None;
            loop {
                let generation = runtime.generation();
                if saved != Some(generation) {
                    if let Err(e) = runtime.save_state(&path) {
                        return e.to_string();
                    }
                    saved = Some(generation);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
        _ = stdin_closed => {}
        error = saver => return Err(error),
    }
    if let Some(path) = &options.state {
        runtime.save_state(path).map_err(|e| e.to_string())?;
    }
    server
        .shutdown()
        .await
        .map_err(|e| format!("shutting down: {e}"))
}

/// Raises the soft limit of open files to the hard one, as Go programs (the kubelet, crictl,
/// containerd) do at start: every client connection is a file descriptor, and under the
/// common soft limit of 1,024 a thousand idle connections would lock new clients out. Done
/// here, in the binary: a library must not change its process's limits.
fn raise_open_file_limit() {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, getrlimit, setrlimit};
        let mut limit = getrlimit(Resource::Nofile);
        if limit.current != limit.maximum {
            limit.current = limit.maximum;
            if setrlimit(Resource::Nofile, limit).is_err() && limit.maximum.is_none() {
                // An unlimited hard limit that the kernel caps lower (Linux's default
                // `fs.nr_open`): take that much.
                limit.current = Some(1 << 20);
                let _ = setrlimit(Resource::Nofile, limit);
            }
        }
    }
}

fn main() -> ExitCode {
    raise_open_file_limit();
    let options = match parse(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => return ExitCode::SUCCESS,
        Err(UsageError(message)) => {
            eprintln!("cri-fake: {message}\n(see cri-fake --help)");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cri-fake: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("cri-fake: {message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Result<Option<Options>, UsageError> {
        parse(line.split_whitespace().map(String::from))
    }

    #[test]
    fn flags() {
        let o = args(
            "--socket /tmp/x.sock --seed 3 --containers-per-pod=2 --pull busybox --pull-delay 5",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (o.socket.to_str(), o.seed, o.containers_per_pod),
            (Some("/tmp/x.sock"), 3, 2)
        );
        assert_eq!(o.pulls, ["busybox"]);
        assert!(args("--help").unwrap().is_none());
        assert!(
            args("--socket s --image a,b=1000 --image c --without-stream-rpcs --no-default-images")
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn errors_name_the_flag() {
        for (line, want) in [
            ("", "--socket PATH is required"),
            ("--socket", "--socket needs a value (a path)"),
            (
                "--socket s --seed many",
                "--seed wants a number, not \"many\"",
            ),
            ("--socket s --bogus", "unknown argument \"--bogus\""),
            (
                "--socket s --image =1000",
                "--image \"=1000\" names no image",
            ),
            (
                "--socket s --stream-tls-cert c.pem",
                "--stream-tls-cert and --stream-tls-key go together (--stream-tls-ca needs them)",
            ),
            (
                "--socket s --stream-tls-ca ca.pem",
                "--stream-tls-cert and --stream-tls-key go together (--stream-tls-ca needs them)",
            ),
        ] {
            match args(line) {
                Err(UsageError(message)) => assert_eq!(message, want, "{line}"),
                Ok(_) => panic!("{line}: accepted"),
            }
        }
    }
}
