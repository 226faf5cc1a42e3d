//! `cargo xtask vendor`: fetch upstream files with git, byte for byte, into `proto/`.
//!
//! Nothing in `proto/` changes unless every file was fetched and both API versions compile
//! from the new tree (checked in a scratch copy first).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::lock::{LOCK_FILE, Lock, LockedFile};
use crate::{API_VERSIONS, PROTO_DIR, compile, fsutil};

/// Canonical URL of kubernetes/cri-api.
pub const CRI_API_URL: &str = "https://github.com/kubernetes/cri-api";
/// Canonical URL of gogo/protobuf.
pub const GOGO_URL: &str = "https://github.com/gogo/protobuf";

/// One upstream checkout and the files taken from it.
#[derive(Debug, Clone)]
pub struct Source {
    /// What this source is, for messages.
    pub label: &'static str,
    /// The canonical repository URL, recorded in the lock.
    pub upstream: &'static str,
    /// The ref used when neither the command line nor the lock names one.
    pub default_ref: &'static str,
    /// `(path in upstream, path below proto/)`.
    pub files: &'static [(&'static str, &'static str)],
}

/// runtime.v1 and its license.
pub const CRI_V1: Source = Source {
    label: "runtime.v1",
    upstream: CRI_API_URL,
    default_ref: "v0.36.3",
    files: &[
        (
            "pkg/apis/runtime/v1/api.proto",
            "k8s.io/cri-api/pkg/apis/runtime/v1/api.proto",
        ),
        ("LICENSE", "k8s.io/cri-api/pkg/apis/runtime/v1/LICENSE"),
    ],
};

/// runtime.v1alpha2 (final release v0.25.16) and its license.
pub const CRI_V1ALPHA2: Source = Source {
    label: "runtime.v1alpha2",
    upstream: CRI_API_URL,
    default_ref: "v0.25.16",
    files: &[
        (
            "pkg/apis/runtime/v1alpha2/api.proto",
            "k8s.io/cri-api/pkg/apis/runtime/v1alpha2/api.proto",
        ),
        (
            "LICENSE",
            "k8s.io/cri-api/pkg/apis/runtime/v1alpha2/LICENSE",
        ),
    ],
};

/// gogo.proto (imported by v1alpha2) and its license.
pub const GOGO: Source = Source {
    label: "gogoproto",
    upstream: GOGO_URL,
    default_ref: "v1.3.2",
    files: &[
        (
            "gogoproto/gogo.proto",
            "github.com/gogo/protobuf/gogoproto/gogo.proto",
        ),
        ("LICENSE", "github.com/gogo/protobuf/LICENSE"),
    ],
};

/// What `cargo xtask vendor` was asked to do. `None` means: the lock's pin, else the default.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Where to fetch kubernetes/cri-api from (URL or local path, such as a git bundle).
    pub cri_api_git: Option<String>,
    /// The ref of runtime.v1.
    pub v1_ref: Option<String>,
    /// The ref of runtime.v1alpha2.
    pub v1alpha2_ref: Option<String>,
    /// Where to fetch gogo/protobuf from.
    pub gogo_git: Option<String>,
    /// The ref of gogo.proto.
    pub gogo_ref: Option<String>,
    /// Move runtime.v1 to the newest release tag of the source instead of a named ref.
    /// Excludes `v1_ref`.
    pub latest: Option<Latest>,
}

/// Which tags `--latest` may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Latest {
    /// Stable `vX.Y.Z` tags only.
    Stable,
    /// Pre-releases too (`v0.37.0-beta.0`).
    WithPreReleases,
}

/// What `--latest` decided for runtime.v1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatestOutcome {
    /// The ref runtime.v1 was locked at before.
    pub from: String,
    /// The ref it is locked at now (`from` when nothing newer exists).
    pub to: String,
    /// The newest release tag of the source that `--latest` considered.
    pub newest: String,
}

impl LatestOutcome {
    /// Whether runtime.v1 moved to another tag.
    pub fn moved(&self) -> bool {
        self.from != self.to
    }
}

/// What a vendoring run changed.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Paths below the workspace root that were written.
    pub changed: Vec<PathBuf>,
    /// With `--latest`: the tag runtime.v1 moved from and to.
    pub latest: Option<LatestOutcome>,
}

/// A file fetched from upstream, not yet written.
pub(crate) struct Fetched {
    pub(crate) dest: &'static str,
    pub(crate) bytes: Vec<u8>,
    pub(crate) entry: LockedFile,
}

