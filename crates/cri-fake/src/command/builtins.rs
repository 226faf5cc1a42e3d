//! The built-in commands: a handful of POSIX tools, and `sh` through the interpreter in
//! `shell`.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;

use super::io::write_all;
use super::shell::Shell;
use super::{BoxFuture, BoxRead, BoxWrite, CommandHandler, CommandIo, exit_code};

/// The default command set. Commands are found by the last part of `argv[0]`
/// (`/bin/sh` is `sh`):
///
/// | command | does |
/// |---|---|
/// | `echo [-n] ARGS…` | prints the arguments joined by spaces (and a newline unless `-n`) |
/// | `printf FORMAT [ARGS…]` | `%s`, `%d`, `%%`, and the escapes `\n \t \r \\ \0NNN` (format reused while arguments remain) |
/// | `cat [-]` | copies stdin to stdout (a file argument is `No such file or directory`) |
/// | `sh -c SCRIPT [NAME ARGS…]` | runs a script (also `bash`, `ash`, `dash`); see below |
/// | `sh` | reads a script from stdin, line by line, and runs each line as it comes |
/// | `sleep N\|infinity` | waits (seconds, fractions allowed) |
/// | `pause`, `top` | wait until stopped (what long-running containers do) |
/// | `seq [FIRST] LAST` | prints the numbers, one a line |
/// | `exit [N]`, `true`, `:`, `false` | exit N (default 0), 0, 0, 1 |
/// | `env`, `printenv [NAME]` | print the environment (`KEY=VALUE` lines) or one value |
/// | `hostname` | prints `$HOSTNAME` |
/// | anything else | prints `NAME: not found` on stderr and exits 127 |
///
/// Scripts (`sh -c`): words with `'…'`, `"…"` and `\` quoting; `$NAME`, `${NAME}`, `$?`,
/// `$0`…`$9` expansion (no word splitting, in `for` words too); `NAME=value` assignments;
/// `;`, newlines, `&&`, `||` and pipes `|`; `! PIPELINE`; `while`/`until LIST; do LIST;
/// done`, `if LIST; then LIST; [elif LIST; then LIST;]… [else LIST;] fi`, `for NAME [in
/// WORDS…]; do LIST; done`, with `break [N]` and `continue [N]` (keywords only in command
/// position, as in POSIX sh; a compound command takes no pipe or redirection); the
/// redirections `>&2`, `1>&2`, `2>&1`, `>/dev/null`, `2>/dev/null`; `#` comments. Not
/// supported (a syntax error, exit 2): `case`, functions, subshells, globbing, background
/// jobs, file redirections.
#[derive(Debug, Clone, Copy, Default)]
pub struct Builtins;

impl CommandHandler for Builtins {
    /// Runs a built-in; while a handler of the user's runs a command of one of the runtime's
    /// containers, the container's own commands (its model, over the built-ins) answer
    /// instead, so that a handler that passes on what it does not know to `Builtins` gets
    /// the container's `id`, `cat FILE`, `kill`, `nc`, … too.
    fn run(&self, argv: Vec<String>, io: CommandIo) -> BoxFuture<'static, i32> {
        match CONTAINER.try_with(Arc::clone) {
            Ok(container) => container.run(argv, io),
            Err(_) => Box::pin(run_builtin(argv, io)),
        }
    }
}

tokio::task_local! {
    /// The commands of the container whose command a user's handler is running.
    static CONTAINER: Arc<dyn CommandHandler>;
}

/// Runs `argv` through the user's handler `user`, with [`Builtins`] answering as
/// `container` (the container's own commands) while it does: both while `user.run` makes
/// its future and while that future runs. (A task the user's handler spawns does not
/// inherit this: `Builtins` there are the plain built-ins.)
pub(crate) fn run_in_container(
    user: &dyn CommandHandler,
    container: Arc<dyn CommandHandler>,
    argv: Vec<String>,
    io: CommandIo,
) -> BoxFuture<'static, i32> {
    let future = CONTAINER.sync_scope(container.clone(), || user.run(argv, io));
    Box::pin(CONTAINER.scope(container, future))
}

