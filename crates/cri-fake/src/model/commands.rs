//! The commands of one container, over its [model](super): what needs the model is answered
//! here, `sh` is interpreted with every command of its script sent back through this handler,
//! and the rest goes to the built-ins.
//!
//! A handler of the user's ([`FakeRuntimeBuilder::command_handler`]) is asked first, for
//! every command: the main process, each exec, each command of an `sh` script. What it
//! passes on to [`Builtins`](crate::command::Builtins) is answered here (the model, then
//! the plain built-ins): the user's handler composes with the model instead of replacing it.
//!
//! [`FakeRuntimeBuilder::command_handler`]: crate::FakeRuntimeBuilder::command_handler

use std::sync::Arc;

use super::{Container, fs, nc, procs, user_name, web};
use crate::command::{
    BoxFuture, CommandHandler, CommandIo, run_in_container, run_plain, run_sh, write_all,
};

/// The commands of one container.
pub(crate) struct ContainerCommands {
    pub model: Arc<Container>,
    /// The user's handler, asked first for every command (`None`: the built-ins only).
    pub user: Option<Arc<dyn CommandHandler>>,
}

impl CommandHandler for Arc<ContainerCommands> {
    fn run(&self, argv: Vec<String>, io: CommandIo) -> BoxFuture<'static, i32> {
        let this = self.clone();
        // The pid is taken now, not when the future first runs: a container's main process
        // is pid 1 even before its task is polled.
        let mut process = this.model.spawn(&argv);
        let run = match &this.user {
            Some(user) => {
                let model: Arc<dyn CommandHandler> = Arc::new(ModelOnly(this.clone()));
                run_in_container(&**user, model, argv, io)
            }
            None => Box::pin(this.clone().dispatch(argv, io)),
        };
        let pid = process.pid();
        Box::pin(async move {
            // A signal ends the command (dropping it stops what it runs) with 128 + its
            // number, as a shell reports a process a signal killed.
            tokio::select! {
                code = procs::as_process(pid, run) => code,
                signal = process.killed() => 128 + signal,
            }
        })
    }
}

/// The container's own commands without the user's handler (what `Builtins` answers with
/// while the user's handler runs a command): the same process, no new pid.
struct ModelOnly(Arc<ContainerCommands>);

impl CommandHandler for ModelOnly {
    fn run(&self, argv: Vec<String>, io: CommandIo) -> BoxFuture<'static, i32> {
        Box::pin(self.0.clone().dispatch(argv, io))
    }
}

