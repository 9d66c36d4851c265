//! `egress-probe check`: the one-shot diagnostic.

use crate::exit::Status;

/// Arguments of `check`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the check.
pub fn run(_args: Args) -> anyhow::Result<Status> {
    anyhow::bail!("check is not built yet")
}
