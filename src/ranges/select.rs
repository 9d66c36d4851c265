//! Which published entries a `ranges list` is about: service, region, border group and family
//! filters, checked against the names the file actually holds.

use serde::Serialize;
use std::collections::BTreeSet;

use crate::aws::ipranges::{Entry, IpRanges};
use crate::exit::UsageError;

/// The address families a selection keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Families {
    /// IPv4 only.
    Ipv4,
    /// IPv6 only.
    Ipv6,
    /// Both.
    Both,
}

impl Families {
    /// The widths in bits of the families kept, IPv4 first.
    pub fn widths(self) -> &'static [u8] {
        match self {
            Families::Ipv4 => &[32],
            Families::Ipv6 => &[128],
            Families::Both => &[32, 128],
        }
    }
}

/// The filters of a listing; an empty list keeps every value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Selection {
    /// Services as the file spells them (`S3`, `AMAZON`, ...).
    pub services: Vec<String>,
    /// Regions as the file spells them (`us-east-1`, `GLOBAL`, ...).
    pub regions: Vec<String>,
    /// Network border groups (`us-east-1`, `us-east-1-bos-1`, ...).
    pub border_groups: Vec<String>,
    /// The address families kept.
    pub families: Families,
}

impl Selection {
    /// Checks every name against the file and spells it as the file does (names are matched
    /// without regard to case); an unknown name is a usage error listing the known ones.
    pub fn resolve(mut self, ranges: &IpRanges) -> anyhow::Result<Selection> {
        let services: BTreeSet<&str> = ranges.entries.iter().map(|e| e.service.as_str()).collect();
        let regions: BTreeSet<&str> = ranges.entries.iter().map(|e| e.region.as_str()).collect();
        let groups: BTreeSet<&str> = ranges
            .entries
            .iter()
            .filter_map(|e| e.network_border_group.as_deref())
            .collect();

        if !self.border_groups.is_empty() && groups.is_empty() {
            return Err(UsageError::new(
                "this ip-ranges file has no network_border_group (published before 2020); \
                 drop --border-group or use a newer file",
            ));
        }
        if self.services.iter().any(|s| s.eq_ignore_ascii_case("S3")) && !services.contains("S3") {
            return Err(UsageError::new(
                "this ip-ranges file has no S3 service (S3 addresses show only as AMAZON); \
                 use --service AMAZON or a newer file",
            ));
        }
        self.services = canonical("service", &self.services, &services)?;
        self.regions = canonical("region", &self.regions, &regions)?;
        self.border_groups = canonical("border group", &self.border_groups, &groups)?;
        Ok(self)
    }

    /// True when the entry passes every filter (names already resolved).
    pub fn keeps(&self, entry: &Entry) -> bool {
        let family_ok = match self.families {
            Families::Ipv4 => entry.prefix.addr().is_ipv4(),
            Families::Ipv6 => entry.prefix.addr().is_ipv6(),
            Families::Both => true,
        };
        let group = entry.network_border_group.as_deref().unwrap_or_default();
        family_ok
            && (self.services.is_empty() || self.services.contains(&entry.service))
            && (self.regions.is_empty() || self.regions.contains(&entry.region))
            && (self.border_groups.is_empty() || self.border_groups.iter().any(|g| g == group))
    }

    /// A short description for headers and rule descriptions: `S3 us-east-1 IPv4`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        parts.push(if self.services.is_empty() {
            "all services".to_string()
        } else {
            self.services.join("+")
        });
        if !self.regions.is_empty() {
            parts.push(self.regions.join("+"));
        }
        if !self.border_groups.is_empty() {
            parts.push(format!("border group {}", self.border_groups.join("+")));
        }
        parts.push(
            match self.families {
                Families::Ipv4 => "IPv4",
                Families::Ipv6 => "IPv6",
                Families::Both => "IPv4+IPv6",
            }
            .to_string(),
        );
        parts.join(" ")
    }

    /// The one region the selection names, for the managed prefix list's name.
    pub fn single_region(&self) -> Option<&str> {
        match self.regions.as_slice() {
            [region] if region != "GLOBAL" => Some(region),
            _ => None,
        }
    }
}

