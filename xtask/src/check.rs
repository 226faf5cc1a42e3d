//! `cargo xtask check`: is what is committed exactly what the pipeline makes?
//!
//! Two questions: does every vendored file still match the checksum in the lock, and does
//! every generated file equal what `cargo xtask regen` would write now.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::lock::{LOCK_FILE, Lock};
use crate::{PROTO_DIR, codegen, fsutil, generated_dirs};

/// Lines of diff shown in a report at most (per file a little less).
const MAX_DIFF_LINES: usize = 100;
const MAX_DIFF_LINES_PER_FILE: usize = 40;

/// One way the tree differs from what the pipeline makes (each variant says what its fields are).
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A vendored file's bytes do not match its lock entry.
    VendoredModified {
        path: PathBuf,
        locked: String,
        actual: String,
    },
    /// A file the lock names is missing.
    VendoredMissing { path: PathBuf },
    /// A file in `proto/` that the lock does not name.
    VendoredUnlocked { path: PathBuf },
    /// A generated file differs from what `regen` makes now; `diff` is a short unified diff.
    GeneratedStale { path: PathBuf, diff: String },
    /// A generated file is missing.
    GeneratedMissing { path: PathBuf },
    /// A file in a generated directory that `regen` no longer makes.
    GeneratedExtra { path: PathBuf },
}

impl Problem {
    fn is_vendored(&self) -> bool {
        matches!(
            self,
            Problem::VendoredModified { .. }
                | Problem::VendoredMissing { .. }
                | Problem::VendoredUnlocked { .. }
        )
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::VendoredModified {
                path,
                locked,
                actual,
            } => write!(
                f,
                "{}: modified (sha256 {actual}, the lock says {locked})",
                path.display()
            ),
            Problem::VendoredMissing { path } => {
                write!(
                    f,
                    "{}: missing (named in {PROTO_DIR}/{LOCK_FILE})",
                    path.display()
                )
            }
            Problem::VendoredUnlocked { path } => {
                write!(
                    f,
                    "{}: not vendored (no entry in {PROTO_DIR}/{LOCK_FILE})",
                    path.display()
                )
            }
            Problem::GeneratedStale { path, diff } => {
                write!(
                    f,
                    "{}: differs from what regen makes now\n{diff}",
                    path.display()
                )
            }
            Problem::GeneratedMissing { path } => write!(f, "{}: missing", path.display()),
            Problem::GeneratedExtra { path } => {
                write!(f, "{}: not made by regen any more", path.display())
            }
        }
    }
}

/// What `check` found; empty means fresh.
#[derive(Debug, Default)]
pub struct Report {
    /// Every difference, vendored files first.
    pub problems: Vec<Problem>,
}

impl Report {
    /// Whether the tree is exactly what the pipeline makes.
    pub fn is_fresh(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_fresh() {
            return write!(f, "vendored protos and generated code are fresh");
        }
        let mut lines = 0;
        for problem in &self.problems {
            let text = problem.to_string();
            let n = text.lines().count();
            if lines + n > MAX_DIFF_LINES {
                writeln!(f, "{}: (diff cut short)", path_of(problem).display())?;
                continue;
            }
            lines += n;
            writeln!(f, "{text}")?;
        }
        if self.problems.iter().any(Problem::is_vendored) {
            writeln!(
                f,
                "fix: vendored files are edited only by `cargo xtask vendor` (it restores the \
                 locked files, or takes new ones with --ref), then run `cargo xtask regen`"
            )?;
        }
        if self.problems.iter().any(|p| !p.is_vendored()) {
            writeln!(
                f,
                "fix: run `cargo xtask regen` (generated files are never edited by hand)"
            )?;
        }
        Ok(())
    }
}

fn path_of(problem: &Problem) -> &Path {
    match problem {
        Problem::VendoredModified { path, .. }
        | Problem::VendoredMissing { path }
        | Problem::VendoredUnlocked { path }
        | Problem::GeneratedStale { path, .. }
        | Problem::GeneratedMissing { path }
        | Problem::GeneratedExtra { path } => path,
    }
}

/// Checks the workspace at `root`. An `Err` means the check itself could not run (for example
/// the vendored protos do not compile); differences are in the returned report.
pub fn check(root: &Path) -> Result<Report> {
    let mut report = Report::default();
    check_vendored(root, &mut report)?;
    let generated = codegen::generate(root)?;
    for (path, expected) in &generated {
        match std::fs::read(root.join(path)) {
            Ok(actual) if &actual == expected => {}
            Ok(actual) => report.problems.push(Problem::GeneratedStale {
                path: path.clone(),
                diff: short_diff(&actual, expected),
            }),
            Err(_) => report
                .problems
                .push(Problem::GeneratedMissing { path: path.clone() }),
        }
    }
    for dir in generated_dirs() {
        for rel in fsutil::list_files(&root.join(&dir))? {
            let path = dir.join(rel);
            if !generated.contains_key(&path) {
                report.problems.push(Problem::GeneratedExtra { path });
            }
        }
    }
    Ok(report)
}

fn check_vendored(root: &Path, report: &mut Report) -> Result<()> {
    let proto_dir = root.join(PROTO_DIR);
    let lock = Lock::read(&proto_dir)?;
    for entry in &lock.files {
        let path = Path::new(PROTO_DIR).join(&entry.path);
        match std::fs::read(root.join(&path)) {
            Ok(bytes) => {
                let actual = fsutil::sha256_hex(&bytes);
                if actual != entry.sha256 {
                    report.problems.push(Problem::VendoredModified {
                        path,
                        locked: entry.sha256.clone(),
                        actual,
                    });
                }
            }
            Err(_) => report.problems.push(Problem::VendoredMissing { path }),
        }
    }
    for rel in fsutil::list_files(&proto_dir)? {
        let name = rel.to_string_lossy().replace('\\', "/");
        if name != LOCK_FILE && lock.get(&name).is_none() {
            report.problems.push(Problem::VendoredUnlocked {
                path: Path::new(PROTO_DIR).join(rel),
            });
        }
    }
    Ok(())
}

/// A unified diff of two versions of a file, cut to a few dozen lines; binary files are only
/// said to differ.
fn short_diff(committed: &[u8], regenerated: &[u8]) -> String {
    let (Ok(old), Ok(new)) = (
        std::str::from_utf8(committed),
        std::str::from_utf8(regenerated),
    ) else {
        return format!(
            "  (binary: {} bytes committed, {} bytes regenerated)",
            committed.len(),
            regenerated.len()
        );
    };
    let diff = similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(1)
        .header("committed", "regenerated")
        .to_string();
    let total = diff.lines().count();
    let mut out: String = diff
        .lines()
        .take(MAX_DIFF_LINES_PER_FILE)
        .map(|line| format!("  {line}\n"))
        .collect();
    if total > MAX_DIFF_LINES_PER_FILE {
        out.push_str(&format!(
            "  … {} more diff lines\n",
            total - MAX_DIFF_LINES_PER_FILE
        ));
    }
    out.trim_end().to_string()
}
