//! `egress-probe flowlogs` end to end: the real binary over fixtures of every format, bad
//! input, gzip and the S3 layout, the JSON checked against the committed schema; and over the
//! public samples in `../shared/data/flowlogs/` when they are present.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/flowlogs")
        .join(name)
        .display()
        .to_string()
}

fn small_ranges() -> String {
    fixture("ip-ranges-small.json")
}

/// Runs the binary with no ip-ranges cache in reach; exit code, stdout, stderr.
fn run(args: &[&str]) -> (i32, String, String) {
    let empty_cache = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_egress-probe"))
        .arg("flowlogs")
        .args(args)
        .env("EGRESS_PROBE_CACHE_DIR", empty_cache.path())
        .env_remove("EGRESS_PROBE_IP_RANGES")
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs with `--format json`, expects exit 0, validates against the schema.
fn json(args: &[&str]) -> Value {
    let mut all = vec!["--format", "json"];
    all.extend(args);
    let (code, stdout, stderr) = run(&all);
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    check_schema(&report);
    report
}

fn check_schema(report: &Value) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/flowlogs.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(report)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "schema: {errors:?}");
}

/// The rows of `list` whose fields equal every `(name, value)` given.
fn rows<'a>(report: &'a Value, list: &str, fields: &[(&str, Value)]) -> Vec<&'a Value> {
    report[list]
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| fields.iter().all(|(name, value)| &row[*name] == value))
        .collect()
}

fn one<'a>(report: &'a Value, list: &str, fields: &[(&str, Value)]) -> &'a Value {
    let found = rows(report, list, fields);
    assert_eq!(found.len(), 1, "{list} {fields:?} in {}", report[list]);
    found[0]
}

#[test]
fn default_v2_rejects_plaintext_cross_region_and_top() {
    let report = json(&[
        "--ip-ranges",
        &small_ranges(),
        "--region",
        "us-west-2",
        &fixture("v2-default.log"),
    ]);
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["records"], 10);
    assert_eq!(report["analysed"], 8);
    assert_eq!(
        (report["nodata"].clone(), report["skipdata"].clone()),
        (1.into(), 1.into())
    );
    assert_eq!(report["bad_lines"], 0);
    assert_eq!(report["time_range"]["start_epoch"], 1_764_504_000);
    assert_eq!(report["time_range"]["end"], "2025-11-30T12:02:40Z");
    assert_eq!(report["files"][0]["format"], "default v2 (14 fields)");

    let nacl = one(
        &report,
        "rejects",
        &[("service", "S3".into()), ("port", 443.into())],
    );
    assert_eq!(nacl["region"], "us-west-2");
    assert_eq!(nacl["direction"], "ingress");
    assert_eq!(nacl["nacl_return_traffic"], true);
    assert_eq!(
        (nacl["flows"].clone(), nacl["bytes"].clone()),
        (2.into(), 300.into())
    );
    let ssh = one(&report, "rejects", &[("port", 22.into())]);
    assert_eq!(ssh["scope"], "internet");
    assert_eq!(ssh["nacl_return_traffic"], false);

    let egress = one(&report, "plaintext", &[("direction", "egress".into())]);
    assert_eq!(
        (egress["service"].clone(), egress["region"].clone()),
        ("S3".into(), "us-east-1".into())
    );
    assert_eq!(egress["bytes"], 471);
    assert_eq!(rows(&report, "plaintext", &[]).len(), 2);

    let cross = rows(
        &report,
        "cross_region",
        &[("log_region", "us-west-2".into())],
    );
    assert_eq!(cross.len(), 3, "{}", report["cross_region"]);
    let ipv6 = one(&report, "cross_region", &[("region", "eu-west-1".into())]);
    assert_eq!(
        (ipv6["direction"].clone(), ipv6["bytes"].clone()),
        ("ingress".into(), 4000.into())
    );
    assert!(rows(&report, "cross_region", &[("region", "GLOBAL".into())]).is_empty());

    let s3 = one(&report, "s3_paths", &[]);
    assert_eq!(
        (s3["traffic_path"].clone(), s3["bytes"].clone()),
        (Value::Null, 471.into())
    );
    let top = &report["top"][0];
    assert_eq!(
        (top["service"].clone(), top["bytes"].clone()),
        ("S3".into(), 15_515.into())
    );
    assert_eq!(
        (top["bytes_egress"].clone(), top["bytes_ingress"].clone()),
        (471.into(), 15_044.into())
    );
}

#[test]
fn without_region_cross_region_is_unknown_and_said_so() {
    let report = json(&["--ip-ranges", &small_ranges(), &fixture("v2-default.log")]);
    assert!(report["cross_region"].as_array().unwrap().is_empty());
    let notes = report["notes"].to_string();
    assert!(notes.contains("--region"), "{notes}");
}

#[test]
fn without_ip_ranges_the_run_goes_on_and_says_attribution_is_unavailable() {
    let report = json(&["--region", "us-west-2", &fixture("v2-default.log")]);
    assert_eq!(report["attribution"]["available"], false);
    assert_eq!(report["analysed"], 8);
    assert!(report["plaintext"].as_array().unwrap().is_empty());
    assert_eq!(rows(&report, "rejects", &[]).len(), 2);
    assert!(
        report["notes"][0]
            .as_str()
            .unwrap()
            .starts_with("attribution unavailable")
    );
    assert_eq!(report["top"][0]["scope"], "unattributed");

    let (code, table, _) = run(&[&fixture("v2-default.log")]);
    assert_eq!(code, 0);
    assert!(table.contains("attribution: unavailable"), "{table}");
}

