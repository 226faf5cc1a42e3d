//! Proto3 JSON (the `serde` feature) of the kubelet's hot list and stats responses at 1,000 and
//! 10,000 items, in items/s and in bytes/s of JSON:
//!
//! - `json-serialize` / `json-parse`: the canonical mapping (plain `Serialize`/`Deserialize`,
//!   `serde_json::to_writer` and `serde_json::from_slice`);
//! - `json-serialize-defaults` / `json-parse-defaults`: with default values written
//!   (`json::with_options(.., JsonOptions::crictl())`, what `crictl -o json` writes), and
//!   parsing that longer text;
//! - `reflect-serialize` / `reflect-parse` (10,000-item lists only): the descriptor-driven
//!   candidate, prost-reflect's serde support over the crate's descriptor set, including the
//!   transcoding between the generated type and a `DynamicMessage` it needs.

mod common;

use common::List;
use cri_api_v1 as v1;
use cri_api_v1::json::{self, JsonOptions};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};
use serde::{Serialize, de::DeserializeOwned};
use std::hint::black_box;

fn bench<M: List + Serialize + DeserializeOwned + json::JsonMessage + prost::Name>(
    c: &mut Criterion,
) {
    let pool = DescriptorPool::decode(v1::FILE_DESCRIPTOR_SET).unwrap();
    let descriptor = pool.get_message_by_name(&M::full_name()).unwrap();
    let mut group = c.benchmark_group(<M as List>::NAME);
    for n in cri_benches::SIZES {
        let value = M::make(n);
        assert_eq!(value.items(), n);
        let json = serde_json::to_vec(&value).unwrap();
        assert!(serde_json::from_slice::<M>(&json).unwrap() == value);
        group.throughput(Throughput::ElementsAndBytes {
            elements: n as u64,
            bytes: json.len() as u64,
        });
        let mut buf = Vec::with_capacity(json.len() * 2);
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

        let crictl = JsonOptions::crictl();
        let long = serde_json::to_vec(&json::with_options(&value, crictl)).unwrap();
        assert!(json::from_slice::<M>(&long, crictl).unwrap() == value);
        group.throughput(Throughput::ElementsAndBytes {
            elements: n as u64,
            bytes: long.len() as u64,
        });
        group.bench_function(BenchmarkId::new("json-serialize-defaults", n), |b| {
            b.iter(|| {
                buf.clear();
                serde_json::to_writer(&mut buf, &json::with_options(&value, crictl)).unwrap();
                black_box(buf.len())
            })
        });
        group.bench_function(BenchmarkId::new("json-parse-defaults", n), |b| {
            b.iter(|| json::from_slice::<M>(black_box(&long), crictl).unwrap())
        });

        if n == 10_000 {
            // The descriptor-driven candidate, writing the same canonical JSON.
            group.throughput(Throughput::ElementsAndBytes {
                elements: n as u64,
                bytes: json.len() as u64,
            });
            let options = SerializeOptions::new();
            let dynamic =
                DynamicMessage::decode(descriptor.clone(), &*prost::Message::encode_to_vec(&value))
                    .unwrap();
            let mut check = Vec::new();
            dynamic
                .serialize_with_options(&mut serde_json::Serializer::new(&mut check), &options)
                .unwrap();
            assert_eq!(
                serde_json::from_slice::<serde_json::Value>(&check).unwrap(),
                serde_json::from_slice::<serde_json::Value>(&json).unwrap()
            );
            group.bench_function(BenchmarkId::new("reflect-serialize", n), |b| {
                b.iter(|| {
                    buf.clear();
                    let mut dynamic = DynamicMessage::new(descriptor.clone());
                    dynamic.transcode_from(&value).unwrap();
                    dynamic
                        .serialize_with_options(
                            &mut serde_json::Serializer::new(&mut buf),
                            &options,
                        )
                        .unwrap();
                    black_box(buf.len())
                })
            });
            group.bench_function(BenchmarkId::new("reflect-parse", n), |b| {
                b.iter(|| {
                    let mut de = serde_json::Deserializer::from_slice(black_box(&json));
                    let dynamic = DynamicMessage::deserialize(descriptor.clone(), &mut de).unwrap();
                    black_box(dynamic.transcode_to::<M>().unwrap())
                })
            });
        }
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
