//! The per-record analysis: which side is remote, what AWS service and region it is, and the
//! tallies behind every report, kept by keys of small ids on the hot path and turned into a
//! named [`Summary`] once per worker.

use std::net::IpAddr;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::flowlogs::attribution::{Attributor, is_private};
use crate::flowlogs::filter::{Candidate, Filter};
use crate::flowlogs::names::Interner;
use crate::flowlogs::record::{Action, Direction, LogStatus, Record};
use crate::flowlogs::summary::{
    self, Class, Counts, CrossKey, Holder, PathKey, Peer, PlainKey, RejectKey, Scope, Seen,
    Summary, TalkKey,
};
use crate::flowlogs::tallies::{Packed, Tallies};

/// Ports below this are service ports; the rest are ephemeral (NAT gateways, ELB and Lambda use
/// 1024-65535, Linux 32768-60999, Windows 49152-65535).
pub const EPHEMERAL_FROM: u16 = 1024;

/// What the user told the analysis, shared by every worker.
#[derive(Debug, Default)]
pub struct Settings {
    /// The interfaces' own addresses (`--eni-addr`).
    pub eni_addrs: FxHashSet<IpAddr>,
    /// Interfaces known to be NAT gateways (`--nat-eni`).
    pub nat_enis: FxHashSet<String>,
    /// The log's region when records lack `region` (`--region`).
    pub region: Option<String>,
    /// Which records to keep.
    pub filter: Filter,
}

/// Everything a worker reads and never changes.
#[derive(Debug)]
pub struct Context {
    /// Attribution, when ip-ranges data is available.
    pub attributor: Option<Attributor>,
    /// The ip-ranges file the attribution came from.
    pub source: Option<String>,
    /// The options.
    pub settings: Settings,
}

/// The remote side in ids: scope, service label id, region id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Remote {
    scope: Scope,
    service: u32,
    region: u32,
}

/// Remotes by dense id, so that a tally key carries the remote side as one `u32`. They are
/// few: a service label and region of ip-ranges, or a `pkt-*-aws-service` label with one.
#[derive(Debug, Default)]
struct Remotes {
    ids: FxHashMap<Remote, u32>,
    list: Vec<Remote>,
}

impl Remotes {
    /// The id of `remote`, added if new.
    fn id(&mut self, remote: Remote) -> u32 {
        let next = self.list.len() as u32;
        let id = *self.ids.entry(remote).or_insert(next);
        if id == next {
            self.list.push(remote);
        }
        id
    }

    /// The remote of an id.
    #[inline]
    fn get(&self, id: u32) -> Remote {
        self.list[id as usize]
    }
}

/// Key of a REJECT group, in ids.
#[derive(Debug, Clone, Copy)]
struct RejectIds {
    remote: u32,
    direction: Option<Direction>,
    protocol: u8,
    port: u16,
    return_traffic: bool,
    reason: u32,
}

/// Key of a plaintext group, in ids.
#[derive(Debug, Clone, Copy)]
struct PlainIds {
    holder: HolderId,
    remote: u32,
    direction: Option<Direction>,
    inside: bool,
}

/// Key of a cross-region group, in ids.
#[derive(Debug, Clone, Copy)]
struct CrossIds {
    holder: HolderId,
    own: u32,
    remote: u32,
    direction: Option<Direction>,
    inside: bool,
}

/// Key of an S3 traffic-path group, in ids.
#[derive(Debug, Clone, Copy)]
struct PathIds {
    holder: HolderId,
    path: Option<u8>,
    region: u32,
    inside: bool,
}

/// Key of a talker group, in ids.
#[derive(Debug, Clone, Copy)]
struct TalkIds {
    holder: HolderId,
    remote: u32,
    direction: Option<Direction>,
    inside: bool,
}

/// Who a record's tallies go to, in ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum HolderId {
    Class(Class),
    Interface(u32),
}

impl HolderId {
    /// The holder as a number: a class below 3, an interface from 3 up.
    fn code(self) -> u64 {
        match self {
            HolderId::Class(class) => class as u64,
            HolderId::Interface(id) => 3 + u64::from(id),
        }
    }
}

/// A direction as a number: 0 when undecided.
fn direction_code(direction: Option<Direction>) -> u128 {
    match direction {
        None => 0,
        Some(Direction::Ingress) => 1,
        Some(Direction::Egress) => 2,
    }
}

impl Packed for RejectIds {
    fn pack(self) -> u128 {
        u128::from(self.remote)
            | u128::from(self.reason) << 32
            | u128::from(self.port) << 64
            | u128::from(self.protocol) << 80
            | direction_code(self.direction) << 88
            | u128::from(self.return_traffic) << 96
    }
}

impl Packed for PlainIds {
    fn pack(self) -> u128 {
        u128::from(self.remote)
            | u128::from(self.holder.code()) << 32
            | direction_code(self.direction) << 96
            | u128::from(self.inside) << 104
    }
}

