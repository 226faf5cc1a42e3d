//! Proto3 JSON, canonical by default, with options chosen at run time.
//!
//! The plain `serde::Serialize`/`Deserialize` impls of every message are the canonical
//! [proto3 JSON mapping](https://protobuf.dev/programming-guides/json/) (all of
//! [`JsonOptions`] off). This module writes and reads messages with options:
//!
//! - [`with_options`]`(&message, options)`: a `Serialize` view for any serde serializer
//!   (`serde_json`, a YAML serializer, …); [`to_string`] and [`to_string_pretty`] for JSON text;
//! - [`from_str`] / [`from_slice`]`::<Message>(text, options)`: parse JSON text; [`Seed`] and
//!   [`deserialize`] read from any serde deserializer.
//!
//! | option | effect | Go `protojson` | Python `json_format` | `crictl -o json` |
//! |---|---|---|---|---|
//! | [`emit_defaults`](JsonOptions::emit_defaults) | write `0`, `""`, `false`, the zero enum value, `[]`, `{}`; unset messages stay out | `EmitDefaultValues` | `always_print_fields_with_no_presence` | **on** |
//! | [`proto_field_names`](JsonOptions::proto_field_names) | write `created_at`, not `createdAt` | `UseProtoNames` | `preserving_proto_field_name` | off |
//! | [`enums_as_numbers`](JsonOptions::enums_as_numbers) | write `1`, not `"CONTAINER_RUNNING"` | `UseEnumNumbers` | `use_integers_for_enums` | off |
//! | [`ignore_unknown_fields`](JsonOptions::ignore_unknown_fields) | on parse, skip unknown fields and unknown enum names | `DiscardUnknown` | `ignore_unknown_fields` | – |
//! | [`key_value_text`](JsonOptions::key_value_text) | write and read `KeyValue.value` (environment variables, `bytes` since cri-api v0.36.2) as text, not base64 | – (Go crictl v1.36.0 has a `string` there) | – | **on** |
//!
//! [`JsonOptions::crictl()`] is what `crictl -o json` (and `-o yaml`, through the same JSON)
//! writes: cri-tools marshals with `protojson.MarshalOptions{EmitDefaultValues: true}`, that is
//! default values written, lowerCamelCase names, enums by name; and environment variables as
//! text, as Go crictl v1.36.0 (built on cri-api v0.36.0, where `KeyValue.value` is a `string`)
//! writes them and as its config files hold them.
//!
//! ```
//! use cri_api_v1::json::{self, JsonOptions};
//! use cri_api_v1::{ContainerState, ContainerStatus};
//!
//! let status = ContainerStatus { id: "4f1c".into(), ..Default::default() };
//! // Canonical: default values left out.
//! assert_eq!(serde_json::to_string(&status).unwrap(), r#"{"id":"4f1c"}"#);
//! // As crictl writes it: `state` is there for `jq '.state'`.
//! let text = json::to_string(&status, JsonOptions::crictl()).unwrap();
//! assert!(text.contains(r#""state":"CONTAINER_CREATED""#) && text.contains(r#""exitCode":0"#));
//! // Any other combination, through any serde serializer.
//! let options = JsonOptions::new().proto_field_names(true).enums_as_numbers(true);
//! let running = ContainerStatus { state: ContainerState::ContainerRunning as i32, ..status };
//! let value = serde_json::to_value(json::with_options(&running, options)).unwrap();
//! assert_eq!(value, serde_json::json!({"id": "4f1c", "state": 1}));
//!
//! // A newer runtime's fields and enum values: an error, or skipped on request.
//! let newer = r#"{"id":"4f1c","state":"CONTAINER_PAUSED","pausedAt":"17"}"#;
//! assert!(json::from_str::<ContainerStatus>(newer, JsonOptions::new()).is_err());
//! let parsed: ContainerStatus =
//!     json::from_str(newer, JsonOptions::new().ignore_unknown_fields(true)).unwrap();
//! assert_eq!((parsed.id.as_str(), parsed.state), ("4f1c", 0));
//! ```
//!
//! Environment variables as crictl's config files and Go crictl v1.36.0 hold them, as text:
//!
//! ```
//! use cri_api_v1::json::{self, JsonOptions};
//! use cri_api_v1::{ContainerConfig, KeyValue};
//!
//! let config = r#"{"envs":[{"key":"FOO","value":"bar"}]}"#;
//! let read: ContainerConfig = json::from_str(config, JsonOptions::crictl()).unwrap();
//! assert_eq!(read.envs[0].value, b"bar");
//! // Canonical proto3 JSON reads the same text as base64 (`bar` decodes to the bytes 6d aa).
//! let base64: ContainerConfig = json::from_str(config, JsonOptions::new()).unwrap();
//! assert_eq!(base64.envs[0].value, [0x6d, 0xaa]);
//! // Written back as text; bytes that are not UTF-8 cannot be, and say so.
//! assert_eq!(json::to_string(&read, JsonOptions::new().key_value_text(true)).unwrap(), config);
//! let binary = KeyValue { key: "K".into(), value: vec![0xff, 0x00] };
//! let error = json::to_string(&binary, JsonOptions::crictl()).unwrap_err();
//! assert!(error.to_string().contains("not UTF-8"), "{error}");
//! assert_eq!(json::to_string(&binary, JsonOptions::new()).unwrap(), r#"{"key":"K","value":"/wA="}"#);
//! ```
//!
//! # Every value a protobuf can hold
//!
//! Writing never fails (but see [`key_value_text`](JsonOptions::key_value_text) for bytes that
//! are not UTF-8) and parsing reads back exactly what was written, whatever the values;
//! the rules are the spec's, checked against Python's `json_format` (protobuf 6.33) on edge
//! values of every message type, for each option, in the workspace's tests:
//!
//! - **Open enums.** A number with no name in this version (from a newer runtime) is written as
//!   the number and read back: `{"state":42}`. Parsing accepts names and numbers (also quoted).
//! - **Doubles.** `NaN`, `Infinity` and `-Infinity` are written as those strings; only those
//!   exact spellings are read (not `"nan"` or `"inf"`). `-0.0` is written (it is not the
//!   default `0`). Doubles are written in their shortest form and read back bit for bit.
//! - **64-bit integers** are written as strings. **Integers** are read from numbers or strings,
//!   also as `1e3`, `"1e3"`, `1.0` or `-0`, as long as the value is integral and in range;
//!   `1.5`, `" 1"`, `"0x10"`, `true` and out-of-range values are errors.
//! - **`null`** means the default for every field: `0`, `""`, `[]`, `{}`, an unset message.
//!   It is an error as a list element or a map value.
//! - **Bytes** are written as standard base64 with padding and read as standard or URL-safe
//!   base64, padded or not.
//! - **Duplicates** are errors: a map key given twice, and a field given twice, also once under
//!   its JSON name and once under its proto name.
//! - Errors name what was wrong: the field, the expected kind, the message type.
//!
//! Where Python is laxer than the spec and Go's `protojson` (it accepts `"1_000"` and `"+5"`
//! for integers, `"inf"` and `true` for doubles, `true` and `1.5` for enums, junk in base64,
//! the same field under both of its names), this crate follows the spec and Go and rejects
//! them.
//!
//! `-0.0` survives protobuf round trips as well: the crate writes it in the protobuf encoding,
//! as Go, C++, Java and upb do (prost's derive would leave it out; the generator writes the
//! `Message` impl of the messages with a `double` or `float` field itself).
//!
//! Parsing goes through `serde_json`, built with its `float_roundtrip` feature (which this crate
//! turns on), so that doubles are read exactly; another deserializer gives the precision of its
//! own number parsing.

include!("generated/json.rs");
