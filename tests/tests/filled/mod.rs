//! Messages with every field set, built from a descriptor with prost-reflect (for
//! `python_wire.rs`): the values, and `-0.0` in every `double` and `float` field on request.

use std::collections::HashSet;

use prost_reflect::{DynamicMessage, Kind, MapKey, MessageDescriptor, ReflectMessage, Value};

/// What the filled values hold in `double` and `float` fields.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Floats {
    /// Ordinary non-zero values.
    Ordinary,
    /// `-0.0` everywhere: the Rust side fills a marker and turns it into `-0.0` in the encoded
    /// bytes (see [`negative_zeros`]), as prost-reflect, like prost, leaves `-0.0` out.
    NegativeZero,
}

/// Markers for [`Floats::NegativeZero`]: NaNs with payloads no other value of the filler holds,
/// the same width as `-0.0` in the encoding, so that replacing them keeps every length prefix.
pub const MARK_F64: u64 = 0x7ff4_c0de_d00d_f00d;
pub const MARK_F32: u32 = 0x7fa1_f00d;

pub fn scalar(kind: &Kind, name: &str, i: usize, floats: Floats) -> Value {
    let n = i as i64;
    match kind {
        Kind::Double if floats == Floats::NegativeZero => Value::F64(f64::from_bits(MARK_F64)),
        Kind::Float if floats == Floats::NegativeZero => Value::F32(f32::from_bits(MARK_F32)),
        Kind::Double => Value::F64(-2.25 - n as f64),
        Kind::Float => Value::F32(1.5 + n as f32),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(-123_456 - n as i32),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(-9_007_199_254_740_993 - n),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(3_000_000_000 + n as u32),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(u64::MAX - n as u64),
        Kind::Bool => Value::Bool(true),
        Kind::String => Value::String(format!("rust-{name}-ü-✓-日本-{i}")),
        Kind::Bytes => Value::Bytes(vec![0xfb, 0xff, 0x00, 0x80, 0x3f, b'r', i as u8].into()),
        Kind::Enum(e) => {
            let numbers: Vec<i32> = e.values().map(|v| v.number()).filter(|&n| n != 0).collect();
            Value::EnumNumber(if numbers.is_empty() {
                0
            } else {
                numbers[i % numbers.len()]
            })
        }
        Kind::Message(m) => Value::Message(fill(m, 0, floats)),
    }
}

pub fn map_key(kind: &Kind, i: usize) -> MapKey {
    match scalar(kind, "key", i, Floats::Ordinary) {
        Value::String(s) => MapKey::String(format!("{i}-ключ-{s}")),
        Value::I32(v) => MapKey::I32(v),
        Value::I64(v) => MapKey::I64(v),
        Value::U32(v) => MapKey::U32(v),
        Value::U64(v) => MapKey::U64(v),
        Value::Bool(_) => MapKey::Bool(i.is_multiple_of(2)),
        other => panic!("not a map key: {other:?}"),
    }
}

/// A message with every field set: 3 map entries, 3 repeated elements, nested messages filled.
pub fn fill(desc: &MessageDescriptor, depth: usize, floats: Floats) -> DynamicMessage {
    assert!(depth < 32, "recursive message {}", desc.full_name());
    let mut message = DynamicMessage::new(desc.clone());
    for field in desc.fields() {
        let kind = field.kind();
        let element = |i| match &kind {
            Kind::Message(m) => Value::Message(fill(m, depth + 1, floats)),
            other => scalar(other, field.name(), i, floats),
        };
        let value = if field.is_map() {
            let entry = kind.as_message().expect("a map entry");
            let key = entry.map_entry_key_field().kind();
            let value = entry.map_entry_value_field().kind();
            Value::Map(
                (0..3)
                    .map(|i| {
                        let v = match &value {
                            Kind::Message(m) => Value::Message(fill(m, depth + 1, floats)),
                            other => scalar(other, "value", i, floats),
                        };
                        (map_key(&key, i), v)
                    })
                    .collect(),
            )
        } else if field.is_list() {
            Value::List((0..3).map(element).collect())
        } else {
            element(0)
        };
        message.set_field(&field, value);
    }
    message
}

