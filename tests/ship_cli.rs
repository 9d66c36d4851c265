//! The shipping surface as a user meets it, without network: `--help`, the man page and
//! completions (snapshots), `merge` over report files, and the usage errors of `--spec` and
//! `--output`.

use std::path::Path;
use std::process::Command;

fn egress_probe(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_egress-probe"))
        .args(args)
        .env("COLUMNS", "100")
        .env_remove("AWS_EC2_METADATA_SERVICE_ENDPOINT")
        .env_remove("EGRESS_PROBE_OUTPUT")
        .env_remove("EGRESS_PROBE_FORMAT")
        .env_remove("EGRESS_PROBE_SPEC")
        .output()
        .expect("the binary runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn stdout_of(args: &[&str]) -> String {
    let (code, stdout, stderr) = egress_probe(args);
    assert_eq!(code, 0, "{args:?}: {stderr}");
    stdout
}

fn fixture(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
        .display()
        .to_string()
}

#[test]
fn help_snapshots() {
    insta::assert_snapshot!("help", stdout_of(&["--help"]));
    insta::assert_snapshot!("check_help", stdout_of(&["check", "--help"]));
    insta::assert_snapshot!("merge_help", stdout_of(&["merge", "--help"]));
    insta::assert_snapshot!("generate_help", stdout_of(&["generate", "--help"]));
}

#[test]
fn man_page_and_completions_snapshots() {
    let man = stdout_of(&["generate", "man"]);
    assert!(man.starts_with(".ie \\n(.g .ds Aq \\(aq"), "{man}");
    insta::assert_snapshot!("man_page", man);
    insta::assert_snapshot!(
        "completions_fish",
        stdout_of(&["generate", "completions", "fish"])
    );

    // Every shell clap knows has a script that names the subcommands.
    for shell in ["bash", "zsh", "elvish", "powershell"] {
        let script = stdout_of(&["generate", "completions", shell]);
        assert!(
            script.contains("merge") && script.contains("--spec"),
            "{shell}"
        );
    }
    let (code, _, stderr) = egress_probe(&["generate", "completions", "tcsh"]);
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn man_pages_for_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    stdout_of(&["generate", "man", "--out", dir.path().to_str().unwrap()]);
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for page in [
        "egress-probe.1",
        "egress-probe-check.1",
        "egress-probe-merge.1",
        "egress-probe-generate.1",
    ] {
        assert!(names.iter().any(|n| n == page), "no {page} in {names:?}");
    }
    let check = std::fs::read_to_string(dir.path().join("egress-probe-check.1")).unwrap();
    assert!(check.contains("\\-\\-spec") && check.contains("\\-\\-strict"));
}

#[test]
fn version_names_the_package_version() {
    assert_eq!(
        stdout_of(&["--version"]),
        format!("egress-probe {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn merge_summarizes_files_jsonl_and_ssm_output() {
    let (code, stdout, stderr) = egress_probe(&["merge", "--format", "json", &fixture("merge")]);
    assert_eq!(code, 1, "a host is failing: {stderr}");
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../schemas/merge-v1.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(validator.is_valid(&summary), "{summary:#}");
    assert_eq!(summary["files"], 3);
    assert_eq!(summary["reports"], 4);
    assert_eq!(summary["hosts"], 3);
    assert_eq!(summary["failing"], 1);
    assert_eq!(summary["failing_hosts"][0]["instance_id"], "i-0a");
    let regions: Vec<&str> = summary["by_region"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert_eq!(regions, ["eu-west-1", "us-west-2"]);

    // Only the latest run of i-0b counts, and it is clean.
    let (code, table, _) = egress_probe(&["merge", &fixture("merge/runs.jsonl")]);
    assert_eq!(code, 0);
    let first = "egress-probe fleet summary · 1 hosts · 0 failing · 2 reports in 1 files, \
                 1 older runs left out\n";
    assert!(table.starts_with(first), "{table}");
}

#[test]
fn merge_without_reports_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("x.json"), "{\"hello\": 1}").unwrap();
    let (code, _, stderr) = egress_probe(&["merge", dir.path().to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no check report in 1 file(s)"), "{stderr}");
    let (code, _, _) = egress_probe(&["merge", "/nonexistent/reports"]);
    assert_eq!(code, 2);
}

#[test]
fn bad_spec_and_outputs_stop_before_any_probe() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.toml");
    std::fs::write(&spec, "[[expect]]\npath = \"tunnel\"\n").unwrap();
    for (args, wanted) in [
        (
            vec!["check", "--spec", "/nonexistent/spec.toml"],
            "--spec /nonexistent/spec.toml",
        ),
        (
            vec!["check", "--spec", spec.to_str().unwrap()],
            "\"tunnel\" is not a path verdict",
        ),
        (
            vec!["check", "--output", "json=", "--region", "us-west-2"],
            "no path",
        ),
        (
            vec!["check", "--output", "json=-", "--output", "tap=-"],
            "only one report",
        ),
    ] {
        let (code, stdout, stderr) = egress_probe(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stdout.is_empty());
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(wanted), "{args:?}: {stderr}");
    }
}
