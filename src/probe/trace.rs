//! A TCP SYN trace to port 443 of each distinct address, the way `tcptraceroute` does it: SYNs
//! built by hand and sent on a raw socket with increasing TTL (hop limit), every address and
//! every TTL at once, answers collected until each address is reached or the time is up.
//!
//! Routers on the way answer with ICMP time exceeded from their own address; the destination
//! answers the SYN itself (SYN-ACK, or RST when the port is closed), and the kernel resets the
//! half-open connection. Needs `CAP_NET_RAW`; without it nothing is sent and each trace says so.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use etherparse::{
    Icmpv4Slice, Icmpv4Type, Icmpv6Slice, Icmpv6Type, LaxSlicedPacket, TcpHeader, TcpOptionElement,
    TcpSlice, TransportSlice,
};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// How a trace runs.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// The destination port.
    pub port: u16,
    /// The highest TTL tried.
    pub max_ttl: u8,
    /// The longest the whole trace may take.
    pub budget: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            port: 443,
            max_ttl: 16,
            budget: Duration::from_millis(2500),
        }
    }
}

/// How the traces of a run went, for the report.
#[derive(Debug, Clone, Default)]
pub struct Run {
    /// Traces were sent.
    pub ran: bool,
    /// Why not.
    pub reason: Option<String>,
    /// Distinct addresses traced.
    pub addresses: usize,
    /// The options used.
    pub options: Options,
    /// Time the traces took.
    pub ms: f64,
}

/// What answered a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HopKind {
    /// A router said the TTL ran out.
    TimeExceeded,
    /// A router or the destination said it cannot be reached (a reject).
    Unreachable,
    /// The destination answered the SYN.
    Destination,
}

impl HopKind {
    /// The value written in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            HopKind::TimeExceeded => "time-exceeded",
            HopKind::Unreachable => "unreachable",
            HopKind::Destination => "destination",
        }
    }
}

/// One answer: the TTL of the probe, who answered and how fast.
#[derive(Debug, Clone, PartialEq)]
pub struct Hop {
    /// The probe's TTL (hop limit).
    pub ttl: u8,
    /// Who answered.
    pub address: IpAddr,
    /// From sending the probe to the answer.
    pub ms: f64,
    /// What the answer was.
    pub kind: HopKind,
}

/// The trace of one address.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trace {
    /// The hops that answered, by TTL, ending with the destination when it answered.
    pub hops: Vec<Hop>,
    /// The lowest TTL at which the destination answered.
    pub reached: Option<u8>,
    /// How the destination answered: `syn-ack` or `rst`.
    pub answer: Option<&'static str>,
    /// Probes sent.
    pub probes: u32,
    /// Why the trace did not run.
    pub error: Option<String>,
}

impl Trace {
    /// Anything answered a probe.
    pub fn answered(&self) -> bool {
        !self.hops.is_empty()
    }

    /// A trace that did not run, and why.
    pub fn failed(error: impl Into<String>) -> Trace {
        Trace {
            error: Some(error.into()),
            ..Trace::default()
        }
    }
}

/// Traces every address (at most 255 per family) within the budget; runs on a blocking thread.
pub async fn run(addresses: Vec<IpAddr>, options: Options) -> BTreeMap<IpAddr, Trace> {
    let fallback = addresses.clone();
    tokio::task::spawn_blocking(move || trace_all(&addresses, &options))
        .await
        .unwrap_or_else(|err| {
            fallback
                .into_iter()
                .map(|a| (a, Trace::failed(format!("the trace thread failed: {err}"))))
                .collect()
        })
}

