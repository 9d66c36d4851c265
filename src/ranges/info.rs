//! `ranges info`: which ip-ranges data is in use, its createDate and age, and what it lacks.

use std::collections::BTreeSet;

use crate::aws::source;
use crate::exit::Status;
use crate::ranges::report::{self, InfoReport, SourceDto};
use crate::ranges::{ReportFormat, STALE_AFTER_SECONDS, SourceArgs};

/// Arguments of `ranges info`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
}

/// Runs `ranges info` without downloading; exits 3 when there is no data at all.
pub async fn run(source_args: &SourceArgs, args: Args) -> anyhow::Result<Status> {
    let loaded = source::obtain(&source_args.options(false)).await?;
    let now = time::OffsetDateTime::now_utc();
    let ranges = loaded.ranges.as_ref();
    let age = ranges.and_then(|r| r.age_seconds(now));
    let count = |v4: bool| {
        ranges.map_or(0, |r| {
            r.entries
                .iter()
                .filter(|e| e.prefix.addr().is_ipv4() == v4)
                .count()
        })
    };
    let services: BTreeSet<String> = ranges
        .map(|r| r.entries.iter().map(|e| e.service.clone()).collect())
        .unwrap_or_default();
    let document = InfoReport {
        schema_version: report::SCHEMA_VERSION,
        sync_token: ranges.and_then(|r| r.sync_token.clone()),
        create_date: ranges.and_then(|r| r.create_date.clone()),
        source: SourceDto::of(&loaded),
        age_seconds: age,
        stale: age.is_some_and(|age| age > STALE_AFTER_SECONDS),
        ipv4_prefixes: count(true),
        ipv6_prefixes: count(false),
        services: services.into_iter().collect(),
        lacks: ranges.map(|r| r.lacks.clone()).unwrap_or_default(),
        warnings: ranges.map(|r| r.warnings.clone()).unwrap_or_default(),
        problems: loaded.problems.clone(),
    };

    let text = match args.format {
        ReportFormat::Json => report::to_json(&document)?,
        ReportFormat::Table => table(&document),
    };
    crate::output::print(&text)?;
    if ranges.is_none() {
        return Ok(Status::CannotRun);
    }
    Ok(Status::Clean)
}

fn table(document: &InfoReport) -> String {
    let none = || "(none)".to_string();
    let mut rows = vec![
        vec!["source".to_string(), document.source.kind.to_string()],
        vec![
            "path".to_string(),
            document.source.path.clone().unwrap_or_else(none),
        ],
        vec![
            "syncToken".to_string(),
            document.sync_token.clone().unwrap_or_else(none),
        ],
        vec![
            "createDate".to_string(),
            document.create_date.clone().unwrap_or_else(none),
        ],
    ];
    if let Some(age) = document.age_seconds {
        let mut text = report::human_age(age);
        if document.stale {
            text.push_str(" (WARNING: older than a week; run `egress-probe ranges update`)");
        }
        rows.push(vec!["age".to_string(), text]);
    }
    if document.source.kind != "none" {
        rows.push(vec![
            "prefixes".to_string(),
            format!(
                "{} IPv4, {} IPv6",
                document.ipv4_prefixes, document.ipv6_prefixes
            ),
        ]);
        rows.push(vec![
            "services".to_string(),
            document.services.len().to_string(),
        ]);
    }
    for lack in &document.lacks {
        rows.push(vec!["lacks".to_string(), lack.clone()]);
    }
    for warning in &document.warnings {
        rows.push(vec!["warning".to_string(), warning.clone()]);
    }
    for problem in &document.problems {
        rows.push(vec!["problem".to_string(), problem.clone()]);
    }
    report::table(&rows)
}
