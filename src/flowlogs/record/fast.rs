//! The fast path for the usual line: shorter than 128 bytes, its fields one space apart and
//! all valid. The line is copied into a buffer padded with spaces, so that every 8-byte read
//! stays in bounds; its spaces are found as one 128-bit bitmap, eight bytes per step; numbers
//! are read eight digits at a time and IPv4 octets without a branch on how many digits they
//! have (SWAR: arithmetic on the bytes of a u64). Every other line, and every line with an
//! invalid value or a number of more than 16 digits, is left to the general path, which gives
//! the same records and says what is wrong with the rest.

use std::net::{IpAddr, Ipv4Addr};

use super::{DASH, MAX_EPOCH_SECONDS, Record};
use crate::flowlogs::format::{Format, SLOTS, Slot};

/// Lines this long or longer take the general path.
const LIMIT: usize = 128;

/// `'0'` in every byte.
const ZEROS: u64 = 0x3030_3030_3030_3030;
/// A space in every byte.
const SPACES: u64 = 0x2020_2020_2020_2020;
/// The high bit of every byte.
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Where a field starts and ends in the line; `0..0` when the format lacks it.
type Span = (u8, u8);

/// The record in `line` (its timestamp prefix already stripped), or `None` to leave the line
/// to the general path.
#[inline(always)]
pub(super) fn parse<'a>(line: &'a [u8], format: &Format) -> Option<Record<'a>> {
    // The general path skips leading blanks too (an ISO-8601 prefix leaves one).
    let blanks = line
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    let line = line.get(blanks..)?;
    let mut padded = Padded([b' '; LIMIT + 8]);
    padded
        .0
        .get_mut(..line.len())
        .filter(|_| line.len() < LIMIT)?
        .copy_from_slice(line);
    let mut spans = [(0, 0); SLOTS + 1];
    if !split(line, &padded, format.column_slots(), &mut spans) {
        return None;
    }
    read(line, &padded, &spans, format)
}

/// The line followed by spaces: a read of eight bytes from any position in the line stays in
/// the buffer.
struct Padded([u8; LIMIT + 8]);

impl Padded {
    /// The byte at `at` (a position in the line).
    #[inline(always)]
    fn byte(&self, at: usize) -> u8 {
        self.0[at % LIMIT]
    }

    /// The eight bytes from `at` (a position in the line), as a little-endian word.
    #[inline(always)]
    fn word(&self, at: usize) -> u64 {
        let at = at % LIMIT;
        u64::from_le_bytes(self.0[at..at + 8].try_into().unwrap_or_default())
    }
}

/// One bit per byte of `line` and the rest of its last eight bytes, set for the bytes below
/// `!`: the spaces, in a line without tabs or other control bytes, and the end of the line.
/// It reads the line itself, not the padded copy that the stores have only begun to write.
#[inline(always)]
fn blanks(line: &[u8]) -> u128 {
    let (words, tail) = line.as_chunks::<8>();
    // The tail is read from the last eight bytes, shifted down, with spaces above it.
    let last = match line.last_chunk::<8>() {
        _ if tail.is_empty() => SPACES,
        Some(bytes) => {
            let gap = (8 - tail.len()) * 8;
            u64::from_le_bytes(*bytes) >> gap | SPACES << (64 - gap)
        }
        None => tail
            .iter()
            .rev()
            .fold(SPACES, |word, &byte| word << 8 | u64::from(byte)),
    };
    // From the last word to the first, each shifting the ones after it up by a byte.
    words
        .iter()
        .rev()
        .fold(u128::from(byte_bits(below_bang(last))), |bits, word| {
            bits << 8 | u128::from(byte_bits(below_bang(u64::from_le_bytes(*word))))
        })
}

