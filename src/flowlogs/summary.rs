//! The analysis results keyed by name rather than by id, so the tallies of parallel workers
//! merge into one, and the reports read them in a stable order.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::ops::AddAssign;

use crate::flowlogs::record::Direction;

/// Flow records, packets and bytes added up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Flow-log records (each one direction of a flow on one interface in one interval).
    pub flows: u64,
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
}

impl Counts {
    /// One record's counts.
    #[inline]
    pub fn one(packets: u64, bytes: u64) -> Counts {
        Counts {
            flows: 1,
            packets,
            bytes,
        }
    }
}

impl AddAssign for Counts {
    #[inline]
    fn add_assign(&mut self, other: Counts) {
        self.flows += other.flows;
        self.packets = self.packets.saturating_add(other.packets);
        self.bytes = self.bytes.saturating_add(other.bytes);
    }
}

/// What kind of address the remote side is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Published by AWS (ip-ranges) or named by `pkt-*-aws-service`.
    Aws,
    /// Public, not published by AWS.
    Internet,
    /// Private, shared or link-local address space.
    Private,
    /// Public, but no ip-ranges data to tell.
    Unattributed,
}

impl Scope {
    /// The name used in reports and in `--filter service=`.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Aws => "aws",
            Scope::Internet => "internet",
            Scope::Private => "private",
            Scope::Unattributed => "unattributed",
        }
    }
}

/// The remote side as reported: scope, service label and region (`-` when not AWS).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Peer {
    /// What kind of address it is.
    pub scope: Scope,
    /// The service label (`S3`, `EC2`, `AMAZON`, ...), `-` outside AWS.
    pub service: String,
    /// The region, `GLOBAL`, `unknown` or `-`.
    pub region: String,
}

/// Key of a REJECT group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RejectKey {
    /// The remote side.
    pub peer: Peer,
    /// Toward the remote (egress) or from it (ingress); `None` when undecidable.
    pub direction: Option<Direction>,
    /// IANA protocol number (255 when absent).
    pub protocol: u8,
    /// The service port: the well-known side's port, else the destination port.
    pub port: u16,
    /// True when the packets came from the service port to an ephemeral port.
    pub return_traffic: bool,
    /// `reject-reason`, empty when absent.
    pub reason: String,
}

/// Key of a plaintext group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PlainKey {
    /// Whose records these are.
    pub holder: Holder,
    /// The remote side.
    pub peer: Peer,
    /// Direction relative to the remote.
    pub direction: Option<Direction>,
    /// The instance-facing leg of a NAT interface, were its interface a NAT's: addresses
    /// rewritten (`pkt-*` differ), or, where the format lacks either `pkt-*` field, a private
    /// remote.
    pub inside: bool,
}

/// Key of a cross-region group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CrossKey {
    /// Whose records these are.
    pub holder: Holder,
    /// The log's own region.
    pub log_region: String,
    /// The remote side.
    pub peer: Peer,
    /// Direction relative to the remote.
    pub direction: Option<Direction>,
    /// The instance-facing leg of a NAT interface, were its interface a NAT's: addresses
    /// rewritten (`pkt-*` differ), or, where the format lacks either `pkt-*` field, a private
    /// remote.
    pub inside: bool,
}

/// The kind of interface a record alone tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// `instance-id` names an instance.
    Instance,
    /// `instance-id` is `-`: a requester-managed interface.
    Managed,
    /// The format has no `instance-id`.
    Unknown,
}

/// Who a tally belongs to: a role the record told, or an interface whose role is decided once
/// all its records are read (a NAT gateway shows itself only in some of them).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Holder {
    /// Records whose own fields decided the interface's kind.
    Class(Class),
    /// Records of an interface that may be a NAT gateway's.
    Interface(String),
}

/// Key of an S3 traffic-path group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PathKey {
    /// Whose records these are.
    pub holder: Holder,
    /// `traffic-path`, `None` when absent or `-`.
    pub path: Option<u8>,
    /// The S3 region.
    pub region: String,
    /// The instance-facing leg of a NAT interface, were its interface a NAT's: addresses
    /// rewritten (`pkt-*` differ), or, where the format lacks either `pkt-*` field, a private
    /// remote.
    pub inside: bool,
}

/// Key of a talker group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TalkKey {
    /// Whose records these are.
    pub holder: Holder,
    /// The remote side.
    pub peer: Peer,
    /// Direction relative to the remote.
    pub direction: Option<Direction>,
    /// The instance-facing leg of a NAT interface, were its interface a NAT's: addresses
    /// rewritten (`pkt-*` differ), or, where the format lacks either `pkt-*` field, a private
    /// remote.
    pub inside: bool,
}

/// What was seen of one interface, to tell its role.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Seen {
    /// Some record named an instance (`instance-id` other than `-`).
    pub instance: bool,
    /// Some record had `instance-id` `-` (requester-managed interface).
    pub managed: bool,
    /// Some record showed an address rewritten to or from a public `pkt-*` address.
    pub rewrites_public: bool,
    /// Some record had a public remote with its addresses as sent: a NAT's internet-facing
    /// leg, which a Transit Gateway attachment, rewriting only, never has.
    pub talks_public: bool,
}

impl AddAssign for Seen {
    fn add_assign(&mut self, other: Seen) {
        self.instance |= other.instance;
        self.managed |= other.managed;
        self.rewrites_public |= other.rewrites_public;
        self.talks_public |= other.talks_public;
    }
}

