//! Wire and JSON agreement with an independent protobuf implementation: Python's `protobuf`
//! (upb) with modules that grpcio-tools' protoc compiles from the vendored `proto/`.
//!
//! For every message type of both versions (`__for_each_message!`), each side builds a value
//! with every field set (non-ASCII strings, negative and large integers, several map entries and
//! repeated elements, nested messages), and the other side reads it:
//!
//! - **Rust → Python → Rust.** The value comes from `prost-reflect` over the crate's own
//!   descriptor set, decoded into the *generated* type (which must keep every field), then
//!   encoded by the generated type. Python must see every field set and no unknown field,
//!   re-encode it to the same bytes, write JSON that is the same JSON value as the `serde`
//!   feature's, and parse Rust's JSON to the same message; Rust must parse Python's JSON to the
//!   same value.
//! - **Python → Rust → Python.** Python fills its own value; Rust decodes and re-encodes it
//!   (same bytes), writes JSON (same value as Python's), parses Python's JSON (same value), and
//!   Python must read Rust's bytes and Rust's JSON as exactly the message it made.
//!
//! What is compared as bytes and what as decoded values: both encoders write map entries in key
//! order (BTreeMap here, `deterministic=True` there), repeated elements in their order and
//! packed, so the encoding of a message is canonical, and compared **byte for byte**, wherever
//! each message (recursively) declares its fields in field-number order: protobuf-python writes
//! fields in number order, prost in declaration order. For the few types declared out of order,
//! the bytes legitimately differ, and the test compares **decoded values** instead, on both
//! sides (Python's message equality ignores map order, so does BTreeMap's). JSON is always
//! compared as parsed JSON values (object key order and whitespace are free), never as text.
//!
//! **Negative zero.** The proto3 spec says `-0` is distinct from the default and is written;
//! Go, C++, Java and upb compare the bit pattern. A second pass runs both directions again for
//! every message type that reaches a `double` or `float` field, with `-0.0` in every such field
//! (and the usual values elsewhere): each side must write it, the other must read it back with its
//! sign (Python's "unset" check and a sign count on the Rust side), bytes equal as above.

use std::collections::HashSet;

mod filled;

use cri_tests::python::WirePeer;
use filled::{
    Floats, count_floats, fill, in_number_order, is_marker, is_negative_zero, negative_zeros,
    negative_zeros_in, reaches_float,
};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, ReflectMessage};
use serde_json::{Value as Json, json};

/// What the test does with one generated type, as plain functions over encoded bytes.
struct Case {
    name: &'static str,
    /// Decodes into the generated type and encodes again.
    reencode: fn(&[u8]) -> Result<Vec<u8>, String>,
    /// Decodes into the generated type and writes its JSON (the `serde` feature).
    to_json: fn(&[u8]) -> Result<String, String>,
    /// Parses JSON into the generated type (the `serde` feature) and encodes it.
    from_json: fn(&str) -> Result<Vec<u8>, String>,
    /// Decodes both into the generated type: are they equal?
    same: fn(&[u8], &[u8]) -> Result<bool, String>,
}

fn reencode<T: Message + Default>(bytes: &[u8]) -> Result<Vec<u8>, String> {
    T::decode(bytes)
        .map(|m| m.encode_to_vec())
        .map_err(|e| e.to_string())
}

fn to_json<T: Message + Default + serde::Serialize>(bytes: &[u8]) -> Result<String, String> {
    let value = T::decode(bytes).map_err(|e| e.to_string())?;
    serde_json::to_string(&value).map_err(|e| e.to_string())
}

fn from_json<T: Message + serde::de::DeserializeOwned>(text: &str) -> Result<Vec<u8>, String> {
    serde_json::from_str::<T>(text)
        .map(|m| m.encode_to_vec())
        .map_err(|e| e.to_string())
}

/// Decodes both into the generated type: are they equal? (`==`, so `-0.0` equals `0.0` here;
/// the signs are counted separately.)
fn same<T: Message + Default + PartialEq>(a: &[u8], b: &[u8]) -> Result<bool, String> {
    Ok(T::decode(a).map_err(|e| e.to_string())? == T::decode(b).map_err(|e| e.to_string())?)
}

impl Case {
    fn of<T>(name: &'static str) -> Case
    where
        T: Message + Default + PartialEq + serde::Serialize + serde::de::DeserializeOwned,
    {
        Case {
            name,
            reencode: reencode::<T>,
            to_json: to_json::<T>,
            from_json: from_json::<T>,
            same: same::<T>,
        }
    }
}

fn v1_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    macro_rules! case {
        ($ty:ty, $name:literal) => {
            cases.push(Case::of::<$ty>($name));
        };
    }
    cri_api_v1::__for_each_message!(case);
    cases
}

