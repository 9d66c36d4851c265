//! The JSON contract of `ranges` (serde DTOs, `schema_version` 1) and the small text helpers
//! its tables share.

use serde::Serialize;

use crate::aws::ipranges::IpRanges;
use crate::aws::source::Loaded;

/// The version of every `ranges` JSON document.
pub const SCHEMA_VERSION: u32 = 1;

/// Where the data came from, as every JSON output names it.
#[derive(Debug, Serialize)]
pub struct SourceDto {
    /// `file`, `cache`, `download` or `none`.
    pub kind: &'static str,
    /// The file read or written.
    pub path: Option<String>,
}

impl SourceDto {
    /// The source of loaded data.
    pub fn of(loaded: &Loaded) -> SourceDto {
        SourceDto {
            kind: loaded.kind.as_str(),
            path: loaded.path.as_ref().map(|path| path.display().to_string()),
        }
    }
}

/// `ranges list --format json`.
#[derive(Debug, Serialize)]
pub struct ListReport {
    /// The JSON contract version (1).
    pub schema_version: u32,
    /// `syncToken` of the data used.
    pub sync_token: Option<String>,
    /// `createDate` of the data used.
    pub create_date: Option<String>,
    /// Where the data came from.
    pub source: SourceDto,
    /// The filters.
    pub selection: SelectionDto,
    /// CIDRs in the exact aggregation, all families.
    pub exact_count: usize,
    /// The CIDRs to allow, IPv4 first: the exact list, or its merge into the budget.
    pub cidrs: Vec<String>,
    /// The rule budget, when one was set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetDto>,
    /// Addresses the CIDRs admit outside the selection, as a decimal string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_addresses: Option<String>,
    /// Who the extra addresses belong to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_owners: Option<OwnersDto>,
    /// Per address family.
    pub families: Vec<FamilyDto>,
    /// Entries skipped while loading.
    pub warnings: Vec<String>,
}

/// The filters of a listing.
#[derive(Debug, Serialize)]
pub struct SelectionDto {
    /// Services kept, or in the file.
    pub services: Vec<String>,
    /// Regions kept.
    pub regions: Vec<String>,
    /// Network border groups kept.
    pub border_groups: Vec<String>,
    /// `ipv4`, `ipv6` or `both`.
    pub families: &'static str,
    /// True when the region came from the instance metadata.
    pub instance_region: bool,
    /// The ports the rules open, as given to `--ports` (joined ranges).
    pub ports: String,
}

/// The rule budget of a listing.
#[derive(Debug, Serialize)]
pub struct BudgetDto {
    /// Rules per direction per address family.
    pub rules_per_direction: usize,
    /// Port ranges each CIDR needs outbound (one rule each).
    pub port_ranges: usize,
    /// CIDRs that fit in the budget, per family.
    pub cidrs_per_family: usize,
}

/// Who the extra addresses of a merge belong to.
#[derive(Debug, Serialize)]
pub struct OwnersDto {
    /// Extra addresses inside some published AWS prefix.
    pub aws: String,
    /// Extra addresses in no published prefix.
    pub not_aws: String,
    /// Per published service and region; an address may count under several.
    pub by_service: Vec<OwnerDto>,
}

/// Extra addresses of one service and region.
#[derive(Debug, Serialize)]
pub struct OwnerDto {
    /// The service as published.
    pub service: String,
    /// The region as published.
    pub region: String,
    /// Addresses, as a decimal string.
    pub addresses: String,
}

/// One family of a listing.
#[derive(Debug, Serialize)]
pub struct FamilyDto {
    /// `ipv4` or `ipv6`.
    pub family: &'static str,
    /// CIDRs in the exact aggregation.
    pub exact_count: usize,
    /// CIDRs after the merge.
    pub cidr_count: usize,
    /// Addresses admitted outside the selection, as a decimal string.
    pub extra_addresses: String,
    /// The CIDRs to allow.
    pub cidrs: Vec<String>,
}

/// `ranges lookup --format json`.
#[derive(Debug, Serialize)]
pub struct LookupReport {
    /// The JSON contract version (1).
    pub schema_version: u32,
    /// `syncToken` of the data used.
    pub sync_token: Option<String>,
    /// `createDate` of the data used.
    pub create_date: Option<String>,
    /// Where the data came from.
    pub source: SourceDto,
    /// One per address looked up.
    pub results: Vec<LookupResultDto>,
}

