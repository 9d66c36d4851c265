//! `egress-probe check`: host context, targets, probes, verdicts, report and exit code.

pub mod egress;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::aws::ipranges::IpRanges;
use crate::catalog;
use crate::exit::{Status, UsageError};
use crate::host::imds::{self, ImdsConfig};
use crate::probe::{self, Budget, Probes};
use crate::report::{self, CheckReport, HostExtras, RangesFacts};
use crate::verdict::{self, HostFacts};

/// Report formats of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A readable table.
    Table,
    /// One JSON document (schema version 1).
    Json,
}

/// When to colour the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Color {
    /// On a terminal, unless NO_COLOR is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Arguments of `check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Region to check from; overrides the instance's (needed off EC2).
    #[arg(long, env = "EGRESS_PROBE_REGION", value_name = "REGION")]
    pub region: Option<String>,

    /// Instance metadata base URL [env: AWS_EC2_METADATA_SERVICE_ENDPOINT].
    #[arg(long, value_name = "URL")]
    pub imds_endpoint: Option<String>,

    /// ip-ranges.json to use instead of the cache or a download.
    #[arg(long, env = "EGRESS_PROBE_IP_RANGES", value_name = "FILE")]
    pub ip_ranges: Option<PathBuf>,

    /// Where to download ip-ranges.json when no file or cache is available.
    #[arg(long, value_name = "URL", default_value = crate::aws::source::OFFICIAL_URL)]
    pub ip_ranges_url: String,

    /// Never download ip-ranges.json.
    #[arg(long)]
    pub offline: bool,

    /// Another hostname (or http:// / https:// URL) to probe; repeatable.
    #[arg(long = "target", value_name = "HOST|URL", value_delimiter = ',')]
    pub targets: Vec<String>,

    /// A bucket of yours to probe (virtual-hosted in the instance region); repeatable.
    #[arg(long = "bucket", value_name = "NAME", value_delimiter = ',')]
    pub buckets: Vec<String>,

    /// A directory of extra catalog files (*.toml, same form as the built-in catalog).
    #[arg(long, env = "EGRESS_PROBE_PROBES", value_name = "DIR")]
    pub probes: Option<PathBuf>,

    /// Extra trust anchors (PEM) besides the built-in roots.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,

    /// Deadline of the whole run, in seconds.
    #[arg(
        long,
        env = "EGRESS_PROBE_TIMEOUT",
        value_name = "SECONDS",
        default_value_t = 20.0
    )]
    pub timeout: f64,

    /// Report format.
    #[arg(long, env = "EGRESS_PROBE_FORMAT", value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Write the report to FILE (atomically) instead of stdout.
    #[arg(long, env = "EGRESS_PROBE_OUTPUT", value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Finding kinds that fail the run (exit 1); `default` stands for the default set,
    /// `none` for no kind.
    #[arg(
        long,
        env = "EGRESS_PROBE_FAIL_ON",
        value_name = "KIND,...",
        value_delimiter = ',',
        default_value = "default"
    )]
    pub fail_on: Vec<String>,

    /// Colour in the table.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,

    /// Write the frames captured during the run to FILE (pcap, for Wireshark).
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,

    /// Echo service that answers with the caller's address (the public egress address).
    #[arg(long, value_name = "URL", default_value = crate::probe::echo::DEFAULT_URL)]
    pub egress_echo: String,

    /// Do not ask an echo service for the public egress address.
    #[arg(long)]
    pub no_egress_echo: bool,
}

