//! Making calls: the shared path of every generated method (unary, server-streaming, and a
//! list collected from its stream), and which [`Error`] a failed call is: a response over the
//! size limit, else what `failure` makes of its status.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::time::Duration;

use std::error::Error as _;
use tokio_stream::StreamExt;

use tonic::{Code, Status};

use crate::deadline::{self, Deadline, Due};
use crate::error::ListStreaming;
use crate::failure::failure;
use crate::negotiate::{Backend, Connection};
use crate::observe::{Collected, Op};
use crate::validate::Missing;
use crate::{BoxStream, Client, Error, Limits, List};

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

impl Client {
    fn rpc_error(
        &self,
        connection: &Connection,
        rpc: &'static str,
        status: Status,
        due: Option<&Due>,
    ) -> Error {
        if status.code() == Code::OutOfRange
            && status.message().contains("message length too large")
        {
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
            match call(
                &connection.backend,
                due.map(|due| due.remaining()),
                self.limits,
            )
            .await
            {
                Ok(response) => Ok(response.into_inner()),
                Err(status) => {
                    // A runtime replaced during this call may answer UNIMPLEMENTED for the
                    // whole version: the re-dial rule says so rather than the bare status.
                    if status.code() == Code::Unimplemented {
                        self.ready(connection, due).await?;
                    }
                    Err(self.rpc_error(connection, rpc, status, due.as_ref()))
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
                        return Err(self.rpc_error(connection, rpc, status, due.as_ref()));
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
