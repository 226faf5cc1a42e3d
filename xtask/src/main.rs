//! `cargo xtask`: vendor upstream CRI protos, regenerate the API crates, check freshness.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use xtask::{
    API_VERSIONS, PROTO_DIR, changelog, check, codegen, compile, release, surface, vendor,
    workspace_root,
};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Maintenance pipeline of the CRI crates")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fetch upstream api.proto files (and their licenses) with git into proto/, byte for byte,
    /// and record their provenance in proto/upstream.lock. Without options, re-fetches the pins
    /// of the lock. proto/ is left untouched unless everything fetched compiles.
    Vendor {
        /// Where to fetch kubernetes/cri-api from: a URL or a local path (a git bundle works).
        #[arg(long, value_name = "URL-OR-PATH")]
        git: Option<String>,
        /// The kubernetes/cri-api tag (or branch) to take runtime.v1 from [lock, else v0.36.3].
        #[arg(long = "ref", value_name = "TAG", conflicts_with = "latest")]
        v1_ref: Option<String>,
        /// Take runtime.v1 from the newest stable `vX.Y.Z` tag of the source (by semantic
        /// version) when it is newer than the lock; says which tag it took and from which.
        #[arg(long)]
        latest: bool,
        /// With --latest: pre-releases (`v0.37.0-beta.0`) count too.
        #[arg(long, requires = "latest")]
        pre: bool,
        /// The kubernetes/cri-api tag to take runtime.v1alpha2 from [lock, else v0.25.16].
        #[arg(long, value_name = "TAG")]
        v1alpha2_ref: Option<String>,
        /// Where to fetch gogo/protobuf from (gogo.proto, imported by v1alpha2).
        #[arg(long, value_name = "URL-OR-PATH")]
        gogo_git: Option<String>,
        /// The gogo/protobuf tag [lock, else v1.3.2].
        #[arg(long, value_name = "TAG")]
        gogo_ref: Option<String>,
    },
    /// Write a change-log entry from the difference of two runtime.v1 API surfaces (added RPCs,
    /// messages, fields, enum values; removed or changed ones marked breaking) into the
    /// CHANGELOG.md of cri-api-v1 (and a pointer to it into cri-convert's and cri-client's).
    /// By default from proto/ as committed at HEAD to proto/ as it is now (after `vendor`).
    Changelog {
        /// Where to fetch kubernetes/cri-api from for --from/--to: a URL or a local path.
        #[arg(long, value_name = "URL-OR-PATH")]
        git: Option<String>,
        /// The old surface: an upstream ref [default: proto/ at this repository's HEAD].
        #[arg(long, value_name = "REF")]
        from: Option<String>,
        /// The new surface: an upstream ref [default: proto/ as it is now].
        #[arg(long, value_name = "REF")]
        to: Option<String>,
        /// Print the entry only; write no CHANGELOG.md.
        #[arg(long)]
        dry_run: bool,
        /// Also write the entry alone to this file (the body of an update pull request).
        #[arg(long, value_name = "FILE")]
        entry_out: Option<std::path::PathBuf>,
    },
    /// Print the API surface of every version (the text of the insta snapshots in
    /// xtask/tests/snapshots/), or with --write update those snapshots (no cargo-insta needed).
    Surface {
        /// Rewrite the snapshot files instead of printing.
        #[arg(long)]
        write: bool,
    },
    /// Check every publishable workspace member (from `cargo metadata`) against the README's
    /// versioning rule and packaging needs (LICENSE, README.md, docs.rs settings, versioned
    /// path dependencies); print them, one per line (`name version dir`), when all is well.
    ReleaseCheck,
    /// Regenerate the API crates' code, descriptors and upstream constants from proto/.
    Regen,
    /// Fail when a vendored file does not match the lock or generated code is stale.
    Check,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    // XTASK_ROOT: run the pipeline on another copy of the workspace (the update script's test).
    let root = std::env::var_os("XTASK_ROOT").map_or_else(workspace_root, Into::into);
    match cli.command {
        Command::Vendor {
            git,
            v1_ref,
            v1alpha2_ref,
            gogo_git,
            gogo_ref,
            latest,
            pre,
        } => {
            let cwd = std::env::current_dir().context("cannot read the current directory")?;
            let options = vendor::Options {
                cri_api_git: git,
                v1_ref,
                v1alpha2_ref,
                gogo_git,
                gogo_ref,
                latest: latest.then_some(if pre {
                    vendor::Latest::WithPreReleases
                } else {
                    vendor::Latest::Stable
                }),
            };
            let outcome = vendor::vendor(&root, &cwd, &options)?;
            if let Some(latest) = &outcome.latest {
                if latest.moved() {
                    println!("runtime.v1: moved from {} to {}", latest.from, latest.to);
                } else {
                    println!(
                        "runtime.v1: already current at {} (the newest {}tag is {})",
                        latest.from,
                        if pre { "" } else { "stable " },
                        latest.newest
                    );
                }
            }
            if outcome.changed.is_empty() {
                println!("proto/ is already up to date");
            } else {
                for path in &outcome.changed {
                    println!("updated {}", path.display());
                }
                println!(
                    "next: `cargo xtask regen`, then `cargo xtask changelog` for the API changes"
                );
            }
        }
        Command::Changelog {
            git,
            from,
            to,
            dry_run,
            entry_out,
        } => {
            let cwd = std::env::current_dir().context("cannot read the current directory")?;
            let location = git.map_or_else(
                || vendor::CRI_API_URL.to_string(),
                |git| vendor::resolve_location(&git, &cwd),
            );
            // The version hint compares with the crate as it is: only for the working tree.
            let to_tree = to.is_none();
            let from = match from {
                Some(r) => changelog::at_upstream(&location, &r)?,
                None => changelog::at_commit(&root, "HEAD")?,
            };
            let to = match to {
                Some(r) => changelog::at_upstream(&location, &r)?,
                None => changelog::in_tree(&root)?,
            };
            let diff = changelog::diff(&from.surface, &to.surface);
            if from.git_ref == to.git_ref && diff.is_empty() {
                println!(
                    "runtime.v1: still at {} with the same API surface; no change-log entry",
                    to.git_ref
                );
                return Ok(ExitCode::SUCCESS);
            }
            let version = changelog::crate_version(&root, "crates/cri-api-v1")
                .ok()
                .filter(|_| to_tree && from.git_ref != to.git_ref)
                .and_then(|current| changelog::next_version(&current, &to.git_ref))
                .map(|v| v.to_string());
            let entry = changelog::render_entry(&from, &to, &diff, version.as_deref());
            print!("{entry}");
            if let Some(path) = entry_out {
                std::fs::write(&path, &entry)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            if !dry_run {
                for path in changelog::write_changelogs(&root, &from, &to, &entry)? {
                    eprintln!("wrote {}", path.display());
                }
            }
        }
        Command::Surface { write } => {
            for version in &API_VERSIONS {
                let compiler = compile(&root.join(PROTO_DIR), version)?;
                let text = surface::render(&compiler.descriptor_pool(), version.package);
                if write {
                    let path = surface::snapshot_path(version);
                    if surface::write_snapshot(&root.join(&path), &text)? {
                        println!("wrote {}", path.display());
                    }
                } else {
                    print!("{text}");
                }
            }
        }
        Command::ReleaseCheck => {
            let members = release::members(&root)?;
            let minor = release::kubernetes_minor(&root)?;
            let problems = release::check(&members, minor);
            if !problems.is_empty() {
                for problem in &problems {
                    eprintln!("{problem}");
                }
                eprintln!(
                    "{} problem(s); the rule is in the README's Versioning section",
                    problems.len()
                );
                return Ok(ExitCode::FAILURE);
            }
            for member in members.iter().filter(|m| m.publishable) {
                let dir = member.dir.strip_prefix(&root).unwrap_or(&member.dir);
                println!("{} {} {}", member.name, member.version, dir.display());
            }
            eprintln!(
                "every publishable crate follows the versioning rule (runtime.v1 is Kubernetes 1.{minor})"
            );
        }
        Command::Regen => {
            let files = codegen::generate(&root)?;
            let changed = codegen::write(&root, &files)?;
            if changed.is_empty() {
                println!("generated code is already up to date");
            }
            for path in &changed {
                println!("wrote {}", path.display());
            }
        }
        Command::Check => {
            let report = check::check(&root)?;
            if !report.is_fresh() {
                eprint!("{report}");
                return Ok(ExitCode::FAILURE);
            }
            println!("{report}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
