//! Generates the per-RPC methods of `cri-client`'s `Client`: one method for every RPC of the
//! v1 services, each dispatching to the negotiated backend (v1 directly, or v1alpha2 through
//! `cri-convert`) under the client's deadline, and the list methods that go through the
//! `Stream*` RPCs with fallback to the unary ones, as the kubelet does.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Result, bail};
use prost_reflect::{DescriptorPool, MessageDescriptor, MethodDescriptor};

use crate::V1;
use crate::names::{field, field_ident, message_path};

/// Directory the generator owns inside `cri-client`.
pub const GENERATED_DIR: &str = "crates/cri-client/src/generated";

/// RPCs whose deadline is not the default one (the kubelet's rules), with how the method's
/// doc says it.
const DEADLINES: &[(&str, &str, &str)] = &[
    (
        "RunPodSandbox",
        "Deadline::Double",
        "twice the client's timeout",
    ),
    ("PullImage", "Deadline::None", "no deadline, as the kubelet"),
    (
        "StopContainer",
        "Deadline::Plus(request.timeout)",
        "the request's grace period plus the client's timeout",
    ),
    (
        "ExecSync",
        "Deadline::PlusUnlessZero(request.timeout)",
        "the request's timeout plus the client's, none when the request's is 0",
    ),
    (
        "CheckpointContainer",
        "Deadline::AtLeast(request.timeout)",
        "the request's timeout when longer than the client's, else the client's",
    ),
];

/// RPCs whose responses are checked as the kubelet checks them: `(rpc, validator in
/// cri-client's `validate` module)`.
const VALIDATED: &[(&str, &str)] = &[
    ("Version", "validate::version"),
    ("Status", "validate::status"),
    ("RunPodSandbox", "validate::run_pod_sandbox"),
    ("CreateContainer", "validate::create_container"),
    ("PodSandboxStatus", "validate::pod_sandbox_status"),
    ("ContainerStatus", "validate::container_status"),
    ("ImageStatus", "validate::image_status"),
    ("PullImage", "validate::pull_image"),
    ("Exec", "validate::exec"),
    ("Attach", "validate::attach"),
    ("PortForward", "validate::port_forward"),
];

/// The RPCs whose method is named apart from the RPC: the one-call streaming sessions
/// (`Client::exec`, `attach`, `port_forward`) take the RPC's name, the RPC that only returns
/// the URL is `*_url`.
const RENAMED: &[(&str, &str)] = &[
    ("Exec", "exec_url"),
    ("Attach", "attach_url"),
    ("PortForward", "port_forward_url"),
];

/// The kubelet's `operation_type` where it is not the RPC in snake case with `podsandbox` in
/// one word (`pkg/kubelet/kuberuntime/instrumented_services.go`).
const OPERATIONS: &[(&str, &str)] = &[("UpdateContainerResources", "update_container")];

/// The list RPCs that the kubelet sends to their streaming counterparts when list streaming is
/// on: `(unary, streaming, the variant of cri-client's `List` enum)`.
const LISTS: &[(&str, &str, &str)] = &[
    ("ListPodSandbox", "StreamPodSandboxes", "PodSandboxes"),
    ("ListContainers", "StreamContainers", "Containers"),
    (
        "ListContainerStats",
        "StreamContainerStats",
        "ContainerStats",
    ),
    (
        "ListPodSandboxStats",
        "StreamPodSandboxStats",
        "PodSandboxStats",
    ),
    (
        "ListPodSandboxMetrics",
        "StreamPodSandboxMetrics",
        "PodSandboxMetrics",
    ),
    ("ListImages", "StreamImages", "Images"),
];

