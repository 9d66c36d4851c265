//! Rules about the package manager's repositories: configuration problems, lists and
//! repomd.xml that could not be read and why, CDN hosts that no S3 endpoint carries, and names
//! an interface endpoint's private DNS does not cover.

use crate::check::repos::RepoEvidence;
use crate::evidence::TargetEvidence;
use crate::verdict::{Draft, Severity};
use crate::yum::Severity as ProblemSeverity;

/// Draws the repository findings.
pub(crate) fn rules(repos: &[RepoEvidence], drafts: &mut Vec<Draft>) {
    for evidence in repos {
        let repo = &evidence.repo;
        let place = Some(format!("repo:{}", repo.id));
        let mut push = |kind: &'static str, base: Severity, message: String| {
            drafts.push(Draft {
                kind,
                base,
                failable: true,
                target: place.clone(),
                port: None,
                address: None,
                message,
            });
        };

        for problem in &repo.problems {
            let base = match problem.severity {
                ProblemSeverity::Error | ProblemSeverity::Warning => Severity::Warn,
                ProblemSeverity::Info => Severity::Info,
            };
            let fix = problem
                .fix
                .as_deref()
                .map(|fix| format!(" (fix: {fix})"))
                .unwrap_or_default();
            push(
                "repo-config",
                base,
                format!("{}: {}{fix}", repo.id, problem.message),
            );
        }
        if let Some(proxy) = &repo.proxy {
            push(
                "proxy-configured",
                Severity::Warn,
                format!(
                    "{} is fetched through the proxy {proxy}: the package manager's traffic \
                     leaves there, whatever the direct probes show",
                    repo.id
                ),
            );
        }
        if evidence.mirrors.iter().any(|m| m.cdn)
            || repo
                .urls
                .iter()
                .any(|u| u.host.as_deref() == Some("cdn.amazonlinux.com"))
        {
            push(
                "needs-internet",
                Severity::Warn,
                format!(
                    "{} uses cdn.amazonlinux.com, which is CloudFront, not S3: no S3 endpoint \
                     can serve it, so it needs a NAT gateway or an internet gateway",
                    repo.id
                ),
            );
        }
        if let Some(list) = &evidence.list
            && let Some(error) = &list.error
        {
            push(
                "repo-unavailable",
                Severity::Warn,
                format!(
                    "{}: its mirror list {} could not be read: {error}",
                    repo.id, list.url
                ),
            );
        }
        if let Some((kind, base, message)) = repomd_rule(evidence) {
            push(kind, base, message);
        }
    }
}

/// What the repomd.xml answer means.
fn repomd_rule(evidence: &RepoEvidence) -> Option<(&'static str, Severity, String)> {
    let repomd = evidence.repomd.as_ref()?;
    let id = &evidence.repo.id;
    if let Some(error) = &repomd.error {
        return Some((
            "repo-unavailable",
            Severity::Warn,
            format!("{id}: {} did not answer: {error}", repomd.url),
        ));
    }
    let status = repomd.status?;
    let message = repomd.s3_error_message.as_deref().unwrap_or("");
    if status == 403 && message.contains("VPC endpoint policy") {
        return Some((
            "endpoint-policy-denied",
            Severity::Fail,
            format!(
                "{id}: S3 refused {} because of a VPC endpoint policy: {message}",
                repomd.url
            ),
        ));
    }
    let list_read = evidence
        .list
        .as_ref()
        .is_some_and(|list| list.status == Some(200));
    let releasever = evidence
        .repo
        .urls
        .first()
        .map(|url| url.expanded.clone())
        .unwrap_or_default();
    match status {
        200..=299 => None,
        403 => {
            let same_bucket = if list_read {
                " The mirror list from the same bucket was readable, so the bucket is \
                 reachable: suspect the key or a policy limited to some keys."
            } else {
                ""
            };
            Some((
                "repo-unavailable",
                Severity::Warn,
                format!(
                    "{id}: {} answered 403. The package manager's requests are anonymous, so an \
                     endpoint policy condition on the principal or account can never match them \
                     (the usual culprit); or the key does not exist, as with a wrong $releasever \
                     (the repository is configured as {releasever}).{same_bucket}",
                    repomd.url
                ),
            ))
        }
        404 => Some((
            "repo-unavailable",
            Severity::Warn,
            format!(
                "{id}: {} does not exist (404): is $releasever right? (configured as \
                 {releasever})",
                repomd.url
            ),
        )),
        other => Some((
            "repo-unavailable",
            Severity::Warn,
            format!("{id}: {} answered HTTP {other}", repomd.url),
        )),
    }
}

/// When the regional S3 name resolves into the VPC (an interface endpoint with private DNS),
/// every other in-region S3 name that still resolves to public addresses is not covered by it.
pub(crate) fn endpoint_dns_gaps(targets: &[TargetEvidence], home: &str, drafts: &mut Vec<Draft>) {
    let endpoint_in_use = targets.iter().any(|t| {
        t.target.host.starts_with("s3.")
            && t.name_info
                .as_ref()
                .is_some_and(|info| info.region.as_deref() == Some(home))
            && t.dns.addresses.iter().any(|a| a.in_vpc)
    });
    if !endpoint_in_use {
        return;
    }
    for target in targets {
        let s3_name = target
            .name_info
            .as_ref()
            .is_some_and(|info| info.form.is_s3() && info.region.as_deref() == Some(home));
        let public_s3 = target
            .dns
            .addresses
            .iter()
            .any(|a| !a.in_vpc && a.aws.as_ref().is_some_and(|aws| aws.is_s3()));
        if s3_name && public_s3 && !target.dns.addresses.iter().any(|a| a.in_vpc) {
            let form = target
                .name_info
                .as_ref()
                .map(|info| info.form.as_str())
                .unwrap_or("");
            let documented = match crate::catalog::private_dns_coverage(form) {
                Some(entry) if entry.covered => format!(
                    "AWS documents {form} names as covered (as of {}): check that private DNS \
                     is enabled for in-VPC clients, not only for inbound resolver endpoints",
                    entry.as_of
                ),
                Some(entry) => format!(
                    "AWS did not document {form} names as covered (as of {}; {})",
                    entry.as_of, entry.source
                ),
                None => format!("no dated record of {form} names and private DNS"),
            };
            drafts.push(Draft {
                kind: "endpoint-dns-gap",
                base: Severity::Warn,
                failable: true,
                target: Some(target.target.name.clone()),
                port: None,
                address: None,
                message: format!(
                    "{} resolves to public S3 addresses while s3.{home} resolves into the VPC: \
                     the interface endpoint's private DNS does not cover this name, so its \
                     traffic takes the gateway endpoint, NAT or internet gateway path instead; \
                     {documented}",
                    target.target.host
                ),
            });
        }
    }
}
