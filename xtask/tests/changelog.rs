//! `cargo xtask changelog` and `vendor --latest` on real upstream history (the offline bundle
//! of kubernetes/cri-api).

mod common;

use std::path::Path;

use common::{scratch_workspace, upstream_bundles};
use xtask::changelog::{self, Kind, Revision};
use xtask::vendor::{Latest, LatestOutcome, Options, vendor};

fn cri_api_bundle() -> String {
    upstream_bundles()
        .join("cri-api.bundle")
        .display()
        .to_string()
}

fn at(git_ref: &str) -> Revision {
    changelog::at_upstream(&cri_api_bundle(), git_ref).unwrap()
}

fn entry(from: &str, to: &str) -> (changelog::Diff, String) {
    let (from, to) = (at(from), at(to));
    let diff = changelog::diff(&from.surface, &to.surface);
    let text = changelog::render_entry(&from, &to, &diff, None);
    (diff, text)
}

fn names(items: &[changelog::Item], kind: Kind) -> Vec<&str> {
    items
        .iter()
        .filter(|i| i.kind == kind)
        .map(|i| i.name.as_str())
        .collect()
}

#[test]
fn from_1_35_to_1_36_the_stream_rpcs_are_added_and_nothing_breaks() {
    let (diff, text) = entry("v0.35.7", "v0.36.3");
    let rpcs = names(&diff.added, Kind::Rpc);
    assert_eq!(
        rpcs,
        [
            "RuntimeService.StreamPodSandboxes",
            "RuntimeService.StreamContainers",
            "RuntimeService.StreamContainerStats",
            "RuntimeService.StreamPodSandboxStats",
            "RuntimeService.StreamPodSandboxMetrics",
            "ImageService.StreamImages",
        ]
    );
    assert!(!diff.is_breaking(), "{diff:#?}");
    for expected in [
        "## Unreleased: runtime.v1 v0.35.7 → v0.36.3",
        "- RPC `RuntimeService.StreamContainers(StreamContainersRequest) returns (stream \
         StreamContainersResponse)`",
        "- message `StreamImagesResponse`\n  - `images = 1: repeated Image`",
        "- field `ImageSpec.image_ref = 20: string`",
    ] {
        assert!(text.contains(expected), "`{expected}` not in\n{text}");
    }
    assert!(!text.contains("breaking"), "{text}");
}

#[test]
fn from_1_36_to_master_checkpoint_restore_and_mount_options_are_added() {
    let (diff, text) = entry("v0.36.3", "master");
    assert_eq!(
        names(&diff.added, Kind::Rpc),
        ["RuntimeService.CheckpointPod", "RuntimeService.RestorePod"]
    );
    assert!(names(&diff.added, Kind::Field).contains(&"Mount.mount_options"));
    for expected in [
        "- RPC `RuntimeService.CheckpointPod(CheckpointPodRequest) returns (CheckpointPodResponse)`",
        "- RPC `RuntimeService.RestorePod(RestorePodRequest) returns (RestorePodResponse)`",
        "- field `Mount.mount_options = 11: repeated string`",
        "- message `RestorePodResponse`\n  - `pod_sandbox_id = 1: string`",
    ] {
        assert!(text.contains(expected), "`{expected}` not in\n{text}");
    }
}

#[test]
fn from_1_36_to_1_37_beta_the_signal_values_are_renamed_and_that_breaks() {
    let (diff, text) = entry("v0.36.3", "v0.37.0-beta.0");
    // v0.37.0-beta.0 changes one thing: every value of `Signal` gains the `SIGNAL_` prefix,
    // numbers kept.
    assert!(diff.added.is_empty(), "{:#?}", diff.added);
    assert!(diff.removed.is_empty(), "{:#?}", diff.removed);
    assert!(diff.changed.is_empty(), "{:#?}", diff.changed);
    assert_eq!(diff.renamed.len(), 66);
    for (old, new) in &diff.renamed {
        assert_eq!(old.kind, Kind::Value);
        assert_eq!(new.name, old.name.replace("Signal.", "Signal.SIGNAL_"));
        assert_eq!(old.detail, new.detail, "the number is kept");
    }
    assert!(diff.is_breaking());
    for expected in [
        "### Breaking",
        "- **breaking**: 66 values of enum `Signal` renamed, numbers and types kept",
        "  - `RUNTIME_DEFAULT` → `SIGNAL_RUNTIME_DEFAULT`\n",
        "  - `SIGKILL` → `SIGNAL_SIGKILL`\n",
        "  - `SIGRTMAX` → `SIGNAL_SIGRTMAX`\n",
    ] {
        assert!(text.contains(expected), "`{expected}` not in\n{text}");
    }
    assert!(!text.contains("### Added"), "{text}");
}

