//! Executes a parsed template on a JSON document, as crictl's `tmplExecuteRawJSON` does: the
//! data decoded with `UseNumber` (numbers are `json.Number`, a string type), the option
//! `missingkey=error`, and the functions `json`, `title`, `lower`, `upper` besides Go's
//! built-ins.

use std::fmt::Write as _;

use serde_json::Value;

use super::format::{go_json_line, sprint, sprintf, sprintln, type_name, value_text};
use super::parse::{Arg, Branch, Literal, Node, Pipe, Template};
use crate::output::json::number_text;

/// A value in a template: data from the document, or an integer/float computed or written as a
/// literal (JSON numbers stay `json.Number`, which Go treats as a string).
#[derive(Clone, Debug)]
pub enum V {
    J(Value),
    Int(i64),
    Float(f64),
}

impl V {
    pub fn null() -> V {
        V::J(Value::Null)
    }
}

enum Flow {
    Normal,
    Break,
    Continue,
}

struct Exec<'t> {
    vars: Vec<(String, V)>,
    out: String,
    /// The action being executed, for error messages.
    at: &'t str,
    text: &'t str,
}

/// Runs `template` on `data`.
pub fn execute(template: &Template, data: Value) -> Result<String, String> {
    let root = V::J(data);
    let mut exec = Exec {
        vars: vec![("$".into(), root.clone())],
        out: String::new(),
        at: "1:0",
        text: "",
    };
    exec.walk(&template.nodes, &root)?;
    Ok(exec.out)
}

fn truth(value: &V) -> bool {
    match value {
        V::Int(n) => *n != 0,
        V::Float(f) => *f != 0.0,
        V::J(Value::Null) => false,
        V::J(Value::Bool(b)) => *b,
        V::J(Value::Number(_)) => true,
        V::J(Value::String(s)) => !s.is_empty(),
        V::J(Value::Array(a)) => !a.is_empty(),
        V::J(Value::Object(m)) => !m.is_empty(),
    }
}

impl<'t> Exec<'t> {
    fn fail(&self, message: impl std::fmt::Display) -> String {
        format!(
            "template: tmplExecuteRawJSON:{}: executing \"tmplExecuteRawJSON\" at <{}>: {message}",
            self.at,
            self.text.trim()
        )
    }

    fn enter(&mut self, pipe: &'t Pipe) {
        self.at = &pipe.at;
        self.text = &pipe.text;
    }

    fn walk(&mut self, nodes: &'t [Node], dot: &V) -> Result<Flow, String> {
        for node in nodes {
            match node {
                Node::Text(text) => self.out.push_str(text),
                Node::Action(pipe) => {
                    self.enter(pipe);
                    let value = self.pipe(pipe, dot)?;
                    if pipe.vars.is_empty() {
                        let text = match &value {
                            V::J(Value::Null) => "<no value>".to_string(),
                            other => value_text(other),
                        };
                        self.out.push_str(&text);
                    }
                }
                Node::If(branch) | Node::With(branch) => {
                    let with = matches!(node, Node::With(_));
                    let mark = self.vars.len();
                    self.enter(&branch.pipe);
                    let value = self.pipe(&branch.pipe, dot)?;
                    let flow = if truth(&value) {
                        let inner = if with { value } else { dot.clone() };
                        self.walk(&branch.body, &inner)?
                    } else {
                        self.walk(&branch.otherwise, dot)?
                    };
                    self.vars.truncate(mark);
                    if !matches!(flow, Flow::Normal) {
                        return Ok(flow);
                    }
                }
                Node::Range(branch) => self.range(branch, dot)?,
                Node::Break => return Ok(Flow::Break),
                Node::Continue => return Ok(Flow::Continue),
            }
        }
        Ok(Flow::Normal)
    }

