//! Hand-built reports for the tests of the output formats, the spec and merge: evidence made
//! by a small builder, then judged and turned into a report by the real code.

use std::collections::BTreeSet;
use std::net::IpAddr;

use crate::aws::ipranges::Attribution;
use crate::catalog::{ExpectRegion, Origin, Target};
use crate::evidence::{
    AddressEvidence, DnsEvidence, Failure, FailureClass, HttpEvidence, PortEvidence,
    TargetEvidence, TcpEvidence, TlsEvidence,
};
use crate::host::imds::{ImdsReport, ImdsState, InstanceFacts};
use crate::report::path::PathDto;
use crate::report::{self, CheckReport, HostExtras, IpRangesDto};
use crate::verdict::{self, HostFacts};

/// One target's evidence, built step by step.
pub struct Sample(pub TargetEvidence);

impl Sample {
    /// A catalog target with no address yet (a name that did not resolve).
    pub fn new(name: &str, host: &str) -> Sample {
        let target = Target {
            name: name.into(),
            host: host.into(),
            path: "/".into(),
            origin: Origin::Catalog,
            required: false,
            expect_region: ExpectRegion::Instance,
            ports: vec![80, 443],
            note: None,
            bucket: None,
            configured_scheme: None,
            canary: false,
        };
        let dns = DnsEvidence {
            error_v4: Some(Failure::new(FailureClass::NxDomain, "no such name")),
            ..DnsEvidence::default()
        };
        Sample(TargetEvidence {
            name_info: crate::aws::hostname::parse(host),
            target,
            dns,
            ports: Vec::new(),
            via_proxy: None,
        })
    }

    /// Marks the target required.
    pub fn required(mut self) -> Sample {
        self.0.target.required = true;
        self
    }

    /// Marks the target as configured with `http://` by a consumer.
    pub fn configured_http(mut self) -> Sample {
        self.0.target.configured_scheme = Some("http".into());
        self
    }

    /// Adds an address, attributed to `region` (None: not in ip-ranges; `vpc`: in the VPC).
    pub fn address(mut self, ip: &str, region: Option<&str>) -> Sample {
        let ip: IpAddr = ip.parse().unwrap();
        self.0.dns.error_v4 = None;
        self.0.dns.addresses.push(AddressEvidence {
            ip,
            ttl: Some(5),
            private: region == Some("vpc"),
            in_vpc: region == Some("vpc"),
            aws: region.filter(|r| *r != "vpc").map(|region| Attribution {
                services: vec!["AMAZON".into(), "S3".into()],
                prefix: if ip.is_ipv4() {
                    "203.0.113.0/24"
                } else {
                    "2001:db8::/32"
                }
                .parse()
                .unwrap(),
                region: region.into(),
                network_border_group: Some(region.into()),
            }),
        });
        self
    }

    /// Adds a probe of `port` on `ip`: answered with `status`, or timed out when None.
    pub fn port(mut self, port: u16, ip: &str, status: Option<u16>) -> Sample {
        let address: IpAddr = ip.parse().unwrap();
        let ok = status.is_some();
        self.0.ports.push(PortEvidence {
            port,
            address,
            tcp: TcpEvidence {
                ok,
                ms: if ok { 1.2 } else { 3000.0 },
                error: (!ok).then(|| Failure::new(FailureClass::Timeout, "no answer")),
                local_port: None,
            },
            tls: (ok && port == 443).then(|| TlsEvidence {
                ok: true,
                sni: self.0.target.host.clone(),
                version: Some("TLSv1_3".into()),
                ..TlsEvidence::default()
            }),
            http: status.map(|status| HttpEvidence {
                status: Some(status),
                ..HttpEvidence::default()
            }),
            flows: None,
        });
        self
    }
}

