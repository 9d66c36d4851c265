//! The report blocks of the path work: `targets[].path` (verdict, confidence, evidence, trace
//! hops, per address), `targets[].ports[].flows[]` (captured metadata), and the top-level
//! `capture`, `trace` and `egress_echo` blocks.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;

use crate::capture::dissect::Dissection;
use crate::capture::flows::{Flow, Side};
use crate::path::{AddressPath, TargetPath};
use crate::probe::echo::Echo;
use crate::probe::trace::{Hop, Trace};

/// `targets[].path`: which way the target's traffic leaves.
#[derive(Debug, Serialize)]
pub struct PathDto {
    pub verdict: &'static str,
    pub confidence: &'static str,
    pub evidence: Vec<String>,
    /// The address whose trace `hops` shows.
    pub traced_address: Option<String>,
    pub hops: Vec<HopDto>,
    pub addresses: Vec<AddressPathDto>,
}

/// One address's verdict.
#[derive(Debug, Serialize)]
pub struct AddressPathDto {
    pub address: String,
    pub verdict: &'static str,
    pub confidence: &'static str,
    pub evidence: Vec<String>,
    pub trace: Option<TraceDto>,
}

/// One address's trace.
#[derive(Debug, Serialize)]
pub struct TraceDto {
    pub reached_ttl: Option<u8>,
    pub answer: Option<&'static str>,
    pub probes: u32,
    pub hops: Vec<HopDto>,
}

/// One hop that answered.
#[derive(Debug, Serialize)]
pub struct HopDto {
    pub ttl: u8,
    pub address: String,
    pub ms: f64,
    pub kind: &'static str,
    pub in_vpc: bool,
}

/// One captured flow of a port probe.
#[derive(Debug, Serialize)]
pub struct FlowDto {
    pub local: String,
    pub remote: String,
    pub handshake_ms: Option<f64>,
    pub reply_ttl: Option<u8>,
    pub reset: bool,
    /// Readable HTTP went either way.
    pub plaintext: bool,
    pub out: SideDto,
    #[serde(rename = "in")]
    pub inbound: SideDto,
}

/// One direction of a flow.
#[derive(Debug, Serialize)]
pub struct SideDto {
    pub packets: u64,
    pub bytes: u64,
    pub first_bytes: usize,
    pub segments: usize,
    pub gap: bool,
    pub dissection: DissectionDto,
}

/// What the first bytes of a direction are; fields that do not apply are null or empty.
#[derive(Debug, Serialize)]
pub struct DissectionDto {
    pub kind: &'static str,
    pub complete: Option<bool>,
    pub sni: Option<String>,
    pub versions: Vec<String>,
    pub alpn: Vec<String>,
    pub version: Option<String>,
    pub method: Option<String>,
    pub target: Option<String>,
    pub host: Option<String>,
    pub status: Option<u16>,
    pub reason: Option<String>,
}

/// The top-level `capture` block.
#[derive(Debug, Serialize)]
pub struct CaptureDto {
    pub ran: bool,
    pub reason: Option<String>,
    pub hint: Option<String>,
    pub interfaces: Vec<String>,
    pub frames_seen: u64,
    pub frames_kept: u64,
    pub flows: usize,
    /// Flows of no port probe (another program's, or a trace's).
    pub unmatched_flows: usize,
    pub truncated_frames: u64,
    pub malformed_frames: u64,
    pub dropped: DroppedDto,
    pub pcap: Option<String>,
    pub not_seen: Vec<String>,
}

/// What capture dropped, by cause.
#[derive(Debug, Serialize)]
pub struct DroppedDto {
    /// The channel to the collector was full.
    pub channel: u64,
    /// The kernel's socket buffer was full (null when the kernel does not say).
    pub kernel: Option<u64>,
    /// Flows beyond the table's limit.
    pub flows: u64,
    /// Frames left out of the pcap file.
    pub pcap: u64,
}

/// The top-level `trace` block.
#[derive(Debug, Serialize)]
pub struct TraceRunDto {
    pub ran: bool,
    pub reason: Option<String>,
    pub addresses: usize,
    pub port: u16,
    pub max_ttl: u8,
    pub ms: f64,
}

/// The top-level `egress_echo` block.
#[derive(Debug, Serialize)]
pub struct EchoDto {
    pub asked: bool,
    pub url: Option<String>,
    pub address: Option<String>,
    pub server: Option<String>,
    /// The echo saw the instance's public IPv4 (null when either is unknown).
    pub matches_public_ipv4: Option<bool>,
    pub ms: Option<f64>,
    pub error: Option<&'static str>,
    pub detail: Option<String>,
}

/// Builds `targets[].path`.
pub fn path_dto(path: &TargetPath, vpc_cidrs: &[IpNet]) -> PathDto {
    PathDto {
        verdict: path.verdict.as_str(),
        confidence: path.confidence.as_str(),
        evidence: path.evidence.clone(),
        traced_address: path.traced.map(|a| a.to_string()),
        hops: hops(&path.hops, vpc_cidrs),
        addresses: path
            .addresses
            .iter()
            .map(|a| address_dto(a, vpc_cidrs))
            .collect(),
    }
}

