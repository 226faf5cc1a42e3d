//! `cargo xtask`: vendor upstream CRI protos, regenerate the API crates, check freshness.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use xtask::{check, codegen, vendor, workspace_root};

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
        #[arg(long = "ref", value_name = "TAG")]
        v1_ref: Option<String>,
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
    let root = workspace_root();
    match cli.command {
        Command::Vendor {
            git,
            v1_ref,
            v1alpha2_ref,
            gogo_git,
            gogo_ref,
        } => {
            let cwd = std::env::current_dir().context("cannot read the current directory")?;
            let options = vendor::Options {
                cri_api_git: git,
                v1_ref,
                v1alpha2_ref,
                gogo_git,
                gogo_ref,
            };
            let outcome = vendor::vendor(&root, &cwd, &options)?;
            if outcome.changed.is_empty() {
                println!("proto/ is already up to date");
            } else {
                for path in &outcome.changed {
                    println!("updated {}", path.display());
                }
                println!(
                    "next: `cargo xtask regen`, then `cargo insta review` for the API changes"
                );
            }
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