#[test]
fn the_cache_dir_supplies_ip_ranges_when_no_option_names_them() {
    let cache = tempfile::tempdir().unwrap();
    std::fs::copy(small_ranges(), cache.path().join("ip-ranges.json")).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_egress-probe"))
        .args(["flowlogs", "--format", "json", &fixture("v2-default.log")])
        .env("EGRESS_PROBE_CACHE_DIR", cache.path())
        .env_remove("EGRESS_PROBE_IP_RANGES")
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["attribution"]["available"], true);
    assert_eq!(report["attribution"]["sync_token"], "1764504000");
    let source = report["attribution"]["source"].as_str().unwrap();
    assert!(source.ends_with("ip-ranges.json"), "{source}");
    assert_eq!(rows(&report, "plaintext", &[]).len(), 2);

    let (code, _, stderr) = run(&[
        "--ip-ranges",
        "/nonexistent/ip-ranges.json",
        &fixture("v2-default.log"),
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--ip-ranges"), "{stderr}");
}

#[test]
fn v5_header_s3_traffic_paths_and_disagreements() {
    let report = json(&["--ip-ranges", &small_ranges(), &fixture("v5-header.log")]);
    assert_eq!(report["files"][0]["format"], "header v5 (29 fields) custom");
    let path = |number: u8, region: &str| {
        one(
            &report,
            "s3_paths",
            &[("traffic_path", number.into()), ("region", region.into())],
        )["bytes"]
            .clone()
    };
    assert_eq!(path(1, "us-west-2"), 1000);
    assert_eq!(path(7, "us-west-2"), 2000);
    assert_eq!(path(8, "us-west-2"), 3500);
    assert_eq!(path(2, "us-west-2"), 4000);
    assert_eq!(path(8, "us-east-1"), 700);
    assert!(
        rows(&report, "s3_paths", &[])
            .iter()
            .all(|row| row["interface_role"] == "instance")
    );

    assert_eq!(report["attribution"]["disagreements"], 1);
    let example = report["attribution"]["disagreement_examples"][0]
        .as_str()
        .unwrap();
    assert!(
        example.contains("198.51.100.30") && example.contains("EC2"),
        "{example}"
    );

    let cross = one(&report, "cross_region", &[]);
    assert_eq!(
        (
            cross["log_region"].clone(),
            cross["region"].clone(),
            cross["bytes"].clone()
        ),
        ("us-west-2".into(), "us-east-1".into(), 700.into())
    );
    assert_eq!(one(&report, "plaintext", &[])["bytes"], 700);
}

#[test]
fn nat_gateway_flows_count_once_per_interface_role() {
    let report = json(&["--ip-ranges", &small_ranges(), &fixture("nat-gateway.log")]);
    let nat_out = one(&report, "nat", &[("direction", "egress".into())]);
    assert_eq!(nat_out["interface_id"], "eni-0a1b2c3d4e5f60020");
    assert_eq!(nat_out["recognised_by"], "address-rewrite");
    assert_eq!(
        (nat_out["flows"].clone(), nat_out["bytes"].clone()),
        (1.into(), 1500.into())
    );
    assert_eq!(
        one(&report, "nat", &[("direction", "ingress".into())])["bytes"],
        30_000
    );

    let at = |role: &str| {
        one(
            &report,
            "top",
            &[("interface_role", role.into()), ("scope", "aws".into())],
        )["bytes"]
            .clone()
    };
    assert_eq!(at("instance"), 31_500);
    assert_eq!(at("nat"), 31_500);
    assert_eq!(
        one(&report, "top", &[("interface_role", "managed".into())])["scope"],
        "private"
    );
    let s3_nat = one(&report, "s3_paths", &[("interface_role", "nat".into())]);
    assert_eq!(s3_nat["bytes"], 1500);

    let flagged = json(&[
        "--ip-ranges",
        &small_ranges(),
        "--nat-eni",
        "eni-0a1b2c3d4e5f60020",
        &fixture("nat-gateway.log"),
    ]);
    assert!(
        rows(&flagged, "nat", &[])
            .iter()
            .all(|row| row["recognised_by"] == "--nat-eni")
    );
}

#[test]
fn a_natted_plaintext_flow_to_another_region_counts_once_per_interface_role() {
    // One flow from 10.0.1.5 through the NAT gateway 10.0.0.220 to port 80 of S3 in
    // us-east-1: the instance's interface logs it once each way, the NAT's interface twice
    // each way (instance-facing legs rewritten, internet-facing legs not).
    let log = "version interface-id instance-id srcaddr dstaddr pkt-srcaddr pkt-dstaddr \
        srcport dstport protocol packets bytes start end action log-status
3 eni-i i-01234567890123456 10.0.1.5 203.0.113.70 10.0.1.5 203.0.113.70 40500 80 6 10 1500 1764504000 1764504060 ACCEPT OK
3 eni-i i-01234567890123456 203.0.113.70 10.0.1.5 203.0.113.70 10.0.1.5 80 40500 6 20 30000 1764504000 1764504060 ACCEPT OK
3 eni-n - 10.0.1.5 10.0.0.220 10.0.1.5 203.0.113.70 40500 80 6 10 1500 1764504000 1764504060 ACCEPT OK
3 eni-n - 10.0.0.220 203.0.113.70 10.0.0.220 203.0.113.70 61000 80 6 10 1500 1764504000 1764504060 ACCEPT OK
3 eni-n - 203.0.113.70 10.0.0.220 203.0.113.70 10.0.0.220 80 61000 6 20 30000 1764504000 1764504060 ACCEPT OK
3 eni-n - 10.0.0.220 10.0.1.5 203.0.113.70 10.0.1.5 80 40500 6 20 30000 1764504000 1764504060 ACCEPT OK
";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nat-plaintext.log");
    std::fs::write(&path, log).unwrap();
    let path = path.display().to_string();
    let report = json(&[
        "--ip-ranges",
        &small_ranges(),
        "--region",
        "us-west-2",
        &path,
    ]);
    for list in ["plaintext", "cross_region"] {
        for role in ["instance", "nat"] {
            for (direction, bytes) in [("egress", 1500), ("ingress", 30_000)] {
                let row = one(
                    &report,
                    list,
                    &[
                        ("interface_role", role.into()),
                        ("direction", direction.into()),
                    ],
                );
                assert_eq!(
                    (
                        row["service"].clone(),
                        row["flows"].clone(),
                        row["bytes"].clone()
                    ),
                    ("S3".into(), 1.into(), bytes.into()),
                    "{list} {role} {direction}"
                );
            }
        }
        assert_eq!(rows(&report, list, &[]).len(), 4, "{list}");
    }
}

