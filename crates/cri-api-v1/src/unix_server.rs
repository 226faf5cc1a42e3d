//! Serving tonic on a Unix socket to every gRPC client, gRPC C-core's included (feature
//! `unix-server`).
//!
//! gRPC C-core (Python's `grpcio`, Ruby, PHP, C++) and grpc-java send the socket's path (or
//! its percent-encoding) as the HTTP/2 `:authority` of a `unix:` target. That is no valid
//! authority, and the HTTP/2 stack under tonic (`h2`) resets every such stream with
//! `PROTOCOL_ERROR` before any service sees it (hyperium/h2#487, open for years). On a Unix
//! socket the authority means nothing, so [`RepairAuthority`] repairs it on the way in: it
//! reads the client's HTTP/2 frames, decodes each header block (HPACK, with the client's
//! dynamic table), replaces an `:authority` that is not a valid URI authority by `localhost`
//! (what Go's gRPC and the kubelet send), and hands h2 the same headers re-encoded without
//! compression state. Every other frame passes through untouched; what the server writes is
//! not looked at.
//!
//! [`UnixIncoming`] accepts connections for `Server::serve_with_incoming` and wraps each one;
//! when the process runs out of file descriptors it waits 100 ms before accepting again
//! instead of spinning.
//!
//! ```no_run
//! use cri_api_v1::unix_server::UnixIncoming;
//! # use cri_api_v1::runtime_service_server::{RuntimeService, RuntimeServiceServer};
//! # async fn run<S: RuntimeService>(service: S) -> Result<(), Box<dyn std::error::Error>> {
//! let incoming = UnixIncoming::bind("/run/my-runtime.sock")?;
//! tonic::transport::Server::builder()
//!     .add_service(RuntimeServiceServer::new(service))
//!     .serve_with_incoming(incoming)
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! Limits: a header block (HEADERS and its CONTINUATION frames) may hold at most
//! [`MAX_HEADER_BLOCK`] bytes compressed and [`MAX_HEADER_LIST`] bytes decoded; a client
//! that sends more, or a block that does not decode, has its connection closed (h2 would
//! close it with `COMPRESSION_ERROR` too). The client may use a dynamic table of up to 4,096
//! bytes, the HTTP/2 default, which h2's server does not change.

use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{UnixListener, UnixStream};

/// The largest compressed header block accepted (256 KiB).
pub const MAX_HEADER_BLOCK: usize = 256 << 10;
/// The largest decoded header list accepted (1 MiB, counted as HTTP/2 counts it: name,
/// value and 32 bytes per field).
pub const MAX_HEADER_LIST: usize = 1 << 20;

/// The authority put in place of one that is not valid.
const LOCALHOST: &[u8] = b"localhost";
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const HEADERS: u8 = 0x1;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;
/// The frame size every HTTP/2 peer accepts (SETTINGS_MAX_FRAME_SIZE's initial value).
const MAX_FRAME: usize = 16_384;
/// The dynamic table size a client may use (SETTINGS_HEADER_TABLE_SIZE's initial value).
const TABLE_SIZE: usize = 4096;

/// A header block being collected from a HEADERS frame and its CONTINUATION frames.
struct Block {
    stream_id: u32,
    /// END_STREAM and PRIORITY, as the HEADERS frame had them.
    flags: u8,
    priority: Option<[u8; 5]>,
    fragment: Vec<u8>,
}

/// The client-to-server half of an HTTP/2 connection, rewritten frame by frame.
struct Rewriter {
    /// Bytes of the connection preface still expected.
    preface_left: usize,
    /// Not HTTP/2 (or not from the start): everything passes through, for h2 to refuse.
    transparent: bool,
    header: [u8; 9],
    header_len: usize,
    /// Payload bytes of a frame that passes through, still to come.
    passthrough: usize,
    /// The payload of a HEADERS or CONTINUATION frame being collected.
    payload: Vec<u8>,
    payload_left: usize,
    /// Type, flags and stream of that frame.
    frame: (u8, u8, u32),
    block: Option<Block>,
    decoder: loona_hpack::Decoder<'static>,
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("HTTP/2 from the client: {}", message.into()),
    )
}

