//! `prost::Message` impls of our own for the messages with a singular `double` or `float` field,
//! so that `-0.0` is written.
//!
//! The proto3 spec says "-0 is considered distinct and will be serialized": Go, C++, Java and
//! upb compare the bit pattern with `+0.0`. prost's derive compares the value (`!= 0f64`), so
//! it leaves `-0.0` out and a peer reads `+0.0` (tokio-rs/prost#1177). prost-build has no switch
//! for it and the derive no hook, so for each such message this module takes the derive off the
//! struct prost-build wrote (and the `#[prost(...)]` field attributes that only the derive reads)
//! and writes what the derive would have written: `Message` (fields in number order, as the derive
//! sorts them), `Default` (derived: every proto3 default is Rust's), `Debug` (unless the message
//! has a redacting `Debug` already) and the enum getters and setters, through the same `prost::encoding` functions the derive calls. The
//! one difference: a singular `double` or `float` is written when its bits are not those of
//! `+0.0` (so `-0.0` and every NaN are written).
//!
//! The field shapes handled are those of proto3 without `oneof`: scalars, enums, strings, bytes,
//! messages, repeated fields and maps (string or integer keys; scalar or message values). A oneof,
//! a proto3 `optional`, a repeated enum or a map with enum values in such a message stops `regen`
//! with an error naming it, rather than a guess.

use std::fmt::Write as _;

use anyhow::{Result, bail};
use prost_reflect::{DescriptorPool, FieldDescriptor, Kind, MessageDescriptor};

use crate::json::enum_path;
use crate::names::{field, message_path, type_ident};

/// The messages of `package` that need an impl of our own: those with a singular (not repeated,
/// not map, no presence) `double` or `float` field.
pub fn messages(pool: &DescriptorPool, package: &str) -> Vec<MessageDescriptor> {
    pool.all_messages()
        .filter(|m| m.package_name() == package && !m.is_map_entry())
        .filter(|m| {
            m.fields().any(|f| {
                matches!(f.kind(), Kind::Double | Kind::Float)
                    && !f.is_list()
                    && !f.is_map()
                    && !f.supports_presence()
            })
        })
        .collect()
}

/// Rewrites prost-build's `code` for every message of [`messages`] and answers the impls to
/// append to it. `redacted` says whether a message already gets a `Debug` of the generator's.
pub fn apply(
    code: &mut String,
    pool: &DescriptorPool,
    package: &str,
    redacted: &dyn Fn(&MessageDescriptor) -> bool,
) -> Result<String> {
    let mut impls = String::new();
    let mut debug_enum = false;
    for message in messages(pool, package) {
        check_shapes(&message)?;
        take_derive_off(code, &message)?;
        impls.push_str(&message_impl(&message));
        if !redacted(&message) {
            let (debug, uses_enum) = debug_impl(&message);
            impls.push_str(&debug);
            debug_enum |= uses_enum;
        }
        impls.push_str(&enum_methods(&message));
    }
    if impls.is_empty() {
        return Ok(impls);
    }
    if debug_enum {
        impls.push_str(DEBUG_ENUM);
    }
    let file = syn::parse_file(&impls)
        .map_err(|e| anyhow::anyhow!("generated Message impls do not parse: {e}"))?;
    Ok(format!(
        "\n// `Message` impls that write `-0.0` (xtask/src/negative_zero.rs).\n{}",
        prettyplease::unparse(&file)
    ))
}

fn check_shapes(message: &MessageDescriptor) -> Result<()> {
    let name = message.full_name();
    if let Some(oneof) = message.oneofs().next() {
        bail!(
            "{name} has a double or float field and the oneof `{}` (or a proto3 `optional` \
             field): xtask/src/negative_zero.rs does not write oneofs yet",
            oneof.name()
        );
    }
    for f in message.fields() {
        let enum_value = |kind: &Kind| matches!(kind, Kind::Enum(_));
        if f.is_list() && enum_value(&f.kind()) {
            bail!(
                "{name}.{} is a repeated enum in a message with a double or float field: \
                 xtask/src/negative_zero.rs does not write those yet",
                f.name()
            );
        }
        if f.is_map() && enum_value(&map_value(&f).kind()) {
            bail!(
                "{name}.{} is a map with enum values in a message with a double or float field: \
                 xtask/src/negative_zero.rs does not write those yet",
                f.name()
            );
        }
    }
    Ok(())
}

