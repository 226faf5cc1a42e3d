//! Tools of the hostile-client suite (`tests/hostile_streaming.rs`): the `cri-fake` binary
//! as a separate process whose memory can be read, a sampler of that memory, and raw
//! WebSocket and SPDY/3.1 writers that send what a well-behaved client never would.
//!
//! Everything here is blocking `std` code, so that an attack runs on its own thread while
//! the test measures the server from its async runtime. Every loop is bounded by a count and
//! a deadline; the attacks only reach loopback.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The budget every attack is held to: the server's resident memory stays below this.
pub const RSS_BUDGET_KIB: u64 = 100 * 1024;
/// An attack stops early once the server passes this (twice the budget), to spare the
/// machine; the test then fails on the budget.
pub const RSS_ABORT_KIB: u64 = 2 * RSS_BUDGET_KIB;
/// How fast the fake (one thread) must answer a `Version` and a normal exec during an attack.
pub const FAKE_LATENCY_BUDGET: Duration = Duration::from_secs(1);
/// How soon a vanished client's session must be reclaimed after its close.
pub const RECLAIM_BUDGET: Duration = Duration::from_secs(5);

/// Builds the `cri-fake` binary (the dev profile, in the workspace's target directory) and
/// returns its path, as cargo reports it.
pub fn cri_fake_binary() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let output = Command::new(cargo)
        .current_dir(crate::project_root())
        .args([
            "build",
            "-p",
            "cri-fake",
            "--bin",
            "cri-fake",
            "--message-format=json",
        ])
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo build");
    assert!(output.status.success(), "cargo build -p cri-fake failed");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "cri-fake")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo names the cri-fake executable")
}

/// A running `cri-fake` process (killed when dropped), its stderr kept in a file so that a
/// panic can be found.
pub struct FakeProcess {
    child: Child,
    socket: PathBuf,
    stderr: PathBuf,
    _dir: tempfile::TempDir,
}

