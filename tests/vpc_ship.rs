//! Bake, cron and fleet outputs end to end in the simulated VPC: a spec run writing JUnit,
//! TAP, Prometheus and JSON Lines at once, `--strict`, and `merge` over the runs. Needs root;
//! skips with a message otherwise.

mod common;

use std::collections::BTreeMap;

use common::vpc::{Options, World};
use serde_json::Value;

const SPEC: &str = r#"
buckets = ["photos"]

[[expect]]
name = "regional S3 stays in region"
targets = ["s3-regional", "s3-dualstack"]
regions = "instance"

[[expect]]
plaintext = false

[[expect]]
targets = ["s3-regional", "al2023-repo"]
path = "gateway-endpoint"

[[expect]]
targets = ["s3-regional", "bucket:photos"]
reachable = true

[[expect]]
name = "a name this run does not probe"
targets = ["not-in-this-catalog"]
reachable = true
"#;

/// Counts elements by name in a document that must be well-formed XML.
fn xml_counts(xml: &str) -> BTreeMap<String, usize> {
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut counts = BTreeMap::new();
    loop {
        match reader.read_event().expect("well-formed JUnit XML") {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                *counts.entry(e.name().into_inner().to_string()).or_default() += 1;
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    counts
}

fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn spec_run_writes_junit_tap_prometheus_and_jsonl_at_once() {
    let Some(world) = World::up("sbake", &Options::new().bucket("photos", "public")) else {
        return;
    };
    let dir = world.state_dir().join("ship");
    // A failed earlier run keeps its state directory: start from nothing.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let spec = dir.join("bake.toml");
    std::fs::write(&spec, SPEC).unwrap();
    let at = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let outputs = [
        format!("junit={}", at("junit.xml")),
        format!("prometheus={}", at("egress-probe.prom")),
        format!("jsonl={}", at("runs.jsonl")),
        format!("json={}", at("report.json")),
        "tap=-".to_string(),
    ];
    let mut args: Vec<&str> = vec!["--spec", spec.to_str().unwrap()];
    for output in &outputs {
        args.extend(["--output", output.as_str()]);
    }

    // Every expectation holds in the healthy world; the one on a name not probed skips, and a
    // skip leaves the exit code alone.
    let run = world.run_check(&args);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(at("report.json")).unwrap()).unwrap();
    let schema: Value =
        serde_json::from_str(include_str!("../src/report/check.schema.json")).unwrap();
    let errors: Vec<String> = jsonschema::validator_for(&schema)
        .unwrap()
        .iter_errors(&report)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let spec_block = &report["spec"];
    let statuses: BTreeMap<&str, &str> = spec_block["expectations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["id"].as_str().unwrap(), e["status"].as_str().unwrap()))
        .collect();
    assert_eq!(statuses["regions s3-regional"], "pass");
    assert_eq!(statuses["reachable s3-regional:443"], "pass");
    assert_eq!(statuses["reachable bucket:photos:443"], "pass");
    // The in-region S3 name goes straight to the S3 namespace: a gateway endpoint's route.
    assert_eq!(statuses["path s3-regional"], "pass");
    assert_eq!(statuses["plaintext s3-regional"], "pass");
    assert_eq!(spec_block["fail"], 0);
    let (expectations, skipped) = (
        statuses.len(),
        spec_block["skip"].as_u64().unwrap() as usize,
    );
    assert_eq!(
        skipped, 1,
        "only the expectation on a name not probed skips"
    );
    assert_eq!(statuses["path al2023-repo"], "pass");
    let regional = report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "s3-regional")
        .unwrap();
    assert_eq!(regional["path"]["verdict"], "gateway-endpoint");

    // JUnit: one case per expectation, the host and each target; the skips marked.
    let junit = std::fs::read_to_string(at("junit.xml")).unwrap();
    let counts = xml_counts(&junit);
    let targets = report["targets"].as_array().unwrap().len();
    assert_eq!(counts["testsuite"], 2);
    assert_eq!(counts["testcase"], expectations + 1 + targets);
    assert_eq!(counts["skipped"], 1);
    assert_eq!(counts.get("failure"), None);

    // TAP on stdout: the same points.
    assert!(run.stdout.starts_with(&format!(
        "TAP version 13\n1..{}\n",
        expectations + 1 + targets
    )));
    assert_eq!(run.stdout.matches(" # SKIP ").count(), 1);

    // Prometheus: a complete file, readable by another user, no temporary left behind.
    let prom = std::fs::read_to_string(at("egress-probe.prom")).unwrap();
    assert_eq!(
        metric(
            &prom,
            "egress_probe_target_up{target=\"s3-regional\",port=\"443\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &prom,
            "egress_probe_findings{kind=\"unreachable\",severity=\"fail\"}"
        ),
        Some(0.0)
    );
    assert_eq!(
        metric(&prom, "egress_probe_expectations{status=\"skip\"}"),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &prom,
            "egress_probe_target_path{target=\"s3-regional\",verdict=\"gateway-endpoint\"}"
        ),
        Some(1.0)
    );
    assert!(metric(&prom, "egress_probe_ip_ranges_age_seconds").unwrap() > 0.0);
    assert!(metric(&prom, "egress_probe_run_duration_seconds").unwrap() > 0.0);
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // --strict: the same skips fail the run, and JUnit shows them as failures.
    args.push("--strict");
    let run = world.run_check(&args);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let counts = xml_counts(&std::fs::read_to_string(at("junit.xml")).unwrap());
    assert_eq!(
        (counts.get("failure"), counts.get("skipped")),
        (Some(&1), None)
    );
    let prom = std::fs::read_to_string(at("egress-probe.prom")).unwrap();
    assert_eq!(metric(&prom, "egress_probe_exit_code"), Some(1.0));

    // Two runs appended whole; merge keeps the latest of the instance.
    let lines = std::fs::read_to_string(at("runs.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 2);
    let run = world.run_probe(&["merge", "--format", "json", &at("runs.jsonl")]);
    assert_eq!(
        run.code, 1,
        "the latest run failed under --strict: {}",
        run.stderr
    );
    let summary: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        (summary["reports"].as_u64(), summary["hosts"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(
        summary["failing_hosts"][0]["instance_id"],
        "i-0123456789abcdef0"
    );
}

#[test]
fn failed_expectation_fails_the_run_and_names_the_region() {
    let Some(world) = World::up("sregion", &Options::new()) else {
        return;
    };
    let spec = world.state_dir().join("global.toml");
    std::fs::write(
        &spec,
        "[[expect]]\ntargets = \"s3-global\"\nregions = \"instance\"\n",
    )
    .unwrap();
    let junit = world.state_dir().join("junit.xml");
    let junit_output = format!("junit={}", junit.display());
    let run = world.run_check(&[
        "--spec",
        spec.to_str().unwrap(),
        "--output",
        &junit_output,
        "--output",
        "json=-",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json.expect("JSON on stdout");
    assert_eq!(
        report["summary"]["fail"], 0,
        "no failing finding: the spec alone fails"
    );
    assert_eq!(report["summary"]["exit_code"], 1);
    let expectation = &report["spec"]["expectations"][0];
    assert_eq!(expectation["status"], "fail");
    assert_eq!(
        expectation["reason"],
        "reaches us-east-1 (allowed: us-west-2)"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml_counts(&xml)["failure"], 1);
    assert!(xml.contains("message=\"reaches us-east-1 (allowed: us-west-2)\" type=\"regions\""));
}
