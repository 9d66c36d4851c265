//! Path verdicts: which way each address's traffic leaves the VPC (interface endpoint, gateway
//! endpoint, NAT gateway, internet gateway) or that it does not leave at all, how sure that is,
//! and the evidence it rests on.
//!
//! Pure functions of the evidence: the rules run in order and the first that matches decides.
//! The echo service's answer describes the route to the echo service only, never by itself the
//! route to an address.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;

use crate::evidence::{AddressEvidence, FailureClass, PortEvidence, TargetEvidence};
use crate::probe::echo::Echo;
use crate::probe::trace::{Hop, HopKind, Trace};

/// Which way traffic to an address leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// The address is inside the VPC: an interface endpoint's network interface.
    InterfaceEndpoint,
    /// Nothing answered: dropped on the way.
    Blocked,
    /// Through a NAT gateway, whose private address answered the trace.
    Nat,
    /// Through a gateway endpoint: in-region S3 without a public address or a NAT hop.
    GatewayEndpoint,
    /// Through the internet gateway with the instance's public address.
    InternetGateway,
    /// In-region S3 from an instance with a public address: both look alike from the host.
    GatewayEndpointOrInternetGateway,
    /// None of the rules decides.
    Unknown,
}

impl Verdict {
    /// The value written in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::InterfaceEndpoint => "interface-endpoint",
            Verdict::Blocked => "blocked",
            Verdict::Nat => "nat",
            Verdict::GatewayEndpoint => "gateway-endpoint",
            Verdict::InternetGateway => "internet-gateway",
            Verdict::GatewayEndpointOrInternetGateway => "gateway-endpoint-or-internet-gateway",
            Verdict::Unknown => "unknown",
        }
    }
}

/// How sure a verdict is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Confidence {
    /// A guess the evidence allows.
    Low,
    /// What the evidence points to, with one alternative it cannot rule out.
    Medium,
    /// What the evidence shows.
    High,
}

impl Confidence {
    /// The value written in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

/// The host facts the rules need.
#[derive(Debug, Clone, Default)]
pub struct HostPath {
    /// The instance's region.
    pub region: Option<String>,
    /// The VPC's CIDR blocks (IMDS).
    pub vpc_cidrs: Vec<IpNet>,
    /// The instance's own addresses, never taken for a NAT hop.
    pub own_addresses: Vec<IpAddr>,
    /// IMDS answered, so a missing public IPv4 means the instance has none.
    pub imds_answered: bool,
    /// The instance's public IPv4 (IMDS).
    pub public_ipv4: Option<Ipv4Addr>,
    /// What the echo service said, when it was asked.
    pub echo: Option<Echo>,
    /// Why no trace ran, when none did.
    pub no_trace: Option<String>,
}

/// The verdict for one address.
#[derive(Debug, Clone, PartialEq)]
pub struct AddressPath {
    /// The address.
    pub address: IpAddr,
    /// Which way it leaves.
    pub verdict: Verdict,
    /// How sure that is.
    pub confidence: Confidence,
    /// Why: the deciding reason first, then the facts.
    pub evidence: Vec<String>,
    /// The trace of the address, when one ran.
    pub trace: Option<Trace>,
}

/// The verdict for a target, rolled up from its addresses.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetPath {
    /// Which way it leaves (`unknown` when its addresses disagree).
    pub verdict: Verdict,
    /// How sure that is (the least sure address).
    pub confidence: Confidence,
    /// Why.
    pub evidence: Vec<String>,
    /// The address whose trace is shown.
    pub traced: Option<IpAddr>,
    /// Its trace hops.
    pub hops: Vec<Hop>,
    /// Every address's own verdict.
    pub addresses: Vec<AddressPath>,
}

/// AWS's own address space beyond a VPC that shows up in traces: never a NAT gateway.
const AWS_INTERNAL: [&str; 2] = ["100.64.0.0/10", "240.0.0.0/4"];

/// Judges every address of a target and rolls the verdicts up.
pub fn judge(
    host: &HostPath,
    target: &TargetEvidence,
    traces: &BTreeMap<IpAddr, Trace>,
) -> TargetPath {
    let addresses: Vec<AddressPath> = target
        .dns
        .addresses
        .iter()
        .map(|address| {
            let ports: Vec<&PortEvidence> = target
                .ports
                .iter()
                .filter(|p| p.address == address.ip)
                .collect();
            judge_address(host, address, &ports, traces.get(&address.ip))
        })
        .collect();
    roll_up(addresses)
}

