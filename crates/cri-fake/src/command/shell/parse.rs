//! The syntax of a script: a tokenizer (words with their quoting and `$` expansions,
//! operators, redirections) and a parser into pipelines joined by `;`, `&&` and `||`.
//! Anything else is a syntax error, as a message.

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

/// A script: pipelines joined by connectors (the connector *before* each pipeline).
pub(super) type Script = Vec<(Connector, Vec<Simple>)>;

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

pub(super) fn parse(script: &str) -> Result<Script, String> {
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