fn from_bundles(latest: Option<Latest>, v1_ref: Option<&str>) -> Options {
    let bundles = upstream_bundles();
    Options {
        cri_api_git: Some(cri_api_bundle()),
        gogo_git: Some(bundles.join("gogo-protobuf.bundle").display().to_string()),
        v1_ref: v1_ref.map(str::to_string),
        latest,
        ..Options::default()
    }
}

fn moved(from: &str, to: &str, newest: &str) -> Option<LatestOutcome> {
    Some(LatestOutcome {
        from: from.into(),
        to: to.into(),
        newest: newest.into(),
    })
}

#[test]
fn latest_moves_to_the_newest_stable_tag_and_then_is_current() {
    let scratch = scratch_workspace();
    let root = scratch.path();
    vendor(root, root, &from_bundles(None, Some("v0.35.7"))).unwrap();

    let outcome = vendor(root, root, &from_bundles(Some(Latest::Stable), None)).unwrap();
    assert_eq!(outcome.latest, moved("v0.35.7", "v0.36.3", "v0.36.3"));
    assert!(!outcome.changed.is_empty());

    let outcome = vendor(root, root, &from_bundles(Some(Latest::Stable), None)).unwrap();
    assert_eq!(outcome.latest, moved("v0.36.3", "v0.36.3", "v0.36.3"));
    assert!(!outcome.latest.unwrap().moved());
    assert!(outcome.changed.is_empty(), "{:?}", outcome.changed);
}

#[test]
fn latest_with_pre_takes_the_beta_writes_the_changelog_and_never_moves_back() {
    let scratch = scratch_workspace();
    let root = scratch.path();
    let before = changelog::in_tree(root).unwrap();
    assert_eq!(before.git_ref, "v0.36.3");

    let outcome = vendor(
        root,
        root,
        &from_bundles(Some(Latest::WithPreReleases), None),
    )
    .unwrap();
    assert_eq!(
        outcome.latest,
        moved("v0.36.3", "v0.37.0-beta.0", "v0.37.0-beta.0")
    );
    let lock = std::fs::read_to_string(root.join("proto/upstream.lock")).unwrap();
    assert!(lock.contains("ref = \"v0.37.0-beta.0\""), "{lock}");
    assert!(
        lock.contains("ref = \"v0.25.16\""),
        "v1alpha2 stays frozen: {lock}"
    );

    let after = changelog::in_tree(root).unwrap();
    let diff = changelog::diff(&before.surface, &after.surface);
    let entry = changelog::render_entry(&before, &after, &diff, Some("0.37.0-beta.0"));
    let written = changelog::write_changelogs(root, &before, &after, &entry).unwrap();
    assert_eq!(
        written,
        [
            Path::new("crates/cri-api-v1/CHANGELOG.md"),
            Path::new("crates/cri-convert/CHANGELOG.md"),
            Path::new("crates/cri-client/CHANGELOG.md"),
        ]
    );
    let api = std::fs::read_to_string(root.join(written[0].as_path())).unwrap();
    assert!(api.contains("`SIGKILL` → `SIGNAL_SIGKILL`"), "{api}");
    let convert = std::fs::read_to_string(root.join(written[1].as_path())).unwrap();
    assert!(
        convert.contains("runtime.v1 v0.36.3 → v0.37.0-beta.0") && convert.contains("**breaking**"),
        "{convert}"
    );
    // Written once: a second run adds nothing.
    assert!(
        changelog::write_changelogs(root, &before, &after, &entry)
            .unwrap()
            .is_empty()
    );

    // Without --pre the newest stable tag is older than the lock: stay.
    let outcome = vendor(root, root, &from_bundles(Some(Latest::Stable), None)).unwrap();
    assert_eq!(
        outcome.latest,
        moved("v0.37.0-beta.0", "v0.37.0-beta.0", "v0.36.3")
    );
    assert!(outcome.changed.is_empty(), "{:?}", outcome.changed);
}

#[test]
fn latest_and_a_named_ref_exclude_each_other() {
    let scratch = scratch_workspace();
    let root = scratch.path();
    let error = vendor(
        root,
        root,
        &from_bundles(Some(Latest::Stable), Some("v0.36.3")),
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("--latest") && error.contains("--ref"),
        "{error}"
    );
}
