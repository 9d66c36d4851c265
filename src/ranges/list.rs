//! The listing behind `ranges list`: the selected prefixes of each family exactly aggregated,
//! merged into a budget when one is set, and what the merge lets in besides.

use std::collections::BTreeMap;

use crate::aws::ipranges::IpRanges;
use crate::ranges::aggregate::{self, Block, Interval};
use crate::ranges::select::{Families, Selection};
use crate::ranges::{budget, format, rules};

/// The listing of one address family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyListing {
    /// 32 for IPv4, 128 for IPv6.
    pub bits: u8,
    /// The exact aggregation of the selected prefixes.
    pub exact: Vec<Block>,
    /// The CIDRs to write rules for: the exact list, or its merge into the budget.
    pub cidrs: Vec<Block>,
    /// Addresses the CIDRs admit that are not in the selection.
    pub extra: u128,
    /// Who those extra addresses belong to.
    pub owners: Owners,
}

impl FamilyListing {
    /// `ipv4` or `ipv6`.
    pub fn name(&self) -> &'static str {
        if self.bits == 32 { "ipv4" } else { "ipv6" }
    }
}

/// The owners of the extra addresses of a merge.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Owners {
    /// Extra addresses inside some published prefix (another service, region or group).
    pub aws: u128,
    /// Extra addresses in no published prefix: not AWS's, as far as ip-ranges says.
    pub not_aws: u128,
    /// Extra addresses per published service and region, most first; an address can count
    /// under several (an `EC2` prefix is also in an `AMAZON` one).
    pub by_service: Vec<(String, String, u128)>,
}

/// Lists the selection family by family; with `max_cidrs`, merges each family into at most that
/// many CIDRs with the least extra space. Families with nothing selected are left out.
pub fn compute(
    ranges: &IpRanges,
    selection: &Selection,
    max_cidrs: Option<usize>,
) -> Vec<FamilyListing> {
    let mut listings = Vec::new();
    for &bits in selection.families.widths() {
        let in_family = |prefix: &ipnet::IpNet| (prefix.addr().is_ipv4()) == (bits == 32);
        let selected = ranges
            .entries
            .iter()
            .filter(|entry| in_family(&entry.prefix) && selection.keeps(entry))
            .map(|entry| Block::of(&entry.prefix));
        let exact = aggregate::aggregate(bits, selected);
        if exact.is_empty() {
            continue;
        }

        let merged = match max_cidrs {
            Some(max) => budget::merge(bits, &exact, max).unwrap_or_else(|| budget::Merged {
                blocks: exact.clone(),
                extra: 0,
            }),
            None => budget::Merged {
                blocks: exact.clone(),
                extra: 0,
            },
        };
        let owners = if merged.extra == 0 {
            Owners::default()
        } else {
            owners(ranges, bits, &exact, &merged.blocks)
        };
        listings.push(FamilyListing {
            bits,
            exact,
            cidrs: merged.blocks,
            extra: merged.extra,
            owners,
        });
    }
    listings
}

/// Splits the extra space of a merge between published owners and the rest.
fn owners(ranges: &IpRanges, bits: u8, exact: &[Block], cover: &[Block]) -> Owners {
    let extra: Vec<Interval> = aggregate::subtract(
        &aggregate::intervals_of(bits, cover.iter().copied()),
        &aggregate::intervals_of(bits, exact.iter().copied()),
    );

    let mut groups: BTreeMap<(&str, &str), Vec<Block>> = BTreeMap::new();
    let mut everything = Vec::new();
    for entry in &ranges.entries {
        if entry.prefix.addr().is_ipv4() != (bits == 32) {
            continue;
        }
        let block = Block::of(&entry.prefix);
        everything.push(block);
        groups
            .entry((entry.service.as_str(), entry.region.as_str()))
            .or_default()
            .push(block);
    }

    let aws = aggregate::overlap(&extra, &aggregate::intervals_of(bits, everything));
    let mut by_service: Vec<(String, String, u128)> = groups
        .into_iter()
        .filter_map(|((service, region), blocks)| {
            let shared = aggregate::overlap(&extra, &aggregate::intervals_of(bits, blocks));
            (shared > 0).then(|| (service.to_string(), region.to_string(), shared))
        })
        .collect();
    by_service.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| (&a.0, &a.1).cmp(&(&b.0, &b.1))));
    Owners {
        aws,
        not_aws: aggregate::total(&extra) - aws,
        by_service,
    }
}

/// The exact sum of two address counts as a decimal string (IPv4 plus IPv6 can pass 2^128).
pub fn decimal_sum(counts: &[u128]) -> String {
    let mut carry = 0u32;
    let mut low = 0u128;
    for &count in counts {
        let (sum, overflow) = low.overflowing_add(count);
        low = sum;
        carry += u32::from(overflow);
    }
    if carry == 0 {
        return low.to_string();
    }
    // carry * 2^128 + low, in decimal by schoolbook addition of digit strings.
    let mut total = low.to_string();
    for _ in 0..carry {
        total = add_decimal(&total, "340282366920938463463374607431768211456");
    }
    total
}

