//! `cri-client` against a real runtime: containerd 1.6 serves runtime.v1 (and v1alpha2) but
//! none of the Kubernetes 1.36 `Stream*` RPCs, so the client negotiates v1 and its list calls
//! fall back from streaming to unary, as the kubelet's do.

use cri_api_v1 as v1;
use cri_client::{ApiVersion, Client, List, VersionPolicy};
use cri_tests::containerd::{Containerd, IMAGE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_negotiates_v1_and_falls_back_from_streaming() {
    let containerd = Containerd::start();
    for policy in [VersionPolicy::V1Only, VersionPolicy::PreferV1] {
        let client = Client::builder(containerd.endpoint())
            .version_policy(policy)
            .list_streaming(true)
            .connect()
            .await
            .unwrap();
        assert_eq!(client.runtime_api_version(), ApiVersion::V1);
        assert_eq!(client.image_api_version(), ApiVersion::V1);
        let version = client.version(v1::VersionRequest::default()).await.unwrap();
        assert_eq!(
            (
                version.runtime_name.as_str(),
                version.runtime_api_version.as_str()
            ),
            ("containerd", "v1")
        );

        for list in [
            List::Containers,
            List::PodSandboxes,
            List::Images,
            List::ContainerStats,
            List::PodSandboxStats,
        ] {
            assert!(client.streams(list), "{list:?} starts on the streaming RPC");
        }
        assert!(
            client
                .list_containers(v1::ListContainersRequest::default())
                .await
                .is_ok()
        );
        assert!(
            client
                .list_pod_sandbox(v1::ListPodSandboxRequest::default())
                .await
                .is_ok()
        );
        let images = client
            .list_images(v1::ListImagesRequest::default())
            .await
            .unwrap()
            .images;
        assert!(
            images
                .iter()
                .any(|i| i.repo_tags.iter().any(|t| t == IMAGE)),
            "{images:?}"
        );
        assert!(
            client
                .list_container_stats(v1::ListContainerStatsRequest::default())
                .await
                .is_ok()
        );
        assert!(
            client
                .list_pod_sandbox_stats(v1::ListPodSandboxStatsRequest::default())
                .await
                .is_ok()
        );
        for list in [
            List::Containers,
            List::PodSandboxes,
            List::Images,
            List::ContainerStats,
            List::PodSandboxStats,
        ] {
            assert!(
                !client.streams(list),
                "{list:?} fell back to the unary RPC and remembers it"
            );
        }
        // containerd 1.6 has neither ListPodSandboxMetrics nor its stream: the fallback's
        // unary call reports UNIMPLEMENTED as an RPC error.
        let error = client
            .list_pod_sandbox_metrics(v1::ListPodSandboxMetricsRequest {})
            .await
            .unwrap_err();
        assert_eq!(error.code(), Some(tonic::Code::Unimplemented), "{error}");
    }
}
