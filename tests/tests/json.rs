//! The `serde` feature speaks canonical proto3 JSON.

use serde_json::json;

#[test]
fn v1_json_follows_the_proto3_mapping() {
    let status = cri_api_v1::ContainerStatus {
        id: "c1".into(),
        state: cri_api_v1::ContainerState::ContainerExited as i32,
        created_at: 1_700_000_000_123_456_789,
        exit_code: -1,
        labels: [
            ("b".to_string(), "2".to_string()),
            ("a".to_string(), "1".to_string()),
        ]
        .into(),
        image_ref: "sha256:abc".into(),
        ..Default::default()
    };
    let value = serde_json::to_value(&status).unwrap();
    assert_eq!(
        value,
        json!({
            "id": "c1",
            "state": "CONTAINER_EXITED",
            "createdAt": "1700000000123456789",
            "exitCode": -1,
            "labels": {"a": "1", "b": "2"},
            "imageRef": "sha256:abc",
        })
    );
    // Maps are ordered, so the text is deterministic too.
    assert!(
        serde_json::to_string(&status)
            .unwrap()
            .contains(r#""labels":{"a":"1","b":"2"}"#)
    );
    let back: cri_api_v1::ContainerStatus = serde_json::from_value(value).unwrap();
    assert_eq!(back, status);
}

#[test]
fn bytes_are_base64_and_both_name_styles_parse() {
    let kv = cri_api_v1::KeyValue {
        key: "k".into(),
        value: vec![0, 159, 146, 150],
    };
    assert_eq!(
        serde_json::to_value(&kv).unwrap(),
        json!({"key": "k", "value": "AJ+Slg=="})
    );

    let snake: cri_api_v1::ContainerStatus =
        serde_json::from_value(json!({"created_at": "5", "image_ref": "x", "state": 1})).unwrap();
    let camel: cri_api_v1::ContainerStatus = serde_json::from_value(
        json!({"createdAt": 5, "imageRef": "x", "state": "CONTAINER_RUNNING"}),
    )
    .unwrap();
    assert_eq!(snake, camel);
    assert_eq!(camel.created_at, 5);
    assert_eq!(camel.state(), cri_api_v1::ContainerState::ContainerRunning);
}

#[test]
fn bad_json_names_what_was_wrong() {
    let error = serde_json::from_value::<cri_api_v1::ContainerStatus>(json!({"createdAt": "soon"}))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("soon") || error.contains("invalid"),
        "{error}"
    );
    let error = serde_json::from_value::<cri_api_v1::ContainerStatus>(json!({"noSuchField": 1}))
        .unwrap_err()
        .to_string();
    assert!(error.contains("noSuchField"), "{error}");
}

#[test]
fn v1alpha2_json_follows_the_proto3_mapping() {
    let request = cri_api_v1alpha2::ListContainersRequest {
        filter: Some(cri_api_v1alpha2::ContainerFilter {
            pod_sandbox_id: "p1".into(),
            label_selector: [("app".to_string(), "web".to_string())].into(),
            ..Default::default()
        }),
    };
    let value = serde_json::to_value(&request).unwrap();
    assert_eq!(
        value,
        json!({"filter": {"podSandboxId": "p1", "labelSelector": {"app": "web"}}})
    );
    assert_eq!(
        serde_json::from_value::<cri_api_v1alpha2::ListContainersRequest>(value).unwrap(),
        request
    );
}