/// Judges one address from its attribution, its port probes and its trace.
pub fn judge_address(
    host: &HostPath,
    address: &AddressEvidence,
    ports: &[&PortEvidence],
    trace: Option<&Trace>,
) -> AddressPath {
    let facts = Facts::new(host, address, ports, trace);
    let (verdict, confidence, mut evidence) = decide(host, &facts);
    evidence.extend(facts.notes(host));
    AddressPath {
        address: address.ip,
        verdict,
        confidence,
        evidence,
        trace: trace.filter(|t| t.error.is_none()).cloned(),
    }
}

/// What the rules look at, gathered once.
struct Facts<'a> {
    address: &'a AddressEvidence,
    ports: &'a [&'a PortEvidence],
    /// The trace, when it ran.
    trace: Option<&'a Trace>,
    /// The first hop inside the VPC, other than the instance, before the destination.
    vpc_hop: Option<&'a Hop>,
    in_region_s3: bool,
    /// None when 443 was not probed.
    tcp_answered: Option<bool>,
}

impl<'a> Facts<'a> {
    fn new(
        host: &HostPath,
        address: &'a AddressEvidence,
        ports: &'a [&'a PortEvidence],
        trace: Option<&'a Trace>,
    ) -> Facts<'a> {
        let trace = trace.filter(|t| t.error.is_none());
        let vpc_hop = trace.and_then(|t| {
            t.hops.iter().find(|hop| {
                hop.kind != HopKind::Destination
                    && t.reached.is_none_or(|reached| hop.ttl < reached)
                    && host
                        .vpc_cidrs
                        .iter()
                        .any(|cidr| cidr.contains(&hop.address))
                    && !host.own_addresses.contains(&hop.address)
                    && hop.address != address.ip
            })
        });
        let in_region_s3 = match (&address.aws, &host.region) {
            (Some(aws), Some(region)) => aws.is_s3() && &aws.region == region,
            _ => false,
        };
        let on_443: Vec<&&PortEvidence> = ports.iter().filter(|p| p.port == 443).collect();
        let tcp_answered = (!on_443.is_empty()).then(|| {
            on_443.iter().any(|p| {
                p.tcp.ok
                    || p.tcp
                        .error
                        .as_ref()
                        .is_some_and(|e| e.class == FailureClass::Refused)
            })
        });
        Facts {
            address,
            ports,
            trace,
            vpc_hop,
            in_region_s3,
            tcp_answered,
        }
    }

    fn ip(&self) -> IpAddr {
        self.address.ip
    }

    /// S3 in another concrete region (not GLOBAL): a gateway endpoint cannot carry it.
    fn other_region_s3(&self, host: &HostPath) -> Option<&'a str> {
        let aws = self.address.aws.as_ref()?;
        let home = host.region.as_deref()?;
        (aws.is_s3() && aws.region != home && aws.region != "GLOBAL").then_some(aws.region.as_str())
    }

    /// The facts behind every verdict, one line each.
    fn notes(&self, host: &HostPath) -> Vec<String> {
        let mut notes = vec![self.owner(host)];
        notes.push(self.tcp_line());
        notes.push(match (self.trace, &host.no_trace) {
            (Some(trace), _) => trace_line(trace),
            (None, Some(why)) => {
                format!("no trace: {why}; the verdict rests on TCP and IMDS facts only")
            }
            (None, None) => "no trace of this address".to_string(),
        });
        for hop in self.trace.map(|t| t.hops.as_slice()).unwrap_or_default() {
            if is_aws_internal(hop.address)
                && !host.vpc_cidrs.iter().any(|c| c.contains(&hop.address))
            {
                notes.push(format!(
                    "hop {} {} is AWS's internal network beyond the VPC, not a NAT gateway",
                    hop.ttl, hop.address
                ));
            }
        }
        if let Some(region) = self.other_region_s3(host) {
            let home = host.region.as_deref().unwrap_or("this region");
            notes.push(match self.tcp_answered {
                Some(true) => format!(
                    "S3 in {region} answered from {home}: not through a gateway endpoint, which \
                     serves its own region only"
                ),
                _ => format!(
                    "S3 in {region} did not answer: a gateway endpoint serves its own region \
                     only, so cross-region S3 needs a NAT gateway, an internet gateway or an \
                     interface endpoint"
                ),
            });
        }
        notes
    }

    fn owner(&self, host: &HostPath) -> String {
        let ip = self.ip();
        if let Some(cidr) = host.vpc_cidrs.iter().find(|c| c.contains(&ip)) {
            return format!("{ip} is inside the VPC's {cidr}");
        }
        match &self.address.aws {
            Some(aws) => format!(
                "{ip}: {} {} (ip-ranges {})",
                aws.services.join("+"),
                aws.region,
                aws.prefix
            ),
            None => format!("{ip}: not in ip-ranges.json"),
        }
    }

    fn tcp_line(&self) -> String {
        let Some(port) = self.ports.iter().find(|p| p.port == 443) else {
            return "443: not probed".to_string();
        };
        match (&port.tcp.error, port.tcp.ok) {
            (_, true) => format!("443: connected in {:.1} ms", port.tcp.ms),
            (Some(error), false) => format!("443: {} ({})", error.class.as_str(), error.detail),
            (None, false) => "443: no connection".to_string(),
        }
    }
}

