//! A response body that is watched as it passes: each message, the status it ends with (from
//! its trailers, its headers, or the client going away), a limit on message size, and an
//! optional drop of the stream.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use http_body::Frame;
use tonic::{Code, Status};

use crate::grpc::{Body, GrpcResponse, status_of, status_trailers};

/// What a layer learns about a response.
pub(crate) trait Watch: Send + 'static {
    /// Whether [`message`](Watch::message) is wanted (messages are only parsed then).
    fn wants_messages(&self) -> bool {
        false
    }
    /// A whole response message (uncompressed bytes, without the frame).
    fn message(&mut self, _message: &[u8]) {}
    /// The call ended with `code` (0 for OK) and `message`.
    fn end(self: Box<Self>, code: i32, message: &str);
}

/// How a watched body behaves besides telling its watcher.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Rules {
    /// A larger response message ends the call with `RESOURCE_EXHAUSTED`.
    pub(crate) limit: Option<usize>,
    /// After this many messages the stream is reset (an injected fault).
    pub(crate) drop_after: Option<usize>,
}

/// Wraps `response`'s body so that `watch` hears of it.
pub(crate) fn watch(response: GrpcResponse, watch: Box<dyn Watch>, rules: Rules) -> GrpcResponse {
    let (parts, inner) = response.into_parts();
    let header_status = status_of(&parts.headers);
    let parse = watch.wants_messages() || rules.limit.is_some() || rules.drop_after.is_some();
    let body = Watched {
        inner,
        watch: Some(watch),
        header_status,
        parse,
        rules,
        buffer: BytesMut::new(),
        header: [0; 5],
        header_len: 0,
        in_header: true,
        remaining: 0,
        messages: 0,
        // `drop=0`: before the first message, even if none ever comes.
        state: if rules.drop_after == Some(0) {
            State::Dropping
        } else {
            State::Open
        },
    };
    http::Response::from_parts(parts, Body::new(body))
}

enum State {
    Open,
    /// Drop the stream at the next poll.
    Dropping,
    Done,
}

struct Watched {
    inner: Body,
    watch: Option<Box<dyn Watch>>,
    header_status: Option<(i32, String)>,
    parse: bool,
    rules: Rules,
    /// The message being read, when the watcher wants messages.
    buffer: BytesMut,
    /// The frame header being read (`header_len` bytes of it so far).
    header: [u8; 5],
    header_len: usize,
    in_header: bool,
    /// Bytes of the current message still to come.
    remaining: usize,
    messages: usize,
    state: State,
}

impl Watched {
    fn finish(&mut self, code: i32, message: &str) {
        if let Some(watch) = self.watch.take() {
            watch.end(code, message);
        }
    }

    /// Follows the messages in `data`: frame headers are read as they come, and a message's
    /// bytes are only kept when the watcher wants them (so checking sizes costs no buffer).
    /// An error status when a message is too large.
    fn scan(&mut self, mut data: &[u8]) -> Result<(), Status> {
        let collect = self.watch.as_ref().is_some_and(|w| w.wants_messages());
        loop {
            if self.in_header {
                let take = (5 - self.header_len).min(data.len());
                self.header[self.header_len..self.header_len + take].copy_from_slice(&data[..take]);
                self.header_len += take;
                data = &data[take..];
                if self.header_len < 5 {
                    return Ok(());
                }
                let length = u32::from_be_bytes([
                    self.header[1],
                    self.header[2],
                    self.header[3],
                    self.header[4],
                ]) as usize;
                if let Some(limit) = self.rules.limit
                    && length > limit
                {
                    return Err(Status::resource_exhausted(format!(
                        "cri-proxy: a response message of {length} bytes, more than the {limit} a kubelet accepts"
                    )));
                }
                self.in_header = false;
                self.header_len = 0;
                self.remaining = length;
                self.buffer.clear();
            }
            let take = self.remaining.min(data.len());
            if collect {
                self.buffer.extend_from_slice(&data[..take]);
            }
            self.remaining -= take;
            data = &data[take..];
            if self.remaining > 0 {
                return Ok(());
            }
            self.messages += 1;
            self.in_header = true;
            if collect
                && self.header[0] == 0
                && let Some(watch) = self.watch.as_mut()
            {
                watch.message(&self.buffer);
            }
            self.buffer.clear();
            if data.is_empty() {
                return Ok(());
            }
        }
    }
}

