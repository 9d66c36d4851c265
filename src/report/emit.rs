//! Where a report goes: the formats of `check`, the `--output [FORMAT=]PATH` destinations, and
//! writing each one (stdout, a file replaced atomically, or a line appended under a lock).

use std::collections::BTreeSet;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::exit::UsageError;
use crate::report::{self, CheckReport};

/// Report formats of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A readable table.
    Table,
    /// One JSON document (schema version 1).
    Json,
    /// One compact JSON line per run, appended (for log shippers and Athena).
    Jsonl,
    /// JUnit XML: one test case per spec expectation and per target.
    Junit,
    /// TAP version 13, the same test points as JUnit.
    Tap,
    /// Prometheus text format for node_exporter's textfile collector.
    Prometheus,
}

impl Format {
    /// Every format, for parsing `FORMAT=PATH`.
    const ALL: [Format; 6] = [
        Format::Table,
        Format::Json,
        Format::Jsonl,
        Format::Junit,
        Format::Tap,
        Format::Prometheus,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Json => "json",
            Format::Jsonl => "jsonl",
            Format::Junit => "junit",
            Format::Tap => "tap",
            Format::Prometheus => "prometheus",
        }
    }

    fn from_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// Where one rendering goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sink {
    /// Standard output.
    Stdout,
    /// A file.
    File(PathBuf),
}

/// One format to one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// What to render.
    pub format: Format,
    /// Where to put it.
    pub sink: Sink,
}

/// The destinations of a run: `--format` to stdout when no `--output` is given; otherwise one
/// per `--output`, where `FORMAT=PATH` names its format, a bare `PATH` takes `--format`, and
/// `-` is stdout.
pub fn destinations(format: Format, outputs: &[String]) -> anyhow::Result<Vec<Destination>> {
    if outputs.is_empty() {
        return Ok(vec![Destination {
            format,
            sink: Sink::Stdout,
        }]);
    }

    let mut found = Vec::new();
    for value in outputs {
        let (format, path) = match value.split_once('=') {
            Some((name, path)) if Format::from_name(name).is_some() => {
                (Format::from_name(name).unwrap_or(format), path)
            }
            _ => (format, value.as_str()),
        };
        let sink = match path {
            "" => {
                return Err(UsageError::new(format!(
                    "--output {value:?}: no path (use - for stdout)"
                )));
            }
            "-" => Sink::Stdout,
            path => Sink::File(PathBuf::from(path)),
        };
        found.push(Destination { format, sink });
    }

    let stdout = found.iter().filter(|d| d.sink == Sink::Stdout).count();
    if stdout > 1 {
        return Err(UsageError::new(
            "--output: only one report can go to stdout (-)",
        ));
    }
    let mut paths = BTreeSet::new();
    for destination in &found {
        if let Sink::File(path) = &destination.sink
            && !paths.insert(path.clone())
        {
            return Err(UsageError::new(format!(
                "--output: {} is given twice",
                path.display()
            )));
        }
    }
    Ok(found)
}

/// Renders the report in one format; `color` applies to the table only.
pub fn render(report: &CheckReport, format: Format, color: bool) -> String {
    match format {
        Format::Table => report::table::render(report, report::table::Style { color }),
        Format::Json => report.to_json(),
        Format::Jsonl => report::jsonl::render(report),
        Format::Junit => report::junit::render(report),
        Format::Tap => report::tap::render(report),
        Format::Prometheus => report::prometheus::render(report),
    }
}

