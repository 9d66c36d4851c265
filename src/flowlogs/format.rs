//! Flow-log record formats: the documented fields and the version that introduced each, the
//! default version 2 order, and the mapping from a header line or `--fields` to the columns the
//! analysis reads.

use std::fmt;

/// The fields the analysis reads, each with a fixed slot in a parsed line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// `srcaddr`.
    SrcAddr,
    /// `dstaddr`.
    DstAddr,
    /// `srcport`.
    SrcPort,
    /// `dstport`.
    DstPort,
    /// `protocol`.
    Protocol,
    /// `packets`.
    Packets,
    /// `bytes`.
    Bytes,
    /// `start`.
    Start,
    /// `end`.
    End,
    /// `action`.
    Action,
    /// `log-status`.
    LogStatus,
    /// `interface-id`.
    InterfaceId,
    /// `instance-id`.
    InstanceId,
    /// `pkt-srcaddr`.
    PktSrcAddr,
    /// `pkt-dstaddr`.
    PktDstAddr,
    /// `region`.
    Region,
    /// `flow-direction`.
    FlowDirection,
    /// `traffic-path`.
    TrafficPath,
    /// `pkt-src-aws-service`.
    PktSrcAwsService,
    /// `pkt-dst-aws-service`.
    PktDstAwsService,
    /// `reject-reason`.
    RejectReason,
}

/// How many slots a parsed line has.
pub const SLOTS: usize = 21;

/// Every documented field: its name, the version that introduced it, and its slot if read.
pub const FIELDS: &[(&str, u8, Option<Slot>)] = &[
    ("version", 2, None),
    ("account-id", 2, None),
    ("interface-id", 2, Some(Slot::InterfaceId)),
    ("srcaddr", 2, Some(Slot::SrcAddr)),
    ("dstaddr", 2, Some(Slot::DstAddr)),
    ("srcport", 2, Some(Slot::SrcPort)),
    ("dstport", 2, Some(Slot::DstPort)),
    ("protocol", 2, Some(Slot::Protocol)),
    ("packets", 2, Some(Slot::Packets)),
    ("bytes", 2, Some(Slot::Bytes)),
    ("start", 2, Some(Slot::Start)),
    ("end", 2, Some(Slot::End)),
    ("action", 2, Some(Slot::Action)),
    ("log-status", 2, Some(Slot::LogStatus)),
    ("vpc-id", 3, None),
    ("subnet-id", 3, None),
    ("instance-id", 3, Some(Slot::InstanceId)),
    ("tcp-flags", 3, None),
    ("type", 3, None),
    ("pkt-srcaddr", 3, Some(Slot::PktSrcAddr)),
    ("pkt-dstaddr", 3, Some(Slot::PktDstAddr)),
    ("region", 4, Some(Slot::Region)),
    ("az-id", 4, None),
    ("sublocation-type", 4, None),
    ("sublocation-id", 4, None),
    ("pkt-src-aws-service", 5, Some(Slot::PktSrcAwsService)),
    ("pkt-dst-aws-service", 5, Some(Slot::PktDstAwsService)),
    ("flow-direction", 5, Some(Slot::FlowDirection)),
    ("traffic-path", 5, Some(Slot::TrafficPath)),
    ("ecs-cluster-arn", 7, None),
    ("ecs-cluster-name", 7, None),
    ("ecs-container-instance-arn", 7, None),
    ("ecs-container-instance-id", 7, None),
    ("ecs-container-id", 7, None),
    ("ecs-second-container-id", 7, None),
    ("ecs-service-name", 7, None),
    ("ecs-task-definition-arn", 7, None),
    ("ecs-task-arn", 7, None),
    ("ecs-task-id", 7, None),
    ("reject-reason", 8, Some(Slot::RejectReason)),
    ("encryption-status", 10, None),
];

/// The fields of the default format, in order.
pub const DEFAULT_V2: &str = "version account-id interface-id srcaddr dstaddr srcport dstport \
                              protocol packets bytes start end action log-status";

/// Where a format came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// No header and no `--fields`: the version 2 default.
    Default,
    /// The header line the S3 text delivery writes first.
    Header,
    /// The `--fields` option.
    Option,
}

/// A record layout: the column names in order and where each read slot sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format {
    /// Column names in order, as given.
    pub names: Vec<String>,
    /// Names that are not documented fields, kept for the report.
    pub unknown: Vec<String>,
    /// Where the format came from.
    pub origin: Origin,
    /// The highest version among the documented fields named.
    pub version: u8,
    /// For each column, the field it fills, if the analysis reads it.
    fields: Vec<Option<Slot>>,
    /// Which slots some column fills.
    present: [bool; SLOTS],
}

/// Why a list of field names is not a usable format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// No names at all.
    #[error("no field names")]
    Empty,
    /// Names, but none of them a flow-log field.
    #[error("names no known flow-log field (`{0}`)")]
    NoKnownField(String),
    /// The same field twice.
    #[error("names `{0}` twice")]
    Duplicate(String),
}

impl Format {
    /// The default version 2 format.
    pub fn default_v2() -> Format {
        Format::from_names(DEFAULT_V2.split_ascii_whitespace(), Origin::Default)
            .expect("the default format is valid")
    }

    /// A format from a space-separated list of field names (a header line or `--fields`).
    pub fn parse(text: &str, origin: Origin) -> Result<Format, FormatError> {
        Format::from_names(text.split_ascii_whitespace(), origin)
    }