impl ContainerCommands {
    async fn dispatch(self: Arc<Self>, argv: Vec<String>, mut io: CommandIo) -> i32 {
        let name = argv[0].rsplit('/').next().unwrap_or(&argv[0]).to_string();
        let args = &argv[1..];
        if matches!(name.as_str(), "sh" | "bash" | "ash" | "dash") {
            let handler: Arc<dyn CommandHandler> = Arc::new(self.clone());
            return run_sh(handler, args, io).await;
        }
        // A masked program cannot be run: the shell says so, and exits 126.
        let program = if argv[0].contains('/') {
            argv[0].clone()
        } else {
            format!("/bin/{name}")
        };
        if self.model.fs.masked(&program) || self.model.fs.masked(&format!("/usr{program}")) {
            let msg = format!("/bin/sh: {}: Permission denied\n", argv[0]);
            write_all(&mut io.stderr, msg.as_bytes()).await;
            return 126;
        }
        let model = &self.model;
        match name.as_str() {
            "id" => id(model, args, &mut io).await,
            "hostname" if args.is_empty() => {
                let line = format!("{}\n", model.hostname);
                i32::from(!write_all(&mut io.stdout, line.as_bytes()).await)
            }
            // Setting the hostname (not remembered: the fake's UTS name is the pod's).
            "hostname" => {
                permitted(
                    model,
                    &mut io,
                    "hostname: sethostname",
                    "SYS_ADMIN",
                    "sethostname",
                )
                .await
            }
            "brctl" | "ip" if args.len() > 1 => {
                permitted(
                    model,
                    &mut io,
                    &format!("{name}: ioctl"),
                    "NET_ADMIN",
                    "ioctl",
                )
                .await
            }
            "chmod" => {
                let target = args.last().cloned().unwrap_or_default();
                if !model.security.allows("chmod") || !model.security.allows("fchmodat") {
                    say(
                        &mut io.stderr,
                        format!("chmod: {target}: Operation not permitted\n"),
                    )
                    .await;
                    1
                } else if model.fs.exists(&target) {
                    0
                } else {
                    say(
                        &mut io.stderr,
                        format!("chmod: {target}: No such file or directory\n"),
                    )
                    .await;
                    1
                }
            }
            "ping" => ping(model, args, &mut io).await,
            "cat" if args.iter().any(|a| a != "-") => cat(model, args, &mut io).await,
            "ls" => ls(model, args, &mut io).await,
            "test" | "[" => test(model, &name, args, &mut io).await,
            "touch" => touch(model, args, &mut io).await,
            "pgrep" => pgrep(model, args, &mut io).await,
            "ps" => ps(model, &mut io).await,
            "netstat" => netstat(model, &mut io).await,
            "wget" => web::wget(model, args, &mut io).await,
            "nc" => nc::nc(model, args, &mut io).await,
            "kill" => procs::kill(model, args, &mut io).await,
            "grep" => grep(model, args, &mut io).await,
            "dd" => dd(model, args, &mut io).await,
            "nnp" => {
                // Set-user-ID root: the effective uid is 0 unless no_new_privs forbids it.
                let euid = if model.identity.no_new_privs {
                    model.identity.uid
                } else {
                    0
                };
                i32::from(!say(&mut io.stdout, format!("Effective uid: {euid}\n")).await)
            }
            "nginx" | "httpd" | "httpd-foreground" => {
                let server = if name == "nginx" { "nginx" } else { "httpd" };
                web::serve(model.clone(), server, &argv, io).await
            }
            _ => run_plain(argv, io).await,
        }
    }
}

async fn say(w: &mut crate::command::BoxWrite, text: String) -> bool {
    write_all(w, text.as_bytes()).await
}

async fn id(model: &Container, args: &[String], io: &mut CommandIo) -> i32 {
    let who = &model.identity;
    let flags: String = args.iter().filter_map(|a| a.strip_prefix('-')).collect();
    let named = flags.contains('n');
    let name_of = |id: i64, group: bool| {
        if named {
            user_name(id)
                .map(str::to_string)
                .unwrap_or_else(|| id.to_string())
        } else {
            let _ = group;
            id.to_string()
        }
    };
    let line = if flags.contains('u') {
        name_of(who.uid, false)
    } else if flags.contains('G') {
        who.groups
            .iter()
            .map(|g| name_of(*g, true))
            .collect::<Vec<_>>()
            .join(" ")
    } else if flags.contains('g') {
        name_of(who.gid, true)
    } else {
        let label = |id: i64| match user_name(id) {
            Some(n) => format!("{id}({n})"),
            None => id.to_string(),
        };
        let groups: Vec<String> = who.groups.iter().map(|g| label(*g)).collect();
        format!(
            "uid={} gid={} groups={}",
            label(who.uid),
            label(who.gid),
            groups.join(",")
        )
    };
    i32::from(!say(&mut io.stdout, format!("{line}\n")).await)
}

async fn cat(model: &Container, args: &[String], io: &mut CommandIo) -> i32 {
    let mut status = 0;
    for file in args.iter().filter(|a| !a.starts_with('-') || a.len() == 1) {
        match model.fs.read(file) {
            Ok(bytes) => {
                write_all(&mut io.stdout, &bytes).await;
            }
            Err(e) => {
                say(&mut io.stderr, format!("cat: {file}: {}\n", e.message())).await;
                status = 1;
            }
        }
    }
    status
}

