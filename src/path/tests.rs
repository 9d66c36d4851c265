//! Each path rule from hand-built evidence, and the roll-up per target.

use super::*;
use crate::aws::ipranges::Attribution;
use crate::catalog::{ExpectRegion, Origin, Target};
use crate::evidence::{DnsEvidence, Failure, TcpEvidence};

const INSTANCE: &str = "198.51.100.10";
const NAT_PRIVATE: &str = "198.51.100.140";

fn host() -> HostPath {
    HostPath {
        region: Some("us-west-2".into()),
        vpc_cidrs: vec!["198.51.100.0/24".parse().unwrap()],
        own_addresses: vec![INSTANCE.parse().unwrap()],
        imds_answered: true,
        public_ipv4: None,
        echo: None,
        no_trace: None,
    }
}

fn address(ip: &str, service: Option<(&str, &str)>) -> AddressEvidence {
    let ip: IpAddr = ip.parse().unwrap();
    AddressEvidence {
        ip,
        ttl: Some(5),
        private: false,
        in_vpc: false,
        aws: service.map(|(service, region)| Attribution {
            services: vec!["AMAZON".into(), service.into()],
            prefix: IpNet::new(ip, if ip.is_ipv6() { 48 } else { 26 })
                .unwrap()
                .trunc(),
            region: region.into(),
            network_border_group: Some(region.into()),
        }),
    }
}

fn s3(ip: &str, region: &str) -> AddressEvidence {
    address(ip, Some(("S3", region)))
}

fn port(ip: &str, ok: bool) -> PortEvidence {
    PortEvidence {
        port: 443,
        address: ip.parse().unwrap(),
        tcp: TcpEvidence {
            ok,
            ms: if ok { 1.2 } else { 3000.0 },
            error: (!ok).then(|| Failure::new(FailureClass::Timeout, "no answer to the SYN")),
            local_port: Some(40_000),
        },
        tls: None,
        http: None,
        flows: None,
    }
}

fn hop(ttl: u8, ip: &str, kind: HopKind) -> Hop {
    Hop {
        ttl,
        address: ip.parse().unwrap(),
        ms: 0.4,
        kind,
    }
}

/// A trace through `via` (routers, by TTL from 1) to `destination`, when it answered.
fn trace(via: &[&str], destination: Option<&str>) -> Trace {
    let mut hops: Vec<Hop> = via
        .iter()
        .enumerate()
        .map(|(i, ip)| hop(i as u8 + 1, ip, HopKind::TimeExceeded))
        .collect();
    let reached = destination.map(|d| {
        let ttl = via.len() as u8 + 1;
        hops.push(hop(ttl, d, HopKind::Destination));
        ttl
    });
    Trace {
        hops,
        reached,
        answer: reached.map(|_| "syn-ack"),
        probes: 16,
        error: None,
    }
}

fn verdict(
    host: &HostPath,
    address: &AddressEvidence,
    ok: bool,
    trace: Option<&Trace>,
) -> AddressPath {
    let probe = port(&address.ip.to_string(), ok);
    judge_address(host, address, &[&probe], trace)
}

fn echo(seen: &str) -> Echo {
    Echo {
        url: "https://checkip.amazonaws.com/".into(),
        address: Some(seen.parse().unwrap()),
        server: Some("192.0.2.20".parse().unwrap()),
        ms: 2.0,
        error: None,
    }
}

#[test]
fn rule_1_an_address_inside_the_vpc_is_an_interface_endpoint() {
    let mut endpoint = address("198.51.100.200", None);
    endpoint.in_vpc = true;
    let path = verdict(
        &host(),
        &endpoint,
        true,
        Some(&trace(&[], Some("198.51.100.200"))),
    );
    assert_eq!(
        (path.verdict, path.confidence),
        (Verdict::InterfaceEndpoint, Confidence::High)
    );
    assert!(
        path.evidence[1].contains("inside the VPC's 198.51.100.0/24"),
        "{:?}",
        path.evidence
    );
}

