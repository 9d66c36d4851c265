//! The `repos` report: serde types that are the JSON contract (schema version 1, see
//! `schemas/repos-v1.schema.json`), built from a [`Discovery`], and the human rendering.

use std::fmt::Write as _;

use serde::Serialize;

use crate::yum::Discovery;
use crate::yum::buckets::{self, Bucket, HostKind};
use crate::yum::mirrors::MirrorTarget;
use crate::yum::repo::{Manager, Problem, Repo, RepoUrl, Severity, UrlKind};
use crate::yum::vars::{Source, Variable};

/// The JSON schema version of this report.
pub const SCHEMA_VERSION: u32 = 1;

/// The whole `repos` report.
#[derive(Debug, Clone, Serialize)]
pub struct ReposReport {
    /// Bumped when a field changes meaning.
    pub schema_version: u32,
    /// The directory the configuration was read under.
    pub root: String,
    /// `yum` or `dnf`.
    pub package_manager: Manager,
    /// The main configuration file, inside the root.
    pub main_config: Option<String>,
    /// The main configuration's proxy: package traffic leaves through it.
    pub proxy: Option<String>,
    /// `$releasever` with its source.
    pub releasever: Option<VariableDto>,
    /// The instance's region with its source.
    pub region: Option<VariableDto>,
    /// Every variable with its source.
    pub variables: Vec<VariableDto>,
    /// The repositories shown.
    pub repos: Vec<RepoDto>,
    /// Disabled repositories left out (`--all-repos` shows them).
    pub hidden_repos: usize,
    /// Problems of the configuration as a whole.
    pub problems: Vec<ProblemDto>,
}

/// A variable, its value and where the value came from.
#[derive(Debug, Clone, Serialize)]
pub struct VariableDto {
    /// The name without `$`.
    pub name: String,
    /// The value.
    pub value: String,
    /// Where it came from (`kind`: file, main-config, package, override, imds, default).
    pub source: Source,
}

/// One repository.
#[derive(Debug, Clone, Serialize)]
pub struct RepoDto {
    /// The repository id.
    pub id: String,
    /// `name=`, expanded.
    pub name: Option<String>,
    /// Whether the package manager uses it.
    pub enabled: bool,
    /// The file, inside the root.
    pub file: String,
    /// The line of its section header.
    pub line: usize,
    /// Its URLs as configured and expanded.
    pub urls: Vec<UrlDto>,
    /// The scheme of all its URLs, or `mixed`.
    pub scheme: String,
    /// Mirror targets from its mirror list or metalink (empty offline).
    pub mirrors: Vec<MirrorTarget>,
    /// The repomd.xml result (null offline).
    pub repomd: Option<serde_json::Value>,
    /// The S3 buckets it needs.
    pub buckets: Vec<BucketDto>,
    /// The Amazon Linux generation, when known.
    pub generation: Option<String>,
    /// The proxy its traffic leaves through.
    pub proxy: Option<String>,
    /// Whether Amazon Linux adds the instance id to its requests.
    pub report_instanceid: bool,
    /// Variables left as written because nothing sets them.
    pub unexpanded: Vec<String>,
    /// What is wrong with it.
    pub problems: Vec<ProblemDto>,
}

/// One configured URL.
#[derive(Debug, Clone, Serialize)]
pub struct UrlDto {
    /// `baseurl`, `mirrorlist` or `metalink`.
    pub kind: UrlKind,
    /// As written.
    pub configured: String,
    /// After substitution.
    pub expanded: String,
    /// Its scheme.
    pub scheme: String,
    /// Its host.
    pub host: Option<String>,
    /// A note on the host (a CDN, a placeholder region).
    pub note: Option<String>,
}

/// One bucket a repository needs.
#[derive(Debug, Clone, Serialize)]
pub struct BucketDto {
    /// The bucket and what its name says.
    #[serde(flatten)]
    pub bucket: Bucket,
    /// `hostname` when a URL names it, `mirror-list` when the catalog says the mirror list
    /// sends the package manager there.
    pub via: &'static str,
    /// What it holds, when the catalog knows.
    pub holds: Option<String>,
}

/// One problem.
#[derive(Debug, Clone, Serialize)]
pub struct ProblemDto {
    /// `info`, `warning` or `error`.
    pub severity: Severity,
    /// A stable short code.
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
    /// What to change.
    pub fix: Option<String>,
}

impl From<&Problem> for ProblemDto {
    fn from(problem: &Problem) -> ProblemDto {
        ProblemDto {
            severity: problem.severity,
            code: problem.code,
            message: problem.message.clone(),
            fix: problem.fix.clone(),
        }
    }
}