/// Writes `text` as `name` in `dir`; its path.
fn temp_log(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// Version 3 with the packet addresses, no `flow-direction`.
const V3_HEADER: &str = "version interface-id instance-id srcaddr dstaddr pkt-srcaddr \
    pkt-dstaddr srcport dstport protocol packets bytes start end action log-status\n";

#[test]
fn a_transit_gateway_attachment_is_not_taken_for_a_nat_gateway() {
    // A Transit Gateway attachment's interface logs the flow with the attachment's address
    // in place of the destination, as a NAT's inside legs are, but never an outside leg.
    let log = format!(
        "{V3_HEADER}\
3 eni-i i-1 10.0.1.5 203.0.113.70 10.0.1.5 203.0.113.70 40500 80 6 10 100 1764504000 1764504060 ACCEPT OK
3 eni-t - 10.0.1.5 10.0.3.10 10.0.1.5 203.0.113.70 40500 80 6 10 101 1764504000 1764504060 ACCEPT OK
3 eni-t - 10.0.3.10 10.0.1.5 203.0.113.70 10.0.1.5 80 40500 6 10 201 1764504000 1764504060 ACCEPT OK
"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = temp_log(&dir, "tgw.log", &log);
    let report = json(&["--ip-ranges", &small_ranges(), &path]);
    assert_eq!(rows(&report, "nat", &[]).len(), 0, "{}", report["nat"]);
    for (direction, bytes) in [("egress", 101), ("ingress", 201)] {
        let row = one(
            &report,
            "plaintext",
            &[
                ("interface_role", "managed".into()),
                ("direction", direction.into()),
            ],
        );
        assert_eq!(
            (row["service"].clone(), row["bytes"].clone()),
            ("S3".into(), bytes.into())
        );
    }
}

#[test]
fn a_private_nat_gateway_named_by_nat_eni_keeps_its_outside_legs() {
    // A private NAT gateway translates to a private address: its outside legs have a private
    // remote, but `pkt-*` in the format tell them from the inside legs.
    let log = format!(
        "{V3_HEADER}\
3 eni-p - 10.0.1.5 10.0.0.230 10.0.1.5 172.16.5.5 40500 443 6 10 101 1764504000 1764504060 ACCEPT OK
3 eni-p - 10.0.0.230 172.16.5.5 10.0.0.230 172.16.5.5 61000 443 6 10 102 1764504000 1764504060 ACCEPT OK
3 eni-p - 172.16.5.5 10.0.0.230 172.16.5.5 10.0.0.230 443 61000 6 10 202 1764504000 1764504060 ACCEPT OK
3 eni-p - 10.0.0.230 10.0.1.5 172.16.5.5 10.0.1.5 443 40500 6 10 201 1764504000 1764504060 ACCEPT OK
"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = temp_log(&dir, "private-nat.log", &log);
    let report = json(&["--ip-ranges", &small_ranges(), "--nat-eni", "eni-p", &path]);
    // Both sides private and no flow-direction: the direction is not known, the flow is.
    let top = one(&report, "top", &[("interface_role", "nat".into())]);
    assert_eq!(
        (
            top["scope"].clone(),
            top["flows"].clone(),
            top["bytes"].clone()
        ),
        ("private".into(), 2.into(), 304.into())
    );
    assert_eq!(one(&report, "nat", &[])["bytes"], 304);
}

#[test]
fn a_nat_reply_leg_that_only_pkt_srcaddr_would_show_is_not_counted_beside_its_outside_leg() {
    // With `pkt-dstaddr` alone, the NAT's reply to the instance looks unrewritten; its private
    // remote marks it as the inside leg it is.
    let log =
        "interface-id instance-id srcaddr dstaddr pkt-dstaddr srcport dstport protocol bytes action
eni-n - 10.0.1.5 10.0.0.220 203.0.113.70 40500 443 6 101 ACCEPT
eni-n - 10.0.0.220 203.0.113.70 203.0.113.70 61000 443 6 102 ACCEPT
eni-n - 203.0.113.70 10.0.0.220 10.0.0.220 443 61000 6 202 ACCEPT
eni-n - 10.0.0.220 10.0.1.5 10.0.1.5 443 40500 6 201 ACCEPT
";
    let dir = tempfile::tempdir().unwrap();
    let path = temp_log(&dir, "nat-pkt-dst-only.log", log);
    let report = json(&["--ip-ranges", &small_ranges(), "--nat-eni", "eni-n", &path]);
    let nat: Vec<(Value, Value)> = rows(&report, "nat", &[])
        .iter()
        .map(|row| (row["direction"].clone(), row["bytes"].clone()))
        .collect();
    assert_eq!(
        nat,
        [
            ("ingress".into(), 202.into()),
            ("egress".into(), 102.into())
        ]
    );
    assert_eq!(one(&report, "top", &[])["bytes"], 304);
}

#[test]
fn a_filter_does_not_change_what_an_interface_is() {
    // The NAT shows itself by its accepted legs; a filter keeping only a REJECT still
    // reports that REJECT as the NAT's.
    let log = format!(
        "{V3_HEADER}\
3 eni-n - 10.0.1.5 10.0.0.220 10.0.1.5 203.0.113.70 40500 80 6 10 101 1764504000 1764504060 ACCEPT OK
3 eni-n - 10.0.0.220 203.0.113.70 10.0.0.220 203.0.113.70 61000 80 6 10 102 1764504000 1764504060 ACCEPT OK
3 eni-n - 203.0.113.70 10.0.0.220 203.0.113.70 10.0.0.220 443 62000 6 10 999 1764504000 1764504060 REJECT OK
"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = temp_log(&dir, "nat-filtered.log", &log);
    let report = json(&[
        "--ip-ranges",
        &small_ranges(),
        "--filter",
        "action=REJECT",
        &path,
    ]);
    let nat = one(&report, "nat", &[]);
    assert_eq!(
        (
            nat["recognised_by"].clone(),
            nat["direction"].clone(),
            nat["bytes"].clone()
        ),
        ("address-rewrite".into(), "ingress".into(), 999.into())
    );
}

#[test]
fn ipv6_without_flow_direction_takes_the_vpcs_ec2_address_as_its_own() {
    // A VPC's IPv6 addresses lie in prefixes AWS publishes for EC2; the other side is remote.
    let ranges = r#"{"syncToken": "1", "createDate": "2026-11-30-12-00-00", "prefixes": [],
      "ipv6_prefixes": [
        {"ipv6_prefix": "2001:db8:e000::/40", "region": "us-west-2", "service": "AMAZON", "network_border_group": "us-west-2"},
        {"ipv6_prefix": "2001:db8:e000::/40", "region": "us-west-2", "service": "EC2", "network_border_group": "us-west-2"},
        {"ipv6_prefix": "2001:db8:a::/48", "region": "eu-west-1", "service": "AMAZON", "network_border_group": "eu-west-1"},
        {"ipv6_prefix": "2001:db8:a::/48", "region": "eu-west-1", "service": "S3", "network_border_group": "eu-west-1"}
      ]}"#;
    let log = "\
2 123456789012 eni-1 2001:db8:ff::1 2001:db8:e000::5 443 40002 6 1 60 1764504000 1764504060 REJECT OK
2 123456789012 eni-1 2001:db8:e000::5 2001:db8:a::10 40100 80 6 5 500 1764504000 1764504060 ACCEPT OK
2 123456789012 eni-1 2001:db8:a::10 2001:db8:e000::5 80 40100 6 6 600 1764504000 1764504060 ACCEPT OK
";
    let dir = tempfile::tempdir().unwrap();
    let ranges = temp_log(&dir, "ip-ranges.json", ranges);
    let path = temp_log(&dir, "v6.log", log);
    let report = json(&["--ip-ranges", &ranges, "--region", "us-west-2", &path]);
    let reject = one(&report, "rejects", &[]);
    assert_eq!(
        (
            reject["scope"].clone(),
            reject["direction"].clone(),
            reject["port"].clone()
        ),
        ("internet".into(), "ingress".into(), 443.into())
    );
    for list in ["plaintext", "cross_region"] {
        for (direction, bytes) in [("egress", 500), ("ingress", 600)] {
            let row = one(&report, list, &[("direction", direction.into())]);
            assert_eq!(
                (
                    row["service"].clone(),
                    row["region"].clone(),
                    row["bytes"].clone()
                ),
                ("S3".into(), "eu-west-1".into(), bytes.into()),
                "{list}"
            );
        }
    }
}

#[test]
fn a_nat_eni_without_pkt_fields_counts_its_instance_side_legs_once() {
    let report = json(&[
        "--ip-ranges",
        &small_ranges(),
        "--nat-eni",
        "eni-0a1b2c3d4e5f60020",
        &fixture("nat-gateway-v2.log"),
    ]);
    let nat: Vec<(String, u64)> = rows(&report, "nat", &[])
        .iter()
        .map(|row| {
            (
                format!("{} {}", row["direction"], row["scope"]),
                row["bytes"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        nat,
        [
            ("\"ingress\" \"aws\"".to_string(), 30_000),
            ("\"egress\" \"aws\"".to_string(), 1_500)
        ]
    );
    assert!(
        rows(
            &report,
            "top",
            &[
                ("interface_role", "nat".into()),
                ("scope", "private".into())
            ]
        )
        .is_empty()
    );
    // The instance's interface (no instance-id in version 2: role unknown) and the NAT's
    // internet side each carry the flow once.
    for role in ["unknown", "nat"] {
        assert_eq!(
            one(&report, "top", &[("interface_role", role.into())])["bytes"],
            31_500
        );
    }
}

#[test]
fn cloudwatch_exports_with_timestamps_and_csv() {
    let report = json(&[
        &fixture("cloudwatch-export.log"),
        &fixture("cloudwatch-export.csv"),
    ]);
    assert_eq!(report["records"], 3);
    assert_eq!(report["nodata"], 1);
    assert_eq!(report["bad_lines"], 0, "{}", report["files"]);
    assert_eq!(rows(&report, "rejects", &[("port", 22.into())]).len(), 1);
    assert_eq!(rows(&report, "rejects", &[("port", 3389.into())]).len(), 1);
}

#[test]
fn fields_option_maps_headerless_custom_records() {
    let fields = "interface-id srcaddr dstaddr srcport dstport protocol packets bytes action";
    let report = json(&[
        "--ip-ranges",
        &small_ranges(),
        "--fields",
        fields,
        &fixture("custom-headerless.log"),
    ]);
    assert_eq!(
        report["files"][0]["format"],
        "--fields v2 (9 fields) custom"
    );
    assert_eq!(one(&report, "plaintext", &[])["service"], "S3");

    let unmapped = json(&[&fixture("custom-headerless.log")]);
    assert_eq!(unmapped["bad_lines"], 1);
    assert_eq!(
        unmapped["files"][0]["first_bad_reasons"][0],
        "9 fields where the format has 14"
    );

    let (code, _, stderr) = run(&["--fields", "nope nada", &fixture("custom-headerless.log")]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--fields names no known flow-log field"),
        "{stderr}"
    );
}

#[test]
fn bad_lines_are_counted_with_their_numbers_and_strict_stops_at_the_first() {
    let report = json(&[&fixture("bad-lines.log")]);
    let file = &report["files"][0];
    assert_eq!(file["records"], 2);
    assert_eq!(file["bad_lines"], 3);
    assert_eq!(file["first_bad_lines"], serde_json::json!([3, 4, 5]));
    assert_eq!(
        file["first_bad_reasons"][0],
        "13 fields where the format has 14"
    );
    assert_eq!(file["first_bad_reasons"][2], "srcport `https` is not valid");

    let (code, stdout, stderr) = run(&["--strict", &fixture("bad-lines.log")]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(stderr.contains("bad-lines.log:3: 13 fields"), "{stderr}");
}

#[test]
fn header_naming_no_known_field_marks_the_file_and_others_still_count() {
    let report = json(&[&fixture("unknown-header.log"), &fixture("v2-default.log")]);
    let file = &report["files"][0];
    assert_eq!(file["bad_lines"], 2);
    assert!(
        file["first_bad_reasons"][0]
            .as_str()
            .unwrap()
            .contains("names no known flow-log field")
    );
    assert_eq!(report["files"][1]["records"], 10);
}

#[test]
fn v8_reject_reason_ecs_fields_and_unknown_names() {
    let report = json(&[&fixture("v8-ecs-bpa.log")]);
    let file = &report["files"][0];
    assert_eq!(file["format"], "header v8 (18 fields) custom");
    assert_eq!(file["unknown_fields"], serde_json::json!(["x-custom"]));
    assert_eq!(
        one(&report, "rejects", &[("reject_reason", "BPA".into())])["bytes"],
        180
    );
    assert_eq!(
        one(&report, "rejects", &[("reject_reason", Value::Null)])["port"],
        8080
    );
}

#[test]
fn filters_keep_only_what_they_name() {
    let ranges = small_ranges();
    let v2 = fixture("v2-default.log");
    let with = |filter: &str| {
        let args = [
            "--ip-ranges",
            &ranges,
            "--region",
            "us-west-2",
            "--filter",
            filter,
            &v2,
        ];
        json(&args)
    };
    let rejects = with("action=REJECT");
    assert_eq!(
        (rejects["analysed"].clone(), rejects["filtered_out"].clone()),
        (3.into(), 5.into())
    );
    assert!(rejects["plaintext"].as_array().unwrap().is_empty());

    let s3_east = with("service=S3");
    assert_eq!(s3_east["analysed"], 5);
    assert_eq!(with("region=us-east-1")["analysed"], 2);
    assert_eq!(with("port=22")["analysed"], 1);
    assert_eq!(with("service=internet")["analysed"], 1);
    assert_eq!(with("interface=eni-none")["analysed"], 0);

    let (code, _, stderr) = run(&["--filter", "colour=red", &fixture("v2-default.log")]);
    assert_eq!(code, 2);
    assert!(stderr.contains("unknown filter key"), "{stderr}");
}

fn gzip(parts: &[&[u8]]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for part in parts {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(part).unwrap();
        bytes.extend(encoder.finish().unwrap());
    }
    bytes
}

#[test]
fn s3_layout_gzip_multi_member_gives_the_region() {
    let dir = tempfile::tempdir().unwrap();
    let day = dir
        .path()
        .join("AWSLogs/123456789012/vpcflowlogs/us-west-2/2026/11/30");
    std::fs::create_dir_all(&day).unwrap();
    let text = std::fs::read(fixture("v2-default.log")).unwrap();
    let (first, second) = text.split_at(text.iter().position(|&b| b == b'\n').unwrap() + 1);
    let header = format!("{}\n", egress_probe::flowlogs::format::DEFAULT_V2);
    let body = [header.as_bytes(), first].concat();
    std::fs::write(
        day.join("123456789012_vpcflowlogs_us-west-2_fl-1_20261130T0000Z_ab12.log.gz"),
        gzip(&[&body, second]),
    )
    .unwrap();

    let report = json(&["--ip-ranges", &small_ranges(), dir.path().to_str().unwrap()]);
    let file = &report["files"][0];
    assert_eq!(file["encoding"], "gzip");
    assert_eq!(file["records"], 10);
    assert_eq!(file["layout"]["region"], "us-west-2");
    assert_eq!(file["layout"]["date"], "2026-11-30");
    assert_eq!(rows(&report, "cross_region", &[]).len(), 3);
}

#[test]
fn truncated_gzip_binary_and_empty_files_are_reported_per_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = Vec::new();
    egress_probe::flowlogs::synth::Generator::new(1, Vec::new())
        .write(&mut text, 5000)
        .unwrap();
    let whole = gzip(&[&text]);
    let truncated = dir.path().join("cut.log.gz");
    std::fs::write(&truncated, &whole[..whole.len() * 6 / 10]).unwrap();
    let binary = dir.path().join("binary.bin");
    std::fs::write(
        &binary,
        b"\x7fELF\x02\x01\x01\x00\x00\x00\n\x00\x01\x02\x03 \x04\n",
    )
    .unwrap();
    let empty = dir.path().join("empty.log");
    std::fs::write(&empty, b"").unwrap();

    let report = json(&[
        truncated.to_str().unwrap(),
        binary.to_str().unwrap(),
        empty.to_str().unwrap(),
        &fixture("v2-default.log"),
    ]);
    let files = report["files"].as_array().unwrap();
    let by_name = |name: &str| {
        files
            .iter()
            .find(|f| f["path"].as_str().unwrap().ends_with(name))
            .unwrap()
    };

    let cut = by_name("cut.log.gz");
    assert!(
        cut["error"]
            .as_str()
            .unwrap()
            .starts_with("reading stopped after line"),
        "{cut}"
    );
    let records = cut["records"].as_u64().unwrap();
    assert!(records > 1000 && records < 5000, "{records}");
    assert_eq!(cut["bad_lines"], 1);
    assert_eq!(
        cut["first_bad_reasons"][0],
        "cut off by a truncated or damaged stream"
    );

    let bin = by_name("binary.bin");
    assert_eq!(bin["bad_lines"], 2);
    assert_eq!(bin["first_bad_reasons"][0], "binary data, not text");
    assert_eq!(by_name("empty.log")["error"], "empty");
    assert_eq!(by_name("v2-default.log")["records"], 10);

    let (code, _, _) = run(&["--fail-on", "bad-input", empty.to_str().unwrap()]);
    assert_eq!(code, 1);
}

/// The columns of a default-format record in S3's Parquet delivery: names with `_`, numbers
/// as INT32 or INT64 (as Athena's tables for it read them), text as UTF-8, `-` as null.
const PARQUET_V2: &str = "message flow_log {
    OPTIONAL INT32 version; OPTIONAL BINARY account_id (UTF8); OPTIONAL BINARY interface_id (UTF8);
    OPTIONAL BINARY srcaddr (UTF8); OPTIONAL BINARY dstaddr (UTF8);
    OPTIONAL INT32 srcport; OPTIONAL INT32 dstport; OPTIONAL INT64 protocol;
    OPTIONAL INT64 packets; OPTIONAL INT64 bytes; OPTIONAL INT64 start; OPTIONAL INT64 end;
    OPTIONAL BINARY action (UTF8); OPTIONAL BINARY log_status (UTF8);
}";

/// Writes the default-format `lines` as a gzip-compressed Parquet file, in row groups of
/// `group` rows.
fn write_parquet(path: &Path, lines: &[Vec<&str>], group: usize) {
    write_parquet_groups(path, lines, group, PARQUET_V2);
}

/// [`write_parquet`] in one row group, with the columns of `schema` (version 2's, renamed).
fn write_parquet_schema(path: &Path, lines: &[Vec<&str>], schema: &str) {
    write_parquet_groups(path, lines, lines.len(), schema);
}

fn write_parquet_groups(path: &Path, lines: &[Vec<&str>], group: usize, schema: &str) {
    use parquet::basic::{Compression, GzipLevel};
    use parquet::data_type::{ByteArray, ByteArrayType, Int32Type, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;
    use std::sync::Arc;

    let schema = Arc::new(parse_message_type(schema).unwrap());
    let properties = WriterProperties::builder()
        .set_compression(Compression::GZIP(GzipLevel::default()))
        .build();
    let file = std::fs::File::create(path).unwrap();
    let mut writer = SerializedFileWriter::new(file, schema, Arc::new(properties)).unwrap();
    for rows in lines.chunks(group) {
        let mut row_group = writer.next_row_group().unwrap();
        let mut column = 0;
        while let Some(mut writer) = row_group.next_column().unwrap() {
            let values: Vec<&str> = rows.iter().map(|row| row[column]).collect();
            let levels: Vec<i16> = values.iter().map(|v| i16::from(*v != "-")).collect();
            let present = values.iter().filter(|v| **v != "-");
            match column {
                0 | 5 | 6 => {
                    let numbers: Vec<i32> = present.map(|v| v.parse().unwrap()).collect();
                    let typed = writer.typed::<Int32Type>();
                    typed.write_batch(&numbers, Some(&levels), None).unwrap();
                }
                7..=11 => {
                    let numbers: Vec<i64> = present.map(|v| v.parse().unwrap()).collect();
                    let typed = writer.typed::<Int64Type>();
                    typed.write_batch(&numbers, Some(&levels), None).unwrap();
                }
                _ => {
                    let texts: Vec<ByteArray> = present.map(|v| ByteArray::from(*v)).collect();
                    let typed = writer.typed::<ByteArrayType>();
                    typed.write_batch(&texts, Some(&levels), None).unwrap();
                }
            }
            writer.close().unwrap();
            column += 1;
        }
        row_group.close().unwrap();
    }
    writer.close().unwrap();
}

/// The report without its per-file part, which names the input.
fn findings(mut report: Value) -> Value {
    report.as_object_mut().unwrap().remove("files");
    report
}

#[test]
fn parquet_delivery_reports_what_its_text_reports() {
    let text = std::fs::read_to_string(fixture("v2-default.log")).unwrap();
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split(' ').collect()).collect();
    let dir = tempfile::tempdir().unwrap();
    let parquet = dir.path().join("flows.log.parquet");
    write_parquet(&parquet, &lines, 4);
    let parquet = parquet.to_str().unwrap();
    let ranges = small_ranges();

    let from_text = json(&["--ip-ranges", &ranges, &fixture("v2-default.log")]);
    let from_parquet = json(&["--ip-ranges", &ranges, parquet]);
    let file = &from_parquet["files"][0];
    assert_eq!(file["encoding"], "parquet");
    assert_eq!(file["format"], "header v2 (14 fields)");
    assert_eq!(file["records"], 10);
    assert_eq!(file["bad_lines"], 0);
    assert_eq!(file["error"], Value::Null);
    assert_eq!(from_parquet["nodata"], 1);
    assert!(!from_parquet["rejects"].as_array().unwrap().is_empty());
    assert_eq!(findings(from_parquet), findings(from_text));

    let stdin = std::fs::File::open(parquet).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_egress-probe"))
        .args(["flowlogs", "--format", "json", "--ip-ranges", &ranges, "-"])
        .env("EGRESS_PROBE_CACHE_DIR", dir.path())
        .stdin(stdin)
        .output()
        .unwrap();
    let from_stdin: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(from_stdin["files"][0]["encoding"], "parquet");
    assert_eq!(from_stdin["records"], 10);
}

#[test]
fn a_bad_parquet_row_is_a_bad_line_numbered_after_the_header() {
    let good = "2 123456789012 eni-a 10.0.1.5 203.0.113.9 40000 443 6 1 60 1764504000 1764504060 ACCEPT OK";
    let bad = "2 123456789012 eni-a 10.0.1.5 not-an-address 40000 443 6 1 60 1764504000 1764504060 ACCEPT OK";
    let lines: Vec<Vec<&str>> = [good, good, bad, good]
        .iter()
        .map(|l| l.split(' ').collect())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let parquet = dir.path().join("flows.parquet");
    write_parquet(&parquet, &lines, 2);
    let report = json(&[parquet.to_str().unwrap()]);
    let file = &report["files"][0];
    assert_eq!(file["records"], 3);
    assert_eq!(file["bad_lines"], 1);
    assert_eq!(file["first_bad_lines"], serde_json::json!([4]));
}

#[test]
fn a_damaged_parquet_file_is_an_error_beside_good_input() {
    let dir = tempfile::tempdir().unwrap();
    let parquet = dir.path().join("flows.log.parquet");
    std::fs::write(&parquet, b"PAR1\x15\x04\x15\x10").unwrap();
    std::fs::copy(fixture("v2-default.log"), dir.path().join("text.log")).unwrap();
    let report = json(&[dir.path().to_str().unwrap()]);
    let damaged = &report["files"][0];
    let error = damaged["error"].as_str().unwrap();
    assert!(error.starts_with("cannot read: Parquet: "), "{error}");
    assert_eq!(damaged["records"], 0);
    assert_eq!(report["files"][1]["records"], 10);

    let text = std::fs::read_to_string(fixture("v2-default.log")).unwrap();
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split(' ').collect()).collect();
    let whole = dir.path().join("whole.parquet");
    write_parquet(&whole, &lines, 10);
    let bytes = std::fs::read(&whole).unwrap();
    std::fs::write(&parquet, &bytes[..bytes.len() - 20]).unwrap();
    let report = json(&[parquet.to_str().unwrap()]);
    let error = report["files"][0]["error"].as_str().unwrap();
    assert!(error.starts_with("cannot read: Parquet: "), "{error}");
}

#[test]
fn strict_makes_a_parquet_file_cut_short_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("v2-default.log")).unwrap();
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split(' ').collect()).collect();
    let whole = dir.path().join("whole.parquet");
    write_parquet(&whole, &lines, 10);
    let bytes = std::fs::read(&whole).unwrap();
    let cut = dir.path().join("cut.log.parquet");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let (code, _, stderr) = run(&["--strict", cut.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("cut.log.parquet: cannot read: Parquet: ") && stderr.contains("(--strict)"),
        "{stderr}"
    );
}

#[test]
fn parquet_column_names_in_capitals_are_the_fields_they_name() {
    // Version 2's columns named in capitals: the schema is the header, not a bad line.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("v2-default.log")).unwrap();
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split(' ').collect()).collect();
    let path = dir.path().join("upper.parquet");
    write_parquet_schema(
        &path,
        &lines,
        &PARQUET_V2.to_uppercase().replace("MESSAGE", "message"),
    );
    let report = json(&["--ip-ranges", &small_ranges(), path.to_str().unwrap()]);
    let expected = json(&["--ip-ranges", &small_ranges(), &fixture("v2-default.log")]);
    assert_eq!(report["files"][0]["bad_lines"], 0);
    assert_eq!(findings(report), findings(expected));
}

#[test]
fn stdin_and_fail_on_exit_codes() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_egress-probe"))
        .args([
            "flowlogs",
            "--format",
            "json",
            "--fail-on",
            "rejects,plaintext",
            "-",
        ])
        .env(
            "EGRESS_PROBE_CACHE_DIR",
            tempfile::tempdir().unwrap().path(),
        )
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let text = std::fs::read(fixture("cloudwatch-export.log")).unwrap();
    child.stdin.take().unwrap().write_all(&text).unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["files"][0]["path"], "-");
    assert_eq!(report["records"], 2);

    let (code, _, _) = run(&[
        "--fail-on",
        "cross-region",
        &fixture("cloudwatch-export.log"),
    ]);
    assert_eq!(code, 0);
    let (code, _, stderr) = run(&["/nonexistent/flows.log"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("/nonexistent/flows.log"), "{stderr}");
}

