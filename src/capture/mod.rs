//! Packet capture of the probes' own flows.

pub mod dissect;
pub mod flows;
pub mod frame;
