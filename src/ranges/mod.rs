//! `egress-probe ranges`: AWS address space for the people who write the firewall rules.

pub mod aggregate;
pub mod budget;