#[test]
fn rule_2_silence_everywhere_is_blocked_and_cross_region_s3_is_explained() {
    let east = s3("203.0.113.74", "us-east-1");
    let path = verdict(&host(), &east, false, Some(&trace(&[], None)));
    assert_eq!(
        (path.verdict, path.confidence),
        (Verdict::Blocked, Confidence::High)
    );
    assert!(
        path.evidence
            .iter()
            .any(|e| e == "443: timeout (no answer to the SYN)")
    );
    assert!(
        path.evidence
            .iter()
            .any(|e| e == "trace: nothing answered 16 probes")
    );
    assert!(
        path.evidence.iter().any(|e| e.starts_with(
            "S3 in us-east-1 did not answer: a gateway endpoint serves its own region only"
        )),
        "{:?}",
        path.evidence
    );

    let no_trace = HostPath {
        no_trace: Some("CAP_NET_RAW is missing".into()),
        ..host()
    };
    let path = verdict(&no_trace, &east, false, None);
    assert_eq!(
        (path.verdict, path.confidence),
        (Verdict::Blocked, Confidence::Medium)
    );
    assert!(
        path.evidence
            .iter()
            .any(|e| e.contains("rests on TCP and IMDS facts only"))
    );
}

#[test]
fn rule_3_a_hop_inside_the_vpc_before_the_destination_is_a_nat_gateway() {
    let east = s3("203.0.113.74", "us-east-1");
    let through_nat = trace(&[NAT_PRIVATE], Some("203.0.113.74"));
    let path = verdict(&host(), &east, true, Some(&through_nat));
    assert_eq!(
        (path.verdict, path.confidence),
        (Verdict::Nat, Confidence::High)
    );
    assert!(path.evidence[0].starts_with("hop 1 198.51.100.140 is inside the VPC"));
    assert!(path.evidence.iter().any(|e| {
        e.starts_with("S3 in us-east-1 answered from us-west-2: not through a gateway endpoint")
    }),);
    // The NAT gateway answers the trace even when the destination stays silent.
    let path = verdict(&host(), &east, false, Some(&trace(&[NAT_PRIVATE], None)));
    assert_eq!(path.verdict, Verdict::Nat);
}

#[test]
fn neither_the_instance_nor_aws_internal_hops_are_a_nat_gateway() {
    let west = s3("203.0.113.10", "us-west-2");
    let odd = trace(
        &[INSTANCE, "100.65.12.1", "240.1.2.3"],
        Some("203.0.113.10"),
    );
    let path = verdict(&host(), &west, true, Some(&odd));
    assert_eq!(path.verdict, Verdict::GatewayEndpoint);
    assert!(
        path.evidence.iter().any(|e| e
            == "hop 2 100.65.12.1 is AWS's internal network beyond the VPC, not a NAT gateway")
    );
    assert!(
        path.evidence
            .iter()
            .any(|e| e.starts_with("hop 3 240.1.2.3 is AWS's internal"))
    );
}

#[test]
fn rule_4_in_region_s3_without_public_address_or_nat_hop_is_a_gateway_endpoint() {
    let west = s3("203.0.113.10", "us-west-2");
    let path = verdict(
        &host(),
        &west,
        true,
        Some(&trace(&[], Some("203.0.113.10"))),
    );
    assert_eq!(
        (path.verdict, path.confidence),
        (Verdict::GatewayEndpoint, Confidence::Medium)
    );
    assert!(
        path.evidence
            .iter()
            .any(|e| e == "trace: TTL 1 203.0.113.10 answered (syn-ack, 0.4 ms)")
    );

    let no_trace = HostPath {
        no_trace: Some("CAP_NET_RAW is missing".into()),
        ..host()
    };
    let path = verdict(&no_trace, &west, true, None);
    assert_eq!(
        (path.verdict, path.confidence),
        (Verdict::GatewayEndpoint, Confidence::Low)
    );
    assert!(path.evidence[0].contains("without a trace a NAT gateway cannot be ruled out"));
}

#[test]
fn rule_5_public_address_and_not_in_region_s3_is_the_internet_gateway() {
    let public = HostPath {
        public_ipv4: Some("203.0.113.150".parse().unwrap()),
        echo: Some(echo("203.0.113.150")),
        ..host()
    };
    let ranges = address("192.0.2.10", Some(("CLOUDFRONT", "GLOBAL")));
    let direct = trace(&[], Some("192.0.2.10"));
    let path = verdict(&public, &ranges, true, Some(&direct));
    assert_eq!(
        (path.verdict, path.confidence),
        (Verdict::InternetGateway, Confidence::High)
    );
    assert!(path.evidence[1].contains("saw the instance's public IPv4 203.0.113.150"));

    let translated = HostPath {
        echo: Some(echo("203.0.113.129")),
        ..public.clone()
    };
    let path = verdict(&translated, &ranges, true, Some(&direct));
    assert_eq!(
        (path.verdict, path.confidence),
        (Verdict::InternetGateway, Confidence::Low)
    );

    let unasked = HostPath {
        echo: None,
        ..public
    };
    let east = s3("203.0.113.74", "us-east-1");
    let path = verdict(
        &unasked,
        &east,
        true,
        Some(&trace(&[], Some("203.0.113.74"))),
    );
    assert_eq!(
        (path.verdict, path.confidence),
        (Verdict::InternetGateway, Confidence::Medium)
    );
}

