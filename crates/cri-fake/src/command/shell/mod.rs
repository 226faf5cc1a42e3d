//! `sh`: a small interpreter of POSIX shell scripts for the built-ins (what it supports is
//! listed on [`Builtins`](super::Builtins)). `parse` (and `compound`) read a script into a
//! tree of lists of pipelines; the `Shell` here runs them, each simple command through the
//! handler it was given, with the script's variables, exit status and streams.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt};

use super::io::{Null, SharedRead, SharedWrite, write_all};
use super::{BoxRead, BoxWrite, CommandHandler, CommandIo, exit_code};

mod compound;
mod parse;

use parse::{
    Command, Connector, Part, Pipeline, Redirect, Script, Simple, UNTERMINATED, Word, parse,
};

/// What a command of a script writes to and reads from.
#[derive(Clone)]
struct Streams {
    stdin: SharedRead,
    stdout: SharedWrite,
    stderr: SharedWrite,
    tty: bool,
}

pub(crate) struct Shell {
    /// What runs the commands of a script (the handler that ran `sh`, so that every command
    /// of a script goes through it).
    commands: Arc<dyn CommandHandler>,
    vars: BTreeMap<String, String>,
    exported: Vec<String>,
    positional: Vec<String>,
    status: i32,
    exited: bool,
    /// The environment of the command [`Shell::prepare`] just expanded.
    pending_env: Option<Vec<(String, String)>>,
    /// An error [`Shell::prepare`] has for stderr (of a command the shell runs itself).
    pending_error: Option<String>,
    /// How many loops enclose the command running now.
    loops: usize,
    /// A `break N` or `continue N` on its way out of the lists of its loops.
    control: Option<Control>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Control {
    Break(usize),
    Continue(usize),
}

/// What a loop does after one of its lists ran (see [`Shell::flow`]).
#[derive(Debug, PartialEq)]
enum Flow {
    /// Carries on.
    Go,
    /// Starts its next iteration (`continue`).
    Next,
    /// Ends (`break`, a `break` or `continue` of an outer loop, or `exit`).
    Stop,
}

impl Shell {
    pub(crate) fn new(
        commands: Arc<dyn CommandHandler>,
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
            pending_error: None,
            loops: 0,
            control: None,
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

    pub(crate) async fn run_script(&mut self, script: &str, io: CommandIo) -> i32 {
        let streams = Self::streams(io);
        self.run_text(script, &streams).await;
        self.status
    }

    /// `sh` without `-c`: runs stdin line by line (a line ending in `&&`, `||`, `|` or `\`
    /// waits for the next).
    pub(crate) async fn run_stdin(&mut self, io: CommandIo) -> i32 {
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
                || parse(&pending).is_err_and(|e| e.starts_with(UNTERMINATED))
            {
                continue;
            }
            let script = std::mem::take(&mut pending);
            self.run_text(&script, &streams).await;
            if self.exited {
                return self.status;
            }
        }
        // What the end of the input left incomplete is a syntax error.
        if !pending.trim().is_empty() {
            self.run_text(&pending, &streams).await;
        }
        self.status
    }

    async fn run_text(&mut self, script: &str, streams: &Streams) {
        match parse(script) {
            Ok(script) => self.run_list(&script, streams).await,
            Err(message) => {
                let mut err: BoxWrite = Box::new(streams.stderr.clone());
                write_all(&mut err, format!("sh: {message}\n").as_bytes()).await;
                self.status = 2;
            }
        }
    }

