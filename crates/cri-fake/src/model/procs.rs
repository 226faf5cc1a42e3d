//! A container's process table and the signals its processes get: every command the
//! container runs is a process (a pid, counted from 1 in each container, and its command
//! line) while it runs, and `kill` sends it a signal.
//!
//! No process of the fake installs a signal handler, so a signal does what its default
//! action does: `CHLD`, `CONT`, `URG` and `WINCH` are ignored, the stop signals are not
//! modelled (`kill` says so), and every other signal ends the process with status
//! 128 + the signal's number (137 for `KILL`, 143 for `TERM`). When that process is the
//! container's main process, the container exits with that code (reason `Error`), as a real
//! runtime reports a container whose process was killed. Unlike a kernel, the fake delivers
//! signals to the main process (pid 1) from inside the container too, where Linux drops
//! those its init process has no handler for.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::watch;

use super::Container;
use crate::command::{CommandIo, write_all};

/// The processes of one container.
#[derive(Debug, Default)]
pub(crate) struct Processes {
    next: AtomicU32,
    table: Mutex<BTreeMap<u32, Process>>,
}

#[derive(Debug)]
struct Process {
    argv: Vec<String>,
    /// The title the process gave itself (nginx's master does), which `/proc/PID/cmdline`
    /// reads instead of its arguments.
    title: Option<String>,
    /// The signal that ends it (0 until one is sent).
    signal: watch::Sender<i32>,
}

/// A process in the table while it lives: dropping it (the command ended or was stopped)
/// removes it.
pub(crate) struct ProcessGuard {
    pid: u32,
    container: Arc<Container>,
    signal: watch::Receiver<i32>,
}

impl Drop for ProcessGuard {
    fn drop(&mut self) {
        self.container.processes.remove(self.pid);
    }
}

impl ProcessGuard {
    /// Resolves to the number of the signal that ends this process, when one is sent.
    pub async fn killed(&mut self) -> i32 {
        loop {
            if self.signal.changed().await.is_err() {
                // The table entry is gone only once this guard drops.
                return std::future::pending().await;
            }
            let signal = *self.signal.borrow();
            if signal != 0 {
                return signal;
            }
        }
    }
}

tokio::task_local! {
    /// The pid of the command being run (set around each command's future).
    static PID: u32;
}

/// The pid of the command whose future is running, if any.
pub(crate) fn current_pid() -> Option<u32> {
    PID.try_with(|pid| *pid).ok()
}

impl ProcessGuard {
    /// This process's pid.
    pub fn pid(&self) -> u32 {
        self.pid
    }
}

/// Runs `future` as the process `pid` ([`current_pid`] inside it).
pub(crate) async fn as_process<F: std::future::Future>(pid: u32, future: F) -> F::Output {
    PID.scope(pid, future).await
}

impl Container {
    /// Enters `argv` in the process table until the guard drops.
    pub fn spawn(self: &Arc<Self>, argv: &[String]) -> ProcessGuard {
        let (signal, receiver) = watch::channel(0);
        let pid = self.processes.next.fetch_add(1, Ordering::Relaxed) + 1;
        self.processes.lock().insert(
            pid,
            Process {
                argv: argv.to_vec(),
                title: None,
                signal,
            },
        );
        ProcessGuard {
            pid,
            container: self.clone(),
            signal: receiver,
        }
    }
}