/// Runs the whole vendoring against the workspace at `root`; relative local `--git` paths are
/// taken relative to `cwd`.
pub fn vendor(root: &Path, cwd: &Path, options: &Options) -> Result<Outcome> {
    let proto_dir = root.join(PROTO_DIR);
    let old_lock = Lock::read(&proto_dir)?;
    let location_of = |source: &Source, git: Option<&str>| match git {
        Some(git) => resolve_location(git, cwd),
        None => source.upstream.to_string(),
    };

    let mut latest = None;
    let mut v1_ref = options.v1_ref.clone();
    if let Some(which) = options.latest {
        if v1_ref.is_some() {
            bail!("`--latest` picks the runtime.v1 tag itself; do not name one with `--ref`");
        }
        let location = location_of(&CRI_V1, options.cri_api_git.as_deref());
        let from = old_lock
            .get(CRI_V1.files[0].1)
            .map_or(CRI_V1.default_ref, |f| f.git_ref.as_str())
            .to_string();
        let newest = newest_tag(&release_tags(&location)?, which).with_context(|| {
            format!(
                "{location} has no {}release tag `vX.Y.Z`",
                if which == Latest::Stable {
                    "stable "
                } else {
                    ""
                }
            )
        })?;
        // Never move backwards: a lock already past the newest tag (say at a pre-release,
        // asked without --pre) stays where it is. A lock on a branch moves to the tag.
        let to = match parse_tag(&from) {
            Some(locked) if locked >= parse_tag(&newest).expect("a parsed tag") => from.clone(),
            _ => newest.clone(),
        };
        v1_ref = Some(to.clone());
        latest = Some(LatestOutcome { from, to, newest });
    }

    let plan = [
        (&CRI_V1, options.cri_api_git.as_deref(), v1_ref.as_deref()),
        (
            &CRI_V1ALPHA2,
            options.cri_api_git.as_deref(),
            options.v1alpha2_ref.as_deref(),
        ),
        (
            &GOGO,
            options.gogo_git.as_deref(),
            options.gogo_ref.as_deref(),
        ),
    ];

    let scratch = tempfile::tempdir().context("cannot create a scratch directory")?;
    let mut fetched = Vec::new();
    for (source, git, git_ref) in plan {
        let locked_ref = old_lock.get(source.files[0].1).map(|f| f.git_ref.as_str());
        let git_ref = git_ref.or(locked_ref).unwrap_or(source.default_ref);
        let location = location_of(source, git);
        fetched.extend(fetch(source, &location, git_ref, scratch.path())?);
    }

    // Compile the new tree in a scratch copy before anything in proto/ changes.
    let staged = scratch.path().join("proto");
    fsutil::copy_tree(&proto_dir, &staged)?;
    for file in &fetched {
        fsutil::write_if_changed(&staged.join(file.dest), &file.bytes)?;
    }
    for version in &API_VERSIONS {
        compile(&staged, version).with_context(|| {
            format!(
                "the fetched files do not compile; {} was left untouched",
                proto_dir.display()
            )
        })?;
    }

    let mut lock = old_lock.clone();
    let mut outcome = Outcome {
        latest,
        ..Outcome::default()
    };
    for file in fetched {
        if fsutil::write_if_changed(&proto_dir.join(file.dest), &file.bytes)? {
            outcome.changed.push(Path::new(PROTO_DIR).join(file.dest));
        }
        lock.upsert(file.entry);
    }
    if fsutil::write_if_changed(&proto_dir.join(LOCK_FILE), lock.render().as_bytes())? {
        outcome.changed.push(Path::new(PROTO_DIR).join(LOCK_FILE));
    }
    Ok(outcome)
}

/// The release tags (`vX.Y.Z`, pre-releases included) of the repository at `location`.
pub fn release_tags(location: &str) -> Result<Vec<String>> {
    let listing = git(Path::new("."), &["ls-remote", "--tags", "--refs", location])
        .with_context(|| format!("cannot list the tags of {location}"))?;
    Ok(String::from_utf8_lossy(&listing)
        .lines()
        .filter_map(|line| line.split_whitespace().nth(1))
        .filter_map(|name| name.strip_prefix("refs/tags/"))
        .filter(|tag| parse_tag(tag).is_some())
        .map(str::to_string)
        .collect())
}

/// A release tag's version: `v` and a semantic version without build metadata.
pub fn parse_tag(tag: &str) -> Option<semver::Version> {
    let version = semver::Version::parse(tag.strip_prefix('v')?).ok()?;
    version.build.is_empty().then_some(version)
}

/// The newest of `tags` by semantic version; pre-releases only with
/// [`Latest::WithPreReleases`].
pub fn newest_tag(tags: &[String], which: Latest) -> Option<String> {
    tags.iter()
        .filter_map(|tag| Some((parse_tag(tag)?, tag)))
        .filter(|(version, _)| which == Latest::WithPreReleases || version.pre.is_empty())
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, tag)| tag.clone())
}

