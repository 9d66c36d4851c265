//! The fast path for the usual line: shorter than 128 bytes, its fields one space apart and
//! all valid. The line is read where it lies in the read buffer, through a window of the bytes
//! after it, so that every 8-byte read stays in bounds; its spaces (and any byte no record has)
//! are found as 128-bit bitmaps, sixteen bytes to a compare (SSE2 on x86-64, NEON on aarch64);
//! numbers are read eight digits at a time and IPv4 octets without a branch on how many digits
//! they have (SWAR: arithmetic on the bytes of a u64). The bytes after the line may be anything:
//! they can send a line to the general path, never change a value. Every other line, and every
//! line with an invalid value or a number of more than 16 digits, is left to the general path,
//! which gives the same records and says what is wrong with the rest.

use std::net::{IpAddr, Ipv4Addr};

use wide::{i8x16, u8x16};

use super::{DASH, MAX_EPOCH_SECONDS, Record};
use crate::flowlogs::format::{Format, Slot};

/// Lines this long or longer take the general path.
const LIMIT: usize = 128;

/// Bytes read from a line's start: the longest line the fast path takes, and room for an
/// 8-byte read from any position in it.
const VIEW: usize = LIMIT + 16;

/// `'0'` in every byte.
const ZEROS: u64 = 0x3030_3030_3030_3030;
/// The high bit of every byte.
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Reads the record in `line` (its timestamp prefix already stripped) into `record`; false
/// leaves the line to the general path (and `record` to be overwritten). `window` starts with
/// the line; when it holds fewer than `VIEW` bytes, the line is copied. The record is written
/// in place, not returned, because moving it costs as much as reading a field.
#[inline(always)]
pub(super) fn parse<'a>(
    line: &'a [u8],
    window: &[u8],
    format: &Format,
    record: &mut Record<'a>,
) -> bool {
    // The general path skips leading blanks too (an ISO-8601 prefix leaves one).
    let blanks = line
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    let Some(line) = line.get(blanks..).filter(|line| line.len() < LIMIT) else {
        return false;
    };
    match window.get(blanks..).and_then(<[u8]>::first_chunk::<VIEW>) {
        Some(view) => parse_view(line, View(view), format, record),
        None => parse_copied(line, format, record),
    }
}

/// [`parse`] for a line whose window is short: it is copied into spaces.
#[cold]
#[inline(never)]
fn parse_copied<'a>(line: &'a [u8], format: &Format, record: &mut Record<'a>) -> bool {
    let mut copy = [b' '; VIEW];
    copy[..line.len()].copy_from_slice(line);
    parse_view(line, View(&copy), format, record)
}

/// Reads the record in `line`, which `view` begins with, into `record`.
#[inline(always)]
fn parse_view<'a>(
    line: &'a [u8],
    view: View<'_>,
    format: &Format,
    record: &mut Record<'a>,
) -> bool {
    ends(line.len(), view).is_some_and(|ends| read(line, view, ends, format, record))
}

/// A line's first `VIEW` bytes: the line and what follows it.
#[derive(Clone, Copy)]
struct View<'v>(&'v [u8; VIEW]);

impl View<'_> {
    /// The byte at `at` (a position in the line).
    #[inline(always)]
    fn byte(self, at: usize) -> u8 {
        self.0[at % LIMIT]
    }

    /// The eight bytes from `at` (a position in the line), as a little-endian word.
    #[inline(always)]
    fn word(self, at: usize) -> u64 {
        let at = at % LIMIT;
        u64::from_le_bytes(self.0[at..at + 8].try_into().unwrap_or_default())
    }

    /// One bit per byte of the first `LIMIT`: the spaces, and the bytes no record has (tabs
    /// and other control bytes, DEL, and every byte past ASCII).
    #[inline(always)]
    fn classify(self) -> (u128, u128) {
        let (chunks, _) = self.0.as_chunks::<16>();
        let bits = |lanes: i8x16| bytemuck::cast::<i8x16, u8x16>(lanes).to_bitmask();
        let (mut spaces, mut odd) = (0u128, 0u128);
        for (index, chunk) in chunks[..LIMIT / 16].iter().enumerate() {
            let bytes: i8x16 = bytemuck::cast(*chunk);
            let space = bits(bytes.simd_eq(i8x16::splat(b' ' as i8)));
            // Compared as signed, the bytes past ASCII are below `!` too.
            let below = bytes.simd_lt(i8x16::splat(b'!' as i8)) | bytes.simd_eq(i8x16::splat(0x7f));
            spaces |= u128::from(space) << (16 * index);
            odd |= u128::from(bits(below) & !space) << (16 * index);
        }
        (spaces, odd)
    }
}