/// The rules, in order; the first that matches decides.
fn decide(host: &HostPath, facts: &Facts<'_>) -> (Verdict, Confidence, Vec<String>) {
    let ip = facts.ip();
    let traced = facts.trace.is_some();

    // 1. Inside the VPC: an interface endpoint's network interface.
    if facts.address.in_vpc || host.vpc_cidrs.iter().any(|c| c.contains(&ip)) {
        return (
            Verdict::InterfaceEndpoint,
            Confidence::High,
            vec!["the address is inside the VPC: an interface endpoint's network interface".into()],
        );
    }

    // 2. No TCP answer on 443 and no answer to the trace.
    let trace_silent = facts.trace.is_none_or(|t| !t.answered());
    if facts.tcp_answered == Some(false) && trace_silent {
        let (confidence, why) = if traced {
            (
                Confidence::High,
                "no TCP answer on 443 and nothing answered the trace",
            )
        } else {
            (
                Confidence::Medium,
                "no TCP answer on 443 (and no trace to look further)",
            )
        };
        return (Verdict::Blocked, confidence, vec![why.to_string()]);
    }

    // 3. A hop inside the VPC before the destination: the NAT gateway's private address.
    if let Some(hop) = facts.vpc_hop {
        return (
            Verdict::Nat,
            Confidence::High,
            vec![format!(
                "hop {} {} is inside the VPC and answers before the destination: a NAT \
                 gateway's private address",
                hop.ttl, hop.address
            )],
        );
    }

    if !host.imds_answered {
        let why = "IMDS did not answer, so whether the instance has a public IPv4 is unknown";
        return (Verdict::Unknown, Confidence::Low, vec![why.to_string()]);
    }
    let region = host.region.as_deref().unwrap_or("-");

    // 4. No public IPv4, in-region S3, no hop inside the VPC: only a gateway endpoint.
    if host.public_ipv4.is_none() && facts.in_region_s3 {
        let (confidence, how) = if traced {
            (
                Confidence::Medium,
                "and no hop inside the VPC answered the trace",
            )
        } else {
            (
                Confidence::Low,
                "but without a trace a NAT gateway cannot be ruled out",
            )
        };
        return (
            Verdict::GatewayEndpoint,
            confidence,
            vec![format!(
                "the instance has no public IPv4 and the address is S3 in {region}, {how}: \
                 nothing else carries it there"
            )],
        );
    }

    // 5. A public IPv4, and the address is out of region or not S3.
    if let Some(public) = host.public_ipv4
        && !facts.in_region_s3
    {
        let (confidence, echo_line) = echo_support(host, public);
        let mut evidence = vec![format!(
            "the instance has the public IPv4 {public} and the address is not S3 in {region}: \
             it leaves through the internet gateway"
        )];
        evidence.extend(echo_line);
        return (Verdict::InternetGateway, confidence, evidence);
    }

    // 6. A public IPv4 and in-region S3: a gateway endpoint and the internet gateway look alike.
    if let Some(public) = host.public_ipv4 {
        return (
            Verdict::GatewayEndpointOrInternetGateway,
            Confidence::Low,
            vec![format!(
                "the instance has the public IPv4 {public} and the address is S3 in {region}: \
                 a gateway endpoint and the internet gateway look alike from the host; only \
                 the route table (a pl- prefix list route) tells"
            )],
        );
    }

    // 7. Nothing decides.
    let mut evidence = vec![format!(
        "the instance has no public IPv4 and the address is not S3 in {region}, yet no hop \
         inside the VPC answered: a NAT gateway that hides from traces, a transit gateway or a \
         firewall may carry it"
    )];
    if let Some(echo) = &host.echo
        && let Some(seen) = echo.address
    {
        evidence.push(format!(
            "the echo service saw this host as {seen}: its route is translated somewhere (it \
             says nothing about this address's route)"
        ));
    }
    (Verdict::Unknown, Confidence::Low, evidence)
}

