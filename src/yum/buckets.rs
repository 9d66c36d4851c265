//! Which S3 bucket serves a repository URL, and what egress-probe knows about the Amazon Linux
//! buckets (the catalog `probes/amazon-linux.toml`, embedded at build time).
//!
//! The bucket comes from the hostname itself: a virtual-hosted S3 name carries it before the
//! service label, a path-style name in the first path segment, and the Amazon Linux 1 and 2
//! hosts (`repo.REGION.amazonaws.com`, `amazonlinux.REGION.amazonaws.com`) are bucket names.

use std::sync::OnceLock;

use reqwest::Url;
use serde::{Deserialize, Serialize};

use crate::aws::hostname::{self, Form};

/// The catalog text, reviewed by hand.
const CATALOG: &str = include_str!("../../probes/amazon-linux.toml");

/// The Amazon Linux catalog.
#[derive(Debug, Clone, Deserialize)]
pub struct Catalog {
    /// When the entries were last checked against their sources.
    pub reviewed: String,
    /// The Amazon Linux generations.
    #[serde(rename = "generation")]
    pub generations: Vec<Generation>,
    /// The buckets, by name template.
    #[serde(rename = "bucket")]
    pub buckets: Vec<CatalogBucket>,
    /// Names served by a CDN rather than S3.
    #[serde(rename = "cdn")]
    pub cdns: Vec<Cdn>,
}

/// One Amazon Linux generation.
#[derive(Debug, Clone, Deserialize)]
pub struct Generation {
    /// Short id: `al1`, `al2`, `al2022`, `al2023`.
    pub id: String,
    /// The product name.
    pub name: String,
    /// The query added with `report_instanceid=yes` (`{instance_id}`, `{region}` filled in).
    pub instance_query: String,
}

/// One known Amazon-owned repository bucket.
#[derive(Debug, Clone, Deserialize)]
pub struct CatalogBucket {
    /// The name with `{region}` and `{dns_suffix}` placeholders.
    pub template: String,
    /// The generation it serves.
    pub generation: String,
    /// What it holds.
    pub holds: String,
    /// Other buckets its mirror lists send the package manager to (templates).
    pub also_needs: Vec<String>,
    /// The bucket that takes its place in the China Regions, if another.
    pub aws_cn_template: Option<String>,
    /// Whether AWS documents this bucket name.
    pub documented: bool,
    /// Where the name comes from.
    pub source: String,
}

/// A name served by a content delivery network.
#[derive(Debug, Clone, Deserialize)]
pub struct Cdn {
    /// The hostname.
    pub host: String,
    /// The service behind it.
    pub service: String,
    /// What it means for the network path.
    pub note: String,
    /// Path prefixes and the generation each serves.
    pub paths: Vec<CdnPath>,
}

/// A path prefix on a CDN host and its generation.
#[derive(Debug, Clone, Deserialize)]
pub struct CdnPath {
    /// The prefix, e.g. `/al2023/`.
    pub prefix: String,
    /// The generation id.
    pub generation: String,
}

/// The embedded catalog.
pub fn catalog() -> &'static Catalog {
    static PARSED: OnceLock<Catalog> = OnceLock::new();
    PARSED.get_or_init(|| toml::from_str(CATALOG).expect("probes/amazon-linux.toml is valid"))
}

/// The S3 bucket behind a URL, as far as its name and path tell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bucket {
    /// The bucket name.
    pub name: String,
    /// The region named in the hostname or matched in the catalog (`None` for `default`).
    pub region: Option<String>,
    /// The partition: from the region when known, else from the DNS suffix.
    pub partition: String,
    /// `arn:PARTITION:s3:::NAME`.
    pub arn: String,
    /// The Amazon Linux generation when the catalog knows the bucket.
    pub generation: Option<String>,
    /// Whether AWS documents the name (catalog buckets only).
    pub documented: Option<bool>,
    /// A dotted name: no `*.s3` wildcard certificate covers it, hence plain `http://`.
    pub dotted: bool,
    /// The hostname form the bucket was read from.
    pub form: &'static str,
}

/// What a repository URL's host is, for the path question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKind {
    /// An S3 bucket.
    S3(Bucket),
    /// A CDN name from the catalog: never reachable through an S3 endpoint.
    Cdn {
        /// The service, e.g. CloudFront.
        service: String,
        /// The explanation for the report.
        note: String,
        /// The generation the path belongs to, when known.
        generation: Option<String>,
    },
    /// An AWS name that is not S3 (or a name this tool does not place).
    Other,
}

