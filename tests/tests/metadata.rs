//! What the crates publish besides the types: descriptor sets, provenance, constants.

use prost::Message;

fn descriptor_set(bytes: &[u8]) -> prost_types::FileDescriptorSet {
    prost_types::FileDescriptorSet::decode(bytes).expect("the published descriptor set decodes")
}

fn methods(set: &prost_types::FileDescriptorSet, package: &str, service: &str) -> Vec<String> {
    let file = set
        .file
        .iter()
        .find(|f| f.package() == package)
        .expect("the API file is in the set");
    let service = file
        .service
        .iter()
        .find(|s| s.name() == service)
        .expect("the service is declared");
    service
        .method
        .iter()
        .map(|m| m.name().to_string())
        .collect()
}

#[test]
fn descriptor_sets_describe_the_services() {
    let v1 = descriptor_set(cri_api_v1::FILE_DESCRIPTOR_SET);
    let rpcs = methods(&v1, cri_api_v1::PACKAGE, "RuntimeService");
    for rpc in [
        "Version",
        "RunPodSandbox",
        "StreamContainers",
        "GetContainerEvents",
        "RuntimeConfig",
    ] {
        assert!(rpcs.iter().any(|m| m == rpc), "{rpc} missing from {rpcs:?}");
    }
    assert!(
        methods(&v1, "runtime.v1", "ImageService")
            .iter()
            .any(|m| m == "StreamImages")
    );

    let v1alpha2 = descriptor_set(cri_api_v1alpha2::FILE_DESCRIPTOR_SET);
    let rpcs = methods(&v1alpha2, cri_api_v1alpha2::PACKAGE, "RuntimeService");
    assert!(rpcs.iter().any(|m| m == "ExecSync"));
    assert!(!rpcs.iter().any(|m| m.starts_with("Stream")));
    // Its import travels with it, so reflection clients can resolve the options.
    assert!(
        v1alpha2
            .file
            .iter()
            .any(|f| f.name().ends_with("gogoproto/gogo.proto"))
    );
}

#[test]
fn provenance_matches_the_lock() {
    let lock = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../proto/upstream.lock"
    ))
    .unwrap();
    for (tag, commit, sha) in [
        (
            cri_api_v1::UPSTREAM_TAG,
            cri_api_v1::UPSTREAM_COMMIT,
            cri_api_v1::PROTO_SHA256,
        ),
        (
            cri_api_v1alpha2::UPSTREAM_TAG,
            cri_api_v1alpha2::UPSTREAM_COMMIT,
            cri_api_v1alpha2::PROTO_SHA256,
        ),
    ] {
        assert_eq!(commit.len(), 40);
        let entry = format!("ref = \"{tag}\"\ncommit = \"{commit}\"");
        assert!(lock.contains(&entry), "{entry} not in the lock");
        assert!(lock.contains(&format!("sha256 = \"{sha}\"")));
    }
    assert_eq!(
        cri_api_v1::UPSTREAM_REPOSITORY,
        "https://github.com/kubernetes/cri-api"
    );
    assert_eq!(cri_api_v1alpha2::UPSTREAM_TAG, "v0.25.16");
}

#[test]
fn upstream_constants() {
    assert_eq!(cri_api_v1::condition::RUNTIME_READY, "RuntimeReady");
    assert_eq!(cri_api_v1::condition::NETWORK_READY, "NetworkReady");
    assert_eq!(cri_api_v1alpha2::log::STDERR, "stderr");
    let line = format!(
        "2026-01-01T00:00:00Z {} {} hello",
        cri_api_v1::log::STDOUT,
        cri_api_v1::log::TAG_FULL
    );
    assert_eq!(line, "2026-01-01T00:00:00Z stdout F hello");
}

#[test]
fn encoding_is_deterministic_whatever_the_insertion_order() {
    let mut a = cri_api_v1::PodSandboxConfig::default();
    let mut b = cri_api_v1::PodSandboxConfig::default();
    for i in 0..50 {
        a.labels.insert(format!("label-{i}"), i.to_string());
        b.labels
            .insert(format!("label-{}", 49 - i), (49 - i).to_string());
    }
    assert_eq!(a.encode_to_vec(), b.encode_to_vec());
    let decoded = cri_api_v1::PodSandboxConfig::decode(a.encode_to_vec().as_slice()).unwrap();
    assert_eq!(decoded, a);
}

#[test]
fn decoding_garbage_is_an_error_not_a_panic() {
    let error =
        cri_api_v1::ListContainersResponse::decode(&[0x0a, 0xff, 0xff, 0xff][..]).unwrap_err();
    assert!(!error.to_string().is_empty());
}

#[test]
fn every_message_is_listed_and_named() {
    fn names(set: &prost_types::FileDescriptorSet, package: &str) -> Vec<String> {
        fn walk(prefix: &str, messages: &[prost_types::DescriptorProto], out: &mut Vec<String>) {
            for m in messages {
                let name = format!("{prefix}.{}", m.name());
                if !m.options.as_ref().is_some_and(|o| o.map_entry()) {
                    out.push(name.clone());
                }
                walk(&name, &m.nested_type, out);
            }
        }
        let mut out = Vec::new();
        for file in set.file.iter().filter(|f| f.package() == package) {
            walk(package, &file.message_type, &mut out);
        }
        out.sort();
        out
    }
    let mut v1 = Vec::new();
    let mut v1alpha2 = Vec::new();
    macro_rules! push_v1 {
        ($ty:ty, $name:literal) => {
            assert_eq!(<$ty as prost::Name>::full_name(), $name);
            v1.push($name.to_string());
        };
    }
    macro_rules! push_v1alpha2 {
        ($ty:ty, $name:literal) => {
            assert_eq!(<$ty as prost::Name>::full_name(), $name);
            v1alpha2.push($name.to_string());
        };
    }
    cri_api_v1::__for_each_message!(push_v1);
    cri_api_v1alpha2::__for_each_message!(push_v1alpha2);
    v1.sort();
    v1alpha2.sort();
    assert_eq!(
        v1,
        names(
            &descriptor_set(cri_api_v1::FILE_DESCRIPTOR_SET),
            "runtime.v1"
        )
    );
    assert_eq!(
        v1alpha2,
        names(
            &descriptor_set(cri_api_v1alpha2::FILE_DESCRIPTOR_SET),
            "runtime.v1alpha2"
        )
    );
}
