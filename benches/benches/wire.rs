//! Protobuf encoding and decoding of the kubelet's hot list and stats responses (`runtime.v1`)
//! at 1,000 and 10,000 items, in items/s and in bytes/s of protobuf.
//!
//! `decode` is `Message::decode` from a byte slice with the value dropped inside the timing (a
//! client reads the list and lets it go); `encode` writes into a reused buffer, as tonic does.

mod common;

use common::List;
use cri_api_v1 as v1;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn bench<M: List>(c: &mut Criterion) {
    let mut group = c.benchmark_group(M::NAME);
    for n in cri_benches::SIZES {
        let value = M::make(n);
        assert_eq!(value.items(), n);
        let bytes = value.encode_to_vec();
        group.throughput(Throughput::ElementsAndBytes {
            elements: n as u64,
            bytes: bytes.len() as u64,
        });
        let mut buf = Vec::with_capacity(bytes.len());
        group.bench_function(BenchmarkId::new("encode", n), |b| {
            b.iter(|| {
                buf.clear();
                value.encode(&mut buf).unwrap();
                black_box(buf.len())
            })
        });
        group.bench_function(BenchmarkId::new("decode", n), |b| {
            b.iter(|| M::decode(black_box(bytes.as_slice())).unwrap())
        });
    }
    group.finish();
}

fn wire(c: &mut Criterion) {
    bench::<v1::ListContainersResponse>(c);
    bench::<v1::ListPodSandboxResponse>(c);
    bench::<v1::ListContainerStatsResponse>(c);
    bench::<v1::ListImagesResponse>(c);
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = wire
}
criterion_main!(benches);
