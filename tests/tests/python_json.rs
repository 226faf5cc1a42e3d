//! Proto3 JSON at the edges, against an independent implementation: Python's `protobuf`
//! `json_format` (see `python_wire.rs` for the peer).
//!
//! For every message type of both versions (`__for_each_message!`), JSON documents are built from
//! the descriptor with edge values in every field: unknown enum numbers (`42`, `-7`), `NaN`,
//! `±Infinity`, `-0.0`, the smallest subnormal and the largest double, a double that needs
//! exact parsing (`1.3449762396857517e-284`), i32/u32/i64/u64 extremes as numbers and strings,
//! the number forms `1e3`, `"1e3"`, `1.0`, `"-0"`, `null` for every kind of field, empty
//! strings, lists, maps and messages, standard and URL-safe base64, both field name styles.
//! Then, for each document:
//!
//! 1. **Parse.** Rust and Python both accept it and read the same value (Python's bytes,
//!    decoded by prost, give the same canonical JSON as Rust's parse).
//! 2. **Write, with each combination of options** (emit defaults × proto field names × enums
//!    as numbers): each side writes the value it read from the document; both texts must be
//!    the same JSON value (doubles compared bit for bit, so `-0.0` counts), and each side must
//!    read the other's text back to the document's value.
//! 3. **Ignore unknown fields.** With an unknown field and unknown enum names added, both
//!    reject the document, and both accept it (to the same value) with `ignore_unknown_fields`.
//! 4. **Reject.** For every field, a wrong value of its kind (`1.5` or `2147483648` for an
//!    int32, `"nan"` for a double, `[null]` for a list, a duplicate map key, …): both reject it.
//!
//! Where Python is laxer than the spec and Go (it accepts `"1_000"` and `"+5"` for integers,
//! `"inf"` and `true` for a double, `true` and `1.5` for an enum, junk in base64, `[]` for a
//! message, the same field under both of its names), no case is built: Rust follows the spec
//! and Go's protojson there, and rejects them.

use cri_api_v1::json::{JsonMessage, JsonOptions};
use cri_tests::python::WirePeer;
use prost::Message;
use prost_reflect::{DescriptorPool, FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Value as Json, json};

/// What the test does with one generated type.
struct Case {
    name: &'static str,
    /// Parses with options; answers the canonical JSON of the result.
    parse: fn(&str, JsonOptions) -> Result<String, String>,
    /// Parses canonical JSON and writes it with options.
    write: fn(&str, JsonOptions) -> Result<String, String>,
    /// Decodes protobuf bytes; answers the canonical JSON.
    decode: fn(&[u8]) -> Result<String, String>,
}

fn parse<M: JsonMessage + serde::Serialize>(text: &str, o: JsonOptions) -> Result<String, String> {
    let m: M = cri_api_v1::json::from_str(text, o).map_err(|e| e.to_string())?;
    serde_json::to_string(&m).map_err(|e| e.to_string())
}

fn write<M: JsonMessage>(text: &str, o: JsonOptions) -> Result<String, String> {
    let m: M = cri_api_v1::json::from_str(text, JsonOptions::new()).map_err(|e| e.to_string())?;
    cri_api_v1::json::to_string(&m, o).map_err(|e| e.to_string())
}

fn decode<M: Message + Default + serde::Serialize>(bytes: &[u8]) -> Result<String, String> {
    let m = M::decode(bytes).map_err(|e| e.to_string())?;
    serde_json::to_string(&m).map_err(|e| e.to_string())
}

// The same, for v1alpha2 (its own `json` module and trait).
fn parse2<M: cri_api_v1alpha2::json::JsonMessage + serde::Serialize>(
    text: &str,
    o: JsonOptions,
) -> Result<String, String> {
    let m: M = cri_api_v1alpha2::json::from_str(text, options2(o)).map_err(|e| e.to_string())?;
    serde_json::to_string(&m).map_err(|e| e.to_string())
}

fn write2<M: cri_api_v1alpha2::json::JsonMessage>(
    text: &str,
    o: JsonOptions,
) -> Result<String, String> {
    let m: M = cri_api_v1alpha2::json::from_str(text, cri_api_v1alpha2::json::JsonOptions::new())
        .map_err(|e| e.to_string())?;
    cri_api_v1alpha2::json::to_string(&m, options2(o)).map_err(|e| e.to_string())
}

