//! The `flowlogs` report: serde DTOs that are the JSON contract (`schema_version` 1), built
//! from the merged summary, and the same content as tables for a terminal.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use serde::Serialize;

use crate::flowlogs::analysis::Context;
use crate::flowlogs::record::Direction;
use crate::flowlogs::scan::FileReport;
use crate::flowlogs::summary::{Class, Counts, Holder, Peer, Scope, Seen, Summary};

/// The version of the JSON shape; a change of meaning bumps it.
pub const SCHEMA_VERSION: u32 = 1;

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Always 1 for this shape.
    pub schema_version: u32,
    /// One entry per input.
    pub files: Vec<FileReport>,
    /// Records read in all files (NODATA and SKIPDATA included).
    pub records: u64,
    /// Records analysed (status OK, both addresses, passing `--filter`).
    pub analysed: u64,
    /// OK records left out by `--filter`.
    pub filtered_out: u64,
    /// `NODATA` records.
    pub nodata: u64,
    /// `SKIPDATA` records.
    pub skipdata: u64,
    /// Lines that are not records, in all files.
    pub bad_lines: u64,
    /// Earliest `start` and latest `end` seen.
    pub time_range: Option<TimeRange>,
    /// Where AWS services and regions came from.
    pub attribution: Attribution,
    /// REJECT records grouped by remote, direction, protocol and port.
    pub rejects: Vec<RejectRow>,
    /// Accepted TCP port 80 flows with AWS services.
    pub plaintext: Vec<FlowRow>,
    /// Accepted flows with AWS regions other than the log's own.
    pub cross_region: Vec<CrossRow>,
    /// Egress to S3 by `traffic-path` and interface role.
    pub s3_paths: Vec<PathRow>,
    /// Traffic on NAT gateway interfaces.
    pub nat: Vec<NatRow>,
    /// The largest remotes by bytes, per interface role.
    pub top: Vec<TopRow>,
    /// What the figures cannot say, in words.
    pub notes: Vec<String>,
}

/// A span of time, as RFC 3339 and as Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimeRange {
    /// Earliest `start`.
    pub start: String,
    /// Latest `end`.
    pub end: String,
    /// Earliest `start`, Unix seconds.
    pub start_epoch: u64,
    /// Latest `end`, Unix seconds.
    pub end_epoch: u64,
}

/// The ip-ranges data used, and how far `pkt-*-aws-service` agreed with it.
#[derive(Debug, Clone, Serialize)]
pub struct Attribution {
    /// False when no ip-ranges data was found: only `pkt-*-aws-service` names AWS services.
    pub available: bool,
    /// The file read.
    pub source: Option<String>,
    /// Its `syncToken`.
    pub sync_token: Option<String>,
    /// Its `createDate`.
    pub create_date: Option<String>,
    /// Records whose `pkt-*-aws-service` is not among the services ip-ranges gives.
    pub disagreements: u64,
    /// The first few of those.
    pub disagreement_examples: Vec<String>,
}

/// The remote side of a row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Remote {
    /// `aws`, `internet`, `private` or `unattributed`.
    pub scope: &'static str,
    /// The AWS service label (`S3`, `EC2`, `AMAZON`...), `-` outside AWS.
    pub service: String,
    /// The AWS region, `GLOBAL`, `unknown` or `-`.
    pub region: String,
}

/// Flow records, packets and bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Flow-log records.
    pub flows: u64,
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
}

/// A group of REJECT records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectRow {
    /// Who was on the other side.
    #[serde(flatten)]
    pub remote: Remote,
    /// `egress` (toward the remote), `ingress` (from it) or `unknown`.
    pub direction: &'static str,
    /// IANA protocol number.
    pub protocol: u8,
    /// The service port: the well-known side's port, else the destination port.
    pub port: u16,
    /// Packets went from the service port to an ephemeral port (a response).
    pub return_traffic: bool,
    /// An inbound response from an AWS service to an ephemeral port was rejected: the classic
    /// stateless network ACL that lacks the ephemeral-port inbound rule.
    pub nacl_return_traffic: bool,
    /// `reject-reason` when the log has it (`BPA`).
    pub reject_reason: Option<String>,
    /// The figures.
    #[serde(flatten)]
    pub totals: Totals,
}

/// A group of flows with one remote in one direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowRow {
    /// The role of the interfaces that logged it.
    pub interface_role: &'static str,
    /// Who was on the other side.
    #[serde(flatten)]
    pub remote: Remote,
    /// `egress`, `ingress` or `unknown`.
    pub direction: &'static str,
    /// The figures.
    #[serde(flatten)]
    pub totals: Totals,
}

