//! Packet capture of the probes' own flows: one named reader thread per interface that carries
//! probe traffic, handing the segments it keeps to a collector thread over a bounded channel;
//! the collector reassembles the first bytes of each flow and keeps frames for `--pcap`.
//!
//! Only TCP to or from a watched address and port is kept. Nothing blocks the readers: a full
//! channel drops the segment and counts it, as do flows past the table's limit, frames past the
//! pcap limit and (from the kernel) frames the socket buffer could not hold.

pub mod dissect;
pub mod flows;
pub mod frame;
pub mod fuzzing;
pub mod pcap;
pub mod source;

use std::collections::{BTreeSet, HashSet};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Instant, SystemTime};

use crate::capture::flows::{Flow, FlowTable, Way};
use crate::capture::frame::{LinkType, Parsed, Segment};
use crate::capture::source::{FrameSource, Sources};

/// Segments in flight between the readers and the collector.
pub const CHANNEL_CAPACITY: usize = 4096;

/// How capture should run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Write the kept frames here at the end.
    pub pcap: Option<PathBuf>,
}

/// What capture saw and what it could not, for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Capture ran.
    pub ran: bool,
    /// Why it did not run, or what limited it.
    pub reason: Option<String>,
    /// How to let it run.
    pub hint: Option<String>,
    /// Interfaces captured on.
    pub interfaces: Vec<String>,
    /// Frames read from the interfaces.
    pub frames_seen: u64,
    /// Frames of watched flows.
    pub frames_kept: u64,
    /// Frames kept although shorter than their IP header says.
    pub truncated: u64,
    /// Frames too broken to read.
    pub malformed: u64,
    /// Segments dropped because the channel to the collector was full.
    pub dropped_channel: u64,
    /// Frames the kernel dropped (socket buffer full), when it says.
    pub dropped_kernel: Option<u64>,
    /// Segments of flows beyond the table's limit.
    pub dropped_flows: u64,
    /// Frames not written to the pcap file (size limit, other link type).
    pub dropped_pcap: u64,
    /// Flows tracked.
    pub flows: usize,
    /// The pcap file written.
    pub pcap: Option<String>,
    /// What was not seen, one line each (addresses without a capture, failed interfaces).
    pub not_seen: Vec<String>,
}

/// The outcome of a capture: the flows and the summary.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Every flow, in the order first seen.
    pub flows: Vec<Flow>,
    /// What ran and what was dropped.
    pub summary: Summary,
}

/// A capture in progress, or the reason there is none.
pub struct Capture {
    state: State,
}

enum State {
    Off {
        reason: String,
        hint: Option<String>,
    },
    On(Box<Running>),
}

/// Counters the reader threads share.
#[derive(Debug, Default)]
struct Counters {
    seen: AtomicU64,
    kept: AtomicU64,
    truncated: AtomicU64,
    malformed: AtomicU64,
    dropped: AtomicU64,
}

/// The addresses and ports whose TCP flows are kept.
#[derive(Debug, Default)]
struct Watch {
    addresses: HashSet<IpAddr>,
    ports: HashSet<u16>,
}

impl Watch {
    /// Which way a segment went, when it belongs to a watched flow.
    fn way(&self, segment: &Segment<'_>) -> Option<Way> {
        let watched = |a: &std::net::SocketAddr| {
            self.addresses.contains(&a.ip()) && self.ports.contains(&a.port())
        };
        if watched(&segment.dst) {
            Some(Way::Out)
        } else if watched(&segment.src) {
            Some(Way::In)
        } else {
            None
        }
    }
}

/// A kept segment on its way to the collector.
struct Seen {
    at: Instant,
    wall: SystemTime,
    way: Way,
    segment: OwnedSegment,
    frame: Option<(LinkType, Vec<u8>)>,
}

/// A segment with its payload copied (at most the flow table's first bytes).
struct OwnedSegment {
    head: Segment<'static>,
    payload: Vec<u8>,
}

impl OwnedSegment {
    fn new(segment: &Segment<'_>) -> OwnedSegment {
        let length = segment.payload.len().min(flows::FIRST_BYTES);
        OwnedSegment {
            head: Segment {
                payload: &[],
                ..segment.clone()
            },
            payload: segment.payload[..length].to_vec(),
        }
    }

    fn view(&self) -> Segment<'_> {
        Segment {
            payload: &self.payload,
            ..self.head.clone()
        }
    }
}

/// What one reader thread reports when it ends.
struct ReaderEnd {
    kernel_drops: Option<u64>,
    error: Option<String>,
}

struct Running {
    sources: Arc<dyn Sources>,
    options: Options,
    watch: Arc<RwLock<Watch>>,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
    sender: Mutex<Option<SyncSender<Seen>>>,
    readers: Mutex<Vec<(String, JoinHandle<ReaderEnd>)>>,
    /// Interfaces tried, captured or not.
    tried: Mutex<BTreeSet<String>>,
    not_seen: Mutex<Vec<String>>,
    collector: Mutex<Option<JoinHandle<Collected>>>,
}

