//! Header blocks: name/value pairs serialized as SPDY/3 wants, zlib-compressed with one
//! context per direction for the whole connection, seeded with the SPDY/3 dictionary and
//! ending each block in a sync flush.

use bytes::BufMut;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::{FrameError, MAX_PAYLOAD};
use crate::spdy::Headers;
use crate::spdy::dictionary::DICTIONARY;

/// Inflates the peer's header blocks with the connection's inbound zlib context.
pub(super) struct HeaderBlockDecoder {
    inflate: Decompress,
    max: usize,
}

impl HeaderBlockDecoder {
    /// A decoder that refuses blocks that decompress to more than `max` bytes.
    pub(super) fn new(max: usize) -> Self {
        HeaderBlockDecoder {
            inflate: Decompress::new(true),
            max,
        }
    }

    /// The largest decompressed block accepted.
    pub(super) fn max(&self) -> usize {
        self.max
    }

    /// Inflates one header block with the connection's context, never producing more than
    /// the limit, and parses it.
    pub(super) fn decode(&mut self, input: &[u8]) -> Result<Headers, FrameError> {
        let max = self.max;
        let too_large = FrameError::HeaderBlockTooLarge { max };
        let mut out: Vec<u8> = Vec::with_capacity((input.len() * 4).max(256).min(max + 1));
        let mut consumed = 0usize;
        loop {
            if out.len() == out.capacity() {
                if out.len() > max {
                    return Err(too_large);
                }
                let more = out.len().max(256).min(max + 1 - out.len());
                out.reserve_exact(more);
            }
            let before_in = self.inflate.total_in();
            let before_out = self.inflate.total_out();
            let result =
                self.inflate
                    .decompress_vec(&input[consumed..], &mut out, FlushDecompress::Sync);
            consumed += (self.inflate.total_in() - before_in) as usize;
            let progressed =
                self.inflate.total_in() != before_in || self.inflate.total_out() != before_out;
            match result {
                Ok(Status::StreamEnd) => {
                    return Err(FrameError::Compression(
                        "the peer ended its zlib stream, which SPDY never does".into(),
                    ));
                }
                Ok(_) => {}
                Err(e) if e.needs_dictionary().is_some() => {
                    self.inflate.set_dictionary(&DICTIONARY).map_err(|e| {
                        FrameError::Compression(format!("setting the SPDY/3 dictionary: {e}"))
                    })?;
                    continue;
                }
                Err(e) => return Err(FrameError::Compression(e.to_string())),
            }
            if out.len() > max {
                return Err(too_large);
            }
            if consumed == input.len() && out.len() < out.capacity() {
                break;
            }
            if !progressed && out.len() < out.capacity() {
                return Err(FrameError::Compression(
                    "zlib made no progress on the header block".into(),
                ));
            }
        }
        parse_header_block(&out)
    }
}

/// The most headers one block may carry (Kubernetes sends at most five); more is an error.
pub(crate) const MAX_HEADERS: usize = 256;

fn parse_header_block(block: &[u8]) -> Result<Headers, FrameError> {
    let bad = |why: String| FrameError::InvalidHeaderBlock(why);
    let mut rest = block;
    let take_u32 = |rest: &mut &[u8], what: &str| -> Result<usize, FrameError> {
        if rest.len() < 4 {
            return Err(bad(format!("truncated before the {what}")));
        }
        let v = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
        *rest = &rest[4..];
        Ok(v as usize)
    };
    let count = take_u32(&mut rest, "number of headers")?;
    if count > rest.len() / 8 {
        return Err(bad(format!(
            "{count} headers announced in {} bytes",
            block.len()
        )));
    }
    if count > MAX_HEADERS {
        return Err(bad(format!(
            "{count} headers in one block (at most {MAX_HEADERS})"
        )));
    }
    let mut headers = Headers::new();
    // A set, not a look-up in `headers` per name: a block of thousands of names must not
    // cost their square.
    let mut seen = std::collections::HashSet::with_capacity(count);
    for _ in 0..count {
        let len = take_u32(&mut rest, "header name length")?;
        if len == 0 {
            return Err(bad("empty header name".into()));
        }
        if len > rest.len() {
            return Err(bad(format!("header name of {len} bytes is truncated")));
        }
        let name = std::str::from_utf8(&rest[..len])
            .map_err(|_| bad("header name is not UTF-8".into()))?;
        if name.bytes().any(|b| b.is_ascii_uppercase() || b == 0) {
            return Err(bad(format!("header name {name:?} is not lower case")));
        }
        let name = name.to_owned();
        rest = &rest[len..];
        let len = take_u32(&mut rest, "header value length")?;
        if len > rest.len() {
            return Err(bad(format!("value of {name:?} ({len} bytes) is truncated")));
        }
        let value = std::str::from_utf8(&rest[..len])
            .map_err(|_| bad(format!("value of {name:?} is not UTF-8")))?;
        rest = &rest[len..];
        if !seen.insert(name.clone()) {
            return Err(bad(format!("header {name:?} appears twice")));
        }
        let values = value.split('\0').map(str::to_owned).collect();
        headers.push_decoded(name, values);
    }
    if !rest.is_empty() {
        return Err(bad(format!("{} bytes after the last header", rest.len())));
    }
    Ok(headers)
}

/// Compresses our header blocks with the connection's outbound zlib context.
pub(super) struct HeaderBlockEncoder {
    deflate: Compress,
    scratch: Vec<u8>,
}

impl HeaderBlockEncoder {
    /// A new encoder (its zlib context starts with the SPDY/3 dictionary).
    pub(super) fn new() -> Self {
        let mut deflate = Compress::new(Compression::default(), true);
        deflate
            .set_dictionary(&DICTIONARY)
            .expect("a fresh zlib stream accepts a dictionary");
        HeaderBlockEncoder {
            deflate,
            scratch: Vec::new(),
        }
    }

    /// Serializes and compresses `headers`; the compressed block, valid until the next call.
    pub(super) fn encode(&mut self, headers: &Headers) -> Result<&[u8], FrameError> {
        let mut raw = Vec::with_capacity(64);
        raw.put_u32(headers.len() as u32);
        for (name, values) in headers.iter() {
            if name.is_empty() {
                return Err(FrameError::Unencodable("empty header name".into()));
            }
            raw.put_u32(name.len() as u32);
            raw.extend_from_slice(name.as_bytes());
            let len = values.iter().map(String::len).sum::<usize>() + values.len().max(1) - 1;
            raw.put_u32(len as u32);
            for (i, v) in values.iter().enumerate() {
                if v.contains('\0') {
                    return Err(FrameError::Unencodable(format!(
                        "a value of header {name:?} contains NUL"
                    )));
                }
                if i > 0 {
                    raw.push(0);
                }
                raw.extend_from_slice(v.as_bytes());
            }
        }
        if raw.len() > MAX_PAYLOAD as usize {
            return Err(FrameError::Unencodable("header block is too large".into()));
        }
        self.scratch.clear();
        self.scratch.reserve(raw.len() / 2 + 64);
        let mut consumed = 0usize;
        loop {
            if self.scratch.len() == self.scratch.capacity() {
                self.scratch.reserve(self.scratch.len().max(64));
            }
            let before = self.deflate.total_in();
            self.deflate
                .compress_vec(&raw[consumed..], &mut self.scratch, FlushCompress::Sync)
                .map_err(|e| FrameError::Compression(e.to_string()))?;
            consumed += (self.deflate.total_in() - before) as usize;
            if consumed == raw.len() && self.scratch.len() < self.scratch.capacity() {
                break;
            }
        }
        Ok(&self.scratch)
    }
}
