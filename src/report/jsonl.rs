//! JSON Lines for log shippers and Athena: one compact line per run, appended whole under an
//! exclusive lock so concurrent runs never interleave.

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use anyhow::Context;

use crate::report::CheckReport;

/// The report as one compact line, newline included.
pub fn render(report: &CheckReport) -> String {
    let mut line = serde_json::to_string(report).unwrap_or_else(|err| {
        format!(
            "{{\"schema_version\":{},\"error\":{}}}",
            crate::report::SCHEMA_VERSION,
            serde_json::Value::String(err.to_string())
        )
    });
    line.push('\n');
    line
}

/// Appends `line` (ending in a newline) to `path` under an exclusive lock, in one write.
///
/// A file left without a final newline (a writer killed mid-line) gets one first, so the new
/// line stays whole.
pub fn append(path: &Path, line: &str) -> anyhow::Result<()> {
    let mut file = OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {} to append", path.display()))?;
    file.lock()
        .with_context(|| format!("locking {}", path.display()))?;

    let mut bytes = Vec::with_capacity(line.len() + 1);
    if !ends_with_newline(&mut file).with_context(|| format!("reading {}", path.display()))? {
        bytes.push(b'\n');
    }
    bytes.extend_from_slice(line.as_bytes());
    file.write_all(&bytes)
        .and_then(|()| file.sync_data())
        .with_context(|| format!("appending to {}", path.display()))?;
    // Closing the file releases the lock.
    Ok(())
}

/// True for an empty file or one whose last byte is a newline.
fn ends_with_newline(file: &mut std::fs::File) -> std::io::Result<bool> {
    let len = file.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok(true);
    }
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    #[test]
    fn one_compact_line_that_is_the_report() {
        let report = fixture::mixed();
        let line = render(&report);
        assert_eq!(line.matches('\n').count(), 1);
        assert!(line.ends_with('\n'));
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["schema_version"], 1);
        assert_eq!(value["targets"][0]["name"], "s3-regional");
        assert_eq!(value["summary"]["exit_code"], 1);
    }

    #[test]
    fn concurrent_writers_append_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.jsonl");
        // A previous writer died mid-line.
        std::fs::write(&path, "{\"partial\":").unwrap();

        // Lines well past the pipe buffer size, so an unlocked writer could tear them.
        let writers = 8;
        let per_writer = 25;
        std::thread::scope(|scope| {
            for writer in 0..writers {
                let path = &path;
                scope.spawn(move || {
                    for run in 0..per_writer {
                        let filler = "x".repeat(70_000 + writer * 1000);
                        let line = format!(
                            "{}\n",
                            serde_json::json!({"writer": writer, "run": run, "filler": filler})
                        );
                        append(path, &line).unwrap();
                    }
                });
            }
        });

        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "{\"partial\":");
        assert_eq!(lines.len(), 1 + writers * per_writer);
        let mut seen = std::collections::BTreeSet::new();
        for line in &lines[1..] {
            let value: serde_json::Value = serde_json::from_str(line).expect("a whole line");
            assert_eq!(
                value["filler"].as_str().unwrap().len(),
                70_000 + value["writer"].as_u64().unwrap() as usize * 1000
            );
            seen.insert((
                value["writer"].as_u64().unwrap(),
                value["run"].as_u64().unwrap(),
            ));
        }
        assert_eq!(seen.len(), writers * per_writer);
    }

    #[test]
    fn append_waits_for_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.jsonl");
        let holder = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        holder.lock().unwrap();

        let appender = {
            let path = path.clone();
            std::thread::spawn(move || append(&path, "{\"run\":1}\n").unwrap())
        };
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "",
            "appended without the lock"
        );

        holder.unlock().unwrap();
        appender.join().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"run\":1}\n");
    }
}