/// Takes `::prost::Message` out of the struct's derive and removes the `#[prost(...)]`
/// attributes (of the struct and its fields) that only that derive reads.
fn take_derive_off(code: &mut String, message: &MessageDescriptor) -> Result<()> {
    let path = message_path(message);
    let depth = path.matches("::").count();
    let indent = "    ".repeat(depth);
    let name = type_ident(message.name());
    let opening = format!("{indent}pub struct {name} {{");
    // A message without fields is one line.
    let empty = format!("{opening}}}");
    let lines: Vec<&str> = code.lines().collect();
    let found: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i] == opening || lines[i] == empty)
        .collect();
    let &[at] = found.as_slice() else {
        bail!(
            "{}: prost-build's output has {} lines `{}` (expected one); \
             xtask/src/negative_zero.rs cannot find the struct to take the derive off",
            message.full_name(),
            found.len(),
            opening.trim()
        );
    };

    let mut keep = vec![true; lines.len()];
    let mut edited: Vec<(usize, String)> = Vec::new();
    let mut derive_found = false;
    for i in (0..at).rev() {
        let line = lines[i];
        if !(line.starts_with(&format!("{indent}#[")) || line.starts_with(&format!("{indent}///")))
        {
            break;
        }
        if line == format!("{indent}#[prost(skip_debug)]") {
            keep[i] = false;
        } else if line.starts_with(&format!("{indent}#[derive("))
            && line.contains("::prost::Message")
        {
            // `Default` as the derive's (every proto3 default is Rust's).
            let rewritten = line
                .replace(", ::prost::Message)", ", Default)")
                .replace("#[derive(::prost::Message)]", "#[derive(Default)]");
            if rewritten.contains("::prost::Message") {
                bail!(
                    "{}: cannot take ::prost::Message out of `{line}`",
                    message.full_name()
                );
            }
            edited.push((i, rewritten));
            derive_found = true;
        }
    }
    if !derive_found {
        bail!(
            "{}: no `#[derive(.., ::prost::Message)]` above `{}` in prost-build's output",
            message.full_name(),
            opening.trim()
        );
    }

    // A struct with fields (not one line `pub struct Empty {}`): its field attributes.
    if lines[at] == opening {
        drop_field_attributes(&lines, at, &indent, &mut keep, message.full_name())?;
    }

    let mut out = String::with_capacity(code.len());
    for (i, line) in lines.iter().enumerate() {
        if !keep[i] {
            continue;
        }
        match edited.iter().find(|(at, _)| *at == i) {
            Some((_, rewritten)) => out.push_str(rewritten),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    *code = out;
    Ok(())
}

/// Marks for removal the `#[prost(...)]` attributes of the fields of the struct whose opening
/// line is `lines[at]`.
fn drop_field_attributes(
    lines: &[&str],
    at: usize,
    indent: &str,
    keep: &mut [bool],
    name: &str,
) -> Result<()> {
    let closing = format!("{indent}}}");
    let field_attr = format!("{indent}    #[prost(");
    let mut i = at + 1;
    loop {
        let Some(line) = lines.get(i) else {
            bail!("{name}: the struct never closes");
        };
        if *line == closing {
            return Ok(());
        }
        if line.starts_with(&field_attr) {
            // An attribute prettyplease broke over lines ends with a line `)]`.
            while !lines[i].trim_end().ends_with(")]") {
                keep[i] = false;
                i += 1;
                if i >= lines.len() {
                    bail!("{name}: a #[prost(...)] attribute never closes");
                }
            }
            keep[i] = false;
        }
        i += 1;
    }
}

fn map_value(f: &FieldDescriptor) -> FieldDescriptor {
    f.kind()
        .as_message()
        .expect("map fields are message-typed")
        .map_entry_value_field()
}

fn map_key(f: &FieldDescriptor) -> FieldDescriptor {
    f.kind()
        .as_message()
        .expect("map fields are message-typed")
        .map_entry_key_field()
}

/// The `prost::encoding` module of a scalar kind (enums are `int32` on the wire).
fn module(kind: &Kind) -> &'static str {
    match kind {
        Kind::Double => "double",
        Kind::Float => "float",
        Kind::Int32 | Kind::Enum(_) => "int32",
        Kind::Int64 => "int64",
        Kind::Uint32 => "uint32",
        Kind::Uint64 => "uint64",
        Kind::Sint32 => "sint32",
        Kind::Sint64 => "sint64",
        Kind::Fixed32 => "fixed32",
        Kind::Fixed64 => "fixed64",
        Kind::Sfixed32 => "sfixed32",
        Kind::Sfixed64 => "sfixed64",
        Kind::Bool => "bool",
        Kind::String => "string",
        Kind::Bytes => "bytes",
        Kind::Message(_) => "message",
    }
}

