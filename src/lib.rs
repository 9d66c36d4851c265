//! egress-probe: where does this host's S3 and package traffic really go?
//!
//! The library holds every command; `main.rs` only parses and maps the outcome to an exit code.

pub mod aws;
pub mod capture;
pub mod catalog;
pub mod check;
pub mod cli;
pub mod evidence;
pub mod exit;
pub mod flowlogs;
pub mod generate;
pub mod host;
pub mod logging;
pub mod merge;
pub mod output;
pub mod path;
pub mod policy;
pub mod probe;
pub mod ranges;
pub mod report;
pub mod spec;
pub mod verdict;
pub mod yum;

/// Installs the ring crypto provider for rustls once; every TLS client needs it first.
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
