//! `scripts/upstream-update.sh`, the logic of the scheduled update workflow, run for real on a
//! scratch repository locked at an older upstream tag, against the offline bundles.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{scratch_workspace, upstream_bundles};
use xtask::vendor::{Options, vendor};
use xtask::{API_VERSIONS, PROTO_DIR, check, codegen, compile, surface, workspace_root};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
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
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn copy(from_root: &Path, to_root: &Path, rel: &str) {
    let dest = to_root.join(rel);
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::copy(from_root.join(rel), dest).unwrap();
}

fn run_script(root: &Path) -> (Output, String) {
    let bundles = upstream_bundles();
    let github_output = root.join("github-output");
    let _ = std::fs::remove_file(&github_output);
    let output = Command::new(root.join("scripts/upstream-update.sh"))
        .current_dir(root)
        .env("XTASK_BIN", env!("CARGO_BIN_EXE_xtask"))
        .env("GITHUB_OUTPUT", &github_output)
        .arg("--git")
        .arg(bundles.join("cri-api.bundle"))
        .arg("--gogo-git")
        .arg(bundles.join("gogo-protobuf.bundle"))
        .arg("--body")
        .arg(root.join("body.md"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the script failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let outputs = std::fs::read_to_string(&github_output).unwrap_or_default();
    (output, outputs)
}

#[test]
fn the_update_script_moves_an_old_lock_to_the_newest_tag_then_has_nothing_to_do() {
    let real = workspace_root();
    let scratch = scratch_workspace();
    let root = scratch.path();
    copy(&real, root, "scripts/upstream-update.sh");
    // cri-api-v1 at 0.36.0, for the version the change log names.
    std::fs::create_dir_all(root.join("crates/cri-api-v1")).unwrap();
    std::fs::write(
        root.join("crates/cri-api-v1/Cargo.toml"),
        "[package]\nname = \"cri-api-v1\"\nversion = \"0.36.0\"\n",
    )
    .unwrap();
    // A repository locked at v0.36.2, generated and snapshotted as a maintainer would have it.
    let bundles = upstream_bundles();
    let options = Options {
        cri_api_git: Some(bundles.join("cri-api.bundle").display().to_string()),
        gogo_git: Some(bundles.join("gogo-protobuf.bundle").display().to_string()),
        v1_ref: Some("v0.36.2".into()),
        ..Options::default()
    };
    vendor(root, root, &options).unwrap();
    codegen::write(root, &codegen::generate(root).unwrap()).unwrap();
    for version in &API_VERSIONS {
        let compiler = compile(&root.join(PROTO_DIR), version).unwrap();
        let text = surface::render(&compiler.descriptor_pool(), version.package);
        surface::write_snapshot(&root.join(surface::snapshot_path(version)), &text).unwrap();
    }
    std::fs::write(root.join(".gitignore"), "/github-output\n/body.md\n").unwrap();
    git(root, &["init", "-q"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-qm", "locked at v0.36.2"]);

    let (output, outputs) = run_script(root);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("runtime.v1: moved from v0.36.2 to v0.36.3"),
        "{stdout}"
    );
    for line in ["changed=true", "from=v0.36.2", "to=v0.36.3"] {
        assert!(
            outputs.lines().any(|l| l == line),
            "`{line}` not in\n{outputs}"
        );
    }
    let body_line = format!("body={}", root.join("body.md").display());
    assert!(outputs.lines().any(|l| l == body_line), "{outputs}");

    // The pull request's body is the change-log entry, and it is in cri-api-v1's change log.
    let body = std::fs::read_to_string(root.join("body.md")).unwrap();
    for expected in [
        "## Unreleased: runtime.v1 v0.36.2 → v0.36.3",
        "version `0.36.1`",
        "`runtime.v1` from kubernetes/cri-api `v0.36.3` (commit `1733b6a9fa12`) instead of \
         `v0.36.2`",
        "No change to the API surface",
    ] {
        assert!(body.contains(expected), "`{expected}` not in\n{body}");
    }
    // In the change log, the entry is a subsection of `## [Unreleased]` (Keep a Changelog).
    let changelog = std::fs::read_to_string(root.join("crates/cri-api-v1/CHANGELOG.md")).unwrap();
    let section = xtask::changelog::as_unreleased_subsection(&body);
    assert!(
        changelog.contains(&format!("## [Unreleased]\n\n{}", section.trim())),
        "{changelog}"
    );
    // Only the API crate's generated code changed (its provenance constants and descriptors).
    assert!(!root.join("crates/cri-convert/CHANGELOG.md").exists());

    // Regenerated and snapshotted: what the pipeline makes from the new proto/, which is at
    // the newest stable tag of the bundle.
    let report = check::check(root).unwrap();
    assert!(report.is_fresh(), "{report}");
    let lock = std::fs::read_to_string(root.join("proto/upstream.lock")).unwrap();
    assert!(lock.contains("ref = \"v0.36.3\""), "{lock}");
    for version in &API_VERSIONS {
        let compiler = compile(&root.join(PROTO_DIR), version).unwrap();
        let text = surface::render(&compiler.descriptor_pool(), version.package);
        let snapshot = std::fs::read_to_string(root.join(surface::snapshot_path(version))).unwrap();
        assert!(snapshot.ends_with(&format!("---\n{text}")), "{snapshot}");
    }

    // Committed, the next run finds nothing newer and changes nothing.
    git(root, &["add", "-A"]);
    git(root, &["commit", "-qm", "runtime.v1 v0.36.3"]);
    let (output, outputs) = run_script(root);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("runtime.v1: already current at v0.36.3"),
        "{stdout}"
    );
    assert!(stdout.contains("nothing to do"), "{stdout}");
    assert_eq!(outputs.trim(), "changed=false");
    assert_eq!(
        git(root, &["status", "--porcelain"]),
        "",
        "the tree changed"
    );
}