/// The high bit of each byte of `word` that is below `!`.
#[inline(always)]
fn below_bang(word: u64) -> u64 {
    // `| HIGH` stops each byte's subtraction from borrowing: its high bit stays set when the
    // low seven bits are `!` or more; `| word` then keeps out the bytes that have it set.
    !((word | HIGH).wrapping_sub(0x2121_2121_2121_2121) | word) & HIGH
}

/// Packs the high bits of the bytes of `mask` (no other bit is set) into its low eight bits.
#[inline(always)]
fn byte_bits(mask: u64) -> u64 {
    // The multiply moves byte k's bit (at 8k after the shift) to bit 56 + k, without carries.
    (mask >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56
}

/// Puts the span of each of the format's columns (`columns` holds their slots) in `line`
/// into `spans`; false unless the line is exactly those fields, one space apart.
#[inline(always)]
fn split(line: &[u8], padded: &Padded, columns: &[u8], spans: &mut [Span; SLOTS + 1]) -> bool {
    let len = line.len();
    let blanks = blanks(line);
    // The blanks up to the one just past the line: none first, and no two in a row.
    let inside = blanks & (2u128 << len).wrapping_sub(1);
    if inside & (inside >> 1 | 1) != 0 {
        return false;
    }
    let mut ends = blanks;
    let mut start = 0;
    let mut spaces = true;
    for &slot in columns {
        let end = ends.trailing_zeros() as usize;
        ends &= ends.wrapping_sub(1);
        spaces &= padded.byte(end) == b' ';
        spans[usize::from(slot)] = (start as u8, end as u8);
        start = end + 1;
    }
    spaces && start == len + 1
}

/// The record from the spans; `None` when a value is not valid or is left to the general path.
#[inline(always)]
fn read<'a>(
    line: &'a [u8],
    padded: &Padded,
    spans: &[Span; SLOTS + 1],
    format: &Format,
) -> Option<Record<'a>> {
    let span = |slot: Slot| spans[slot as usize];
    let text = |slot: Slot| {
        let (start, end) = span(slot);
        match line.get(usize::from(start)..usize::from(end)) {
            Some(value) if !value.is_empty() => value,
            _ => DASH,
        }
    };
    let optional = |slot: Slot| Some(text(slot)).filter(|value| *value != DASH);
    let number = |slot: Slot, max: u64| number(padded, span(slot), max);
    let address = |slot: Slot| address(line, padded, span(slot));

    Some(Record {
        src: address(Slot::SrcAddr)?,
        dst: address(Slot::DstAddr)?,
        pkt_src: address(Slot::PktSrcAddr)?,
        pkt_dst: address(Slot::PktDstAddr)?,
        src_port: number(Slot::SrcPort, u16::MAX.into())?.map(|v| v as u16),
        dst_port: number(Slot::DstPort, u16::MAX.into())?.map(|v| v as u16),
        protocol: number(Slot::Protocol, u8::MAX.into())?.map(|v| v as u8),
        packets: number(Slot::Packets, u64::MAX)?.unwrap_or(0),
        bytes: number(Slot::Bytes, u64::MAX)?.unwrap_or(0),
        start: number(Slot::Start, MAX_EPOCH_SECONDS)?,
        end: number(Slot::End, MAX_EPOCH_SECONDS)?,
        action: super::action(text(Slot::Action))?,
        status: super::status(text(Slot::LogStatus))?,
        interface: text(Slot::InterfaceId),
        instance: format.has(Slot::InstanceId).then(|| text(Slot::InstanceId)),
        region: optional(Slot::Region),
        direction: super::direction(text(Slot::FlowDirection))?,
        traffic_path: number(Slot::TrafficPath, u8::MAX.into())?.map(|v| v as u8),
        pkt_src_service: optional(Slot::PktSrcAwsService),
        pkt_dst_service: optional(Slot::PktDstAwsService),
        reject_reason: optional(Slot::RejectReason),
        rewritable: format.has(Slot::PktSrcAddr) || format.has(Slot::PktDstAddr),
    })
}

