//! Speed of the ip-ranges index against what a user would otherwise reach for: the
//! `awsipranges` crate (its command line for load plus one lookup, its library for a batch),
//! a naive `ipnet` contains loop, and Python's stdlib `ipaddress`. Printed side by side.
//!
//! `cargo bench --bench ranges`. The awsipranges programs are built once, outside
//! egress-probe's own build (benches/awsipranges-peer, and `cargo install awsipranges`), into
//! target/awsipranges-peer; when that fails their columns say so.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use egress_probe::aws::ipranges::IpRanges;

const BATCH: usize = 1_000_000;
const NAIVE_BATCH: usize = 2_000;
const PYTHON_BATCH: usize = 2_000;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = root.join("../shared/data/ip-ranges/ip-ranges-2026-08-22.json");
    if !data.exists() {
        println!("skipping: {} is absent", data.display());
        return;
    }
    let work = tempfile::tempdir().expect("a temporary directory");
    let ranges = IpRanges::load(&data).expect("the snapshot loads");
    let queries = addresses(&ranges, BATCH);
    let query_file = work.path().join("addresses.txt");
    let text: String = queries.iter().map(|a| format!("{a}\n")).collect();
    std::fs::write(&query_file, text).expect("writing the addresses");

    println!(
        "ranges benchmark: {} ({} entries), {} addresses (half inside published prefixes)",
        data.file_name().unwrap_or_default().to_string_lossy(),
        ranges.entries.len(),
        BATCH
    );
    println!(
        "{:<34} {:>14} {:>24} {:>9}",
        "work", "egress-probe", "other", "ratio"
    );

    let ours_load = median(15, || {
        let started = Instant::now();
        black_box(IpRanges::load(&data).expect("loads"));
        started.elapsed()
    });
    let ours_one = median(1001, || {
        let started = Instant::now();
        black_box(ranges.lookup(black_box(IpAddr::V4(queries[7]))).next());
        started.elapsed()
    });
    let ours_batch = median(5, || {
        let started = Instant::now();
        let hits = queries
            .iter()
            .filter(|&&addr| ranges.lookup(IpAddr::V4(addr)).next().is_some())
            .count();
        black_box(hits);
        started.elapsed()
    });

    let peer = Peer::find_or_build(root);
    let ours_cli = median(9, || {
        run_timed(
            Command::new(env!("CARGO_BIN_EXE_egress-probe"))
                .args(["ranges", "--offline", "--ip-ranges"])
                .arg(&data)
                .args(["lookup", "3.5.0.1"]),
        )
    });

    match &peer {
        Ok(peer) => {
            let (their_load, their_batch) = peer.library(&data, &query_file);
            row(
                "load + index (library)",
                ours_load,
                Some(their_load),
                "awsipranges",
            );
            row(
                "1,000,000 lookups (library)",
                ours_batch,
                Some(their_batch),
                "awsipranges",
            );
            let their_cli = peer.command_line(&data, work.path());
            row(
                "CLI: load + one lookup",
                ours_cli,
                Some(their_cli),
                "awsipranges",
            );
        }
        Err(why) => {
            println!("awsipranges columns skipped: {why}");
            row("load + index", ours_load, None, "");
            row("1,000,000 lookups", ours_batch, None, "");
            row("CLI: load + one lookup", ours_cli, None, "");
        }
    }
    row("one lookup", ours_one, None, "");

    let naive = naive_scan(&ranges, &queries[..NAIVE_BATCH]);
    let ours_per = ours_batch / BATCH as u32;
    row(
        "per lookup vs ipnet contains loop",
        ours_per,
        Some(naive),
        "naive scan",
    );
    match python(&data, &queries[..PYTHON_BATCH]) {
        Ok((load, per_lookup)) => {
            row(
                "load vs python3 ipaddress",
                ours_load,
                Some(load),
                "python3",
            );
            row(
                "per lookup vs python3 ipaddress",
                ours_per,
                Some(per_lookup),
                "python3",
            );
        }
        Err(why) => println!("python3 column skipped: {why}"),
    }
    println!(
        "aims: load and index under 30 ms ({}), a million lookups well under 1 s ({})",
        if ours_load < Duration::from_millis(30) {
            "met"
        } else {
            "MISSED"
        },
        if ours_batch < Duration::from_millis(500) {
            "met"
        } else {
            "MISSED"
        },
    );
}

/// Half the addresses inside published IPv4 prefixes, half uniform, from a fixed LCG.
fn addresses(ranges: &IpRanges, count: usize) -> Vec<Ipv4Addr> {
    let v4: Vec<(u32, u32)> = ranges
        .entries
        .iter()
        .filter_map(|entry| match entry.prefix {
            ipnet::IpNet::V4(net) => Some((u32::from(net.network()), u32::from(net.hostmask()))),
            ipnet::IpNet::V6(_) => None,
        })
        .collect();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 32) as u32
    };
    (0..count)
        .map(|i| {
            let draw = next();
            if i % 2 == 0 {
                let (network, hostmask) = v4[draw as usize % v4.len()];
                Ipv4Addr::from(network | (next() & hostmask))
            } else {
                Ipv4Addr::from(draw)
            }
        })
        .collect()
}

fn median(runs: usize, mut once: impl FnMut() -> Duration) -> Duration {
    let mut times: Vec<Duration> = (0..runs).map(|_| once()).collect();
    times.sort();
    times[runs / 2]
}

fn row(work: &str, ours: Duration, other: Option<Duration>, who: &str) {
    let other_text = other.map_or("-".to_string(), |d| format!("{} {}", show(d), who));
    let ratio = other.map_or("-".to_string(), |d| {
        format!("{:.1}x", d.as_secs_f64() / ours.as_secs_f64().max(1e-12))
    });
    println!("{work:<34} {:>14} {other_text:>24} {ratio:>9}", show(ours));
}