impl FakeProcess {
    /// Starts `cri-fake --socket … --seed 1` (one pod, one running container) with `flags`,
    /// under a soft and hard limit of `nofile` open files when given (as `ulimit -n` sets
    /// it), and waits until it serves.
    pub fn start(flags: &[&str], nofile: Option<u32>) -> FakeProcess {
        let binary = cri_fake_binary();
        let dir = tempfile::tempdir().expect("a temporary directory");
        let socket = dir.path().join("fake.sock");
        let stderr = dir.path().join("stderr");
        let mut command = Command::new("sh");
        command.arg("-c").arg(match nofile {
            Some(n) => format!("ulimit -n {n} && exec \"$0\" \"$@\""),
            None => "exec \"$0\" \"$@\"".to_string(),
        });
        command
            .arg(&binary)
            .arg("--socket")
            .arg(&socket)
            .args(["--seed", "1"])
            .args(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).expect("create the stderr file"));
        let mut child = command.spawn().expect("start cri-fake");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("read cri-fake's first line");
        assert_eq!(
            line.trim(),
            format!("cri-fake: serving unix://{}", socket.display()),
            "cri-fake did not start: {}",
            std::fs::read_to_string(&stderr).unwrap_or_default()
        );
        FakeProcess {
            child,
            socket,
            stderr,
            _dir: dir,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The gRPC endpoint (`unix:///…`).
    pub fn endpoint(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// Resident memory now, in KiB.
    pub fn rss_kib(&self) -> u64 {
        rss_kib(self.pid()).expect("cri-fake is running")
    }

    /// CPU time (user and system) used so far.
    pub fn cpu_time(&self) -> Duration {
        cpu_time(self.pid()).expect("cri-fake is running")
    }

    /// Fails the test if the process exited or printed a panic.
    pub fn assert_alive_without_panic(&mut self) {
        let stderr = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        assert!(!stderr.contains("panicked"), "cri-fake panicked:\n{stderr}");
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("cri-fake exited ({status}):\n{stderr}");
        }
    }
}

impl Drop for FakeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The resident set size of process `pid` in KiB (`VmRSS` of `/proc/PID/status`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The CPU time (user and system) process `pid` has used (`/proc/PID/stat`).
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on every Linux this runs on.
    Some(Duration::from_millis(ticks * 10))
}

/// Samples a process's resident memory every 20 ms on its own thread, keeping the peak, and
/// raises [`RssWatch::over`] once it passes [`RSS_ABORT_KIB`] (attacks stop then).
pub struct RssWatch {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    over: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RssWatch {
    /// Starts sampling `pid`.
    pub fn start(pid: u32) -> RssWatch {
        let peak = Arc::new(AtomicU64::new(rss_kib(pid).unwrap_or(0)));
        let stop = Arc::new(AtomicBool::new(false));
        let over = Arc::new(AtomicBool::new(false));
        let thread = {
            let (peak, stop, over) = (peak.clone(), stop.clone(), over.clone());
            std::thread::spawn(move || {
                // At most ten minutes, whatever the test does.
                let deadline = Instant::now() + Duration::from_secs(600);
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    let Some(rss) = rss_kib(pid) else { return };
                    peak.fetch_max(rss, Ordering::Relaxed);
                    if rss > RSS_ABORT_KIB {
                        over.store(true, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        RssWatch {
            peak,
            stop,
            over,
            thread: Some(thread),
        }
    }

    /// A flag that turns true once the process passed [`RSS_ABORT_KIB`].
    pub fn over(&self) -> Arc<AtomicBool> {
        self.over.clone()
    }

    /// The highest resident memory seen so far, in KiB.
    pub fn peak_kib(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }

    /// Stops sampling; the peak in KiB.
    pub fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.peak_kib()
    }
}

impl Drop for RssWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// When an attack stops: after `deadline`, or once `over` is raised.
#[derive(Clone)]
pub struct Until {
    /// The latest time the attack may run to.
    pub deadline: Instant,
    /// Raised by [`RssWatch`] when the server's memory passed the abort line.
    pub over: Arc<AtomicBool>,
}

impl Until {
    /// `duration` from now, or until `over`.
    pub fn new(duration: Duration, over: Arc<AtomicBool>) -> Until {
        Until {
            deadline: Instant::now() + duration,
            over,
        }
    }

    /// Whether the attack must stop.
    pub fn done(&self) -> bool {
        Instant::now() >= self.deadline || self.over.load(Ordering::Relaxed)
    }
}

/// The `host:port` and path of a streaming URL (`http://127.0.0.1:PORT/exec/TOKEN`).
pub fn split_url(url: &str) -> (String, String) {
    let rest = url
        .strip_prefix("http://")
        .expect("an http:// streaming URL");
    let (host, path) = rest.split_once('/').expect("a path in the streaming URL");
    (host.to_string(), format!("/{path}"))
}

/// Connects to a streaming URL and upgrades with the given extra headers; fails the test
/// unless the server switches protocols. Reads and writes time out after `io_timeout`.
pub fn upgrade(url: &str, headers: &str, io_timeout: Duration) -> TcpStream {
    let (host, path) = split_url(url);
    let mut tcp = TcpStream::connect(&host).expect("connect to the streaming server");
    tcp.set_nodelay(true).expect("nodelay");
    tcp.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("read timeout");
    tcp.set_write_timeout(Some(io_timeout))
        .expect("write timeout");
    write!(
        tcp,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\n{headers}\r\n"
    )
    .expect("send the upgrade request");
    // Read the response head byte by byte, so nothing after it is consumed.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        tcp.read_exact(&mut byte)
            .expect("read the upgrade response");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(
        head.starts_with("HTTP/1.1 101"),
        "the upgrade was refused: {head}"
    );
    tcp.set_read_timeout(Some(io_timeout))
        .expect("read timeout");
    tcp
}

/// Upgrades to a WebSocket with subprotocol `protocol`.
pub fn ws_upgrade(url: &str, protocol: &str, io_timeout: Duration) -> TcpStream {
    upgrade(
        url,
        &format!(
            "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: aG9zdGlsZS1jbGllbnQtMQ==\r\nSec-WebSocket-Protocol: {protocol}\r\n"
        ),
        io_timeout,
    )
}

/// Upgrades to SPDY/3.1 with stream protocol `protocol`.
pub fn spdy_upgrade(url: &str, protocol: &str, io_timeout: Duration) -> TcpStream {
    upgrade(
        url,
        &format!("Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: {protocol}\r\n"),
        io_timeout,
    )
}

/// WebSocket opcodes a client sends.
pub mod opcode {
    /// A binary data message.
    pub const BINARY: u8 = 0x2;
    /// A close frame.
    pub const CLOSE: u8 = 0x8;
    /// A ping.
    pub const PING: u8 = 0x9;
}

/// One client WebSocket frame (FIN set, masked with a zero key as the protocol allows).
pub fn ws_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n if n <= 0xffff => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&[0, 0, 0, 0]);
    frame.extend_from_slice(payload);
    frame
}

/// Whether a write error means the peer stopped taking bytes (a timeout), not that it
/// closed the connection.
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Writes `chunk` over and over (whole, frame boundaries kept) until the peer stops taking
/// it for the socket's write timeout, the connection fails, at least `max_bytes` went out or
/// `until` says stop; the bytes written.
pub fn push_until_blocked(tcp: &mut TcpStream, chunk: &[u8], max_bytes: u64, until: &Until) -> u64 {
    let mut sent = 0u64;
    let mut at = 0;
    while (sent < max_bytes || at != 0) && !until.done() {
        match tcp.write(&chunk[at..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                sent += n as u64;
                at = (at + n) % chunk.len();
            }
        }
    }
    sent
}

/// Writes `chunk` over and over (whole) until `until` says stop or the connection fails,
/// waiting while the peer does not take it; the bytes written.
pub fn flood(tcp: &mut TcpStream, chunk: &[u8], until: &Until) -> u64 {
    let mut sent = 0u64;
    let mut at = 0;
    while !until.done() {
        match tcp.write(&chunk[at..]) {
            Ok(0) => break,
            Ok(n) => {
                sent += n as u64;
                at = (at + n) % chunk.len();
            }
            Err(e) if is_timeout(&e) => {}
            Err(_) => break,
        }
    }
    sent
}

/// SPDY/3.1 frames, written by hand: header blocks go uncompressed, as zlib "stored" blocks
/// of the one zlib stream of the connection (what `FrameDecoder` inflates).
pub struct SpdyWriter {
    zlib_started: bool,
}

impl Default for SpdyWriter {
    fn default() -> Self {
        Self::new()
    }
}

/// SPDY frame flags.
pub mod spdy_flag {
    /// FIN: the sender's last frame on the stream.
    pub const FIN: u8 = 0x01;
    /// UNIDIRECTIONAL (SYN_STREAM): the receiver may not send on the stream.
    pub const UNIDIRECTIONAL: u8 = 0x02;
}

impl SpdyWriter {
    /// A writer at the start of a connection.
    pub fn new() -> SpdyWriter {
        SpdyWriter {
            zlib_started: false,
        }
    }

    fn control(frame_type: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
        let mut frame = vec![0x80, 0x03];
        frame.extend_from_slice(&frame_type.to_be_bytes());
        frame.push(flags);
        frame.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
        frame.extend_from_slice(payload);
        frame
    }

    /// An uncompressed header block as the next piece of the connection's zlib stream.
    pub fn header_block<'a>(
        &mut self,
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Vec<u8> {
        let mut block = Vec::new();
        let headers: Vec<_> = headers.into_iter().collect();
        block.extend_from_slice(&(headers.len() as u32).to_be_bytes());
        for (name, value) in headers {
            block.extend_from_slice(&(name.len() as u32).to_be_bytes());
            block.extend_from_slice(name.as_bytes());
            block.extend_from_slice(&(value.len() as u32).to_be_bytes());
            block.extend_from_slice(value.as_bytes());
        }
        let mut out = Vec::with_capacity(block.len() + 16);
        if !self.zlib_started {
            // CMF/FLG: deflate, 32 KiB window, no preset dictionary, check bits valid.
            out.extend_from_slice(&[0x78, 0x01]);
            self.zlib_started = true;
        }
        for piece in block.chunks(0xffff) {
            // A non-final stored block: BFINAL 0, BTYPE 00, then LEN and its complement.
            out.push(0x00);
            let len = piece.len() as u16;
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&(!len).to_le_bytes());
            out.extend_from_slice(piece);
        }
        out
    }

    /// SYN_STREAM opening `stream_id` with `headers`.
    pub fn syn_stream<'a>(
        &mut self,
        stream_id: u32,
        flags: u8,
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Vec<u8> {
        let mut payload = Vec::new();
        payload.extend_from_slice(&stream_id.to_be_bytes());
        payload.extend_from_slice(&0u32.to_be_bytes());
        payload.extend_from_slice(&[0, 0]);
        payload.extend_from_slice(&self.header_block(headers));
        Self::control(1, flags, &payload)
    }

    /// HEADERS on `stream_id`.
    pub fn headers<'a>(
        &mut self,
        stream_id: u32,
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Vec<u8> {
        let mut payload = Vec::new();
        payload.extend_from_slice(&stream_id.to_be_bytes());
        payload.extend_from_slice(&self.header_block(headers));
        Self::control(8, 0, &payload)
    }

    /// RST_STREAM of `stream_id` with CANCEL.
    pub fn rst_stream(stream_id: u32) -> Vec<u8> {
        let mut payload = stream_id.to_be_bytes().to_vec();
        payload.extend_from_slice(&5u32.to_be_bytes());
        Self::control(3, 0, &payload)
    }

    /// A DATA frame.
    pub fn data(stream_id: u32, flags: u8, data: &[u8]) -> Vec<u8> {
        let mut frame = stream_id.to_be_bytes().to_vec();
        frame.push(flags);
        frame.extend_from_slice(&(data.len() as u32).to_be_bytes()[1..]);
        frame.extend_from_slice(data);
        frame
    }
}