impl Rewriter {
    fn new() -> Self {
        let mut decoder = loona_hpack::Decoder::new();
        decoder.set_max_allowed_table_size(TABLE_SIZE);
        Rewriter {
            preface_left: PREFACE.len(),
            transparent: false,
            header: [0; 9],
            header_len: 0,
            passthrough: 0,
            payload: Vec::new(),
            payload_left: 0,
            frame: (0, 0, 0),
            block: None,
            decoder,
        }
    }

    /// Takes bytes read from the client; appends what the server is to read to `out`.
    fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        while !input.is_empty() {
            if self.transparent {
                out.extend_from_slice(input);
                return Ok(());
            }
            if self.preface_left > 0 {
                let at = PREFACE.len() - self.preface_left;
                let n = self.preface_left.min(input.len());
                if input[..n] != PREFACE[at..at + n] {
                    self.transparent = true;
                    continue;
                }
                out.extend_from_slice(&input[..n]);
                self.preface_left -= n;
                input = &input[n..];
            } else if self.passthrough > 0 {
                let n = self.passthrough.min(input.len());
                out.extend_from_slice(&input[..n]);
                self.passthrough -= n;
                input = &input[n..];
            } else if self.payload_left > 0 {
                let n = self.payload_left.min(input.len());
                self.payload.extend_from_slice(&input[..n]);
                self.payload_left -= n;
                input = &input[n..];
                if self.payload_left == 0 {
                    self.header_frame(out)?;
                }
            } else {
                let n = (9 - self.header_len).min(input.len());
                self.header[self.header_len..self.header_len + n].copy_from_slice(&input[..n]);
                self.header_len += n;
                input = &input[n..];
                if self.header_len == 9 {
                    self.header_len = 0;
                    self.frame_header(out)?;
                }
            }
        }
        Ok(())
    }

    /// A complete frame header: a header frame is collected, anything else passes.
    fn frame_header(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        let h = self.header;
        let length = usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
        let (kind, flags) = (h[3], h[4]);
        let stream_id = u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff;
        if kind == HEADERS || kind == CONTINUATION {
            let collected = self.block.as_ref().map_or(0, |b| b.fragment.len());
            if collected + length > MAX_HEADER_BLOCK {
                return Err(invalid(format!(
                    "a header block over {MAX_HEADER_BLOCK} bytes"
                )));
            }
            self.frame = (kind, flags, stream_id);
            self.payload.clear();
            self.payload_left = length;
            if length == 0 {
                self.header_frame(out)?;
            }
            return Ok(());
        }
        if self.block.is_some() {
            return Err(invalid("a frame inside a header block"));
        }
        out.extend_from_slice(&h);
        self.passthrough = length;
        Ok(())
    }

    /// A complete HEADERS or CONTINUATION frame.
    fn header_frame(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        let (kind, flags, stream_id) = self.frame;
        let payload = std::mem::take(&mut self.payload);
        if kind == HEADERS {
            if self.block.is_some() {
                return Err(invalid("HEADERS inside a header block"));
            }
            let mut body = &payload[..];
            if flags & PADDED != 0 {
                let (&pad, rest) = body
                    .split_first()
                    .ok_or_else(|| invalid("a padded HEADERS frame without its pad length"))?;
                let keep = rest
                    .len()
                    .checked_sub(usize::from(pad))
                    .ok_or_else(|| invalid("more padding than payload"))?;
                body = &rest[..keep];
            }
            let mut priority = None;
            if flags & PRIORITY != 0 {
                if body.len() < 5 {
                    return Err(invalid("a HEADERS frame too short for its priority"));
                }
                let mut p = [0; 5];
                p.copy_from_slice(&body[..5]);
                priority = Some(p);
                body = &body[5..];
            }
            self.block = Some(Block {
                stream_id,
                flags: flags & (END_STREAM | PRIORITY),
                priority,
                fragment: body.to_vec(),
            });
        } else {
            match self.block.as_mut() {
                Some(block) if block.stream_id == stream_id => {
                    block.fragment.extend_from_slice(&payload)
                }
                _ => return Err(invalid("CONTINUATION outside its header block")),
            }
        }
        self.payload = payload;
        self.payload.clear();
        if flags & END_HEADERS != 0 {
            let block = self.block.take().expect("collected above");
            self.finish(block, out)?;
        }
        Ok(())
    }

    /// Decodes a whole header block and writes it again, repaired and without compression
    /// state, as HEADERS and CONTINUATION frames.
    fn finish(&mut self, block: Block, out: &mut Vec<u8>) -> io::Result<()> {
        let mut encoded = Vec::with_capacity(block.fragment.len() * 2);
        let mut size = 0usize;
        self.decoder
            .decode_with_cb(&block.fragment, |name, value| {
                size = size.saturating_add(name.len() + value.len() + 32);
                if size > MAX_HEADER_LIST {
                    return;
                }
                let value: &[u8] = if &*name == b":authority" && !valid_authority(&value) {
                    LOCALHOST
                } else {
                    &value
                };
                // Literal header field without indexing, new name (RFC 7541, 6.2.2).
                encoded.push(0);
                encode_string(&name, &mut encoded);
                encode_string(value, &mut encoded);
            })
            .map_err(|e| invalid(format!("a header block that does not decode: {e:?}")))?;
        if size > MAX_HEADER_LIST {
            return Err(invalid(format!(
                "a header list over {MAX_HEADER_LIST} bytes"
            )));
        }
        let first_room = MAX_FRAME - if block.priority.is_some() { 5 } else { 0 };
        let (first, mut rest) = encoded.split_at(first_room.min(encoded.len()));
        let mut flags = block.flags;
        if rest.is_empty() {
            flags |= END_HEADERS;
        }
        let priority = block.priority.as_ref().map_or(&[][..], |p| &p[..]);
        write_frame(out, HEADERS, flags, block.stream_id, &[priority, first]);
        while !rest.is_empty() {
            let (chunk, more) = rest.split_at(MAX_FRAME.min(rest.len()));
            let flags = if more.is_empty() { END_HEADERS } else { 0 };
            write_frame(out, CONTINUATION, flags, block.stream_id, &[chunk]);
            rest = more;
        }
        Ok(())
    }
}

