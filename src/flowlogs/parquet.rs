//! Parquet delivery read as text: the column names become a header line (`account_id` as
//! `account-id`) and each row a record line, so that a Parquet file goes through the same
//! parser, checks and reports as a text one. Line 1 is the header, so row `n` is line `n + 1`.
//! Parquet keeps its index at the end of the file, so a Parquet input is held in memory whole.

use std::cell::Cell;
use std::fmt::Write as _;
use std::io::{self, Read};
use std::panic::AssertUnwindSafe;
use std::sync::Once;

use bytes::Bytes;
use parquet::basic::{ConvertedType, LogicalType, Type};
use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DataType, Int32Type, Int64Type};
use parquet::errors::ParquetError;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::reader::RowIter;
use parquet::record::{Field, Row};
use parquet::schema::types::ColumnDescriptor;

/// The largest Parquet file read; S3 delivers files of at most a few hundred MiB.
pub const MAX_BYTES: u64 = 2 << 30;

/// The largest Parquet input read from a stream whose size is not known before it is read
/// (stdin, or a file inside gzip), which is held in memory until it ends.
pub const STREAM_MAX_BYTES: u64 = 512 << 20;

/// Text produced per refill: enough rows to keep a line reader busy.
const BLOCK: usize = 256 * 1024;

/// Rows read from each column at a time on the column path.
const BATCH: usize = 1024;

/// The rows of a Parquet file as flow-log text, made as they are read.
pub struct ParquetText {
    rows: Rows,
    text: Vec<u8>,
    at: usize,
    /// Where reading the rows failed, handed on once the text before it is read.
    failure: Option<io::Error>,
    ended: bool,
}

/// How the rows are read.
enum Rows {
    /// Every column a plain integer, text or boolean (what flow logs hold): a batch of rows
    /// read from each column in turn, the values written straight into the text.
    Columns(Columns),
    /// Any other column type: row by row, each value as the library shows it.
    Records(RowIter<'static>),
}

impl ParquetText {
    /// Opens the Parquet file in `data`; an error when it is not one, or has nested columns.
    pub fn new(data: Bytes) -> io::Result<ParquetText> {
        let reader = guarded(|| SerializedFileReader::new(data))?;
        let mut header = String::new();
        for field in reader.metadata().file_metadata().schema().get_fields() {
            if field.is_group() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "not a flow-log Parquet file: column `{}` is nested",
                        field.name()
                    ),
                ));
            }
            if !header.is_empty() {
                header.push(' ');
            }
            // Flow-log field names are lower case; the header is read as the text one is.
            push_value(&mut header, &field.name().replace('_', "-").to_lowercase());
        }
        header.push('\n');
        let descriptors = reader.metadata().file_metadata().schema_descr().columns();
        let kinds: Option<Vec<Kind>> = descriptors.iter().map(|column| Kind::of(column)).collect();
        let rows = match kinds {
            Some(kinds) => Rows::Columns(Columns {
                file: reader,
                kinds,
                next_group: 0,
                columns: Vec::new(),
            }),
            None => Rows::Records(RowIter::from_file_into(Box::new(reader))),
        };
        Ok(ParquetText {
            rows,
            text: header.into_bytes(),
            at: 0,
            failure: None,
            ended: false,
        })
    }

    /// [`ParquetText::new`] reading row by row whatever the column types, to hold the column
    /// path to the same text.
    #[cfg(test)]
    fn row_by_row(data: Bytes) -> io::Result<ParquetText> {
        let mut text = ParquetText::new(data.clone())?;
        let reader = guarded(|| SerializedFileReader::new(data))?;
        text.rows = Rows::Records(RowIter::from_file_into(Box::new(reader)));
        Ok(text)
    }

    /// Makes the text of the next rows; false when there are none.
    fn refill(&mut self) -> bool {
        self.text.clear();
        self.at = 0;
        let mut line = String::new();
        while !self.ended && self.text.len() < BLOCK {
            let next = match &mut self.rows {
                Rows::Columns(columns) => guarded(|| columns.batch(&mut self.text)),
                Rows::Records(rows) => guarded(|| rows.next().transpose()).map(|row| {
                    row.map_or(0, |row| {
                        line.clear();
                        row_line(&row, &mut line);
                        self.text.extend_from_slice(line.as_bytes());
                        1
                    })
                }),
            };
            match next {
                Ok(0) => self.ended = true,
                Ok(_) => {}
                Err(err) => {
                    self.failure = Some(err);
                    self.ended = true;
                }
            }
        }
        !self.text.is_empty()
    }
}