impl Packed for CrossIds {
    fn pack(self) -> u128 {
        u128::from(self.remote)
            | u128::from(self.own) << 32
            | u128::from(self.holder.code()) << 64
            | direction_code(self.direction) << 112
            | u128::from(self.inside) << 120
    }
}

impl Packed for PathIds {
    fn pack(self) -> u128 {
        let path = self.path.map_or(0, |path| u128::from(path) + 1);
        u128::from(self.region)
            | u128::from(self.holder.code()) << 32
            | path << 96
            | u128::from(self.inside) << 112
    }
}

impl Packed for TalkIds {
    fn pack(self) -> u128 {
        u128::from(self.remote)
            | u128::from(self.holder.code()) << 32
            | direction_code(self.direction) << 96
            | u128::from(self.inside) << 104
    }
}

/// Which side of a record is remote, and how sure that is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct View {
    remote: IpAddr,
    remote_is_src: bool,
    direction: Option<Direction>,
    rewritten: bool,
    rewrites_public: bool,
    /// The record would be the instance-facing leg of a NAT interface: addresses rewritten,
    /// or, where the format lacks either `pkt-*` field, a private remote.
    inside: bool,
}

/// Size of the per-worker cache of IPv4 attributions (a power of two).
const CACHE: usize = 1 << 12;

/// Cache value: not an AWS address.
const NOT_AWS: u32 = 1;

/// A cached IPv4 attribution: the address, its group (0 for an empty slot, `NOT_AWS`, or the
/// group id past `NOT_AWS`) and the id of its remote when no `pkt-*-aws-service` names one.
#[derive(Debug, Clone, Copy, Default)]
struct Cached {
    addr: u32,
    group: u32,
    remote: u32,
}

/// The slot of an IPv4 address in the attribution cache.
#[inline]
fn cache_slot(addr: u32) -> usize {
    (addr.wrapping_mul(0x9E37_79B1) >> (32 - CACHE.trailing_zeros())) as usize
}

/// Cache slots of the talker tallies, hit by every record.
const TALKER_SLOTS: usize = 1 << 10;

/// Cache slots of the other tallies, hit by some records.
const OTHER_SLOTS: usize = 1 << 8;

/// One worker's running tallies.
pub struct Tally<'c> {
    ctx: &'c Context,
    services: Interner,
    regions: Interner,
    interfaces: Interner,
    reasons: Interner,
    remotes: Remotes,
    group_remotes: Vec<u32>,
    cache: Vec<Cached>,
    unknown_region: u32,
    global_region: u32,
    private: u32,
    internet: u32,
    unattributed: u32,
    s3: Vec<bool>,
    summary: Summary,
    rejects: Tallies<RejectIds>,
    plaintext: Tallies<PlainIds>,
    cross_region: Tallies<CrossIds>,
    s3_paths: Tallies<PathIds>,
    talkers: Tallies<TalkIds>,
    seen: Vec<Seen>,
}