/// Whether h2 accepts `value` as an `:authority`.
fn valid_authority(value: &[u8]) -> bool {
    http::uri::Authority::try_from(value).is_ok()
}

/// An HPACK string literal without Huffman coding (RFC 7541, 5.2).
fn encode_string(bytes: &[u8], out: &mut Vec<u8>) {
    encode_integer(bytes.len(), 7, 0, out);
    out.extend_from_slice(bytes);
}

/// An HPACK integer with an `n`-bit prefix, the bits above it set to `high` (RFC 7541, 5.1).
fn encode_integer(mut value: usize, n: u32, high: u8, out: &mut Vec<u8>) {
    let max = (1usize << n) - 1;
    if value < max {
        out.push(high | value as u8);
        return;
    }
    out.push(high | max as u8);
    value -= max;
    while value >= 128 {
        out.push((value % 128) as u8 | 0x80);
        value /= 128;
    }
    out.push(value as u8);
}

fn write_frame(out: &mut Vec<u8>, kind: u8, flags: u8, stream_id: u32, parts: &[&[u8]]) {
    let length: usize = parts.iter().map(|p| p.len()).sum();
    out.extend_from_slice(&(length as u32).to_be_bytes()[1..]);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&stream_id.to_be_bytes());
    for part in parts {
        out.extend_from_slice(part);
    }
}

