//! `--enable-tracing` (feature `otel`, on by default): crictl against the fake runtime, its
//! spans sent to an OTLP collector in this test (gRPC on loopback): a `crictl` span and, in
//! its trace, one span per CRI call.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::trace::v1::Span;

#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<Span>>>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans = request
            .into_inner()
            .resource_spans
            .into_iter()
            .flat_map(|resource| resource.scope_spans)
            .flat_map(|scope| scope.spans);
        self.0.lock().unwrap().extend(spans);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enable_tracing_exports_the_commands_cri_calls() {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let service = TraceServiceServer::new(collector.clone());
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
            .unwrap()
    });
    let dir = tempfile::tempdir().unwrap();
    let fake = cri_fake::FakeRuntime::new();
    fake.seed(1, 1);
    let server = fake.serve_unix(dir.path().join("fake.sock")).await.unwrap();
    let mut command = support::crictl();
    command
        .args(["--runtime-endpoint", &server.endpoint()])
        .args([
            "--enable-tracing",
            "--tracing-endpoint",
            &address.to_string(),
        ])
        .args(["--tracing-sampling-rate-per-million", "1000000", "ps"]);
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::task::spawn_blocking(move || command.output().unwrap()),
    )
    .await
    .expect("crictl finished within a minute")
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let spans = collector.0.lock().unwrap().clone();
    let root = spans
        .iter()
        .find(|span| span.name == "crictl")
        .unwrap_or_else(|| panic!("no crictl span: {spans:#?}"));
    let calls: Vec<&Span> = spans
        .iter()
        .filter(|span| span.name.starts_with("RuntimeService/"))
        .collect();
    assert!(
        calls
            .iter()
            .any(|span| span.name == "RuntimeService/StreamContainers"
                || span.name == "RuntimeService/ListContainers"),
        "{calls:#?}"
    );
    for call in &calls {
        assert_eq!(
            call.trace_id, root.trace_id,
            "{} in the command's trace",
            call.name
        );
        assert_eq!(
            call.parent_span_id, root.span_id,
            "{} under the command's span",
            call.name
        );
    }
}

#[test]
fn a_tracing_endpoint_with_tls_is_refused_in_one_line() {
    let output = support::crictl()
        .args([
            "--enable-tracing",
            "--tracing-endpoint",
            "https://collector:4317",
            "version",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("--enable-tracing") && stderr.contains("TLS"),
        "{stderr}"
    );
}