/// When a singular field is written: never at its default; for floats, `+0.0` (by its bits) is
/// the default, so `-0.0` is written.
fn is_set(kind: &Kind, value: &str) -> String {
    match kind {
        Kind::Double | Kind::Float => format!("{value}.to_bits() != 0"),
        Kind::Bool => value.to_string(),
        Kind::String | Kind::Bytes => format!("!{value}.is_empty()"),
        _ => format!("{value} != 0"),
    }
}

/// The statement that writes one field, and the expression of its encoded length.
fn encode_and_len(f: &FieldDescriptor) -> (String, String) {
    let ident = format!("self.{}", field(f));
    let tag = f.number();
    let kind = f.kind();
    if f.is_map() {
        let (key, value) = (module(&map_key(f).kind()), module(&map_value(f).kind()));
        let enc = format!(
            "::prost::encoding::{key}::encode, ::prost::encoding::{key}::encoded_len, ::prost::encoding::{value}::encode, ::prost::encoding::{value}::encoded_len"
        );
        let len = format!(
            "::prost::encoding::{key}::encoded_len, ::prost::encoding::{value}::encoded_len"
        );
        (
            format!("::prost::encoding::btree_map::encode({enc}, {tag}, &{ident}, buf);"),
            format!("::prost::encoding::btree_map::encoded_len({len}, {tag}, &{ident})"),
        )
    } else if f.is_list() {
        let m = module(&kind);
        let (encode, len) = match kind {
            Kind::Message(_) | Kind::String | Kind::Bytes => {
                ("encode_repeated", "encoded_len_repeated")
            }
            _ if f.is_packed() => ("encode_packed", "encoded_len_packed"),
            _ => ("encode_repeated", "encoded_len_repeated"),
        };
        (
            format!("::prost::encoding::{m}::{encode}({tag}, &{ident}, buf);"),
            format!("::prost::encoding::{m}::{len}({tag}, &{ident})"),
        )
    } else if let Kind::Message(_) = kind {
        (
            format!(
                "if let ::core::option::Option::Some(msg) = &{ident} {{ ::prost::encoding::message::encode({tag}, msg, buf); }}"
            ),
            format!(
                "{ident}.as_ref().map_or(0, |msg| ::prost::encoding::message::encoded_len({tag}, msg))"
            ),
        )
    } else {
        let m = module(&kind);
        let set = is_set(&kind, &ident);
        (
            format!("if {set} {{ ::prost::encoding::{m}::encode({tag}, &{ident}, buf); }}"),
            format!(
                "if {set} {{ ::prost::encoding::{m}::encoded_len({tag}, &{ident}) }} else {{ 0 }}"
            ),
        )
    }
}

/// The expression that merges one field from the wire.
fn merge(f: &FieldDescriptor) -> String {
    let ident = format!("self.{}", field(f));
    let kind = f.kind();
    if f.is_map() {
        let (key, value) = (module(&map_key(f).kind()), module(&map_value(f).kind()));
        format!(
            "::prost::encoding::check_wire_type(::prost::encoding::WireType::LengthDelimited, wire_type)\
             .and_then(|()| ::prost::encoding::btree_map::merge(::prost::encoding::{key}::merge, \
             ::prost::encoding::{value}::merge, &mut {ident}, buf, ctx))"
        )
    } else if f.is_list() {
        format!(
            "::prost::encoding::{}::merge_repeated(wire_type, &mut {ident}, buf, ctx)",
            module(&kind)
        )
    } else if let Kind::Message(_) = kind {
        format!(
            "::prost::encoding::message::merge(wire_type, \
             {ident}.get_or_insert_with(::core::default::Default::default), buf, ctx)"
        )
    } else {
        format!(
            "::prost::encoding::{}::merge(wire_type, &mut {ident}, buf, ctx)",
            module(&kind)
        )
    }
}

fn clear(f: &FieldDescriptor) -> String {
    let ident = format!("self.{}", field(f));
    if f.is_list() || f.is_map() || matches!(f.kind(), Kind::String | Kind::Bytes) {
        format!("{ident}.clear();")
    } else {
        format!("{ident} = ::core::default::Default::default();")
    }
}

