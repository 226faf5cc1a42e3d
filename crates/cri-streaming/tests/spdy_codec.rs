//! Property tests of the SPDY/3 frame codec: round trips, hostile bytes, bounded inflation.

use bytes::{Bytes, BytesMut};
use cri_streaming::spdy;
use cri_streaming::spdy::frame::{Frame, FrameDecoder, FrameEncoder, Setting};
use cri_streaming::spdy::{FrameError, GoAwayStatus, Headers, RstStatus};
use flate2::{Compress, Compression, FlushCompress};
use proptest::prelude::*;

const MAX_FRAME: u32 = 1 << 20;
const MAX_BLOCK: usize = 16 * 1024;

fn header_name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,15}"
}

fn headers() -> impl Strategy<Value = Headers> {
    prop::collection::vec(
        (header_name(), prop::collection::vec("[ -~]{0,20}", 1..3)),
        0..6,
    )
    .prop_map(|entries| {
        let mut h = Headers::new();
        for (name, values) in entries {
            if h.get(&name).is_some() {
                continue;
            }
            for v in values {
                h.append(name.clone(), v);
            }
        }
        h
    })
}

fn stream_id() -> impl Strategy<Value = u32> {
    1u32..=0x7fff_ffff
}

fn frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        (
            stream_id(),
            any::<bool>(),
            prop::collection::vec(any::<u8>(), 0..2048)
        )
            .prop_map(|(stream_id, fin, data)| Frame::Data {
                stream_id,
                fin,
                data: Bytes::from(data)
            }),
        (
            stream_id(),
            0u32..=0x7fff_ffff,
            0u8..8,
            any::<u8>(),
            any::<bool>(),
            any::<bool>(),
            headers()
        )
            .prop_map(
                |(stream_id, associated_to, priority, slot, fin, unidirectional, headers)| {
                    Frame::SynStream {
                        stream_id,
                        associated_to,
                        priority,
                        slot,
                        fin,
                        unidirectional,
                        headers,
                    }
                }
            ),
        (stream_id(), any::<bool>(), headers()).prop_map(|(stream_id, fin, headers)| {
            Frame::SynReply {
                stream_id,
                fin,
                headers,
            }
        }),
        (stream_id(), any::<bool>(), headers()).prop_map(|(stream_id, fin, headers)| {
            Frame::Headers {
                stream_id,
                fin,
                headers,
            }
        }),
        (stream_id(), 1u32..).prop_map(|(stream_id, s)| Frame::RstStream {
            stream_id,
            status: RstStatus(s)
        }),
        (
            any::<bool>(),
            prop::collection::vec((any::<u8>(), 0u32..0x0100_0000, any::<u32>()), 0..8)
        )
            .prop_map(|(clear, e)| Frame::Settings {
                clear,
                entries: e
                    .into_iter()
                    .map(|(flags, id, value)| Setting { flags, id, value })
                    .collect()
            }),
        any::<u32>().prop_map(|id| Frame::Ping { id }),
        (0u32..=0x7fff_ffff, any::<u32>()).prop_map(|(last, s)| Frame::GoAway {
            last_good_stream_id: last,
            status: GoAwayStatus(s)
        }),
        (0u32..=0x7fff_ffff, 1u32..=0x7fff_ffff)
            .prop_map(|(stream_id, delta)| Frame::WindowUpdate { stream_id, delta }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any sequence of frames decodes to itself, fed whole or byte by byte, with one
    /// compression context per direction carried across the frames.
    #[test]
    fn round_trip(frames in prop::collection::vec(frame(), 1..12), split in 1usize..64) {
        let mut enc = FrameEncoder::new();
        let mut wire = BytesMut::new();
        for f in &frames {
            enc.encode(f, &mut wire).unwrap();
        }
        let mut dec = FrameDecoder::new(MAX_FRAME, MAX_BLOCK);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for chunk in wire.chunks(split) {
            buf.extend_from_slice(chunk);
            while let Some(f) = dec.decode(&mut buf).unwrap() {
                out.push(f);
            }
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(out, frames);
    }

    /// Arbitrary bytes never panic the decoder; they decode or fail with an error.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let mut dec = FrameDecoder::new(4096, 4096);
        let mut buf = BytesMut::from(&bytes[..]);
        while let Ok(Some(_)) = dec.decode(&mut buf) {}
    }

    /// Valid frame headers with arbitrary (compressed or not) bodies never panic either.
    #[test]
    fn arbitrary_control_bodies_never_panic(
        ty in 0u16..12,
        flags in any::<u8>(),
        body in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&(0x8003u16).to_be_bytes());
        buf.extend_from_slice(&ty.to_be_bytes());
        buf.extend_from_slice(&[flags]);
        buf.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        buf.extend_from_slice(&body);
        let mut dec = FrameDecoder::new(4096, 4096);
        let _ = dec.decode(&mut buf);
    }

    /// However a header block inflates, the decoder never produces more than its limit.
    #[test]
    fn decompression_is_bounded(size in 1usize..200_000, limit in 64usize..8192) {
        let wire = syn_stream_with_raw_block(&vec![0u8; size]);
        let mut dec = FrameDecoder::new(MAX_PAYLOAD_ANY, limit);
        let mut buf = BytesMut::from(&wire[..]);
        match dec.decode(&mut buf) {
            Err(FrameError::HeaderBlockTooLarge { max }) => prop_assert_eq!(max, limit),
            Err(FrameError::InvalidHeaderBlock(_)) => prop_assert!(size <= limit),
            other => prop_assert!(false, "unexpected {:?}", other),
        }
    }
}

