//! `egress-probe ranges`: AWS address space for the people who write the firewall rules:
//! lookups, exactly aggregated lists fitted into NACL and security-group budgets, and the
//! upkeep of the ip-ranges data itself (update, diff, info).

pub mod aggregate;
pub mod budget;
pub mod diff;
pub mod format;
pub mod info;
pub mod list;
pub mod lookup;
pub mod report;
pub mod rules;
pub mod select;
pub mod update;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Subcommand, ValueEnum};

use crate::aws::ipranges::IpRanges;
use crate::aws::source::{self, Loaded, SourceKind, SourceOptions};
use crate::exit::Status;

/// Age past which the data is called stale.
pub const STALE_AFTER_SECONDS: i64 = 7 * 24 * 3600;

/// Arguments of `ranges`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub source: SourceArgs,

    #[command(subcommand)]
    pub command: RangesCommand,
}

/// Where the ip-ranges data comes from (shared by every `ranges` subcommand).
#[derive(Debug, clap::Args)]
pub struct SourceArgs {
    /// Use this ip-ranges.json instead of the cache or a download.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "EGRESS_PROBE_IP_RANGES"
    )]
    pub ip_ranges: Option<PathBuf>,

    /// Cache directory [default: /var/cache/egress-probe for root, else the user's cache].
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        env = "EGRESS_PROBE_CACHE_DIR"
    )]
    pub cache_dir: Option<PathBuf>,

    /// Where to download ip-ranges.json from.
    #[arg(long, global = true, value_name = "URL", env = "EGRESS_PROBE_IP_RANGES_URL",
          default_value = source::OFFICIAL_URL)]
    pub url: String,

    /// Never download; use the cache or --ip-ranges only.
    #[arg(long, global = true)]
    pub offline: bool,

    /// Deadline for a download or an IMDS request, in seconds.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 10.0)]
    pub timeout: f64,
}

impl SourceArgs {
    /// The source options these flags ask for.
    pub fn options(&self, download: bool) -> SourceOptions {
        SourceOptions {
            file: self.ip_ranges.clone(),
            url: self.url.clone(),
            cache_dir: self.cache_dir.clone(),
            download: download && !self.offline,
            timeout: self.deadline(),
            extra_roots: Vec::new(),
        }
    }

    /// The per-request deadline.
    pub fn deadline(&self) -> Duration {
        Duration::try_from_secs_f64(self.timeout.max(0.001)).unwrap_or(Duration::from_secs(10))
    }
}

/// The `ranges` subcommands.
#[derive(Debug, Subcommand)]
pub enum RangesCommand {
    /// Every published entry containing an address, CIDR or hostname, longest prefix first.
    Lookup(lookup::Args),
    /// The selected prefixes, exactly aggregated, optionally fitted into a rule budget.
    List(Box<list::Args>),
    /// Refresh the cached ip-ranges.json with a conditional request.
    Update(update::Args),
    /// Prefixes added and removed between two ip-ranges files, per service and region.
    Diff(diff::Args),
    /// Which ip-ranges data is in use, its createDate and age.
    Info(info::Args),
}

/// Report formats of the commands that print a table or JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Aligned text for people.
    Table,
    /// JSON for scripts (`schema_version` 1).
    Json,
}

/// Runs a `ranges` subcommand on a small runtime of its own.
pub fn run(args: Args) -> anyhow::Result<Status> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| anyhow::anyhow!("starting the async runtime: {err}"))?;
    runtime.block_on(async {
        match args.command {
            RangesCommand::Lookup(cmd) => lookup::run(&args.source, cmd).await,
            RangesCommand::List(cmd) => list::run(&args.source, *cmd).await,
            RangesCommand::Update(cmd) => update::run(&args.source, cmd).await,
            RangesCommand::Diff(cmd) => diff::run(cmd),
            RangesCommand::Info(cmd) => info::run(&args.source, cmd).await,
        }
    })
}

/// Obtains the data for a command that needs it, warning about stale or degraded data; no data
/// at all is an error saying what was tried.
pub async fn load(source: &SourceArgs) -> anyhow::Result<(Loaded, IpRanges)> {
    let mut loaded = source::obtain(&source.options(true)).await?;
    let Some(ranges) = loaded.ranges.take() else {
        anyhow::bail!(
            "no ip-ranges data: {}; pass --ip-ranges FILE or run `egress-probe ranges update`",
            loaded.problems.join("; ")
        );
    };
    if loaded.kind == SourceKind::Download {
        for problem in &loaded.problems {
            tracing::info!(%problem, "before downloading");
        }
    }
    for warning in &ranges.warnings {
        tracing::warn!("ip-ranges: {warning}");
    }
    if !ranges.lacks.is_empty() {
        tracing::warn!("ip-ranges file lacks {}", ranges.lacks.join(", "));
    }
    if let Some(age) = ranges.age_seconds(time::OffsetDateTime::now_utc())
        && age > STALE_AFTER_SECONDS
    {
        tracing::warn!(
            "ip-ranges data is {} old (createDate {}); run `egress-probe ranges update`",
            report::human_age(age),
            ranges.create_date.as_deref().unwrap_or("?")
        );
    }
    Ok((loaded, ranges))
}