fn show(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns < 10_000 {
        format!("{ns} ns")
    } else if ns < 10_000_000 {
        format!("{:.1} µs", ns as f64 / 1e3)
    } else {
        format!("{:.1} ms", ns as f64 / 1e6)
    }
}

fn run_timed(command: &mut Command) -> Duration {
    let started = Instant::now();
    let status = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("the program runs");
    let elapsed = started.elapsed();
    assert!(status.success(), "{command:?} failed");
    elapsed
}

/// The obvious code without an index: every entry's `contains`, per lookup.
fn naive_scan(ranges: &IpRanges, queries: &[Ipv4Addr]) -> Duration {
    let started = Instant::now();
    for &addr in queries {
        let addr = IpAddr::V4(addr);
        let best = ranges
            .entries
            .iter()
            .filter(|entry| entry.prefix.contains(&addr))
            .max_by_key(|entry| entry.prefix.prefix_len());
        black_box(best);
    }
    started.elapsed() / queries.len() as u32
}

/// Python's stdlib doing the same: json + ipaddress, a contains loop per lookup.
fn python(data: &Path, queries: &[Ipv4Addr]) -> Result<(Duration, Duration), String> {
    let script = r#"
import ipaddress, json, sys, time
t0 = time.perf_counter()
doc = json.load(open(sys.argv[1]))
nets = [ipaddress.ip_network(p["ip_prefix"]) for p in doc["prefixes"]]
nets += [ipaddress.ip_network(p["ipv6_prefix"]) for p in doc.get("ipv6_prefixes", [])]
v4 = [n for n in nets if n.version == 4]
t1 = time.perf_counter()
queries = [ipaddress.ip_address(q) for q in sys.argv[2].split(",")]
t2 = time.perf_counter()
for q in queries:
    best = max((n for n in v4 if q in n), key=lambda n: n.prefixlen, default=None)
t3 = time.perf_counter()
print(int((t1 - t0) * 1e9), int((t3 - t2) * 1e9 / len(queries)))
"#;
    let list: Vec<String> = queries.iter().map(ToString::to_string).collect();
    let output = Command::new("python3")
        .args(["-c", script])
        .arg(data)
        .arg(list.join(","))
        .output()
        .map_err(|err| format!("python3: {err}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let mut numbers = text
        .split_whitespace()
        .filter_map(|n| n.parse::<u64>().ok());
    match (numbers.next(), numbers.next()) {
        (Some(load), Some(per)) => Ok((Duration::from_nanos(load), Duration::from_nanos(per))),
        _ => Err(format!(
            "python3 said: {}",
            String::from_utf8_lossy(&output.stderr)
        )),
    }
}

/// The awsipranges programs: the library driver and the crate's own command line.
struct Peer {
    driver: PathBuf,
    cli: PathBuf,
}

impl Peer {
    fn find_or_build(root: &Path) -> Result<Peer, String> {
        let target = root.join("target/awsipranges-peer");
        let peer = Peer {
            driver: target.join("release/awsipranges-peer"),
            cli: target.join("cli/bin/awsipranges"),
        };
        if !peer.driver.exists() {
            println!("building the awsipranges library driver once (target/awsipranges-peer)...");
            let manifest = root.join("benches/awsipranges-peer/Cargo.toml");
            cargo(
                &["build", "--release", "--manifest-path"],
                &manifest,
                &target,
            )?;
        }
        if !peer.cli.exists() {
            println!(
                "installing the awsipranges 0.9.0 command line once (target/awsipranges-peer)..."
            );
            let root_dir = target.join("cli");
            let args = [
                "install",
                "awsipranges",
                "--version",
                "0.9.0",
                "--locked",
                "--root",
            ];
            cargo(&args, &root_dir, &target)?;
        }
        Ok(peer)
    }

    /// Load and batch times as the driver measures them in its own process.
    fn library(&self, data: &Path, queries: &Path) -> (Duration, Duration) {
        let runs: Vec<(u64, u64)> = (0..3)
            .map(|_| {
                let output = Command::new(&self.driver)
                    .arg(data)
                    .arg(queries)
                    .output()
                    .expect("the driver runs");
                let text = String::from_utf8_lossy(&output.stdout);
                let numbers: Vec<u64> = text
                    .split_whitespace()
                    .filter_map(|n| n.parse().ok())
                    .collect();
                (numbers[0], numbers[1])
            })
            .collect();
        let mut loads: Vec<u64> = runs.iter().map(|r| r.0).collect();
        let mut batches: Vec<u64> = runs.iter().map(|r| r.1).collect();
        loads.sort();
        batches.sort();
        (
            Duration::from_nanos(loads[1]),
            Duration::from_nanos(batches[1]),
        )
    }

    /// `awsipranges --offline ADDR` with a fresh seeded cache file, so it never downloads.
    fn command_line(&self, data: &Path, work: &Path) -> Duration {
        let cache = work.join("awsipranges-cache.json");
        std::fs::copy(data, &cache).expect("seeding the awsipranges cache");
        median(9, || {
            run_timed(
                Command::new(&self.cli)
                    .env("AWSIPRANGES_CACHE_FILE", &cache)
                    .args(["--offline", "3.5.0.1"]),
            )
        })
    }
}

fn cargo(args: &[&str], path: &Path, target: &Path) -> Result<(), String> {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .arg(path)
        .arg("--target-dir")
        .arg(target)
        .status()
        .map_err(|err| format!("cargo: {err}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "cargo {} failed (offline, or no C compiler for aws-lc)",
            args[0]
        ))
    }
}