/// One address (or CIDR) looked up.
#[derive(Debug, Serialize)]
pub struct LookupResultDto {
    /// The query as given.
    pub query: String,
    /// The address or CIDR looked up; `null` when a hostname did not resolve.
    pub address: Option<String>,
    /// Entries containing it, longest prefix first.
    pub matches: Vec<MatchDto>,
    /// Why a hostname has no address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One published entry.
#[derive(Debug, Serialize)]
pub struct MatchDto {
    /// The published CIDR.
    pub prefix: String,
    /// The service as published.
    pub service: String,
    /// The region as published.
    pub region: String,
    /// The border group; `null` in files published before 2020.
    pub network_border_group: Option<String>,
}

/// `ranges update --format json`.
#[derive(Debug, Serialize)]
pub struct UpdateReport {
    /// The JSON contract version (1).
    pub schema_version: u32,
    /// `syncToken` of the data used.
    pub sync_token: Option<String>,
    /// `createDate` of the data used.
    pub create_date: Option<String>,
    /// The file.
    pub path: String,
    /// True when the server said the cached copy is current.
    pub not_modified: bool,
    /// `syncToken` of the cached copy before the update.
    pub old_sync_token: Option<String>,
    /// `syncToken` of the cached copy now.
    pub new_sync_token: Option<String>,
    /// What the file lacks compared with the current format.
    pub lacks: Vec<String>,
    /// Entries skipped while loading.
    pub warnings: Vec<String>,
}

/// `ranges diff --format json`.
#[derive(Debug, Serialize)]
pub struct DiffReport {
    /// The JSON contract version (1).
    pub schema_version: u32,
    /// The older file.
    pub old: FileDto,
    /// The newer file.
    pub new: FileDto,
    /// Prefixes added, all groups.
    pub added_count: usize,
    /// Prefixes removed, all groups.
    pub removed_count: usize,
    /// Per service and region, only those that changed.
    pub changes: Vec<ChangeDto>,
}

/// One file of a diff.
#[derive(Debug, Serialize)]
pub struct FileDto {
    /// The file.
    pub path: String,
    /// `syncToken` of the data used.
    pub sync_token: Option<String>,
    /// `createDate` of the data used.
    pub create_date: Option<String>,
}

/// The changes of one service in one region.
#[derive(Debug, Serialize)]
pub struct ChangeDto {
    /// The service as published.
    pub service: String,
    /// The region as published.
    pub region: String,
    /// Prefixes only in the newer file.
    pub added: Vec<String>,
    /// Prefixes only in the older file.
    pub removed: Vec<String>,
}

/// `ranges info --format json`.
#[derive(Debug, Serialize)]
pub struct InfoReport {
    /// The JSON contract version (1).
    pub schema_version: u32,
    /// `syncToken` of the data used.
    pub sync_token: Option<String>,
    /// `createDate` of the data used.
    pub create_date: Option<String>,
    /// Where the data came from.
    pub source: SourceDto,
    /// Seconds since `createDate`.
    pub age_seconds: Option<i64>,
    /// True when the data is older than a week.
    pub stale: bool,
    /// IPv4 entries.
    pub ipv4_prefixes: usize,
    /// IPv6 entries.
    pub ipv6_prefixes: usize,
    /// Services kept, or in the file.
    pub services: Vec<String>,
    /// What the file lacks compared with the current format.
    pub lacks: Vec<String>,
    /// Entries skipped while loading.
    pub warnings: Vec<String>,
    /// Sources tried that failed.
    pub problems: Vec<String>,
}

/// Serialises a report as pretty JSON with a final newline.
pub fn to_json(report: &impl Serialize) -> anyhow::Result<String> {
    let mut text = serde_json::to_string_pretty(report)?;
    text.push('\n');
    Ok(text)
}

/// `syncToken X, createDate Y` for headers and comments.
pub fn provenance(ranges: &IpRanges) -> String {
    format!(
        "ip-ranges.json syncToken {}, createDate {}",
        ranges.sync_token.as_deref().unwrap_or("(none)"),
        ranges.create_date.as_deref().unwrap_or("(none)")
    )
}

/// An age in the two largest units: `8 days 3 hours`, `5 minutes 2 seconds`.
pub fn human_age(seconds: i64) -> String {
    let units = [
        ("day", 86_400),
        ("hour", 3_600),
        ("minute", 60),
        ("second", 1),
    ];
    let mut parts = Vec::new();
    let mut rest = seconds.max(0);
    for (name, size) in units {
        let count = rest / size;
        rest %= size;
        if count > 0 || (!parts.is_empty()) {
            let plural = if count == 1 { "" } else { "s" };
            parts.push(format!("{count} {name}{plural}"));
        }
        if parts.len() == 2 {
            break;
        }
    }
    if parts.is_empty() {
        "0 seconds".to_string()
    } else {
        parts.join(" ")
    }
}

/// Rows as left-aligned columns separated by two spaces, trailing blanks trimmed.
pub fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(&widths) {
            line.push_str(&format!("{cell:<width$}  "));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_in_two_units() {
        assert_eq!(human_age(0), "0 seconds");
        assert_eq!(human_age(61), "1 minute 1 second");
        assert_eq!(human_age(8 * 86_400 + 3 * 3_600 + 5), "8 days 3 hours");
        assert_eq!(human_age(86_400 + 59), "1 day 0 hours");
    }

    #[test]
    fn tables_align_columns() {
        let rows = vec![
            vec!["PREFIX".to_string(), "SERVICE".to_string()],
            vec!["3.5.0.0/19".to_string(), "S3".to_string()],
        ];
        assert_eq!(table(&rows), "PREFIX      SERVICE\n3.5.0.0/19  S3\n");
    }
}
