//! Go `text/template` source to a tree: text, actions (`{{ pipeline }}`), `if`, `range`,
//! `with` (each with `else`/`else if`), `break`, `continue`, comments and trim markers.

use serde_json::Value;

/// A parsed template.
#[derive(Debug)]
pub struct Template {
    pub nodes: Vec<Node>,
}

#[derive(Debug)]
pub enum Node {
    Text(String),
    Action(Pipe),
    If(Branch),
    With(Branch),
    Range(Branch),
    Break,
    Continue,
}

/// `if`/`with`/`range`: the pipeline, its body and what `else` holds.
#[derive(Debug)]
pub struct Branch {
    pub pipe: Pipe,
    pub body: Vec<Node>,
    pub otherwise: Vec<Node>,
}

/// `$a, $b := cmd | cmd ...`
#[derive(Debug)]
pub struct Pipe {
    pub vars: Vec<String>,
    /// `=` (assign to a declared variable) rather than `:=`.
    pub assign: bool,
    pub cmds: Vec<Vec<Arg>>,
    /// Where the action is, for errors: `line:column`.
    pub at: String,
    /// The action's text, for errors.
    pub text: String,
}

#[derive(Debug, Clone)]
pub enum Arg {
    /// `.` followed by fields (`.` alone has none).
    Dot(Vec<String>),
    /// `$name` followed by fields.
    Var(String, Vec<String>),
    /// A literal: string, number, boolean or `nil`.
    Lit(Literal),
    /// A function name.
    Func(String),
    /// `( pipeline )` followed by fields.
    Paren(Box<PipeArg>, Vec<String>),
}

/// A parenthesized pipeline (boxed so `Arg` stays small).
#[derive(Debug, Clone)]
pub struct PipeArg {
    pub cmds: Vec<Vec<Arg>>,
}

#[derive(Debug, Clone)]
pub enum Literal {
    Int(i64),
    Float(f64),
    Json(Value),
}

/// A parse error, as Go words it: `template: NAME:LINE: message`.
fn error(line: usize, message: impl std::fmt::Display) -> String {
    format!("template: tmplExecuteRawJSON:{line}: {message}")
}

/// Parses a template.
pub fn parse(source: &str) -> Result<Template, String> {
    let pieces = split(source)?;
    let mut at = 0;
    let (nodes, end) = parse_list(&pieces, &mut at)?;
    match end {
        None => Ok(Template { nodes }),
        Some((keyword, line)) => Err(error(line, format!("unexpected {{{{{keyword}}}}}"))),
    }
}

/// Raw text or the inside of an action, with its line and column.
enum Piece {
    Text(String),
    Action {
        text: String,
        line: usize,
        col: usize,
    },
}

/// Splits the source into text and actions, applying the `{{-`/`-}}` trim markers and
/// dropping comments.
fn split(source: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut rest = source;
    let mut consumed = 0;
    let mut trim_next = false;
    while let Some(open) = rest.find("{{") {
        let mut text = &rest[..open];
        if trim_next {
            text = text.trim_start();
        }
        let after = &rest[open + 2..];
        let trim_before =
            after.starts_with("- ") || after.starts_with("-\t") || after.starts_with("-\n");
        if trim_before {
            text = text.trim_end();
        }
        let line = 1 + source[..consumed + open].matches('\n').count();
        let col = consumed + open - source[..consumed + open].rfind('\n').map_or(0, |n| n + 1);
        if !text.is_empty() {
            pieces.push(Piece::Text(text.to_string()));
        }
        let inner_start = if trim_before { 2 } else { 0 };
        let body = &after[inner_start..];
        let close = find_close(body).ok_or_else(|| error(line, "unclosed action"))?;
        let mut inner = &body[..close];
        trim_next = false;
        if inner.ends_with(" -") || inner.ends_with("\t-") || inner.ends_with("\n-") {
            inner = &inner[..inner.len() - 2];
            trim_next = true;
        }
        let trimmed = inner.trim();
        if trimmed.starts_with("/*") {
            if !trimmed.ends_with("*/") {
                return Err(error(line, "unclosed comment"));
            }
        } else {
            pieces.push(Piece::Action {
                text: inner.to_string(),
                line,
                col,
            });
        }
        let advance = open + 2 + inner_start + close + 2;
        consumed += advance;
        rest = &rest[advance..];
    }
    let text = if trim_next { rest.trim_start() } else { rest };
    if !text.is_empty() {
        pieces.push(Piece::Text(text.to_string()));
    }
    Ok(pieces)
}

/// The offset of the `}}` closing an action, skipping quoted strings.
fn find_close(body: &str) -> Option<usize> {
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' | b'`' | b'\'' => {
                let quote = bytes[i];
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    if bytes[i] == b'\\' && quote != b'`' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'}' if bytes.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// The `end` or `else ...` that closed a list, with its line.
type End = (String, usize);

