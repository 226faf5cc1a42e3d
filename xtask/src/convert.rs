//! Generates `crates/cri-convert`: conversions between `runtime.v1alpha2` and `runtime.v1`
//! for every message both versions have, and the service adapters between them.
//!
//! The mapping is derived from the two descriptor pools, never kept by hand: messages and enums
//! pair by name, fields by number (the wire identity), RPCs by service and method name. The
//! only non-mechanical rules are in `RULES`. Any other difference (a changed field type, a
//! removed field or message, a changed cardinality) is an error that names it, so a new
//! upstream release cannot be converted wrongly without somebody deciding how.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Result, bail};
use prost_reflect::{
    Cardinality, DescriptorPool, FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor,
};

use crate::names::{field, message_path};
use crate::{V1, V1ALPHA2};

/// Directory the generator owns inside `cri-convert`.
pub const GENERATED_DIR: &str = "crates/cri-convert/src/generated";

/// A field whose type differs between the versions, and how to convert it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// `string` in v1alpha2, `bytes` in v1: upgrade moves the UTF-8 bytes; downgrade keeps
    /// valid UTF-8 and reports anything else.
    StringToBytes,
}

/// `(message, field)` (names relative to the package) → the rule that maps the field.
const RULES: &[(&str, &str, Rule)] = &[("KeyValue", "value", Rule::StringToBytes)];

/// How one v1alpha2 field maps to its v1 counterpart.
enum Conv {
    /// Same type: moved as is (scalars, strings, bytes, enums as their `i32`).
    Move,
    /// A message (singular, repeated, or map value) converted recursively.
    Message,
    /// A non-mechanical rule.
    Rule(Rule),
}

struct FieldPair {
    alpha: FieldDescriptor,
    v1: FieldDescriptor,
    conv: Conv,
}

struct MessagePair {
    alpha: MessageDescriptor,
    v1: MessageDescriptor,
    fields: Vec<FieldPair>,
    /// Fields only v1 has: default on upgrade, reported on downgrade when set.
    v1_only: Vec<FieldDescriptor>,
}

/// Generates the files of `cri-convert` from the two pools.
pub fn generate(
    alpha: &DescriptorPool,
    v1: &DescriptorPool,
    header: &str,
) -> Result<BTreeMap<PathBuf, Vec<u8>>> {
    let mut errors = Vec::new();
    let pairs = pair_messages(alpha, v1, &mut errors);
    check_enums(alpha, v1, &mut errors);
    let services = pair_methods(alpha, v1, &mut errors);
    if !errors.is_empty() {
        bail!(
            "runtime.v1alpha2 and runtime.v1 differ in ways the conversion generator cannot map \
             (add a rule in xtask/src/convert.rs or decide otherwise):\n  - {}",
            errors.join("\n  - ")
        );
    }

    let mut messages = String::from(header);
    messages.push_str(
        "\n// Conversions for every message both versions have. `a` is runtime.v1alpha2, `b` is\n\
         // runtime.v1; fields pair by number.\n\
         use cri_api_v1 as b;\nuse cri_api_v1alpha2 as a;\n\n\
         use crate::__private::{DowngradeInto, Path, Reason, Report};\nuse crate::Upgrade;\n",
    );
    for pair in &pairs {
        write_upgrade(&mut messages, pair);
        write_downgrade(&mut messages, pair);
    }
    write_list_macro(&mut messages, &pairs);

    let mut service_code = String::from(header);
    write_services(&mut service_code, &services);

    let dir = PathBuf::from(GENERATED_DIR);
    Ok(BTreeMap::from([
        (dir.join("messages.rs"), messages.into_bytes()),
        (dir.join("services.rs"), service_code.into_bytes()),
    ]))
}

fn relative<'a>(full: &'a str, package: &str) -> &'a str {
    full.strip_prefix(package)
        .and_then(|r| r.strip_prefix('.'))
        .unwrap_or(full)
}