#[test]
fn rule_6_public_address_and_in_region_s3_cannot_be_told_apart() {
    let public = HostPath {
        public_ipv4: Some("203.0.113.150".parse().unwrap()),
        echo: Some(echo("203.0.113.150")),
        ..host()
    };
    let west = s3("203.0.113.10", "us-west-2");
    let path = verdict(
        &public,
        &west,
        true,
        Some(&trace(&[], Some("203.0.113.10"))),
    );
    assert_eq!(
        (path.verdict, path.confidence),
        (Verdict::GatewayEndpointOrInternetGateway, Confidence::Low)
    );
    assert!(path.evidence[0].contains("only the route table"));
}

#[test]
fn rule_7_otherwise_unknown_and_the_echo_alone_decides_nothing() {
    let with_echo = HostPath {
        echo: Some(echo("203.0.113.129")),
        ..host()
    };
    let ranges = address("192.0.2.10", Some(("CLOUDFRONT", "GLOBAL")));
    let path = verdict(
        &with_echo,
        &ranges,
        true,
        Some(&trace(&[], Some("192.0.2.10"))),
    );
    assert_eq!(
        (path.verdict, path.confidence),
        (Verdict::Unknown, Confidence::Low)
    );
    assert!(path.evidence[1].contains("says nothing about this address's route"));

    let off_ec2 = HostPath {
        imds_answered: false,
        vpc_cidrs: Vec::new(),
        ..host()
    };
    let west = s3("203.0.113.10", "us-west-2");
    let path = verdict(
        &off_ec2,
        &west,
        true,
        Some(&trace(&[], Some("203.0.113.10"))),
    );
    assert_eq!(path.verdict, Verdict::Unknown);
    assert!(path.evidence[0].starts_with("IMDS did not answer"));
}

fn target(addresses: Vec<AddressEvidence>, ports: Vec<PortEvidence>) -> TargetEvidence {
    TargetEvidence {
        target: Target {
            name: "s3-dualstack".into(),
            host: "s3.dualstack.us-west-2.amazonaws.com".into(),
            path: "/".into(),
            origin: Origin::Catalog,
            required: false,
            expect_region: ExpectRegion::Instance,
            ports: vec![443],
            note: None,
            bucket: None,
            configured_scheme: None,
            canary: false,
        },
        name_info: None,
        dns: DnsEvidence {
            addresses,
            ms: 1.0,
            ..DnsEvidence::default()
        },
        ports,
        via_proxy: None,
    }
}

#[test]
fn a_target_rolls_up_agreeing_addresses_and_flags_disagreeing_ones() {
    let v4 = s3("203.0.113.10", "us-west-2");
    let v6 = s3("2001:db8:a::10", "us-west-2");
    let ports = vec![port("203.0.113.10", true), port("2001:db8:a::10", true)];
    let traces: BTreeMap<IpAddr, Trace> = [
        (v4.ip, trace(&[], Some("203.0.113.10"))),
        (v6.ip, trace(&[], Some("2001:db8:a::10"))),
    ]
    .into();
    let both = target(vec![v4.clone(), v6.clone()], ports.clone());
    let path = judge(&host(), &both, &traces);
    assert_eq!(
        (path.verdict, path.confidence),
        (Verdict::GatewayEndpoint, Confidence::Medium)
    );
    assert_eq!(path.traced, Some(v4.ip));
    assert_eq!(path.hops.len(), 1);
    assert_eq!(path.addresses.len(), 2);

    let mut traces = traces;
    traces.insert(v6.ip, trace(&["2001:db8:100::1"], Some("2001:db8:a::10")));
    let host = HostPath {
        vpc_cidrs: vec![
            "198.51.100.0/24".parse().unwrap(),
            "2001:db8:100::/56".parse().unwrap(),
        ],
        ..host()
    };
    let path = judge(&host, &both, &traces);
    assert_eq!(
        (path.verdict, path.confidence),
        (Verdict::Unknown, Confidence::Low)
    );
    assert_eq!(
        path.evidence[0],
        "the addresses leave by different paths: 203.0.113.10: gateway-endpoint (medium); \
         2001:db8:a::10: nat (high)"
    );

    let nothing = judge(&host, &target(Vec::new(), Vec::new()), &BTreeMap::new());
    assert_eq!(nothing.verdict, Verdict::Unknown);
}
