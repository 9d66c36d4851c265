//! Reading one input into a tally: the format from the header line, `--fields` or the default;
//! bad lines counted with the first few shown; problems with the whole file recorded.

use std::borrow::Cow;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use serde::Serialize;

use crate::exit::UsageError;
use crate::flowlogs::analysis::Tally;
use crate::flowlogs::format::{self, Format, Origin};
use crate::flowlogs::input::{self, Encoding, Ending, Layout, Piece, Source};
use crate::flowlogs::record::{self, BadLine, LogStatus, Record};
use crate::flowlogs::table;

/// How many bad lines of a file are shown by number.
pub const BAD_LINES_SHOWN: usize = 5;

/// What reading one input found, as the report's `files[]` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FileReport {
    /// The path as given or found (`-` for stdin).
    pub path: String,
    /// `plain`, `gzip` or `parquet`; absent when the file could not be opened.
    pub encoding: Option<&'static str>,
    /// The record format: where it came from, version, field count.
    pub format: String,
    /// The field names in order.
    pub fields: Vec<String>,
    /// Names in the header that are not documented fields.
    pub unknown_fields: Vec<String>,
    /// What the S3 delivery path says, when it follows that layout.
    pub layout: Option<Layout>,
    /// Records read (NODATA and SKIPDATA included).
    pub records: u64,
    /// `NODATA` records.
    pub nodata: u64,
    /// `SKIPDATA` records.
    pub skipdata: u64,
    /// Lines that are not records.
    pub bad_lines: u64,
    /// Line numbers of the first few bad lines.
    pub first_bad_lines: Vec<u64>,
    /// Why each of those lines is bad, in the same order.
    pub first_bad_reasons: Vec<String>,
    /// A problem with the file as a whole (unreadable, truncated, Parquet, empty).
    pub error: Option<String>,
}

/// The options that shape reading.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// `--fields`: the format of files without a header.
    pub fields: Option<Format>,
    /// `--strict`: the first bad line is an error.
    pub strict: bool,
    /// `--region`: the log's region when records and path do not say.
    pub region: Option<String>,
    /// Plain files are read in parts of about this many bytes, several cores to a file.
    pub part_bytes: u64,
    /// Decompress gzip input on a thread of its own, for when cores would otherwise idle.
    pub read_ahead: bool,
}

impl Default for ScanOptions {
    fn default() -> ScanOptions {
        ScanOptions {
            fields: None,
            strict: false,
            region: None,
            part_bytes: crate::flowlogs::parts::PART_BYTES,
            read_ahead: false,
        }
    }
}

/// When a read ends early: an earlier input failed under `--strict`, or a file read in parts
/// is being read whole instead.
#[derive(Debug, Clone, Copy)]
pub struct Stop<'a> {
    /// The lowest index of an input that failed under `--strict` (`usize::MAX` for none).
    pub failed: &'a AtomicUsize,
    /// The index of the input being read.
    pub index: usize,
    /// Set when the file is read whole instead of in parts.
    pub abandoned: Option<&'a AtomicBool>,
}

/// No input has failed.
static NONE_FAILED: AtomicUsize = AtomicUsize::new(usize::MAX);

impl Stop<'_> {
    /// A read that only ends with its input.
    pub fn never() -> Stop<'static> {
        Stop {
            failed: &NONE_FAILED,
            index: 0,
            abandoned: None,
        }
    }

    /// True when the read should end now.
    #[inline]
    pub fn now(&self) -> bool {
        self.failed.load(Ordering::Relaxed) < self.index
            || self
                .abandoned
                .is_some_and(|flag| flag.load(Ordering::Relaxed))
    }
}

/// Reads `source` into `tally`. With `--strict`, the first bad line is an error; `stop` ends
/// the read early.
pub fn scan(
    source: &Source,
    options: &ScanOptions,
    tally: &mut Tally<'_>,
    counter: Arc<AtomicU64>,
    stop: Stop<'_>,
) -> anyhow::Result<FileReport> {
    scan_opened(source, input::open(source, counter), options, tally, stop)
}

