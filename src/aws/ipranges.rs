//! AWS's published address ranges (`ip-ranges.json`): loading, validation, provenance and an
//! index answering "which entries contain this address", longest prefix first.
//!
//! The index flattens the (laminar) family of CIDRs into disjoint segments, each holding the
//! entries that contain it, so a lookup is one binary search whatever the file's size.

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::Path;

use anyhow::Context;
use ipnet::IpNet;
use serde::Deserialize;

/// The largest file accepted; the real one is under 3 MB.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// How many skipped entries are described one by one in warnings.
const WARNINGS_SHOWN: usize = 5;

/// One published prefix with its service, region and network border group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The published CIDR.
    pub prefix: IpNet,
    /// The service name as published (`AMAZON`, `S3`, `EC2`, ...).
    pub service: String,
    /// The region as published; `GLOBAL` for anycast and edge ranges.
    pub region: String,
    /// The network border group, absent in files published before 2020.
    pub network_border_group: Option<String>,
}

/// A loaded and indexed ip-ranges file.
#[derive(Debug, Clone)]
pub struct IpRanges {
    /// `syncToken` as written in the file (a string of digits).
    pub sync_token: Option<String>,
    /// `createDate` as written in the file (`YYYY-MM-DD-hh-mm-ss`, UTC).
    pub create_date: Option<String>,
    /// Every accepted entry, IPv4 first, in file order.
    pub entries: Vec<Entry>,
    /// What the file lacks compared with the current format, for the report.
    pub lacks: Vec<String>,
    /// Entries skipped or repaired while loading, one line each (the first few only).
    pub warnings: Vec<String>,
    v4: Segments,
    v6: Segments,
}

#[derive(Deserialize)]
struct RawFile {
    #[serde(rename = "syncToken")]
    sync_token: Option<String>,
    #[serde(rename = "createDate")]
    create_date: Option<String>,
    prefixes: Option<Vec<RawEntry>>,
    ipv6_prefixes: Option<Vec<RawEntry>>,
}

#[derive(Deserialize)]
struct RawEntry {
    ip_prefix: Option<String>,
    ipv6_prefix: Option<String>,
    region: Option<String>,
    service: Option<String>,
    network_border_group: Option<String>,
}

impl IpRanges {
    /// Reads and indexes a file; the error names the file and what is wrong with it.
    pub fn load(path: &Path) -> anyhow::Result<IpRanges> {
        let size = std::fs::metadata(path)
            .with_context(|| format!("reading {}", path.display()))?
            .len();
        if size > MAX_FILE_BYTES {
            anyhow::bail!(
                "{}: {size} bytes is larger than any ip-ranges file ({} MiB at most)",
                path.display(),
                MAX_FILE_BYTES / 1024 / 1024
            );
        }
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        IpRanges::parse(&bytes).with_context(|| format!("{}", path.display()))
    }

    /// Parses and indexes the bytes of an ip-ranges file.
    pub fn parse(bytes: &[u8]) -> anyhow::Result<IpRanges> {
        let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        if bytes.iter().all(u8::is_ascii_whitespace) {
            anyhow::bail!("empty file, not an ip-ranges document");
        }
        let raw: RawFile = serde_json::from_slice(bytes)
            .map_err(|err| anyhow::anyhow!("not an ip-ranges document: {err}"))?;
        let Some(v4_raw) = raw.prefixes else {
            anyhow::bail!("not an ip-ranges document: no `prefixes` list");
        };

        let mut lacks = Vec::new();
        if raw.sync_token.is_none() {
            lacks.push("syncToken".to_string());
        }
        if raw.create_date.is_none() {
            lacks.push("createDate".to_string());
        }
        let mut early_warnings = Vec::new();
        if let Some(date) = &raw.create_date
            && parse_create_date(date).is_none()
        {
            early_warnings.push(format!(
                "createDate {date:?} is not YYYY-MM-DD-hh-mm-ss: age unknown"
            ));
        }
        if raw.ipv6_prefixes.is_none() {
            lacks.push("ipv6_prefixes (no IPv6 attribution)".to_string());
        }

        let mut loader = Loader::default();
        for (index, entry) in v4_raw.into_iter().enumerate() {
            loader.accept(entry, Family::V4, index);
        }
        for (index, entry) in raw
            .ipv6_prefixes
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            loader.accept(entry, Family::V6, index);
        }
        if loader.entries.is_empty() {
            anyhow::bail!("no usable prefixes in the file");
        }

