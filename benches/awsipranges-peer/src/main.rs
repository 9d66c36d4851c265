//! Loads ip-ranges with the `awsipranges` library (offline, from a seeded cache file) and runs a
//! batch of longest-match lookups, printing `load_ns batch_ns hits` for the `ranges` benchmark.

use std::time::Instant;

use awsipranges::ipnetwork::IpNetwork;
use awsipranges::{CacheMode, ClientBuilder};

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(file), Some(queries)) = (args.next(), args.next()) else {
        eprintln!("usage: awsipranges-peer IP_RANGES_FILE ADDRESSES_FILE");
        std::process::exit(2);
    };
    let queries: Vec<IpNetwork> = std::fs::read_to_string(&queries)
        .expect("the addresses file is readable")
        .lines()
        .map(|line| line.parse().expect("one address per line"))
        .collect();

    let started = Instant::now();
    let ranges = ClientBuilder::new()
        .cache_file(&file)
        .cache_mode(CacheMode::Offline)
        .build()
        .get_ranges()
        .expect("awsipranges loads the file");
    let load_ns = started.elapsed().as_nanos();

    let started = Instant::now();
    let hits = queries
        .iter()
        .filter(|query| ranges.get_longest_match_prefix(query).is_some())
        .count();
    let batch_ns = started.elapsed().as_nanos();

    println!("{load_ns} {batch_ns} {hits}");
}
