//! The streaming TLS settings of `exec`, `attach` and `port-forward` from their `--tls-*`
//! flags, by the Go crictl's rules.

use cri_streaming::client::ClientTls;

use crate::cli::TlsArgs;
use crate::failure::{Failure, Result};

/// The TLS settings of the flags, read before any RPC (so that a bad file does not spend
/// a streaming URL):
/// - none of `--tls-ca`, `--tls-cert`, `--tls-key`: no verification of the server and no
///   client certificate (the Go crictl's default; `--tls-sni` alone changes nothing);
/// - otherwise `--tls-cert` and `--tls-key` together (an error names what is missing), the
///   server verified against `--tls-ca` or, without it, the system's CAs, under the name
///   of `--tls-sni` (`localhost` unless given, as in the Go crictl; an empty one means the
///   URL's host).
///
/// The settings only matter for an `https` streaming URL.
pub(super) fn client_tls(args: &TlsArgs) -> Result<ClientTls> {
    fn given(flag: &Option<String>) -> Option<&str> {
        flag.as_deref().filter(|v| !v.is_empty())
    }
    let (ca, cert, key) = (given(&args.ca), given(&args.cert), given(&args.key));
    if ca.is_none() && cert.is_none() && key.is_none() {
        return Ok(ClientTls::insecure());
    }
    let (Some(cert), Some(key)) = (cert, key) else {
        return Err(Failure::msg(
            "--tls-cert and --tls-key are both required for TLS streaming \
             (--tls-ca and --tls-sni are optional)",
        ));
    };
    let mut builder = ClientTls::builder().client_cert_files(cert, key);
    if let Some(ca) = ca {
        builder = builder.ca_file(ca);
    }
    if !args.sni.is_empty() {
        builder = builder.server_name(&args.sni);
    }
    builder
        .build()
        .map_err(|e| Failure::msg(format!("streaming TLS: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(ca: Option<&str>, cert: Option<&str>, key: Option<&str>) -> TlsArgs {
        TlsArgs {
            sni: "localhost".into(),
            ca: ca.map(String::from),
            cert: cert.map(String::from),
            key: key.map(String::from),
        }
    }

    fn message(result: Result<ClientTls>) -> String {
        match result {
            Err(Failure::Message(message)) => message,
            Ok(_) => panic!("accepted"),
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn no_flags_means_no_verification() {
        assert!(client_tls(&args(None, None, None)).is_ok());
        let sni_only = TlsArgs {
            sni: "node".into(),
            ..args(None, None, None)
        };
        assert!(client_tls(&sni_only).is_ok());
    }

    #[test]
    fn cert_and_key_go_together() {
        for partial in [
            args(Some("ca.pem"), None, None),
            args(None, Some("c.pem"), None),
            args(Some("ca.pem"), None, Some("k.pem")),
        ] {
            assert_eq!(
                message(client_tls(&partial)),
                "--tls-cert and --tls-key are both required for TLS streaming \
                 (--tls-ca and --tls-sni are optional)"
            );
        }
    }

    #[test]
    fn a_missing_file_is_named() {
        let error = message(client_tls(&args(
            Some("/nonexistent/ca.pem"),
            Some("/nonexistent/c.pem"),
            Some("/nonexistent/k.pem"),
        )));
        assert!(
            error.starts_with("streaming TLS: CA certificate /nonexistent/ca.pem: "),
            "{error}"
        );
    }
}