impl From<&Variable> for VariableDto {
    fn from(variable: &Variable) -> VariableDto {
        VariableDto {
            name: variable.name.clone(),
            value: variable.value.clone(),
            source: variable.source.clone(),
        }
    }
}

impl ReposReport {
    /// Builds the offline report.
    pub fn new(discovery: &Discovery) -> ReposReport {
        ReposReport {
            schema_version: SCHEMA_VERSION,
            root: discovery.root.display().to_string(),
            package_manager: discovery.manager,
            main_config: discovery.main_config.clone(),
            proxy: discovery.proxy.clone(),
            releasever: discovery.releasever.as_ref().map(VariableDto::from),
            region: discovery.region.as_ref().map(VariableDto::from),
            variables: discovery.vars.iter().map(VariableDto::from).collect(),
            repos: discovery.repos.iter().map(RepoDto::new).collect(),
            hidden_repos: discovery.hidden,
            problems: discovery.problems.iter().map(ProblemDto::from).collect(),
        }
    }

    /// The worst severity of the configuration and of the enabled repositories (a disabled
    /// one, shown with `--all-repos`, cannot break the package manager).
    pub fn worst(&self) -> Option<Severity> {
        let enabled = self.repos.iter().filter(|repo| repo.enabled);
        let repo_problems = enabled.flat_map(|repo| &repo.problems);
        self.problems
            .iter()
            .chain(repo_problems)
            .map(|problem| problem.severity)
            .max()
    }
}

impl RepoDto {
    /// A repository as reported offline: no mirrors fetched, no repomd.xml result.
    pub fn new(repo: &Repo) -> RepoDto {
        RepoDto {
            id: repo.id.clone(),
            name: repo.name.clone(),
            enabled: repo.enabled,
            file: repo.file.clone(),
            line: repo.line,
            urls: repo.urls.iter().map(url_dto).collect(),
            scheme: repo.scheme(),
            mirrors: Vec::new(),
            repomd: None,
            buckets: needed_buckets(repo),
            generation: repo.generation.clone(),
            proxy: repo.proxy.clone(),
            report_instanceid: repo.report_instanceid,
            unexpanded: repo.unexpanded.clone(),
            problems: repo.problems.iter().map(ProblemDto::from).collect(),
        }
    }
}

fn url_dto(url: &RepoUrl) -> UrlDto {
    let parsed = url.url();
    let note = match parsed.as_ref().map(buckets::host_kind) {
        Some(HostKind::Cdn { note, .. }) => Some(note),
        _ => url
            .host
            .as_deref()
            .and_then(crate::aws::hostname::parse)
            .and_then(|info| info.note)
            .map(str::to_string),
    };
    UrlDto {
        kind: url.kind,
        configured: url.configured.clone(),
        expanded: url.expanded.clone(),
        scheme: url.scheme.clone(),
        host: url.host.clone(),
        note,
    }
}

/// The buckets a repository's URLs name, then the ones their mirror lists send it to.
pub fn needed_buckets(repo: &Repo) -> Vec<BucketDto> {
    let mut found: Vec<BucketDto> = Vec::new();
    for url in &repo.urls {
        let Some(HostKind::S3(bucket)) = url.url().as_ref().map(buckets::host_kind) else {
            continue;
        };
        push_bucket(&mut found, bucket, "hostname");
    }

    let named: Vec<BucketDto> = found.clone();
    for entry in named {
        let Some((catalog, Some(region))) = buckets::known(&entry.bucket.name) else {
            continue;
        };
        for template in &catalog.also_needs {
            let name = buckets::fill(template, &region);
            let Some(bucket) = bucket_named(&name) else {
                continue;
            };
            push_bucket(&mut found, bucket, "mirror-list");
        }
    }
    found
}

fn push_bucket(found: &mut Vec<BucketDto>, bucket: Bucket, via: &'static str) {
    if found.iter().any(|known| known.bucket.name == bucket.name) {
        return;
    }
    let holds = buckets::known(&bucket.name).map(|(entry, _)| entry.holds.clone());
    found.push(BucketDto { bucket, via, holds });
}

/// A bucket from its name alone, through the host that serves it.
fn bucket_named(name: &str) -> Option<Bucket> {
    let host = if name.contains('.') {
        name.to_string()
    } else {
        let region = buckets::known(name)?.1?;
        format!("{name}.s3.{region}.{}", buckets::dns_suffix(&region))
    };
    buckets::bucket(&reqwest::Url::parse(&format!("https://{host}/")).ok()?)
}

