//! The web servers of the images the CRI validation suite starts (nginx, httpd), and `wget`:
//! a server listens on the pod's address and on the host ports the pod maps to its port,
//! answers every `GET` with `200 OK` and a small page, and logs as the real server does
//! (an access-log line per request; httpd's start-up notices).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use super::Container;
use crate::command::{CommandIo, write_all};

/// The default command (entrypoint + cmd) of an image of the fake's registry, by its name.
pub(crate) fn default_command(image: &str) -> Vec<String> {
    let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect();
    let path = image.split('@').next().unwrap_or(image);
    let name = path.rsplit('/').next().unwrap_or(path);
    if name.starts_with("hostnet-nginx") {
        // The suite's host-network nginx listens on 12003.
        words(&["nginx", "-g", "daemon off; listen 12003;"])
    } else if name.starts_with("nginx") {
        words(&["nginx", "-g", "daemon off;"])
    } else if name.starts_with("nonewprivs") {
        // The e2e image's program: a set-user-ID-root binary that prints its effective uid.
        words(&["/usr/local/bin/nnp"])
    } else if name.starts_with("httpd") {
        words(&["httpd-foreground"])
    } else {
        Vec::new()
    }
}

/// The port of `listen N;` in nginx's `-g` directives (default 80).
fn nginx_port(args: &[String]) -> u16 {
    args.iter()
        .flat_map(|a| a.split(';'))
        .filter_map(|d| d.trim().strip_prefix("listen "))
        .find_map(|p| p.trim().parse().ok())
        .unwrap_or(80)
}

/// Listens on `port` of the pod's address, and on the host ports the pod maps to it (on
/// 127.0.0.1), as a server of the container does; the address that could not be bound.
pub(super) async fn listen(
    model: &Container,
    port: u16,
) -> Result<Vec<TcpListener>, (SocketAddr, std::io::Error)> {
    let mut addrs = vec![SocketAddr::from((model.ip, port))];
    for (container, host) in &model.host_ports {
        if *container == port {
            addrs.push(SocketAddr::from((Ipv4Addr::LOCALHOST, *host)));
        }
    }
    let mut listeners = Vec::new();
    for addr in addrs {
        listeners.push(TcpListener::bind(addr).await.map_err(|e| (addr, e))?);
    }
    Ok(listeners)
}