impl Read for ParquetText {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.at == self.text.len() && !self.refill() {
            return match self.failure.take() {
                Some(err) => Err(err),
                None => Ok(0),
            };
        }
        let taken = buf.len().min(self.text.len() - self.at);
        buf[..taken].copy_from_slice(&self.text[self.at..self.at + taken]);
        self.at += taken;
        Ok(taken)
    }
}

/// A column the column path reads, and how its values are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    /// A signed integer of this many bits.
    Signed(u8),
    /// An unsigned integer of this many bits.
    Unsigned(u8),
    Text,
}

impl Kind {
    /// The kind of a flat column of a plain type; `None` for any other (dates, decimals,
    /// floating point, ...), which the row path writes as the library shows them.
    fn of(column: &ColumnDescriptor) -> Option<Kind> {
        if column.max_rep_level() > 0 {
            return None;
        }
        let logical = match column.logical_type_ref() {
            None | Some(LogicalType::String | LogicalType::Enum) => None,
            Some(LogicalType::Integer(int)) => Some((int.bit_width as u8, int.is_signed)),
            Some(_) => return None,
        };
        // A plain integer column of `width` bits, or as its logical type says.
        let integer = |width| match logical {
            Some((bits, false)) => Kind::Unsigned(bits),
            Some((bits, true)) => Kind::Signed(bits),
            None => Kind::Signed(width),
        };
        use ConvertedType as C;
        let kind = match (column.physical_type(), column.converted_type()) {
            (Type::BOOLEAN, C::NONE) => Kind::Bool,
            (Type::BYTE_ARRAY, C::NONE | C::UTF8 | C::ENUM) => Kind::Text,
            (Type::INT32, C::INT_8) => Kind::Signed(8),
            (Type::INT32, C::INT_16) => Kind::Signed(16),
            (Type::INT32, C::UINT_8) => Kind::Unsigned(8),
            (Type::INT32, C::UINT_16) => Kind::Unsigned(16),
            (Type::INT32, C::UINT_32) => Kind::Unsigned(32),
            (Type::INT64, C::UINT_64) => Kind::Unsigned(64),
            (Type::INT32, C::INT_32 | C::NONE) => integer(32),
            (Type::INT64, C::INT_64 | C::NONE) => integer(64),
            _ => return None,
        };
        Some(kind)
    }
}

/// The column path: the file, its columns' kinds, and the readers of the row group being read.
struct Columns {
    file: SerializedFileReader<Bytes>,
    kinds: Vec<Kind>,
    next_group: usize,
    columns: Vec<Column>,
}

/// One column of the row group being read, and its latest batch.
struct Column {
    values: Values,
    kind: Kind,
    /// Definition levels of the batch (a row is null below `max_def`); empty when required.
    levels: Vec<i16>,
    max_def: i16,
    /// The next value of the batch to write.
    next: usize,
}

/// A column's reader and its latest batch of values (nulls have none).
enum Values {
    Bool(ColumnReaderImpl<BoolType>, Vec<bool>),
    Int32(ColumnReaderImpl<Int32Type>, Vec<i32>),
    Int64(ColumnReaderImpl<Int64Type>, Vec<i64>),
    Text(ColumnReaderImpl<ByteArrayType>, Vec<ByteArray>),
}

impl Columns {
    /// Writes the next batch of rows to `text`; the number of rows, 0 at the end.
    fn batch(&mut self, text: &mut Vec<u8>) -> Result<usize, ParquetError> {
        loop {
            if self.columns.is_empty() {
                if self.next_group >= self.file.num_row_groups() || self.kinds.is_empty() {
                    return Ok(0);
                }
                self.open_group()?;
            }
            let rows = self.read_columns()?;
            if rows == 0 {
                self.columns.clear();
                continue;
            }
            self.write_rows(rows, text)?;
            return Ok(rows);
        }
    }

