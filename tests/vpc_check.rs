//! `egress-probe check` end to end in the simulated VPC, one scenario per real-world situation,
//! asserting on the JSON report. Needs root; skips with a message otherwise.

mod common;

use std::time::Instant;

use common::report::{findings, port, target, validated};
use common::vpc::{DnsMode, ImdsMode, Options, World};
use serde_json::Value;

/// Runs check in the world; the JSON must match the schema.
fn check(world: &World, args: &[&str]) -> (i32, Value) {
    validated(world.run_check(args))
}

#[test]
fn healthy_in_region_host() {
    let Some(world) = World::up("chok", &Options::new()) else {
        return;
    };
    let (code, report) = check(&world, &[]);
    assert_eq!(code, 0, "{:#}", report["findings"]);

    let host = &report["host"];
    assert_eq!(host["imds"], "ok");
    assert_eq!(host["on_ec2"], true);
    assert_eq!(host["region"], "us-west-2");
    assert_eq!(host["region_source"], "imds");
    assert_eq!(host["account_id"], "111122223333");
    assert_eq!(host["instance_id"], "i-0123456789abcdef0");
    assert_eq!(host["vpc_id"], "vpc-0a1b2c3d4e5f60718");
    assert_eq!(host["vpc_cidrs"][0], "198.51.100.0/24");
    assert!(host["public_ipv4"].is_null());
    assert_eq!(report["ip_ranges"]["source"], "file");
    assert_eq!(report["ip_ranges"]["sync_token"], "1764504000");

    let regional = target(&report, "s3-regional");
    assert_eq!(regional["dns"]["server"], "198.51.100.2");
    let address = &regional["dns"]["addresses"][0];
    assert_eq!(address["ip"], "203.0.113.10");
    assert_eq!(
        address["aws"]["services"],
        serde_json::json!(["AMAZON", "S3"])
    );
    assert_eq!(address["aws"]["region"], "us-west-2");
    assert_eq!(address["in_vpc"], false);
    assert_eq!(
        (&regional["region"], &regional["cross_region"]),
        (&Value::from("us-west-2"), &Value::from(false))
    );
    let https = port(regional, "203.0.113.10", 443);
    assert_eq!(https["tcp"]["ok"], true);
    assert_eq!(https["tls"]["verification"], "ok");
    assert_eq!(https["tls"]["version"], "TLSv1_3");
    assert_eq!(https["http"]["status"], 307);
    assert_eq!(https["http"]["request_id"].as_str().map(str::len), Some(16));
    assert_eq!(port(regional, "203.0.113.10", 80)["plaintext"], true);

    let dual = target(&report, "s3-dualstack");
    assert_eq!(port(dual, "2001:db8:a::10", 443)["http"]["status"], 307);
    assert!(findings(&report, "family-mismatch").is_empty());
    assert!(findings(&report, "unreachable").is_empty());
}

#[test]
fn global_name_resolves_into_the_other_region() {
    let Some(world) = World::up("chgl", &Options::new()) else {
        return;
    };
    let (code, report) = check(&world, &["--fail-on", "default,cross-region"]);
    let global = target(&report, "s3-global");
    assert_eq!(global["dns"]["cnames"][0], "s3-1-w.amazonaws.com");
    assert_eq!(global["region"], "us-east-1");
    assert_eq!(global["cross_region"], true);
    let cross = findings(&report, "cross-region");
    assert_eq!(cross.len(), 1, "{cross:#?}");
    assert_eq!(cross[0]["target"], "s3-global");
    // The catalog says this name is served from one place: information, even under --fail-on.
    assert_eq!(cross[0]["severity"], "info");
    assert_eq!(code, 0);

    // The same name asked for by a user who expects it in-region fails the run.
    let (code, report) = check(
        &world,
        &[
            "--target",
            "s3.us-east-1.amazonaws.com",
            "--fail-on",
            "cross-region",
        ],
    );
    let user = findings(&report, "cross-region")
        .into_iter()
        .find(|f| f["target"] == "s3.us-east-1.amazonaws.com")
        .expect("cross-region for the user target");
    assert_eq!(user["severity"], "fail");
    assert_eq!(code, 1);
}

