//! crictl's command line: the same commands, flags and short options as the Go crictl v1.36.

use clap::{Args, Parser, Subcommand, ValueEnum};

mod parity;
pub use parity::*;

/// Global options (given before the command, as with the Go crictl).
#[derive(Parser, Debug)]
#[command(
    name = "crictl",
    version,
    about = "A command-line client for Kubernetes CRI runtimes (crictl in Rust, built on cri-client)",
    disable_version_flag = true
)]
pub struct Cli {
    /// Location of the client config file. If not specified and the default does not exist,
    /// the program's directory is searched as well.
    #[arg(
        short = 'c',
        long,
        env = "CRI_CONFIG_FILE",
        default_value = "/etc/crictl.yaml"
    )]
    pub config: String,
    /// Enable debug mode.
    #[arg(short = 'D', long)]
    pub debug: bool,
    /// Endpoint of CRI container runtime image service (default: uses 'runtime-endpoint'
    /// setting).
    #[arg(short = 'i', long, env = "IMAGE_SERVICE_ENDPOINT")]
    pub image_endpoint: Option<String>,
    /// Endpoint of CRI container runtime service (default: uses in order the first successful
    /// one of [unix:///run/containerd/containerd.sock unix:///run/crio/crio.sock
    /// unix:///var/run/cri-dockerd.sock]; with none of them present, a built-in fake runtime).
    #[arg(short = 'r', long, env = "CONTAINER_RUNTIME_ENDPOINT")]
    pub runtime_endpoint: Option<String>,
    /// Timeout of connecting to the server and of each call (e.g. 2s, 20s, 1m). Default: 2s
    /// to connect and 2m per call.
    #[arg(short = 't', long)]
    pub timeout: Option<String>,
    /// Print the version.
    #[arg(short = 'v', long = "version")]
    pub print_version: bool,
    /// Export a trace of the command's CRI calls over OpenTelemetry (OTLP/gRPC), and send
    /// its context to the runtime.
    #[arg(long)]
    pub enable_tracing: bool,
    /// How many traces in a million to keep; 1000000 or a negative number keeps every one.
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub tracing_sampling_rate_per_million: i64,
    /// Where the OpenTelemetry collector listens for spans (host:port, OTLP over gRPC).
    #[arg(long, default_value = "127.0.0.1:4317")]
    pub tracing_endpoint: String,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// JSON.
    Json,
    /// YAML.
    Yaml,
    /// A table.
    Table,
    /// A Go template (`--template`).
    #[value(name = "go-template")]
    GoTemplate,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Display runtime version information.
    Version,
    /// Display information of the container runtime.
    Info(InfoArgs),
    /// List pods.
    Pods(PodsArgs),
    /// List containers.
    Ps(PsArgs),
    /// List images.
    #[command(visible_aliases = ["image", "img"])]
    Images(ImagesArgs),
    /// Display the status of one or more containers.
    Inspect(InspectContainersArgs),
    /// Display the status of one or more pods.
    Inspectp(InspectPodsArgs),
    /// Return the status of one or more images.
    Inspecti(InspectImagesArgs),
    /// Return image filesystem info.
    Imagefsinfo(OutputArgs),
    /// List container(s) resource usage statistics.
    Stats(StatsArgs),
    /// List pod statistics. Stats represent a structured API that will fulfill the Kubelet's
    /// /stats/summary endpoint.
    Statsp(StatspArgs),
    /// Retrieve the container runtime configuration.
    #[command(name = "runtime-config")]
    RuntimeConfig,
    /// Pull an image from a registry.
    Pull(PullArgs),
    /// Remove one or more images.
    #[command(name = "rmi")]
    Rmi(RmiArgs),
    /// Run a new pod.
    Runp(RunpArgs),
    /// Create a new container.
    Create(CreateArgs),
    /// Start one or more created containers.
    Start(IdsArgs),
    /// Run a new container inside a sandbox.
    Run(RunArgs),
    /// Stop one or more running containers.
    Stop(StopArgs),
    /// Remove one or more containers.
    Rm(RmArgs),
    /// Stop one or more running pods.
    Stopp(IdsArgs),
    /// Remove one or more pods.
    Rmp(RemoveArgs),
    /// Run a command in a running container.
    Exec(ExecArgs),
    /// Get and set crictl client configuration options.
    Config(ConfigArgs),
    /// Attach to a running container.
    Attach(AttachArgs),
    /// Forward local ports to a pod.
    #[command(name = "port-forward")]
    PortForward(PortForwardArgs),
    /// Fetch the logs of a container.
    Logs(LogsArgs),
    /// Stream the events of containers.
    #[command(visible_alias = "event")]
    Events(EventsArgs),
    /// Update one or more running containers.
    Update(UpdateArgs),
    /// Update the runtime configuration.
    #[command(name = "update-runtime-config")]
    UpdateRuntimeConfig(UpdateRuntimeConfigArgs),
    /// Checkpoint one or more running containers.
    Checkpoint(CheckpointArgs),
    /// List pod metrics (unstructured key/value pairs gathered by CRI).
    Metricsp(MetricspArgs),
    /// List metric descriptors: the metrics available through the CRI.
    Metricdescs(MetricdescsArgs),
    /// Output shell completion code.
    Completion(CompletionArgs),
}