const MAX_PAYLOAD_ANY: u32 = 0x00ff_ffff;

/// A SYN_STREAM whose header block is `raw` compressed the SPDY way (zlib, SPDY/3
/// dictionary, sync flush), whatever `raw` holds.
fn syn_stream_with_raw_block(raw: &[u8]) -> Vec<u8> {
    let dict = spdy3_dictionary();
    let mut z = Compress::new(Compression::best(), true);
    z.set_dictionary(&dict).unwrap();
    let mut block = Vec::with_capacity(raw.len() / 100 + 1024);
    let mut consumed = 0;
    loop {
        if block.len() == block.capacity() {
            block.reserve(4096);
        }
        let before = z.total_in();
        z.compress_vec(&raw[consumed..], &mut block, FlushCompress::Sync)
            .unwrap();
        consumed += (z.total_in() - before) as usize;
        if consumed == raw.len() && block.len() < block.capacity() {
            break;
        }
    }
    let len = 10 + block.len();
    let mut wire = vec![0x80, 0x03, 0x00, 0x01, 0x00];
    wire.extend_from_slice(&(len as u32).to_be_bytes()[1..]);
    wire.extend_from_slice(&1u32.to_be_bytes());
    wire.extend_from_slice(&0u32.to_be_bytes());
    wire.extend_from_slice(&[0, 0]);
    wire.extend_from_slice(&block);
    wire
}

/// The SPDY/3 dictionary the encoder uses, checked against the zlib header of its first
/// header block, whose DICTID must be the SPDY/3 one (0xe3c6a7c2).
fn spdy3_dictionary() -> Vec<u8> {
    let mut enc = FrameEncoder::new();
    let mut wire = BytesMut::new();
    enc.encode(
        &Frame::SynReply {
            stream_id: 1,
            fin: false,
            headers: Headers::new(),
        },
        &mut wire,
    )
    .unwrap();
    let dictid = u32::from_be_bytes([wire[14], wire[15], wire[16], wire[17]]);
    assert_eq!(
        dictid, 0xe3c6_a7c2,
        "the encoder uses the SPDY/3 dictionary"
    );
    assert_eq!(spdy::DICTIONARY.len(), 1423);
    spdy::DICTIONARY.to_vec()
}

#[test]
fn zlib_bomb_ends_with_a_clear_error() {
    // 16 MiB of zeros compresses to ~16 KiB: a bomb against a 64 KiB limit.
    let wire = syn_stream_with_raw_block(&vec![0u8; 16 << 20]);
    assert!(wire.len() < 64 * 1024, "bomb is {} bytes", wire.len());
    let mut dec = FrameDecoder::new(MAX_PAYLOAD_ANY, 64 * 1024);
    let err = dec
        .decode(&mut BytesMut::from(&wire[..]))
        .expect_err("the bomb must be refused");
    assert_eq!(err, FrameError::HeaderBlockTooLarge { max: 64 * 1024 });
    assert!(err.to_string().contains("65536 bytes"), "{err}");
}

/// A raw header block of `names` with empty values.
fn raw_block(names: impl ExactSizeIterator<Item = String>) -> Vec<u8> {
    let mut raw = (names.len() as u32).to_be_bytes().to_vec();
    for name in names {
        raw.extend_from_slice(&(name.len() as u32).to_be_bytes());
        raw.extend_from_slice(name.as_bytes());
        raw.extend_from_slice(&0u32.to_be_bytes());
    }
    raw
}

#[test]
fn header_blocks_have_a_header_count_cap() {
    let names = |n: usize| (0..n).map(|i| format!("h{i:04}"));
    let mut dec = FrameDecoder::new(MAX_PAYLOAD_ANY, 64 * 1024);
    let wire = syn_stream_with_raw_block(&raw_block(names(256)));
    match dec.decode(&mut BytesMut::from(&wire[..])) {
        Ok(Some(Frame::SynStream { headers, .. })) => assert_eq!(headers.len(), 256),
        other => panic!("256 headers are accepted: {other:?}"),
    }
    // Thousands of distinct names (issue 17: a linear duplicate check made such blocks
    // cost their square) are refused with a clear error, and quickly.
    let wire = syn_stream_with_raw_block(&raw_block(names(4800)));
    let start = std::time::Instant::now();
    let err = FrameDecoder::new(MAX_PAYLOAD_ANY, 64 * 1024)
        .decode(&mut BytesMut::from(&wire[..]))
        .expect_err("4800 headers are refused");
    assert!(
        err.to_string()
            .contains("4800 headers in one block (at most 256)"),
        "{err}"
    );
    assert!(start.elapsed() < std::time::Duration::from_millis(500));
    // Duplicates are still found.
    let wire =
        syn_stream_with_raw_block(&raw_block(["a".to_string(), "a".to_string()].into_iter()));
    let err = FrameDecoder::new(MAX_PAYLOAD_ANY, 64 * 1024)
        .decode(&mut BytesMut::from(&wire[..]))
        .expect_err("a duplicate is refused");
    assert!(err.to_string().contains("appears twice"), "{err}");
}

