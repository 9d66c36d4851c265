//! `egress-probe flowlogs`: what the VPC's own flow logs say about REJECTs, plaintext HTTP to
//! AWS, other regions, S3 paths and NAT traffic, by AWS service and region. Streams files in
//! parallel, one worker per core, memory flat in the size of the input.

pub mod analysis;
pub mod attribution;
pub mod filter;
pub mod format;
pub mod fuzzing;
pub mod input;
pub mod names;
pub mod parquet;
pub mod parts;
pub mod record;
pub mod report;
pub mod scan;
pub mod summary;
pub mod synth;
pub mod table;
pub mod tallies;

use std::io::IsTerminal;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::aws::ipranges::IpRanges;
use crate::exit::{Status, UsageError};
use crate::flowlogs::analysis::{Context, Settings, Tally};
use crate::flowlogs::attribution::Attributor;
use crate::flowlogs::filter::{Filter, Term};
use crate::flowlogs::format::{Format, Origin};
use crate::flowlogs::input::Source;
use crate::flowlogs::parts::Split;
use crate::flowlogs::report::Report;
use crate::flowlogs::scan::{FileReport, PartOutcome, PartReport, ScanOptions, Stop};
use crate::flowlogs::summary::Summary;

/// Arguments of `flowlogs`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Flow-log files or directories (read recursively); `-` reads stdin. Plain, gzip or Parquet.
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
    if let Some(region) = &args.region {
        crate::yum::command::checked_region(region)?;
    }
    let options = ScanOptions {
        fields: args
            .fields
            .as_deref()
            .map(|text| Format::parse(text, Origin::Option))
            .transpose()
            .map_err(|err| UsageError::new(format!("--fields {err}")))?,
        strict: args.strict,
        region: args.region.clone(),
        ..ScanOptions::default()
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
/// Large plain files are read in parts, several workers to a file. Under `--strict` the error
/// is the first bad line in input order, whatever the number of workers.
pub fn analyse(
    sources: &[Source],
    ctx: &Context,
    options: &ScanOptions,
    jobs: usize,
) -> anyhow::Result<(Vec<FileReport>, Summary)> {
    // Fewer inputs than workers: a gzip input is decompressed on a core that would idle.
    let options = &ScanOptions {
        read_ahead: options.read_ahead || jobs > sources.len(),
        ..options.clone()
    };
    let splits = plan(sources, options, jobs, ctx);
    let mut tasks = Vec::new();
    for (index, _) in sources.iter().enumerate() {
        match splits.iter().position(|split| split.source == index) {
            Some(at) => tasks.extend(
                (0..splits[at].plan.parts.len()).map(|part| Task::Part { split: at, part }),
            ),
            None => tasks.push(Task::Whole(index)),
        }
    }

    let queue = Queue {
        sources,
        tasks,
        splits,
        next: AtomicUsize::new(0),
        failed: AtomicUsize::new(usize::MAX),
        read: Arc::new(AtomicU64::new(0)),
        results: Mutex::new(Vec::new()),
    };
    let finished = AtomicBool::new(false);
    let workers = jobs.clamp(1, queue.tasks.len().max(1));

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

/// The large plain files worth reading in parts, when more than one worker may run.
fn plan<'c>(
    sources: &[Source],
    options: &ScanOptions,
    jobs: usize,
    ctx: &'c Context,
) -> Vec<SplitFile<'c>> {
    if jobs < 2 || options.strict {
        return Vec::new();
    }
    let mut splits = Vec::new();
    for (index, source) in sources.iter().enumerate() {
        let Source::File(path) = source else {
            continue;
        };
        if source
            .size()
            .is_none_or(|size| size < options.part_bytes * 2)
        {
            continue;
        }
        match parts::plan(path, options.part_bytes) {
            Ok(Some(plan)) if plan.parts.len() > 1 => splits.push(SplitFile {
                source: index,
                done: Mutex::new(Done {
                    tally: Tally::new(ctx),
                    reports: (0..plan.parts.len()).map(|_| None).collect(),
                    count: 0,
                }),
                plan,
                abandoned: AtomicBool::new(false),
            }),
            Ok(_) => {}
            // Read whole instead: the worker records why it cannot be read.
            Err(err) => tracing::debug!(path = %path.display(), %err, "not read in parts"),
        }
    }
    splits
}

/// One unit of work: a whole input, or one part of a large file.
#[derive(Debug, Clone, Copy)]
enum Task {
    Whole(usize),
    Part { split: usize, part: usize },
}

