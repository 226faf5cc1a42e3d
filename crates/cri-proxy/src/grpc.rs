//! gRPC on the wire, as much as the layers need: the service type of the stack, a message's
//! 5-byte frame, a status as a response or as trailers.

use std::convert::Infallible;

use bytes::{BufMut, Bytes, BytesMut};
use http::HeaderMap;
use http_body_util::BodyExt;
use tonic::{Code, Status};

/// The body of every request and response in the stack.
pub type Body = tonic::body::Body;
/// A gRPC call as the stack sees it: an HTTP/2 request whose body holds one framed message.
pub type GrpcRequest = http::Request<Body>;
/// What the stack answers: headers, framed messages, and the status in trailers (or, for a
/// call that fails at once, in the headers).
pub type GrpcResponse = http::Response<Body>;
/// A service of the stack: every layer takes one and gives one. Failures are gRPC statuses in
/// the response, never a service error.
pub type GrpcService = tower::util::BoxCloneSyncService<GrpcRequest, GrpcResponse, Infallible>;

/// 16 MiB: the largest response message a kubelet accepts, and so the proxy.
pub const MAX_RESPONSE_MESSAGE: usize = 16 << 20;

/// A response that carries only `status` (gRPC's "trailers-only" response).
pub fn status_response(status: Status) -> GrpcResponse {
    status.into_http()
}

/// `message` in gRPC's length-prefixed frame (uncompressed).
pub fn frame(message: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(5 + message.len());
    out.put_u8(0);
    out.put_u32(message.len() as u32);
    out.put_slice(message);
    out.freeze()
}

/// Trailers holding `code` and `message`.
pub(crate) fn status_trailers(code: Code, message: &str) -> HeaderMap {
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", (code as i32).into());
    let text: String = message
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    if let Ok(value) = text.parse() {
        trailers.insert("grpc-message", value);
    }
    trailers
}

/// The status in `headers` (trailers, or the headers of a trailers-only response), if any.
pub(crate) fn status_of(headers: &HeaderMap) -> Option<(i32, String)> {
    let code = headers
        .get("grpc-status")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let message = headers
        .get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .map(percent_decode)
        .unwrap_or_default();
    Some((code, message))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads a request body whole and returns its one message (CRI has no client streaming).
pub async fn read_message(body: Body) -> Result<Bytes, Status> {
    let bytes = body
        .collect()
        .await
        .map_err(|e| Status::internal(format!("cri-proxy: reading the request: {e}")))?
        .to_bytes();
    unframe(bytes)
}

/// The one message of a framed body.
pub(crate) fn unframe(bytes: Bytes) -> Result<Bytes, Status> {
    if bytes.len() < 5 {
        return Err(Status::internal(
            "cri-proxy: a gRPC body without a whole message",
        ));
    }
    if bytes[0] != 0 {
        return Err(Status::unimplemented(
            "cri-proxy: compressed messages are not supported",
        ));
    }
    let length = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]) as usize;
    if bytes.len() != 5 + length {
        return Err(Status::internal(
            "cri-proxy: a gRPC body that is not one message",
        ));
    }
    Ok(bytes.slice(5..))
}

/// A request with the same head and `message` as its body.
pub fn with_message(parts: http::request::Parts, message: &[u8]) -> GrpcRequest {
    http::Request::from_parts(parts, Body::new(http_body_util::Full::new(frame(message))))
}

/// Calls `service` with a unary request and reads its one response message, or its status.
pub(crate) async fn unary(
    service: &mut GrpcService,
    request: GrpcRequest,
) -> Result<(http::response::Parts, Bytes), Status> {
    use tower::{Service, ServiceExt};
    let response = match service.ready().await {
        Ok(s) => s.call(request).await,
        Err(never) => match never {},
    };
    let Ok(response) = response;
    let (parts, body) = response.into_parts();
    if let Some((code, message)) = status_of(&parts.headers) {
        return Err(Status::new(Code::from(code), message));
    }
    let collected = body.collect().await?;
    let trailers = collected.trailers().cloned().unwrap_or_default();
    match status_of(&trailers) {
        Some((0, _)) => {}
        Some((code, message)) => return Err(Status::new(Code::from(code), message)),
        None => return Err(Status::internal("cri-proxy: a response without a status")),
    }
    Ok((parts, unframe(collected.to_bytes())?))
}

/// A gRPC code by its name as written in rules (`UNAVAILABLE`, `deadline_exceeded`).
pub(crate) fn code_by_name(name: &str) -> Option<Code> {
    const CODES: [(&str, Code); 17] = [
        ("OK", Code::Ok),
        ("CANCELLED", Code::Cancelled),
        ("UNKNOWN", Code::Unknown),
        ("INVALID_ARGUMENT", Code::InvalidArgument),
        ("DEADLINE_EXCEEDED", Code::DeadlineExceeded),
        ("NOT_FOUND", Code::NotFound),
        ("ALREADY_EXISTS", Code::AlreadyExists),
        ("PERMISSION_DENIED", Code::PermissionDenied),
        ("RESOURCE_EXHAUSTED", Code::ResourceExhausted),
        ("FAILED_PRECONDITION", Code::FailedPrecondition),
        ("ABORTED", Code::Aborted),
        ("OUT_OF_RANGE", Code::OutOfRange),
        ("UNIMPLEMENTED", Code::Unimplemented),
        ("INTERNAL", Code::Internal),
        ("UNAVAILABLE", Code::Unavailable),
        ("DATA_LOSS", Code::DataLoss),
        ("UNAUTHENTICATED", Code::Unauthenticated),
    ];
    CODES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|&(_, code)| code)
}

/// The name of a numeric gRPC code, `UNAVAILABLE`.
pub(crate) fn code_name(code: i32) -> String {
    let names = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    usize::try_from(code)
        .ok()
        .and_then(|i| names.get(i))
        .map_or_else(|| code.to_string(), |n| n.to_string())
}