/// Generates `methods.rs` of `cri-client` from the v1 pool.
pub fn generate(v1: &DescriptorPool, header: &str) -> Result<(PathBuf, Vec<u8>)> {
    let mut out = String::from(header);
    out.push_str(
        "\nuse cri_api_v1 as v1;\nuse cri_api_v1::image_service_server::ImageService as _;\n\
         use cri_api_v1::runtime_service_server::RuntimeService as _;\n\n\
         use crate::{Backend, BoxStream, Client, Deadline, Due, Error, List, Op, Service, validate};\n\nimpl Client {\n",
    );
    let mut errors = Vec::new();
    let mut seen_lists = Vec::new();
    for service in v1.services().filter(|s| s.package_name() == V1.package) {
        let svc = match service.name() {
            "RuntimeService" => "Service::Runtime",
            "ImageService" => "Service::Image",
            other => {
                errors.push(format!(
                    "unknown service {other}: cri-client has no endpoint for it"
                ));
                continue;
            }
        };
        let client_mod = format!("{}_client", field_ident(service.name()));
        for method in service.methods() {
            if method.is_client_streaming() {
                errors.push(format!(
                    "{}: client-streaming RPCs are not supported",
                    method.full_name()
                ));
            } else if method.is_server_streaming() {
                write_streaming(&mut out, svc, &client_mod, service.name(), &method);
            } else {
                let list = LISTS.iter().find(|(unary, ..)| *unary == method.name());
                write_unary(
                    &mut out,
                    svc,
                    &client_mod,
                    service.name(),
                    &method,
                    list.is_some(),
                );
                if let Some(&(unary, stream, kind)) = list {
                    match service.methods().find(|m| m.name() == stream) {
                        Some(streaming) => {
                            seen_lists.push(unary);
                            if let Err(why) =
                                write_list(&mut out, svc, service.name(), &method, &streaming, kind)
                            {
                                errors.push(format!("{unary} / {stream}: {why}"));
                            }
                        }
                        None => {
                            errors.push(format!("{unary} has no streaming counterpart {stream}"))
                        }
                    }
                }
            }
        }
    }
    for (unary, ..) in LISTS {
        if !seen_lists.contains(unary) {
            errors.push(format!("list RPC {unary} is gone"));
        }
    }
    if !errors.is_empty() {
        bail!(
            "cannot generate cri-client's methods:\n  - {}",
            errors.join("\n  - ")
        );
    }
    out.push_str("}\n");
    Ok((
        PathBuf::from(GENERATED_DIR).join("methods.rs"),
        out.into_bytes(),
    ))
}

fn deadline(method: &MethodDescriptor) -> (&'static str, &'static str) {
    DEADLINES
        .iter()
        .find(|(name, ..)| *name == method.name())
        .map_or(
            ("Deadline::Default", "the client's timeout"),
            |(_, d, when)| (d, when),
        )
}

fn validator(method: &MethodDescriptor) -> &'static str {
    VALIDATED
        .iter()
        .find(|(name, _)| *name == method.name())
        .map_or("validate::nothing", |(_, v)| v)
}

/// The method's name in cri-client.
fn method_ident(method: &MethodDescriptor) -> String {
    RENAMED
        .iter()
        .find(|(name, _)| *name == method.name())
        .map_or_else(|| field_ident(method.name()), |(_, n)| n.to_string())
}

/// The kubelet's `operation_type` of an RPC.
pub fn operation(rpc: &str) -> String {
    OPERATIONS
        .iter()
        .find(|(name, _)| *name == rpc)
        .map_or_else(
            || field_ident(rpc).replace("pod_sandbox", "podsandbox"),
            |(_, op)| op.to_string(),
        )
}

/// The `Op` constant of an RPC, counted as `operation`.
fn op(svc: &str, service: &str, m: &MethodDescriptor, operation: &str) -> String {
    format!(
        "Op {{ service: {svc}, rpc: \"{service}/{}\", operation: \"{operation}\" }}",
        m.name()
    )
}

