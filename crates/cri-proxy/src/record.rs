//! `--record FILE`: every call as one JSON line, secrets redacted, the file rotated by size.
//!
//! A line is written when the call ends:
//!
//! ```json
//! {"method":"RuntimeService/ListContainers","startedAt":1764720000.123456,"durationSeconds":0.0012,
//!  "request":{"filter":null},"response":{"containers":[…]},"status":{"code":"OK","message":""}}
//! ```
//!
//! - `request` and `response` are the JSON `crictl -o json` prints (`cri_api_v1::json` with
//!   `JsonOptions::crictl()`: default values written, lowerCamelCase names, enums by name);
//! - a streaming RPC has `responses`, every message in order, instead of `response`;
//! - a failed call has no `response`, and its `status` names the gRPC code and message;
//! - `runtime.v1alpha2` calls (passed through) have `"request": null` and no response, since
//!   their messages are not `runtime.v1`'s; their `method` starts with `v1alpha2:`;
//! - secrets are replaced by `"REDACTED"`: the `password`, `auth`, `identityToken` and
//!   `registryToken` of a `PullImage`'s `AuthConfig`, wherever such a key holds a string.
//!
//! When a line would make the file larger than the size limit, the file is renamed to
//! `FILE.1` (`FILE.1` to `FILE.2`, …, the oldest beyond the kept count removed) and a new
//! `FILE` started. Writing is synchronous and each line is written whole; a failed write is
//! reported on stderr once and recording goes on.

use std::convert::Infallible;
use std::fs::{File, OpenOptions};
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};
use tower::{Layer, Service, ServiceExt};

use crate::grpc::{self, GrpcRequest, GrpcResponse, GrpcService};
use crate::methods::{self, Method};
use crate::observe::{self, Rules, Watch};

/// The JSON keys whose string values are secrets (those of `AuthConfig`).
pub const SECRET_KEYS: [&str; 4] = ["password", "auth", "identityToken", "registryToken"];

/// Replaces every non-empty string under a [`SECRET_KEYS`] key by `"REDACTED"`.
pub fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                match value {
                    Value::String(text)
                        if SECRET_KEYS.contains(&key.as_str()) && !text.is_empty() =>
                    {
                        *text = "REDACTED".into();
                    }
                    _ => redact(value),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// Where recorded lines go: a file rotated by size.
#[derive(Debug)]
pub struct Recorder {
    state: Mutex<Rotating>,
}

#[derive(Debug)]
struct Rotating {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: u64,
    keep: usize,
    failed: bool,
}

impl Recorder {
    /// Appends to `path`, rotating it when it would grow past `max_size` bytes and keeping
    /// `keep` old files (`FILE.1` … `FILE.keep`).
    pub fn open(path: &Path, max_size: u64, keep: usize) -> std::io::Result<Recorder> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(Recorder {
            state: Mutex::new(Rotating {
                path: path.to_path_buf(),
                file,
                size,
                max_size: max_size.max(1),
                keep,
                failed: false,
            }),
        })
    }

    /// Writes `line` and a newline.
    pub fn write_line(&self, line: &str) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let length = line.len() as u64 + 1;
        if state.size > 0
            && state.size + length > state.max_size
            && let Err(e) = state.rotate()
        {
            state.report(&e);
        }
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        match state.file.write_all(&bytes) {
            Ok(()) => state.size += length,
            Err(e) => state.report(&e),
        }
    }
}

impl Rotating {
    fn rotate(&mut self) -> std::io::Result<()> {
        let numbered = |n: usize| {
            let mut name = self.path.clone().into_os_string();
            name.push(format!(".{n}"));
            PathBuf::from(name)
        };
        if self.keep == 0 {
            std::fs::remove_file(&self.path)?;
        } else {
            let _ = std::fs::remove_file(numbered(self.keep));
            for n in (1..self.keep).rev() {
                let from = numbered(n);
                if from.exists() {
                    std::fs::rename(&from, numbered(n + 1))?;
                }
            }
            std::fs::rename(&self.path, numbered(1))?;
        }
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.size = 0;
        Ok(())
    }

    fn report(&mut self, error: &std::io::Error) {
        if !self.failed {
            self.failed = true;
            eprintln!("cri-proxy: recording to {}: {error}", self.path.display());
        }
    }
}

/// The layer that records every call to a [`Recorder`].
#[derive(Debug, Clone)]
pub struct RecordLayer {
    recorder: Arc<Recorder>,
}

impl RecordLayer {
    /// Records to `recorder`.
    pub fn new(recorder: Arc<Recorder>) -> Self {
        RecordLayer { recorder }
    }
}

