//! One flow-log line to a record: strip a CloudWatch Logs timestamp prefix, split on spaces
//! without allocating, and parse the fields the analysis reads. `-` means not applicable.
//! Short regular lines take the fast path in `fast`; the rest, and every line with a value
//! the fast path does not take, go through the general `split` and `read`, which also name
//! what is wrong.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use crate::flowlogs::format::{Format, SLOTS, Slot};
use crate::flowlogs::input::Line;

mod fast;

/// `start` and `end` are Unix seconds; past 2100 a value is milliseconds or garbage.
const MAX_EPOCH_SECONDS: u64 = 4_102_444_800;
/// What the security groups and network ACLs did with the traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `ACCEPT`.
    Accept,
    /// `REJECT`.
    Reject,
}

/// The record's `log-status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStatus {
    /// `OK` (also assumed when the format has no `log-status`).
    Ok,
    /// `NODATA`: no traffic in the interval.
    NoData,
    /// `SKIPDATA`: records skipped in the interval.
    SkipData,
}

/// `flow-direction`, relative to the logged interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    /// Traffic arriving at the interface.
    Ingress,
    /// Traffic leaving the interface.
    Egress,
}

/// The fields of one record the analysis reads; absent and `-` fields are `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// `srcaddr`.
    pub src: Option<IpAddr>,
    /// `dstaddr`.
    pub dst: Option<IpAddr>,
    /// `pkt-srcaddr`.
    pub pkt_src: Option<IpAddr>,
    /// `pkt-dstaddr`.
    pub pkt_dst: Option<IpAddr>,
    /// `srcport`.
    pub src_port: Option<u16>,
    /// `dstport`.
    pub dst_port: Option<u16>,
    /// `protocol` (IANA number).
    pub protocol: Option<u8>,
    /// `packets` (0 when `-`).
    pub packets: u64,
    /// `bytes` (0 when `-`).
    pub bytes: u64,
    /// `start`, Unix seconds.
    pub start: Option<u64>,
    /// `end`, Unix seconds.
    pub end: Option<u64>,
    /// `action`.
    pub action: Option<Action>,
    /// `log-status`.
    pub status: LogStatus,
    /// `interface-id` as written (`-` when absent).
    pub interface: &'a [u8],
    /// `instance-id` as written, `-` included; `None` when the format lacks it.
    pub instance: Option<&'a [u8]>,
    /// `region`.
    pub region: Option<&'a [u8]>,
    /// `flow-direction`.
    pub direction: Option<Direction>,
    /// `traffic-path`.
    pub traffic_path: Option<u8>,
    /// `pkt-src-aws-service`.
    pub pkt_src_service: Option<&'a [u8]>,
    /// `pkt-dst-aws-service`.
    pub pkt_dst_service: Option<&'a [u8]>,
    /// `reject-reason`.
    pub reject_reason: Option<&'a [u8]>,
    /// The format has `pkt-srcaddr` or `pkt-dstaddr`, so NAT rewriting can show.
    pub rewritable: bool,
    /// The format has both `pkt-srcaddr` and `pkt-dstaddr`, so every rewritten leg shows.
    pub pkt_both: bool,
}

impl Record<'_> {
    /// A record of a format with no fields: every field absent.
    pub const EMPTY: Record<'static> = Record {
        src: None,
        dst: None,
        pkt_src: None,
        pkt_dst: None,
        src_port: None,
        dst_port: None,
        protocol: None,
        packets: 0,
        bytes: 0,
        start: None,
        end: None,
        action: None,
        status: LogStatus::Ok,
        interface: DASH,
        instance: None,
        region: None,
        direction: None,
        traffic_path: None,
        pkt_src_service: None,
        pkt_dst_service: None,
        reject_reason: None,
        rewritable: false,
        pkt_both: false,
    };
}

