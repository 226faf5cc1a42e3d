//! `completion bash|zsh|fish`: the shell's completion script, from clap's generator.

use clap::CommandFactory;
use clap_complete::{Shell as Generator, generate};

use crate::cli::{Cli, CompletionArgs, Shell};
use crate::failure::{Out, Result};

pub(super) fn completion(args: &CompletionArgs, out: &mut Out) -> Result<()> {
    let generator = match args.shell {
        Shell::Bash => Generator::Bash,
        Shell::Zsh => Generator::Zsh,
        Shell::Fish => Generator::Fish,
    };
    generate(generator, &mut Cli::command(), "crictl", out);
    Ok(())
}
