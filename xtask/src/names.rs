//! The Rust names prost gives to protobuf elements, so that code written next to prost's
//! (redacting `Debug`, conversions, adapters) names the same items.

use heck::{ToSnakeCase, ToUpperCamelCase};
use prost_reflect::{FieldDescriptor, MessageDescriptor};

/// A field or module identifier (`snake_case`, keywords made raw), as prost makes it.
pub fn field_ident(proto_name: &str) -> String {
    escape(proto_name.to_snake_case())
}

/// A type identifier (`UpperCamelCase`), as prost makes it (`CDIDevice` becomes `CdiDevice`).
pub fn type_ident(proto_name: &str) -> String {
    escape(proto_name.to_upper_camel_case())
}

fn escape(ident: String) -> String {
    const RAW: &[&str] = &[
        "as", "async", "await", "break", "const", "continue", "dyn", "else", "enum", "false", "fn",
        "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
        "ref", "return", "static", "struct", "trait", "true", "try", "type", "unsafe", "use",
        "where", "while", "abstract", "become", "box", "do", "final", "macro", "override", "priv",
        "typeof", "unsized", "virtual", "yield",
    ];
    const SUFFIXED: &[&str] = &["_", "super", "self", "Self", "extern", "crate"];
    if RAW.contains(&ident.as_str()) {
        format!("r#{ident}")
    } else if SUFFIXED.contains(&ident.as_str()) {
        format!("{ident}_")
    } else if ident.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{ident}")
    } else {
        ident
    }
}

/// The path of a message's Rust type below the crate root: `ContainerStatus`, or
/// `security_profile::ProfileType` for nested types.
pub fn message_path(message: &MessageDescriptor) -> String {
    let package = message.package_name();
    let relative = message
        .full_name()
        .strip_prefix(package)
        .map(|r| r.trim_start_matches('.'))
        .unwrap_or(message.full_name());
    let mut segments: Vec<&str> = relative.split('.').collect();
    let name = segments.pop().expect("a message has a name");
    segments
        .iter()
        .map(|parent| format!("{}::", field_ident(parent)))
        .chain(std::iter::once(type_ident(name)))
        .collect()
}

/// The Rust identifier of a field.
pub fn field(field: &FieldDescriptor) -> String {
    field_ident(field.name())
}
