//! Feature `otel`: the client's spans reach an OTLP collector (one in this process, serving
//! OTLP/gRPC on loopback), one per RPC, children of the caller's span in its trace; and the
//! runtime receives each RPC's trace context (`traceparent`) naming that very span.

mod support;

use std::sync::{Arc, Mutex};

use cri_api_v1 as v1;
use cri_client::otel::OtelConfig;
use cri_fake::FakeRuntime;
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::trace::v1::Span;
use support::{Canned, builder, serve};
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// An OTLP trace collector keeping every span it receives.
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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_exported_span_per_rpc_in_the_callers_trace_and_its_context_sent_to_the_runtime() {
    // The collector, on loopback.
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
    // As crictl --enable-tracing --tracing-endpoint 127.0.0.1:PORT.
    let guard = Arc::new(
        OtelConfig::new(address.to_string())
            .sampling_rate_per_million(-1)
            .service_name("otel-test")
            .install()
            .unwrap(),
    );

    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("cri.sock");
    let runtime = FakeRuntime::new();
    runtime.seed(1, 2);
    let seen = serve(&runtime, &socket, Canned::default());
    let client = builder(&socket).connect().await.unwrap();
    seen.lock().unwrap().clear(); // the version check of connect ran outside any span

    let parent = tracing::info_span!("relist");
    let parent_context = parent.context();
    let parent_span = parent_context.span();
    let (trace_id, parent_id) = (
        parent_span.span_context().trace_id().to_bytes(),
        parent_span.span_context().span_id().to_bytes(),
    );
    async {
        client.version(v1::VersionRequest::default()).await.unwrap();
        client
            .list_containers(v1::ListContainersRequest::default())
            .await
            .unwrap();
        client
            .container_status(v1::ContainerStatusRequest {
                container_id: "gone".into(),
                verbose: false,
            })
            .await
            .unwrap_err();
    }
    .instrument(parent.clone())
    .await;
    drop(parent);
    let flushing = guard.clone();
    tokio::task::spawn_blocking(move || flushing.flush())
        .await
        .unwrap()
        .unwrap();

    let spans = collector.0.lock().unwrap().clone();
    let rpcs: Vec<&Span> = spans
        .iter()
        .filter(|span| span.name.contains("Service/"))
        .collect();
    let names: Vec<&str> = rpcs.iter().map(|span| span.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "RuntimeService/Version",
            "RuntimeService/ListContainers",
            "RuntimeService/ContainerStatus"
        ],
        "{spans:#?}"
    );
    let sent = seen.lock().unwrap().clone();
    assert_eq!(sent.len(), 3, "{sent:?}");
    for (span, (path, _, traceparent)) in rpcs.iter().zip(&sent) {
        assert_eq!(
            span.trace_id, trace_id,
            "{} is in the caller's trace",
            span.name
        );
        assert_eq!(
            span.parent_span_id, parent_id,
            "{} is a child of the caller's span",
            span.name
        );
        // The runtime was told this span: 00-<trace id>-<span id>-01.
        assert!(
            path.ends_with(span.name.rsplit('/').next().unwrap()),
            "{path}"
        );
        assert_eq!(
            traceparent.as_deref(),
            Some(format!("00-{}-{}-01", hex(&trace_id), hex(&span.span_id)).as_str()),
            "{}",
            span.name
        );
        let attribute = |key: &str| {
            span.attributes
                .iter()
                .find(|kv| kv.key == key)
                .and_then(|kv| kv.value.as_ref())
                .map(|value| format!("{:?}", value.value))
                .unwrap_or_default()
        };
        assert!(attribute("cri.endpoint").contains("cri.sock"), "{span:?}");
        assert!(
            attribute("cri.api_version").contains("runtime.v1"),
            "{span:?}"
        );
    }
    // The failed call is an error span with the gRPC code.
    let failed = rpcs[2];
    assert_eq!(
        failed.status.as_ref().map(|status| status.code),
        Some(2), // STATUS_CODE_ERROR
        "{failed:?}"
    );
    // Client spans.
    assert!(rpcs.iter().all(|span| span.kind == 3), "SPAN_KIND_CLIENT");
}
