//! `--enable-tracing`: the command's CRI calls as an OpenTelemetry trace, exported over OTLP/gRPC
//! to `--tracing-endpoint` and sampled at `--tracing-sampling-rate-per-million`, as Go crictl
//! does; each call's trace context is sent to the runtime. The spans are cri-client's (one per
//! RPC), under one `crictl` span for the whole command.

use crate::cli::Cli;
use crate::failure::Failure;

/// The exporter while the command runs (nothing without `--enable-tracing`).
pub struct Tracing {
    #[cfg(feature = "otel")]
    guard: Option<cri_client::otel::OtelGuard>,
}

/// Sets up tracing as the flags say; call it on the tokio runtime.
pub fn start(cli: &Cli) -> Result<Tracing, Failure> {
    #[cfg(feature = "otel")]
    {
        let guard = if cli.enable_tracing {
            let guard = cri_client::otel::OtelConfig::new(cli.tracing_endpoint.clone())
                .sampling_rate_per_million(cli.tracing_sampling_rate_per_million)
                .service_name("crictl")
                .install()
                .map_err(|error| Failure::msg(format!("--enable-tracing: {error}")))?;
            Some(guard)
        } else {
            None
        };
        Ok(Tracing { guard })
    }
    #[cfg(not(feature = "otel"))]
    {
        if cli.enable_tracing {
            return Err(Failure::msg(
                "--enable-tracing: this crictl was built without its `otel` feature",
            ));
        }
        Ok(Tracing {})
    }
}

impl Tracing {
    /// Exports what is left and shuts the exporter down (it needs the runtime, so it runs on a
    /// blocking thread). A collector that cannot be reached does not fail the command.
    pub async fn finish(self) {
        #[cfg(feature = "otel")]
        if let Some(guard) = self.guard {
            let _ = tokio::task::spawn_blocking(move || drop(guard)).await;
        }
    }
}