async fn ls(model: &Container, args: &[String], io: &mut CommandIo) -> i32 {
    let all = args
        .iter()
        .any(|a| a.starts_with('-') && (a.contains('a') || a.contains('A')));
    let mut paths: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let dot = ".".to_string();
    if paths.is_empty() {
        paths.push(&dot);
    }
    let mut status = 0;
    for path in paths {
        match model.fs.list(path) {
            Ok(names) => {
                let names: Vec<String> = names
                    .into_iter()
                    .filter(|n| all || !n.starts_with('.'))
                    .collect();
                if !names.is_empty() {
                    say(&mut io.stdout, format!("{}\n", names.join("\n"))).await;
                }
            }
            Err(e) => {
                say(
                    &mut io.stderr,
                    format!("ls: {path}: {}\n", fs::FsError::message(e)),
                )
                .await;
                status = 1;
            }
        }
    }
    status
}

async fn test(model: &Container, name: &str, args: &[String], io: &mut CommandIo) -> i32 {
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    if name == "[" {
        if args.last() != Some(&"]") {
            say(&mut io.stderr, "[: missing ]\n".into()).await;
            return 2;
        }
        args.pop();
    }
    let (negate, args) = match args.split_first() {
        Some((&"!", rest)) => (true, rest.to_vec()),
        _ => (false, args),
    };
    let result = match args.as_slice() {
        [] => false,
        [one] => !one.is_empty(),
        ["-e", p] => model.fs.exists(p),
        ["-f", p] => model.fs.exists(p) && !model.fs.is_dir(p),
        ["-d", p] => model.fs.is_dir(p),
        ["-s", p] => model.fs.read(p).is_ok_and(|b| !b.is_empty()),
        ["-n", s] => !s.is_empty(),
        ["-z", s] => s.is_empty(),
        [a, "=", b] | [a, "==", b] => a == b,
        [a, "!=", b] => a != b,
        [a, op, b] => {
            let (Ok(a), Ok(b)) = (a.parse::<i64>(), b.parse::<i64>()) else {
                say(&mut io.stderr, format!("{name}: bad number\n")).await;
                return 2;
            };
            match *op {
                "-eq" => a == b,
                "-ne" => a != b,
                "-lt" => a < b,
                "-le" => a <= b,
                "-gt" => a > b,
                "-ge" => a >= b,
                _ => {
                    say(&mut io.stderr, format!("{name}: unknown operator {op}\n")).await;
                    return 2;
                }
            }
        }
        _ => {
            say(&mut io.stderr, format!("{name}: syntax error\n")).await;
            return 2;
        }
    };
    i32::from(result == negate)
}

async fn touch(model: &Container, args: &[String], io: &mut CommandIo) -> i32 {
    let mut status = 0;
    for file in args.iter().filter(|a| !a.starts_with('-')) {
        if let Err(e) = model.fs.touch(file) {
            say(&mut io.stderr, format!("touch: {file}: {}\n", e.message())).await;
            status = 1;
        }
    }
    status
}

/// The name of a process (what `pgrep` matches): its program's base name.
fn process_name(argv: &[String]) -> &str {
    let first = argv.first().map_or("", String::as_str);
    first.rsplit('/').next().unwrap_or(first)
}

async fn pgrep(model: &Container, args: &[String], io: &mut CommandIo) -> i32 {
    let full = args.iter().any(|a| a == "-f");
    let Some(pattern) = args.iter().find(|a| !a.starts_with('-')) else {
        say(
            &mut io.stderr,
            "pgrep: no matching criteria specified\n".into(),
        )
        .await;
        return 2;
    };
    let mut found = Vec::new();
    for (pid, argv) in model.processes.list() {
        let subject = if full {
            argv.join(" ")
        } else {
            process_name(&argv).to_string()
        };
        // pgrep never lists itself.
        if process_name(&argv) != "pgrep" && subject.contains(pattern.as_str()) {
            found.push(pid.to_string());
        }
    }
    if found.is_empty() {
        return 1;
    }
    i32::from(!say(&mut io.stdout, format!("{}\n", found.join("\n"))).await)
}