#[test]
fn interface_endpoint_answers_from_inside_the_vpc() {
    let Some(world) = World::up("chie", &Options::new().interface_endpoint()) else {
        return;
    };
    let (code, report) = check(&world, &[]);
    assert_eq!(code, 0, "{:#}", report["findings"]);
    let regional = target(&report, "s3-regional");
    let address = &regional["dns"]["addresses"][0];
    assert_eq!(address["ip"], "198.51.100.200");
    assert_eq!(address["in_vpc"], true);
    assert_eq!(
        address["private"], false,
        "198.51.100/24 is not RFC 1918 space"
    );
    assert!(address["aws"].is_null());
    assert_eq!(regional["region_source"], "hostname");
    assert_eq!(regional["region"], "us-west-2");
    assert_eq!(port(regional, "198.51.100.200", 443)["tls"]["ok"], true);
    // The dual-stack name is not covered by the endpoint's private DNS: public addresses.
    let dual = target(&report, "s3-dualstack");
    assert_eq!(dual["dns"]["addresses"][0]["ip"], "203.0.113.10");
}

#[test]
fn port_80_silently_dropped_is_not_a_failure() {
    let Some(world) = World::up("chd80", &Options::new().drop80()) else {
        return;
    };
    let (code, report) = check(&world, &[]);
    assert_eq!(code, 0, "{:#}", report["findings"]);
    let regional = target(&report, "s3-regional");
    let http = port(regional, "203.0.113.10", 80);
    assert_eq!(http["tcp"]["ok"], false);
    assert_eq!(http["tcp"]["error"], "timeout");
    assert_eq!(port(regional, "203.0.113.10", 443)["tcp"]["ok"], true);
    assert!(findings(&report, "unreachable").is_empty());
    assert!(
        findings(&report, "port-80-open")
            .iter()
            .all(|f| f["target"] != "s3-regional")
    );
}

#[test]
fn access_denied_naming_the_endpoint_policy_fails_the_run() {
    let opts = Options::new()
        .bucket("deniedbkt", "endpoint-deny")
        .bucket("privbkt", "private")
        .bucket("htmlbkt", "not-xml")
        .bucket("movedbkt", "redirect:eu-west-1");
    let Some(world) = World::up("chep", &opts) else {
        return;
    };
    let (code, report) = check(
        &world,
        &[
            "--bucket",
            "deniedbkt",
            "--bucket",
            "privbkt,htmlbkt",
            "--bucket",
            "movedbkt",
        ],
    );
    assert_eq!(code, 1);
    let denied = findings(&report, "endpoint-policy-denied");
    assert_eq!(denied.len(), 1, "{denied:#?}");
    assert_eq!(
        (&denied[0]["target"], &denied[0]["severity"]),
        (&Value::from("bucket:deniedbkt"), &Value::from("fail"))
    );
    let bare: Vec<_> = findings(&report, "access-denied")
        .into_iter()
        .filter(|f| f["severity"] == "warn")
        .collect();
    let bare_targets: Vec<&str> = bare.iter().map(|f| f["target"].as_str().unwrap()).collect();
    assert_eq!(bare_targets, ["bucket:privbkt", "bucket:htmlbkt"]);
    assert!(
        bare[0]["message"]
            .as_str()
            .unwrap()
            .contains("cannot tell from here")
    );
    let html = port(target(&report, "bucket:htmlbkt"), "203.0.113.10", 443);
    assert_eq!(html["http"]["body_not_xml"], true);
    let moved = target(&report, "bucket:movedbkt");
    assert_eq!(
        port(moved, "203.0.113.10", 443)["http"]["bucket_region"],
        "eu-west-1"
    );
    assert!(
        findings(&report, "cross-region")
            .iter()
            .any(|f| f["target"] == "bucket:movedbkt")
    );
}