/// Parses nodes up to an `end`/`else` (returned with its line) or the end of input.
fn parse_list(pieces: &[Piece], at: &mut usize) -> Result<(Vec<Node>, Option<End>), String> {
    let mut nodes = Vec::new();
    while *at < pieces.len() {
        let piece = &pieces[*at];
        *at += 1;
        let (text, line, col) = match piece {
            Piece::Text(text) => {
                nodes.push(Node::Text(text.clone()));
                continue;
            }
            Piece::Action { text, line, col } => (text.trim(), *line, *col),
        };
        let (keyword, rest) = match text.split_once(char::is_whitespace) {
            Some((k, r)) => (k, r.trim()),
            None => (text, ""),
        };
        let pipe = |source: &str| parse_pipe(source, line, col, text);
        match keyword {
            "end" => return Ok((nodes, Some(("end".into(), line)))),
            "else" => {
                return Ok((
                    nodes,
                    Some((format!("else {rest}").trim().to_string(), line)),
                ));
            }
            "break" => nodes.push(Node::Break),
            "continue" => nodes.push(Node::Continue),
            "if" | "with" | "range" => {
                let branch = parse_branch(pieces, at, pipe(rest)?, keyword, line)?;
                nodes.push(match keyword {
                    "if" => Node::If(branch),
                    "with" => Node::With(branch),
                    _ => Node::Range(branch),
                });
            }
            "define" | "template" | "block" => {
                return Err(error(
                    line,
                    format!("{{{{{keyword}}}}} is not supported by this crictl"),
                ));
            }
            _ => nodes.push(Node::Action(pipe(text)?)),
        }
    }
    Ok((nodes, None))
}

/// The body and `else` of an `if`/`with`/`range` whose pipeline is parsed; `else if` and
/// `else with` nest as Go's parser does.
fn parse_branch(
    pieces: &[Piece],
    at: &mut usize,
    pipe: Pipe,
    keyword: &str,
    line: usize,
) -> Result<Branch, String> {
    let (body, end) = parse_list(pieces, at)?;
    let Some((end, end_line)) = end else {
        return Err(error(line, format!("unexpected EOF in {keyword}")));
    };
    if end == "end" {
        return Ok(Branch {
            pipe,
            body,
            otherwise: Vec::new(),
        });
    }
    let rest = end.strip_prefix("else").unwrap_or("").trim();
    if rest.is_empty() {
        let (otherwise, end) = parse_list(pieces, at)?;
        return match end {
            Some((e, _)) if e == "end" => Ok(Branch {
                pipe,
                body,
                otherwise,
            }),
            _ => Err(error(end_line, format!("expected end in {keyword}"))),
        };
    }
    // `else if ...` / `else with ...`: a nested branch that shares this `end`.
    let (inner, source) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    if inner != keyword || keyword == "range" {
        return Err(error(
            end_line,
            format!("unexpected else {inner} in {keyword}"),
        ));
    }
    let nested_pipe = parse_pipe(source.trim(), end_line, 0, rest)?;
    let nested = parse_branch(pieces, at, nested_pipe, keyword, end_line)?;
    let node = if keyword == "if" {
        Node::If(nested)
    } else {
        Node::With(nested)
    };
    Ok(Branch {
        pipe,
        body,
        otherwise: vec![node],
    })
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Lit(Literal),
    Open,
    Close,
    Bar,
    Declare,
    Assign,
    Comma,
}

impl PartialEq for Literal {
    fn eq(&self, other: &Self) -> bool {
        format!("{self:?}") == format!("{other:?}")
    }
}

fn tokens(source: &str, line: usize) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = source.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Token::Open);
                i += 1
            }
            ')' => {
                out.push(Token::Close);
                i += 1
            }
            '|' => {
                out.push(Token::Bar);
                i += 1
            }
            ',' => {
                out.push(Token::Comma);
                i += 1
            }
            ':' if chars.get(i + 1) == Some(&'=') => {
                out.push(Token::Declare);
                i += 2
            }
            '=' => {
                out.push(Token::Assign);
                i += 1
            }
            '"' => {
                let mut text = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(error(line, "unterminated quoted string")),
                        Some('"') => break,
                        Some('\\') => {
                            i += 1;
                            text.push(match chars.get(i) {
                                Some('n') => '\n',
                                Some('t') => '\t',
                                Some('r') => '\r',
                                Some('\\') => '\\',
                                Some('"') => '"',
                                Some(other) => {
                                    return Err(error(line, format!("unknown escape \\{other}")));
                                }
                                None => return Err(error(line, "unterminated quoted string")),
                            });
                        }
                        Some(&ch) => text.push(ch),
                    }
                    i += 1;
                }
                i += 1;
                out.push(Token::Lit(Literal::Json(Value::String(text))));
            }
            '`' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&ch| ch == '`')
                    .ok_or_else(|| error(line, "unterminated raw quoted string"))?;
                out.push(Token::Lit(Literal::Json(Value::String(
                    chars[i + 1..i + 1 + end].iter().collect(),
                ))));
                i += end + 2;
            }
            _ => {
                let start = i;
                while i < chars.len() && !ends_word(&chars, i) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                out.push(word_token(word, line)?);
            }
        }
    }
    Ok(out)
}

