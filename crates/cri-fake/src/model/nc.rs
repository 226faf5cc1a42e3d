//! `nc` (netcat) over the pod's network: probe a port (`nc -z HOST PORT`), talk to a server
//! (`nc HOST PORT`: stdin goes to it, its answer to stdout) or be one (`nc -l -p PORT`:
//! listens on the pod's address and the host ports mapped to PORT, as the model's web
//! servers do, and exchanges stdin and stdout with the first client; `-k` serves one client
//! after another until stopped).
//!
//! Inside a pod that has its own network, `localhost`, `127.0.0.1` and the pod's hostname
//! are the pod's address (where its containers listen).

use std::net::{IpAddr, SocketAddr};
use std::pin::pin;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Container, web};
use crate::command::{CommandIo, write_all};

/// The connect timeout without `-w`.
const DEFAULT_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, Default, PartialEq)]
struct Options {
    listen: bool,
    keep: bool,
    zero: bool,
    verbose: bool,
    port: Option<u16>,
    wait: Option<Duration>,
    operands: Vec<String>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let Some(flags) = arg.strip_prefix('-').filter(|f| !f.is_empty()) else {
            o.operands.push(arg.clone());
            continue;
        };
        for (i, flag) in flags.char_indices() {
            match flag {
                'l' => o.listen = true,
                'k' => o.keep = true,
                'z' => o.zero = true,
                'v' => o.verbose = true,
                'n' | 'N' | '4' => {}
                'p' | 'w' | 'q' => {
                    let rest = &flags[i + 1..];
                    let value = if rest.is_empty() {
                        it.next()
                            .cloned()
                            .ok_or_else(|| format!("option -{flag} needs a value"))?
                    } else {
                        rest.to_string()
                    };
                    match flag {
                        'p' => o.port = Some(port(&value)?),
                        'w' => {
                            let secs: u64 = value
                                .parse()
                                .map_err(|_| format!("invalid number '{value}'"))?;
                            o.wait = Some(Duration::from_secs(secs));
                        }
                        // -q SECS: quit after stdin ends (what the fake always does).
                        _ => {}
                    }
                    break;
                }
                _ => return Err(format!("invalid option -- '{flag}'")),
            }
        }
    }
    Ok(o)
}

fn port(text: &str) -> Result<u16, String> {
    text.parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("bad port '{text}'"))
}

/// `FIRST[-LAST]`.
fn ports(text: &str) -> Result<std::ops::RangeInclusive<u16>, String> {
    match text.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (port(a)?, port(b)?);
            if a > b {
                return Err(format!("bad port range '{text}'"));
            }
            Ok(a..=b)
        }
        None => port(text).map(|p| p..=p),
    }
}

/// `nc ARGS…` in the container `model`.
pub(crate) async fn nc(model: &Container, args: &[String], io: &mut CommandIo) -> i32 {
    match parse(args) {
        Ok(o) if o.listen => listen(model, o, io).await,
        Ok(o) => connect(model, o, io).await,
        Err(e) => fail(io, e).await,
    }
}

async fn fail(io: &mut CommandIo, message: String) -> i32 {
    write_all(&mut io.stderr, format!("nc: {message}\n").as_bytes()).await;
    1
}

/// The address of `host` as the container sees it.
async fn resolve(model: &Container, host: &str, port: u16) -> Result<SocketAddr, String> {
    let own = !model.host_network
        && (matches!(host, "localhost" | "127.0.0.1") || host == model.hostname);
    if own {
        return Ok(SocketAddr::from((model.ip, port)));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::from((ip, port)));
    }
    tokio::net::lookup_host((host, port))
        .await
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| format!("bad address '{host}'"))
}