/// Why a line is not a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadLine {
    /// The line does not have as many fields as the format.
    FieldCount {
        /// Columns in the format.
        expected: usize,
        /// Fields on the line.
        found: usize,
    },
    /// A field's value cannot be what the field holds.
    Value {
        /// The field name.
        field: &'static str,
        /// The value, shortened.
        value: String,
    },
    /// NUL or other control bytes: not text.
    Binary,
    /// Longer than any record can be.
    TooLong,
    /// Cut off by the end of a damaged or truncated stream.
    Truncated,
    /// A header line whose names are not a usable format.
    Header(String),
}

impl fmt::Display for BadLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadLine::FieldCount { expected, found } => {
                write!(f, "{found} fields where the format has {expected}")
            }
            BadLine::Value { field, value } => write!(f, "{field} `{value}` is not valid"),
            BadLine::Binary => f.write_str("binary data, not text"),
            BadLine::TooLong => f.write_str("line too long for a flow-log record"),
            BadLine::Truncated => f.write_str("cut off by a truncated or damaged stream"),
            BadLine::Header(why) => write!(f, "header {why}"),
        }
    }
}

const DASH: &[u8] = b"-";

/// Parses one line (without its newline) in `format`. Flow-log records are ASCII: a control
/// byte other than tab, or any byte past ASCII, makes the line binary, not a record, so that
/// no field carries it into a report or a terminal.
pub fn parse<'a>(line: &'a [u8], format: &Format) -> Result<Record<'a>, BadLine> {
    let mut record = Record::EMPTY;
    let line = Line {
        text: line,
        window: line,
    };
    parse_line(line, format, &mut record).map(|()| record)
}

/// Parses a line as [`parse`] does into `record`, reading it in place through its window (the
/// fast path copies a line whose window is short). On an error `record` means nothing.
#[inline]
pub fn parse_line<'a>(
    line: Line<'a>,
    format: &Format,
    record: &mut Record<'a>,
) -> Result<(), BadLine> {
    let text = strip_timestamp(line.text);
    let window = &line.window[text.as_ptr().addr() - line.text.as_ptr().addr()..];
    // The fast path takes no line with a byte that makes it binary, or a tab.
    if fast::parse(text, window, format, record) {
        return Ok(());
    }
    if is_binary(text) {
        return Err(BadLine::Binary);
    }
    *record = parse_general(text, format)?;
    Ok(())
}

/// Parses a text line (its timestamp prefix stripped), and names what makes it not a record.
fn parse_general<'a>(line: &'a [u8], format: &Format) -> Result<Record<'a>, BadLine> {
    let mut spans: [&'a [u8]; SLOTS] = [DASH; SLOTS];
    let found = split(line, format, &mut spans);
    if found != format.len() {
        return Err(BadLine::FieldCount {
            expected: format.len(),
            found,
        });
    }
    typed(&spans, format)
}

/// Splits on runs of spaces or tabs, storing the columns the format reads; returns the count.
/// Separators are found eight bytes at a time, without a branch per byte.
#[inline]
fn split<'a>(line: &'a [u8], format: &Format, spans: &mut [&'a [u8]; SLOTS]) -> usize {
    let mut column = 0;
    let mut start = 0;
    let mut token = |end: usize, start: &mut usize| {
        if end > *start {
            if let Some(slot) = format.slot_of(column) {
                spans[slot] = &line[*start..end];
            }
            column += 1;
        }
        *start = end + 1;
    };

    let words = line.chunks_exact(8);
    let tail = words.remainder();
    for (index, word) in words.enumerate() {
        let mut mask = blanks(u64::from_le_bytes(word.try_into().unwrap_or_default()));
        while mask != 0 {
            token(index * 8 + (mask.trailing_zeros() / 8) as usize, &mut start);
            mask &= mask - 1;
        }
    }
    let tail_base = line.len() - tail.len();
    for (offset, &byte) in tail.iter().enumerate() {
        if byte == b' ' || byte == b'\t' {
            token(tail_base + offset, &mut start);
        }
    }
    token(line.len(), &mut start);
    column
}