fn v1alpha2_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    macro_rules! case {
        ($ty:ty, $name:literal) => {
            cases.push(Case::of::<$ty>($name));
        };
    }
    cri_api_v1alpha2::__for_each_message!(case);
    cases
}

fn differing_fields(a: &DynamicMessage, b: &DynamicMessage) -> Vec<String> {
    a.descriptor()
        .fields()
        .filter(|f| a.get_field(f) != b.get_field(f))
        .map(|f| format!("{} (= {})", f.name(), f.number()))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where two encodings part: lengths, offset, and the bytes around it.
fn first_difference((a_name, a): (&str, &[u8]), (b_name, b): (&str, &[u8])) -> String {
    let at = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let around = |bytes: &[u8]| hex(&bytes[at.saturating_sub(4)..(at + 12).min(bytes.len())]);
    format!(
        "{a_name} {} bytes, {b_name} {} bytes, first difference at byte {at}: \
         {a_name} …{}… vs {b_name} …{}…",
        a.len(),
        b.len(),
        around(a),
        around(b)
    )
}

fn unhex(text: &Json) -> Vec<u8> {
    let text = text.as_str().expect("hex string");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

fn json_value(text: &str) -> Json {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Where two JSON values differ (paths), for failure messages.
fn json_diff(a: &Json, b: &Json, path: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Json::Object(x), Json::Object(y)) => {
            for key in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                match (x.get(key), y.get(key)) {
                    (Some(p), Some(q)) => json_diff(p, q, &format!("{path}.{key}"), out),
                    (p, q) => out.push(format!("{path}.{key}: {p:?} vs {q:?}")),
                }
            }
        }
        (Json::Array(x), Json::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                json_diff(p, q, &format!("{path}[{i}]"), out);
            }
        }
        _ if a != b => out.push(format!("{path}: {a} vs {b}")),
        _ => {}
    }
}

