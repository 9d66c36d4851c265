//! Verdicts: pure rules from evidence to findings, each with a severity. No I/O here, so every
//! rule can be tested from a hand-built evidence value.

use std::collections::BTreeSet;
use std::net::IpAddr;

use crate::capture::dissect::Dissection;
use crate::catalog::{ExpectRegion, Origin};
use crate::check::repos::RepoEvidence;
use crate::evidence::{PortEvidence, TargetEvidence};
use crate::path::TargetPath;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Probably wrong.
    Warn,
    /// Fails the run.
    Fail,
}

impl Severity {
    /// The value written in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warn => "warn",
            Severity::Fail => "fail",
        }
    }
}

/// The kinds of finding; their names are part of the JSON contract.
pub const KINDS: &[&str] = &[
    "plaintext",
    "cross-region",
    "unreachable",
    "access-denied",
    "endpoint-policy-denied",
    "dns-failure",
    "tls-failure",
    "proxy-configured",
    "family-mismatch",
    "port-80-open",
    "region-unknown",
    "repo-config",
    "repo-unavailable",
    "needs-internet",
    "endpoint-dns-gap",
    "foreign-bucket-reachable",
    "bucket-missing",
];

/// The kinds that fail a run unless `--fail-on` says otherwise.
pub const DEFAULT_FAIL_ON: &[&str] = &["plaintext", "unreachable", "endpoint-policy-denied"];

/// One judgement about the evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// One of [`KINDS`].
    pub kind: &'static str,
    /// How serious it is, after `--fail-on`.
    pub severity: Severity,
    /// The target's name, when it concerns one.
    pub target: Option<String>,
    /// The port, when it concerns one.
    pub port: Option<u16>,
    /// The address, when it concerns one.
    pub address: Option<IpAddr>,
    /// What it means, for a person.
    pub message: String,
}

/// The facts about the host the rules need.
#[derive(Debug, Clone, Default)]
pub struct HostFacts {
    /// The instance's region, when known.
    pub region: Option<String>,
    /// Proxy variables found in the environment (`NAME=value`).
    pub proxy_env: Vec<String>,
}

/// A finding before `--fail-on` decided its final severity.
pub(crate) struct Draft {
    kind: &'static str,
    base: Severity,
    /// May become `fail` when its kind is in `--fail-on`.
    failable: bool,
    target: Option<String>,
    port: Option<u16>,
    address: Option<IpAddr>,
    message: String,
}

/// Draws every finding from the evidence; `fail_on` lists the kinds that fail the run.
pub fn judge(
    host: &HostFacts,
    targets: &[TargetEvidence],
    fail_on: &BTreeSet<String>,
) -> Vec<Finding> {
    judge_all(host, targets, &[], fail_on)
}

/// [`judge`], plus the package manager's repositories.
pub fn judge_all(
    host: &HostFacts,
    targets: &[TargetEvidence],
    repos: &[RepoEvidence],
    fail_on: &BTreeSet<String>,
) -> Vec<Finding> {
    let mut drafts = Vec::new();
    if host.region.is_none() {
        drafts.push(Draft {
            kind: "region-unknown",
            base: Severity::Warn,
            failable: true,
            target: None,
            port: None,
            address: None,
            message: "the instance's region is unknown (no IMDS answer): regional names were \
                      not probed; give --region"
                .to_string(),
        });
    }
    if !host.proxy_env.is_empty() {
        drafts.push(Draft {
            kind: "proxy-configured",
            base: Severity::Warn,
            failable: true,
            target: None,
            port: None,
            address: None,
            message: format!(
                "proxy variables are set ({}): tools that honour them leave through the proxy, \
                 whatever these direct probes show",
                host.proxy_env.join(", ")
            ),
        });
    }
    for target in targets {
        dns_rules(target, &mut drafts);
        reachability_rules(target, &mut drafts);
        region_rules(host, target, &mut drafts);
        answer_rules(target, &mut drafts);
        family_rules(target, &mut drafts);
    }
    repos::rules(repos, &mut drafts);
    if let Some(home) = &host.region {
        repos::endpoint_dns_gaps(targets, home, &mut drafts);
    }
    drafts
        .into_iter()
        .map(|draft| finalize(draft, fail_on))
        .collect()
}

