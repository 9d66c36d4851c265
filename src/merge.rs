//! `egress-probe merge`: many hosts' check reports (JSON documents, JSON Lines, or directories
//! of them, such as Systems Manager output synced from S3) into one fleet summary, as a table
//! or JSON. The latest run of each instance counts unless `--all-runs`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::exit::{Status, UsageError};

/// The schema version of the summary's JSON.
pub const SCHEMA_VERSION: u32 = 1;

/// The committed JSON Schema of the summary.
pub const SCHEMA: &str = include_str!("../schemas/merge-v1.schema.json");

/// Formats of `merge`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A readable table.
    Table,
    /// One JSON document.
    Json,
}

/// Arguments of `merge`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Exit codes:
  0  no host's report is failing
  1  at least one host's latest report is failing
  2  no report found, or an input cannot be read")]
pub struct Args {
    /// Report files (JSON or JSON Lines) or directories searched for *.json, *.jsonl and
    /// Systems Manager `stdout` files.
    #[arg(required = true, value_name = "FILE|DIR")]
    pub inputs: Vec<PathBuf>,

    /// Summary format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Write the summary to FILE (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Count every run, not only the latest of each instance.
    #[arg(long)]
    pub all_runs: bool,
}

/// The facts of one report that the summary needs.
#[derive(Debug, Clone)]
struct Run {
    source: String,
    instance_id: Option<String>,
    region: Option<String>,
    ami_id: Option<String>,
    subnet_id: Option<String>,
    generated_at: String,
    exit_code: u64,
    /// (kind, severity)
    findings: Vec<(String, String)>,
    /// (target, verdict)
    paths: Vec<(String, String)>,
}

/// The fleet summary: the JSON contract of `merge --format json`.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// This program's version.
    pub tool_version: &'static str,
    /// Files read.
    pub files: usize,
    /// Reports read.
    pub reports: usize,
    /// Reports counted (one per instance unless `--all-runs`).
    pub hosts: usize,
    /// Older runs of an instance left out.
    pub older_runs: usize,
    /// Hosts whose report fails (exit code 1).
    pub failing: usize,
    /// Inputs that were not reports, one line each.
    pub problems: Vec<String>,
    /// Findings by kind and severity.
    pub findings: Vec<KindRow>,
    /// Hosts and findings by region.
    pub by_region: Vec<GroupRow>,
    /// Hosts and findings by AMI.
    pub by_ami: Vec<GroupRow>,
    /// Hosts and findings by subnet.
    pub by_subnet: Vec<GroupRow>,
    /// Targets by path verdict.
    pub by_path: Vec<PathRow>,
    /// Every failing host.
    pub failing_hosts: Vec<HostRow>,
}

/// Findings of one kind and severity.
#[derive(Debug, Serialize)]
pub struct KindRow {
    /// The finding kind.
    pub kind: String,
    /// `info`, `warn` or `fail`.
    pub severity: String,
    /// How many findings.
    pub findings: usize,
    /// How many hosts have at least one.
    pub hosts: usize,
}

/// Hosts sharing a region, AMI or subnet.
#[derive(Debug, Serialize)]
pub struct GroupRow {
    /// The region, AMI or subnet; null when the reports do not say.
    pub key: Option<String>,
    /// Hosts in the group.
    pub hosts: usize,
    /// Of those, hosts whose report fails.
    pub failing: usize,
    /// Findings of severity fail.
    pub fail: usize,
    /// Findings of severity warn.
    pub warn: usize,
}

/// Hosts whose target took a path.
#[derive(Debug, Serialize)]
pub struct PathRow {
    /// The target's name.
    pub target: String,
    /// The path verdict.
    pub verdict: String,
    /// Hosts where the target took that path.
    pub hosts: usize,
}

/// One failing host.
#[derive(Debug, Serialize)]
pub struct HostRow {
    /// The instance.
    pub instance_id: Option<String>,
    /// Its region.
    pub region: Option<String>,
    /// Its AMI.
    pub ami_id: Option<String>,
    /// Its subnet.
    pub subnet_id: Option<String>,
    /// When its report was made.
    pub generated_at: String,
    /// The kinds of its failing findings.
    pub fail_kinds: Vec<String>,
    /// The file (and line) the report came from.
    pub source: String,
}

