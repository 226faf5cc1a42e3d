//! Throughput of one SPDY stream over an in-memory duplex pipe, both ends this crate's
//! multiplexer: the server writes like an exec's stdout, the client reads. Prints GB/s.
//!
//! `cargo bench -p cri-streaming --bench spdy_throughput [-- <MiB per run>]`

use std::time::{Duration, Instant};

use cri_streaming::spdy::{Connection, Headers, Limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn one_run(total: usize, pipe: usize, chunk: usize) -> Duration {
    let (a, b) = tokio::io::duplex(pipe);
    let (_server, mut incoming) = Connection::server(a, Limits::default());
    let (client, _client_incoming) = Connection::client(b, Limits::default());
    let server = tokio::spawn(async move {
        let mut stream = incoming.accept().await.expect("a stream");
        stream.reply(Headers::new(), false).expect("reply");
        let block = vec![0x5au8; chunk];
        let mut left = total;
        while left > 0 {
            let n = left.min(block.len());
            stream.write_all(&block[..n]).await.expect("write");
            left -= n;
        }
        stream.shutdown().await.expect("fin");
    });
    let mut headers = Headers::new();
    headers.insert("streamtype", "stdout");
    let start = Instant::now();
    let mut stream = client.open_stream(headers, true).await.expect("open");
    let mut buf = vec![0u8; chunk];
    let mut got = 0usize;
    loop {
        let n = stream.read(&mut buf).await.expect("read");
        if n == 0 {
            break;
        }
        got += n;
    }
    let elapsed = start.elapsed();
    assert_eq!(got, total, "all bytes arrive");
    server.await.expect("server task");
    elapsed
}

fn main() {
    let mib: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1024);
    let total = mib << 20;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!("SPDY/3.1 single stream, server -> client over tokio::io::duplex, {mib} MiB per run");
    for (pipe, chunk) in [
        (64 << 10, 32 << 10),
        (256 << 10, 64 << 10),
        (1 << 20, 128 << 10),
    ] {
        let mut best = f64::MAX;
        let mut all = Vec::new();
        for _ in 0..3 {
            let t = rt.block_on(one_run(total, pipe, chunk)).as_secs_f64();
            best = best.min(t);
            all.push(total as f64 / t / 1e9);
        }
        let median = {
            all.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
            all[all.len() / 2]
        };
        println!(
            "  pipe {:>5} KiB, writes of {:>4} KiB: best {:.2} GB/s, median {:.2} GB/s (target >= 1 GB/s)",
            pipe >> 10,
            chunk >> 10,
            total as f64 / best / 1e9,
            median
        );
    }
}
