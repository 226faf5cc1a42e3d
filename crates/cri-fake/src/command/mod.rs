//! The fake's command set: what a container "runs".
//!
//! A real runtime executes binaries of the image; the fake runs commands through a
//! [`CommandHandler`] instead. The same handler serves `ExecSync`, the main process of a
//! started container (its output goes to the container's CRI log, its exit code makes the
//! container exit) and the streaming `Exec`/`Attach` of the fake. [`Builtins`] is the default:
//! a handful of POSIX tools and a small `sh -c` interpreter, over async I/O, without touching
//! the host. In a container of the runtime, the container's model answers first for what
//! needs it (`id`, `cat FILE`, `ps`, `kill`, `nc`, `wget`, …; see the crate's README).
//!
//! Put a handler of your own in front with [`FakeRuntimeBuilder::command_handler`]: it is
//! asked first for every command a container runs, including each command of an `sh` script,
//! and falls back to [`Builtins`] for what it does not handle. While your handler runs a
//! container's command, `Builtins` answers as that container (its model, then the
//! built-ins), so your commands and the model's compose:
//!
//! ```
//! use cri_fake::FakeRuntime;
//! use cri_fake::command::{Builtins, CommandHandler, CommandIo};
//!
//! let runtime = FakeRuntime::builder()
//!     .command_handler(|argv: Vec<String>, mut io: CommandIo| async move {
//!         if argv[0] == "greet" {
//!             use tokio::io::AsyncWriteExt;
//!             let _ = io.stdout.write_all(b"hello\n").await;
//!             return 0;
//!         }
//!         // Everything else: the container's model (`id`, `kill`, `sh`, …), then the
//!         // built-ins; `sh -c 'greet; id -u'` asks this handler for `greet` and `id`.
//!         Builtins.run(argv, io).await
//!     })
//!     .build();
//! # drop(runtime);
//! ```
//!
//! Timeouts are the caller's business: dropping the future of [`CommandHandler::run`] stops
//! the command (and every command of its pipelines).
//!
//! The runtime gives every command it runs (`ExecSync`, a container's process, streaming
//! exec and attach, each command of a script's pipeline) cooperative I/O: each read, and
//! each write of up to 1 KiB, spends a unit of the tokio task's budget, so a command whose
//! output is always accepted at once (captured, logged, discarded) still yields now and
//! then, and neither freezes the fake's other requests nor outlives its timeout. A handler
//! of your own gets the same I/O.
//!
//! # Example
//!
//! ```
//! use cri_fake::command::{Builtins, CommandHandler, CommandIo};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let (io, output) = CommandIo::capture(None);
//! let argv = ["sh", "-c", "echo one; printf 'two\\n' >&2 && exit 3"];
//! let code = Builtins.run(argv.iter().map(|s| s.to_string()).collect(), io).await;
//! let (stdout, stderr) = output.take();
//! assert_eq!((code, &stdout[..], &stderr[..]), (3, &b"one\n"[..], &b"two\n"[..]));
//! # }
//! ```
//!
//! [`FakeRuntimeBuilder::command_handler`]: crate::FakeRuntimeBuilder::command_handler

use std::future::Future;
use std::pin::Pin;

mod builtins;
mod io;
mod shell;

pub use builtins::Builtins;
pub(crate) use builtins::{run_in_container, run_plain, run_sh};
pub use io::{BoxRead, BoxWrite, CAPTURE_LIMIT, Captured, CommandIo};
pub(crate) use io::{dispatch, write_all};

/// A boxed, sendable future (what [`CommandHandler::run`] returns).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Runs commands for the fake runtime. Implement it to decide what commands do in your
/// tests; see the [module docs](self).
pub trait CommandHandler: Send + Sync + 'static {
    /// Runs `argv` (never empty) with `io` and resolves to its exit code. Dropping the future
    /// stops the command.
    fn run(&self, argv: Vec<String>, io: CommandIo) -> BoxFuture<'static, i32>;
}

impl<F, Fut> CommandHandler for F
where
    F: Fn(Vec<String>, CommandIo) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = i32> + Send + 'static,
{
    fn run(&self, argv: Vec<String>, io: CommandIo) -> BoxFuture<'static, i32> {
        Box::pin(self(argv, io))
    }
}

/// The status that `exit [N]` gives: `N` modulo 256 (0 without a number).
fn exit_code(arg: Option<&String>) -> i32 {
    arg.and_then(|n| n.parse::<i64>().ok())
        .map_or(0, |n| (n & 0xff) as i32)
}

#[cfg(test)]
mod tests;