/// Reads an input `source` already opened (or failed to open) into `tally`, as [`scan`] does.
pub fn scan_opened(
    source: &Source,
    opened: std::io::Result<input::Opened>,
    options: &ScanOptions,
    tally: &mut Tally<'_>,
    stop: Stop<'_>,
) -> anyhow::Result<FileReport> {
    let mut report = blank(source, options);
    let opened = match opened {
        Ok(opened) => opened,
        Err(err) if options.strict => {
            return Err(UsageError::new(format!(
                "{}: cannot read: {err} (--strict)",
                table::printable(&report.path)
            )));
        }
        Err(err) => {
            report.error = Some(format!("cannot read: {err}"));
            return Ok(unread(report));
        }
    };
    report.encoding = Some(match opened.encoding {
        Encoding::Plain => "plain",
        Encoding::Gzip => "gzip",
        Encoding::Parquet => "parquet",
    });
    let bytes = match opened.encoding {
        Encoding::Gzip if options.read_ahead => input::ReadAhead::spawn(opened.reader),
        _ => opened.reader,
    };

    let region = log_region(&report, options, tally);
    let mut reader = Reader::new(options);
    let ending = input::lines(bytes, |number, piece| {
        reader.last_line = number;
        if stop.now() {
            return false;
        }
        reader.piece(number, piece, tally, region, &mut report)
    });
    reader.finish(ending, &mut report);

    match reader.strict_error {
        Some((number, why)) => Err(UsageError::new(format!(
            "{}:{number}: {why} (--strict)",
            table::printable(&report.path)
        ))),
        None => Ok(report),
    }
}

/// What one part of a file read in parts found.
#[derive(Debug)]
pub enum PartOutcome {
    /// The part's lines were read; line numbers count from the part's start.
    Read(Box<PartReport>),
    /// A header line inside the file changed the format, so parts read after it cannot be
    /// trusted: the file has to be read from the start in one piece.
    FormatChanged,
}

/// One part of a file, as [`join`] puts them back together.
#[derive(Debug)]
pub struct PartReport {
    /// The part's tally of lines, with bad line numbers counted from the part's start.
    pub report: FileReport,
    /// Lines in the part.
    pub lines: u64,
    /// A read error and the part's line it came after.
    pub failed: Option<(u64, String)>,
}

/// Reads the lines in `range` of the plain file `path`, which starts with `first_line`, into
/// `tally`. The first part reports the format; a header that changes it ends the read.
pub fn scan_part(
    path: &Path,
    range: Range<u64>,
    first_line: &[u8],
    options: &ScanOptions,
    tally: &mut Tally<'_>,
    counter: Arc<AtomicU64>,
    stop: Stop<'_>,
) -> PartOutcome {
    let source = Source::File(path.to_path_buf());
    let mut report = blank(&source, options);
    report.encoding = Some("plain");
    let region = log_region(&report, options, tally);
    let at_start = range.start == 0;
    let reader = match input::open_range(path, range, counter) {
        Ok(reader) => reader,
        Err(err) => {
            report.error = Some(format!("cannot read: {err}"));
            return PartOutcome::Read(Box::new(PartReport {
                report,
                lines: 0,
                failed: None,
            }));
        }
    };

    let mut state = Reader::new(options);
    state.prime(first_line);
    state.locked = true;
    state.file_start = at_start;
    if at_start {
        state.headers = 0;
    }
    let ending = input::lines(reader, |number, piece| {
        state.last_line = number;
        if stop.now() {
            return false;
        }
        state.piece(number, piece, tally, region, &mut report)
    });
    if state.changed {
        return PartOutcome::FormatChanged;
    }

    let failed = match ending {
        input::Ending::Failed { error, partial } => {
            if partial > 0 {
                state.bad(state.last_line + 1, BadLine::Truncated, &mut report);
            }
            Some((state.last_line, error.to_string()))
        }
        input::Ending::Done | input::Ending::Stopped => None,
    };
    PartOutcome::Read(Box::new(PartReport {
        report,
        lines: state.last_line,
        failed,
    }))
}

