//! The parser of the compound commands: `while`/`until` loops, `if`, and `for` loops.
//! Their keywords count only in command position (the first word of a command, written
//! plainly), as in POSIX sh: `echo done` prints done.

use super::parse::{Command, Parser, Script, Token, UNTERMINATED, unexpected};

impl Parser {
    /// The list of a compound command `opener` up to one of `stop`: the list (never empty)
    /// and the keyword that ended it.
    fn part(
        &mut self,
        opener: &str,
        stop: &[&'static str],
    ) -> Result<(Script, &'static str), String> {
        match self.list(stop)? {
            (_, None) => Err(format!(
                "{UNTERMINATED} `{opener}': `{}' expected",
                stop.join("' or `")
            )),
            (script, Some(end)) if script.is_empty() => Err(unexpected(end)),
            (script, Some(end)) => Ok((script, end)),
        }
    }

    /// `while COND; do BODY; done` (or `until`), at the `while`.
    pub(super) fn while_loop(&mut self, until: bool) -> Result<Command, String> {
        let opener = if until { "until" } else { "while" };
        self.tokens.next();
        let (cond, _) = self.part(opener, &["do"])?;
        let (body, _) = self.part(opener, &["done"])?;
        Ok(Command::Loop { until, cond, body })
    }

    /// `if COND; then BODY; [elif COND; then BODY;]… [else BODY;] fi`, at the `if`.
    pub(super) fn if_clause(&mut self) -> Result<Command, String> {
        self.tokens.next();
        let mut branches = Vec::new();
        loop {
            let (cond, _) = self.part("if", &["then"])?;
            let (body, end) = self.part("if", &["elif", "else", "fi"])?;
            branches.push((cond, body));
            match end {
                "elif" => continue,
                "else" => {
                    let (otherwise, _) = self.part("if", &["fi"])?;
                    return Ok(Command::If {
                        branches,
                        otherwise: Some(otherwise),
                    });
                }
                _ => {
                    return Ok(Command::If {
                        branches,
                        otherwise: None,
                    });
                }
            }
        }
    }

    /// `for NAME [in WORDS…]; do BODY; done`, at the `for`.
    pub(super) fn for_loop(&mut self) -> Result<Command, String> {
        self.tokens.next();
        let name = match self.tokens.next() {
            Some(token) if token.plain().is_some_and(is_name) => {
                token.plain().unwrap_or_default().to_string()
            }
            None => return Err(format!("{UNTERMINATED} `for': a name expected")),
            Some(_) => return Err("syntax error: bad for loop variable".into()),
        };
        self.skip_separators();
        let mut words = None;
        if self.peek_plain() == Some("in") {
            self.tokens.next();
            let mut list = Vec::new();
            loop {
                match self.tokens.next() {
                    Some(Token::Word(word, _)) => list.push(word),
                    Some(Token::Op(";")) => break,
                    None => return Err(format!("{UNTERMINATED} `for': `do' expected")),
                    Some(Token::Op(op)) => {
                        return Err(format!("syntax error near unexpected {op:?}"));
                    }
                    Some(Token::Redirect(_)) => {
                        return Err("syntax error: a redirection in a for loop's words".into());
                    }
                }
            }
            words = Some(list);
            self.skip_separators();
        }
        if self.peek_plain() == Some("do") {
            self.tokens.next();
        } else if self.tokens.peek().is_none() {
            return Err(format!("{UNTERMINATED} `for': `do' expected"));
        } else {
            return Err("syntax error: `do' expected after for's words".into());
        }
        let (body, _) = self.part("for", &["done"])?;
        Ok(Command::For { name, words, body })
    }
}

fn is_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}