/// What the collector thread hands back.
struct Collected {
    table: FlowTable,
    frames: Vec<(SystemTime, LinkType, Vec<u8>)>,
    dropped_pcap: u64,
}

impl Capture {
    /// A capture that does not run, and says why.
    pub fn off(reason: impl Into<String>, hint: Option<String>) -> Capture {
        Capture {
            state: State::Off {
                reason: reason.into(),
                hint,
            },
        }
    }

    /// Starts capture on this host: needs `CAP_NET_RAW`, else it is off and says how to grant it.
    pub fn start_system(options: Options) -> Capture {
        if !crate::host::privilege::has_net_raw() {
            return Capture::off(
                "CAP_NET_RAW is missing: no packet capture and no trace",
                Some(crate::host::privilege::grant_hint()),
            );
        }
        Capture::start(options, Arc::new(source::SystemSources))
    }

    /// Starts the collector; readers start as addresses are watched.
    pub fn start(options: Options, sources: Arc<dyn Sources>) -> Capture {
        let (sender, receiver) = std::sync::mpsc::sync_channel(CHANNEL_CAPACITY);
        let keep_frames = options.pcap.is_some();
        let collector = std::thread::Builder::new()
            .name("egress-flows".into())
            .spawn(move || collect(receiver, keep_frames));
        let collector = match collector {
            Ok(handle) => handle,
            Err(err) => return Capture::off(format!("no capture thread: {err}"), None),
        };
        Capture {
            state: State::On(Box::new(Running {
                sources,
                options,
                watch: Arc::default(),
                stop: Arc::default(),
                counters: Arc::default(),
                sender: Mutex::new(Some(sender)),
                readers: Mutex::default(),
                tried: Mutex::default(),
                not_seen: Mutex::default(),
                collector: Mutex::new(Some(collector)),
            })),
        }
    }

    /// True when capture runs.
    pub fn running(&self) -> bool {
        matches!(self.state, State::On(_))
    }

    /// Keeps the TCP flows to `addresses` on `ports`, opening a capture on the interface each
    /// address is routed through first (before any traffic to it starts).
    pub fn watch(&self, addresses: &[IpAddr], ports: &[u16]) {
        let State::On(running) = &self.state else {
            return;
        };
        for &address in addresses {
            running.open_route_to(address);
        }
        if let Ok(mut watch) = running.watch.write() {
            watch.addresses.extend(addresses);
            watch.ports.extend(ports);
        }
    }

    /// Stops the readers, reassembles and dissects every flow, writes the pcap file; a second
    /// call finds nothing more.
    pub fn finish(&self) -> Outcome {
        match &self.state {
            State::Off { reason, hint } => Outcome {
                flows: Vec::new(),
                summary: Summary {
                    reason: Some(reason.clone()),
                    hint: hint.clone(),
                    ..Summary::default()
                },
            },
            State::On(running) => running.finish(),
        }
    }
}

impl Running {
    fn open_route_to(&self, address: IpAddr) {
        let interface = match self.sources.interface_for(address) {
            Ok(interface) => interface,
            Err(why) => {
                self.note(format!("{address}: {why}"));
                return;
            }
        };
        if interface.loopback {
            self.note(format!(
                "{address}: routed through the loopback interface, not captured"
            ));
            return;
        }
        let Ok(mut tried) = self.tried.lock() else {
            return;
        };
        if !tried.insert(interface.name.clone()) {
            return;
        }
        let opened = self.sources.open(&interface);
        let source = match opened {
            Ok(source) => source,
            Err(err) => {
                self.note(format!("{}: capture not opened: {err}", interface.name));
                return;
            }
        };
        let Some(sender) = self.sender.lock().ok().and_then(|s| s.clone()) else {
            return;
        };
        let (watch, stop, counters) =
            (self.watch.clone(), self.stop.clone(), self.counters.clone());
        let keep_frames = self.options.pcap.is_some();
        let spawned = std::thread::Builder::new()
            .name(format!("egress-capture-{}", interface.name))
            .spawn(move || read_loop(source, &watch, &stop, &sender, &counters, keep_frames));
        match spawned {
            Ok(handle) => {
                tracing::info!(interface = %interface.name, "capture started");
                if let Ok(mut readers) = self.readers.lock() {
                    readers.push((interface.name, handle));
                }
            }
            Err(err) => self.note(format!("{}: no capture thread: {err}", interface.name)),
        }
    }

    fn note(&self, line: String) {
        tracing::warn!("{line}");
        if let Ok(mut notes) = self.not_seen.lock()
            && !notes.contains(&line)
        {
            notes.push(line);
        }
    }

