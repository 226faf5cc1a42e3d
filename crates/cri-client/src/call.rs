//! Making calls: the shared path of every generated method (unary, server-streaming, and a
//! list collected from its stream), and which [`Error`] a failed call is: a response over the
//! size limit, else what `failure` makes of its status.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use std::error::Error as _;
use tokio_stream::StreamExt;

use tonic::{Code, Status};

use crate::deadline::{self, Deadline, Due, REQUEST_SIZE};
use crate::error::ListStreaming;
use crate::failure::failure;
use crate::negotiate::{Backend, Connection};
use crate::observe::{Collected, Op};
use crate::validate::Missing;
use crate::{BoxStream, Client, Error, Limits, List, RefusedBy};

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

impl Client {
    fn rpc_error(
        &self,
        connection: &Connection,
        rpc: &'static str,
        status: Status,
        due: Option<&Due>,
        request_size: usize,
    ) -> Error {
        if request_size > self.limits.max_request {
            // tonic refuses to encode it, and the stream is reset with a bare INTERNAL.
            return Error::RequestTooLarge {
                rpc,
                size: request_size,
                limit: Some(self.limits.max_request),
                refused_by: RefusedBy::Client,
                status: Status::out_of_range(format!(
                    "the request is {request_size} bytes, over the limit of {} bytes",
                    self.limits.max_request
                )),
            };
        }
        let too_large = status.code() == Code::OutOfRange
            && status.message().contains("message length too large");
        // The runtime's refusal names the size it found: the request's.
        if too_large
            && request_size > 0
            && status
                .message()
                .contains(&format!("found {request_size} bytes"))
        {
            let limit = status
                .message()
                .split("the limit is: ")
                .nth(1)
                .and_then(|rest| rest.split(' ').next())
                .and_then(|n| n.parse().ok());
            return Error::RequestTooLarge {
                rpc,
                size: request_size,
                limit,
                refused_by: RefusedBy::Runtime,
                status,
            };
        }
        if too_large {
            // The unary list RPC is used when streaming is off, or when the runtime lacks the
            // streaming one.
            let streaming = match List::of_unary_rpc(rpc) {
                None => ListStreaming::NotAList,
                Some(_) if self.list_streaming => ListStreaming::Unsupported,
                Some(_) => ListStreaming::Off,
            };
            return Error::ResponseTooLarge {
                rpc,
                limit: self.limits.max_response,
                streaming,
                status,
            };
        }
        failure(rpc, &connection.endpoint, &connection.dials, due, status)
    }

    fn missed(connection: &Connection, rpc: &'static str) -> impl FnOnce(Duration) -> Error {
        let endpoint = connection.endpoint.clone();
        move |after| Error::DeadlineExceeded {
            rpc,
            endpoint,
            after,
        }
    }

    /// When a call of `deadline`'s class started now must end: the kubelet's rule for the RPC,
    /// or the plain timeout when the kubelet's deadlines are off.
    fn due(&self, deadline: Deadline) -> Option<Due> {
        if self.kubelet_deadlines {
            deadline.start(self.timeout)
        } else {
            Deadline::Default.start(self.timeout)
        }
    }

