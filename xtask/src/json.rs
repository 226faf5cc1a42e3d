//! Proto3 JSON for the API crates' `serde` feature: a `JsonMessage` impl (write with options,
//! read with options) and the plain `Serialize`/`Deserialize` for every message, and the
//! name/number tables and `Serialize`/`Deserialize` for every enum, generated from the
//! descriptors. The shared machinery they call (`JsonOptions`, the field kinds, the number
//! rules) is `templates/json.rs`, written into each crate as `src/generated/json.rs`.
//!
//! Why generated code of our own rather than pbjson or a descriptor-driven serializer: JSON
//! options have to be chosen at run time (pbjson has none), open enums, non-finite doubles,
//! `null` and number forms must follow the spec (pbjson does not), and the plain path must stay
//! as fast as straight-line serde code (a descriptor-driven serializer such as prost-reflect's
//! first transcodes the message into a dynamic one). `benches/RESULTS.md` has the figures.

use std::fmt::Write as _;

use anyhow::{Result, bail};
use prost_reflect::{DescriptorPool, EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor};

use crate::names::{field_ident, message_path, type_ident};

/// The shared runtime, written as `src/generated/json.rs` into each API crate.
pub const RUNTIME: &str = include_str!("../templates/json.rs");

/// The generated impls for every message and enum of `package`, formatted.
pub fn generate(pool: &DescriptorPool, package: &str) -> Result<String> {
    let mut code = String::new();
    for message in pool
        .all_messages()
        .filter(|m| m.package_name() == package && !m.is_map_entry())
    {
        code.push_str(&message_impls(&message)?);
    }
    for en in pool.all_enums().filter(|e| e.package_name() == package) {
        code.push_str(&enum_impls(&en));
    }
    let file = syn::parse_file(&code)
        .map_err(|e| anyhow::anyhow!("generated JSON code does not parse: {e}"))?;
    Ok(prettyplease::unparse(&file))
}

/// The Rust path of an enum below the crate root, as prost names it.
pub(crate) fn enum_path(en: &EnumDescriptor) -> String {
    let relative = en
        .full_name()
        .strip_prefix(en.package_name())
        .map(|r| r.trim_start_matches('.'))
        .unwrap_or(en.full_name());
    let mut segments: Vec<&str> = relative.split('.').collect();
    let name = segments.pop().expect("an enum has a name");
    segments
        .iter()
        .map(|parent| format!("{}::", field_ident(parent)))
        .chain(std::iter::once(type_ident(name)))
        .collect()
}

/// The `json::private` kind of a field's element type.
fn kind(kind: &Kind) -> String {
    match kind {
        Kind::Double => "F64".into(),
        Kind::Float => "F32".into(),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => "I32".into(),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => "I64".into(),
        Kind::Uint32 | Kind::Fixed32 => "U32".into(),
        Kind::Uint64 | Kind::Fixed64 => "U64".into(),
        Kind::Bool => "Bool".into(),
        Kind::String => "Str".into(),
        Kind::Bytes => "Bytes".into(),
        Kind::Enum(e) => format!("Enum<{}>", enum_path(e)),
        Kind::Message(m) => format!("Msg<{}>", message_path(m)),
    }
}

/// `bytes` fields that were `string` until an upstream patch release, which
/// `JsonOptions::key_value_text` writes and reads as text (kind `KeyValueText`).
const TEXT_BYTES: &[&str] = &["runtime.v1.KeyValue.value"];

enum Shape {
    Scalar(String),
    Message(String),
    List(String),
    Map(String, String),
}

fn shape(field: &FieldDescriptor) -> Shape {
    if field.is_map() {
        let entry = field.kind();
        let entry = entry.as_message().expect("map fields are message-typed");
        Shape::Map(
            kind(&entry.map_entry_key_field().kind()),
            kind(&entry.map_entry_value_field().kind()),
        )
    } else if field.is_list() {
        Shape::List(kind(&field.kind()))
    } else if let Kind::Message(_) = field.kind() {
        Shape::Message(kind(&field.kind()))
    } else if field.kind() == Kind::Bytes && TEXT_BYTES.contains(&field.full_name()) {
        Shape::Scalar("KeyValueText".into())
    } else {
        Shape::Scalar(kind(&field.kind()))
    }
}

