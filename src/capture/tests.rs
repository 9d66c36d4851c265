//! Capture end to end over replayed frames: readers, the watch set, the collector, drops and
//! the pcap file.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::capture::dissect::Dissection;
use crate::capture::dissect::tests::client_hello_record;
use crate::capture::frame::tests::tcp_v4;
use crate::capture::source::Interface;

/// Replays frames, then reports idle ticks; waits for `gate` before the first frame so the
/// test can watch addresses first, as the probes do.
struct Replay {
    frames: VecDeque<Vec<u8>>,
    current: Vec<u8>,
    gate: Arc<AtomicBool>,
    drops: Option<u64>,
}

impl FrameSource for Replay {
    fn link(&self) -> LinkType {
        LinkType::Ethernet
    }

    fn next_frame(&mut self) -> io::Result<Option<&[u8]>> {
        if !self.gate.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
            return Ok(None);
        }
        match self.frames.pop_front() {
            Some(frame) => {
                self.current = frame;
                Ok(Some(&self.current))
            }
            None => {
                std::thread::sleep(Duration::from_millis(2));
                Ok(None)
            }
        }
    }

    fn kernel_drops(&mut self) -> Option<u64> {
        self.drops
    }
}

/// Routes every address to `eth0` (and 127/8 to `lo`); hands out the frames once.
struct ReplaySources {
    frames: Mutex<Option<Vec<Vec<u8>>>>,
    gate: Arc<AtomicBool>,
    opened: Mutex<HashMap<String, usize>>,
}

impl ReplaySources {
    fn new(frames: Vec<Vec<u8>>) -> Arc<ReplaySources> {
        Arc::new(ReplaySources {
            frames: Mutex::new(Some(frames)),
            gate: Arc::default(),
            opened: Mutex::default(),
        })
    }
}

impl Sources for ReplaySources {
    fn interface_for(&self, address: IpAddr) -> Result<Interface, String> {
        if address.is_loopback() {
            return Ok(Interface {
                name: "lo".into(),
                loopback: true,
            });
        }
        if address == IpAddr::from([192, 0, 2, 99]) {
            return Err("no route".into());
        }
        Ok(Interface {
            name: "eth0".into(),
            loopback: false,
        })
    }

    fn open(&self, interface: &Interface) -> io::Result<Box<dyn FrameSource>> {
        *self
            .opened
            .lock()
            .unwrap()
            .entry(interface.name.clone())
            .or_default() += 1;
        Ok(Box::new(Replay {
            frames: self
                .frames
                .lock()
                .unwrap()
                .take()
                .unwrap_or_default()
                .into(),
            current: Vec::new(),
            gate: self.gate.clone(),
            drops: Some(3),
        }))
    }
}

