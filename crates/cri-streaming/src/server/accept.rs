//! Accepting connections: each is served as HTTP/1.1 with upgrades by
//! [`handler`](super::handler) until it becomes a session or closes.
//!
//! Connections still speaking HTTP are capped ([`Config::max_connections`]): at the cap the
//! oldest is closed to make room, so that clients holding idle connections cannot lock
//! others out or use up the process's file descriptors. When an accept fails for want of
//! descriptors anyway, the oldest is closed too, and the loop waits before it tries again
//! (longer with each failure in a row) instead of spinning.
//!
//! [`Config::max_connections`]: super::Config::max_connections

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::task::AbortHandle;

use super::Shared;
use super::handler::handle;

/// The first wait after a failed accept; it doubles with each failure in a row.
const BACKOFF_MIN: Duration = Duration::from_millis(5);
/// The longest wait after a failed accept.
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// How long a client has to send a request's headers.
pub(super) const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// The most a connection buffers of a request's head (hyper's floor is 8 KiB).
pub(super) const MAX_REQUEST_HEAD: usize = 64 * 1024;

/// The connections still speaking HTTP, by age.
#[derive(Default)]
struct Connections {
    next_id: u64,
    open: BTreeMap<u64, AbortHandle>,
}

impl Connections {
    /// Closes the oldest connection, if any.
    fn close_oldest(&mut self) -> bool {
        match self.open.pop_first() {
            Some((_, task)) => {
                task.abort();
                true
            }
            None => false,
        }
    }
}

type Registry = Arc<Mutex<Connections>>;

fn lock(registry: &Registry) -> MutexGuard<'_, Connections> {
    registry.lock().unwrap_or_else(|e| e.into_inner())
}

/// Takes its connection out of the registry when the connection's task ends (closed,
/// upgraded to a session, or aborted).
struct Registered(Registry, u64);

impl Drop for Registered {
    fn drop(&mut self) {
        lock(&self.0).open.remove(&self.1);
    }
}

/// Whether an accept failed for want of file descriptors (`EMFILE`, `ENFILE` on Linux).
fn out_of_descriptors(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(23 | 24))
}

/// Accepts TCP connections and serves each as HTTP/1.1 with upgrades, until dropped.
pub(super) async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let registry = Registry::default();
    let mut backoff = BACKOFF_MIN;
    loop {
        let tcp = match listener.accept().await {
            Ok((tcp, _)) => {
                backoff = BACKOFF_MIN;
                tcp
            }
            Err(error) => {
                if out_of_descriptors(&error) {
                    lock(&registry).close_oldest();
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let shared = shared.clone();
        let mut connections = lock(&registry);
        while connections.open.len() >= shared.config.max_connections.max(1) {
            connections.close_oldest();
        }
        let id = connections.next_id;
        connections.next_id += 1;
        let registered = Registered(registry.clone(), id);
        // Registered before the task can end: its removal waits for this lock.
        let task = tokio::spawn(async move {
            let _registered = registered;
            let service = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(handle(shared, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .max_buf_size(MAX_REQUEST_HEAD)
                .serve_connection(TokioIo::new(tcp), service)
                .with_upgrades()
                .await;
        });
        connections.open.insert(id, task.abort_handle());
    }
}