/// Writes the report to every destination; one that fails does not stop the others, and the
/// first error is returned. `color` forces the table's colour; None colours a terminal only.
pub fn emit(
    report: &CheckReport,
    destinations: &[Destination],
    color: Option<bool>,
) -> anyhow::Result<()> {
    let mut first_error = None;
    for destination in destinations {
        let result = match &destination.sink {
            Sink::Stdout => {
                let color = color.unwrap_or_else(|| {
                    std::io::IsTerminal::is_terminal(&std::io::stdout())
                        && !crate::logging::no_color()
                });
                crate::output::print(&render(report, destination.format, color))
            }
            Sink::File(path) => {
                let text = render(report, destination.format, color.unwrap_or(false));
                write_file(path, destination.format, &text)
            }
        };
        if let Err(err) = result {
            // The first failure is the one the run ends with (printed once, at the top); the
            // others would be lost without a log line.
            if first_error.is_some() {
                tracing::error!(error = %crate::exit::one_line(&err), "writing a report");
            } else {
                first_error = Some(err);
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// JSON Lines are appended; a device or pipe (`/dev/stdout`) is written in place; any other
/// file is replaced atomically, so a collector never reads half a file.
fn write_file(path: &Path, format: Format, text: &str) -> anyhow::Result<()> {
    if format == Format::Jsonl {
        return report::jsonl::append(path, text);
    }
    let special = std::fs::metadata(path).is_ok_and(|meta| {
        let kind = meta.file_type();
        kind.is_char_device() || kind.is_fifo() || kind.is_socket() || kind.is_block_device()
    });
    if special {
        return std::fs::write(path, text).with_context(|| format!("writing {}", path.display()));
    }
    crate::output::write_atomic(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    fn file(format: Format, path: &str) -> Destination {
        Destination {
            format,
            sink: Sink::File(path.into()),
        }
    }

    #[test]
    fn outputs_name_their_format_or_take_the_default() {
        let parsed = destinations(
            Format::Table,
            &[
                "junit=out/junit.xml".into(),
                "json=report.json".into(),
                "table=-".into(),
                "plain.txt".into(),
                "odd=name.txt".into(),
            ],
        )
        .unwrap();
        assert_eq!(
            parsed,
            [
                file(Format::Junit, "out/junit.xml"),
                file(Format::Json, "report.json"),
                Destination {
                    format: Format::Table,
                    sink: Sink::Stdout
                },
                file(Format::Table, "plain.txt"),
                file(Format::Table, "odd=name.txt"),
            ]
        );
        assert_eq!(
            destinations(Format::Json, &[]).unwrap(),
            [Destination {
                format: Format::Json,
                sink: Sink::Stdout
            }]
        );
    }

    #[test]
    fn conflicting_outputs_are_usage_errors() {
        for outputs in [
            vec!["json=-".to_string(), "-".to_string()],
            vec!["json=a".to_string(), "tap=a".to_string()],
            vec!["json=".to_string()],
        ] {
            let err = destinations(Format::Table, &outputs).unwrap_err();
            assert_eq!(
                crate::exit::Status::of_error(&err),
                crate::exit::Status::Usage,
                "{outputs:?}"
            );
        }
    }

    #[test]
    fn every_format_goes_to_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let report = fixture::mixed();
        let at = |name: &str| dir.path().join(name);
        let outputs: Vec<String> = [
            ("json", "r.json"),
            ("jsonl", "runs.jsonl"),
            ("junit", "junit.xml"),
            ("tap", "r.tap"),
            ("prometheus", "egress-probe.prom"),
            ("table", "r.txt"),
        ]
        .iter()
        .map(|(format, name)| format!("{format}={}", at(name).display()))
        .collect();
        let parsed = destinations(Format::Table, &outputs).unwrap();
        emit(&report, &parsed, None).unwrap();
        emit(&report, &parsed, None).unwrap();

        let read = |name: &str| std::fs::read_to_string(at(name)).unwrap();
        let json: serde_json::Value = serde_json::from_str(&read("r.json")).unwrap();
        assert_eq!(json["summary"]["exit_code"], 1);
        assert_eq!(read("runs.jsonl").lines().count(), 2, "jsonl appends");
        assert!(read("junit.xml").contains("<testsuites name=\"egress-probe\""));
        assert!(read("r.tap").starts_with("TAP version 13\n1..6\n"));
        assert!(read("egress-probe.prom").contains("egress_probe_exit_code 1\n"));
        assert!(!read("r.txt").contains('\u{1b}'), "no colour in files");

        // Readable by a collector running as another user, and no temporary left behind.
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(at("egress-probe.prom"))
                .unwrap()
                .permissions(),
        );
        assert_eq!(mode & 0o777, 0o644);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 6);
    }

    #[test]
    fn a_pipe_is_written_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // A reader that reports back, so a regression fails the test instead of hanging it.
        let (sender, received) = std::sync::mpsc::channel();
        {
            let fifo = fifo.clone();
            std::thread::spawn(move || sender.send(std::fs::read_to_string(fifo).unwrap()));
        }

        let parsed = destinations(Format::Table, &[format!("tap={}", fifo.display())]).unwrap();
        emit(&fixture::mixed(), &parsed, None).unwrap();
        let text = received
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the report reached the pipe");
        assert!(text.starts_with("TAP version 13\n"));
        assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    }
}
