//! The command line as a user meets it: help, exit codes and one-line errors. No network.

use std::process::Command;

fn egress_probe(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_egress-probe"))
        .args(args)
        .env_remove("AWS_EC2_METADATA_SERVICE_ENDPOINT")
        .output()
        .expect("the binary runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn help_documents_the_exit_codes() {
    let (code, stdout, _) = egress_probe(&["check", "--help"]);
    assert_eq!(code, 0);
    for line in [
        "0  no failing finding",
        "1  at least one failing finding",
        "2  usage",
        "3  could not run",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in\n{stdout}");
    }
}

#[test]
fn unknown_fail_on_kind_is_a_one_line_usage_error() {
    let (code, stdout, stderr) = egress_probe(&["check", "--fail-on", "everything"]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("egress-probe: --fail-on \"everything\""),
        "{stderr}"
    );
}

#[test]
fn malformed_ip_ranges_file_is_a_usage_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ip-ranges.json");
    std::fs::write(&path, "{\"syncToken\": \"1\", \"prefixes\": [").unwrap();
    let (code, _, stderr) = egress_probe(&[
        "check",
        "--ip-ranges",
        path.to_str().unwrap(),
        "--imds-endpoint",
        "http://127.0.0.1:9",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("ip-ranges.json") && stderr.contains("not an ip-ranges document"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn bad_region_and_missing_catalog_dir_are_usage_errors() {
    let (code, _, stderr) = egress_probe(&["check", "--region", "mars-1"]);
    assert_eq!(
        (code, stderr.contains("not a region name")),
        (2, true),
        "{stderr}"
    );
    let (code, _, stderr) = egress_probe(&["check", "--probes", "/nonexistent/dir"]);
    assert_eq!(
        (code, stderr.contains("--probes /nonexistent/dir")),
        (2, true),
        "{stderr}"
    );
    let (code, _, _) = egress_probe(&["check", "--no-such-flag"]);
    assert_eq!(code, 2);
}

#[test]
fn bad_egress_echo_url_and_pcap_directory_are_usage_errors() {
    let (code, _, stderr) = egress_probe(&["check", "--egress-echo", "ftp://checkip/"]);
    assert_eq!(
        (code, stderr.contains("--egress-echo \"ftp://checkip/\"")),
        (2, true),
        "{stderr}"
    );
    let (code, _, stderr) = egress_probe(&["check", "--pcap", "/nonexistent/dir/run.pcap"]);
    assert_eq!(
        (code, stderr.contains("/nonexistent/dir is not a directory")),
        (2, true),
        "{stderr}"
    );
}

#[test]
fn clap_usage_errors_are_one_line_too() {
    for args in [
        &["check", "--format", "xml"][..],
        &["check", "--timeout", "abc"][..],
        &["no-such-command"][..],
    ] {
        let (code, stdout, stderr) = egress_probe(args);
        assert_eq!(code, 2, "{args:?}");
        assert!(stdout.is_empty());
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("egress-probe: "), "{stderr}");
    }
}

#[test]
fn a_missing_argument_is_named() {
    let (code, _, stderr) = egress_probe(&["flowlogs"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("<PATH>"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn merge_skips_a_binary_file_beside_good_reports() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/merge");
    std::fs::copy(fixtures.join("i-0a.json"), dir.path().join("i-0a.json")).unwrap();
    std::fs::write(dir.path().join("bin.json"), [0xff, 0xfe, 0x00, 0x9c]).unwrap();
    let (code, stdout, stderr) =
        egress_probe(&["merge", "--format", "json", dir.path().to_str().unwrap()]);
    assert!(code == 0 || code == 1, "{stderr}");
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["reports"], 1);
    assert!(stdout.contains("bin.json: not text, skipped"), "{stdout}");
}