fn pair_messages(
    alpha: &DescriptorPool,
    v1: &DescriptorPool,
    errors: &mut Vec<String>,
) -> Vec<MessagePair> {
    let mut pairs = Vec::new();
    for a in alpha
        .all_messages()
        .filter(|m| m.package_name() == V1ALPHA2.package && !m.is_map_entry())
    {
        let name = relative(a.full_name(), V1ALPHA2.package);
        let Some(b) = v1.get_message_by_name(&format!("{}.{name}", V1.package)) else {
            errors.push(format!(
                "message {name} was removed (runtime.v1 has no {name})"
            ));
            continue;
        };
        let mut fields = Vec::new();
        for af in a.fields() {
            let where_ = format!("{name}.{} (field {})", af.name(), af.number());
            if af.containing_oneof().is_some() {
                errors.push(format!(
                    "{where_}: oneof and optional fields are not supported yet"
                ));
                continue;
            }
            let Some(bf) = b.get_field(af.number()) else {
                errors.push(format!("{where_} was removed in runtime.v1"));
                continue;
            };
            if bf.containing_oneof().is_some() {
                errors.push(format!("{where_} became part of a oneof in runtime.v1"));
                continue;
            }
            match field_conv(&af, &bf, name) {
                Ok(conv) => fields.push(FieldPair {
                    alpha: af,
                    v1: bf,
                    conv,
                }),
                Err(why) => errors.push(format!("{where_}: {why}")),
            }
        }
        let v1_only: Vec<_> = b
            .fields()
            .filter(|bf| a.get_field(bf.number()).is_none())
            .collect();
        for bf in &v1_only {
            if bf.containing_oneof().is_some() {
                errors.push(format!(
                    "{name}.{}: v1-only oneof fields are not supported yet",
                    bf.name()
                ));
            }
        }
        pairs.push(MessagePair {
            alpha: a,
            v1: b,
            fields,
            v1_only,
        });
    }
    pairs
}

fn field_conv(a: &FieldDescriptor, b: &FieldDescriptor, message: &str) -> Result<Conv, String> {
    if let Some(&(_, _, rule)) = RULES
        .iter()
        .find(|(m, f, _)| *m == message && *f == a.name())
    {
        return match (
            rule,
            a.kind(),
            b.kind(),
            a.is_list() == b.is_list() && !a.is_map() && !b.is_map(),
        ) {
            (Rule::StringToBytes, Kind::String, Kind::Bytes, true) => Ok(Conv::Rule(rule)),
            _ => Err(format!("the rule {rule:?} no longer fits this field")),
        };
    }
    if a.is_map() != b.is_map() || a.is_list() != b.is_list() || a.cardinality() != b.cardinality()
    {
        return Err(format!(
            "its cardinality changed ({} in runtime.v1alpha2, {} in runtime.v1)",
            shape(a),
            shape(b)
        ));
    }
    if a.is_map() {
        let (Kind::Message(ae), Kind::Message(be)) = (a.kind(), b.kind()) else {
            unreachable!("map fields are message-typed")
        };
        let key_conv = value_conv(
            &ae.map_entry_key_field().kind(),
            &be.map_entry_key_field().kind(),
        )?;
        if !matches!(key_conv, Conv::Move) {
            return Err("map keys changed type".into());
        }
        return value_conv(
            &ae.map_entry_value_field().kind(),
            &be.map_entry_value_field().kind(),
        );
    }
    value_conv(&a.kind(), &b.kind())
}

fn value_conv(a: &Kind, b: &Kind) -> Result<Conv, String> {
    match (a, b) {
        (Kind::Message(am), Kind::Message(bm)) => {
            let (an, bn) = (
                relative(am.full_name(), V1ALPHA2.package),
                relative(bm.full_name(), V1.package),
            );
            if an == bn {
                Ok(Conv::Message)
            } else {
                Err(format!("its type changed from {an} to {bn}"))
            }
        }
        (Kind::Enum(ae), Kind::Enum(be)) => {
            let (an, bn) = (
                relative(ae.full_name(), V1ALPHA2.package),
                relative(be.full_name(), V1.package),
            );
            if an == bn {
                Ok(Conv::Move)
            } else {
                Err(format!("its enum type changed from {an} to {bn}"))
            }
        }
        (a, b) if a == b => Ok(Conv::Move),
        (a, b) => Err(format!("its type changed from {a:?} to {b:?}")),
    }
}

