//! Go's `fmt` for template values: `%v` text (`map[k:v]`, `[a b]`, `<nil>`), `Sprint`,
//! `Sprintln`, `Sprintf`'s common verbs, and the `json` function's encoding.

use std::fmt::Write as _;

use serde_json::Value;

use super::exec::V;
use crate::output::json::{go_float, go_string, number_text};

/// The Go type a value has in crictl's templates, as errors and `%!verb(type=value)` name it.
pub fn type_name(value: &V) -> &'static str {
    match value {
        V::Int(_) => "int",
        V::Float(_) => "float64",
        V::J(Value::Null) => "<nil>",
        V::J(Value::Bool(_)) => "bool",
        V::J(Value::Number(_)) => "json.Number",
        V::J(Value::String(_)) => "string",
        V::J(Value::Array(_)) => "[]interface {}",
        V::J(Value::Object(_)) => "map[string]interface {}",
    }
}

/// Go's `%g` with the shortest precision, as `%v` prints a float64.
fn go_shortest(value: f64) -> String {
    if value == 0.0 {
        return "0".into();
    }
    if !value.is_finite() {
        return if value.is_nan() {
            "NaN".into()
        } else if value > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if !(-4..21).contains(&exponent) || exponent >= 21 {
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exponent.abs());
    }
    format!("{value}")
}

/// `%v` of a value.
pub fn value_text(value: &V) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &V) {
    match value {
        V::Int(n) => {
            let _ = write!(out, "{n}");
        }
        V::Float(f) => out.push_str(&go_shortest(*f)),
        V::J(json) => write_json_value(out, json),
    }
}

fn write_json_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number_text(n)),
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_json_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push_str("map[");
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(key);
                out.push(':');
                write_json_value(out, &map[key]);
            }
            out.push(']');
        }
    }
}

/// `%v` of a map or slice with every key and scalar element padded by `pad`, as Go's `fmt`
/// applies a width to the elements.
fn write_padded(out: &mut String, value: &Value, pad: &dyn Fn(String) -> String) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_padded(out, item, pad);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push_str("map[");
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(&pad(key.clone()));
                out.push(':');
                write_padded(out, &map[key], pad);
            }
            out.push(']');
        }
        scalar => {
            let mut text = String::new();
            write_json_value(&mut text, scalar);
            out.push_str(&pad(text));
        }
    }
}

/// Whether `fmt` treats the value as a string operand (`json.Number` is a string kind).
fn is_string(value: &V) -> bool {
    matches!(value, V::J(Value::String(_) | Value::Number(_)))
}

/// `fmt.Sprint`: a space between two operands when neither is a string.
pub fn sprint(values: &[V]) -> String {
    let mut out = String::new();
    for (i, value) in values.iter().enumerate() {
        if i > 0 && !is_string(value) && !is_string(&values[i - 1]) {
            out.push(' ');
        }
        write_value(&mut out, value);
    }
    out
}

/// `fmt.Sprintln`: spaces between all operands, then a newline.
pub fn sprintln(values: &[V]) -> String {
    let texts: Vec<String> = values.iter().map(value_text).collect();
    texts.join(" ") + "\n"
}

/// `%!verb(type=value)`, Go's text for a verb that does not fit the operand.
fn bad_verb(verb: char, value: &V) -> String {
    match value {
        V::J(Value::Null) => format!("%!{verb}(<nil>)"),
        other => format!("%!{verb}({}={})", type_name(other), value_text(other)),
    }
}

