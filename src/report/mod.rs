//! The report of `check`: serde DTOs that are the JSON contract (schema version 1), built from
//! the evidence and findings, and rendered as JSON or as a table.
//!
//! Absent values are `null`, never omitted; times are floating milliseconds.

pub mod cases;
pub mod emit;
pub mod expectation;
#[cfg(test)]
pub mod fixture;
pub mod jsonl;
pub mod junit;
pub mod path;
pub mod prometheus;
pub mod table;
pub mod tap;

use std::net::IpAddr;

use serde::Serialize;

use crate::evidence::{Failure, PortEvidence, TargetEvidence};
use crate::host::imds::ImdsReport;
use crate::verdict::{Finding, Severity};

/// The JSON schema version; a change of any field's meaning bumps it.
pub const SCHEMA_VERSION: u32 = 1;

/// The committed JSON Schema of the report.
pub const SCHEMA: &str = include_str!("check.schema.json");

/// The whole report.
#[derive(Debug, Serialize)]
pub struct CheckReport {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// This program's version.
    pub tool_version: &'static str,
    /// When the run started (RFC 3339, UTC).
    pub generated_at: String,
    /// How long the run took.
    pub duration_ms: f64,
    /// The host's context.
    pub host: HostDto,
    /// Where the address data came from.
    pub ip_ranges: IpRangesDto,
    /// Every probed target.
    pub targets: Vec<TargetDto>,
    /// Every finding.
    pub findings: Vec<FindingDto>,
    /// The package manager's repositories, with their lists, mirrors and repomd.xml result.
    pub repos: Vec<crate::yum::report::RepoDto>,
    /// Catalog entries and names not probed, with the reason.
    pub skipped: Vec<String>,
    /// Whether packet capture ran, what it saw and what it dropped.
    pub capture: path::CaptureDto,
    /// Whether the path traces ran.
    pub trace: path::TraceRunDto,
    /// The public egress address, as the echo service saw it.
    pub egress_echo: path::EchoDto,
    /// Counts and the exit code.
    pub summary: SummaryDto,
    /// The expectations of `--spec` and how each went; null without a spec.
    pub spec: Option<expectation::SpecDto>,
}

/// The host's context.
#[derive(Debug, Serialize)]
pub struct HostDto {
    pub on_ec2: bool,
    pub imds: &'static str,
    pub imds_endpoint: String,
    pub imds_problems: Vec<String>,
    pub region: Option<String>,
    pub region_source: &'static str,
    pub availability_zone: Option<String>,
    pub instance_id: Option<String>,
    pub instance_type: Option<String>,
    pub ami_id: Option<String>,
    pub account_id: Option<String>,
    pub partition: Option<String>,
    pub domain: String,
    pub vpc_id: Option<String>,
    pub subnet_id: Option<String>,
    pub vpc_cidrs: Vec<String>,
    pub subnet_cidr: Option<String>,
    pub local_ipv4: Option<String>,
    pub public_ipv4: Option<String>,
    pub resolvers: Vec<String>,
    pub proxy_env: Vec<String>,
}

/// Provenance of the ip-ranges data.
#[derive(Debug, Serialize)]
pub struct IpRangesDto {
    pub source: &'static str,
    pub path: Option<String>,
    pub sync_token: Option<String>,
    pub create_date: Option<String>,
    pub age_seconds: Option<i64>,
    pub lacks: Vec<String>,
    pub problems: Vec<String>,
}

/// One target.
#[derive(Debug, Serialize)]
pub struct TargetDto {
    pub name: String,
    pub host: String,
    pub request_path: String,
    pub origin: &'static str,
    pub required: bool,
    pub expect_region: String,
    pub bucket: Option<String>,
    pub note: Option<String>,
    pub hostname: Option<HostnameDto>,
    pub dns: DnsDto,
    pub region: Option<String>,
    pub region_source: &'static str,
    pub cross_region: Option<bool>,
    pub ports: Vec<PortDto>,
    pub plaintext: bool,
    pub via_proxy: Option<ViaProxyDto>,
    /// Which way the traffic leaves (null until judged).
    pub path: Option<path::PathDto>,
}

/// The request sent through the environment's proxy.
#[derive(Debug, Serialize)]
pub struct ViaProxyDto {
    pub proxy: String,
    pub url: String,
    pub status: Option<u16>,
    pub request_id: Option<String>,
    pub error: Option<&'static str>,
    pub detail: Option<String>,
    pub ms: u64,
}

