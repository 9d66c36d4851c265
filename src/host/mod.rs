//! What the host itself says: instance metadata, resolver configuration and `/etc/hosts`.

pub mod hosts;
pub mod imds;
