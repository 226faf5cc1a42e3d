//! A tiny SPDY/3.1 peer over TCP, for interoperability checks against other
//! implementations (see `scripts/spdy-npm-interop.sh`, which runs it against npm's
//! `spdy-transport`).
//!
//! - `spdy_peer server ADDR`: accepts one connection and echoes every stream, replying
//!   `:status: 200`; exits when the connection ends.
//! - `spdy_peer client ADDR BYTES`: opens one stream with HTTP-style headers, sends BYTES
//!   bytes, half-closes, checks the echo, pings, sends GOAWAY.

use std::error::Error;

use cri_streaming::spdy::{Connection, Headers, Limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("server") => {
            let listener = TcpListener::bind(&args[2]).await?;
            println!("listening on {}", listener.local_addr()?);
            let (socket, _) = listener.accept().await?;
            let (conn, mut incoming) = Connection::server(socket, Limits::default());
            let mut tasks = Vec::new();
            while let Some(stream) = incoming.accept().await {
                println!("stream {} headers {:?}", stream.id(), stream.headers());
                let mut reply = Headers::new();
                reply.insert(":status", "200");
                reply.insert(":version", "HTTP/1.1");
                stream.reply(reply, false)?;
                tasks.push(tokio::spawn(async move {
                    let (mut r, mut w) = tokio::io::split(stream);
                    let n = tokio::io::copy(&mut r, &mut w).await?;
                    w.shutdown().await?;
                    println!("echoed {n} bytes");
                    Ok::<_, std::io::Error>(n)
                }));
            }
            for t in tasks {
                t.await??;
            }
            let end = conn.closed().await;
            println!("connection ended: {end:?}");
            Ok(())
        }
        Some("client") => {
            let len: usize = args[3].parse()?;
            let socket = TcpStream::connect(&args[2]).await?;
            let (conn, _incoming) = Connection::client(socket, Limits::default());
            let rtt = conn.ping().await?;
            println!("ping answered in {rtt:?}");
            let mut headers = Headers::new();
            for (k, v) in [
                (":method", "POST"),
                (":path", "/echo"),
                (":version", "HTTP/1.1"),
                (":host", "localhost"),
                (":scheme", "http"),
            ] {
                headers.insert(k, v);
            }
            let stream = conn.open_stream(headers, false).await?;
            let reply = stream.wait_reply().await?;
            println!("reply {reply:?}");
            if reply.get(":status").map(|s| s.starts_with("200")) != Some(true) {
                return Err(format!("unexpected reply {reply:?}").into());
            }
            let data = pattern(len);
            let (mut r, mut w) = tokio::io::split(stream);
            let sent = data.clone();
            let writer = tokio::spawn(async move {
                w.write_all(&sent).await?;
                w.shutdown().await
            });
            let mut got = Vec::new();
            r.read_to_end(&mut got).await?;
            writer.await??;
            if got != data {
                return Err(format!("echo mismatch: sent {len} bytes, got {}", got.len()).into());
            }
            println!("echo ok: {len} bytes");
            conn.go_away().await;
            Ok(())
        }
        _ => Err("usage: spdy_peer server ADDR | client ADDR BYTES".into()),
    }
}
