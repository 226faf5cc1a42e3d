//! What the kubelet requires of a runtime's answers, checked as it does: one function per
//! checked RPC, returning the missing fields by their proto paths. Which RPCs are checked, and
//! for what, is listed once, on
//! [`ClientBuilder::validate_responses`](crate::ClientBuilder::validate_responses); the
//! generator (`xtask/src/client.rs`, `VALIDATED`) wires each function to its RPC.

use cri_api_v1 as v1;

/// The fields a response lacks, by their proto paths (empty: complete).
pub(crate) type Missing = Vec<&'static str>;

/// For the RPCs the kubelet does not check.
pub(crate) fn nothing<T>(_: &T) -> Missing {
    Vec::new()
}

fn require(missing: &mut Missing, present: bool, field: &'static str) {
    if !present {
        missing.push(field);
    }
}

pub(crate) fn version(response: &v1::VersionResponse) -> Missing {
    let mut missing = Vec::new();
    require(&mut missing, !response.version.is_empty(), "version");
    require(
        &mut missing,
        !response.runtime_name.is_empty(),
        "runtime_name",
    );
    require(
        &mut missing,
        !response.runtime_version.is_empty(),
        "runtime_version",
    );
    require(
        &mut missing,
        !response.runtime_api_version.is_empty(),
        "runtime_api_version",
    );
    missing
}

pub(crate) fn status(response: &v1::StatusResponse) -> Missing {
    let mut missing = Vec::new();
    match &response.status {
        None => missing.push("status"),
        // The kubelet counts them (its `RuntimeReady` and `NetworkReady`), as here.
        Some(status) => require(
            &mut missing,
            status.conditions.len() >= 2,
            "status.conditions",
        ),
    }
    missing
}

pub(crate) fn run_pod_sandbox(response: &v1::RunPodSandboxResponse) -> Missing {
    let mut missing = Vec::new();
    require(
        &mut missing,
        !response.pod_sandbox_id.is_empty(),
        "pod_sandbox_id",
    );
    missing
}

pub(crate) fn create_container(response: &v1::CreateContainerResponse) -> Missing {
    let mut missing = Vec::new();
    require(
        &mut missing,
        !response.container_id.is_empty(),
        "container_id",
    );
    missing
}

pub(crate) fn pod_sandbox_status(response: &v1::PodSandboxStatusResponse) -> Missing {
    let mut missing = Vec::new();
    let Some(status) = &response.status else {
        return missing;
    };
    require(&mut missing, !status.id.is_empty(), "status.id");
    match &status.metadata {
        None => missing.push("status.metadata"),
        Some(metadata) => {
            require(
                &mut missing,
                !metadata.name.is_empty(),
                "status.metadata.name",
            );
            require(
                &mut missing,
                !metadata.namespace.is_empty(),
                "status.metadata.namespace",
            );
            require(
                &mut missing,
                !metadata.uid.is_empty(),
                "status.metadata.uid",
            );
        }
    }
    require(&mut missing, status.created_at != 0, "status.created_at");
    missing
}

pub(crate) fn container_status(response: &v1::ContainerStatusResponse) -> Missing {
    let mut missing = Vec::new();
    let Some(status) = &response.status else {
        return missing;
    };
    require(&mut missing, !status.id.is_empty(), "status.id");
    match &status.metadata {
        None => missing.push("status.metadata"),
        Some(metadata) => require(
            &mut missing,
            !metadata.name.is_empty(),
            "status.metadata.name",
        ),
    }
    require(&mut missing, status.created_at != 0, "status.created_at");
    require(
        &mut missing,
        status
            .image
            .as_ref()
            .is_some_and(|image| !image.image.is_empty()),
        "status.image.image",
    );
    require(
        &mut missing,
        !status.image_ref.is_empty(),
        "status.image_ref",
    );
    missing
}

pub(crate) fn image_status(response: &v1::ImageStatusResponse) -> Missing {
    let mut missing = Vec::new();
    if let Some(image) = &response.image {
        require(&mut missing, !image.id.is_empty(), "image.id");
        require(&mut missing, image.size != 0, "image.size");
    }
    missing
}

pub(crate) fn pull_image(response: &v1::PullImageResponse) -> Missing {
    let mut missing = Vec::new();
    require(&mut missing, !response.image_ref.is_empty(), "image_ref");
    missing
}

pub(crate) fn exec(response: &v1::ExecResponse) -> Missing {
    url(&response.url)
}

pub(crate) fn attach(response: &v1::AttachResponse) -> Missing {
    url(&response.url)
}

pub(crate) fn port_forward(response: &v1::PortForwardResponse) -> Missing {
    url(&response.url)
}

fn url(url: &str) -> Missing {
    let mut missing = Vec::new();
    require(&mut missing, !url.is_empty(), "url");
    missing
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_names_each_missing_field() {
        let response = v1::VersionResponse {
            version: "0.1.0".into(),
            runtime_name: String::new(),
            runtime_version: String::new(),
            runtime_api_version: "v1".into(),
        };
        assert_eq!(version(&response), ["runtime_name", "runtime_version"]);
    }

    #[test]
    fn created_ids_and_the_runtimes_two_conditions() {
        assert_eq!(
            run_pod_sandbox(&v1::RunPodSandboxResponse::default()),
            ["pod_sandbox_id"]
        );
        assert_eq!(
            create_container(&v1::CreateContainerResponse::default()),
            ["container_id"]
        );
        assert_eq!(status(&v1::StatusResponse::default()), ["status"]);
        let condition = |kind: &str| v1::RuntimeCondition {
            r#type: kind.into(),
            status: true,
            ..Default::default()
        };
        let mut response = v1::StatusResponse {
            status: Some(v1::RuntimeStatus {
                conditions: vec![condition("RuntimeReady")],
            }),
            ..Default::default()
        };
        assert_eq!(status(&response), ["status.conditions"]);
        response
            .status
            .as_mut()
            .unwrap()
            .conditions
            .push(condition("NetworkReady"));
        assert!(status(&response).is_empty());
    }

    #[test]
    fn statuses_only_when_present() {
        assert!(container_status(&v1::ContainerStatusResponse::default()).is_empty());
        assert!(pod_sandbox_status(&v1::PodSandboxStatusResponse::default()).is_empty());
        assert!(image_status(&v1::ImageStatusResponse::default()).is_empty());
        let response = v1::ContainerStatusResponse {
            status: Some(v1::ContainerStatus {
                id: "c".into(),
                created_at: 1,
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            container_status(&response),
            ["status.metadata", "status.image.image", "status.image_ref"]
        );
        let response = v1::PodSandboxStatusResponse {
            status: Some(v1::PodSandboxStatus {
                metadata: Some(v1::PodSandboxMetadata {
                    name: "p".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            pod_sandbox_status(&response),
            [
                "status.id",
                "status.metadata.namespace",
                "status.metadata.uid",
                "status.created_at"
            ]
        );
    }
}