/// What the hostname itself says.
#[derive(Debug, Serialize)]
pub struct HostnameDto {
    pub form: &'static str,
    pub region: Option<String>,
    pub partition: Option<&'static str>,
    pub note: Option<&'static str>,
}

/// DNS results.
#[derive(Debug, Serialize)]
pub struct DnsDto {
    pub server: Option<String>,
    pub hosts_file: bool,
    pub cnames: Vec<String>,
    pub addresses: Vec<AddressDto>,
    pub error: Option<&'static str>,
    pub detail: Option<String>,
    pub ms: f64,
}

/// One address.
#[derive(Debug, Serialize)]
pub struct AddressDto {
    pub ip: String,
    pub family: &'static str,
    pub ttl: Option<u32>,
    pub private: bool,
    pub in_vpc: bool,
    pub aws: Option<AwsDto>,
}

/// ip-ranges attribution.
#[derive(Debug, Serialize)]
pub struct AwsDto {
    pub services: Vec<String>,
    pub region: String,
    pub network_border_group: Option<String>,
    pub prefix: String,
}

/// One port of one address.
#[derive(Debug, Serialize)]
pub struct PortDto {
    pub port: u16,
    pub address: String,
    pub tcp: TcpDto,
    pub tls: Option<TlsDto>,
    pub http: Option<HttpDto>,
    pub plaintext: bool,
    /// The captured flows of this probe (null when capture did not run).
    pub flows: Option<Vec<path::FlowDto>>,
}

/// TCP connection.
#[derive(Debug, Serialize)]
pub struct TcpDto {
    pub ok: bool,
    pub ms: f64,
    pub error: Option<&'static str>,
    pub detail: Option<String>,
}

/// TLS handshake.
#[derive(Debug, Serialize)]
pub struct TlsDto {
    pub ok: bool,
    pub sni: String,
    pub version: Option<String>,
    pub cipher_suite: Option<String>,
    pub alpn: Option<String>,
    pub subject: Option<String>,
    pub issuer: Option<String>,
    pub names: Vec<String>,
    pub verification: Option<String>,
    pub ms: f64,
    pub error: Option<&'static str>,
    pub detail: Option<String>,
}

/// HTTP exchange.
#[derive(Debug, Serialize)]
pub struct HttpDto {
    pub status: Option<u16>,
    pub server: Option<String>,
    pub request_id: Option<String>,
    pub s3_error_code: Option<String>,
    pub s3_error_message: Option<String>,
    pub bucket_region: Option<String>,
    pub location: Option<String>,
    pub body_not_xml: bool,
    pub ms: f64,
    pub error: Option<&'static str>,
    pub detail: Option<String>,
}

/// One finding.
#[derive(Debug, Serialize)]
pub struct FindingDto {
    pub kind: &'static str,
    pub severity: &'static str,
    pub target: Option<String>,
    pub port: Option<u16>,
    pub address: Option<String>,
    pub message: String,
}

/// Counts and the exit code.
#[derive(Debug, Serialize)]
pub struct SummaryDto {
    pub targets: usize,
    pub info: usize,
    pub warn: usize,
    pub fail: usize,
    pub fail_on: Vec<String>,
    pub exit_code: u8,
}

/// Source facts about the ip-ranges data, gathered by the caller.
#[derive(Debug, Clone)]
pub struct RangesFacts {
    pub source: &'static str,
    pub path: Option<String>,
    pub sync_token: Option<String>,
    pub create_date: Option<String>,
    pub age_seconds: Option<i64>,
    pub lacks: Vec<String>,
    pub problems: Vec<String>,
}

impl RangesFacts {
    /// The report block.
    pub fn into_dto(self) -> IpRangesDto {
        IpRangesDto {
            source: self.source,
            path: self.path,
            sync_token: self.sync_token,
            create_date: self.create_date,
            age_seconds: self.age_seconds,
            lacks: self.lacks,
            problems: self.problems,
        }
    }
}

/// The host facts the report shows besides IMDS.
#[derive(Debug, Clone)]
pub struct HostExtras {
    pub region: Option<String>,
    pub region_source: &'static str,
    pub domain: String,
    pub resolvers: Vec<IpAddr>,
    pub proxy_env: Vec<String>,
}

/// The split of a failure into the class and detail fields.
fn failure(failure: Option<&Failure>) -> (Option<&'static str>, Option<String>) {
    match failure {
        Some(f) => (Some(f.class.as_str()), Some(f.detail.clone())),
        None => (None, None),
    }
}

