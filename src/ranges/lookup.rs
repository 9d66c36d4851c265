//! `ranges lookup`: every published entry containing an address or CIDR, longest prefix first;
//! hostnames are resolved first and each of their addresses is looked up.

use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;

use crate::aws::ipranges::IpRanges;
use crate::exit::{Status, UsageError};
use crate::ranges::report::{self, LookupReport, LookupResultDto, MatchDto, SourceDto};
use crate::ranges::{ReportFormat, SourceArgs};

/// Arguments of `ranges lookup`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Addresses, CIDRs or hostnames.
    #[arg(required = true, value_name = "ADDR|CIDR|HOST")]
    pub queries: Vec<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
}

/// What a query names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// One address.
    Address(IpAddr),
    /// A CIDR: entries containing all of it match.
    Cidr(IpNet),
    /// A name to resolve.
    Host(String),
}

/// Reads a query; a CIDR with host bits set is a usage error suggesting the network.
pub fn parse(text: &str) -> anyhow::Result<Query> {
    if let Ok(addr) = text.parse::<IpAddr>() {
        return Ok(Query::Address(addr));
    }
    if let Ok(net) = text.parse::<IpNet>() {
        if net.trunc() != net {
            return Err(UsageError::new(format!(
                "`{text}` has host bits set; did you mean {}?",
                net.trunc()
            )));
        }
        return Ok(Query::Cidr(net));
    }
    // Digits and dots only (or a colon) is an address that did not parse, not a hostname.
    let address_like = text.contains(':')
        || (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit() || b == b'.'));
    if text.contains('/') || text.is_empty() || address_like {
        return Err(UsageError::new(format!(
            "`{text}` is not an address, CIDR or hostname"
        )));
    }
    Ok(Query::Host(text.trim_end_matches('.').to_string()))
}

/// The entries containing all of `net`, longest prefix first.
pub fn matches(ranges: &IpRanges, net: IpNet) -> Vec<MatchDto> {
    ranges
        .lookup(net.network())
        .filter(|entry| entry.prefix.prefix_len() <= net.prefix_len())
        .map(|entry| MatchDto {
            prefix: entry.prefix.to_string(),
            service: entry.service.clone(),
            region: entry.region.clone(),
            network_border_group: entry.network_border_group.clone(),
        })
        .collect()
}

/// Runs `ranges lookup`.
pub async fn run(source: &SourceArgs, args: Args) -> anyhow::Result<Status> {
    let queries: Vec<(String, Query)> = args
        .queries
        .iter()
        .map(|text| parse(text).map(|query| (text.clone(), query)))
        .collect::<anyhow::Result<_>>()?;
    let (loaded, ranges) = crate::ranges::load(source).await?;

    let mut results = Vec::new();
    for (text, query) in queries {
        let targets = match query {
            Query::Address(addr) => vec![Ok(IpNet::from(addr))],
            Query::Cidr(net) => vec![Ok(net)],
            Query::Host(host) => resolve(&host, source.deadline()).await,
        };
        for target in targets {
            results.push(match target {
                Ok(net) => LookupResultDto {
                    query: text.clone(),
                    address: Some(shown(net)),
                    matches: matches(&ranges, net),
                    error: None,
                },
                Err(error) => LookupResultDto {
                    query: text.clone(),
                    address: None,
                    matches: Vec::new(),
                    error: Some(error),
                },
            });
        }
    }

    let text = match args.format {
        ReportFormat::Json => report::to_json(&LookupReport {
            schema_version: report::SCHEMA_VERSION,
            sync_token: ranges.sync_token.clone(),
            create_date: ranges.create_date.clone(),
            source: SourceDto::of(&loaded),
            results,
        })?,
        ReportFormat::Table => table(&ranges, &results),
    };
    crate::output::print(&text)?;
    Ok(Status::Clean)
}

