//! What the host itself says: instance metadata, resolver configuration, `/etc/hosts` and the
//! privileges this process holds.

pub mod hosts;
pub mod imds;
pub mod privilege;
