//! Container events: what a change of a container or a pod broadcasts, and the
//! `GetContainerEvents` streams that receive it (a subscriber that falls too far behind gets
//! `DATA_LOSS` and its stream ends).

use cri_api_v1 as api;
use tokio::sync::mpsc;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};

use super::Reply;
use std::sync::Arc;

use crate::FakeRuntime;
use crate::event_hub::Next;
use crate::state;

impl FakeRuntime {
    /// Broadcasts an event about `id` (a container, or a pod) to the open event streams.
    pub(super) fn emit(
        &self,
        state: &state::State,
        id: &str,
        pod_id: &str,
        kind: cri_api_v1::ContainerEventType,
    ) {
        if !self.inner.events.has_subscribers() {
            return;
        }
        let (pod_sandbox_status, containers_statuses) = match state.pods.get(pod_id) {
            Some(pod) => (
                Some(pod.status()),
                state
                    .containers_of(pod_id)
                    .map(|c| c.status(&state.images))
                    .collect(),
            ),
            None => (None, Vec::new()),
        };
        self.inner.events.send(cri_api_v1::ContainerEventResponse {
            container_id: id.to_string(),
            container_event_type: kind as i32,
            created_at: state::now(),
            pod_sandbox_status,
            containers_statuses,
        });
    }
}

pub(super) async fn subscribe(
    rt: &FakeRuntime,
    _: Request<api::GetEventsRequest>,
) -> Reply<BoxStream<api::ContainerEventResponse>> {
    let events = rt.inner.events.subscribe();
    let mut shutdown = rt.shutdown.clone();
    // One event in the channel and one being sent: the subscriber's queue in the hub holds
    // the rest, bounded (see `EventHub`).
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        let shut_down = async {
            match shutdown.as_mut() {
                Some(rx) => {
                    let _ = rx.wait_for(|down| *down).await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::pin!(shut_down);
        loop {
            let next = tokio::select! {
                _ = tx.closed() => break,
                _ = &mut shut_down => break,
                next = events.next() => next,
            };
            let item = match next {
                Next::Event(event) => Ok(Arc::unwrap_or_clone(event)),
                Next::Lost(lost) => Err(Status::data_loss(format!(
                    "the event stream fell behind and lost {lost} events"
                ))),
            };
            let last = item.is_err();
            if tx.send(item).await.is_err() || last {
                break;
            }
        }
    });
    Ok(Response::new(Box::pin(
        tokio_stream::wrappers::ReceiverStream::new(rx),
    )))
}