/// Traces both families side by side.
pub fn trace_all(addresses: &[IpAddr], options: &Options) -> BTreeMap<IpAddr, Trace> {
    let mut unique: Vec<IpAddr> = Vec::new();
    for address in addresses {
        if !unique.contains(address) {
            unique.push(*address);
        }
    }
    let (v6, v4): (Vec<IpAddr>, Vec<IpAddr>) = unique.into_iter().partition(IpAddr::is_ipv6);
    let mut traces = BTreeMap::new();
    std::thread::scope(|scope| {
        let families: Vec<_> = [v4, v6]
            .into_iter()
            .filter(|family| !family.is_empty())
            .map(|family| scope.spawn(move || (trace_family(&family, options), family)))
            .collect();
        for family in families {
            if let Ok((results, addresses)) = family.join() {
                traces.extend(addresses.into_iter().zip(results));
            }
        }
    });
    traces
}

/// One answer, as a receiving thread decoded it.
#[derive(Debug)]
struct Event {
    at: Instant,
    index: usize,
    ttl: u8,
    from: IpAddr,
    kind: HopKind,
    answer: Option<&'static str>,
}

/// What identifies this run's probes: the source port, a tag in the sequence number, the
/// destinations by index.
struct Probe<'a> {
    targets: &'a [IpAddr],
    source_port: u16,
    port: u16,
    tag: u16,
}

impl Probe<'_> {
    /// The sequence number of the probe to target `index` with `ttl`.
    fn sequence(&self, index: usize, ttl: u8) -> u32 {
        (u32::from(self.tag) << 16) | ((index as u32 & 0xff) << 8) | u32::from(ttl)
    }

    /// The target index and TTL of a sequence number of ours, checked against the address.
    fn decode(&self, sequence: u32, destination: IpAddr) -> Option<(usize, u8)> {
        if (sequence >> 16) as u16 != self.tag {
            return None;
        }
        let index = ((sequence >> 8) & 0xff) as usize;
        let ttl = (sequence & 0xff) as u8;
        (self.targets.get(index) == Some(&destination) && ttl > 0).then_some((index, ttl))
    }
}

/// Per-target state while the trace runs.
#[derive(Default)]
struct Progress {
    sent: BTreeMap<u8, Instant>,
    answers: BTreeMap<u8, Hop>,
    reached: Option<u8>,
    answer: Option<&'static str>,
    probes: u32,
    stopped: bool,
}

impl Progress {
    /// Reached (or stopped by a reject) with every lower TTL answered.
    fn complete(&self) -> bool {
        let end = self.reached.or(self
            .stopped
            .then(|| self.answers.keys().max().copied())
            .flatten());
        end.is_some_and(|end| (1..end).all(|ttl| self.answers.contains_key(&ttl)))
    }

    fn into_trace(self) -> Trace {
        let limit = self.reached.unwrap_or(u8::MAX);
        let hops = self
            .answers
            .into_values()
            .filter(|hop| hop.ttl <= limit)
            .collect();
        Trace {
            hops,
            reached: self.reached,
            answer: self.answer,
            probes: self.probes,
            error: None,
        }
    }
}

fn trace_family(targets: &[IpAddr], options: &Options) -> Vec<Trace> {
    let v6 = targets.first().is_some_and(IpAddr::is_ipv6);
    match run_family(targets, v6, options) {
        Ok(traces) => traces,
        Err(err) => {
            let why = if err.kind() == io::ErrorKind::PermissionDenied {
                format!("no raw socket (CAP_NET_RAW is missing): {err}")
            } else {
                format!("no raw socket: {err}")
            };
            targets.iter().map(|_| Trace::failed(why.clone())).collect()
        }
    }
}

