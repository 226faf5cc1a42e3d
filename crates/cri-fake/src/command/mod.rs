//! The fake's command set: what a container "runs".
//!
//! A real runtime executes binaries of the image; the fake runs commands through a
//! [`CommandHandler`] instead. The same handler serves `ExecSync`, the main process of a
//! started container (its output goes to the container's CRI log, its exit code makes the
//! container exit) and the streaming `Exec`/`Attach` of the fake. [`Builtins`] is the default:
//! a handful of POSIX tools and a small `sh -c` interpreter, over async I/O, without touching
//! the host. Replace it with [`FakeRuntimeBuilder::command_handler`] (and fall back to
//! [`Builtins`] from your own handler for what you do not handle).
//!
//! Timeouts are the caller's business: dropping the future of [`CommandHandler::run`] stops
//! the command (and every command of its pipelines).
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

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt};

mod io;

pub use io::{BoxRead, BoxWrite, Captured, CommandIo};
use io::{Null, SharedRead, SharedWrite, write_all};

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
/// | `exit [N]`, `true`, `false` | exit N (default 0), 0, 1 |
/// | `env`, `printenv [NAME]` | print the environment (`KEY=VALUE` lines) or one value |
/// | `hostname` | prints `$HOSTNAME` |
/// | anything else | prints `NAME: not found` on stderr and exits 127 |
///
/// Scripts (`sh -c`): words with `'…'`, `"…"` and `\` quoting; `$NAME`, `${NAME}`, `$?`,
/// `$0`…`$9` expansion (no word splitting); `NAME=value` assignments; `;`, newlines, `&&`,
/// `||` and pipes `|`; the redirections `>&2`, `1>&2`, `2>&1`, `>/dev/null`, `2>/dev/null`;
/// `#` comments. Not supported (a syntax error, exit 2): control flow, subshells, globbing,
/// background jobs, file redirections.
#[derive(Debug, Clone, Copy, Default)]
pub struct Builtins;

