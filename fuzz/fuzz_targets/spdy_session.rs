//! `cargo fuzz run spdy_session`: a whole SPDY/3.1 session of `cri-streaming`'s server (the
//! multiplexer, admission, buffers and the session's stream handling, not only frames) on
//! what a client sends after the upgrade.
//!
//! The first byte picks the session (exec v4, exec v5 with a TTY, exec on the first
//! protocol, attach v4, port forward), the second how the input is cut into writes (1 to
//! 255 bytes); the rest is the client's bytes (frames). Properties: nothing panics, and the
//! session ends once the client is gone, whatever it sent.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [selector, chunk, input @ ..] = data else {
        return;
    };
    cri_streaming::server::fuzzing::spdy_session(*selector, *chunk, input);
});
