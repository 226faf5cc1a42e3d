//! The arguments of the commands and flags added to reach every command and flag of the Go
//! crictl v1.36 (`update`, `update-runtime-config`, `checkpoint`, `metricsp`, `metricdescs`,
//! `completion`, the selection flags of `inspect*` and `exec`, `images --filter`, `rm
//! --keep-logs`, the create/pull timeouts), kept apart from `cli.rs` so its history stays
//! readable.

use clap::{Args, ValueEnum};

use super::{AuthArgs, InspectArgs, Output, RemoveArgs};

/// `update`.
#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// Container IDs.
    pub ids: Vec<String>,
    /// (Windows only) Number of CPUs available to the container.
    #[arg(long, default_value_t = 0)]
    pub cpu_count: i64,
    /// (Windows only) Portion of CPU cycles specified as a percentage * 100.
    #[arg(long, default_value_t = 0)]
    pub cpu_maximum: i64,
    /// CPU CFS period to be used for hardcapping (in usecs). 0 to use system default.
    #[arg(long, default_value_t = 0)]
    pub cpu_period: i64,
    /// CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub cpu_quota: i64,
    /// CPU shares (relative weight vs. other containers).
    #[arg(long, default_value_t = 0)]
    pub cpu_share: i64,
    /// Memory limit (in bytes).
    #[arg(long, default_value_t = 0)]
    pub memory: i64,
    /// CPU(s) to use.
    #[arg(long, default_value = "")]
    pub cpuset_cpus: String,
    /// Memory node(s) to use.
    #[arg(long, default_value = "")]
    pub cpuset_mems: String,
    /// OOM Killer score to use.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub oom_score_adj: i64,
}

/// `update-runtime-config`.
#[derive(Args, Debug)]
pub struct UpdateRuntimeConfigArgs {
    /// The new Classless Inter-Domain Routing (CIDR) value to be used for pod IP addresses. If
    /// the CIDR is empty, runtimes should omit it.
    #[arg(short, long)]
    pub pod_cidr: Option<String>,
}

/// `checkpoint`.
#[derive(Args, Debug)]
pub struct CheckpointArgs {
    /// Container IDs.
    pub ids: Vec<String>,
    /// Specify the name of the tar archive (/path/to/checkpoint.tar) used to export the
    /// checkpoint image.
    #[arg(short, long)]
    pub export: Option<String>,
}

/// `metricsp`.
#[derive(Args, Debug)]
pub struct MetricspArgs {
    /// Output format, One of: json|yaml.
    #[arg(short, long, value_enum, default_value = "json")]
    pub output: Output,
    /// Watch pod metrics.
    #[arg(short, long)]
    pub watch: bool,
}

/// `metricdescs`.
#[derive(Args, Debug)]
pub struct MetricdescsArgs {
    /// Output format, One of: json|yaml.
    #[arg(short, long, value_enum, default_value = "json")]
    pub output: Output,
}

/// The shells `completion` writes for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    /// bash.
    Bash,
    /// zsh.
    Zsh,
    /// fish.
    Fish,
}

/// `completion`.
#[derive(Args, Debug)]
pub struct CompletionArgs {
    /// The shell (bash by default, as crictl).
    #[arg(value_enum, default_value = "bash")]
    pub shell: Shell,
}

/// `rm`.
#[derive(Args, Debug)]
pub struct RmArgs {
    #[command(flatten)]
    pub remove: RemoveArgs,
    /// Preserve the container log file and its rotations.
    #[arg(short, long)]
    pub keep_logs: bool,
}

/// Timeouts of `create`, `run` and `runp`.
#[derive(Args, Debug)]
pub struct CreateTimeouts {
    /// Seconds to wait for a container create request to complete before cancelling the
    /// request (e.g. 30s).
    #[arg(short = 'T', long)]
    pub cancel_timeout: Option<String>,
    /// Maximum time to be used for pulling the image, disabled if set to 0s.
    #[arg(long, visible_alias = "pt", env = "CRICTL_PULL_TIMEOUT")]
    pub pull_timeout: Option<String>,
}

/// `--pull-timeout` of `pull`.
#[derive(Args, Debug)]
pub struct PullTimeout {
    /// Maximum time to be used for pulling the image, disabled if set to 0s.
    #[arg(long, visible_alias = "pt", env = "CRICTL_PULL_TIMEOUT")]
    pub pull_timeout: Option<String>,
}

/// Which containers a command without IDs applies to (`inspect`, and with `exec` its own
/// flags): crictl's list options.
#[derive(Args, Debug, Default, Clone)]
pub struct ContainerSelect {
    /// Show all containers.
    #[arg(short, long)]
    pub all: bool,
    /// Filter by container image.
    #[arg(long, default_value = "")]
    pub image: String,
    /// Filter by key=value label.
    #[arg(long)]
    pub label: Vec<String>,
    /// Show last n recently created containers. Set 0 for unlimited.
    #[arg(short = 'n', long, default_value_t = 0)]
    pub last: usize,
    /// Show the most recently created container.
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Filter by container name regular expression pattern.
    #[arg(long, default_value = "")]
    pub name: String,
    /// Filter by pod namespace regular expression pattern.
    #[arg(long, default_value = "")]
    pub namespace: String,
    /// Filter by pod id.
    #[arg(short, long, default_value = "")]
    pub pod: String,
    /// Filter by container state.
    #[arg(short, long, default_value = "")]
    pub state: String,
}