impl http_body::Body for Watched {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = &mut *self;
        match this.state {
            State::Done => return Poll::Ready(None),
            State::Dropping => {
                this.state = State::Done;
                let status = Status::unavailable("cri-proxy: stream dropped by an --inject rule");
                this.finish(Code::Unavailable as i32, status.message());
                return Poll::Ready(Some(Err(status)));
            }
            State::Open => {}
        }
        match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    if this.parse
                        && let Err(status) = this.scan(data)
                    {
                        this.state = State::Done;
                        this.finish(status.code() as i32, status.message());
                        return Poll::Ready(Some(Ok(Frame::trailers(status_trailers(
                            status.code(),
                            status.message(),
                        )))));
                    }
                    if let Some(after) = this.rules.drop_after
                        && this.messages >= after
                    {
                        this.state = State::Dropping;
                    }
                } else if let Some(trailers) = frame.trailers_ref() {
                    let (code, message) = status_of(trailers)
                        .unwrap_or((Code::Internal as i32, "trailers without a status".into()));
                    this.finish(code, &message);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(status)) => {
                this.state = State::Done;
                this.finish(status.code() as i32, status.message());
                Poll::Ready(Some(Err(status)))
            }
            None => {
                this.state = State::Done;
                let (code, message) = this
                    .header_status
                    .clone()
                    .unwrap_or((Code::Unknown as i32, "a response without a status".into()));
                this.finish(code, &message);
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.state, State::Done)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        let (code, message) = self
            .header_status
            .clone()
            .unwrap_or((Code::Cancelled as i32, "the client went away".into()));
        self.finish(code, &message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    struct Ends(std::sync::mpsc::Sender<(i32, String, usize)>, usize);
    impl Watch for Ends {
        fn wants_messages(&self) -> bool {
            true
        }
        fn message(&mut self, _: &[u8]) {
            self.1 += 1;
        }
        fn end(self: Box<Self>, code: i32, message: &str) {
            let _ = self.0.send((code, message.to_string(), self.1));
        }
    }

    fn response(messages: &[usize]) -> GrpcResponse {
        let mut bytes = Vec::new();
        for &size in messages {
            bytes.extend_from_slice(&crate::grpc::frame(&vec![7u8; size]));
        }
        http::Response::new(Body::new(http_body_util::Full::new(Bytes::from(bytes))))
    }

    #[tokio::test]
    async fn a_message_over_the_limit_ends_the_call_with_resource_exhausted() {
        let (tx, rx) = std::sync::mpsc::channel();
        let rules = Rules {
            limit: Some(1024),
            drop_after: None,
        };
        let watched = watch(response(&[10, 2000]), Box::new(Ends(tx, 0)), rules);
        let collected = watched.into_body().collect().await.unwrap();
        let trailers = collected.trailers().cloned().unwrap();
        assert_eq!(trailers["grpc-status"], "8");
        let (code, message, messages) = rx.recv().unwrap();
        assert_eq!((code, messages), (8, 1));
        assert!(message.contains("2000 bytes"), "{message}");
    }

    #[tokio::test]
    async fn messages_under_the_limit_pass_and_a_dropped_client_is_cancelled() {
        let (tx, rx) = std::sync::mpsc::channel();
        let rules = Rules {
            limit: Some(1024),
            drop_after: None,
        };
        let watched = watch(response(&[10, 1000, 3]), Box::new(Ends(tx, 0)), rules);
        let collected = watched.into_body().collect().await.unwrap();
        assert_eq!(collected.to_bytes().len(), 3 * 5 + 1013);
        // No trailers in this synthetic body: the end has no status, so it is dropped as
        // such; what matters is that the watcher heard all three messages.
        let (_, _, messages) = rx.recv().unwrap();
        assert_eq!(messages, 3);

        let (tx, rx) = std::sync::mpsc::channel();
        drop(watch(
            response(&[10]),
            Box::new(Ends(tx, 0)),
            Rules::default(),
        ));
        let (code, _, _) = rx.recv().unwrap();
        assert_eq!(code, Code::Cancelled as i32);
    }
}