    fn from_names<'a>(
        names: impl Iterator<Item = &'a str>,
        origin: Origin,
    ) -> Result<Format, FormatError> {
        let names: Vec<String> = names.map(str::to_string).collect();
        if names.is_empty() {
            return Err(FormatError::Empty);
        }

        let mut format = Format {
            names: Vec::with_capacity(names.len()),
            unknown: Vec::new(),
            origin,
            version: 2,
            fields: Vec::with_capacity(names.len()),
            present: [false; SLOTS],
        };
        let mut known = 0;
        for name in names {
            if format.names.contains(&name) {
                return Err(FormatError::Duplicate(name));
            }
            match field(&name) {
                Some((version, slot)) => {
                    known += 1;
                    format.version = format.version.max(version);
                    format.fields.push(slot);
                    if let Some(slot) = slot {
                        format.present[slot as usize] = true;
                    }
                }
                None => {
                    format.unknown.push(name.clone());
                    format.fields.push(None);
                }
            }
            format.names.push(name);
        }

        if known == 0 {
            return Err(FormatError::NoKnownField(format.names.join(" ")));
        }
        Ok(format)
    }

    /// How many columns a record of this format has.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Always false: a format names at least one field.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The slot column `index` fills, if the analysis reads it.
    #[inline]
    pub fn slot_of(&self, index: usize) -> Option<usize> {
        self.fields
            .get(index)
            .copied()
            .flatten()
            .map(|slot| slot as usize)
    }

    /// Each column's field in order, `None` for a column the analysis does not read.
    #[inline]
    pub fn column_fields(&self) -> &[Option<Slot>] {
        &self.fields
    }

    /// True when some column carries `slot`.
    #[inline]
    pub fn has(&self, slot: Slot) -> bool {
        self.present[slot as usize]
    }

    /// The format as the report shows it: where it came from, version and columns.
    pub fn describe(&self) -> String {
        let origin = match self.origin {
            Origin::Default => "default",
            Origin::Header => "header",
            Origin::Option => "--fields",
        };
        format!(
            "{origin} v{} ({} fields){}",
            self.version,
            self.len(),
            if self.names.join(" ") == DEFAULT_V2 {
                ""
            } else {
                " custom"
            }
        )
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names.join(" "))
    }
}

/// The version and slot of a documented field name.
pub fn field(name: &str) -> Option<(u8, Option<Slot>)> {
    FIELDS
        .iter()
        .find(|(known, ..)| *known == name)
        .map(|&(_, version, slot)| (version, slot))
}

/// True when `token` is a documented field name (used to recognise header lines).
pub fn is_field_name(token: &[u8]) -> bool {
    FIELDS.iter().any(|(known, ..)| known.as_bytes() == token)
}

/// True when `token` could be a field name: lowercase letters, digits and dashes, from a letter.
pub fn looks_like_name(token: &[u8]) -> bool {
    token.first().is_some_and(u8::is_ascii_lowercase)
        && token
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_format_maps_the_fourteen_v2_fields() {
        let format = Format::default_v2();
        assert_eq!(format.len(), 14);
        assert_eq!(format.version, 2);
        assert_eq!(format.slot_of(0), None);
        assert_eq!(format.slot_of(3), Some(Slot::SrcAddr as usize));
        assert_eq!(format.slot_of(13), Some(Slot::LogStatus as usize));
        assert_eq!(format.column_fields().len(), 14);
        assert_eq!(format.column_fields()[1], None);
        assert_eq!(format.column_fields()[3], Some(Slot::SrcAddr));
        assert!(format.has(Slot::Action));
        assert!(!format.has(Slot::PktDstAddr));
        assert_eq!(format.describe(), "default v2 (14 fields)");
    }

    #[test]
    fn custom_header_takes_the_highest_version_and_keeps_unknown_names() {
        let format = Format::parse(
            "account-id action bytes pkt-dst-aws-service traffic-path reject-reason x-extra",
            Origin::Header,
        )
        .unwrap();
        assert_eq!(format.version, 8);
        assert_eq!(format.unknown, ["x-extra"]);
        assert_eq!(format.slot_of(4), Some(Slot::TrafficPath as usize));
        assert_eq!(format.slot_of(6), None);
        assert!(format.has(Slot::PktDstAwsService));
        assert_eq!(format.describe(), "header v8 (7 fields) custom");
    }

    #[test]
    fn unusable_field_lists_are_refused() {
        assert_eq!(Format::parse("  ", Origin::Option), Err(FormatError::Empty));
        assert_eq!(
            Format::parse("foo bar", Origin::Header),
            Err(FormatError::NoKnownField("foo bar".into()))
        );
        assert_eq!(
            Format::parse("srcaddr srcaddr", Origin::Option),
            Err(FormatError::Duplicate("srcaddr".into()))
        );
    }

    #[test]
    fn every_documented_field_is_recognised_once() {
        for (index, (name, ..)) in FIELDS.iter().enumerate() {
            assert!(is_field_name(name.as_bytes()));
            assert!(looks_like_name(name.as_bytes()), "{name}");
            assert!(FIELDS[index + 1..].iter().all(|(other, ..)| other != name));
        }
        assert_eq!(
            FIELDS.iter().filter(|(.., slot)| slot.is_some()).count(),
            SLOTS
        );
        assert!(!is_field_name(b"eni-1235b8ca123456789"));
        assert!(!looks_like_name(b"2"));
    }
}
