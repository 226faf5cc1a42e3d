//! The maintainers' pipeline behind `cargo xtask`: vendor upstream `api.proto` files into
//! `proto/`, regenerate the API crates from them, and check that what is committed is fresh.
//!
//! Everything here works on a workspace root passed in explicitly, so tests can run the real
//! pipeline on a scratch copy of the workspace.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

pub mod changelog;
pub mod check;
pub mod client;
pub mod codegen;
pub mod convert;
pub mod fsutil;
pub mod json;
pub mod lock;
pub mod names;
pub mod negative_zero;
pub mod release;
pub mod surface;
pub mod vendor;

/// One CRI API version: the proto it comes from and the crate that publishes it.
#[derive(Debug, Clone, Copy)]
pub struct ApiVersion {
    /// Short name, as in the crate name (`v1`).
    pub name: &'static str,
    /// Protobuf package (`runtime.v1`).
    pub package: &'static str,
    /// The publishing crate's directory, relative to the workspace root.
    pub crate_dir: &'static str,
    /// The vendored file, relative to `proto/` (and its name inside descriptors).
    pub proto: &'static str,
}

impl ApiVersion {
    /// The directory the generator owns inside the publishing crate.
    pub fn generated_dir(&self) -> PathBuf {
        Path::new(self.crate_dir).join("src").join("generated")
    }
}

/// `runtime.v1`, the current API.
pub const V1: ApiVersion = ApiVersion {
    name: "v1",
    package: "runtime.v1",
    crate_dir: "crates/cri-api-v1",
    proto: "k8s.io/cri-api/pkg/apis/runtime/v1/api.proto",
};

/// `runtime.v1alpha2`, removed upstream after v0.25.16.
pub const V1ALPHA2: ApiVersion = ApiVersion {
    name: "v1alpha2",
    package: "runtime.v1alpha2",
    crate_dir: "crates/cri-api-v1alpha2",
    proto: "k8s.io/cri-api/pkg/apis/runtime/v1alpha2/api.proto",
};

/// Every API version this workspace publishes.
pub const API_VERSIONS: [ApiVersion; 2] = [V1, V1ALPHA2];

/// Every directory the generator owns (and may remove stale files from), relative to the
/// workspace root.
pub fn generated_dirs() -> Vec<PathBuf> {
    API_VERSIONS
        .iter()
        .map(ApiVersion::generated_dir)
        .chain([
            PathBuf::from(convert::GENERATED_DIR),
            PathBuf::from(client::GENERATED_DIR),
        ])
        .collect()
}

/// Directory of the vendored protos, relative to the workspace root.
pub const PROTO_DIR: &str = "proto";

/// The workspace this xtask belongs to.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// Compiles one API version's proto (with its imports and comments) from `proto_dir`.
pub fn compile(proto_dir: &Path, version: &ApiVersion) -> Result<protox::Compiler> {
    let mut compiler = protox::Compiler::new([proto_dir])
        .with_context(|| format!("cannot use {} as an include directory", proto_dir.display()))?;
    compiler.include_imports(true).include_source_info(true);
    compiler.open_file(version.proto).map_err(|e| {
        anyhow::anyhow!(
            "{} (package {}) does not compile: {e}",
            proto_dir.join(version.proto).display(),
            version.package
        )
    })?;
    Ok(compiler)
}