/// Puts the parts of one file back together in order: counts added, bad line numbers counted
/// from the file's start, the first read error kept.
pub fn join(parts: Vec<PartReport>) -> FileReport {
    let mut parts = parts.into_iter();
    let Some(first) = parts.next() else {
        return FileReport::default();
    };
    let mut offset = first.lines;
    let mut failed = first.failed.clone();
    let mut joined = first.report;
    for part in parts {
        let report = part.report;
        joined.records += report.records;
        joined.nodata += report.nodata;
        joined.skipdata += report.skipdata;
        joined.bad_lines += report.bad_lines;
        let shown = report
            .first_bad_lines
            .into_iter()
            .zip(report.first_bad_reasons);
        for (line, reason) in shown {
            if joined.first_bad_lines.len() < BAD_LINES_SHOWN {
                joined.first_bad_lines.push(offset + line);
                joined.first_bad_reasons.push(reason);
            }
        }
        joined.error = joined.error.or(report.error);
        if failed.is_none() {
            failed = part.failed.map(|(line, error)| (offset + line, error));
        }
        offset += part.lines;
    }
    if let Some((line, error)) = failed {
        joined.error = Some(format!("reading stopped after line {line}: {error}"));
    }
    joined
}

/// The report of `source` before anything is read: the format `--fields` or the default gives.
fn blank(source: &Source, options: &ScanOptions) -> FileReport {
    let layout = match source {
        Source::File(path) => input::layout(path),
        Source::Stdin => None,
    };
    let (format, fields) = match &options.fields {
        Some(fields) => (fields.describe(), fields.names.clone()),
        None => {
            let default = Format::default_v2();
            (default.describe(), default.names)
        }
    };
    FileReport {
        path: source.display(),
        format,
        fields,
        layout,
        ..FileReport::default()
    }
}

/// The region records of this input belong to when they carry none.
fn log_region(report: &FileReport, options: &ScanOptions, tally: &mut Tally<'_>) -> Option<u32> {
    let region = options
        .region
        .as_deref()
        .or(report.layout.as_ref().map(|layout| layout.region.as_str()));
    tally.region_id(region)
}

/// A report for an input whose records were never read: no format to speak of.
fn unread(report: FileReport) -> FileReport {
    FileReport {
        format: "-".to_string(),
        fields: Vec::new(),
        ..report
    }
}

/// Added to a file's format when a later header changes it.
const OTHER_HEADERS: &str = " (and other headers)";

/// A reason cut to a length a report can show.
fn shortened(why: &str) -> String {
    const SHOWN: usize = 120;
    match why.char_indices().nth(SHOWN) {
        Some((end, _)) => format!("{}…", &why[..end]),
        None => why.to_string(),
    }
}

/// The state of reading one input.
struct Reader<'o> {
    format: Cow<'o, Format>,
    headers: u32,
    last_line: u64,
    strict_error: Option<(u64, String)>,
    strict: bool,
    /// Reading from the first line of the file, where a header may name unknown fields only.
    file_start: bool,
    /// A header that changes the format stops the read (a file read in parts).
    locked: bool,
    /// A header changed the format while `locked`.
    changed: bool,
}