impl CommandHandler for Builtins {
    fn run(&self, argv: Vec<String>, io: CommandIo) -> BoxFuture<'static, i32> {
        Box::pin(run_builtin(argv, io))
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
        "sh" | "bash" | "ash" | "dash" => match args.first().map(String::as_str) {
            Some("-c") => {
                let Some(script) = args.get(1) else {
                    write_all(&mut io.stderr, b"sh: -c: option requires an argument\n").await;
                    return 2;
                };
                let positional = args[2..].to_vec();
                let mut shell = Shell::new(&Builtins, &io.env, positional);
                shell.run_script(script, io).await
            }
            Some(file) if !file.starts_with('-') => {
                let msg = format!("sh: 0: cannot open {file}: No such file\n");
                write_all(&mut io.stderr, msg.as_bytes()).await;
                2
            }
            _ => {
                let mut shell = Shell::new(&Builtins, &io.env, Vec::new());
                shell.run_stdin(io).await
            }
        },
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
        "true" => 0,
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

fn exit_code(arg: Option<&String>) -> i32 {
    arg.and_then(|n| n.parse::<i64>().ok())
        .map_or(0, |n| (n & 0xff) as i32)
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

// ---------------------------------------------------------------------------------------------
// The shell.

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Lit(String),
    Var(String),
}

type Word = Vec<Part>;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Redirect {
    OutToErr,
    ErrToOut,
    OutNull,
    ErrNull,
}

#[derive(Debug, Default)]
struct Simple {
    words: Vec<Word>,
    redirects: Vec<Redirect>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Connector {
    Seq,
    And,
    Or,
}

/// A script: pipelines joined by connectors (the connector *before* each pipeline).
type Script = Vec<(Connector, Vec<Simple>)>;

#[derive(Debug, PartialEq)]
enum Token {
    Word(Word),
    Op(&'static str),
    Redirect(Redirect),
}

/// A syntax error of a script, as a message.
fn tokenize(script: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = script.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            ' ' | '\t' => {
                chars.next();
            }
            '\n' | ';' => {
                chars.next();
                tokens.push(Token::Op(";"));
            }
            '#' => {
                while chars.peek().is_some_and(|c| *c != '\n') {
                    chars.next();
                }
            }
            '&' => {
                chars.next();
                if chars.next_if_eq(&'&').is_some() {
                    tokens.push(Token::Op("&&"));
                } else {
                    return Err("background jobs (&) are not supported".into());
                }
            }
            '|' => {
                chars.next();
                if chars.next_if_eq(&'|').is_some() {
                    tokens.push(Token::Op("||"));
                } else {
                    tokens.push(Token::Op("|"));
                }
            }
            '(' | ')' | '<' | '`' => {
                return Err(format!("{c:?} is not supported"));
            }
            '>' | '1' | '2'
                if {
                    let rest: String = chars.clone().take(12).collect();
                    redirect_at(&rest).is_some() || rest.starts_with('>')
                } =>
            {
                let rest: String = chars.clone().take(12).collect();
                let Some((redirect, len)) = redirect_at(&rest) else {
                    return Err("redirections to files are not supported".into());
                };
                for _ in 0..len {
                    chars.next();
                }
                tokens.push(Token::Redirect(redirect));
            }
            _ => tokens.push(Token::Word(word(&mut chars)?)),
        }
    }
    Ok(tokens)
}

fn redirect_at(text: &str) -> Option<(Redirect, usize)> {
    const FORMS: [(&str, Redirect); 7] = [
        ("1>&2", Redirect::OutToErr),
        (">&2", Redirect::OutToErr),
        ("2>&1", Redirect::ErrToOut),
        ("1>/dev/null", Redirect::OutNull),
        (">/dev/null", Redirect::OutNull),
        ("2>/dev/null", Redirect::ErrNull),
        ("2> /dev/null", Redirect::ErrNull),
    ];
    FORMS.iter().find_map(|(form, r)| {
        let after = text[form.len().min(text.len())..].chars().next();
        (text.starts_with(form) && after.is_none_or(|c| !is_word_char(c)))
            .then_some((*r, form.len()))
    })
}

fn is_word_char(c: char) -> bool {
    !matches!(
        c,
        ' ' | '\t' | '\n' | ';' | '&' | '|' | '(' | ')' | '<' | '>' | '`'
    )
}

fn word(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<Word, String> {
    let mut parts = Vec::new();
    let mut lit = String::new();
    let flush = |lit: &mut String, parts: &mut Word| {
        if !lit.is_empty() {
            parts.push(Part::Lit(std::mem::take(lit)));
        }
    };
    while let Some(&c) = chars.peek() {
        if !is_word_char(c) {
            break;
        }
        chars.next();
        match c {
            '\\' => match chars.next() {
                Some('\n') => {}
                Some(c) => lit.push(c),
                None => lit.push('\\'),
            },
            '\'' => {
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == '\'' {
                        closed = true;
                        break;
                    }
                    lit.push(c);
                }
                if !closed {
                    return Err("unterminated quoted string".into());
                }
                // An empty '' is still a word.
                parts.push(Part::Lit(std::mem::take(&mut lit)));
            }
            '"' => {
                let mut closed = false;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => {
                            closed = true;
                            break;
                        }
                        '\\' => match chars.peek() {
                            Some(&e @ ('"' | '\\' | '$' | '`')) => {
                                chars.next();
                                lit.push(e);
                            }
                            Some('\n') => {
                                chars.next();
                            }
                            _ => lit.push('\\'),
                        },
                        '$' => {
                            flush(&mut lit, &mut parts);
                            parts.push(variable(chars)?);
                        }
                        c => lit.push(c),
                    }
                }
                if !closed {
                    return Err("unterminated quoted string".into());
                }
                parts.push(Part::Lit(std::mem::take(&mut lit)));
            }
            '$' => {
                flush(&mut lit, &mut parts);
                parts.push(variable(chars)?);
            }
            c => lit.push(c),
        }
    }
    flush(&mut lit, &mut parts);
    Ok(parts)
}

