//! Each rule from hand-built evidence.

use super::*;
use crate::aws::ipranges::Attribution;
use crate::catalog::{Origin, Target};
use crate::evidence::{
    AddressEvidence, DnsEvidence, Failure, FailureClass, HttpEvidence, PortEvidence, TcpEvidence,
    TlsEvidence,
};

fn target(name: &str, host: &str, expect: ExpectRegion) -> Target {
    Target {
        name: name.into(),
        host: host.into(),
        path: "/".into(),
        origin: Origin::Catalog,
        required: name == "s3-regional",
        expect_region: expect,
        ports: vec![80, 443],
        note: None,
        bucket: None,
        configured_scheme: None,
        canary: false,
    }
}

fn address(ip: &str, region: &str) -> AddressEvidence {
    AddressEvidence {
        ip: ip.parse().unwrap(),
        ttl: Some(5),
        private: false,
        in_vpc: false,
        aws: Some(Attribution {
            services: vec!["AMAZON".into(), "S3".into()],
            prefix: if ip.contains(':') {
                "2001:db8::/32".parse().unwrap()
            } else {
                "203.0.113.0/24".parse().unwrap()
            },
            region: region.into(),
            network_border_group: Some(region.into()),
        }),
    }
}

fn port(ip: &str, port: u16, ok: bool, status: Option<u16>) -> PortEvidence {
    PortEvidence {
        port,
        address: ip.parse().unwrap(),
        tcp: TcpEvidence {
            ok,
            ms: 1.0,
            error: (!ok).then(|| Failure::new(FailureClass::Timeout, "no answer")),
            local_port: None,
        },
        tls: (port == 443 && ok).then(|| TlsEvidence {
            ok: true,
            ..TlsEvidence::default()
        }),
        http: status.map(|status| HttpEvidence {
            status: Some(status),
            ..HttpEvidence::default()
        }),
        flows: None,
    }
}

fn evidence(
    target: Target,
    addresses: Vec<AddressEvidence>,
    ports: Vec<PortEvidence>,
) -> TargetEvidence {
    TargetEvidence {
        name_info: None,
        target,
        dns: DnsEvidence {
            addresses,
            ..DnsEvidence::default()
        },
        ports,
        via_proxy: None,
    }
}

fn home() -> HostFacts {
    HostFacts {
        region: Some("us-west-2".into()),
        proxy_env: Vec::new(),
    }
}

fn defaults() -> BTreeSet<String> {
    DEFAULT_FAIL_ON.iter().map(|k| k.to_string()).collect()
}

fn kinds(findings: &[Finding]) -> Vec<(&str, Severity)> {
    findings.iter().map(|f| (f.kind, f.severity)).collect()
}

#[test]
fn healthy_in_region_target_only_notes_port_80() {
    let t = evidence(
        target(
            "s3-regional",
            "s3.us-west-2.amazonaws.com",
            ExpectRegion::Instance,
        ),
        vec![address("203.0.113.10", "us-west-2")],
        vec![
            port("203.0.113.10", 80, true, Some(307)),
            port("203.0.113.10", 443, true, Some(307)),
        ],
    );
    let findings = judge(&home(), &[t], &defaults());
    assert_eq!(kinds(&findings), [("port-80-open", Severity::Info)]);
    assert!(!failing(&findings));
}

#[test]
fn global_name_in_another_region_is_information_when_expected() {
    let t = evidence(
        target("s3-global", "s3.amazonaws.com", ExpectRegion::Any),
        vec![address("203.0.113.74", "us-east-1")],
        vec![port("203.0.113.74", 443, true, Some(307))],
    );
    let findings = judge(&home(), std::slice::from_ref(&t), &defaults());
    assert_eq!(kinds(&findings), [("cross-region", Severity::Info)]);
    assert!(findings[0].message.contains("us-east-1"));

    let mut user = t;
    user.target.expect_region = ExpectRegion::Instance;
    let chosen: BTreeSet<String> = ["cross-region".to_string()].into();
    let findings = judge(&home(), &[user], &chosen);
    assert_eq!(kinds(&findings), [("cross-region", Severity::Fail)]);
}

#[test]
fn global_region_is_never_cross_region() {
    let t = evidence(
        target(
            "ip-ranges",
            "ip-ranges.amazonaws.com",
            ExpectRegion::Instance,
        ),
        vec![address("192.0.2.10", "GLOBAL")],
        vec![port("192.0.2.10", 443, true, Some(200))],
    );
    assert!(judge(&home(), &[t], &defaults()).is_empty());
}

