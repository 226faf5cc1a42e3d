//! Log reduction: an identical error of the same RPC for the same container (or sandbox) is
//! logged once per period (a minute by default), as the kubelet's client does, so that a relist
//! loop asking every second does not write the same line sixty times a minute.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many (RPC, subject) pairs are remembered at most; past that, entries older than the
/// period are forgotten first, then all (a forgotten pair is logged again, never lost).
const CAPACITY: usize = 4096;

/// An RPC (`Service/Method`) and the container or sandbox it was about.
type Key = (&'static str, String);

/// The last error logged for each (RPC, subject) pair, and when.
#[derive(Debug)]
pub(crate) struct LogReduction {
    period: Duration,
    last: Mutex<HashMap<Key, (String, Instant)>>,
}

impl LogReduction {
    /// Identical errors are logged once per `period`; `Duration::ZERO` logs every one.
    pub(crate) fn new(period: Duration) -> Self {
        LogReduction {
            period,
            last: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `message`, the error of `rpc` for `subject` (a container or sandbox id, empty
    /// when the request names neither), should be logged now; if so, it is remembered.
    pub(crate) fn should_log(&self, rpc: &'static str, subject: &str, message: &str) -> bool {
        self.should_log_at(rpc, subject, message, Instant::now())
    }

    fn should_log_at(&self, rpc: &'static str, subject: &str, message: &str, now: Instant) -> bool {
        if self.period.is_zero() {
            return true;
        }
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let key = (rpc, subject.to_string());
        if let Some((previous, at)) = last.get(&key)
            && previous == message
            && now.saturating_duration_since(*at) < self.period
        {
            return false;
        }
        if last.len() >= CAPACITY && !last.contains_key(&key) {
            let period = self.period;
            last.retain(|_, (_, at)| now.saturating_duration_since(*at) < period);
            if last.len() >= CAPACITY {
                last.clear();
            }
        }
        last.insert(key, (message.to_string(), now));
        true
    }

    /// Forgets the last error of `rpc` for `subject` (the call succeeded): the next failure is
    /// logged whatever it says.
    pub(crate) fn clear(&self, rpc: &'static str, subject: &str) {
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !last.is_empty() {
            last.remove(&(rpc, subject.to_string()));
        }
    }

    /// Forgets every error remembered for `subject`, whatever the RPC: the container is being
    /// stopped or removed (the kubelet's client clears its id then too), so what is said of
    /// it next is news, and a removed container's entries do not linger.
    pub(crate) fn forget(&self, subject: &str) {
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        last.retain(|(_, remembered), _| remembered != subject);
    }
}

/// Whether a call of `rpc` makes the log reduction forget its subject before it is sent: the
/// RPCs that stop or remove a container, as the kubelet's client.
pub(crate) fn forgets_subject(rpc: &str) -> bool {
    matches!(
        rpc,
        "RuntimeService/StopContainer" | "RuntimeService/RemoveContainer"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "RuntimeService/ContainerStatus";
    const STATS: &str = "RuntimeService/ContainerStats";

    #[test]
    fn identical_errors_once_per_period() {
        let reduction = LogReduction::new(Duration::from_secs(60));
        let start = Instant::now();
        let at = |secs| start + Duration::from_secs(secs);
        assert!(reduction.should_log_at(STATUS, "c1", "not found", at(0)));
        // The relist loop, every second for a minute: silent.
        for second in 1..60 {
            assert!(!reduction.should_log_at(STATUS, "c1", "not found", at(second)));
        }
        // A minute later: once more.
        assert!(reduction.should_log_at(STATUS, "c1", "not found", at(60)));
        // Another message, another container, another RPC: each logged at once.
        assert!(reduction.should_log_at(STATUS, "c1", "unavailable", at(61)));
        assert!(reduction.should_log_at(STATUS, "c2", "unavailable", at(61)));
        assert!(reduction.should_log_at(STATS, "c1", "unavailable", at(61)));
        // Success forgets: the same error is logged again.
        reduction.clear(STATUS, "c2");
        assert!(reduction.should_log_at(STATUS, "c2", "unavailable", at(62)));
        assert!(!reduction.should_log_at(STATS, "c1", "unavailable", at(62)));
    }

    #[test]
    fn stopping_or_removing_forgets_the_container() {
        let reduction = LogReduction::new(Duration::from_secs(60));
        let start = Instant::now();
        assert!(reduction.should_log_at(STATUS, "c1", "not found", start));
        assert!(reduction.should_log_at(STATS, "c1", "not found", start));
        assert!(reduction.should_log_at(STATUS, "c2", "not found", start));
        assert!(forgets_subject("RuntimeService/StopContainer"));
        assert!(forgets_subject("RuntimeService/RemoveContainer"));
        assert!(!forgets_subject(STATUS));
        reduction.forget("c1");
        let soon = start + Duration::from_secs(1);
        assert!(reduction.should_log_at(STATUS, "c1", "not found", soon));
        assert!(reduction.should_log_at(STATS, "c1", "not found", soon));
        assert!(!reduction.should_log_at(STATUS, "c2", "not found", soon));
    }

    #[test]
    fn zero_period_logs_everything_and_memory_is_bounded() {
        let every = LogReduction::new(Duration::ZERO);
        assert!(every.should_log(STATUS, "c", "x"));
        assert!(every.should_log(STATUS, "c", "x"));
        let reduction = LogReduction::new(Duration::from_secs(60));
        for i in 0..CAPACITY * 2 {
            assert!(reduction.should_log(STATUS, &i.to_string(), "x"));
        }
        assert!(reduction.last.lock().unwrap().len() <= CAPACITY);
    }
}
