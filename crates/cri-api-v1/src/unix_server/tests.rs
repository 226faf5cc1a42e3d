//! The rewriter against hand-made frames.

use super::MAX_HEADER_BLOCK;
use super::rewrite::*;
use std::io;

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