#[test]
fn silent_port_443_on_a_required_target_fails_and_silent_80_is_good_news() {
    let t = evidence(
        target(
            "s3-regional",
            "s3.us-west-2.amazonaws.com",
            ExpectRegion::Instance,
        ),
        vec![address("203.0.113.10", "us-west-2")],
        vec![
            port("203.0.113.10", 80, false, None),
            port("203.0.113.10", 443, false, None),
        ],
    );
    let findings = judge(&home(), &[t], &defaults());
    assert_eq!(kinds(&findings), [("unreachable", Severity::Fail)]);
    assert!(findings[0].message.contains("timeout"));

    let only_80_dropped = evidence(
        target(
            "s3-regional",
            "s3.us-west-2.amazonaws.com",
            ExpectRegion::Instance,
        ),
        vec![address("203.0.113.10", "us-west-2")],
        vec![
            port("203.0.113.10", 80, false, None),
            port("203.0.113.10", 443, true, Some(307)),
        ],
    );
    assert!(judge(&home(), &[only_80_dropped], &defaults()).is_empty());
}

#[test]
fn endpoint_policy_message_fails_and_bare_access_denied_warns_for_user_buckets() {
    let mut denied = port("203.0.113.10", 443, true, Some(403));
    let http = denied.http.as_mut().unwrap();
    http.s3_error_code = Some("AccessDenied".into());
    http.s3_error_message = Some(
        "User: x is not authorized to perform: s3:ListBucket because no VPC endpoint policy allows the s3:ListBucket action".into(),
    );
    let mut bucket = target(
        "bucket:b",
        "b.s3.us-west-2.amazonaws.com",
        ExpectRegion::Instance,
    );
    bucket.origin = Origin::User;
    let t = evidence(
        bucket.clone(),
        vec![address("203.0.113.10", "us-west-2")],
        vec![denied.clone()],
    );
    let findings = judge(&home(), &[t], &defaults());
    assert_eq!(
        kinds(&findings),
        [("endpoint-policy-denied", Severity::Fail)]
    );

    denied.http.as_mut().unwrap().s3_error_message = Some("Access Denied".into());
    let t = evidence(
        bucket,
        vec![address("203.0.113.10", "us-west-2")],
        vec![denied],
    );
    let findings = judge(&home(), &[t], &defaults());
    assert_eq!(kinds(&findings), [("access-denied", Severity::Warn)]);
    assert!(findings[0].message.contains("cannot tell from here"));
}

#[test]
fn http_configured_consumer_is_plaintext() {
    let mut repo = target(
        "repo",
        "amazonlinux.us-west-2.amazonaws.com",
        ExpectRegion::Instance,
    );
    repo.origin = Origin::Yum;
    repo.configured_scheme = Some("http".into());
    let t = evidence(
        repo,
        vec![address("203.0.113.10", "us-west-2")],
        vec![
            port("203.0.113.10", 80, true, Some(200)),
            port("203.0.113.10", 443, true, Some(200)),
        ],
    );
    let findings = judge(&home(), &[t], &defaults());
    assert_eq!(kinds(&findings), [("plaintext", Severity::Fail)]);
    let none: BTreeSet<String> = BTreeSet::new();
    let t2 = judge(&home(), &[], &none);
    assert!(t2.is_empty());
}

#[test]
fn redirect_to_another_bucket_region_is_cross_region() {
    let mut moved = port("203.0.113.10", 443, true, Some(301));
    moved.http.as_mut().unwrap().bucket_region = Some("eu-west-1".into());
    let mut bucket = target(
        "bucket:b",
        "b.s3.us-west-2.amazonaws.com",
        ExpectRegion::Instance,
    );
    bucket.origin = Origin::User;
    let t = evidence(
        bucket,
        vec![address("203.0.113.10", "us-west-2")],
        vec![moved],
    );
    let findings = judge(&home(), &[t], &defaults());
    assert_eq!(kinds(&findings), [("cross-region", Severity::Warn)]);
    assert!(findings[0].message.contains("eu-west-1"));
}

#[test]
fn ipv6_blocked_while_ipv4_works_is_a_family_mismatch() {
    let t = evidence(
        target(
            "s3-dualstack",
            "s3.dualstack.us-west-2.amazonaws.com",
            ExpectRegion::Instance,
        ),
        vec![
            address("203.0.113.10", "us-west-2"),
            address("2001:db8:a::10", "us-west-2"),
        ],
        vec![
            port("203.0.113.10", 443, true, Some(307)),
            port("2001:db8:a::10", 443, false, None),
        ],
    );
    let findings = judge(&home(), &[t], &defaults());
    assert_eq!(kinds(&findings), [("family-mismatch", Severity::Warn)]);
    assert!(findings[0].message.contains("IPv6 (ports open none"));
}