/// Decides a draft's final severity: `--fail-on` raises a failable kind to `fail`, and a kind
/// it does not name never fails.
fn finalize(draft: Draft, fail_on: &BTreeSet<String>) -> Finding {
    let chosen = fail_on.contains(draft.kind);
    let severity = match (chosen && draft.failable, draft.base) {
        (true, _) => Severity::Fail,
        (false, Severity::Fail) => Severity::Warn,
        (false, base) => base,
    };
    Finding {
        kind: draft.kind,
        severity,
        target: draft.target,
        port: draft.port,
        address: draft.address,
        message: draft.message,
    }
}

fn draft(kind: &'static str, base: Severity, target: &TargetEvidence, message: String) -> Draft {
    Draft {
        kind,
        base,
        failable: true,
        target: Some(target.target.name.clone()),
        port: None,
        address: None,
        message,
    }
}

fn dns_rules(target: &TargetEvidence, drafts: &mut Vec<Draft>) {
    let dns = &target.dns;
    if !dns.addresses.is_empty() {
        return;
    }
    let why = [&dns.error_v4, &dns.error_v6]
        .into_iter()
        .flatten()
        .map(|failure| failure.class.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>()
        .join(", ");
    let why = if why.is_empty() {
        "no address".to_string()
    } else {
        why
    };
    drafts.push(draft(
        "dns-failure",
        Severity::Warn,
        target,
        format!("{} did not resolve ({why})", target.target.host),
    ));
}

fn reachability_rules(target: &TargetEvidence, drafts: &mut Vec<Draft>) {
    let wants_443 = target.target.ports.contains(&443);
    let connected_443 = target.ports.iter().any(|p| p.port == 443 && p.tcp.ok);
    let answered_443 = target
        .ports
        .iter()
        .any(|p| p.port == 443 && p.http.as_ref().is_some_and(|http| http.status.is_some()));
    // The server spoke TLS and refused us (a certificate or protocol failure): it answered,
    // and `tls-failure` says why. A handshake cut by a deadline is no answer at all.
    let refused_tls = target.ports.iter().any(|p| {
        p.port == 443
            && p.tls
                .as_ref()
                .and_then(|tls| tls.error.as_ref())
                .is_some_and(|e| e.class == crate::evidence::FailureClass::Tls)
    });
    let reached_443 = answered_443 || refused_tls;
    // A name that did not resolve is already a dns-failure; only required targets say more.
    let resolved = !target.dns.addresses.is_empty();
    if wants_443 && !reached_443 && (resolved || target.target.required) {
        let why = if target.dns.addresses.is_empty() {
            "the name did not resolve".to_string()
        } else if connected_443 {
            let stopped = stopped_by(target);
            format!("it accepted the connection but never answered over HTTPS ({stopped})")
        } else {
            let classes: BTreeSet<&str> = target
                .ports
                .iter()
                .filter(|p| p.port == 443)
                .filter_map(|p| p.tcp.error.as_ref().map(|e| e.class.as_str()))
                .collect();
            format!(
                "no address answered on 443 ({}); a silent timeout is what a security group, \
                 NACL or missing route does",
                classes.into_iter().collect::<Vec<_>>().join(", ")
            )
        };
        let mut finding = draft(
            "unreachable",
            if target.target.required {
                Severity::Fail
            } else {
                Severity::Warn
            },
            target,
            format!("{}: {why}", target.target.host),
        );
        finding.failable = target.target.required;
        finding.port = Some(443);
        drafts.push(finding);
    }

    for port in target.ports.iter().filter(|p| p.port == 443 && p.tcp.ok) {
        let Some(tls) = &port.tls else { continue };
        if let Some(error) = &tls.error {
            let mut finding = draft(
                "tls-failure",
                Severity::Warn,
                target,
                format!(
                    "TLS to {} at {} failed ({}): {}",
                    target.target.host,
                    port.address,
                    deadline_words(error.class),
                    error.detail
                ),
            );
            finding.port = Some(443);
            finding.address = Some(port.address);
            drafts.push(finding);
        }
    }

    let open_80 = target.ports.iter().find(|p| p.port == 80 && p.tcp.ok);
    if let Some(port) = open_80 {
        let in_clear = target.target.configured_scheme.as_deref() == Some("http");
        if in_clear {
            let (address, message) = plaintext_message(target, port);
            let mut finding = draft("plaintext", Severity::Fail, target, message);
            finding.port = Some(80);
            finding.address = Some(address);
            drafts.push(finding);
        } else if target.target.origin == Origin::Catalog {
            let s3_note = if is_s3(target) {
                " (S3 always listens on 80)"
            } else {
                ""
            };
            let mut finding = draft(
                "port-80-open",
                Severity::Info,
                target,
                format!(
                    "port 80 of {} answers{s3_note}; only a consumer configured with \
                     http:// would send anything over it in clear",
                    target.target.host
                ),
            );
            finding.port = Some(80);
            drafts.push(finding);
        }
    }
}

/// What the plaintext finding rests on: readable HTTP seen on the wire when capture ran, else
/// the probe's own exchange over port 80 (and the message says which).
fn plaintext_message(target: &TargetEvidence, open: &PortEvidence) -> (IpAddr, String) {
    let host = &target.target.host;
    let seen = target
        .ports
        .iter()
        .filter(|p| p.port == 80)
        .find_map(|p| Some((p, p.flows.as_ref()?.iter().find(|f| f.carries_http())?)));
    if let Some((port, flow)) = seen {
        let owner = target
            .dns
            .addresses
            .iter()
            .find(|a| a.ip == port.address)
            .map_or("an address".to_string(), |a| match &a.aws {
                Some(aws) => format!("an AWS address ({} {})", aws.services.join("+"), aws.region),
                None if a.in_vpc => "an address inside the VPC".to_string(),
                None => "an address that is not AWS's".to_string(),
            });
        let request = match &flow.out.dissection {
            Dissection::Request(request) => format!(
                "`{} {}` with Host {}",
                request.method,
                request.target.as_deref().unwrap_or("?"),
                request.host.as_deref().unwrap_or("-")
            ),
            _ => "an HTTP answer".to_string(),
        };
        let answer = match &flow.inbound.dissection {
            Dissection::Response(response) => format!(", answered {}", response.status),
            _ => String::new(),
        };
        return (
            port.address,
            format!(
                "{host} is configured with http:// and readable HTTP went over the wire to {} \
                 ({owner}): {request}{answer}; requests and answers travel in clear{}",
                port.address,
                dotted_note(target)
            ),
        );
    }
    let why = if open.flows.is_some() {
        "the exchange was not seen on the wire (capture missed it)"
    } else {
        "not seen on the wire: no capture"
    };
    (
        open.address,
        format!(
            "{host} is configured with http:// and its port 80 answers: requests and answers \
             travel in clear ({why}){}",
            dotted_note(target)
        ),
    )
}

/// Why an Amazon Linux 1 or 2 repository host is served over plain HTTP at all.
fn dotted_note(target: &TargetEvidence) -> &'static str {
    let dotted = target
        .target
        .bucket
        .as_deref()
        .is_some_and(|b| b.contains('.'))
        || target
            .name_info
            .as_ref()
            .is_some_and(|info| info.form == crate::aws::hostname::Form::AmazonLinuxRepo);
    if dotted {
        "; the name is a dotted bucket name that no wildcard certificate covers, which is why \
         it is served over http://"
    } else {
        ""
    }
}