impl<'o> Reader<'o> {
    fn new(options: &'o ScanOptions) -> Reader<'o> {
        Reader {
            format: match &options.fields {
                Some(fields) => Cow::Borrowed(fields),
                None => Cow::Owned(Format::default_v2()),
            },
            headers: 0,
            last_line: 0,
            strict_error: None,
            strict: options.strict,
            file_start: true,
            locked: false,
            changed: false,
        }
    }

    /// Takes the format the file's first line that is not blank sets (its byte order mark
    /// already taken off when it is line 1), as a part that starts later needs it.
    fn prime(&mut self, first_line: &[u8]) {
        let mut scratch = FileReport::default();
        if first_line.first().is_some_and(u8::is_ascii_lowercase) {
            self.header(1, first_line, &mut scratch);
        }
    }

    /// Handles one line; false stops the read.
    #[inline]
    fn piece(
        &mut self,
        number: u64,
        piece: Piece<'_>,
        tally: &mut Tally<'_>,
        region: Option<u32>,
        report: &mut FileReport,
    ) -> bool {
        let line = match piece {
            Piece::TooLong => return self.bad(number, BadLine::TooLong, report),
            Piece::Line(line) if number == 1 && self.file_start => {
                line.from(if line.text.starts_with(input::BOM) {
                    input::BOM.len()
                } else {
                    0
                })
            }
            Piece::Line(line) => line,
        };
        let text = line.text;
        if text.iter().all(u8::is_ascii_whitespace) {
            return true;
        }
        if text.first().is_some_and(u8::is_ascii_lowercase) && self.header(number, text, report) {
            return !self.changed;
        }

        let mut record = Record::EMPTY;
        match record::parse_line(line, &self.format, &mut record) {
            Ok(()) => {
                report.records += 1;
                match record.status {
                    LogStatus::NoData => report.nodata += 1,
                    LogStatus::SkipData => report.skipdata += 1,
                    LogStatus::Ok => {}
                }
                tally.add(&record, region);
                true
            }
            Err(why) => self.bad(number, why, report),
        }
    }

    /// Takes `line` as a header when it is one; true when it was.
    fn header(&mut self, number: u64, line: &[u8], report: &mut FileReport) -> bool {
        let mut tokens = line
            .split(|b| b.is_ascii_whitespace())
            .filter(|t| !t.is_empty());
        let first = tokens.next().unwrap_or_default();
        let names_only = format::looks_like_name(first) && tokens.all(format::looks_like_name);
        let first_line =
            self.file_start && report.records == 0 && report.bad_lines == 0 && self.headers == 0;
        if first == b"timestamp,message" {
            return true;
        }
        let header = format::is_field_name(first) || (first_line && names_only);
        if !header || record::is_binary(line) {
            return false;
        }

        let text = String::from_utf8_lossy(line);
        self.headers += 1;
        match Format::parse(&text, Origin::Header) {
            Ok(format) if self.locked && format != *self.format => self.changed = true,
            Ok(format) => {
                // A first header after records describes only the rest of the file.
                if self.headers == 1 && report.records == 0 {
                    report.format = format.describe();
                    report.fields = format.names.clone();
                    report.unknown_fields = format.unknown.clone();
                } else if format != *self.format && !report.format.ends_with(OTHER_HEADERS) {
                    report.format.push_str(OTHER_HEADERS);
                }
                self.format = Cow::Owned(format);
            }
            // Not a usable header: a bad line, and the lines after it keep the format they had.
            Err(err) => {
                let why = shortened(&err.to_string());
                self.bad(number, BadLine::Header(why), report);
            }
        }
        true
    }

    fn bad(&mut self, number: u64, why: BadLine, report: &mut FileReport) -> bool {
        report.bad_lines += 1;
        if report.first_bad_lines.len() < BAD_LINES_SHOWN {
            report.first_bad_lines.push(number);
            report.first_bad_reasons.push(why.to_string());
        }
        if self.strict {
            self.strict_error = Some((number, why.to_string()));
            return false;
        }
        true
    }

    /// Records how the input ended: a read failure, or nothing in it at all.
    fn finish(&mut self, ending: Ending, report: &mut FileReport) {
        match ending {
            Ending::Failed { error, partial } => {
                report.error = Some(format!(
                    "reading stopped after line {}: {error}",
                    self.last_line
                ));
                if partial > 0 && self.strict_error.is_none() {
                    self.bad(self.last_line + 1, BadLine::Truncated, report);
                }
                // Under --strict an input cut short is an error even where it ends on a line.
                if self.strict && self.strict_error.is_none() {
                    self.strict_error = Some((self.last_line + 1, format!("{error}")));
                }
            }
            Ending::Done if self.last_line == 0 => report.error = Some("empty".to_string()),
            Ending::Done | Ending::Stopped => {}
        }
    }
}