/// Runs `merge`.
pub fn run(args: Args) -> anyhow::Result<Status> {
    let files = collect(&args.inputs)?;
    let mut problems = Vec::new();
    let mut runs = Vec::new();
    for file in &files {
        match std::fs::read(file) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => {
                    read_reports(&file.display().to_string(), &text, &mut runs, &mut problems)
                }
                Err(_) => problems.push(format!("{}: not text, skipped", file.display())),
            },
            Err(err) => return Err(UsageError::new(format!("{}: {err}", file.display()))),
        }
    }
    if runs.is_empty() {
        let why = problems
            .first()
            .map(|p| format!(": {p}"))
            .unwrap_or_default();
        return Err(UsageError::new(format!(
            "no check report in {} file(s){why}",
            files.len()
        )));
    }

    let summary = summarize(files.len(), runs, problems, args.all_runs);
    let text = match args.format {
        Format::Json => {
            let mut text = serde_json::to_string_pretty(&summary)?;
            text.push('\n');
            text
        }
        Format::Table => render(&summary),
    };
    match &args.output {
        Some(path) => crate::output::write_atomic(path, text.as_bytes())?,
        None => crate::output::print(&text)?,
    }
    Ok(if summary.failing > 0 {
        Status::Failing
    } else {
        Status::Clean
    })
}

/// The files to read: every file given, and in every directory (recursively, in name order)
/// the `*.json`, `*.jsonl` and `stdout` files.
fn collect(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        let meta = std::fs::metadata(input)
            .map_err(|err| UsageError::new(format!("{}: {err}", input.display())))?;
        if meta.is_dir() {
            walk(input, &mut files)?;
        } else {
            files.push(input.clone());
        }
    }
    Ok(files)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(dir)
        .map_err(|err| UsageError::new(format!("{}: {err}", dir.display())))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            walk(&path, files)?;
        } else if name.ends_with(".json") || name.ends_with(".jsonl") || name == "stdout" {
            files.push(path);
        }
    }
    Ok(())
}

/// Reads one file: a whole JSON document, or one report per line.
fn read_reports(name: &str, text: &str, runs: &mut Vec<Run>, problems: &mut Vec<String>) {
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        match run_of(&value, name.to_string()) {
            Ok(run) => runs.push(run),
            Err(why) => problems.push(format!("{name}: {why}")),
        }
        return;
    }
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let source = format!("{name}:{}", index + 1);
        let parsed = serde_json::from_str::<Value>(line)
            .map_err(|err| format!("not JSON ({err})"))
            .and_then(|value| run_of(&value, source.clone()));
        match parsed {
            Ok(run) => runs.push(run),
            Err(why) => problems.push(format!("{source}: {why}")),
        }
    }
}

