//! A spec: one check of the CRI contract, with a stable name, a group and its own timeout.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::Ctx;

/// What a spec's body returns: `Err` fails the spec with that error's chain as its message.
pub type SpecResult = anyhow::Result<()>;

/// The future a spec's body runs.
pub type SpecFuture = Pin<Box<dyn Future<Output = SpecResult> + Send + 'static>>;

type Body = Arc<dyn Fn(Ctx) -> SpecFuture + Send + Sync>;

/// How long a spec may run unless it says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// One check of the contract.
///
/// Its full name, `group::name`, is stable: `--focus`, `--skip`, the JUnit report and lists of
/// expected failures use it.
#[derive(Clone)]
pub struct Spec {
    group: &'static str,
    name: &'static str,
    timeout: Duration,
    critest: bool,
    body: Body,
}

impl fmt::Debug for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spec")
            .field("name", &self.full_name())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Spec {
    /// A spec of `group` named `name` whose body is `body`, with [`DEFAULT_TIMEOUT`].
    pub fn new<F, Fut>(group: &'static str, name: &'static str, body: F) -> Self
    where
        F: Fn(Ctx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = SpecResult> + Send + 'static,
    {
        Spec {
            group,
            name,
            timeout: DEFAULT_TIMEOUT,
            critest: false,
            body: Arc::new(move |ctx| Box::pin(body(ctx))),
        }
    }

    /// The same spec with another timeout: past it, the spec fails (its body is dropped).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Marks the spec as one that critest also has (in some form).
    pub fn also_in_critest(mut self) -> Self {
        self.critest = true;
        self
    }

    /// The group (`pod`, `image`, `list_stream`, …).
    pub fn group(&self) -> &'static str {
        self.group
    }

    /// The name within the group.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// `group::name`.
    pub fn full_name(&self) -> String {
        format!("{}::{}", self.group, self.name)
    }

    /// The spec's own timeout.
    pub fn spec_timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether critest checks the same thing.
    pub fn in_critest(&self) -> bool {
        self.critest
    }

    /// Runs the body (without the timeout: the runner applies it).
    pub fn run(&self, ctx: Ctx) -> SpecFuture {
        (self.body)(ctx)
    }
}