/// Classifies the host of `url`.
pub fn host_kind(url: &Url) -> HostKind {
    let Some(host) = url.host_str() else {
        return HostKind::Other;
    };
    if let Some(cdn) = catalog().cdns.iter().find(|cdn| cdn.host == host) {
        let generation = cdn
            .paths
            .iter()
            .find(|path| url.path().starts_with(&path.prefix))
            .map(|path| path.generation.clone());
        return HostKind::Cdn {
            service: cdn.service.clone(),
            note: cdn.note.clone(),
            generation,
        };
    }
    match bucket(url) {
        Some(bucket) => HostKind::S3(bucket),
        None => HostKind::Other,
    }
}

/// The bucket behind `url`: virtual-hosted, path-style or an Amazon Linux host.
pub fn bucket(url: &Url) -> Option<Bucket> {
    let host = url.host_str()?.trim_end_matches('.').to_ascii_lowercase();
    let info = hostname::parse(&host)?;
    let name = match info.form {
        Form::AmazonLinuxRepo => host.clone(),
        Form::S3InterfaceEndpoint | Form::S3AccessPoint | Form::S3Control => info.bucket?,
        form if form.is_s3() => match info.bucket {
            Some(bucket) => bucket,
            None => url
                .path_segments()?
                .next()
                .filter(|s| !s.is_empty())?
                .to_string(),
        },
        _ => return None,
    };

    let known = known(&name);
    let region = info
        .region
        .clone()
        .or_else(|| known.as_ref().and_then(|(_, region)| region.clone()));
    let partition = match region.as_deref() {
        Some(region) => partition_of(region).to_string(),
        None => info.partition.unwrap_or("aws").to_string(),
    };
    Some(Bucket {
        arn: format!("arn:{partition}:s3:::{name}"),
        dotted: name.contains('.'),
        generation: known.as_ref().map(|(entry, _)| entry.generation.clone()),
        documented: known.as_ref().map(|(entry, _)| entry.documented),
        form: info.form.as_str(),
        name,
        region,
        partition,
    })
}

/// The catalog entry a bucket name matches, with the region it names (`None` for `default`).
pub fn known(name: &str) -> Option<(&'static CatalogBucket, Option<String>)> {
    catalog().buckets.iter().find_map(|entry| {
        let region = match_template(&entry.template, name)?;
        Some((entry, (region != "default").then_some(region)))
    })
}

/// The region a name fills into `template`, if the name fits it.
fn match_template(template: &str, name: &str) -> Option<String> {
    let (prefix, suffix) = template.split_once("{region}")?;
    let rest = name.strip_prefix(prefix)?;
    ["amazonaws.com.cn", "amazonaws.com"]
        .iter()
        .find_map(|dns_suffix| {
            let suffix = suffix.replace("{dns_suffix}", dns_suffix);
            let region = rest.strip_suffix(suffix.as_str())?;
            let fits = hostname::is_region(region) || region == "default";
            let right_partition = suffix.ends_with(".cn") == region.starts_with("cn-");
            (fits && (right_partition || !template.contains("{dns_suffix}")))
                .then(|| region.to_string())
        })
}

impl CatalogBucket {
    /// This bucket's name in `region`, where the China Regions may use another bucket.
    pub fn name_in(&self, region: &str) -> String {
        match &self.aws_cn_template {
            Some(template) if partition_of(region) == "aws-cn" => fill(template, region),
            _ => fill(&self.template, region),
        }
    }
}

/// Fills a catalog template for a region.
pub fn fill(template: &str, region: &str) -> String {
    template
        .replace("{region}", region)
        .replace("{dns_suffix}", dns_suffix(region))
}

/// The partition a region belongs to.
pub fn partition_of(region: &str) -> &'static str {
    let prefixes = [
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("us-isob-", "aws-iso-b"),
        ("us-isof-", "aws-iso-f"),
        ("eu-isoe-", "aws-iso-e"),
        ("us-iso-", "aws-iso"),
        ("eusc-", "aws-eusc"),
    ];
    prefixes
        .iter()
        .find(|(prefix, _)| region.starts_with(prefix))
        .map_or("aws", |&(_, partition)| partition)
}