fn run_family(targets: &[IpAddr], v6: bool, options: &Options) -> io::Result<Vec<Trace>> {
    // TODO(more than 255 addresses of one family): the sequence number has 8 bits for the
    // target; the rest go untraced and their verdicts say there was no trace.
    let targets = &targets[..targets.len().min(255)];
    let domain = if v6 { Domain::IPV6 } else { Domain::IPV4 };
    let tcp = Socket::new(domain, Type::RAW, Some(Protocol::TCP))?;
    let icmp_protocol = if v6 {
        Protocol::ICMPV6
    } else {
        Protocol::ICMPV4
    };
    let icmp = Socket::new(domain, Type::RAW, Some(icmp_protocol))?;

    // A bound socket keeps the source port ours for the run; the kernel resets the SYN-ACKs.
    let reservation = Socket::new(domain, Type::STREAM, None)?;
    reservation.bind(&SockAddr::from(SocketAddr::new(unspecified(v6), 0)))?;
    let source_port = reservation
        .local_addr()?
        .as_socket()
        .map_or(0, |a| a.port());
    let sources: Vec<Option<IpAddr>> = targets.iter().map(|t| source_for(*t)).collect();
    let probe = Probe {
        targets,
        source_port,
        port: options.port,
        tag: run_tag(),
    };

    let started = Instant::now();
    let deadline = started + options.budget;
    let stop = AtomicBool::new(false);
    let (sender, events) = mpsc::channel();
    let mut progress: Vec<Progress> = targets.iter().map(|_| Progress::default()).collect();
    std::thread::scope(|scope| -> io::Result<()> {
        for (socket, icmp) in [(&tcp, false), (&icmp, true)] {
            let receiver: UdpSocket = socket.try_clone()?.into();
            receiver.set_read_timeout(Some(Duration::from_millis(20)))?;
            let (probe, stop, sender) = (&probe, &stop, sender.clone());
            std::thread::Builder::new()
                .name("egress-trace-rx".into())
                .spawn_scoped(scope, move || {
                    receive(&receiver, icmp, v6, probe, stop, &sender)
                })?;
        }
        drop(sender);
        let outcome = probe_until(
            &tcp,
            &probe,
            &sources,
            &events,
            &mut progress,
            options,
            deadline,
        );
        stop.store(true, Ordering::SeqCst);
        outcome
    })?;
    drop(reservation);
    Ok(progress.into_iter().map(Progress::into_trace).collect())
}

/// Sends every TTL to every target, once more at half time for what is missing, and collects
/// answers until everything is complete or the deadline passes.
fn probe_until(
    socket: &Socket,
    probe: &Probe<'_>,
    sources: &[Option<IpAddr>],
    events: &Receiver<Event>,
    progress: &mut [Progress],
    options: &Options,
    deadline: Instant,
) -> io::Result<()> {
    let halfway = Instant::now() + options.budget / 2;
    for round in 0..2 {
        if round == 1 {
            collect(events, progress, halfway.min(deadline));
        }
        for ttl in 1..=options.max_ttl {
            for (index, state) in progress.iter_mut().enumerate() {
                let done = state.reached.is_some_and(|r| ttl >= r) || state.stopped;
                if done || state.answers.contains_key(&ttl) {
                    continue;
                }
                let Some(source) = sources[index] else {
                    continue;
                };
                // Timed before sending: over a short path the answer can beat the return.
                state.sent.insert(ttl, Instant::now());
                send_syn(socket, probe, source, index, ttl)?;
                state.probes += 1;
            }
            collect(events, progress, Instant::now() + Duration::from_millis(2));
        }
    }
    collect(events, progress, deadline);
    Ok(())
}