/// Whether the word being read ends at `chars[i]`.
fn ends_word(chars: &[char], i: usize) -> bool {
    chars[i].is_whitespace()
        || "()|,=".contains(chars[i])
        || (chars[i] == ':' && chars.get(i + 1) == Some(&'='))
}

fn word_token(word: String, line: usize) -> Result<Token, String> {
    let first = word.chars().next().unwrap_or(' ');
    if first.is_ascii_digit() || ((first == '-' || first == '+') && word.len() > 1) {
        if let Ok(n) = word.parse::<i64>() {
            return Ok(Token::Lit(Literal::Int(n)));
        }
        if let Some(n) = word
            .strip_prefix("0x")
            .and_then(|h| i64::from_str_radix(h, 16).ok())
        {
            return Ok(Token::Lit(Literal::Int(n)));
        }
        return word
            .parse::<f64>()
            .map(|f| Token::Lit(Literal::Float(f)))
            .map_err(|_| error(line, format!("bad number syntax: {word:?}")));
    }
    Ok(match word.as_str() {
        "true" => Token::Lit(Literal::Json(Value::Bool(true))),
        "false" => Token::Lit(Literal::Json(Value::Bool(false))),
        "nil" => Token::Lit(Literal::Json(Value::Null)),
        _ => Token::Word(word),
    })
}

/// The fields of `.a.b` or `$x.a.b` after the head.
fn fields(path: &str) -> Vec<String> {
    path.split('.')
        .filter(|f| !f.is_empty())
        .map(str::to_string)
        .collect()
}

fn parse_pipe(source: &str, line: usize, col: usize, text: &str) -> Result<Pipe, String> {
    let mut tokens = tokens(source, line)?;
    let mut vars = Vec::new();
    let mut assign = false;
    // `$a, $b :=` / `$a =` at the start.
    if let Some(at) = tokens
        .iter()
        .position(|t| matches!(t, Token::Declare | Token::Assign))
    {
        let head = &tokens[..at];
        let is_decl = head.iter().enumerate().all(|(i, t)| match t {
            Token::Word(w) => i % 2 == 0 && w.starts_with('$') && !w[1..].contains('.'),
            Token::Comma => i % 2 == 1,
            _ => false,
        });
        if is_decl && !head.is_empty() {
            assign = tokens[at] == Token::Assign;
            vars = head
                .iter()
                .filter_map(|t| match t {
                    Token::Word(w) => Some(w.clone()),
                    _ => None,
                })
                .collect();
            tokens.drain(..=at);
        }
    }
    let mut at = 0;
    let cmds = parse_cmds(&tokens, &mut at, line, false)?;
    if cmds.is_empty() {
        return Err(error(
            line,
            format!("missing value for command in {{{{{text}}}}}"),
        ));
    }
    Ok(Pipe {
        vars,
        assign,
        cmds,
        at: format!("{line}:{col}"),
        text: text.to_string(),
    })
}

fn parse_cmds(
    tokens: &[Token],
    at: &mut usize,
    line: usize,
    nested: bool,
) -> Result<Vec<Vec<Arg>>, String> {
    let mut cmds = Vec::new();
    let mut cmd = Vec::new();
    while *at < tokens.len() {
        let token = tokens[*at].clone();
        *at += 1;
        match token {
            Token::Bar => {
                if cmd.is_empty() {
                    return Err(error(line, "missing command before |"));
                }
                cmds.push(std::mem::take(&mut cmd));
            }
            Token::Close if nested => {
                if !cmd.is_empty() {
                    cmds.push(cmd);
                }
                return Ok(cmds);
            }
            Token::Open => {
                let inner = parse_cmds(tokens, at, line, true)?;
                if inner.is_empty() {
                    return Err(error(line, "missing command in ()"));
                }
                // `(pipe).field.field`
                let mut path = Vec::new();
                if let Some(Token::Word(w)) = tokens
                    .get(*at)
                    .filter(|t| matches!(t, Token::Word(w) if w.starts_with('.')))
                {
                    path = fields(w);
                    *at += 1;
                }
                cmd.push(Arg::Paren(Box::new(PipeArg { cmds: inner }), path));
            }
            Token::Lit(literal) => cmd.push(Arg::Lit(literal)),
            Token::Word(word) => cmd.push(if let Some(path) = word.strip_prefix('.') {
                Arg::Dot(fields(path))
            } else if word.starts_with('$') {
                let (name, path) = word
                    .split_once('.')
                    .map_or((word.as_str(), ""), |(n, p)| (n, p));
                Arg::Var(name.to_string(), fields(path))
            } else if word.chars().all(|c| c.is_alphanumeric() || c == '_') {
                Arg::Func(word)
            } else {
                return Err(error(line, format!("unexpected {word:?} in command")));
            }),
            other => return Err(error(line, format!("unexpected {other:?} in command"))),
        }
    }
    if nested {
        return Err(error(line, "unclosed left paren"));
    }
    if !cmd.is_empty() {
        cmds.push(cmd);
    }
    Ok(cmds)
}
