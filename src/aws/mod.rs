//! What egress-probe knows about AWS addresses and names.

pub mod hostname;
pub mod ipranges;
pub mod source;
