//! `ranges diff OLD NEW`: prefixes added and removed between two ip-ranges files, per service
//! and region.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use ipnet::IpNet;

use crate::aws::ipranges::IpRanges;
use crate::exit::{Status, UsageError, one_line};
use crate::ranges::ReportFormat;
use crate::ranges::report::{self, ChangeDto, DiffReport, FileDto};

/// Arguments of `ranges diff`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The older ip-ranges.json.
    pub old: PathBuf,

    /// The newer ip-ranges.json.
    pub new: PathBuf,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
}

type Keyed = BTreeMap<(String, String), BTreeSet<IpNet>>;

/// The prefixes of a file by service and region.
fn keyed(ranges: &IpRanges) -> Keyed {
    let mut map = Keyed::new();
    for entry in &ranges.entries {
        map.entry((entry.service.clone(), entry.region.clone()))
            .or_default()
            .insert(entry.prefix);
    }
    map
}

/// The changes between two files, sorted by service, then region; unchanged groups left out.
pub fn changes(old: &IpRanges, new: &IpRanges) -> Vec<ChangeDto> {
    let (old, new) = (keyed(old), keyed(new));
    let keys: BTreeSet<&(String, String)> = old.keys().chain(new.keys()).collect();
    let empty = BTreeSet::new();
    keys.into_iter()
        .filter_map(|key| {
            let before = old.get(key).unwrap_or(&empty);
            let after = new.get(key).unwrap_or(&empty);
            let listed = |set: Vec<&IpNet>| set.into_iter().map(ToString::to_string).collect();
            let added: Vec<String> = listed(after.difference(before).collect());
            let removed: Vec<String> = listed(before.difference(after).collect());
            (!added.is_empty() || !removed.is_empty()).then(|| ChangeDto {
                service: key.0.clone(),
                region: key.1.clone(),
                added,
                removed,
            })
        })
        .collect()
}

fn load(path: &Path) -> anyhow::Result<IpRanges> {
    IpRanges::load(path).map_err(|err| UsageError::new(one_line(&err)))
}

fn file(path: &Path, ranges: &IpRanges) -> FileDto {
    FileDto {
        path: path.display().to_string(),
        sync_token: ranges.sync_token.clone(),
        create_date: ranges.create_date.clone(),
    }
}

/// Runs `ranges diff`.
pub fn run(args: Args) -> anyhow::Result<Status> {
    let old = load(&args.old)?;
    let new = load(&args.new)?;
    let changes = changes(&old, &new);
    let document = DiffReport {
        schema_version: report::SCHEMA_VERSION,
        old: file(&args.old, &old),
        new: file(&args.new, &new),
        added_count: changes.iter().map(|c| c.added.len()).sum(),
        removed_count: changes.iter().map(|c| c.removed.len()).sum(),
        changes,
    };

    let text = match args.format {
        ReportFormat::Json => report::to_json(&document)?,
        ReportFormat::Table => table(&document, &old, &new),
    };
    crate::output::print(&text)?;
    Ok(Status::Clean)
}

fn table(document: &DiffReport, old: &IpRanges, new: &IpRanges) -> String {
    let mut out = format!(
        "# old: {}\n# new: {}\n# {} prefixes added, {} removed\n",
        report::provenance(old),
        report::provenance(new),
        document.added_count,
        document.removed_count
    );
    for change in &document.changes {
        out.push_str(&format!(
            "{} {}: +{} -{}\n",
            change.service,
            change.region,
            change.added.len(),
            change.removed.len()
        ));
        for prefix in &change.added {
            out.push_str(&format!("  + {prefix}\n"));
        }
        for prefix in &change.removed {
            out.push_str(&format!("  - {prefix}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(token: &str, prefixes: &[(&str, &str, &str)]) -> IpRanges {
        let entries: Vec<String> = prefixes
            .iter()
            .map(|(p, s, r)| format!(r#"{{"ip_prefix":"{p}","service":"{s}","region":"{r}"}}"#))
            .collect();
        let text = format!(
            r#"{{"syncToken":"{token}","prefixes":[{}]}}"#,
            entries.join(",")
        );
        IpRanges::parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn changes_are_grouped_by_service_and_region() {
        let old = doc(
            "1",
            &[
                ("3.5.0.0/19", "S3", "us-east-1"),
                ("52.216.0.0/15", "S3", "us-east-1"),
                ("15.0.0.0/8", "EC2", "eu-west-1"),
            ],
        );
        let new = doc(
            "2",
            &[
                ("3.5.0.0/19", "S3", "us-east-1"),
                ("16.15.0.0/16", "S3", "us-east-1"),
                ("15.0.0.0/8", "EC2", "eu-west-2"),
            ],
        );
        let found = changes(&old, &new);
        let lines: Vec<String> = found
            .iter()
            .map(|c| format!("{} {} +{:?} -{:?}", c.service, c.region, c.added, c.removed))
            .collect();
        assert_eq!(
            lines,
            [
                "EC2 eu-west-1 +[] -[\"15.0.0.0/8\"]",
                "EC2 eu-west-2 +[\"15.0.0.0/8\"] -[]",
                "S3 us-east-1 +[\"16.15.0.0/16\"] -[\"52.216.0.0/15\"]",
            ]
        );
        assert!(changes(&new, &new).is_empty());
    }
}
