//! Writing JSON and YAML the way crictl does.
//!
//! crictl prints two kinds of JSON: list responses straight from Go's `protojson` (indent of
//! two spaces, fields in proto order, `"key":  value` with two spaces), and `inspect*`/`info`
//! documents that went through Go's `encoding/json` maps (keys sorted, `<`, `>`, `&` escaped,
//! numbers as float64). YAML is `sigs.k8s.io/yaml`'s conversion of that JSON (go-yaml v2).
//! The proto3 JSON itself comes from `cri_api_v1::json`; this module only lays it out.

use std::io::{self, Write};

use serde_json::{Map, Number, Value};

/// A `serde_json` formatter with protojson's layout: two-space indent, `":  "` between a key
/// and its value, starting at a given depth so list items can be streamed one by one.
pub struct ProtojsonFormatter {
    depth: usize,
    has_value: bool,
}

impl ProtojsonFormatter {
    /// A formatter whose outermost value starts `depth` levels deep.
    pub fn at_depth(depth: usize) -> Self {
        ProtojsonFormatter {
            depth,
            has_value: false,
        }
    }
}

fn indent<W: ?Sized + Write>(out: &mut W, depth: usize) -> io::Result<()> {
    for _ in 0..depth {
        out.write_all(b"  ")?;
    }
    Ok(())
}