    /// A unary call of `op` for `subject` (the container or sandbox the request names, or
    /// empty), observed (span, metrics, log), under its deadline class, its response checked
    /// by `validate` unless validation is off.
    pub(crate) async fn unary<'a, R>(
        &'a self,
        op: Op,
        deadline: Deadline,
        subject: String,
        validate: fn(&R) -> Missing,
        call: impl FnOnce(
            &'a Backend,
            Option<Duration>,
            Limits,
        ) -> BoxFuture<'a, Result<tonic::Response<R>, Status>>,
    ) -> Result<R, Error> {
        let due = self.due(deadline);
        let work = async {
            let response = self.invoke(op, due, call).await?;
            if self.validate_responses {
                let missing = validate(&response);
                if !missing.is_empty() {
                    return Err(Error::InvalidResponse {
                        rpc: op.rpc,
                        missing,
                    });
                }
            }
            Ok(response)
        };
        self.observe(op, &subject, work).await
    }

    /// A call, unary or the start of a server-streaming one, under `due`: for a unary call its
    /// deadline class started now, for a stream the caller's (none, or the deadline of the
    /// list being collected, which then also bounds the reading). The re-dial check and the
    /// call share the deadline, and the request tells the runtime what is left of it.
    pub(crate) async fn invoke<'a, R>(
        &'a self,
        op: Op,
        due: Option<Due>,
        call: impl FnOnce(
            &'a Backend,
            Option<Duration>,
            Limits,
        ) -> BoxFuture<'a, Result<tonic::Response<R>, Status>>,
    ) -> Result<R, Error> {
        let (connection, rpc) = (self.connection(op.service), op.rpc);
        let work = async {
            self.ready(connection, due).await?;
            // `request` notes the request's size, when the call is made (the V1alpha2
            // adapters) or first polled (tonic's client).
            let size = Arc::new(AtomicUsize::new(0));
            let call = REQUEST_SIZE.sync_scope(size.clone(), || {
                call(
                    &connection.backend,
                    due.map(|due| due.remaining()),
                    self.limits,
                )
            });
            match REQUEST_SIZE.scope(size.clone(), call).await {
                Ok(response) => Ok(response.into_inner()),
                Err(status) => {
                    // A runtime replaced during this call may answer UNIMPLEMENTED for the
                    // whole version: the re-dial rule says so rather than the bare status.
                    if status.code() == Code::Unimplemented {
                        self.ready(connection, due).await?;
                    }
                    let size = size.load(Ordering::Relaxed);
                    Err(self.rpc_error(connection, rpc, status, due.as_ref(), size))
                }
            }
        };
        deadline::bound(due, work, Self::missed(connection, rpc)).await
    }

    /// Collects a list stream under one deadline, observed as one call of `op` (the `Stream*`
    /// RPC, counted as the kubelet's list operation). `Ok(None)` means the runtime lacks the
    /// RPC (`UNIMPLEMENTED` at the call or on the first receive), which is remembered.
    pub(crate) async fn collect<S, I, F>(
        &self,
        list: List,
        op: Op,
        start: impl FnOnce(Option<Due>) -> F,
        items: impl Fn(S) -> Vec<I>,
    ) -> Result<Option<Vec<I>>, Error>
    where
        F: Future<Output = Result<BoxStream<S>, Error>>,
    {
        let work = async { Collected(self.collect_unobserved(list, op.rpc, start, items).await) };
        self.observe(op, "", work).await.0
    }

    async fn collect_unobserved<S, I, F>(
        &self,
        list: List,
        rpc: &'static str,
        start: impl FnOnce(Option<Due>) -> F,
        items: impl Fn(S) -> Vec<I>,
    ) -> Result<Option<Vec<I>>, Error>
    where
        F: Future<Output = Result<BoxStream<S>, Error>>,
    {
        let connection = self.connection(list.service());
        let due = self.due(Deadline::Default);
        let work = async {
            let mut stream = match start(due).await {
                Ok(stream) => stream,
                Err(Error::Rpc { status, .. }) if status.code() == Code::Unimplemented => {
                    return Ok(None);
                }
                Err(error) => return Err(error),
            };
            let mut collected = Vec::new();
            let mut first = true;
            while let Some(page) = stream.next().await {
                match page {
                    Ok(page) => {
                        collected.extend(items(page));
                        if let Some(progress) = &self.progress {
                            progress(rpc, collected.len());
                        }
                    }
                    Err(status)
                        if first
                            && status.code() == Code::Unimplemented
                            && status.source().is_none() =>
                    {
                        return Ok(None);
                    }
                    Err(status) => {
                        return Err(self.rpc_error(connection, rpc, status, due.as_ref(), 0));
                    }
                }
                first = false;
            }
            Ok(Some(collected))
        };
        let result = deadline::bound(due, work, Self::missed(connection, rpc)).await?;
        if result.is_none() {
            self.streams_unsupported[list as usize].store(true, Ordering::SeqCst);
        }
        Ok(result)
    }
}