        if loader
            .entries
            .iter()
            .all(|e| e.network_border_group.is_none())
        {
            lacks.push("network_border_group".to_string());
        }
        if !loader.entries.iter().any(|e| e.service == "S3") {
            lacks.push("the S3 service (S3 addresses show only as AMAZON)".to_string());
        }
        let mut warnings = early_warnings;
        warnings.extend(loader.warnings);
        if loader.skipped > WARNINGS_SHOWN {
            warnings.push(format!(
                "{} more entries skipped",
                loader.skipped - WARNINGS_SHOWN
            ));
        }

        let entries = loader.entries;
        let v4 = Segments::build(&entries, |net| matches!(net, IpNet::V4(_)));
        let v6 = Segments::build(&entries, |net| matches!(net, IpNet::V6(_)));
        Ok(IpRanges {
            sync_token: raw.sync_token,
            create_date: raw.create_date,
            entries,
            lacks,
            warnings,
            v4,
            v6,
        })
    }

    /// Every entry whose prefix contains `addr`, longest prefix first.
    pub fn lookup(&self, addr: IpAddr) -> impl Iterator<Item = &Entry> + '_ {
        let (segments, key) = match addr {
            IpAddr::V4(v4) => (&self.v4, u128::from(u32::from(v4))),
            IpAddr::V6(v6) => (&self.v6, u128::from(v6)),
        };
        segments
            .containing(key)
            .iter()
            .map(|&index| &self.entries[index as usize])
    }

    /// Indices into `entries` of every entry whose prefix contains `addr`, longest first.
    pub fn containing_indices(&self, addr: IpAddr) -> &[u32] {
        match addr {
            IpAddr::V4(v4) => self.v4.containing(u128::from(u32::from(v4))),
            IpAddr::V6(v6) => self.v6.containing(u128::from(v6)),
        }
    }

    /// The attribution of an address: union of services, region and border group of the
    /// longest match. `None` when no published prefix contains it.
    pub fn attribute(&self, addr: IpAddr) -> Option<Attribution> {
        let mut matches = self.lookup(addr);
        let longest = matches.next()?;
        let mut services: Vec<String> = std::iter::once(longest)
            .chain(matches)
            .map(|entry| entry.service.clone())
            .collect();
        services.sort();
        services.dedup();
        Some(Attribution {
            services,
            prefix: longest.prefix,
            region: longest.region.clone(),
            network_border_group: longest.network_border_group.clone(),
        })
    }

    /// The creation time of the file, parsed from `createDate`.
    pub fn created_at(&self) -> Option<time::OffsetDateTime> {
        parse_create_date(self.create_date.as_deref()?)
    }

    /// The age of the file at `now`, in whole seconds (never negative).
    pub fn age_seconds(&self, now: time::OffsetDateTime) -> Option<i64> {
        self.created_at()
            .map(|created| (now - created).whole_seconds().max(0))
    }
}

/// Parses `createDate` (`YYYY-MM-DD-hh-mm-ss`, UTC).
fn parse_create_date(text: &str) -> Option<time::OffsetDateTime> {
    let format = time::macros::format_description!("[year]-[month]-[day]-[hour]-[minute]-[second]");
    time::PrimitiveDateTime::parse(text, &format)
        .ok()
        .map(time::PrimitiveDateTime::assume_utc)
}

/// What ip-ranges says about one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribution {
    /// The de-duplicated, sorted union of services of every matching entry.
    pub services: Vec<String>,
    /// The longest matching prefix.
    pub prefix: IpNet,
    /// The region of the longest match.
    pub region: String,
    /// The network border group of the longest match.
    pub network_border_group: Option<String>,
}

