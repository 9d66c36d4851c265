//! Where flow-log bytes come from: files, directories (recursively) and stdin; plain or gzip
//! (told by content), Parquet turned into text; the S3 delivery layout read from a path;
//! and the stream cut into lines without copying each one.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use flate2::bufread::MultiGzDecoder;

use crate::exit::UsageError;
use crate::flowlogs::parquet::{self, ParquetText};

/// The longest line taken as a record; anything longer is a bad line.
pub const MAX_LINE: usize = 64 * 1024;

/// The UTF-8 byte order mark some editors and exports put before the first line.
pub const BOM: &[u8] = b"\xef\xbb\xbf";

/// Size of the read buffer lines are cut from.
const CHUNK: usize = 1024 * 1024;

/// Bytes readable after the end of every line that [`lines`] hands over (see [`Line`]).
pub const SLACK: usize = 192;

/// One input: a file or stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Standard input (`-`).
    Stdin,
    /// A file, named or found in a directory.
    File(PathBuf),
}

impl Source {
    /// The name shown in the report.
    pub fn display(&self) -> String {
        match self {
            Source::Stdin => "-".to_string(),
            Source::File(path) => path.display().to_string(),
        }
    }

    /// The file's size in bytes, when known, for the progress bar.
    pub fn size(&self) -> Option<u64> {
        match self {
            Source::Stdin => None,
            Source::File(path) => std::fs::metadata(path).ok().map(|meta| meta.len()),
        }
    }
}

/// The inputs named on the command line, directories expanded in name order; a file named
/// twice (or named and also found in a directory given) is read once.
pub fn collect(paths: &[PathBuf]) -> anyhow::Result<Vec<Source>> {
    let mut seen = std::collections::HashSet::new();
    let sources = named(paths)?
        .into_iter()
        .filter(|source| match source {
            Source::Stdin => true,
            Source::File(path) => seen.insert(std::fs::canonicalize(path).unwrap_or(path.clone())),
        })
        .collect();
    Ok(sources)
}

/// The inputs as named, directories expanded.
fn named(paths: &[PathBuf]) -> anyhow::Result<Vec<Source>> {
    let mut sources = Vec::new();
    let mut stdin_seen = false;
    for path in paths {
        if path.as_os_str() == "-" {
            if !stdin_seen {
                sources.push(Source::Stdin);
            }
            stdin_seen = true;
            continue;
        }

        let meta = std::fs::metadata(path)
            .map_err(|err| UsageError::new(format!("{}: {err}", path.display())))?;
        if meta.is_dir() {
            walk(path, &mut sources)?;
        } else {
            sources.push(Source::File(path.clone()));
        }
    }
    Ok(sources)
}

/// Adds the files under `dir`, skipping hidden entries, in name order.
fn walk(dir: &Path, sources: &mut Vec<Source>) -> anyhow::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading directory {}", dir.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            !path
                .file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with('.'))
        })
        .collect();
    entries.sort();

    for path in entries {
        // A symbolic link to a directory is not followed: a link back up would loop, and the
        // S3 delivery layout has none.
        let linked_dir = path.is_symlink() && path.is_dir();
        if path.is_dir() && !linked_dir {
            walk(&path, sources)?;
        } else if path.is_file() {
            sources.push(Source::File(path));
        }
    }
    Ok(())
}

/// What the first bytes of an input say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Text as it is.
    Plain,
    /// gzip, one or more members.
    Gzip,
    /// Apache Parquet (`PAR1`), the other S3 delivery format, decoded into text.
    Parquet,
}

/// An opened input: its encoding and a reader of the decoded bytes.
pub struct Opened {
    /// What the content was.
    pub encoding: Encoding,
    /// The decoded bytes.
    pub reader: Box<dyn Read + Send>,
}

/// Opens an input and tells its encoding by its first bytes; `counter` adds up raw bytes read.
pub fn open(source: &Source, counter: Arc<AtomicU64>) -> io::Result<Opened> {
    let (raw, size): (Box<dyn Read + Send>, _) = match source {
        Source::Stdin => (Box::new(io::stdin()), None),
        Source::File(path) => {
            let file = File::open(path)?;
            let size = file.metadata().ok().map(|meta| meta.len());
            (Box::new(file), size)
        }
    };
    decode_sized(raw, counter, size)
}

