//! `cargo xtask vendor` against the offline upstream bundles (stand-ins for the real
//! repositories, with the same tags and `Upstream-Commit:` trailers).

mod common;

use std::path::Path;
use std::process::Command;

use common::{scratch_workspace, snapshot_tree, upstream_bundles};
use xtask::vendor::{Options, vendor};
use xtask::{PROTO_DIR, V1, V1ALPHA2, codegen, compile, surface};

fn from_bundles(v1_ref: Option<&str>) -> Options {
    let bundles = upstream_bundles();
    Options {
        cri_api_git: Some(bundles.join("cri-api.bundle").display().to_string()),
        v1_ref: v1_ref.map(str::to_string),
        gogo_git: Some(bundles.join("gogo-protobuf.bundle").display().to_string()),
        ..Options::default()
    }
}

fn v1_surface(root: &Path) -> String {
    let compiler = compile(&root.join(PROTO_DIR), &V1).unwrap();
    surface::render(&compiler.descriptor_pool(), V1.package)
}

/// The runtime.v1 ref of the workspace's lock (it moves with every upstream update).
fn locked_v1_ref() -> String {
    xtask::lock::Lock::read(&xtask::workspace_root().join(PROTO_DIR))
        .unwrap()
        .get(V1.proto)
        .expect("the lock names runtime.v1")
        .git_ref
        .clone()
}

#[test]
fn vendoring_the_pinned_tags_again_changes_nothing() {
    let scratch = scratch_workspace();
    let before = snapshot_tree(&scratch.path().join(PROTO_DIR));
    let outcome = vendor(
        scratch.path(),
        scratch.path(),
        &from_bundles(Some(&locked_v1_ref())),
    )
    .unwrap();
    assert!(outcome.changed.is_empty(), "changed: {:?}", outcome.changed);
    assert_eq!(before, snapshot_tree(&scratch.path().join(PROTO_DIR)));
}

#[test]
fn vendoring_master_shows_the_upstream_changes_and_going_back_restores_the_tree() {
    let scratch = scratch_workspace();
    let root = scratch.path();
    // From v0.36.3, whatever the workspace is locked at: this is a fact of upstream history.
    vendor(root, root, &from_bundles(Some("v0.36.3"))).unwrap();
    let before = snapshot_tree(&root.join(PROTO_DIR));
    let old_surface = v1_surface(root);

    let outcome = vendor(root, root, &from_bundles(Some("master"))).unwrap();
    assert!(
        outcome
            .changed
            .contains(&Path::new(PROTO_DIR).join(V1.proto)),
        "{:?}",
        outcome.changed
    );
    assert!(
        !outcome
            .changed
            .contains(&Path::new(PROTO_DIR).join(V1ALPHA2.proto))
    );
    let lock = std::fs::read_to_string(root.join("proto/upstream.lock")).unwrap();
    assert!(lock.contains("ref = \"master\""), "{lock}");

    // Regeneration works on the new tree, and the surface diff names what upstream added.
    let files = codegen::generate(root).unwrap();
    codegen::write(root, &files).unwrap();
    let new_surface = v1_surface(root);
    let added: Vec<&str> = similar::TextDiff::from_lines(&old_surface, &new_surface)
        .iter_all_changes()
        .filter(|c| c.tag() == similar::ChangeTag::Insert)
        .map(|c| c.value())
        .collect();
    for expected in [
        "rpc RuntimeService.CheckpointPod(",
        "rpc RuntimeService.RestorePod(",
        "field Mount.mount_options = ",
    ] {
        assert!(
            added.iter().any(|line| line.starts_with(expected)),
            "{expected} not in {added:#?}"
        );
    }

    let outcome = vendor(root, root, &from_bundles(Some("v0.36.3"))).unwrap();
    assert!(!outcome.changed.is_empty());
    assert_eq!(
        before,
        snapshot_tree(&root.join(PROTO_DIR)),
        "proto/ is not restored byte for byte"
    );
}

#[test]
fn an_unknown_ref_leaves_proto_untouched_and_names_the_ref() {
    let scratch = scratch_workspace();
    let before = snapshot_tree(&scratch.path().join(PROTO_DIR));
    let error = vendor(
        scratch.path(),
        scratch.path(),
        &from_bundles(Some("v9.9.9")),
    )
    .unwrap_err();
    let message = format!("{error:#}");
    assert!(
        message.contains("v9.9.9") && message.contains("cri-api.bundle"),
        "{message}"
    );
    assert_eq!(before, snapshot_tree(&scratch.path().join(PROTO_DIR)));
}

#[test]
fn an_unreachable_source_leaves_proto_untouched() {
    let scratch = scratch_workspace();
    let before = snapshot_tree(&scratch.path().join(PROTO_DIR));
    let options = Options {
        cri_api_git: Some(
            scratch
                .path()
                .join("no-such-repository")
                .display()
                .to_string(),
        ),
        ..from_bundles(None)
    };
    let message = format!(
        "{:#}",
        vendor(scratch.path(), scratch.path(), &options).unwrap_err()
    );
    assert!(message.contains("no-such-repository"), "{message}");
    assert_eq!(before, snapshot_tree(&scratch.path().join(PROTO_DIR)));
}

/// A throwaway upstream repository with one commit tagged `tag`.
fn fake_upstream(dir: &Path, files: &[(&str, &str)], tag: &str) {
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .current_dir(dir)
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "{}",
            String::from_utf8_lossy(&status.stderr)
        );
    };
    std::fs::create_dir_all(dir).unwrap();
    git(&["init", "-q"]);
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "fake"]);
    git(&["tag", tag]);
}

#[test]
fn a_proto_that_does_not_compile_leaves_proto_untouched() {
    let scratch = scratch_workspace();
    let upstream = scratch.path().join("fake-cri-api");
    fake_upstream(
        &upstream,
        &[
            ("LICENSE", "license\n"),
            (
                "pkg/apis/runtime/v1/api.proto",
                "syntax = \"proto3\";\npackage runtime.v1;\nmessage Broken { strin name = 1; }\n",
            ),
            (
                "pkg/apis/runtime/v1alpha2/api.proto",
                "syntax = \"proto3\";\npackage runtime.v1alpha2;\n",
            ),
        ],
        "v0.99.0",
    );
    let before = snapshot_tree(&scratch.path().join(PROTO_DIR));
    let options = Options {
        cri_api_git: Some(upstream.display().to_string()),
        v1_ref: Some("v0.99.0".into()),
        v1alpha2_ref: Some("v0.99.0".into()),
        ..from_bundles(None)
    };
    let message = format!(
        "{:#}",
        vendor(scratch.path(), scratch.path(), &options).unwrap_err()
    );
    assert!(
        message.contains("do not compile") && message.contains("strin"),
        "{message}"
    );
    assert!(message.contains("left untouched"), "{message}");
    assert_eq!(before, snapshot_tree(&scratch.path().join(PROTO_DIR)));
}

#[test]
fn a_missing_upstream_file_is_named() {
    let scratch = scratch_workspace();
    let upstream = scratch.path().join("fake-cri-api");
    fake_upstream(&upstream, &[("LICENSE", "license\n")], "v0.99.0");
    let options = Options {
        cri_api_git: Some(upstream.display().to_string()),
        v1_ref: Some("v0.99.0".into()),
        ..from_bundles(None)
    };
    let message = format!(
        "{:#}",
        vendor(scratch.path(), scratch.path(), &options).unwrap_err()
    );
    assert!(
        message.contains("pkg/apis/runtime/v1/api.proto") && message.contains("v0.99.0"),
        "{message}"
    );
}
