//! egress-probe: where does this host's S3 and package traffic really go?
//!
//! The library holds every command; `main.rs` only parses and maps the outcome to an exit code.

pub mod aws;
pub mod check;
pub mod cli;
pub mod exit;
pub mod flowlogs;
pub mod logging;
pub mod output;
