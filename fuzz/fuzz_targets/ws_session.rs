//! `cargo fuzz run ws_session`: a whole WebSocket session of `cri-streaming`'s server (the
//! channel layer: demultiplexer, budgets, close signals, the runtime's streams) on what a
//! client sends after the upgrade.
//!
//! The first byte picks the session (exec v5, exec v5 with a TTY, exec v4 base64, the
//! legacy protocol, attach v4, port forward of two ports), the second how the input is cut
//! into writes (1 to 255 bytes); the rest is the client's bytes (masked frames). Properties:
//! nothing panics, and the session ends once the client is gone, whatever it sent.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [selector, chunk, input @ ..] = data else {
        return;
    };
    cri_streaming::server::fuzzing::websocket_session(*selector, *chunk, input);
});