/// A file read in parts: the plan, what the parts read so far found, and whether it is read
/// whole instead.
struct SplitFile<'c> {
    source: usize,
    plan: Split,
    done: Mutex<Done<'c>>,
    /// A header inside changed the format: one worker reads the file whole instead.
    abandoned: AtomicBool,
}

/// The parts of a split file read so far: their tallies added up as they finish, so that
/// memory stays that of one tally, and their reports in order.
struct Done<'c> {
    tally: Tally<'c>,
    reports: Vec<Option<PartReport>>,
    count: usize,
}

/// The inputs shared by the workers, and what they found.
struct Queue<'s, 'c> {
    sources: &'s [Source],
    tasks: Vec<Task>,
    splits: Vec<SplitFile<'c>>,
    next: AtomicUsize,
    /// The lowest index of an input that failed under `--strict`.
    failed: AtomicUsize,
    read: Arc<AtomicU64>,
    results: Mutex<Vec<(usize, anyhow::Result<FileReport>)>>,
}

impl Queue<'_, '_> {
    fn stop(&self, index: usize) -> Stop<'_> {
        Stop {
            failed: &self.failed,
            index,
            abandoned: None,
        }
    }
}

/// One worker: takes the next task until none is left; under `--strict`, tasks after an
/// input that failed are skipped, those before it still read.
fn work<'c>(queue: &Queue<'_, 'c>, ctx: &'c Context, options: &ScanOptions) -> Summary {
    let mut tally = Tally::new(ctx);
    loop {
        let index = queue.next.fetch_add(1, Ordering::Relaxed);
        let Some(&task) = queue.tasks.get(index) else {
            break;
        };
        match task {
            Task::Whole(source) => whole(queue, source, options, &mut tally),
            Task::Part { split, part } => {
                let split = &queue.splits[split];
                match read_part(queue, split, part, ctx, options) {
                    PartDone::More => {}
                    PartDone::Last(last) => {
                        let (file, part_tally) = *last;
                        tally.absorb(part_tally);
                        lock(&queue.results).push((split.source, Ok(file)));
                    }
                    PartDone::ReadWhole => whole(queue, split.source, options, &mut tally),
                }
            }
        }
    }
    tally.finish()
}

/// Reads one input in one piece into the worker's tally.
fn whole(queue: &Queue<'_, '_>, index: usize, options: &ScanOptions, tally: &mut Tally<'_>) {
    let stop = queue.stop(index);
    if stop.now() {
        return;
    }
    let source = &queue.sources[index];
    let result = scan::scan(source, options, tally, queue.read.clone(), stop);
    match &result {
        Ok(file) => tracing::debug!(
            path = %file.path,
            records = file.records,
            bad_lines = file.bad_lines,
            format = %file.format,
            "input read"
        ),
        Err(_) => {
            queue.failed.fetch_min(index, Ordering::Relaxed);
        }
    }
    lock(&queue.results).push((index, result));
}