    fn open_group(&mut self) -> Result<(), ParquetError> {
        let group = self.file.get_row_group(self.next_group)?;
        self.next_group += 1;
        for (index, &kind) in self.kinds.iter().enumerate() {
            let values = match group.get_column_reader(index)? {
                ColumnReader::BoolColumnReader(reader) => Values::Bool(reader, Vec::new()),
                ColumnReader::Int32ColumnReader(reader) => Values::Int32(reader, Vec::new()),
                ColumnReader::Int64ColumnReader(reader) => Values::Int64(reader, Vec::new()),
                ColumnReader::ByteArrayColumnReader(reader) => Values::Text(reader, Vec::new()),
                _ => return Err(ParquetError::General("a column changed its type".into())),
            };
            let max_def = group
                .metadata()
                .column(index)
                .column_descr()
                .max_def_level();
            self.columns.push(Column {
                values,
                kind,
                levels: Vec::new(),
                max_def,
                next: 0,
            });
        }
        Ok(())
    }

    /// Reads the next batch of every column; the rows read, the same for every column.
    fn read_columns(&mut self) -> Result<usize, ParquetError> {
        let mut rows = None;
        for column in &mut self.columns {
            let Column {
                values,
                levels,
                max_def,
                next,
                ..
            } = column;
            levels.clear();
            *next = 0;
            let levels = (*max_def > 0).then_some(levels);
            let read = match values {
                Values::Bool(reader, batch) => read_batch(reader, levels, batch)?,
                Values::Int32(reader, batch) => read_batch(reader, levels, batch)?,
                Values::Int64(reader, batch) => read_batch(reader, levels, batch)?,
                Values::Text(reader, batch) => read_batch(reader, levels, batch)?,
            };
            if *rows.get_or_insert(read) != read {
                return Err(ParquetError::General(
                    "the columns of a row group have different row counts".into(),
                ));
            }
        }
        Ok(rows.unwrap_or(0))
    }

    /// Writes `rows` rows of the batches just read as lines.
    fn write_rows(&mut self, rows: usize, text: &mut Vec<u8>) -> Result<(), ParquetError> {
        let short = || ParquetError::General("a column holds fewer values than rows".into());
        let mut digits = itoa::Buffer::new();
        for row in 0..rows {
            for (index, column) in self.columns.iter_mut().enumerate() {
                if index > 0 {
                    text.push(b' ');
                }
                if column.max_def > 0 && column.levels.get(row) != Some(&column.max_def) {
                    text.push(b'-');
                    continue;
                }
                let at = column.next;
                column.next += 1;
                match (&column.values, column.kind) {
                    (Values::Bool(_, batch), _) => {
                        let value = *batch.get(at).ok_or_else(short)?;
                        text.extend_from_slice(if value { b"true" } else { b"false" });
                    }
                    (Values::Int32(_, batch), kind) => {
                        let value = *batch.get(at).ok_or_else(short)?;
                        // Narrowed to the annotated width, as the row path does.
                        let shown = match kind {
                            Kind::Signed(8) => digits.format(value as i8),
                            Kind::Signed(16) => digits.format(value as i16),
                            Kind::Unsigned(8) => digits.format(value as u8),
                            Kind::Unsigned(16) => digits.format(value as u16),
                            Kind::Unsigned(_) => digits.format(value as u32),
                            _ => digits.format(value),
                        };
                        text.extend_from_slice(shown.as_bytes());
                    }
                    (Values::Int64(_, batch), kind) => {
                        let value = *batch.get(at).ok_or_else(short)?;
                        let shown = match kind {
                            Kind::Unsigned(_) => digits.format(value as u64),
                            _ => digits.format(value),
                        };
                        text.extend_from_slice(shown.as_bytes());
                    }
                    (Values::Text(_, batch), _) => {
                        push_bytes(text, batch.get(at).ok_or_else(short)?.data());
                    }
                }
            }
            text.push(b'\n');
        }
        Ok(())
    }
}

/// Replaces `batch` with the next `BATCH` rows' values of a column, and `levels` (when given)
/// with their definition levels; the rows read.
fn read_batch<T: DataType>(
    reader: &mut ColumnReaderImpl<T>,
    levels: Option<&mut Vec<i16>>,
    batch: &mut Vec<T::T>,
) -> Result<usize, ParquetError> {
    batch.clear();
    let (rows, ..) = reader.read_records(BATCH, levels, None, batch)?;
    Ok(rows)
}

