//! `cargo xtask changelog`: a readable change-log entry from the difference of two API
//! surfaces of runtime.v1 (see [`crate::surface`]).
//!
//! A surface is computed straight from `api.proto` at some revision (an upstream ref fetched
//! with git, this repository's `HEAD`, or the working tree), so comparing two upstream tags
//! needs no regeneration. Elements pair by name: an element only in the new surface is added,
//! one only in the old is removed (**breaking**), one whose line differs is changed
//! (**breaking**, unless only its `[deprecated]` or `[debug_redact]` marks moved).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

use crate::lock::{LOCK_FILE, Lock};
use crate::vendor::{CRI_V1, fetch, git, parse_tag};
use crate::{PROTO_DIR, V1, compile, fsutil, surface};

mod file;
pub use file::{UNRELEASED, as_unreleased_subsection, prepend_entry, write_changelogs};

/// The crates whose `CHANGELOG.md` gets an entry when runtime.v1 changes: the API crate with
/// the whole list, and the crates whose generated code follows it with a pointer to that list.
pub const CHANGELOG_CRATES: [(&str, Role); 3] = [
    ("crates/cri-api-v1", Role::Api),
    (
        "crates/cri-convert",
        Role::Follows("conversions and adapters"),
    ),
    ("crates/cri-client", Role::Follows("per-RPC client methods")),
];

/// How a crate relates to the runtime.v1 surface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// It publishes the surface: its entry lists every change.
    Api,
    /// Its generated code (described by the text) follows the surface.
    Follows(&'static str),
}

/// runtime.v1's surface at one revision, and how to name that revision.
#[derive(Debug, Clone)]
pub struct Revision {
    /// The upstream ref (`v0.36.3`, `master`).
    pub git_ref: String,
    /// The upstream commit, when known.
    pub commit: Option<String>,
    /// The rendered surface ([`surface::render`]).
    pub surface: String,
}

impl Revision {
    /// `v0.36.3` (commit `1733b6a9fa12`).
    fn describe(&self) -> String {
        match &self.commit {
            Some(commit) => format!(
                "`{}` (commit `{}`)",
                self.git_ref,
                &commit[..12.min(commit.len())]
            ),
            None => format!("`{}`", self.git_ref),
        }
    }
}

/// runtime.v1 at `git_ref` of the kubernetes/cri-api repository at `location` (URL or path).
pub fn at_upstream(location: &str, git_ref: &str) -> Result<Revision> {
    let scratch = tempfile::tempdir().context("cannot create a scratch directory")?;
    let fetched = fetch(&CRI_V1, location, git_ref, scratch.path())?;
    let proto = fetched
        .iter()
        .find(|f| f.dest == V1.proto)
        .expect("CRI_V1 fetches the v1 api.proto");
    let proto_dir = scratch.path().join("proto");
    fsutil::write_if_changed(&proto_dir.join(V1.proto), &proto.bytes)?;
    Ok(Revision {
        git_ref: git_ref.to_string(),
        commit: Some(proto.entry.commit.clone()),
        surface: surface_of(&proto_dir)
            .with_context(|| format!("runtime.v1 at `{git_ref}` of {location}"))?,
    })
}

/// runtime.v1 as vendored in the working tree of the workspace at `root`.
pub fn in_tree(root: &Path) -> Result<Revision> {
    let proto_dir = root.join(PROTO_DIR);
    let lock = Lock::read(&proto_dir)?;
    let entry = lock
        .get(V1.proto)
        .with_context(|| format!("{}/{LOCK_FILE} has no entry for {}", PROTO_DIR, V1.proto))?;
    Ok(Revision {
        git_ref: entry.git_ref.clone(),
        commit: Some(entry.commit.clone()),
        surface: surface_of(&proto_dir)?,
    })
}

/// runtime.v1 as committed at `rev` (say `HEAD`) of the git repository holding `root`.
pub fn at_commit(root: &Path, rev: &str) -> Result<Revision> {
    let show = |path: &str| {
        git(root, &["show", &format!("{rev}:{PROTO_DIR}/{path}")]).with_context(|| {
            format!(
                "cannot read {PROTO_DIR}/{path} at `{rev}` of the repository at {} (without \
                 git history, name the old upstream ref with --from)",
                root.display()
            )
        })
    };
    let lock_text = String::from_utf8(show(LOCK_FILE)?)?;
    let lock: Lock = toml::from_str(&lock_text)
        .with_context(|| format!("{PROTO_DIR}/{LOCK_FILE} at `{rev}` is not a valid lock"))?;
    let entry = lock.get(V1.proto).with_context(|| {
        format!(
            "{PROTO_DIR}/{LOCK_FILE} at `{rev}` has no entry for {}",
            V1.proto
        )
    })?;
    let scratch = tempfile::tempdir().context("cannot create a scratch directory")?;
    fsutil::write_if_changed(&scratch.path().join(V1.proto), &show(V1.proto)?)?;
    Ok(Revision {
        git_ref: entry.git_ref.clone(),
        commit: Some(entry.commit.clone()),
        surface: surface_of(scratch.path())?,
    })
}

