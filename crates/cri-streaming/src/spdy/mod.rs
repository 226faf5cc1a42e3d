//! SPDY/3.1, as Kubernetes streaming uses it: frames, header compression, a stream
//! multiplexer.
//!
//! `kubectl exec`/`attach`/`port-forward` and the kubelet's (and containerd's, CRI-O's)
//! streaming server upgrade an HTTP/1.1 connection to `SPDY/3.1` and then carry each data
//! channel (stdin, stdout, stderr, error, resize; or a port's data and error) as a SPDY
//! stream. This module implements that framing layer:
//!
//! - the frame codec, internal (draft-mbelshe-httpbis-spdy-00 and the SPDY/3.1 revision):
//!   DATA, SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS,
//!   WINDOW_UPDATE; header blocks compressed with zlib and the SPDY/3 dictionary, one
//!   context per direction (the pure-Rust `zlib-rs` backend of `flate2`, the backend with
//!   `set_dictionary` that needs no C).
//! - [`Connection`], [`Incoming`], [`Stream`]: the multiplexer, as client or server, with
//!   [`Limits`] that keep memory bounded.
//!
//! # Compatibility with Go's spdystream
//!
//! Kubernetes' Go side (`github.com/moby/spdystream`, through
//! `k8s.io/apimachinery/pkg/util/httpstream/spdy`) is the peer that matters, and it differs
//! from the letter of SPDY/3.1 in ways this module follows:
//!
//! - It never sends WINDOW_UPDATE and ignores ours and SETTINGS: it does no flow control
//!   and relies on TCP back-pressure (its reader blocks until the application reads). So
//!   we honour the peer's windows only once it has shown it uses them (a SETTINGS with
//!   an initial window, or any WINDOW_UPDATE); until then we only bound what we queue.
//!   When a peer overruns the window we announced, we do not reset the stream: we buffer up
//!   to [`Limits::initial_window`] for it and then stop reading the connection until the
//!   application reads, which is the back-pressure the Go side expects.
//! - It drops DATA on a stream it accepted before it sent SYN_REPLY, and it waits for
//!   SYN_REPLY before writing on a stream it opened. So writes on a stream we opened wait
//!   for the reply, and the first read, write or shutdown on a stream we accepted answers
//!   it (unless [`Stream::reply`] did).
//! - Header names are lower case and unique; several values of one name are NUL-separated.
//!
//! # Example
//!
//! A client and a server over an in-memory pipe:
//!
//! ```
//! use cri_streaming::spdy::{Connection, Headers, Limits};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (client_io, server_io) = tokio::io::duplex(64 * 1024);
//! let (_server, mut incoming) = Connection::server(server_io, Limits::default());
//! let (client, _) = Connection::client(client_io, Limits::default());
//!
//! // The server echoes each stream back.
//! tokio::spawn(async move {
//!     while let Some(mut stream) = incoming.accept().await {
//!         stream.reply(Headers::new(), false).unwrap();
//!         tokio::spawn(async move {
//!             let mut data = Vec::new();
//!             stream.read_to_end(&mut data).await.unwrap();
//!             stream.write_all(&data).await.unwrap();
//!             stream.shutdown().await.unwrap();
//!         });
//!     }
//! });
//!
//! let mut headers = Headers::new();
//! headers.insert("streamtype", "stdin");
//! let mut stream = client.open_stream(headers, false).await?;
//! stream.wait_reply().await?;
//! stream.write_all(b"hello").await?;
//! stream.shutdown().await?; // FIN
//! let mut echoed = String::new();
//! stream.read_to_string(&mut echoed).await?;
//! assert_eq!(echoed, "hello");
//! # Ok(())
//! # }
//! ```

mod dictionary;
mod driver;
mod error;
mod handles;
mod headers;
mod input;
mod limits;
mod recv;
mod state;
mod stream;

// Not part of the API: the frame codec and its dictionary are public only for the fuzz
// target (fuzz/fuzz_targets/spdy.rs) and the tests that speak raw frames
// (tests/spdy_codec.rs, tests/spdy_raw_peer.rs), and hidden from the documentation.
#[doc(hidden)]
pub mod frame;
#[doc(hidden)]
pub use dictionary::DICTIONARY;

pub use error::Error;
pub use frame::{FrameError, GoAwayStatus, RstStatus};
pub use handles::{Connection, Incoming, Stream};
pub use headers::Headers;
pub use limits::Limits;