/// Runs the check.
pub fn run(args: Args) -> anyhow::Result<Status> {
    let fail_on = fail_on_set(&args.fail_on)?;
    if !(args.timeout > 0.0 && args.timeout <= 3600.0) {
        return Err(UsageError::new(format!(
            "--timeout {}: give 0 < seconds <= 3600",
            args.timeout
        )));
    }
    if let Some(region) = &args.region
        && !crate::aws::hostname::is_region(region)
    {
        return Err(UsageError::new(format!(
            "--region {region:?} is not a region name"
        )));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = runtime.block_on(check(&args, fail_on))?;
    emit(&args, &report)?;
    Ok(if report.summary.exit_code == Status::Failing as u8 {
        Status::Failing
    } else {
        Status::Clean
    })
}

fn fail_on_set(values: &[String]) -> anyhow::Result<BTreeSet<String>> {
    let mut set = BTreeSet::new();
    for value in values.iter().map(|v| v.trim()).filter(|v| !v.is_empty()) {
        match value {
            "default" => set.extend(verdict::DEFAULT_FAIL_ON.iter().map(|k| k.to_string())),
            "none" => {}
            kind if verdict::KINDS.contains(&kind) => {
                set.insert(kind.to_string());
            }
            other => {
                return Err(UsageError::new(format!(
                    "--fail-on {other:?}: not a finding kind (one of {}, default, none)",
                    verdict::KINDS.join(", ")
                )));
            }
        }
    }
    Ok(set)
}

async fn check(args: &Args, fail_on: BTreeSet<String>) -> anyhow::Result<CheckReport> {
    let started = Instant::now();
    let generated_at = now_rfc3339();
    crate::install_crypto_provider();
    let run_deadline = Duration::from_secs_f64(args.timeout);
    let budget = Budget::new(Duration::from_secs(3).min(run_deadline), run_deadline);

    // Everything the user gave is checked before anything touches the network.
    let verifier = probe::verifier(args.ca_file.as_deref())?;
    let sources = catalog::load(args.probes.as_deref())?;
    let settings =
        egress::Settings::new(args.pcap.clone(), &args.egress_echo, args.no_egress_echo)?;

    let imds_config = ImdsConfig::from_env(args.imds_endpoint.as_deref());
    let ranges_options = crate::aws::source::SourceOptions {
        file: args.ip_ranges.clone(),
        url: args.ip_ranges_url.clone(),
        cache_dir: None,
        download: !args.offline,
        timeout: Duration::from_secs(3).min(run_deadline),
    };
    let (imds, loaded) = tokio::join!(
        imds::query(&imds_config),
        crate::aws::source::obtain(&ranges_options)
    );
    let loaded = loaded?;

    let (region, region_source) = match (&args.region, &imds.facts.region) {
        (Some(region), _) => (Some(region.clone()), "flag"),
        (None, Some(region)) => (Some(region.clone()), "imds"),
        (None, None) => (None, "none"),
    };
    let domain = imds
        .facts
        .domain
        .clone()
        .unwrap_or_else(|| partition_domain(region.as_deref()).to_string());
    let context = catalog::Context {
        region: region.clone(),
        domain: domain.clone(),
    };
    let expanded = catalog::expand(&sources, &args.targets, &args.buckets, &context)?;

    let dns = probe::dns::Dns::from_system(budget.step);
    let resolvers = dns.servers().collect();
    let mut skipped = expanded.skipped.clone();
    skipped.extend(dns.problem.clone());
    let ranges_facts = ranges_facts(&loaded);
    let egress = egress::Egress::start(&settings, verifier.clone(), budget);
    let probes = Arc::new(Probes {
        dns,
        verifier,
        ranges: loaded.ranges.map(Arc::new),
        vpc_cidrs: imds.facts.vpc_cidrs.clone(),
        hosts_path: PathBuf::from("/etc/hosts"),
        budget,
        capture: Some(egress.capture()),
    });
    let mut evidence = probe::run(probes, expanded.targets).await;
    let paths = egress
        .finish(&mut evidence, &imds, region.as_deref(), budget)
        .await;

    let proxy_env = proxy_environment();
    let host_facts = HostFacts {
        region: region.clone(),
        proxy_env: proxy_env.clone(),
    };
    let mut findings = verdict::judge(&host_facts, &evidence, &fail_on);
    verdict::add_path_findings(&mut findings, &evidence, &paths.paths, &fail_on);
    let exit_code = if verdict::failing(&findings) {
        Status::Failing
    } else {
        Status::Clean
    } as u8;
    let extras = HostExtras {
        region: region.clone(),
        region_source,
        domain,
        resolvers,
        proxy_env,
    };
    Ok(CheckReport {
        schema_version: report::SCHEMA_VERSION,
        tool_version: env!("CARGO_PKG_VERSION"),
        generated_at,
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        host: report::host_dto(&imds, &extras),
        ip_ranges: ranges_facts.into_dto(),
        targets: evidence
            .iter()
            .zip(&paths.paths)
            .map(|(t, path)| {
                let mut dto = report::target_dto(t, region.as_deref());
                dto.path = Some(report::path::path_dto(path, &imds.facts.vpc_cidrs));
                dto
            })
            .collect(),
        findings: report::finding_dtos(&findings),
        skipped,
        capture: report::path::capture_dto(&paths.capture, paths.matched_flows),
        trace: report::path::trace_run_dto(&paths.trace),
        egress_echo: report::path::echo_dto(paths.echo.as_ref(), imds.facts.public_ipv4),
        summary: report::summary(
            evidence.len(),
            &findings,
            fail_on.into_iter().collect(),
            exit_code,
        ),
    })
}

fn ranges_facts(loaded: &crate::aws::source::Loaded) -> RangesFacts {
    let ranges: Option<&IpRanges> = loaded.ranges.as_ref();
    let now = time::OffsetDateTime::now_utc();
    RangesFacts {
        source: loaded.kind.as_str(),
        path: loaded.path.as_ref().map(|p| p.display().to_string()),
        sync_token: ranges.and_then(|r| r.sync_token.clone()),
        create_date: ranges.and_then(|r| r.create_date.clone()),
        age_seconds: ranges.and_then(|r| r.age_seconds(now)),
        lacks: ranges.map(|r| r.lacks.clone()).unwrap_or_default(),
        problems: loaded
            .problems
            .iter()
            .cloned()
            .chain(ranges.map(|r| r.warnings.clone()).unwrap_or_default())
            .collect(),
    }
}

/// The DNS suffix of the partition a region belongs to.
pub fn partition_domain(region: Option<&str>) -> &'static str {
    match region {
        Some(region) if region.starts_with("cn-") => "amazonaws.com.cn",
        Some(region) if region.starts_with("us-iso-") => "c2s.ic.gov",
        Some(region) if region.starts_with("us-isob-") => "sc2s.sgov.gov",
        Some(region) if region.starts_with("eusc-") => "amazonaws.eu",
        _ => "amazonaws.com",
    }
}