impl Processes {
    fn remove(&self, pid: u32) {
        self.lock().remove(&pid);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u32, Process>> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every process: pid and command line.
    pub fn list(&self) -> Vec<(u32, Vec<String>)> {
        self.lock()
            .iter()
            .map(|(p, process)| (*p, process.argv.clone()))
            .collect()
    }

    /// What `/proc/PID/cmdline` reads for `pid`: its arguments, each ended by a NUL, as
    /// Linux gives them; or the title it set, NUL-ended (`None`: no such process).
    pub fn cmdline(&self, pid: u32) -> Option<Vec<u8>> {
        let table = self.lock();
        let process = table.get(&pid)?;
        let mut bytes = Vec::new();
        match &process.title {
            Some(title) => {
                bytes.extend_from_slice(title.as_bytes());
                bytes.push(0);
            }
            None => {
                for arg in &process.argv {
                    bytes.extend_from_slice(arg.as_bytes());
                    bytes.push(0);
                }
            }
        }
        Some(bytes)
    }

    /// Whether `pid` is in the table.
    pub fn exists(&self, pid: u32) -> bool {
        self.lock().contains_key(&pid)
    }

    /// Sets the title of `pid` (what its `/proc/PID/cmdline` reads), as `setproctitle` does.
    pub fn set_title(&self, pid: u32, title: String) {
        if let Some(process) = self.lock().get_mut(&pid) {
            process.title = Some(title);
        }
    }

    /// Sends `signal` to `pid` (0 only checks that it exists); whether the process exists.
    fn signal(&self, pid: u32, signal: i32) -> bool {
        let table = self.lock();
        let Some(process) = table.get(&pid) else {
            return false;
        };
        if signal != 0 && !IGNORED.contains(&signal) {
            process.signal.send_replace(signal);
        }
        true
    }
}

/// The signals of Linux on x86-64 and arm64, by number.
const SIGNALS: &[&str] = &[
    "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
    "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
    "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
];

/// Signals whose default action is to do nothing.
const IGNORED: &[i32] = &[17, 18, 23, 28];

/// Signals whose default action stops the process (which the fake does not model).
const STOPS: &[i32] = &[19, 20, 21, 22];

/// A signal by number (`9`), name (`KILL`) or name with `SIG` (`SIGKILL`), any case.
fn parse_signal(text: &str) -> Option<i32> {
    if let Ok(n) = text.parse::<i32>() {
        return (0..=SIGNALS.len() as i32).contains(&n).then_some(n);
    }
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    SIGNALS
        .iter()
        .position(|s| *s == name)
        .map(|i| i as i32 + 1)
}

/// `kill [-s SIGNAL | -SIGNAL | -n NUMBER] PID…`, `kill -l [NUMBER]`: signals processes of
/// the container by pid (default `TERM`; `-0` only checks that they exist).
pub(crate) async fn kill(model: &Container, args: &[String], io: &mut CommandIo) -> i32 {
    let mut signal = 15;
    let mut pids = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let arg = arg.as_str();
        match arg {
            "--" => {
                pids.extend(it.by_ref().cloned());
                break;
            }
            "-l" | "-L" => return list(it.next().map(String::as_str), io).await,
            "-s" | "-n" => {
                let Some(value) = it.next() else {
                    return fail(io, format!("kill: option {arg} needs a signal")).await;
                };
                match parse_signal(value) {
                    Some(n) => signal = n,
                    None => return fail(io, format!("kill: bad signal '{value}'")).await,
                }
            }
            _ if pids.is_empty() && arg.len() > 1 && arg.starts_with('-') => {
                match parse_signal(&arg[1..]) {
                    Some(n) => signal = n,
                    None => return fail(io, format!("kill: bad signal '{}'", &arg[1..])).await,
                }
            }
            _ => pids.push(arg.to_string()),
        }
    }
    if pids.is_empty() {
        return fail(io, "kill: usage: kill [-s SIGNAL | -SIGNAL] PID...".into()).await;
    }
    if STOPS.contains(&signal) {
        let name = SIGNALS[signal as usize - 1];
        return fail(
            io,
            format!("kill: SIG{name}: stopped processes are not modelled by the fake"),
        )
        .await;
    }
    let mut status = 0;
    for pid in pids {
        let message = match pid.parse::<i64>() {
            Ok(n) if n <= 0 => format!("kill: {pid}: process groups are not modelled by the fake"),
            Ok(n) => match u32::try_from(n) {
                Ok(n) if model.processes.signal(n, signal) => continue,
                _ => format!("kill: can't kill pid {pid}: No such process"),
            },
            Err(_) => format!("kill: invalid number '{pid}'"),
        };
        write_all(&mut io.stderr, format!("{message}\n").as_bytes()).await;
        status = 1;
    }
    status
}

/// `kill -l`: the signal names; `kill -l N`: the name of signal N (or of the signal that
/// ended a process with status N > 128).
async fn list(number: Option<&str>, io: &mut CommandIo) -> i32 {
    let text = match number {
        None => {
            let mut text = String::new();
            for (i, name) in SIGNALS.iter().enumerate() {
                text.push_str(&format!("{:>2}) SIG{name}\n", i + 1));
            }
            text
        }
        Some(n) => {
            let name = n
                .parse::<usize>()
                .ok()
                .map(|n| if n > 128 { n - 128 } else { n })
                .and_then(|n| n.checked_sub(1))
                .and_then(|i| SIGNALS.get(i));
            match name {
                Some(name) => format!("{name}\n"),
                None => return fail(io, format!("kill: bad signal '{n}'")).await,
            }
        }
    };
    i32::from(!write_all(&mut io.stdout, text.as_bytes()).await)
}

async fn fail(io: &mut CommandIo, message: String) -> i32 {
    write_all(&mut io.stderr, format!("{message}\n").as_bytes()).await;
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_number_and_name() {
        assert_eq!(parse_signal("9"), Some(9));
        assert_eq!(parse_signal("KILL"), Some(9));
        assert_eq!(parse_signal("sigterm"), Some(15));
        assert_eq!(parse_signal("0"), Some(0));
        assert_eq!(parse_signal("32"), None);
        assert_eq!(parse_signal("NOPE"), None);
    }
}
