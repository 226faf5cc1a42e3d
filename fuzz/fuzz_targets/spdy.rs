//! `cargo fuzz run spdy`: the SPDY/3 frame decoder of `cri-streaming` on arbitrary bytes.
//!
//! The first byte picks how the input is cut into reads (1 to 256 bytes at a time); the
//! rest is the byte stream a peer sends. Properties: decoding never panics and never
//! inflates a header block past its limit; every frame it accepts encodes again, and that
//! encoding decodes to the same frame with a fresh compression context pair.
#![no_main]

use bytes::BytesMut;
use cri_streaming::spdy::frame::{Frame, FrameDecoder, FrameEncoder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, stream)) = data.split_first() else {
        return;
    };
    let step = usize::from(cut) + 1;
    let mut decoder = FrameDecoder::new(64 * 1024, 16 * 1024);
    let mut encoder = FrameEncoder::new();
    let mut check = FrameDecoder::new(1 << 24, 1 << 24);
    let mut buf = BytesMut::new();
    for chunk in stream.chunks(step) {
        buf.extend_from_slice(chunk);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => {
                    if matches!(frame, Frame::Unknown { .. }) {
                        continue;
                    }
                    let mut wire = BytesMut::new();
                    encoder
                        .encode(&frame, &mut wire)
                        .expect("a decoded frame encodes");
                    let again = check
                        .decode(&mut wire)
                        .expect("our encoding decodes")
                        .expect("a whole frame");
                    assert_eq!(again, frame);
                    assert!(wire.is_empty());
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
});