/// `-o` for commands that print documents.
#[derive(Args, Debug)]
pub struct OutputArgs {
    /// Output format, One of: json|yaml|go-template|table.
    #[arg(short, long, value_enum)]
    pub output: Option<Output>,
    /// The template string is only used when output is go-template; The Template format is
    /// golang template.
    #[arg(long)]
    pub template: Option<String>,
}

/// `info`.
#[derive(Args, Debug)]
pub struct InfoArgs {
    /// Output format, One of: json|yaml|go-template.
    #[arg(short, long, value_enum, default_value = "json")]
    pub output: Output,
    /// Do not show verbose information.
    #[arg(short, long)]
    pub quiet: bool,
    /// The template string is only used when output is go-template.
    #[arg(long)]
    pub template: Option<String>,
}

/// `pods`.
#[derive(Args, Debug)]
pub struct PodsArgs {
    /// Filter by pod id.
    #[arg(long, default_value = "")]
    pub id: String,
    /// Filter by pod name regular expression pattern.
    #[arg(long, default_value = "")]
    pub name: String,
    /// Filter by pod namespace regular expression pattern.
    #[arg(long, default_value = "")]
    pub namespace: String,
    /// Filter by pod state.
    #[arg(short, long, default_value = "")]
    pub state: String,
    /// Filter by key=value label.
    #[arg(long)]
    pub label: Vec<String>,
    /// Show verbose info for pods.
    #[arg(short, long)]
    pub verbose: bool,
    /// List only pod IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Output format, One of: json|yaml|table.
    #[arg(short, long, value_enum, default_value = "table")]
    pub output: Output,
    /// Show the most recently created pod.
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Show last n recently created pods. Set 0 for unlimited.
    #[arg(short = 'n', long, default_value_t = 0)]
    pub last: usize,
    /// Show output without truncating the ID.
    #[arg(long)]
    pub no_trunc: bool,
}

/// `ps`.
#[derive(Args, Debug)]
pub struct PsArgs {
    /// Show verbose information for containers.
    #[arg(short, long)]
    pub verbose: bool,
    /// Filter by container id.
    #[arg(long, default_value = "")]
    pub id: String,
    /// Filter by container name regular expression pattern.
    #[arg(long, default_value = "")]
    pub name: String,
    /// Filter by pod id.
    #[arg(short, long, default_value = "")]
    pub pod: String,
    /// Filter by container image.
    #[arg(long, default_value = "")]
    pub image: String,
    /// Filter by container state.
    #[arg(short, long, default_value = "")]
    pub state: String,
    /// Filter by key=value label.
    #[arg(long)]
    pub label: Vec<String>,
    /// Only display container IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Output format, One of: json|yaml|table.
    #[arg(short, long, value_enum, default_value = "table")]
    pub output: Output,
    /// Show all containers.
    #[arg(short, long)]
    pub all: bool,
    /// Show the most recently created container (includes all states).
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Show last n recently created containers (includes all states). Set 0 for unlimited.
    #[arg(short = 'n', long, default_value_t = 0)]
    pub last: usize,
    /// Show output without truncating the ID.
    #[arg(long)]
    pub no_trunc: bool,
    /// Filter by pod namespace regular expression pattern.
    #[arg(long, default_value = "")]
    pub namespace: String,
    /// Show image path instead of image id.
    #[arg(short, long)]
    pub resolve_image_path: bool,
}