    /// Runs a list, until its end, an `exit`, or a `break` or `continue`. (Boxed: a list
    /// may hold compound commands, which hold lists.)
    fn run_list<'a>(
        &'a mut self,
        script: &'a Script,
        streams: &'a Streams,
    ) -> super::BoxFuture<'a, ()> {
        Box::pin(async move {
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
                if self.exited || self.control.is_some() {
                    return;
                }
            }
        })
    }

    async fn run_pipeline(&mut self, pipeline: &Pipeline, streams: &Streams) -> i32 {
        let status = match pipeline.commands.as_slice() {
            [Command::Simple(_)] | [_, _, ..] => self.run_simple(&pipeline.commands, streams).await,
            [compound] => self.run_compound(compound, streams).await,
            [] => 0,
        };
        if pipeline.negate && !self.exited {
            i32::from(status == 0)
        } else {
            status
        }
    }

    /// Runs a compound command: its status.
    async fn run_compound(&mut self, command: &Command, streams: &Streams) -> i32 {
        match command {
            Command::Simple(_) => {
                self.run_simple(std::slice::from_ref(command), streams)
                    .await
            }
            Command::Loop { until, cond, body } => {
                self.loops += 1;
                let mut status = 0;
                loop {
                    // Each iteration spends a unit of the task's budget: a loop whose
                    // commands never wait (`while X=1; do X=2; done`) yields now and then too.
                    tokio::task::coop::consume_budget().await;
                    self.run_list(cond, streams).await;
                    let go_on = (self.status == 0) != *until;
                    match self.flow() {
                        Flow::Stop => break,
                        Flow::Next => continue,
                        Flow::Go if !go_on => break,
                        Flow::Go => {}
                    }
                    self.run_list(body, streams).await;
                    status = self.status;
                    if self.flow() == Flow::Stop {
                        break;
                    }
                }
                self.loops -= 1;
                if self.exited { self.status } else { status }
            }
            Command::If {
                branches,
                otherwise,
            } => {
                for (cond, body) in branches {
                    self.run_list(cond, streams).await;
                    if self.exited || self.control.is_some() {
                        return self.status;
                    }
                    if self.status == 0 {
                        self.run_list(body, streams).await;
                        return self.status;
                    }
                }
                match otherwise {
                    Some(body) => {
                        self.run_list(body, streams).await;
                        self.status
                    }
                    None => 0,
                }
            }
            Command::For { name, words, body } => {
                let items = match words {
                    Some(words) => {
                        let simple = Simple {
                            words: words.clone(),
                            redirects: Vec::new(),
                        };
                        let simple = self.substitute(&simple, streams).await;
                        simple.words.iter().map(|w| self.expand(w)).collect()
                    }
                    None => self.positional.iter().skip(1).cloned().collect::<Vec<_>>(),
                };
                self.loops += 1;
                let mut status = 0;
                for item in items {
                    tokio::task::coop::consume_budget().await;
                    self.vars.insert(name.clone(), item);
                    self.run_list(body, streams).await;
                    status = self.status;
                    if self.flow() == Flow::Stop {
                        break;
                    }
                }
                self.loops -= 1;
                if self.exited { self.status } else { status }
            }
        }
    }

    /// What the loop running now does after one of its lists ran, taking the `break` or
    /// `continue` that is its own.
    fn flow(&mut self) -> Flow {
        if self.exited {
            return Flow::Stop;
        }
        match self.control.take() {
            None => Flow::Go,
            Some(Control::Break(n)) => {
                if n > 1 {
                    self.control = Some(Control::Break(n - 1));
                }
                Flow::Stop
            }
            Some(Control::Continue(n)) if n > 1 => {
                self.control = Some(Control::Continue(n - 1));
                Flow::Stop
            }
            Some(Control::Continue(_)) => Flow::Next,
        }
    }

    fn expand(&self, word: &Word) -> String {
        word.iter()
            .map(|part| match part {
                Part::Lit(s) | Part::Cmd(s) => s.clone(),
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
        if alone && (argv[0] == "break" || argv[0] == "continue") {
            // `break N`/`continue N` of the Nth enclosing loop (the outermost if fewer);
            // outside of loops they do nothing.
            let count = match argv.get(1) {
                None => Some(1),
                Some(n) => n.parse::<usize>().ok().filter(|n| *n > 0),
            };
            let Some(count) = count else {
                // An error of a special built-in: the script ends, as in dash.
                self.pending_error = Some(format!("sh: {}: bad number: {}\n", argv[0], argv[1]));
                self.status = 2;
                self.exited = true;
                return None;
            };
            self.status = 0;
            if self.loops > 0 {
                let count = count.min(self.loops);
                self.control = Some(if argv[0] == "break" {
                    Control::Break(count)
                } else {
                    Control::Continue(count)
                });
            }
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

    /// Runs a pipeline of simple commands (`commands` holds nothing else).
    async fn run_simple(&mut self, commands_: &[Command], streams: &Streams) -> i32 {
        let alone = commands_.len() == 1;
        let mut commands = Vec::new();
        for command in commands_ {
            let Command::Simple(simple) = command else {
                continue;
            };
            let simple = &self.substitute(simple, streams).await;
            let Some(argv) = self.prepare(simple, alone) else {
                if let Some(message) = self.pending_error.take() {
                    let mut err: BoxWrite = Box::new(streams.stderr.clone());
                    write_all(&mut err, message.as_bytes()).await;
                }
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
                    // `2>&1` goes where stdout goes now (the pipe, in a pipeline).
                    Redirect::ErrToOut => {
                        let shared = SharedWrite(Arc::new(Mutex::new(out)));
                        out = Box::new(shared.clone());
                        err = Box::new(shared);
                    }
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
            let handle = tasks.spawn(super::dispatch(&*self.commands, argv, io));
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

impl Shell {
    /// Runs the `$(…)` of a command (in a shell of their own, with this one's variables and
    /// handler) and puts their output, without its final newlines, in their place.
    /// (Boxed: a script in a `$(…)` may hold a `$(…)`.)
    fn substitute<'a>(
        &'a mut self,
        simple: &'a Simple,
        streams: &'a Streams,
    ) -> super::BoxFuture<'a, Simple> {
        Box::pin(self.substitute_inner(simple, streams))
    }

    async fn substitute_inner(&mut self, simple: &Simple, streams: &Streams) -> Simple {
        let mut words = Vec::with_capacity(simple.words.len());
        for word in &simple.words {
            let mut parts = Vec::with_capacity(word.len());
            for part in word {
                let Part::Cmd(script) = part else {
                    parts.push(part.clone());
                    continue;
                };
                let (mut io, captured) = CommandIo::capture(None);
                io.env = self.env();
                io.tty = streams.tty;
                let mut sub = Shell::new(self.commands.clone(), &io.env, self.positional.clone());
                self.status = sub.run_script(script, io).await;
                let (out, err) = captured.take();
                if !err.is_empty() {
                    let mut stderr: BoxWrite = Box::new(streams.stderr.clone());
                    write_all(&mut stderr, &err).await;
                }
                let text = String::from_utf8_lossy(&out);
                parts.push(Part::Lit(text.trim_end_matches('\n').to_string()));
            }
            words.push(parts);
        }
        Simple {
            words,
            redirects: simple.redirects.clone(),
        }
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
