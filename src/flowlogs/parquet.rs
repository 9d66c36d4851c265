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
use parquet::errors::ParquetError;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::reader::RowIter;
use parquet::record::{Field, Row};

/// The largest Parquet input read; S3 delivers files of at most a few hundred MiB.
pub const MAX_BYTES: u64 = 2 << 30;

/// Text produced per refill: enough rows to keep a line reader busy.
const BLOCK: usize = 256 * 1024;

/// The rows of a Parquet file as flow-log text, made as they are read.
pub struct ParquetText {
    rows: RowIter<'static>,
    text: Vec<u8>,
    at: usize,
    /// Where reading the rows failed, handed on once the text before it is read.
    failure: Option<io::Error>,
    ended: bool,
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
            push_value(&mut header, &field.name().replace('_', "-"));
        }
        header.push('\n');
        Ok(ParquetText {
            rows: RowIter::from_file_into(Box::new(reader)),
            text: header.into_bytes(),
            at: 0,
            failure: None,
            ended: false,
        })
    }

    /// Makes the text of the next rows; false when there are none.
    fn refill(&mut self) -> bool {
        self.text.clear();
        self.at = 0;
        let mut line = String::new();
        while !self.ended && self.text.len() < BLOCK {
            match guarded(|| self.rows.next().transpose()) {
                Ok(Some(row)) => {
                    line.clear();
                    row_line(&row, &mut line);
                    self.text.extend_from_slice(line.as_bytes());
                }
                Ok(None) => self.ended = true,
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
mod tests {
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
    fn small_file(rows: i64) -> Vec<u8> {
        use parquet::basic::{Compression, GzipLevel};
        use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
        use parquet::file::properties::WriterProperties;
        use parquet::file::writer::SerializedFileWriter;
        use parquet::schema::parser::parse_message_type;
        use std::sync::Arc;

        let schema = "message m { REQUIRED INT64 bytes; OPTIONAL BINARY log_status (UTF8); }";
        let schema = Arc::new(parse_message_type(schema).unwrap());
        let properties = WriterProperties::builder()
            .set_compression(Compression::GZIP(GzipLevel::default()))
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
