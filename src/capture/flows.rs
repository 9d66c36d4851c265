//! The flow table: per TCP connection, packets and bytes each way, the SYN to SYN-ACK time, the
//! TTL of the replies, and the first bytes each way reassembled in sequence order (so a
//! ClientHello split over several segments reads whole), then dissected.
//!
//! Memory is bounded: at most [`MAX_FLOWS`] flows, each keeping at most [`FIRST_BYTES`] bytes
//! each way in a fixed buffer, whatever arrives.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use crate::capture::dissect::{self, Dissection};
use crate::capture::frame::Segment;

/// Bytes kept from the start of each direction of a flow.
pub const FIRST_BYTES: usize = 4096;

/// Flows tracked at once; segments of further flows are counted and dropped.
pub const MAX_FLOWS: usize = 1024;

/// Segment offsets remembered per direction (to tell how many segments a message took).
const MAX_OFFSETS: usize = 64;

/// Which way a segment went, seen from this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    /// From this host to the remote address.
    Out,
    /// From the remote address to this host.
    In,
}

/// One direction of a flow, as seen and dissected.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Side {
    /// Packets seen.
    pub packets: u64,
    /// TCP payload bytes seen.
    pub bytes: u64,
    /// What the first bytes are.
    pub dissection: Dissection,
    /// Bytes reassembled from the start of the stream (at most [`FIRST_BYTES`]).
    pub first_bytes: usize,
    /// Segments that carried the first message (a split ClientHello takes two or more).
    pub segments: usize,
    /// A segment inside the first bytes was never seen, so reassembly stopped at the gap.
    pub gap: bool,
}

/// One TCP connection of a probe.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    /// This host's address and port.
    pub local: SocketAddr,
    /// The remote address and port.
    pub remote: SocketAddr,
    /// From this host.
    pub out: Side,
    /// From the remote end.
    pub inbound: Side,
    /// From the first SYN to the SYN-ACK.
    pub handshake_ms: Option<f64>,
    /// TTL or hop limit of the SYN-ACK (else of the first reply).
    pub reply_ttl: Option<u8>,
    /// A RST was seen either way.
    pub reset: bool,
}

impl Flow {
    /// Readable HTTP went either way in this flow.
    pub fn carries_http(&self) -> bool {
        self.out.dissection.is_http() || self.inbound.dissection.is_http()
    }
}

/// The first bytes of one direction, placed by sequence number.
#[derive(Debug, Default)]
struct Stream {
    packets: u64,
    bytes: u64,
    /// Sequence number of the first payload byte (ISN + 1), once known.
    base: Option<u32>,
    buffer: Vec<u8>,
    /// Which bytes of `buffer` arrived, one bool per byte.
    filled: Vec<bool>,
    offsets: Vec<usize>,
}

impl Stream {
    fn add(&mut self, segment: &Segment<'_>) {
        self.packets += 1;
        self.bytes += segment.payload.len() as u64;
        if segment.syn {
            self.base = Some(segment.seq.wrapping_add(1));
        }
        if segment.payload.is_empty() {
            return;
        }
        // Capture that starts mid-flow takes the first segment it sees as the start.
        let base = *self.base.get_or_insert(segment.seq);
        let offset = segment.seq.wrapping_sub(base) as usize;
        if offset >= FIRST_BYTES {
            return;
        }
        if self.buffer.is_empty() {
            self.buffer = vec![0; FIRST_BYTES];
            self.filled = vec![false; FIRST_BYTES];
        }
        let length = segment.payload.len().min(FIRST_BYTES - offset);
        self.buffer[offset..offset + length].copy_from_slice(&segment.payload[..length]);
        self.filled[offset..offset + length].fill(true);
        if self.offsets.len() < MAX_OFFSETS && !self.offsets.contains(&offset) {
            self.offsets.push(offset);
        }
    }

    fn finish(self) -> Side {
        let contiguous = self.filled.iter().take_while(|&&f| f).count();
        let gap = self.filled[contiguous..].iter().any(|&f| f);
        let (dissection, consumed) = dissect::dissect(&self.buffer[..contiguous]);
        let segments = self
            .offsets
            .iter()
            .filter(|&&o| o < consumed.max(1).min(contiguous))
            .count();
        Side {
            packets: self.packets,
            bytes: self.bytes,
            dissection,
            first_bytes: contiguous,
            segments,
            gap,
        }
    }
}

