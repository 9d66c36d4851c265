//! The report's DTOs against the committed schema, from hand-built evidence.

use super::*;
use crate::aws::ipranges::Attribution;
use crate::catalog::{ExpectRegion, Origin, Target};
use crate::evidence::{
    AddressEvidence, DnsEvidence, FailureClass, HttpEvidence, TcpEvidence, TlsEvidence,
};
use crate::host::imds::{ImdsState, InstanceFacts};

/// A report with every optional block filled, so the schema sees every shape.
fn full_report() -> CheckReport {
    let target = Target {
        name: "s3-regional".into(),
        host: "s3.us-west-2.amazonaws.com".into(),
        path: "/".into(),
        origin: Origin::Catalog,
        required: true,
        expect_region: ExpectRegion::Instance,
        ports: vec![80, 443],
        note: Some("n".into()),
        bucket: None,
        configured_scheme: None,
        canary: false,
    };
    let ip = "203.0.113.10".parse().unwrap();
    let evidence = TargetEvidence {
        via_proxy: None,
        name_info: crate::aws::hostname::parse(&target.host),
        target,
        dns: DnsEvidence {
            server: Some("198.51.100.2".parse().unwrap()),
            addresses: vec![AddressEvidence {
                ip,
                ttl: Some(5),
                private: false,
                in_vpc: false,
                aws: Some(Attribution {
                    services: vec!["S3".into()],
                    prefix: "203.0.113.0/27".parse().unwrap(),
                    region: "us-west-2".into(),
                    network_border_group: Some("us-west-2".into()),
                }),
            }],
            ..DnsEvidence::default()
        },
        ports: vec![
            PortEvidence {
                port: 443,
                address: ip,
                tcp: TcpEvidence {
                    ok: true,
                    ms: 1.5,
                    error: None,
                    local_port: Some(40_000),
                },
                tls: Some(TlsEvidence {
                    ok: true,
                    sni: "s3".into(),
                    ..TlsEvidence::default()
                }),
                http: Some(HttpEvidence {
                    status: Some(403),
                    ..HttpEvidence::default()
                }),
                flows: Some(vec![tls_flow()]),
            },
            PortEvidence {
                port: 80,
                address: ip,
                tcp: TcpEvidence {
                    ok: false,
                    ms: 3000.0,
                    error: Some(Failure::new(FailureClass::Timeout, "no answer")),
                    local_port: None,
                },
                tls: None,
                http: None,
                flows: None,
            },
        ],
    };
    let imds = ImdsReport {
        state: ImdsState::Ok,
        facts: InstanceFacts {
            region: Some("us-west-2".into()),
            ..InstanceFacts::default()
        },
        problems: Vec::new(),
        endpoint: "http://169.254.169.254".into(),
    };
    let extras = HostExtras {
        region: Some("us-west-2".into()),
        region_source: "imds",
        domain: "amazonaws.com".into(),
        resolvers: vec!["198.51.100.2".parse().unwrap()],
        proxy_env: Vec::new(),
    };
    let host_path = crate::path::HostPath {
        region: Some("us-west-2".into()),
        vpc_cidrs: vec!["198.51.100.0/24".parse().unwrap()],
        imds_answered: true,
        ..crate::path::HostPath::default()
    };
    let trace = crate::probe::trace::Trace {
        hops: vec![crate::probe::trace::Hop {
            ttl: 1,
            address: ip,
            ms: 0.3,
            kind: crate::probe::trace::HopKind::Destination,
        }],
        reached: Some(1),
        answer: Some("syn-ack"),
        probes: 2,
        error: None,
    };
    let judged = crate::path::judge(&host_path, &evidence, &[(ip, trace)].into());
    let mut target = target_dto(&evidence, Some("us-west-2"));
    target.path = Some(path::path_dto(&judged, &host_path.vpc_cidrs));
    let findings = crate::verdict::judge(
        &crate::verdict::HostFacts {
            region: Some("us-west-2".into()),
            proxy_env: vec![],
        },
        std::slice::from_ref(&evidence),
        &Default::default(),
    );
    CheckReport {
        schema_version: SCHEMA_VERSION,
        tool_version: "0",
        generated_at: "2026-12-03T00:00:00Z".into(),
        duration_ms: 1.0,
        host: host_dto(&imds, &extras),
        ip_ranges: IpRangesDto {
            source: "file",
            path: None,
            sync_token: Some("1".into()),
            create_date: None,
            age_seconds: Some(3),
            lacks: vec![],
            problems: vec![],
        },
        targets: vec![target],
        findings: finding_dtos(&findings),
        repos: vec![],
        skipped: vec![],
        capture: path::capture_dto(
            &crate::capture::Summary {
                ran: true,
                interfaces: vec!["eth0".into()],
                frames_seen: 40,
                frames_kept: 12,
                dropped_kernel: Some(0),
                flows: 2,
                ..crate::capture::Summary::default()
            },
            1,
        ),
        trace: path::trace_run_dto(&crate::probe::trace::Run {
            ran: true,
            addresses: 1,
            ..crate::probe::trace::Run::default()
        }),
        egress_echo: path::echo_dto(None, None),
        summary: summary(1, &findings, vec![], 0),
        spec: None,
    }
}