fn add_decimal(a: &str, b: &str) -> String {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut digits = Vec::new();
    let mut carry = 0;
    for i in 0..a.len().max(b.len()) {
        let da = a.len().checked_sub(i + 1).map_or(0, |j| a[j] - b'0');
        let db = b.len().checked_sub(i + 1).map_or(0, |j| b[j] - b'0');
        let sum = da + db + carry;
        digits.push(b'0' + sum % 10);
        carry = sum / 10;
    }
    if carry > 0 {
        digits.push(b'0' + carry);
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{"syncToken":"1","createDate":"2026-08-22-15-17-05","prefixes":[
      {"ip_prefix":"10.0.0.0/24","region":"r1","service":"S3","network_border_group":"r1"},
      {"ip_prefix":"10.0.1.0/24","region":"r1","service":"S3","network_border_group":"r1"},
      {"ip_prefix":"10.0.3.0/24","region":"r1","service":"S3","network_border_group":"r1"},
      {"ip_prefix":"10.0.0.0/22","region":"r1","service":"AMAZON","network_border_group":"r1"},
      {"ip_prefix":"10.0.2.0/25","region":"r2","service":"EC2","network_border_group":"r2"},
      {"ip_prefix":"10.0.8.0/24","region":"r1","service":"S3","network_border_group":"r1"}],
      "ipv6_prefixes":[]}"#;

    fn s3() -> Selection {
        Selection {
            services: vec!["S3".into()],
            regions: vec![],
            border_groups: vec![],
            families: Families::Both,
        }
    }

    #[test]
    fn exact_listing_merges_adjacent_prefixes_and_skips_empty_families() {
        let ranges = IpRanges::parse(DOC.as_bytes()).unwrap();
        let listing = compute(&ranges, &s3(), None);
        assert_eq!(listing.len(), 1);
        let text: Vec<String> = listing[0]
            .exact
            .iter()
            .map(|b| b.to_net(32).to_string())
            .collect();
        assert_eq!(text, ["10.0.0.0/23", "10.0.3.0/24", "10.0.8.0/24"]);
        assert_eq!(listing[0].extra, 0);
    }

    #[test]
    fn merged_extra_space_is_split_between_owners() {
        let ranges = IpRanges::parse(DOC.as_bytes()).unwrap();
        let listing = &compute(&ranges, &s3(), Some(2))[0];
        let text: Vec<String> = listing
            .cidrs
            .iter()
            .map(|b| b.to_net(32).to_string())
            .collect();
        assert_eq!(text, ["10.0.0.0/22", "10.0.8.0/24"]);
        assert_eq!(listing.extra, 256);
        assert_eq!(listing.owners.aws, 256);
        assert_eq!(listing.owners.not_aws, 0);
        assert_eq!(
            listing.owners.by_service,
            [
                ("AMAZON".into(), "r1".into(), 256),
                ("EC2".into(), "r2".into(), 128)
            ]
        );

        let one = &compute(&ranges, &s3(), Some(1))[0];
        assert_eq!(one.cidrs[0].to_net(32).to_string(), "10.0.0.0/20");
        assert_eq!(one.extra, 4096 - 4 * 256);
        assert_eq!(one.owners.not_aws, 4096 - 5 * 256);
    }

    #[test]
    fn decimal_sums_past_2_to_the_128() {
        assert_eq!(decimal_sum(&[1, 2]), "3");
        assert_eq!(
            decimal_sum(&[u128::MAX, 1]),
            "340282366920938463463374607431768211456"
        );
        assert_eq!(
            decimal_sum(&[u128::MAX, u128::MAX, 2]),
            "680564733841876926926749214863536422912"
        );
    }
}

/// Arguments of `ranges list`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("family").args(["ipv4", "ipv6"])))]
#[command(group(clap::ArgGroup::new("where").args(["region", "instance_region"])))]
#[command(group(clap::ArgGroup::new("limit").args(["max_rules", "nacl"])))]
pub struct Args {
    /// Services to keep (as published: S3, AMAZON, EC2, ...); repeat or separate with commas.
    #[arg(long, value_delimiter = ',', value_name = "SERVICE")]
    pub service: Vec<String>,

    /// Regions to keep (us-east-1, GLOBAL, ...); repeat or separate with commas.
    #[arg(long, value_delimiter = ',', value_name = "REGION")]
    pub region: Vec<String>,

    /// Keep the region this instance runs in (asks IMDSv2).
    #[arg(long)]
    pub instance_region: bool,

    /// Network border groups to keep (us-east-1-bos-1, ...); repeat or separate with commas.
    #[arg(long, value_delimiter = ',', value_name = "GROUP")]
    pub border_group: Vec<String>,

    /// IPv4 only.
    #[arg(long)]
    pub ipv4: bool,

    /// IPv6 only.
    #[arg(long)]
    pub ipv6: bool,

    /// Fit into at most N rules per direction per address family, merging with the least extra
    /// address space.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_rules: Option<u32>,

    /// Fit into a network ACL: the NACL quota per direction per family, less --reserve.
    #[arg(long)]
    pub nacl: bool,

    /// NACL rules per direction per family kept for other uses (with --nacl).
    #[arg(long, value_name = "K", default_value_t = 0, requires = "nacl")]
    pub reserve: u32,

    /// Rules per NACL direction per family (20; 40 after a quota increase).
    #[arg(long, value_name = "N", default_value_t = 20, requires = "nacl")]
    pub nacl_quota: u32,

    /// TCP ports the rules open: `443`, `80,443`, `8000-8100`; each range is one rule per CIDR.
    #[arg(long, value_name = "PORTS", default_value = "443")]
    pub ports: rules::Ports,

    /// Output format.
    #[arg(long, value_enum, default_value_t = format::ListFormat::Plain)]
    pub format: format::ListFormat,

    /// Which rules terraform and cloudformation describe.
    #[arg(long, value_enum, default_value_t = format::RulesFor::Nacl)]
    pub rules_for: format::RulesFor,

    /// Inbound ports of the return traffic in NACL rules.
    #[arg(long, value_name = "FROM-TO", default_value = "1024-65535")]
    pub ephemeral: rules::PortRange,

    /// First NACL rule number in each direction.
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(rules::MAX_RULE_NUMBER)))]
    pub first_rule: u32,

    /// Gap between NACL rule numbers.
    #[arg(long, value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(rules::MAX_RULE_NUMBER)))]
    pub rule_step: u32,

    /// Network ACL id written into nacl-json, terraform and cloudformation output.
    #[arg(long, value_name = "ID", default_value = "acl-REPLACE-ME")]
    pub nacl_id: String,

    /// Security group id written into sg output.
    #[arg(long, value_name = "ID", default_value = "sg-REPLACE-ME")]
    pub security_group_id: String,
}