fn surface_of(proto_dir: &Path) -> Result<String> {
    let compiler = compile(proto_dir, &V1)?;
    Ok(surface::render(&compiler.descriptor_pool(), V1.package))
}

/// What kind of element a surface line describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// `service S`
    Service,
    /// `rpc S.M(..) returns (..)`
    Rpc,
    /// `message M`
    Message,
    /// `field M.f = n: type`
    Field,
    /// `reserved M a..b`
    Reserved,
    /// `enum E`
    Enum,
    /// `value E.V = n`
    Value,
}

/// One element of a surface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// What it is.
    pub kind: Kind,
    /// Its full name inside the package (`Mount.mount_options`); reserved ranges are named
    /// `Message a..b`.
    pub name: String,
    /// The rest of its line (`= 9: repeated string`, `(Req) returns (Resp)`).
    pub detail: String,
}

impl Item {
    fn parse(line: &str) -> Option<Item> {
        let (word, rest) = line.split_once(' ')?;
        let kind = match word {
            "service" => Kind::Service,
            "rpc" => Kind::Rpc,
            "message" => Kind::Message,
            "field" => Kind::Field,
            "reserved" => Kind::Reserved,
            "enum" => Kind::Enum,
            "value" => Kind::Value,
            _ => return None, // `package runtime.v1`
        };
        let split_at = match kind {
            Kind::Rpc => rest.find('('),
            Kind::Field | Kind::Value => rest.find(" ="),
            _ => None,
        };
        let (name, detail) = match split_at {
            Some(at) => (rest[..at].trim(), rest[at..].trim()),
            None => (rest.trim(), ""),
        };
        Some(Item {
            kind,
            name: name.to_string(),
            detail: detail.to_string(),
        })
    }

    /// The message or enum a field, value or reserved range belongs to.
    fn parent(&self) -> Option<&str> {
        match self.kind {
            Kind::Field | Kind::Value => self.name.rsplit_once('.').map(|(p, _)| p),
            Kind::Reserved => self.name.split_once(' ').map(|(p, _)| p),
            _ => None,
        }
    }

    fn short_name(&self) -> &str {
        match self.kind {
            Kind::Field | Kind::Value => self.name.rsplit_once('.').map_or(&self.name, |(_, n)| n),
            Kind::Reserved => self.name.split_once(' ').map_or(&self.name, |(_, r)| r),
            _ => &self.name,
        }
    }

    fn noun(&self) -> &'static str {
        match self.kind {
            Kind::Service => "service",
            Kind::Rpc => "RPC",
            Kind::Message => "message",
            Kind::Field => "field",
            Kind::Reserved => "reserved numbers",
            Kind::Enum => "enum",
            Kind::Value => "enum value",
        }
    }

    fn code(&self) -> String {
        match self.kind {
            Kind::Rpc => format!("`{}{}`", self.name, self.detail),
            _ if self.detail.is_empty() => format!("`{}`", self.name),
            _ => format!("`{} {}`", self.name, self.detail),
        }
    }

    fn key(&self) -> (Kind, String) {
        (self.kind, self.name.clone())
    }
}

/// The marks a surface line may carry that do not change the wire or the Rust types' shape.
const MARKS: [&str; 2] = [" [deprecated]", " [debug_redact]"];

fn without_marks(detail: &str) -> String {
    MARKS
        .iter()
        .fold(detail.to_string(), |d, mark| d.replace(mark, ""))
}

/// The difference of two surfaces, each list in the new (or, for removals, the old)
/// surface's order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Diff {
    /// Elements only in the new surface.
    pub added: Vec<Item>,
    /// Elements only in the old surface.
    pub removed: Vec<Item>,
    /// Elements in both whose description differs: `(old, new)`.
    pub changed: Vec<(Item, Item)>,
    /// Fields or enum values that kept their number (and type) under a new name: `(old, new)`.
    pub renamed: Vec<(Item, Item)>,
}

impl Diff {
    /// Whether the two surfaces are the same.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && self.renamed.is_empty()
    }

    /// Whether anything users may depend on went away or changed meaning.
    pub fn is_breaking(&self) -> bool {
        self.removed.iter().any(|item| item.kind != Kind::Reserved)
            || self
                .changed
                .iter()
                .any(|(old, new)| is_breaking_change(old, new))
            || !self.renamed.is_empty()
    }
}