#[test]
fn dns_failure_and_proxy_variables() {
    let mut t = evidence(
        target(
            "s3-regional",
            "s3.us-west-2.amazonaws.com",
            ExpectRegion::Instance,
        ),
        vec![],
        vec![],
    );
    t.dns.error_v4 = Some(Failure::new(FailureClass::Timeout, "no answer"));
    let host = HostFacts {
        proxy_env: vec!["HTTPS_PROXY=http://proxy:3128".into()],
        ..home()
    };
    let findings = judge(&host, &[t], &defaults());
    assert_eq!(
        kinds(&findings),
        [
            ("proxy-configured", Severity::Warn),
            ("dns-failure", Severity::Warn),
            ("unreachable", Severity::Fail)
        ]
    );
    assert!(findings[1].message.contains("timeout"));
}

/// An HTTP flow as capture reports it: `GET target` with Host `host`, answered `status`.
fn http_flow(ip: &str, target: &str, host: &str, status: u16) -> crate::capture::flows::Flow {
    use crate::capture::dissect::{Dissection, Request, Response};
    use crate::capture::flows::{Flow, Side};
    Flow {
        local: "198.51.100.10:40000".parse().unwrap(),
        remote: format!("{ip}:80").parse().unwrap(),
        out: Side {
            packets: 4,
            bytes: 80,
            dissection: Dissection::Request(Request {
                method: "GET".into(),
                target: Some(target.into()),
                host: Some(host.into()),
                complete: true,
            }),
            ..Side::default()
        },
        inbound: Side {
            packets: 3,
            bytes: 200,
            dissection: Dissection::Response(Response {
                status,
                reason: None,
                complete: true,
            }),
            ..Side::default()
        },
        handshake_ms: Some(0.3),
        reply_ttl: Some(64),
        reset: false,
    }
}

#[test]
fn plaintext_rests_on_the_bytes_seen_when_capture_ran() {
    let mut repo = target(
        "repo",
        "amazonlinux.us-west-2.amazonaws.com",
        ExpectRegion::Instance,
    );
    repo.configured_scheme = Some("http".into());
    let mut seen = port("203.0.113.10", 80, true, Some(200));
    let flow = http_flow(
        "203.0.113.10",
        "/2/core/latest/x86_64/mirror.list",
        "amazonlinux.us-west-2.amazonaws.com",
        200,
    );
    seen.flows = Some(vec![flow]);
    let tls = port("203.0.113.10", 443, true, Some(200));
    let t = evidence(
        repo.clone(),
        vec![address("203.0.113.10", "us-west-2")],
        vec![seen.clone(), tls.clone()],
    );
    let findings = judge(&home(), &[t], &defaults());
    assert_eq!(kinds(&findings), [("plaintext", Severity::Fail)]);
    assert_eq!(
        findings[0].message,
        "amazonlinux.us-west-2.amazonaws.com is configured with http:// and readable HTTP went \
         over the wire to 203.0.113.10 (an AWS address (AMAZON+S3 us-west-2)): `GET \
         /2/core/latest/x86_64/mirror.list` with Host amazonlinux.us-west-2.amazonaws.com, \
         answered 200; requests and answers travel in clear"
    );

    // Capture ran but missed the flow; without capture it could not look.
    for (flows, why) in [
        (
            Some(Vec::new()),
            "(the exchange was not seen on the wire (capture missed it))",
        ),
        (None, "(not seen on the wire: no capture)"),
    ] {
        let mut open = seen.clone();
        open.flows = flows;
        let t = evidence(
            repo.clone(),
            vec![address("203.0.113.10", "us-west-2")],
            vec![open, tls.clone()],
        );
        let findings = judge(&home(), &[t], &defaults());
        assert!(
            findings[0].message.ends_with(why),
            "{}",
            findings[0].message
        );
    }
}