/// Packs the high bits of the bytes of `mask` (no other bit is set) into its low eight bits.
#[inline(always)]
fn byte_bits(mask: u64) -> u64 {
    // The multiply moves byte k's bit (at 8k after the shift) to bit 56 + k, without carries.
    (mask >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56
}

/// The end of each field of the line of `len` bytes at the start of `view`, one bit each;
/// `None` unless the fields are one space apart and no byte is one a record cannot have.
#[inline(always)]
fn ends(len: usize, view: View<'_>) -> Option<u128> {
    let (spaces, odd) = view.classify();
    let inside = (1u128 << (len % LIMIT)).wrapping_sub(1);
    // The spaces, and the end of the line as one more.
    let ends = spaces & inside | 1 << (len % LIMIT);
    // Nothing a record cannot have, no blank first, and no two in a row.
    (odd & inside == 0 && ends & (ends >> 1 | 1) == 0).then_some(ends)
}

/// Reads the line's fields, which end where `ends` has bits, into `record` in the format's
/// column order; false when the count is not the format's or a value is not valid or is left
/// to the general path. Numbers and addresses are read without a branch on their validity,
/// which is gathered in `ok` and looked at once.
#[inline(always)]
fn read<'a>(
    line: &'a [u8],
    view: View<'_>,
    mut ends: u128,
    format: &Format,
    record: &mut Record<'a>,
) -> bool {
    *record = Record {
        instance: None,
        rewritable: format.has(Slot::PktSrcAddr) || format.has(Slot::PktDstAddr),
        pkt_both: format.has(Slot::PktSrcAddr) && format.has(Slot::PktDstAddr),
        ..Record::EMPTY
    };
    let mut ok = true;
    let mut start = 0;
    for &field in format.column_fields() {
        let end = ends.trailing_zeros() as usize;
        ends &= ends.wrapping_sub(1);
        // Past the last field `end` is 128, out of the line.
        if end > line.len() {
            return false;
        }
        let span = (start, end);
        start = end + 1;
        let Some(field) = field else {
            continue;
        };
        let text = || line.get(span.0..span.1).unwrap_or(DASH);
        let optional = || Some(text()).filter(|value| *value != DASH);
        let ok = &mut ok;
        match field {
            Slot::SrcAddr => record.src = address(line, view, span, ok),
            Slot::DstAddr => record.dst = address(line, view, span, ok),
            Slot::PktSrcAddr => record.pkt_src = address(line, view, span, ok),
            Slot::PktDstAddr => record.pkt_dst = address(line, view, span, ok),
            Slot::SrcPort => {
                record.src_port = number(view, span, u16::MAX.into(), ok).map(|v| v as u16)
            }
            Slot::DstPort => {
                record.dst_port = number(view, span, u16::MAX.into(), ok).map(|v| v as u16)
            }
            Slot::Protocol => {
                record.protocol = number(view, span, u8::MAX.into(), ok).map(|v| v as u8)
            }
            Slot::Packets => record.packets = number(view, span, u64::MAX, ok).unwrap_or(0),
            Slot::Bytes => record.bytes = number(view, span, u64::MAX, ok).unwrap_or(0),
            Slot::Start => record.start = number(view, span, MAX_EPOCH_SECONDS, ok),
            Slot::End => record.end = number(view, span, MAX_EPOCH_SECONDS, ok),
            Slot::Action => match super::action(text()) {
                Some(action) => record.action = action,
                None => return false,
            },
            Slot::LogStatus => match super::status(text()) {
                Some(status) => record.status = status,
                None => return false,
            },
            Slot::InterfaceId => record.interface = text(),
            Slot::InstanceId => record.instance = Some(text()),
            Slot::Region => record.region = optional(),
            Slot::FlowDirection => match super::direction(text()) {
                Some(direction) => record.direction = direction,
                None => return false,
            },
            Slot::TrafficPath => {
                record.traffic_path = number(view, span, u8::MAX.into(), ok).map(|v| v as u8)
            }
            Slot::PktSrcAwsService => record.pkt_src_service = optional(),
            Slot::PktDstAwsService => record.pkt_dst_service = optional(),
            Slot::RejectReason => record.reject_reason = optional(),
        }
    }
    ok && ends == 0 && start == line.len() + 1
}