fn strings(value: &Json) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| s.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Runs both directions for one API version; panics with every disagreement found. Answers
/// the names of the message types it ran.
fn agree_with_python(
    version: &str,
    descriptor_set: &[u8],
    cases: Vec<Case>,
    floats: Floats,
) -> Vec<&'static str> {
    let pool = DescriptorPool::decode(descriptor_set).expect("the crate's descriptor set");
    let cases: Vec<Case> = cases
        .into_iter()
        .filter(|case| {
            floats == Floats::Ordinary || {
                let desc = pool.get_message_by_name(case.name).expect("in the set");
                reaches_float(&desc, &mut HashSet::new())
            }
        })
        .collect();
    let mut peer = WirePeer::start();
    let mut failures: Vec<String> = Vec::new();
    let mut fail = |name: &str, what: String| {
        // Long lists of field paths are cut: the first ones say enough.
        let what: String = match what.char_indices().nth(400) {
            Some((at, _)) => format!("{}…", &what[..at]),
            None => what,
        };
        failures.push(format!("{name}: {what}"))
    };
    let canonical: Vec<bool> = cases
        .iter()
        .map(|case| {
            let desc = pool
                .get_message_by_name(case.name)
                .expect("in the descriptor set");
            in_number_order(&desc, &mut HashSet::new())
        })
        .collect();

    // Rust → Python → Rust.
    let mut rust = Vec::new();
    for case in &cases {
        let desc = pool
            .get_message_by_name(case.name)
            .expect("in the descriptor set");
        let filled = fill(&desc, 0, floats);
        let mut encoded = filled.encode_to_vec();
        let zeros = negative_zeros(&mut encoded);
        assert_eq!(
            zeros,
            count_floats(&filled, &is_marker),
            "{}: every marker of the filler is found in its encoding",
            case.name
        );
        let dynamic = DynamicMessage::decode(desc.clone(), encoded.as_slice()).expect("decodes");
        let bytes = (case.reencode)(&encoded).expect("decodes");
        // The generated type must have kept every field of the proto, and every -0.0.
        let back = DynamicMessage::decode(desc.clone(), bytes.as_slice()).expect("decodes");
        if back != dynamic {
            fail(
                case.name,
                format!(
                    "the generated type loses or changes fields: {:?}",
                    differing_fields(&dynamic, &back)
                ),
            );
        }
        let kept = count_floats(&back, &is_negative_zero);
        if kept != zeros {
            fail(
                case.name,
                format!("the generated type writes {kept} of the {zeros} -0.0 values it read"),
            );
        }
        let json = (case.to_json)(&bytes).expect("serializes");
        rust.push((bytes, json));
    }
    let items: Vec<Json> = cases
        .iter()
        .zip(&rust)
        .map(|(case, (bytes, json))| json!({"type": case.name, "bytes": hex(bytes), "json": json}))
        .collect();
    let answers = peer.request(&json!({"op": "decode", "items": items}));
    let answers = answers.as_array().expect("one answer per item");
    assert_eq!(answers.len(), cases.len());
    for (((case, (bytes, json)), answer), &canonical) in
        cases.iter().zip(&rust).zip(answers).zip(&canonical)
    {
        let unset = strings(&answer["unset"]);
        if !unset.is_empty() {
            fail(
                case.name,
                format!("Python finds fields unset (or unknown) in Rust's encoding: {unset:?}"),
            );
        }
        let python_bytes = unhex(&answer["bytes"]);
        if canonical {
            if python_bytes != *bytes {
                fail(
                    case.name,
                    format!(
                        "Python re-encodes Rust's bytes differently: {}",
                        first_difference(("rust", bytes), ("python", &python_bytes))
                    ),
                );
            }
        } else if !(case.same)(&python_bytes, bytes).unwrap_or(false) {
            fail(
                case.name,
                "Python's re-encoding decodes to another value".into(),
            );
        }
        let python_json = answer["json"].as_str().unwrap_or_default();
        let mut diff = Vec::new();
        json_diff(&json_value(json), &json_value(python_json), "", &mut diff);
        if !diff.is_empty() {
            fail(
                case.name,
                format!("JSON differs (rust vs python): {diff:?}"),
            );
        }
        if let Some(error) = answer.get("json_error") {
            fail(
                case.name,
                format!("Python cannot parse Rust's JSON: {error}"),
            );
        } else if !strings(&answer["json_differences"]).is_empty() {
            fail(
                case.name,
                format!(
                    "Python parses Rust's JSON to another message: {:?}",
                    strings(&answer["json_differences"])
                ),
            );
        }
        // Both encodings are the generated type's, so equal values give equal bytes (and a lost
        // sign of a zero shows).
        match (case.from_json)(python_json) {
            Ok(parsed) if parsed == *bytes => {}
            Ok(_) => fail(
                case.name,
                "Rust parses Python's JSON to another value".into(),
            ),
            Err(error) => fail(
                case.name,
                format!("Rust cannot parse Python's JSON: {error}"),
            ),
        }
    }

    // Python → Rust → Python.
    let names: Vec<&str> = cases.iter().map(|c| c.name).collect();
    let made = peer.request(&json!({
        "op": "make",
        "types": names,
        "negative_zero": floats == Floats::NegativeZero,
    }));
    let made = made.as_array().expect("one answer per type");
    let mut compare = Vec::new();
    for ((case, answer), &canonical) in cases.iter().zip(made).zip(&canonical) {
        assert!(
            strings(&answer["unset"]).is_empty(),
            "{}: Python's own filler left fields unset: {:?}",
            case.name,
            answer["unset"]
        );
        let python_bytes = unhex(&answer["bytes"]);
        let python_json = answer["json"].as_str().unwrap_or_default();
        let bytes = match (case.reencode)(&python_bytes) {
            Ok(bytes) => bytes,
            Err(error) => {
                fail(
                    case.name,
                    format!("Rust cannot decode Python's bytes: {error}"),
                );
                continue;
            }
        };
        let desc = pool
            .get_message_by_name(case.name)
            .expect("in the descriptor set");
        let (theirs, ours) = (
            negative_zeros_in(&desc, &python_bytes),
            negative_zeros_in(&desc, &bytes),
        );
        if ours != theirs || (floats == Floats::NegativeZero && theirs == 0) {
            fail(
                case.name,
                format!("Python wrote {theirs} -0.0 values, Rust's re-encoding has {ours}"),
            );
        }
        if canonical {
            if bytes != python_bytes {
                fail(
                    case.name,
                    format!(
                        "Rust re-encodes Python's bytes differently: {}",
                        first_difference(("python", &python_bytes), ("rust", &bytes))
                    ),
                );
            }
        } else if !(case.same)(&bytes, &python_bytes).unwrap_or(false) {
            fail(
                case.name,
                "Rust's re-encoding decodes to another value".into(),
            );
        }
        let json = (case.to_json)(&python_bytes).expect("serializes");
        let mut diff = Vec::new();
        json_diff(&json_value(&json), &json_value(python_json), "", &mut diff);
        if !diff.is_empty() {
            fail(
                case.name,
                format!("JSON of Python's value differs (rust vs python): {diff:?}"),
            );
        }
        match (case.from_json)(python_json) {
            Ok(parsed) if parsed == bytes => {}
            Ok(_) => fail(
                case.name,
                "Rust parses Python's JSON to another value".into(),
            ),
            Err(error) => fail(
                case.name,
                format!("Rust cannot parse Python's JSON: {error}"),
            ),
        }
        compare.push(json!({
            "type": case.name,
            "expected": hex(&python_bytes),
            "bytes": hex(&bytes),
            "json": json,
        }));
    }
    let checked = peer.request(&json!({"op": "compare", "items": compare}));
    for (item, answer) in compare.iter().zip(checked.as_array().expect("answers")) {
        let name = item["type"].as_str().unwrap_or_default();
        for (key, what) in [
            ("bytes_differences", "Rust's encoding"),
            ("json_differences", "Rust's JSON"),
            (
                "bytes_unset",
                "fields unset (or a -0.0 as +0.0) in Rust's encoding",
            ),
            (
                "json_unset",
                "fields unset (or a -0.0 as +0.0) in Rust's JSON",
            ),
        ] {
            let differences = strings(&answer[key]);
            if !differences.is_empty() {
                fail(
                    name,
                    format!("Python reads {what} of its value as another message: {differences:?}"),
                );
            }
        }
    }

    let by_bytes = canonical.iter().filter(|c| **c).count();
    let by_value: Vec<&str> = cases
        .iter()
        .zip(&canonical)
        .filter(|(_, c)| !**c)
        .map(|(case, _)| case.name)
        .collect();
    println!(
        "{version}, floats {floats:?}: {} message types, both directions; encodings compared as \
         bytes for {by_bytes}, as decoded values for {} (fields declared out of number order): \
         {by_value:?}",
        cases.len(),
        by_value.len()
    );
    let disagreeing: std::collections::BTreeSet<&str> = failures
        .iter()
        .filter_map(|f| f.split(':').next())
        .collect();
    println!(
        "{version}, floats {floats:?}: {} message types disagree: {disagreeing:?}",
        disagreeing.len()
    );
    let total = failures.len();
    assert!(
        failures.is_empty(),
        "{version}: {total} disagreements with Python:\n{}",
        failures
            .iter()
            .take(40)
            .map(|f| format!("  - {f}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    cases.iter().map(|case| case.name).collect()
}

#[test]
fn v1_wire_and_json_agree_with_python() {
    agree_with_python(
        "runtime.v1",
        cri_api_v1::FILE_DESCRIPTOR_SET,
        v1_cases(),
        Floats::Ordinary,
    );
}

#[test]
fn v1alpha2_wire_and_json_agree_with_python() {
    agree_with_python(
        "runtime.v1alpha2",
        cri_api_v1alpha2::FILE_DESCRIPTOR_SET,
        v1alpha2_cases(),
        Floats::Ordinary,
    );
}

#[test]
fn negative_zero_in_every_float_field_agrees_with_python() {
    let v1 = agree_with_python(
        "runtime.v1",
        cri_api_v1::FILE_DESCRIPTOR_SET,
        v1_cases(),
        Floats::NegativeZero,
    );
    let v1alpha2 = agree_with_python(
        "runtime.v1alpha2",
        cri_api_v1alpha2::FILE_DESCRIPTOR_SET,
        v1alpha2_cases(),
        Floats::NegativeZero,
    );
    // runtime.v1 has `double` fields (PsiData); v1alpha2 has none.
    assert!(
        v1.contains(&"runtime.v1.PsiData"),
        "the cases with a float field include runtime.v1.PsiData: {v1:?}"
    );
    println!(
        "-0.0: {} message types of runtime.v1 and {} of runtime.v1alpha2 reach a float field",
        v1.len(),
        v1alpha2.len()
    );
}

#[test]
fn every_message_type_is_covered() {
    // The lists the tests above walk are the crates' whole lists of messages (map entries,
    // which have no Rust type, excepted).
    for (descriptor_set, names) in [
        (
            cri_api_v1::FILE_DESCRIPTOR_SET,
            v1_cases().iter().map(|c| c.name).collect::<Vec<_>>(),
        ),
        (
            cri_api_v1alpha2::FILE_DESCRIPTOR_SET,
            v1alpha2_cases().iter().map(|c| c.name).collect(),
        ),
    ] {
        let pool = DescriptorPool::decode(descriptor_set).unwrap();
        let mut expected: Vec<String> = pool
            .all_messages()
            .filter(|m| m.package_name().starts_with("runtime.") && !m.is_map_entry())
            .map(|m| m.full_name().to_string())
            .collect();
        let mut names: Vec<String> = names.into_iter().map(String::from).collect();
        expected.sort();
        names.sort();
        assert_eq!(names, expected);
    }
}
