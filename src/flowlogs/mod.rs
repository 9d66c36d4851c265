//! `egress-probe flowlogs`: what the VPC's own flow logs say about REJECTs, plaintext HTTP to
//! AWS, other regions, S3 paths and NAT traffic, by AWS service and region. Streams files in
//! parallel, one worker per core, memory flat in the size of the input.

pub mod analysis;
pub mod attribution;
pub mod filter;
pub mod format;
pub mod input;
pub mod names;
pub mod record;
pub mod report;
pub mod scan;
pub mod summary;
pub mod synth;
pub mod table;

use std::io::IsTerminal;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::aws::ipranges::IpRanges;
use crate::exit::{Status, UsageError};
use crate::flowlogs::analysis::{Context, Settings, Tally};
use crate::flowlogs::attribution::Attributor;
use crate::flowlogs::filter::{Filter, Term};
use crate::flowlogs::format::{Format, Origin};
use crate::flowlogs::input::Source;
use crate::flowlogs::report::Report;
use crate::flowlogs::scan::{FileReport, ScanOptions};
use crate::flowlogs::summary::Summary;

/// Arguments of `flowlogs`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Flow-log files or directories (read recursively); `-` reads stdin. Plain or gzip.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Field names, space-separated, for files without a header line (CloudWatch Logs exports).
    #[arg(long, value_name = "\"NAME ...\"")]
    pub fields: Option<String>,

    /// The log's own region, for records without a `region` field.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// An address of the logged interfaces, to tell the remote side without flow-direction.
    #[arg(long = "eni-addr", value_name = "ADDR")]
    pub eni_addrs: Vec<IpAddr>,

    /// An interface of a NAT gateway (repeatable).
    #[arg(long = "nat-eni", value_name = "ENI")]
    pub nat_enis: Vec<String>,

    /// Keep only matching records: action=, port=, service=, region=, interface= (repeatable).
    #[arg(long = "filter", value_name = "KEY=VALUE[,VALUE]")]
    pub filters: Vec<Term>,

    /// Top talkers shown per interface role.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top: usize,

    /// The ip-ranges.json that attributes addresses to AWS services and regions.
    #[arg(long, env = "EGRESS_PROBE_IP_RANGES", value_name = "FILE")]
    pub ip_ranges: Option<PathBuf>,

    /// Report format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,

    /// Write the report to FILE (replaced atomically) instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Make the first bad line an error instead of counting it.
    #[arg(long)]
    pub strict: bool,

    /// Exit 1 when the report has any of these (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "FINDING")]
    pub fail_on: Vec<FailOn>,

    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N")]
    pub jobs: Option<NonZeroUsize>,
}

/// How the report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Tables for a terminal.
    Table,
    /// JSON for scripts (`schema_version` 1).
    Json,
}

/// Findings that make the exit status 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    /// Any REJECT record.
    Rejects,
    /// Any inbound REJECT of return traffic from an AWS service.
    NaclReturn,
    /// Any accepted port-80 flow with an AWS service.
    Plaintext,
    /// Any accepted flow with another region.
    CrossRegion,
    /// Any S3 egress through another resource (traffic-path 1) or a NAT interface.
    S3ViaNat,
    /// Any bad line or unreadable input.
    BadInput,
}

/// Runs `flowlogs`.
pub fn run(args: Args) -> anyhow::Result<Status> {
    let options = ScanOptions {
        fields: args
            .fields
            .as_deref()
            .map(|text| Format::parse(text, Origin::Option))
            .transpose()
            .map_err(|err| UsageError::new(format!("--fields {err}")))?,
        strict: args.strict,
        region: args.region.clone(),
    };
    let ctx = context(&args)?;
    let sources = input::collect(&args.paths)?;
    if sources.is_empty() {
        return Err(UsageError::new("no flow-log files in the paths given"));
    }

    let jobs = args
        .jobs
        .or_else(|| std::thread::available_parallelism().ok())
        .map_or(1, NonZeroUsize::get);
    let started = Instant::now();
    tracing::info!(inputs = sources.len(), jobs, "reading flow logs");
    let (files, summary) = analyse(&sources, &ctx, &options, jobs)?;
    refuse_parquet_only(&files)?;
    tracing::info!(
        records = files.iter().map(|file| file.records).sum::<u64>(),
        seconds = started.elapsed().as_secs_f64(),
        "flow logs read"
    );

    let report = report::build(files, &summary, &ctx, args.top);
    let text = match args.format {
        OutputFormat::Table => table::render(&report),
        OutputFormat::Json => serde_json::to_string_pretty(&report)? + "\n",
    };
    match &args.output {
        Some(path) => crate::output::write_atomic(path, text.as_bytes())?,
        None => crate::output::print(&text)?,
    }
    Ok(status(&report, &args.fail_on))
}

/// The ip-ranges cache read when `--ip-ranges` is not given: the one `check` and `ranges`
/// keep (`EGRESS_PROBE_CACHE_DIR`, `/var/cache/egress-probe` for root, else the user's).
fn default_ip_ranges() -> Option<PathBuf> {
    let dir = crate::aws::source::default_cache_dir();
    Some(crate::aws::source::cache_file(&dir))
}

