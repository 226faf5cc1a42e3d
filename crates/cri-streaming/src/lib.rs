//! The Kubernetes CRI streaming data plane: `Exec`, `Attach` and `PortForward` over SPDY/3.1
//! and WebSocket, a server for runtimes and a client for tools.
//!
//! The CRI's `Exec`, `Attach` and `PortForward` RPCs answer with a URL of the runtime's
//! streaming server; the caller (the kubelet, `kubectl exec`, `crictl exec -it`) connects
//! there and upgrades to SPDY/3.1 or to a WebSocket, over which stdin, stdout, stderr,
//! terminal resizes, the exit status and forwarded ports flow.
//!
//! | feature | what |
//! |---|---|
//! | `server` (default) | [`server`]: the request cache (single-use tokens), the HTTP server, the [`server::Runtime`] trait a runtime implements |
//! | `client` (default) | [`client`]: exec, attach and port forward from a URL |
//! | `tls` | TLS with rustls (`ring` provider): [`server::ServerTls`] on the listener, `https` URLs and [`client::ClientTls`] on the client |
//!
//! Both transports are spoken on both sides: WebSocket (`v5.channel.k8s.io`,
//! `v4.channel.k8s.io`, their base64 variants and the legacy `channel.k8s.io`; port forward
//! with a channel pair per port, as upstream's server accepts it, or as SPDY tunneled in the
//! WebSocket, `SPDY/3.1+portforward.k8s.io`, as client-go sends it) and SPDY/3.1
//! (`channel.k8s.io` … `v5.channel.k8s.io`, `portforward.k8s.io`; the framing is the
//! [`spdy`] module). The exit status travels as upstream's v4 `Status` on the error stream:
//! a non-zero exit code is an outcome, not a transport error. With the `tls` feature both
//! sides speak TLS (rustls); without it the client refuses `https` URLs with an error that
//! says so.
//!
//! # A runtime serving exec with its own handler
//!
//! ```
//! use cri_streaming::server::{BoxError, BoxFuture, Config, Runtime, Server, Streams};
//! use tokio::io::AsyncWriteExt;
//!
//! struct Hello;
//!
//! impl Runtime for Hello {
//!     fn exec(
//!         &self,
//!         request: cri_api_v1::ExecRequest,
//!         mut streams: Streams,
//!     ) -> BoxFuture<Result<i32, BoxError>> {
//!         Box::pin(async move {
//!             let mut stdout = streams.stdout.take().ok_or("stdout was not asked for")?;
//!             let line = format!("{} says: {}\n", request.container_id, request.cmd.join(" "));
//!             stdout.write_all(line.as_bytes()).await?;
//!             Ok(3) // the exit code
//!         })
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = Server::start(Config::default(), Hello).await?;
//! // In the runtime's `Exec` RPC handler:
//! let request = cri_api_v1::ExecRequest {
//!     container_id: "web".into(),
//!     cmd: vec!["hi".into()],
//!     stdout: true,
//!     ..Default::default()
//! };
//! let response = server.get_exec(&request)?; // http://127.0.0.1:<port>/exec/<token>
//! # let options = cri_streaming::client::ExecOptions::from_exec_request(&request);
//! # let out = cri_streaming::client::exec(&response.url, &options).await?.output(b"").await?;
//! # assert_eq!((out.stdout.as_slice(), out.exit_code), (&b"web says: hi\n"[..], 3));
//! # Ok(())
//! # }
//! ```
//!
//! # A tool exec'ing into a container from a URL
//!
//! ```no_run
//! use cri_streaming::client::{self, ExecOptions, Transport};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # async fn run(url: &str) -> Result<(), Box<dyn std::error::Error>> {
//! // `url` is what the runtime's `Exec` answered for `sh` with stdin, stdout and stderr.
//! let options = ExecOptions::new().stdin(true).transport(Transport::Auto);
//! let mut session = client::exec(url, &options).await?;
//! let mut stdin = session.stdin.take().unwrap();
//! let mut stdout = session.stdout.take().unwrap();
//! let printer = tokio::spawn(async move {
//!     let mut output = Vec::new();
//!     stdout.read_to_end(&mut output).await.map(|_| output)
//! });
//! stdin.write_all(b"echo hello; exit 7\n").await?;
//! stdin.shutdown().await?; // end of stdin (SPDY, WebSocket v5)
//! let output = printer.await??; // b"hello\n"
//! let code = session.wait().await?; // 7, the exit code
//! # let _ = (output, code);
//! # Ok(())
//! # }
//! ```
//!
//! With a terminal, [`client::ExecOptions::tty`] and [`client::ExecSession::resizer`] send the
//! window size; [`client::port_forward`] forwards ports (a stream per connection, or a local
//! listener with [`client::PortForward::listen`]).

#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

/// The README's examples, compiled as doctests.
#[cfg(all(doctest, feature = "server", feature = "client", feature = "tls"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub mod protocol;
pub mod spdy;
#[cfg(any(feature = "server", feature = "client"))]
mod ws;

// Its sessions' plumbing is used by the server and the client only.
#[cfg_attr(not(any(feature = "server", feature = "client")), allow(dead_code))]
mod pipe;
pub use pipe::{ChannelReader, ChannelWriter};

#[cfg(feature = "tls")]
#[cfg_attr(not(any(feature = "server", feature = "client")), allow(dead_code))]
mod tls;
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub use tls::TlsError;

#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub mod server;

#[cfg(feature = "client")]
#[cfg_attr(docsrs, doc(cfg(feature = "client")))]
pub mod client;