#[test]
fn differing_path_verdicts_across_families_are_a_family_mismatch() {
    use crate::path::{AddressPath, Confidence, TargetPath, Verdict};
    let dual = evidence(
        target(
            "s3-dualstack",
            "s3.dualstack.us-east-1.amazonaws.com",
            ExpectRegion::Any,
        ),
        vec![
            address("203.0.113.74", "us-east-1"),
            address("2001:db8:b::10", "us-east-1"),
        ],
        vec![
            port("203.0.113.74", 443, true, Some(307)),
            port("2001:db8:b::10", 443, true, Some(307)),
        ],
    );
    let address_path = |ip: &str, verdict| AddressPath {
        address: ip.parse().unwrap(),
        verdict,
        confidence: Confidence::High,
        evidence: Vec::new(),
        trace: None,
    };
    let path = TargetPath {
        verdict: Verdict::Unknown,
        confidence: Confidence::Low,
        evidence: Vec::new(),
        traced: None,
        hops: Vec::new(),
        addresses: vec![
            address_path("203.0.113.74", Verdict::Nat),
            address_path("2001:db8:b::10", Verdict::InternetGateway),
        ],
    };
    let mut findings = judge(&home(), std::slice::from_ref(&dual), &defaults());
    assert_eq!(kinds(&findings), [("cross-region", Severity::Info)]);
    add_path_findings(
        &mut findings,
        std::slice::from_ref(&dual),
        std::slice::from_ref(&path),
        &defaults(),
    );
    assert_eq!(kinds(&findings)[1], ("family-mismatch", Severity::Warn));
    assert_eq!(
        findings[1].message,
        "s3.dualstack.us-east-1.amazonaws.com: IPv4 leaves by nat, IPv6 by internet-gateway; \
         dual-stack clients prefer IPv6, so they take the IPv6 path"
    );

    // A target that already has one gets the paths added to it, not a second finding.
    let failing_v6 = evidence(
        dual.target.clone(),
        dual.dns.addresses.clone(),
        vec![
            port("203.0.113.74", 443, true, Some(307)),
            port("2001:db8:b::10", 443, false, None),
        ],
    );
    let fail_on: BTreeSet<String> = ["family-mismatch".to_string()].into();
    let mut findings = judge(&home(), std::slice::from_ref(&failing_v6), &fail_on);
    add_path_findings(&mut findings, &[failing_v6], &[path], &fail_on);
    let mismatch: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.kind == "family-mismatch")
        .collect();
    assert_eq!(mismatch.len(), 1);
    assert_eq!(mismatch[0].severity, Severity::Fail);
    assert!(
        mismatch[0]
            .message
            .ends_with("; IPv4 leaves by nat, IPv6 by internet-gateway"),
        "{}",
        mismatch[0].message
    );
}

/// A required regional S3 target whose port 443 connected but whose TLS failed with `class`.
fn tls_failed(class: FailureClass, detail: &str) -> TargetEvidence {
    let mut failed = port("203.0.113.10", 443, true, None);
    failed.tls = Some(TlsEvidence {
        ok: false,
        error: Some(Failure::new(class, detail)),
        ..TlsEvidence::default()
    });
    evidence(
        target(
            "s3-regional",
            "s3.us-west-2.amazonaws.com",
            ExpectRegion::Instance,
        ),
        vec![address("203.0.113.10", "us-west-2")],
        vec![failed],
    )
}

#[test]
fn handshake_cut_by_the_run_deadline_is_unreachable_not_a_pass() {
    let t = tls_failed(FailureClass::RunDeadline, "the handshake did not finish");
    let findings = judge(&home(), &[t], &defaults());
    assert_eq!(
        kinds(&findings),
        [
            ("unreachable", Severity::Fail),
            ("tls-failure", Severity::Warn)
        ]
    );
    assert!(
        findings[0]
            .message
            .contains("stopped by the run's --timeout"),
        "{}",
        findings[0].message
    );
    assert!(findings[1].message.contains("--timeout"));
}

#[test]
fn certificate_refusal_is_a_tls_failure_not_unreachable() {
    let t = tls_failed(FailureClass::Tls, "invalid peer certificate: UnknownIssuer");
    let findings = judge(&home(), &[t], &defaults());
    assert_eq!(kinds(&findings), [("tls-failure", Severity::Warn)]);
}

#[test]
fn a_user_bucket_that_does_not_exist_is_said_once() {
    let mut missing = port("203.0.113.10", 443, true, Some(404));
    missing.http.as_mut().unwrap().s3_error_code = Some("NoSuchBucket".into());
    let mut bucket = target(
        "bucket:typo",
        "typo.s3.us-west-2.amazonaws.com",
        ExpectRegion::Instance,
    );
    bucket.origin = Origin::User;
    bucket.bucket = Some("typo".into());
    let t = evidence(
        bucket,
        vec![address("203.0.113.10", "us-west-2")],
        vec![missing],
    );
    let findings = judge(&home(), &[t], &defaults());
    assert_eq!(kinds(&findings), [("bucket-missing", Severity::Warn)]);
}
