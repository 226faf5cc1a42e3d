//! YAML that users write (the config file, pod and container configs), read with a bound on
//! the nesting of flow collections (`[`, `{`).
//!
//! libyaml's scanner (under serde_yaml) takes time quadratic in that nesting before the
//! parser's own recursion limit (128) refuses it: 100,000 `[` took 77 s in a debug build.
//! Go's YAML parser caps the depth too. The check is a linear scan of the text that skips
//! quoted scalars and comments, and refuses deeper nesting than serde_yaml accepts anyway.

use serde::de::DeserializeOwned;

/// The deepest nesting of flow collections accepted: serde_yaml's recursion limit.
pub const MAX_NESTING: usize = 128;

/// Parses `text` as YAML, after checking its nesting; the error says what was wrong.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    check_nesting(text)?;
    serde_yaml::from_str(text).map_err(|e| e.to_string())
}

/// Refuses flow collections nested deeper than [`MAX_NESTING`], naming the line.
fn check_nesting(text: &str) -> Result<(), String> {
    let mut depth = 0usize;
    let mut line = 1;
    let mut after_space = true;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '[' | '{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(format!(
                        "line {line}: collections nested more than {MAX_NESTING} levels deep"
                    ));
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            '"' => {
                // A double-quoted scalar: `\"` does not end it.
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => {
                            chars.next();
                        }
                        '\n' => line += 1,
                        _ => {}
                    }
                }
            }
            // A single-quoted scalar (`''` inside is a quote: two ends in a row, the same).
            '\'' if after_space || depth > 0 => {
                for c in chars.by_ref() {
                    match c {
                        '\'' => break,
                        '\n' => line += 1,
                        _ => {}
                    }
                }
            }
            '#' if after_space => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                        break;
                    }
                }
            }
            '\n' => line += 1,
            _ => {}
        }
        after_space = c.is_whitespace() || matches!(c, '[' | '{' | ',' | ':');
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_nesting_is_refused_and_quotes_and_comments_do_not_count() {
        let deep = "[".repeat(100_000);
        let error = from_str::<serde_yaml::Value>(&format!("a: 1\nb: {deep}")).unwrap_err();
        assert!(
            error.contains("line 2") && error.contains("nested"),
            "{error}"
        );
        let shallow = format!("{}{}", "[".repeat(MAX_NESTING), "]".repeat(MAX_NESTING));
        assert!(check_nesting(&shallow).is_ok());
        let quoted = format!(
            "a: \"{}\"\nb: '{}'\n# {}\nc: it's [ok]\n",
            "[".repeat(500),
            "{".repeat(500),
            "[".repeat(500)
        );
        assert!(from_str::<serde_yaml::Value>(&quoted).is_ok());
    }
}
