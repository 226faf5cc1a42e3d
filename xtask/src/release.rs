//! `cargo xtask release-check`: is every publishable crate of the workspace ready to publish by
//! the README's versioning rule?
//!
//! The crates come from `cargo metadata`, so a crate added to the workspace is covered without
//! a change here. The rule (README, "Versioning"):
//! - every publishable crate is `0.M.x`, where Kubernetes `1.M` is the minor of the runtime.v1
//!   that `proto/upstream.lock` pins (`v0.36.3`: `0.36.x`), except
//! - `cri-api-v1alpha2`, frozen upstream at v0.25.16: `0.25.x`;
//! - a dependency on another crate of the workspace names a version requirement its current
//!   version meets (so the published crates find each other on crates.io);
//! - each has a `LICENSE` and a `README.md` beside its manifest, a description, a license, and
//!   the docs.rs settings (`all-features = true`, `rustdoc-args = ["--cfg", "docsrs"]`);
//! - each has a `CHANGELOG.md` (Keep a Changelog) with a section `## [<version>]` for the
//!   version its manifest carries: a version does not move without its entry.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::lock::Lock;
use crate::vendor::parse_tag;
use crate::{PROTO_DIR, V1};

/// The crates whose version line is fixed instead of following runtime.v1's minor.
pub const FROZEN: [(&str, u64); 1] = [("cri-api-v1alpha2", 25)];

/// A workspace member, as far as publishing is concerned.
#[derive(Debug, Clone)]
pub struct Member {
    /// Package name.
    pub name: String,
    /// Package version.
    pub version: semver::Version,
    /// Directory of its manifest.
    pub dir: PathBuf,
    /// Whether it may be published (`publish` is not `false`).
    pub publishable: bool,
    /// `description`, if any.
    pub description: Option<String>,
    /// `license`, if any.
    pub license: Option<String>,
    /// `[package.metadata.docs.rs]`, if any.
    pub docs_rs: Option<Value>,
    /// Dependencies on other workspace members (path dependencies) other than dev-dependencies:
    /// `(name, version requirement)`.
    pub path_deps: Vec<(String, String)>,
}

