//! What both ends of a streaming session agree on: subprotocol names, channel and stream
//! names, the terminal size message and the status the server reports at the end.

use serde::{Deserialize, Serialize};

/// The remote-command subprotocols negotiated in `X-Stream-Protocol-Version` (SPDY).
pub mod spdy_protocols {
    /// v1: text errors, no resize.
    pub const V1: &str = "channel.k8s.io";
    /// v2: like v1 with the error stream read concurrently.
    pub const V2: &str = "v2.channel.k8s.io";
    /// v3: adds the resize stream.
    pub const V3: &str = "v3.channel.k8s.io";
    /// v4: the error stream carries a JSON `Status` with the exit code.
    pub const V4: &str = "v4.channel.k8s.io";
    /// v5: v4 plus stdin close (over SPDY the same as v4).
    pub const V5: &str = "v5.channel.k8s.io";
    /// Port forwarding.
    pub const PORT_FORWARD: &str = "portforward.k8s.io";
}

/// The WebSocket subprotocols (`Sec-WebSocket-Protocol`).
pub mod ws_protocols {
    /// Binary channel framing, text errors.
    pub const V1: &str = "channel.k8s.io";
    /// Base64 text framing, text errors.
    pub const V1_BASE64: &str = "base64.channel.k8s.io";
    /// Binary channel framing with the JSON status.
    pub const V4: &str = "v4.channel.k8s.io";
    /// Base64 text framing with the JSON status.
    pub const V4_BASE64: &str = "v4.base64.channel.k8s.io";
    /// v4 plus a close signal per channel (channel 255).
    pub const V5: &str = "v5.channel.k8s.io";
    /// v5 in base64 text framing.
    pub const V5_BASE64: &str = "v5.base64.channel.k8s.io";
}

/// The header naming an SPDY stream's role (`error`, `stdin`, `stdout`, `stderr`, `resize`,
/// and `data` for port forwarding).
pub const STREAM_TYPE: &str = "streamtype";
/// The port-forward header naming the port of a stream pair.
pub const PORT_HEADER: &str = "port";
/// The port-forward header pairing a data stream with its error stream.
pub const REQUEST_ID_HEADER: &str = "requestid";

/// Remote-command channel numbers over WebSocket.
pub mod channel {
    /// The command's standard input (client to server).
    pub const STDIN: u8 = 0;
    /// The command's standard output.
    pub const STDOUT: u8 = 1;
    /// The command's standard error.
    pub const STDERR: u8 = 2;
    /// The status at the end.
    pub const ERROR: u8 = 3;
    /// Terminal sizes (client to server).
    pub const RESIZE: u8 = 4;
    /// v5: a close signal; its payload is the channel that the sender closes.
    pub const CLOSE: u8 = 255;
}

/// A terminal size, as sent on the resize stream (`{"Width":80,"Height":24}`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalSize {
    /// Columns.
    #[serde(rename = "Width")]
    pub width: u16,
    /// Rows.
    #[serde(rename = "Height")]
    pub height: u16,
}

/// The status a remote-command server writes to the error stream at the end (protocol v4+),
/// the shape of Kubernetes' `metav1.Status` that clients read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// `Success` or `Failure`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// What went wrong, for people.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// Why, for programs: `NonZeroExitCode`, `InternalError`, …
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// The causes (the exit code is one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<StatusDetails>,
    /// An HTTP-like code (500 for internal errors).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub code: i32,
}

fn is_zero(code: &i32) -> bool {
    *code == 0
}

/// [`Status`] details.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusDetails {
    /// The causes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<StatusCause>,
}

/// One cause in [`StatusDetails`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCause {
    /// `ExitCode` for the exit code.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// The exit code in decimal, for `ExitCode`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// The status reason of a command that exited with a non-zero code.
pub const NON_ZERO_EXIT_CODE: &str = "NonZeroExitCode";
/// The cause type carrying the exit code.
pub const EXIT_CODE_CAUSE: &str = "ExitCode";

