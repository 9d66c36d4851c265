//! Replays the fuzz corpus and every crash case the fuzzer found (`fuzz/corpus`,
//! `fuzz/artifacts`) through the same entry points the fuzz targets use, as ordinary tests.

use std::path::{Path, PathBuf};

use egress_probe::capture::fuzzing;

fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind)
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn replay(target: &str, run: fn(&[u8])) -> usize {
    let mut count = 0;
    for path in inputs("corpus", target)
        .into_iter()
        .chain(inputs("artifacts", target))
    {
        let bytes = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| run(&bytes));
        assert!(outcome.is_ok(), "{} panics", path.display());
        count += 1;
    }
    count
}

#[test]
fn the_dissector_survives_its_corpus_and_crash_cases() {
    assert!(replay("dissect", fuzzing::dissect) >= 6);
}

#[test]
fn frames_reassembly_and_dissection_survive_their_corpus() {
    assert!(replay("frames", fuzzing::frames) >= 2);
}

#[test]
fn flow_log_reading_survives_its_corpus() {
    assert!(replay("flowlogs", egress_probe::flowlogs::fuzzing::flowlogs) >= 10);
}
