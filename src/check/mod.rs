//! `egress-probe check`: host context, targets, probes, verdicts, report and exit code.

pub mod egress;
pub mod repos;

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

pub use crate::report::emit::Format;

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

    /// A publicly readable object you keep in another account, same region: reading it
    /// through this host's path shows whether the path reaches foreign buckets.
    #[arg(long = "foreign-object", value_name = "s3://BUCKET/KEY")]
    pub foreign_objects: Vec<String>,

    /// Read the package manager's configuration under DIR (a mounted image, a fixture).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,

    /// The package manager's $releasever, as its own flag sets it.
    #[arg(long, value_name = "VERSION")]
    pub releasever: Option<String>,

    /// Probe disabled repositories too.
    #[arg(long)]
    pub all_repos: bool,

    /// Do not read or probe the package manager's repositories.
    #[arg(long)]
    pub no_repos: bool,

    /// Sign the requests to your own buckets (--bucket) with the instance role's credentials,
    /// so S3 names the policy type that denies them.
    #[arg(long)]
    pub sign: bool,

    /// Also send each request through the proxy the environment names (HTTPS_PROXY, ...),
    /// as a separate check beside the direct probes.
    #[arg(long)]
    pub via_proxy: bool,

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

    /// Report format (for stdout, and for an --output without FORMAT=).
    #[arg(long, env = "EGRESS_PROBE_FORMAT", value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Write a report to PATH instead of stdout (atomically; jsonl appends); FORMAT= picks
    /// its format, `-` is stdout; repeatable.
    #[arg(long, env = "EGRESS_PROBE_OUTPUT", value_name = "[FORMAT=]PATH")]
    pub output: Vec<String>,

    /// A spec of what must hold (TOML); a failed expectation fails the run.
    #[arg(long, env = "EGRESS_PROBE_SPEC", value_name = "FILE")]
    pub spec: Option<PathBuf>,

    /// A skipped spec expectation fails the run too.
    #[arg(long, env = "EGRESS_PROBE_STRICT")]
    pub strict: bool,

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
    let destinations = crate::report::emit::destinations(args.format, &args.output)?;
    let spec = args
        .spec
        .as_deref()
        .map(crate::spec::Spec::load)
        .transpose()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut report = runtime.block_on(check(&args, fail_on, spec.as_ref()))?;
    if let Some(spec) = &spec {
        crate::spec::apply(spec, args.strict, &mut report);
    }
    let color = match args.color {
        Color::Always => Some(true),
        Color::Never => Some(false),
        Color::Auto => None,
    };
    crate::report::emit::emit(&report, &destinations, color)?;
    Ok(if report.summary.exit_code == Status::Failing as u8 {
        Status::Failing
    } else {
        Status::Clean
    })
}

