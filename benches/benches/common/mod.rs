//! What every bench target shares.

use std::time::Duration;

use cri_api_v1 as v1;
use criterion::Criterion;

/// Short defaults (the command line overrides them) so that the whole suite takes minutes.
pub fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

/// The four benchmarked responses of `runtime.v1`: name, generator, number of items.
pub trait List: prost::Message + Default + Clone + PartialEq + 'static {
    const NAME: &'static str;
    fn make(n: usize) -> Self;
    fn items(&self) -> usize;
}

impl List for v1::ListContainersResponse {
    const NAME: &'static str = "ListContainersResponse";
    fn make(n: usize) -> Self {
        cri_benches::list_containers(n)
    }
    fn items(&self) -> usize {
        self.containers.len()
    }
}

impl List for v1::ListPodSandboxResponse {
    const NAME: &'static str = "ListPodSandboxResponse";
    fn make(n: usize) -> Self {
        cri_benches::list_pod_sandboxes(n)
    }
    fn items(&self) -> usize {
        self.items.len()
    }
}

impl List for v1::ListContainerStatsResponse {
    const NAME: &'static str = "ListContainerStatsResponse";
    fn make(n: usize) -> Self {
        cri_benches::list_container_stats(n)
    }
    fn items(&self) -> usize {
        self.stats.len()
    }
}

impl List for v1::ListImagesResponse {
    const NAME: &'static str = "ListImagesResponse";
    fn make(n: usize) -> Self {
        cri_benches::list_images(n)
    }
    fn items(&self) -> usize {
        self.images.len()
    }
}
