//! YAML as crictl prints it: `sigs.k8s.io/yaml`'s conversion of a JSON document, written by
//! go-yaml v2 (keys in its natural order, libyaml's choice of scalar styles, lines folded at
//! 80 columns).

mod style;

use std::io::{self, Write};

use serde_json::{Map, Value};

use self::style::{Style, printable, scalar_style};
use super::json::number_text;

/// go-yaml v2's key order: numbers inside keys compare as numbers, letters after others.
fn yaml_key_less(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            i += 1;
            continue;
        }
        let al = ar[i].is_alphabetic();
        let bl = br[i].is_alphabetic();
        if al && bl {
            return ar[i].cmp(&br[i]);
        }
        if al || bl {
            return if bl {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        let (mut an, mut bn) = (0i64, 0i64);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && ar[j - 1].is_ascii_digit() {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an.wrapping_mul(10).wrapping_add(ar[ai] as i64 - '0' as i64);
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn.wrapping_mul(10).wrapping_add(br[bi] as i64 - '0' as i64);
            bi += 1;
        }
        if an != bn {
            return an.cmp(&bn);
        }
        if ai != bi {
            return ai.cmp(&bi);
        }
        return ar[i].cmp(&br[i]);
    }
    ar.len().cmp(&br.len())
}

/// libyaml's preferred line width: a scalar folds at a space past this column.
const BEST_WIDTH: usize = 80;

/// go-yaml v2's emitter in block style, tracking the column so long scalars fold as it folds them.
struct YamlWriter<'a, W: Write> {
    out: &'a mut W,
    column: usize,
}

impl<W: Write> YamlWriter<'_, W> {
    fn raw(&mut self, text: &str) -> io::Result<()> {
        self.column += text.chars().count();
        self.out.write_all(text.as_bytes())
    }
    fn newline(&mut self, indent: usize) -> io::Result<()> {
        self.out.write_all(b"\n")?;
        for _ in 0..indent {
            self.out.write_all(b" ")?;
        }
        self.column = indent;
        Ok(())
    }

    fn plain(&mut self, s: &str, indent: usize, simple_key: bool) -> io::Result<()> {
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                let next_space = chars.get(i + 1) == Some(&' ');
                if !simple_key && !spaces && self.column > BEST_WIDTH && !next_space {
                    self.newline(indent)?;
                } else {
                    self.raw(" ")?;
                }
                spaces = true;
            } else {
                self.raw(c.encode_utf8(&mut [0; 4]))?;
                spaces = false;
            }
        }
        Ok(())
    }

    fn single(&mut self, s: &str, indent: usize, simple_key: bool) -> io::Result<()> {
        self.raw("'")?;
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                if !simple_key
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i != 0
                    && i + 1 != chars.len()
                    && chars[i + 1] != ' '
                {
                    self.newline(indent)?;
                } else {
                    self.raw(" ")?;
                }
                spaces = true;
            } else {
                if c == '\'' {
                    self.raw("'")?;
                }
                self.raw(c.encode_utf8(&mut [0; 4]))?;
                spaces = false;
            }
        }
        self.raw("'")
    }

    fn double(&mut self, s: &str, indent: usize, simple_key: bool) -> io::Result<()> {
        self.raw("\"")?;
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if !printable(c)
                || c == '\u{feff}'
                || matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
                || c == '"'
                || c == '\\'
            {
                let escaped = match c {
                    '\0' => "\\0".to_string(),
                    '\u{7}' => "\\a".into(),
                    '\u{8}' => "\\b".into(),
                    '\t' => "\\t".into(),
                    '\n' => "\\n".into(),
                    '\u{b}' => "\\v".into(),
                    '\u{c}' => "\\f".into(),
                    '\r' => "\\r".into(),
                    '\u{1b}' => "\\e".into(),
                    '"' => "\\\"".into(),
                    '\\' => "\\\\".into(),
                    '\u{85}' => "\\N".into(),
                    '\u{a0}' => "\\_".into(),
                    '\u{2028}' => "\\L".into(),
                    '\u{2029}' => "\\P".into(),
                    c if (c as u32) <= 0xff => format!("\\x{:02X}", c as u32),
                    c if (c as u32) <= 0xffff => format!("\\u{:04X}", c as u32),
                    c => format!("\\U{:08X}", c as u32),
                };
                self.raw(&escaped)?;
                spaces = false;
            } else if c == ' ' {
                if !simple_key
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i != 0
                    && i + 1 != chars.len()
                {
                    self.newline(indent)?;
                    if chars.get(i + 1) == Some(&' ') {
                        self.raw("\\")?;
                    }
                } else {
                    self.raw(" ")?;
                }
                spaces = true;
            } else {
                self.raw(c.encode_utf8(&mut [0; 4]))?;
                spaces = false;
            }
        }
        self.raw("\"")
    }

    fn literal(&mut self, s: &str, indent: usize) -> io::Result<()> {
        let chomp = if !s.ends_with('\n') {
            "-"
        } else if s.len() == 1 || s[..s.len() - 1].ends_with('\n') {
            "+"
        } else {
            ""
        };
        let lead = if s.starts_with(' ') || s.starts_with('\n') {
            "2"
        } else {
            ""
        };
        self.raw(&format!("|{lead}{chomp}"))?;
        let body = s.strip_suffix('\n').unwrap_or(s);
        for line in body.split('\n') {
            if line.is_empty() {
                self.out.write_all(b"\n")?;
                self.column = 0;
            } else {
                self.newline(indent)?;
                self.raw(line)?;
            }
        }
        Ok(())
    }

    fn string(&mut self, s: &str, indent: usize, simple_key: bool) -> io::Result<()> {
        match scalar_style(s, simple_key) {
            Style::Plain => self.plain(s, indent, simple_key),
            Style::Single => self.single(s, indent, simple_key),
            Style::Double => self.double(s, indent, simple_key),
            Style::Literal => self.literal(s, indent),
        }
    }

    fn scalar(&mut self, value: &Value, indent: usize) -> io::Result<()> {
        match value {
            Value::Null => self.raw("null"),
            Value::Bool(b) => self.raw(if *b { "true" } else { "false" }),
            Value::Number(n) => {
                let text = number_text(n);
                // A float64 that is integral comes back from JSON as an int.
                self.raw(&text)
            }
            Value::String(s) => self.string(s, indent, false),
            Value::Array(_) => self.raw("[]"),
            Value::Object(_) => self.raw("{}"),
        }
    }

    /// A mapping whose first key is written at the current position (column `indent`).
    fn mapping(&mut self, map: &Map<String, Value>, indent: usize) -> io::Result<()> {
        let mut entries: Vec<_> = map.iter().collect();
        entries.sort_by(|a, b| yaml_key_less(a.0, b.0));
        for (index, (key, value)) in entries.into_iter().enumerate() {
            if index > 0 {
                self.newline(indent)?;
            }
            self.string(key, indent, true)?;
            self.raw(":")?;
            match value {
                Value::Object(inner) if !inner.is_empty() => {
                    self.newline(indent + 2)?;
                    self.mapping(inner, indent + 2)?;
                }
                Value::Array(items) if !items.is_empty() => {
                    self.newline(indent)?;
                    self.sequence(items, indent)?;
                }
                _ => {
                    self.raw(" ")?;
                    self.scalar(value, indent + 2)?;
                }
            }
        }
        Ok(())
    }

    /// A sequence whose first `- ` is written at the current position (column `indent`).
    fn sequence(&mut self, items: &[Value], indent: usize) -> io::Result<()> {
        for (index, item) in items.iter().enumerate() {
            if index > 0 {
                self.newline(indent)?;
            }
            self.raw("-")?;
            match item {
                Value::Object(inner) if !inner.is_empty() => {
                    self.raw(" ")?;
                    self.mapping(inner, indent + 2)?;
                }
                Value::Array(inner) if !inner.is_empty() => {
                    self.raw(" ")?;
                    self.sequence(inner, indent + 2)?;
                }
                _ => {
                    self.raw(" ")?;
                    self.scalar(item, indent + 2)?;
                }
            }
        }
        Ok(())
    }
}