fn is_breaking_change(old: &Item, new: &Item) -> bool {
    without_marks(&old.detail) != without_marks(&new.detail)
}

/// Compares two rendered surfaces.
pub fn diff(old: &str, new: &str) -> Diff {
    let parse = |text: &str| -> Vec<Item> { text.lines().filter_map(Item::parse).collect() };
    let (old, new) = (parse(old), parse(new));
    let old_by_key: BTreeMap<_, _> = old.iter().map(|i| (i.key(), i)).collect();
    let new_by_key: BTreeMap<_, _> = new.iter().map(|i| (i.key(), i)).collect();
    let mut out = Diff::default();
    for item in &new {
        match old_by_key.get(&item.key()) {
            None => out.added.push(item.clone()),
            Some(before) if before.detail != item.detail => {
                out.changed.push(((*before).clone(), item.clone()));
            }
            Some(_) => {}
        }
    }
    out.removed = old
        .iter()
        .filter(|item| !new_by_key.contains_key(&item.key()))
        .cloned()
        .collect();
    // A removed field or value whose number (and type) reappears under another name in the
    // same message or enum was renamed.
    let mut removed = Vec::new();
    for gone in std::mem::take(&mut out.removed) {
        let same = |new: &Item| {
            matches!(gone.kind, Kind::Field | Kind::Value)
                && new.kind == gone.kind
                && new.parent() == gone.parent()
                && without_marks(&new.detail) == without_marks(&gone.detail)
        };
        match out.added.iter().position(same) {
            Some(at) => {
                let new = out.added.remove(at);
                out.renamed.push((gone, new));
            }
            None => removed.push(gone),
        }
    }
    out.removed = removed;
    out
}

/// Renders one change-log entry (a `## ` section in Markdown) for the API crate.
pub fn render_entry(from: &Revision, to: &Revision, diff: &Diff, version: Option<&str>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## Unreleased: runtime.v1 {} → {}\n",
        from.git_ref, to.git_ref
    );
    let _ = writeln!(
        out,
        "`runtime.v1` from kubernetes/cri-api {} instead of {}.",
        to.describe(),
        from.describe()
    );
    if let Some(version) = version {
        let _ = writeln!(out, "By the versioning policy this is version `{version}`.");
    }
    out.push('\n');
    if diff.is_empty() {
        out.push_str("No change to the API surface (RPCs, messages, fields, enum values).\n");
        return out;
    }

    let added_parents: Vec<&str> = diff
        .added
        .iter()
        .filter(|i| matches!(i.kind, Kind::Message | Kind::Enum))
        .map(|i| i.name.as_str())
        .collect();
    let removed_parents: Vec<&str> = diff
        .removed
        .iter()
        .filter(|i| matches!(i.kind, Kind::Message | Kind::Enum))
        .map(|i| i.name.as_str())
        .collect();

    let section = |out: &mut String, title: &str, lines: Vec<String>| {
        if !lines.is_empty() {
            let _ = writeln!(out, "### {title}\n");
            for line in lines {
                let _ = writeln!(out, "{line}");
            }
            out.push('\n');
        }
    };

    // Added: RPCs first, then messages, fields, enums and values (each in the new surface's
    // order); members of a new message or enum are listed under it.
    let mut in_order: Vec<&Item> = diff.added.iter().collect();
    in_order.sort_by_key(|item| item.kind);
    let mut added = Vec::new();
    for item in in_order {
        if item.parent().is_some_and(|p| added_parents.contains(&p)) {
            continue;
        }
        let mut line = format!("- {} {}", item.noun(), item.code());
        if item.kind == Kind::Field && item.detail.contains("[deprecated]") {
            line.push_str(" (deprecated from the start)");
        }
        added.push(line);
        if matches!(item.kind, Kind::Message | Kind::Enum) {
            for member in diff
                .added
                .iter()
                .filter(|m| m.parent() == Some(item.name.as_str()))
            {
                added.push(format!("  - `{} {}`", member.short_name(), member.detail));
            }
        }
    }
    section(&mut out, "Added", added);

    let mut other = Vec::new();
    let mut breaking = Vec::new();
    for (old, new) in &diff.changed {
        if is_breaking_change(old, new) {
            breaking.push(format!(
                "- **breaking**: {} `{}` changed from `{}` to `{}`",
                new.noun(),
                new.name,
                old.detail,
                new.detail
            ));
        } else {
            for mark in MARKS {
                let mark = mark.trim();
                let (was, is) = (old.detail.contains(mark), new.detail.contains(mark));
                if was != is {
                    other.push(format!(
                        "- {} `{}` {} `{mark}`",
                        new.noun(),
                        new.name,
                        if is { "is now" } else { "is no longer" }
                    ));
                }
            }
        }
    }
    let mut renamed_in: Vec<&str> = Vec::new();
    for parent in diff.renamed.iter().filter_map(|(_, new)| new.parent()) {
        if !renamed_in.contains(&parent) {
            renamed_in.push(parent);
        }
    }
    for parent in renamed_in {
        let pairs: Vec<_> = diff
            .renamed
            .iter()
            .filter(|(_, new)| new.parent() == Some(parent))
            .collect();
        let (kind, nouns, effect) = match (pairs[0].1.kind, pairs.len()) {
            (Kind::Value, n) => (
                "enum",
                if n == 1 { "value" } else { "values" },
                "the names in proto3 JSON and in `as_str_name`/`from_str_name` change",
            ),
            (_, n) => (
                "message",
                if n == 1 { "field" } else { "fields" },
                "the Rust field names and the proto3 JSON names change",
            ),
        };
        breaking.push(format!(
            "- **breaking**: {} {nouns} of {kind} `{parent}` renamed, numbers and types kept \
             (the wire format is unchanged; {effect}):",
            pairs.len()
        ));
        for (old, new) in pairs {
            breaking.push(format!(
                "  - `{}` → `{}`",
                old.short_name(),
                new.short_name()
            ));
        }
    }
    for item in &diff.removed {
        if item.parent().is_some_and(|p| removed_parents.contains(&p)) {
            continue;
        }
        if item.kind == Kind::Reserved {
            other.push(format!("- no longer reserved: {}", item.code()));
        } else {
            breaking.push(format!(
                "- **breaking**: removed {} {}",
                item.noun(),
                item.code()
            ));
        }
    }
    section(&mut out, "Breaking", breaking);
    section(&mut out, "Other", other);
    out
}