/// A group of flows with a region other than the log's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CrossRow {
    /// The log's own region.
    pub log_region: String,
    /// The role of the interfaces that logged it.
    pub interface_role: &'static str,
    /// Who was on the other side.
    #[serde(flatten)]
    pub remote: Remote,
    /// `egress`, `ingress` or `unknown`.
    pub direction: &'static str,
    /// The figures.
    #[serde(flatten)]
    pub totals: Totals,
}

/// Egress to S3 along one traffic path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathRow {
    /// `traffic-path`, null when the log lacks it.
    pub traffic_path: Option<u8>,
    /// What the path means.
    pub path: &'static str,
    /// The S3 region.
    pub region: String,
    /// The role of the interfaces that logged it.
    pub interface_role: &'static str,
    /// The figures.
    #[serde(flatten)]
    pub totals: Totals,
}

/// Traffic on one NAT gateway interface with one remote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NatRow {
    /// The NAT gateway's interface.
    pub interface_id: String,
    /// `--nat-eni`, or `address-rewrite` when srcaddr/dstaddr differed from pkt-*.
    pub recognised_by: &'static str,
    /// Who was on the other side.
    #[serde(flatten)]
    pub remote: Remote,
    /// `egress`, `ingress` or `unknown`.
    pub direction: &'static str,
    /// The figures.
    #[serde(flatten)]
    pub totals: Totals,
}

/// One of the largest remotes seen from one interface role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopRow {
    /// `instance`, `nat`, `managed` or `unknown`.
    pub interface_role: &'static str,
    /// Who was on the other side.
    #[serde(flatten)]
    pub remote: Remote,
    /// Bytes toward the remote.
    pub bytes_egress: u64,
    /// Bytes from the remote.
    pub bytes_ingress: u64,
    /// The figures, both directions.
    #[serde(flatten)]
    pub totals: Totals,
}

/// The role of an interface, decided once all its records are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Attached to an instance (`instance-id` set).
    Instance,
    /// A NAT gateway's interface.
    Nat(&'static str),
    /// Requester-managed (`instance-id` `-`): endpoints, load balancers, Lambda, NAT.
    Managed,
    /// The log does not say.
    Unknown,
}

impl Role {
    /// The role as the report names it.
    pub fn name(self) -> &'static str {
        match self {
            Role::Instance => "instance",
            Role::Nat(_) => "nat",
            Role::Managed => "managed",
            Role::Unknown => "unknown",
        }
    }
}

/// The role of `interface` given what was seen of it: an interface that names an instance is
/// the instance's even when it rewrites addresses (a NAT instance).
pub fn role(interface: &str, seen: Seen, ctx: &Context) -> Role {
    if ctx.settings.nat_enis.contains(interface) {
        Role::Nat("--nat-eni")
    } else if seen.instance {
        Role::Instance
    } else if seen.rewrites_public && seen.talks_public {
        Role::Nat("address-rewrite")
    } else if seen.managed {
        Role::Managed
    } else {
        Role::Unknown
    }
}

/// True for the records a NAT interface logs twice: a NATed flow crosses the NAT's interface
/// on the instance side (addresses rewritten, or, where the format lacks either `pkt-*`
/// field, a private remote: `inside`) and on the remote side; only the latter counts.
fn counted_twice(role: Role, inside: bool) -> bool {
    matches!(role, Role::Nat(_)) && inside
}

/// Builds the report from the files read and the merged summary.
pub fn build(files: Vec<FileReport>, summary: &Summary, ctx: &Context, top: usize) -> Report {
    let roles: BTreeMap<&str, Role> = summary
        .interfaces
        .iter()
        .map(|(name, seen)| (name.as_str(), role(name, *seen, ctx)))
        .collect();
    let role_of = |holder: &Holder| match holder {
        Holder::Interface(name) => roles.get(name.as_str()).copied().unwrap_or(Role::Unknown),
        Holder::Class(Class::Instance) => Role::Instance,
        Holder::Class(Class::Managed) => Role::Managed,
        Holder::Class(Class::Unknown) => Role::Unknown,
    };

    let mut report = Report {
        schema_version: SCHEMA_VERSION,
        records: files.iter().map(|file| file.records).sum(),
        bad_lines: files.iter().map(|file| file.bad_lines).sum(),
        files,
        analysed: summary.analysed,
        filtered_out: summary.filtered_out,
        nodata: summary.nodata,
        skipdata: summary.skipdata,
        time_range: time_range(summary.first_start, summary.last_end),
        attribution: attribution(summary, ctx),
        rejects: rejects(summary),
        plaintext: plaintext(summary, &role_of),
        cross_region: cross_region(summary, &role_of),
        s3_paths: s3_paths(summary, &role_of),
        nat: nat(summary, &role_of),
        top: talkers(summary, &role_of, top),
        notes: Vec::new(),
    };
    report.notes = notes(&report, summary, ctx);
    report
}