fn message_impl(message: &MessageDescriptor) -> String {
    let path = message_path(message);
    let mut fields: Vec<FieldDescriptor> = message.fields().collect();
    // In field-number order, as prost's derive writes them.
    fields.sort_by_key(FieldDescriptor::number);
    let (mut encode, mut lens, mut merges, mut clears): (String, Vec<String>, String, String) =
        (String::new(), Vec::new(), String::new(), String::new());
    for f in &fields {
        let (e, l) = encode_and_len(f);
        let _ = writeln!(encode, "{e}");
        lens.push(l);
        let _ = writeln!(
            merges,
            "{} => {}.map_err(|mut error| {{ error.push(STRUCT_NAME, {:?}); error }}),",
            f.number(),
            merge(f),
            field(f).trim_start_matches("r#"),
        );
        let _ = writeln!(clears, "{}", clear(f));
    }
    let lens = if lens.len() < 2 {
        lens.pop().unwrap_or_else(|| "0".to_string())
    } else {
        lens.iter()
            .map(|l| format!("({l})"))
            .collect::<Vec<_>>()
            .join(" + ")
    };
    format!(
        "#[allow(deprecated)]\n\
         impl ::prost::Message for {path} {{\n\
         #[allow(unused_variables)]\n\
         fn encode_raw(&self, buf: &mut impl ::prost::bytes::BufMut) {{\n{encode}}}\n\
         fn merge_field(&mut self, tag: u32, wire_type: ::prost::encoding::wire_type::WireType, \
         buf: &mut impl ::prost::bytes::Buf, ctx: ::prost::encoding::DecodeContext) \
         -> ::core::result::Result<(), ::prost::DecodeError> {{\n\
         {struct_name}\
         match tag {{\n{merges}_ => ::prost::encoding::skip_field(wire_type, tag, buf, ctx),\n}}\n}}\n\
         #[inline]\n\
         fn encoded_len(&self) -> usize {{ {lens} }}\n\
         fn clear(&mut self) {{\n{clears}}}\n\
         }}\n",
        struct_name = if fields.is_empty() {
            String::new()
        } else {
            format!("const STRUCT_NAME: &str = {:?};\n", message.name())
        },
    )
}

/// `Debug` as the derive prints it: fields in declaration order, enums by variant name where
/// the number is one. Answers whether it uses `DebugEnum`.
fn debug_impl(message: &MessageDescriptor) -> (String, bool) {
    let path = message_path(message);
    let mut body = String::new();
    let mut uses_enum = false;
    for f in message.fields() {
        let ident = field(&f);
        let value = match f.kind() {
            Kind::Enum(e) if !f.is_list() && !f.is_map() => {
                uses_enum = true;
                format!(
                    "&DebugEnum::<{}>(self.{ident}, ::core::marker::PhantomData)",
                    enum_path(&e)
                )
            }
            _ => format!("&self.{ident}"),
        };
        let _ = writeln!(
            body,
            ".field({:?}, {value})",
            ident.trim_start_matches("r#")
        );
    }
    (
        format!(
            "#[allow(deprecated)]\n\
             impl ::core::fmt::Debug for {path} {{\n\
             fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {{\n\
             f.debug_struct({:?})\n{body}.finish()\n}}\n\
             }}\n",
            message.name()
        ),
        uses_enum,
    )
}

/// The getter and setter the derive writes for every singular enum field.
fn enum_methods(message: &MessageDescriptor) -> String {
    let mut methods = String::new();
    for f in message.fields() {
        let Kind::Enum(e) = f.kind() else { continue };
        if f.is_list() || f.is_map() {
            continue;
        }
        let ident = field(&f);
        let bare = ident.trim_start_matches("r#");
        let ty = enum_path(&e);
        let _ = write!(
            methods,
            "/// Returns the enum value of `{bare}`, or the default if the field is set to an \
             invalid enum value.\n\
             pub fn {ident}(&self) -> {ty} {{ {ty}::try_from(self.{ident}).unwrap_or_default() }}\n\
             /// Sets `{bare}` to the provided enum value.\n\
             pub fn set_{bare}(&mut self, value: {ty}) {{ self.{ident} = value as i32; }}\n"
        );
    }
    if methods.is_empty() {
        return methods;
    }
    format!(
        "#[allow(dead_code, deprecated)]\nimpl {} {{\n{methods}}}\n",
        message_path(message)
    )
}

/// Prints an open enum's number as prost's derive does: the variant when the number is one,
/// else the number.
const DEBUG_ENUM: &str = r#"
struct DebugEnum<E>(i32, ::core::marker::PhantomData<E>);
impl<E: ::core::convert::TryFrom<i32> + ::core::fmt::Debug> ::core::fmt::Debug for DebugEnum<E> {
    fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
        match E::try_from(self.0) {
            Ok(value) => ::core::fmt::Debug::fmt(&value, f),
            Err(_) => ::core::fmt::Debug::fmt(&self.0, f),
        }
    }
}
"#;

#[cfg(test)]
mod tests;