async fn ps(model: &Container, io: &mut CommandIo) -> i32 {
    let user = user_name(model.identity.uid)
        .map(str::to_string)
        .unwrap_or_else(|| model.identity.uid.to_string());
    let mut text = String::from("PID   USER     TIME  COMMAND\n");
    for (pid, argv) in model.processes.list() {
        text.push_str(&format!("{pid:>5} {user:<8} 0:00 {}\n", argv.join(" ")));
    }
    i32::from(!say(&mut io.stdout, text).await)
}

/// `netstat -ln`: the listening TCP sockets of the pod's network (the host's, for a
/// host-network pod, read from the host's `/proc/net/tcp`).
async fn netstat(model: &Container, io: &mut CommandIo) -> i32 {
    let mut text = String::from(
        "Active Internet connections (only servers)\nProto Recv-Q Send-Q Local Address           Foreign Address         State\n",
    );
    for (proto, file) in [("tcp", "/proc/net/tcp"), ("tcp6", "/proc/net/tcp6")] {
        let table = std::fs::read_to_string(file).unwrap_or_default();
        for line in table.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // State 0A is LISTEN.
            if cols.len() < 4 || cols[3] != "0A" {
                continue;
            }
            let Some((addr, port)) = cols[1].split_once(':') else {
                continue;
            };
            let port = u16::from_str_radix(port, 16).unwrap_or(0);
            let ip = if addr.len() == 8 {
                u32::from_str_radix(addr, 16)
                    .map(|a| std::net::Ipv4Addr::from(a.swap_bytes()).to_string())
                    .unwrap_or_default()
            } else {
                ":::".to_string()
            };
            let ours = model.host_network || ip == model.ip.to_string();
            if ours {
                let local = if ip == ":::" {
                    format!(":::{port}")
                } else {
                    format!("{ip}:{port}")
                };
                text.push_str(&format!(
                    "{proto:<5} {:>6} {:>6} {local:<23} {:<23} LISTEN\n",
                    0, 0, "0.0.0.0:*"
                ));
            }
        }
    }
    i32::from(!say(&mut io.stdout, text).await)
}