#[test]
fn table_shows_every_section_and_the_nacl_flag() {
    let (code, table, _) = run(&[
        "--ip-ranges",
        &small_ranges(),
        "--region",
        "us-west-2",
        &fixture("v2-default.log"),
    ]);
    assert_eq!(code, 0);
    for heading in [
        "REJECTed traffic",
        "Plaintext HTTP (port 80) with AWS services",
        "Traffic with other regions",
        "S3 egress by traffic path",
        "NAT gateway interfaces",
        "Top talkers",
    ] {
        assert!(table.contains(heading), "{heading} missing from\n{table}");
    }
    assert!(table.contains("NACL return traffic?"), "{table}");
    assert!(
        table.starts_with("1 files, 10 records (8 analysed, 1 NODATA, 1 SKIPDATA"),
        "{table}"
    );
}

/// The public samples, read in place; absent samples are skipped with a message.
fn sample(name: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/flowlogs")
        .join(name);
    if path.exists() {
        Some(path)
    } else {
        eprintln!("skipping: {} is absent", path.display());
        None
    }
}

fn real_ranges() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/ip-ranges/ip-ranges-2026-08-22.json");
    path.exists().then_some(path)
}

#[test]
fn real_samples_v2_records_and_extra_samples() {
    let (Some(v2), Some(extra)) = (
        sample("obsrvbl_flowlogs-reader_V2_RECORDS.log"),
        sample("elastic-integrations_test-extra-samples.log"),
    ) else {
        return;
    };
    let report = json(&[v2.to_str().unwrap(), extra.to_str().unwrap()]);
    assert_eq!(report["files"][0]["records"], 5);
    assert_eq!(report["files"][1]["records"], 7);
    assert_eq!(
        (report["nodata"].clone(), report["skipdata"].clone()),
        (2.into(), 2.into())
    );
    assert_eq!(report["bad_lines"], 0);
    let icmp = one(&report, "rejects", &[("protocol", 1.into())]);
    assert_eq!(
        (icmp["direction"].clone(), icmp["bytes"].clone()),
        ("egress".into(), 336.into())
    );
}

