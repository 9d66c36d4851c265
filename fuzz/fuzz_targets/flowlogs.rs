//! Fuzzes flow-log reading end to end: encoding, header, records, analysis and both reports.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    egress_probe::flowlogs::fuzzing::flowlogs(data);
});