/// Builds the host block.
pub fn host_dto(imds: &ImdsReport, extras: &HostExtras) -> HostDto {
    let facts = &imds.facts;
    let text = |value: &Option<String>| value.clone();
    HostDto {
        on_ec2: matches!(
            imds.state,
            crate::host::imds::ImdsState::Ok
                | crate::host::imds::ImdsState::V1Only
                | crate::host::imds::ImdsState::HopLimit
                | crate::host::imds::ImdsState::Disabled
        ) && !imds
            .problems
            .iter()
            .any(|p| p.starts_with("AWS_EC2_METADATA_DISABLED")),
        imds: imds.state.as_str(),
        imds_endpoint: imds.endpoint.clone(),
        imds_problems: imds.problems.clone(),
        region: extras.region.clone(),
        region_source: extras.region_source,
        availability_zone: text(&facts.availability_zone),
        instance_id: text(&facts.instance_id),
        instance_type: text(&facts.instance_type),
        ami_id: text(&facts.ami_id),
        account_id: text(&facts.account_id),
        partition: text(&facts.partition),
        domain: extras.domain.clone(),
        vpc_id: text(&facts.vpc_id),
        subnet_id: text(&facts.subnet_id),
        vpc_cidrs: facts.vpc_cidrs.iter().map(ToString::to_string).collect(),
        subnet_cidr: facts.subnet_cidr.map(|c| c.to_string()),
        local_ipv4: facts.local_ipv4.map(|a| a.to_string()),
        public_ipv4: facts.public_ipv4.map(|a| a.to_string()),
        resolvers: extras.resolvers.iter().map(ToString::to_string).collect(),
        proxy_env: extras.proxy_env.clone(),
    }
}

/// Builds one target's block; `home` is the instance region.
pub fn target_dto(evidence: &TargetEvidence, home: Option<&str>) -> TargetDto {
    let dns = &evidence.dns;
    let dns_failure = if dns.addresses.is_empty() {
        dns.error_v4.as_ref().or(dns.error_v6.as_ref())
    } else {
        None
    };
    let (dns_error, dns_detail) = failure(dns_failure);

    let attributed: Vec<&str> = dns
        .addresses
        .iter()
        .filter_map(|a| a.aws.as_ref().map(|aws| aws.region.as_str()))
        .collect();
    let named = evidence
        .name_info
        .as_ref()
        .and_then(|info| info.region.clone());
    let (region, region_source) = match (
        attributed.iter().find(|r| **r != "GLOBAL"),
        attributed.first(),
    ) {
        (Some(concrete), _) => (Some(concrete.to_string()), "ip-ranges"),
        (None, Some(global)) => (Some(global.to_string()), "ip-ranges"),
        (None, None) => match named {
            Some(region) => (Some(region), "hostname"),
            None => (None, "none"),
        },
    };
    let cross_region = home.map(|home| {
        let by_address = attributed.iter().any(|r| *r != "GLOBAL" && *r != home);
        let by_name = region_source == "hostname" && region.as_deref().is_some_and(|r| r != home);
        by_address || by_name
    });
    let configured_http = evidence.target.configured_scheme.as_deref() == Some("http");

    TargetDto {
        name: evidence.target.name.clone(),
        host: evidence.target.host.clone(),
        request_path: evidence.target.path.clone(),
        origin: evidence.target.origin.as_str(),
        required: evidence.target.required,
        expect_region: match &evidence.target.expect_region {
            crate::catalog::ExpectRegion::Instance => "instance".to_string(),
            crate::catalog::ExpectRegion::Any => "any".to_string(),
            crate::catalog::ExpectRegion::Named(region) => region.clone(),
        },
        bucket: evidence.target.bucket.clone(),
        note: evidence.target.note.clone(),
        hostname: evidence.name_info.as_ref().map(|info| HostnameDto {
            form: info.form.as_str(),
            region: info.region.clone(),
            partition: info.partition,
            note: info.note,
        }),
        dns: DnsDto {
            server: dns.server.map(|s| s.to_string()),
            hosts_file: dns.hosts_file,
            cnames: dns.cnames.clone(),
            addresses: dns
                .addresses
                .iter()
                .map(|a| AddressDto {
                    ip: a.ip.to_string(),
                    family: if a.ip.is_ipv6() { "ipv6" } else { "ipv4" },
                    ttl: a.ttl,
                    private: a.private,
                    in_vpc: a.in_vpc,
                    aws: a.aws.as_ref().map(|aws| AwsDto {
                        services: aws.services.clone(),
                        region: aws.region.clone(),
                        network_border_group: aws.network_border_group.clone(),
                        prefix: aws.prefix.to_string(),
                    }),
                })
                .collect(),
            error: dns_error,
            detail: dns_detail,
            ms: dns.ms,
        },
        region,
        region_source,
        cross_region,
        plaintext: configured_http && evidence.ports.iter().any(in_clear),
        ports: evidence.ports.iter().map(port_dto).collect(),
        via_proxy: evidence.via_proxy.as_ref().map(|via| ViaProxyDto {
            proxy: via.proxy.clone(),
            url: via.url.clone(),
            status: via.status,
            request_id: via.request_id.clone(),
            error: via.error.map(|class| class.as_str()),
            detail: via.detail.clone(),
            ms: via.ms,
        }),
        path: None,
    }
}