/// Does every message reachable from `desc` declare its fields in field-number order (so that
/// prost's encoding, in declaration order, is the canonical one)?
pub fn in_number_order(desc: &MessageDescriptor, seen: &mut HashSet<String>) -> bool {
    if !seen.insert(desc.full_name().to_string()) {
        return true;
    }
    let numbers: Vec<u32> = desc.fields().map(|f| f.number()).collect();
    numbers.windows(2).all(|w| w[0] < w[1])
        && desc.fields().all(|f| match f.kind() {
            Kind::Message(m) => in_number_order(&m, seen),
            _ => true,
        })
}

/// Does a `double` or `float` field occur in `desc` or any message reachable from it?
pub fn reaches_float(desc: &MessageDescriptor, seen: &mut HashSet<String>) -> bool {
    if !seen.insert(desc.full_name().to_string()) {
        return false;
    }
    desc.fields().any(|f| match f.kind() {
        Kind::Double | Kind::Float => true,
        Kind::Message(m) => reaches_float(&m, seen),
        _ => false,
    })
}

/// How many `double`/`float` values of `message` (recursively: lists, map values, nested
/// messages) have bits that `test` accepts (as `f64` bits; a `float` is widened first, which keeps
/// the sign of a zero and turns a NaN marker into a NaN).
pub fn count_floats(message: &DynamicMessage, test: &dyn Fn(&Value) -> bool) -> usize {
    fn count(value: &Value, test: &dyn Fn(&Value) -> bool) -> usize {
        match value {
            Value::F64(_) | Value::F32(_) => usize::from(test(value)),
            Value::Message(m) => count_floats(m, test),
            Value::List(items) => items.iter().map(|v| count(v, test)).sum(),
            Value::Map(entries) => entries.values().map(|v| count(v, test)).sum(),
            _ => 0,
        }
    }
    // Every field of the descriptor: `DynamicMessage::fields` skips the ones equal to their
    // default, and `-0.0 == 0.0`.
    message
        .descriptor()
        .fields()
        .map(|field| count(&message.get_field(&field), test))
        .sum()
}

pub fn is_negative_zero(value: &Value) -> bool {
    match value {
        Value::F64(v) => v.to_bits() == (-0.0f64).to_bits(),
        Value::F32(v) => v.to_bits() == (-0.0f32).to_bits(),
        _ => false,
    }
}

pub fn is_marker(value: &Value) -> bool {
    match value {
        Value::F64(v) => v.to_bits() == MARK_F64,
        Value::F32(v) => v.to_bits() == MARK_F32,
        _ => false,
    }
}

/// Replaces every marker of [`Floats::NegativeZero`] in an encoding with `-0.0` (little-endian,
/// as protobuf writes `double` and `float`); answers how many it replaced.
pub fn negative_zeros(bytes: &mut [u8]) -> usize {
    let mut replaced = 0;
    for (mark, zero) in [
        (
            MARK_F64.to_le_bytes().to_vec(),
            (-0.0f64).to_le_bytes().to_vec(),
        ),
        (
            MARK_F32.to_le_bytes().to_vec(),
            (-0.0f32).to_le_bytes().to_vec(),
        ),
    ] {
        let mut at = 0;
        while at + mark.len() <= bytes.len() {
            if bytes[at..at + mark.len()] == mark[..] {
                bytes[at..at + mark.len()].copy_from_slice(&zero);
                replaced += 1;
                at += mark.len();
            } else {
                at += 1;
            }
        }
    }
    replaced
}

/// The `-0.0` values in an encoding of `desc`.
pub fn negative_zeros_in(desc: &MessageDescriptor, bytes: &[u8]) -> usize {
    DynamicMessage::decode(desc.clone(), bytes)
        .map(|m| count_floats(&m, &is_negative_zero))
        .unwrap_or(0)
}
