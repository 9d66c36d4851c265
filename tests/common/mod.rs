//! Support code shared by the integration tests (`mod common;` in a test file).
//!
//! Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

pub mod report;
pub mod vpc;