fn fail_on_set(values: &[String]) -> anyhow::Result<BTreeSet<String>> {
    let mut set = BTreeSet::new();
    let given: Vec<&str> = values
        .iter()
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .collect();
    // An empty value (a blank environment variable) must not silently disable the gate.
    let given = if given.is_empty() {
        vec!["default"]
    } else {
        given
    };
    for value in given {
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

async fn check(
    args: &Args,
    fail_on: BTreeSet<String>,
    spec: Option<&crate::spec::Spec>,
) -> anyhow::Result<CheckReport> {
    let started = Instant::now();
    let generated_at = now_rfc3339();
    crate::install_crypto_provider();
    let run_deadline = Duration::from_secs_f64(args.timeout);
    let budget = Budget::new(Duration::from_secs(3).min(run_deadline), run_deadline);

    // Everything the user gave is checked before anything touches the network.
    let ca_certificates = probe::ca_certificates(args.ca_file.as_deref())?;
    let verifier = probe::verifier(&ca_certificates)?;
    let mut sources = catalog::load(args.probes.as_deref())?;
    sources.extend(spec.and_then(crate::spec::Spec::catalog_source));
    let mut buckets = args.buckets.clone();
    buckets.extend(spec.map(|s| s.buckets.clone()).unwrap_or_default());
    let additions = catalog::Additions {
        targets: args.targets.clone(),
        buckets,
        foreign_objects: args.foreign_objects.clone(),
    };
    let placeholder = catalog::Context {
        region: Some("us-east-1".into()),
        domain: "amazonaws.com".into(),
    };
    catalog::expand(&sources, &additions, &placeholder)?;
    let settings =
        egress::Settings::new(args.pcap.clone(), &args.egress_echo, args.no_egress_echo)?;

    let imds_config = ImdsConfig::from_env(args.imds_endpoint.as_deref());
    imds::validate_endpoint(&imds_config.endpoint)?;
    let repo_client = crate::yum::mirrors::fetch::client(&ca_certificates)?;
    let ranges_options = crate::aws::source::SourceOptions {
        file: args.ip_ranges.clone(),
        url: args.ip_ranges_url.clone(),
        cache_dir: None,
        download: !args.offline,
        timeout: Duration::from_secs(3).min(run_deadline),
        extra_roots: ca_certificates.clone(),
    };
    // Loading a large file must not starve the IMDS deadlines: it gets its own task.
    let loading = tokio::spawn(async move { crate::aws::source::obtain(&ranges_options).await });
    let imds = imds::query_within(&imds_config, budget).await;
    let loaded = loading.await.context("loading ip-ranges")??;

    let (region, region_source) = match (&args.region, &imds.facts.region) {
        (Some(region), _) => (Some(region.clone()), "flag"),
        (None, Some(region)) => (Some(region.clone()), "imds"),
        (None, None) => (None, "none"),
    };
    let domain = imds.facts.domain.clone().unwrap_or_else(|| {
        crate::yum::buckets::dns_suffix(region.as_deref().unwrap_or("")).to_string()
    });
    let context = catalog::Context {
        region: region.clone(),
        domain: domain.clone(),
    };
    let mut expanded = catalog::expand(&sources, &additions, &context)?;
    let mut skipped = expanded.skipped.clone();

    let repo_run = if args.no_repos {
        repos::RepoRun::default()
    } else {
        let options = repos::RepoOptions {
            root: args.root.clone(),
            releasever: args.releasever.clone(),
            all_repos: args.all_repos,
        };
        let ids = repos::InstanceIds {
            instance_id: imds.facts.instance_id.clone(),
            region: region.clone(),
        };
        let until = tokio::time::Instant::now() + repos::fetch_budget(run_deadline);
        repos::inspect(&options, &ids, &repo_client, until).await
    };
    merge_repo_targets(&mut expanded.targets, repos::targets(&repo_run));

    let signing = match (args.sign, &region) {
        (false, _) => None,
        (true, None) => {
            skipped.push("--sign: no region known to sign for".into());
            None
        }
        (true, Some(region)) => match budget
            .run(imds::role_credentials(&imds_config))
            .await
            .unwrap_or_else(|class| Err(format!("no credentials from IMDS ({})", class.as_str())))
        {
            Ok(credentials) => Some((credentials, region.clone())),
            Err(why) => {
                skipped.push(format!("--sign: {why}; requests go unsigned"));
                None
            }
        },
    };

    let dns = probe::dns::Dns::from_system(budget.step);
    let resolvers = dns.servers().collect();
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
        signing,
        capture: Some(egress.capture()),
    });
    let verifier_for_proxy = probes.verifier.clone();
    let mut evidence = probe::run(probes, expanded.targets).await;
    let paths = egress
        .finish(&mut evidence, &imds, region.as_deref(), budget)
        .await;
    if args.via_proxy {
        let missing = through_proxy(&mut evidence, &verifier_for_proxy, budget).await;
        skipped.extend(missing);
    }

    let proxy_env = proxy_environment();
    let host_facts = HostFacts {
        region: region.clone(),
        proxy_env: proxy_env.clone(),
    };
    let mut findings = verdict::judge_all(&host_facts, &evidence, &repo_run.repos, &fail_on);
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
        repos: report::repo_dtos(&repo_run),
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
        spec: None,
    })
}

/// Sends every target's request through the environment's proxy; returns a line when there
/// is no proxy to go through.
async fn through_proxy(
    evidence: &mut [crate::evidence::TargetEvidence],
    verifier: &Arc<rustls::client::WebPkiServerVerifier>,
    budget: Budget,
) -> Option<String> {
    let mut set = tokio::task::JoinSet::new();
    for (index, target) in evidence.iter().enumerate() {
        let scheme = target
            .target
            .configured_scheme
            .as_deref()
            .unwrap_or("https");
        let Some(proxy) = probe::proxy::from_environment(scheme) else {
            continue;
        };
        let (target, verifier) = (target.target.clone(), verifier.clone());
        set.spawn(async move {
            let shown = hide_credentials(&proxy);
            (
                index,
                probe::proxy::probe(&target, &proxy, &verifier, &budget, shown).await,
            )
        });
    }
    if set.is_empty() {
        return Some("--via-proxy: no proxy variable is set".to_string());
    }
    while let Some(joined) = set.join_next().await {
        if let Ok((index, result)) = joined {
            evidence[index].via_proxy = Some(result);
        }
    }
    None
}

/// Adds the repositories' hosts; a host the catalog already probes takes the configured
/// scheme and requirement of the package manager's use of it.
fn merge_repo_targets(targets: &mut Vec<catalog::Target>, from_repos: Vec<catalog::Target>) {
    for repo_target in from_repos {
        match targets.iter_mut().find(|t| t.host == repo_target.host) {
            Some(known) => {
                known.configured_scheme = known
                    .configured_scheme
                    .take()
                    .or(repo_target.configured_scheme);
                known.required |= repo_target.required;
                if let Some(note) = repo_target.note {
                    known.note = Some(match known.note.take() {
                        Some(existing) => format!("{existing}; {note}"),
                        None => note,
                    });
                }
            }
            None => targets.push(repo_target),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_on_accepts_kinds_default_and_none() {
        let set = fail_on_set(&["default".into(), "cross-region".into()]).unwrap();
        assert!(set.contains("plaintext") && set.contains("cross-region"));
        assert!(fail_on_set(&["none".into()]).unwrap().is_empty());
        assert!(
            fail_on_set(&["".into()]).unwrap().contains("plaintext"),
            "blank means default"
        );
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
        use crate::yum::buckets::dns_suffix;
        assert_eq!(dns_suffix("cn-north-1"), "amazonaws.com.cn");
        assert_eq!(dns_suffix("us-gov-west-1"), "amazonaws.com");
        assert_eq!(dns_suffix(""), "amazonaws.com");
    }
}
