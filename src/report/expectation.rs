//! The spec block of the report: every expectation of `--spec` with its status and reason.

use serde::Serialize;

/// What a spec asked and how each expectation went.
#[derive(Debug, Clone, Serialize)]
pub struct SpecDto {
    /// The spec file as given.
    pub file: String,
    /// `--strict`: a skipped expectation fails the run.
    pub strict: bool,
    /// Expectations that held.
    pub pass: usize,
    /// Expectations that did not hold.
    pub fail: usize,
    /// Expectations this run could not decide.
    pub skip: usize,
    /// The spec fails the run (a failed expectation, or a skipped one under `--strict`).
    pub failing: bool,
    /// One entry per expectation and target, in spec order.
    pub expectations: Vec<ExpectationDto>,
}

/// One expectation applied to one target.
#[derive(Debug, Clone, Serialize)]
pub struct ExpectationDto {
    /// A stable identifier: `KIND TARGET` (and `:PORT` for reachability).
    pub id: String,
    /// `regions`, `plaintext`, `path` or `reachable`.
    pub kind: &'static str,
    /// The `name` the spec gave the expectation, if any.
    pub label: Option<String>,
    /// The target's name, or the selector that matched no target.
    pub target: String,
    /// `pass`, `fail` or `skip`.
    pub status: Status,
    /// Why, in one line.
    pub reason: String,
}

/// The outcome of one expectation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// It held.
    Pass,
    /// It did not hold.
    Fail,
    /// This run could not decide.
    Skip,
}

impl Status {
    /// The value written in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }
}

/// The spec's lines of the table: the counts, then every expectation that did not pass.
pub fn render(spec: &SpecDto) -> String {
    let mut out = format!(
        "\nspec {}: {} pass · {} fail · {} skip{}\n",
        spec.file,
        spec.pass,
        spec.fail,
        spec.skip,
        if spec.strict { " (--strict)" } else { "" }
    );
    for expectation in spec
        .expectations
        .iter()
        .filter(|e| e.status != Status::Pass)
    {
        out.push_str(&format!(
            "  {} {}: {}\n",
            expectation.status.as_str(),
            expectation.id,
            expectation.reason
        ));
    }
    out
}

impl SpecDto {
    /// Builds the block and its counts from the evaluated expectations.
    pub fn new(file: String, strict: bool, expectations: Vec<ExpectationDto>) -> SpecDto {
        let count = |status: Status| expectations.iter().filter(|e| e.status == status).count();
        let (pass, fail, skip) = (
            count(Status::Pass),
            count(Status::Fail),
            count(Status::Skip),
        );
        SpecDto {
            file,
            strict,
            pass,
            fail,
            skip,
            failing: fail > 0 || (strict && skip > 0),
            expectations,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_lines_show_what_did_not_pass() {
        let expectation = |id: &str, status, reason: &str| ExpectationDto {
            id: id.into(),
            kind: "path",
            label: None,
            target: "t".into(),
            status,
            reason: reason.into(),
        };
        let spec = SpecDto::new(
            "bake.toml".into(),
            true,
            vec![
                expectation("path a", Status::Pass, "leaves through gateway-endpoint"),
                expectation("path b", Status::Skip, "no path verdict in this run"),
                expectation("path c", Status::Fail, "leaves through nat"),
            ],
        );
        assert!(spec.failing);
        assert_eq!(
            render(&spec),
            "\nspec bake.toml: 1 pass · 1 fail · 1 skip (--strict)\n  \
             skip path b: no path verdict in this run\n  fail path c: leaves through nat\n"
        );
    }
}
