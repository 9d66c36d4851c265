//! `egress-probe ranges` as scripts and operators meet it: the real binary on fixture files,
//! the JSON checked against the committed schemas, and `update` against a loopback server.

use std::io::{Read, Write};
use std::net::{IpAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;

use ipnet::IpNet;
use serde_json::Value;

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/ip-ranges")
        .join(name)
        .display()
        .to_string()
}

/// Runs the binary with no cache and no download unless the arguments say otherwise.
fn ranges(args: &[&str]) -> (i32, String, String) {
    let cache = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_egress-probe"))
        .arg("ranges")
        .args(args)
        .env("EGRESS_PROBE_CACHE_DIR", cache.path())
        .env("NO_COLOR", "1")
        .env_remove("EGRESS_PROBE_IP_RANGES")
        .env_remove("AWS_EC2_METADATA_SERVICE_ENDPOINT")
        .output()
        .expect("the binary runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn json_of(args: &[&str]) -> Value {
    let (code, stdout, stderr) = ranges(args);
    assert_eq!(code, 0, "{args:?}: {stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|err| panic!("{err}: {stdout}"))
}

fn assert_schema(schema_file: &str, document: &Value) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/ranges/schema")
        .join(schema_file);
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(document)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}\n{document:#}");
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// Addresses in a CIDR.
fn size(net: &IpNet) -> u128 {
    let host = net.max_prefix_len() - net.prefix_len();
    if host == 128 {
        u128::MAX
    } else {
        1u128 << host
    }
}

/// Checks, without the program's own interval code, that `cover` contains every exact CIDR
/// and admits exactly `extra` addresses more.
fn assert_cover(exact: &[IpNet], cover: &[IpNet], extra: u128) {
    for net in exact {
        assert!(
            cover.iter().any(|c| c.contains(net)),
            "{net} is not covered by {cover:?}"
        );
    }
    for (i, a) in cover.iter().enumerate() {
        for b in &cover[i + 1..] {
            assert!(!a.contains(b) && !b.contains(a), "{a} and {b} overlap");
        }
    }
    let admitted: u128 = cover.iter().map(size).sum();
    let selected: u128 = exact.iter().map(size).sum();
    assert_eq!(admitted - selected, extra);
}

#[test]
fn exact_list_as_json_names_its_data_and_validates() {
    let current = fixture("current.json");
    let doc = json_of(&[
        "--ip-ranges",
        &current,
        "list",
        "--service",
        "s3",
        "--region",
        "us-east-1",
        "--format",
        "json",
    ]);
    assert_schema("list.schema.json", &doc);
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["sync_token"], "1787411825");
    assert_eq!(doc["create_date"], "2026-08-22-15-17-05");
    assert_eq!(doc["source"]["kind"], "file");
    assert_eq!(doc["selection"]["services"][0], "S3");
    assert_eq!(doc["exact_count"], 8);
    assert_eq!(
        strings(&doc["cidrs"]),
        [
            "3.5.0.0/19",
            "16.182.0.0/16",
            "18.34.0.0/19",
            "18.34.232.0/21",
            "52.216.0.0/15",
            "54.231.0.0/16",
            "2600:1fa0:8000::/39",
            "2600:1ff8::/31",
        ]
    );
    assert!(doc.get("extra_addresses").is_none());
}

#[test]
fn nacl_budget_counts_rules_per_port_range_and_reports_the_exact_extra_space() {
    let current = fixture("current.json");
    let doc = json_of(&[
        "--ip-ranges",
        &current,
        "list",
        "--service",
        "S3",
        "--region",
        "us-east-1",
        "--ipv4",
        "--nacl",
        "--reserve",
        "14",
        "--ports",
        "443,80",
        "--format",
        "json",
    ]);
    assert_schema("list.schema.json", &doc);
    assert_eq!(doc["budget"]["rules_per_direction"], 6);
    assert_eq!(doc["budget"]["port_ranges"], 2);
    assert_eq!(doc["budget"]["cidrs_per_family"], 3);
    let cover: Vec<IpNet> = strings(&doc["cidrs"])
        .iter()
        .map(|c| c.parse().unwrap())
        .collect();
    assert_eq!(cover.len(), 3);
    let exact: Vec<IpNet> = [
        "3.5.0.0/19",
        "16.182.0.0/16",
        "18.34.0.0/19",
        "18.34.232.0/21",
        "52.216.0.0/15",
        "54.231.0.0/16",
    ]
    .iter()
    .map(|c| c.parse().unwrap())
    .collect();
    let extra: u128 = doc["extra_addresses"].as_str().unwrap().parse().unwrap();
    assert_cover(&exact, &cover, extra);
    let owners = &doc["extra_owners"];
    let aws: u128 = owners["aws"].as_str().unwrap().parse().unwrap();
    let not_aws: u128 = owners["not_aws"].as_str().unwrap().parse().unwrap();
    assert_eq!(aws + not_aws, extra);
    // 18.34.32.0/20 is EC2 and falls inside any block joining the two 18.34 prefixes.
    let services: Vec<&str> = owners["by_service"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["service"].as_str().unwrap())
        .collect();
    assert!(services.contains(&"EC2"), "{owners:#}");
}

#[test]
fn nacl_json_holds_both_directions_for_the_aws_cli() {
    let current = fixture("current.json");
    let (code, stdout, stderr) = ranges(&[
        "--ip-ranges",
        &current,
        "list",
        "--service",
        "S3",
        "--region",
        "GLOBAL",
        "--ports",
        "80,443",
        "--format",
        "nacl-json",
        "--ephemeral",
        "32768-61000",
        "--first-rule",
        "200",
        "--rule-step",
        "5",
        "--nacl-id",
        "acl-0123",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("syncToken 1787411825"), "{stderr}");
    let entries: Vec<Value> = serde_json::from_str(&stdout).unwrap();
    let summary: Vec<String> = entries
        .iter()
        .map(|e| {
            format!(
                "{} {} {} {}-{} {} {}",
                e["RuleNumber"],
                e["Egress"],
                e["CidrBlock"].as_str().unwrap(),
                e["PortRange"]["From"],
                e["PortRange"]["To"],
                e["Protocol"],
                e["NetworkAclId"]
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            "200 true 13.248.224.0/23 80-80 \"6\" \"acl-0123\"",
            "205 true 13.248.224.0/23 443-443 \"6\" \"acl-0123\"",
            "200 false 13.248.224.0/23 32768-61000 \"6\" \"acl-0123\"",
        ]
    );
    assert!(entries.iter().all(|e| e["RuleAction"] == "allow"));
}

#[test]
fn rule_numbers_past_32766_are_a_usage_error() {
    let current = fixture("current.json");
    let (code, stdout, stderr) = ranges(&[
        "--ip-ranges",
        &current,
        "list",
        "--service",
        "S3",
        "--format",
        "nacl-json",
        "--first-rule",
        "32760",
        "--rule-step",
        "3",
    ]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert!(stderr.contains("would pass 32766"), "{stderr}");
}

#[test]
fn terraform_and_cloudformation_carry_provenance_and_every_rule() {
    let current = fixture("current.json");
    let base = [
        "--ip-ranges",
        &current,
        "list",
        "--service",
        "S3",
        "--region",
        "us-east-1",
    ];
    let (code, tf, _) = ranges(&[&base[..], &["--format", "terraform", "--ipv4"]].concat());
    assert_eq!(code, 0);
    assert!(tf.contains("# computed from ip-ranges.json syncToken 1787411825, createDate"));
    assert_eq!(tf.matches("resource \"aws_network_acl_rule\"").count(), 12);
    assert!(
        tf.contains("resource \"aws_network_acl_rule\" \"ingress_150\""),
        "{tf}"
    );
    assert!(tf.contains("  from_port       = 1024\n  to_port         = 65535"));

    let (code, cfn, _) = ranges(&[&base[..], &["--format", "cloudformation"]].concat());
    assert_eq!(code, 0);
    assert_eq!(cfn.matches("Type: AWS::EC2::NetworkAclEntry").count(), 16);
    assert!(
        cfn.contains("      Ipv6CidrBlock: \"2600:1ff8::/31\""),
        "{cfn}"
    );
    assert!(cfn.contains("syncToken 1787411825"));
}

#[test]
fn every_security_group_output_points_to_the_managed_prefix_list() {
    let current = fixture("current.json");
    let base = [
        "--ip-ranges",
        &current,
        "list",
        "--service",
        "S3",
        "--region",
        "us-east-1",
    ];
    let (code, sg, stderr) = ranges(&[&base[..], &["--format", "sg"]].concat());
    assert_eq!(code, 0);
    assert!(stderr.contains("com.amazonaws.us-east-1.s3"), "{stderr}");
    assert!(stderr.contains("not the same set"), "{stderr}");
    let doc: Value = serde_json::from_str(&sg).unwrap();
    let v4 = &doc["IpPermissions"][0]["IpRanges"];
    assert_eq!(v4.as_array().unwrap().len(), 6);
    assert!(
        v4[0]["Description"]
            .as_str()
            .unwrap()
            .contains("syncToken 1787411825")
    );

    for format in ["terraform", "cloudformation"] {
        let (code, text, _) =
            ranges(&[&base[..], &["--format", format, "--rules-for", "sg"]].concat());
        assert_eq!(code, 0);
        assert!(
            text.contains("com.amazonaws.us-east-1.s3"),
            "{format}: {text}"
        );
        assert!(text.contains("not the same set"), "{format}");
    }
}

#[test]
fn lookup_json_lists_matches_longest_first() {
    let current = fixture("current.json");
    let doc = json_of(&[
        "--ip-ranges",
        &current,
        "lookup",
        "3.5.0.1",
        "2600:1ff9::1",
        "198.51.100.7",
        "18.34.0.0/20",
        "--format",
        "json",
    ]);
    assert_schema("lookup.schema.json", &doc);
    assert_eq!(doc["sync_token"], "1787411825");
    let results = doc["results"].as_array().unwrap();
    assert_eq!(results[0]["address"], "3.5.0.1");
    let services: Vec<&str> = results[0]["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["service"].as_str().unwrap())
        .collect();
    assert_eq!(services.len(), 2);
    assert!(services.contains(&"S3") && services.contains(&"AMAZON"));
    assert_eq!(results[1]["matches"][0]["prefix"], "2600:1ff9::/32");
    assert_eq!(
        results[1]["matches"][0]["network_border_group"],
        "us-east-1"
    );
    assert_eq!(results[2]["matches"].as_array().unwrap().len(), 0);
    assert_eq!(results[3]["matches"][0]["prefix"], "18.34.0.0/19");
}

#[test]
fn lookup_of_a_cidr_with_host_bits_is_a_usage_error() {
    let current = fixture("current.json");
    let (code, _, stderr) = ranges(&["--ip-ranges", &current, "lookup", "3.5.0.1/19"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("did you mean 3.5.0.0/19?"), "{stderr}");
}

#[test]
fn broken_files_are_one_line_usage_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[u8], &str); 3] = [
        ("empty.json", b"", "empty file"),
        (
            "text.json",
            b"<html>not json</html>",
            "not an ip-ranges document",
        ),
        (
            "types.json",
            br#"{"syncToken": 5, "prefixes": []}"#,
            "invalid type",
        ),
    ];
    for (name, bytes, expected) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let (code, stdout, stderr) = ranges(&["--ip-ranges", path.to_str().unwrap(), "info"]);
        assert_eq!((code, stdout.as_str()), (2, ""), "{name}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(name) && stderr.contains(expected),
            "{stderr}"
        );
    }

    let wrong = fixture("wrong-type.json");
    let (code, _, stderr) = ranges(&["--ip-ranges", &wrong, "info"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("wrong-type.json") && stderr.contains("line 5"),
        "{stderr}"
    );

    let huge = dir.path().join("huge.json");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(100 * 1024 * 1024)
        .unwrap();
    let (code, _, stderr) = ranges(&["--ip-ranges", huge.to_str().unwrap(), "list"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("larger than any ip-ranges file"),
        "{stderr}"
    );
}

#[test]
fn bad_entries_are_skipped_with_warnings_naming_them() {
    let bad = fixture("bad-entries.json");
    let (code, stdout, stderr) = ranges(&["--ip-ranges", &bad, "list", "--service", "S3"]);
    assert_eq!(code, 0, "{stderr}");
    let cidrs: Vec<&str> = stdout.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(cidrs, ["52.216.0.0/15"]);
    assert!(
        stderr.contains("prefixes[0]: `3.5.0.7/19` has host bits set"),
        "{stderr}"
    );
    assert!(
        stderr.contains("prefixes[1]: `3.5.300.0/24` is not a CIDR"),
        "{stderr}"
    );
    assert!(
        stderr.contains("prefixes[3]: `52.216.0.0/15` duplicates"),
        "{stderr}"
    );
}

#[test]
fn old_files_load_and_say_what_they_lack() {
    let old2019 = fixture("2019-no-border-group.json");
    let doc = json_of(&["--ip-ranges", &old2019, "info", "--format", "json"]);
    assert_eq!(doc["lacks"], serde_json::json!(["network_border_group"]));
    assert_eq!(doc["stale"], true);
    assert_eq!(doc["ipv6_prefixes"], 1);
    let (code, _, stderr) = ranges(&[
        "--ip-ranges",
        &old2019,
        "list",
        "--border-group",
        "us-east-1",
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no network_border_group"), "{stderr}");

    let old2016 = fixture("2016-no-ipv6-no-s3.json");
    let doc = json_of(&["--ip-ranges", &old2016, "info", "--format", "json"]);
    assert_eq!(doc["lacks"].as_array().unwrap().len(), 3, "{doc:#}");
    let (code, _, stderr) = ranges(&["--ip-ranges", &old2016, "list", "--service", "S3"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no S3 service"), "{stderr}");
    let (code, stdout, _) = ranges(&[
        "--ip-ranges",
        &old2016,
        "list",
        "--service",
        "amazon",
        "--region",
        "us-west-2",
    ]);
    assert_eq!(code, 0);
    assert!(stdout.ends_with("\n52.92.16.0/20\n"), "{stdout}");
    let (code, _, stderr) = ranges(&["--ip-ranges", &old2016, "list", "--ipv6"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no published prefix matches"), "{stderr}");
}

#[test]
fn budgets_that_hold_nothing_are_usage_errors() {
    let current = fixture("current.json");
    for (args, expected) in [
        (&["--nacl", "--reserve", "20"][..], "leaves none"),
        (
            &["--max-rules", "1", "--ports", "80,443"][..],
            "cannot hold one CIDR",
        ),
        (&["--max-rules", "0"][..], "0 is not in 1.."),
    ] {
        let (code, _, stderr) =
            ranges(&[&["--ip-ranges", current.as_str(), "list"][..], args].concat());
        assert_eq!(code, 2, "{args:?}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn diff_reports_added_and_removed_prefixes_per_service_and_region() {
    let (old, new) = (fixture("current.json"), fixture("newer.json"));
    let doc = json_of(&["diff", &old, &new, "--format", "json"]);
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["old"]["sync_token"], "1787411825");
    assert_eq!(doc["new"]["sync_token"], "1787500000");
    assert_eq!(
        doc["changes"],
        serde_json::json!([{
            "service": "S3", "region": "us-east-1",
            "added": ["16.15.176.0/20"], "removed": ["18.34.0.0/19"]
        }])
    );
    let (code, table, _) = ranges(&["diff", &old, &new]);
    assert_eq!(code, 0);
    assert!(
        table.contains("S3 us-east-1: +1 -1\n  + 16.15.176.0/20\n  - 18.34.0.0/19\n"),
        "{table}"
    );
}

#[test]
fn info_without_any_data_says_what_was_tried_and_exits_3() {
    let (code, stdout, _) = ranges(&["--offline", "info"]);
    assert_eq!(code, 3);
    assert!(stdout.contains("source      none"), "{stdout}");
    assert!(stdout.contains("no cached copy at"), "{stdout}");
    let (code, _, stderr) = ranges(&["--offline", "list"]);
    assert_eq!(code, 3);
    assert!(stderr.contains("pass --ip-ranges FILE or run `egress-probe ranges update`"));
}

/// Serves canned responses on loopback, one connection each, from a thread.
fn serve(responses: Vec<Vec<u8>>) -> (String, std::thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/ip-ranges.json", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let mut requests = Vec::new();
        for response in responses {
            let (mut socket, _) = listener.accept().unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = socket.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                head.extend_from_slice(&buf[..n]);
            }
            requests.push(String::from_utf8_lossy(&head).to_lowercase());
            socket.write_all(&response).unwrap();
        }
        requests
    });
    (url, handle)
}

#[test]
fn update_downloads_then_a_304_keeps_the_cache() {
    let body = std::fs::read(fixture("current.json")).unwrap();
    let mut first = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nETag: \"e1\"\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    first.extend_from_slice(&body);
    let second = b"HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n".to_vec();
    let (url, server) = serve(vec![first, second]);
    let cache = tempfile::tempdir().unwrap();
    let cache_dir = cache.path().to_str().unwrap();

    let (code, stdout, stderr) = ranges(&[
        "--url",
        &url,
        "--cache-dir",
        cache_dir,
        "update",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (doc["old_sync_token"].clone(), doc["new_sync_token"].clone()),
        (Value::Null, Value::from("1787411825"))
    );

    let (code, stdout, _) = ranges(&["--url", &url, "--cache-dir", cache_dir, "update"]);
    assert_eq!(code, 0);
    assert!(
        stdout.starts_with("not modified: syncToken 1787411825 kept"),
        "{stdout}"
    );
    let requests = server.join().unwrap();
    assert!(
        requests[1].contains("if-none-match: \"e1\""),
        "{}",
        requests[1]
    );

    let (code, stdout, _) = ranges(&["--cache-dir", cache_dir, "--offline", "lookup", "3.5.0.1"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("3.5.0.0/19"), "{stdout}");
    let names: Vec<PathBuf> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(
        names.len(),
        2,
        "only the file and its validators: {names:?}"
    );
}

#[test]
fn real_snapshot_fits_s3_us_east_1_into_a_nacl() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/ip-ranges/ip-ranges-2026-08-22.json");
    if !path.exists() {
        eprintln!("skipping: {} is absent", path.display());
        return;
    }
    let file = path.to_str().unwrap();
    let exact = json_of(&[
        "--ip-ranges",
        file,
        "list",
        "--service",
        "S3",
        "--region",
        "us-east-1",
        "--format",
        "json",
    ]);
    let budgeted = json_of(&[
        "--ip-ranges",
        file,
        "list",
        "--service",
        "S3",
        "--region",
        "us-east-1",
        "--nacl",
        "--ports",
        "80,443",
        "--format",
        "json",
    ]);
    assert_schema("list.schema.json", &budgeted);
    assert_eq!(budgeted["sync_token"], "1787411825");
    assert_eq!(budgeted["exact_count"], exact["exact_count"]);
    for (family, bits) in [(0, 32u8), (1, 128u8)] {
        let exact_family: Vec<IpNet> = strings(&exact["families"][family]["cidrs"])
            .iter()
            .map(|c| c.parse().unwrap())
            .collect();
        let cover: Vec<IpNet> = strings(&budgeted["families"][family]["cidrs"])
            .iter()
            .map(|c| c.parse().unwrap())
            .collect();
        assert!(cover.len() <= 10, "{bits}: {}", cover.len());
        assert!(exact_family.len() > 10);
        let extra = budgeted["families"][family]["extra_addresses"]
            .as_str()
            .unwrap();
        assert_cover(&exact_family, &cover, extra.parse().unwrap());
        assert!(cover.iter().all(|net| matches!(
            (net.addr(), bits),
            (IpAddr::V4(_), 32) | (IpAddr::V6(_), 128)
        )));
    }
}

/// A loopback IMDS that hands out a token and says the instance is in eu-west-1; every other
/// path is 404. Serves until the test process ends.
fn fake_imds() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for socket in listener.incoming().take(64) {
            let Ok(mut socket) = socket else { return };
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let body = if head.starts_with("PUT /latest/api/token") {
                Some("TOKEN")
            } else if head.starts_with("GET /latest/meta-data/placement/region") {
                Some("us-west-2")
            } else {
                None
            };
            let response = match body {
                Some(body) => format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                ),
                None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_string(),
            };
            let _ = socket.write_all(response.as_bytes());
        }
    });
    base
}

#[test]
fn instance_region_comes_from_the_metadata_service() {
    let current = fixture("current.json");
    let output = Command::new(env!("CARGO_BIN_EXE_egress-probe"))
        .args(["ranges", "--ip-ranges", &current, "list", "--service", "S3"])
        .args(["--instance-region", "--format", "json"])
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", fake_imds())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        doc["selection"]["regions"],
        serde_json::json!(["us-west-2"])
    );
    assert_eq!(doc["selection"]["instance_region"], true);
    assert_eq!(strings(&doc["cidrs"]), ["52.92.16.0/20"]);
}