impl serde_json::ser::Formatter for ProtojsonFormatter {
    fn begin_array<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        out.write_all(b"[")
    }
    fn end_array<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            out.write_all(b"\n")?;
            indent(out, self.depth)?;
        }
        out.write_all(b"]")
    }
    fn begin_array_value<W: ?Sized + Write>(&mut self, out: &mut W, first: bool) -> io::Result<()> {
        out.write_all(if first { b"\n" } else { b",\n" })?;
        indent(out, self.depth)
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, _out: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
    fn begin_object<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        out.write_all(b"{")
    }
    fn end_object<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            out.write_all(b"\n")?;
            indent(out, self.depth)?;
        }
        out.write_all(b"}")
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, out: &mut W, first: bool) -> io::Result<()> {
        out.write_all(if first { b"\n" } else { b",\n" })?;
        indent(out, self.depth)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        out.write_all(b":  ")
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, _out: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// Writes `value` with protojson's layout at `depth`.
pub fn write_protojson<W: Write, T: serde::Serialize + ?Sized>(
    out: &mut W,
    value: &T,
    depth: usize,
) -> io::Result<()> {
    let mut serializer =
        serde_json::Serializer::with_formatter(&mut *out, ProtojsonFormatter::at_depth(depth));
    value.serialize(&mut serializer).map_err(io::Error::other)
}

/// Makes numbers what they become in a Go `map[string]any` (float64): integers beyond 2^53
/// lose their low digits as Go's do.
pub fn go_numbers(value: &mut Value) {
    match value {
        Value::Number(number) => {
            let exact = number
                .as_i64()
                .map(|n| n.unsigned_abs() <= 1 << 53)
                .unwrap_or(false)
                || number.as_u64().map(|n| n <= 1 << 53).unwrap_or(false);
            if let Some(n) = number
                .as_f64()
                .filter(|_| !exact)
                .and_then(Number::from_f64)
            {
                *number = n;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(go_numbers),
        Value::Object(map) => map.values_mut().for_each(go_numbers),
        _ => {}
    }
}

/// Go's `encoding/json` text of a float64.
fn go_float(value: f64) -> String {
    let abs = value.abs();
    if abs == 0.0 || (1e-6..1e21).contains(&abs) {
        return format!("{value}");
    }
    let text = format!("{value:e}");
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let sign = if exponent < 0 { '-' } else { '+' };
    let digits = exponent.abs();
    if exponent < 0 {
        format!("{mantissa}e{sign}{digits}")
    } else {
        format!("{mantissa}e{sign}{digits:02}")
    }
}

fn number_text(number: &Number) -> String {
    if let Some(n) = number.as_i64() {
        n.to_string()
    } else if let Some(n) = number.as_u64() {
        n.to_string()
    } else {
        go_float(number.as_f64().unwrap_or(0.0))
    }
}

fn go_string(out: &mut impl Write, text: &str) -> io::Result<()> {
    out.write_all(b"\"")?;
    let mut start = 0;
    for (at, ch) in text.char_indices() {
        let escape: Option<&str> = match ch {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            '\u{8}' => Some("\\b"),
            '\u{c}' => Some("\\f"),
            _ => None,
        };
        let special = escape.is_some()
            || (ch as u32) < 0x20
            || matches!(ch, '<' | '>' | '&' | '\u{2028}' | '\u{2029}');
        if !special {
            continue;
        }
        out.write_all(&text.as_bytes()[start..at])?;
        match escape {
            Some(escape) => out.write_all(escape.as_bytes())?,
            None => write!(out, "\\u{:04x}", ch as u32)?,
        }
        start = at + ch.len_utf8();
    }
    out.write_all(&text.as_bytes()[start..])?;
    out.write_all(b"\"")
}

fn sorted(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    entries
}

/// Go's `json.Marshal` of a `map[string]any` document, then `json.Indent(.., "", "  ")`.
pub fn write_go_json(out: &mut impl Write, value: &Value, depth: usize) -> io::Result<()> {
    match value {
        Value::Null => out.write_all(b"null"),
        Value::Bool(b) => out.write_all(if *b { b"true" } else { b"false" }),
        Value::Number(n) => out.write_all(number_text(n).as_bytes()),
        Value::String(s) => go_string(out, s),
        Value::Array(items) if items.is_empty() => out.write_all(b"[]"),
        Value::Array(items) => {
            out.write_all(b"[")?;
            for (index, item) in items.iter().enumerate() {
                out.write_all(if index == 0 { b"\n" } else { b",\n" })?;
                indent(out, depth + 1)?;
                write_go_json(out, item, depth + 1)?;
            }
            out.write_all(b"\n")?;
            indent(out, depth)?;
            out.write_all(b"]")
        }
        Value::Object(map) if map.is_empty() => out.write_all(b"{}"),
        Value::Object(map) => {
            out.write_all(b"{")?;
            for (index, (key, item)) in sorted(map).into_iter().enumerate() {
                out.write_all(if index == 0 { b"\n" } else { b",\n" })?;
                indent(out, depth + 1)?;
                go_string(out, key)?;
                out.write_all(b": ")?;
                write_go_json(out, item, depth + 1)?;
            }
            out.write_all(b"\n")?;
            indent(out, depth)?;
            out.write_all(b"}")
        }
    }
}

/// Go's `map[...]` `%v` text of a `map[string]string` (sorted keys), as crictl prints `Info:`.
pub fn go_map_string<'a>(entries: impl IntoIterator<Item = (&'a String, &'a String)>) -> String {
    let mut entries: Vec<_> = entries.into_iter().collect();
    entries.sort();
    let body: Vec<String> = entries.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    format!("map[{}]", body.join(" "))
}

// ---------------------------------------------------------------------------------------
// YAML, as go-yaml v2 (through sigs.k8s.io/yaml) writes a JSON document.

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

/// Whether go-yaml v2 reads `s` as a timestamp (`2006-1-2`, with a time and zone or not).
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |from: usize, min: usize, max: usize| -> Option<usize> {
        let n = b[from.min(b.len())..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        (min..=max).contains(&n).then_some(from + n)
    };
    let Some(i) = digits(0, 4, 4) else {
        return false;
    };
    if b.get(i) != Some(&b'-') {
        return false;
    }
    let Some(i) = digits(i + 1, 1, 2) else {
        return false;
    };
    if b.get(i) != Some(&b'-') {
        return false;
    }
    let Some(i) = digits(i + 1, 1, 2) else {
        return false;
    };
    if i == b.len() {
        return true;
    }
    if !matches!(b[i], b'T' | b't' | b' ') {
        return false;
    }
    let Some(i) = digits(i + 1, 1, 2) else {
        return false;
    };
    if b.get(i) != Some(&b':') {
        return false;
    }
    let Some(i) = digits(i + 1, 1, 2) else {
        return false;
    };
    if b.get(i) != Some(&b':') {
        return false;
    }
    let Some(mut i) = digits(i + 1, 1, 2) else {
        return false;
    };
    if b.get(i) == Some(&b'.') {
        match digits(i + 1, 1, 9) {
            Some(next) => i = next,
            None => return false,
        }
    }
    let zone = &s[i..];
    zone.is_empty()
        || zone == "Z"
        || (zone.len() == 6
            && matches!(zone.as_bytes()[0], b'+' | b'-')
            && zone.as_bytes()[3] == b':'
            && zone[1..3]
                .bytes()
                .chain(zone[4..].bytes())
                .all(|c| c.is_ascii_digit()))
}

/// What go-yaml v2 would read a plain scalar as, when that is not a string.
fn resolves_to_non_string(s: &str) -> bool {
    const WORDS: [&str; 29] = [
        "", "~", "null", "Null", "NULL", "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "n", "N",
        "no", "No", "NO", "off", "Off", "OFF", "true", "True", "TRUE", "false", "False", "FALSE",
        ".inf", ".Inf",
    ];
    if WORDS.contains(&s)
        || matches!(
            s,
            ".INF"
                | "+.inf"
                | "+.Inf"
                | "+.INF"
                | "-.inf"
                | "-.Inf"
                | "-.INF"
                | ".nan"
                | ".NaN"
                | ".NAN"
                | "<<"
        )
    {
        return true;
    }
    if is_timestamp(s) {
        return true;
    }
    let first = s.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return false;
    }
    let plain = s.replace('_', "");
    let unsigned = plain.trim_start_matches(['-', '+']);
    if unsigned.parse::<u64>().is_ok()
        || plain
            .parse::<f64>()
            .is_ok_and(|_| !plain.contains(['i', 'n', 'I', 'N']))
    {
        return true;
    }
    if let Some(hex) = unsigned.strip_prefix("0x") {
        return !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit());
    }
    if let Some(bin) = unsigned.strip_prefix("0b") {
        return !bin.is_empty() && bin.chars().all(|c| c == '0' || c == '1');
    }
    // Base-60 floats ("1:20") are quoted too.
    let parts: Vec<&str> = plain.split(':').collect();
    parts.len() > 1
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

#[derive(Clone, Copy, PartialEq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

fn printable(c: char) -> bool {
    matches!(c, '\n' | '\u{85}')
        || (' '..='~').contains(&c)
        || ('\u{a0}'..='\u{d7ff}').contains(&c)
        || (('\u{e000}'..='\u{fffd}').contains(&c) && c != '\u{feff}')
        || ('\u{10000}'..='\u{10ffff}').contains(&c)
}

/// libyaml's scalar analysis and style choice, for a string scalar in block context.
fn scalar_style(s: &str, simple_key: bool) -> Style {
    let requested = if s.contains('\n') {
        Style::Literal
    } else if !resolves_to_non_string(s) {
        Style::Plain
    } else {
        Style::Double
    };
    let chars: Vec<char> = s.chars().collect();
    let (mut block_ind, mut flow_ind, mut line_breaks, mut special) = (false, false, false, false);
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut prev_space, mut prev_break) = (false, false);
    if s.starts_with("---") || s.starts_with("...") {
        block_ind = true;
        flow_ind = true;
    }
    let mut preceded_by_ws = true;
    for (i, &c) in chars.iter().enumerate() {
        let next = chars.get(i + 1).copied();
        let followed_by_ws = matches!(
            next,
            None | Some(' ' | '\t' | '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
        );
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => {
                    flow_ind = true;
                    block_ind = true;
                }
                '?' | ':' => {
                    flow_ind = true;
                    if followed_by_ws {
                        block_ind = true;
                    }
                }
                '-' if followed_by_ws => {
                    flow_ind = true;
                    block_ind = true;
                }
                _ => {}
            }
        } else {
            match c {
                ',' | '?' | '[' | ']' | '{' | '}' => flow_ind = true,
                ':' => {
                    flow_ind = true;
                    if followed_by_ws {
                        block_ind = true;
                    }
                }
                '#' if preceded_by_ws => {
                    flow_ind = true;
                    block_ind = true;
                }
                _ => {}
            }
        }
        if !printable(c) {
            special = true;
        }
        let is_break = matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}');
        if is_break {
            line_breaks = true;
        }
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if i + 1 == chars.len() {
                trailing_space = true;
            }
            if prev_break {
                break_space = true;
            }
            prev_space = true;
            prev_break = false;
        } else if is_break {
            if i == 0 {
                leading_break = true;
            }
            if i + 1 == chars.len() {
                trailing_break = true;
            }
            if prev_space {
                space_break = true;
            }
            prev_space = false;
            prev_break = true;
        } else {
            prev_space = false;
            prev_break = false;
        }
        preceded_by_ws = matches!(c, ' ' | '\t') || is_break;
    }
    let (mut block_plain, mut single, mut block) = (true, true, true);
    if leading_space || leading_break || trailing_space || trailing_break {
        block_plain = false;
    }
    if trailing_space {
        block = false;
    }
    if break_space {
        block_plain = false;
        single = false;
    }
    if space_break || special {
        block_plain = false;
        single = false;
        block = false;
    }
    if line_breaks {
        block_plain = false;
    }
    if block_ind {
        block_plain = false;
    }
    let _ = flow_ind;
    let mut style = requested;
    if style == Style::Plain && (!block_plain || (s.is_empty() && simple_key)) {
        style = Style::Single;
    }
    if style == Style::Single && !single {
        style = Style::Double;
    }
    if style == Style::Literal && (!block || simple_key) {
        style = Style::Double;
    }
    style
}