impl Attribution {
    /// True when the address is published as an S3 address.
    pub fn is_s3(&self) -> bool {
        self.services.iter().any(|service| service == "S3")
    }
}

#[derive(Clone, Copy)]
enum Family {
    V4,
    V6,
}

#[derive(Default)]
struct Loader {
    entries: Vec<Entry>,
    seen: HashSet<(IpNet, String, String, Option<String>)>,
    warnings: Vec<String>,
    skipped: usize,
}

impl Loader {
    fn accept(&mut self, raw: RawEntry, family: Family, index: usize) {
        let (list, text) = match family {
            Family::V4 => ("prefixes", raw.ip_prefix),
            Family::V6 => ("ipv6_prefixes", raw.ipv6_prefix),
        };
        let place = format!("{list}[{index}]");
        let Some(text) = text else {
            return self.skip(format!("{place}: no prefix, skipped"));
        };
        let prefix: IpNet = match text.parse() {
            Ok(prefix) => prefix,
            Err(_) => return self.skip(format!("{place}: `{text}` is not a CIDR, skipped")),
        };
        let family_ok = matches!(
            (family, prefix),
            (Family::V4, IpNet::V4(_)) | (Family::V6, IpNet::V6(_))
        );
        if !family_ok {
            return self.skip(format!("{place}: `{text}` is in the wrong list, skipped"));
        }
        if prefix.trunc() != prefix {
            return self.skip(format!("{place}: `{text}` has host bits set, skipped"));
        }
        let (Some(service), Some(region)) = (raw.service, raw.region) else {
            return self.skip(format!(
                "{place}: `{text}` lacks service or region, skipped"
            ));
        };

        let key = (prefix, service, region, raw.network_border_group);
        if !self.seen.insert(key.clone()) {
            return self.skip(format!("{place}: `{text}` duplicates an earlier entry"));
        }
        let (prefix, service, region, network_border_group) = key;
        self.entries.push(Entry {
            prefix,
            service,
            region,
            network_border_group,
        });
    }

    fn skip(&mut self, warning: String) {
        self.skipped += 1;
        if self.warnings.len() < WARNINGS_SHOWN {
            self.warnings.push(warning);
        }
    }
}

/// Disjoint address segments of one family, each with the entries containing it.
#[derive(Debug, Clone, Default)]
struct Segments {
    /// First address of each segment, ascending.
    starts: Vec<u128>,
    /// For segment `i`, `members[bounds[i]..bounds[i + 1]]` are its entries, longest first.
    bounds: Vec<u32>,
    members: Vec<u32>,
}

