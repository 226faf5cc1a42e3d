//! Canonical proto3 JSON (the `serde` feature, pbjson) of the kubelet's hot list and stats
//! responses at 1,000 and 10,000 items: `serde_json::to_vec` and `serde_json::from_slice`, in
//! items/s and in bytes/s of JSON.

mod common;

use common::List;
use cri_api_v1 as v1;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde::{Serialize, de::DeserializeOwned};
use std::hint::black_box;

fn bench<M: List + Serialize + DeserializeOwned>(c: &mut Criterion) {
    let mut group = c.benchmark_group(M::NAME);
    for n in cri_benches::SIZES {
        let value = M::make(n);
        assert_eq!(value.items(), n);
        let json = serde_json::to_vec(&value).unwrap();
        assert!(serde_json::from_slice::<M>(&json).unwrap() == value);
        group.throughput(Throughput::ElementsAndBytes {
            elements: n as u64,
            bytes: json.len() as u64,
        });
        let mut buf = Vec::with_capacity(json.len());
        group.bench_function(BenchmarkId::new("json-serialize", n), |b| {
            b.iter(|| {
                buf.clear();
                serde_json::to_writer(&mut buf, &value).unwrap();
                black_box(buf.len())
            })
        });
        group.bench_function(BenchmarkId::new("json-parse", n), |b| {
            b.iter(|| serde_json::from_slice::<M>(black_box(&json)).unwrap())
        });
    }
    group.finish();
}

fn json(c: &mut Criterion) {
    bench::<v1::ListContainersResponse>(c);
    bench::<v1::ListPodSandboxResponse>(c);
    bench::<v1::ListContainerStatsResponse>(c);
    bench::<v1::ListImagesResponse>(c);
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = json
}
criterion_main!(benches);