/// Applies answers until `until`, or until every target is complete.
fn collect(events: &Receiver<Event>, progress: &mut [Progress], until: Instant) {
    while !progress.iter().all(Progress::complete) {
        let wait = until.saturating_duration_since(Instant::now());
        if wait.is_zero() {
            return;
        }
        match events.recv_timeout(wait.min(Duration::from_millis(20))) {
            Ok(event) => apply(event, progress),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

fn apply(event: Event, progress: &mut [Progress]) {
    let Some(state) = progress.get_mut(event.index) else {
        return;
    };
    let ms = state.sent.get(&event.ttl).map_or(0.0, |sent| {
        event.at.saturating_duration_since(*sent).as_secs_f64() * 1000.0
    });
    if event.kind == HopKind::Destination {
        if state.reached.is_none_or(|r| event.ttl < r) {
            state.reached = Some(event.ttl);
            state.answer = event.answer;
        }
    } else if event.kind == HopKind::Unreachable {
        state.stopped = true;
    }
    state.answers.entry(event.ttl).or_insert(Hop {
        ttl: event.ttl,
        address: event.from,
        ms,
        kind: event.kind,
    });
}

fn send_syn(
    socket: &Socket,
    probe: &Probe<'_>,
    source: IpAddr,
    index: usize,
    ttl: u8,
) -> io::Result<()> {
    let destination = probe.targets[index];
    let mut header = TcpHeader::new(
        probe.source_port,
        probe.port,
        probe.sequence(index, ttl),
        64240,
    );
    header.syn = true;
    let _ = header.set_options(&[TcpOptionElement::MaximumSegmentSize(1460)]);
    header.checksum = match (source, destination) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            header.calc_checksum_ipv4_raw(s.octets(), d.octets(), &[])
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            header.calc_checksum_ipv6_raw(s.octets(), d.octets(), &[])
        }
        _ => return Ok(()),
    }
    .unwrap_or(0);
    if destination.is_ipv6() {
        socket.set_unicast_hops_v6(u32::from(ttl))?;
    } else {
        socket.set_ttl_v4(u32::from(ttl))?;
    }
    let to = SockAddr::from(SocketAddr::new(destination, 0));
    match socket.send_to(&header.to_bytes(), &to) {
        Ok(_) => Ok(()),
        // An unreachable network is an answer of sorts, not a reason to give up the trace.
        Err(err) if err.raw_os_error() == Some(libc::ENETUNREACH) => Ok(()),
        Err(err) if err.raw_os_error() == Some(libc::EHOSTUNREACH) => Ok(()),
        Err(err) => Err(err),
    }
}

/// The receiving thread of one raw socket: decodes answers to this run's probes.
fn receive(
    socket: &UdpSocket,
    icmp: bool,
    v6: bool,
    probe: &Probe<'_>,
    stop: &AtomicBool,
    sender: &Sender<Event>,
) {
    let mut buffer = vec![0u8; 65536];
    while !stop.load(Ordering::Relaxed) {
        let (length, from) = match socket.recv_from(&mut buffer) {
            Ok(received) => received,
            Err(_) => continue,
        };
        let at = Instant::now();
        let bytes = &buffer[..length];
        let decoded = match (icmp, v6) {
            (false, false) => tcp_answer_v4(bytes, probe),
            (false, true) => tcp_answer(bytes, from.ip(), probe),
            (true, false) => icmp_answer_v4(bytes, probe),
            (true, true) => icmp_answer_v6(bytes, from.ip(), probe),
        };
        if let Some((index, ttl, from, kind, answer)) = decoded {
            let event = Event {
                at,
                index,
                ttl,
                from,
                kind,
                answer,
            };
            if sender.send(event).is_err() {
                return;
            }
        }
    }
}

type Decoded = (usize, u8, IpAddr, HopKind, Option<&'static str>);

/// A raw IPv4 TCP socket hands over the IP header too.
fn tcp_answer_v4(bytes: &[u8], probe: &Probe<'_>) -> Option<Decoded> {
    let sliced = LaxSlicedPacket::from_ip(bytes).ok()?;
    let from = match sliced.net? {
        etherparse::LaxNetSlice::Ipv4(v4) => IpAddr::V4(v4.header().source_addr()),
        _ => return None,
    };
    let Some(TransportSlice::Tcp(tcp)) = sliced.transport else {
        return None;
    };
    tcp_decision(&tcp, from, probe)
}

/// A raw IPv6 TCP socket hands over the TCP header only; the sender comes from `recvfrom`.
fn tcp_answer(bytes: &[u8], from: IpAddr, probe: &Probe<'_>) -> Option<Decoded> {
    let tcp = TcpSlice::from_slice(bytes).ok()?;
    tcp_decision(&tcp, from, probe)
}

fn tcp_decision(tcp: &TcpSlice<'_>, from: IpAddr, probe: &Probe<'_>) -> Option<Decoded> {
    if tcp.source_port() != probe.port || tcp.destination_port() != probe.source_port {
        return None;
    }
    let answer = match (tcp.syn(), tcp.ack(), tcp.rst()) {
        (true, true, _) => "syn-ack",
        (_, _, true) => "rst",
        _ => return None,
    };
    let (index, ttl) = probe.decode(tcp.acknowledgment_number().wrapping_sub(1), from)?;
    Some((index, ttl, from, HopKind::Destination, Some(answer)))
}

fn icmp_answer_v4(bytes: &[u8], probe: &Probe<'_>) -> Option<Decoded> {
    let sliced = LaxSlicedPacket::from_ip(bytes).ok()?;
    let from = match sliced.net? {
        etherparse::LaxNetSlice::Ipv4(v4) => IpAddr::V4(v4.header().source_addr()),
        _ => return None,
    };
    let Some(TransportSlice::Icmpv4(icmp)) = sliced.transport else {
        return None;
    };
    icmp_v4_decision(&icmp, from, probe)
}

fn icmp_v4_decision(icmp: &Icmpv4Slice<'_>, from: IpAddr, probe: &Probe<'_>) -> Option<Decoded> {
    let kind = match icmp.icmp_type() {
        Icmpv4Type::TimeExceeded(_) => HopKind::TimeExceeded,
        Icmpv4Type::DestinationUnreachable(_) => HopKind::Unreachable,
        _ => return None,
    };
    let (index, ttl) = quoted_probe(icmp.payload(), probe)?;
    Some((index, ttl, from, kind, None))
}

fn icmp_answer_v6(bytes: &[u8], from: IpAddr, probe: &Probe<'_>) -> Option<Decoded> {
    let icmp = Icmpv6Slice::from_slice(bytes).ok()?;
    let kind = match icmp.icmp_type() {
        Icmpv6Type::TimeExceeded(_) => HopKind::TimeExceeded,
        Icmpv6Type::DestinationUnreachable(_) => HopKind::Unreachable,
        _ => return None,
    };
    let (index, ttl) = quoted_probe(icmp.payload(), probe)?;
    Some((index, ttl, from, kind, None))
}

/// The probe an ICMP error quotes: its IP header and at least the first 8 TCP bytes (ports
/// and sequence number), all that RFC 792 promises.
fn quoted_probe(quoted: &[u8], probe: &Probe<'_>) -> Option<(usize, u8)> {
    let sliced = LaxSlicedPacket::from_ip(quoted).ok()?;
    let net = sliced.net?;
    let destination = match &net {
        etherparse::LaxNetSlice::Ipv4(v4) => IpAddr::V4(v4.header().destination_addr()),
        etherparse::LaxNetSlice::Ipv6(v6) => IpAddr::V6(v6.header().destination_addr()),
        etherparse::LaxNetSlice::Arp(_) => return None,
    };
    let payload = net.ip_payload_ref()?;
    if payload.ip_number != etherparse::IpNumber::TCP {
        return None;
    }
    let tcp = payload.payload.get(..8)?;
    let source_port = u16::from_be_bytes([tcp[0], tcp[1]]);
    let destination_port = u16::from_be_bytes([tcp[2], tcp[3]]);
    if source_port != probe.source_port || destination_port != probe.port {
        return None;
    }
    probe.decode(
        u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]),
        destination,
    )
}

/// The source address the kernel would use towards `target` (no packet is sent).
fn source_for(target: IpAddr) -> Option<IpAddr> {
    let socket = UdpSocket::bind(SocketAddr::new(unspecified(target.is_ipv6()), 0)).ok()?;
    socket.connect(SocketAddr::new(target, 443)).ok()?;
    Some(socket.local_addr().ok()?.ip())
}

fn unspecified(v6: bool) -> IpAddr {
    if v6 {
        Ipv6Addr::UNSPECIFIED.into()
    } else {
        Ipv4Addr::UNSPECIFIED.into()
    }
}

/// 16 bits that tell this run's probes from an earlier run's late answers.
fn run_tag() -> u16 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    (nanos ^ std::process::id().rotate_left(7)) as u16 | 1
}

#[cfg(test)]
mod tests;