fn options2(o: JsonOptions) -> cri_api_v1alpha2::json::JsonOptions {
    cri_api_v1alpha2::json::JsonOptions::new()
        .emit_defaults(o.emit_defaults)
        .proto_field_names(o.proto_field_names)
        .enums_as_numbers(o.enums_as_numbers)
        .ignore_unknown_fields(o.ignore_unknown_fields)
}

fn v1_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    macro_rules! case {
        ($ty:ty, $name:literal) => {
            cases.push(Case {
                name: $name,
                parse: parse::<$ty>,
                write: write::<$ty>,
                decode: decode::<$ty>,
            });
        };
    }
    cri_api_v1::__for_each_message!(case);
    cases
}

fn v1alpha2_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    macro_rules! case {
        ($ty:ty, $name:literal) => {
            cases.push(Case {
                name: $name,
                parse: parse2::<$ty>,
                write: write2::<$ty>,
                decode: decode::<$ty>,
            });
        };
    }
    cri_api_v1alpha2::__for_each_message!(case);
    cases
}

// ---- edge documents from the descriptor -------------------------------------------------------

/// Valid JSON texts for one value of `kind` (`null` excepted), edge values first.
fn values(kind: &Kind) -> Vec<String> {
    let v = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    match kind {
        Kind::Double | Kind::Float => v(&[
            r#""NaN""#,
            r#""Infinity""#,
            r#""-Infinity""#,
            "-0.0",
            "1.3449762396857517e-284",
            "5e-324",
            "1.7976931348623157e308",
            r#""1.5""#,
            "0",
            "-2.5E-3",
        ]),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => v(&[
            "-2147483648",
            "2147483647",
            r#""-0""#,
            "1e3",
            r#""1e3""#,
            "1.0",
            r#""-2147483648""#,
            "0",
        ]),
        Kind::Uint32 | Kind::Fixed32 => v(&["4294967295", r#""4294967295""#, "1E2", "0", "7.0"]),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => v(&[
            r#""-9223372036854775808""#,
            r#""9223372036854775807""#,
            "-9007199254740992",
            r#""1e3""#,
            "0",
            "-0",
            "9223372036854775807",
        ]),
        Kind::Uint64 | Kind::Fixed64 => v(&[
            r#""18446744073709551615""#,
            "18446744073709551615",
            r#""0""#,
            "1e19",
            r#""2.5e1""#,
        ]),
        Kind::Bool => v(&["true", "false"]),
        Kind::String => v(&[r#""""#, r#""ü \u0000 \" \\ / \ud83d\ude00 中文""#, r#""x""#]),
        Kind::Bytes => v(&[r#""""#, r#""AP+A/w==""#, r#""AP-A_w""#, r#""YWJj""#]),
        Kind::Enum(e) => {
            let mut out = v(&["42", "-7", "0"]);
            out.extend(e.values().map(|value| format!("{:?}", value.name())));
            out
        }
        Kind::Message(_) => unreachable!("messages are built by `document`"),
    }
}

/// The `i`th variant of an edge document of `desc`: every field set (or `null`, or empty),
/// under its JSON name or its proto name in turn.
fn document(desc: &MessageDescriptor, i: usize, depth: usize) -> String {
    let fields: Vec<String> = desc
        .fields()
        .enumerate()
        .map(|(j, field)| {
            let name = if (i + j).is_multiple_of(2) {
                field.json_name()
            } else {
                field.name()
            };
            format!("{name:?}:{}", field_value(&field, i + j, depth))
        })
        .collect();
    format!("{{{}}}", fields.join(","))
}

fn element(kind: &Kind, i: usize, depth: usize) -> String {
    match kind {
        Kind::Message(m) if depth >= 3 => {
            let _ = m;
            "{}".to_string()
        }
        Kind::Message(m) => document(m, i, depth + 1),
        other => {
            let values = values(other);
            values[i % values.len()].clone()
        }
    }
}

fn field_value(field: &FieldDescriptor, i: usize, depth: usize) -> String {
    let kind = field.kind();
    if i % 7 == 6 {
        return "null".to_string();
    }
    if field.is_map() {
        let entry = kind.as_message().expect("map entry");
        let value = entry.map_entry_value_field().kind();
        return match i % 3 {
            0 => "{}".to_string(),
            _ => format!(
                r#"{{"":{},"k-ü":{},"z":{}}}"#,
                element(&value, i, depth),
                element(&value, i + 1, depth),
                element(&value, i + 2, depth)
            ),
        };
    }
    if field.is_list() {
        return match i % 3 {
            0 => "[]".to_string(),
            _ => format!(
                "[{},{},{}]",
                element(&kind, i, depth),
                element(&kind, i + 1, depth),
                element(&kind, i + 2, depth)
            ),
        };
    }
    match &kind {
        Kind::Message(_) if i % 5 == 4 => "{}".to_string(),
        _ => element(&kind, i, depth),
    }
}

/// A value of the field's kind that both must reject.
fn bad_value(field: &FieldDescriptor, i: usize) -> Option<String> {
    let kind = field.kind();
    if field.is_map() {
        return Some([r#"{"a":"1","a":"1"}"#, r#"{"a":null}"#, "[]"][i % 3].to_string());
    }
    if field.is_list() {
        return Some(["[null]", r#""x""#, "5"][i % 3].to_string());
    }
    let bad: &[&str] = match kind {
        Kind::Double | Kind::Float => &[r#""nan""#, r#""1.0.0""#, r#""""#, r#""abc""#, "1e400"],
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => &[
            "1.5",
            r#""1 ""#,
            "2147483648",
            r#""0x10""#,
            "true",
            r#""""#,
            "-2147483649",
        ],
        Kind::Uint32 | Kind::Fixed32 => &["-1", "4294967296", "0.5", r#""1.5e0""#],
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => &[
            r#""9223372036854775808""#,
            "1.5",
            r#""-9223372036854775809""#,
            "{}",
        ],
        Kind::Uint64 | Kind::Fixed64 => &[r#""-1""#, r#""18446744073709551616""#, "[]"],
        Kind::Bool => &[r#""true""#, "1", "0"],
        Kind::String => &["1", "true", "{}"],
        Kind::Bytes => &["1", "[]"],
        Kind::Enum(_) => &[r#""NOT_A_VALUE""#, "2147483648", "{}"],
        Kind::Message(_) => &["5", "true", r#""x""#],
    };
    Some(bad[i % bad.len()].to_string())
}

/// Is `a` the same JSON value as `b`, with numbers compared exactly (doubles by their bits, so
/// that `-0.0` differs from `0.0`)? Returns where they differ.
fn json_differences(a: &Json, b: &Json, path: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Json::Object(x), Json::Object(y)) => {
            for key in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                match (x.get(key), y.get(key)) {
                    (Some(p), Some(q)) => json_differences(p, q, &format!("{path}.{key}"), out),
                    (p, q) => out.push(format!("{path}.{key}: {p:?} vs {q:?}")),
                }
            }
        }
        (Json::Array(x), Json::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                json_differences(p, q, &format!("{path}[{i}]"), out);
            }
        }
        (Json::Number(x), Json::Number(y)) => {
            let same = if x.is_f64() || y.is_f64() {
                x.is_f64()
                    && y.is_f64()
                    && x.as_f64().map(f64::to_bits) == y.as_f64().map(f64::to_bits)
            } else {
                x == y
            };
            if !same {
                out.push(format!("{path}: {x} vs {y}"));
            }
        }
        _ if a != b => out.push(format!("{path}: {a} vs {b}")),
        _ => {}
    }
}

const VARIANTS: usize = 7;

fn option_sets() -> Vec<JsonOptions> {
    let mut out = Vec::new();
    for bits in 0..8u8 {
        out.push(
            JsonOptions::new()
                .emit_defaults(bits & 1 != 0)
                .proto_field_names(bits & 2 != 0)
                .enums_as_numbers(bits & 4 != 0),
        );
    }
    out
}

fn unhex(text: &Json) -> Vec<u8> {
    let text = text.as_str().expect("hex string");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Adds an unknown field and replaces enum names by unknown ones.
fn with_unknowns(desc: &MessageDescriptor, i: usize) -> String {
    let mut fields: Vec<String> = desc
        .fields()
        .enumerate()
        .map(|(j, field)| {
            let value = match field.kind() {
                Kind::Enum(_) if !field.is_map() && field.is_list() => {
                    r#"["NOT_A_VALUE_EITHER",1]"#.to_string()
                }
                Kind::Enum(_) if !field.is_map() => r#""NOT_A_VALUE""#.to_string(),
                _ => field_value(&field, i + j, 0),
            };
            format!("{:?}:{value}", field.json_name())
        })
        .collect();
    fields.insert(
        fields.len() / 2,
        r#""zzUnknownField":{"a":[1,null,"x"]}"#.to_string(),
    );
    format!("{{{}}}", fields.join(","))
}

fn agree_at_the_edges(version: &str, descriptor_set: &[u8], cases: Vec<Case>) {
    let pool = DescriptorPool::decode(descriptor_set).expect("the crate's descriptor set");
    let mut peer = WirePeer::start();
    let mut failures: Vec<String> = Vec::new();
    let mut checks = 0usize;

    // 1. Parse: both accept every edge document, to the same value.
    let mut parse_items = Vec::new();
    let mut expected = Vec::new();
    for case in &cases {
        let desc = pool.get_message_by_name(case.name).expect("in the pool");
        for i in 0..VARIANTS {
            let text = document(&desc, i, 0);
            match (case.parse)(&text, JsonOptions::new()) {
                Ok(canonical) => expected.push(Some(canonical)),
                Err(error) => {
                    failures.push(format!("{}: Rust rejects {text}: {error}", case.name));
                    expected.push(None);
                }
            }
            parse_items.push(json!({"op": "parse", "type": case.name, "json": text}));
        }
    }
    let answers = peer.request(&json!({"op": "json", "items": parse_items}));
    let answers = answers.as_array().expect("answers");
    for ((item, answer), rust) in parse_items.iter().zip(answers).zip(&expected) {
        checks += 1;
        let case = cases.iter().find(|c| c.name == item["type"]).unwrap();
        if let Some(error) = answer.get("error") {
            failures.push(format!(
                "{}: Python rejects {}: {error}",
                case.name, item["json"]
            ));
            continue;
        }
        let python = (case.decode)(&unhex(&answer["bytes"]));
        if let (Some(rust), Ok(python)) = (rust, &python)
            && rust != python
        {
            failures.push(format!(
                "{}: {} reads as\n      rust   {rust}\n      python {python}",
                case.name, item["json"]
            ));
        }
    }

    // 2. Write the same document with each combination of options: Python from its own parse
    //    of the document, Rust from its own. The texts must be the same JSON value; each side
    //    must read the other's text back to the document's value.
    let documents: Vec<&Json> = parse_items.iter().map(|item| &item["json"]).collect();
    let mut items = Vec::new();
    for ((case, canonical), document) in cases
        .iter()
        .flat_map(|c| std::iter::repeat_n(c, VARIANTS))
        .zip(&expected)
        .zip(&documents)
    {
        let Some(canonical) = canonical else { continue };
        for options in option_sets() {
            match (case.write)(canonical, options) {
                Ok(text) => items.push((
                    case,
                    canonical.clone(),
                    options,
                    text,
                    json!({"op": "write", "type": case.name, "json": document, "options": {
                        "emit_defaults": options.emit_defaults,
                        "proto_field_names": options.proto_field_names,
                        "enums_as_numbers": options.enums_as_numbers,
                    }}),
                )),
                Err(error) => failures.push(format!(
                    "{}: Rust cannot write {canonical}: {error}",
                    case.name
                )),
            }
        }
    }
    let writes: Vec<&Json> = items.iter().map(|(_, _, _, _, r)| r).collect();
    let written = peer.request(&json!({"op": "json", "items": writes}));
    let reads: Vec<Json> = items
        .iter()
        .map(|(case, _, _, text, _)| json!({"op": "parse", "type": case.name, "json": text}))
        .collect();
    let read = peer.request(&json!({"op": "json", "items": reads}));
    for (((case, canonical, options, rust_text, _), answer), read) in items
        .iter()
        .zip(written.as_array().expect("answers"))
        .zip(read.as_array().expect("answers"))
    {
        checks += 2;
        match read.get("bytes").map(|bytes| (case.decode)(&unhex(bytes))) {
            Some(Ok(back)) if back == *canonical => {}
            other => failures.push(format!(
                "{} {options:?}: Python reads Rust's {rust_text} as {other:?} {}, not {canonical}",
                case.name, read["error"]
            )),
        }
        let Some(python_text) = answer["json"].as_str() else {
            failures.push(format!(
                "{} {options:?}: Python cannot write its value: {}",
                case.name, answer["error"]
            ));
            continue;
        };
        let mut diff = Vec::new();
        json_differences(
            &serde_json::from_str(rust_text).unwrap(),
            &serde_json::from_str(python_text).unwrap(),
            "",
            &mut diff,
        );
        if !diff.is_empty() {
            failures.push(format!(
                "{} {options:?}: JSON differs (rust vs python) {diff:?}\n      rust   {rust_text}\n      python {python_text}",
                case.name
            ));
        }
        match (case.parse)(python_text, JsonOptions::new()) {
            Ok(back) if back == *canonical => {}
            Ok(back) => failures.push(format!(
                "{} {options:?}: Rust reads Python's {python_text} as {back}, not {canonical}",
                case.name
            )),
            Err(error) => failures.push(format!(
                "{} {options:?}: Rust cannot read Python's {python_text}: {error}",
                case.name
            )),
        }
    }

    // 3. Unknown fields and enum names: rejected, or skipped with ignore_unknown_fields.
    let mut items = Vec::new();
    for case in &cases {
        let desc = pool.get_message_by_name(case.name).expect("in the pool");
        for i in 0..2 {
            let text = with_unknowns(&desc, i);
            for ignore in [false, true] {
                let rust = (case.parse)(&text, JsonOptions::new().ignore_unknown_fields(ignore));
                items.push((
                    case,
                    rust,
                    json!({"op": "parse", "type": case.name, "json": text, "ignore": ignore}),
                ));
            }
        }
    }
    let requests: Vec<&Json> = items.iter().map(|(_, _, r)| r).collect();
    let answers = peer.request(&json!({"op": "json", "items": requests}));
    for ((case, rust, request), answer) in items.iter().zip(answers.as_array().expect("answers")) {
        checks += 1;
        let ignore = request["ignore"].as_bool().unwrap();
        let python = answer
            .get("bytes")
            .map(|bytes| (case.decode)(&unhex(bytes)).expect("decodes"));
        match (rust, python, ignore) {
            (Err(_), None, false) => {}
            (Ok(rust), Some(python), true) if *rust == python => {}
            (rust, python, _) => failures.push(format!(
                "{} ignore_unknown_fields={ignore}: {}\n      rust   {rust:?}\n      python {python:?} {}",
                case.name, request["json"], answer["error"]
            )),
        }
    }

    // 4. Wrong values: both reject.
    let mut items = Vec::new();
    for case in &cases {
        let desc = pool.get_message_by_name(case.name).expect("in the pool");
        for (j, field) in desc.fields().enumerate() {
            for i in 0..2 {
                let Some(bad) = bad_value(&field, i + j) else {
                    continue;
                };
                let text = format!("{{{:?}:{bad}}}", field.json_name());
                items.push((case, (case.parse)(&text, JsonOptions::new()), text));
            }
        }
        // The same field twice (under the same name).
        if let Some(field) = desc.fields().next() {
            let value = field_value(&field, 1, 0);
            let text = format!("{{{0:?}:{value},{0:?}:{value}}}", field.json_name());
            items.push((case, (case.parse)(&text, JsonOptions::new()), text));
        }
    }
    let requests: Vec<Json> = items
        .iter()
        .map(|(case, _, text)| json!({"op": "parse", "type": case.name, "json": text}))
        .collect();
    let answers = peer.request(&json!({"op": "json", "items": requests}));
    for ((case, rust, text), answer) in items.iter().zip(answers.as_array().expect("answers")) {
        checks += 1;
        match (rust, answer.get("error")) {
            (Err(_), Some(_)) => {}
            (rust, python) => failures.push(format!(
                "{}: {text} should be rejected by both\n      rust   {rust:?}\n      python {python:?}",
                case.name
            )),
        }
    }

    println!(
        "{version}: {} message types, {checks} JSON checks against Python",
        cases.len()
    );
    let total = failures.len();
    assert!(
        failures.is_empty(),
        "{version}: {total} disagreements with Python's json_format:\n{}",
        failures
            .iter()
            .take(30)
            .map(|f| format!("  - {f}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn v1_json_edges_agree_with_python() {
    agree_at_the_edges("runtime.v1", cri_api_v1::FILE_DESCRIPTOR_SET, v1_cases());
}

#[test]
fn v1alpha2_json_edges_agree_with_python() {
    agree_at_the_edges(
        "runtime.v1alpha2",
        cri_api_v1alpha2::FILE_DESCRIPTOR_SET,
        v1alpha2_cases(),
    );
}
