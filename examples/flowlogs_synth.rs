//! Writes synthetic default-format flow-log records to stdout, for trying `flowlogs` on large
//! inputs: `cargo run --example flowlogs_synth -- RECORDS [SEED] [IP_RANGES_FILE]`.

use std::io::BufWriter;
use std::path::Path;

use egress_probe::aws::ipranges::IpRanges;
use egress_probe::flowlogs::synth::{self, Generator};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let records: u64 = args.next().map_or(Ok(1_000_000), |text| text.parse())?;
    let seed: u64 = args.next().map_or(Ok(42), |text| text.parse())?;
    let remotes = match args.next() {
        Some(path) => synth::aws_addresses(&IpRanges::load(Path::new(&path))?, 400),
        None => Vec::new(),
    };

    let stdout = std::io::stdout().lock();
    match Generator::new(seed, remotes).write(BufWriter::new(stdout), records) {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