/// The facts of one report, or why it is not a check report this version reads.
fn run_of(value: &Value, source: String) -> Result<Run, String> {
    let version = value.get("schema_version").and_then(Value::as_u64);
    let summary = value.get("summary");
    match version {
        None => return Err("not a check report (no schema_version)".into()),
        Some(1) if summary.is_some() && value.get("targets").is_some() => {}
        Some(1) => return Err("not a check report (no summary or targets)".into()),
        Some(other) => return Err(format!("schema_version {other}; this version reads 1")),
    }
    let host = &value["host"];
    let text = |v: &Value| v.as_str().map(str::to_string);
    let findings = value["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| Some((text(&f["kind"])?, text(&f["severity"])?)))
        .collect();
    // `targets[].path` is the request path in schema 1; an object there is a path verdict.
    let paths = value["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| Some((text(&t["name"])?, text(&t["path"]["verdict"])?)))
        .collect();
    Ok(Run {
        source,
        instance_id: text(&host["instance_id"]),
        region: text(&host["region"]),
        ami_id: text(&host["ami_id"]),
        subnet_id: text(&host["subnet_id"]),
        generated_at: text(&value["generated_at"]).unwrap_or_default(),
        exit_code: value["summary"]["exit_code"].as_u64().unwrap_or(0),
        findings,
        paths,
    })
}

/// Keeps the latest run per instance (unless `all_runs`) and counts.
fn summarize(files: usize, runs: Vec<Run>, problems: Vec<String>, all_runs: bool) -> Summary {
    let reports = runs.len();
    let hosts: Vec<Run> = if all_runs {
        runs
    } else {
        let mut latest: BTreeMap<String, Run> = BTreeMap::new();
        for run in runs {
            let key = run
                .instance_id
                .clone()
                .unwrap_or_else(|| run.source.clone());
            match latest.get(&key) {
                Some(known) if known.generated_at >= run.generated_at => {}
                _ => {
                    latest.insert(key, run);
                }
            }
        }
        latest.into_values().collect()
    };

    let mut kinds: BTreeMap<(String, String), (usize, BTreeSet<usize>)> = BTreeMap::new();
    let mut paths: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (index, run) in hosts.iter().enumerate() {
        for finding in &run.findings {
            let entry = kinds.entry(finding.clone()).or_default();
            entry.0 += 1;
            entry.1.insert(index);
        }
        for path in run.paths.iter().collect::<BTreeSet<_>>() {
            *paths.entry(path.clone()).or_default() += 1;
        }
    }

    Summary {
        schema_version: SCHEMA_VERSION,
        tool_version: env!("CARGO_PKG_VERSION"),
        files,
        reports,
        hosts: hosts.len(),
        older_runs: reports - hosts.len(),
        failing: hosts.iter().filter(|r| r.exit_code == 1).count(),
        problems,
        findings: kinds
            .into_iter()
            .map(|((kind, severity), (findings, hosts))| KindRow {
                kind,
                severity,
                findings,
                hosts: hosts.len(),
            })
            .collect(),
        by_region: group(&hosts, |r| r.region.clone()),
        by_ami: group(&hosts, |r| r.ami_id.clone()),
        by_subnet: group(&hosts, |r| r.subnet_id.clone()),
        by_path: paths
            .into_iter()
            .map(|((target, verdict), hosts)| PathRow {
                target,
                verdict,
                hosts,
            })
            .collect(),
        failing_hosts: hosts
            .iter()
            .filter(|r| r.exit_code == 1)
            .map(|r| HostRow {
                instance_id: r.instance_id.clone(),
                region: r.region.clone(),
                ami_id: r.ami_id.clone(),
                subnet_id: r.subnet_id.clone(),
                generated_at: r.generated_at.clone(),
                fail_kinds: r
                    .findings
                    .iter()
                    .filter(|(_, severity)| severity == "fail")
                    .map(|(kind, _)| kind.clone())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect(),
                source: r.source.clone(),
            })
            .collect(),
    }
}

fn group(hosts: &[Run], key: impl Fn(&Run) -> Option<String>) -> Vec<GroupRow> {
    let mut rows: BTreeMap<Option<String>, GroupRow> = BTreeMap::new();
    for run in hosts {
        let k = key(run);
        let row = rows.entry(k.clone()).or_insert(GroupRow {
            key: k,
            hosts: 0,
            failing: 0,
            fail: 0,
            warn: 0,
        });
        row.hosts += 1;
        row.failing += usize::from(run.exit_code == 1);
        row.fail += run.findings.iter().filter(|f| f.1 == "fail").count();
        row.warn += run.findings.iter().filter(|f| f.1 == "warn").count();
    }
    rows.into_values().collect()
}

/// The summary for a person.
pub fn render(summary: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "egress-probe fleet summary · {} hosts · {} failing · {} reports in {} files, \
         {} older runs left out",
        summary.hosts, summary.failing, summary.reports, summary.files, summary.older_runs
    );
    for problem in &summary.problems {
        let _ = writeln!(out, "skipped input: {problem}");
    }

    let _ = writeln!(
        out,
        "\n{:<24} {:<8} {:>8} {:>6}",
        "finding", "severity", "findings", "hosts"
    );
    for row in &summary.findings {
        let _ = writeln!(
            out,
            "{:<24} {:<8} {:>8} {:>6}",
            row.kind, row.severity, row.findings, row.hosts
        );
    }
    if summary.findings.is_empty() {
        let _ = writeln!(out, "no findings");
    }

    for (title, rows) in [
        ("region", &summary.by_region),
        ("ami", &summary.by_ami),
        ("subnet", &summary.by_subnet),
    ] {
        let _ = writeln!(
            out,
            "\n{:<24} {:>6} {:>8} {:>6} {:>6}",
            title, "hosts", "failing", "fail", "warn"
        );
        for row in rows {
            let key = row.key.as_deref().unwrap_or("-");
            let _ = writeln!(
                out,
                "{key:<24} {:>6} {:>8} {:>6} {:>6}",
                row.hosts, row.failing, row.fail, row.warn
            );
        }
    }

    let _ = writeln!(out, "\n{:<48} {:>6}", "path (target: verdict)", "hosts");
    for row in &summary.by_path {
        let _ = writeln!(
            out,
            "{:<48} {:>6}",
            format!("{}: {}", row.target, row.verdict),
            row.hosts
        );
    }
    if summary.by_path.is_empty() {
        let _ = writeln!(out, "no path verdict in these reports");
    }

    if !summary.failing_hosts.is_empty() {
        let _ = writeln!(out, "\nfailing hosts");
    }
    for host in &summary.failing_hosts {
        let _ = writeln!(
            out,
            "  {} {} {} {}: {} ({})",
            host.instance_id.as_deref().unwrap_or("-"),
            host.region.as_deref().unwrap_or("-"),
            host.ami_id.as_deref().unwrap_or("-"),
            host.subnet_id.as_deref().unwrap_or("-"),
            if host.fail_kinds.is_empty() {
                "failing expectations".to_string()
            } else {
                host.fail_kinds.join(", ")
            },
            host.source
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    /// A report as its JSON, with the instance, subnet and time replaced.
    fn report_json(instance: &str, subnet: &str, at: &str, failing: bool) -> Value {
        let report = if failing {
            fixture::mixed()
        } else {
            fixture::report(Some("us-west-2"), vec![])
        };
        let mut value = serde_json::to_value(&report).unwrap();
        value["host"]["instance_id"] = instance.into();
        value["host"]["subnet_id"] = subnet.into();
        value["generated_at"] = at.into();
        value
    }

    fn fleet() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // A host's report as a document.
        std::fs::write(
            root.join("a.json"),
            serde_json::to_string_pretty(&report_json(
                "i-a",
                "subnet-1",
                "2026-12-03T10:00:00Z",
                true,
            ))
            .unwrap(),
        )
        .unwrap();
        // Two runs of one host, the later one clean, plus a torn line.
        let runs = [
            report_json("i-b", "subnet-1", "2026-12-03T09:00:00Z", true).to_string(),
            report_json("i-b", "subnet-1", "2026-12-03T10:00:00Z", false).to_string(),
            "{\"schema_version\":1,\"tar".to_string(),
        ];
        std::fs::write(root.join("runs.jsonl"), runs.join("\n")).unwrap();
        // Systems Manager's layout, synced from S3.
        let ssm = root.join("cmd-1/i-c/awsrunShellScript/egressProbeCheck");
        std::fs::create_dir_all(&ssm).unwrap();
        std::fs::write(
            ssm.join("stdout"),
            report_json("i-c", "subnet-2", "2026-12-03T10:05:00Z", true).to_string(),
        )
        .unwrap();
        std::fs::write(ssm.join("stderr"), "egress-probe: warning\n").unwrap();
        std::fs::write(root.join("notes.txt"), "not read").unwrap();
        dir
    }

    fn merged(all_runs: bool) -> Summary {
        let dir = fleet();
        let files = collect(&[dir.path().to_path_buf()]).unwrap();
        let mut runs = Vec::new();
        let mut problems = Vec::new();
        for file in &files {
            let text = std::fs::read_to_string(file).unwrap();
            let name = file.strip_prefix(dir.path()).unwrap().display().to_string();
            read_reports(&name, &text, &mut runs, &mut problems);
        }
        summarize(files.len(), runs, problems, all_runs)
    }

    #[test]
    fn latest_run_per_instance_by_kind_region_ami_subnet() {
        let summary = merged(false);
        assert_eq!(
            (
                summary.files,
                summary.reports,
                summary.hosts,
                summary.older_runs
            ),
            (3, 4, 3, 1)
        );
        assert_eq!(summary.failing, 2);
        assert_eq!(summary.problems.len(), 1);
        assert!(
            summary.problems[0].starts_with("runs.jsonl:3: not JSON"),
            "{:?}",
            summary.problems
        );

        let unreachable = summary
            .findings
            .iter()
            .find(|k| k.kind == "unreachable")
            .unwrap();
        assert_eq!(
            (
                unreachable.severity.as_str(),
                unreachable.findings,
                unreachable.hosts
            ),
            ("fail", 2, 2)
        );
        assert_eq!(summary.by_region.len(), 1);
        assert_eq!(summary.by_region[0].key.as_deref(), Some("us-west-2"));
        assert_eq!(
            (summary.by_region[0].hosts, summary.by_region[0].failing),
            (3, 2)
        );
        assert_eq!(
            summary.by_ami[0].key.as_deref(),
            Some("ami-0abcdef1234567890")
        );
        let subnets: Vec<(Option<&str>, usize, usize)> = summary
            .by_subnet
            .iter()
            .map(|r| (r.key.as_deref(), r.hosts, r.failing))
            .collect();
        assert_eq!(
            subnets,
            [(Some("subnet-1"), 2, 1), (Some("subnet-2"), 1, 1)]
        );
        let failing: Vec<&str> = summary
            .failing_hosts
            .iter()
            .filter_map(|h| h.instance_id.as_deref())
            .collect();
        assert_eq!(failing, ["i-a", "i-c"]);
        assert_eq!(
            summary.failing_hosts[0].fail_kinds,
            ["plaintext", "unreachable"]
        );
        assert!(summary.by_path.is_empty());
    }

    #[test]
    fn all_runs_counts_every_report() {
        let summary = merged(true);
        assert_eq!(
            (summary.hosts, summary.older_runs, summary.failing),
            (4, 0, 3)
        );
    }

    #[test]
    fn path_verdicts_are_counted_per_target() {
        let mut a = report_json("i-a", "s", "t", false);
        let mut b = report_json("i-b", "s", "t", false);
        for value in [&mut a, &mut b] {
            let path = serde_json::json!({"verdict": "gateway-endpoint"});
            value["targets"] = serde_json::json!([{"name": "s3-regional", "path": path}]);
        }
        let runs = vec![
            run_of(&a, "a".into()).unwrap(),
            run_of(&b, "b".into()).unwrap(),
        ];
        let summary = summarize(2, runs, vec![], false);
        assert_eq!(summary.by_path.len(), 1);
        assert_eq!(
            (
                summary.by_path[0].target.as_str(),
                summary.by_path[0].verdict.as_str(),
                summary.by_path[0].hosts
            ),
            ("s3-regional", "gateway-endpoint", 2)
        );
        assert!(render(&summary).contains("s3-regional: gateway-endpoint"));
    }

    #[test]
    fn summary_matches_its_schema_and_the_table_shows_it() {
        let summary = merged(false);
        let schema: Value = serde_json::from_str(SCHEMA).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let value = serde_json::to_value(&summary).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");

        let table = render(&summary);
        let first = "egress-probe fleet summary · 3 hosts · 2 failing · 4 reports in 3 files, \
                     1 older runs left out";
        assert!(table.starts_with(first), "{table}");
        let failing = "  i-c us-west-2 ami-0abcdef1234567890 subnet-2: plaintext, unreachable \
                       (cmd-1/i-c/awsrunShellScript/egressProbeCheck/stdout)";
        assert!(table.contains(failing), "{table}");
    }

    #[test]
    fn other_schema_versions_and_documents_are_problems() {
        assert_eq!(
            run_of(&serde_json::json!({"schema_version": 2}), "x".into()).unwrap_err(),
            "schema_version 2; this version reads 1"
        );
        assert!(run_of(&serde_json::json!({"a": 1}), "x".into()).is_err());
    }
}