impl<'c> Tally<'c> {
    /// A tally with the attribution groups already named.
    pub fn new(ctx: &'c Context) -> Tally<'c> {
        let mut services = Interner::default();
        let mut regions = Interner::default();
        let mut remotes = Remotes::default();
        let dash = services.id(b"-");
        let no_region = regions.id(b"-");
        let unknown_region = regions.id(b"unknown");
        let global_region = regions.id(b"GLOBAL");
        let mut outside = |scope| {
            remotes.id(Remote {
                scope,
                service: dash,
                region: no_region,
            })
        };
        let (private, internet, unattributed) = (
            outside(Scope::Private),
            outside(Scope::Internet),
            outside(Scope::Unattributed),
        );
        let group_remotes = ctx
            .attributor
            .iter()
            .flat_map(|attributor| attributor.groups())
            .map(|group| {
                remotes.id(Remote {
                    scope: Scope::Aws,
                    service: services.id(group.label.as_bytes()),
                    region: regions.id(group.region.as_bytes()),
                })
            })
            .collect();

        Tally {
            ctx,
            services,
            regions,
            interfaces: Interner::default(),
            reasons: Interner::default(),
            remotes,
            group_remotes,
            cache: vec![Cached::default(); CACHE],
            unknown_region,
            global_region,
            private,
            internet,
            unattributed,
            s3: Vec::new(),
            summary: Summary::default(),
            rejects: Tallies::new(OTHER_SLOTS),
            plaintext: Tallies::new(OTHER_SLOTS),
            cross_region: Tallies::new(OTHER_SLOTS),
            s3_paths: Tallies::new(OTHER_SLOTS),
            talkers: Tallies::new(TALKER_SLOTS),
            seen: Vec::new(),
        }
    }

    /// The id of the region a file's records belong to when they carry no `region` field.
    pub fn region_id(&mut self, region: Option<&str>) -> Option<u32> {
        region.map(|region| self.regions.id(region.as_bytes()))
    }

    /// Adds one record; `log_region` is the file's region when the record has none.
    #[inline]
    pub fn add(&mut self, record: &Record<'_>, log_region: Option<u32>) {
        self.time(record.start, record.end);
        let counter = match (record.status, record.src, record.dst) {
            (LogStatus::NoData, ..) => &mut self.summary.nodata,
            (LogStatus::SkipData, ..) => &mut self.summary.skipdata,
            (LogStatus::Ok, None, _) | (LogStatus::Ok, _, None) => &mut self.summary.unaddressed,
            (LogStatus::Ok, Some(src), Some(dst)) => {
                return self.addressed(record, src, dst, log_region);
            }
        };
        *counter += 1;
    }

    /// Adds an OK record that has both addresses.
    #[inline]
    fn addressed(
        &mut self,
        record: &Record<'_>,
        src: IpAddr,
        dst: IpAddr,
        log_region: Option<u32>,
    ) {
        let mut view = self.view(record, src, dst);
        // Where the format lacks a `pkt-*` field, some rewritten legs cannot show: a private
        // remote stands for them.
        view.inside = view.rewritten || (!record.pkt_both && is_private(view.remote));
        let (remote, group) = self.remote(record, &view);
        // What an interface does tells its role, whether or not the record is filtered out.
        let holder = self.holder(record, &view);
        if !self.ctx.settings.filter.is_empty() && !self.passes(record, remote, group) {
            self.summary.filtered_out += 1;
            return;
        }
        self.summary.analysed += 1;

        let counts = Counts::one(record.packets, record.bytes);
        let talk = TalkIds {
            holder,
            remote,
            direction: view.direction,
            inside: view.inside,
        };
        self.talkers.add(talk, counts);

        match record.action {
            Some(Action::Reject) => self.reject(record, remote, &view, counts),
            Some(Action::Accept) => {
                self.accepted(record, remote, &view, log_region, holder, counts);
            }
            None => {}
        }
    }

    #[inline]
    fn time(&mut self, start: Option<u64>, end: Option<u64>) {
        // Either end of a record bounds the range, so that one written with its start after
        // its end cannot turn the range around.
        let first = summary::min_some(start, end);
        self.summary.first_start = summary::min_some(self.summary.first_start, first);
        self.summary.last_end = self.summary.last_end.max(start).max(end);
    }

    /// Decides the remote side: where `pkt-*` addresses differ from `srcaddr`/`dstaddr` (a NAT
    /// gateway or other intermediate interface) the public packet address, or else the
    /// rewritten one; then `flow-direction`, `--eni-addr`, which side is private, and which
    /// side AWS publishes.
    #[inline]
    fn view(&mut self, record: &Record<'_>, src: IpAddr, dst: IpAddr) -> View {
        let remote_src = |direction| View {
            remote: record.pkt_src.unwrap_or(src),
            remote_is_src: true,
            direction,
            rewritten: false,
            rewrites_public: false,
            inside: false,
        };
        let remote_dst = |direction| View {
            remote: record.pkt_dst.unwrap_or(dst),
            remote_is_src: false,
            direction,
            rewritten: false,
            rewrites_public: false,
            inside: false,
        };

        let rewritten_src = record.pkt_src.is_some_and(|pkt| pkt != src);
        let rewritten_dst = record.pkt_dst.is_some_and(|pkt| pkt != dst);
        if rewritten_src || rewritten_dst {
            let (real_src, real_dst) =
                (record.pkt_src.unwrap_or(src), record.pkt_dst.unwrap_or(dst));
            let view = match (is_private(real_src), is_private(real_dst)) {
                (false, true) => remote_src(Some(Direction::Ingress)),
                (true, false) => remote_dst(Some(Direction::Egress)),
                _ if rewritten_dst => remote_dst(Some(Direction::Egress)),
                _ => remote_src(Some(Direction::Ingress)),
            };
            return View {
                rewritten: true,
                rewrites_public: !is_private(view.remote),
                ..view
            };
        }
        match record.direction {
            Some(Direction::Ingress) => return remote_src(Some(Direction::Ingress)),
            Some(Direction::Egress) => return remote_dst(Some(Direction::Egress)),
            None => {}
        }

        let own = &self.ctx.settings.eni_addrs;
        if !own.is_empty() {
            if own.contains(&dst) {
                return remote_src(Some(Direction::Ingress));
            }
            if own.contains(&src) {
                return remote_dst(Some(Direction::Egress));
            }
        }
        let (src_private, dst_private) = (is_private(src), is_private(dst));
        if src_private != dst_private {
            // The public side is remote; either is as likely, so it is selected, not branched to.
            let remote_is_src = dst_private;
            return View {
                remote: if remote_is_src { src } else { dst },
                remote_is_src,
                direction: Some(if remote_is_src {
                    Direction::Ingress
                } else {
                    Direction::Egress
                }),
                rewritten: false,
                rewrites_public: false,
                inside: false,
            };
        }
        if src_private {
            return remote_dst(None);
        }
        // A VPC's IPv6 addresses are public and published as EC2's: where one side is an
        // EC2-only address and the other is not, the EC2 side is the interface's own.
        if let (IpAddr::V6(_), IpAddr::V6(_)) = (src, dst) {
            match (self.ec2_only(src), self.ec2_only(dst)) {
                (true, false) => return remote_dst(Some(Direction::Egress)),
                (false, true) => return remote_src(Some(Direction::Ingress)),
                _ => {}
            }
        }
        match (self.group(src).is_some(), self.group(dst).is_some()) {
            (true, false) => remote_src(Some(Direction::Ingress)),
            (false, true) => remote_dst(Some(Direction::Egress)),
            _ => remote_dst(None),
        }
    }

    /// The remote's id (scope, service and region), and its ip-ranges group.
    #[inline]
    fn remote(&mut self, record: &Record<'_>, view: &View) -> (u32, Option<u32>) {
        let (remote, group) = self.attribution(view.remote);
        let field = if view.remote_is_src {
            record.pkt_src_service
        } else {
            record.pkt_dst_service
        };
        let Some(field) = field.filter(|_| remote != self.private) else {
            return (remote, group);
        };

        self.check_agreement(view.remote, field, group);
        let region = group.map_or(self.unknown_region, |group| {
            self.remotes.get(self.group_remotes[group as usize]).region
        });
        let remote = Remote {
            scope: Scope::Aws,
            service: self.services.id(field),
            region,
        };
        (self.remotes.id(remote), group)
    }

    /// True for an address whose prefixes are published for EC2 alone (and `AMAZON`).
    fn ec2_only(&mut self, addr: IpAddr) -> bool {
        let (Some(group), Some(attributor)) = (self.group(addr), &self.ctx.attributor) else {
            return false;
        };
        let services = &attributor.groups()[group as usize].services;
        services.iter().any(|s| s == "EC2") && services.iter().all(|s| s == "EC2" || s == "AMAZON")
    }

    /// The ip-ranges group of an address; `None` for a private one, which is never looked up.
    #[inline]
    fn group(&mut self, addr: IpAddr) -> Option<u32> {
        self.attribution(addr).1
    }

    /// The id of the remote an address is when no `pkt-*-aws-service` names it, and its
    /// ip-ranges group, through a small cache for IPv4.
    #[inline]
    fn attribution(&mut self, addr: IpAddr) -> (u32, Option<u32>) {
        let IpAddr::V4(v4) = addr else {
            return self.attribute(addr);
        };

        let key = u32::from(v4);
        let slot = cache_slot(key);
        let cached = self.cache[slot];
        if cached.group != 0 && cached.addr == key {
            return (cached.remote, cached.group.checked_sub(NOT_AWS + 1));
        }
        let (remote, group) = self.attribute(addr);
        self.cache[slot] = Cached {
            addr: key,
            group: group.map_or(NOT_AWS, |g| g + NOT_AWS + 1),
            remote,
        };
        (remote, group)
    }

    /// What [`Tally::attribution`] caches, worked out.
    fn attribute(&self, addr: IpAddr) -> (u32, Option<u32>) {
        if is_private(addr) {
            return (self.private, None);
        }
        let Some(attributor) = &self.ctx.attributor else {
            return (self.unattributed, None);
        };
        match attributor.group(addr) {
            Some(group) => (self.group_remotes[group as usize], Some(group)),
            None => (self.internet, None),
        }
    }

    fn check_agreement(&mut self, addr: IpAddr, field: &[u8], group: Option<u32>) {
        let Some(attributor) = &self.ctx.attributor else {
            return;
        };
        let published = group.map(|g| &attributor.groups()[g as usize].services);
        if published.is_some_and(|services| services.iter().any(|s| s.as_bytes() == field)) {
            return;
        }

        self.summary.disagreements += 1;
        let field = String::from_utf8_lossy(field);
        self.summary.add_example(addr, &field, || {
            let said = published.map_or("no AWS prefix".to_string(), |s| s.join("+"));
            format!("{addr}: the record says {field}, ip-ranges says {said}")
        });
    }

    fn passes(&self, record: &Record<'_>, remote: u32, group: Option<u32>) -> bool {
        let remote = self.remotes.get(remote);
        let mut names: Vec<&str> = vec![remote.scope.name(), self.services.name(remote.service)];
        if let (Some(group), Some(attributor)) = (group, &self.ctx.attributor) {
            names.extend(
                attributor.groups()[group as usize]
                    .services
                    .iter()
                    .map(String::as_str),
            );
        }
        self.ctx.settings.filter.accepts(&Candidate {
            action: record.action,
            src_port: record.src_port,
            dst_port: record.dst_port,
            services: &names,
            region: self.regions.name(remote.region),
            interface: record.interface,
        })
    }

    /// Who the record's tallies go to: its interface by name when the interface may be a NAT
    /// gateway's (named by `--nat-eni`, or `pkt-*` in the format and no instance named), else
    /// the kind of interface the record itself tells.
    #[inline]
    fn holder(&mut self, record: &Record<'_>, view: &View) -> HolderId {
        let nat_enis = &self.ctx.settings.nat_enis;
        let flagged = !nat_enis.is_empty()
            && std::str::from_utf8(record.interface).is_ok_and(|name| nat_enis.contains(name));
        let class = match record.instance {
            Some(b"-") => Class::Managed,
            Some(_) => Class::Instance,
            None => Class::Unknown,
        };
        if !flagged && (class == Class::Instance || !record.rewritable) {
            return HolderId::Class(class);
        }

        let id = self.interface(record.interface);
        let seen = &mut self.seen[id as usize];
        seen.instance |= class == Class::Instance;
        seen.managed |= class == Class::Managed;
        seen.rewrites_public |= view.rewrites_public;
        seen.talks_public |= !view.rewritten && !is_private(view.remote);
        HolderId::Interface(id)
    }

    fn reject(&mut self, record: &Record<'_>, remote: u32, view: &View, counts: Counts) {
        let (src_port, dst_port) = (record.src_port.unwrap_or(0), record.dst_port.unwrap_or(0));
        let return_traffic = src_port < EPHEMERAL_FROM && dst_port >= EPHEMERAL_FROM;
        let port = if return_traffic { src_port } else { dst_port };
        let reason = match record.reject_reason {
            Some(reason) => self.reasons.id(reason) + 1,
            None => 0,
        };
        let key = RejectIds {
            remote,
            direction: view.direction,
            protocol: record.protocol.unwrap_or(u8::MAX),
            port,
            return_traffic,
            reason,
        };
        self.rejects.add(key, counts);
    }

    fn accepted(
        &mut self,
        record: &Record<'_>,
        remote: u32,
        view: &View,
        log_region: Option<u32>,
        holder: HolderId,
        counts: Counts,
    ) {
        let peer = self.remotes.get(remote);
        if peer.scope != Scope::Aws {
            return;
        }
        let direction = view.direction;

        let remote_port = if view.remote_is_src {
            record.src_port
        } else {
            record.dst_port
        };
        if record.protocol == Some(6) && remote_port == Some(80) {
            let key = PlainIds {
                holder,
                remote,
                direction,
                inside: view.inside,
            };
            self.plaintext.add(key, counts);
        }

        let own = match record.region {
            Some(region) => Some(self.regions.id(region)),
            None => log_region,
        };
        let elsewhere = peer.region != self.global_region && peer.region != self.unknown_region;
        if let Some(own) = own.filter(|&own| elsewhere && own != peer.region) {
            let key = CrossIds {
                holder,
                own,
                remote,
                direction,
                inside: view.inside,
            };
            self.cross_region.add(key, counts);
        }

        if (direction == Some(Direction::Egress)) & self.is_s3(peer.service) {
            let key = PathIds {
                holder,
                path: record.traffic_path,
                region: peer.region,
                inside: view.inside,
            };
            self.s3_paths.add(key, counts);
        }
    }

    /// True when the service label names S3 (`S3`, or S3 among others joined by `+`).
    #[inline]
    fn is_s3(&mut self, service: u32) -> bool {
        let index = service as usize;
        if index >= self.s3.len() {
            let names = self.services.names();
            self.s3.extend(
                names[self.s3.len()..]
                    .iter()
                    .map(|name| name.split('+').any(|part| part == "S3")),
            );
        }
        self.s3[index]
    }

    /// Adds the tallies of `other` (a part of a file read apart) to these, its ids renamed.
    pub fn absorb(&mut self, other: Tally<'_>) {
        let remote = |this: &mut Tally<'_>, id: u32| {
            let remote = other.remotes.get(id);
            let renamed = Remote {
                scope: remote.scope,
                service: this
                    .services
                    .id(other.services.name(remote.service).as_bytes()),
                region: this
                    .regions
                    .id(other.regions.name(remote.region).as_bytes()),
            };
            this.remotes.id(renamed)
        };
        let region =
            |this: &mut Tally<'_>, id: u32| this.regions.id(other.regions.name(id).as_bytes());
        let holder = |this: &mut Tally<'_>, id: HolderId| match id {
            HolderId::Class(class) => HolderId::Class(class),
            HolderId::Interface(id) => {
                HolderId::Interface(this.interface(other.interfaces.name(id).as_bytes()))
            }
        };