/// Proxy variables set in the environment, credentials hidden.
fn proxy_environment() -> Vec<String> {
    const NAMES: &[&str] = &[
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ];
    NAMES
        .iter()
        .filter_map(|name| {
            let value = std::env::var(name).ok().filter(|v| !v.trim().is_empty())?;
            Some(format!("{name}={}", hide_credentials(&value)))
        })
        .collect()
}

/// `http://user:secret@proxy:3128` becomes `http://***@proxy:3128`.
fn hide_credentials(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    match rest.rsplit_once('@') {
        Some((_, host)) if scheme.is_empty() => format!("***@{host}"),
        Some((_, host)) => format!("{scheme}://***@{host}"),
        None => url.to_string(),
    }
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn emit(args: &Args, report: &CheckReport) -> anyhow::Result<()> {
    let text = match args.format {
        Format::Json => report.to_json(),
        Format::Table => {
            let color = match args.color {
                Color::Always => true,
                Color::Never => false,
                Color::Auto => {
                    args.output.is_none()
                        && std::io::IsTerminal::is_terminal(&std::io::stdout())
                        && !crate::logging::no_color()
                }
            };
            report::table::render(report, report::table::Style { color })
        }
    };
    match &args.output {
        Some(path) => crate::output::write_atomic(path, text.as_bytes()),
        None => crate::output::print(&text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_on_accepts_kinds_default_and_none() {
        let set = fail_on_set(&["default".into(), "cross-region".into()]).unwrap();
        assert!(set.contains("plaintext") && set.contains("cross-region"));
        assert!(fail_on_set(&["none".into()]).unwrap().is_empty());
        let err = fail_on_set(&["everything".into()]).unwrap_err();
        assert_eq!(Status::of_error(&err), Status::Usage);
    }

    #[test]
    fn proxy_credentials_are_hidden() {
        assert_eq!(
            hide_credentials("http://u:p@proxy:3128"),
            "http://***@proxy:3128"
        );
        assert_eq!(hide_credentials("proxy:3128"), "proxy:3128");
    }

    #[test]
    fn partition_follows_the_region() {
        assert_eq!(partition_domain(Some("cn-north-1")), "amazonaws.com.cn");
        assert_eq!(partition_domain(Some("us-gov-west-1")), "amazonaws.com");
        assert_eq!(partition_domain(None), "amazonaws.com");
    }
}
