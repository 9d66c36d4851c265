//! The `flowlogs` report as tables for a terminal: an overview, one titled table per report
//! (the first rows of each; the JSON has them all) and the notes.

use std::fmt::Write as _;

use indicatif::HumanBytes;

use crate::flowlogs::report::{Remote, Report, Totals};

/// The report as tables for a terminal.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    overview(&mut out, report);

    let rejects: Vec<Vec<String>> = report
        .rejects
        .iter()
        .map(|row| {
            let mut flag = String::new();
            if row.nacl_return_traffic {
                flag.push_str("NACL return traffic?");
            }
            if let Some(reason) = &row.reject_reason {
                flag.push_str(reason);
            }
            let mut cells = remote_cells(&row.remote);
            cells.extend([
                row.direction.to_string(),
                protocol(row.protocol),
                row.port.to_string(),
                flag,
            ]);
            cells.extend(total_cells(&row.totals));
            cells
        })
        .collect();
    section(
        &mut out,
        "REJECTed traffic",
        &[
            "service",
            "region",
            "direction",
            "proto",
            "port",
            "note",
            "flows",
            "packets",
            "bytes",
        ],
        rejects,
    );

    let plaintext = report.plaintext.iter().map(|row| {
        let mut cells = vec![row.interface_role.to_string()];
        cells.extend(flow_cells(&row.remote, row.direction, &row.totals));
        cells
    });
    section(
        &mut out,
        "Plaintext HTTP (port 80) with AWS services",
        &[
            "role",
            "service",
            "region",
            "direction",
            "flows",
            "packets",
            "bytes",
        ],
        plaintext.collect(),
    );

    let cross = report.cross_region.iter().map(|row| {
        let mut cells = vec![row.log_region.clone(), row.interface_role.to_string()];
        cells.extend(flow_cells(&row.remote, row.direction, &row.totals));
        cells
    });
    section(
        &mut out,
        "Traffic with other regions",
        &[
            "log region",
            "role",
            "service",
            "region",
            "direction",
            "flows",
            "packets",
            "bytes",
        ],
        cross.collect(),
    );

    let paths = report.s3_paths.iter().map(|row| {
        let mut cells = vec![
            row.interface_role.to_string(),
            row.traffic_path.map_or("-".to_string(), |p| p.to_string()),
            row.path.to_string(),
            row.region.clone(),
        ];
        cells.extend(total_cells(&row.totals));
        cells
    });
    section(
        &mut out,
        "S3 egress by traffic path",
        &[
            "role", "path", "meaning", "region", "flows", "packets", "bytes",
        ],
        paths.collect(),
    );

    let nat = report.nat.iter().map(|row| {
        let mut cells = vec![row.interface_id.clone(), row.recognised_by.to_string()];
        cells.extend(flow_cells(&row.remote, row.direction, &row.totals));
        cells
    });
    section(
        &mut out,
        "NAT gateway interfaces",
        &[
            "interface",
            "recognised by",
            "service",
            "region",
            "direction",
            "flows",
            "packets",
            "bytes",
        ],
        nat.collect(),
    );

    let top = report.top.iter().map(|row| {
        let mut cells = vec![row.interface_role.to_string()];
        cells.extend(remote_cells(&row.remote));
        cells.extend([
            HumanBytes(row.bytes_egress).to_string(),
            HumanBytes(row.bytes_ingress).to_string(),
        ]);
        cells.extend(total_cells(&row.totals));
        cells
    });
    section(
        &mut out,
        "Top talkers (per interface role, never added across roles)",
        &[
            "role", "service", "region", "out", "in", "flows", "packets", "bytes",
        ],
        top.collect(),
    );

    for note in &report.notes {
        let _ = writeln!(out, "note: {note}");
    }
    out
}