fn shape(f: &FieldDescriptor) -> &'static str {
    if f.is_map() {
        "map"
    } else if f.is_list() {
        "repeated"
    } else if f.cardinality() == Cardinality::Required {
        "required"
    } else {
        "singular"
    }
}

fn check_enums(alpha: &DescriptorPool, v1: &DescriptorPool, errors: &mut Vec<String>) {
    for a in alpha
        .all_enums()
        .filter(|e| e.package_name() == V1ALPHA2.package)
    {
        let name = relative(a.full_name(), V1ALPHA2.package);
        if v1
            .get_enum_by_name(&format!("{}.{name}", V1.package))
            .is_none()
        {
            errors.push(format!(
                "enum {name} was removed (runtime.v1 has no {name})"
            ));
        }
        // Values pair by number: enum fields convert as their i32, so renamed values (for
        // example Signal's SIGNAL_* names in v0.37) and unknown values stay intact.
    }
}

struct ServicePair {
    name: String,
    methods: Vec<MethodDescriptor>,
}

fn pair_methods(
    alpha: &DescriptorPool,
    v1: &DescriptorPool,
    errors: &mut Vec<String>,
) -> Vec<ServicePair> {
    let mut out = Vec::new();
    for service in alpha
        .services()
        .filter(|s| s.package_name() == V1ALPHA2.package)
    {
        let Some(b_service) = v1.get_service_by_name(&format!("{}.{}", V1.package, service.name()))
        else {
            errors.push(format!("service {} was removed", service.name()));
            continue;
        };
        let mut methods = Vec::new();
        for method in service.methods() {
            let where_ = format!("rpc {}.{}", service.name(), method.name());
            let Some(b) = b_service.methods().find(|m| m.name() == method.name()) else {
                errors.push(format!("{where_} was removed"));
                continue;
            };
            if method.is_client_streaming()
                || method.is_server_streaming()
                || b.is_client_streaming()
                || b.is_server_streaming()
            {
                errors.push(format!(
                    "{where_}: streaming RPCs shared by both versions are not supported yet"
                ));
                continue;
            }
            for (what, am, bm) in [
                ("request", method.input(), b.input()),
                ("response", method.output(), b.output()),
            ] {
                if relative(am.full_name(), V1ALPHA2.package)
                    != relative(bm.full_name(), V1.package)
                {
                    errors.push(format!(
                        "{where_}: its {what} type changed to {}",
                        bm.full_name()
                    ));
                }
            }
            methods.push(method);
        }
        out.push(ServicePair {
            name: service.name().to_string(),
            methods,
        });
    }
    out
}

/// The expression that tells whether a v1-only field holds a non-default value.
fn is_set(f: &FieldDescriptor, ident: &str) -> String {
    if f.is_list() || f.is_map() {
        return format!("!{ident}.is_empty()");
    }
    match f.kind() {
        Kind::Message(_) => format!("{ident}.is_some()"),
        Kind::String | Kind::Bytes => format!("!{ident}.is_empty()"),
        Kind::Bool => ident.to_string(),
        // -0.0 is a non-default value in proto3: compare the bits.
        Kind::Double | Kind::Float => format!("{ident}.to_bits() != 0"),
        _ => format!("{ident} != 0"),
    }
}