/// Runs a capture over `frames` watching 203.0.113.10 on 80 and 443.
fn replay(frames: Vec<Vec<u8>>, options: Options) -> (Outcome, Arc<ReplaySources>) {
    let sources = ReplaySources::new(frames);
    let total = sources.frames.lock().unwrap().as_ref().map_or(0, Vec::len) as u64;
    let capture = Capture::start(options, sources.clone());
    let watched: IpAddr = "203.0.113.10".parse().unwrap();
    capture.watch(&[watched, "127.0.0.1".parse().unwrap()], &[80, 443]);
    capture.watch(&[watched, "192.0.2.99".parse().unwrap()], &[443]);
    sources.gate.store(true, Ordering::SeqCst);
    let State::On(running) = &capture.state else {
        panic!("capture is off")
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while running.counters.seen.load(Ordering::SeqCst) < total && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    (capture.finish(), sources)
}

fn tls_flow_frames() -> Vec<Vec<u8>> {
    let (host, s3) = ("198.51.100.10:40000", "203.0.113.10:443");
    let hello = client_hello_record("s3.us-west-2.amazonaws.com", 1216);
    let (first, second) = hello.split_at(1000);
    vec![
        tcp_v4(host, s3, 64, 100, "S", b""),
        tcp_v4(s3, host, 61, 900, "SA", b""),
        tcp_v4(host, s3, 64, 101, "PA", first),
        tcp_v4(host, s3, 64, 1101, "PA", second),
    ]
}

#[test]
fn replayed_frames_become_one_dissected_flow() {
    let mut frames = tls_flow_frames();
    // Unrelated traffic: another address, another port of the watched address, garbage.
    frames.insert(
        1,
        tcp_v4("198.51.100.10:5000", "192.0.2.7:443", 64, 1, "S", b""),
    );
    frames.insert(
        2,
        tcp_v4("198.51.100.10:5001", "203.0.113.10:22", 64, 1, "S", b""),
    );
    frames.insert(3, vec![0xff; 10]);
    let (outcome, sources) = replay(frames, Options::default());

    assert_eq!(sources.opened.lock().unwrap().get("eth0"), Some(&1));
    let summary = &outcome.summary;
    assert!(summary.ran);
    assert_eq!(summary.interfaces, ["eth0"]);
    assert_eq!((summary.frames_seen, summary.frames_kept), (7, 4));
    assert_eq!(summary.malformed, 1);
    assert_eq!(summary.dropped_kernel, Some(3));
    assert_eq!(summary.flows, 1);
    assert!(
        summary
            .not_seen
            .iter()
            .any(|l| l.starts_with("127.0.0.1: routed through the loopback")),
        "{:?}",
        summary.not_seen
    );
    assert!(summary.not_seen.iter().any(|l| l == "192.0.2.99: no route"));

    let flow = &outcome.flows[0];
    assert_eq!(flow.remote, "203.0.113.10:443".parse().unwrap());
    assert_eq!(flow.reply_ttl, Some(61));
    assert_eq!(flow.out.segments, 2);
    let Dissection::ClientHello(hello) = &flow.out.dissection else {
        panic!("{:?}", flow.out.dissection)
    };
    assert_eq!(hello.sni.as_deref(), Some("s3.us-west-2.amazonaws.com"));
}

#[test]
fn a_flood_of_unrelated_frames_is_read_and_forgotten() {
    let mut frames: Vec<Vec<u8>> = (0..20_000u32)
        .map(|i| {
            let src = format!("198.51.100.{}:{}", 20 + i % 200, 1024 + i % 50_000);
            tcp_v4(&src, "192.0.2.50:443", 64, i, "PA", &[0x17; 600])
        })
        .collect();
    frames.extend(tls_flow_frames());
    let (outcome, _) = replay(frames, Options::default());
    assert_eq!(outcome.summary.frames_seen, 20_004);
    assert_eq!(outcome.summary.frames_kept, 4);
    assert_eq!(outcome.flows.len(), 1);
}

#[test]
fn a_full_channel_drops_and_counts_without_blocking_the_reader() {
    let frames: VecDeque<Vec<u8>> = tls_flow_frames().into();
    let gate = Arc::new(AtomicBool::new(true));
    let source = Box::new(Replay {
        frames,
        current: Vec::new(),
        gate,
        drops: None,
    });
    let watch = RwLock::new(Watch {
        addresses: ["203.0.113.10".parse().unwrap()].into(),
        ports: [443].into(),
    });
    // Nobody drains this channel of one slot.
    let (sender, _receiver) = std::sync::mpsc::sync_channel(1);
    let (stop, counters) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(Counters::default()),
    );
    let reader = {
        let (stop, counters) = (stop.clone(), counters.clone());
        std::thread::spawn(move || read_loop(source, &watch, &stop, &sender, &counters, true))
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while counters.seen.load(Ordering::SeqCst) < 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    stop.store(true, Ordering::SeqCst);
    reader.join().unwrap();
    assert_eq!(counters.kept.load(Ordering::SeqCst), 4);
    assert_eq!(counters.dropped.load(Ordering::SeqCst), 3);
}

#[test]
fn pcap_file_holds_the_kept_frames() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.pcap");
    let frames = tls_flow_frames();
    let (outcome, _) = replay(
        frames.clone(),
        Options {
            pcap: Some(path.clone()),
        },
    );
    assert_eq!(outcome.summary.pcap.as_deref(), path.to_str());
    let bytes = std::fs::read(&path).unwrap();
    let mut reader = pcap_file::pcap::PcapReader::new(&bytes[..]).unwrap();
    let mut written = Vec::new();
    while let Some(packet) = reader.next_packet() {
        written.push(packet.unwrap().data.into_owned());
    }
    assert_eq!(written, frames);
}

#[test]
fn off_capture_says_why_and_how() {
    let capture = Capture::off("CAP_NET_RAW is missing", Some("setcap".into()));
    assert!(!capture.running());
    capture.watch(&["203.0.113.10".parse().unwrap()], &[443]);
    let outcome = capture.finish();
    assert!(!outcome.summary.ran);
    assert_eq!(
        outcome.summary.reason.as_deref(),
        Some("CAP_NET_RAW is missing")
    );
    assert_eq!(outcome.summary.hint.as_deref(), Some("setcap"));
    assert!(outcome.flows.is_empty());
}
