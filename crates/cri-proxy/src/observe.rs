//! A response body that is watched as it passes: each message, the status it ends with (from
//! its trailers, its headers, or the client going away), a limit on message size, and an
//! optional drop of the stream.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes, BytesMut};
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
    buffer: BytesMut,
    messages: usize,
    state: State,
}

impl Watched {
    fn finish(&mut self, code: i32, message: &str) {
        if let Some(watch) = self.watch.take() {
            watch.end(code, message);
        }
    }

    /// Parses the messages completed by `data`; an error status when one is too large.
    fn scan(&mut self, data: &Bytes) -> Result<(), Status> {
        self.buffer.extend_from_slice(data);
        while self.buffer.len() >= 5 {
            let length = u32::from_be_bytes([
                self.buffer[1],
                self.buffer[2],
                self.buffer[3],
                self.buffer[4],
            ]) as usize;
            if let Some(limit) = self.rules.limit
                && length > limit
            {
                return Err(Status::resource_exhausted(format!(
                    "cri-proxy: a response message of {length} bytes, more than the {limit} a kubelet accepts"
                )));
            }
            if self.buffer.len() < 5 + length {
                break;
            }
            let compressed = self.buffer[0] != 0;
            self.buffer.advance(5);
            let message = self.buffer.split_to(length);
            self.messages += 1;
            if !compressed && let Some(watch) = self.watch.as_mut() {
                watch.message(&message);
            }
        }
        Ok(())
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