/// Tells the encoding of `raw` by its first bytes and decodes it; `counter` adds up raw bytes.
/// A Parquet file inside gzip is read as Parquet.
pub fn decode(raw: Box<dyn Read + Send>, counter: Arc<AtomicU64>) -> io::Result<Opened> {
    decode_sized(raw, counter, None)
}

/// [`decode`] of an input of `size` bytes, when known: a Parquet file too large to hold is
/// refused before it is read.
fn decode_sized(
    raw: Box<dyn Read + Send>,
    counter: Arc<AtomicU64>,
    size: Option<u64>,
) -> io::Result<Opened> {
    let mut buffered = BufReader::with_capacity(
        256 * 1024,
        Counting {
            inner: raw,
            counter,
        },
    );

    let encoding = match buffered.fill_buf()? {
        [0x1f, 0x8b, ..] => Encoding::Gzip,
        [b'P', b'A', b'R', b'1', ..] => Encoding::Parquet,
        _ => Encoding::Plain,
    };
    let reader: Box<dyn Read + Send> = match encoding {
        Encoding::Gzip => {
            let mut text = BufReader::with_capacity(64 * 1024, MultiGzDecoder::new(buffered));
            // A stream damaged before its first bytes is left to the reading, which says so.
            if text.fill_buf().is_ok_and(|head| head.starts_with(PAR1)) {
                return Ok(Opened {
                    encoding: Encoding::Parquet,
                    reader: Box::new(parquet_text(text, parquet::STREAM_MAX_BYTES)?),
                });
            }
            Box::new(text)
        }
        Encoding::Parquet => match size {
            Some(size) if size > parquet::MAX_BYTES => return Err(too_large(parquet::MAX_BYTES)),
            Some(_) => Box::new(parquet_text(buffered, parquet::MAX_BYTES)?),
            None => Box::new(parquet_text(buffered, parquet::STREAM_MAX_BYTES)?),
        },
        Encoding::Plain => Box::new(buffered),
    };
    Ok(Opened { encoding, reader })
}

/// The first bytes of a Parquet file.
const PAR1: &[u8] = b"PAR1";

fn too_large(limit: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "a Parquet input larger than {} MiB is not read{}",
            limit >> 20,
            if limit < parquet::MAX_BYTES {
                " from a stream (stdin, or inside gzip)"
            } else {
                ""
            }
        ),
    )
}

/// A Parquet input as flow-log text, read into memory whole first (its index is at its end);
/// more than `limit` bytes are refused.
fn parquet_text(input: impl Read, limit: u64) -> io::Result<ParquetText> {
    let mut data = Vec::new();
    input.take(limit + 1).read_to_end(&mut data)?;
    if data.len() as u64 > limit {
        return Err(too_large(limit));
    }
    ParquetText::new(data.into())
}

/// Opens the bytes in `range` of the plain file `path`; `counter` adds up the bytes read.
pub fn open_range(
    path: &Path,
    range: std::ops::Range<u64>,
    counter: Arc<AtomicU64>,
) -> io::Result<Box<dyn Read + Send>> {
    let mut file = File::open(path)?;
    file.seek(io::SeekFrom::Start(range.start))?;
    let inner: Box<dyn Read + Send> = Box::new(file.take(range.end.saturating_sub(range.start)));
    Ok(Box::new(Counting { inner, counter }))
}

/// Size of the blocks a read-ahead thread hands over.
const BLOCK: usize = 1024 * 1024;

/// Blocks decoded but not yet taken, per read-ahead thread.
const BLOCKS_AHEAD: usize = 2;

/// A reader whose input is read on a thread of its own, a few blocks ahead, so that
/// decompressing and parsing one gzip input run on two cores.
pub struct ReadAhead {
    blocks: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    current: Vec<u8>,
    at: usize,
}

