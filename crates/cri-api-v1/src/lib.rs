//! The Kubernetes Container Runtime Interface, `runtime.v1`, for Rust.
//!
//! This crate is the CRI API of Kubernetes 1.36 (upstream `kubernetes/cri-api`
//! [`UPSTREAM_TAG`], `pkg/apis/runtime/v1/api.proto`): every message and enum as a
//! [prost](https://docs.rs/prost) type, the `RuntimeService` and `ImageService` as
//! [tonic](https://docs.rs/tonic) clients and servers, and canonical proto3 JSON through
//! serde. It includes the server-streaming list RPCs of Kubernetes 1.36 (`StreamContainers`,
//! `StreamPodSandboxes`, `StreamImages`, …) and `GetContainerEvents`.
//!
//! Nothing is generated at build time: there is no build script and no `protoc`. The code was
//! generated once by this project's `cargo xtask regen` from the vendored proto, whose
//! provenance (tag, commit, sha256) the constants below record.
//!
//! Types live at the crate root, under the names upstream gives them
//! ([`ListContainersRequest`], [`ContainerStatus`], [`AuthConfig`], …); nested messages and
//! enums are in snake_case modules named after their parent, as prost places them
//! ([`security_profile::ProfileType`]). Enum fields are `i32` in the structs (proto3 enums are
//! open); use the generated getters (`container.state()`) for the Rust enum. Every message
//! implements [`prost::Name`], which gives its full protobuf name and type URL.
//!
//! A `double` field holding `-0.0` (the averages of [`PsiData`]) is written in the protobuf
//! encoding, as the proto3 spec asks and Go, C++, Java and upb do: prost's derive compares with
//! `0.0` and would leave it out, so the generator writes the `Message` impl of the messages with
//! such fields itself (the rest of the impl is the derive's).
//!
//! # Features
//!
//! | feature  | default | brings |
//! |----------|---------|--------|
//! | `client` | yes | [`runtime_service_client::RuntimeServiceClient`] and [`image_service_client::ImageServiceClient`], generic over any tonic transport (depends on `tonic` without its transport stack) |
//! | `server` | yes | the [`runtime_service_server::RuntimeService`] and [`image_service_server::ImageService`] traits and their tower services (same dependencies as `client`) |
//! | `serde`  | yes | `Serialize`/`Deserialize` for every message and enum, in canonical proto3 JSON, and the [`json`] module: the same with options chosen at run time (emit defaults as `crictl -o json` does, proto field names, enums as numbers, ignore unknown fields); depends on `serde`, `serde_json`, `base64` and `itoa` |
//! | `unix-server` | no | the [`unix_server`] module: serving on a Unix socket to gRPC C-core clients too (Python's `grpcio`), whose `:authority` tonic's server refuses; depends on `tokio`, `http`, tonic's server transport and `loona-hpack` |
//! | `arbitrary` | no | `arbitrary::Arbitrary` for every message and enum: random values for property tests and fuzzing |
//!
//! With `default-features = false` you get every type, its protobuf encoding
//! ([`prost::Message`]), the descriptor set and the constants, and only `prost` as a dependency.
//! The crate never enables tonic's transport (hyper, tokio): add
//! `tonic = { version = "0.14", features = ["transport"] }` to your own `Cargo.toml` to connect
//! or serve as in the examples below. [`prost`] and [`tonic`] are re-exported so that you can
//! name the exact versions these types were generated for.
//!
//! # Connecting to a runtime over a Unix socket
//!
//! ```no_run
//! use cri_api_v1::runtime_service_client::RuntimeServiceClient;
//! use cri_api_v1::{ListContainersRequest, VersionRequest};
//! use tonic::transport::Endpoint;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // tonic understands `unix://` endpoints.
//! let channel = Endpoint::from_static("unix:///run/containerd/containerd.sock")
//!     .connect()
//!     .await?;
//! // The kubelet accepts responses of up to 16 MiB.
//! let mut client =
//!     RuntimeServiceClient::new(channel).max_decoding_message_size(16 * 1024 * 1024);
//!
//! let version = client.version(VersionRequest::default()).await?.into_inner();
//! println!("{} {} (CRI {})", version.runtime_name, version.runtime_version, version.runtime_api_version);
//!
//! let containers = client
//!     .list_containers(ListContainersRequest::default())
//!     .await?
//!     .into_inner()
//!     .containers;
//! for container in containers {
//!     println!("{} {:?}", container.id, container.state());
//! }
//! # Ok(()) }
//! ```
//!
//! # Serving the CRI
//!
//! Every method of the server traits has a default body that answers `UNIMPLEMENTED`,
//! which is what the kubelet expects from a runtime that lacks an RPC (it falls back from the
//! `Stream*` RPCs to the unary lists, for example). Implement what your runtime supports; an RPC
//! that upstream adds in a later release does not break your implementation.
//!
//! ```no_run
//! use cri_api_v1::image_service_server::{ImageService, ImageServiceServer};
//! use cri_api_v1::runtime_service_server::{RuntimeService, RuntimeServiceServer};
//! use cri_api_v1::{ListImagesRequest, ListImagesResponse, VersionRequest, VersionResponse};
//! use tonic::{Request, Response, Status};
//!
//! #[derive(Default)]
//! struct MyRuntime;
//!
//! #[tonic::async_trait]
//! impl RuntimeService for MyRuntime {
//!     async fn version(
//!         &self,
//!         _request: Request<VersionRequest>,
//!     ) -> Result<Response<VersionResponse>, Status> {
//!         Ok(Response::new(VersionResponse {
//!             version: "0.1.0".into(),
//!             runtime_name: "my-runtime".into(),
//!             runtime_version: "0.1.0".into(),
//!             runtime_api_version: "v1".into(),
//!         }))
//!     }
//! }
//!
//! #[tonic::async_trait]
//! impl ImageService for MyRuntime {
//!     async fn list_images(
//!         &self,
//!         _request: Request<ListImagesRequest>,
//!     ) -> Result<Response<ListImagesResponse>, Status> {
//!         Ok(Response::new(ListImagesResponse::default()))
//!     }
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let listener = tokio::net::UnixListener::bind("/run/my-runtime.sock")?;
//! tonic::transport::Server::builder()
//!     .add_service(RuntimeServiceServer::new(MyRuntime))
//!     .add_service(ImageServiceServer::new(MyRuntime))
//!     .serve_with_incoming(tokio_stream::wrappers::UnixListenerStream::new(listener))
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! Clients built on gRPC C-core (Python's `grpcio`, for example) and grpc-java send the socket
//! path as the HTTP/2 `:authority` of a `unix:` target, which tonic's server (h2) resets as
//! malformed. Serve with `unix_server::UnixIncoming` (feature `unix-server`) instead of
//! `UnixListenerStream` and they are served as they are; otherwise such clients must set the
//! channel option `grpc.default_authority` (to `localhost`, as Go's gRPC uses for Unix
//! sockets).
//!
//! # JSON
//!
//! With the `serde` feature, messages serialize to the canonical proto3 JSON mapping:
//! lowerCamelCase names, 64-bit integers as strings, enums by name (numbers no name is known for
//! as numbers), bytes as base64, `NaN`/`Infinity` as strings, fields with default values
//! omitted. Parsing accepts both lowerCamelCase and the proto's snake_case names, enums by name
//! or number, `null` for any field, integers in any exact form (`"1e3"`), and rejects unknown
//! fields and duplicates. The [`json`] module writes and reads with options instead: default
//! values written (what `crictl -o json` writes: [`json::JsonOptions::crictl()`]), proto field
//! names, enums as numbers, unknown fields ignored, environment values (`KeyValue.value`) as
//! text; its docs give every rule.
//!
//! ```
//! # #[cfg(feature = "serde")] {
//! use cri_api_v1::{ContainerMetadata, ContainerState, ContainerStatus};
//!
//! let status = ContainerStatus {
//!     id: "4f1c".into(),
//!     metadata: Some(ContainerMetadata { name: "app".into(), attempt: 1 }),
//!     state: ContainerState::ContainerRunning as i32,
//!     created_at: 1_700_000_000_000_000_000,
//!     ..Default::default()
//! };
//! let json = serde_json::to_string(&status).unwrap();
//! assert_eq!(
//!     json,
//!     r#"{"id":"4f1c","metadata":{"name":"app","attempt":1},"state":"CONTAINER_RUNNING","createdAt":"1700000000000000000"}"#
//! );
//! let back: ContainerStatus = serde_json::from_str(r#"{"id":"4f1c","created_at":"1700000000000000000"}"#).unwrap();
//! assert_eq!(back.created_at, 1_700_000_000_000_000_000);
//! # }
//! ```
//!
//! # Maps
//!
//! Every `map<…>` field (labels, annotations, …) is a [`BTreeMap`](std::collections::BTreeMap),
//! whatever the features. The main reason is determinism: keys are kept in order, so the same
//! value always gives the same protobuf bytes and the same JSON (stable golden files, cache keys
//! and diffs). It does not cost speed on CRI's small maps: measured on a 10,000-container
//! `ListContainersResponse` (8 MB) when this was decided, prost's default `HashMap` (SipHash)
//! decoded at about 175 MB/s and `BTreeMap` at about 240 MB/s. The workspace's benchmarks
//! (`benches/RESULTS.md` and `benches/PROFILE.md` in the repository) show where decoding time
//! goes now: mostly the allocator, so a faster global allocator (such as mimalloc) is the
//! cheapest way to decode faster.
//!
//! # Secrets in `Debug`
//!
//! Fields that upstream marks `[debug_redact = true]` (the secrets of [`AuthConfig`]) never
//! appear in `Debug` output: they print as `<redacted>` (or `<unset>` when empty). The list
//! comes from the proto's options at generation time, not from a hand-kept list.
//!
//! ```
//! let auth = cri_api_v1::AuthConfig {
//!     username: "me".into(),
//!     password: "hunter2".into(),
//!     ..Default::default()
//! };
//! let printed = format!("{auth:?}");
//! assert!(printed.contains("me") && !printed.contains("hunter2"));
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

pub use prost;
#[cfg(any(feature = "client", feature = "server"))]
pub use tonic;

#[cfg(feature = "unix-server")]
#[cfg_attr(docsrs, doc(cfg(feature = "unix-server")))]
pub mod unix_server;

/// Everything prost, tonic and `cargo xtask regen`'s JSON generator made. The comments come from upstream's proto and
/// are not rustdoc-clean, hence the specific lint allowances.
#[allow(
    missing_docs,
    rustdoc::bare_urls,
    rustdoc::invalid_html_tags,
    clippy::doc_lazy_continuation,
    clippy::doc_overindented_list_items,
    clippy::single_match,
    clippy::match_single_binding
)]
mod generated {
    include!("generated/runtime.v1.rs");
    #[cfg(feature = "serde")]
    include!("generated/runtime.v1.serde.rs");
}
pub use generated::*;

