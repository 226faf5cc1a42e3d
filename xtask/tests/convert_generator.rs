//! The conversion generator refuses differences between the versions that it cannot map, and
//! names each of them.

mod common;

use common::scratch_workspace;
use xtask::{PROTO_DIR, V1, codegen};

fn edit_v1_proto(root: &std::path::Path, edits: &[(&str, &str)]) {
    let path = root.join(PROTO_DIR).join(V1.proto);
    let mut text = std::fs::read_to_string(&path).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "{from} not in the proto");
        text = text.replacen(from, to, 1);
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn unmappable_differences_are_errors_that_name_them() {
    let scratch = scratch_workspace();
    edit_v1_proto(
        scratch.path(),
        &[
            // A changed type, a removed field, a changed cardinality, a removed message.
            (
                "message ContainerMetadata {\n    // Name of the container. Same as the container name in the PodSpec.\n    string name = 1;\n    // Attempt number of creating the container. Default: 0.\n    uint32 attempt = 2;",
                "message ContainerMetadata {\n    string name = 1;\n    string attempt = 2;",
            ),
            (
                "    string container_path = 1;\n",
                "    string container_path_moved = 99;\n",
            ),
            (
                "    repeated string servers = 1;",
                "    string servers = 1;",
            ),
        ],
    );
    let error = format!("{:#}", codegen::generate(scratch.path()).unwrap_err());
    for expected in [
        "cannot map",
        "ContainerMetadata.attempt (field 2): its type changed from uint32 to string",
        "Mount.container_path (field 1) was removed in runtime.v1",
        "DNSConfig.servers (field 1): its cardinality changed (repeated in runtime.v1alpha2, singular in runtime.v1)",
        "xtask/src/convert.rs",
    ] {
        assert!(error.contains(expected), "`{expected}` not in:\n{error}");
    }
}

#[test]
fn renamed_fields_with_the_same_number_and_type_still_map() {
    // Upstream renames without a new API version; fields pair by number, so this converts.
    let scratch = scratch_workspace();
    edit_v1_proto(
        scratch.path(),
        &[(
            "    repeated string servers = 1;",
            "    repeated string nameservers = 1;",
        )],
    );
    let files = codegen::generate(scratch.path()).unwrap();
    let messages = String::from_utf8(
        files[&std::path::PathBuf::from("crates/cri-convert/src/generated/messages.rs")].clone(),
    )
    .unwrap();
    assert!(
        messages.contains("nameservers: servers,"),
        "upgrade maps the renamed field"
    );
    assert!(
        messages.contains("servers: nameservers,"),
        "downgrade maps it back"
    );
}