/// Which step of a connected port 443 stopped, and which deadline stopped it.
fn stopped_by(target: &TargetEvidence) -> String {
    let port = target.ports.iter().find(|p| p.port == 443 && p.tcp.ok);
    let Some(port) = port else {
        return "no answer".into();
    };
    let tls_failure = port.tls.as_ref().and_then(|tls| tls.error.as_ref());
    let http_failure = port.http.as_ref().and_then(|http| http.error.as_ref());
    match (tls_failure, http_failure) {
        (Some(failure), _) => format!("the TLS handshake: {}", deadline_words(failure.class)),
        (None, Some(failure)) => format!("the HTTP exchange: {}", deadline_words(failure.class)),
        (None, None) => "no answer".into(),
    }
}

fn deadline_words(class: crate::evidence::FailureClass) -> String {
    match class {
        crate::evidence::FailureClass::RunDeadline => "stopped by the run's --timeout".into(),
        crate::evidence::FailureClass::Timeout => "no answer within the step's deadline".into(),
        other => other.as_str().into(),
    }
}

fn region_rules(host: &HostFacts, target: &TargetEvidence, drafts: &mut Vec<Draft>) {
    let Some(home) = &host.region else { return };
    let elsewhere: BTreeSet<&str> = target
        .dns
        .addresses
        .iter()
        .filter_map(|a| a.aws.as_ref())
        .map(|aws| aws.region.as_str())
        .filter(|region| *region != "GLOBAL" && *region != home)
        .collect();
    let expected_elsewhere = match &target.target.expect_region {
        ExpectRegion::Instance => false,
        ExpectRegion::Any => true,
        ExpectRegion::Named(named) => elsewhere.iter().all(|region| region == named),
    };
    if !elsewhere.is_empty() {
        let regions = elsewhere.into_iter().collect::<Vec<_>>().join(", ");
        let (base, note) = if expected_elsewhere {
            (Severity::Info, " (expected for this name)")
        } else {
            (Severity::Warn, "")
        };
        let mut finding = draft(
            "cross-region",
            base,
            target,
            format!(
                "{} resolves to addresses in {regions}, not {home}{note}; a gateway endpoint \
                 serves its own region only",
                target.target.host
            ),
        );
        finding.failable = !expected_elsewhere;
        drafts.push(finding);
    }

    for port in &target.ports {
        let Some(http) = &port.http else { continue };
        let Some(bucket_region) = &http.bucket_region else {
            continue;
        };
        if bucket_region != home && http.status == Some(301) {
            let mut finding = draft(
                "cross-region",
                Severity::Warn,
                target,
                format!(
                    "S3 redirects {} to its bucket's region {bucket_region}: requests cross \
                     from {home}",
                    target.target.host
                ),
            );
            finding.port = Some(port.port);
            finding.address = Some(port.address);
            drafts.push(finding);
            break;
        }
    }
}