#[test]
fn real_sample_s3_object_with_nodata_only() {
    let Some(path) = sample("otel-contrib-issue-38861_s3-object-content.log") else {
        return;
    };
    let report = json(&[path.to_str().unwrap()]);
    assert_eq!(
        (report["records"].clone(), report["nodata"].clone()),
        (2.into(), 2.into())
    );
    assert_eq!(report["analysed"], 0);
    assert_eq!(report["files"][0]["format"], "header v2 (14 fields)");
    assert_eq!(report["time_range"]["start_epoch"], 1_742_569_968);
}

#[test]
fn real_samples_alphabetical_headers_and_a_bogus_line() {
    let (Some(v3), Some(v4), Some(v5)) = (
        sample("obsrvbl_flowlogs-reader_V3_FILE.log"),
        sample("obsrvbl_flowlogs-reader_V4_FILE.log"),
        sample("obsrvbl_flowlogs-reader_V5_FILE.log"),
    ) else {
        return;
    };
    let mut args = vec![
        v3.to_str().unwrap(),
        v4.to_str().unwrap(),
        v5.to_str().unwrap(),
    ];
    let ranges = real_ranges();
    if let Some(ranges) = &ranges {
        args.extend(["--ip-ranges", ranges.to_str().unwrap()]);
    }
    let report = json(&args);
    let files = report["files"].as_array().unwrap();
    assert_eq!(files[0]["format"], "header v3 (18 fields) custom");
    assert_eq!(files[1]["format"], "header v4 (22 fields) custom");
    assert_eq!(files[2]["records"], 2);
    assert_eq!(files[2]["first_bad_lines"], serde_json::json!([4]));

    let s3 = one(&report, "s3_paths", &[]);
    assert_eq!(s3["traffic_path"], 7);
    assert_eq!(s3["interface_role"], "instance");
    assert_eq!(s3["bytes"], 3015);
    if ranges.is_some() {
        // The sample's documentation addresses are not AWS's: both S3 labels disagree.
        assert_eq!(report["attribution"]["disagreements"], 2);
    }
}