/// Maps each wanted name to the file's spelling, or fails naming the known ones.
fn canonical(what: &str, wanted: &[String], known: &BTreeSet<&str>) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for name in wanted {
        let Some(found) = known.iter().find(|k| k.eq_ignore_ascii_case(name)) else {
            let list: Vec<&str> = known.iter().copied().take(40).collect();
            let more = if known.len() > 40 { ", ..." } else { "" };
            return Err(UsageError::new(format!(
                "unknown {what} `{name}` in this ip-ranges file (it has: {}{more})",
                list.join(", ")
            )));
        };
        if !out.iter().any(|o| o == found) {
            out.push(found.to_string());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges() -> IpRanges {
        IpRanges::parse(
            br#"{"syncToken":"1","createDate":"2026-08-22-15-17-05","prefixes":[
            {"ip_prefix":"3.5.0.0/19","region":"us-east-1","service":"S3","network_border_group":"us-east-1"},
            {"ip_prefix":"15.181.232.0/21","region":"us-east-1","service":"EC2","network_border_group":"us-east-1-bos-1"},
            {"ip_prefix":"13.248.224.0/24","region":"GLOBAL","service":"S3","network_border_group":"GLOBAL"}],
            "ipv6_prefixes":[{"ipv6_prefix":"2600:1f00::/40","region":"us-east-1","service":"S3","network_border_group":"us-east-1"}]}"#,
        )
        .unwrap()
    }

    fn selection(
        services: &[&str],
        regions: &[&str],
        groups: &[&str],
        families: Families,
    ) -> Selection {
        let own = |list: &[&str]| list.iter().map(|s| s.to_string()).collect();
        Selection {
            services: own(services),
            regions: own(regions),
            border_groups: own(groups),
            families,
        }
    }

    #[test]
    fn names_are_matched_without_case_and_spelled_as_the_file_does() {
        let ranges = ranges();
        let chosen = selection(&["s3"], &["global"], &[], Families::Both)
            .resolve(&ranges)
            .unwrap();
        assert_eq!(
            (chosen.services[0].as_str(), chosen.regions[0].as_str()),
            ("S3", "GLOBAL")
        );
        let kept: Vec<String> = ranges
            .entries
            .iter()
            .filter(|e| chosen.keeps(e))
            .map(|e| e.prefix.to_string())
            .collect();
        assert_eq!(kept, ["13.248.224.0/24"]);
        assert_eq!(chosen.describe(), "S3 GLOBAL IPv4+IPv6");
        assert_eq!(chosen.single_region(), None);
    }

    #[test]
    fn family_and_local_zone_border_group_filters() {
        let ranges = ranges();
        let v6 = selection(&["S3"], &["us-east-1"], &[], Families::Ipv6)
            .resolve(&ranges)
            .unwrap();
        let kept: Vec<_> = ranges.entries.iter().filter(|e| v6.keeps(e)).collect();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].prefix.to_string(), "2600:1f00::/40");
        let bos = selection(&[], &[], &["US-EAST-1-BOS-1"], Families::Both)
            .resolve(&ranges)
            .unwrap();
        let kept: Vec<_> = ranges.entries.iter().filter(|e| bos.keeps(e)).collect();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].service, "EC2");
    }

    #[test]
    fn unknown_names_and_missing_fields_are_usage_errors() {
        let ranges = ranges();
        let err = selection(&["S3"], &["us-est-1"], &[], Families::Both)
            .resolve(&ranges)
            .unwrap_err();
        assert_eq!(
            crate::exit::Status::of_error(&err),
            crate::exit::Status::Usage
        );
        assert_eq!(
            err.to_string(),
            "unknown region `us-est-1` in this ip-ranges file (it has: GLOBAL, us-east-1)"
        );
        let old = IpRanges::parse(
            br#"{"prefixes":[{"ip_prefix":"54.231.0.0/17","region":"us-east-1","service":"AMAZON"}]}"#,
        )
        .unwrap();
        let err = selection(&["S3"], &[], &[], Families::Both)
            .resolve(&old)
            .unwrap_err();
        assert!(err.to_string().contains("no S3 service"), "{err}");
        let err = selection(&[], &[], &["us-east-1"], Families::Both)
            .resolve(&old)
            .unwrap_err();
        assert!(err.to_string().contains("no network_border_group"), "{err}");
    }
}