/// An address field: `Some(None)` for `-` or a field the format lacks, `None` when invalid.
#[inline(always)]
fn address(line: &[u8], padded: &Padded, (start, end): Span) -> Option<Option<IpAddr>> {
    if start == end {
        return Some(None);
    }
    match ipv4(padded, start.into(), end.into()) {
        Some(v4) => Some(Some(IpAddr::V4(v4))),
        None => super::address(line.get(usize::from(start)..usize::from(end))?),
    }
}

/// A number field up to `max`: `Some(None)` for `-` or a field the format lacks, `None` when
/// invalid or longer than 16 digits (left to the general path).
#[inline(always)]
fn number(padded: &Padded, (start, end): Span, max: u64) -> Option<Option<u64>> {
    let (start, end) = (usize::from(start), usize::from(end));
    let value = match end - start {
        0 => return Some(None),
        len @ 1..=8 => eight_digits(padded.word(start), len),
        len @ 9..=16 => eight_digits(padded.word(start), len - 8)
            .zip(eight_digits(padded.word(end - 8), 8))
            .map(|(high, low)| high * 100_000_000 + low),
        _ => None,
    };
    match value {
        Some(value) => (value <= max).then_some(Some(value)),
        None => (end - start == 1 && padded.byte(start) == b'-').then_some(None),
    }
}

/// The number the first `len` (1 to 8) bytes of `word` spell, if they are all digits.
#[inline(always)]
fn eight_digits(word: u64, len: usize) -> Option<u64> {
    // Digits become 0 to 9; shifting out the bytes past `len` leaves leading zeros in front.
    let digits = (word ^ ZEROS) << (64 - 8 * len);
    // Adding 0x76 sets the high bit of a byte above 9 (bytes above 0x89 have it already).
    if (digits.wrapping_add(0x7676_7676_7676_7676) | digits) & HIGH != 0 {
        return None;
    }
    // Join neighbouring digits into two-digit numbers, those into four, then eight.
    let pairs = (digits * 10 + (digits >> 8)) & 0x00ff_00ff_00ff_00ff;
    let quads = (pairs * 100 + (pairs >> 16)) & 0x0000_ffff_0000_ffff;
    Some((quads * 10_000 + (quads >> 32)) & 0xffff_ffff)
}

/// The dotted quad spanning `start..end`: the bytes that are not digits give the dots, and
/// each octet is read from its own word, so that the four do not wait for one another.
#[inline(always)]
fn ipv4(padded: &Padded, start: usize, end: usize) -> Option<Ipv4Addr> {
    let len = end - start;
    let stops = non_digits(padded.word(start)) | non_digits(padded.word(start + 8)) << 8;
    let first = stops.trailing_zeros() as usize;
    let rest = stops & stops.wrapping_sub(1);
    let second = rest.trailing_zeros() as usize;
    let rest = rest & rest.wrapping_sub(1);
    let third = rest.trailing_zeros() as usize;
    let rest = rest & rest.wrapping_sub(1);
    // Three dots, and the fourth byte that is not a digit just past the address.
    let dots = (padded.byte(start + first) == b'.')
        & (padded.byte(start + second) == b'.')
        & (padded.byte(start + third) == b'.')
        & (rest.trailing_zeros() as usize == len);
    let a = octet(padded, start, first);
    let b = octet(padded, start + first + 1, second.wrapping_sub(first + 1));
    let c = octet(padded, start + second + 1, third.wrapping_sub(second + 1));
    let d = octet(padded, start + third + 1, len.wrapping_sub(third + 1));
    (dots & ((a | b | c | d) <= 255)).then(|| Ipv4Addr::new(a as u8, b as u8, c as u8, d as u8))
}

