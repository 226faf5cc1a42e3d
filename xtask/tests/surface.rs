//! The API surface of each version, snapshotted: after vendoring a new upstream tag,
//! `cargo insta review` shows exactly what upstream changed.

use xtask::{API_VERSIONS, PROTO_DIR, compile, surface, workspace_root};

#[test]
fn api_surface() {
    for version in &API_VERSIONS {
        let compiler = compile(&workspace_root().join(PROTO_DIR), version).unwrap();
        let text = surface::render(&compiler.descriptor_pool(), version.package);
        insta::assert_snapshot!(version.name, text);
    }
}