/// `images`.
#[derive(Args, Debug)]
pub struct ImagesArgs {
    /// Only show images matching this reference.
    pub image: Option<String>,
    /// Only show image IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Show verbose info for images.
    #[arg(short, long)]
    pub verbose: bool,
    /// Output format, One of: json|yaml|table.
    #[arg(short, long, value_enum, default_value = "table")]
    pub output: Output,
    /// Show digests.
    #[arg(long)]
    pub digests: bool,
    /// Show output without truncating the ID.
    #[arg(long)]
    pub no_trunc: bool,
    /// Show whether the image is pinned or not.
    #[arg(long)]
    pub pinned: bool,
    /// Filter by dangling=BOOL, reference=REGEX, before=IMAGE or since=IMAGE (repeatable).
    #[arg(short, long)]
    pub filter: Vec<String>,
}

/// `inspect`, `inspectp`, `inspecti`.
#[derive(Args, Debug)]
pub struct InspectArgs {
    /// The IDs (or image references for `inspecti`).
    pub ids: Vec<String>,
    /// Output format, One of: json|yaml|go-template|table.
    #[arg(short, long, value_enum)]
    pub output: Option<Output>,
    /// Do not show verbose information.
    #[arg(short, long)]
    pub quiet: bool,
    /// The template string is only used when output is go-template.
    #[arg(long)]
    pub template: Option<String>,
}

/// `stats`.
#[derive(Args, Debug)]
pub struct StatsArgs {
    /// A container ID.
    pub container: Option<String>,
    /// Show all containers (default shows just running).
    #[arg(short, long)]
    pub all: bool,
    /// Filter by container id.
    #[arg(long, default_value = "")]
    pub id: String,
    /// Filter by pod id.
    #[arg(short, long, default_value = "")]
    pub pod: String,
    /// Filter by key=value label.
    #[arg(long)]
    pub label: Vec<String>,
    /// Output format, One of: json|yaml|table.
    #[arg(short, long, value_enum, default_value = "table")]
    pub output: Output,
    /// Sample duration for CPU usage in seconds.
    #[arg(short, long, default_value_t = 1)]
    pub seconds: u64,
    /// Watch pod resources.
    #[arg(short, long)]
    pub watch: bool,
}

/// `statsp`.
#[derive(Args, Debug)]
pub struct StatspArgs {
    /// A pod ID.
    pub pod: Option<String>,
    /// Filter by pod id.
    #[arg(long, default_value = "")]
    pub id: String,
    /// Filter by key=value label.
    #[arg(long)]
    pub label: Vec<String>,
    /// Output format, One of: json|yaml|table.
    #[arg(short, long, value_enum, default_value = "table")]
    pub output: Output,
    /// Sample duration for CPU usage in seconds.
    #[arg(short, long, default_value_t = 1)]
    pub seconds: u64,
    /// Watch pod resources.
    #[arg(short, long)]
    pub watch: bool,
}

/// Registry credentials of `pull`, `create` and `run`.
#[derive(Args, Debug)]
pub struct AuthArgs {
    /// Use `USERNAME[:PASSWORD]` for accessing the registry.
    #[arg(long)]
    pub creds: Option<String>,
    /// Use `AUTH_STRING` (base64 of USERNAME:PASSWORD) for accessing the registry.
    #[arg(long)]
    pub auth: Option<String>,
    /// Use `USERNAME` for accessing the registry. The password will be requested on the
    /// command line.
    #[arg(long)]
    pub username: Option<String>,
}

/// `pull`.
#[derive(Args, Debug)]
pub struct PullArgs {
    /// The image to pull.
    pub image: String,
    #[command(flatten)]
    pub auth: PullAuth,
    /// Use `pod-config.[json|yaml]` to override the pull context.
    #[arg(long)]
    pub pod_config: Option<String>,
    /// Annotation to be set on the pulled image (key=value).
    #[arg(short, long)]
    pub annotation: Vec<String>,
    #[command(flatten)]
    pub timeout: PullTimeout,
}