/// `grep [-qvic] PATTERN [FILE…]`: lines containing PATTERN, a fixed string (no regular
/// expressions), from the files or stdin.
async fn grep(model: &Container, args: &[String], io: &mut CommandIo) -> i32 {
    use tokio::io::AsyncReadExt;
    let flags: String = args
        .iter()
        .filter(|a| a.starts_with('-') && a.len() > 1)
        .map(|a| &a[1..])
        .collect();
    let mut operands = args.iter().filter(|a| !a.starts_with('-') || a.len() == 1);
    let Some(pattern) = operands.next() else {
        say(&mut io.stderr, "grep: no pattern\n".into()).await;
        return 2;
    };
    let files: Vec<&String> = operands.collect();
    let mut text = Vec::new();
    if files.is_empty() {
        if let Some(stdin) = io.stdin.as_mut() {
            // Bounded: a grep reads at most 16 MiB.
            let _ = stdin.take(16 << 20).read_to_end(&mut text).await;
        }
    } else {
        for file in files {
            match model.fs.read(file) {
                Ok(bytes) => text.extend_from_slice(&bytes),
                Err(e) => {
                    say(&mut io.stderr, format!("grep: {file}: {}\n", e.message())).await;
                    return 2;
                }
            }
        }
    }
    let fold = flags.contains('i');
    let needle = if fold {
        pattern.to_lowercase()
    } else {
        pattern.clone()
    };
    let text = String::from_utf8_lossy(&text);
    let matched: Vec<&str> = text
        .split_inclusive('\n')
        .filter(|line| {
            let hit = if fold {
                line.to_lowercase().contains(&needle)
            } else {
                line.contains(&needle)
            };
            hit != flags.contains('v')
        })
        .collect();
    if !flags.contains('q') {
        let out = if flags.contains('c') {
            format!("{}\n", matched.len())
        } else {
            matched
                .iter()
                .map(|l| {
                    if l.ends_with('\n') {
                        l.to_string()
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect()
        };
        say(&mut io.stdout, out).await;
    }
    i32::from(matched.is_empty())
}

/// A size of `dd` (`512`, `4k`, `20M`, `1G`).
fn dd_size(text: &str) -> Option<u64> {
    let (digits, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = digits.parse().ok()?;
    let factor = match unit {
        "" | "c" => 1,
        "w" => 2,
        "b" => 512,
        "k" | "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(factor)
}

/// `dd [if=…] [of=…] [bs=N] [count=N]`: copies blocks; its buffer of `bs` bytes counts
/// against the container's memory limit, and one past it is OOM-killed (exit 137, and the
/// container's reason becomes `OOMKilled`). Without `count`, reading `/dev/zero` never ends.
async fn dd(model: &Container, args: &[String], io: &mut CommandIo) -> i32 {
    let mut bs = 512;
    let mut count = None;
    let mut input = "-".to_string();
    for arg in args {
        let Some((key, value)) = arg.split_once('=') else {
            say(
                &mut io.stderr,
                format!("dd: unrecognized operand '{arg}'\n"),
            )
            .await;
            return 1;
        };
        match key {
            "bs" | "ibs" | "obs" => match dd_size(value) {
                Some(n) if n > 0 => bs = n,
                _ => {
                    say(&mut io.stderr, format!("dd: invalid number: '{value}'\n")).await;
                    return 1;
                }
            },
            "count" => count = value.parse::<u64>().ok(),
            "if" => input = value.to_string(),
            _ => {}
        }
    }
    if model.memory_limit.is_some_and(|limit| bs > limit) {
        model
            .oom_killed
            .store(true, std::sync::atomic::Ordering::Relaxed);
        return 137;
    }
    match (count, input.as_str()) {
        (None, "/dev/zero") => std::future::pending().await,
        (count, _) => {
            let n = count.unwrap_or(0);
            let msg = format!(
                "{n}+0 records in\n{n}+0 records out\n{} bytes copied\n",
                n * bs
            );
            i32::from(!say(&mut io.stderr, msg).await)
        }
    }
}

/// An operation that needs capability `cap` and seccomp's leave for `syscall`.
async fn permitted(
    model: &Container,
    io: &mut CommandIo,
    what: &str,
    cap: &str,
    syscall: &str,
) -> i32 {
    if model.security.has(cap) && model.security.allows(syscall) {
        0
    } else {
        say(&mut io.stderr, format!("{what}: Operation not permitted\n")).await;
        1
    }
}

/// `ping [-c N] HOST`: needs `NET_RAW` (a raw socket); answers at once from any address,
/// one reply a second.
async fn ping(model: &Container, args: &[String], io: &mut CommandIo) -> i32 {
    let mut count = None;
    let mut host = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-c" => count = it.next().and_then(|n| n.parse::<u64>().ok()),
            a if a.starts_with('-') => {}
            a => host = Some(a.to_string()),
        }
    }
    let Some(host) = host else {
        say(
            &mut io.stderr,
            "ping: usage error: Destination address required\n".into(),
        )
        .await;
        return 1;
    };
    say(
        &mut io.stdout,
        format!("PING {host} ({host}): 56 data bytes\n"),
    )
    .await;
    if !model.security.has("NET_RAW") {
        say(
            &mut io.stderr,
            "ping: permission denied (are you root?)\n".into(),
        )
        .await;
        return 1;
    }
    let mut seq = 0;
    loop {
        if count.is_some_and(|c| seq >= c) {
            return 0;
        }
        let line = format!("64 bytes from {host}: seq={seq} ttl=64 time=0.050 ms\n");
        if !say(&mut io.stdout, line).await {
            return 1;
        }
        seq += 1;
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}