/// Go's `strconv.Quote` for printable text (control characters escaped).
fn quote(text: &str) -> String {
    let mut out = String::from("\"");
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `fmt.Sprintf` with the verbs templates use: `%v %s %d %q %t %f %e %g %x %X %%`, flags `-`,
/// `+`, `0`, a width and a precision.
pub fn sprintf(format: &str, args: &[V]) -> String {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    let mut next = 0;
    while let Some(ch) = chars.next() {
        if ch != '%' {
            out.push(ch);
            continue;
        }
        let (mut minus, mut plus, mut zero) = (false, false, false);
        while let Some(&flag) = chars.peek() {
            match flag {
                '-' => minus = true,
                '+' => plus = true,
                '0' => zero = true,
                ' ' | '#' => {}
                _ => break,
            }
            chars.next();
        }
        let mut width = String::new();
        while let Some(&d) = chars.peek().filter(|c| c.is_ascii_digit()) {
            width.push(d);
            chars.next();
        }
        let mut precision: Option<usize> = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut digits = String::new();
            while let Some(&d) = chars.peek().filter(|c| c.is_ascii_digit()) {
                digits.push(d);
                chars.next();
            }
            precision = Some(digits.parse().unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next) else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        next += 1;
        let numeric = matches!(arg, V::Int(_) | V::Float(_));
        let width: usize = width.parse().unwrap_or(0);
        let pad = |text: String, numeric: bool| -> String {
            let len = text.chars().count();
            if len >= width {
                return text;
            }
            let fill = width - len;
            if minus {
                text + &" ".repeat(fill)
            } else if zero && numeric {
                match text.strip_prefix('-') {
                    Some(digits) => format!("-{}{digits}", "0".repeat(fill)),
                    None => format!("{}{text}", "0".repeat(fill)),
                }
            } else {
                " ".repeat(fill) + &text
            }
        };
        // Go pads each element of a map or slice, not the whole.
        if let ('v' | 's', V::J(composite @ (Value::Array(_) | Value::Object(_)))) = (verb, arg) {
            write_padded(&mut out, composite, &|text| pad(text, false));
            continue;
        }
        let text = match (verb, arg) {
            ('v', _) => value_text(arg),
            (
                's',
                V::J(Value::String(_) | Value::Number(_) | Value::Array(_) | Value::Object(_)),
            ) => {
                let mut text = value_text(arg);
                if let Some(p) = precision {
                    text = text.chars().take(p).collect();
                }
                text
            }
            ('q', V::J(Value::String(s))) => quote(s),
            ('q', V::J(Value::Number(n))) => quote(&number_text(n)),
            ('d', V::Int(n)) => {
                if plus && *n >= 0 {
                    format!("+{n}")
                } else {
                    n.to_string()
                }
            }
            ('t', V::J(Value::Bool(b))) => b.to_string(),
            ('f' | 'F', V::Float(f)) => format!("{f:.*}", precision.unwrap_or(6)),
            ('f' | 'F', V::Int(_)) => bad_verb(verb, arg),
            ('e', V::Float(f)) => {
                let text = format!("{f:.*e}", precision.unwrap_or(6));
                let (m, e) = text.split_once('e').unwrap_or((&text, "0"));
                let e: i32 = e.parse().unwrap_or(0);
                format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
            }
            ('g', V::Float(f)) => go_shortest(*f),
            ('x', V::Int(n)) => format!("{n:x}"),
            ('X', V::Int(n)) => format!("{n:X}"),
            ('x', V::J(Value::String(s))) => s.bytes().map(|b| format!("{b:02x}")).collect(),
            ('X', V::J(Value::String(s))) => s.bytes().map(|b| format!("{b:02X}")).collect(),
            _ => bad_verb(verb, arg),
        };
        out.push_str(&pad(text, numeric));
    }
    if next < args.len() {
        out.push_str("%!(EXTRA ");
        let extra: Vec<String> = args[next..]
            .iter()
            .map(|a| format!("{}={}", type_name(a), value_text(a)))
            .collect();
        out.push_str(&extra.join(", "));
        out.push(')');
    }
    out
}

/// What crictl's `json` template function writes: `json.NewEncoder(..).Encode(v)`, compact
/// with sorted keys, `<>&` escaped, and a newline.
pub fn go_json_line(value: &V) -> String {
    let mut out = Vec::new();
    match value {
        V::Int(n) => out.extend_from_slice(n.to_string().as_bytes()),
        V::Float(f) => out.extend_from_slice(go_float(*f).as_bytes()),
        V::J(json) => compact(&mut out, json),
    }
    out.push(b'\n');
    String::from_utf8(out).unwrap_or_default()
}

fn compact(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => out.extend_from_slice(number_text(n).as_bytes()),
        Value::String(s) => {
            let _ = go_string(out, s);
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                compact(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let _ = go_string(out, key);
                out.push(b':');
                compact(out, &map[key]);
            }
            out.push(b'}');
        }
    }
}