/// A `--git` argument that names an existing local path is made absolute (git runs elsewhere).
/// Where git should fetch from for a `--git` argument given in `cwd`.
pub fn resolve_location(git: &str, cwd: &Path) -> String {
    let path = cwd.join(git);
    if !git.contains("://") && path.exists() {
        path.canonicalize().unwrap_or(path).display().to_string()
    } else {
        git.to_string()
    }
}

pub(crate) fn fetch(
    source: &Source,
    location: &str,
    git_ref: &str,
    scratch: &Path,
) -> Result<Vec<Fetched>> {
    let repo = scratch.join(format!("git-{}", source.label));
    git(scratch, &["init", "--quiet", "--bare", path_str(&repo)?])?;
    // A shallow fetch where the transport supports it; bundles and some local paths do not.
    let what = format!("{} at `{git_ref}` from {location}", source.label);
    if git(
        &repo,
        &[
            "fetch",
            "--quiet",
            "--depth=1",
            "--no-tags",
            location,
            git_ref,
        ],
    )
    .is_err()
    {
        git(&repo, &["fetch", "--quiet", "--no-tags", location, git_ref])
            .with_context(|| format!("cannot fetch {what}"))?;
    }
    let commit = String::from_utf8(git(&repo, &["rev-parse", "FETCH_HEAD^{commit}"])?)?
        .trim()
        .to_string();
    let message =
        String::from_utf8_lossy(&git(&repo, &["log", "-1", "--format=%B", &commit])?).into_owned();
    let upstream_commit = upstream_commit_trailer(&message)
        .with_context(|| {
            format!("{what}: commit {commit} has a malformed Upstream-Commit trailer")
        })?
        .unwrap_or(commit);

    let mut out = Vec::new();
    for &(upstream_path, dest) in source.files {
        let bytes = git(&repo, &["show", &format!("FETCH_HEAD:{upstream_path}")])
            .with_context(|| format!("{what}: the ref has no file `{upstream_path}`"))?;
        out.push(Fetched {
            dest,
            entry: LockedFile {
                path: dest.to_string(),
                source: source.upstream.to_string(),
                git_ref: git_ref.to_string(),
                commit: upstream_commit.clone(),
                upstream_path: upstream_path.to_string(),
                sha256: fsutil::sha256_hex(&bytes),
            },
            bytes,
        });
    }
    Ok(out)
}

/// The real upstream commit recorded by a mirror (`Upstream-Commit: <sha>`), if any.
pub fn upstream_commit_trailer(message: &str) -> Result<Option<String>> {
    let Some(value) = message
        .lines()
        .rev()
        .find_map(|line| line.trim().strip_prefix("Upstream-Commit:"))
    else {
        return Ok(None);
    };
    let value = value.trim();
    if value.len() != 40 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("`{value}` is not a 40-digit commit id");
    }
    Ok(Some(value.to_ascii_lowercase()))
}

fn path_str(path: &Path) -> Result<&str> {
    path.to_str()
        .with_context(|| format!("{} is not valid UTF-8", path.display()))
}

/// Runs git in `dir` and returns its stdout, or an error carrying its stderr.
pub(crate) fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>> {
    let output = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .context("cannot run git (is it installed and on PATH?)")?;
    if !output.status.success() {
        bail!(
            "`git {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(output.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailer_is_read_and_validated() {
        let msg = "cri-api v0.36.3\n\nUpstream-Commit: 1733B6A9FA123C5887EEFA14523C532B12827F73\n";
        assert_eq!(
            upstream_commit_trailer(msg).unwrap().as_deref(),
            Some("1733b6a9fa123c5887eefa14523c532b12827f73")
        );
        assert_eq!(upstream_commit_trailer("no trailer here").unwrap(), None);
        assert!(upstream_commit_trailer("Upstream-Commit: abc").is_err());
    }

    #[test]
    fn the_newest_tag_is_chosen_by_semantic_version() {
        let tags: Vec<String> = [
            "v0.9.0",
            "v0.36.3",
            "v0.36.10",
            "v0.37.0-beta.0",
            "v0.37.0-alpha.3",
            "not-a-version",
            "v1.2",
            "0.99.0",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            newest_tag(&tags, Latest::Stable).as_deref(),
            Some("v0.36.10")
        );
        assert_eq!(
            newest_tag(&tags, Latest::WithPreReleases).as_deref(),
            Some("v0.37.0-beta.0")
        );
        let with_release = [tags.clone(), vec!["v0.37.0".into()]].concat();
        assert_eq!(
            newest_tag(&with_release, Latest::WithPreReleases).as_deref(),
            Some("v0.37.0")
        );
        assert_eq!(newest_tag(&["master".into()], Latest::Stable), None);
    }
}
