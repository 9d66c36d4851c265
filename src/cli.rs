//! Command-line definitions: the top-level flags and one subcommand per job.

use clap::{Parser, Subcommand};

use crate::exit::Status;

/// Where does this host's S3 and package traffic really go?
#[derive(Debug, Parser)]
#[command(name = "egress-probe", version, about, long_about = None)]
#[command(after_help = EXIT_CODES)]
pub struct Cli {
    /// More log detail on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// The exit codes, shown under `--help`.
pub const EXIT_CODES: &str = "Exit codes:
  0  no failing finding
  1  at least one failing finding or spec expectation (see --fail-on, --spec)
  2  usage or configuration error
  3  could not run";

/// The jobs egress-probe does.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Probe every S3 and package name this host depends on and judge the paths.
    #[command(after_help = EXIT_CODES)]
    Check(Box<crate::check::Args>),
    /// Show the package repositories yum or dnf would use, offline, with every variable's source.
    Repos(crate::yum::Args),
    /// Print an S3 endpoint policy for the account's buckets and the repositories' buckets.
    Policy(crate::policy::Args),
    /// AWS address space for firewall rules: lookup, list within a rule budget, update, diff, info.
    Ranges(Box<crate::ranges::Args>),
    /// What the VPC's flow logs say: REJECTs, plaintext, other regions, S3 paths, NAT.
    #[command(after_help = EXIT_CODES)]
    Flowlogs(Box<crate::flowlogs::Args>),
    /// Summarize many hosts' check reports (files, JSON Lines, directories) into one fleet view.
    Merge(crate::merge::Args),
    /// Write the man pages or a shell's completion script.
    Generate(crate::generate::Args),
}

/// Parses the process arguments; exits with code 2 on a usage error.
pub fn parse() -> Cli {
    match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => {
            // --help and --version: clap's own output, exit 0.
            let _ = err.print();
            std::process::exit(0);
        }
        Err(err)
            if err.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand =>
        {
            // No subcommand at all: the help is the most useful answer.
            let _ = err.print();
            std::process::exit(Status::Usage as i32);
        }
        Err(err) => {
            eprintln!("egress-probe: {}", usage_line(&err));
            std::process::exit(Status::Usage as i32);
        }
    }
}

/// A clap usage error on one line, with the hint to ask for help.
fn usage_line(err: &clap::Error) -> String {
    // The first paragraph: the message, and for a missing argument the names on the lines
    // that follow it.
    let text = err.render().to_string();
    let paragraph: Vec<&str> = text
        .lines()
        .map(str::trim)
        .skip_while(|line| line.is_empty())
        .take_while(|line| !line.is_empty())
        .collect();
    let joined = paragraph.join(" ");
    let message = joined.strip_prefix("error: ").unwrap_or(&joined);
    let message = if message.is_empty() {
        "invalid arguments"
    } else {
        message
    };
    format!("{message} (see --help)")
}

/// Runs the chosen subcommand.
pub fn run(cli: Cli) -> anyhow::Result<Status> {
    match cli.command {
        Command::Check(args) => crate::check::run(*args),
        Command::Repos(args) => crate::yum::run(args),
        Command::Policy(args) => crate::policy::run(args),
        Command::Ranges(args) => crate::ranges::run(*args),
        Command::Flowlogs(args) => crate::flowlogs::run(*args),
        Command::Merge(args) => crate::merge::run(args),
        Command::Generate(args) => crate::generate::run(args),
    }
}
