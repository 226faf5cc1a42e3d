//! The runtime itself: `Version`, `Status` (its conditions, handlers and features),
//! `RuntimeConfig` and `UpdateRuntimeConfig`.

use cri_api_v1 as api;
use tonic::{Request, Response};

use super::Reply;
use crate::FakeRuntime;

pub(super) async fn version(
    rt: &FakeRuntime,
    _: Request<api::VersionRequest>,
) -> Reply<api::VersionResponse> {
    Ok(Response::new(api::VersionResponse {
        version: "0.1.0".into(),
        runtime_name: rt.options().runtime_name.clone(),
        runtime_version: rt.options().runtime_version.clone(),
        runtime_api_version: "v1".into(),
    }))
}

pub(super) async fn status(
    rt: &FakeRuntime,
    request: Request<api::StatusRequest>,
) -> Reply<api::StatusResponse> {
    let condition = |kind: &str| api::RuntimeCondition {
        r#type: kind.to_string(),
        status: true,
        reason: String::new(),
        message: String::new(),
    };
    let mut info = std::collections::BTreeMap::new();
    if request.into_inner().verbose {
        info.insert(
            "config".to_string(),
            format!(
                r#"{{"runtime":"cri-fake","podCIDR":"{}"}}"#,
                rt.read().pod_cidr
            ),
        );
    }
    Ok(Response::new(api::StatusResponse {
        status: Some(api::RuntimeStatus {
            conditions: vec![
                condition(api::condition::RUNTIME_READY),
                condition(api::condition::NETWORK_READY),
            ],
        }),
        info,
        runtime_handlers: vec![api::RuntimeHandler {
            name: String::new(),
            features: Some(api::RuntimeHandlerFeatures {
                recursive_read_only_mounts: true,
                user_namespaces: false,
            }),
        }],
        features: Some(api::RuntimeFeatures {
            supplemental_groups_policy: true,
            user_namespaces_host_network: false,
        }),
    }))
}

pub(super) async fn runtime_config(
    _: Request<api::RuntimeConfigRequest>,
) -> Reply<api::RuntimeConfigResponse> {
    Ok(Response::new(api::RuntimeConfigResponse {
        linux: Some(api::LinuxRuntimeConfiguration {
            cgroup_driver: api::CgroupDriver::Systemd as i32,
        }),
    }))
}

pub(super) async fn update_runtime_config(
    rt: &FakeRuntime,
    request: Request<api::UpdateRuntimeConfigRequest>,
) -> Reply<api::UpdateRuntimeConfigResponse> {
    let cidr = request
        .into_inner()
        .runtime_config
        .and_then(|c| c.network_config)
        .map(|n| n.pod_cidr)
        .unwrap_or_default();
    rt.write().pod_cidr = cidr;
    Ok(Response::new(api::UpdateRuntimeConfigResponse {}))
}
