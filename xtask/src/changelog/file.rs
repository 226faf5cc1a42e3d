//! Writing entries into the crates' change logs (Keep a Changelog): under `## [Unreleased]`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::{CHANGELOG_CRATES, Revision, Role, diff, render_follower_entry};
use crate::fsutil;

/// The start of a change log this tool creates (the crates' own follow the same form).
const NEW_CHANGELOG: &str = "# Changelog\n\n\
All notable changes to this crate are documented in this file. The format follows\n\
[Keep a Changelog](https://keepachangelog.com/en/1.1.0/).\n\n## [Unreleased]\n";

/// The heading of the section that gathers what is not released yet (Keep a Changelog).
pub const UNRELEASED: &str = "## [Unreleased]";

/// `entry` (a `## Unreleased: …` section, as [`render_entry`](super::render_entry) writes it for a pull request) as
/// a subsection of a change log's `## [Unreleased]` section: its heading becomes `### …` and
/// every heading below it one level deeper.
pub fn as_unreleased_subsection(entry: &str) -> String {
    let mut out = String::with_capacity(entry.len() + 16);
    for line in entry.lines() {
        if let Some(title) = line.strip_prefix("## Unreleased: ") {
            let _ = writeln!(out, "### {title}");
        } else if line.starts_with('#') {
            let _ = writeln!(out, "#{line}");
        } else {
            let _ = writeln!(out, "{line}");
        }
    }
    out
}

/// Adds `entry` to the change log at `path`, first under its `## [Unreleased]` section (see
/// [`as_unreleased_subsection`]): the section is made above the newest release when the file
/// has none, and the file is created when missing. Returns whether the file changed: an entry
/// already present is not added again.
pub fn prepend_entry(path: &Path, entry: &str) -> Result<bool> {
    if !entry.starts_with("## ") {
        bail!("a change-log entry starts with a `## ` heading");
    }
    let old = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => NEW_CHANGELOG.to_string(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let section = as_unreleased_subsection(entry);
    if old.contains(section.trim()) {
        return Ok(false);
    }
    let unreleased = old
        .lines()
        .scan(0, |at, line| {
            let start = *at;
            *at += line.len() + 1;
            Some((start, line))
        })
        .find(|(_, line)| line.trim_end() == UNRELEASED)
        .map(|(start, _)| start);
    let text = match unreleased {
        Some(start) => {
            // Right below the heading: newest first.
            let after = old[start..].find('\n').map_or(old.len(), |n| start + n + 1);
            let (head, rest) = old.split_at(after);
            let rest = rest.trim_start_matches('\n');
            let gap = if rest.is_empty() { "" } else { "\n" };
            format!("{head}\n{}\n{gap}{rest}", section.trim_end())
        }
        None => {
            let at = old
                .find("\n## ")
                .map_or(old.len(), |n| n + 1)
                .min(old.len());
            let (head, rest) = old.split_at(at);
            format!(
                "{}\n\n{UNRELEASED}\n\n{}\n\n{rest}",
                head.trim_end(),
                section.trim_end()
            )
        }
    };
    let text = format!("{}\n", text.trim_end());
    fsutil::write_if_changed(path, text.as_bytes())
}

/// Writes the entries for a move `from` → `to` into every crate of [`CHANGELOG_CRATES`] below
/// `root`; returns the change logs that changed. Nothing is written when neither the ref nor
/// the surface moved.
pub fn write_changelogs(
    root: &Path,
    from: &Revision,
    to: &Revision,
    api_entry: &str,
) -> Result<Vec<PathBuf>> {
    let diff = diff(&from.surface, &to.surface);
    if from.git_ref == to.git_ref && diff.is_empty() {
        return Ok(Vec::new());
    }
    let mut written = Vec::new();
    for (crate_dir, role) in CHANGELOG_CRATES {
        let entry = match role {
            Role::Api => api_entry.to_string(),
            // A follower's generated code changes only with the surface.
            Role::Follows(_) if diff.is_empty() => continue,
            Role::Follows(what) => render_follower_entry(from, to, &diff, what),
        };
        let path = Path::new(crate_dir).join("CHANGELOG.md");
        if prepend_entry(&root.join(&path), &entry)? {
            written.push(path);
        }
    }
    Ok(written)
}