/// The high bit of each byte of `word` that is a space or a tab.
#[inline]
fn blanks(word: u64) -> u64 {
    const LOW: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let zero_bytes = |v: u64| !(((v & LOW) + LOW) | v | LOW);
    zero_bytes(word ^ 0x2020_2020_2020_2020) | zero_bytes(word ^ 0x0909_0909_0909_0909)
}

fn typed<'a>(spans: &[&'a [u8]; SLOTS], format: &Format) -> Result<Record<'a>, BadLine> {
    read(spans, format).ok_or_else(|| explain(spans))
}

/// The record, or `None` when some field's value is invalid (see `explain`).
#[inline]
fn read<'a>(spans: &[&'a [u8]; SLOTS], format: &Format) -> Option<Record<'a>> {
    let span = |slot: Slot| spans[slot as usize];
    let text = |slot: Slot| Some(span(slot)).filter(|value| *value != DASH);

    Some(Record {
        src: address(span(Slot::SrcAddr))?,
        dst: address(span(Slot::DstAddr))?,
        pkt_src: address(span(Slot::PktSrcAddr))?,
        pkt_dst: address(span(Slot::PktDstAddr))?,
        src_port: optional(span(Slot::SrcPort), u16::MAX.into())?.map(|v| v as u16),
        dst_port: optional(span(Slot::DstPort), u16::MAX.into())?.map(|v| v as u16),
        protocol: optional(span(Slot::Protocol), u8::MAX.into())?.map(|v| v as u8),
        packets: optional(span(Slot::Packets), u64::MAX)?.unwrap_or(0),
        bytes: optional(span(Slot::Bytes), u64::MAX)?.unwrap_or(0),
        start: optional(span(Slot::Start), MAX_EPOCH_SECONDS)?,
        end: optional(span(Slot::End), MAX_EPOCH_SECONDS)?,
        action: action(span(Slot::Action))?,
        status: status(span(Slot::LogStatus))?,
        interface: span(Slot::InterfaceId),
        instance: format.has(Slot::InstanceId).then(|| span(Slot::InstanceId)),
        region: text(Slot::Region),
        direction: direction(span(Slot::FlowDirection))?,
        traffic_path: optional(span(Slot::TrafficPath), u8::MAX.into())?.map(|v| v as u8),
        pkt_src_service: text(Slot::PktSrcAwsService),
        pkt_dst_service: text(Slot::PktDstAwsService),
        reject_reason: text(Slot::RejectReason),
        rewritable: format.has(Slot::PktSrcAddr) || format.has(Slot::PktDstAddr),
        pkt_both: format.has(Slot::PktSrcAddr) && format.has(Slot::PktDstAddr),
    })
}