impl ReadAhead {
    /// Starts reading `inner` ahead; `inner` itself when no thread can be started.
    pub fn spawn(inner: Box<dyn Read + Send>) -> Box<dyn Read + Send> {
        let (sender, blocks) = std::sync::mpsc::sync_channel(BLOCKS_AHEAD);
        let ours = Arc::new(std::sync::Mutex::new(Some(inner)));
        let theirs = Arc::clone(&ours);
        let started = std::thread::Builder::new()
            .name("flowlogs-read-ahead".into())
            .spawn(move || {
                let reader = theirs.lock().ok().and_then(|mut reader| reader.take());
                if let Some(reader) = reader {
                    read_blocks(reader, &sender);
                }
            });
        let fallback = match started {
            Ok(_) => None,
            // The thread never ran: the reader is still ours.
            Err(err) => {
                tracing::debug!(%err, "no read-ahead thread");
                ours.lock().ok().and_then(|mut reader| reader.take())
            }
        };
        match fallback {
            Some(reader) => reader,
            None => Box::new(ReadAhead {
                blocks,
                current: Vec::new(),
                at: 0,
            }),
        }
    }
}

/// Sends the blocks of `reader` until it ends, fails, or nobody takes them any more. The bytes
/// read before a failure are sent before the failure.
fn read_blocks(
    mut reader: Box<dyn Read + Send>,
    sender: &std::sync::mpsc::SyncSender<io::Result<Vec<u8>>>,
) {
    loop {
        let mut block = vec![0u8; BLOCK];
        let mut filled = 0;
        let mut failure = None;
        while filled < BLOCK {
            match reader.read(&mut block[filled..]) {
                Ok(0) => break,
                Ok(read) => filled += read,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => {
                    failure = Some(err);
                    break;
                }
            }
        }
        let ended = filled < BLOCK;
        block.truncate(filled);
        if filled > 0 && sender.send(Ok(block)).is_err() {
            return;
        }
        if let Some(err) = failure {
            let _ = sender.send(Err(err));
            return;
        }
        if ended {
            return;
        }
    }
}

impl Read for ReadAhead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.at == self.current.len() {
            match self.blocks.recv() {
                Ok(Ok(block)) => {
                    self.current = block;
                    self.at = 0;
                }
                Ok(Err(err)) => return Err(err),
                Err(_) => return Ok(0),
            }
        }
        let taken = buf.len().min(self.current.len() - self.at);
        buf[..taken].copy_from_slice(&self.current[self.at..self.at + taken]);
        self.at += taken;
        Ok(taken)
    }
}

/// A reader that adds the bytes it reads to a shared counter.
struct Counting {
    inner: Box<dyn Read + Send>,
    counter: Arc<AtomicU64>,
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.counter.fetch_add(read as u64, Ordering::Relaxed);
        Ok(read)
    }
}

/// A piece of input handed to the line callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// A complete line.
    Line(Line<'a>),
    /// A line longer than `MAX_LINE`, skipped.
    TooLong,
}

/// One line of input, and the read buffer from its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    /// The line without its `\n` or `\r\n`.
    pub text: &'a [u8],
    /// The line followed by at least [`SLACK`] more bytes of the buffer (its line ending, the
    /// lines after it, or bytes left from earlier reads), so that a parser may read the line
    /// a word at a time without copying it.
    pub window: &'a [u8],
}

impl<'a> Line<'a> {
    /// The line from byte `at` on, its window with it.
    pub fn from(self, at: usize) -> Line<'a> {
        let at = at.min(self.text.len());
        Line {
            text: &self.text[at..],
            window: &self.window[at..],
        }
    }
}

/// How reading the lines ended.
#[derive(Debug)]
pub enum Ending {
    /// The input ended normally.
    Done,
    /// The callback asked to stop.
    Stopped,
    /// Reading failed after `lines` lines; a partial line may have been lost.
    Failed {
        /// The read error.
        error: io::Error,
        /// Bytes of an unfinished line when it failed.
        partial: usize,
    },
}