impl Segments {
    /// Sweeps the prefixes in address order keeping a stack of the open ones. CIDRs are either
    /// nested or disjoint, so the stack is always ordered from shortest to longest.
    fn build(entries: &[Entry], family: impl Fn(&IpNet) -> bool) -> Segments {
        let mut order: Vec<(u128, u128, u8, u32)> = entries
            .iter()
            .enumerate()
            .filter(|(_, entry)| family(&entry.prefix))
            .map(|(index, entry)| {
                let (first, last) = span(&entry.prefix);
                (first, last, entry.prefix.prefix_len(), index as u32)
            })
            .collect();
        order.sort_unstable_by_key(|&(first, _, len, index)| (first, len, index));

        let mut segments = Segments {
            bounds: vec![0],
            ..Segments::default()
        };
        let mut open: Vec<(u128, u32)> = Vec::new();
        let mut next = order.iter().peekable();
        let mut cursor: Option<u128> = None;

        loop {
            let next_start = next.peek().map(|&&(first, ..)| first);
            let top_end = open.last().map(|&(last, _)| last);
            let close_first = match (top_end, next_start) {
                (Some(end), Some(start)) => end < start,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if let (true, Some(end)) = (close_first, top_end) {
                while open.last().is_some_and(|&(last, _)| last == end) {
                    open.pop();
                }
                if let Some(boundary) = end.checked_add(1) {
                    cursor = Some(boundary);
                    segments.push(boundary, &open);
                }
            } else if let Some(start) = next_start {
                while let Some(&&(first, last, _, index)) = next.peek() {
                    if first != start {
                        break;
                    }
                    open.push((last, index));
                    next.next();
                }
                if cursor == Some(start) {
                    segments.replace_last(&open);
                } else {
                    segments.push(start, &open);
                }
                cursor = Some(start);
            } else {
                break;
            }
        }
        segments
    }

    fn push(&mut self, start: u128, open: &[(u128, u32)]) {
        self.starts.push(start);
        self.members
            .extend(open.iter().rev().map(|&(_, index)| index));
        self.bounds.push(self.members.len() as u32);
    }

    fn replace_last(&mut self, open: &[(u128, u32)]) {
        self.bounds.pop();
        let from = *self.bounds.last().unwrap_or(&0) as usize;
        self.members.truncate(from);
        self.members
            .extend(open.iter().rev().map(|&(_, index)| index));
        self.bounds.push(self.members.len() as u32);
    }

    fn containing(&self, key: u128) -> &[u32] {
        let position = self.starts.partition_point(|&start| start <= key);
        if position == 0 {
            return &[];
        }
        let segment = position - 1;
        &self.members[self.bounds[segment] as usize..self.bounds[segment + 1] as usize]
    }
}

/// The first and last address of a prefix as integers of its family.
fn span(net: &IpNet) -> (u128, u128) {
    match net {
        IpNet::V4(v4) => (
            u128::from(u32::from(v4.network())),
            u128::from(u32::from(v4.broadcast())),
        ),
        IpNet::V6(v6) => (u128::from(v6.network()), u128::from(v6.broadcast())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"{
      "syncToken": "1764504000", "createDate": "2026-11-30-12-00-00",
      "prefixes": [
        {"ip_prefix": "203.0.113.0/26", "region": "us-west-2", "service": "AMAZON",
         "network_border_group": "us-west-2"},
        {"ip_prefix": "203.0.113.0/27", "region": "us-west-2", "service": "S3",
         "network_border_group": "us-west-2"},
        {"ip_prefix": "203.0.113.64/26", "region": "us-east-1", "service": "AMAZON",
         "network_border_group": "us-east-1"},
        {"ip_prefix": "203.0.113.64/26", "region": "us-east-1", "service": "S3",
         "network_border_group": "us-east-1"},
        {"ip_prefix": "192.0.2.0/24", "region": "GLOBAL", "service": "CLOUDFRONT",
         "network_border_group": "GLOBAL"}
      ],
      "ipv6_prefixes": [
        {"ipv6_prefix": "2001:db8:a::/48", "region": "us-west-2", "service": "S3",
         "network_border_group": "us-west-2"}
      ]
    }"#;

    fn ranges() -> IpRanges {
        IpRanges::parse(SMALL.as_bytes()).unwrap()
    }

    fn services(ranges: &IpRanges, addr: &str) -> Vec<String> {
        ranges
            .lookup(addr.parse().unwrap())
            .map(|entry| format!("{} {}", entry.prefix, entry.service))
            .collect()
    }

    #[test]
    fn nested_s3_prefix_comes_before_the_shorter_amazon_one() {
        let ranges = ranges();
        assert_eq!(
            services(&ranges, "203.0.113.10"),
            ["203.0.113.0/27 S3", "203.0.113.0/26 AMAZON"]
        );
        assert_eq!(services(&ranges, "203.0.113.40"), ["203.0.113.0/26 AMAZON"]);
        let indices = ranges.containing_indices("203.0.113.10".parse().unwrap());
        let by_index: Vec<&str> = indices
            .iter()
            .map(|&index| ranges.entries[index as usize].service.as_str())
            .collect();
        assert_eq!(by_index, ["S3", "AMAZON"]);
        let attribution = ranges.attribute("203.0.113.10".parse().unwrap()).unwrap();
        assert_eq!(attribution.services, ["AMAZON", "S3"]);
        assert_eq!(attribution.region, "us-west-2");
    }

    #[test]
    fn same_prefix_in_two_services_is_one_attribution() {
        let attribution = ranges()
            .attribute("203.0.113.127".parse().unwrap())
            .unwrap();
        assert_eq!(attribution.services, ["AMAZON", "S3"]);
        assert_eq!(attribution.region, "us-east-1");
        assert_eq!(attribution.prefix.to_string(), "203.0.113.64/26");
    }

    #[test]
    fn addresses_outside_every_prefix_have_no_match() {
        let ranges = ranges();
        assert!(ranges.attribute("203.0.113.128".parse().unwrap()).is_none());
        assert!(ranges.attribute("198.51.100.10".parse().unwrap()).is_none());
        assert!(ranges.attribute("0.0.0.0".parse().unwrap()).is_none());
        assert!(
            ranges
                .attribute("255.255.255.255".parse().unwrap())
                .is_none()
        );
        assert!(ranges.attribute("2001:db8:b::1".parse().unwrap()).is_none());
    }

    #[test]
    fn ipv6_lookup_and_global_region() {
        let ranges = ranges();
        let v6 = ranges.attribute("2001:db8:a::10".parse().unwrap()).unwrap();
        assert_eq!(
            (v6.services, v6.region.as_str()),
            (vec!["S3".to_string()], "us-west-2")
        );
        let cf = ranges.attribute("192.0.2.10".parse().unwrap()).unwrap();
        assert_eq!(cf.region, "GLOBAL");
    }

    #[test]
    fn provenance_and_age() {
        let ranges = ranges();
        assert_eq!(ranges.sync_token.as_deref(), Some("1764504000"));
        let now = time::macros::datetime!(2026-12-01 12:00:00 UTC);
        assert_eq!(ranges.age_seconds(now), Some(86_400));
        assert!(ranges.lacks.is_empty(), "{:?}", ranges.lacks);
    }

    #[test]
    fn byte_order_mark_and_bad_create_date_are_tolerated() {
        let text = format!(
            "\u{feff}{}",
            SMALL.replace("2026-11-30-12-00-00", "yesterday")
        );
        let ranges = IpRanges::parse(text.as_bytes()).unwrap();
        assert_eq!(ranges.age_seconds(time::OffsetDateTime::now_utc()), None);
        assert!(
            ranges.warnings[0].contains("\"yesterday\""),
            "{:?}",
            ranges.warnings
        );
    }

    #[test]
    fn old_format_says_what_it_lacks() {
        let old = r#"{"syncToken":"1458824536","createDate":"2016-03-24-13-22-16",
          "prefixes":[{"ip_prefix":"54.231.0.0/17","region":"us-east-1","service":"AMAZON"}]}"#;
        let ranges = IpRanges::parse(old.as_bytes()).unwrap();
        assert_eq!(ranges.lacks.len(), 3, "{:?}", ranges.lacks);
        assert!(ranges.lacks[0].starts_with("ipv6_prefixes"));
        assert_eq!(ranges.lacks[1], "network_border_group");
        assert!(ranges.lacks[2].contains("S3"));
        let hit = ranges.attribute("54.231.1.1".parse().unwrap()).unwrap();
        assert_eq!(hit.network_border_group, None);
    }

    #[test]
    fn bad_entries_are_skipped_with_a_warning_naming_them() {
        let text = r#"{"prefixes":[
          {"ip_prefix":"203.0.113.5/24","region":"r","service":"S3"},
          {"ip_prefix":"not-a-cidr","region":"r","service":"S3"},
          {"ip_prefix":"2001:db8::/32","region":"r","service":"S3"},
          {"ip_prefix":"198.51.100.0/24","region":"r","service":"S3"},
          {"ip_prefix":"198.51.100.0/24","region":"r","service":"S3"}]}"#;
        let ranges = IpRanges::parse(text.as_bytes()).unwrap();
        assert_eq!(ranges.entries.len(), 1);
        assert_eq!(ranges.warnings.len(), 4);
        assert!(
            ranges.warnings[0].contains("prefixes[0]") && ranges.warnings[0].contains("host bits")
        );
        assert!(ranges.warnings[1].contains("not-a-cidr"));
        assert!(ranges.warnings[3].contains("duplicates"));
    }

    #[test]
    fn malformed_files_are_clear_errors() {
        for (text, expected) in [
            ("", "empty file"),
            ("{\"prefixes\": [", "not an ip-ranges document"),
            ("[1,2]", "not an ip-ranges document"),
            ("{\"syncToken\": 5, \"prefixes\": []}", "invalid type"),
            ("{\"syncToken\": \"1\"}", "no `prefixes` list"),
            ("{\"prefixes\": []}", "no usable prefixes"),
        ] {
            let err = IpRanges::parse(text.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(expected), "{text:?} gave {err}");
        }
    }

    #[test]
    fn adjacent_and_sibling_prefixes_do_not_leak_into_each_other() {
        let text = r#"{"prefixes":[
          {"ip_prefix":"10.0.0.0/8","region":"a","service":"AMAZON"},
          {"ip_prefix":"10.1.0.0/16","region":"b","service":"S3"},
          {"ip_prefix":"10.2.0.0/16","region":"c","service":"S3"},
          {"ip_prefix":"10.2.0.0/24","region":"d","service":"EC2"},
          {"ip_prefix":"11.0.0.0/8","region":"e","service":"EC2"}]}"#;
        let ranges = IpRanges::parse(text.as_bytes()).unwrap();
        let region = |addr: &str| ranges.attribute(addr.parse().unwrap()).map(|a| a.region);
        assert_eq!(region("10.0.255.255").as_deref(), Some("a"));
        assert_eq!(region("10.1.2.3").as_deref(), Some("b"));
        assert_eq!(region("10.2.0.9").as_deref(), Some("d"));
        assert_eq!(region("10.2.1.0").as_deref(), Some("c"));
        assert_eq!(region("10.3.0.0").as_deref(), Some("a"));
        assert_eq!(region("11.255.255.255").as_deref(), Some("e"));
        assert_eq!(region("12.0.0.0"), None);
    }

    #[test]
    fn real_snapshot_loads_and_attributes_s3() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/data/ip-ranges/ip-ranges-2026-08-22.json");
        if !path.exists() {
            eprintln!("skipping: {} is absent", path.display());
            return;
        }
        let ranges = IpRanges::load(&path).unwrap();
        assert_eq!(ranges.sync_token.as_deref(), Some("1787411825"));
        assert_eq!(ranges.entries.len(), 10_668 + 6_160);
        assert!(ranges.warnings.is_empty(), "{:?}", ranges.warnings);
        assert!(ranges.lacks.is_empty());
        let s3_global = ranges.attribute("13.248.224.1".parse().unwrap()).unwrap();
        assert!(s3_global.is_s3());
        assert_eq!(s3_global.region, "GLOBAL");
        // Brute force over every entry agrees with the index for a spread of addresses.
        for probe in [
            "3.5.140.7",
            "52.216.0.1",
            "54.231.128.9",
            "35.180.1.1",
            "16.12.0.1",
        ] {
            let addr: IpAddr = probe.parse().unwrap();
            let mut brute: Vec<&Entry> = ranges
                .entries
                .iter()
                .filter(|e| e.prefix.contains(&addr))
                .collect();
            brute.sort_by_key(|e| std::cmp::Reverse(e.prefix.prefix_len()));
            let indexed: Vec<&Entry> = ranges.lookup(addr).collect();
            assert_eq!(indexed.len(), brute.len(), "{probe}");
            assert_eq!(
                ranges.containing_indices(addr).len(),
                brute.len(),
                "{probe}"
            );
            for (a, b) in indexed.iter().zip(&brute) {
                assert_eq!(a.prefix.prefix_len(), b.prefix.prefix_len(), "{probe}");
            }
        }
    }
}
