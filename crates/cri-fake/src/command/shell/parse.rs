//! The syntax of a script: a tokenizer (words with their quoting and `$` expansions,
//! operators, redirections) and a parser into a small tree: lists of pipelines joined by
//! `;`, `&&` and `||`, whose commands are simple commands or the compound commands of
//! `compound` (`while`, `until`, `if`, `for`). Anything else is a syntax error, as a message.

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Part {
    Lit(String),
    Var(String),
    /// `$(…)`: the output of a script.
    Cmd(String),
}

pub(super) type Word = Vec<Part>;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Redirect {
    OutToErr,
    ErrToOut,
    OutNull,
    ErrNull,
}

#[derive(Debug, Default)]
pub(super) struct Simple {
    pub(super) words: Vec<Word>,
    pub(super) redirects: Vec<Redirect>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Connector {
    Seq,
    And,
    Or,
}

/// A script (or the list in a compound command): pipelines joined by connectors (the
/// connector *before* each pipeline).
pub(super) type Script = Vec<(Connector, Pipeline)>;

/// Commands joined by `|`; `!` before it negates its status. Only a pipeline of one command
/// may hold a compound command.
#[derive(Debug)]
pub(super) struct Pipeline {
    pub(super) negate: bool,
    pub(super) commands: Vec<Command>,
}

#[derive(Debug)]
pub(super) enum Command {
    Simple(Simple),
    /// `while COND; do BODY; done`, or `until` (`until` set).
    Loop {
        until: bool,
        cond: Script,
        body: Script,
    },
    /// `if COND; then BODY; [elif COND; then BODY;]… [else BODY;] fi`.
    If {
        branches: Vec<(Script, Script)>,
        otherwise: Option<Script>,
    },
    /// `for NAME [in WORDS…]; do BODY; done` (without `in`: the positional parameters).
    For {
        name: String,
        words: Option<Vec<Word>>,
        body: Script,
    },
}

#[derive(Debug, PartialEq)]
pub(super) enum Token {
    /// A word, and whether it was written plainly (no quoting, escapes or `$`): only such a
    /// word can be a keyword.
    Word(Word, bool),
    Op(&'static str),
    Redirect(Redirect),
}

impl Token {
    /// The keyword candidate this token is: a plain word.
    pub(super) fn plain(&self) -> Option<&str> {
        match self {
            Token::Word(word, true) => match word.as_slice() {
                [Part::Lit(text)] => Some(text),
                _ => None,
            },
            _ => None,
        }
    }
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
            _ => {
                let (word, plain) = word(&mut chars)?;
                tokens.push(Token::Word(word, plain));
            }
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

/// A word, and whether it was written plainly (see [`Token::Word`]).
fn word(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<(Word, bool), String> {
    let mut parts = Vec::new();
    let mut plain = true;
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
        if matches!(c, '\\' | '\'' | '"' | '$') {
            plain = false;
        }
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
    Ok((parts, plain))
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
        Some('(') => {
            chars.next();
            let mut depth = 1;
            let mut text = String::new();
            for c in chars.by_ref() {
                match c {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            return Ok(Part::Cmd(text));
                        }
                    }
                    _ => {}
                }
                text.push(c);
            }
            Err("unterminated command substitution: missing )".into())
        }
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

/// The keywords that end a list; in command position, anywhere else, a syntax error.
const CLOSERS: [&str; 6] = ["do", "done", "then", "elif", "else", "fi"];

/// The prefix of the error of a script that ends inside a compound command (one that more
/// lines may complete).
pub(super) const UNTERMINATED: &str = "syntax error: unterminated";

pub(super) fn parse(script: &str) -> Result<Script, String> {
    let mut parser = Parser {
        tokens: tokenize(script)?.into_iter().peekable(),
    };
    match parser.list(&[])? {
        (script, None) => Ok(script),
        (_, Some(keyword)) => Err(unexpected(keyword)),
    }
}

pub(super) fn unexpected(keyword: &str) -> String {
    format!("syntax error near unexpected `{keyword}'")
}

pub(super) struct Parser {
    pub(super) tokens: std::iter::Peekable<std::vec::IntoIter<Token>>,
}

impl Parser {
    /// The keyword candidate at the cursor (a plain word).
    pub(super) fn peek_plain(&mut self) -> Option<&str> {
        self.tokens.peek().and_then(Token::plain)
    }