/// Every aggregate of the analysis, keyed by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Records analysed (status OK, addressed, passing the filter).
    pub analysed: u64,
    /// OK records the filter left out.
    pub filtered_out: u64,
    /// OK records without both addresses.
    pub unaddressed: u64,
    /// `NODATA` records.
    pub nodata: u64,
    /// `SKIPDATA` records.
    pub skipdata: u64,
    /// Earliest `start`.
    pub first_start: Option<u64>,
    /// Latest `end`.
    pub last_end: Option<u64>,
    /// Records whose `pkt-*-aws-service` disagreed with ip-ranges.
    pub disagreements: u64,
    /// A few disagreements, described: those of the lowest addresses, so that the same input
    /// gives the same examples however many workers read it.
    pub disagreement_examples: BTreeMap<(IpAddr, String), String>,
    /// REJECT groups.
    pub rejects: BTreeMap<RejectKey, Counts>,
    /// Accepted TCP port 80 to or from AWS.
    pub plaintext: BTreeMap<PlainKey, Counts>,
    /// Accepted traffic with AWS regions other than the log's own.
    pub cross_region: BTreeMap<CrossKey, Counts>,
    /// Egress to S3 by traffic path.
    pub s3_paths: BTreeMap<PathKey, Counts>,
    /// Everything analysed, by holder and remote.
    pub talkers: BTreeMap<TalkKey, Counts>,
    /// What was seen of each interface held by name.
    pub interfaces: BTreeMap<String, Seen>,
}

/// How many disagreements are described one by one.
pub const EXAMPLES: usize = 3;

impl Summary {
    /// Keeps the example of `addr` and what the record `said` when it is among the `EXAMPLES`
    /// lowest; nothing is allocated, and `describe` does not run, for the others.
    pub fn add_example(&mut self, addr: IpAddr, said: &str, describe: impl FnOnce() -> String) {
        let examples = &mut self.disagreement_examples;
        let above_all_kept = examples
            .last_key_value()
            .is_some_and(|((last, last_said), _)| (*last, last_said.as_str()) < (addr, said));
        if examples.len() >= EXAMPLES && above_all_kept {
            return;
        }
        examples
            .entry((addr, said.to_string()))
            .or_insert_with(describe);
        if examples.len() > EXAMPLES {
            examples.pop_last();
        }
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: Summary) {
        self.analysed += other.analysed;
        self.filtered_out += other.filtered_out;
        self.unaddressed += other.unaddressed;
        self.nodata += other.nodata;
        self.skipdata += other.skipdata;
        self.first_start = min_some(self.first_start, other.first_start);
        self.last_end = self.last_end.max(other.last_end);
        self.disagreements += other.disagreements;
        for ((addr, said), example) in other.disagreement_examples {
            self.add_example(addr, &said, || example);
        }

        add_all(&mut self.rejects, other.rejects);
        add_all(&mut self.plaintext, other.plaintext);
        add_all(&mut self.cross_region, other.cross_region);
        add_all(&mut self.s3_paths, other.s3_paths);
        add_all(&mut self.talkers, other.talkers);
        add_all(&mut self.interfaces, other.interfaces);
    }
}

/// The smaller of two optional values, ignoring `None`.
pub fn min_some(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn add_all<K: Ord, V: AddAssign + Default>(into: &mut BTreeMap<K, V>, from: BTreeMap<K, V>) {
    for (key, value) in from {
        *into.entry(key).or_default() += value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(service: &str) -> Peer {
        Peer {
            scope: Scope::Aws,
            service: service.into(),
            region: "us-east-1".into(),
        }
    }

    fn plain(service: &str) -> PlainKey {
        PlainKey {
            holder: Holder::Class(Class::Instance),
            peer: peer(service),
            direction: None,
            inside: false,
        }
    }

    #[test]
    fn merging_adds_counts_and_widens_the_time_range() {
        let mut a = Summary {
            analysed: 2,
            first_start: Some(100),
            last_end: Some(200),
            ..Summary::default()
        };
        a.plaintext.insert(plain("S3"), Counts::one(3, 300));
        let mut b = Summary {
            analysed: 1,
            first_start: Some(50),
            last_end: Some(150),
            disagreements: 1,
            disagreement_examples: [(("10.0.0.9".parse().unwrap(), "S3".into()), "x".into())]
                .into(),
            ..Summary::default()
        };
        b.plaintext.insert(plain("S3"), Counts::one(1, 10));
        b.plaintext.insert(plain("EC2"), Counts::one(1, 1));
        a.merge(b);

        assert_eq!(a.analysed, 3);
        assert_eq!((a.first_start, a.last_end), (Some(50), Some(200)));
        assert_eq!(
            a.plaintext[&plain("S3")],
            Counts {
                flows: 2,
                packets: 4,
                bytes: 310
            }
        );
        assert_eq!(a.plaintext.len(), 2);
        assert_eq!(a.disagreement_examples.values().collect::<Vec<_>>(), ["x"]);
    }

    #[test]
    fn disagreement_examples_do_not_depend_on_the_order_records_came_in() {
        let keys: Vec<(IpAddr, String)> = (1..=6)
            .map(|n| (format!("192.0.2.{n}").parse().unwrap(), "S3".to_string()))
            .collect();
        let gather = |order: &[usize]| {
            let mut summary = Summary::default();
            for &index in order {
                let (addr, said) = &keys[index];
                summary.add_example(*addr, said, || format!("example {index}"));
            }
            summary
                .disagreement_examples
                .into_values()
                .collect::<Vec<_>>()
        };
        assert_eq!(
            gather(&[5, 4, 3, 2, 1, 0]),
            ["example 0", "example 1", "example 2"]
        );
        assert_eq!(gather(&[0, 5, 1, 4, 2, 3]), gather(&[3, 2, 1, 0, 4, 5]));
    }
}