/// The name is an S3 name, or its addresses are published as S3.
fn is_s3(target: &TargetEvidence) -> bool {
    target
        .name_info
        .as_ref()
        .is_some_and(|info| info.form.is_s3())
        || target.target.bucket.is_some()
        || target
            .dns
            .addresses
            .iter()
            .any(|a| a.aws.as_ref().is_some_and(|aws| aws.is_s3()))
}

fn answer_rules(target: &TargetEvidence, drafts: &mut Vec<Draft>) {
    if target.target.canary {
        return canary_rule(target, drafts);
    }
    missing_bucket_rule(target, drafts);
    if !is_s3(target) {
        return;
    }
    let refusals: Vec<_> = target
        .ports
        .iter()
        .filter_map(|port| {
            let http = port.http.as_ref()?;
            (http.status == Some(403)).then_some((port, http))
        })
        .collect();
    // The most telling refusal wins: one that names the policy type (a signed request's).
    let names_policy = |http: &&crate::evidence::HttpEvidence| {
        http.s3_error_message
            .as_deref()
            .is_some_and(|m| m.contains("VPC endpoint policy"))
    };
    let denied = refusals
        .iter()
        .find(|(_, http)| names_policy(http))
        .or(refusals.first())
        .copied();
    let Some((port, http)) = denied else { return };
    let message = http.s3_error_message.as_deref().unwrap_or("");
    let mut finding = if message.contains("VPC endpoint policy") {
        draft(
            "endpoint-policy-denied",
            Severity::Fail,
            target,
            format!(
                "S3 refused {} because of a VPC endpoint policy: {message}",
                target.target.host
            ),
        )
    } else {
        let expected = target.target.origin == Origin::Catalog;
        let code = http
            .s3_error_code
            .as_deref()
            .unwrap_or(if http.body_not_xml {
                "a 403 that is not S3's XML"
            } else {
                "403"
            });
        let explanation = if expected {
            "anonymous listing is refused, as for any bucket that is not public"
        } else {
            "endpoint policy, bucket policy or missing key: cannot tell from here"
        };
        draft(
            "access-denied",
            if expected {
                Severity::Info
            } else {
                Severity::Warn
            },
            target,
            format!("{} answered {code}: {explanation}", target.target.host),
        )
    };
    finding.port = Some(port.port);
    finding.address = Some(port.address);
    drafts.push(finding);
}

/// A bucket the user named that S3 says does not exist (a typo, or the wrong partition).
fn missing_bucket_rule(target: &TargetEvidence, drafts: &mut Vec<Draft>) {
    if target.target.origin != Origin::User || target.target.bucket.is_none() {
        return;
    }
    let missing = target.ports.iter().find(|port| {
        port.http.as_ref().is_some_and(|http| {
            http.status == Some(404) && http.s3_error_code.as_deref() == Some("NoSuchBucket")
        })
    });
    if let Some(port) = missing {
        let mut finding = draft(
            "bucket-missing",
            Severity::Warn,
            target,
            format!(
                "S3 says bucket {} does not exist (NoSuchBucket)",
                target.target.bucket.as_deref().unwrap_or("?")
            ),
        );
        finding.port = Some(port.port);
        finding.address = Some(port.address);
        drafts.push(finding);
    }
}