async fn connect(model: &Container, o: Options, io: &mut CommandIo) -> i32 {
    let [host, port_text] = o.operands.as_slice() else {
        return fail(io, "usage: nc [-z] [-w SECS] HOST PORT".into()).await;
    };
    let range = match ports(port_text) {
        Ok(r) if o.zero => r,
        Ok(r) if r.start() == r.end() => r,
        Ok(_) => return fail(io, "a port range needs -z".into()).await,
        Err(e) => return fail(io, e).await,
    };
    let wait = o.wait.unwrap_or(DEFAULT_WAIT);
    let mut status = 1;
    for port in range {
        let addr = match resolve(model, host, port).await {
            Ok(addr) => addr,
            Err(e) => return fail(io, e).await,
        };
        let conn = match tokio::time::timeout(wait, TcpStream::connect(addr)).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => {
                if !o.zero || o.verbose {
                    let msg = format!("can't connect to remote host ({}): {e}", addr.ip());
                    fail(io, msg).await;
                }
                continue;
            }
            Err(_) => {
                if !o.zero || o.verbose {
                    let msg = format!("can't connect to remote host ({}): timed out", addr.ip());
                    fail(io, msg).await;
                }
                continue;
            }
        };
        status = 0;
        if o.verbose {
            let msg = format!("{host} ({addr}) open\n");
            write_all(&mut io.stderr, msg.as_bytes()).await;
        }
        if !o.zero {
            exchange(conn, io).await;
        }
    }
    status
}

async fn listen(model: &Container, o: Options, io: &mut CommandIo) -> i32 {
    let port = match (o.port, o.operands.as_slice()) {
        (Some(p), []) => p,
        (None, [p]) => match port(p) {
            Ok(p) => p,
            Err(e) => return fail(io, e).await,
        },
        (None, []) => return fail(io, "-l needs a port: nc -l -p PORT".into()).await,
        _ => return fail(io, "usage: nc -l [-k] -p PORT".into()).await,
    };
    let listeners = match web::listen(model, port).await {
        Ok(l) => l,
        Err((addr, e)) => return fail(io, format!("bind {addr}: {e}")).await,
    };
    let (connections, mut accepted) = tokio::sync::mpsc::channel(1);
    let mut tasks = tokio::task::JoinSet::new();
    for listener in listeners {
        let connections = connections.clone();
        tasks.spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                if connections.send(conn).await.is_err() {
                    return;
                }
            }
        });
    }
    drop(connections);
    if o.verbose {
        let msg = format!("listening on {}:{port} ...\n", model.ip);
        write_all(&mut io.stderr, msg.as_bytes()).await;
    }
    while let Some(conn) = accepted.recv().await {
        exchange(conn, io).await;
        if !o.keep {
            return 0;
        }
    }
    1
}

/// Copies stdin to the peer (closing our side when it ends) and the peer's bytes to stdout,
/// until the peer closes its side.
async fn exchange(conn: TcpStream, io: &mut CommandIo) {
    let (mut from_peer, mut to_peer) = conn.into_split();
    let CommandIo { stdin, stdout, .. } = io;
    let up = async {
        if let Some(stdin) = stdin.as_mut() {
            let _ = copy(stdin, &mut to_peer).await;
        }
        let _ = to_peer.shutdown().await;
        // Nothing more to send: wait for the peer's side to end.
        std::future::pending::<()>().await;
    };
    let down = copy(&mut from_peer, stdout);
    let (up, down) = (pin!(up), pin!(down));
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}

async fn copy<R, W>(from: &mut R, to: &mut W) -> std::io::Result<u64>
where
    R: AsyncRead + Unpin + ?Sized,
    W: AsyncWrite + Unpin + ?Sized,
{
    let n = tokio::io::copy(from, to).await?;
    to.flush().await?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn options() {
        let o = parse(&args("-lk -p 8080")).unwrap();
        assert!(o.listen && o.keep && o.port == Some(8080));
        let o = parse(&args("-lp8080")).unwrap();
        assert!(o.listen && o.port == Some(8080));
        let o = parse(&args("-zv -w 2 10.0.0.1 80")).unwrap();
        assert!(o.zero && o.verbose && o.wait == Some(Duration::from_secs(2)));
        assert_eq!(o.operands, args("10.0.0.1 80"));
        assert_eq!(parse(&args("-p")).unwrap_err(), "option -p needs a value");
        assert_eq!(parse(&args("-x")).unwrap_err(), "invalid option -- 'x'");
        assert_eq!(parse(&args("-p 0")).unwrap_err(), "bad port '0'");
        assert_eq!(ports("80-82").unwrap(), 80..=82);
        assert!(ports("82-80").is_err());
    }
}
