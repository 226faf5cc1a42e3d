//! The client-to-server half of an HTTP/2 connection, rewritten frame by frame: header
//! blocks decoded with the client's HPACK state, their `:authority` repaired, and encoded
//! again without compression state; every other frame passed through.

use std::io;

use super::{MAX_HEADER_BLOCK, MAX_HEADER_LIST};

/// The authority put in place of one that is not valid.
const LOCALHOST: &[u8] = b"localhost";
pub(super) const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
pub(super) const HEADERS: u8 = 0x1;
pub(super) const CONTINUATION: u8 = 0x9;
pub(super) const END_STREAM: u8 = 0x1;
pub(super) const END_HEADERS: u8 = 0x4;
pub(super) const PADDED: u8 = 0x8;
pub(super) const PRIORITY: u8 = 0x20;
/// The frame size every HTTP/2 peer accepts (SETTINGS_MAX_FRAME_SIZE's initial value).
pub(super) const MAX_FRAME: usize = 16_384;
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
pub(super) struct Rewriter {
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
    pub(super) fn new() -> Self {
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
    pub(super) fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
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
pub(super) fn encode_string(bytes: &[u8], out: &mut Vec<u8>) {
    encode_integer(bytes.len(), 7, 0, out);
    out.extend_from_slice(bytes);
}

/// An HPACK integer with an `n`-bit prefix, the bits above it set to `high` (RFC 7541, 5.1).
pub(super) fn encode_integer(mut value: usize, n: u32, high: u8, out: &mut Vec<u8>) {
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

pub(super) fn write_frame(out: &mut Vec<u8>, kind: u8, flags: u8, stream_id: u32, parts: &[&[u8]]) {
    let length: usize = parts.iter().map(|p| p.len()).sum();
    out.extend_from_slice(&(length as u32).to_be_bytes()[1..]);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&stream_id.to_be_bytes());
    for part in parts {
        out.extend_from_slice(part);
    }
}
