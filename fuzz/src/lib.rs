//! The properties the fuzz targets check, for every message type of both CRI versions.
//!
//! Each target reads its input as a 2-byte selector (little-endian, modulo the number of
//! entries) that picks a message type, then the rest. A property that fails panics, which
//! libFuzzer reports with the input that did it.

use cri_convert::{Downgrade, Upgrade};
use prost::{Message, Name};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A message type and the check of one property on it.
pub type Check = (&'static str, fn(&[u8]));

/// Picks the entry of `table` the input's first two bytes select, and the rest of the input.
pub fn select<'a, T>(table: &'a [T], data: &'a [u8]) -> Option<(&'a T, &'a [u8])> {
    let (head, rest) = data.split_first_chunk::<2>()?;
    let index = usize::from(u16::from_le_bytes(*head)) % table.len();
    Some((&table[index], rest))
}

/// Protobuf: whatever decodes re-encodes to bytes that are stable after one cycle
/// (decode, encode, decode, encode: the two encodings are equal).
pub fn wire<M: Message + Default + Name>(bytes: &[u8]) {
    let Ok(first) = M::decode(bytes) else {
        return;
    };
    let once = first.encode_to_vec();
    let second = M::decode(once.as_slice())
        .unwrap_or_else(|e| panic!("{}: our own encoding does not decode: {e}", M::full_name()));
    assert_eq!(
        once,
        second.encode_to_vec(),
        "{}: the encoding is not stable after one cycle",
        M::full_name()
    );
}

/// Proto3 JSON, for one API crate (its `json` module has its own options type).
///
/// The mode byte: bit 0 clear, JSON text follows; set, protobuf bytes follow. Bits 1 to 4 turn
/// on the [`JsonOptions`](cri_api_v1::json::JsonOptions) emit_defaults, proto_field_names,
/// enums_as_numbers and ignore_unknown_fields. The property: a value (parsed, or decoded)
/// serializes with those options, the JSON parses back with them, and serializing again gives
/// the same bytes; with no option, the plain `serde` impls give the same JSON as
/// `json::to_string` and are held to the same property.
macro_rules! json_check {
    ($check:ident, $krate:ident) => {
        pub fn $check<M>(data: &[u8])
        where
            M: Message + Default + Name + Serialize + DeserializeOwned + $krate::json::JsonMessage,
        {
            use $krate::json::{self, JsonOptions};
            let Some((&mode, rest)) = data.split_first() else {
                return;
            };
            let options = JsonOptions::new()
                .emit_defaults(mode & 2 != 0)
                .proto_field_names(mode & 4 != 0)
                .enums_as_numbers(mode & 8 != 0)
                .ignore_unknown_fields(mode & 16 != 0);
            let value = if mode & 1 == 0 {
                let Ok(text) = std::str::from_utf8(rest) else {
                    return;
                };
                let Ok(value) = json::from_str::<M>(text, options) else {
                    return;
                };
                value
            } else {
                let Ok(value) = M::decode(rest) else {
                    return;
                };
                value
            };
            let name = M::full_name();
            let once = json::to_string(&value, options).unwrap_or_else(|e| {
                panic!("{name}: a valid value does not serialize as JSON ({options:?}): {e}")
            });
            let back: M = json::from_str(&once, options).unwrap_or_else(|e| {
                panic!("{name}: our own JSON does not parse ({options:?}): {e}: {once}")
            });
            let twice = json::to_string(&back, options).unwrap_or_else(|e| {
                panic!("{name}: parsed JSON does not serialize again ({options:?}): {e}")
            });
            assert_eq!(
                once, twice,
                "{name}: JSON is not stable after one cycle ({options:?})"
            );
            if options == JsonOptions::new() {
                let plain = serde_json::to_string(&value)
                    .unwrap_or_else(|e| panic!("{name}: serde does not serialize it: {e}"));
                assert_eq!(plain, once, "{name}: serde and json::to_string disagree");
                let back: M = serde_json::from_str(&plain).unwrap_or_else(|e| {
                    panic!("{name}: serde does not parse its own JSON: {e}: {plain}")
                });
                assert_eq!(
                    serde_json::to_string(&back).ok().as_ref(),
                    Some(&plain),
                    "{name}: serde's JSON is not stable after one cycle"
                );
            }
        }
    };
}

