//! Probing and negotiation: which CRI version an endpoint serves, checked when connecting and
//! again after every re-dial (the re-dial rule).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use cri_api_v1 as v1;
use cri_api_v1alpha2 as v1alpha2;
use cri_convert::V1OverV1alpha2;
use std::error::Error as _;
use tonic::transport::Channel;

use tonic::{Code, Status};

use crate::deadline::{self, Due};
use crate::dial::{Dials, dial};
use crate::failure::failure;
use crate::{ApiVersion, Client, Endpoint, Error, Limits, Service, VersionPolicy, request};

/// One endpoint, its negotiated version and its dials.
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) endpoint: Endpoint,
    pub(crate) service: Service,
    pub(crate) backend: Backend,
    pub(crate) version: ApiVersion,
    pub(crate) dials: Arc<Dials>,
    /// The dial count at which the version was last verified.
    verified: AtomicU64,
    /// Set when a re-dial found the negotiated version gone; the connection is then unusable.
    broken: OnceLock<Status>,
}

/// How calls reach the runtime: v1 directly, or v1alpha2 through `cri-convert`.
#[derive(Debug)]
pub(crate) enum Backend {
    V1(Channel),
    V1alpha2(V1OverV1alpha2<Channel>),
}

impl Backend {
    fn new(version: ApiVersion, channel: Channel, limits: Limits) -> Self {
        match version {
            ApiVersion::V1 => Backend::V1(channel),
            ApiVersion::V1alpha2 => Backend::V1alpha2(
                V1OverV1alpha2::new(channel)
                    .max_decoding_message_size(limits.max_response)
                    .max_encoding_message_size(limits.max_request),
            ),
        }
    }
}

/// The RPC that validates a service, as the kubelet does: `Version` on the runtime service,
/// `ImageFsInfo` on the image service.
pub(crate) fn probe_rpc(service: Service) -> &'static str {
    match service {
        Service::Runtime => "RuntimeService/Version",
        Service::Image => "ImageService/ImageFsInfo",
    }
}

/// The version string the kubelet sends in `VersionRequest`.
const KUBELET_API_VERSION: &str = "0.1.0";

/// Asks the runtime whether it serves this backend's version, telling it the deadline.
async fn probe(
    backend: &Backend,
    service: Service,
    limits: Limits,
    timeout: Option<Duration>,
) -> Result<(), Status> {
    match (backend, service) {
        (Backend::V1(channel), Service::Runtime) => {
            v1::runtime_service_client::RuntimeServiceClient::new(channel.clone())
                .max_decoding_message_size(limits.max_response)
                .version(request(
                    v1::VersionRequest {
                        version: KUBELET_API_VERSION.into(),
                    },
                    timeout,
                ))
                .await
                .map(drop)
        }
        (Backend::V1(channel), Service::Image) => {
            v1::image_service_client::ImageServiceClient::new(channel.clone())
                .max_decoding_message_size(limits.max_response)
                .image_fs_info(request(v1::ImageFsInfoRequest {}, timeout))
                .await
                .map(drop)
        }
        (Backend::V1alpha2(adapter), Service::Runtime) => {
            v1alpha2::runtime_service_client::RuntimeServiceClient::new(adapter.channel().clone())
                .max_decoding_message_size(limits.max_response)
                .version(request(
                    v1alpha2::VersionRequest {
                        version: KUBELET_API_VERSION.into(),
                    },
                    timeout,
                ))
                .await
                .map(drop)
        }
        (Backend::V1alpha2(adapter), Service::Image) => {
            v1alpha2::image_service_client::ImageServiceClient::new(adapter.channel().clone())
                .max_decoding_message_size(limits.max_response)
                .image_fs_info(request(v1alpha2::ImageFsInfoRequest {}, timeout))
                .await
                .map(drop)
        }
    }
}

/// Dials `endpoint` and negotiates the version of `service` there, within `due` (what is
/// left of `connect_timeout`, which also bounds each later re-dial): v1, then v1alpha2 if
/// `policy` allows it, each backend under `limits`.
pub(crate) async fn open(
    endpoint: Endpoint,
    service: Service,
    policy: VersionPolicy,
    limits: Limits,
    connect_timeout: Duration,
    due: Due,
) -> Result<Connection, Error> {
    let rpc = probe_rpc(service);
    let missed = |rpc: &'static str| {
        let endpoint = endpoint.clone();
        move |after| Error::DeadlineExceeded {
            rpc,
            endpoint,
            after,
        }
    };
    let dials = Arc::new(Dials::default());
    let channel = deadline::bound(
        Some(due),
        dial(&endpoint, connect_timeout, &dials),
        missed("connect"),
    )
    .await
    .map_err(|error| match error {
        Error::Connect { .. } if due.remaining().is_zero() => missed("connect")(due.after()),
        Error::Connect { endpoint, .. } if dials.non_cri_peer().is_some() => Error::NotCri {
            endpoint,
            rpc: "connect",
            peer: dials.non_cri_peer().expect("checked"),
        },
        other => other,
    })?;
    let negotiate = async {
        let mut tried = Vec::new();
        for version in [ApiVersion::V1, ApiVersion::V1alpha2] {
            if version == ApiVersion::V1alpha2 && policy == VersionPolicy::V1Only {
                break;
            }
            let backend = Backend::new(version, channel.clone(), limits);
            match probe(&backend, service, limits, Some(due.remaining())).await {
                Ok(()) => {
                    return Ok(Connection {
                        endpoint: endpoint.clone(),
                        service,
                        backend,
                        version,
                        verified: AtomicU64::new(dials.count()),
                        dials: dials.clone(),
                        broken: OnceLock::new(),
                    });
                }
                Err(status)
                    if status.code() == Code::Unimplemented && status.source().is_none() =>
                {
                    tried.push((version, status))
                }
                Err(status) => return Err(failure(rpc, &endpoint, &dials, Some(&due), status)),
            }
        }
        Err(Error::NoSupportedVersion {
            endpoint: endpoint.clone(),
            tried,
        })
    };
    deadline::bound(Some(due), negotiate, missed(rpc)).await
}

impl Client {
    /// Fails when the connection was found speaking another version; after a re-dial,
    /// verifies the negotiated version again (within the calling RPC's deadline).
    pub(crate) async fn ready(
        &self,
        connection: &Connection,
        due: Option<Due>,
    ) -> Result<(), Error> {
        let changed = |status: &Status| Error::VersionChanged {
            endpoint: connection.endpoint.clone(),
            negotiated: connection.version,
            status: status.clone(),
        };
        if let Some(status) = connection.broken.get() {
            return Err(changed(status));
        }
        let dials = connection.dials.count();
        if dials == connection.verified.load(Ordering::SeqCst) {
            return Ok(());
        }
        let timeout = due.map(|due| due.remaining());
        match probe(
            &connection.backend,
            connection.service,
            self.limits,
            timeout,
        )
        .await
        {
            Ok(()) => {
                connection.verified.store(dials, Ordering::SeqCst);
                Ok(())
            }
            Err(status) if status.code() == Code::Unimplemented && status.source().is_none() => {
                let status = connection.broken.get_or_init(|| status);
                Err(changed(status))
            }
            Err(status) => Err(failure(
                probe_rpc(connection.service),
                &connection.endpoint,
                &connection.dials,
                due.as_ref(),
                status,
            )),
        }
    }
}
