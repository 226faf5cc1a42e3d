//! The HTTP side of the server: for each request of a connection [`accept`](super::accept)
//! took, [`route`], [`negotiate`], admit and [`switch`] to the session of the negotiated
//! transport.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::sync::OwnedSemaphorePermit;

use super::Shared;
use super::cache::Cached;
use super::{spdy, websocket};
use crate::protocol::{spdy_protocols, ws_protocols};

pub(super) type Body = Full<Bytes>;

fn plain(status: StatusCode, text: impl Into<String>) -> Response<Body> {
    let mut text = text.into();
    text.push('\n');
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from(text)))
        .expect("a valid response")
}

/// The values of a header that may be repeated and comma-separated, in order.
fn header_list<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect()
}

fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    header_list(headers, name.as_str())
        .iter()
        .any(|v| v.eq_ignore_ascii_case(token))
}

/// The transport a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Upgrade {
    WebSocket,
    Spdy,
}

fn upgrade_of(headers: &HeaderMap) -> Option<Upgrade> {
    if !has_token(headers, header::CONNECTION, "upgrade") {
        return None;
    }
    if has_token(headers, header::UPGRADE, "websocket") {
        Some(Upgrade::WebSocket)
    } else if has_token(headers, header::UPGRADE, "SPDY/3.1") {
        Some(Upgrade::Spdy)
    } else {
        None
    }
}

/// The first protocol the client offers that the server supports (the client's order, as
/// upstream negotiates).
fn negotiate_protocol<'a>(offered: &[&'a str], supported: &[&str]) -> Option<&'a str> {
    offered.iter().copied().find(|p| supported.contains(p))
}

const WS_REMOTE_COMMAND: &[&str] = &[
    ws_protocols::V5,
    ws_protocols::V5_BASE64,
    ws_protocols::V4,
    ws_protocols::V4_BASE64,
    ws_protocols::V1,
    ws_protocols::V1_BASE64,
];
const WS_PORT_FORWARD: &[&str] = &[ws_protocols::V4, ws_protocols::V4_BASE64];
const SPDY_REMOTE_COMMAND: &[&str] = &[
    spdy_protocols::V5,
    spdy_protocols::V4,
    spdy_protocols::V3,
    spdy_protocols::V2,
    spdy_protocols::V1,
];
const SPDY_PORT_FORWARD: &[&str] = &[spdy_protocols::PORT_FORWARD];

/// A request turned down before the upgrade, with its answer (boxed: the rare path).
type Refusal = Box<Response<Body>>;

fn refuse(status: StatusCode, text: impl Into<String>) -> Refusal {
    Box::new(plain(status, text))
}

/// The transport and subprotocol a request negotiated.
enum Negotiated {
    /// The subprotocol (empty when the client offered none) and the `Sec-WebSocket-Accept`.
    WebSocket {
        protocol: String,
        accept_key: String,
    },
    Spdy {
        protocol: String,
    },
}

/// What a request that is switched hands to its session.
struct Admitted {
    negotiated: Negotiated,
    request: Cached,
    /// The ports of a WebSocket port forward.
    ports: Vec<u16>,
    permit: OwnedSemaphorePermit,
}

/// One HTTP request: [`route`] it, [`negotiate`] the transport, spend its token, then
/// [`switch`] protocols and run the session; or the answer that turns it down.
pub(super) async fn handle(shared: Arc<Shared>, mut req: Request<Incoming>) -> Response<Body> {
    match admit(&shared, &req) {
        Ok(admitted) => switch(shared, &mut req, admitted),
        Err(refusal) => *refusal,
    }
}

/// Routes and negotiates the request, then spends its token and takes a session slot.
fn admit(shared: &Shared, req: &Request<Incoming>) -> Result<Admitted, Refusal> {
    let (kind, token) = route(&shared.base_path, req.uri().path())?;
    let port_forward = kind == "portforward";
    // Negotiate before the token is spent: a request the server cannot serve leaves it
    // usable (by a client falling back to the other transport).
    let negotiated = negotiate(req.headers(), port_forward)?;
    let Ok(permit) = shared.sessions.clone().try_acquire_owned() else {
        return Err(refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "too many streaming sessions (at most {})",
                shared.config.max_sessions
            ),
        ));
    };
    let request = match shared.cache.consume(token) {
        Some(request) if request.kind() == kind => request,
        _ => {
            return Err(refuse(
                StatusCode::NOT_FOUND,
                "unknown, used or expired streaming token",
            ));
        }
    };
    let ports = if port_forward && matches!(negotiated, Negotiated::WebSocket { .. }) {
        let Cached::PortForward(pf) = &request else {
            unreachable!("the kind was checked")
        };
        websocket::forwarded_ports(pf, req.uri().query())
            .map_err(|message| refuse(StatusCode::BAD_REQUEST, message))?
    } else {
        Vec::new()
    };
    Ok(Admitted {
        negotiated,
        request,
        ports,
        permit,
    })
}

