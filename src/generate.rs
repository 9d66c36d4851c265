//! `egress-probe generate`: the man pages and shell completions, generated from the same clap
//! definition as the command line itself, for packages and for users.

use std::path::PathBuf;

use anyhow::Context;
use clap::CommandFactory;

use crate::exit::{Status, UsageError};

/// Arguments of `generate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to generate.
    #[command(subcommand)]
    pub what: What,
}

/// The generated files.
#[derive(Debug, clap::Subcommand)]
pub enum What {
    /// The man page of egress-probe (roff) on stdout, or every page with --out.
    Man {
        /// Write egress-probe.1 and one page per subcommand (egress-probe-check.1, ...) here.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// The completion script for SHELL on stdout.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Runs `generate`.
pub fn run(args: Args) -> anyhow::Result<Status> {
    match args.what {
        What::Man { out: None } => {
            let mut page = Vec::new();
            man_page(&mut page)?;
            crate::output::print(&String::from_utf8_lossy(&page))?;
        }
        What::Man { out: Some(dir) } => {
            if dir.exists() && !dir.is_dir() {
                return Err(UsageError::new(format!(
                    "--out {}: not a directory",
                    dir.display()
                )));
            }
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            clap_mangen::generate_to(crate::cli::Cli::command(), &dir)
                .with_context(|| format!("writing man pages in {}", dir.display()))?;
        }
        What::Completions { shell } => {
            crate::output::print(&completions(shell))?;
        }
    }
    Ok(Status::Clean)
}

/// Writes the top-level man page.
pub fn man_page(out: &mut dyn std::io::Write) -> std::io::Result<()> {
    clap_mangen::Man::new(crate::cli::Cli::command()).render(out)
}

/// The completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> String {
    let mut script = Vec::new();
    clap_complete::generate(
        shell,
        &mut crate::cli::Cli::command(),
        "egress-probe",
        &mut script,
    );
    String::from_utf8_lossy(&script).into_owned()
}