impl Layer<GrpcService> for RecordLayer {
    type Service = Record;
    fn layer(&self, inner: GrpcService) -> Record {
        Record {
            inner,
            recorder: self.recorder.clone(),
        }
    }
}

/// The service [`RecordLayer`] makes.
#[derive(Clone)]
pub struct Record {
    inner: GrpcService,
    recorder: Arc<Recorder>,
}

impl std::fmt::Debug for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Record").finish_non_exhaustive()
    }
}

impl Service<GrpcRequest> for Record {
    type Response = GrpcResponse;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<GrpcResponse, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: GrpcRequest) -> Self::Future {
        let inner = self.inner.clone();
        let recorder = self.recorder.clone();
        Box::pin(async move {
            let started_at = SystemTime::now();
            let start = Instant::now();
            let path = request.uri().path().to_string();
            let method = methods::lookup(&path).filter(|_| !methods::is_v1alpha2(&path));
            let name = match (methods::lookup(&path), method) {
                (_, Some(m)) => m.qualified(),
                (Some(m), None) => format!("v1alpha2:{}", m.qualified()),
                (None, None) => path.trim_start_matches('/').to_string(),
            };
            let (request, request_json) = match method {
                Some(method) => {
                    let (parts, body) = request.into_parts();
                    let bytes = match grpc::read_message(body).await {
                        Ok(bytes) => bytes,
                        Err(status) => return Ok(grpc::status_response(status)),
                    };
                    let mut json = method
                        .request_to_json(&bytes)
                        .unwrap_or_else(|e| json!({ "undecodable": e }));
                    redact(&mut json);
                    (grpc::with_message(parts, &bytes), json)
                }
                None => (request, Value::Null),
            };
            let response = inner.oneshot(request).await?;
            let watch = Recording {
                recorder,
                method,
                name,
                started_at,
                start,
                request: request_json,
                responses: Vec::new(),
            };
            Ok(observe::watch(response, Box::new(watch), Rules::default()))
        })
    }
}

struct Recording {
    recorder: Arc<Recorder>,
    method: Option<&'static Method>,
    name: String,
    started_at: SystemTime,
    start: Instant,
    request: Value,
    responses: Vec<Value>,
}

impl Watch for Recording {
    fn wants_messages(&self) -> bool {
        self.method.is_some()
    }

    fn message(&mut self, message: &[u8]) {
        if let Some(method) = self.method {
            let mut json = method
                .response_to_json(message)
                .unwrap_or_else(|e| json!({ "undecodable": e }));
            redact(&mut json);
            self.responses.push(json);
        }
    }

    fn end(self: Box<Self>, code: i32, message: &str) {
        let Recording {
            recorder,
            method,
            name,
            started_at,
            start,
            request,
            mut responses,
        } = *self;
        let mut line = Map::new();
        line.insert("method".into(), name.into());
        let since_epoch = started_at.duration_since(UNIX_EPOCH).unwrap_or_default();
        line.insert("startedAt".into(), json!(since_epoch.as_secs_f64()));
        line.insert(
            "durationSeconds".into(),
            json!(start.elapsed().as_secs_f64()),
        );
        line.insert("request".into(), request);
        match method {
            Some(m) if m.server_streaming => {
                line.insert("responses".into(), Value::Array(responses));
            }
            Some(_) if code == 0 && responses.len() == 1 => {
                line.insert("response".into(), responses.pop().unwrap_or_default());
            }
            _ => {}
        }
        line.insert(
            "status".into(),
            json!({ "code": grpc::code_name(code), "message": message }),
        );
        recorder.write_line(&Value::Object(line).to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_wherever_they_are() {
        let mut value = json!({"image": {"image": "x"}, "auth": {"username": "me", "password": "p", "auth": "", "identityToken": "t", "registryToken": "r"}});
        redact(&mut value);
        assert_eq!(value["auth"]["password"], "REDACTED");
        assert_eq!(value["auth"]["identityToken"], "REDACTED");
        assert_eq!(value["auth"]["registryToken"], "REDACTED");
        assert_eq!(value["auth"]["auth"], "", "an empty value stays empty");
        assert_eq!(value["auth"]["username"], "me");
    }

    #[test]
    fn the_file_rotates_by_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calls.jsonl");
        let recorder = Recorder::open(&path, 25, 2).unwrap();
        for n in 0..5 {
            recorder.write_line(&format!("line number {n:02}"));
        }
        let read = |p: &Path| std::fs::read_to_string(p).unwrap();
        assert_eq!(read(&path), "line number 04\n");
        assert_eq!(read(&dir.path().join("calls.jsonl.1")), "line number 03\n");
        assert_eq!(read(&dir.path().join("calls.jsonl.2")), "line number 02\n");
        assert!(!dir.path().join("calls.jsonl.3").exists());
    }
}
