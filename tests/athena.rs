//! The Athena queries of docs/flowlogs.md answer what `egress-probe flowlogs` answers: a
//! generated version 5 log (instance traffic both ways, REJECTs, port 80, a NAT gateway's four
//! legs and a leg it refused, Transit Gateway attachments' legs, IPv6, a remote outside AWS,
//! NODATA) is read by the binary and, through `tests/athena_queries.py`, by the doc's
//! SQL in DuckDB, and each report's numbers are compared. The README shows some of the same
//! queries: they must be the doc's, word for word.
//!
//! Needs a Python with sqlglot, duckdb and numpy: `EGRESS_PROBE_TEST_PYTHON`, or the
//! `target/test-venv` that `tests/run` makes. Without one the test says so and passes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The columns of the doc's table, which is the version 5 "all fields" order.
const COLUMNS: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol \
    packets bytes start end action log-status vpc-id subnet-id instance-id tcp-flags type \
    pkt-srcaddr pkt-dstaddr region az-id sublocation-type sublocation-id pkt-src-aws-service \
    pkt-dst-aws-service flow-direction traffic-path";

/// The NAT gateway's interface, as the `nat[]` query names it.
const NAT_ENI: &str = "eni-0123456789abcdef0";
const NAT_ADDR: &str = "10.0.9.5";

/// A Transit Gateway attachment's interface.
const TGW_ENI: &str = "eni-0aaaaaaaaaaaaaaa1";