/// HTTP in clear on this port: as seen on the wire when capture ran, else as the probe found.
fn in_clear(port: &PortEvidence) -> bool {
    port.seen_in_clear()
        .unwrap_or_else(|| port.exchanged_in_clear())
}

fn port_dto(port: &PortEvidence) -> PortDto {
    let (tcp_error, tcp_detail) = failure(port.tcp.error.as_ref());
    PortDto {
        port: port.port,
        address: port.address.to_string(),
        tcp: TcpDto {
            ok: port.tcp.ok,
            ms: port.tcp.ms,
            error: tcp_error,
            detail: tcp_detail,
        },
        tls: port.tls.as_ref().map(|tls| {
            let (error, detail) = failure(tls.error.as_ref());
            TlsDto {
                ok: tls.ok,
                sni: tls.sni.clone(),
                version: tls.version.clone(),
                cipher_suite: tls.cipher_suite.clone(),
                alpn: tls.alpn.clone(),
                subject: tls.subject.clone(),
                issuer: tls.issuer.clone(),
                names: tls.names.clone(),
                verification: tls.verification.clone(),
                ms: tls.ms,
                error,
                detail,
            }
        }),
        http: port.http.as_ref().map(|http| {
            let (error, detail) = failure(http.error.as_ref());
            HttpDto {
                status: http.status,
                server: http.server.clone(),
                request_id: http.request_id.clone(),
                s3_error_code: http.s3_error_code.clone(),
                s3_error_message: http.s3_error_message.clone(),
                bucket_region: http.bucket_region.clone(),
                location: http.location.clone(),
                body_not_xml: http.body_not_xml,
                ms: http.ms,
                error,
                detail,
            }
        }),
        plaintext: in_clear(port),
        flows: port
            .flows
            .as_ref()
            .map(|flows| flows.iter().map(path::flow_dto).collect()),
    }
}

/// Builds the findings list.
pub fn finding_dtos(findings: &[Finding]) -> Vec<FindingDto> {
    findings
        .iter()
        .map(|f| FindingDto {
            kind: f.kind,
            severity: f.severity.as_str(),
            target: f.target.clone(),
            port: f.port,
            address: f.address.map(|a| a.to_string()),
            message: f.message.clone(),
        })
        .collect()
}

/// Builds the repository blocks: the offline `repos` shape, with the mirrors and the
/// repomd.xml result filled in.
pub fn repo_dtos(run: &crate::check::repos::RepoRun) -> Vec<crate::yum::report::RepoDto> {
    run.repos
        .iter()
        .map(|evidence| {
            let mut dto = crate::yum::report::RepoDto::new(&evidence.repo);
            dto.mirrors = evidence.mirrors.clone();
            dto.repomd = evidence
                .repomd
                .as_ref()
                .and_then(|repomd| serde_json::to_value(repomd).ok());
            dto
        })
        .collect()
}

/// Builds the summary block.
pub fn summary(
    targets: usize,
    findings: &[Finding],
    fail_on: Vec<String>,
    exit_code: u8,
) -> SummaryDto {
    let count = |severity: Severity| findings.iter().filter(|f| f.severity == severity).count();
    SummaryDto {
        targets,
        info: count(Severity::Info),
        warn: count(Severity::Warn),
        fail: count(Severity::Fail),
        fail_on,
        exit_code,
    }
}

impl CheckReport {
    /// The report as pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_else(|err| {
            format!("{{\"schema_version\":{SCHEMA_VERSION},\"error\":\"{err}\"}}")
        });
        text.push('\n');
        text
    }
}

#[cfg(test)]
mod tests;
