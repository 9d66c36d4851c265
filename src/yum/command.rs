//! `egress-probe repos`: the offline view of what yum or dnf would use.

use std::path::{Path, PathBuf};

use crate::exit::{Status, UsageError};
use crate::yum::report::{self, ReposReport};
use crate::yum::{Overrides, Severity, discover};

/// Output formats of `repos`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For people: the configuration, then each repository with its details.
    Table,
    /// The versioned JSON report (schema_version 1).
    Json,
}

/// Arguments of `repos`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Read the configuration under this directory (a mounted image, a test fixture).
    #[arg(
        long,
        value_name = "DIR",
        default_value = "/",
        env = "EGRESS_PROBE_ROOT"
    )]
    pub root: PathBuf,

    /// The instance's region: fills the RHUI placeholder and is suggested as the fix for a
    /// missing or `default` $awsregion.
    #[arg(long, value_name = "REGION", env = "EGRESS_PROBE_REGION")]
    pub region: Option<String>,

    /// Use this $releasever, as the package manager's own --releasever does.
    #[arg(long, value_name = "VERSION")]
    pub releasever: Option<String>,

    /// Show disabled repositories too.
    #[arg(long)]
    pub all_repos: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Runs `repos`: exit 1 when any repository shown (or the configuration) has an error.
pub fn run(args: Args) -> anyhow::Result<Status> {
    check_root(&args.root)?;
    let region = args.region.as_deref().map(checked_region).transpose()?;
    let overrides = Overrides {
        region: region.map(str::to_string),
        releasever: args.releasever.clone(),
        all_repos: args.all_repos,
        imds_region: None,
    };

    let discovery = discover(&args.root, &overrides);
    if discovery.main_config.is_none() && discovery.repos.is_empty() && discovery.hidden == 0 {
        return Err(UsageError::new(format!(
            "{} holds no yum or dnf configuration (no /etc/yum.conf, /etc/dnf/dnf.conf or \
             /etc/yum.repos.d/*.repo): is --root the image's root directory?",
            args.root.display()
        )));
    }
    let report = ReposReport::new(&discovery);
    let text = match args.format {
        Format::Table => report::table(&report),
        Format::Json => report::json(&report)?,
    };
    crate::output::print(&text)?;

    Ok(match report.worst() {
        Some(Severity::Error) => Status::Failing,
        _ => Status::Clean,
    })
}

/// `--root` must be a directory.
pub fn check_root(root: &Path) -> anyhow::Result<()> {
    if root.is_dir() {
        Ok(())
    } else {
        Err(UsageError::new(format!(
            "--root {}: not a directory",
            root.display()
        )))
    }
}

/// `--region` must look like a region (`us-east-1`).
pub fn checked_region(region: &str) -> anyhow::Result<&str> {
    if crate::aws::hostname::is_region(region) {
        Ok(region)
    } else {
        Err(UsageError::new(format!(
            "--region `{region}` is not a region name like `us-east-1`"
        )))
    }
}