/// An address without its `/32` or `/128`.
fn shown(net: IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

/// The host's addresses, or one error line saying why there are none.
async fn resolve(host: &str, deadline: Duration) -> Vec<Result<IpNet, String>> {
    let resolver = match hickory_resolver::TokioResolver::builder_tokio().and_then(|b| b.build()) {
        Ok(resolver) => resolver,
        Err(err) => return vec![Err(format!("cannot set up the resolver: {err}"))],
    };
    match tokio::time::timeout(deadline, resolver.lookup_ip(host)).await {
        Ok(Ok(answer)) => {
            let mut addrs: Vec<IpAddr> = answer.iter().collect();
            addrs.sort();
            addrs.dedup();
            addrs
                .into_iter()
                .map(|addr| Ok(IpNet::from(addr)))
                .collect()
        }
        Ok(Err(err)) if err.is_nx_domain() || err.is_no_records_found() => {
            vec![Err(format!("{host} does not resolve (no such name)"))]
        }
        Ok(Err(err)) => vec![Err(format!(
            "{host} does not resolve: {}",
            crate::host::imds::root_cause(&err)
        ))],
        Err(_) => vec![Err(format!(
            "{host}: no DNS answer within {:.1}s",
            deadline.as_secs_f64()
        ))],
    }
}

/// The human table: one line per match, the query and address only on its first line.
fn table(ranges: &IpRanges, results: &[LookupResultDto]) -> String {
    let mut rows = vec![
        [
            "QUERY",
            "ADDRESS",
            "PREFIX",
            "SERVICE",
            "REGION",
            "BORDER GROUP",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for result in results {
        let address = result.address.clone().unwrap_or_else(|| "-".to_string());
        if result.matches.is_empty() {
            let why = result
                .error
                .clone()
                .unwrap_or_else(|| "(in no published prefix)".into());
            rows.push(vec![result.query.clone(), address, why]);
            continue;
        }
        for (index, found) in result.matches.iter().enumerate() {
            let (query, address) = if index == 0 {
                (result.query.clone(), address.clone())
            } else {
                (String::new(), String::new())
            };
            rows.push(vec![
                query,
                address,
                found.prefix.clone(),
                found.service.clone(),
                found.region.clone(),
                found
                    .network_border_group
                    .clone()
                    .unwrap_or_else(|| "-".into()),
            ]);
        }
    }
    format!("# {}\n{}", report::provenance(ranges), report::table(&rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{"syncToken":"1787411825","createDate":"2026-08-22-15-17-05","prefixes":[
      {"ip_prefix":"52.216.0.0/15","region":"us-east-1","service":"AMAZON","network_border_group":"us-east-1"},
      {"ip_prefix":"52.216.0.0/15","region":"us-east-1","service":"S3","network_border_group":"us-east-1"},
      {"ip_prefix":"52.217.0.0/16","region":"us-east-1","service":"EC2","network_border_group":"us-east-1"}],
      "ipv6_prefixes":[]}"#;

    #[test]
    fn queries_are_addresses_cidrs_or_hosts() {
        assert_eq!(
            parse("52.216.8.1").unwrap(),
            Query::Address("52.216.8.1".parse().unwrap())
        );
        assert_eq!(
            parse("52.216.0.0/16").unwrap(),
            Query::Cidr("52.216.0.0/16".parse().unwrap())
        );
        assert_eq!(
            parse("s3.amazonaws.com.").unwrap(),
            Query::Host("s3.amazonaws.com".into())
        );
        let err = parse("52.216.0.1/16").unwrap_err();
        assert_eq!(
            err.to_string(),
            "`52.216.0.1/16` has host bits set; did you mean 52.216.0.0/16?"
        );
        assert!(parse("a/b").is_err());
        assert!(
            parse("300.1.1.1").is_err(),
            "an address that does not parse is no hostname"
        );
        assert!(parse("2001:db8::zz").is_err());
    }

    #[test]
    fn matches_are_longest_first_and_cidrs_match_only_their_supernets() {
        let ranges = IpRanges::parse(DOC.as_bytes()).unwrap();
        let found = matches(&ranges, "52.217.3.4/32".parse().unwrap());
        let names: Vec<String> = found
            .iter()
            .map(|m| format!("{} {}", m.prefix, m.service))
            .collect();
        assert_eq!(names[0], "52.217.0.0/16 EC2");
        assert_eq!(names.len(), 3);
        assert!(names[1..].iter().all(|n| n.starts_with("52.216.0.0/15")));

        let wide = matches(&ranges, "52.216.0.0/15".parse().unwrap());
        assert_eq!(
            wide.len(),
            2,
            "the /16 inside the query does not contain it"
        );
        assert!(matches(&ranges, "52.0.0.0/8".parse().unwrap()).is_empty());
    }

    #[test]
    fn table_names_the_data_and_unmatched_addresses() {
        let ranges = IpRanges::parse(DOC.as_bytes()).unwrap();
        let results = vec![LookupResultDto {
            query: "198.51.100.1".into(),
            address: Some("198.51.100.1".into()),
            matches: vec![],
            error: None,
        }];
        let text = table(&ranges, &results);
        assert!(text.starts_with(
            "# ip-ranges.json syncToken 1787411825, createDate 2026-08-22-15-17-05\n"
        ));
        assert!(
            text.contains("198.51.100.1  198.51.100.1  (in no published prefix)"),
            "{text}"
        );
    }
}
