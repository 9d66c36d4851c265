//! One captured frame reduced to the TCP facts the flow table needs: addresses, ports, flags,
//! sequence numbers, the TTL or hop limit, and the payload bytes actually present.
//!
//! Parsing is etherparse's lax mode, so a frame cut short still yields what it holds.

use std::net::{IpAddr, SocketAddr};

use etherparse::{LaxNetSlice, LaxSlicedPacket, TransportSlice};

/// What the first bytes of a frame are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// Ethernet II, possibly with VLAN tags (veth, ENA, loopback).
    Ethernet,
    /// A bare IPv4 or IPv6 packet (tun devices, WireGuard).
    RawIp,
}

impl LinkType {
    /// The pcap LINKTYPE number.
    pub fn pcap_number(self) -> u16 {
        match self {
            LinkType::Ethernet => 1,
            LinkType::RawIp => 101,
        }
    }
}

/// The TCP facts of one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment<'a> {
    /// Source address and port.
    pub src: SocketAddr,
    /// Destination address and port.
    pub dst: SocketAddr,
    /// SYN flag.
    pub syn: bool,
    /// ACK flag.
    pub ack: bool,
    /// FIN flag.
    pub fin: bool,
    /// RST flag.
    pub rst: bool,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack_number: u32,
    /// IPv4 TTL or IPv6 hop limit as received.
    pub ttl: u8,
    /// The TCP payload bytes present in the frame.
    pub payload: &'a [u8],
    /// The frame holds fewer bytes than its IP header announces.
    pub truncated: bool,
}

/// A frame, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// A TCP segment over IPv4 or IPv6.
    Tcp(Segment<'a>),
    /// Something else (ARP, UDP, ICMP, a fragment after the first).
    Other,
    /// Too short or inconsistent to read even the headers.
    Malformed,
}

/// Parses one frame; never panics, whatever the bytes.
pub fn parse(link: LinkType, frame: &[u8]) -> Parsed<'_> {
    let sliced = match link {
        LinkType::Ethernet => LaxSlicedPacket::from_ethernet(frame).ok(),
        LinkType::RawIp => LaxSlicedPacket::from_ip(frame).ok(),
    };
    let Some(sliced) = sliced else {
        return Parsed::Malformed;
    };

    let (src, dst, ttl, ip_payload) = match &sliced.net {
        Some(LaxNetSlice::Ipv4(v4)) => {
            let header = v4.header();
            (
                IpAddr::V4(header.source_addr()),
                IpAddr::V4(header.destination_addr()),
                header.ttl(),
                v4.payload(),
            )
        }
        Some(LaxNetSlice::Ipv6(v6)) => {
            let header = v6.header();
            (
                IpAddr::V6(header.source_addr()),
                IpAddr::V6(header.destination_addr()),
                header.hop_limit(),
                v6.payload(),
            )
        }
        Some(LaxNetSlice::Arp(_)) => return Parsed::Other,
        None if sliced.stop_err.is_some() => return Parsed::Malformed,
        None => return Parsed::Other,
    };

    let is_tcp = ip_payload.ip_number == etherparse::IpNumber::TCP;
    match &sliced.transport {
        Some(TransportSlice::Tcp(tcp)) => Parsed::Tcp(Segment {
            src: SocketAddr::new(src, tcp.source_port()),
            dst: SocketAddr::new(dst, tcp.destination_port()),
            syn: tcp.syn(),
            ack: tcp.ack(),
            fin: tcp.fin(),
            rst: tcp.rst(),
            seq: tcp.sequence_number(),
            ack_number: tcp.acknowledgment_number(),
            ttl,
            payload: tcp.payload(),
            truncated: ip_payload.incomplete,
        }),
        _ if is_tcp && !ip_payload.fragmented => Parsed::Malformed,
        _ => Parsed::Other,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    /// An Ethernet frame carrying one IPv4 TCP segment, built with etherparse.
    pub(crate) fn tcp_v4(
        src: &str,
        dst: &str,
        ttl: u8,
        seq: u32,
        flags: &str,
        payload: &[u8],
    ) -> Vec<u8> {
        let src: SocketAddr = src.parse().unwrap();
        let dst: SocketAddr = dst.parse().unwrap();
        let (IpAddr::V4(s), IpAddr::V4(d)) = (src.ip(), dst.ip()) else {
            panic!("IPv4 only")
        };
        let mut builder = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(s.octets(), d.octets(), ttl)
            .tcp(src.port(), dst.port(), seq, 64240);
        if flags.contains('S') {
            builder = builder.syn();
        }
        if flags.contains('A') {
            builder = builder.ack(seq.wrapping_add(1));
        }
        if flags.contains('F') {
            builder = builder.fin();
        }
        if flags.contains('R') {
            builder = builder.rst();
        }
        if flags.contains('P') {
            builder = builder.psh();
        }
        let mut frame = Vec::new();
        builder.write(&mut frame, payload).unwrap();
        frame
    }

    #[test]
    fn reads_an_ipv4_tcp_segment() {
        let frame = tcp_v4(
            "198.51.100.10:40000",
            "203.0.113.10:443",
            64,
            7,
            "SA",
            b"hello",
        );
        let Parsed::Tcp(segment) = parse(LinkType::Ethernet, &frame) else {
            panic!("not TCP")
        };
        assert_eq!(segment.src, "198.51.100.10:40000".parse().unwrap());
        assert_eq!(segment.dst.port(), 443);
        assert_eq!((segment.syn, segment.ack, segment.fin), (true, true, false));
        assert_eq!((segment.seq, segment.ttl), (7, 64));
        assert_eq!(segment.payload, b"hello");
        assert!(!segment.truncated);
    }

    #[test]
    fn truncated_frame_keeps_what_it_holds() {
        let frame = tcp_v4(
            "198.51.100.10:40000",
            "203.0.113.10:80",
            64,
            1,
            "PA",
            &[b'x'; 100],
        );
        let cut = &frame[..frame.len() - 60];
        let Parsed::Tcp(segment) = parse(LinkType::Ethernet, cut) else {
            panic!("not TCP")
        };
        assert_eq!(segment.payload.len(), 40);
        assert!(segment.truncated);
    }

    #[test]
    fn garbage_is_malformed_or_other_never_a_panic() {
        assert_eq!(parse(LinkType::Ethernet, &[]), Parsed::Malformed);
        assert_eq!(parse(LinkType::RawIp, &[0x45]), Parsed::Malformed);
        let frame = tcp_v4("198.51.100.10:1", "203.0.113.10:80", 64, 1, "S", b"");
        // Cut inside the TCP header.
        assert_eq!(
            parse(LinkType::Ethernet, &frame[..14 + 20 + 6]),
            Parsed::Malformed
        );
        for len in 0..frame.len() {
            let _ = parse(LinkType::Ethernet, &frame[..len]);
            let _ = parse(LinkType::RawIp, &frame[14..len.max(14)]);
        }
    }

    #[test]
    fn raw_ip_frames_skip_the_link_header() {
        let frame = tcp_v4("198.51.100.10:40000", "203.0.113.10:443", 61, 9, "S", b"");
        let Parsed::Tcp(segment) = parse(LinkType::RawIp, &frame[14..]) else {
            panic!("not TCP")
        };
        assert_eq!(segment.ttl, 61);
    }
}