/// The DNS suffix of a region's partition.
pub fn dns_suffix(region: &str) -> &'static str {
    match partition_of(region) {
        "aws-cn" => "amazonaws.com.cn",
        "aws-iso" => "c2s.ic.gov",
        "aws-iso-b" => "sc2s.sgov.gov",
        "aws-iso-e" => "cloud.adc-e.uk",
        "aws-iso-f" => "csp.hci.ic.gov",
        "aws-eusc" => "amazonaws.eu",
        _ => "amazonaws.com",
    }
}

/// The generation entry called `id`.
pub fn generation(id: &str) -> Option<&'static Generation> {
    catalog().generations.iter().find(|g| g.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(url: &str) -> Bucket {
        bucket(&Url::parse(url).unwrap()).unwrap()
    }

    #[test]
    fn the_catalog_parses_and_names_every_generation() {
        let catalog = catalog();
        assert_eq!(catalog.reviewed, "2026-12-03");
        for entry in &catalog.buckets {
            assert!(
                generation(&entry.generation).is_some(),
                "{}",
                entry.template
            );
        }
        assert_eq!(
            generation("al2023").unwrap().instance_query,
            "instance_id={instance_id}"
        );
    }

    #[test]
    fn amazon_linux_hosts_are_their_buckets() {
        let al2 = of("http://amazonlinux.us-east-1.amazonaws.com/2/core/latest/x86_64/mirror.list");
        assert_eq!(al2.name, "amazonlinux.us-east-1.amazonaws.com");
        assert_eq!(al2.arn, "arn:aws:s3:::amazonlinux.us-east-1.amazonaws.com");
        assert_eq!(al2.generation.as_deref(), Some("al2"));
        assert!(al2.dotted);
        let al1 = of("http://packages.ap-southeast-1.amazonaws.com/2018.03/updates/x/x86_64");
        assert_eq!(al1.generation.as_deref(), Some("al1"));
        assert_eq!(al1.region.as_deref(), Some("ap-southeast-1"));
        let gov = of("http://repo.us-gov-west-1.amazonaws.com/latest/main/mirror.list");
        assert_eq!(
            gov.arn,
            "arn:aws-us-gov:s3:::repo.us-gov-west-1.amazonaws.com"
        );
    }

    #[test]
    fn virtual_hosted_path_style_and_china() {
        let al2023 = of(
            "https://al2023-repos-us-west-2-de612dc2.s3.dualstack.us-west-2\
                         .amazonaws.com/core/mirrors/2023.5/x86_64/mirror.list",
        );
        assert_eq!(al2023.name, "al2023-repos-us-west-2-de612dc2");
        assert_eq!(al2023.documented, Some(false));
        assert_eq!(al2023.form, "s3-dualstack");
        assert!(!al2023.dotted);
        let china = of("https://amazonlinux-2-repos-cn-north-1.s3.cn-north-1.amazonaws.com.cn/2/x");
        assert_eq!(china.arn, "arn:aws-cn:s3:::amazonlinux-2-repos-cn-north-1");
        assert_eq!(china.generation.as_deref(), Some("al2"));
        let path_style = of("https://s3.eu-west-1.amazonaws.com/my-repo/el9/x86_64/");
        assert_eq!(path_style.name, "my-repo");
        assert_eq!(path_style.generation, None);
        let placeholder = of("http://amazonlinux.default.amazonaws.com/2/core/latest/x86_64/");
        assert_eq!(placeholder.region, None);
        assert_eq!(placeholder.generation.as_deref(), Some("al2"));
    }

    #[test]
    fn cdn_and_foreign_hosts() {
        let cdn = Url::parse("https://cdn.amazonlinux.com/al2023/core/mirrors/latest/x").unwrap();
        let HostKind::Cdn {
            service,
            generation,
            ..
        } = host_kind(&cdn)
        else {
            panic!("not a CDN");
        };
        assert_eq!(
            (service.as_str(), generation.as_deref()),
            ("CloudFront", Some("al2023"))
        );
        let rocky = Url::parse("https://mirrors.rockylinux.org/mirrorlist?repo=x").unwrap();
        assert_eq!(host_kind(&rocky), HostKind::Other);
        assert_eq!(
            fill("repo.{region}.{dns_suffix}", "cn-northwest-1"),
            "repo.cn-northwest-1.amazonaws.com.cn"
        );
    }
}
