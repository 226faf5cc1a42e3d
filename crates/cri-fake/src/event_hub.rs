//! The fan-out of container events to `GetContainerEvents` subscribers, each with a queue of
//! its own, bounded in events and in bytes.
//!
//! An event carries the status of every container of its pod, so in a pod of thousands of
//! containers one event is megabytes: a queue bounded only by a count (a broadcast channel
//! of 1,024) let one idle subscriber hold gigabytes. Here a subscriber that falls more than
//! `capacity` events or [`EVENT_BUFFER_BYTES`] behind loses its queue at once (the memory
//! is freed) and its stream ends with `DATA_LOSS`, so that it relists, as the kubelet does.
//! Events are shared between the queues (`Arc`), built once, and only when someone
//! listens.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use cri_api_v1::ContainerEventResponse;
use cri_api_v1::prost::Message;
use tokio::sync::Notify;

/// The most a subscriber's queue holds, in encoded bytes (8 MiB), whatever the count: one
/// event more than that is always kept, so that an event larger than the bound still goes
/// to a subscriber that keeps up.
pub const EVENT_BUFFER_BYTES: usize = 8 << 20;

/// The subscribers.
pub(crate) struct EventHub {
    subscribers: Mutex<Vec<Weak<Subscriber>>>,
    capacity: usize,
}

/// One subscriber's queue, shared between the hub and its stream.
pub(crate) struct Subscriber {
    queue: Mutex<Queue>,
    ready: Notify,
}

#[derive(Default)]
struct Queue {
    events: VecDeque<(Arc<ContainerEventResponse>, usize)>,
    bytes: usize,
    /// Events lost since the queue overflowed (the stream then ends).
    lost: u64,
}

/// What a subscriber gets next.
pub(crate) enum Next {
    Event(Arc<ContainerEventResponse>),
    /// It fell behind and lost this many events.
    Lost(u64),
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl EventHub {
    pub(crate) fn new(capacity: usize) -> Self {
        EventHub {
            subscribers: Mutex::new(Vec::new()),
            capacity: capacity.max(1),
        }
    }

    /// A new subscriber, which receives the events sent from now on.
    pub(crate) fn subscribe(&self) -> Arc<Subscriber> {
        let subscriber = Arc::new(Subscriber {
            queue: Mutex::new(Queue::default()),
            ready: Notify::new(),
        });
        lock(&self.subscribers).push(Arc::downgrade(&subscriber));
        subscriber
    }

    /// Whether anyone listens (events are only built then).
    pub(crate) fn has_subscribers(&self) -> bool {
        let mut subscribers = lock(&self.subscribers);
        subscribers.retain(|s| s.strong_count() > 0);
        !subscribers.is_empty()
    }

    /// Queues `event` for every subscriber.
    pub(crate) fn send(&self, event: ContainerEventResponse) {
        let size = event.encoded_len();
        let event = Arc::new(event);
        let mut subscribers = lock(&self.subscribers);
        subscribers.retain(|weak| {
            let Some(subscriber) = weak.upgrade() else {
                return false;
            };
            let mut queue = lock(&subscriber.queue);
            if queue.lost > 0 {
                queue.lost += 1;
                return true;
            }
            queue.events.push_back((event.clone(), size));
            queue.bytes += size;
            let over = queue.events.len() > self.capacity
                || (queue.bytes > EVENT_BUFFER_BYTES && queue.events.len() > 1);
            if over {
                queue.lost = queue.events.len() as u64;
                queue.events = VecDeque::new();
                queue.bytes = 0;
            }
            drop(queue);
            subscriber.ready.notify_one();
            true
        });
    }
}

impl Subscriber {
    /// The next event, waiting for one; after a loss, the loss (and nothing more).
    pub(crate) async fn next(&self) -> Next {
        loop {
            {
                let mut queue = lock(&self.queue);
                if queue.lost > 0 {
                    return Next::Lost(queue.lost);
                }
                if let Some((event, size)) = queue.events.pop_front() {
                    queue.bytes -= size;
                    return Next::Event(event);
                }
            }
            // A permit is stored when nobody waits: a send between the check and here is
            // not missed.
            self.ready.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(bytes: usize) -> ContainerEventResponse {
        ContainerEventResponse {
            container_id: "x".repeat(bytes),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn a_subscriber_gets_the_events_in_order() {
        let hub = EventHub::new(4);
        assert!(!hub.has_subscribers());
        let subscriber = hub.subscribe();
        assert!(hub.has_subscribers());
        hub.send(event(1));
        hub.send(event(2));
        for want in [1, 2] {
            match subscriber.next().await {
                Next::Event(e) => assert_eq!(e.container_id.len(), want),
                Next::Lost(_) => panic!("lost"),
            }
        }
        drop(subscriber);
        assert!(!hub.has_subscribers());
    }

    #[tokio::test]
    async fn a_lagging_subscriber_is_bounded_by_count_and_bytes() {
        let hub = EventHub::new(3);
        let slow = hub.subscribe();
        for _ in 0..4 {
            hub.send(event(1));
        }
        hub.send(event(1));
        assert!(matches!(slow.next().await, Next::Lost(5)));
        assert_eq!(lock(&slow.queue).events.len(), 0, "the queue is freed");

        let hub = EventHub::new(1000);
        let slow = hub.subscribe();
        let big = EVENT_BUFFER_BYTES / 3;
        for _ in 0..3 {
            hub.send(event(big));
        }
        assert!(matches!(slow.next().await, Next::Lost(3)));
        // One event larger than the bound still goes through.
        let hub = EventHub::new(1000);
        let fast = hub.subscribe();
        hub.send(event(EVENT_BUFFER_BYTES + 1));
        assert!(matches!(fast.next().await, Next::Event(_)));
    }
}