/// A field, its name, and whether a value is valid for it.
type Check = (Slot, &'static str, fn(&[u8]) -> bool);

/// Names the first field whose value `read` refused.
#[cold]
fn explain(spans: &[&[u8]; SLOTS]) -> BadLine {
    let checks: [Check; 16] = [
        (Slot::SrcAddr, "srcaddr", |v| address(v).is_some()),
        (Slot::DstAddr, "dstaddr", |v| address(v).is_some()),
        (Slot::PktSrcAddr, "pkt-srcaddr", |v| address(v).is_some()),
        (Slot::PktDstAddr, "pkt-dstaddr", |v| address(v).is_some()),
        (Slot::SrcPort, "srcport", |v| {
            optional(v, u16::MAX.into()).is_some()
        }),
        (Slot::DstPort, "dstport", |v| {
            optional(v, u16::MAX.into()).is_some()
        }),
        (Slot::Protocol, "protocol", |v| {
            optional(v, u8::MAX.into()).is_some()
        }),
        (Slot::Packets, "packets", |v| {
            optional(v, u64::MAX).is_some()
        }),
        (Slot::Bytes, "bytes", |v| optional(v, u64::MAX).is_some()),
        (Slot::Start, "start", |v| {
            optional(v, MAX_EPOCH_SECONDS).is_some()
        }),
        (Slot::End, "end", |v| {
            optional(v, MAX_EPOCH_SECONDS).is_some()
        }),
        (Slot::Action, "action", |v| action(v).is_some()),
        (Slot::LogStatus, "log-status", |v| status(v).is_some()),
        (Slot::FlowDirection, "flow-direction", |v| {
            direction(v).is_some()
        }),
        (Slot::TrafficPath, "traffic-path", |v| {
            optional(v, u8::MAX.into()).is_some()
        }),
        (Slot::InterfaceId, "interface-id", |_| true),
    ];
    checks
        .iter()
        .find(|(slot, _, valid)| !valid(spans[*slot as usize]))
        .map_or(BadLine::Binary, |(slot, field, _)| {
            bad(field, spans[*slot as usize])
        })
}

/// Removes the event timestamp that CloudWatch Logs exports put before the message: an
/// ISO-8601 time and a space, or epoch milliseconds and a comma (CSV export, maybe quoted).
#[inline]
pub fn strip_timestamp(line: &[u8]) -> &[u8] {
    let iso = line.len() > 20
        && line[4] == b'-'
        && line[7] == b'-'
        && line[10] == b'T'
        && line[..4].iter().all(u8::is_ascii_digit);
    if iso {
        let end = line.iter().position(|&b| b == b' ' || b == b'\t');
        return end.map_or(line, |end| &line[end..]);
    }

    let epoch_digits = line
        .iter()
        .take(20)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if epoch_digits >= 10 && line.get(epoch_digits) == Some(&b',') {
        let message = &line[epoch_digits + 1..];
        return match message {
            [b'"', inner @ .., b'"'] => inner,
            _ => message,
        };
    }
    line
}

/// True when `line` holds a control byte other than tab, or a byte past ASCII. No early
/// exit, so that the compiler can check many bytes at once.
#[inline]
pub fn is_binary(line: &[u8]) -> bool {
    line.iter().fold(false, |found, &b| {
        found | ((b < 0x20) & (b != b'\t')) | (b >= 0x7f)
    })
}

/// An address, `Some(None)` for `-`, `None` when invalid.
#[inline]
fn address(value: &[u8]) -> Option<Option<IpAddr>> {
    if value == DASH {
        return Some(None);
    }
    if let Some(v4) = ipv4(value) {
        return Some(Some(IpAddr::V4(v4)));
    }
    std::str::from_utf8(value)
        .ok()
        .filter(|text| text.contains(':'))
        .and_then(|text| text.parse::<IpAddr>().ok())
        .map(Some)
}

/// A dotted-quad IPv4 address, parsed straight from the bytes.
#[inline]
pub fn ipv4(value: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut rest = value;
    for (index, octet) in octets.iter_mut().enumerate() {
        let (number, used) = octet_prefix(rest)?;
        *octet = number;
        rest = &rest[used..];
        if index < 3 {
            rest = rest.strip_prefix(b".")?;
        }
    }
    rest.is_empty().then(|| Ipv4Addr::from(octets))
}

/// One to three digits at the start of `text` as an octet, and how many bytes they took.
#[inline]
fn octet_prefix(text: &[u8]) -> Option<(u8, usize)> {
    let digit = |at: usize| {
        text.get(at)
            .map(|b| b.wrapping_sub(b'0'))
            .filter(|d| *d < 10)
    };
    let first = digit(0)?;
    let Some(second) = digit(1) else {
        return Some((first, 1));
    };
    let Some(third) = digit(2) else {
        return Some((first * 10 + second, 2));
    };
    let value = u16::from(first) * 100 + u16::from(second) * 10 + u16::from(third);
    u8::try_from(value).ok().map(|octet| (octet, 3))
}

/// A number up to `max`, `Some(None)` for `-`, `None` when invalid.
#[inline]
fn optional(value: &[u8], max: u64) -> Option<Option<u64>> {
    if value == DASH {
        return Some(None);
    }
    number(value).filter(|number| *number <= max).map(Some)
}

/// A decimal number of at most 20 digits; up to 19 cannot overflow, so only 20 are checked.
#[inline]
fn number(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.len() > 20 {
        return None;
    }
    let (head, last) = match value.len() {
        20 => (&value[..19], Some(value[19])),
        _ => (value, None),
    };
    let mut result: u64 = 0;
    let mut invalid = false;
    for &byte in head {
        let digit = byte.wrapping_sub(b'0');
        invalid |= digit > 9;
        result = result.wrapping_mul(10).wrapping_add(u64::from(digit));
    }
    if invalid {
        return None;
    }
    match last {
        None => Some(result),
        Some(byte) => {
            let digit = byte.wrapping_sub(b'0');
            if digit > 9 {
                return None;
            }
            result.checked_mul(10)?.checked_add(u64::from(digit))
        }
    }
}

#[inline]
fn action(value: &[u8]) -> Option<Option<Action>> {
    match value {
        b"ACCEPT" => Some(Some(Action::Accept)),
        b"REJECT" => Some(Some(Action::Reject)),
        DASH => Some(None),
        _ => None,
    }
}

#[inline]
fn status(value: &[u8]) -> Option<LogStatus> {
    match value {
        b"OK" | DASH => Some(LogStatus::Ok),
        b"NODATA" => Some(LogStatus::NoData),
        b"SKIPDATA" => Some(LogStatus::SkipData),
        _ => None,
    }
}

#[inline]
fn direction(value: &[u8]) -> Option<Option<Direction>> {
    match value {
        b"ingress" => Some(Some(Direction::Ingress)),
        b"egress" => Some(Some(Direction::Egress)),
        DASH => Some(None),
        _ => None,
    }
}

fn bad(field: &'static str, value: &[u8]) -> BadLine {
    let shown: String = String::from_utf8_lossy(value).chars().take(40).collect();
    BadLine::Value {
        field,
        value: shown,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::flowlogs::format::Origin;

    /// A repeatable stream of pseudo-random numbers for mutating lines.
    pub(crate) fn xorshift(seed: u64) -> impl FnMut() -> u64 {
        let mut state = seed;
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    const REJECT_V2: &[u8] = b"2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 \
                               49761 3389 6 20 4249 1418530010 1418530070 REJECT OK";

    #[test]
    fn default_record_parses_every_read_field() {
        let record = parse(REJECT_V2, &Format::default_v2()).unwrap();
        assert_eq!(record.src, Some("172.31.9.69".parse().unwrap()));
        assert_eq!(record.dst_port, Some(3389));
        assert_eq!(record.protocol, Some(6));
        assert_eq!((record.packets, record.bytes), (20, 4249));
        assert_eq!(
            (record.start, record.end),
            (Some(1418530010), Some(1418530070))
        );
        assert_eq!(record.action, Some(Action::Reject));
        assert_eq!(record.status, LogStatus::Ok);
        assert_eq!(record.interface, b"eni-1235b8ca123456789");
        assert_eq!(record.instance, None);
    }

    #[test]
    fn account_id_is_never_a_number() {
        for account in ["unknown", "000000000000", "12345678910"] {
            let line = format!(
                "2 {account} eni-1 10.0.0.1 10.0.0.2 1 22 6 1 1 1418530010 1418530070 ACCEPT OK"
            );
            assert!(
                parse(line.as_bytes(), &Format::default_v2()).is_ok(),
                "{account}"
            );
        }
    }

    #[test]
    fn nodata_records_have_no_addresses() {
        let line =
            b"2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA";
        let record = parse(line, &Format::default_v2()).unwrap();
        assert_eq!(record.status, LogStatus::NoData);
        assert_eq!(
            (record.src, record.dst_port, record.action),
            (None, None, None)
        );
        assert_eq!(record.bytes, 0);
    }

    #[test]
    fn ipv6_and_double_spaces_are_accepted() {
        let line = b"2 123456789010 eni-1 2001:db8:1234:a100:8d6e:3477:df66:f105  \
                     2001:db8:1234:a102:3304:8879:34cf:4071 34892 22 6 54 8855 1477913708 \
                     1477913820 ACCEPT OK\r";
        let line = line.strip_suffix(b"\r").unwrap();
        let record = parse(line, &Format::default_v2()).unwrap();
        assert_eq!(
            record.dst,
            Some("2001:db8:1234:a102:3304:8879:34cf:4071".parse().unwrap())
        );
    }

    #[test]
    fn separators_are_found_in_every_position_of_a_word() {
        let format = Format::parse("srcaddr dstaddr srcport dstport", Origin::Option).unwrap();
        for pad in 0..9 {
            let line = format!(
                "{}10.0.0.1\t 10.0.0.2  1 \t22{}",
                " ".repeat(pad),
                " ".repeat(pad)
            );
            let record = parse(line.as_bytes(), &format).unwrap();
            assert_eq!(record.src, Some("10.0.0.1".parse().unwrap()), "{pad}");
            assert_eq!(
                (record.src_port, record.dst_port),
                (Some(1), Some(22)),
                "{pad}"
            );
        }
        assert_eq!(
            blanks(u64::from_le_bytes(*b"a b\tc\x20\xa0\x89")),
            0x0000_8000_8000_8000
        );
    }

    #[test]
    fn wrong_field_counts_and_values_are_named() {
        let format = Format::default_v2();
        assert_eq!(
            parse(b"bogus line", &format),
            Err(BadLine::FieldCount {
                expected: 14,
                found: 2
            })
        );
        let port = b"2 1 eni-1 10.0.0.1 10.0.0.2 http 22 6 1 1 1 2 ACCEPT OK";
        assert_eq!(
            parse(port, &format).unwrap_err().to_string(),
            "srcport `http` is not valid"
        );
        let addr = b"2 1 eni-1 10.0.0.256 10.0.0.2 1 22 6 1 1 1 2 ACCEPT OK";
        assert!(
            parse(addr, &format)
                .unwrap_err()
                .to_string()
                .starts_with("srcaddr")
        );
        let binary = b"\x00\x01\x02 \x7fELF";
        assert_eq!(parse(binary, &format), Err(BadLine::Binary));
        let big_port = b"2 1 eni-1 10.0.0.1 10.0.0.2 70000 22 6 1 1 1 2 ACCEPT OK";
        assert!(parse(big_port, &format).is_err());
    }

    #[test]
    fn cloudwatch_timestamp_prefixes_are_stripped() {
        let iso = b"2019-01-02T10:11:12.000Z 2 1 eni-1 10.0.0.1 10.0.0.2 1 22 6 1 1 1 2 ACCEPT OK";
        assert_eq!(
            parse(iso, &Format::default_v2()).unwrap().dst_port,
            Some(22)
        );
        let csv = b"1742569968000,\"2 1 eni-1 - - - - - - - 1742569968 1742570020 - NODATA\"";
        let record = parse(csv, &Format::default_v2()).unwrap();
        assert_eq!(record.status, LogStatus::NoData);
        assert_eq!(strip_timestamp(b"2 1 eni"), b"2 1 eni");
        assert_eq!(strip_timestamp(b"1431280876 x"), b"1431280876 x");
    }

    #[test]
    fn custom_v5_record_reads_service_path_and_direction() {
        let format = Format::parse(
            "version srcaddr dstaddr srcport dstport protocol start end type packets bytes \
             account-id vpc-id subnet-id instance-id interface-id region az-id sublocation-type \
             sublocation-id action tcp-flags pkt-srcaddr pkt-dstaddr pkt-src-aws-service \
             pkt-dst-aws-service traffic-path flow-direction log-status",
            Origin::Header,
        )
        .unwrap();
        let line = b"5 10.0.0.71 52.95.128.179 34210 80 6 1616729292 1616729349 IPv4 7 471 \
                     123456789012 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 \
                     i-0c50d5961bcb2d47b eni-1235b8ca123456789 ap-southeast-2 apse2-az3 - - \
                     ACCEPT 3 10.0.0.71 52.95.128.179 - S3 8 egress OK";
        let record = parse(line, &format).unwrap();
        assert_eq!(record.traffic_path, Some(8));
        assert_eq!(record.direction, Some(Direction::Egress));
        assert_eq!(record.pkt_dst_service, Some(&b"S3"[..]));
        assert_eq!(record.pkt_src_service, None);
        assert_eq!(record.region, Some(&b"ap-southeast-2"[..]));
        assert_eq!(record.instance, Some(&b"i-0c50d5961bcb2d47b"[..]));
    }

    #[test]
    fn numbers_up_to_twenty_digits_and_no_further() {
        assert_eq!(number(b"0"), Some(0));
        assert_eq!(number(b"1764504000"), Some(1_764_504_000));
        assert_eq!(
            number(b"9999999999999999999"),
            Some(9_999_999_999_999_999_999)
        );
        assert_eq!(number(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(number(b"18446744073709551616"), None);
        assert_eq!(number(b"99999999999999999999"), None);
        assert_eq!(number(b"123456789012345678901"), None);
        for bad in [&b""[..], b"12a", b"-1", b"1 2", b"1844674407370955161x"] {
            assert_eq!(number(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn mutated_lines_never_panic() {
        let formats = [
            Format::default_v2(),
            Format::parse(
                "srcaddr pkt-dstaddr traffic-path flow-direction log-status region x",
                Origin::Option,
            )
            .unwrap(),
        ];
        let seeds: [&[u8]; 3] = [
            REJECT_V2,
            b"10.0.0.1 2001:db8::1 8 egress NODATA us-east-1 y",
            b"2019-01-02T10:11:12.000Z 2 1 eni-1 - - - - - - - 1 2 - NODATA",
        ];
        let mut next = xorshift(0x5eed);
        for _ in 0..20_000 {
            let mut line = seeds[(next() % 3) as usize].to_vec();
            for _ in 0..(next() % 6) {
                let at = (next() as usize) % (line.len() + 1);
                match next() % 4 {
                    0 if at < line.len() => line[at] = next() as u8,
                    1 => line.insert(at, b" .:-9\t\x00"[(next() % 7) as usize]),
                    2 if at < line.len() => {
                        line.remove(at);
                    }
                    _ => line.truncate(at),
                }
            }
            for format in &formats {
                let _ = parse(&line, format);
            }
        }
    }

    #[test]
    fn ipv4_parser_rejects_malformed_quads() {
        assert_eq!(
            ipv4(b"52.95.128.179"),
            Some(Ipv4Addr::new(52, 95, 128, 179))
        );
        for bad in [
            &b"1.2.3"[..],
            b"1.2.3.4.5",
            b"1..2.3",
            b"256.1.1.1",
            b"1.2.3.",
            b"1.2.3.4x",
        ] {
            assert_eq!(ipv4(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn control_bytes_in_a_text_field_make_the_line_binary() {
        let format = Format::parse(
            "interface-id srcaddr dstaddr bytes action pkt-dst-aws-service",
            Origin::Option,
        )
        .unwrap();
        for line in [
            &b"eni-1 10.0.0.1 203.0.113.5 100 ACCEPT S3\x1b[2J\x1b]0;x\x07"[..],
            b"eni-2\x00 10.0.0.1 203.0.113.5 100 ACCEPT S3",
            b"eni-3 10.0.0.1 203.0.113.5 100 ACCEPT S3\x7f",
            b"eni-4\t10.0.0.1 203.0.113.5 100 ACCEPT S\x013",
            b"eni-5 10.0.0.1 203.0.113.5 100 ACCEPT S3\rX",
            b"eni-6 10.0.0.1\x0b 203.0.113.5 100 ACCEPT S3",
            b"eni-7 10.0.0.1 203.0.113.5 100 ACCEPT S3\xc2\x9b31m",
            b"eni-8 10.0.0.1 203.0.113.5 100 ACCEPT S3\xe2\x80\xae",
        ] {
            assert_eq!(parse(line, &format), Err(BadLine::Binary), "{line:?}");
        }
        let tabbed = b"eni-5\t10.0.0.1 203.0.113.5 100 ACCEPT S3";
        assert_eq!(parse(tabbed, &format).unwrap().interface, b"eni-5");
    }
}
