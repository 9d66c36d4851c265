//! Fuzzes the dissector of a flow's first bytes (TLS hellos, HTTP heads).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    egress_probe::capture::fuzzing::dissect(data);
});