/// What the log reduction keys a failure on: the container, else the sandbox, the request
/// names.
fn subject(m: &MethodDescriptor) -> &'static str {
    let input = m.input();
    if input.get_field_by_name("container_id").is_some() {
        "request.container_id.clone()"
    } else if input.get_field_by_name("pod_sandbox_id").is_some() {
        "request.pod_sandbox_id.clone()"
    } else {
        "String::new()"
    }
}

fn write_unary(
    out: &mut String,
    svc: &str,
    client_mod: &str,
    service: &str,
    m: &MethodDescriptor,
    is_list: bool,
) {
    let ident = field_ident(m.name());
    let (req, resp) = (message_path(&m.input()), message_path(&m.output()));
    let client = format!("v1::{client_mod}::{service}Client");
    let (deadline, when) = deadline(m);
    let (vis, name, doc) = if is_list {
        (
            "",
            format!("{ident}_unary"),
            format!(
                "    /// `{service}/{}`, the unary RPC, whatever the streaming setting.\n",
                m.name()
            ),
        )
    } else {
        (
            "pub ",
            method_ident(m),
            format!(
                "    /// Calls `{service}/{}` on the runtime, in whatever CRI version was negotiated\n    \
                 /// ({when}).\n",
                m.name()
            ),
        )
    };
    let _ = write!(
        out,
        "\n{doc}    {vis}async fn {name}(&self, request: v1::{req}) -> Result<v1::{resp}, Error> {{\n        \
         const OP: Op = {op};\n        \
         self.unary(OP, {deadline}, {subject}, {validator}, move |backend, request_timeout, limits| match backend {{\n            \
         Backend::V1(channel) => Box::pin(async move {{\n                \
         {client}::new(channel.clone())\n                    \
         .max_decoding_message_size(limits.max_response)\n                    \
         .max_encoding_message_size(limits.max_request)\n                    \
         .{ident}(crate::request(request, request_timeout))\n                    \
         .await\n            }}),\n            \
         Backend::V1alpha2(adapter) => adapter.{ident}(crate::request(request, request_timeout)),\n        \
         }})\n        .await\n    }}\n",
        op = op(svc, service, m, &operation(m.name())),
        subject = subject(m),
        validator = validator(m),
    );
}

fn write_streaming(
    out: &mut String,
    svc: &str,
    client_mod: &str,
    service: &str,
    m: &MethodDescriptor,
) {
    let ident = field_ident(m.name());
    let (req, resp) = (message_path(&m.input()), message_path(&m.output()));
    let client = format!("v1::{client_mod}::{service}Client");
    let _ = write!(
        out,
        "\n    /// Calls the server-streaming `{service}/{m}`; the stream has no deadline of its own.\n    \
         /// A runtime without it answers `UNIMPLEMENTED`, at the call or on the first receive.\n    \
         pub async fn {ident}(&self, request: v1::{req}) -> Result<BoxStream<v1::{resp}>, Error> {{\n        \
         self.observe({op}, \"\", self.{ident}_within(request, None)).await\n    }}\n\n    \
         /// `{service}/{m}`, its start bounded by `due` and the request carrying it (`grpc-timeout`).\n    \
         pub(crate) async fn {ident}_within(&self, request: v1::{req}, due: Option<Due>) -> Result<BoxStream<v1::{resp}>, Error> {{\n        \
         self.invoke({op}, due, move |backend, request_timeout, limits| match backend {{\n            \
         Backend::V1(channel) => Box::pin(async move {{\n                \
         let response = {client}::new(channel.clone())\n                    \
         .max_decoding_message_size(limits.max_response)\n                    \
         .max_encoding_message_size(limits.max_request)\n                    \
         .{ident}(crate::request(request, request_timeout))\n                    \
         .await?;\n                \
         Ok(response.map(|stream| Box::pin(stream) as BoxStream<v1::{resp}>))\n            \
         }}),\n            \
         Backend::V1alpha2(adapter) => adapter.{ident}(crate::request(request, request_timeout)),\n        \
         }})\n        .await\n    }}\n",
        m = m.name(),
        op = op(svc, service, m, &operation(m.name())),
    );
}