/// `nginx` or `httpd` (`argv`: its command line): serves until stopped.
pub(crate) async fn serve(
    model: Arc<Container>,
    name: &str,
    argv: &[String],
    mut io: CommandIo,
) -> i32 {
    let args = argv.get(1..).unwrap_or_default();
    let port = if name == "nginx" {
        nginx_port(args)
    } else {
        80
    };
    let listeners = match listen(&model, port).await {
        Ok(listeners) => listeners,
        Err((addr, e)) => {
            let msg = format!("{name}: bind() to {addr} failed ({e})\n");
            write_all(&mut io.stderr, msg.as_bytes()).await;
            return 1;
        }
    };
    if name == "nginx" && !nginx_master(&model, argv, &mut io).await {
        return 1;
    }
    if name != "nginx" {
        let host = &model.hostname;
        let notice = format!(
            "AH00558: httpd: Could not reliably determine the server's fully qualified domain name, using {}. Set the 'ServerName' directive globally to suppress this message\n\
             [mpm_event:notice] AH00489: Apache/2.4.39 (Unix) configured -- resuming normal operations ({host})\n",
            model.ip
        );
        write_all(&mut io.stderr, notice.as_bytes()).await;
    }
    let log = Arc::new(tokio::sync::Mutex::new(io.stdout));
    let mut tasks = tokio::task::JoinSet::new();
    for listener in listeners {
        let log = log.clone();
        let server = name.to_string();
        tasks.spawn(async move {
            loop {
                let Ok((conn, peer)) = listener.accept().await else {
                    return;
                };
                let log = log.clone();
                let server = server.clone();
                tokio::spawn(async move {
                    if let Some(line) = answer(conn, peer, &server).await {
                        let mut log = log.lock().await;
                        write_all(&mut log, line.as_bytes()).await;
                    }
                });
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    0
}

/// Where the nginx image's configuration has nginx write its master's pid.
pub(crate) const NGINX_PID_FILE: &str = "/var/run/nginx.pid";

/// What nginx's master does once it listens: writes its pid, newline-ended, to
/// [`NGINX_PID_FILE`] and takes the title `nginx: master process ARGV…` (its command
/// line as run; what `/proc/PID/cmdline` then reads). Whether it can go on: a pid file it cannot write ends
/// nginx with an `[emerg]`, as the real one.
async fn nginx_master(model: &Container, argv: &[String], io: &mut CommandIo) -> bool {
    let Some(pid) = super::procs::current_pid() else {
        // Not run as a process of the container (no pid): nothing to write.
        return true;
    };
    if let Err(e) = model
        .fs
        .write(NGINX_PID_FILE, format!("{pid}\n").as_bytes(), false)
    {
        let code = match e {
            super::fs::FsError::NotFound => 2,
            super::fs::FsError::ReadOnly => 30,
            super::fs::FsError::IsDir => 21,
        };
        let msg = format!(
            "nginx: [emerg] open() \"{NGINX_PID_FILE}\" failed ({code}: {})\n",
            e.message()
        );
        write_all(&mut io.stderr, msg.as_bytes()).await;
        return false;
    }
    let title = format!("nginx: master process {}", argv.join(" "));
    model.processes.set_title(pid, title);
    true
}

/// Answers one connection: each request gets `200 OK`; returns the access-log line of the
/// first.
async fn answer(conn: TcpStream, peer: SocketAddr, server: &str) -> Option<String> {
    let (read, mut write) = conn.into_split();
    let mut reader = BufReader::new(read.take(64 << 10));
    let mut request = String::new();
    reader.read_line(&mut request).await.ok()?;
    loop {
        let mut header = String::new();
        let n = reader.read_line(&mut header).await.ok()?;
        if n == 0 || header.trim().is_empty() {
            break;
        }
    }
    let body = format!(
        "<!DOCTYPE html>\n<html><head><title>Welcome to {server}!</title></head>\n<body><h1>It works!</h1></body></html>\n"
    );
    let response = format!(
        "HTTP/1.1 200 OK\r\nServer: {server}\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    write.write_all(response.as_bytes()).await.ok()?;
    write.shutdown().await.ok()?;
    let request = request.trim_end();
    Some(format!(
        "{} - - [{}] \"{request}\" 200 {} \"-\" \"-\"\n",
        peer.ip(),
        cri_log::Timestamp::now(),
        body.len()
    ))
}

/// `wget [-q] [-O FILE|-O -] URL`: fetches an `http://` URL, prints the body to stdout
/// (with `-O -`) or writes `index.html` through the model's files.
pub(crate) async fn wget(model: &Container, args: &[String], io: &mut CommandIo) -> i32 {
    let mut out: Option<String> = None;
    let mut url = None;
    let mut quiet = false;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        match a {
            "-q" => quiet = true,
            "-O" => {
                i += 1;
                out = args.get(i).cloned();
            }
            "-qO-" | "-qO" => {
                quiet = true;
                out = Some("-".into());
            }
            _ if a.starts_with("-O") => out = Some(a[2..].to_string()),
            _ if a.starts_with('-') => {}
            _ => url = Some(a.to_string()),
        }
        i += 1;
    }
    let Some(url) = url else {
        write_all(&mut io.stderr, b"wget: missing URL\n").await;
        return 1;
    };
    match fetch(&url).await {
        Ok(body) => {
            if !quiet {
                let msg = format!("Connecting to {url}\n");
                write_all(&mut io.stderr, msg.as_bytes()).await;
            }
            match out.as_deref() {
                Some("-") => i32::from(!write_all(&mut io.stdout, &body).await),
                other => {
                    let file = other.unwrap_or("index.html");
                    match model.fs.write(file, &body, false) {
                        Ok(()) => 0,
                        Err(e) => {
                            let msg = format!("wget: can't open '{file}': {}\n", e.message());
                            write_all(&mut io.stderr, msg.as_bytes()).await;
                            1
                        }
                    }
                }
            }
        }
        Err(e) => {
            let msg = format!("wget: {e}\n");
            write_all(&mut io.stderr, msg.as_bytes()).await;
            1
        }
    }
}

async fn fetch(url: &str) -> Result<Vec<u8>, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("unsupported URL {url:?} (http:// only)"))?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:80")
    };
    let connect = TcpStream::connect(&addr);
    let mut conn = tokio::time::timeout(std::time::Duration::from_secs(5), connect)
        .await
        .map_err(|_| format!("can't connect to remote host ({addr}): Connection timed out"))?
        .map_err(|e| format!("can't connect to remote host ({addr}): {e}"))?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\n\r\n");
    conn.write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    conn.take(16 << 20)
        .read_to_end(&mut response)
        .await
        .map_err(|e| e.to_string())?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("bad response")?;
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head.split_whitespace().nth(1).unwrap_or("");
    if status != "200" {
        return Err(format!(
            "server returned error: {}",
            head.lines().next().unwrap_or("")
        ));
    }
    Ok(response[split + 4..].to_vec())
}