#[test]
fn real_sample_v5_all_fields_with_fields_option() {
    let Some(path) = sample("elastic-integrations_test-v5-all-fields.log") else {
        return;
    };
    let fields = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets \
                  bytes start end action log-status vpc-id subnet-id instance-id tcp-flags type \
                  pkt-srcaddr pkt-dstaddr region az-id sublocation-type sublocation-id \
                  pkt-src-aws-service pkt-dst-aws-service flow-direction traffic-path";
    let report = json(&["--fields", fields, path.to_str().unwrap()]);
    assert_eq!(report["records"], 1);
    let reject = one(&report, "rejects", &[]);
    assert_eq!(reject["direction"], "ingress");
    assert_eq!(reject["service"], "AMAZON");
    assert_eq!(reject["protocol"], 17);
}

#[test]
fn start_in_milliseconds_is_a_bad_line_not_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ms.log");
    std::fs::write(
        &path,
        "2 1 eni-1 10.0.0.1 52.92.16.1 5 80 6 1 1 2000000000000 1 ACCEPT OK\n",
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_egress-probe"))
        .args(["flowlogs", "--format", "json", path.to_str().unwrap()])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["bad_lines"], 1);
    assert_eq!(report["records"], 0);
}

#[test]
fn a_directory_link_back_up_is_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(logs.join("sub")).unwrap();
    std::fs::write(
        logs.join("a.log"),
        "2 123456789012 eni-1 10.0.0.1 52.92.16.1 5 80 6 1 40 1700000000 1700000060 ACCEPT OK\n",
    )
    .unwrap();
    std::os::unix::fs::symlink("..", logs.join("sub").join("loop")).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_egress-probe"))
        .args(["flowlogs", "--format", "json", logs.to_str().unwrap()])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["records"], 1, "each file once");
    assert_eq!(report["files"].as_array().unwrap().len(), 1);
}