    fn range(&mut self, branch: &'t Branch, dot: &V) -> Result<(), String> {
        let mark = self.vars.len();
        self.enter(&branch.pipe);
        let value = self.pipe_value(&branch.pipe.cmds, dot)?;
        let items: Vec<(V, V)> = match value {
            V::J(Value::Array(items)) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (V::Int(i as i64), V::J(v)))
                .collect(),
            V::J(Value::Object(map)) => {
                let mut entries: Vec<_> = map.into_iter().collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                entries
                    .into_iter()
                    .map(|(k, v)| (V::J(Value::String(k)), V::J(v)))
                    .collect()
            }
            V::Int(n) if n >= 0 => (0..n).map(|i| (V::Int(i), V::Int(i))).collect(),
            V::J(Value::Null) => Vec::new(),
            other => {
                return Err(self.fail(format!("range can't iterate over {}", value_text(&other))));
            }
        };
        if items.is_empty() {
            self.walk(&branch.otherwise, dot)?;
            self.vars.truncate(mark);
            return Ok(());
        }
        for (key, item) in items {
            let inner = self.vars.len();
            match branch.pipe.vars.as_slice() {
                [] => {}
                [one] => self.bind(one, item.clone(), branch.pipe.assign)?,
                [first, second, ..] => {
                    self.bind(first, key, branch.pipe.assign)?;
                    self.bind(second, item.clone(), branch.pipe.assign)?;
                }
            }
            let flow = self.walk(&branch.body, &item)?;
            self.vars.truncate(inner.max(mark));
            if matches!(flow, Flow::Break) {
                break;
            }
        }
        self.vars.truncate(mark);
        Ok(())
    }

    fn bind(&mut self, name: &str, value: V, assign: bool) -> Result<(), String> {
        if assign {
            let slot = self.vars.iter_mut().rev().find(|(n, _)| n == name);
            match slot {
                Some(slot) => slot.1 = value,
                None => return Err(self.fail(format!("undefined variable: {name}"))),
            }
        } else {
            self.vars.push((name.to_string(), value));
        }
        Ok(())
    }

    fn pipe(&mut self, pipe: &'t Pipe, dot: &V) -> Result<V, String> {
        let value = self.pipe_value(&pipe.cmds, dot)?;
        for name in &pipe.vars {
            self.bind(name, value.clone(), pipe.assign)?;
        }
        Ok(value)
    }

    fn pipe_value(&mut self, cmds: &[Vec<Arg>], dot: &V) -> Result<V, String> {
        let mut piped = None;
        for cmd in cmds {
            piped = Some(self.command(cmd, dot, piped)?);
        }
        Ok(piped.unwrap_or_else(V::null))
    }

    fn command(&mut self, cmd: &[Arg], dot: &V, piped: Option<V>) -> Result<V, String> {
        let Some((head, rest)) = cmd.split_first() else {
            return Err(self.fail("empty command"));
        };
        if let Arg::Func(name) = head {
            return self.call(name, rest, dot, piped);
        }
        if !rest.is_empty() || piped.is_some() {
            return Err(self.fail(format!(
                "can't give argument to non-function {}",
                arg_text(head)
            )));
        }
        if let Arg::Lit(Literal::Json(Value::Null)) = head {
            return Err(self.fail("nil is not a command"));
        }
        self.arg(head, dot)
    }

    fn arg(&mut self, arg: &Arg, dot: &V) -> Result<V, String> {
        match arg {
            Arg::Dot(path) => self.fields(dot.clone(), path),
            Arg::Var(name, path) => {
                let value = self
                    .vars
                    .iter()
                    .rev()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| self.fail(format!("undefined variable: {name}")))?;
                self.fields(value, path)
            }
            Arg::Lit(Literal::Int(n)) => Ok(V::Int(*n)),
            Arg::Lit(Literal::Float(f)) => Ok(V::Float(*f)),
            Arg::Lit(Literal::Json(v)) => Ok(V::J(v.clone())),
            Arg::Func(name) => self.call(name, &[], dot, None),
            Arg::Paren(pipe, path) => {
                let value = self.pipe_value(&pipe.cmds, dot)?;
                self.fields(value, path)
            }
        }
    }

    fn fields(&self, mut value: V, path: &[String]) -> Result<V, String> {
        for field in path {
            value = match value {
                V::J(Value::Object(mut map)) => match map.remove(field) {
                    Some(v) => V::J(v),
                    None => return Err(self.fail(format!("map has no entry for key {field:?}"))),
                },
                V::J(Value::Null) => {
                    return Err(self.fail(format!("nil pointer evaluating interface {{}}.{field}")));
                }
                other => {
                    return Err(self.fail(format!(
                        "can't evaluate field {field} in type {}",
                        type_name(&other)
                    )));
                }
            };
        }
        Ok(value)
    }

    fn call(&mut self, name: &str, args: &[Arg], dot: &V, piped: Option<V>) -> Result<V, String> {
        // `and`/`or` stop at the first operand that decides, as Go's do.
        if name == "and" || name == "or" {
            let mut last = V::null();
            let count = args.len() + usize::from(piped.is_some());
            if count == 0 {
                return Err(self.fail(format!(
                    "wrong number of args for {name}: want at least 1 got 0"
                )));
            }
            for arg in args {
                last = self.arg(arg, dot)?;
                if truth(&last) == (name == "or") {
                    return Ok(last);
                }
            }
            return Ok(piped.unwrap_or(last));
        }
        let mut values = Vec::with_capacity(args.len() + 1);
        for arg in args {
            values.push(self.arg(arg, dot)?);
        }
        values.extend(piped);
        let want = |n: usize| -> Result<(), String> {
            if values.len() == n {
                Ok(())
            } else {
                Err(self.fail(format!(
                    "wrong number of args for {name}: want {n} got {}",
                    values.len()
                )))
            }
        };
        match name {
            "not" => {
                want(1)?;
                Ok(V::J(Value::Bool(!truth(&values[0]))))
            }
            "len" => {
                want(1)?;
                let n = match &values[0] {
                    V::J(Value::String(s)) => s.len(),
                    V::J(Value::Number(n)) => number_text(n).len(),
                    V::J(Value::Array(a)) => a.len(),
                    V::J(Value::Object(m)) => m.len(),
                    other => {
                        return Err(self.fail(format!(
                            "error calling len: len of type {}",
                            type_name(other)
                        )));
                    }
                };
                Ok(V::Int(n as i64))
            }
            "index" => {
                if values.is_empty() {
                    return Err(self.fail("wrong number of args for index: want at least 1 got 0"));
                }
                let mut item = values.remove(0);
                for key in values {
                    item = match (item, key) {
                        (V::J(Value::Object(mut map)), V::J(Value::String(k))) => {
                            V::J(map.remove(&k).unwrap_or(Value::Null))
                        }
                        (V::J(Value::Array(mut items)), V::Int(i)) => {
                            if i < 0 || i as usize >= items.len() {
                                return Err(self.fail(format!(
                                    "error calling index: index out of range: {i}"
                                )));
                            }
                            V::J(items.swap_remove(i as usize))
                        }
                        (V::J(Value::Null), _) => {
                            return Err(self.fail("error calling index: index of untyped nil"));
                        }
                        (item, key) => {
                            return Err(self.fail(format!(
                                "error calling index: cannot index {} with {}",
                                type_name(&item),
                                type_name(&key)
                            )));
                        }
                    };
                }
                Ok(item)
            }
            "print" => Ok(V::J(Value::String(sprint(&values)))),
            "println" => Ok(V::J(Value::String(sprintln(&values)))),
            "printf" => {
                let Some((format, rest)) = values.split_first() else {
                    return Err(self.fail("wrong number of args for printf: want at least 1 got 0"));
                };
                let V::J(Value::String(format)) = format else {
                    return Err(self.fail("wrong type for value; expected string"));
                };
                Ok(V::J(Value::String(sprintf(format, rest))))
            }
            "eq" | "ne" | "lt" | "le" | "gt" | "ge" => {
                if values.len() < 2 {
                    return Err(self.fail("missing argument for comparison"));
                }
                let result = if name == "eq" {
                    let mut any = false;
                    for other in &values[1..] {
                        any |= compare(&values[0], other)
                            .map_err(|e| self.fail(format!("error calling eq: {e}")))?
                            == std::cmp::Ordering::Equal;
                    }
                    any
                } else {
                    want(2)?;
                    let ordering = compare(&values[0], &values[1])
                        .map_err(|e| self.fail(format!("error calling {name}: {e}")))?;
                    if name != "ne" && matches!((&values[0], &values[1]), (V::J(Value::Bool(_)), _))
                    {
                        return Err(
                            self.fail(format!("error calling {name}: invalid type for comparison"))
                        );
                    }
                    match name {
                        "ne" => ordering.is_ne(),
                        "lt" => ordering.is_lt(),
                        "le" => ordering.is_le(),
                        "gt" => ordering.is_gt(),
                        _ => ordering.is_ge(),
                    }
                };
                Ok(V::J(Value::Bool(result)))
            }
            "json" => {
                want(1)?;
                Ok(V::J(Value::String(go_json_line(&values[0]))))
            }
            "title" | "lower" | "upper" => {
                want(1)?;
                let V::J(Value::String(text)) = &values[0] else {
                    return Err(self.fail(format!(
                        "wrong type for value; expected string; got {}",
                        type_name(&values[0])
                    )));
                };
                let mut out = String::with_capacity(text.len());
                match name {
                    "lower" => out.push_str(&text.to_lowercase()),
                    "upper" => out.push_str(&text.to_uppercase()),
                    _ => {
                        let mut start = true;
                        for ch in text.chars() {
                            if start && ch.is_alphabetic() {
                                let _ = write!(out, "{}", ch.to_uppercase());
                            } else {
                                out.push(ch);
                            }
                            start = !(ch.is_alphanumeric() || ch == '\'' || ch == '_');
                        }
                    }
                }
                Ok(V::J(Value::String(out)))
            }
            _ => Err(self.fail(format!("function {name:?} not defined"))),
        }
    }
}

