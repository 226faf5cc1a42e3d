//! Reading what `crictl port-forward` (the project's or Go's) prints as it starts.

use std::io::{BufRead, BufReader, Read};
use std::time::Duration;

/// The local addresses `crictl port-forward` says it listens on, from its stdout lines
/// `Forwarding from ADDR -> PORT` (both crictls print one per loopback family): the first
/// `count` of them, each awaited at most `wait`. Stdout is read on a thread of its own until it
/// ends, so the program never blocks on a full pipe. `Err` holds the addresses printed before
/// one did not come in time (or stdout ended).
pub fn listening_addresses(
    stdout: impl Read + Send + 'static,
    count: usize,
    wait: Duration,
) -> Result<Vec<String>, Vec<String>> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut addrs = Vec::new();
    while addrs.len() < count {
        let Ok(line) = rx.recv_timeout(wait) else {
            return Err(addrs);
        };
        if let Some(addr) = line
            .strip_prefix("Forwarding from ")
            .and_then(|rest| rest.split(" -> ").next())
        {
            addrs.push(addr.to_string());
        }
    }
    Ok(addrs)
}
