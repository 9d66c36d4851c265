//! Fuzzes frame parsing, per-flow reassembly and dissection together.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    egress_probe::capture::fuzzing::frames(data);
});