fn time_range(start: Option<u64>, end: Option<u64>) -> Option<TimeRange> {
    let (start, end) = (start?, end?);
    let text = |secs: u64| {
        i64::try_from(secs)
            .ok()
            .and_then(|secs| time::OffsetDateTime::from_unix_timestamp(secs).ok())
            .and_then(|at| {
                at.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_else(|| secs.to_string())
    };
    Some(TimeRange {
        start: text(start),
        end: text(end),
        start_epoch: start,
        end_epoch: end,
    })
}

fn attribution(summary: &Summary, ctx: &Context) -> Attribution {
    let ranges = ctx
        .attributor
        .as_ref()
        .map(|attributor| attributor.ranges());
    Attribution {
        available: ranges.is_some(),
        source: ctx.source.clone(),
        sync_token: ranges.and_then(|r| r.sync_token.clone()),
        create_date: ranges.and_then(|r| r.create_date.clone()),
        disagreements: summary.disagreements,
        disagreement_examples: summary.disagreement_examples.values().cloned().collect(),
    }
}

fn remote(peer: &Peer) -> Remote {
    Remote {
        scope: peer.scope.name(),
        service: peer.service.clone(),
        region: peer.region.clone(),
    }
}

fn totals(counts: Counts) -> Totals {
    Totals {
        flows: counts.flows,
        packets: counts.packets,
        bytes: counts.bytes,
    }
}

/// The direction as the report names it.
pub fn direction(direction: Option<Direction>) -> &'static str {
    match direction {
        Some(Direction::Egress) => "egress",
        Some(Direction::Ingress) => "ingress",
        None => "unknown",
    }
}

fn rejects(summary: &Summary) -> Vec<RejectRow> {
    let mut rows: Vec<RejectRow> = summary
        .rejects
        .iter()
        .map(|(key, counts)| RejectRow {
            remote: remote(&key.peer),
            direction: direction(key.direction),
            protocol: key.protocol,
            port: key.port,
            return_traffic: key.return_traffic,
            nacl_return_traffic: key.return_traffic
                && key.direction == Some(Direction::Ingress)
                && key.peer.scope == Scope::Aws,
            reject_reason: Some(key.reason.clone()).filter(|reason| !reason.is_empty()),
            totals: totals(*counts),
        })
        .collect();
    rows.sort_by_key(|row| Reverse(row.totals.flows));
    rows
}

fn plaintext(summary: &Summary, role_of: &dyn Fn(&Holder) -> Role) -> Vec<FlowRow> {
    let mut grouped: BTreeMap<(&'static str, &Peer, Option<Direction>), Counts> = BTreeMap::new();
    for (key, counts) in &summary.plaintext {
        let role = role_of(&key.holder);
        if counted_twice(role, key.inside) {
            continue;
        }
        *grouped
            .entry((role.name(), &key.peer, key.direction))
            .or_default() += *counts;
    }
    let mut rows: Vec<FlowRow> = grouped
        .into_iter()
        .map(|((role, peer, dir), counts)| FlowRow {
            interface_role: role,
            remote: remote(peer),
            direction: direction(dir),
            totals: totals(counts),
        })
        .collect();
    rows.sort_by_key(|row| Reverse(row.totals.bytes));
    rows
}

fn cross_region(summary: &Summary, role_of: &dyn Fn(&Holder) -> Role) -> Vec<CrossRow> {
    type Group<'s> = (&'s str, &'static str, &'s Peer, Option<Direction>);
    let mut grouped: BTreeMap<Group<'_>, Counts> = BTreeMap::new();
    for (key, counts) in &summary.cross_region {
        let role = role_of(&key.holder);
        if counted_twice(role, key.inside) {
            continue;
        }
        let group = (
            key.log_region.as_str(),
            role.name(),
            &key.peer,
            key.direction,
        );
        *grouped.entry(group).or_default() += *counts;
    }
    let mut rows: Vec<CrossRow> = grouped
        .into_iter()
        .map(|((log_region, role, peer, dir), counts)| CrossRow {
            log_region: log_region.to_string(),
            interface_role: role,
            remote: remote(peer),
            direction: direction(dir),
            totals: totals(counts),
        })
        .collect();
    rows.sort_by_key(|row| Reverse(row.totals.bytes));
    rows
}

/// What a `traffic-path` value means.
pub fn path_meaning(path: Option<u8>) -> &'static str {
    match path {
        Some(1) => "another resource in the VPC (NAT gateway, interface endpoint)",
        Some(2) => "internet gateway or gateway endpoint",
        Some(3) => "virtual private gateway",
        Some(4) => "intra-region VPC peering",
        Some(5) => "inter-region VPC peering",
        Some(6) => "local gateway",
        Some(7) => "gateway endpoint",
        Some(8) => "internet gateway",
        Some(_) => "undocumented value",
        None => "not in the log",
    }
}