/// An address field, `None` for `-`; `ok` is cleared when it is neither an address nor `-`.
#[inline(always)]
fn address(
    line: &[u8],
    view: View<'_>,
    (start, end): (usize, usize),
    ok: &mut bool,
) -> Option<IpAddr> {
    let (v4, valid) = ipv4(view, start, end);
    if valid {
        return Some(IpAddr::V4(v4));
    }
    // `-`, IPv6, or not an address.
    match line.get(start..end).and_then(super::address) {
        Some(address) => address,
        None => {
            *ok = false;
            None
        }
    }
}

/// A number field of up to 16 digits and at most `max`, `None` for `-`; `ok` is cleared when
/// it is neither (longer numbers are left to the general path).
#[inline(always)]
fn number(view: View<'_>, (start, end): (usize, usize), max: u64, ok: &mut bool) -> Option<u64> {
    let len = end.wrapping_sub(start);
    let (value, digits) = if len <= 8 {
        eight_digits(view.word(start), len)
    } else {
        let (high, high_ok) = eight_digits(view.word(start), (len - 8).min(8));
        let (low, low_ok) = eight_digits(view.word(end - 8), 8);
        (
            high.wrapping_mul(100_000_000).wrapping_add(low),
            high_ok & low_ok & (len <= 16),
        )
    };
    let dash = (len == 1) & (view.byte(start) == b'-');
    *ok &= (digits & (value <= max)) | dash;
    (!dash).then_some(value)
}

/// The number the first `len` (1 to 8) bytes of `word` spell, and whether they are all digits
/// (when they are not, the number means nothing).
#[inline(always)]
fn eight_digits(word: u64, len: usize) -> (u64, bool) {
    // Digits become 0 to 9; shifting out the bytes past `len` leaves leading zeros in front.
    let digits = (word ^ ZEROS) << ((64 - 8 * len) % 64);
    // Adding 0x76 sets the high bit of a byte above 9 (bytes above 0x89 have it already).
    let all_digits = (1..=8).contains(&len)
        & ((digits.wrapping_add(0x7676_7676_7676_7676) | digits) & HIGH == 0);
    // Join neighbouring digits into two-digit numbers, those into four, then eight.
    let pairs = (digits.wrapping_mul(10).wrapping_add(digits >> 8)) & 0x00ff_00ff_00ff_00ff;
    let quads = (pairs.wrapping_mul(100).wrapping_add(pairs >> 16)) & 0x0000_ffff_0000_ffff;
    let value = (quads.wrapping_mul(10_000).wrapping_add(quads >> 32)) & 0xffff_ffff;
    (value, all_digits)
}

