//! Lists page by page: through the `Stream*` RPCs when the runtime serves them (Go crictl
//! always asks for the whole list in one message, which fails past 16 MiB), else the unary
//! `List*` call. The commands keep only what they print from each page, so memory stays
//! bounded by a page and the printed fields, not by the decoded list.

use std::pin::Pin;

use cri_api_v1 as v1;
use cri_client::tonic;
use cri_client::{Client, Error};
use tokio_stream::{Stream, StreamExt};

use crate::failure::{Failure, Result};

type PageStream<T> = Pin<Box<dyn Stream<Item = std::result::Result<Vec<T>, tonic::Status>> + Send>>;

/// The pages of one list, in the order the runtime sends them.
pub(super) struct Pages<T> {
    what: &'static str,
    stream: Option<PageStream<T>>,
    /// The first page (read to see whether the runtime serves the stream) or the unary list.
    pending: Option<Vec<T>>,
    /// Which RPC the list came through, for `-D`.
    pub rpc: &'static str,
    received: usize,
}

impl<T> Pages<T> {
    /// The next page; `None` at the end.
    pub async fn next(&mut self) -> Result<Option<Vec<T>>> {
        if let Some(page) = self.pending.take() {
            return Ok(Some(page));
        }
        let Some(stream) = self.stream.as_mut() else {
            return Ok(None);
        };
        match stream.next().await {
            None => {
                self.stream = None;
                Ok(None)
            }
            Some(Ok(page)) => {
                self.received += page.len();
                super::report_progress(self.rpc, self.received);
                Ok(Some(page))
            }
            Some(Err(status)) => Err(Failure::msg(format!(
                "{}: {}: {} ({:?})",
                self.what,
                self.rpc,
                status.message(),
                status.code()
            ))),
        }
    }

    /// The error of a unary list, with a hint a crictl user can act on when it is too large.
    fn unary_error(what: &str, hint: &str, error: Error) -> Failure {
        match error {
            Error::ResponseTooLarge { rpc, limit, .. } => Failure::msg(format!(
                "{what}: {rpc}: the list exceeds the {limit}-byte limit of one message and the \
                 runtime does not serve its streaming RPC: {hint}"
            )),
            other => Failure::msg(format!("{what}: {other}")),
        }
    }
}

/// Starts a stream; falls back to `unary` when the runtime answers `UNIMPLEMENTED` to the
/// stream or to its first page.
async fn open<T, S, F, U>(
    what: &'static str,
    hint: &'static str,
    rpc: (&'static str, &'static str),
    start: F,
    pages: fn(S) -> Vec<T>,
    unary: U,
) -> Result<Pages<T>>
where
    S: Send + 'static,
    T: Send + 'static,
    F: std::future::Future<Output = std::result::Result<cri_client::BoxStream<S>, Error>>,
    U: std::future::Future<Output = std::result::Result<Vec<T>, Error>>,
{
    let unimplemented = |code: tonic::Code| code == tonic::Code::Unimplemented;
    let fallback = match start.await {
        Ok(stream) => {
            let mut stream: PageStream<T> = Box::pin(stream.map(move |page| page.map(pages)));
            match stream.next().await {
                Some(Err(status)) if unimplemented(status.code()) => true,
                Some(Err(status)) => {
                    return Err(Failure::msg(format!(
                        "{what}: {}: {} ({:?})",
                        rpc.0,
                        status.message(),
                        status.code()
                    )));
                }
                first => {
                    let pending = match first {
                        Some(Ok(page)) => Some(page),
                        _ => None,
                    };
                    let received = pending.as_ref().map_or(0, Vec::len);
                    super::report_progress(rpc.0, received);
                    return Ok(Pages {
                        what,
                        stream: Some(stream),
                        pending,
                        rpc: rpc.0,
                        received,
                    });
                }
            }
        }
        Err(Error::Rpc { status, .. }) if unimplemented(status.code()) => true,
        Err(error) => return Err(Failure::msg(format!("{what}: {error}"))),
    };
    debug_assert!(fallback);
    let items = unary
        .await
        .map_err(|error| Pages::<T>::unary_error(what, hint, error))?;
    Ok(Pages {
        what,
        received: items.len(),
        stream: None,
        pending: Some(items),
        rpc: rpc.1,
    })
}