fn overview(out: &mut String, report: &Report) {
    let _ = writeln!(
        out,
        "{} files, {} records ({} analysed, {} NODATA, {} SKIPDATA, {} filtered out), {} bad lines",
        report.files.len(),
        report.records,
        report.analysed,
        report.nodata,
        report.skipdata,
        report.filtered_out,
        report.bad_lines
    );
    if let Some(range) = &report.time_range {
        let _ = writeln!(out, "time range: {} .. {}", range.start, range.end);
    }
    let attribution = &report.attribution;
    match (&attribution.source, attribution.available) {
        (Some(source), true) => {
            let _ = writeln!(
                out,
                "attribution: {source} (syncToken {})",
                attribution.sync_token.as_deref().unwrap_or("-")
            );
        }
        _ => out.push_str("attribution: unavailable (no ip-ranges data)\n"),
    }
    for file in &report.files {
        if file.bad_lines == 0 && file.error.is_none() {
            continue;
        }
        let _ = write!(
            out,
            "  {}: {} bad lines",
            printable(&file.path),
            file.bad_lines
        );
        if let (Some(line), Some(reason)) =
            (file.first_bad_lines.first(), file.first_bad_reasons.first())
        {
            let _ = write!(out, " (first: line {line}, {reason})");
        }
        if let Some(error) = &file.error {
            let _ = write!(out, "; {error}");
        }
        out.push('\n');
    }
}

/// `text` with control characters and bidirectional overrides escaped, for a terminal: a path
/// (an S3 key) may hold any of them.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        c.is_control()
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)
    };
    if !text.chars().any(unsafe_char) {
        return text.into();
    }
    text.chars()
        .map(|c| match unsafe_char(c) {
            true => c.escape_unicode().to_string(),
            false => c.to_string(),
        })
        .collect::<String>()
        .into()
}

fn remote_cells(remote: &Remote) -> Vec<String> {
    let service = match remote.scope {
        "aws" => remote.service.clone(),
        other => format!("({other})"),
    };
    vec![service, remote.region.clone()]
}

fn flow_cells(remote: &Remote, direction: &str, totals: &Totals) -> Vec<String> {
    let mut cells = remote_cells(remote);
    cells.push(direction.to_string());
    cells.extend(total_cells(totals));
    cells
}

fn total_cells(totals: &Totals) -> [String; 3] {
    [
        totals.flows.to_string(),
        totals.packets.to_string(),
        HumanBytes(totals.bytes).to_string(),
    ]
}

fn protocol(number: u8) -> String {
    match number {
        1 => "icmp".to_string(),
        6 => "tcp".to_string(),
        17 => "udp".to_string(),
        58 => "icmpv6".to_string(),
        255 => "-".to_string(),
        other => other.to_string(),
    }
}

/// Rows shown per table; JSON has them all.
const TABLE_ROWS: usize = 20;

/// Appends a titled table; the last three columns are numbers, aligned right.
fn section(out: &mut String, title: &str, headers: &[&str], rows: Vec<Vec<String>>) {
    let _ = writeln!(out, "\n{title}");
    if rows.is_empty() {
        out.push_str("  none\n");
        return;
    }

    let shown = &rows[..rows.len().min(TABLE_ROWS)];
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in shown {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let numbers_from = headers.len().saturating_sub(3);
    let line = |cells: Vec<&str>| -> String {
        let mut text = String::from(" ");
        for (index, (cell, width)) in cells.iter().zip(&widths).enumerate() {
            if index >= numbers_from {
                let _ = write!(text, " {cell:>width$}");
            } else {
                let _ = write!(text, " {cell:<width$}");
            }
        }
        text.trim_end().to_string() + "\n"
    };

    out.push_str(&line(headers.to_vec()));
    for row in shown {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    if rows.len() > shown.len() {
        let _ = writeln!(
            out,
            "  ... {} more (see --format json)",
            rows.len() - shown.len()
        );
    }
}

#[cfg(test)]
mod printable_tests {
    use super::printable;

    #[test]
    fn control_characters_and_bidi_overrides_are_escaped() {
        assert_eq!(printable("logs/a.log.gz"), "logs/a.log.gz");
        assert_eq!(printable("a\u{1b}]0;t\u{7}b"), "a\\u{1b}]0;t\\u{7}b");
        assert_eq!(printable("x\u{202e}y\u{9b}z é"), "x\\u{202e}y\\u{9b}z é");
    }
}