/// One bit per byte of `word`, in order, set for the bytes that are not digits.
#[inline(always)]
fn non_digits(word: u64) -> u32 {
    let digits = word ^ ZEROS;
    // Adding 0x76 to a byte's low seven bits sets its high bit when the byte is above 9.
    let flags = (((digits & !HIGH) + 0x7676_7676_7676_7676) | digits) & HIGH;
    byte_bits(flags) as u32
}

/// For each count of digits, the multiplier that gathers them into bits 16 to 23 (see
/// `octet`); zero for the counts an octet cannot have.
const GATHER: [u32; 16] = {
    let mut table = [0; 16];
    table[1] = 1 << 16;
    table[2] = 10 << 16 | 1 << 8;
    table[3] = 100 << 16 | 10 << 8 | 1;
    table
};

/// The octet that the `count` digits from `at` spell, or 256 when `count` is not 1 to 3 or
/// the digits spell more than 255.
#[inline(always)]
fn octet(padded: &Padded, at: usize, count: usize) -> u32 {
    let digits = (padded.word(at) ^ ZEROS) as u32 & 0xff_ffff;
    // The multiply adds each digit times its weight at bit 16; the other products land
    // above bit 23 or add up to less than 2^16 below, and bytes past `count` weigh 0.
    let value = digits.wrapping_mul(GATHER[count % 16]) >> 16 & 0xff;
    // Three digits spell more than 255 when, read as a big-endian number, they exceed 2 5 5.
    let over = (count == 3) & (digits.swap_bytes() >> 8 > 0x02_0505);
    value | u32::from(over | !(1..=3).contains(&count)) << 8
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flowlogs::format::Origin;

    /// The padded copy of `line`, which the tests keep short.
    fn padded(line: &[u8]) -> Padded {
        let mut padded = Padded([b' '; LIMIT + 8]);
        padded.0[..line.len()].copy_from_slice(line);
        padded
    }

    /// The general path's result for `line`.
    fn general<'a>(line: &'a [u8], format: &Format) -> Result<Record<'a>, super::super::BadLine> {
        super::super::parse_general(super::super::strip_timestamp(line), format)
    }

    #[test]
    fn byte_bits_packs_every_pattern_in_order() {
        for pattern in 0..=255u64 {
            let mask = (0..8)
                .filter(|bit| pattern >> bit & 1 == 1)
                .fold(0, |mask, bit| mask | 0x80 << (bit * 8));
            assert_eq!(byte_bits(mask), pattern, "{pattern:08b}");
        }
    }

    #[test]
    fn below_bang_flags_exactly_the_bytes_below_it() {
        for byte in 0..=255u8 {
            let word = u64::from_le_bytes([b'a', byte, b'!', 0xa0, byte, b'~', 0x20, 0x21]);
            let flagged = u64::from(byte < b'!');
            let expected = flagged << 15 | flagged << 39 | 0x80 << 48;
            assert_eq!(below_bang(word), expected, "{byte:#04x}");
        }
    }

    #[test]
    fn blanks_marks_the_spaces_and_the_bytes_after_the_line_up_to_a_word() {
        for len in 0..LIMIT {
            let line: Vec<u8> = (0..len)
                .map(|at| {
                    if at % 3 == 1 {
                        b' '
                    } else {
                        b'a' + (at % 26) as u8
                    }
                })
                .collect();
            let bits = blanks(&line);
            let covered = (len / 8 + 1) * 8;
            for at in 0..128 {
                let blank = line.get(at).map_or(at < covered, |&byte| byte == b' ');
                assert_eq!(bits >> at & 1 == 1, blank, "length {len}, byte {at}");
            }
        }
    }

    #[test]
    fn octets_are_one_to_three_digits_up_to_255() {
        let read = |text: &[u8], count: usize| octet(&padded(text), 0, count);
        for (text, count, value) in [
            (&b"0."[..], 1, 0),
            (b"9.", 1, 9),
            (b"1.234", 1, 1),
            (b"12.34", 2, 12),
            (b"99.", 2, 99),
            (b"100", 3, 100),
            (b"010", 3, 10),
            (b"007", 3, 7),
            (b"199", 3, 199),
            (b"249", 3, 249),
            (b"255 ", 3, 255),
        ] {
            assert_eq!(
                read(text, count),
                value,
                "{}",
                String::from_utf8_lossy(text)
            );
        }
        for (text, count) in [
            (&b"256"[..], 3),
            (b"260", 3),
            (b"300", 3),
            (b"999", 3),
            (b"1234", 4),
            (b".1", 0),
        ] {
            assert!(read(text, count) > 255, "{}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn eight_digits_reads_one_to_eight_digits_and_nothing_else() {
        let word = |text: &[u8]| {
            let mut bytes = [b' '; 8];
            bytes[..text.len()].copy_from_slice(text);
            u64::from_le_bytes(bytes)
        };
        assert_eq!(eight_digits(word(b"0"), 1), Some(0));
        assert_eq!(eight_digits(word(b"7"), 1), Some(7));
        assert_eq!(eight_digits(word(b"443"), 3), Some(443));
        assert_eq!(eight_digits(word(b"00000001"), 8), Some(1));
        assert_eq!(eight_digits(word(b"12345678"), 8), Some(12_345_678));
        assert_eq!(eight_digits(word(b"99999999"), 8), Some(99_999_999));
        // Only the first `len` bytes count.
        assert_eq!(eight_digits(word(b"12x4"), 2), Some(12));
        for at in 0..8 {
            for bad in [b'/', b':', b'-', b' ', 0, 0x80, 0xb0, 0xff] {
                let mut digits = *b"12345678";
                digits[at] = bad;
                let text = String::from_utf8_lossy(&digits);
                assert_eq!(eight_digits(word(&digits), 8), None, "{text}");
                assert_eq!(eight_digits(word(&digits), at + 1), None, "{text}");
            }
        }
    }

    #[test]
    fn number_fields_up_to_sixteen_digits_and_the_rest_deferred() {
        let field = |text: &[u8], max: u64| number(&padded(text), (0, text.len() as u8), max);
        assert_eq!(field(b"0", u64::MAX), Some(Some(0)));
        assert_eq!(field(b"-", u64::MAX), Some(None));
        assert_eq!(field(b"65535", 65_535), Some(Some(65_535)));
        assert_eq!(field(b"65536", 65_535), None);
        assert_eq!(
            field(b"1764504000", 4_102_444_800),
            Some(Some(1_764_504_000))
        );
        assert_eq!(field(b"4102444801", 4_102_444_800), None);
        assert_eq!(field(b"123456789", u64::MAX), Some(Some(123_456_789)));
        assert_eq!(
            field(b"9999999999999999", u64::MAX),
            Some(Some(9_999_999_999_999_999))
        );
        // 17 to 20 digits, overflow included, are the general path's to judge.
        assert_eq!(field(b"10000000000000000", u64::MAX), None);
        assert_eq!(field(b"18446744073709551615", u64::MAX), None);
        for bad in [&b"--"[..], b"+1", b"1-", b"12345678x", b"1234567890123456x"] {
            assert_eq!(
                field(bad, u64::MAX),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(number(&padded(b""), (0, 0), 1), Some(None));
    }

    #[test]
    fn ipv4_takes_dotted_quads_only() {
        let read = |text: &[u8]| ipv4(&padded(text), 0, text.len());
        for good in [
            "0.0.0.0",
            "10.0.2.176",
            "255.255.255.255",
            "1.22.133.4",
            "010.001.1.00",
        ] {
            let expected = super::super::ipv4(good.as_bytes());
            assert!(expected.is_some(), "{good}");
            assert_eq!(read(good.as_bytes()), expected, "{good}");
        }
        for bad in [
            &b"1.2.3"[..],
            b"1.2.3.4.5",
            b"1..2.3",
            b".1.2.3",
            b"1.2.3.",
            b"256.1.1.1",
            b"1.1.1.256",
            b"1000.1.1.1",
            b"1.2.3.4x",
            b"1.2.3:4",
            b"2001:db8::1",
            b"-",
        ] {
            assert_eq!(read(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn split_needs_the_columns_one_space_apart() {
        let format = Format::parse("srcaddr dstaddr srcport", Origin::Option).unwrap();
        let split_line = |line: &[u8]| {
            let mut spans = [(0, 0); SLOTS + 1];
            let ok = split(line, &padded(line), format.column_slots(), &mut spans);
            ok.then_some(spans)
        };
        let spans = split_line(b"1.2.3.4 5.6.7.8 22").unwrap();
        assert_eq!(spans[Slot::SrcAddr as usize], (0, 7));
        assert_eq!(spans[Slot::DstAddr as usize], (8, 15));
        assert_eq!(spans[Slot::SrcPort as usize], (16, 18));
        for bad in [
            &b"1.2.3.4 5.6.7.8"[..],
            b"1.2.3.4 5.6.7.8 22 x",
            b"1.2.3.4  5.6.7.8 22",
            b"1.2.3.4 5.6.7.8 22 ",
            b" 1.2.3.4 5.6.7.8 22",
            b"1.2.3.4\t5.6.7.8 22",
            b"1.2.3.4 5.6\x017.8 22",
        ] {
            assert!(
                split_line(bad).is_none(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn lines_the_fast_path_takes_parse_as_on_the_general_path() {
        let formats = [
            Format::default_v2(),
            Format::parse(
                "version srcaddr dstaddr srcport dstport protocol start end type packets bytes \
                 account-id vpc-id instance-id interface-id region action pkt-srcaddr \
                 pkt-dstaddr pkt-src-aws-service traffic-path flow-direction log-status",
                Origin::Header,
            )
            .unwrap(),
            Format::parse(
                "srcaddr x reject-reason pkt-dst-aws-service bytes",
                Origin::Option,
            )
            .unwrap(),
        ];
        let seeds: [&[u8]; 5] = [
            b"2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 \
              4249 1418530010 1418530070 REJECT OK",
            b"2 123456789012 eni-000000000de55cd3e - - - - - - - 1764504010 1764504070 - NODATA",
            b"5 10.0.0.71 52.95.128.179 34210 80 6 1616729292 1616729349 IPv4 7 471 \
              123456789012 vpc-1 i-0c50d5961bcb2d47b eni-1 ap-southeast-2 ACCEPT 10.0.0.71 - S3 \
              8 egress OK",
            b"10.0.0.1 x - S3 99999999999999999",
            b"2019-01-02T10:11:12.000Z 2 1 eni-1 10.0.0.1 10.0.0.2 1 22 6 1 1 1 2 ACCEPT OK",
        ];
        let mut next = super::super::tests::xorshift(0xfa57);
        let mut taken = 0;
        for round in 0..30_000 {
            let mut line = seeds[round % seeds.len()].to_vec();
            for _ in 0..(next() % 4) {
                let at = (next() as usize) % (line.len() + 1);
                match next() % 4 {
                    0 if at < line.len() => {
                        line[at] = b"0123456789 .-:\t\x01x"[(next() % 17) as usize]
                    }
                    1 => line.insert(at, b" .-9:0"[(next() % 6) as usize]),
                    2 if at < line.len() => {
                        line.remove(at);
                    }
                    _ => {}
                }
            }
            for format in &formats {
                let stripped = super::super::strip_timestamp(&line);
                if let Some(record) = parse(stripped, format) {
                    taken += 1;
                    assert_eq!(
                        Ok(record),
                        general(&line, format),
                        "{}",
                        String::from_utf8_lossy(&line)
                    );
                }
            }
        }
        // Most lines are still regular after a few mutations.
        assert!(taken > 10_000, "{taken}");
    }
}
