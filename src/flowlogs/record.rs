//! One flow-log line to a record: strip a CloudWatch Logs timestamp prefix, split on spaces
//! without allocating, and parse the fields the analysis reads. `-` means not applicable.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use crate::flowlogs::format::{Format, SLOTS, Slot};

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

/// Parses one line (without its newline) in `format`.
pub fn parse<'a>(line: &'a [u8], format: &Format) -> Result<Record<'a>, BadLine> {
    let line = strip_timestamp(line);

    let mut spans: [&'a [u8]; SLOTS] = [DASH; SLOTS];
    let found = split(line, format, &mut spans);
    if found != format.len() {
        if is_binary(line) {
            return Err(BadLine::Binary);
        }
        return Err(BadLine::FieldCount {
            expected: format.len(),
            found,
        });
    }

    typed(&spans, format).map_err(|err| {
        if is_binary(line) {
            BadLine::Binary
        } else {
            err
        }
    })
}

/// Splits on runs of spaces or tabs, storing the columns the format reads; returns the count.
#[inline]
fn split<'a>(line: &'a [u8], format: &Format, spans: &mut [&'a [u8]; SLOTS]) -> usize {
    let mut column = 0;
    let mut at = 0;
    let len = line.len();
    loop {
        while at < len && (line[at] == b' ' || line[at] == b'\t') {
            at += 1;
        }
        if at >= len {
            return column;
        }

        let start = at;
        while at < len && line[at] != b' ' && line[at] != b'\t' {
            at += 1;
        }
        if let Some(slot) = format.slot_of(column) {
            spans[slot] = &line[start..at];
        }
        column += 1;
    }
}

fn typed<'a>(spans: &[&'a [u8]; SLOTS], format: &Format) -> Result<Record<'a>, BadLine> {
    let span = |slot: Slot| spans[slot as usize];
    let text = |slot: Slot| Some(span(slot)).filter(|value| *value != DASH);

    Ok(Record {
        src: address(span(Slot::SrcAddr), "srcaddr")?,
        dst: address(span(Slot::DstAddr), "dstaddr")?,
        pkt_src: address(span(Slot::PktSrcAddr), "pkt-srcaddr")?,
        pkt_dst: address(span(Slot::PktDstAddr), "pkt-dstaddr")?,
        src_port: optional(span(Slot::SrcPort), "srcport", u16::MAX as u64)?.map(|v| v as u16),
        dst_port: optional(span(Slot::DstPort), "dstport", u16::MAX as u64)?.map(|v| v as u16),
        protocol: optional(span(Slot::Protocol), "protocol", 255)?.map(|v| v as u8),
        packets: optional(span(Slot::Packets), "packets", u64::MAX)?.unwrap_or(0),
        bytes: optional(span(Slot::Bytes), "bytes", u64::MAX)?.unwrap_or(0),
        start: optional(span(Slot::Start), "start", u64::MAX)?,
        end: optional(span(Slot::End), "end", u64::MAX)?,
        action: action(span(Slot::Action))?,
        status: status(span(Slot::LogStatus))?,
        interface: span(Slot::InterfaceId),
        instance: format.has(Slot::InstanceId).then(|| span(Slot::InstanceId)),
        region: text(Slot::Region),
        direction: direction(span(Slot::FlowDirection))?,
        traffic_path: optional(span(Slot::TrafficPath), "traffic-path", 255)?.map(|v| v as u8),
        pkt_src_service: text(Slot::PktSrcAwsService),
        pkt_dst_service: text(Slot::PktDstAwsService),
        reject_reason: text(Slot::RejectReason),
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

fn is_binary(line: &[u8]) -> bool {
    line.iter()
        .any(|&b| b < 0x09 || (0x0e..0x20).contains(&b) || b == 0x7f)
}

#[inline]
fn address(value: &[u8], field: &'static str) -> Result<Option<IpAddr>, BadLine> {
    if value == DASH {
        return Ok(None);
    }
    if let Some(v4) = ipv4(value) {
        return Ok(Some(IpAddr::V4(v4)));
    }
    std::str::from_utf8(value)
        .ok()
        .filter(|text| text.contains(':'))
        .and_then(|text| text.parse::<IpAddr>().ok())
        .map(Some)
        .ok_or_else(|| bad(field, value))
}

/// A dotted-quad IPv4 address, parsed straight from the bytes.
#[inline]
pub fn ipv4(value: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut index = 0;
    let mut current: u32 = 0;
    let mut digits = 0;
    for &byte in value {
        match byte {
            b'0'..=b'9' => {
                current = current * 10 + u32::from(byte - b'0');
                digits += 1;
                if digits > 3 {
                    return None;
                }
            }
            b'.' if digits > 0 && index < 3 && current <= 255 => {
                octets[index] = current as u8;
                index += 1;
                current = 0;
                digits = 0;
            }
            _ => return None,
        }
    }
    if index != 3 || digits == 0 || current > 255 {
        return None;
    }
    octets[3] = current as u8;
    Some(Ipv4Addr::from(octets))
}

#[inline]
fn optional(value: &[u8], field: &'static str, max: u64) -> Result<Option<u64>, BadLine> {
    if value == DASH {
        return Ok(None);
    }
    match number(value) {
        Some(number) if number <= max => Ok(Some(number)),
        _ => Err(bad(field, value)),
    }
}

/// A decimal number of at most 20 digits.
#[inline]
fn number(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.len() > 20 {
        return None;
    }
    let mut result: u64 = 0;
    for &byte in value {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        result = result.checked_mul(10)?.checked_add(u64::from(digit))?;
    }
    Some(result)
}

fn action(value: &[u8]) -> Result<Option<Action>, BadLine> {
    match value {
        b"ACCEPT" => Ok(Some(Action::Accept)),
        b"REJECT" => Ok(Some(Action::Reject)),
        DASH => Ok(None),
        _ => Err(bad("action", value)),
    }
}

fn status(value: &[u8]) -> Result<LogStatus, BadLine> {
    match value {
        b"OK" | DASH => Ok(LogStatus::Ok),
        b"NODATA" => Ok(LogStatus::NoData),
        b"SKIPDATA" => Ok(LogStatus::SkipData),
        _ => Err(bad("log-status", value)),
    }
}

fn direction(value: &[u8]) -> Result<Option<Direction>, BadLine> {
    match value {
        b"ingress" => Ok(Some(Direction::Ingress)),
        b"egress" => Ok(Some(Direction::Egress)),
        DASH => Ok(None),
        _ => Err(bad("flow-direction", value)),
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
mod tests {
    use super::*;
    use crate::flowlogs::format::Origin;

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
}