/// The plain built-ins, whoever asks.
pub(crate) fn run_plain(argv: Vec<String>, io: CommandIo) -> BoxFuture<'static, i32> {
    Box::pin(run_builtin(argv, io))
}

/// `sh ARGS…` with every command of its script run by `commands`: `-c SCRIPT [NAME ARGS…]`,
/// or a script read from stdin.
pub(crate) async fn run_sh(
    commands: Arc<dyn CommandHandler>,
    args: &[String],
    mut io: CommandIo,
) -> i32 {
    match args.first().map(String::as_str) {
        Some("-c") => {
            let Some(script) = args.get(1) else {
                write_all(&mut io.stderr, b"sh: -c: option requires an argument\n").await;
                return 2;
            };
            let positional = args[2..].to_vec();
            let mut shell = Shell::new(commands, &io.env, positional);
            shell.run_script(script, io).await
        }
        Some(file) if !file.starts_with('-') => {
            let msg = format!("sh: 0: cannot open {file}: No such file\n");
            write_all(&mut io.stderr, msg.as_bytes()).await;
            2
        }
        _ => {
            let mut shell = Shell::new(commands, &io.env, Vec::new());
            shell.run_stdin(io).await
        }
    }
}

async fn run_builtin(argv: Vec<String>, mut io: CommandIo) -> i32 {
    let Some(first) = argv.first() else {
        return 0;
    };
    let name = first.rsplit('/').next().unwrap_or(first).to_string();
    let args = &argv[1..];
    let ok = |good: bool| if good { 0 } else { 1 };
    match name.as_str() {
        "echo" => {
            let (newline, words) = match args.first().map(String::as_str) {
                Some("-n") => (false, &args[1..]),
                _ => (true, args),
            };
            let mut text = words.join(" ");
            if newline {
                text.push('\n');
            }
            ok(write_all(&mut io.stdout, text.as_bytes()).await)
        }
        "printf" => match args.split_first() {
            None => {
                write_all(
                    &mut io.stderr,
                    b"printf: usage: printf FORMAT [ARGUMENT]...\n",
                )
                .await;
                2
            }
            Some((format, rest)) => {
                let (out, good) = printf(format, rest);
                let wrote = write_all(&mut io.stdout, &out).await;
                if good && wrote { 0 } else { 1 }
            }
        },
        "cat" => {
            if let Some(file) = args.iter().find(|a| a.as_str() != "-") {
                let msg = format!("cat: {file}: No such file or directory\n");
                write_all(&mut io.stderr, msg.as_bytes()).await;
                return 1;
            }
            match io.stdin.as_mut() {
                None => 0,
                Some(stdin) => ok(copy(stdin, &mut io.stdout).await),
            }
        }
        "sh" | "bash" | "ash" | "dash" => run_sh(Arc::new(Builtins), args, io).await,
        "sleep" => match args.first().map(|a| parse_seconds(a)) {
            Some(Some(None)) => std::future::pending().await,
            Some(Some(Some(duration))) => {
                tokio::time::sleep(duration).await;
                0
            }
            _ => {
                let msg = format!("sleep: invalid time interval {:?}\n", args.join(" "));
                write_all(&mut io.stderr, msg.as_bytes()).await;
                1
            }
        },
        "pause" | "top" => std::future::pending().await,
        "seq" => {
            let nums: Option<Vec<i64>> = args.iter().map(|a| a.parse().ok()).collect();
            let (from, to) = match nums.as_deref() {
                Some([last]) => (1, *last),
                Some([first, last]) => (*first, *last),
                _ => {
                    write_all(&mut io.stderr, b"seq: usage: seq [FIRST] LAST\n").await;
                    return 1;
                }
            };
            let mut chunk = String::new();
            for n in from..=to {
                chunk.push_str(&n.to_string());
                chunk.push('\n');
                if chunk.len() >= 8192 {
                    if !write_all(&mut io.stdout, chunk.as_bytes()).await {
                        return 1;
                    }
                    chunk.clear();
                }
            }
            ok(write_all(&mut io.stdout, chunk.as_bytes()).await)
        }
        "exit" => exit_code(args.first()),
        "true" | ":" => 0,
        "false" => 1,
        "env" | "printenv" => match args.first() {
            Some(key) if name == "printenv" => match io.env.iter().rev().find(|(k, _)| k == key) {
                Some((_, v)) => ok(write_all(&mut io.stdout, format!("{v}\n").as_bytes()).await),
                None => 1,
            },
            _ => {
                let text: String = io.env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
                ok(write_all(&mut io.stdout, text.as_bytes()).await)
            }
        },
        "hostname" => {
            let host = io
                .env
                .iter()
                .rev()
                .find(|(k, _)| k == "HOSTNAME")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            ok(write_all(&mut io.stdout, format!("{host}\n").as_bytes()).await)
        }
        _ => {
            let msg = format!("{first}: not found\n");
            write_all(&mut io.stderr, msg.as_bytes()).await;
            127
        }
    }
}

