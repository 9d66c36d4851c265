//! The test cases the CI formats (JUnit, TAP) show: one per spec expectation, one per target
//! and one for the host, each passed, failed or skipped the way the exit code counts it.

use crate::report::CheckReport;
use crate::report::expectation::Status;

/// A group of cases.
#[derive(Debug, Clone)]
pub struct Suite {
    /// `egress-probe.spec` or `egress-probe.targets`.
    pub name: &'static str,
    /// The cases, in report order.
    pub cases: Vec<Case>,
}

/// One test case.
#[derive(Debug, Clone)]
pub struct Case {
    /// The group a dashboard files it under (`egress-probe.spec.reachable`, ...).
    pub classname: String,
    /// What it checks, unique within its suite.
    pub name: String,
    /// How it went.
    pub outcome: Outcome,
    /// Lines for the reader: the reason or the findings.
    pub output: Vec<String>,
}

/// How a case went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It held.
    Pass,
    /// It failed the run; `kind` is the finding kinds or the expectation kind.
    Fail { message: String, kind: String },
    /// Undecided; does not fail the run.
    Skip(String),
}

impl Suite {
    /// The number of cases with this outcome: `(failures, skipped)`.
    pub fn counts(&self) -> (usize, usize) {
        let failures = self
            .cases
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Fail { .. }))
            .count();
        let skipped = self
            .cases
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Skip(_)))
            .count();
        (failures, skipped)
    }
}

/// The suites of a report: the spec's expectations (when a spec was given), then the targets.
pub fn suites(report: &CheckReport) -> Vec<Suite> {
    let mut suites = Vec::new();
    if let Some(spec) = &report.spec {
        suites.push(Suite {
            name: "egress-probe.spec",
            cases: spec
                .expectations
                .iter()
                .map(|e| {
                    let outcome = match (e.status, spec.strict) {
                        (Status::Pass, _) => Outcome::Pass,
                        (Status::Fail, _) => Outcome::Fail {
                            message: e.reason.clone(),
                            kind: e.kind.to_string(),
                        },
                        (Status::Skip, true) => Outcome::Fail {
                            message: format!("skipped, and --strict fails skips: {}", e.reason),
                            kind: e.kind.to_string(),
                        },
                        (Status::Skip, false) => Outcome::Skip(e.reason.clone()),
                    };
                    let mut output = vec![e.reason.clone()];
                    output.extend(e.label.iter().map(|label| format!("expectation: {label}")));
                    Case {
                        classname: format!("egress-probe.spec.{}", e.kind),
                        name: e.id.clone(),
                        outcome,
                        output,
                    }
                })
                .collect(),
        });
    }

    let mut cases = vec![case(report, None, "host")];
    for target in &report.targets {
        cases.push(case(report, Some(&target.name), &target.name));
    }
    suites.push(Suite {
        name: "egress-probe.targets",
        cases,
    });
    suites
}

/// The case of one target (or of the host, for findings about no target): failed when a
/// finding about it fails the run.
fn case(report: &CheckReport, target: Option<&str>, name: &str) -> Case {
    let findings: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.target.as_deref() == target)
        .collect();
    let failing: Vec<_> = findings.iter().filter(|f| f.severity == "fail").collect();
    let outcome = if failing.is_empty() {
        Outcome::Pass
    } else {
        let mut kinds: Vec<&str> = failing.iter().map(|f| f.kind).collect();
        kinds.dedup();
        Outcome::Fail {
            message: failing
                .iter()
                .map(|f| f.message.as_str())
                .collect::<Vec<_>>()
                .join("; "),
            kind: kinds.join(","),
        }
    };
    let mut output: Vec<String> = findings
        .iter()
        .map(|f| format!("{} {}: {}", f.severity, f.kind, f.message))
        .collect();
    if target.is_none() {
        output.extend(report.skipped.iter().map(|s| format!("skipped: {s}")));
    }
    Case {
        classname: "egress-probe.targets".into(),
        name: name.to_string(),
        outcome,
        output,
    }
}

/// Removes characters XML 1.0 and TAP lines cannot carry (control characters but tab, CR, LF).
pub fn printable(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    #[test]
    fn targets_fail_on_failing_findings_only() {
        let report = fixture::mixed();
        let suites = suites(&report);
        assert_eq!(suites.len(), 1, "no spec, no spec suite");
        let names: Vec<&str> = suites[0].cases.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "host",
                "s3-regional",
                "al2023-repo",
                "bucket:artifacts",
                "mirror",
                "sts-regional"
            ]
        );
        let failed: Vec<(&str, &str)> = suites[0]
            .cases
            .iter()
            .filter_map(|c| match &c.outcome {
                Outcome::Fail { kind, .. } => Some((c.name.as_str(), kind.as_str())),
                _ => None,
            })
            .collect();
        assert_eq!(
            failed,
            [("bucket:artifacts", "unreachable"), ("mirror", "plaintext")]
        );
        assert_eq!(suites[0].counts(), (2, 0));
    }

    #[test]
    fn control_characters_are_dropped() {
        assert_eq!(printable("a\u{1b}[31mb\tc\u{0}"), "a[31mb\tc");
    }
}