fn address_dto(path: &AddressPath, vpc_cidrs: &[IpNet]) -> AddressPathDto {
    AddressPathDto {
        address: path.address.to_string(),
        verdict: path.verdict.as_str(),
        confidence: path.confidence.as_str(),
        evidence: path.evidence.clone(),
        trace: path.trace.as_ref().map(|t| trace_dto(t, vpc_cidrs)),
    }
}

fn trace_dto(trace: &Trace, vpc_cidrs: &[IpNet]) -> TraceDto {
    TraceDto {
        reached_ttl: trace.reached,
        answer: trace.answer,
        probes: trace.probes,
        hops: hops(&trace.hops, vpc_cidrs),
    }
}

fn hops(hops: &[Hop], vpc_cidrs: &[IpNet]) -> Vec<HopDto> {
    hops.iter()
        .map(|hop| HopDto {
            ttl: hop.ttl,
            address: hop.address.to_string(),
            ms: hop.ms,
            kind: hop.kind.as_str(),
            in_vpc: vpc_cidrs.iter().any(|c| c.contains(&hop.address)),
        })
        .collect()
}

/// Builds one `flows[]` entry.
pub fn flow_dto(flow: &Flow) -> FlowDto {
    FlowDto {
        local: flow.local.to_string(),
        remote: flow.remote.to_string(),
        handshake_ms: flow.handshake_ms,
        reply_ttl: flow.reply_ttl,
        reset: flow.reset,
        plaintext: flow.carries_http(),
        out: side_dto(&flow.out),
        inbound: side_dto(&flow.inbound),
    }
}

fn side_dto(side: &Side) -> SideDto {
    SideDto {
        packets: side.packets,
        bytes: side.bytes,
        first_bytes: side.first_bytes,
        segments: side.segments,
        gap: side.gap,
        dissection: dissection_dto(&side.dissection),
    }
}

fn dissection_dto(dissection: &Dissection) -> DissectionDto {
    let mut dto = DissectionDto {
        kind: dissection.kind(),
        complete: None,
        sni: None,
        versions: Vec::new(),
        alpn: Vec::new(),
        version: None,
        method: None,
        target: None,
        host: None,
        status: None,
        reason: None,
    };
    match dissection {
        Dissection::ClientHello(hello) => {
            dto.complete = Some(hello.complete);
            dto.sni = hello.sni.clone();
            dto.versions = hello.versions.clone();
            dto.alpn = hello.alpn.clone();
        }
        Dissection::ServerHello(hello) => {
            dto.complete = Some(hello.complete);
            dto.version = Some(hello.version.clone());
            dto.alpn = hello.alpn.iter().cloned().collect();
        }
        Dissection::Request(request) => {
            dto.complete = Some(request.complete);
            dto.method = Some(request.method.clone());
            dto.target = request.target.clone();
            dto.host = request.host.clone();
        }
        Dissection::Response(response) => {
            dto.complete = Some(response.complete);
            dto.status = Some(response.status);
            dto.reason = response.reason.clone();
        }
        Dissection::Nothing | Dissection::Other { .. } => {}
    }
    dto
}

/// Builds the `capture` block; `matched` is how many flows belong to a port probe.
pub fn capture_dto(summary: &crate::capture::Summary, matched: usize) -> CaptureDto {
    CaptureDto {
        ran: summary.ran,
        reason: summary.reason.clone(),
        hint: summary.hint.clone(),
        interfaces: summary.interfaces.clone(),
        frames_seen: summary.frames_seen,
        frames_kept: summary.frames_kept,
        flows: summary.flows,
        unmatched_flows: summary.flows.saturating_sub(matched),
        truncated_frames: summary.truncated,
        malformed_frames: summary.malformed,
        dropped: DroppedDto {
            channel: summary.dropped_channel,
            kernel: summary.dropped_kernel,
            flows: summary.dropped_flows,
            pcap: summary.dropped_pcap,
        },
        pcap: summary.pcap.clone(),
        not_seen: summary.not_seen.clone(),
    }
}

/// Builds the `trace` block.
pub fn trace_run_dto(run: &crate::probe::trace::Run) -> TraceRunDto {
    TraceRunDto {
        ran: run.ran,
        reason: run.reason.clone(),
        addresses: run.addresses,
        port: run.options.port,
        max_ttl: run.options.max_ttl,
        ms: run.ms,
    }
}

/// Builds the `egress_echo` block.
pub fn echo_dto(echo: Option<&Echo>, public_ipv4: Option<std::net::Ipv4Addr>) -> EchoDto {
    let Some(echo) = echo else {
        return EchoDto {
            asked: false,
            url: None,
            address: None,
            server: None,
            matches_public_ipv4: None,
            ms: None,
            error: None,
            detail: None,
        };
    };
    EchoDto {
        asked: true,
        url: Some(echo.url.clone()),
        address: echo.address.map(|a| a.to_string()),
        server: echo.server.map(|a| a.to_string()),
        matches_public_ipv4: match (echo.address, public_ipv4) {
            (Some(seen), Some(public)) => Some(seen == IpAddr::V4(public)),
            _ => None,
        },
        ms: Some(echo.ms),
        error: echo.error.as_ref().map(|e| e.class.as_str()),
        detail: echo.error.as_ref().map(|e| e.detail.clone()),
    }
}