/// `rmi`.
#[derive(Args, Debug)]
pub struct RmiArgs {
    /// Image IDs or references.
    pub ids: Vec<String>,
    /// Remove all images.
    #[arg(short, long)]
    pub all: bool,
    /// Remove all unused images.
    #[arg(short = 'q', long)]
    pub prune: bool,
}

/// `runp`.
#[derive(Args, Debug)]
pub struct RunpArgs {
    /// `pod-config.[json|yaml]`.
    pub config: String,
    /// Runtime handler to use. Available options are defined by the container runtime.
    #[arg(short, long)]
    pub runtime: Option<String>,
    /// Seconds to wait for a pod sandbox request to complete before cancelling it (e.g. 30s).
    #[arg(short = 'T', long)]
    pub cancel_timeout: Option<String>,
}

/// `create`.
#[derive(Args, Debug)]
pub struct CreateArgs {
    /// The pod to create the container in.
    pub pod_id: String,
    /// `container-config.[json|yaml]`.
    pub container_config: String,
    /// `pod-config.[json|yaml]`.
    pub pod_config: String,
    #[command(flatten)]
    pub auth: AuthArgs,
    /// Do not pull the image on container creation (overrides pull-image-on-create=true in
    /// config).
    #[arg(long)]
    pub no_pull: bool,
    /// Pull the image on container creation (overrides pull-image-on-create=false in config).
    #[arg(long)]
    pub with_pull: bool,
    #[command(flatten)]
    pub timeouts: CreateTimeouts,
}

/// `run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// `container-config.[json|yaml]`.
    pub container_config: String,
    /// `pod-config.[json|yaml]`.
    pub pod_config: String,
    /// Runtime handler to use. Available options are defined by the container runtime.
    #[arg(short, long)]
    pub runtime: Option<String>,
    #[command(flatten)]
    pub auth: AuthArgs,
    /// Do not pull the image (overrides disable-pull-on-run=false in config).
    #[arg(long)]
    pub no_pull: bool,
    /// Pull the image (overrides disable-pull-on-run=true in config).
    #[arg(long)]
    pub with_pull: bool,
    #[command(flatten)]
    pub timeouts: CreateTimeouts,
}

/// Commands taking IDs.
#[derive(Args, Debug)]
pub struct IdsArgs {
    /// The IDs.
    pub ids: Vec<String>,
}

/// `stop`.
#[derive(Args, Debug)]
pub struct StopArgs {
    /// Container IDs.
    pub ids: Vec<String>,
    /// Seconds to wait to kill the container after a graceful stop is requested.
    #[arg(short, long, default_value_t = 0)]
    pub timeout: i64,
    /// Stop all running containers.
    #[arg(short, long)]
    pub all: bool,
}

/// `rm` and `rmp`.
#[derive(Args, Debug)]
pub struct RemoveArgs {
    /// The IDs.
    pub ids: Vec<String>,
    /// Force removal (stop first if running).
    #[arg(short, long)]
    pub force: bool,
    /// Remove all.
    #[arg(short, long)]
    pub all: bool,
}

/// `events`.
#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Output format, One of: json|yaml|go-template.
    #[arg(short, long, value_enum, default_value = "json")]
    pub output: Output,
    /// The template string is only used when output is go-template; The Template format is
    /// golang template.
    #[arg(long)]
    pub template: Option<String>,
}

/// `logs`.
#[derive(Args, Debug)]
pub struct LogsArgs {
    /// The container ID.
    pub container: String,
    /// Follow log output.
    #[arg(short, long)]
    pub follow: bool,
    /// Print the logs for the previous instance of the container in a pod if it exists.
    #[arg(short, long)]
    pub previous: bool,
    /// Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42
    /// minutes).
    #[arg(long)]
    pub since: Option<String>,
    /// Number of lines to show from the end of the logs. Defaults to all.
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub tail: i64,
    /// Show timestamps.
    #[arg(short, long)]
    pub timestamps: bool,
    /// Maximum bytes of logs to return. Defaults to no limit.
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub limit_bytes: i64,
    /// Only print logs from stdout or stderr.
    #[arg(short, long)]
    pub stream: Option<String>,
    /// Reopen the container logs for the provided container.
    #[arg(short, long)]
    pub reopen: bool,
}

