//! Trace probes and answers from hand-built packets, and one live trace over loopback.

use etherparse::{PacketBuilder, icmpv4::TimeExceededCode};

use super::*;

fn targets() -> Vec<IpAddr> {
    vec![
        "203.0.113.10".parse().unwrap(),
        "203.0.113.74".parse().unwrap(),
    ]
}

fn probe(targets: &[IpAddr]) -> Probe<'_> {
    Probe {
        targets,
        source_port: 45_000,
        port: 443,
        tag: 0xbeef,
    }
}

/// Our SYN as it left: IPv4 header and TCP header.
fn syn_packet(probe: &Probe<'_>, index: usize, ttl: u8) -> Vec<u8> {
    let IpAddr::V4(destination) = probe.targets[index] else {
        panic!("IPv4 only")
    };
    let mut out = Vec::new();
    PacketBuilder::ipv4([198, 51, 100, 10], destination.octets(), ttl)
        .tcp(probe.source_port, 443, probe.sequence(index, ttl), 64240)
        .syn()
        .write(&mut out, &[])
        .unwrap();
    out
}

#[test]
fn sequence_numbers_carry_target_and_ttl() {
    let targets = targets();
    let probe = probe(&targets);
    let sequence = probe.sequence(1, 7);
    assert_eq!(probe.decode(sequence, targets[1]), Some((1, 7)));
    assert_eq!(probe.decode(sequence, targets[0]), None, "wrong address");
    assert_eq!(
        probe.decode(sequence ^ 0x0001_0000, targets[1]),
        None,
        "other run"
    );
}

#[test]
fn time_exceeded_quoting_only_eight_tcp_bytes_names_the_hop() {
    let targets = targets();
    let probe = probe(&targets);
    let quoted = &syn_packet(&probe, 1, 3)[..28];
    let mut answer = Vec::new();
    PacketBuilder::ipv4([198, 51, 100, 140], [198, 51, 100, 10], 64)
        .icmpv4(Icmpv4Type::TimeExceeded(
            TimeExceededCode::TtlExceededInTransit,
        ))
        .write(&mut answer, quoted)
        .unwrap();
    let (index, ttl, from, kind, _) = icmp_answer_v4(&answer, &probe).unwrap();
    assert_eq!((index, ttl, kind), (1, 3, HopKind::TimeExceeded));
    assert_eq!(from, "198.51.100.140".parse::<IpAddr>().unwrap());

    // The same error about someone else's SYN is not ours.
    let mut other = syn_packet(&probe, 1, 3);
    other[20] ^= 0xff;
    let mut answer = Vec::new();
    PacketBuilder::ipv4([198, 51, 100, 140], [198, 51, 100, 10], 64)
        .icmpv4(Icmpv4Type::TimeExceeded(
            TimeExceededCode::TtlExceededInTransit,
        ))
        .write(&mut answer, &other[..28])
        .unwrap();
    assert!(icmp_answer_v4(&answer, &probe).is_none());
}

#[test]
fn syn_ack_and_rst_from_the_destination() {
    let targets = targets();
    let probe = probe(&targets);
    for (flags, answer) in [("SA", "syn-ack"), ("R", "rst")] {
        let mut builder = PacketBuilder::ipv4([203, 0, 113, 10], [198, 51, 100, 10], 61).tcp(
            443,
            probe.source_port,
            77,
            1000,
        );
        if flags.contains('S') {
            builder = builder.syn();
        }
        if flags.contains('R') {
            builder = builder.rst();
        }
        let builder = builder.ack(probe.sequence(0, 2).wrapping_add(1));
        let mut packet = Vec::new();
        builder.write(&mut packet, &[]).unwrap();
        let decoded = tcp_answer_v4(&packet, &probe).unwrap();
        assert_eq!(
            (decoded.0, decoded.1, decoded.3, decoded.4),
            (0, 2, HopKind::Destination, Some(answer))
        );
    }
}

#[test]
fn a_trace_keeps_hops_below_the_destination_and_knows_when_it_is_complete() {
    let at = Instant::now();
    let mut progress = vec![Progress::default()];
    let hop = |ttl, from: &str, kind| Event {
        at,
        index: 0,
        ttl,
        from: from.parse().unwrap(),
        kind,
        answer: (kind == HopKind::Destination).then_some("syn-ack"),
    };
    apply(hop(3, "203.0.113.74", HopKind::Destination), &mut progress);
    apply(hop(2, "203.0.113.74", HopKind::Destination), &mut progress);
    assert!(!progress[0].complete(), "hop 1 is missing");
    apply(
        hop(1, "198.51.100.140", HopKind::TimeExceeded),
        &mut progress,
    );
    assert!(progress[0].complete());
    let trace = std::mem::take(&mut progress[0]).into_trace();
    assert_eq!(trace.reached, Some(2));
    let seen: Vec<(u8, String)> = trace
        .hops
        .iter()
        .map(|h| (h.ttl, h.address.to_string()))
        .collect();
    let expected = [
        (1, "198.51.100.140".to_string()),
        (2, "203.0.113.74".to_string()),
    ];
    assert_eq!(seen, expected);
}

#[test]
fn a_live_trace_over_loopback_is_answered_at_the_first_hop() {
    if !crate::host::privilege::has_net_raw() {
        eprintln!("skipping: CAP_NET_RAW is needed for a raw-socket trace");
        return;
    }
    // Nothing listens on this port: the kernel answers the SYN with a RST.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let options = Options {
        port,
        max_ttl: 4,
        budget: Duration::from_secs(2),
    };
    let started = Instant::now();
    let loopback: IpAddr = "127.0.0.1".parse().unwrap();
    let traces = trace_all(&[loopback, loopback], &options);
    assert!(started.elapsed() < Duration::from_secs(2));
    let trace = &traces[&loopback];
    assert_eq!(trace.error, None);
    assert_eq!(trace.reached, Some(1));
    assert_eq!(trace.answer, Some("rst"));
    assert_eq!(trace.hops[0].kind, HopKind::Destination);
}