fn s3_paths(summary: &Summary, role_of: &dyn Fn(&Holder) -> Role) -> Vec<PathRow> {
    let mut grouped: BTreeMap<(&'static str, Option<u8>, &str), Counts> = BTreeMap::new();
    for (key, counts) in &summary.s3_paths {
        let role = role_of(&key.holder);
        if counted_twice(role, key.inside) {
            continue;
        }
        let role = role.name();
        *grouped.entry((role, key.path, &key.region)).or_default() += *counts;
    }
    let mut rows: Vec<PathRow> = grouped
        .into_iter()
        .map(|((role, path, region), counts)| PathRow {
            traffic_path: path,
            path: path_meaning(path),
            region: region.to_string(),
            interface_role: role,
            totals: totals(counts),
        })
        .collect();
    rows.sort_by_key(|row| Reverse(row.totals.bytes));
    rows
}

fn nat(summary: &Summary, role_of: &dyn Fn(&Holder) -> Role) -> Vec<NatRow> {
    let mut rows: Vec<NatRow> = summary
        .talkers
        .iter()
        .filter_map(|(key, counts)| match (role_of(&key.holder), &key.holder) {
            (role @ Role::Nat(_), _) if counted_twice(role, key.inside) => None,
            (Role::Nat(recognised_by), Holder::Interface(name)) => Some(NatRow {
                interface_id: name.clone(),
                recognised_by,
                remote: remote(&key.peer),
                direction: direction(key.direction),
                totals: totals(*counts),
            }),
            _ => None,
        })
        .collect();
    rows.sort_by_key(|row| Reverse(row.totals.bytes));
    rows
}

/// The largest remotes by bytes, `top` per interface role; roles are never added together,
/// because a NATed flow is logged on both the instance's and the NAT's interface.
fn talkers(summary: &Summary, role_of: &dyn Fn(&Holder) -> Role, top: usize) -> Vec<TopRow> {
    let mut grouped: BTreeMap<(&'static str, &Peer), (Counts, u64, u64)> = BTreeMap::new();
    for (key, counts) in &summary.talkers {
        let role = role_of(&key.holder);
        if counted_twice(role, key.inside) {
            continue;
        }
        let entry = grouped.entry((role.name(), &key.peer)).or_default();
        entry.0 += *counts;
        match key.direction {
            Some(Direction::Egress) => entry.1 += counts.bytes,
            Some(Direction::Ingress) => entry.2 += counts.bytes,
            None => {}
        }
    }

    let mut by_role: BTreeMap<&'static str, Vec<TopRow>> = BTreeMap::new();
    for ((role, peer), (counts, egress, ingress)) in grouped {
        by_role.entry(role).or_default().push(TopRow {
            interface_role: role,
            remote: remote(peer),
            bytes_egress: egress,
            bytes_ingress: ingress,
            totals: totals(counts),
        });
    }
    let mut rows = Vec::new();
    for (_, mut role_rows) in by_role {
        role_rows.sort_by_key(|row| Reverse(row.totals.bytes));
        rows.extend(role_rows.into_iter().take(top));
    }
    rows
}

fn notes(report: &Report, summary: &Summary, ctx: &Context) -> Vec<String> {
    let mut notes = Vec::new();
    if !report.attribution.available {
        notes.push(
            "attribution unavailable: no ip-ranges data (give --ip-ranges FILE); only \
             pkt-*-aws-service fields name AWS services"
                .to_string(),
        );
    }
    let has_region = !summary.cross_region.is_empty()
        || ctx.settings.region.is_some()
        || report
            .files
            .iter()
            .any(|file| file.layout.is_some() || file.fields.iter().any(|name| name == "region"));
    if !has_region {
        notes.push(
            "cross-region unknown: the log has no region field and no S3 layout path \
             (give --region)"
                .to_string(),
        );
    }
    if summary.disagreements > 0 {
        notes.push(format!(
            "{} records name an AWS service that ip-ranges does not give for the address \
             (the record's pkt-*-aws-service was used)",
            summary.disagreements
        ));
    }
    if !report.nat.is_empty() {
        notes.push(
            "a NATed flow is logged on the instance's interface and on the NAT's: figures \
             are per interface role and never added across roles"
                .to_string(),
        );
    }
    if summary.unaddressed > 0 {
        notes.push(format!(
            "{} OK records lack srcaddr or dstaddr and were not analysed",
            summary.unaddressed
        ));
    }
    let failed = report
        .files
        .iter()
        .filter(|file| file.error.is_some())
        .count();
    if failed > 0 {
        notes.push(format!(
            "{failed} input(s) had a problem: see files[].error"
        ));
    }
    notes
}