/// The JSON text, pretty-printed, with a final newline.
pub fn json(report: &ReposReport) -> anyhow::Result<String> {
    let mut text = serde_json::to_string_pretty(report)?;
    text.push('\n');
    Ok(text)
}

/// The human view: the configuration in a few lines, then each repository with its details.
pub fn table(report: &ReposReport) -> String {
    let mut out = String::new();
    let manager = match report.package_manager {
        Manager::Yum => "yum",
        Manager::Dnf => "dnf",
    };
    let main = report
        .main_config
        .as_deref()
        .unwrap_or("no main configuration");
    let _ = writeln!(
        out,
        "{manager} configuration under {} ({main})",
        report.root
    );
    let sourced = |variable: &Option<VariableDto>| match variable {
        Some(v) => format!("{}  ({})", v.value, describe(&v.source)),
        None => "unknown".to_string(),
    };
    let _ = writeln!(out, "  releasever  {}", sourced(&report.releasever));
    let _ = writeln!(out, "  region      {}", sourced(&report.region));
    let proxy = report.proxy.as_deref().unwrap_or("none");
    let _ = writeln!(out, "  proxy       {proxy}");
    for problem in &report.problems {
        write_problem(&mut out, "  ", problem);
    }

    let width = report
        .variables
        .iter()
        .map(|v| v.name.len())
        .max()
        .unwrap_or(0);
    let value_width = report
        .variables
        .iter()
        .map(|v| v.value.len())
        .max()
        .unwrap_or(0);
    let _ = writeln!(out, "\nVariables");
    for variable in &report.variables {
        let _ = writeln!(
            out,
            "  {:width$}  {:value_width$}  {}",
            variable.name,
            variable.value,
            describe(&variable.source)
        );
    }

    let hidden = match report.hidden_repos {
        0 => String::new(),
        n => format!(" ({n} disabled not shown: --all-repos)"),
    };
    let _ = writeln!(out, "\nRepositories{hidden}");
    for repo in &report.repos {
        write_repo(&mut out, repo);
    }
    if report.repos.is_empty() {
        let _ = writeln!(out, "  none");
    }
    out
}

fn write_repo(out: &mut String, repo: &RepoDto) {
    let enabled = if repo.enabled { "enabled" } else { "disabled" };
    let _ = writeln!(
        out,
        "\n  {}  {enabled}  {}  {}:{}",
        repo.id, repo.scheme, repo.file, repo.line
    );
    for url in &repo.urls {
        let kind = match url.kind {
            UrlKind::Baseurl => "baseurl",
            UrlKind::Mirrorlist => "mirrorlist",
            UrlKind::Metalink => "metalink",
        };
        let _ = writeln!(out, "    {kind:10}  {}", url.expanded);
        if url.configured != url.expanded {
            let _ = writeln!(out, "    {:10}  (configured {})", "", url.configured);
        }
    }
    for bucket in &repo.buckets {
        let region = bucket.bucket.region.as_deref().unwrap_or("no region");
        let generation = bucket
            .bucket
            .generation
            .as_deref()
            .and_then(buckets::generation)
            .map(|g| format!(", {}", g.name))
            .unwrap_or_default();
        let via = if bucket.via == "mirror-list" {
            ", via the mirror list"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "    {:10}  {} ({region}{generation}{via})",
            "bucket", bucket.bucket.arn
        );
    }
    if let Some(proxy) = &repo.proxy {
        let _ = writeln!(out, "    {:10}  {proxy}", "proxy");
    }
    for problem in &repo.problems {
        write_problem(out, "    ", problem);
    }
}

fn write_problem(out: &mut String, indent: &str, problem: &ProblemDto) {
    let severity = match problem.severity {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Error => "error",
    };
    let _ = writeln!(
        out,
        "{indent}{severity:10}  {}: {}",
        problem.code, problem.message
    );
    if let Some(fix) = &problem.fix {
        let _ = writeln!(out, "{indent}{:10}  fix: {fix}", "");
    }
}

/// A source in a few words.
pub fn describe(source: &Source) -> String {
    match source {
        Source::File { path } => path.clone(),
        Source::MainConfig { path } => format!("releasever= in {path}"),
        Source::Package { package, path } => format!("version of {package}, from {path}"),
        Source::Override { flag } => flag.clone(),
        Source::Imds => "instance metadata".to_string(),
        Source::Default { detail } => format!("default: {detail}"),
    }
}
