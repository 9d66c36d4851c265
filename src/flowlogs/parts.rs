//! Large plain files cut into parts at line boundaries, so that every core can read one file:
//! where the parts start, and the first line a part needs to know the file's format.

use std::fs::File;
use std::io::{self, Read};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::flowlogs::input::{BOM, MAX_LINE};

/// The size of a part when `--jobs` allows more than one worker: large enough that starting
/// one costs nothing measurable, small enough that the cores finish together.
pub const PART_BYTES: u64 = 8 << 20;

/// How far past a planned boundary a newline is looked for before the boundary is dropped.
const SEARCH: u64 = 4 << 20;

/// A plain file to be read in parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// The file's first line (without its newline), which may be the header.
    pub first_line: Vec<u8>,
    /// Byte ranges of whole lines, in order, covering the file.
    pub parts: Vec<Range<u64>>,
}

/// How `path` splits into parts of about `part_bytes`; `None` when it is better read whole:
/// smaller than two parts, compressed, or Parquet.
pub fn plan(path: &Path, part_bytes: u64) -> io::Result<Option<Split>> {
    let part_bytes = part_bytes.max(1);
    let mut file = File::open(path)?;
    let size = file.metadata()?.len();
    if size < part_bytes.saturating_mul(2) {
        return Ok(None);
    }

    let mut head = Vec::with_capacity(MAX_LINE + 2);
    (&mut file)
        .take(MAX_LINE as u64 + 2)
        .read_to_end(&mut head)?;
    if head.starts_with(&[0x1f, 0x8b]) || head.starts_with(b"PAR1") {
        return Ok(None);
    }
    let Some(first_line) = first_line(&head) else {
        return Ok(None);
    };

    let count = size.div_ceil(part_bytes);
    let mut starts = vec![0];
    for index in 1..count {
        let planned = size / count * index;
        if let Some(start) = line_start_after(&file, planned, size)?
            && start > *starts.last().unwrap_or(&0)
            && start < size
        {
            starts.push(start);
        }
    }
    let parts = starts
        .iter()
        .zip(starts.iter().skip(1).copied().chain([size]))
        .map(|(&start, end)| start..end)
        .collect();
    Ok(Some(Split {
        first_line: first_line.to_vec(),
        parts,
    }))
}

/// The first line of `head` that is not blank, which decides whether the file has a header
/// (a byte order mark taken off line 1 only, as a whole read does); empty when it is too long
/// to be one; `None` when `head` ends before that line does.
fn first_line(head: &[u8]) -> Option<&[u8]> {
    let mut rest = head;
    let mut first = true;
    loop {
        let Some(end) = memchr::memchr(b'\n', rest) else {
            return (rest.len() > MAX_LINE).then_some(&[]);
        };
        let line = rest[..end].strip_suffix(b"\r").unwrap_or(&rest[..end]);
        if line.len() > MAX_LINE {
            return Some(&[]);
        }
        let line = match first {
            true => line.strip_prefix(BOM).unwrap_or(line),
            false => line,
        };
        first = false;
        if !line.iter().all(u8::is_ascii_whitespace) {
            return Some(line);
        }
        rest = &rest[end + 1..];
    }
}

/// The offset just past the first newline at or after `offset - 1`, so that a line starting
/// exactly at `offset` starts the part; `None` when no newline is near.
fn line_start_after(file: &File, offset: u64, size: u64) -> io::Result<Option<u64>> {
    let mut buffer = vec![0u8; 64 * 1024];
    let mut at = offset.saturating_sub(1);
    let limit = offset.saturating_add(SEARCH).min(size);
    while at < limit {
        let read = file.read_at(&mut buffer, at)?;
        if read == 0 {
            break;
        }
        if let Some(newline) = memchr::memchr(b'\n', &buffer[..read]) {
            return Ok(Some(at + newline as u64 + 1));
        }
        at += read as u64;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(bytes: &[u8], part_bytes: u64) -> Option<Split> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flows.log");
        std::fs::write(&path, bytes).unwrap();
        plan(&path, part_bytes).unwrap()
    }

    #[test]
    fn parts_start_at_line_starts_and_cover_the_file() {
        let mut bytes = b"version srcaddr\r\n".to_vec();
        for n in 0..1000 {
            bytes.extend(format!("2 10.0.0.{}\n", n % 250).as_bytes());
        }
        let plan = split(&bytes, 1000).unwrap();
        assert_eq!(plan.first_line, b"version srcaddr");
        assert_eq!(plan.parts.first().unwrap().start, 0);
        assert_eq!(plan.parts.last().unwrap().end, bytes.len() as u64);
        assert!(plan.parts.len() >= 10, "{}", plan.parts.len());
        for pair in plan.parts.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
            assert_eq!(bytes[pair[1].start as usize - 1], b'\n');
        }
    }

    #[test]
    fn a_boundary_on_a_line_start_keeps_that_line() {
        // Lines of 10 bytes: the planned boundary 20 is a line start and must stay one.
        let bytes = b"123456789\n".repeat(4);
        let plan = split(&bytes, 20).unwrap();
        assert_eq!(plan.parts, [0..20, 20..40]);
    }

    #[test]
    fn small_compressed_and_newline_free_files_are_read_whole_or_once() {
        assert_eq!(split(b"short\n", 1000), None);
        let mut gzip = vec![0x1f, 0x8b];
        gzip.extend([0u8; 5000]);
        assert_eq!(split(&gzip, 1000), None);
        let mut parquet = b"PAR1".to_vec();
        parquet.extend([0u8; 5000]);
        assert_eq!(split(&parquet, 1000), None);

        // One line, too long to be a record: one part, no header.
        let plan = split(&vec![b'x'; MAX_LINE + 5000], 1000).unwrap();
        assert_eq!((plan.parts.len(), plan.first_line.len()), (1, 0));
    }

    #[test]
    fn a_byte_order_mark_counts_on_line_one_only() {
        let records = b"2 10.0.0.1\n".repeat(500);
        let on_one = [&b"\xef\xbb\xbfversion srcaddr\n"[..], &records].concat();
        assert_eq!(split(&on_one, 1000).unwrap().first_line, b"version srcaddr");
        let later = [&b"\n\xef\xbb\xbfversion srcaddr\n"[..], &records].concat();
        assert_eq!(
            split(&later, 1000).unwrap().first_line,
            b"\xef\xbb\xbfversion srcaddr"
        );
    }

    #[test]
    fn the_first_line_is_the_first_not_blank_and_never_an_overlong_one() {
        let mut bytes = b"\n \r\n\t\nversion srcaddr\n".to_vec();
        bytes.extend(b"2 10.0.0.1\n".repeat(500));
        assert_eq!(split(&bytes, 1000).unwrap().first_line, b"version srcaddr");

        let mut long = vec![b'x'; MAX_LINE + 1];
        long.extend(b"\r\nversion srcaddr\n");
        long.extend(b"2 10.0.0.1\n".repeat(20_000));
        assert!(split(&long, 50_000).unwrap().first_line.is_empty());

        // Blank lines past the first 64 KiB: read whole, as nothing says what the header is.
        let mut blank = vec![b'\n'; MAX_LINE + 10];
        blank.extend(b"version srcaddr\n".repeat(100));
        assert_eq!(split(&blank, 1000), None);
    }
}