/// Reads the workspace members of the workspace at `root` from `cargo metadata`.
pub fn members(root: &Path) -> Result<Vec<Member>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(root)
        .args(["metadata", "--no-deps", "--format-version", "1", "--locked"])
        .output()
        .context("cannot run `cargo metadata`")?;
    if !output.status.success() {
        bail!(
            "`cargo metadata` failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let metadata: Value =
        serde_json::from_slice(&output.stdout).context("`cargo metadata` printed no JSON")?;
    parse_members(&metadata)
}

/// The members described by `cargo metadata --no-deps` output.
pub fn parse_members(metadata: &Value) -> Result<Vec<Member>> {
    let packages = metadata["packages"]
        .as_array()
        .context("`cargo metadata`: no packages")?;
    let text = |v: &Value| v.as_str().map(str::to_string);
    let mut out = Vec::new();
    for package in packages {
        let name = text(&package["name"]).context("`cargo metadata`: a package has no name")?;
        let version = package["version"]
            .as_str()
            .and_then(|v| semver::Version::parse(v).ok())
            .with_context(|| format!("{name}: no valid version"))?;
        let manifest =
            text(&package["manifest_path"]).with_context(|| format!("{name}: no manifest path"))?;
        let path_deps = package["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["path"].is_string() && d["kind"].as_str() != Some("dev"))
            .filter_map(|d| Some((text(&d["name"])?, text(&d["req"])?)))
            .collect();
        out.push(Member {
            publishable: package["publish"]
                .as_array()
                .is_none_or(|registries| !registries.is_empty()),
            description: text(&package["description"]),
            license: text(&package["license"]),
            docs_rs: package["metadata"]["docs"]["rs"]
                .is_object()
                .then(|| package["metadata"]["docs"]["rs"].clone()),
            dir: Path::new(&manifest)
                .parent()
                .context("a manifest path has a parent")?
                .to_path_buf(),
            name,
            version,
            path_deps,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The Kubernetes minor `M` of the runtime.v1 pinned in `proto/upstream.lock` below `root`.
pub fn kubernetes_minor(root: &Path) -> Result<u64> {
    let lock = Lock::read(&root.join(PROTO_DIR))?;
    let entry = lock
        .get(V1.proto)
        .context("the lock has no runtime.v1 entry")?;
    let version = parse_tag(&entry.git_ref).with_context(|| {
        format!(
            "runtime.v1 is locked at `{}`, not a release tag `v0.M.P`: release from a tag",
            entry.git_ref
        )
    })?;
    Ok(version.minor)
}

/// One way a crate is not ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The crate.
    pub name: String,
    /// What is wrong and what fixes it.
    pub what: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.what)
    }
}

/// The version line (`0.M`) the rule gives `name` when runtime.v1 is Kubernetes `1.minor`.
pub fn expected_minor(name: &str, minor: u64) -> u64 {
    FROZEN
        .iter()
        .find(|(frozen, _)| *frozen == name)
        .map_or(minor, |&(_, line)| line)
}

/// The versions that `dir/CHANGELOG.md` has a section for (`## [0.36.0] - 2026-11-23` gives
/// `0.36.0`; `## [Unreleased]` is not one); `None` without the file.
pub fn changelog_versions(dir: &Path) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(dir.join("CHANGELOG.md")).ok()?;
    Some(
        text.lines()
            .filter_map(|line| line.strip_prefix("## ["))
            .filter_map(|rest| rest.split_once(']').map(|(version, _)| version.trim()))
            .filter(|version| !version.eq_ignore_ascii_case("unreleased"))
            .map(str::to_string)
            .collect(),
    )
}

/// Checks every publishable member against the rule (see the module docs).
pub fn check(members: &[Member], minor: u64) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut problem = |name: &str, what: String| {
        problems.push(Problem {
            name: name.to_string(),
            what,
        })
    };
    for member in members.iter().filter(|m| m.publishable) {
        let name = member.name.as_str();
        let line = expected_minor(name, minor);
        let v = &member.version;
        if (v.major, v.minor) != (0, line) {
            problem(
                name,
                format!(
                    "version {v} is not on the 0.{line}.x line (the README's versioning rule{}); \
                     set `version = \"0.{line}.0\"` or the next patch of that line",
                    if line == minor {
                        format!(": runtime.v1 is Kubernetes 1.{minor}")
                    } else {
                        String::new()
                    }
                ),
            );
        }
        for (dep, req) in &member.path_deps {
            let Some(target) = members.iter().find(|m| &m.name == dep) else {
                continue;
            };
            match semver::VersionReq::parse(req) {
                Ok(parsed) if req != "*" && parsed.matches(&target.version) => {}
                _ => problem(
                    name,
                    format!(
                        "its dependency on {dep} requires `{req}`, which {dep} {} does not meet \
                         (or names no version); write `version = \"{}\"` beside the path",
                        target.version, target.version
                    ),
                ),
            }
            if !target.publishable {
                problem(
                    name,
                    format!("depends on {dep}, which is `publish = false`"),
                );
            }
        }
        for file in ["LICENSE", "README.md"] {
            if !member.dir.join(file).is_file() {
                problem(
                    name,
                    format!("no {file} beside its Cargo.toml (the other crates have one)"),
                );
            }
        }
        match changelog_versions(&member.dir) {
            None => problem(
                name,
                "no CHANGELOG.md beside its Cargo.toml (Keep a Changelog, as the other crates \
                 have: `## [Unreleased]`, then `## [<version>] - <date>` per release)"
                    .into(),
            ),
            Some(versions) if !versions.iter().any(|v| *v == member.version.to_string()) => {
                problem(
                    name,
                    format!(
                        "its version is {v} but CHANGELOG.md has no `## [{v}]` section: a \
                         version does not move without its entry (move what is under \
                         `## [Unreleased]` into `## [{v}] - <date>`)",
                        v = member.version
                    ),
                )
            }
            Some(_) => {}
        }
        if member.description.as_deref().is_none_or(str::is_empty) {
            problem(name, "no `description`".into());
        }
        if member.license.is_none() {
            problem(name, "no `license` (use `license.workspace = true`)".into());
        }
        let docs_rs_ok = member.docs_rs.as_ref().is_some_and(|d| {
            d["all-features"] == Value::Bool(true)
                && d["rustdoc-args"] == serde_json::json!(["--cfg", "docsrs"])
        });
        if !docs_rs_ok {
            problem(
                name,
                "[package.metadata.docs.rs] must say `all-features = true` and \
                 `rustdoc-args = [\"--cfg\", \"docsrs\"]` (what the docs check builds)"
                    .into(),
            );
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata() -> Value {
        let docs = serde_json::json!({"docs": {"rs": {"all-features": true, "rustdoc-args": ["--cfg", "docsrs"]}}});
        let package = |name: &str, version: &str, publish: Value, deps: Value| {
            serde_json::json!({
                "name": name, "version": version, "publish": publish,
                "description": "d", "license": "Apache-2.0", "metadata": docs,
                "manifest_path": format!("/nonexistent/{name}/Cargo.toml"),
                "dependencies": deps,
            })
        };
        let dep = |name: &str, req: &str, kind: Value| serde_json::json!({"name": name, "req": req, "kind": kind, "path": "/x"});
        serde_json::json!({"packages": [
            package("cri-api-v1", "0.36.0", Value::Null, serde_json::json!([])),
            package("cri-api-v1alpha2", "0.25.3", Value::Null, serde_json::json!([])),
            package("cri-fake", "0.1.0", Value::Null, serde_json::json!([
                dep("cri-api-v1", "^0.36.0", Value::Null),
                dep("cri-api-v1", "*", serde_json::json!("dev")),
            ])),
            package("cri-new", "0.36.2", Value::Null, serde_json::json!([
                dep("cri-api-v1", "*", Value::Null),
                dep("cri-benches", "^0.0.0", serde_json::json!("build")),
            ])),
            package("cri-benches", "0.0.0", serde_json::json!([]), serde_json::json!([
                dep("cri-api-v1", "*", Value::Null),
            ])),
        ]})
    }

    #[test]
    fn the_rule_names_each_crate_that_breaks_it() {
        let members = parse_members(&metadata()).unwrap();
        assert_eq!(members.len(), 5);
        assert!(
            !members
                .iter()
                .find(|m| m.name == "cri-benches")
                .unwrap()
                .publishable
        );
        let problems: Vec<String> = check(&members, 36).iter().map(|p| p.to_string()).collect();
        let has = |needle: &str| problems.iter().any(|p| p.contains(needle));
        assert!(
            has("cri-fake: version 0.1.0 is not on the 0.36.x line"),
            "{problems:#?}"
        );
        assert!(
            has("cri-new: its dependency on cri-api-v1 requires `*`"),
            "{problems:#?}"
        );
        assert!(has(
            "cri-new: depends on cri-benches, which is `publish = false`"
        ));
        assert!(
            has("cri-api-v1: no LICENSE beside its Cargo.toml"),
            "{problems:#?}"
        );
        assert!(has("cri-api-v1: no CHANGELOG.md beside its Cargo.toml"));
        // Not publishable: not checked. Frozen and following crates on their lines: no
        // version problem.
        assert!(!has("cri-benches:"), "{problems:#?}");
        assert!(
            !problems
                .iter()
                .any(|p| p.contains("cri-api-v1alpha2: version"))
        );
        assert!(!problems.iter().any(|p| p.contains("cri-api-v1: version")));
        // At Kubernetes 1.37 every following crate is behind, the frozen one is not.
        let at_37: Vec<String> = check(&members, 37).iter().map(|p| p.to_string()).collect();
        assert!(
            at_37
                .iter()
                .any(|p| p.starts_with("cri-api-v1: version 0.36.0 is not on the 0.37.x"))
        );
        assert!(
            !at_37
                .iter()
                .any(|p| p.starts_with("cri-api-v1alpha2: version"))
        );
    }

    #[test]
    fn a_version_does_not_move_without_its_change_log_entry() {
        let dir = tempfile::tempdir().unwrap();
        let mut members = parse_members(&metadata()).unwrap();
        members.retain(|m| m.name == "cri-api-v1");
        members[0].dir = dir.path().to_path_buf();
        for file in ["LICENSE", "README.md"] {
            std::fs::write(dir.path().join(file), "x").unwrap();
        }
        let problems = |members: &[Member]| -> Vec<String> {
            check(members, 36).iter().map(|p| p.to_string()).collect()
        };
        std::fs::write(
            dir.path().join("CHANGELOG.md"),
            "# Changelog\n\n## [Unreleased]\n\n- next\n\n## [0.36.0] - 2026-11-23\n\n- first\n",
        )
        .unwrap();
        assert_eq!(problems(&members), Vec::<String>::new());
        assert_eq!(
            changelog_versions(dir.path()).unwrap(),
            ["0.36.0"],
            "[Unreleased] is not a version"
        );
        // The version moves to 0.36.1; the entries are still under [Unreleased].
        members[0].version = semver::Version::new(0, 36, 1);
        assert_eq!(
            problems(&members),
            [
                "cri-api-v1: its version is 0.36.1 but CHANGELOG.md has no `## [0.36.1]` section: \
              a version does not move without its entry (move what is under `## [Unreleased]` \
              into `## [0.36.1] - <date>`)"
            ]
        );
        std::fs::write(
            dir.path().join("CHANGELOG.md"),
            "# Changelog\n\n## [Unreleased]\n\n## [0.36.1] - 2026-12-24\n\n- next\n\n## [0.36.0] - 2026-11-23\n",
        )
        .unwrap();
        assert_eq!(problems(&members), Vec::<String>::new());
    }
}
