//! The API surface of one CRI version as plain text, one fact a line, for insta snapshots.
//!
//! Each line names its element fully (`field Mount.mount_options = 9: repeated string`), so a
//! snapshot diff after vendoring a new upstream tag reads as the list of what upstream changed.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;

use prost_reflect::{
    Cardinality, DescriptorPool, EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor,
};

/// The insta snapshot of `version`'s surface, relative to the workspace root.
pub fn snapshot_path(version: &crate::ApiVersion) -> PathBuf {
    Path::new("xtask/tests/snapshots").join(format!("surface__{}.snap", version.name))
}

/// Writes `surface` as the snapshot at `path` in insta's format (what `cargo insta accept`
/// would write for `xtask/tests/surface.rs`); returns whether the file changed.
pub fn write_snapshot(path: &Path, surface: &str) -> Result<bool> {
    let text = format!(
        "---\nsource: xtask/tests/surface.rs\nexpression: text\n---\n{}\n",
        surface.trim_end()
    );
    crate::fsutil::write_if_changed(path, text.as_bytes())
}

/// Renders services, messages (with their fields) and enums (with their values) of `package`,
/// in declaration order.
pub fn render(pool: &DescriptorPool, package: &str) -> String {
    let prefix = format!("{package}.");
    let rel = |full: &str| full.strip_prefix(&prefix).unwrap_or(full).to_string();
    let mut out = String::new();
    for file in pool.files().filter(|f| f.package_name() == package) {
        let _ = writeln!(out, "package {package}");
        for service in file.services() {
            let _ = writeln!(out, "service {}", service.name());
            for method in service.methods() {
                let stream = |yes: bool| if yes { "stream " } else { "" };
                let _ = writeln!(
                    out,
                    "rpc {}.{}({}{}) returns ({}{})",
                    service.name(),
                    method.name(),
                    stream(method.is_client_streaming()),
                    rel(method.input().full_name()),
                    stream(method.is_server_streaming()),
                    rel(method.output().full_name()),
                );
            }
        }
        for message in file.messages() {
            render_message(&mut out, &message, &rel);
        }
        for en in file.enums() {
            render_enum(&mut out, &en, &rel);
        }
    }
    out
}

fn render_message(out: &mut String, message: &MessageDescriptor, rel: &dyn Fn(&str) -> String) {
    if message.is_map_entry() {
        return;
    }
    let name = rel(message.full_name());
    let _ = writeln!(out, "message {name}");
    for field in message.fields() {
        let mut line = format!(
            "field {name}.{} = {}: {}",
            field.name(),
            field.number(),
            field_type(&field, rel)
        );
        if let Some(oneof) = field.containing_oneof().filter(|o| !o.is_synthetic()) {
            let _ = write!(line, " (oneof {})", oneof.name());
        }
        if field
            .options()
            .get_field_by_name("debug_redact")
            .is_some_and(|v| v.as_bool() == Some(true))
        {
            line.push_str(" [debug_redact]");
        }
        if field
            .options()
            .get_field_by_name("deprecated")
            .is_some_and(|v| v.as_bool() == Some(true))
        {
            line.push_str(" [deprecated]");
        }
        let _ = writeln!(out, "{line}");
    }
    for reserved in message.reserved_ranges() {
        let _ = writeln!(out, "reserved {name} {}..{}", reserved.start, reserved.end);
    }
    for child in message.child_messages() {
        render_message(out, &child, rel);
    }
    for en in message.child_enums() {
        render_enum(out, &en, rel);
    }
}

fn render_enum(out: &mut String, en: &EnumDescriptor, rel: &dyn Fn(&str) -> String) {
    let name = rel(en.full_name());
    let _ = writeln!(out, "enum {name}");
    for value in en.values() {
        let _ = writeln!(out, "value {name}.{} = {}", value.name(), value.number());
    }
}

fn field_type(field: &FieldDescriptor, rel: &dyn Fn(&str) -> String) -> String {
    if field.is_map() {
        let Kind::Message(entry) = field.kind() else {
            unreachable!("map fields are message-typed")
        };
        return format!(
            "map<{}, {}>",
            kind_name(&entry.map_entry_key_field().kind(), rel),
            kind_name(&entry.map_entry_value_field().kind(), rel)
        );
    }
    let kind = kind_name(&field.kind(), rel);
    match field.cardinality() {
        Cardinality::Repeated => format!("repeated {kind}"),
        Cardinality::Optional if field.field_descriptor_proto().proto3_optional() => {
            format!("optional {kind}")
        }
        Cardinality::Required => format!("required {kind}"),
        Cardinality::Optional => kind,
    }
}

fn kind_name(kind: &Kind, rel: &dyn Fn(&str) -> String) -> String {
    match kind {
        Kind::Message(m) => rel(m.full_name()),
        Kind::Enum(e) => format!("enum {}", rel(e.full_name())),
        Kind::Double => "double".into(),
        Kind::Float => "float".into(),
        Kind::Int32 => "int32".into(),
        Kind::Int64 => "int64".into(),
        Kind::Uint32 => "uint32".into(),
        Kind::Uint64 => "uint64".into(),
        Kind::Sint32 => "sint32".into(),
        Kind::Sint64 => "sint64".into(),
        Kind::Fixed32 => "fixed32".into(),
        Kind::Fixed64 => "fixed64".into(),
        Kind::Sfixed32 => "sfixed32".into(),
        Kind::Sfixed64 => "sfixed64".into(),
        Kind::Bool => "bool".into(),
        Kind::String => "string".into(),
        Kind::Bytes => "bytes".into(),
    }
}
