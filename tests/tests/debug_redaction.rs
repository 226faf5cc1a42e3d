//! `Debug` never prints the fields upstream marks `debug_redact` (AuthConfig's secrets), in
//! either API version, alone or nested in a request.

const SECRETS: [&str; 4] = [
    "s3cr3t-password",
    "dXNlcjpwYXNz-auth",
    "identity-tok3n",
    "registry-tok3n",
];

macro_rules! auth_config {
    ($api:ident) => {
        $api::AuthConfig {
            username: "alice".into(),
            password: SECRETS[0].into(),
            auth: SECRETS[1].into(),
            server_address: "registry.example".into(),
            identity_token: SECRETS[2].into(),
            registry_token: SECRETS[3].into(),
        }
    };
}

fn assert_redacted(printed: &str) {
    for secret in SECRETS {
        assert!(!printed.contains(secret), "{secret} leaked in {printed}");
    }
    assert!(
        printed.contains("alice") && printed.contains("registry.example"),
        "{printed}"
    );
    assert_eq!(printed.matches("<redacted>").count(), 4, "{printed}");
}

#[test]
fn v1_auth_config_hides_its_secrets() {
    let auth = auth_config!(cri_api_v1);
    assert_redacted(&format!("{auth:?}"));
    assert_redacted(&format!("{auth:#?}"));
    let request = cri_api_v1::PullImageRequest {
        auth: Some(auth),
        ..Default::default()
    };
    assert_redacted(&format!("{request:?}"));
}

#[test]
fn v1alpha2_auth_config_hides_its_secrets() {
    let auth = auth_config!(cri_api_v1alpha2);
    assert_redacted(&format!("{auth:?}"));
    let request = cri_api_v1alpha2::PullImageRequest {
        auth: Some(auth),
        ..Default::default()
    };
    assert_redacted(&format!("{request:?}"));
}

#[test]
fn unset_secrets_say_so() {
    let auth = cri_api_v1::AuthConfig {
        username: "bob".into(),
        ..Default::default()
    };
    let printed = format!("{auth:?}");
    assert_eq!(printed.matches("<unset>").count(), 4, "{printed}");
    assert!(!printed.contains("<redacted>"), "{printed}");
}