/// The public list method: streaming with fallback. Checks that the two RPCs carry the same
/// request fields and that each response is one repeated field of the same items.
fn write_list(
    out: &mut String,
    svc: &str,
    service: &str,
    unary: &MethodDescriptor,
    stream: &MethodDescriptor,
    kind: &str,
) -> Result<(), String> {
    let same_fields = |a: &MessageDescriptor, b: &MessageDescriptor| {
        let names = |m: &MessageDescriptor| {
            m.fields()
                .map(|f| (f.name().to_string(), f.number(), format!("{:?}", f.kind())))
                .collect::<Vec<_>>()
        };
        names(a) == names(b)
    };
    if !same_fields(&unary.input(), &stream.input()) {
        return Err("the requests have different fields".into());
    }
    let items = |m: &MessageDescriptor| {
        let fields: Vec<_> = m.fields().collect();
        match fields.as_slice() {
            [f] if f.is_list() => Ok(f.clone()),
            _ => Err(format!("{} is not a single repeated field", m.full_name())),
        }
    };
    let (list_items, stream_items) = (items(&unary.output())?, items(&stream.output())?);
    // The item fields may be named differently (`items` and `pod_sandboxes`); their types must match.
    if format!("{:?}", list_items.kind()) != format!("{:?}", stream_items.kind()) {
        return Err("the responses carry items of different types".into());
    }
    let ident = field_ident(unary.name());
    let (req, resp, stream_req) = (
        message_path(&unary.input()),
        message_path(&unary.output()),
        message_path(&stream.input()),
    );
    let request_fields: Vec<String> = unary.input().fields().map(|f| field(&f)).collect();
    let fields = request_fields.join(", ");
    let clones: String = request_fields
        .iter()
        .map(|f| format!("{f}: {f}.clone(), "))
        .collect();
    let (item, stream_item) = (field(&list_items), field(&stream_items));
    let _ = write!(
        out,
        "\n    /// `{u}`: with list streaming on, through `{s}` (the whole stream under one\n    \
         /// deadline), falling back to `{u}` for good on this connection when the runtime\n    \
         /// answers `UNIMPLEMENTED`; otherwise the unary RPC.\n    \
         pub async fn {ident}(&self, request: v1::{req}) -> Result<v1::{resp}, Error> {{\n        \
         if self.streams(List::{kind}) {{\n            \
         let v1::{req} {{ {fields} }} = &request;\n            \
         let stream_request = v1::{stream_req} {{ {clones}}};\n            \
         let collected = self\n                \
         .collect(List::{kind}, {op}, |due| self.{stream_ident}_within(stream_request, due), |page| page.{stream_item})\n                \
         .await?;\n            \
         if let Some({item}) = collected {{\n                \
         return Ok(v1::{resp} {{ {item} }});\n            }}\n        }}\n        \
         self.{ident}_unary(request).await\n    }}\n",
        u = unary.name(),
        s = stream.name(),
        stream_ident = field_ident(stream.name()),
        // Counted as the kubelet counts the list, whichever RPC carries it.
        op = op(svc, service, stream, &operation(unary.name())),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::operation;

    #[test]
    fn operations_are_the_kubelets() {
        for (rpc, expected) in [
            ("Version", "version"),
            ("RunPodSandbox", "run_podsandbox"),
            ("PodSandboxStatus", "podsandbox_status"),
            ("ListPodSandboxStats", "list_podsandbox_stats"),
            ("ListPodSandboxMetrics", "list_podsandbox_metrics"),
            ("ContainerStatus", "container_status"),
            ("UpdateContainerResources", "update_container"),
            ("ExecSync", "exec_sync"),
            ("PortForward", "port_forward"),
            ("ImageFsInfo", "image_fs_info"),
            ("GetContainerEvents", "get_container_events"),
        ] {
            assert_eq!(operation(rpc), expected, "{rpc}");
        }
    }
}