#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
pub mod json;

mod constants {
    include!("generated/constants.rs");
}
pub use constants::{condition, log};

mod upstream {
    include!("generated/upstream.rs");
}

/// The encoded `FileDescriptorSet` of `runtime.v1` (with its imports, without source info):
/// for gRPC server reflection (`tonic-reflection`) and for tools that read messages dynamically
/// (`prost-reflect`).
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!("generated/runtime.v1.descriptor.bin");

/// The protobuf package of this API version.
pub const PACKAGE: &str = "runtime.v1";

/// The upstream repository this crate was generated from.
pub const UPSTREAM_REPOSITORY: &str = upstream::UPSTREAM_REPOSITORY;

/// The upstream release tag (of `kubernetes/cri-api`) this crate was generated from.
pub const UPSTREAM_TAG: &str = upstream::UPSTREAM_TAG;

/// The upstream commit that [`UPSTREAM_TAG`] pointed to.
pub const UPSTREAM_COMMIT: &str = upstream::UPSTREAM_COMMIT;

/// The path of the proto file inside the upstream repository.
pub const UPSTREAM_PATH: &str = upstream::UPSTREAM_PATH;

/// The sha256 of the vendored proto file (hex).
pub const PROTO_SHA256: &str = upstream::PROTO_SHA256;
