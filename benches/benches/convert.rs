//! Conversion between `runtime.v1alpha2` and `runtime.v1` through `cri-convert`, at 1,000 and
//! 10,000 items, in items/s and in bytes/s of the value's protobuf encoding (so that the figures
//! compare directly with `decode` in the `wire` bench).
//!
//! - `upgrade`: a v1alpha2 response (what an older runtime sends: the v1 payload re-read as
//!   v1alpha2) into v1.
//! - `downgrade`: a v1 response that v1alpha2 can carry whole (the upgraded one) back, exactly.
//! - `downgrade-lossy`: the full v1 payload, whose v1-only fields (such as `Container.image_id`)
//!   are dropped and listed in the report.
//!
//! The input is cloned outside the timing, and the output dropped outside it: the figure is the
//! cost a conversion adds to a decode (which frees the value it makes, whichever version).

mod common;

use common::List;
use cri_api_v1 as v1;
use cri_api_v1alpha2 as v1alpha2;
use cri_convert::{Downgrade, Upgrade};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn bench<M, A>(c: &mut Criterion)
where
    M: List + Downgrade<Output = A>,
    A: prost::Message + Default + Clone + Upgrade<Output = M>,
{
    let mut group = c.benchmark_group(M::NAME);
    for n in cri_benches::SIZES {
        let full = M::make(n);
        assert_eq!(full.items(), n);
        let alpha: A = cri_benches::reencode(&full);
        let exact = alpha.clone().upgrade();
        assert!(
            exact.clone().downgrade().is_ok(),
            "{} downgrades exactly",
            M::NAME
        );
        group.throughput(Throughput::ElementsAndBytes {
            elements: n as u64,
            bytes: full.encoded_len() as u64,
        });
        group.bench_function(BenchmarkId::new("upgrade", n), |b| {
            b.iter_batched(|| alpha.clone(), Upgrade::upgrade, BatchSize::PerIteration)
        });
        group.bench_function(BenchmarkId::new("downgrade", n), |b| {
            b.iter_batched(
                || exact.clone(),
                |value| value.downgrade().unwrap(),
                BatchSize::PerIteration,
            )
        });
        group.bench_function(BenchmarkId::new("downgrade-lossy", n), |b| {
            b.iter_batched(
                || full.clone(),
                Downgrade::downgrade_lossy,
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

fn convert(c: &mut Criterion) {
    bench::<v1::ListContainersResponse, v1alpha2::ListContainersResponse>(c);
    bench::<v1::ListPodSandboxResponse, v1alpha2::ListPodSandboxResponse>(c);
    bench::<v1::ListContainerStatsResponse, v1alpha2::ListContainerStatsResponse>(c);
    bench::<v1::ListImagesResponse, v1alpha2::ListImagesResponse>(c);
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = convert
}
criterion_main!(benches);