/// The flow-log line of a row: its values in column order, `-` for a null or empty one.
fn row_line(row: &Row, line: &mut String) {
    for (index, (_, field)) in row.get_column_iter().enumerate() {
        if index > 0 {
            line.push(' ');
        }
        // Writing to a String cannot fail.
        let _ = match field {
            Field::Null => write!(line, "-"),
            Field::Bool(value) => write!(line, "{value}"),
            Field::Byte(value) => write!(line, "{value}"),
            Field::Short(value) => write!(line, "{value}"),
            Field::Int(value) => write!(line, "{value}"),
            Field::Long(value) => write!(line, "{value}"),
            Field::UByte(value) => write!(line, "{value}"),
            Field::UShort(value) => write!(line, "{value}"),
            Field::UInt(value) => write!(line, "{value}"),
            Field::ULong(value) => write!(line, "{value}"),
            Field::Str(value) => {
                push_value(line, value);
                Ok(())
            }
            Field::Bytes(value) => {
                push_value(line, &String::from_utf8_lossy(value.data()));
                Ok(())
            }
            // A whole number kept as a decimal: written as the number it is.
            Field::Decimal(decimal) if decimal.scale() == 0 && decimal.data().len() <= 16 => {
                write!(line, "{}", whole_decimal(decimal.data()))
            }
            // Not a type flow logs use: written as the library shows it, for the parser to
            // judge (a number field that is not a number makes a bad line).
            other => {
                push_value(line, &other.to_string());
                Ok(())
            }
        };
    }
    line.push('\n');
}

/// The integer of a big-endian two's complement number of up to 16 bytes.
fn whole_decimal(bytes: &[u8]) -> i128 {
    let fill = if bytes.first().is_some_and(|&b| b & 0x80 != 0) {
        0xff
    } else {
        0
    };
    let mut full = [fill; 16];
    full[16 - bytes.len()..].copy_from_slice(bytes);
    i128::from_be_bytes(full)
}

/// Adds one text value as [`push_value`] does, without a copy when it is plain ASCII.
fn push_bytes(text: &mut Vec<u8>, value: &[u8]) {
    if !value.is_empty() && value.iter().all(|&b| b.is_ascii_graphic()) {
        text.extend_from_slice(value);
    } else {
        let mut shown = String::new();
        push_value(&mut shown, &String::from_utf8_lossy(value));
        text.extend_from_slice(shown.as_bytes());
    }
}

/// Adds one value: `-` when empty, and a space, tab, line break or other control character
/// inside it as `_`, so that a value stays one field on one line.
fn push_value(line: &mut String, value: &str) {
    if value.is_empty() {
        line.push('-');
        return;
    }
    line.extend(value.chars().map(|c| {
        if c.is_whitespace() || c.is_control() {
            '_'
        } else {
            c
        }
    }));
}

thread_local! {
    /// Set while this thread is inside the Parquet reader, whose panics are errors of the file.
    static IN_READER: Cell<bool> = const { Cell::new(false) };
}