/// `Some(None)` is forever.
fn parse_seconds(text: &str) -> Option<Option<Duration>> {
    if text == "infinity" || text == "inf" {
        return Some(None);
    }
    let secs: f64 = text.strip_suffix('s').unwrap_or(text).parse().ok()?;
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    Some(Some(Duration::from_secs_f64(secs.min(1e9))))
}

async fn copy(from: &mut BoxRead, to: &mut BoxWrite) -> bool {
    let mut buf = vec![0u8; 8192];
    loop {
        match from.read(&mut buf).await {
            Ok(0) => return true,
            Ok(n) => {
                if !write_all(to, &buf[..n]).await {
                    return false;
                }
            }
            Err(_) => return false,
        }
    }
}

/// `printf`: returns the output and whether every argument converted.
fn printf(format: &str, args: &[String]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut good = true;
    let mut args = args.iter();
    loop {
        let mut used = false;
        let mut chars = format.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => escape(&mut chars, &mut out),
                '%' => match chars.next() {
                    Some('%') => out.push(b'%'),
                    Some('s') => {
                        used = true;
                        out.extend_from_slice(args.next().map_or("", |s| s.as_str()).as_bytes());
                    }
                    Some('d') | Some('i') => {
                        used = true;
                        let arg = args.next().map_or("0", |s| s.as_str());
                        match arg.trim().parse::<i64>() {
                            Ok(n) => out.extend_from_slice(n.to_string().as_bytes()),
                            Err(_) => {
                                good = false;
                                out.push(b'0');
                            }
                        }
                    }
                    Some('b') => {
                        used = true;
                        let arg = args.next().map_or("", |s| s.as_str());
                        let mut inner = arg.chars().peekable();
                        while let Some(c) = inner.next() {
                            if c == '\\' {
                                escape(&mut inner, &mut out);
                            } else {
                                push_char(&mut out, c);
                            }
                        }
                    }
                    Some(other) => {
                        out.push(b'%');
                        push_char(&mut out, other);
                    }
                    None => out.push(b'%'),
                },
                c => push_char(&mut out, c),
            }
        }
        if !used || args.len() == 0 {
            return (out, good);
        }
    }
}

fn push_char(out: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

fn escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, out: &mut Vec<u8>) {
    match chars.next() {
        Some('n') => out.push(b'\n'),
        Some('t') => out.push(b'\t'),
        Some('r') => out.push(b'\r'),
        Some('\\') => out.push(b'\\'),
        Some('a') => out.push(7),
        Some('0') => {
            let mut value = 0u32;
            for _ in 0..3 {
                match chars.peek().and_then(|c| c.to_digit(8)) {
                    Some(d) => {
                        value = value * 8 + d;
                        chars.next();
                    }
                    None => break,
                }
            }
            out.push(value as u8);
        }
        Some(other) => {
            out.push(b'\\');
            push_char(out, other);
        }
        None => out.push(b'\\'),
    }
}