/// The confidence the echo answer lends an internet-gateway verdict, and the line saying why.
fn echo_support(host: &HostPath, public: Ipv4Addr) -> (Confidence, Option<String>) {
    let Some(echo) = &host.echo else {
        return (
            Confidence::Medium,
            Some("the echo service was not asked".into()),
        );
    };
    match echo.address {
        Some(seen) if seen == IpAddr::V4(public) => (
            Confidence::High,
            Some(format!(
                "the echo service saw the instance's public IPv4 {public}: the internet \
                 gateway translates it one to one"
            )),
        ),
        Some(seen) => (
            Confidence::Low,
            Some(format!(
                "the echo service saw {seen}, not the public IPv4 {public}: the route to it is \
                 translated elsewhere (NAT gateway, proxy or firewall)"
            )),
        ),
        None => (
            Confidence::Medium,
            Some(format!(
                "the echo service did not answer ({})",
                echo.error
                    .as_ref()
                    .map_or("no address", |e| e.class.as_str())
            )),
        ),
    }
}

fn trace_line(trace: &Trace) -> String {
    if !trace.answered() {
        return format!("trace: nothing answered {} probes", trace.probes);
    }
    let hops: Vec<String> = trace
        .hops
        .iter()
        .map(|hop| match hop.kind {
            HopKind::Destination => format!(
                "TTL {} {} answered ({}, {:.1} ms)",
                hop.ttl,
                hop.address,
                trace.answer.unwrap_or("answer"),
                hop.ms
            ),
            HopKind::TimeExceeded => format!("TTL {} {} ({:.1} ms)", hop.ttl, hop.address, hop.ms),
            HopKind::Unreachable => format!("TTL {} {} rejected it", hop.ttl, hop.address),
        })
        .collect();
    format!("trace: {}", hops.join(", "))
}

fn is_aws_internal(address: IpAddr) -> bool {
    AWS_INTERNAL
        .iter()
        .filter_map(|cidr| cidr.parse::<IpNet>().ok())
        .any(|cidr| cidr.contains(&address))
}

/// One verdict for the target: its addresses' when they agree, else `unknown`.
fn roll_up(addresses: Vec<AddressPath>) -> TargetPath {
    let Some(first) = addresses.first() else {
        return TargetPath {
            verdict: Verdict::Unknown,
            confidence: Confidence::Low,
            evidence: vec!["the name did not resolve: no address to judge".into()],
            traced: None,
            hops: Vec::new(),
            addresses,
        };
    };
    let agree = addresses.iter().all(|a| a.verdict == first.verdict);
    let (verdict, confidence, evidence) = if agree {
        let confidence = addresses
            .iter()
            .map(|a| a.confidence)
            .min()
            .unwrap_or(Confidence::Low);
        (first.verdict, confidence, first.evidence.clone())
    } else {
        let each = addresses
            .iter()
            .map(|a| {
                format!(
                    "{}: {} ({})",
                    a.address,
                    a.verdict.as_str(),
                    a.confidence.as_str()
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        (
            Verdict::Unknown,
            Confidence::Low,
            vec![format!("the addresses leave by different paths: {each}")],
        )
    };
    TargetPath {
        verdict,
        confidence,
        evidence,
        traced: first.trace.as_ref().map(|_| first.address),
        hops: first
            .trace
            .as_ref()
            .map(|t| t.hops.clone())
            .unwrap_or_default(),
        addresses,
    }
}

#[cfg(test)]
mod tests;