/// `exec`.
#[derive(Args, Debug)]
#[command(trailing_var_arg = true)]
pub struct ExecArgs {
    /// Run the command synchronously (ExecSync), printing its output when it ends.
    #[arg(short, long)]
    pub sync: bool,
    /// Keep STDIN open.
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short, long)]
    pub tty: bool,
    /// Timeout in seconds (with --sync).
    #[arg(long, default_value_t = 0)]
    pub timeout: i64,
    /// Transport protocol to use, one of: spdy|websocket (default: spdy, as crictl; `auto`
    /// tries WebSocket first, then SPDY if the runtime refuses the upgrade).
    #[arg(short = 'r', long)]
    pub transport: Option<String>,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// The container ID, then the command and its arguments (only the command with a
    /// selection flag).
    #[arg(required = true, num_args = 1.., allow_hyphen_values = true)]
    pub args: Vec<String>,
    #[command(flatten)]
    pub select: ExecSelect,
}

/// `config`.
#[derive(Args, Debug)]
pub struct ConfigArgs {
    /// Show the option value.
    #[arg(long)]
    pub get: Option<String>,
    /// Set option (can specify multiple or separate values with commas: opt1=val1,opt2=val2).
    #[arg(long)]
    pub set: Vec<String>,
    /// Show all option value.
    #[arg(long)]
    pub list: bool,
    /// `KEY VALUE` to set one option.
    pub args: Vec<String>,
}

/// `attach`.
#[derive(Args, Debug)]
pub struct AttachArgs {
    /// The container ID.
    pub container: String,
    /// Keep STDIN open.
    #[arg(short = 'i', long)]
    pub stdin: bool,
    /// Stdin is a TTY.
    #[arg(short, long)]
    pub tty: bool,
    /// Transport protocol to use, one of: spdy|websocket (default: spdy, as crictl; `auto`
    /// tries WebSocket first, then SPDY if the runtime refuses the upgrade).
    #[arg(short = 'r', long)]
    pub transport: Option<String>,
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// `port-forward`.
#[derive(Args, Debug)]
pub struct PortForwardArgs {
    /// The pod ID.
    pub pod: String,
    /// `[LOCAL_PORT:]REMOTE_PORT` pairs.
    #[arg(required = true)]
    pub ports: Vec<String>,
    /// Transport protocol to use, one of: spdy|websocket (default: spdy, as crictl; `auto`
    /// tries WebSocket first, then SPDY if the runtime refuses the upgrade).
    #[arg(short = 'r', long)]
    pub transport: Option<String>,
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// The streaming TLS flags of `exec`, `attach` and `port-forward`, as the Go crictl v1.36
/// has them. With none of `--tls-ca`, `--tls-cert`, `--tls-key`, an `https` streaming URL
/// is used without verifying the server's certificate (as the Go crictl does); with any of
/// them, `--tls-cert` and `--tls-key` are both required.
#[derive(Args, Debug)]
pub struct TlsArgs {
    /// The name the streaming server's TLS certificate is verified against (and sent as
    /// SNI), whatever the URL's host; `localhost` by default, as in the Go crictl.
    #[arg(
        long = "tls-sni",
        visible_alias = "tls-server-name",
        value_name = "NAME",
        default_value = "localhost"
    )]
    pub sni: String,
    /// PEM file of the CA certificates the streaming server's certificate must be signed by
    /// (default: the system's CAs).
    #[arg(long = "tls-ca", value_name = "PATH")]
    pub ca: Option<String>,
    /// PEM file of the client certificate presented to the streaming server.
    #[arg(long = "tls-cert", value_name = "PATH")]
    pub cert: Option<String>,
    /// PEM file of the private key of --tls-cert.
    #[arg(long = "tls-key", value_name = "PATH")]
    pub key: Option<String>,
}
