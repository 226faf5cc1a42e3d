//! Serving over a Unix socket.

use std::path::{Path, PathBuf};

use cri_api_v1::unix_server::UnixIncoming;
use tokio::net::UnixListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::FakeRuntime;

/// A running server of a [`FakeRuntime`], made by [`FakeRuntime::serve_unix`].
///
/// [`ServerHandle::shutdown`] stops it and waits until it has stopped; dropping the handle
/// stops it too, without waiting. Either way the open `GetContainerEvents` streams end and the
/// socket file is removed.
#[derive(Debug)]
pub struct ServerHandle {
    path: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    events_stop: watch::Sender<bool>,
    task: Option<JoinHandle<Result<(), tonic::transport::Error>>>,
}

/// Serves `router` (a server without the fake's event streams) on the Unix socket `path`.
pub(crate) async fn serve_router(
    router: tonic::transport::server::Router,
    path: &Path,
) -> std::io::Result<ServerHandle> {
    let listener = UnixListener::bind(path)?;
    let (events_stop, _) = watch::channel(false);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(router.serve_with_incoming_shutdown(
        UnixIncoming::new(listener),
        async {
            let _ = stopped.await;
        },
    ));
    Ok(ServerHandle {
        path: path.to_path_buf(),
        stop: Some(stop),
        events_stop,
        task: Some(task),
    })
}

pub(crate) async fn serve_unix(
    runtime: &FakeRuntime,
    path: &Path,
) -> std::io::Result<ServerHandle> {
    let listener = UnixListener::bind(path)?;
    let (events_stop, events_rx) = watch::channel(false);
    let served = FakeRuntime {
        inner: runtime.inner.clone(),
        shutdown: Some(events_rx),
    };
    let (runtime_service, image_service) = served.services();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(runtime_service)
            .add_service(image_service)
            .serve_with_incoming_shutdown(UnixIncoming::new(listener), async {
                let _ = stopped.await;
            }),
    );
    Ok(ServerHandle {
        path: path.to_path_buf(),
        stop: Some(stop),
        events_stop,
        task: Some(task),
    })
}

impl ServerHandle {
    /// The socket the server listens on.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The endpoint URI for tonic (`unix:///…`).
    pub fn endpoint(&self) -> String {
        format!("unix://{}", self.path.display())
    }

    fn signal(&mut self) {
        let _ = self.events_stop.send(true);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Stops accepting connections, ends the event streams, waits for the requests in flight
    /// and removes the socket file.
    pub async fn shutdown(mut self) -> Result<(), tonic::transport::Error> {
        self.signal();
        let result = match self.task.take() {
            Some(task) => task.await.unwrap_or(Ok(())),
            None => Ok(()),
        };
        let _ = std::fs::remove_file(&self.path);
        result
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.signal();
        if self.task.is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