/// A TLS flow as capture reports it.
fn tls_flow() -> crate::capture::flows::Flow {
    use crate::capture::dissect::{ClientHello, Dissection, ServerHello};
    use crate::capture::flows::{Flow, Side};
    Flow {
        local: "198.51.100.10:40000".parse().unwrap(),
        remote: "203.0.113.10:443".parse().unwrap(),
        out: Side {
            packets: 6,
            bytes: 700,
            dissection: Dissection::ClientHello(ClientHello {
                sni: Some("s3.us-west-2.amazonaws.com".into()),
                versions: vec!["TLSv1_3".into(), "TLSv1_2".into()],
                alpn: vec!["http/1.1".into()],
                complete: true,
            }),
            first_bytes: 700,
            segments: 2,
            gap: false,
        },
        inbound: Side {
            packets: 5,
            bytes: 3000,
            dissection: Dissection::ServerHello(ServerHello {
                version: "TLSv1_3".into(),
                alpn: None,
                complete: true,
            }),
            first_bytes: 3000,
            segments: 1,
            gap: false,
        },
        handshake_ms: Some(0.4),
        reply_ttl: Some(63),
        reset: false,
    }
}

#[test]
fn hand_built_report_matches_the_committed_schema() {
    let schema: serde_json::Value = serde_json::from_str(SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let report: serde_json::Value = serde_json::from_str(&full_report().to_json()).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(report["targets"][0]["region_source"], "ip-ranges");
    assert_eq!(report["targets"][0]["cross_region"], false);
    assert_eq!(report["targets"][0]["ports"][1]["tcp"]["error"], "timeout");
    assert!(report["host"]["public_ipv4"].is_null());
    let target = &report["targets"][0];
    assert_eq!(target["request_path"], "/");
    assert_eq!(target["path"]["verdict"], "gateway-endpoint");
    assert_eq!(target["path"]["confidence"], "medium");
    assert_eq!(target["path"]["hops"][0]["kind"], "destination");
    let flow = &target["ports"][0]["flows"][0];
    assert_eq!(
        flow["out"]["dissection"]["sni"],
        "s3.us-west-2.amazonaws.com"
    );
    assert_eq!(flow["in"]["dissection"]["version"], "TLSv1_3");
    assert!(target["ports"][1]["flows"].is_null());
    assert_eq!(report["capture"]["unmatched_flows"], 1);
    assert_eq!(report["egress_echo"]["asked"], false);
}

#[test]
fn schema_rejects_a_renamed_field() {
    let schema: serde_json::Value = serde_json::from_str(SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut report: serde_json::Value = serde_json::from_str(&full_report().to_json()).unwrap();
    let host = report["host"].as_object_mut().unwrap();
    let value = host.remove("on_ec2").unwrap();
    host.insert("onEc2".into(), value);
    assert!(!validator.is_valid(&report));
}