#[test]
fn no_imds_at_all() {
    let Some(world) = World::up("chni", &Options::new().imds(ImdsMode::Absent)) else {
        return;
    };
    let started = Instant::now();
    let (_, report) = check(&world, &[]);
    assert!(started.elapsed().as_secs() < 10);
    assert_eq!(report["host"]["imds"], "not-ec2");
    assert_eq!(report["host"]["on_ec2"], false);
    assert!(report["host"]["region"].is_null());
    let names: Vec<&str> = report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["s3-global", "sts-global", "ip-ranges"]);
    assert_eq!(
        report["skipped"].as_array().unwrap().len(),
        5,
        "{:#}",
        report["skipped"]
    );

    let (code, report) = check(&world, &["--region", "us-west-2"]);
    assert_eq!(code, 0, "{:#}", report["findings"]);
    assert_eq!(report["host"]["region_source"], "flag");
    assert_eq!(target(&report, "s3-regional")["cross_region"], false);
}

#[test]
fn dns_server_that_never_answers() {
    let Some(world) = World::up("chbh", &Options::new().dns(DnsMode::Blackhole)) else {
        return;
    };
    let started = Instant::now();
    let (code, report) = check(&world, &["--timeout", "8"]);
    assert!(
        started.elapsed().as_secs_f64() < 10.0,
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(code, 1);
    for t in report["targets"].as_array().unwrap() {
        assert_eq!(t["dns"]["error"], "timeout", "{}", t["name"]);
        assert!(t["dns"]["addresses"].as_array().unwrap().is_empty());
    }
    let unreachable = findings(&report, "unreachable");
    assert_eq!(unreachable.len(), 1);
    assert_eq!(unreachable[0]["target"], "s3-regional");
    assert_eq!(
        findings(&report, "dns-failure").len(),
        report["targets"].as_array().unwrap().len()
    );
}

#[test]
fn imds_states_are_told_apart() {
    for (name, mode, expected) in [
        ("chhl", ImdsMode::HopLimit, "hop-limit"),
        ("chdis", ImdsMode::Disabled, "disabled"),
        ("chv1", ImdsMode::V1Only, "v1-only"),
        ("chgb", ImdsMode::Garbage, "error"),
        ("chhg", ImdsMode::Hang, "error"),
    ] {
        let Some(world) = World::up(name, &Options::new().imds(mode)) else {
            return;
        };
        let started = Instant::now();
        let (_, report) = check(&world, &["--region", "us-west-2", "--timeout", "10"]);
        assert!(
            started.elapsed().as_secs() < 12,
            "{expected}: took {:?}",
            started.elapsed()
        );
        assert_eq!(report["host"]["imds"], expected, "{:#}", report["host"]);
        assert_eq!(report["host"]["region"], "us-west-2");
        if expected == "v1-only" || expected == "hop-limit" {
            // Without a token, what IMDSv1 still answers is kept.
            assert_eq!(report["host"]["instance_id"], "i-0123456789abcdef0");
        }
        if expected == "error" {
            assert!(report["host"]["account_id"].is_null());
        }
        if expected == "error" || expected == "hop-limit" {
            assert!(
                !report["host"]["imds_problems"]
                    .as_array()
                    .unwrap()
                    .is_empty()
            );
        }
    }
}

#[test]
fn tls_server_that_stalls_after_the_handshake() {
    let Some(world) = World::up("chts", &Options::new().tls_stall()) else {
        return;
    };
    let started = Instant::now();
    let (_, report) = check(&world, &["--timeout", "8"]);
    assert!(started.elapsed().as_secs_f64() < 10.0);
    let https = port(target(&report, "s3-regional"), "203.0.113.10", 443);
    assert_eq!(https["tls"]["ok"], true);
    assert!(https["http"]["status"].is_null());
    let error = https["http"]["error"].as_str().unwrap();
    assert!(error == "timeout" || error == "run-deadline", "{error}");
    let unreachable = findings(&report, "unreachable");
    assert!(
        unreachable.iter().any(|f| f["target"] == "s3-regional"
            && f["message"]
                .as_str()
                .unwrap()
                .contains("never answered over HTTPS")),
        "a server that stalls after the handshake is not reachable: {unreachable:#?}"
    );
    assert_eq!(
        port(target(&report, "s3-regional"), "203.0.113.10", 80)["http"]["status"],
        307
    );
}

#[test]
fn table_report_and_output_file() {
    let Some(world) = World::up("chtb", &Options::new()) else {
        return;
    };
    let out = world.state_dir().join("report.json");
    let run = world.run_check(&["--output", out.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.is_empty());
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(written["schema_version"], 1);

    let (ranges, ca) = (world.ip_ranges(), world.ca_file());
    let args = [
        "check",
        "--ip-ranges",
        ranges.to_str().unwrap(),
        "--ca-file",
        ca.to_str().unwrap(),
    ];
    let run = world.run_probe(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("s3-regional s3.us-west-2.amazonaws.com · us-west-2 (ip-ranges)"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("203.0.113.10"));
    assert!(
        !run.stdout.contains("\u{1b}["),
        "no colour when not a terminal"
    );
}

#[test]
fn ip_ranges_downloaded_once_then_read_from_the_cache() {
    let Some(world) = World::up("chdl", &Options::new()) else {
        return;
    };
    let ca = world.ca_file();
    let args = [
        "check",
        "--format",
        "json",
        "--ca-file",
        ca.to_str().unwrap(),
    ];
    let first = world.run_probe(&args);
    let first: Value = serde_json::from_str(&first.stdout).expect(&first.stderr);
    assert_eq!(
        first["ip_ranges"]["source"], "download",
        "{:#}",
        first["ip_ranges"]
    );
    assert_eq!(first["ip_ranges"]["sync_token"], "1764504000");
    let regional = target(&first, "s3-regional");
    assert_eq!(
        regional["dns"]["addresses"][0]["aws"]["region"],
        "us-west-2"
    );

    let second = world.run_probe(&args);
    let second: Value = serde_json::from_str(&second.stdout).expect(&second.stderr);
    assert_eq!(second["ip_ranges"]["source"], "cache");

    let offline = world.run_probe(&[
        "check",
        "--format",
        "json",
        "--offline",
        "--region",
        "us-west-2",
    ]);
    let offline: Value = serde_json::from_str(&offline.stdout).expect(&offline.stderr);
    assert_eq!(
        offline["ip_ranges"]["source"], "cache",
        "the cache needs no network"
    );
}

#[test]
fn signed_requests_learn_which_policy_denied_them() {
    let opts = Options::new().bucket("ownbkt", "owner-endpoint-deny");
    let Some(world) = World::up("chsg", &opts) else {
        return;
    };

    let (_, anonymous) = check(&world, &["--bucket", "ownbkt"]);
    let denied: Vec<_> = findings(&anonymous, "access-denied")
        .into_iter()
        .filter(|f| f["target"] == "bucket:ownbkt")
        .collect();
    assert_eq!(denied.len(), 1, "{:#}", anonymous["findings"]);
    assert!(findings(&anonymous, "endpoint-policy-denied").is_empty());

    let run = world.run_check(&["--bucket", "ownbkt", "--sign"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let signed = run.json.expect("JSON");
    let policy = findings(&signed, "endpoint-policy-denied");
    assert_eq!(policy.len(), 1, "{:#}", signed["findings"]);
    assert_eq!(policy[0]["target"], "bucket:ownbkt");
    // Port 80 is never signed: the session token would travel in clear.
    let bucket = target(&signed, "bucket:ownbkt");
    assert_eq!(
        port(bucket, "203.0.113.10", 80)["http"]["s3_error_code"],
        "AccessDenied"
    );
    for secret in [
        "worldSecretKeyNeverPrinted",
        "worldSessionTokenNeverPrinted",
    ] {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "{secret} leaked"
        );
    }
}