/// What became of a part once read.
enum PartDone<'c> {
    /// Other parts of the file are still to come (or the file is read whole elsewhere).
    More,
    /// This was the last part: the file's report and tally.
    Last(Box<(FileReport, Tally<'c>)>),
    /// A header inside changed the format: this worker reads the file whole.
    ReadWhole,
}

/// Reads one part of a split file and adds it to what the file's other parts found.
fn read_part<'c>(
    queue: &Queue<'_, 'c>,
    split: &SplitFile<'c>,
    part: usize,
    ctx: &'c Context,
    options: &ScanOptions,
) -> PartDone<'c> {
    let Source::File(path) = &queue.sources[split.source] else {
        return PartDone::More;
    };
    let stop = Stop {
        abandoned: Some(&split.abandoned),
        ..queue.stop(split.source)
    };
    if stop.now() {
        return PartDone::More;
    }

    let mut tally = Tally::new(ctx);
    let outcome = scan::scan_part(
        path,
        split.plan.parts[part].clone(),
        &split.plan.first_line,
        options,
        &mut tally,
        queue.read.clone(),
        stop,
    );
    let report = match outcome {
        PartOutcome::Read(report) => report,
        PartOutcome::FormatChanged => {
            tracing::debug!(path = %path.display(), "format changes inside: read whole");
            if split.abandoned.swap(true, Ordering::Relaxed) {
                return PartDone::More;
            }
            lock(&split.done).tally = Tally::new(ctx);
            return PartDone::ReadWhole;
        }
    };

    let mut done = lock(&split.done);
    if split.abandoned.load(Ordering::Relaxed) {
        return PartDone::More;
    }
    done.tally.absorb(tally);
    done.reports[part] = Some(*report);
    done.count += 1;
    if done.count < done.reports.len() {
        return PartDone::More;
    }
    let reports = std::mem::take(&mut done.reports)
        .into_iter()
        .flatten()
        .collect();
    let file_tally = std::mem::replace(&mut done.tally, Tally::new(ctx));
    PartDone::Last(Box::new((scan::join(reports), file_tally)))
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::flowlogs::parts::PART_BYTES;

    fn fixture(name: &str) -> Vec<u8> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/flowlogs");
        std::fs::read(path.join(name)).unwrap()
    }

    fn context() -> Context {
        let ranges = IpRanges::parse(&fixture("ip-ranges-small.json")[..]).unwrap();
        Context {
            attributor: Some(Attributor::new(ranges)),
            source: None,
            settings: Settings::default(),
        }
    }

    /// The JSON report of `bytes` read by `jobs` workers in parts of `part_bytes`.
    fn report(bytes: &[u8], jobs: usize, part_bytes: u64) -> serde_json::Value {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flows.log");
        std::fs::write(&path, bytes).unwrap();
        let ctx = context();
        let options = ScanOptions {
            region: Some("us-west-2".to_string()),
            part_bytes,
            ..ScanOptions::default()
        };
        let sources = [Source::File(path)];
        let (files, summary) = analyse(&sources, &ctx, &options, jobs).unwrap();
        let mut value = serde_json::to_value(report::build(files, &summary, &ctx, 50)).unwrap();
        value["files"][0]["path"] = serde_json::Value::Null;
        value
    }

    /// How many parts `bytes` is read in, in parts of about `part_bytes`.
    fn parts(bytes: &[u8], part_bytes: u64) -> usize {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flows.log");
        std::fs::write(&path, bytes).unwrap();
        let options = ScanOptions {
            part_bytes,
            ..ScanOptions::default()
        };
        let ctx = context();
        let splits = super::plan(&[Source::File(path)], &options, 2, &ctx);
        splits.first().map_or(1, |split| split.plan.parts.len())
    }

    /// `body` after `head`, then `body` again `times` times with `bad` between the copies.
    fn repeated(head: &[u8], body: &[u8], bad: &[u8], times: usize) -> Vec<u8> {
        let mut bytes = head.to_vec();
        for _ in 0..times {
            bytes.extend(body);
            bytes.extend(bad);
        }
        bytes
    }

    fn body_of(bytes: &[u8]) -> &[u8] {
        let header_end = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
        &bytes[header_end..]
    }

    #[test]
    fn a_file_read_in_parts_reports_what_one_worker_reports() {
        let v5 = fixture("v5-header.log");
        let (head, body) = v5.split_at(v5.len() - body_of(&v5).len());
        let bytes = repeated(head, body, b"not a record\n", 60);
        let whole = report(&bytes, 1, PART_BYTES);
        let parts = report(&bytes, 2, 700);
        assert!(super::tests::parts(&bytes, 700) > 10);

        assert_eq!(whole["files"][0]["records"], 7 * 60);
        assert_eq!(whole["files"][0]["bad_lines"], 60);
        assert_eq!(
            whole["files"][0]["first_bad_lines"],
            serde_json::json!([9, 17, 25, 33, 41])
        );
        assert!(
            whole["files"][0]["format"]
                .as_str()
                .unwrap()
                .contains("header")
        );
        assert_eq!(parts, whole);
    }

    #[test]
    fn headerless_and_repeated_header_files_split_the_same_way() {
        let v2 = fixture("v2-default.log");
        let headerless = repeated(b"", &v2, b"2 1 eni-1 x\n", 40);
        assert!(parts(&headerless, 500) > 10);
        assert_eq!(
            report(&headerless, 2, 500),
            report(&headerless, 1, PART_BYTES)
        );

        // Two deliveries of the same format, concatenated: the header repeats unchanged.
        let v5 = fixture("v5-header.log");
        let twice = repeated(b"", &v5, b"", 30);
        let parts = report(&twice, 2, 600);
        assert_eq!(parts, report(&twice, 1, PART_BYTES));
        assert_eq!(parts["files"][0]["bad_lines"], 0);
    }

    #[test]
    fn a_format_change_inside_a_split_file_reads_it_whole() {
        let v2 = fixture("v2-default.log");
        let v5 = fixture("v5-header.log");
        let mut bytes = repeated(b"", &v2, b"", 20);
        bytes.extend(repeated(b"", &v5, b"", 20));
        let whole = report(&bytes, 1, PART_BYTES);
        assert!(super::tests::parts(&bytes, 400) > 10);
        assert_eq!(report(&bytes, 2, 400), whole);
        assert_eq!(whole["files"][0]["bad_lines"], 0);
        assert_eq!(whole["files"][0]["records"], (10 + 7) * 20);
        assert_eq!(
            whole["files"][0]["format"],
            "default v2 (14 fields) (and other headers)"
        );
    }

    #[test]
    fn an_overlong_first_line_is_no_header_in_parts_either() {
        let v2 = fixture("v2-default.log");
        let mut bytes = vec![b'x'; input::MAX_LINE + 1];
        bytes.push(b'\n');
        bytes.extend(v2.repeat(200));
        assert!(parts(&bytes, 20_000) > 5);
        let whole = report(&bytes, 1, PART_BYTES);
        assert_eq!(whole["files"][0]["records"], 2000);
        assert_eq!(whole["files"][0]["bad_lines"], 1);
        assert_eq!(report(&bytes, 2, 20_000), whole);
    }

    #[test]
    fn a_names_only_header_after_a_long_blank_start_is_read_in_one_piece() {
        let mut bytes = vec![b'\n'; input::MAX_LINE + 10];
        bytes.extend(
            b"x-note version account-id interface-id srcaddr dstaddr srcport dstport protocol \
              packets bytes start end action log-status\n",
        );
        let mut records = Vec::new();
        for line in fixture("v2-default.log").split(|&b| b == b'\n') {
            if !line.is_empty() {
                records.extend(b"n ");
                records.extend(line);
                records.push(b'\n');
            }
        }
        bytes.extend(records.repeat(101));
        let whole = report(&bytes, 1, PART_BYTES);
        assert_eq!(whole["files"][0]["bad_lines"], 0);
        assert_eq!(whole["files"][0]["records"], 1010);
        assert_eq!(report(&bytes, 2, 5_000), whole);
    }

    #[test]
    fn strict_blames_the_first_bad_line_in_input_order_whatever_the_jobs() {
        let dir = tempfile::tempdir().unwrap();
        let late = dir.path().join("late.log");
        let early = dir.path().join("early.log");
        let mut bytes = fixture("v2-default.log").repeat(3000);
        bytes.extend(b"2 1 eni-1 x\n");
        std::fs::write(&late, bytes).unwrap();
        std::fs::write(&early, b"2 1 eni-1 x\n").unwrap();

        let ctx = context();
        let options = ScanOptions {
            strict: true,
            ..ScanOptions::default()
        };
        let sources = [Source::File(late), Source::File(early)];
        for jobs in [1, 2, 2, 2] {
            let err = analyse(&sources, &ctx, &options, jobs).unwrap_err();
            assert!(err.to_string().contains("late.log:30001:"), "{jobs}: {err}");
        }
    }

    #[test]
    fn a_gzip_input_read_ahead_on_another_core_reports_the_same() {
        use std::io::Write;

        let v5 = fixture("v5-header.log");
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), Default::default());
        encoder
            .write_all(&repeated(b"", &v5, b"x y z\n", 2000))
            .unwrap();
        let gzip = encoder.finish().unwrap();
        let whole = report(&gzip, 1, PART_BYTES);
        assert_eq!(whole["files"][0]["records"], 7 * 2000);
        assert_eq!(whole["files"][0]["bad_lines"], 2000);
        assert_eq!(report(&gzip, 2, PART_BYTES), whole);
    }

    #[test]
    fn a_byte_order_mark_after_a_blank_first_line_reads_the_same_in_parts() {
        let v5 = fixture("v5-header.log");
        let bytes = [&b"\n\xef\xbb\xbf"[..], &repeated(b"", &v5, b"", 40)].concat();
        assert!(parts(&bytes, 2_000) > 5);
        let whole = report(&bytes, 1, PART_BYTES);
        assert_eq!(report(&bytes, 2, 2_000), whole);
        // Not on line 1, the mark makes line 2 no header: its records do not fit the default,
        // until the next copy's header.
        assert_eq!(whole["files"][0]["bad_lines"], 1 + 7);
        assert_eq!(whole["files"][0]["records"], 39 * 7);
    }
}