/// Runs `ranges list`.
pub async fn run(
    source: &crate::ranges::SourceArgs,
    args: Args,
) -> anyhow::Result<crate::exit::Status> {
    let rules_per_direction = rule_budget(&args)?;
    let mut regions = args.region.clone();
    if args.instance_region {
        regions = vec![instance_region().await?];
    }

    let (loaded, ranges) = crate::ranges::load(source).await?;
    let families = match (args.ipv4, args.ipv6) {
        (true, _) => Families::Ipv4,
        (_, true) => Families::Ipv6,
        _ => Families::Both,
    };
    let selection = Selection {
        services: args.service.clone(),
        regions,
        border_groups: args.border_group.clone(),
        families,
    }
    .resolve(&ranges)?;

    let max_cidrs = rules_per_direction.map(|rules| rules::cidrs_within(rules, &args.ports));
    let listings = compute(&ranges, &selection, max_cidrs);
    if listings.is_empty() {
        return Err(crate::exit::UsageError::new(format!(
            "no published prefix matches {} in {}",
            selection.describe(),
            crate::ranges::report::provenance(&ranges)
        )));
    }

    let budget = rules_per_direction.map(|rules| format::Budget {
        rules_per_direction: rules,
        cidrs_per_family: max_cidrs.unwrap_or(0),
    });
    let rendering = format::Rendering {
        ranges: &ranges,
        loaded: &loaded,
        selection: &selection,
        instance_region: args.instance_region,
        listings: &listings,
        budget,
        args: &args,
    };
    let text = format::render(&rendering)?;
    crate::output::print(&text)?;
    Ok(crate::exit::Status::Clean)
}

/// The instance's region from IMDSv2; its absence is an error suggesting `--region`.
async fn instance_region() -> anyhow::Result<String> {
    let config = crate::host::imds::ImdsConfig::from_env(None);
    let report = crate::host::imds::query(&config).await;
    match report.facts.region {
        Some(region) => Ok(region),
        None => anyhow::bail!(
            "cannot read this instance's region from IMDS at {} ({}{}); pass --region",
            report.endpoint,
            report.state.as_str(),
            report
                .problems
                .iter()
                .map(|problem| format!(": {problem}"))
                .collect::<String>()
        ),
    }
}

/// Rules per direction per family: `--max-rules`, or the NACL quota less the reserve.
fn rule_budget(args: &Args) -> anyhow::Result<Option<usize>> {
    let rules = if args.nacl {
        if args.reserve >= args.nacl_quota {
            return Err(crate::exit::UsageError::new(format!(
                "--reserve {} leaves none of the {} NACL rules per direction",
                args.reserve, args.nacl_quota
            )));
        }
        Some((args.nacl_quota - args.reserve) as usize)
    } else {
        args.max_rules.map(|rules| rules as usize)
    };
    if let Some(rules) = rules
        && rules::cidrs_within(rules, &args.ports) == 0
    {
        return Err(crate::exit::UsageError::new(format!(
            "{rules} rules per direction cannot hold one CIDR opening {} port ranges ({})",
            args.ports.0.len(),
            args.ports
        )));
    }
    Ok(rules)
}