fn message_impls(message: &MessageDescriptor) -> Result<String> {
    let path = message_path(message);
    let full_name = message.full_name();
    let fields: Vec<FieldDescriptor> = message.fields().collect();
    if let Some(oneof) = message.oneofs().next() {
        bail!(
            "{full_name} has the oneof `{}` (or a proto3 `optional` field): the JSON generator \
             (xtask/src/json.rs) does not handle oneofs yet",
            oneof.name()
        );
    }
    if fields.len() > 128 {
        bail!("{full_name} has more than 128 fields: the JSON generator tracks at most 128");
    }

    let names: Vec<String> = fields
        .iter()
        .map(|f| format!("{:?}", f.json_name()))
        .collect();
    let mut index_arms = String::new();
    for (i, field) in fields.iter().enumerate() {
        if field.json_name() == field.name() {
            let _ = writeln!(index_arms, "{:?} => Some({i}),", field.name());
        } else {
            let _ = writeln!(
                index_arms,
                "{:?} | {:?} => Some({i}),",
                field.json_name(),
                field.name()
            );
        }
    }

    let mut count = Vec::new();
    let mut write = String::new();
    let mut read = String::new();
    for (i, field) in fields.iter().enumerate() {
        let ident = field_ident(field.name());
        let (json, proto) = (field.json_name(), field.name());
        let key = if json == proto {
            format!("{json:?}")
        } else {
            format!("o.name({json:?}, {proto:?})")
        };
        match shape(field) {
            Shape::Scalar(k) => {
                let present = format!("d || !<{k} as Kind>::is_default(&self.{ident})");
                let _ = writeln!(
                    write,
                    "if {present} {{ st.serialize_field({key}, &One::<{k}>(&self.{ident}, o))?; }}"
                );
                count.push(present);
                let _ = writeln!(
                    read,
                    "{i} => if let Some(v) = map.next_value_seed(field::<{k}>(o, {json:?}))? {{ m.{ident} = v; }},"
                );
            }
            Shape::Message(k) => {
                let _ = writeln!(
                    write,
                    "if let Some(v) = &self.{ident} {{ st.serialize_field({key}, &One::<{k}>(v, o))?; }}"
                );
                count.push(format!("self.{ident}.is_some()"));
                let _ = writeln!(
                    read,
                    "{i} => m.{ident} = map.next_value_seed(field::<{k}>(o, {json:?}))?,"
                );
            }
            Shape::List(k) => {
                let present = format!("d || !self.{ident}.is_empty()");
                let _ = writeln!(
                    write,
                    "if {present} {{ st.serialize_field({key}, &Rep::<{k}>(&self.{ident}, o))?; }}"
                );
                count.push(present);
                let _ = writeln!(
                    read,
                    "{i} => m.{ident} = map.next_value_seed(rep_field::<{k}>(o, {json:?}))?,"
                );
            }
            Shape::Map(kk, vk) => {
                let present = format!("d || !self.{ident}.is_empty()");
                let _ = writeln!(
                    write,
                    "if {present} {{ st.serialize_field({key}, &Map::<{kk}, {vk}>(&self.{ident}, o))?; }}"
                );
                count.push(present);
                let _ = writeln!(
                    read,
                    "{i} => m.{ident} = map.next_value_seed(map_field::<{kk}, {vk}>(o, {json:?}))?,"
                );
            }
        }
    }

    let type_name = message.name();
    let (serialize_body, read_body) = if fields.is_empty() {
        (
            format!("let _ = o; s.serialize_struct({type_name:?}, 0)?.end()"),
            "let mut seen = 0u128; \
             while next_field::<Self, A>(&mut map, o, &mut seen)?.is_some() {} \
             Ok(Self::default())"
                .to_string(),
        )
    } else {
        (
            format!(
                "use crate::json::private::*;\n\
                 {}let n = {};\n\
                 let mut st = s.serialize_struct({type_name:?}, n)?;\n\
                 {write}\
                 st.end()",
                if count.iter().any(|c| c.starts_with("d ||")) {
                    "let d = o.emit_defaults;\n"
                } else {
                    ""
                },
                count
                    .iter()
                    .map(|c| format!("usize::from({c})"))
                    .collect::<Vec<_>>()
                    .join(" + ")
            ),
            format!(
                "let mut m = Self::default();\n\
                 let mut seen = 0u128;\n\
                 while let Some(i) = next_field::<Self, A>(&mut map, o, &mut seen)? {{\n\
                 match i {{\n{read}_ => {{}}\n}}\n\
                 }}\n\
                 Ok(m)"
            ),
        )
    };
    Ok(format!(
        "impl crate::json::private::Sealed for {path} {{}}\n\
         #[allow(deprecated)]\n\
         impl crate::json::JsonMessage for {path} {{\n\
         const FULL_NAME: &'static str = {full_name:?};\n\
         const FIELDS: &'static [&'static str] = &[{names}];\n\
         fn field_index(name: &str) -> Option<usize> {{ match name {{ {index_arms} _ => None }} }}\n\
         fn serialize_with<S: serde::Serializer>(&self, s: S, o: crate::json::JsonOptions) -> Result<S::Ok, S::Error> {{\n\
         use serde::ser::SerializeStruct as _;\n\
         {serialize_body}\n\
         }}\n\
         fn fields_from<'de, A: serde::de::MapAccess<'de>>(mut map: A, o: crate::json::JsonOptions) -> Result<Self, A::Error> {{\n\
         use crate::json::private::*;\n\
         {read_body}\n\
         }}\n\
         }}\n\
         impl serde::Serialize for {path} {{\n\
         fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {{\n\
         crate::json::JsonMessage::serialize_with(self, s, crate::json::JsonOptions::new())\n\
         }}\n\
         }}\n\
         impl<'de> serde::Deserialize<'de> for {path} {{\n\
         fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {{\n\
         crate::json::deserialize(d, crate::json::JsonOptions::new())\n\
         }}\n\
         }}\n",
        names = names.join(", "),
    ))
}

fn enum_impls(en: &EnumDescriptor) -> String {
    let path = enum_path(en);
    let full_name = en.full_name();
    format!(
        "#[allow(deprecated)]\n\
         impl crate::json::private::JsonEnum for {path} {{\n\
         const FULL_NAME: &'static str = {full_name:?};\n\
         fn name(number: i32) -> Option<&'static str> {{ Self::try_from(number).ok().map(|e| e.as_str_name()) }}\n\
         fn number(name: &str) -> Option<i32> {{ Self::from_str_name(name).map(|e| e as i32) }}\n\
         }}\n\
         #[allow(deprecated)]\n\
         impl serde::Serialize for {path} {{\n\
         fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {{ s.serialize_str(self.as_str_name()) }}\n\
         }}\n\
         impl<'de> serde::Deserialize<'de> for {path} {{\n\
         fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {{ crate::json::private::deserialize_enum(d) }}\n\
         }}\n"
    )
}