json_check!(json_v1, cri_api_v1);
json_check!(json_v1alpha2, cri_api_v1alpha2);

/// Conversions, for a type both versions have. Mode byte 0: a v1alpha2 value upgrades and
/// downgrades back to itself, exactly. Otherwise, a v1 value: the strict downgrade succeeds
/// exactly when the lossy one reports nothing; then both agree and upgrade back to the input;
/// either way, what the lossy one keeps converts exactly from then on.
pub fn convert<A, B>(data: &[u8])
where
    A: Message + Default + Clone + Upgrade<Output = B>,
    B: Message + Default + Clone + Name + Downgrade<Output = A>,
{
    let name = B::full_name();
    match data.split_first() {
        Some((0, bytes)) => {
            let Ok(alpha) = A::decode(bytes) else {
                return;
            };
            let back =
                alpha.clone().upgrade().downgrade().unwrap_or_else(|e| {
                    panic!("{name}: an upgraded value does not downgrade: {e}")
                });
            assert_eq!(
                back.encode_to_vec(),
                alpha.encode_to_vec(),
                "{name}: upgrade then downgrade is not the identity"
            );
        }
        Some((_, bytes)) => {
            let Ok(v1) = B::decode(bytes) else {
                return;
            };
            let strict = v1.clone().downgrade();
            let (lossy, report) = v1.clone().downgrade_lossy();
            assert_eq!(
                strict.is_ok(),
                report.is_empty(),
                "{name}: strict and lossy disagree: {report}"
            );
            match strict {
                Ok(exact) => {
                    assert_eq!(exact.encode_to_vec(), lossy.encode_to_vec(), "{name}");
                    assert_eq!(
                        exact.upgrade().encode_to_vec(),
                        v1.encode_to_vec(),
                        "{name}: an exact downgrade lost something"
                    );
                }
                Err(error) => assert_eq!(error.dropped(), report.dropped(), "{name}"),
            }
            let kept = lossy.clone().upgrade().downgrade().unwrap_or_else(|e| {
                panic!("{name}: what the lossy downgrade kept is not exact: {e}")
            });
            assert_eq!(kept.encode_to_vec(), lossy.encode_to_vec(), "{name}");
        }
        None => {}
    }
}

/// The wire check for every message of both versions (v1 first, in declaration order).
pub fn wire_checks() -> Vec<Check> {
    let mut table: Vec<Check> = Vec::new();
    macro_rules! push {
        ($ty:ty, $name:literal) => {
            table.push(($name, wire::<$ty>));
        };
    }
    cri_api_v1::__for_each_message!(push);
    cri_api_v1alpha2::__for_each_message!(push);
    table
}

/// The JSON check for every message of both versions (v1 first, in declaration order).
pub fn json_checks() -> Vec<Check> {
    let mut table: Vec<Check> = Vec::new();
    macro_rules! push_v1 {
        ($ty:ty, $name:literal) => {
            table.push(($name, json_v1::<$ty>));
        };
    }
    macro_rules! push_v1alpha2 {
        ($ty:ty, $name:literal) => {
            table.push(($name, json_v1alpha2::<$ty>));
        };
    }
    cri_api_v1::__for_each_message!(push_v1);
    cri_api_v1alpha2::__for_each_message!(push_v1alpha2);
    table
}

/// The conversion check for every message both versions have.
pub fn convert_checks() -> Vec<Check> {
    let mut table: Vec<Check> = Vec::new();
    macro_rules! push {
        ($alpha:ty, $v1:ty) => {
            table.push((<$v1 as Name>::NAME, convert::<$alpha, $v1>));
        };
    }
    cri_convert::__for_each_shared_message!(push);
    table
}