fn arg_text(arg: &Arg) -> String {
    match arg {
        Arg::Dot(path) => format!(".{}", path.join(".")),
        Arg::Var(name, path) if path.is_empty() => name.clone(),
        Arg::Var(name, path) => format!("{name}.{}", path.join(".")),
        Arg::Lit(literal) => format!("{literal:?}"),
        Arg::Func(name) => name.clone(),
        Arg::Paren(..) => "(...)".into(),
    }
}

/// Go's basic comparison: bools, integers, floats and strings (`json.Number` is a string
/// kind, so it compares with strings, not with numbers).
fn compare(a: &V, b: &V) -> Result<std::cmp::Ordering, String> {
    let string = |v: &V| match v {
        V::J(Value::String(s)) => Some(s.clone()),
        V::J(Value::Number(n)) => Some(number_text(n)),
        _ => None,
    };
    match (a, b) {
        (V::Int(x), V::Int(y)) => Ok(x.cmp(y)),
        (V::Float(x), V::Float(y)) => x.partial_cmp(y).ok_or_else(|| "NaN".to_string()),
        (V::J(Value::Bool(x)), V::J(Value::Bool(y))) => Ok(x.cmp(y)),
        _ => match (string(a), string(b)) {
            (Some(x), Some(y)) => Ok(x.cmp(&y)),
            _ => match (a, b) {
                (V::J(Value::Array(_) | Value::Object(_) | Value::Null), _)
                | (_, V::J(Value::Array(_) | Value::Object(_) | Value::Null)) => {
                    Err("invalid type for comparison".into())
                }
                _ => Err("incompatible types for comparison".into()),
            },
        },
    }
}