impl Status {
    /// The command exited with 0.
    pub fn success() -> Self {
        Status {
            status: "Success".into(),
            ..Status::default()
        }
    }

    /// The status for exit code `code` (success for 0).
    pub fn exit_code(code: i32) -> Self {
        if code == 0 {
            return Status::success();
        }
        Status {
            status: "Failure".into(),
            message: format!("command terminated with non-zero exit code: exit status {code}"),
            reason: NON_ZERO_EXIT_CODE.into(),
            details: Some(StatusDetails {
                causes: vec![StatusCause {
                    reason: EXIT_CODE_CAUSE.into(),
                    message: code.to_string(),
                }],
            }),
            code: 0,
        }
    }

    /// The runtime failed to run the command at all.
    pub fn internal_error(message: impl std::fmt::Display) -> Self {
        Status {
            status: "Failure".into(),
            message: format!("Internal error occurred: {message}"),
            reason: "InternalError".into(),
            details: None,
            code: 500,
        }
    }

    /// The exit code this status reports: `Some(0)` for success, the code for a
    /// `NonZeroExitCode` failure, `None` for any other failure.
    pub fn to_exit_code(&self) -> Option<i32> {
        if self.status == "Success" {
            return Some(0);
        }
        if self.reason != NON_ZERO_EXIT_CODE {
            return None;
        }
        self.details
            .as_ref()?
            .causes
            .iter()
            .find(|c| c.reason == EXIT_CODE_CAUSE)
            .and_then(|c| c.message.trim().parse().ok())
    }
}

/// Encoding: what the server writes to the error stream at the end of a session.
#[cfg(feature = "server")]
impl Status {
    /// The bytes the error stream carries for this status: the JSON status when `json`
    /// (protocol v4 and later), else the message of a failure as text and nothing
    /// (`None`) for a success.
    pub(crate) fn to_error_stream(&self, json: bool) -> Option<bytes::Bytes> {
        if json {
            Some(bytes::Bytes::from(
                serde_json::to_vec(self).expect("a status serializes"),
            ))
        } else if self.status == "Success" {
            None
        } else {
            Some(bytes::Bytes::from(self.message.clone()))
        }
    }
}

/// Decoding: what the client reads from the error stream at the end of a session.
#[cfg(feature = "client")]
impl Status {
    /// The status in `bytes`, the whole error stream: nothing is a success; text (`json`
    /// false, protocols before v4) is a failure with that message; otherwise the JSON status.
    /// The error says what is wrong with JSON that does not parse.
    pub(crate) fn from_error_stream(bytes: &[u8], json: bool) -> Result<Status, String> {
        if bytes.is_empty() {
            return Ok(Status::success());
        }
        if !json {
            return Ok(Status {
                status: "Failure".into(),
                message: String::from_utf8_lossy(bytes).into_owned(),
                ..Status::default()
            });
        }
        serde_json::from_slice(bytes).map_err(|e| {
            format!(
                "the status from the server is not valid JSON ({e}): {:?}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_json_matches_the_wire_shape() {
        let json = serde_json::to_string(&Status::exit_code(3)).unwrap();
        assert_eq!(
            json,
            r#"{"status":"Failure","message":"command terminated with non-zero exit code: exit status 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}"#
        );
        assert_eq!(
            serde_json::to_string(&Status::success()).unwrap(),
            r#"{"status":"Success"}"#
        );
        let back: Status = serde_json::from_str(&json).unwrap();
        assert_eq!(back.to_exit_code(), Some(3));
        let upstream: Status =
            serde_json::from_str(r#"{"metadata":{},"status":"Success"}"#).unwrap();
        assert_eq!(upstream.to_exit_code(), Some(0));
        assert_eq!(Status::internal_error("boom").to_exit_code(), None);
    }

    #[test]
    fn terminal_size_json() {
        let size = TerminalSize {
            width: 80,
            height: 24,
        };
        assert_eq!(
            serde_json::to_string(&size).unwrap(),
            r#"{"Width":80,"Height":24}"#
        );
    }
}