/// AWS addresses of `tests/fixtures/flowlogs/ip-ranges-small.json` and their services.
const REMOTES: [(&str, &str); 5] = [
    ("203.0.113.5", "S3"),        // us-west-2, the log's own region
    ("203.0.113.70", "S3"),       // us-east-1
    ("198.51.100.9", "EC2"),      // us-west-2
    ("192.0.2.44", "CLOUDFRONT"), // GLOBAL
    ("198.51.100.200", "-"),      // not AWS
];

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A Python that has what the query runner imports, or why there is none.
fn python() -> Result<PathBuf, String> {
    let python = std::env::var_os("EGRESS_PROBE_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest().join("target/test-venv/bin/python"));
    let works = Command::new(&python)
        .args(["-c", "import sqlglot, duckdb, numpy"])
        .output()
        .is_ok_and(|out| out.status.success());
    works.then_some(python.clone()).ok_or_else(|| {
        format!(
            "{} cannot import sqlglot, duckdb and numpy (tests/run installs them)",
            python.display()
        )
    })
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// One record's fields, by name; every other column is `-`.
#[derive(Clone, Copy)]
struct Leg<'a> {
    eni: &'a str,
    instance: &'a str,
    src: (&'a str, u16),
    dst: (&'a str, u16),
    pkt: (&'a str, &'a str),
    services: (&'a str, &'a str),
    egress: bool,
    path: &'a str,
    action: &'a str,
}

impl<'a> Leg<'a> {
    /// The packets of the same flow the other way, as the same interface logs them.
    fn reply(&self, path: &'a str, action: &'a str) -> Leg<'a> {
        Leg {
            src: self.dst,
            dst: self.src,
            pkt: (self.pkt.1, self.pkt.0),
            services: (self.services.1, self.services.0),
            egress: !self.egress,
            path,
            action,
            ..*self
        }
    }
}

fn write_leg(out: &mut String, leg: &Leg<'_>, rng: &mut Rng, protocol: u8, start: u64) {
    let values: BTreeMap<&str, String> = [
        ("version", "5".to_string()),
        ("account-id", "123456789012".into()),
        ("interface-id", leg.eni.into()),
        ("srcaddr", leg.src.0.into()),
        ("dstaddr", leg.dst.0.into()),
        ("srcport", leg.src.1.to_string()),
        ("dstport", leg.dst.1.to_string()),
        ("protocol", protocol.to_string()),
        ("packets", (1 + rng.below(90)).to_string()),
        ("bytes", (40 + rng.below(90_000)).to_string()),
        ("start", start.to_string()),
        ("end", (start + 60).to_string()),
        ("action", leg.action.into()),
        ("log-status", "OK".into()),
        ("vpc-id", "vpc-0a1b2c3d".into()),
        ("subnet-id", "subnet-0a1b2c3d".into()),
        ("instance-id", leg.instance.into()),
        ("tcp-flags", "3".into()),
        ("type", "IPv4".into()),
        ("pkt-srcaddr", leg.pkt.0.into()),
        ("pkt-dstaddr", leg.pkt.1.into()),
        ("region", "us-west-2".into()),
        ("az-id", "usw2-az1".into()),
        ("pkt-src-aws-service", leg.services.0.into()),
        ("pkt-dst-aws-service", leg.services.1.into()),
        (
            "flow-direction",
            if leg.egress { "egress" } else { "ingress" }.into(),
        ),
        ("traffic-path", leg.path.into()),
    ]
    .into_iter()
    .collect();
    let fields: Vec<&str> = COLUMNS
        .split(' ')
        .map(|column| values.get(column).map_or("-", String::as_str))
        .collect();
    writeln!(out, "{}", fields.join(" ")).unwrap();
}

/// A version 5 log of `flows` flows, each logged as its interfaces log it.
fn generate(flows: u64) -> String {
    let mut rng = Rng(0x5eed_a7e4a);
    let mut out_text = format!("{COLUMNS}\n");
    for flow in 0..flows {
        let start = 1_764_504_000 + flow;
        let (remote, service) = rng.pick(&REMOTES);
        let local = format!("10.0.0.{}", 10 + rng.below(40));
        let eni = format!("eni-00000000000000{}", 10 + rng.below(4));
        let protocol = rng.pick(&[6, 6, 6, 17]);
        let ephemeral = rng.pick(&[33_000, 40_001, 52_000, 61_000]);
        let service_port = rng.pick(&[80, 443, 443, 22]);
        // What the security groups and NACLs do to each direction.
        let (out_action, in_action) = rng.pick(&[
            ("ACCEPT", "ACCEPT"),
            ("ACCEPT", "ACCEPT"),
            ("ACCEPT", "REJECT"),
            ("REJECT", "REJECT"),
        ]);
        let path = rng.pick(&["1", "2", "7", "8"]);
        // The flow from the instance, as its interface logs it.
        let out = Leg {
            eni: &eni,
            instance: "i-0c50d5961bcb2d47b",
            src: (&local, ephemeral),
            dst: (remote, service_port),
            pkt: (&local, remote),
            services: ("-", service),
            egress: true,
            path,
            action: out_action,
        };
        let local6 = format!("2001:db8:e000::{}", 1 + rng.below(9));
        let legs = match rng.below(40) {
            // Over IPv6, to S3 in eu-west-1.
            0..5 => {
                let s3 = "2001:db8:a::10";
                let out = Leg {
                    src: (&local6, ephemeral),
                    dst: (s3, service_port),
                    pkt: (&local6, s3),
                    services: ("-", "S3"),
                    ..out
                };
                vec![out, out.reply("-", in_action)]
            }
            // Through a Transit Gateway attachment (centralised egress): its interface logs
            // the attachment's address in place of the remote, and no outside leg.
            5..10 => {
                let inside = Leg {
                    eni: TGW_ENI,
                    instance: "-",
                    dst: ("10.0.3.10", service_port),
                    egress: false,
                    path: "-",
                    action: "ACCEPT",
                    ..out
                };
                let out = Leg {
                    path: "1",
                    action: "ACCEPT",
                    ..out
                };
                vec![out, inside, inside.reply("1", in_action)]
            }
            // Through the NAT gateway: the instance's interface logs it unchanged, the NAT's
            // its inside and outside legs; now and then the NAT's subnet refuses it.
            10..20 => {
                let inside = Leg {
                    eni: NAT_ENI,
                    instance: "-",
                    dst: (NAT_ADDR, service_port),
                    egress: false,
                    path: "-",
                    action: "ACCEPT",
                    ..out
                };
                let outside = Leg {
                    src: (NAT_ADDR, 20_000),
                    dst: (remote, service_port),
                    pkt: (NAT_ADDR, remote),
                    egress: true,
                    path: "8",
                    ..inside
                };
                let out = Leg {
                    path: "1",
                    action: "ACCEPT",
                    ..out
                };
                if rng.below(4) == 0 {
                    vec![
                        out,
                        Leg {
                            action: "REJECT",
                            ..inside
                        },
                    ]
                } else {
                    vec![
                        out,
                        out.reply("-", "ACCEPT"),
                        inside,
                        outside,
                        outside.reply("-", "ACCEPT"),
                        inside.reply("1", "ACCEPT"),
                    ]
                }
            }
            // Between two VPCs through a Transit Gateway, as the attachments log it: one
            // address each rewritten, both sides private.
            20..22 => {
                let request = Leg {
                    eni: TGW_ENI,
                    instance: "-",
                    src: ("10.40.1.175", ephemeral),
                    dst: ("10.40.2.236", service_port),
                    pkt: ("10.20.33.164", "10.40.2.236"),
                    services: ("-", "-"),
                    path: "-",
                    ..out
                };
                let onward = Leg {
                    eni: "eni-0bbbbbbbbbbbbbbb2",
                    src: ("10.40.2.236", ephemeral),
                    dst: ("10.40.2.31", service_port),
                    pkt: ("10.40.2.236", "10.20.33.164"),
                    egress: false,
                    ..request
                };
                vec![request, onward, onward.reply("-", in_action)]
            }
            // From the AWS address to a service on the instance.
            22..30 => {
                let local_port = rng.pick(&[22, 80, 8443]);
                let inbound = Leg {
                    src: (remote, ephemeral),
                    dst: (&local, local_port),
                    pkt: (remote, &local),
                    services: (service, "-"),
                    egress: false,
                    path: "-",
                    action: in_action,
                    ..out
                };
                vec![inbound, inbound.reply(path, out_action)]
            }
            _ => vec![out, out.reply("-", in_action)],
        };
        for leg in &legs {
            write_leg(&mut out_text, leg, &mut rng, protocol, start);
        }
        if flow % 50 == 0 {
            let nodata = "5 123456789012 eni-0000000000000010 - - - - - - - 1764500400 \
                1764500460 - NODATA vpc-0a1b2c3d subnet-0a1b2c3d i-0c50d5961bcb2d47b - - - - \
                us-west-2 usw2-az1 - - - - - -";
            writeln!(out_text, "{nodata}").unwrap();
        }
    }
    out_text
}

/// Rows summed by the key each gives: `key` names the key's fields, `sums` the summed ones.
type Sums = BTreeMap<String, BTreeMap<String, i64>>;

fn sum_rows(rows: &Value, key: &[&str], sums: &[&str]) -> Sums {
    let mut out = Sums::new();
    for row in rows.as_array().unwrap() {
        let name = key
            .iter()
            .map(|field| match &row[field] {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(" ");
        let totals = out.entry(name).or_default();
        for field in sums {
            *totals.entry(field.to_string()).or_default() += row[field].as_i64().unwrap();
        }
    }
    out
}

/// The SQL blocks of a Markdown file.
fn sql_blocks(text: &str) -> Vec<&str> {
    text.split("```sql\n")
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap_or_default())
        .collect()
}

#[test]
fn the_readmes_athena_queries_are_the_tested_ones() {
    let read = |name: &str| std::fs::read_to_string(manifest().join(name)).unwrap();
    let (readme, doc) = (read("README.md"), read("docs/flowlogs.md"));
    let shown = sql_blocks(&readme);
    assert!(!shown.is_empty());
    for block in shown {
        assert!(
            sql_blocks(&doc).contains(&block),
            "not in docs/flowlogs.md:\n{block}"
        );
    }
}

#[test]
fn athena_queries_give_the_reports_numbers() {
    let python = match python() {
        Ok(python) => python,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("flows.log");
    std::fs::write(&log, generate(400)).unwrap();
    let ranges = manifest().join("tests/fixtures/flowlogs/ip-ranges-small.json");

    let empty_cache = tempfile::tempdir().unwrap();
    let tool = Command::new(env!("CARGO_BIN_EXE_egress-probe"))
        .args([
            "flowlogs",
            "--format",
            "json",
            "--top",
            "100",
            "--nat-eni",
            NAT_ENI,
        ])
        .arg("--ip-ranges")
        .arg(&ranges)
        .arg(&log)
        .env("EGRESS_PROBE_CACHE_DIR", empty_cache.path())
        .output()
        .unwrap();
    assert!(
        tool.status.success(),
        "{}",
        String::from_utf8_lossy(&tool.stderr)
    );
    let ours: Value = serde_json::from_slice(&tool.stdout).unwrap();
    assert_eq!(ours["attribution"]["disagreements"], 0, "{ours:#}");
    assert!(ours["nodata"].as_u64().unwrap() >= 8);

    let sql = Command::new(&python)
        .arg(manifest().join("tests/athena_queries.py"))
        .arg(manifest().join("docs/flowlogs.md"))
        .arg(&log)
        .arg(&ranges)
        .output()
        .unwrap();
    assert!(
        sql.status.success(),
        "{}",
        String::from_utf8_lossy(&sql.stderr)
    );
    let athena: Value = serde_json::from_slice(&sql.stdout).unwrap();

    let counts = ["flows", "packets", "bytes"];
    let cases: [(&str, &[&str], &[&str]); 6] = [
        (
            "rejects",
            &[
                "service",
                "direction",
                "protocol",
                "port",
                "nacl_return_traffic",
            ],
            &counts,
        ),
        (
            "plaintext",
            &["interface_role", "service", "direction"],
            &counts,
        ),
        ("s3_paths", &["interface_role", "traffic_path"], &counts),
        (
            "nat",
            &["interface_id", "service", "direction"],
            &["flows", "bytes"],
        ),
        (
            "cross_region",
            &[
                "log_region",
                "interface_role",
                "service",
                "region",
                "direction",
            ],
            &counts,
        ),
        (
            "top",
            &["interface_role", "service"],
            &["bytes_egress", "bytes_ingress", "flows", "bytes"],
        ),
    ];
    let mut differences = Vec::new();
    for (report, key, sums) in cases {
        let theirs = sum_rows(&athena[report], key, sums);
        let mine = sum_rows(&ours[report], key, sums);
        assert!(!mine.is_empty(), "{report}: the generated log has none");
        if theirs != mine {
            differences.push(format!(
                "{report}:\n  flowlogs: {mine:?}\n  athena:   {theirs:?}"
            ));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    // The generated cases all reached the reports.
    let has = |list: &str, field: &str, value: &str| {
        ours[list]
            .as_array()
            .unwrap()
            .iter()
            .any(|row| row[field] == value)
    };
    assert!(has("top", "interface_role", "managed"), "{}", ours["top"]);
    assert!(has("nat", "interface_id", NAT_ENI), "{}", ours["nat"]);
    assert!(
        has("cross_region", "region", "eu-west-1"),
        "{}",
        ours["cross_region"]
    );

    // The time range, NODATA included (the generator's NODATA records start earlier).
    let instant = |value: &Value| {
        value
            .as_str()
            .unwrap()
            .replace(' ', "T")
            .replace("+00:00", "Z")
    };
    let range = &athena["time_range"][0];
    assert_eq!(
        instant(&range["first_start"]),
        ours["time_range"]["start"].as_str().unwrap()
    );
    assert_eq!(
        instant(&range["last_end"]),
        ours["time_range"]["end"].as_str().unwrap()
    );
    assert_eq!(ours["time_range"]["start_epoch"], 1_764_504_000 - 3_600);
}