/// The shared context: attribution data and the options that steer the analysis.
fn context(args: &Args) -> anyhow::Result<Context> {
    let (ranges, source) = match &args.ip_ranges {
        Some(path) => {
            let ranges = IpRanges::load(path)
                .map_err(|err| UsageError::new(format!("--ip-ranges: {err:#}")))?;
            (Some(ranges), Some(path.display().to_string()))
        }
        None => match default_ip_ranges().filter(|path| path.exists()) {
            Some(path) => match IpRanges::load(&path) {
                Ok(ranges) => (Some(ranges), Some(path.display().to_string())),
                Err(err) => {
                    tracing::warn!("ignoring the ip-ranges cache: {err:#}");
                    (None, None)
                }
            },
            None => (None, None),
        },
    };
    if let Some(ranges) = &ranges {
        for warning in &ranges.warnings {
            tracing::warn!(%warning, "ip-ranges entry skipped");
        }
    }

    Ok(Context {
        attributor: ranges.map(Attributor::new),
        source,
        settings: Settings {
            eni_addrs: args.eni_addrs.iter().copied().collect(),
            nat_enis: args.nat_enis.iter().cloned().collect(),
            region: args.region.clone(),
            filter: Filter::new(args.filters.clone()),
        },
    })
}

/// Reads every source on `jobs` threads; the files in input order and the merged summary.
pub fn analyse(
    sources: &[Source],
    ctx: &Context,
    options: &ScanOptions,
    jobs: usize,
) -> anyhow::Result<(Vec<FileReport>, Summary)> {
    let queue = Queue {
        sources,
        next: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        read: Arc::new(AtomicU64::new(0)),
        results: Mutex::new(Vec::new()),
    };
    let finished = AtomicBool::new(false);
    let workers = jobs.clamp(1, sources.len().max(1));

    let summaries: Vec<Option<Summary>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| scope.spawn(|| work(&queue, ctx, options)))
            .collect();
        let watcher = scope.spawn(|| watch(sources, &queue.read, &finished));
        let summaries = handles
            .into_iter()
            .map(|handle| handle.join().ok())
            .collect();
        finished.store(true, Ordering::Relaxed);
        watcher.thread().unpark();
        summaries
    });

    let mut results = queue
        .results
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    results.sort_by_key(|(index, _)| *index);
    let mut files = Vec::with_capacity(results.len());
    for (_, result) in results {
        files.push(result?);
    }
    let mut summary = Summary::default();
    for part in summaries {
        summary.merge(part.ok_or_else(|| anyhow::anyhow!("a flow-log worker failed"))?);
    }
    Ok((files, summary))
}

/// The inputs shared by the workers, and what they found.
struct Queue<'s> {
    sources: &'s [Source],
    next: AtomicUsize,
    stop: AtomicBool,
    read: Arc<AtomicU64>,
    results: Mutex<Vec<(usize, anyhow::Result<FileReport>)>>,
}

/// One worker: takes the next input until none is left (or `--strict` stopped the run).
fn work(queue: &Queue<'_>, ctx: &Context, options: &ScanOptions) -> Summary {
    let mut tally = Tally::new(ctx);
    loop {
        let index = queue.next.fetch_add(1, Ordering::Relaxed);
        if index >= queue.sources.len() || queue.stop.load(Ordering::Relaxed) {
            break;
        }

        let source = &queue.sources[index];
        let result = scan::scan(source, options, &mut tally, queue.read.clone(), &queue.stop);
        match &result {
            Ok(file) => tracing::debug!(
                path = %file.path,
                records = file.records,
                bad_lines = file.bad_lines,
                format = %file.format,
                "input read"
            ),
            Err(_) => queue.stop.store(true, Ordering::Relaxed),
        }
        lock(&queue.results).push((index, result));
    }
    tally.finish()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Shows a progress bar on a terminal once a second has passed, until `finished` is set.
fn watch(sources: &[Source], read: &AtomicU64, finished: &AtomicBool) {
    let started = Instant::now();
    let mut bar: Option<ProgressBar> = None;
    while !finished.load(Ordering::Relaxed) {
        std::thread::park_timeout(Duration::from_millis(100));
        if bar.is_none() && started.elapsed() >= Duration::from_secs(1) {
            bar = progress_bar(sources);
        }
        if let Some(bar) = &bar {
            bar.set_position(read.load(Ordering::Relaxed));
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}

/// A byte-count bar on stderr, or nothing when stderr is not a terminal.
fn progress_bar(sources: &[Source]) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let total: Option<u64> = sources.iter().map(Source::size).sum();
    let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
    let template = match total {
        Some(_) => "{spinner} {bytes}/{total_bytes} {wide_bar} {bytes_per_sec} eta {eta}",
        None => "{spinner} {bytes} read, {bytes_per_sec}",
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    Some(bar)
}

/// Parquet inputs alone are refused: nothing could be read.
fn refuse_parquet_only(files: &[FileReport]) -> anyhow::Result<()> {
    let parquet = files
        .iter()
        .filter(|file| file.encoding == Some("parquet"))
        .count();
    if parquet > 0 && parquet == files.len() {
        let message = files[0].error.clone().unwrap_or_default();
        return Err(UsageError::new(format!("{}: {message}", files[0].path)))
            .context("reading flow logs");
    }
    for file in files.iter().filter(|file| file.encoding == Some("parquet")) {
        tracing::warn!(path = %file.path, "skipped: Parquet flow logs are not supported yet");
    }
    Ok(())
}

/// The exit status the `--fail-on` findings call for.
fn status(report: &Report, fail_on: &[FailOn]) -> Status {
    let found = |finding: &FailOn| match finding {
        FailOn::Rejects => !report.rejects.is_empty(),
        FailOn::NaclReturn => report.rejects.iter().any(|row| row.nacl_return_traffic),
        FailOn::Plaintext => !report.plaintext.is_empty(),
        FailOn::CrossRegion => !report.cross_region.is_empty(),
        FailOn::S3ViaNat => report
            .s3_paths
            .iter()
            .any(|row| row.traffic_path == Some(1) || row.interface_role == "nat"),
        FailOn::BadInput => {
            report.bad_lines > 0 || report.files.iter().any(|file| file.error.is_some())
        }
    };
    if fail_on.iter().any(found) {
        Status::Failing
    } else {
        Status::Clean
    }
}