#[test]
fn malformed_frames_have_clear_errors() {
    let mut dec = FrameDecoder::new(1024, 1024);
    // SPDY/2 control frame.
    let e = dec
        .decode(&mut BytesMut::from(&[0x80, 2, 0, 1, 0, 0, 0, 0][..]))
        .unwrap_err();
    assert_eq!(e, FrameError::UnsupportedVersion(2));
    // Oversized frame: refused from its header alone, before the body arrives.
    let mut dec = FrameDecoder::new(1024, 1024);
    let e = dec
        .decode(&mut BytesMut::from(&[0, 0, 0, 1, 0, 0x10, 0, 0][..]))
        .unwrap_err();
    assert_eq!(
        e,
        FrameError::FrameTooLarge {
            length: 0x10_0000,
            max: 1024
        }
    );
    // PING with a 5-byte body.
    let mut dec = FrameDecoder::new(1024, 1024);
    let e = dec
        .decode(&mut BytesMut::from(
            &[0x80, 3, 0, 6, 0, 0, 0, 5, 1, 2, 3, 4, 5][..],
        ))
        .unwrap_err();
    assert_eq!(
        e,
        FrameError::InvalidLength {
            frame: "PING",
            length: 5
        }
    );
    assert_eq!(e.to_string(), "SPDY PING frame with invalid length 5");
    // DATA on stream 0.
    let mut dec = FrameDecoder::new(1024, 1024);
    let e = dec
        .decode(&mut BytesMut::from(&[0, 0, 0, 0, 0, 0, 0, 0][..]))
        .unwrap_err();
    assert_eq!(e, FrameError::ZeroStreamId { frame: "DATA" });
    // A header block that is not zlib at all.
    let mut dec = FrameDecoder::new(1024, 1024);
    let e = dec
        .decode(&mut BytesMut::from(
            &[
                0x80, 3, 0, 2, 0, 0, 0, 8, 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef,
            ][..],
        ))
        .unwrap_err();
    assert!(matches!(e, FrameError::Compression(_)), "{e:?}");
    // A header block announcing more headers than it holds.
    let wire = syn_stream_with_raw_block(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, b'a']);
    let e = FrameDecoder::new(1024, 1024)
        .decode(&mut BytesMut::from(&wire[..]))
        .unwrap_err();
    assert!(matches!(e, FrameError::InvalidHeaderBlock(_)), "{e:?}");
    // Upper-case and duplicate header names.
    let mut raw = 2u32.to_be_bytes().to_vec();
    for _ in 0..2 {
        raw.extend_from_slice(&1u32.to_be_bytes());
        raw.push(b'a');
        raw.extend_from_slice(&0u32.to_be_bytes());
    }
    let wire = syn_stream_with_raw_block(&raw);
    let e = FrameDecoder::new(1024, 1024)
        .decode(&mut BytesMut::from(&wire[..]))
        .unwrap_err();
    assert_eq!(
        e,
        FrameError::InvalidHeaderBlock("header \"a\" appears twice".into())
    );
}

#[test]
fn unknown_control_frames_are_skipped() {
    let mut dec = FrameDecoder::new(1024, 1024);
    let mut buf = BytesMut::from(
        &[
            0x80, 3, 0, 10, 0, 0, 0, 2, 9, 9, 0x80, 3, 0, 6, 0, 0, 0, 4, 0, 0, 0, 7,
        ][..],
    );
    assert!(matches!(
        dec.decode(&mut buf).unwrap(),
        Some(Frame::Unknown { frame_type: 10, .. })
    ));
    assert_eq!(dec.decode(&mut buf).unwrap(), Some(Frame::Ping { id: 7 }));
}

#[test]
fn multiple_values_travel_nul_separated() {
    let mut h = Headers::new();
    h.append("port", "80");
    h.append("port", "443");
    let mut enc = FrameEncoder::new();
    let mut wire = BytesMut::new();
    let frame = Frame::SynReply {
        stream_id: 3,
        fin: true,
        headers: h,
    };
    enc.encode(&frame, &mut wire).unwrap();
    let got = FrameDecoder::new(1024, 1024)
        .decode(&mut wire)
        .unwrap()
        .unwrap();
    let Frame::SynReply { headers, .. } = &got else {
        panic!("{got:?}")
    };
    assert_eq!(headers.get_all("port").collect::<Vec<_>>(), ["80", "443"]);
    assert_eq!(got, frame);
}