/// `inspect`.
#[derive(Args, Debug)]
pub struct InspectContainersArgs {
    #[command(flatten)]
    pub inspect: InspectArgs,
    #[command(flatten)]
    pub select: ContainerSelect,
}

/// Which pods `inspectp` without IDs applies to.
#[derive(Args, Debug)]
pub struct InspectPodsArgs {
    #[command(flatten)]
    pub inspect: InspectArgs,
    /// Filter by key=value label.
    #[arg(long)]
    pub label: Vec<String>,
    /// Show last n recently created pods. Set 0 for unlimited.
    #[arg(short = 'n', long, default_value_t = 0)]
    pub last: usize,
    /// Show the most recently created pod.
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Filter by pod name regular expression pattern.
    #[arg(long, default_value = "")]
    pub name: String,
    /// Filter by pod namespace regular expression pattern.
    #[arg(long, default_value = "")]
    pub namespace: String,
    /// Filter by pod state.
    #[arg(short, long, default_value = "")]
    pub state: String,
}

/// Which images `inspecti` without IDs applies to.
#[derive(Args, Debug)]
pub struct InspectImagesArgs {
    #[command(flatten)]
    pub inspect: InspectArgs,
    /// Filter by image name.
    #[arg(long)]
    pub name: Option<String>,
    /// Filter output based on provided conditions: dangling=(true|false),
    /// reference=REGEX, before=NAME:TAG|ID|NAME@DIGEST, since=NAME:TAG|ID|NAME@DIGEST.
    /// Multiple filters can be combined.
    #[arg(short, long)]
    pub filter: Vec<String>,
}

/// The selection flags of `exec` (the container ID is then not given).
#[derive(Args, Debug, Default)]
pub struct ExecSelect {
    /// Exec command for all containers matching this name filter regular expression pattern.
    #[arg(long)]
    pub name: Option<String>,
    /// Exec command for all containers matching this pod ID filter.
    #[arg(short, long)]
    pub pod: Option<String>,
    /// Exec command for all containers matching this container image filter.
    #[arg(long)]
    pub image: Option<String>,
    /// Exec command for all containers matching this container state filter.
    #[arg(long)]
    pub state: Option<String>,
    /// Exec command for all containers matching this key=value label filter.
    #[arg(long)]
    pub label: Vec<String>,
    /// Exec command for the most recently created container.
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Exec command for all last n containers, set to 0 for unlimited.
    #[arg(short = 'n', long)]
    pub last: Option<usize>,
    /// Do not print the container ID if multiple containers are selected.
    #[arg(short, long)]
    pub quiet: bool,
    /// Ignore errors during command execution.
    #[arg(short = 'e', long)]
    pub ignore_errors: bool,
    /// Run the command in parallel if multiple containers are selected.
    #[arg(short = 'x', long)]
    pub parallel: bool,
}

impl ExecSelect {
    /// Whether any selection flag is given (then every argument is the command).
    pub fn any(&self) -> bool {
        self.name.is_some()
            || self.pod.is_some()
            || self.image.is_some()
            || self.state.is_some()
            || !self.label.is_empty()
            || self.latest
            || self.last.is_some()
    }

    /// As crictl's list options.
    pub fn to_select(&self) -> ContainerSelect {
        ContainerSelect {
            all: false,
            image: self.image.clone().unwrap_or_default(),
            label: self.label.clone(),
            last: self.last.unwrap_or(0),
            latest: self.latest,
            name: self.name.clone().unwrap_or_default(),
            namespace: String::new(),
            pod: self.pod.clone().unwrap_or_default(),
            state: self.state.clone().unwrap_or_default(),
        }
    }
}

/// Registry credentials of `pull` (which, unlike `create` and `run`, reads them from the
/// environment too and has `-u`).
#[derive(Args, Debug)]
pub struct PullAuth {
    /// Use `USERNAME[:PASSWORD]` for accessing the registry.
    #[arg(long, env = "CRICTL_CREDS", hide_env_values = true)]
    pub creds: Option<String>,
    /// Use `AUTH_STRING` (base64 of USERNAME:PASSWORD) for accessing the registry.
    #[arg(long, env = "CRICTL_AUTH", hide_env_values = true)]
    pub auth: Option<String>,
    /// Use `USERNAME` for accessing the registry. The password will be requested on the
    /// command line.
    #[arg(short, long)]
    pub username: Option<String>,
}

impl PullAuth {
    /// The same credentials as `create` and `run` take them.
    pub fn to_auth(&self) -> AuthArgs {
        AuthArgs {
            creds: self.creds.clone(),
            auth: self.auth.clone(),
            username: self.username.clone(),
        }
    }
}