/// The foreign canary object: readable means the path reaches other accounts' buckets.
fn canary_rule(target: &TargetEvidence, drafts: &mut Vec<Draft>) {
    let statuses: BTreeSet<u16> = target
        .ports
        .iter()
        .filter(|p| p.port == 443)
        .filter_map(|p| p.http.as_ref()?.status)
        .collect();
    let object = format!("{}{}", target.target.host, target.target.path);
    if statuses.contains(&200) {
        drafts.push(draft(
            "foreign-bucket-reachable",
            Severity::Warn,
            target,
            format!(
                "{object}, a public object in another account, was read: the path (and any \
                 endpoint policy on it) lets this host's traffic reach buckets of any account"
            ),
        ));
    } else if statuses.contains(&403) {
        drafts.push(draft(
            "access-denied",
            Severity::Info,
            target,
            format!(
                "{object} is public, yet it was refused: something on the path, normally the \
                 endpoint policy, keeps this host to known buckets"
            ),
        ));
    }
}

/// IPv4 and IPv6 addresses of one name that behave differently: a dual-stack client prefers
/// IPv6, so the path it takes is not the one an IPv4 test shows.
fn family_rules(target: &TargetEvidence, drafts: &mut Vec<Draft>) {
    let summary = |v6: bool| {
        let ports: BTreeSet<(u16, bool)> = target
            .ports
            .iter()
            .filter(|p| p.address.is_ipv6() == v6)
            .map(|p: &PortEvidence| (p.port, p.tcp.ok))
            .collect();
        let regions: BTreeSet<String> = target
            .dns
            .addresses
            .iter()
            .filter(|a| a.ip.is_ipv6() == v6)
            .map(|a| {
                a.aws
                    .as_ref()
                    .map_or("not AWS".to_string(), |aws| aws.region.clone())
            })
            .collect();
        (ports, regions)
    };
    let has = |v6: bool| target.dns.addresses.iter().any(|a| a.ip.is_ipv6() == v6);
    if !(has(false) && has(true)) {
        return;
    }
    let (v4, v6) = (summary(false), summary(true));
    if v4 == v6 {
        return;
    }
    let describe = |(ports, regions): &(BTreeSet<(u16, bool)>, BTreeSet<String>)| {
        let open: Vec<String> = ports
            .iter()
            .filter(|(_, ok)| *ok)
            .map(|(p, _)| p.to_string())
            .collect();
        let open = if open.is_empty() {
            "none".to_string()
        } else {
            open.join(",")
        };
        format!(
            "ports open {open}, region {}",
            regions.iter().cloned().collect::<Vec<_>>().join(",")
        )
    };
    drafts.push(draft(
        "family-mismatch",
        Severity::Warn,
        target,
        format!(
            "{}: IPv4 ({}) and IPv6 ({}) differ; dual-stack clients prefer IPv6",
            target.target.host,
            describe(&v4),
            describe(&v6)
        ),
    ));
}

/// Adds the findings drawn from path verdicts: `family-mismatch` when the IPv4 and IPv6
/// addresses of one target leave by different paths (folded into the target's existing
/// `family-mismatch` finding when there is one).
pub fn add_path_findings(
    findings: &mut Vec<Finding>,
    targets: &[TargetEvidence],
    paths: &[TargetPath],
    fail_on: &BTreeSet<String>,
) {
    for (target, path) in targets.iter().zip(paths) {
        let verdicts = |v6: bool| {
            path.addresses
                .iter()
                .filter(|a| a.address.is_ipv6() == v6)
                .map(|a| a.verdict.as_str())
                .collect::<BTreeSet<_>>()
        };
        let (v4, v6) = (verdicts(false), verdicts(true));
        if v4.is_empty() || v6.is_empty() || v4 == v6 {
            continue;
        }
        let join = |set: &BTreeSet<&str>| set.iter().copied().collect::<Vec<_>>().join(" or ");
        let paths_differ = format!("IPv4 leaves by {}, IPv6 by {}", join(&v4), join(&v6));
        let existing = findings.iter_mut().find(|f| {
            f.kind == "family-mismatch" && f.target.as_deref() == Some(target.target.name.as_str())
        });
        if let Some(finding) = existing {
            finding.message.push_str(&format!("; {paths_differ}"));
            continue;
        }
        let message = format!(
            "{}: {paths_differ}; dual-stack clients prefer IPv6, so they take the IPv6 path",
            target.target.host
        );
        findings.push(finalize(
            draft("family-mismatch", Severity::Warn, target, message),
            fail_on,
        ));
    }
}

/// True when any finding fails the run.
pub fn failing(findings: &[Finding]) -> bool {
    findings
        .iter()
        .any(|finding| finding.severity == Severity::Fail)
}

mod repos;

#[cfg(test)]
mod tests;