#[test]
fn a_region_that_is_no_region_name_is_a_usage_error() {
    let (code, _, stderr) = run(&["--region", "us-west2", &fixture("v2-default.log")]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--region `us-west2` is not a region name"),
        "{stderr}"
    );
}

/// Writes `bytes` to a file in a fresh directory; the directory lives as long as the result.
fn scratch(bytes: &[u8]) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flows.log");
    std::fs::write(&path, bytes).unwrap();
    let path = path.display().to_string();
    (dir, path)
}

const RECORD: &str = "2 123456789010 eni-aaaa 10.0.0.5 203.0.113.11 40000 80 6 10 1000 1700000000 1700000060 ACCEPT OK";

#[test]
fn a_word_like_first_line_is_one_bad_line_not_a_lost_file() {
    let (_dir, path) = scratch(format!("hello world\n{RECORD}\n").as_bytes());
    let report = json(&[&path]);
    let file = &report["files"][0];
    assert_eq!(
        (file["records"].clone(), file["bad_lines"].clone()),
        (1.into(), 1.into())
    );
    assert_eq!(file["first_bad_lines"], serde_json::json!([1]));
}

#[test]
fn a_byte_order_mark_before_the_header_is_skipped() {
    let header = "version account-id interface-id srcaddr dstaddr srcport dstport protocol \
                  packets bytes start end action log-status";
    let (_dir, path) = scratch(format!("\u{feff}{header}\n{RECORD}\n").as_bytes());
    let report = json(&[&path]);
    let file = &report["files"][0];
    assert_eq!(
        (file["records"].clone(), file["bad_lines"].clone()),
        (1.into(), 0.into())
    );
    assert!(
        file["format"].as_str().unwrap().starts_with("header"),
        "{file}"
    );
}