fn write_upgrade(out: &mut String, pair: &MessagePair) {
    let (ap, bp) = (message_path(&pair.alpha), message_path(&pair.v1));
    let mut destructure = String::new();
    let mut build = String::new();
    for fp in &pair.fields {
        let (ai, bi) = (field(&fp.alpha), field(&fp.v1));
        let _ = write!(destructure, "{ai}, ");
        let value = match (&fp.conv, fp.alpha.is_map(), fp.alpha.is_list()) {
            (Conv::Move, ..) => ai.clone(),
            (Conv::Message, true, _) => {
                format!("{ai}.into_iter().map(|(k, v)| (k, v.upgrade())).collect()")
            }
            (Conv::Message, false, true) => {
                format!("{ai}.into_iter().map(Upgrade::upgrade).collect()")
            }
            (Conv::Message, false, false) => format!("{ai}.map(Upgrade::upgrade)"),
            (Conv::Rule(Rule::StringToBytes), _, true) => {
                format!("{ai}.into_iter().map(String::into_bytes).collect()")
            }
            (Conv::Rule(Rule::StringToBytes), _, false) => format!("{ai}.into_bytes()"),
        };
        write_field(&mut build, &bi, &value);
    }
    for f in &pair.v1_only {
        let _ = writeln!(
            build,
            "            {}: ::core::default::Default::default(),",
            field(f)
        );
    }
    let _ = write!(
        out,
        "\nimpl Upgrade for a::{ap} {{\n    type Output = b::{bp};\n    #[inline]\n    \
         fn upgrade(self) -> b::{bp} {{\n        let a::{ap} {{ {destructure}}} = self;\n        \
         b::{bp} {{\n{build}        }}\n    }}\n}}\n"
    );
}

fn write_downgrade(out: &mut String, pair: &MessagePair) {
    let (ap, bp) = (message_path(&pair.alpha), message_path(&pair.v1));
    let mut destructure = String::new();
    let mut checks = String::new();
    let mut build = String::new();
    let uses_path =
        !pair.v1_only.is_empty() || pair.fields.iter().any(|fp| !matches!(fp.conv, Conv::Move));
    for fp in &pair.fields {
        let (ai, bi) = (field(&fp.alpha), field(&fp.v1));
        let _ = write!(destructure, "{bi}, ");
        let name = fp.v1.name();
        let value = match (&fp.conv, fp.v1.is_map(), fp.v1.is_list()) {
            (Conv::Move, ..) => bi.clone(),
            (Conv::Message, true, _) => format!(
                "{bi}.into_iter().map(|(k, v)| {{ let v = v.downgrade_into(&path.field({name:?}).key(&k), report); (k, v) }}).collect()"
            ),
            (Conv::Message, false, true) => format!(
                "{bi}.into_iter().enumerate().map(|(i, v)| v.downgrade_into(&path.field({name:?}).index(i), report)).collect()"
            ),
            (Conv::Message, false, false) => {
                format!("{bi}.map(|v| v.downgrade_into(&path.field({name:?}), report))")
            }
            (Conv::Rule(Rule::StringToBytes), _, true) => format!(
                "{bi}.into_iter().enumerate().map(|(i, v)| crate::__private::bytes_to_string(v, &path.field({name:?}).index(i), report)).collect()"
            ),
            (Conv::Rule(Rule::StringToBytes), _, false) => {
                format!("crate::__private::bytes_to_string({bi}, &path.field({name:?}), report)")
            }
        };
        write_field(&mut build, &ai, &value);
    }
    for f in &pair.v1_only {
        let ident = field(f);
        let _ = write!(destructure, "{ident}, ");
        let _ = writeln!(
            checks,
            "        if {} {{\n            report.push(path.field({:?}), Reason::NotInV1alpha2 {{ field: {:?} }});\n        }}",
            is_set(f, &ident),
            f.name(),
            f.full_name()
        );
    }
    let (path_arg, report_arg) = if uses_path {
        ("path", "report")
    } else {
        ("_path", "_report")
    };
    let _ = write!(
        out,
        "\nimpl DowngradeInto for b::{bp} {{\n    type Output = a::{ap};\n    #[inline]\n    \
         fn downgrade_into(self, {path_arg}: &Path<'_>, {report_arg}: &mut Report) -> a::{ap} {{\n        \
         let b::{bp} {{ {destructure}}} = self;\n{checks}        a::{ap} {{\n{build}        }}\n    }}\n}}\n"
    );
}

