//! JSON as crictl prints it.
//!
//! crictl prints two kinds of JSON: list responses straight from Go's `protojson` (indent of
//! two spaces, fields in proto order, `"key": value`), and `inspect*`/`info`
//! documents that went through Go's `encoding/json` maps (keys sorted, `<`, `>`, `&` escaped,
//! numbers as float64). The proto3 JSON itself comes from `cri_api_v1::json`; this module only
//! lays it out.

use std::io::{self, Write};

use serde_json::{Map, Number, Value};

/// A `serde_json` formatter with protojson's layout: two-space indent, `": "` between a key
/// and its value (Go's protojson writes one or two spaces there, chosen at random per build by
/// its `detrand`; one is stable, and what `encoding/json` writes for `inspect`), starting at a given depth so list items can be streamed one by one.
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
        out.write_all(b": ")
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
pub(crate) fn go_float(value: f64) -> String {
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

pub(super) fn number_text(number: &Number) -> String {
    if let Some(n) = number.as_i64() {
        n.to_string()
    } else if let Some(n) = number.as_u64() {
        n.to_string()
    } else {
        go_float(number.as_f64().unwrap_or(0.0))
    }
}

pub(crate) fn go_string(out: &mut impl Write, text: &str) -> io::Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
    fn protojson_layout_has_one_space_after_colons() {
        let mut out = Vec::new();
        write_protojson(&mut out, &json!({"a": [1], "b": {}}), 0).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\n  \"a\": [\n    1\n  ],\n  \"b\": {}\n}"
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
