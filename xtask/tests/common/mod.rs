//! Helpers shared by the pipeline tests: scratch copies of the workspace and the offline
//! upstream bundles.

#![allow(dead_code)] // each test file uses a part

use std::path::{Path, PathBuf};

use xtask::{PROTO_DIR, fsutil, generated_dirs, workspace_root};

/// A scratch copy of everything the pipeline reads and writes: `proto/` and the generated
/// directories of the API crates.
pub fn scratch_workspace() -> tempfile::TempDir {
    let root = workspace_root();
    let scratch = tempfile::tempdir().expect("a scratch directory");
    fsutil::copy_tree(&root.join(PROTO_DIR), &scratch.path().join(PROTO_DIR)).unwrap();
    for dir in generated_dirs() {
        fsutil::copy_tree(&root.join(&dir), &scratch.path().join(&dir)).unwrap();
    }
    scratch
}

/// Every file below `dir` with its bytes, to compare trees byte for byte.
pub fn snapshot_tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    fsutil::list_files(dir)
        .unwrap()
        .into_iter()
        .map(|rel| {
            let bytes = std::fs::read(dir.join(&rel)).unwrap();
            (rel, bytes)
        })
        .collect()
}

/// The offline git bundles standing in for the upstream repositories: `../shared/upstream`
/// beside the workspace, or `$CRI_UPSTREAM_BUNDLES`.
pub fn upstream_bundles() -> PathBuf {
    let dir = std::env::var_os("CRI_UPSTREAM_BUNDLES")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared/upstream"));
    assert!(
        dir.join("cri-api.bundle").is_file() && dir.join("gogo-protobuf.bundle").is_file(),
        "the vendoring tests fetch from offline git bundles of kubernetes/cri-api and \
         gogo/protobuf, expected in {} (cri-api.bundle, gogo-protobuf.bundle); set \
         CRI_UPSTREAM_BUNDLES to the directory that holds them",
        dir.display()
    );
    dir
}

/// Flips one byte of `path` (the first byte of `needle`'s first occurrence, or byte `0`).
pub fn tamper(path: &Path, needle: &[u8]) {
    let mut bytes = std::fs::read(path).unwrap();
    let at = bytes
        .windows(needle.len().max(1))
        .position(|w| w == needle)
        .unwrap_or(0);
    bytes[at] ^= 0x20;
    std::fs::write(path, bytes).unwrap();
}