#[derive(Debug)]
struct State {
    local: SocketAddr,
    remote: SocketAddr,
    out: Stream,
    inbound: Stream,
    syn_at: Option<Instant>,
    syn_ack_at: Option<Instant>,
    reply_ttl: Option<u8>,
    syn_ack_ttl: Option<u8>,
    reset: bool,
}

/// Every flow seen, in the order first seen.
#[derive(Debug, Default)]
pub struct FlowTable {
    index: HashMap<(SocketAddr, SocketAddr), usize>,
    states: Vec<State>,
    /// Segments of flows beyond [`MAX_FLOWS`], dropped.
    pub over_limit: u64,
}

impl FlowTable {
    /// Adds one segment that went `way`, seen at `at`.
    pub fn add(&mut self, way: Way, segment: &Segment<'_>, at: Instant) {
        let (local, remote) = match way {
            Way::Out => (segment.src, segment.dst),
            Way::In => (segment.dst, segment.src),
        };
        let index = match self.index.get(&(local, remote)) {
            Some(&index) => index,
            None if self.states.len() >= MAX_FLOWS => {
                self.over_limit += 1;
                return;
            }
            None => {
                self.states.push(State {
                    local,
                    remote,
                    out: Stream::default(),
                    inbound: Stream::default(),
                    syn_at: None,
                    syn_ack_at: None,
                    reply_ttl: None,
                    syn_ack_ttl: None,
                    reset: false,
                });
                self.index.insert((local, remote), self.states.len() - 1);
                self.states.len() - 1
            }
        };

        let state = &mut self.states[index];
        state.reset |= segment.rst;
        match way {
            Way::Out => {
                if segment.syn && !segment.ack && state.syn_at.is_none() {
                    state.syn_at = Some(at);
                }
                state.out.add(segment);
            }
            Way::In => {
                if segment.syn && segment.ack && state.syn_ack_at.is_none() {
                    state.syn_ack_at = Some(at);
                    state.syn_ack_ttl = Some(segment.ttl);
                }
                state.reply_ttl.get_or_insert(segment.ttl);
                state.inbound.add(segment);
            }
        }
    }

    /// Flows tracked so far.
    pub fn len(&self) -> usize {
        self.states.len()
    }