/// One field of a struct literal, in shorthand where the value is the same-named binding.
fn write_field(out: &mut String, ident: &str, value: &str) {
    if ident == value {
        let _ = writeln!(out, "            {ident},");
    } else {
        let _ = writeln!(out, "            {ident}: {value},");
    }
}

fn write_list_macro(out: &mut String, pairs: &[MessagePair]) {
    out.push_str(
        "\n/// Calls `$callback!(v1alpha2::Type, v1::Type);` for every message both versions have.\n\
         /// For tests and tools that must cover them all; not a stable API.\n\
         #[doc(hidden)]\n#[macro_export]\nmacro_rules! __for_each_shared_message {\n    ($callback:ident) => {\n",
    );
    for pair in pairs {
        let _ = writeln!(
            out,
            "        $callback!(::cri_api_v1alpha2::{}, ::cri_api_v1::{});",
            message_path(&pair.alpha),
            message_path(&pair.v1)
        );
    }
    out.push_str("    };\n}\n");
}

fn write_services(out: &mut String, services: &[ServicePair]) {
    out.push_str(
        "\n// Adapters between the v1alpha2 and v1 services, one method per RPC both versions have.\n\
         use cri_api_v1 as b;\nuse cri_api_v1alpha2 as a;\n\
         use tonic::{Request, Response, Status};\n\n\
         use super::{GrpcClient, V1OverV1alpha2, V1alpha2OverV1, downgrade_request, downgrade_response, upgrade_request, upgrade_response};\n",
    );
    for service in services {
        let snake = crate::names::field_ident(&service.name);
        let trait_name = &service.name;
        // Serve v1alpha2 from a v1 implementation.
        let _ = write!(
            out,
            "\n#[tonic::async_trait]\nimpl<T: b::{snake}_server::{trait_name}> a::{snake}_server::{trait_name} for V1alpha2OverV1<T> {{\n"
        );
        for m in &service.methods {
            let method = crate::names::field_ident(m.name());
            let (req, resp) = (message_path(&m.input()), message_path(&m.output()));
            let _ = write!(
                out,
                "    async fn {method}(&self, request: Request<a::{req}>) -> Result<Response<a::{resp}>, Status> {{\n        \
                 let response = b::{snake}_server::{trait_name}::{method}(&*self.inner, upgrade_request(request)).await?;\n        \
                 downgrade_response(\"{trait_name}/{}\", response, &self.policy)\n    }}\n",
                m.name()
            );
        }
        out.push_str("}\n");

        // Present a v1alpha2 client through the v1 service trait.
        let _ = write!(
            out,
            "\n#[tonic::async_trait]\nimpl<T: GrpcClient> b::{snake}_server::{trait_name} for V1OverV1alpha2<T> {{\n"
        );
        for m in &service.methods {
            let method = crate::names::field_ident(m.name());
            let (req, resp) = (message_path(&m.input()), message_path(&m.output()));
            let _ = write!(
                out,
                "    async fn {method}(&self, request: Request<b::{req}>) -> Result<Response<b::{resp}>, Status> {{\n        \
                 let request = downgrade_request(\"{trait_name}/{}\", request)?;\n        \
                 let response = a::{snake}_client::{trait_name}Client::new(self.channel.clone())\n            \
                 .max_decoding_message_size(self.max_decoding_message_size)\n            \
                 .max_encoding_message_size(self.max_encoding_message_size)\n            \
                 .{method}(request)\n            \
                 .await?;\n        \
                 Ok(upgrade_response(response))\n    }}\n",
                m.name()
            );
        }
        out.push_str("}\n");
    }
}