/// Calls `each` for every line of `reader`, numbered from 1; `each` returns false to stop.
/// Lines are cut from a buffer of `CHUNK` bytes followed by [`SLACK`] bytes that reads never
/// fill, which every line's window reaches into.
pub fn lines(mut reader: impl Read, mut each: impl FnMut(u64, Piece<'_>) -> bool) -> Ending {
    let mut buffer = vec![0u8; CHUNK + SLACK];
    let mut filled = 0;
    let mut number = 0u64;
    let mut skipping = false;

    loop {
        if filled == CHUNK {
            // The buffer holds one unfinished line longer than any record: skip to its end.
            if !skipping {
                number += 1;
                if !each(number, Piece::TooLong) {
                    return Ending::Stopped;
                }
            }
            skipping = true;
            filled = 0;
        }

        let read = match reader.read(&mut buffer[filled..CHUNK]) {
            Ok(0) => break,
            Ok(read) => read,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => {
                return Ending::Failed {
                    error,
                    partial: filled,
                };
            }
        };

        let end = filled + read;
        let mut start = 0;
        for newline in Newlines::new(&buffer[filled..end]) {
            let at = filled + newline;
            if skipping {
                skipping = false;
            } else {
                number += 1;
                if !each(number, piece(&buffer, start..at)) {
                    return Ending::Stopped;
                }
            }
            start = at + 1;
        }

        buffer.copy_within(start..end, 0);
        filled = end - start;
    }

    if filled > 0 && !skipping {
        number += 1;
        if !each(number, piece(&buffer, 0..filled)) {
            return Ending::Stopped;
        }
    }
    Ending::Done
}

/// The line at `range` of `buffer`, its `\r` taken off, or `TooLong`.
#[inline]
fn piece(buffer: &[u8], range: std::ops::Range<usize>) -> Piece<'_> {
    let window = &buffer[range.start..];
    let text = &buffer[range];
    let text = text.strip_suffix(b"\r").unwrap_or(text);
    if text.len() > MAX_LINE {
        Piece::TooLong
    } else {
        Piece::Line(Line { text, window })
    }
}

/// The positions of the newlines in a buffer, found sixteen bytes to a compare (SSE2 on
/// x86-64, NEON on aarch64) and handed out from a 64-bit mask per 64 bytes.
struct Newlines<'a> {
    bytes: &'a [u8],
    /// Where the block of `mask` starts.
    base: usize,
    /// The newlines of the block not yet handed out, one bit per byte.
    mask: u64,
}

/// Bytes per block of [`Newlines`].
const NEWLINE_BLOCK: usize = 64;

impl<'a> Newlines<'a> {
    fn new(bytes: &'a [u8]) -> Newlines<'a> {
        let mut newlines = Newlines {
            bytes,
            base: 0,
            mask: 0,
        };
        newlines.mask = newlines.block_mask();
        newlines
    }

    /// The newlines of the block at `base`, past the end of the bytes none.
    #[inline]
    fn block_mask(&self) -> u64 {
        let rest = &self.bytes[self.base.min(self.bytes.len())..];
        match rest.first_chunk::<NEWLINE_BLOCK>() {
            Some(block) => newline_mask(block),
            None => {
                let mut block = [0u8; NEWLINE_BLOCK];
                block[..rest.len()].copy_from_slice(rest);
                newline_mask(&block)
            }
        }
    }
}

impl Iterator for Newlines<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.mask == 0 {
            self.base += NEWLINE_BLOCK;
            if self.base >= self.bytes.len() {
                return None;
            }
            self.mask = self.block_mask();
        }
        let at = self.base + self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        Some(at)
    }
}

/// One bit per byte of `block`, set for its newlines.
#[inline(always)]
fn newline_mask(block: &[u8; NEWLINE_BLOCK]) -> u64 {
    let (quarters, _) = block.as_chunks::<16>();
    quarters
        .iter()
        .enumerate()
        .fold(0, |mask, (index, quarter)| {
            let bytes = wide::u8x16::new(*quarter);
            let found = bytes.simd_eq(wide::u8x16::splat(b'\n'));
            mask | u64::from(found.to_bitmask()) << (16 * index)
        })
}