/// The short entry for a crate whose generated code follows runtime.v1.
pub fn render_follower_entry(from: &Revision, to: &Revision, diff: &Diff, what: &str) -> String {
    let mut out = format!(
        "## Unreleased: runtime.v1 {} → {}\n\n",
        from.git_ref, to.git_ref
    );
    let rpcs: Vec<String> = diff
        .added
        .iter()
        .filter(|i| i.kind == Kind::Rpc)
        .map(|i| format!("`{}`", i.name))
        .collect();
    let _ = write!(
        out,
        "Regenerated for `cri-api-v1` with runtime.v1 from kubernetes/cri-api `{}`: the {what} \
         follow its API surface",
        to.git_ref
    );
    if !rpcs.is_empty() {
        let _ = write!(out, " (new RPCs: {})", rpcs.join(", "));
    }
    out.push_str(". `cri-api-v1`'s change log lists every change.");
    if diff.is_breaking() {
        out.push_str(" Upstream removed or changed parts of the API: **breaking**.");
    }
    out.push_str("\n\n");
    out
}

/// The version the API crate should carry for `to_tag` by the README's policy: `0.M.0` for a
/// new Kubernetes minor `1.M` (with upstream's pre-release suffix), else the next patch.
pub fn next_version(current: &semver::Version, to_tag: &str) -> Option<semver::Version> {
    let upstream = parse_tag(to_tag)?;
    if (upstream.major, upstream.minor) != (current.major, current.minor) {
        let mut next = semver::Version::new(0, upstream.minor, 0);
        next.pre = upstream.pre;
        Some(next)
    } else if !current.pre.is_empty() && upstream.pre.is_empty() {
        // From our pre-release of this minor to the stable one.
        Some(semver::Version::new(
            current.major,
            current.minor,
            current.patch,
        ))
    } else {
        let mut next = current.clone();
        next.patch += 1;
        next.pre = upstream.pre;
        Some(next)
    }
}

/// The `version` of the package whose manifest is `<root>/<crate_dir>/Cargo.toml`.
pub fn crate_version(root: &Path, crate_dir: &str) -> Result<semver::Version> {
    let path = root.join(crate_dir).join("Cargo.toml");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let manifest: toml::Table =
        toml::from_str(&text).with_context(|| format!("{} is not TOML", path.display()))?;
    let version = manifest
        .get("package")
        .and_then(|p| p.get("version"))
        .and_then(|v| v.as_str())
        .with_context(|| format!("{} has no package.version", path.display()))?;
    semver::Version::parse(version)
        .with_context(|| format!("{}: `{version}` is not a version", path.display()))
}

#[cfg(test)]
mod tests;