const BEST_WIDTH: usize = 80;

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
        assert!(is_timestamp("2026-11-23T20:12:52.662817807Z"));
        assert!(is_timestamp("0001-01-01T00:00:00Z"));
        assert!(is_timestamp("2026-11-23"));
        assert!(!is_timestamp("2026-11-23x"));
        assert!(!is_timestamp("12026-11-23"));
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

    #[test]
    fn go_json_sorts_and_escapes() {
        let mut out = Vec::new();
        write_go_json(&mut out, &json!({"b": "<&>", "a": [1, {}], "c": 1.5}), 0).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\n  \"a\": [\n    1,\n    {}\n  ],\n  \"b\": \"\\u003c\\u0026\\u003e\",\n  \"c\": 1.5\n}"
        );
    }

    #[test]
    fn protojson_layout_has_two_spaces_after_colons() {
        let mut out = Vec::new();
        write_protojson(&mut out, &json!({"a": [1], "b": {}}), 0).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\n  \"a\":  [\n    1\n  ],\n  \"b\":  {}\n}"
        );
    }

    #[test]
    fn go_floats() {
        assert_eq!(go_float(1795464776355204789.0), "1795464776355204900");
        assert_eq!(go_float(1.5), "1.5");
        assert_eq!(go_float(1e21), "1e+21");
        assert_eq!(go_float(1e-7), "1e-7");
    }
}
