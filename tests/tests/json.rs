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

// ---- options and edge values (issue 10) -------------------------------------------------------

use cri_api_v1::json::{self as json1, JsonOptions};

#[test]
fn options_change_what_is_written() {
    let status = cri_api_v1::ContainerStatus {
        id: "c1".into(),
        created_at: 5,
        ..Default::default()
    };
    let defaults =
        serde_json::to_value(json1::with_options(&status, JsonOptions::crictl())).unwrap();
    assert_eq!(defaults["state"], json!("CONTAINER_CREATED"));
    assert_eq!(defaults["startedAt"], json!("0"));
    assert_eq!(defaults["labels"], json!({}));
    assert_eq!(defaults["mounts"], json!([]));
    assert_eq!(defaults["exitCode"], json!(0));
    assert!(
        defaults.get("metadata").is_none(),
        "unset messages stay out: {defaults}"
    );

    let proto = JsonOptions::new()
        .proto_field_names(true)
        .enums_as_numbers(true)
        .emit_defaults(true);
    let value = serde_json::to_value(json1::with_options(&status, proto)).unwrap();
    assert_eq!(value["created_at"], json!("5"));
    assert_eq!(value["state"], json!(0));
    assert!(value.get("createdAt").is_none());

    let text = r#"{"id":"c1","createdAt":"5","newField":{"x":[1]},"state":"CONTAINER_FUTURE"}"#;
    assert!(json1::from_str::<cri_api_v1::ContainerStatus>(text, JsonOptions::new()).is_err());
    let parsed: cri_api_v1::ContainerStatus =
        json1::from_str(text, JsonOptions::new().ignore_unknown_fields(true)).unwrap();
    assert_eq!(parsed, status);
}

#[test]
fn open_enums_non_finite_doubles_and_nulls() {
    let status = cri_api_v1::ContainerStatus {
        state: 42,
        ..Default::default()
    };
    let text = serde_json::to_string(&status).unwrap();
    assert_eq!(text, r#"{"state":42}"#);
    assert_eq!(
        serde_json::from_str::<cri_api_v1::ContainerStatus>(&text).unwrap(),
        status
    );

    let psi = cri_api_v1::PsiData {
        avg10: f64::NAN,
        avg60: f64::INFINITY,
        avg300: -0.0,
        total: u64::MAX,
    };
    let text = serde_json::to_string(&psi).unwrap();
    assert_eq!(
        text,
        r#"{"Total":"18446744073709551615","Avg10":"NaN","Avg60":"Infinity","Avg300":-0.0}"#
    );
    let back: cri_api_v1::PsiData = serde_json::from_str(&text).unwrap();
    assert!(back.avg10.is_nan() && back.avg60 == f64::INFINITY);
    assert_eq!(back.avg300.to_bits(), (-0.0f64).to_bits());
    assert!(serde_json::from_str::<cri_api_v1::PsiData>(r#"{"Avg10":"nan"}"#).is_err());

    let tiny = cri_api_v1::PsiData {
        avg60: f64::from_bits(0x0500000143740007),
        ..Default::default()
    };
    let back: cri_api_v1::PsiData =
        serde_json::from_str(&serde_json::to_string(&tiny).unwrap()).unwrap();
    assert_eq!(back.avg60.to_bits(), 0x0500000143740007);

    let nulls: cri_api_v1::ContainerStatus = serde_json::from_str(
        r#"{"createdAt":null,"labels":null,"mounts":null,"state":null,"metadata":null,"id":null}"#,
    )
    .unwrap();
    assert_eq!(nulls, Default::default());

    for (text, expected) in [
        (r#"{"createdAt":1e3}"#, 1000),
        (r#"{"createdAt":"1e3"}"#, 1000),
        (r#"{"createdAt":1.0}"#, 1),
        (r#"{"createdAt":-0}"#, 0),
        (r#"{"createdAt":"-9223372036854775808"}"#, i64::MIN),
    ] {
        let parsed: cri_api_v1::ContainerStatus = serde_json::from_str(text).unwrap();
        assert_eq!(parsed.created_at, expected, "{text}");
    }
    for text in [
        r#"{"createdAt":1.5}"#,
        r#"{"createdAt":"9223372036854775808"}"#,
        r#"{"exitCode":2147483648}"#,
        r#"{"createdAt":" 1"}"#,
        r#"{"createdAt":true}"#,
        r#"{"labels":{"a":"1","a":"2"}}"#,
        r#"{"createdAt":"1","created_at":"2"}"#,
        r#"{"mounts":[null]}"#,
    ] {
        let error = serde_json::from_str::<cri_api_v1::ContainerStatus>(text);
        assert!(error.is_err(), "{text} parsed: {error:?}");
    }
}

#[test]
fn unknown_enum_numbers_survive_upgrade_and_print() {
    use cri_convert::Upgrade;
    // A v1alpha2 runtime newer than this crate reports a state it does not know.
    let old = cri_api_v1alpha2::ListContainersResponse {
        containers: vec![cri_api_v1alpha2::Container {
            id: "c1".into(),
            state: 42,
            ..Default::default()
        }],
    };
    assert_eq!(
        serde_json::to_string(&old).unwrap(),
        r#"{"containers":[{"id":"c1","state":42}]}"#
    );
    let new = old.upgrade();
    let text = serde_json::to_string(&new).unwrap();
    assert_eq!(text, r#"{"containers":[{"id":"c1","state":42}]}"#);
    let crictl = json1::to_string(&new, JsonOptions::crictl()).unwrap();
    assert!(crictl.contains(r#""state":42"#), "{crictl}");
    assert_eq!(
        serde_json::from_str::<cri_api_v1::ListContainersResponse>(&text).unwrap(),
        new
    );
}