/// Writes a JSON document as go-yaml v2 does, ending with a newline.
pub fn write_yaml(out: &mut impl Write, value: &Value) -> io::Result<()> {
    let mut writer = YamlWriter { out, column: 0 };
    match value {
        Value::Object(map) if !map.is_empty() => writer.mapping(map, 0)?,
        Value::Array(items) if !items.is_empty() => writer.sequence(items, 0)?,
        other => writer.scalar(other, 0)?,
    }
    writer.out.write_all(b"\n")
}

/// Writes one item of a top-level sequence (`- ...`) under a key of the document root, as
/// part of a streamed `key:\n- item\n- item` document.
pub fn write_yaml_item(out: &mut impl Write, item: &Value) -> io::Result<()> {
    let mut writer = YamlWriter { out, column: 0 };
    writer.sequence(std::slice::from_ref(item), 0)?;
    writer.out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn yaml(value: &Value) -> String {
        let mut out = Vec::new();
        write_yaml(&mut out, value).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn yaml_quotes_like_go_yaml() {
        let doc = json!({"a": "", "b": "123", "c": "0.3.1", "d": "x: y", "e": "{\"a\":1}",
            "f": "line\nnext", "g": true, "h": null, "i": [], "j": {}, "k": "yes", "l": 5});
        assert_eq!(
            yaml(&doc),
            "a: \"\"\nb: \"123\"\nc: 0.3.1\nd: 'x: y'\ne: '{\"a\":1}'\nf: |-\n  line\n  next\ng: true\nh: null\ni: []\nj: {}\nk: \"yes\"\nl: 5\n"
        );
    }

    #[test]
    fn yaml_quotes_timestamps() {
        assert_eq!(
            yaml(&json!({"t": "2026-11-23T20:12:52Z"})),
            "t: \"2026-11-23T20:12:52Z\"\n"
        );
    }

    #[test]
    fn yaml_nests_like_go_yaml() {
        let doc = json!({"containers": [{"id": "x", "labels": {"a": "b"}, "list": ["p", "q"]}]});
        assert_eq!(
            yaml(&doc),
            "containers:\n- id: x\n  labels:\n    a: b\n  list:\n  - p\n  - q\n"
        );
    }

    #[test]
    fn yaml_keys_sort_numbers_naturally() {
        let mut keys = vec!["a10", "a9", "B", "a", "a.b", "ab"];
        keys.sort_by(|a, b| yaml_key_less(a, b));
        assert_eq!(keys, ["B", "a", "a.b", "a9", "a10", "ab"]);
    }
}