/// Calls into the Parquet reader. A damaged file can make the library panic where it did not
/// expect the damage: that panic is kept off stderr and becomes an error of the file, like
/// the damage the library does expect.
fn guarded<T>(call: impl FnOnce() -> Result<T, ParquetError>) -> io::Result<T> {
    static QUIET_HOOK: Once = Once::new();
    QUIET_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_READER.with(Cell::get) {
                previous(info);
            }
        }));
    });
    IN_READER.with(|inside| inside.set(true));
    let result = std::panic::catch_unwind(AssertUnwindSafe(call));
    IN_READER.with(|inside| inside.set(false));
    match result {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("Parquet: {err}"),
        )),
        Err(_) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "Parquet: the file is damaged (the reader gave up on it)",
        )),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use parquet::basic::Compression;

    use super::*;

    #[test]
    fn values_stay_one_field_on_one_line() {
        let mut line = String::new();
        push_value(&mut line, "a b\tc\nd\re");
        line.push(' ');
        push_value(&mut line, "");
        assert_eq!(line, "a_b_c_d_e -");
    }

    /// A small gzip-compressed Parquet file of `rows` rows: a number and a text column.
    pub(crate) fn small_file(rows: i64) -> Vec<u8> {
        use parquet::basic::GzipLevel;
        small_file_in(rows, Compression::GZIP(GzipLevel::default()))
    }

    fn small_file_in(rows: i64, compression: parquet::basic::Compression) -> Vec<u8> {
        use parquet::file::properties::WriterProperties;
        use parquet::file::writer::SerializedFileWriter;
        use parquet::schema::parser::parse_message_type;
        use std::sync::Arc;

        let schema = "message m { REQUIRED INT64 bytes; OPTIONAL BINARY log_status (UTF8); }";
        let schema = Arc::new(parse_message_type(schema).unwrap());
        let properties = WriterProperties::builder()
            .set_compression(compression)
            .build();
        let mut out = Vec::new();
        let mut writer = SerializedFileWriter::new(&mut out, schema, Arc::new(properties)).unwrap();
        let mut group = writer.next_row_group().unwrap();
        let mut column = group.next_column().unwrap().unwrap();
        let numbers: Vec<i64> = (0..rows).collect();
        column
            .typed::<Int64Type>()
            .write_batch(&numbers, None, None)
            .unwrap();
        column.close().unwrap();
        let mut column = group.next_column().unwrap().unwrap();
        let texts: Vec<ByteArray> = (0..rows / 2).map(|_| ByteArray::from("OK")).collect();
        let levels: Vec<i16> = (0..rows).map(|row| i16::from(row % 2 == 0)).collect();
        column
            .typed::<ByteArrayType>()
            .write_batch(&texts, Some(&levels), None)
            .unwrap();
        column.close().unwrap();
        group.close().unwrap();
        writer.close().unwrap();
        out
    }

    fn text_of(data: Vec<u8>) -> io::Result<String> {
        let mut text = String::new();
        ParquetText::new(data.into())?.read_to_string(&mut text)?;
        Ok(text)
    }

    #[test]
    fn columns_become_a_header_and_rows_lines_with_a_dash_for_null() {
        let text = text_of(small_file(4)).unwrap();
        assert_eq!(text, "bytes log-status\n0 OK\n1 -\n2 OK\n3 -\n");
    }

    /// A file of `schema` with `groups` row groups of `rows` rows, each column's values made
    /// by `write` (column index, group, rows, the column's writer).
    fn file_of(
        schema: &str,
        groups: usize,
        rows: usize,
        mut write: impl FnMut(usize, usize, usize, &mut parquet::column::writer::ColumnWriter<'_>),
    ) -> Vec<u8> {
        use parquet::file::properties::WriterProperties;
        use parquet::file::writer::SerializedFileWriter;
        use parquet::schema::parser::parse_message_type;
        use std::sync::Arc;

        let schema = Arc::new(parse_message_type(schema).unwrap());
        let properties = Arc::new(WriterProperties::builder().build());
        let mut out = Vec::new();
        let mut writer = SerializedFileWriter::new(&mut out, schema, properties).unwrap();
        for group_index in 0..groups {
            let mut group = writer.next_row_group().unwrap();
            let mut index = 0;
            while let Some(mut column) = group.next_column().unwrap() {
                write(index, group_index, rows, column.untyped());
                column.close().unwrap();
                index += 1;
            }
            group.close().unwrap();
        }
        writer.close().unwrap();
        out
    }

    #[test]
    fn the_column_path_writes_what_the_row_path_writes() {
        use parquet::column::writer::ColumnWriter as W;
        let schema = "message m { REQUIRED INT32 version; OPTIONAL INT32 srcport (UINT_16); \
            OPTIONAL INT64 bytes; OPTIONAL INT64 big (UINT_64); OPTIONAL INT32 small (INT_8); \
            OPTIONAL BOOLEAN flag; OPTIONAL BINARY action (UTF8); OPTIONAL BINARY raw; }";
        let data = file_of(schema, 3, 700, |index, group, rows, column| {
            let levels: Vec<i16> = (0..rows)
                .map(|row| i16::from((row + index) % 5 != 0))
                .collect();
            let present = levels.iter().filter(|&&level| level == 1).count();
            let n = |i: usize| (i + group * rows) as i64;
            let written = match column {
                W::Int32ColumnWriter(w) if index == 0 => {
                    let all: Vec<i32> = (0..rows).map(|_| 5).collect();
                    w.write_batch(&all, None, None)
                }
                W::Int32ColumnWriter(w) => {
                    let values: Vec<i32> = (0..present).map(|i| (n(i) * 97 - 300) as i32).collect();
                    w.write_batch(&values, Some(&levels), None)
                }
                W::Int64ColumnWriter(w) => {
                    let values: Vec<i64> = (0..present).map(|i| n(i) * -1_000_003).collect();
                    w.write_batch(&values, Some(&levels), None)
                }
                W::BoolColumnWriter(w) => {
                    let values: Vec<bool> = (0..present).map(|i| i % 3 == 0).collect();
                    w.write_batch(&values, Some(&levels), None)
                }
                W::ByteArrayColumnWriter(w) => {
                    let words = ["ACCEPT", "", "a b", "ça\tva", "REJECT"];
                    let values: Vec<ByteArray> = (0..present)
                        .map(|i| ByteArray::from(words[i % 5]))
                        .collect();
                    w.write_batch(&values, Some(&levels), None)
                }
                _ => unreachable!(),
            };
            written.unwrap();
        });
        let columns = text_of(data.clone()).unwrap();
        let mut rows = String::new();
        ParquetText::row_by_row(data.into())
            .unwrap()
            .read_to_string(&mut rows)
            .unwrap();
        assert_eq!(columns.lines().count(), 1 + 3 * 700);
        let differ = columns.lines().zip(rows.lines()).position(|(a, b)| a != b);
        if let Some(line) = differ {
            panic!(
                "line {line}:\n{}\n{}",
                columns.lines().nth(line).unwrap(),
                rows.lines().nth(line).unwrap()
            );
        }
        assert_eq!(columns.len(), rows.len());
        let first: Vec<&str> = columns.lines().take(3).collect();
        assert_eq!(
            first,
            [
                "version srcport bytes big small flag action raw",
                "5 65236 0 0 -44 - ACCEPT ACCEPT",
                "5 65333 -1000003 18446744073708551613 - true - -",
            ]
        );
    }

    #[test]
    fn every_compression_parquet_writers_use_is_read() {
        use parquet::basic::{BrotliLevel, GzipLevel, ZstdLevel};
        for compression in [
            Compression::UNCOMPRESSED,
            Compression::SNAPPY,
            Compression::GZIP(GzipLevel::default()),
            Compression::LZ4,
            Compression::LZ4_RAW,
            Compression::ZSTD(ZstdLevel::default()),
            Compression::BROTLI(BrotliLevel::default()),
        ] {
            let text = text_of(small_file_in(4, compression));
            assert_eq!(
                text.as_deref().ok(),
                Some("bytes log-status\n0 OK\n1 -\n2 OK\n3 -\n"),
                "{compression:?}: {text:?}"
            );
        }
    }

    #[test]
    fn whole_number_decimals_are_written_without_a_point() {
        use parquet::column::writer::ColumnWriter as W;
        let schema = "message m { REQUIRED INT64 PACKETS (DECIMAL(18,0)); \
            REQUIRED INT64 bytes (DECIMAL(18,2)); }";
        let data = file_of(schema, 1, 2, |_, _, _, column| match column {
            W::Int64ColumnWriter(w) => {
                w.write_batch(&[10, -12345], None, None).unwrap();
            }
            _ => unreachable!(),
        });
        assert_eq!(
            text_of(data).unwrap(),
            "packets bytes\n10 0.10\n-12345 -123.45\n"
        );
    }

    #[test]
    fn damaged_files_are_errors_never_panics() {
        let whole = small_file(300);
        let mut next = crate::flowlogs::record::tests::xorshift(0x5eed);
        let mut errors = 0;
        for round in 0..400 {
            let mut data = whole.clone();
            if round % 4 == 0 {
                data.truncate(next() as usize % data.len());
            } else {
                for _ in 0..1 + round % 8 {
                    let at = next() as usize % data.len();
                    data[at] = next() as u8;
                }
            }
            if text_of(data).is_err() {
                errors += 1;
            }
        }
        // Cutting a file always loses its index; most flips break something.
        assert!(errors >= 100, "{errors}");
    }

    #[test]
    fn a_file_that_is_not_parquet_is_a_clear_error() {
        let err = ParquetText::new(Bytes::from_static(b"PAR1 but nothing after"))
            .err()
            .unwrap();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().starts_with("Parquet: "), "{err}");
    }
}
