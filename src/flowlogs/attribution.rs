//! Attribution of addresses to AWS services and regions: ip-ranges entries grouped by the
//! services containing them and the region of the longest match, and which addresses are
//! private.

use std::net::IpAddr;

use rustc_hash::FxHashMap;

use crate::aws::ipranges::IpRanges;

/// ip-ranges grouped for attribution: each entry maps to a (service label, region) group.
#[derive(Debug)]
pub struct Attributor {
    ranges: IpRanges,
    entry_group: Vec<u32>,
    groups: Vec<Group>,
}

/// One attribution outcome shared by many prefixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The services other than `AMAZON` joined by `+`, or `AMAZON` alone.
    pub label: String,
    /// The region of the longest match.
    pub region: String,
    /// Every service of the prefixes containing the address.
    pub services: Vec<String>,
}

impl Attributor {
    /// Groups every entry of `ranges` by the services containing it and its region.
    pub fn new(ranges: IpRanges) -> Attributor {
        let mut groups: Vec<Group> = Vec::new();
        let mut index: FxHashMap<(String, String), u32> = FxHashMap::default();
        let mut entry_group = Vec::with_capacity(ranges.entries.len());

        for entry in &ranges.entries {
            let len = entry.prefix.prefix_len();
            let mut services: Vec<String> = ranges
                .lookup(entry.prefix.network())
                .filter(|outer| outer.prefix.prefix_len() <= len)
                .map(|outer| outer.service.clone())
                .collect();
            services.sort();
            services.dedup();
            let specific: Vec<&str> = services
                .iter()
                .map(String::as_str)
                .filter(|service| *service != "AMAZON")
                .collect();
            let label = if specific.is_empty() {
                "AMAZON".to_string()
            } else {
                specific.join("+")
            };

            let key = (label.clone(), entry.region.clone());
            let id = *index.entry(key).or_insert_with(|| {
                groups.push(Group {
                    label,
                    region: entry.region.clone(),
                    services,
                });
                groups.len() as u32 - 1
            });
            entry_group.push(id);
        }

        Attributor {
            ranges,
            entry_group,
            groups,
        }
    }

    /// The group of an address, `None` when AWS publishes no prefix containing it.
    #[inline]
    pub fn group(&self, addr: IpAddr) -> Option<u32> {
        let longest = *self.ranges.containing_indices(addr).first()?;
        Some(self.entry_group[longest as usize])
    }

    /// The groups, indexed by id.
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// The ip-ranges data behind the groups.
    pub fn ranges(&self) -> &IpRanges {
        &self.ranges
    }
}

/// True for addresses that never leave a private network: RFC 1918, shared (100.64/10),
/// loopback, link-local, unspecified; IPv6 unique-local, link-local, loopback.
#[inline]
pub fn is_private(addr: IpAddr) -> bool {
    match addr {
        // Prefix by prefix without a branch: private and public addresses come mixed.
        IpAddr::V4(v4) => {
            let addr = u32::from(v4);
            (addr >> 24 == 10)
                | (addr >> 20 == 0xac1)
                | (addr >> 16 == 0xc0a8)
                | (addr >> 24 == 127)
                | (addr >> 16 == 0xa9fe)
                | (addr == 0)
                | (addr == u32::MAX)
                | (addr >> 22 == 0x191)
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    /// A few prefixes, nested (S3 inside AMAZON) and side by side, for attribution tests.
    pub(crate) const RANGES: &str = r#"{"syncToken":"1","createDate":"2026-11-30-12-00-00","prefixes":[
      {"ip_prefix":"203.0.113.0/26","region":"us-west-2","service":"AMAZON"},
      {"ip_prefix":"203.0.113.0/27","region":"us-west-2","service":"S3"},
      {"ip_prefix":"198.51.100.0/25","region":"us-east-1","service":"AMAZON"},
      {"ip_prefix":"198.51.100.0/25","region":"us-east-1","service":"EC2"}],
      "ipv6_prefixes":[]}"#;

    #[test]
    fn groups_label_the_specific_service_with_the_longest_region() {
        let attributor = Attributor::new(IpRanges::parse(RANGES.as_bytes()).unwrap());
        let group = |addr: &str| {
            let id = attributor.group(addr.parse().unwrap()).unwrap();
            let group = &attributor.groups()[id as usize];
            format!("{} {} {:?}", group.label, group.region, group.services)
        };
        assert_eq!(group("203.0.113.5"), r#"S3 us-west-2 ["AMAZON", "S3"]"#);
        assert_eq!(group("203.0.113.40"), r#"AMAZON us-west-2 ["AMAZON"]"#);
        assert_eq!(group("198.51.100.1"), r#"EC2 us-east-1 ["AMAZON", "EC2"]"#);
        assert_eq!(attributor.group("8.8.8.8".parse().unwrap()), None);
    }

    #[test]
    fn private_space_includes_shared_and_unique_local() {
        for private in [
            "10.1.2.3",
            "172.31.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.169.254",
            "fd00::1",
            "fe80::1",
        ] {
            assert!(is_private(private.parse().unwrap()), "{private}");
        }
        for public in ["100.128.0.1", "52.95.128.179", "2001:db8::1", "172.32.0.1"] {
            assert!(!is_private(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn private_ipv4_prefixes_match_the_standard_library_at_every_edge() {
        let by_std = |v4: Ipv4Addr| {
            let [a, b, ..] = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || (a == 100 && (64..128).contains(&b))
        };
        let edges = (0..=255u32).flat_map(|a| {
            (0..=255u32).flat_map(move |b| {
                [0, 1, 0xfffe, 0xffff].map(|low| Ipv4Addr::from(a << 24 | b << 16 | low))
            })
        });
        for v4 in edges {
            assert_eq!(is_private(IpAddr::V4(v4)), by_std(v4), "{v4}");
        }
    }
}
