//! Specific conversions: paths in reports, the non-mechanical field, enum values, messages.

use cri_api_v1 as v1;
use cri_api_v1alpha2 as v1alpha2;
use cri_convert::{Downgrade, Reason, Upgrade};

fn container_with(status_user: bool, env_value: Vec<u8>) -> v1::CreateContainerRequest {
    v1::CreateContainerRequest {
        pod_sandbox_id: "pod".into(),
        config: Some(v1::ContainerConfig {
            envs: vec![
                v1::KeyValue {
                    key: "A".into(),
                    value: b"fine".to_vec(),
                },
                v1::KeyValue {
                    key: "B".into(),
                    value: env_value,
                },
            ],
            linux: status_user.then(|| v1::LinuxContainerConfig {
                security_context: Some(v1::LinuxContainerSecurityContext {
                    supplemental_groups_policy: 1,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn strict_downgrade_names_every_field_it_cannot_carry() {
    let request = container_with(true, vec![0xff, 0xfe]);
    let error = request.clone().downgrade().unwrap_err();
    let paths: Vec<&str> = error.dropped().iter().map(|d| d.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "config.envs[1].value",
            "config.linux.security_context.supplemental_groups_policy"
        ]
    );
    assert_eq!(error.dropped()[0].reason, Reason::NotUtf8);
    assert_eq!(
        error.dropped()[1].reason,
        Reason::NotInV1alpha2 {
            field: "runtime.v1.LinuxContainerSecurityContext.supplemental_groups_policy"
        }
    );
    assert_eq!(
        error.to_string(),
        "cannot convert runtime.v1.CreateContainerRequest to runtime.v1alpha2 without loss: \
         config.envs[1].value: bytes that are not valid UTF-8 cannot become a runtime.v1alpha2 string; \
         config.linux.security_context.supplemental_groups_policy: \
         runtime.v1.LinuxContainerSecurityContext.supplemental_groups_policy is not in runtime.v1alpha2"
    );

    let (lossy, report) = request.downgrade_lossy();
    assert_eq!(report.dropped(), error.dropped());
    let envs = &lossy.config.unwrap().envs;
    assert_eq!(
        (envs[0].value.as_str(), envs[1].value.as_str()),
        ("fine", "\u{fffd}\u{fffd}")
    );
}

#[test]
fn utf8_bytes_and_default_v1_fields_downgrade_exactly() {
    let request = container_with(false, "ünïcode".as_bytes().to_vec());
    let exact = request.clone().downgrade().unwrap();
    assert_eq!(exact.config.as_ref().unwrap().envs[1].value, "ünïcode");
    assert_eq!(exact.upgrade(), request);
}

#[test]
fn upgrade_moves_string_values_into_bytes() {
    let old = v1alpha2::KeyValue {
        key: "k".into(),
        value: "v".into(),
    };
    assert_eq!(
        old.upgrade(),
        v1::KeyValue {
            key: "k".into(),
            value: b"v".to_vec()
        }
    );
}

#[test]
fn unknown_enum_values_stay_numerically_intact() {
    let status = v1::ContainerStatus {
        state: 42,
        ..Default::default()
    };
    let old = status.clone().downgrade().unwrap();
    assert_eq!(old.state, 42);
    assert_eq!(old.upgrade().state, 42);
}

#[test]
fn map_and_list_paths() {
    let response = v1::ListContainersResponse {
        containers: vec![
            v1::Container::default(),
            v1::Container {
                image_id: "sha256:x".into(),
                ..Default::default()
            },
        ],
    };
    let error = response.downgrade().unwrap_err();
    assert_eq!(error.dropped()[0].path, "containers[1].image_id");

    let status = v1::PodSandboxStatusResponse {
        status: Some(v1::PodSandboxStatus {
            network: Some(v1::PodSandboxNetworkStatus {
                additional_ips: vec![v1::PodIp {
                    ip: "fd00::1".into(),
                }],
                ..Default::default()
            }),
            ..Default::default()
        }),
        info: [("key".to_string(), "value".to_string())].into(),
        ..Default::default()
    };
    let (old, report) = status.downgrade_lossy();
    assert!(report.is_empty(), "{report}");
    assert_eq!(
        old.status.unwrap().network.unwrap().additional_ips[0].ip,
        "fd00::1"
    );
    assert_eq!(old.info["key"], "value");
}