        for (ids, counts) in other.rejects.into_entries() {
            let reason = match ids.reason {
                0 => 0,
                id => self.reasons.id(other.reasons.name(id - 1).as_bytes()) + 1,
            };
            let key = RejectIds {
                remote: remote(self, ids.remote),
                reason,
                ..ids
            };
            self.rejects.add(key, counts);
        }
        for (ids, counts) in other.plaintext.into_entries() {
            let key = PlainIds {
                holder: holder(self, ids.holder),
                remote: remote(self, ids.remote),
                ..ids
            };
            self.plaintext.add(key, counts);
        }
        for (ids, counts) in other.cross_region.into_entries() {
            let key = CrossIds {
                holder: holder(self, ids.holder),
                own: region(self, ids.own),
                remote: remote(self, ids.remote),
                ..ids
            };
            self.cross_region.add(key, counts);
        }
        for (ids, counts) in other.s3_paths.into_entries() {
            let key = PathIds {
                holder: holder(self, ids.holder),
                region: region(self, ids.region),
                ..ids
            };
            self.s3_paths.add(key, counts);
        }
        for (ids, counts) in other.talkers.into_entries() {
            let key = TalkIds {
                holder: holder(self, ids.holder),
                remote: remote(self, ids.remote),
                ..ids
            };
            self.talkers.add(key, counts);
        }
        for (id, seen) in other.seen.iter().enumerate() {
            let id = self.interface(other.interfaces.name(id as u32).as_bytes());
            self.seen[id as usize] += *seen;
        }
        self.summary.merge(other.summary);
    }

    /// The id of an interface, with room for what is seen of it.
    fn interface(&mut self, name: &[u8]) -> u32 {
        let id = self.interfaces.id(name);
        if id as usize >= self.seen.len() {
            self.seen.resize(id as usize + 1, Seen::default());
        }
        id
    }

    /// The tallies under names, ready to merge with other workers'.
    pub fn finish(self) -> Summary {
        let mut summary = self.summary;
        let peer = |id: u32| {
            let remote = self.remotes.get(id);
            Peer {
                scope: remote.scope,
                service: self.services.name(remote.service).to_string(),
                region: self.regions.name(remote.region).to_string(),
            }
        };
        let region = |id: u32| self.regions.name(id).to_string();
        let interface = |id: u32| self.interfaces.name(id).to_string();
        let holder = |id: HolderId| match id {
            HolderId::Class(class) => Holder::Class(class),
            HolderId::Interface(id) => Holder::Interface(interface(id)),
        };

        for (ids, counts) in self.rejects.into_entries() {
            let reason = match ids.reason {
                0 => String::new(),
                id => self.reasons.name(id - 1).to_string(),
            };
            let key = RejectKey {
                peer: peer(ids.remote),
                direction: ids.direction,
                protocol: ids.protocol,
                port: ids.port,
                return_traffic: ids.return_traffic,
                reason,
            };
            *summary.rejects.entry(key).or_default() += counts;
        }
        for (ids, counts) in self.plaintext.into_entries() {
            let key = PlainKey {
                holder: holder(ids.holder),
                peer: peer(ids.remote),
                direction: ids.direction,
                inside: ids.inside,
            };
            *summary.plaintext.entry(key).or_default() += counts;
        }
        for (ids, counts) in self.cross_region.into_entries() {
            let key = CrossKey {
                holder: holder(ids.holder),
                log_region: region(ids.own),
                peer: peer(ids.remote),
                direction: ids.direction,
                inside: ids.inside,
            };
            *summary.cross_region.entry(key).or_default() += counts;
        }
        for (ids, counts) in self.s3_paths.into_entries() {
            let key = PathKey {
                holder: holder(ids.holder),
                path: ids.path,
                region: region(ids.region),
                inside: ids.inside,
            };
            *summary.s3_paths.entry(key).or_default() += counts;
        }
        for (ids, counts) in self.talkers.into_entries() {
            let key = TalkKey {
                holder: holder(ids.holder),
                peer: peer(ids.remote),
                direction: ids.direction,
                inside: ids.inside,
            };
            *summary.talkers.entry(key).or_default() += counts;
        }
        for (id, seen) in self.seen.into_iter().enumerate() {
            *summary.interfaces.entry(interface(id as u32)).or_default() += seen;
        }
        summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::ipranges::IpRanges;
    use crate::flowlogs::attribution::tests::RANGES;
    use crate::flowlogs::format::{Format, Origin};
    use crate::flowlogs::record;

    fn context(settings: Settings) -> Context {
        let ranges = IpRanges::parse(RANGES.as_bytes()).unwrap();
        Context {
            attributor: Some(Attributor::new(ranges)),
            source: None,
            settings,
        }
    }

    fn tally(ctx: &Context, format: &str, lines: &[&str]) -> Summary {
        let format = Format::parse(format, Origin::Option).unwrap();
        let mut tally = Tally::new(ctx);
        let region = tally.region_id(Some("us-west-2"));
        for line in lines {
            tally.add(&record::parse(line.as_bytes(), &format).unwrap(), region);
        }
        tally.finish()
    }

    fn peers(summary: &Summary) -> Vec<String> {
        summary
            .talkers
            .keys()
            .map(|key| {
                let holder = match &key.holder {
                    Holder::Interface(name) => name.clone(),
                    Holder::Class(class) => format!("{class:?}"),
                };
                format!(
                    "{holder} {} {} {:?} {}",
                    key.peer.service, key.peer.region, key.direction, key.inside
                )
            })
            .collect()
    }

    #[test]
    fn remote_side_by_privacy_eni_address_and_flow_direction() {
        let format = "interface-id srcaddr dstaddr bytes action";
        let ctx = context(Settings::default());
        let summary = tally(
            &ctx,
            format,
            &[
                "eni-a 10.0.0.1 203.0.113.5 10 ACCEPT",
                "eni-a 203.0.113.5 10.0.0.1 20 ACCEPT",
            ],
        );
        assert_eq!(
            peers(&summary),
            [
                "Unknown S3 us-west-2 Some(Ingress) false",
                "Unknown S3 us-west-2 Some(Egress) false"
            ]
        );

        // Both public (an IPv4 public interface address given by --eni-addr).
        let own = Settings {
            eni_addrs: ["198.51.100.200".parse().unwrap()].into_iter().collect(),
            ..Settings::default()
        };
        let ctx = context(own);
        let summary = tally(
            &ctx,
            format,
            &["eni-a 198.51.100.200 203.0.113.5 10 ACCEPT"],
        );
        assert_eq!(peers(&summary), ["Unknown S3 us-west-2 Some(Egress) false"]);

        let directed = "interface-id srcaddr dstaddr bytes action flow-direction";
        let ctx = context(Settings::default());
        let summary = tally(
            &ctx,
            directed,
            &["eni-a 8.8.8.8 203.0.113.5 10 ACCEPT ingress"],
        );
        assert_eq!(peers(&summary), ["Unknown - - Some(Ingress) false"]);
    }

    #[test]
    fn nat_legs_point_at_the_public_packet_address() {
        let format =
            "interface-id instance-id srcaddr dstaddr pkt-srcaddr pkt-dstaddr bytes action";
        let ctx = context(Settings::default());
        let summary = tally(
            &ctx,
            format,
            &[
                "eni-n - 10.0.1.5 10.0.0.220 10.0.1.5 203.0.113.5 10 ACCEPT",
                "eni-n - 10.0.0.220 10.0.1.5 203.0.113.5 10.0.1.5 20 ACCEPT",
                "eni-n - 10.40.1.175 10.40.2.236 10.20.33.164 10.40.2.236 30 ACCEPT",
            ],
        );
        assert_eq!(
            peers(&summary),
            [
                "eni-n S3 us-west-2 Some(Ingress) true",
                "eni-n S3 us-west-2 Some(Egress) true",
                "eni-n - - Some(Ingress) true"
            ]
        );
        assert!(summary.interfaces["eni-n"].rewrites_public);
        assert!(summary.interfaces["eni-n"].managed);
    }

    #[test]
    fn plaintext_cross_region_and_s3_path_need_accept_and_aws() {
        let format =
            "interface-id srcaddr dstaddr srcport dstport protocol bytes action traffic-path";
        let ctx = context(Settings::default());
        let summary = tally(
            &ctx,
            format,
            &[
                "eni-a 10.0.0.1 203.0.113.5 40000 80 6 100 ACCEPT 8",
                "eni-a 10.0.0.1 203.0.113.5 40000 80 6 100 REJECT 8",
                "eni-a 10.0.0.1 198.51.100.1 40000 80 17 100 ACCEPT -",
                "eni-a 10.0.0.1 198.51.100.1 40000 80 6 200 ACCEPT -",
            ],
        );
        let plaintext: Vec<String> = summary
            .plaintext
            .iter()
            .map(|(key, counts)| format!("{} {}", key.peer.service, counts.bytes))
            .collect();
        assert_eq!(plaintext, ["EC2 200", "S3 100"]);
        let cross: Vec<String> = summary
            .cross_region
            .iter()
            .map(|(key, counts)| format!("{}>{} {}", key.log_region, key.peer.region, counts.bytes))
            .collect();
        assert_eq!(cross, ["us-west-2>us-east-1 300"]);
        let paths: Vec<(Option<u8>, u64)> = summary
            .s3_paths
            .iter()
            .map(|(k, c)| (k.path, c.bytes))
            .collect();
        assert_eq!(paths, [(Some(8), 100)]);
        assert_eq!(summary.rejects.len(), 1);
    }

    #[test]
    fn return_traffic_is_keyed_by_the_service_port() {
        let format = "interface-id srcaddr dstaddr srcport dstport protocol bytes action";
        let ctx = context(Settings::default());
        let summary = tally(
            &ctx,
            format,
            &[
                "eni-a 203.0.113.5 10.0.0.1 443 40001 6 1 REJECT",
                "eni-a 203.0.113.5 10.0.0.1 443 61000 6 1 REJECT",
                "eni-a 10.0.0.1 203.0.113.5 22 50000 6 1 REJECT",
                "eni-a 203.0.113.5 10.0.0.1 50000 8080 6 1 REJECT",
            ],
        );
        let keys: Vec<String> = summary
            .rejects
            .iter()
            .map(|(key, counts)| {
                format!(
                    "{:?} {} {} {}",
                    key.direction, key.port, key.return_traffic, counts.flows
                )
            })
            .collect();
        assert_eq!(
            keys,
            [
                "Some(Ingress) 443 true 2",
                "Some(Ingress) 8080 false 1",
                "Some(Egress) 22 true 1"
            ]
        );
    }

    #[test]
    fn addresses_sharing_an_attribution_cache_slot_keep_their_own_remote() {
        let s3 = u32::from(std::net::Ipv4Addr::new(203, 0, 113, 5));
        let shares_slot = |first: u32| {
            (first..)
                .map(std::net::Ipv4Addr::from)
                .find(|addr| {
                    u32::from(*addr) != s3 && cache_slot(u32::from(*addr)) == cache_slot(s3)
                })
                .unwrap()
        };
        let internet = shares_slot(u32::from(std::net::Ipv4Addr::new(8, 8, 0, 0)));
        let private = shares_slot(u32::from(std::net::Ipv4Addr::new(10, 1, 0, 0)));
        let lines: Vec<String> = [internet, private, internet]
            .iter()
            .flat_map(|other| {
                [
                    "eni-a 10.0.0.1 203.0.113.5 10 ACCEPT".to_string(),
                    format!("eni-a 10.0.0.1 {other} 10 ACCEPT"),
                ]
            })
            .collect();
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let ctx = context(Settings::default());
        let summary = tally(&ctx, "interface-id srcaddr dstaddr bytes action", &lines);

        let flows: Vec<String> = summary
            .talkers
            .iter()
            .map(|(key, counts)| {
                format!("{:?} {} {}", key.peer.scope, key.peer.service, counts.flows)
            })
            .collect();
        assert_eq!(flows, ["Aws S3 3", "Internet - 2", "Private - 1"]);
    }

    #[test]
    fn a_tally_absorbed_part_by_part_equals_one_tally_of_everything() {
        let format = Format::parse(
            "interface-id instance-id srcaddr dstaddr pkt-srcaddr pkt-dstaddr srcport dstport \
             protocol bytes action region traffic-path reject-reason pkt-dst-aws-service",
            Origin::Option,
        )
        .unwrap();
        let lines = [
            "eni-a i-1 10.0.0.1 203.0.113.5 - - 40000 80 6 100 ACCEPT us-east-1 8 - -",
            "eni-n - 10.0.1.5 10.0.0.220 10.0.1.5 203.0.113.5 40500 443 6 10 ACCEPT - - - -",
            "eni-b - 203.0.113.5 10.0.0.1 - - 443 40001 6 1 REJECT - - 5 -",
            "eni-a i-1 10.0.0.1 198.51.100.1 - - 40000 443 6 7 ACCEPT - - - S3",
            "eni-c i-2 10.0.0.2 203.0.113.9 - - 40000 443 6 9 ACCEPT eu-west-1 2 - -",
        ];
        let ctx = context(Settings::default());
        let read = |lines: &[&str]| {
            let mut tally = Tally::new(&ctx);
            let region = tally.region_id(Some("us-west-2"));
            for line in lines {
                tally.add(&record::parse(line.as_bytes(), &format).unwrap(), region);
            }
            tally
        };

        let one = read(&lines).finish();
        let mut first = read(&lines[3..]);
        first.absorb(read(&lines[..3]));
        let absorbed = first.finish();
        assert_eq!(absorbed.talkers, one.talkers);
        assert_eq!(absorbed.rejects, one.rejects);
        assert_eq!(absorbed.plaintext, one.plaintext);
        assert_eq!(absorbed.cross_region, one.cross_region);
        assert_eq!(absorbed.s3_paths, one.s3_paths);
        assert_eq!(absorbed.interfaces, one.interfaces);
        assert_eq!(absorbed.disagreement_examples, one.disagreement_examples);
        assert_eq!((absorbed.analysed, one.analysed), (5, 5));
        assert_eq!(one.rejects.len(), 1);
        assert_eq!(one.cross_region.len(), 3);
    }
}
