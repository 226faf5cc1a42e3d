//! Replaying a recording of `cri-proxy --record`: the recorded requests are answered with the
//! recorded responses, so a node's problem reproduces on a laptop (`cri-fake --replay FILE`).
//!
//! A call matches a recorded one when the method and the request are the same: the request is
//! compared as the JSON of `crictl -o json` (the recording's form), with the same secrets
//! redacted as in the recording. A request recorded several times is answered with its recorded
//! answers in order, the last one again once they run out. A method the recording never saw is
//! answered `UNIMPLEMENTED` (so a client falls back as it would with an older runtime), and a
//! request it did not see `FAILED_PRECONDITION`; both messages name the method.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use cri_api_v1 as v1;
use cri_api_v1::json::{self, JsonMessage, JsonOptions};
use prost::Message;
use serde_json::Value;
use tonic::{Code, Status};

mod service;

pub use service::serve_unix;

/// The JSON keys whose string values `cri-proxy` redacts (those of `AuthConfig`).
const SECRET_KEYS: [&str; 4] = ["password", "auth", "identityToken", "registryToken"];

fn redact(value: &mut Value) {
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

/// How one RPC's messages are read and written.
struct Codec {
    request_json: fn(&[u8]) -> Result<Value, String>,
    response_bytes: fn(Value) -> Result<Vec<u8>, String>,
}

fn to_json<M: Message + Default + JsonMessage>(bytes: &[u8]) -> Result<Value, String> {
    let message = M::decode(bytes).map_err(|e| format!("undecodable {}: {e}", M::FULL_NAME))?;
    serde_json::to_value(json::with_options(&message, JsonOptions::crictl()))
        .map_err(|e| e.to_string())
}

fn from_json<M: Message + Default + JsonMessage>(value: Value) -> Result<Vec<u8>, String> {
    let message: M = json::deserialize(value, JsonOptions::crictl())
        .map_err(|e| format!("a recorded {} that does not parse: {e}", M::FULL_NAME))?;
    Ok(message.encode_to_vec())
}

macro_rules! codecs {
    ($($service:literal $name:ident $request:ident $response:ident;)*) => {
        fn codec(method: &str) -> Option<Codec> {
            match method {
                $(concat!($service, "/", stringify!($name)) => Some(Codec {
                    request_json: to_json::<v1::$request>,
                    response_bytes: from_json::<v1::$response>,
                }),)*
                _ => None,
            }
        }
    };
}

codecs! {
    "RuntimeService" Version VersionRequest VersionResponse;
    "RuntimeService" RunPodSandbox RunPodSandboxRequest RunPodSandboxResponse;
    "RuntimeService" StopPodSandbox StopPodSandboxRequest StopPodSandboxResponse;
    "RuntimeService" RemovePodSandbox RemovePodSandboxRequest RemovePodSandboxResponse;
    "RuntimeService" PodSandboxStatus PodSandboxStatusRequest PodSandboxStatusResponse;
    "RuntimeService" ListPodSandbox ListPodSandboxRequest ListPodSandboxResponse;
    "RuntimeService" StreamPodSandboxes StreamPodSandboxesRequest StreamPodSandboxesResponse;
    "RuntimeService" CreateContainer CreateContainerRequest CreateContainerResponse;
    "RuntimeService" StartContainer StartContainerRequest StartContainerResponse;
    "RuntimeService" StopContainer StopContainerRequest StopContainerResponse;
    "RuntimeService" RemoveContainer RemoveContainerRequest RemoveContainerResponse;
    "RuntimeService" ListContainers ListContainersRequest ListContainersResponse;
    "RuntimeService" StreamContainers StreamContainersRequest StreamContainersResponse;
    "RuntimeService" ContainerStatus ContainerStatusRequest ContainerStatusResponse;
    "RuntimeService" UpdateContainerResources UpdateContainerResourcesRequest UpdateContainerResourcesResponse;
    "RuntimeService" ReopenContainerLog ReopenContainerLogRequest ReopenContainerLogResponse;
    "RuntimeService" ExecSync ExecSyncRequest ExecSyncResponse;
    "RuntimeService" Exec ExecRequest ExecResponse;
    "RuntimeService" Attach AttachRequest AttachResponse;
    "RuntimeService" PortForward PortForwardRequest PortForwardResponse;
    "RuntimeService" ContainerStats ContainerStatsRequest ContainerStatsResponse;
    "RuntimeService" ListContainerStats ListContainerStatsRequest ListContainerStatsResponse;
    "RuntimeService" StreamContainerStats StreamContainerStatsRequest StreamContainerStatsResponse;
    "RuntimeService" PodSandboxStats PodSandboxStatsRequest PodSandboxStatsResponse;
    "RuntimeService" ListPodSandboxStats ListPodSandboxStatsRequest ListPodSandboxStatsResponse;
    "RuntimeService" StreamPodSandboxStats StreamPodSandboxStatsRequest StreamPodSandboxStatsResponse;
    "RuntimeService" UpdateRuntimeConfig UpdateRuntimeConfigRequest UpdateRuntimeConfigResponse;
    "RuntimeService" Status StatusRequest StatusResponse;
    "RuntimeService" CheckpointContainer CheckpointContainerRequest CheckpointContainerResponse;
    "RuntimeService" GetContainerEvents GetEventsRequest ContainerEventResponse;
    "RuntimeService" ListMetricDescriptors ListMetricDescriptorsRequest ListMetricDescriptorsResponse;
    "RuntimeService" ListPodSandboxMetrics ListPodSandboxMetricsRequest ListPodSandboxMetricsResponse;
    "RuntimeService" StreamPodSandboxMetrics StreamPodSandboxMetricsRequest StreamPodSandboxMetricsResponse;
    "RuntimeService" RuntimeConfig RuntimeConfigRequest RuntimeConfigResponse;
    "RuntimeService" UpdatePodSandboxResources UpdatePodSandboxResourcesRequest UpdatePodSandboxResourcesResponse;
    "ImageService" ListImages ListImagesRequest ListImagesResponse;
    "ImageService" StreamImages StreamImagesRequest StreamImagesResponse;
    "ImageService" ImageStatus ImageStatusRequest ImageStatusResponse;
    "ImageService" PullImage PullImageRequest PullImageResponse;
    "ImageService" RemoveImage RemoveImageRequest RemoveImageResponse;
    "ImageService" ImageFsInfo ImageFsInfoRequest ImageFsInfoResponse;
}

/// A recorded answer: the response messages (one for a unary call), or a status.
#[derive(Debug, Clone)]
enum Answer {
    Messages(Vec<Vec<u8>>),
    Failed(Status),
}

#[derive(Debug)]
struct Answers {
    answers: Vec<Answer>,
    next: usize,
}

/// A recording loaded for replay.
#[derive(Debug)]
pub struct Replay {
    /// By method, then by the request's JSON text.
    calls: HashMap<String, HashMap<String, Mutex<Answers>>>,
}

/// What the calls of a replay are answered with.
pub(crate) enum Reply {
    /// Response messages (protobuf bytes), in order.
    Messages(Vec<Vec<u8>>),
    /// A status.
    Failed(Status),
}

const CODE_NAMES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

impl Replay {
    /// Loads the recording at `path` (one JSON object per line, as `cri-proxy --record`
    /// writes). The error names the line and what is wrong with it.
    pub fn load(path: &Path) -> Result<Replay, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Replay::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Reads a recording's text.
    pub fn parse(text: &str) -> Result<Replay, String> {
        let mut calls: HashMap<String, HashMap<String, Mutex<Answers>>> = HashMap::new();
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let at = |what: String| format!("line {}: {what}", index + 1);
            let record: Value =
                serde_json::from_str(line).map_err(|e| at(format!("not JSON: {e}")))?;
            let method = record["method"]
                .as_str()
                .ok_or_else(|| at("no \"method\"".into()))?;
            let Some(codec) = codec(method) else {
                // runtime.v1alpha2 calls and unknown paths cannot be replayed as runtime.v1.
                continue;
            };
            let code = record["status"]["code"].as_str().unwrap_or("OK");
            let answer = if code == "OK" {
                let messages = match (record.get("responses"), record.get("response")) {
                    (Some(Value::Array(all)), _) => all.clone(),
                    (_, Some(one)) => vec![one.clone()],
                    _ => return Err(at(format!("{method} is OK but has no \"response\""))),
                };
                let messages = messages
                    .into_iter()
                    .map(codec.response_bytes)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(at)?;
                Answer::Messages(messages)
            } else {
                let number = CODE_NAMES
                    .iter()
                    .position(|&n| n == code)
                    .ok_or_else(|| at(format!("unknown status code {code:?}")))?;
                let message = record["status"]["message"].as_str().unwrap_or_default();
                Answer::Failed(Status::new(Code::from(number as i32), message))
            };
            let request = record
                .get("request")
                .cloned()
                .unwrap_or(Value::Null)
                .to_string();
            let by_request = calls.entry(method.to_string()).or_default();
            by_request
                .entry(request)
                .or_insert_with(|| {
                    Mutex::new(Answers {
                        answers: Vec::new(),
                        next: 0,
                    })
                })
                .get_mut()
                .unwrap_or_else(|e| e.into_inner())
                .answers
                .push(answer);
        }
        Ok(Replay { calls })
    }

    /// How many distinct calls (method and request) the recording holds.
    pub fn len(&self) -> usize {
        self.calls.values().map(HashMap::len).sum()
    }

    /// Whether the recording holds no call.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The answer to a call of `method` (`RuntimeService/ListContainers`) with the request
    /// `message` (protobuf bytes).
    pub(crate) fn answer(&self, method: &str, message: &[u8]) -> Reply {
        let Some(by_request) = self.calls.get(method) else {
            return Reply::Failed(Status::unimplemented(format!(
                "cri-fake --replay: the recording has no call of {method}"
            )));
        };
        let Some(codec) = codec(method) else {
            return Reply::Failed(Status::unimplemented(format!(
                "cri-fake --replay: {method} is no CRI RPC"
            )));
        };
        let mut request = match (codec.request_json)(message) {
            Ok(request) => request,
            Err(e) => {
                return Reply::Failed(Status::invalid_argument(format!(
                    "cri-fake --replay: {method}: {e}"
                )));
            }
        };
        redact(&mut request);
        let key = request.to_string();
        let Some(answers) = by_request.get(&key) else {
            return Reply::Failed(Status::failed_precondition(format!(
                "cri-fake --replay: the recording has no {method} call with the request {key}"
            )));
        };
        let mut answers = answers.lock().unwrap_or_else(|e| e.into_inner());
        let index = answers.next.min(answers.answers.len() - 1);
        answers.next += 1;
        match &answers.answers[index] {
            Answer::Messages(messages) => Reply::Messages(messages.clone()),
            Answer::Failed(status) => Reply::Failed(status.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_answered_in_order_and_misses_name_the_method() {
        let text = r#"{"method":"RuntimeService/Version","request":{"version":""},"response":{"version":"0.1.0","runtimeName":"a","runtimeVersion":"1","runtimeApiVersion":"v1"},"status":{"code":"OK","message":""}}
{"method":"RuntimeService/Version","request":{"version":""},"response":{"version":"0.1.0","runtimeName":"b","runtimeVersion":"1","runtimeApiVersion":"v1"},"status":{"code":"OK","message":""}}
{"method":"RuntimeService/ContainerStatus","request":{"containerId":"x","verbose":false},"status":{"code":"NOT_FOUND","message":"no x"}}
"#;
        let replay = Replay::parse(text).unwrap();
        assert_eq!(replay.len(), 2);
        let version = v1::VersionRequest::default().encode_to_vec();
        let name = |reply: Reply| match reply {
            Reply::Messages(m) => v1::VersionResponse::decode(&m[0][..]).unwrap().runtime_name,
            Reply::Failed(s) => panic!("{s:?}"),
        };
        assert_eq!(name(replay.answer("RuntimeService/Version", &version)), "a");
        assert_eq!(name(replay.answer("RuntimeService/Version", &version)), "b");
        assert_eq!(name(replay.answer("RuntimeService/Version", &version)), "b");
        let status = v1::ContainerStatusRequest {
            container_id: "x".into(),
            verbose: false,
        }
        .encode_to_vec();
        let Reply::Failed(s) = replay.answer("RuntimeService/ContainerStatus", &status) else {
            panic!()
        };
        assert_eq!((s.code(), s.message()), (Code::NotFound, "no x"));
        let other = v1::ContainerStatusRequest {
            container_id: "y".into(),
            verbose: false,
        }
        .encode_to_vec();
        let Reply::Failed(s) = replay.answer("RuntimeService/ContainerStatus", &other) else {
            panic!()
        };
        assert_eq!(s.code(), Code::FailedPrecondition);
        assert!(
            s.message().contains("RuntimeService/ContainerStatus"),
            "{}",
            s.message()
        );
        let Reply::Failed(s) = replay.answer("ImageService/ListImages", &[]) else {
            panic!()
        };
        assert_eq!(s.code(), Code::Unimplemented);
        assert!(
            s.message().contains("ImageService/ListImages"),
            "{}",
            s.message()
        );
    }

    #[test]
    fn a_bad_line_is_named() {
        let error =
            Replay::parse("{\"method\":\"RuntimeService/Version\"}\nnot json\n").unwrap_err();
        assert!(error.starts_with("line 1: "), "{error}");
        let error = Replay::parse("\nnot json\n").unwrap_err();
        assert!(error.starts_with("line 2: not JSON"), "{error}");
    }
}