/// The dotted quad spanning `start..end`, and whether it is one: the bytes that are not digits
/// give the dots, and each octet is read from its own word, so that the four do not wait for
/// one another.
#[inline(always)]
fn ipv4(view: View<'_>, start: usize, end: usize) -> (Ipv4Addr, bool) {
    let len = end.wrapping_sub(start);
    let stops = non_digits(view.word(start)) | non_digits(view.word(start + 8)) << 8;
    let first = stops.trailing_zeros() as usize;
    let rest = stops & stops.wrapping_sub(1);
    let second = rest.trailing_zeros() as usize;
    let rest = rest & rest.wrapping_sub(1);
    let third = rest.trailing_zeros() as usize;
    let rest = rest & rest.wrapping_sub(1);
    // Three dots, and the fourth byte that is not a digit just past the address.
    let dots = (view.byte(start + first) == b'.')
        & (view.byte(start + second) == b'.')
        & (view.byte(start + third) == b'.')
        & (rest.trailing_zeros() as usize == len);
    let a = octet(view, start, first);
    let b = octet(view, start + first + 1, second.wrapping_sub(first + 1));
    let c = octet(view, start + second + 1, third.wrapping_sub(second + 1));
    let d = octet(view, start + third + 1, len.wrapping_sub(third + 1));
    let address = Ipv4Addr::new(a as u8, b as u8, c as u8, d as u8);
    (address, dots & ((a | b | c | d) <= 255))
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
fn octet(view: View<'_>, at: usize, count: usize) -> u32 {
    let digits = (view.word(at) ^ ZEROS) as u32 & 0xff_ffff;
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

    /// `line` followed by spaces, as a view; the tests keep lines short.
    fn padded(line: &[u8]) -> [u8; VIEW] {
        let mut padded = [b' '; VIEW];
        padded[..line.len()].copy_from_slice(line);
        padded
    }

    /// What the fast path reads from `line` through `window`.
    fn fast<'a>(line: &'a [u8], window: &[u8], format: &Format) -> Option<Record<'a>> {
        let mut record = Record::EMPTY;
        parse(line, window, format, &mut record).then_some(record)
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
    fn classify_marks_spaces_and_the_bytes_no_record_has_at_every_position() {
        for byte in 0..=255u8 {
            for at in [0, 7, 15, 16, 63, 64, 100, 127] {
                let mut view = [b'a'; VIEW];
                view[at] = byte;
                view[LIMIT] = 0;
                let (spaces, odd) = View(&view).classify();
                let space = byte == b' ';
                let unfit = !(b' '..0x7f).contains(&byte);
                assert_eq!(spaces, u128::from(space) << at, "{byte:#04x} at {at}");
                assert_eq!(odd, u128::from(unfit) << at, "{byte:#04x} at {at}");
            }
        }
    }

    #[test]
    fn octets_are_one_to_three_digits_up_to_255() {
        let read = |text: &[u8], count: usize| octet(View(&padded(text)), 0, count);
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
        let eight_digits = |word: u64, len: usize| {
            let (value, all_digits) = eight_digits(word, len);
            all_digits.then_some(value)
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
        let field = |text: &[u8], max: u64| {
            let mut ok = true;
            let value = number(View(&padded(text)), (0, text.len()), max, &mut ok);
            ok.then_some(value)
        };
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
        assert_eq!(field(b"", 1), None);
    }

    #[test]
    fn ipv4_takes_dotted_quads_only() {
        let read = |text: &[u8]| {
            let (address, valid) = ipv4(View(&padded(text)), 0, text.len());
            valid.then_some(address)
        };
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
    fn ends_need_the_fields_one_space_apart_and_the_count_the_formats() {
        let format = Format::parse("srcaddr dstaddr srcport", Origin::Option).unwrap();
        let ends_of = |line: &[u8]| ends(line.len(), View(&padded(line)));
        assert_eq!(
            ends_of(b"1.2.3.4 5.6.7.8 22"),
            Some(1 << 7 | 1 << 15 | 1 << 18)
        );
        let line = b"1.2.3.4 5.6.7.8 22";
        let record = fast(line, &padded(line), &format).unwrap();
        assert_eq!(record.src, Some(IpAddr::from([1, 2, 3, 4])));
        assert_eq!(record.dst, Some(IpAddr::from([5, 6, 7, 8])));
        assert_eq!(record.src_port, Some(22));
        for bad in [
            &b"1.2.3.4  5.6.7.8 22"[..],
            b"1.2.3.4 5.6.7.8 22 ",
            b" 1.2.3.4 5.6.7.8 22",
            b"1.2.3.4\t5.6.7.8 22",
            b"1.2.3.4 5.6\x017.8 22",
        ] {
            assert_eq!(ends_of(bad), None, "{}", String::from_utf8_lossy(bad));
        }
        for count in [&b"1.2.3.4 5.6.7.8"[..], b"1.2.3.4 5.6.7.8 22 x"] {
            assert!(ends_of(count).is_some());
            assert_eq!(
                fast(count, &padded(count), &format),
                None,
                "{}",
                String::from_utf8_lossy(count)
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
            // In place, with digits, spaces or anything after the line, or copied.
            let stripped = super::super::strip_timestamp(&line);
            let mut window = stripped.to_vec();
            let after = b"0123456789 .\n\r-"[(next() % 15) as usize];
            let mut filler = || match next() % 2 {
                0 => after,
                _ => next() as u8,
            };
            window.extend((0..VIEW).map(|_| filler()));
            for format in &formats {
                for window in [&window[..], stripped] {
                    if let Some(record) = fast(stripped, window, format) {
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
        }
        // Most lines are still regular after a few mutations.
        assert!(taken > 20_000, "{taken}");
    }
}