    /// True when no flow was seen.
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// Reassembles and dissects every flow.
    pub fn finish(self) -> Vec<Flow> {
        self.states
            .into_iter()
            .map(|state| Flow {
                local: state.local,
                remote: state.remote,
                handshake_ms: match (state.syn_at, state.syn_ack_at) {
                    (Some(syn), Some(syn_ack)) if syn_ack >= syn => {
                        Some((syn_ack - syn).as_secs_f64() * 1000.0)
                    }
                    _ => None,
                },
                reply_ttl: state.syn_ack_ttl.or(state.reply_ttl),
                reset: state.reset,
                out: state.out.finish(),
                inbound: state.inbound.finish(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::capture::dissect::tests::client_hello_record;
    use crate::capture::frame::tests::tcp_v4;
    use crate::capture::frame::{self, LinkType, Parsed};

    const HOST: &str = "198.51.100.10:40000";
    const S3: &str = "203.0.113.10:443";

    fn feed(table: &mut FlowTable, way: Way, frame: &[u8], at: Instant) {
        let Parsed::Tcp(segment) = frame::parse(LinkType::Ethernet, frame) else {
            panic!("not TCP")
        };
        table.add(way, &segment, at);
    }

    #[test]
    fn a_client_hello_split_and_out_of_order_reads_whole() {
        let t0 = Instant::now();
        let hello = client_hello_record("s3.us-west-2.amazonaws.com", 1216);
        let mut table = FlowTable::default();
        feed(
            &mut table,
            Way::Out,
            &tcp_v4(HOST, S3, 64, 1000, "S", b""),
            t0,
        );
        let syn_ack = tcp_v4(S3, HOST, 61, 5000, "SA", b"");
        feed(&mut table, Way::In, &syn_ack, t0 + Duration::from_millis(3));
        // The second half first, a retransmission of it, then the first half.
        let (first, second) = hello.split_at(700);
        let second_seq = 1001 + first.len() as u32;
        for (seq, part) in [(second_seq, second), (second_seq, second), (1001, first)] {
            let frame = tcp_v4(HOST, S3, 64, seq, "PA", part);
            feed(&mut table, Way::Out, &frame, t0 + Duration::from_millis(4));
        }

        let flows = table.finish();
        assert_eq!(flows.len(), 1);
        let flow = &flows[0];
        assert_eq!(flow.local, HOST.parse().unwrap());
        assert_eq!((flow.out.packets, flow.inbound.packets), (4, 1));
        assert_eq!(flow.out.bytes, (hello.len() + second.len()) as u64);
        assert_eq!(flow.reply_ttl, Some(61));
        assert!((flow.handshake_ms.unwrap() - 3.0).abs() < 0.001);
        assert_eq!(flow.out.segments, 2);
        assert!(!flow.out.gap);
        let Dissection::ClientHello(client) = &flow.out.dissection else {
            panic!("{:?}", flow.out.dissection)
        };
        assert_eq!(client.sni.as_deref(), Some("s3.us-west-2.amazonaws.com"));
        assert!(client.complete);
        assert!(!flow.carries_http());
    }

    #[test]
    fn a_missing_segment_stops_reassembly_at_the_gap() {
        let t0 = Instant::now();
        let mut table = FlowTable::default();
        feed(&mut table, Way::Out, &tcp_v4(HOST, S3, 64, 0, "S", b""), t0);
        feed(
            &mut table,
            Way::Out,
            &tcp_v4(HOST, S3, 64, 11, "PA", b"later"),
            t0,
        );
        let flow = &table.finish()[0];
        assert!(flow.out.gap);
        assert_eq!(flow.out.first_bytes, 0);
        assert_eq!(flow.out.dissection, Dissection::Nothing);
    }

    #[test]
    fn plaintext_http_both_ways() {
        let t0 = Instant::now();
        let mut table = FlowTable::default();
        let (host, s3) = ("198.51.100.10:40002", "203.0.113.10:80");
        feed(
            &mut table,
            Way::Out,
            &tcp_v4(host, s3, 64, 10, "S", b""),
            t0,
        );
        feed(
            &mut table,
            Way::In,
            &tcp_v4(s3, host, 61, 90, "SA", b""),
            t0,
        );
        let request = b"GET / HTTP/1.1\r\nHost: s3.us-west-2.amazonaws.com\r\n\r\n";
        feed(
            &mut table,
            Way::Out,
            &tcp_v4(host, s3, 64, 11, "PA", request),
            t0,
        );
        let response = b"HTTP/1.1 307 Temporary Redirect\r\nContent-Length: 0\r\n\r\n";
        feed(
            &mut table,
            Way::In,
            &tcp_v4(s3, host, 61, 91, "PA", response),
            t0,
        );
        let flow = &table.finish()[0];
        assert!(flow.carries_http());
        assert_eq!(flow.out.dissection.kind(), "http-request");
        assert_eq!(flow.inbound.dissection.kind(), "http-response");
    }

    #[test]
    fn flows_beyond_the_limit_are_counted_not_kept() {
        let t0 = Instant::now();
        let mut table = FlowTable::default();
        for port in 0..(MAX_FLOWS as u32 + 10) {
            let src = format!("198.51.100.10:{}", 20000 + port);
            feed(&mut table, Way::Out, &tcp_v4(&src, S3, 64, 1, "S", b""), t0);
        }
        assert_eq!(table.len(), MAX_FLOWS);
        assert_eq!(table.over_limit, 10);
    }

    #[test]
    fn a_huge_segment_keeps_only_the_first_bytes() {
        let t0 = Instant::now();
        let mut table = FlowTable::default();
        let mut line = b"GET /".to_vec();
        line.resize(60_000, b'a');
        feed(
            &mut table,
            Way::Out,
            &tcp_v4(HOST, "203.0.113.10:80", 64, 5, "PA", &line),
            t0,
        );
        let flow = &table.finish()[0];
        assert_eq!(flow.out.first_bytes, FIRST_BYTES);
        assert_eq!(flow.out.bytes, 60_000);
        assert!(flow.carries_http());
    }
}