    fn finish(&self) -> Outcome {
        self.stop.store(true, Ordering::SeqCst);
        let readers = self
            .readers
            .lock()
            .map(|mut r| std::mem::take(&mut *r))
            .unwrap_or_default();
        let mut summary = Summary {
            ran: true,
            ..Summary::default()
        };
        for (name, handle) in readers {
            match handle.join() {
                Ok(end) => {
                    if let Some(drops) = end.kernel_drops {
                        *summary.dropped_kernel.get_or_insert(0) += drops;
                    }
                    if let Some(error) = end.error {
                        self.note(format!("{name}: capture stopped early: {error}"));
                    }
                }
                Err(_) => self.note(format!("{name}: the capture thread panicked")),
            }
            summary.interfaces.push(name);
        }
        if let Ok(mut sender) = self.sender.lock() {
            sender.take();
        }
        let collector = self.collector.lock().ok().and_then(|mut c| c.take());
        let collected = collector
            .and_then(|collector| collector.join().ok())
            .unwrap_or_else(|| Collected {
                table: FlowTable::default(),
                frames: Vec::new(),
                dropped_pcap: 0,
            });

        let counters = &self.counters;
        summary.frames_seen = counters.seen.load(Ordering::Relaxed);
        summary.frames_kept = counters.kept.load(Ordering::Relaxed);
        summary.truncated = counters.truncated.load(Ordering::Relaxed);
        summary.malformed = counters.malformed.load(Ordering::Relaxed);
        summary.dropped_channel = counters.dropped.load(Ordering::Relaxed);
        summary.dropped_flows = collected.table.over_limit;
        summary.dropped_pcap = collected.dropped_pcap;
        summary.flows = collected.table.len();
        if let Some(path) = &self.options.pcap {
            match pcap::write(path, &collected.frames) {
                Ok(skipped) => {
                    summary.dropped_pcap += skipped;
                    summary.pcap = Some(path.display().to_string());
                }
                Err(err) => self.note(format!("--pcap {}: {err:#}", path.display())),
            }
        }
        if summary.interfaces.is_empty() {
            // Nothing to capture on (no address resolved, say): capture did not run.
            summary.ran = false;
            summary.reason = Some("no interface was captured on: no probed address".into());
        }
        summary.not_seen = self
            .not_seen
            .lock()
            .map(|notes| notes.clone())
            .unwrap_or_default();
        Outcome {
            flows: collected.table.finish(),
            summary,
        }
    }
}

/// The reader thread: reads frames until told to stop, keeps watched TCP segments and hands
/// them over without ever blocking (a full channel is a counted drop).
fn read_loop(
    mut source: Box<dyn FrameSource>,
    watch: &RwLock<Watch>,
    stop: &AtomicBool,
    sender: &SyncSender<Seen>,
    counters: &Counters,
    keep_frames: bool,
) -> ReaderEnd {
    let link = source.link();
    let mut error = None;
    while !stop.load(Ordering::Relaxed) {
        let frame = match source.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => continue,
            Err(err) => {
                error = Some(err.to_string());
                break;
            }
        };
        counters.seen.fetch_add(1, Ordering::Relaxed);
        let segment = match frame::parse(link, frame) {
            Parsed::Tcp(segment) => segment,
            Parsed::Malformed => {
                counters.malformed.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            Parsed::Other => continue,
        };
        let Some(way) = watch.read().ok().and_then(|w| w.way(&segment)) else {
            continue;
        };

        counters.kept.fetch_add(1, Ordering::Relaxed);
        if segment.truncated {
            counters.truncated.fetch_add(1, Ordering::Relaxed);
        }
        let length = segment.payload.len();
        tracing::trace!(src = %segment.src, dst = %segment.dst, length, "segment");
        let seen = Seen {
            at: Instant::now(),
            wall: SystemTime::now(),
            way,
            segment: OwnedSegment::new(&segment),
            frame: keep_frames.then(|| (link, pcap::clip(frame).to_vec())),
        };
        match sender.try_send(seen) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => break,
        }
    }
    ReaderEnd {
        kernel_drops: source.kernel_drops(),
        error,
    }
}

/// The collector thread: builds the flow table and keeps frames for the pcap file.
fn collect(receiver: Receiver<Seen>, keep_frames: bool) -> Collected {
    let mut collected = Collected {
        table: FlowTable::default(),
        frames: Vec::new(),
        dropped_pcap: 0,
    };
    let mut frame_bytes = 0usize;
    while let Ok(seen) = receiver.recv() {
        collected.table.add(seen.way, &seen.segment.view(), seen.at);
        if let (true, Some((link, frame))) = (keep_frames, seen.frame) {
            if frame_bytes + frame.len() > pcap::MAX_BYTES {
                collected.dropped_pcap += 1;
                continue;
            }
            frame_bytes += frame.len();
            collected.frames.push((seen.wall, link, frame));
        }
    }
    collected
}

#[cfg(test)]
mod tests;