/// A server-side connection whose client's `:authority` is repaired (see the
/// [module docs](self)). Writes pass straight through.
pub struct RepairAuthority<IO> {
    io: IO,
    rewriter: Rewriter,
    /// Rewritten bytes not yet read, from `pos`.
    ready: Vec<u8>,
    pos: usize,
    chunk: Box<[u8]>,
}

impl<IO> std::fmt::Debug for RepairAuthority<IO> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepairAuthority")
            .field("buffered", &(self.ready.len() - self.pos))
            .finish_non_exhaustive()
    }
}

impl<IO> RepairAuthority<IO> {
    /// Wraps the server's side of a new connection (before anything was read from it).
    pub fn new(io: IO) -> Self {
        RepairAuthority {
            io,
            rewriter: Rewriter::new(),
            ready: Vec::new(),
            pos: 0,
            chunk: vec![0; MAX_FRAME].into_boxed_slice(),
        }
    }

    /// The connection itself.
    pub fn get_ref(&self) -> &IO {
        &self.io
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for RepairAuthority<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.pos < this.ready.len() {
                let n = buf.remaining().min(this.ready.len() - this.pos);
                buf.put_slice(&this.ready[this.pos..this.pos + n]);
                this.pos += n;
                if this.pos == this.ready.len() {
                    this.ready.clear();
                    this.pos = 0;
                }
                return Poll::Ready(Ok(()));
            }
            let mut chunk = ReadBuf::new(&mut this.chunk);
            ready!(Pin::new(&mut this.io).poll_read(cx, &mut chunk))?;
            if chunk.filled().is_empty() {
                return Poll::Ready(Ok(()));
            }
            this.rewriter.feed(chunk.filled(), &mut this.ready)?;
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for RepairAuthority<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

impl<IO: tonic::transport::server::Connected> tonic::transport::server::Connected
    for RepairAuthority<IO>
{
    type ConnectInfo = IO::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}

/// The connections of a Unix listener, each wrapped in [`RepairAuthority`], for tonic's
/// `Server::serve_with_incoming`. Accept errors are not passed on: when file descriptors (or
/// memory) run out it waits 100 ms before accepting again, other errors (a client that went
/// away while queued) are skipped.
#[derive(Debug)]
pub struct UnixIncoming {
    listener: UnixListener,
    backoff: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl UnixIncoming {
    /// Accepts on `listener`.
    pub fn new(listener: UnixListener) -> Self {
        UnixIncoming {
            listener,
            backoff: None,
        }
    }

    /// Binds a new listener at `path` (which must not exist). Must be called within a tokio
    /// runtime.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<Self> {
        UnixListener::bind(path).map(Self::new)
    }

    /// The listener.
    pub fn listener(&self) -> &UnixListener {
        &self.listener
    }
}

/// Whether an accept error means the process or system ran out of something (file
/// descriptors, memory) that only time gives back.
fn is_exhaustion(error: &io::Error) -> bool {
    // EMFILE, ENFILE, ENOBUFS, ENOMEM on Linux and the BSDs alike.
    matches!(error.raw_os_error(), Some(24 | 23 | 105 | 55 | 12))
        || error.kind() == io::ErrorKind::OutOfMemory
}

impl tokio_stream::Stream for UnixIncoming {
    type Item = io::Result<RepairAuthority<UnixStream>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(sleep) = self.backoff.as_mut() {
                ready!(sleep.as_mut().poll(cx));
                self.backoff = None;
            }
            match ready!(self.listener.poll_accept(cx)) {
                Ok((stream, _)) => return Poll::Ready(Some(Ok(RepairAuthority::new(stream)))),
                Err(error) if is_exhaustion(&error) => {
                    self.backoff = Some(Box::pin(tokio::time::sleep(Duration::from_millis(100))));
                }
                Err(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_frame(&mut out, kind, flags, stream, &[payload]);
        out
    }

    /// The frames of `wire` after the preface: (type, flags, stream, payload).
    fn frames(mut wire: &[u8]) -> Vec<(u8, u8, u32, Vec<u8>)> {
        assert!(wire.starts_with(PREFACE));
        wire = &wire[PREFACE.len()..];
        let mut out = Vec::new();
        while !wire.is_empty() {
            let len = usize::from(wire[0]) << 16 | usize::from(wire[1]) << 8 | usize::from(wire[2]);
            let stream = u32::from_be_bytes([wire[5], wire[6], wire[7], wire[8]]);
            out.push((wire[3], wire[4], stream, wire[9..9 + len].to_vec()));
            wire = &wire[9 + len..];
        }
        out
    }

    /// A literal with incremental indexing of `:authority` (static index 1), the value raw.
    fn indexed_authority(value: &[u8]) -> Vec<u8> {
        let mut block = vec![0x41];
        encode_string(value, &mut block);
        block
    }

    fn rewrite(input: &[u8], piece: usize) -> io::Result<Vec<u8>> {
        let mut rewriter = Rewriter::new();
        let mut out = Vec::new();
        for chunk in input.chunks(piece) {
            rewriter.feed(chunk, &mut out)?;
        }
        Ok(out)
    }

    fn decode_all(frames: &[(u8, u8, u32, Vec<u8>)]) -> Vec<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut decoder = loona_hpack::Decoder::new();
        let mut blocks = Vec::new();
        let mut block = Vec::new();
        for (kind, flags, _, payload) in frames {
            if *kind != HEADERS && *kind != CONTINUATION {
                continue;
            }
            let skip = if *kind == HEADERS && flags & PRIORITY != 0 {
                5
            } else {
                0
            };
            block.extend_from_slice(&payload[skip..]);
            if flags & END_HEADERS != 0 {
                blocks.push(decoder.decode(&block).unwrap());
                block.clear();
            }
        }
        blocks
    }

    #[test]
    fn a_socket_path_authority_becomes_localhost_across_the_dynamic_table() {
        let mut wire = PREFACE.to_vec();
        wire.extend(frame(0x4, 0, 0, &[])); // SETTINGS
        // First request: the path enters the client's dynamic table (index 62)...
        let mut first = vec![0x83, 0x86]; // :method POST, :scheme http
        first.extend(indexed_authority(b"/tmp/fake.sock"));
        first.extend([0x44, 4]); // :path "/a/b" with indexing
        first.extend(b"/a/b");
        wire.extend(frame(HEADERS, END_HEADERS, 1, &first));
        wire.extend(frame(0x0, END_STREAM, 1, b"\0\0\0\0\0"));
        // ...the second refers to it by index, padded and with a priority.
        let second = [0x83, 0x86, 0xbf, 0xbe]; // 63: /tmp/fake.sock, 62: :path /a/b
        let mut payload = vec![2]; // pad length
        payload.extend([0, 0, 0, 0, 16]); // priority
        payload.extend(second);
        payload.extend([0, 0]);
        wire.extend(frame(HEADERS, END_HEADERS | PADDED | PRIORITY, 3, &payload));
        for piece in [1, 7, 4096] {
            let out = rewrite(&wire, piece).unwrap();
            let frames = frames(&out);
            assert_eq!(frames.len(), 4, "piece {piece}");
            assert_eq!(frames[2], (0x0, END_STREAM, 1, b"\0\0\0\0\0".to_vec()));
            assert_eq!(frames[3].1, END_HEADERS | PRIORITY, "padding gone");
            assert_eq!(frames[3].3[..5], [0, 0, 0, 0, 16]);
            let blocks = decode_all(&frames);
            for block in &blocks {
                let authority = block.iter().find(|(n, _)| n == b":authority").unwrap();
                assert_eq!(authority.1, b"localhost");
                let path = block.iter().find(|(n, _)| n == b":path").unwrap();
                assert_eq!(path.1, b"/a/b");
            }
        }
    }

    #[test]
    fn a_valid_authority_is_kept_and_large_blocks_are_split() {
        let mut wire = PREFACE.to_vec();
        let mut block = indexed_authority(b"localhost:1234");
        // A 40 KiB header: split over CONTINUATION frames on the way in and out.
        block.push(0);
        encode_string(b"x-big", &mut block);
        encode_string(&vec![b'v'; 40 << 10], &mut block);
        let (a, b) = block.split_at(10_000);
        wire.extend(frame(HEADERS, END_STREAM, 5, a));
        wire.extend(frame(CONTINUATION, END_HEADERS, 5, b));
        let out = rewrite(&wire, 3000).unwrap();
        let frames = frames(&out);
        assert_eq!(frames[0].1, END_STREAM);
        assert!(frames[1..].iter().all(|f| f.0 == CONTINUATION));
        assert_eq!(frames.last().unwrap().1, END_HEADERS);
        let blocks = decode_all(&frames);
        assert_eq!(blocks[0][0].1, b"localhost:1234");
        assert_eq!(blocks[0][1].1.len(), 40 << 10);
    }

    #[test]
    fn not_http2_passes_through() {
        let wire = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(rewrite(wire, 5).unwrap(), wire);
    }

    #[test]
    fn bad_blocks_close_the_connection() {
        let bad = |tail: Vec<u8>| {
            let mut wire = PREFACE.to_vec();
            wire.extend(tail);
            rewrite(&wire, 1000).unwrap_err().to_string()
        };
        // An index beyond both tables.
        assert!(bad(frame(HEADERS, END_HEADERS, 1, &[0xff, 0x7f])).contains("decode"));
        // A block over the limit.
        let mut big = frame(HEADERS, 0, 1, &vec![0; MAX_FRAME]);
        for _ in 0..MAX_HEADER_BLOCK / MAX_FRAME {
            big.extend(frame(CONTINUATION, 0, 1, &vec![0; MAX_FRAME]));
        }
        assert!(bad(big).contains("header block over"));
        // An HPACK bomb: one 4 KiB entry, referenced 100,000 times (4 bytes each way).
        let mut bomb = vec![0x40];
        encode_string(b"x", &mut bomb);
        encode_string(&vec![b'v'; 4000], &mut bomb);
        bomb.extend(std::iter::repeat_n(0xbe, 100_000));
        let mut tail = Vec::new();
        let (first, rest) = bomb.split_at(MAX_FRAME);
        tail.extend(frame(HEADERS, 0, 1, first));
        let mut chunks = rest.chunks(MAX_FRAME).peekable();
        while let Some(chunk) = chunks.next() {
            let flags = if chunks.peek().is_none() {
                END_HEADERS
            } else {
                0
            };
            tail.extend(frame(CONTINUATION, flags, 1, chunk));
        }
        assert!(bad(tail).contains("header list over"));
        // CONTINUATION of another stream; a DATA frame inside a block; too much padding.
        let mut interleaved = frame(HEADERS, 0, 1, &[0x82]);
        interleaved.extend(frame(CONTINUATION, END_HEADERS, 3, &[0x84]));
        assert!(bad(interleaved).contains("CONTINUATION"));
        let mut data = frame(HEADERS, 0, 1, &[0x82]);
        data.extend(frame(0x0, 0, 1, b"x"));
        assert!(bad(data).contains("inside a header block"));
        assert!(bad(frame(HEADERS, END_HEADERS | PADDED, 1, &[9, 0x82])).contains("padding"));
    }

    #[test]
    fn integers_encode_as_rfc_7541_shows() {
        let mut out = Vec::new();
        encode_integer(10, 5, 0, &mut out);
        encode_integer(1337, 5, 0, &mut out);
        encode_integer(42, 8, 0, &mut out);
        assert_eq!(out, [10, 31, 154, 10, 42]);
    }
}
