//! Exit codes and how errors map onto them.
//!
//! 0: no failing finding; 1: at least one failing finding; 2: usage or configuration error;
//! 3: could not run.

use std::process::ExitCode;

/// How a run ended, as the process exit code scripts read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Ran, and nothing failed.
    Clean = 0,
    /// Ran, and at least one failing finding or expectation.
    Failing = 1,
    /// Bad flag, bad configuration file, unreadable input.
    Usage = 2,
    /// Could not run at all.
    CannotRun = 3,
}

/// An error caused by what the user asked for: a bad flag value or an unreadable input file.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

impl UsageError {
    /// Wraps a message as a usage error.
    #[expect(
        clippy::new_ret_no_self,
        reason = "callers want the anyhow::Error directly"
    )]
    pub fn new(message: impl Into<String>) -> anyhow::Error {
        anyhow::Error::new(UsageError(message.into()))
    }
}

impl Status {
    /// The status for an error: a usage error anywhere in the chain is 2, anything else 3.
    pub fn of_error(err: &anyhow::Error) -> Status {
        if err.chain().any(|cause| cause.is::<UsageError>()) {
            Status::Usage
        } else {
            Status::CannotRun
        }
    }
}

impl From<Status> for ExitCode {
    fn from(status: Status) -> ExitCode {
        ExitCode::from(status as u8)
    }
}

/// The error and its causes on one line, outermost first.
pub fn one_line(err: &anyhow::Error) -> String {
    let parts: Vec<String> = err.chain().map(|cause| cause.to_string()).collect();
    let mut line = String::new();
    for part in parts {
        if line.contains(&part) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&part);
    }
    line.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn usage_error_deep_in_the_chain_exits_2() {
        let err = Err::<(), _>(UsageError::new("bad --fail-on value `nope`"))
            .context("reading options")
            .unwrap_err();
        assert_eq!(Status::of_error(&err), Status::Usage);
        assert_eq!(
            one_line(&err),
            "reading options: bad --fail-on value `nope`"
        );
    }

    #[test]
    fn other_errors_exit_3() {
        let err = anyhow::anyhow!("no runtime");
        assert_eq!(Status::of_error(&err), Status::CannotRun);
    }
}
