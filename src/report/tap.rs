//! TAP version 13: one test point per spec expectation, per target and for the host, with a
//! YAML block saying why a point failed; a skipped expectation carries the `# SKIP` directive.

use std::fmt::Write;

use crate::report::CheckReport;
use crate::report::cases::{self, Outcome, printable};

/// Renders the report as a TAP stream.
pub fn render(report: &CheckReport) -> String {
    let suites = cases::suites(report);
    let total: usize = suites.iter().map(|s| s.cases.len()).sum();
    let mut out = format!("TAP version 13\n1..{total}\n");

    let mut number = 0;
    for suite in &suites {
        let prefix = suite.name.trim_start_matches("egress-probe.");
        for case in &suite.cases {
            number += 1;
            // `#` starts a directive in a description: keep it out of names.
            let name = printable(&case.name).replace(['#', '\n'], " ");
            match &case.outcome {
                Outcome::Pass => {
                    let _ = writeln!(out, "ok {number} - {prefix}: {name}");
                }
                Outcome::Skip(reason) => {
                    let reason = printable(reason).replace('\n', " ");
                    let _ = writeln!(out, "ok {number} - {prefix}: {name} # SKIP {reason}");
                }
                Outcome::Fail { message, kind } => {
                    let _ = writeln!(out, "not ok {number} - {prefix}: {name}");
                    let _ = writeln!(out, "  ---");
                    let _ = writeln!(out, "  message: {}", yaml(message));
                    let _ = writeln!(out, "  kind: {}", yaml(kind));
                    if !case.output.is_empty() {
                        let _ = writeln!(out, "  output:");
                        for line in &case.output {
                            let _ = writeln!(out, "    - {}", yaml(line));
                        }
                    }
                    let _ = writeln!(out, "  ...");
                }
            }
        }
    }
    out
}

/// A YAML double-quoted scalar (a JSON string is one).
fn yaml(text: &str) -> String {
    serde_json::Value::String(printable(text)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;
    use crate::spec::Spec;

    #[test]
    fn tap_plan_points_and_directives() {
        let spec = Spec::parse(
            "[[expect]]\ntargets = \"s3-regional\"\npath = \"gateway-endpoint\"\n\
             [[expect]]\ntargets = [\"s3-regional\", \"bucket:artifacts\"]\nreachable = true\n",
            "bake.toml",
        )
        .unwrap();
        let mut report = fixture::mixed();
        crate::spec::apply(&spec, false, &mut report);
        let tap = render(&report);
        let lines: Vec<&str> = tap.lines().collect();
        assert_eq!(lines[0], "TAP version 13");
        assert_eq!(lines[1], "1..9");
        assert_eq!(
            lines[2],
            "ok 1 - spec: path s3-regional # SKIP no path verdict in this run"
        );
        assert_eq!(lines[3], "ok 2 - spec: reachable s3-regional:443");
        assert_eq!(lines[4], "not ok 3 - spec: reachable bucket:artifacts:443");
        assert_eq!(lines[5], "  ---");
        assert_eq!(
            lines[6],
            "  message: \"no address answered on 443 (timeout)\""
        );
        let points: Vec<&&str> = lines
            .iter()
            .filter(|l| l.starts_with("ok ") || l.starts_with("not ok "))
            .collect();
        assert_eq!(points.len(), 9);
        let failing = points.iter().filter(|l| l.starts_with("not ok")).count();
        assert_eq!(failing, 3, "{tap}");
        assert!(tap.contains("not ok 8 - targets: mirror\n"), "{tap}");
    }
}