/// A report for a host in `region` over `samples`, judged with the default `--fail-on`.
pub fn report(region: Option<&str>, samples: Vec<Sample>) -> CheckReport {
    let evidence: Vec<TargetEvidence> = samples.into_iter().map(|s| s.0).collect();
    let fail_on: BTreeSet<String> = verdict::DEFAULT_FAIL_ON
        .iter()
        .map(|k| k.to_string())
        .collect();
    let findings = verdict::judge(
        &HostFacts {
            region: region.map(Into::into),
            proxy_env: Vec::new(),
        },
        &evidence,
        &fail_on,
    );
    let exit_code = u8::from(verdict::failing(&findings));
    let imds = ImdsReport {
        state: ImdsState::Ok,
        facts: InstanceFacts {
            region: region.map(Into::into),
            instance_id: Some("i-0123456789abcdef0".into()),
            ami_id: Some("ami-0abcdef1234567890".into()),
            subnet_id: Some("subnet-0a1b2c3d".into()),
            vpc_id: Some("vpc-0a1b2c3d".into()),
            ..InstanceFacts::default()
        },
        problems: Vec::new(),
        endpoint: "http://169.254.169.254".into(),
    };
    let extras = HostExtras {
        region: region.map(Into::into),
        region_source: "imds",
        domain: "amazonaws.com".into(),
        resolvers: Vec::new(),
        proxy_env: Vec::new(),
    };
    CheckReport {
        schema_version: report::SCHEMA_VERSION,
        tool_version: "0.1.0",
        generated_at: "2026-12-03T10:00:00Z".into(),
        duration_ms: 2500.0,
        host: report::host_dto(&imds, &extras),
        ip_ranges: IpRangesDto {
            source: "file",
            path: None,
            sync_token: Some("1764504000".into()),
            create_date: Some("2026-11-30-12-00-00".into()),
            age_seconds: Some(86_400),
            lacks: Vec::new(),
            problems: Vec::new(),
        },
        targets: evidence
            .iter()
            .map(|t| report::target_dto(t, region))
            .collect(),
        findings: report::finding_dtos(&findings),
        repos: Vec::new(),
        skipped: Vec::new(),
        capture: report::path::capture_dto(&crate::capture::Summary::default(), 0),
        trace: report::path::trace_run_dto(&crate::probe::trace::Run::default()),
        egress_echo: report::path::echo_dto(None, None),
        summary: report::summary(
            evidence.len(),
            &findings,
            fail_on.into_iter().collect(),
            exit_code,
        ),
        spec: None,
    }
}

/// Gives the target `name` of `report` a path verdict.
pub fn set_path(report: &mut CheckReport, name: &str, verdict: &'static str) {
    let target = report.targets.iter_mut().find(|t| t.name == name).unwrap();
    target.path = Some(PathDto {
        verdict,
        confidence: "high",
        evidence: vec!["route table".into()],
        traced_address: None,
        hops: Vec::new(),
        addresses: Vec::new(),
    });
}

/// A host in us-west-2: the regional S3 name answers, a repository name resolves into
/// us-east-1 and answers, a bucket of the user's does not answer on 443 (a failing finding),
/// and an internal mirror configured with http:// answers on 80.
pub fn mixed() -> CheckReport {
    report(
        Some("us-west-2"),
        vec![
            Sample::new("s3-regional", "s3.us-west-2.amazonaws.com")
                .required()
                .address("203.0.113.10", Some("us-west-2"))
                .port(443, "203.0.113.10", Some(307))
                .port(80, "203.0.113.10", Some(307)),
            Sample::new(
                "al2023-repo",
                "al2023-repos-us-west-2-de612dc2.s3.dualstack.us-west-2.amazonaws.com",
            )
            .address("203.0.113.80", Some("us-east-1"))
            .port(443, "203.0.113.80", Some(403)),
            Sample::new("bucket:artifacts", "artifacts.s3.us-west-2.amazonaws.com")
                .required()
                .address("203.0.113.11", Some("us-west-2"))
                .port(443, "203.0.113.11", None),
            Sample::new("mirror", "mirror.internal.example")
                .configured_http()
                .address("192.0.2.5", None)
                .port(80, "192.0.2.5", Some(200))
                .port(443, "192.0.2.5", Some(200)),
            Sample::new("sts-regional", "sts.us-west-2.amazonaws.com"),
        ],
    )
}
