//! Single-use tokens for cached streaming requests, with an expiry and a bound.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A request waiting for its client to connect.
#[derive(Clone, Debug)]
pub(crate) enum Cached {
    Exec(cri_api_v1::ExecRequest),
    Attach(cri_api_v1::AttachRequest),
    PortForward(cri_api_v1::PortForwardRequest),
}

impl Cached {
    pub fn kind(&self) -> &'static str {
        match self {
            Cached::Exec(_) => "exec",
            Cached::Attach(_) => "attach",
            Cached::PortForward(_) => "portforward",
        }
    }
}

struct Entry {
    request: Cached,
    expires: Instant,
}

/// The cache: tokens are 128 random bits from the operating system's CSPRNG, URL-safe
/// base64; each can be consumed once, before it expires.
pub(crate) struct RequestCache {
    ttl: Duration,
    max: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    /// Tokens in insertion order (thus expiry order), for eviction.
    order: VecDeque<String>,
}

/// The cache is full of live tokens.
#[derive(Debug)]
pub(crate) struct Full;

impl RequestCache {
    pub fn new(ttl: Duration, max: usize) -> Self {
        RequestCache {
            ttl,
            max: max.max(1),
            inner: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores `request` under a new token.
    pub fn insert(&self, request: Cached) -> Result<String, Full> {
        let token = new_token();
        let now = Instant::now();
        let mut inner = self.lock();
        // Drop what expired or was consumed, oldest first.
        while let Some(oldest) = inner.order.front() {
            match inner.entries.get(oldest) {
                Some(entry) if entry.expires > now => break,
                _ => {
                    let oldest = inner.order.pop_front().expect("front exists");
                    inner.entries.remove(&oldest);
                }
            }
        }
        if inner.entries.len() >= self.max {
            return Err(Full);
        }
        inner.order.push_back(token.clone());
        inner.entries.insert(
            token.clone(),
            Entry {
                request,
                expires: now + self.ttl,
            },
        );
        Ok(token)
    }

    /// Takes the request of `token` if it exists and has not expired; it is gone after.
    pub fn consume(&self, token: &str) -> Option<Cached> {
        let entry = self.lock().entries.remove(token)?;
        (entry.expires > Instant::now()).then_some(entry.request)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }
}

fn new_token() -> String {
    let mut bytes = [0u8; 16];
    // The OS random source failing is not something a server can work around.
    getrandom::fill(&mut bytes).expect("the operating system's random number generator");
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec() -> Cached {
        Cached::Exec(cri_api_v1::ExecRequest {
            container_id: "c".into(),
            ..Default::default()
        })
    }

    #[test]
    fn tokens_are_single_use() {
        let cache = RequestCache::new(Duration::from_secs(60), 10);
        let token = cache.insert(exec()).unwrap();
        assert_eq!(token.len(), 22);
        assert!(matches!(cache.consume(&token), Some(Cached::Exec(_))));
        assert!(cache.consume(&token).is_none());
        assert!(cache.consume("unknown").is_none());
    }

    #[test]
    fn tokens_differ() {
        let cache = RequestCache::new(Duration::from_secs(60), 1000);
        let tokens: std::collections::HashSet<_> =
            (0..500).map(|_| cache.insert(exec()).unwrap()).collect();
        assert_eq!(tokens.len(), 500);
    }

    #[test]
    fn tokens_expire() {
        let cache = RequestCache::new(Duration::from_millis(30), 10);
        let token = cache.insert(exec()).unwrap();
        std::thread::sleep(Duration::from_millis(60));
        assert!(cache.consume(&token).is_none());
    }

    #[test]
    fn the_cache_is_bounded_and_frees_expired_entries() {
        let cache = RequestCache::new(Duration::from_millis(50), 3);
        for _ in 0..3 {
            cache.insert(exec()).unwrap();
        }
        assert!(cache.insert(exec()).is_err());
        assert_eq!(cache.len(), 3);
        std::thread::sleep(Duration::from_millis(80));
        let token = cache.insert(exec()).unwrap();
        assert_eq!(cache.len(), 1);
        assert!(cache.consume(&token).is_some());
    }
}