/// The containers matching `filter`.
pub(super) async fn containers(
    client: &Client,
    filter: v1::ContainerFilter,
) -> Result<Pages<v1::Container>> {
    open(
        "list containers",
        "narrow it with the filters the runtime applies (--state, --pod, --label, --id)",
        (
            "RuntimeService/StreamContainers",
            "RuntimeService/ListContainers",
        ),
        client.stream_containers(v1::StreamContainersRequest {
            filter: Some(filter.clone()),
        }),
        |page: v1::StreamContainersResponse| page.containers,
        async {
            client
                .list_containers(v1::ListContainersRequest {
                    filter: Some(filter.clone()),
                })
                .await
                .map(|r| r.containers)
        },
    )
    .await
}

/// The pod sandboxes matching `filter`.
pub(super) async fn pod_sandboxes(
    client: &Client,
    filter: v1::PodSandboxFilter,
) -> Result<Pages<v1::PodSandbox>> {
    open(
        "list pod sandboxes",
        "narrow it with the filters the runtime applies (--state, --label, --id)",
        (
            "RuntimeService/StreamPodSandboxes",
            "RuntimeService/ListPodSandbox",
        ),
        client.stream_pod_sandboxes(v1::StreamPodSandboxesRequest {
            filter: Some(filter.clone()),
        }),
        |page: v1::StreamPodSandboxesResponse| page.pod_sandboxes,
        async {
            client
                .list_pod_sandbox(v1::ListPodSandboxRequest {
                    filter: Some(filter.clone()),
                })
                .await
                .map(|r| r.items)
        },
    )
    .await
}

/// The images matching `filter`.
pub(super) async fn images(
    client: &Client,
    filter: Option<v1::ImageFilter>,
) -> Result<Pages<v1::Image>> {
    open(
        "listing images",
        "narrow it with an image reference (crictl images NAME)",
        ("ImageService/StreamImages", "ImageService/ListImages"),
        client.stream_images(v1::StreamImagesRequest {
            filter: filter.clone(),
        }),
        |page: v1::StreamImagesResponse| page.images,
        async {
            client
                .list_images(v1::ListImagesRequest {
                    filter: filter.clone(),
                })
                .await
                .map(|r| r.images)
        },
    )
    .await
}

/// Items set aside in a temporary file (their protobuf encoding) until their turn comes:
/// `-o json|yaml` prints newest first, so every item must be seen before the first is printed,
/// and holding them in memory would take ~1 KiB each.
pub(super) struct Spill {
    file: std::io::BufWriter<std::fs::File>,
    at: u64,
    error: Option<std::io::Error>,
}

/// Where an item of a [`Spill`] is.
#[derive(Clone, Copy)]
pub(super) struct Spilled {
    at: u64,
    len: u32,
}

impl Spill {
    /// A spill in a new anonymous temporary file (gone when dropped).
    pub fn new() -> Result<Spill> {
        let file = tempfile::tempfile()
            .map_err(|e| Failure::msg(format!("create a temporary file for the list: {e}")))?;
        Ok(Spill {
            file: std::io::BufWriter::with_capacity(1 << 20, file),
            at: 0,
            error: None,
        })
    }

    /// Sets `item` aside.
    pub fn push<M: prost::Message>(&mut self, item: &M) -> Spilled {
        use std::io::Write;
        let bytes = item.encode_to_vec();
        let spilled = Spilled {
            at: self.at,
            len: u32::try_from(bytes.len()).unwrap_or(u32::MAX),
        };
        if self.error.is_none()
            && let Err(error) = self.file.write_all(&bytes)
        {
            self.error = Some(error);
        }
        self.at += bytes.len() as u64;
        spilled
    }

    /// Reads the items back, in any order.
    pub fn into_reader(self) -> Result<SpillReader> {
        let fail =
            |e: std::io::Error| Failure::msg(format!("write the list to a temporary file: {e}"));
        if let Some(error) = self.error {
            return Err(fail(error));
        }
        let file = self.file.into_inner().map_err(|e| fail(e.into_error()))?;
        Ok(SpillReader { file })
    }
}

/// The items of a [`Spill`].
pub(super) struct SpillReader {
    file: std::fs::File,
}

impl SpillReader {
    /// The item at `spilled`.
    pub fn read<M: prost::Message + Default>(
        &self,
        spilled: Spilled,
        buffer: &mut Vec<u8>,
    ) -> Result<M> {
        use std::os::unix::fs::FileExt;
        buffer.resize(spilled.len as usize, 0);
        self.file.read_exact_at(buffer, spilled.at).map_err(|e| {
            Failure::msg(format!("read the list back from its temporary file: {e}"))
        })?;
        M::decode(&buffer[..]).map_err(|e| Failure::msg(format!("decode a listed item: {e}")))
    }
}