/// What the S3 delivery path of a file says: account, region and day (and hour).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Layout {
    /// The account that owns the flow log.
    pub account: String,
    /// The region of the flow log.
    pub region: String,
    /// The day, `YYYY-MM-DD`.
    pub date: String,
    /// The hour, `HH`, for hourly partitions.
    pub hour: Option<String>,
    /// True for the Hive-compatible layout (`aws-region=...`).
    pub hive: bool,
}

/// Reads `AWSLogs/ACCOUNT/vpcflowlogs/REGION/YYYY/MM/DD[/HH]/...` or its Hive-style form
/// `AWSLogs/aws-account-id=ACCOUNT/aws-service=vpcflowlogs/aws-region=REGION/year=YYYY/...`.
pub fn layout(path: &Path) -> Option<Layout> {
    let parts: Vec<String> = path
        .components()
        .map(|part| part.as_os_str().to_string_lossy().into_owned())
        .collect();
    let root = parts.iter().rposition(|part| part == "AWSLogs")?;
    let rest = &parts[root + 1..];

    let hive = rest
        .first()
        .is_some_and(|part| part.starts_with("aws-account-id="));
    let value = |index: usize, key: &str| -> Option<String> {
        let part = rest.get(index)?;
        if hive {
            part.strip_prefix(key)?
                .strip_prefix('=')
                .map(str::to_string)
        } else {
            Some(part.clone())
        }
    };

    let account = value(0, "aws-account-id")?;
    let service = value(1, "aws-service")?;
    if service != "vpcflowlogs" {
        return None;
    }
    let region = value(2, "aws-region")?;
    let (year, month, day) = (value(3, "year")?, value(4, "month")?, value(5, "day")?);
    let digits =
        |text: &str, len: usize| text.len() == len && text.bytes().all(|b| b.is_ascii_digit());
    if !digits(&year, 4) || !digits(&month, 2) || !digits(&day, 2) {
        return None;
    }
    let hour = value(6, "hour").filter(|hour| digits(hour, 2) && rest.len() > 7);

    Some(Layout {
        account,
        region,
        date: format!("{year}-{month}-{day}"),
        hour,
        hive,
    })
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    use super::*;

    fn collect_lines(bytes: &[u8]) -> Vec<String> {
        let mut seen = Vec::new();
        let ending = lines(bytes, |number, piece| {
            seen.push(match piece {
                Piece::Line(line) => format!("{number}:{}", String::from_utf8_lossy(line.text)),
                Piece::TooLong => format!("{number}:too long"),
            });
            true
        });
        assert!(matches!(ending, Ending::Done));
        seen
    }

    #[test]
    fn lines_are_numbered_with_crlf_and_no_final_newline() {
        assert_eq!(collect_lines(b"a\r\nb\n\nc"), ["1:a", "2:b", "3:", "4:c"]);
        assert!(collect_lines(b"").is_empty());
    }

    #[test]
    fn newlines_are_found_at_every_position_of_a_block_and_past_it() {
        let mut next = crate::flowlogs::record::tests::xorshift(0x6e6c);
        for len in (0..200).chain([1023, 1024, 1025]) {
            let bytes: Vec<u8> = (0..len)
                .map(|_| match next() % 5 {
                    0 => b'\n',
                    1 => b'\r',
                    2 => 0x8a,
                    _ => b'a' + (next() % 26) as u8,
                })
                .collect();
            let expected: Vec<usize> = memchr::memchr_iter(b'\n', &bytes).collect();
            assert_eq!(
                Newlines::new(&bytes).collect::<Vec<_>>(),
                expected,
                "length {len}"
            );
        }
    }

    #[test]
    fn every_line_has_its_window_of_slack_bytes() {
        let mut text = Vec::new();
        for len in 0..300 {
            text.extend(std::iter::repeat_n(b'x', len));
            text.extend(if len % 2 == 0 { &b"\n"[..] } else { b"\r\n" });
        }
        let mut seen = 0;
        lines(&text[..], |_, piece| {
            let Piece::Line(line) = piece else {
                panic!("no line is too long here");
            };
            assert_eq!(line.text, &line.window[..line.text.len()]);
            assert!(line.window.len() >= line.text.len() + SLACK);
            seen += 1;
            true
        });
        assert_eq!(seen, 300);
    }

    #[test]
    fn overlong_lines_are_reported_once_and_skipped() {
        let mut bytes = b"first\n".to_vec();
        bytes.extend(std::iter::repeat_n(b'x', CHUNK * 2 + 10));
        bytes.extend(b"\nlast\n");
        assert_eq!(collect_lines(&bytes), ["1:first", "2:too long", "3:last"]);

        let mut medium = vec![b'y'; MAX_LINE + 1];
        medium.push(b'\n');
        assert_eq!(collect_lines(&medium), ["1:too long"]);
    }

    #[test]
    fn gzip_is_told_by_content_and_multi_member_streams_are_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no-suffix");
        let mut bytes = Vec::new();
        for part in ["one\n", "two\n"] {
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), Default::default());
            encoder.write_all(part.as_bytes()).unwrap();
            bytes.extend(encoder.finish().unwrap());
        }
        std::fs::write(&path, &bytes).unwrap();

        let counter = Arc::new(AtomicU64::new(0));
        let mut opened = open(&Source::File(path), counter.clone()).unwrap();
        assert_eq!(opened.encoding, Encoding::Gzip);
        let mut text = String::new();
        opened.reader.read_to_string(&mut text).unwrap();
        assert_eq!(text, "one\ntwo\n");
        assert_eq!(counter.load(Ordering::Relaxed), bytes.len() as u64);
    }

    #[test]
    fn read_ahead_gives_every_byte_then_the_failure_after_them() {
        let bytes: Vec<u8> = (0..3 * BLOCK + 17).map(|n| (n % 251) as u8).collect();
        let mut copy = Vec::new();
        ReadAhead::spawn(Box::new(Cursor::new(bytes.clone())))
            .read_to_end(&mut copy)
            .unwrap();
        assert_eq!(copy, bytes);

        // A gzip stream cut short: the decoded lines come first, then the error.
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), Default::default());
        encoder.write_all(&b"a line\n".repeat(100_000)).unwrap();
        let mut gzip = encoder.finish().unwrap();
        gzip.truncate(gzip.len() / 2);
        let reader = MultiGzDecoder::new(BufReader::new(Cursor::new(gzip)));
        let mut lines = 0;
        let ending = super::lines(ReadAhead::spawn(Box::new(reader)), |_, _| {
            lines += 1;
            true
        });
        assert!(matches!(ending, Ending::Failed { .. }), "{ending:?}");
        assert!(lines > 1000, "{lines}");
    }

    #[test]
    fn parquet_is_told_by_content_and_a_damaged_one_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        std::fs::write(&path, b"PAR1\x15\x04rest").unwrap();
        let err = open(&Source::File(path), Arc::default()).err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().starts_with("Parquet: "), "{err}");
    }

    #[test]
    fn a_parquet_file_over_the_limit_is_refused_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.parquet");
        let file = File::create(&path).unwrap();
        (&file).write_all(b"PAR1").unwrap();
        // Sparse: no disk is used for the bytes never written.
        file.set_len(parquet::MAX_BYTES + 1).unwrap();
        let counter = Arc::new(AtomicU64::new(0));
        let err = open(&Source::File(path), counter.clone()).err().unwrap();
        assert!(err.to_string().contains("larger than 2048 MiB"), "{err}");
        assert!(counter.load(Ordering::Relaxed) <= 1 << 20);
    }

    #[test]
    fn a_parquet_stream_stops_being_read_at_its_limit() {
        let mut stream = b"PAR1".to_vec();
        stream.resize(5 << 20, 0);
        let counter = Arc::new(AtomicU64::new(0));
        let counted = Counting {
            inner: Box::new(io::Cursor::new(stream)),
            counter: counter.clone(),
        };
        let err = parquet_text(counted, 1 << 20).err().unwrap();
        assert_eq!(
            err.to_string(),
            "a Parquet input larger than 1 MiB is not read from a stream (stdin, or inside gzip)"
        );
        assert!(counter.load(Ordering::Relaxed) <= 2 << 20);
    }

    #[test]
    fn a_gzip_stream_damaged_before_its_first_bytes_is_still_gzip_and_its_error_kept() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"2 123456789012 eni-1 - - - - - - - 1 2 - NODATA\n")
            .unwrap();
        let mut cut = gz.finish().unwrap();
        cut.truncate(12);
        let mut opened = decode(Box::new(io::Cursor::new(cut)), Arc::default()).unwrap();
        assert_eq!(opened.encoding, Encoding::Gzip);
        assert!(opened.reader.read_to_end(&mut Vec::new()).is_err());
    }

    #[test]
    fn parquet_inside_gzip_is_read_as_parquet() {
        let data = parquet::tests::small_file(4);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        let wrapped = gz.finish().unwrap();
        let mut opened = decode(Box::new(io::Cursor::new(wrapped)), Arc::default()).unwrap();
        assert_eq!(opened.encoding, Encoding::Parquet);
        let mut text = String::new();
        opened.reader.read_to_string(&mut text).unwrap();
        assert_eq!(text, "bytes log-status\n0 OK\n1 -\n2 OK\n3 -\n");
    }

    #[test]
    fn s3_layouts_daily_hourly_and_hive() {
        let daily = layout(Path::new(
            "dl/AWSLogs/012345678901/vpcflowlogs/eu-west-1/2026/11/30/\
             012345678901_vpcflowlogs_eu-west-1_fl-1_20261130T0000Z_ab12.log.gz",
        ))
        .unwrap();
        assert_eq!(
            (
                daily.account.as_str(),
                daily.region.as_str(),
                daily.date.as_str()
            ),
            ("012345678901", "eu-west-1", "2026-11-30")
        );
        assert_eq!(daily.hour, None);

        let hourly = layout(Path::new(
            "AWSLogs/1/vpcflowlogs/us-east-1/2026/11/30/07/f.log.gz",
        ))
        .unwrap();
        assert_eq!(hourly.hour.as_deref(), Some("07"));

        let hive = layout(Path::new(
            "AWSLogs/aws-account-id=1/aws-service=vpcflowlogs/aws-region=ap-south-1/\
             year=2026/month=01/day=02/hour=23/f.log.gz",
        ))
        .unwrap();
        assert!(hive.hive);
        assert_eq!(
            (
                hive.region.as_str(),
                hive.date.as_str(),
                hive.hour.as_deref()
            ),
            ("ap-south-1", "2026-01-02", Some("23"))
        );

        assert_eq!(
            layout(Path::new("AWSLogs/1/elasticloadbalancing/x/2026/01/02/f")),
            None
        );
        assert_eq!(layout(Path::new("logs/f.log")), None);
    }

    #[test]
    fn directories_are_walked_in_order_skipping_hidden_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("b/c")).unwrap();
        for name in ["a.log", "b/c/d.log.gz", "b/.hidden", "b/a.log"] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        let sources = collect(&[dir.path().to_path_buf(), PathBuf::from("-")]).unwrap();
        let names: Vec<String> = sources
            .iter()
            .map(|source| match source {
                Source::File(path) => path.strip_prefix(dir.path()).unwrap().display().to_string(),
                Source::Stdin => "-".into(),
            })
            .collect();
        assert_eq!(names, ["a.log", "b/a.log", "b/c/d.log.gz", "-"]);

        let again = collect(&[
            dir.path().join("b/a.log"),
            dir.path().join("b/../b/a.log"),
            dir.path().join("b"),
        ])
        .unwrap();
        assert_eq!(again.len(), 2, "{again:?}");
        let missing = collect(&[dir.path().join("nope")]).unwrap_err();
        assert!(crate::exit::Status::of_error(&missing) == crate::exit::Status::Usage);
    }
}