fn variable(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<Part, String> {
    match chars.peek().copied() {
        Some('{') => {
            chars.next();
            let mut name = String::new();
            for c in chars.by_ref() {
                if c == '}' {
                    return Ok(Part::Var(name));
                }
                name.push(c);
            }
            Err("bad substitution: missing }".into())
        }
        Some(c @ ('?' | '0'..='9' | '#' | '$')) => {
            chars.next();
            Ok(Part::Var(c.to_string()))
        }
        Some('(') => Err("command substitution is not supported".into()),
        Some(c) if c == '_' || c.is_ascii_alphabetic() => {
            let mut name = String::new();
            while let Some(c) = chars.next_if(|c| *c == '_' || c.is_ascii_alphanumeric()) {
                name.push(c);
            }
            Ok(Part::Var(name))
        }
        _ => Ok(Part::Lit("$".into())),
    }
}

fn parse(script: &str) -> Result<Script, String> {
    let mut out: Script = Vec::new();
    let mut connector = Connector::Seq;
    let mut pipeline: Vec<Simple> = Vec::new();
    let mut simple = Simple::default();
    let mut tokens = tokenize(script)?.into_iter().peekable();
    let end_simple = |simple: &mut Simple, pipeline: &mut Vec<Simple>, op: &str| {
        if simple.words.is_empty() {
            return Err(format!("syntax error near unexpected {op:?}"));
        }
        pipeline.push(std::mem::take(simple));
        Ok(())
    };
    while let Some(token) = tokens.next() {
        match token {
            Token::Word(w) => simple.words.push(w),
            Token::Redirect(r) => simple.redirects.push(r),
            Token::Op("|") => end_simple(&mut simple, &mut pipeline, "|")?,
            Token::Op(op) => {
                if simple.words.is_empty() && pipeline.is_empty() {
                    if op == ";" {
                        continue;
                    }
                    return Err(format!("syntax error near unexpected {op:?}"));
                }
                end_simple(&mut simple, &mut pipeline, op)?;
                out.push((connector, std::mem::take(&mut pipeline)));
                connector = match op {
                    "&&" => Connector::And,
                    "||" => Connector::Or,
                    _ => Connector::Seq,
                };
                if connector != Connector::Seq {
                    // A newline may follow && and ||.
                    while tokens.next_if_eq(&Token::Op(";")).is_some() {}
                    if tokens.peek().is_none() {
                        return Err("syntax error: unexpected end of script".into());
                    }
                }
            }
        }
    }
    if !simple.words.is_empty() {
        pipeline.push(simple);
    } else if !pipeline.is_empty() {
        return Err("syntax error: unexpected end of script after |".into());
    }
    if !pipeline.is_empty() {
        out.push((connector, pipeline));
    }
    Ok(out)
}

/// What a command of a script writes to and reads from.
#[derive(Clone)]
struct Streams {
    stdin: SharedRead,
    stdout: SharedWrite,
    stderr: SharedWrite,
    tty: bool,
}

struct Shell {
    /// What runs the commands of a script (for `sh` of the built-ins, the built-ins).
    commands: &'static dyn CommandHandler,
    vars: BTreeMap<String, String>,
    exported: Vec<String>,
    positional: Vec<String>,
    status: i32,
    exited: bool,
    /// The environment of the command [`Shell::prepare`] just expanded.
    pending_env: Option<Vec<(String, String)>>,
}

impl Shell {
    fn new(
        commands: &'static dyn CommandHandler,
        env: &[(String, String)],
        positional: Vec<String>,
    ) -> Self {
        let mut vars = BTreeMap::new();
        let mut exported = Vec::new();
        for (k, v) in env {
            if !exported.contains(k) {
                exported.push(k.clone());
            }
            vars.insert(k.clone(), v.clone());
        }
        Shell {
            commands,
            vars,
            exported,
            positional,
            status: 0,
            exited: false,
            pending_env: None,
        }
    }

    fn streams(io: CommandIo) -> Streams {
        Streams {
            stdin: SharedRead(Arc::new(Mutex::new(io.stdin))),
            stdout: SharedWrite(Arc::new(Mutex::new(io.stdout))),
            stderr: SharedWrite(Arc::new(Mutex::new(io.stderr))),
            tty: io.tty,
        }
    }

    async fn run_script(&mut self, script: &str, io: CommandIo) -> i32 {
        let streams = Self::streams(io);
        self.run_text(script, &streams).await;
        self.status
    }

    /// `sh` without `-c`: runs stdin line by line (a line ending in `&&`, `||`, `|` or `\`
    /// waits for the next).
    async fn run_stdin(&mut self, io: CommandIo) -> i32 {
        let Some(stdin) = io.stdin else {
            return 0;
        };
        let input = SharedRead(Arc::new(Mutex::new(None)));
        let streams = Streams {
            stdin: input,
            stdout: SharedWrite(Arc::new(Mutex::new(io.stdout))),
            stderr: SharedWrite(Arc::new(Mutex::new(io.stderr))),
            tty: io.tty,
        };
        let mut lines = tokio::io::BufReader::new(stdin);
        let mut pending = String::new();
        loop {
            let mut line = Vec::new();
            // One line at a time, bounded: a script line longer than 1 MiB is an error.
            let n = match (&mut lines)
                .take(1 << 20)
                .read_until(b'\n', &mut line)
                .await
            {
                Ok(n) => n,
                Err(_) => break,
            };
            if n == 0 {
                break;
            }
            pending.push_str(&String::from_utf8_lossy(&line));
            let trimmed = pending.trim_end();
            if trimmed.ends_with("&&")
                || trimmed.ends_with("||")
                || trimmed.ends_with('|')
                || trimmed.ends_with('\\')
            {
                continue;
            }
            let script = std::mem::take(&mut pending);
            self.run_text(&script, &streams).await;
            if self.exited {
                break;
            }
        }
        self.status
    }

    async fn run_text(&mut self, script: &str, streams: &Streams) {
        match parse(script) {
            Ok(script) => self.run_parsed(script, streams).await,
            Err(message) => {
                let mut err: BoxWrite = Box::new(streams.stderr.clone());
                write_all(&mut err, format!("sh: {message}\n").as_bytes()).await;
                self.status = 2;
            }
        }
    }

    async fn run_parsed(&mut self, script: Script, streams: &Streams) {
        for (connector, pipeline) in script {
            let skip = match connector {
                Connector::Seq => false,
                Connector::And => self.status != 0,
                Connector::Or => self.status == 0,
            };
            if skip {
                continue;
            }
            self.status = self.run_pipeline(pipeline, streams).await;
            if self.exited {
                return;
            }
        }
    }

    fn expand(&self, word: &Word) -> String {
        word.iter()
            .map(|part| match part {
                Part::Lit(s) => s.clone(),
                Part::Var(name) => match name.as_str() {
                    "?" => self.status.to_string(),
                    "#" => self.positional.len().saturating_sub(1).to_string(),
                    "$" => "1".into(),
                    n if n.len() == 1 && n.as_bytes()[0].is_ascii_digit() => self
                        .positional
                        .get(usize::from(n.as_bytes()[0] - b'0'))
                        .cloned()
                        .unwrap_or_default(),
                    n => self.vars.get(n).cloned().unwrap_or_default(),
                },
            })
            .collect()
    }

    fn env(&self) -> Vec<(String, String)> {
        self.exported
            .iter()
            .filter_map(|k| self.vars.get(k).map(|v| (k.clone(), v.clone())))
            .collect()
    }

    /// Expands a simple command; handles assignments, `export` and `exit` in the shell
    /// itself (only when alone, not in a pipe), returning `None` when it did.
    fn prepare(&mut self, simple: &Simple, alone: bool) -> Option<Vec<String>> {
        let mut argv = Vec::new();
        let mut assignments = Vec::new();
        for word in &simple.words {
            let text = self.expand(word);
            let is_assignment = argv.is_empty()
                && matches!(word.first(), Some(Part::Lit(l)) if assignment(l).is_some());
            if is_assignment {
                if let Some((k, v)) = text.split_once('=') {
                    assignments.push((k.to_string(), v.to_string()));
                }
            } else if !(text.is_empty() && word.iter().all(|p| matches!(p, Part::Var(_)))) {
                argv.push(text);
            }
        }
        if argv.is_empty() || alone && argv[0] == "export" {
            for (k, v) in assignments {
                self.vars.insert(k, v);
            }
            for name in argv.iter().skip(1) {
                let (k, v) = match name.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (name.clone(), None),
                };
                if let Some(v) = v {
                    self.vars.insert(k.clone(), v);
                }
                if !self.exported.contains(&k) {
                    self.exported.push(k);
                }
            }
            self.status = 0;
            return None;
        }
        if alone && argv[0] == "exit" {
            self.status = if argv.len() > 1 {
                exit_code(argv.get(1))
            } else {
                self.status
            };
            self.exited = true;
            return None;
        }
        // `NAME=value cmd`: for this command only.
        let mut env = self.env();
        for (k, v) in assignments {
            env.retain(|(key, _)| *key != k);
            env.push((k, v));
        }
        self.pending_env = Some(env);
        Some(argv)
    }

    async fn run_pipeline(&mut self, pipeline: Vec<Simple>, streams: &Streams) -> i32 {
        let alone = pipeline.len() == 1;
        let mut commands = Vec::new();
        for simple in &pipeline {
            let Some(argv) = self.prepare(simple, alone) else {
                return self.status;
            };
            let env = self.pending_env.take().unwrap_or_else(|| self.env());
            commands.push((argv, env, simple.redirects.clone()));
        }
        let count = commands.len();
        let mut tasks = tokio::task::JoinSet::new();
        let mut stdin: BoxRead = Box::new(streams.stdin.clone());
        let mut last = None;
        for (i, (argv, env, redirects)) in commands.into_iter().enumerate() {
            let (stdout, next_stdin): (BoxWrite, Option<BoxRead>) = if i + 1 < count {
                let (w, r) = tokio::io::duplex(64 << 10);
                (Box::new(w), Some(Box::new(r)))
            } else {
                (Box::new(streams.stdout.clone()), None)
            };
            let mut out: BoxWrite = stdout;
            let mut err: BoxWrite = Box::new(streams.stderr.clone());
            for redirect in redirects {
                match redirect {
                    Redirect::OutToErr => out = Box::new(streams.stderr.clone()),
                    Redirect::ErrToOut => err = Box::new(streams.stdout.clone()),
                    Redirect::OutNull => out = Box::new(Null),
                    Redirect::ErrNull => err = Box::new(Null),
                }
            }
            let io = CommandIo {
                stdin: Some(std::mem::replace(
                    &mut stdin,
                    next_stdin.unwrap_or_else(|| Box::new(tokio::io::empty())),
                )),
                stdout: out,
                stderr: err,
                tty: streams.tty,
                env,
            };
            let handle = tasks.spawn(self.commands.run(argv, io));
            if i + 1 == count {
                last = Some(handle.id());
            }
        }
        let mut status = 0;
        while let Some(done) = tasks.join_next_with_id().await {
            if let Ok((id, code)) = done
                && Some(id) == last
            {
                status = code;
            }
        }
        status
    }
}

fn assignment(lit: &str) -> Option<&str> {
    let (name, _) = lit.split_once('=')?;
    let mut chars = name.chars();
    let first = chars.next()?;
    ((first == '_' || first.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric()))
    .then_some(name)
}

#[cfg(test)]
mod tests;
