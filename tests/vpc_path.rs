//! Path verdicts and packet evidence end to end in the simulated VPC: gateway endpoint, NAT
//! gateway, interface endpoint, internet gateway and blocked paths, a ClientHello split over
//! several segments, and a run without `CAP_NET_RAW`. Needs root; skips with a message otherwise.

mod common;

use common::report::{findings, port, target, validated};
use common::vpc::{Egress, Options, World};
use serde_json::Value;

const NAT_PRIVATE: &str = "198.51.100.140";

/// Validates the run's JSON against the schema and returns (exit code, JSON).
fn report(run: common::vpc::CheckRun) -> (i32, Value) {
    validated(run)
}

/// The verdict and confidence of a target's path.
fn verdict(report: &Value, name: &str) -> (String, String) {
    let path = &target(report, name)["path"];
    (
        path["verdict"].as_str().unwrap().to_string(),
        path["confidence"].as_str().unwrap().to_string(),
    )
}

fn pair(verdict: &str, confidence: &str) -> (String, String) {
    (verdict.to_string(), confidence.to_string())
}

fn has_evidence(path: &Value, prefix: &str) -> bool {
    path["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e.as_str().unwrap().starts_with(prefix))
}

/// The single flow of one port probe.
fn flow<'a>(target: &'a Value, address: &str, number: u64) -> &'a Value {
    let flows = port(target, address, number)["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 1, "{address}:{number}: {flows:#?}");
    &flows[0]
}

#[test]
fn behind_a_nat_gateway_in_region_s3_takes_the_gateway_endpoint() {
    let Some(world) = World::up("pnat", &Options::new().bucket("pubbkt", "public")) else {
        return;
    };
    let pcap = world.state_dir().join("run.pcap");
    let (code, report) = report(world.run_check(&[
        "--target",
        "http://s3.us-west-2.amazonaws.com/pubbkt/",
        "--target",
        "s3.dualstack.us-east-1.amazonaws.com",
        "--pcap",
        pcap.to_str().unwrap(),
    ]));
    // The http:// consumer is a plaintext failure.
    assert_eq!(code, 1, "{:#}", report["findings"]);

    let capture = &report["capture"];
    assert_eq!(capture["ran"], true, "{capture:#}");
    assert_eq!(capture["interfaces"], serde_json::json!(["eth0"]));
    assert_eq!(capture["dropped"]["channel"], 0);
    assert_eq!(capture["unmatched_flows"], 0, "{capture:#}");
    assert_eq!(report["trace"]["ran"], true);
    assert_eq!(report["egress_echo"]["address"], "203.0.113.129");
    assert_eq!(report["egress_echo"]["server"], "192.0.2.20");

    // In-region S3: straight to S3, no hop before it.
    assert_eq!(
        verdict(&report, "s3-regional"),
        pair("gateway-endpoint", "medium")
    );
    let regional = target(&report, "s3-regional");
    let hops = regional["path"]["hops"].as_array().unwrap();
    assert_eq!(hops.len(), 1, "{hops:#?}");
    assert_eq!(
        (&hops[0]["address"], &hops[0]["kind"]),
        (&Value::from("203.0.113.10"), &Value::from("destination"))
    );

    // The global name lives in us-east-1: through the NAT gateway, whose private address
    // answers the trace first.
    assert_eq!(verdict(&report, "s3-global"), pair("nat", "high"));
    let global = target(&report, "s3-global");
    let first = &global["path"]["hops"][0];
    assert_eq!(
        (&first["ttl"], &first["address"], &first["in_vpc"]),
        (
            &Value::from(1),
            &Value::from(NAT_PRIVATE),
            &Value::from(true)
        )
    );
    assert!(has_evidence(
        &global["path"],
        "S3 in us-east-1 answered from us-west-2: not through a gateway endpoint"
    ));
    assert_eq!(verdict(&report, "ip-ranges"), pair("nat", "high"));

    // What the wire showed: the ClientHello's SNI and the ServerHello's version, the NAT
    // gateway's hop in the replies' TTL.
    let tls = flow(regional, "203.0.113.10", 443);
    assert_eq!(tls["out"]["dissection"]["kind"], "tls-client-hello");
    assert_eq!(
        tls["out"]["dissection"]["sni"],
        "s3.us-west-2.amazonaws.com"
    );
    assert_eq!(
        tls["out"]["dissection"]["alpn"],
        serde_json::json!(["http/1.1"])
    );
    assert_eq!(tls["in"]["dissection"]["version"], "TLSv1_3");
    assert_eq!(tls["reply_ttl"], 64);
    assert!(tls["handshake_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(flow(global, "203.0.113.74", 443)["reply_ttl"], 63);
    let clear = flow(regional, "203.0.113.10", 80);
    assert_eq!(clear["out"]["dissection"]["method"], "GET");
    assert_eq!(
        clear["out"]["dissection"]["host"],
        "s3.us-west-2.amazonaws.com"
    );
    assert_eq!(clear["in"]["dissection"]["status"], 307);

    // Plaintext rests on the bytes seen.
    let plaintext = findings(&report, "plaintext");
    assert_eq!(plaintext.len(), 1, "{plaintext:#?}");
    let message = plaintext[0]["message"].as_str().unwrap();
    for part in [
        "readable HTTP went over the wire to 203.0.113.10 (an AWS address (AMAZON+S3 us-west-2))",
        "`GET /pubbkt/` with Host s3.us-west-2.amazonaws.com, answered 200",
    ] {
        assert!(message.contains(part), "{message}");
    }

    // IPv4 leaves through the NAT gateway, IPv6 directly: a dual-stack client takes IPv6.
    let dual_east = target(&report, "s3.dualstack.us-east-1.amazonaws.com");
    let addresses = dual_east["path"]["addresses"].as_array().unwrap();
    assert_eq!(addresses[0]["verdict"], "nat");
    assert_eq!(addresses[1]["verdict"], "unknown");
    let mismatch = findings(&report, "family-mismatch");
    assert_eq!(mismatch.len(), 1, "{mismatch:#?}");
    assert!(
        mismatch[0]["message"]
            .as_str()
            .unwrap()
            .contains("IPv4 leaves by nat, IPv6 by unknown"),
        "{:#}",
        mismatch[0]
    );

    // The pcap file holds the run's frames.
    let bytes = std::fs::read(&pcap).unwrap();
    let mut reader = pcap_file::pcap::PcapReader::new(&bytes[..]).unwrap();
    assert_eq!(reader.header().datalink, pcap_file::DataLink::ETHERNET);
    let mut frames = 0;
    while let Some(packet) = reader.next_packet() {
        packet.unwrap();
        frames += 1;
    }
    assert_eq!(frames, capture["frames_kept"].as_u64().unwrap());
}

#[test]
fn private_dns_of_an_interface_endpoint() {
    let Some(world) = World::up("pvpce", &Options::new().interface_endpoint()) else {
        return;
    };
    let (code, report) = report(world.run_check(&[]));
    assert_eq!(code, 0, "{:#}", report["findings"]);
    assert_eq!(
        verdict(&report, "s3-regional"),
        pair("interface-endpoint", "high")
    );
    let path = &target(&report, "s3-regional")["path"];
    assert!(has_evidence(
        path,
        "198.51.100.200 is inside the VPC's 198.51.100.0/24"
    ));
    // The dual-stack name is not covered by the endpoint's private DNS.
    assert_eq!(
        verdict(&report, "s3-dualstack"),
        pair("gateway-endpoint", "medium")
    );
}

#[test]
fn an_instance_with_a_public_address_leaves_through_the_internet_gateway() {
    let opts = Options::new()
        .public_ipv4("203.0.113.150")
        .egress(Egress::InternetGateway);
    let Some(world) = World::up("pigw", &opts) else {
        return;
    };
    let (code, report) = report(world.run_check(&[]));
    assert_eq!(code, 0, "{:#}", report["findings"]);
    assert_eq!(report["host"]["public_ipv4"], "203.0.113.150");
    let echo = &report["egress_echo"];
    assert_eq!(echo["address"], "203.0.113.150", "{echo:#}");
    assert_eq!(echo["matches_public_ipv4"], true);

    assert_eq!(
        verdict(&report, "s3-global"),
        pair("internet-gateway", "high")
    );
    assert_eq!(
        verdict(&report, "ip-ranges"),
        pair("internet-gateway", "high")
    );
    let global = &target(&report, "s3-global")["path"];
    assert!(has_evidence(
        global,
        "the echo service saw the instance's public IPv4 203.0.113.150"
    ));
    let hops = global["hops"].as_array().unwrap();
    assert_eq!(hops.len(), 1, "the internet gateway never shows: {hops:#?}");
    assert_eq!(
        verdict(&report, "s3-regional"),
        pair("gateway-endpoint-or-internet-gateway", "low")
    );

    // The table says the same for a person.
    let (ranges, ca) = (world.ip_ranges(), world.ca_file());
    let run = world.run_probe(&[
        "check",
        "--ip-ranges",
        ranges.to_str().unwrap(),
        "--ca-file",
        ca.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for line in [
        "egress echo: https://checkip.amazonaws.com/ saw 203.0.113.150 (the instance's public IPv4)",
        "  path  internet-gateway (high) · hops 1 203.0.113.74",
        "  path  gateway-endpoint-or-internet-gateway (low) · hops 1 203.0.113.10",
    ] {
        assert!(run.stdout.contains(line), "{line:?} in\n{}", run.stdout);
    }
}

#[test]
fn without_a_default_route_other_regions_are_blocked() {
    let Some(world) = World::up("pnone", &Options::new().egress(Egress::None)) else {
        return;
    };
    let started = std::time::Instant::now();
    let (_, report) = report(world.run_check(&["--timeout", "12"]));
    assert!(started.elapsed().as_secs() < 15, "{:?}", started.elapsed());
    assert_eq!(
        verdict(&report, "s3-regional"),
        pair("gateway-endpoint", "medium")
    );
    assert_eq!(verdict(&report, "s3-global"), pair("blocked", "high"));
    assert_eq!(verdict(&report, "ip-ranges"), pair("blocked", "high"));
    let global = &target(&report, "s3-global")["path"];
    assert!(has_evidence(
        global,
        "no TCP answer on 443 and nothing answered the trace"
    ));
    assert!(has_evidence(
        global,
        "S3 in us-east-1 did not answer: a gateway endpoint serves its own region only"
    ));
    assert_eq!(
        report["egress_echo"]["error"], "timeout",
        "{:#}",
        report["egress_echo"]
    );
    // The SYNs that went unanswered are on the wire.
    let syn = flow(target(&report, "s3-global"), "203.0.113.74", 443);
    assert!(syn["out"]["packets"].as_u64().unwrap() >= 2, "{syn:#}");
    assert_eq!(syn["in"]["packets"], 0);
}

#[test]
fn a_client_hello_split_over_segments_still_yields_its_sni() {
    let opts = Options::new().mss(88).no_offload();
    let Some(world) = World::up("psplit", &opts) else {
        return;
    };
    let (code, report) = report(world.run_check(&[]));
    assert_eq!(code, 0, "{:#}", report["findings"]);
    for (name, address, sni) in [
        ("s3-regional", "203.0.113.10", "s3.us-west-2.amazonaws.com"),
        (
            "al2023-repo",
            "203.0.113.10",
            "al2023-repos-us-west-2-de612dc2.s3.dualstack.us-west-2.amazonaws.com",
        ),
    ] {
        let hello = &flow(target(&report, name), address, 443)["out"];
        assert!(
            hello["segments"].as_u64().unwrap() >= 3,
            "{name}: {hello:#}"
        );
        assert_eq!(hello["dissection"]["sni"], sni, "{name}: {hello:#}");
        assert_eq!(hello["dissection"]["complete"], true);
        assert_eq!(hello["gap"], false);
    }
}

#[test]
fn without_cap_net_raw_the_run_goes_on_and_says_what_it_could_not_see() {
    let Some(world) = World::up("pncap", &Options::new()) else {
        return;
    };
    let run = world.run_check_without_net_raw(&[]);
    let (code, report) = report(run);
    assert_eq!(code, 0, "{:#}", report["findings"]);
    let capture = &report["capture"];
    assert_eq!(capture["ran"], false);
    assert!(
        capture["reason"]
            .as_str()
            .unwrap()
            .contains("CAP_NET_RAW is missing"),
        "{capture:#}"
    );
    assert!(
        capture["hint"]
            .as_str()
            .unwrap()
            .contains("setcap cap_net_raw+ep"),
        "{capture:#}"
    );
    assert_eq!(report["trace"]["ran"], false);
    let regional = target(&report, "s3-regional");
    assert!(port(regional, "203.0.113.10", 443)["flows"].is_null());
    assert_eq!(port(regional, "203.0.113.10", 443)["tcp"]["ok"], true);
    assert_eq!(
        verdict(&report, "s3-regional"),
        pair("gateway-endpoint", "low")
    );
    assert!(has_evidence(
        &regional["path"],
        "no trace: CAP_NET_RAW is missing"
    ));
    // Without a trace the NAT gateway stays hidden.
    assert_eq!(verdict(&report, "s3-global"), pair("unknown", "low"));
    assert_eq!(report["egress_echo"]["address"], "203.0.113.129");
}

#[test]
fn a_flood_of_unrelated_traffic_is_read_past_and_drops_are_counted() {
    let Some(world) = World::up("pflood", &Options::new()) else {
        return;
    };
    // UDP from the router to a closed port of the instance, as fast as Python sends, for
    // longer than the check takes.
    let flood = r#"
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
payload = b"x" * 1200
end = time.time() + 6
sent = 0
while time.time() < end:
    for _ in range(200):
        s.sendto(payload, ("198.51.100.10", 9))
    sent += 200
print(sent)
"#;
    let (report, sent) = std::thread::scope(|scope| {
        let flooding = scope.spawn(|| world.python_in("rtr", flood, &[]));
        std::thread::sleep(std::time::Duration::from_millis(300));
        let (_, report) = report(world.run_check(&["--no-egress-echo"]));
        (report, flooding.join().unwrap())
    });
    assert_eq!(sent.code, 0, "{}", sent.stderr);
    let capture = &report["capture"];
    assert_eq!(capture["ran"], true);
    let seen = capture["frames_seen"].as_u64().unwrap();
    let kept = capture["frames_kept"].as_u64().unwrap();
    assert!(seen > kept + 1000, "the flood was read: {capture:#}");
    let dropped = &capture["dropped"];
    let counted = dropped["channel"].as_u64().unwrap() + dropped["kernel"].as_u64().unwrap();
    // Every probe flow is either whole or the report says frames were lost.
    let hello = &port(target(&report, "s3-regional"), "203.0.113.10", 443)["flows"];
    let read = hello.as_array().is_some_and(|flows| {
        flows
            .iter()
            .any(|f| f["out"]["dissection"]["sni"] == "s3.us-west-2.amazonaws.com")
    });
    assert!(read || counted > 0, "{capture:#}\n{hello:#}");
    assert_eq!(verdict(&report, "s3-regional").0, "gateway-endpoint");
}