/// The kind (`exec`, `attach`, `portforward`) and the token of a request path.
fn route<'a>(base_path: &str, path: &'a str) -> Result<(&'static str, &'a str), Refusal> {
    let not_found = || refuse(StatusCode::NOT_FOUND, format!("no such path: {path}"));
    let Some(rest) = path.strip_prefix(base_path) else {
        return Err(not_found());
    };
    let Some((kind, token)) = rest.split_once('/') else {
        return Err(not_found());
    };
    if token.is_empty() || token.contains('/') {
        return Err(not_found());
    }
    match kind {
        "exec" => Ok(("exec", token)),
        "attach" => Ok(("attach", token)),
        "portforward" => Ok(("portforward", token)),
        _ => Err(not_found()),
    }
}

/// The transport the request upgrades to and the subprotocol, in the client's order of
/// preference among those the server supports.
fn negotiate(headers: &HeaderMap, port_forward: bool) -> Result<Negotiated, Refusal> {
    match upgrade_of(headers) {
        None => Err(refuse(
            StatusCode::BAD_REQUEST,
            "expected a WebSocket or an SPDY/3.1 upgrade (Connection: Upgrade)",
        )),
        Some(Upgrade::WebSocket) => negotiate_websocket(headers, port_forward),
        Some(Upgrade::Spdy) => negotiate_spdy(headers, port_forward),
    }
}

fn negotiate_websocket(headers: &HeaderMap, port_forward: bool) -> Result<Negotiated, Refusal> {
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return Err(refuse(StatusCode::BAD_REQUEST, "missing Sec-WebSocket-Key"));
    };
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|v| v.as_bytes() != b"13")
    {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "unsupported Sec-WebSocket-Version (13 is supported)",
        ));
    }
    let accept_key = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let offered = header_list(headers, header::SEC_WEBSOCKET_PROTOCOL.as_str());
    let supported = if port_forward {
        WS_PORT_FORWARD
    } else {
        WS_REMOTE_COMMAND
    };
    let protocol = if offered.is_empty() {
        String::new()
    } else {
        match negotiate_protocol(&offered, supported) {
            Some(p) => p.to_string(),
            None => {
                return Err(refuse(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "none of the WebSocket subprotocols {offered:?} is supported; \
                         supported: {supported:?}"
                    ),
                ));
            }
        }
    };
    Ok(Negotiated::WebSocket {
        protocol,
        accept_key,
    })
}

fn negotiate_spdy(headers: &HeaderMap, port_forward: bool) -> Result<Negotiated, Refusal> {
    let offered = header_list(headers, "x-stream-protocol-version");
    let supported = if port_forward {
        SPDY_PORT_FORWARD
    } else {
        SPDY_REMOTE_COMMAND
    };
    let protocol = if offered.is_empty() {
        // Clients from before negotiation: the first version.
        supported[supported.len() - 1].to_string()
    } else {
        match negotiate_protocol(&offered, supported) {
            Some(p) => p.to_string(),
            None => {
                return Err(Box::new(
                    Response::builder()
                        .status(StatusCode::FORBIDDEN)
                        .header("X-Accepted-Stream-Protocol-Versions", supported.join(","))
                        .body(Full::new(Bytes::from(format!(
                            "none of the stream protocols {offered:?} is supported; \
                             supported: {supported:?}\n"
                        ))))
                        .expect("a valid response"),
                ));
            }
        }
    };
    Ok(Negotiated::Spdy { protocol })
}

/// Answers 101 Switching Protocols and runs the session on the upgraded connection.
fn switch(shared: Arc<Shared>, req: &mut Request<Incoming>, admitted: Admitted) -> Response<Body> {
    let Admitted {
        negotiated,
        request,
        ports,
        permit,
    } = admitted;
    let on_upgrade = hyper::upgrade::on(req);
    let mut response = Response::builder().status(StatusCode::SWITCHING_PROTOCOLS);
    match &negotiated {
        Negotiated::WebSocket {
            protocol,
            accept_key,
        } => {
            response = response
                .header(header::CONNECTION, "Upgrade")
                .header(header::UPGRADE, "websocket")
                .header(header::SEC_WEBSOCKET_ACCEPT, accept_key.as_str());
            if !protocol.is_empty() {
                response = response.header(header::SEC_WEBSOCKET_PROTOCOL, protocol.as_str());
            }
        }
        Negotiated::Spdy { protocol } => {
            response = response
                .header(header::CONNECTION, "Upgrade")
                .header(header::UPGRADE, "SPDY/3.1")
                .header("X-Stream-Protocol-Version", protocol.as_str());
        }
    }
    tokio::spawn(async move {
        let _permit = permit;
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let io = TokioIo::new(upgraded);
        match negotiated {
            Negotiated::WebSocket { protocol, .. } => {
                websocket::serve(shared, io, &protocol, request, ports).await;
            }
            Negotiated::Spdy { protocol } => spdy::serve(shared, io, &protocol, request).await,
        }
    });
    response
        .body(Full::new(Bytes::new()))
        .expect("a valid response")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_follows_the_clients_order() {
        assert_eq!(
            negotiate_protocol(
                &[
                    "v9.channel.k8s.io",
                    "v4.channel.k8s.io",
                    "v5.channel.k8s.io"
                ],
                WS_REMOTE_COMMAND
            ),
            Some("v4.channel.k8s.io")
        );
        assert_eq!(negotiate_protocol(&["v9"], SPDY_REMOTE_COMMAND), None);
    }
}