#[test]
fn a_first_header_after_records_is_said_as_another_header() {
    let custom = "srcaddr dstaddr dstport bytes";
    let text = format!("{RECORD}\n{custom}\n10.0.0.1 203.0.113.9 443 100\n");
    let (_dir, path) = scratch(text.as_bytes());
    let report = json(&[&path]);
    let file = &report["files"][0];
    assert_eq!(file["records"], 2);
    assert_eq!(file["format"], "default v2 (14 fields) (and other headers)");
    assert_eq!(file["fields"].as_array().unwrap().len(), 14);
}

#[test]
fn time_range_stays_in_order_when_a_record_ends_before_it_starts() {
    let text = "2 123456789012 eni-a 10.0.0.1 203.0.113.9 49152 443 6 1 60 1764504078 1764504018 \
                ACCEPT OK\n";
    let (_dir, path) = scratch(text.as_bytes());
    let report = json(&[&path]);
    assert_eq!(report["time_range"]["start_epoch"], 1_764_504_018);
    assert_eq!(report["time_range"]["end_epoch"], 1_764_504_078);
}

#[test]
fn other_headers_are_said_once_and_a_bad_header_reason_is_short() {
    let a = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets \
             bytes start end action log-status";
    let b = "version interface-id srcaddr dstaddr srcport dstport protocol packets bytes start \
             end action log-status";
    let long_header = format!("srcaddr srcaddr {}", "z".repeat(5000));
    let text = format!("{a}\n{RECORD}\n{b}\n{a}\n{b}\n{long_header}\n");
    let (_dir, path) = scratch(text.as_bytes());
    let report = json(&[&path]);
    let file = &report["files"][0];
    let format = file["format"].as_str().unwrap();
    assert_eq!(format.matches("(and other headers)").count(), 1, "{format}");
    let reason = file["first_bad_reasons"][0].as_str().unwrap();
    assert!(
        reason.starts_with("header names `srcaddr` twice"),
        "{reason}"
    );

    let letters = |n: u32| -> String {
        [n / 676, n / 26 % 26, n % 26]
            .iter()
            .map(|&d| char::from(b'a' + d as u8))
            .collect()
    };
    let names: Vec<String> = (0..1000).map(letters).collect();
    let (_dir, path) = scratch(format!("{}\n{RECORD}\n", names.join(" ")).as_bytes());
    let report = json(&[&path]);
    let reason = report["files"][0]["first_bad_reasons"][0].as_str().unwrap();
    assert!(
        reason.starts_with("header names no known flow-log field (`aaa aab"),
        "{reason}"
    );
    assert!(
        reason.ends_with('…') && reason.chars().count() < 200,
        "{reason}"
    );
}

#[test]
fn a_file_named_twice_is_read_once() {
    let v2 = fixture("v2-default.log");
    let dir = Path::new(&v2).parent().unwrap().display().to_string();
    let once = json(&[&v2]);
    let twice = json(&[&v2, &v2, &format!("{dir}/../flowlogs/v2-default.log")]);
    assert_eq!(twice["records"], once["records"]);
    assert_eq!(twice["files"].as_array().unwrap().len(), 1);
}

#[test]
fn a_terminal_escape_in_a_field_is_a_bad_line_not_table_output() {
    let text = b"interface-id srcaddr dstaddr bytes action pkt-dst-aws-service\n\
                 eni-1 10.0.0.1 203.0.113.11 100 ACCEPT S3\x1b[2J\x1b]0;pwned\x07\n\
                 eni-2\x00 10.0.0.1 203.0.113.11 100 ACCEPT S3\n\
                 eni-3 10.0.0.1 203.0.113.11 100 ACCEPT S3\n";
    let (_dir, path) = scratch(text);
    let (code, table, _) = run(&[&path]);
    assert_eq!(code, 0);
    assert!(
        !table.contains('\x1b') && !table.contains('\0'),
        "{table:?}"
    );
    let report = json(&[&path]);
    let file = &report["files"][0];
    assert_eq!(
        (file["records"].clone(), file["bad_lines"].clone()),
        (1.into(), 2.into())
    );
    assert_eq!(file["first_bad_reasons"][0], "binary data, not text");
}

#[test]
fn strict_fails_on_a_gzip_input_cut_at_a_line_boundary() {
    let text = std::fs::read(fixture("v2-default.log")).unwrap();
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), Default::default());
    encoder.write_all(&text).unwrap();
    let mut bytes = encoder.finish().unwrap();
    bytes.truncate(bytes.len() - 8);
    let (_dir, path) = scratch(&bytes);
    let (code, _, _) = run(&[&path]);
    assert_eq!(code, 0);
    let (code, _, stderr) = run(&["--strict", &path]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("flows.log:11:"), "{stderr}");
}

#[test]
fn a_path_with_a_terminal_escape_is_shown_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a\u{1b}]0;t\u{7}b.log");
    std::fs::write(&path, b"2 1 eni-1 x\n").unwrap();
    let dir_name = dir.path().display().to_string();
    let (_, table, _) = run(&[&dir_name]);
    assert!(
        table.contains("a\\u{1b}]0;t\\u{7}b.log: 1 bad lines"),
        "{table:?}"
    );
    let (code, _, stderr) = run(&["--strict", &dir_name]);
    assert_eq!(code, 2);
    assert!(
        !stderr.contains('\u{1b}') && stderr.contains("\\u{1b}"),
        "{stderr:?}"
    );
}