    /// Skips the `;` and newlines at the cursor.
    pub(super) fn skip_separators(&mut self) {
        while self.tokens.next_if_eq(&Token::Op(";")).is_some() {}
    }

    /// A list of pipelines, up to the end of the script or to one of the keywords `stop` in
    /// command position (consumed, and returned).
    pub(super) fn list(
        &mut self,
        stop: &[&'static str],
    ) -> Result<(Script, Option<&'static str>), String> {
        let mut out = Script::new();
        let mut connector = Connector::Seq;
        loop {
            if connector == Connector::Seq {
                self.skip_separators();
            }
            if self.tokens.peek().is_none() {
                return Ok((out, None));
            }
            if let Some(keyword) = self.peek_plain()
                && let Some(closer) = CLOSERS.iter().find(|k| **k == keyword)
            {
                match stop.iter().find(|k| **k == keyword) {
                    Some(stop) if connector == Connector::Seq => {
                        self.tokens.next();
                        return Ok((out, Some(stop)));
                    }
                    _ => return Err(unexpected(closer)),
                }
            }
            out.push((connector, self.pipeline()?));
            connector = match self.tokens.next() {
                None => return Ok((out, None)),
                Some(Token::Op("&&")) => Connector::And,
                Some(Token::Op("||")) => Connector::Or,
                Some(Token::Op(_)) => Connector::Seq,
                Some(Token::Redirect(_)) => {
                    return Err("redirections of compound commands are not supported".into());
                }
                Some(word) => {
                    return Err(unexpected(word.plain().unwrap_or("word")));
                }
            };
            if connector != Connector::Seq {
                // A newline may follow && and ||.
                self.skip_separators();
                if self.tokens.peek().is_none() {
                    return Err("syntax error: unexpected end of script".into());
                }
            }
        }
    }

    fn pipeline(&mut self) -> Result<Pipeline, String> {
        let negate = self.peek_plain() == Some("!");
        if negate {
            self.tokens.next();
        }
        let mut commands = vec![self.command()?];
        while self.tokens.next_if_eq(&Token::Op("|")).is_some() {
            self.skip_separators();
            if self.tokens.peek().is_none() {
                return Err("syntax error: unexpected end of script after |".into());
            }
            commands.push(self.command()?);
        }
        if commands.len() > 1 && commands.iter().any(|c| !matches!(c, Command::Simple(_))) {
            return Err("pipes into or out of compound commands are not supported".into());
        }
        Ok(Pipeline { negate, commands })
    }

    fn command(&mut self) -> Result<Command, String> {
        match self.peek_plain() {
            Some("while") => return self.while_loop(false),
            Some("until") => return self.while_loop(true),
            Some("if") => return self.if_clause(),
            Some("for") => return self.for_loop(),
            Some(keyword) if keyword == "!" || CLOSERS.contains(&keyword) => {
                return Err(unexpected(keyword));
            }
            _ => {}
        }
        let mut simple = Simple::default();
        while let Some(token) = self.tokens.next_if(|t| !matches!(t, Token::Op(_))) {
            match token {
                Token::Word(word, _) => simple.words.push(word),
                Token::Redirect(r) => simple.redirects.push(r),
                Token::Op(_) => {}
            }
        }
        if simple.words.is_empty() {
            return Err(match self.tokens.peek() {
                Some(Token::Op(op)) => format!("syntax error near unexpected {op:?}"),
                _ => "syntax error: unexpected end of script".into(),
            });
        }
        Ok(Command::Simple(simple))
    }
}
