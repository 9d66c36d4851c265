//! Flow-log throughput side by side with what a user has: `wc -l` over the same bytes (the
//! ceiling for just reading lines), an `awk` REJECT group-by, and `gzip -dc` for the compressed
//! file; and the same records as Parquet delivery, per record against the text.
//! Run with `cargo bench --bench flowlogs`; `FLOWLOGS_BENCH_RECORDS` sets the size.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use egress_probe::aws::ipranges::IpRanges;
use egress_probe::flowlogs::analysis::{Context, Settings};
use egress_probe::flowlogs::attribution::Attributor;
use egress_probe::flowlogs::format::Format;
use egress_probe::flowlogs::input::{self, Piece, Source};
use egress_probe::flowlogs::record;
use egress_probe::flowlogs::scan::ScanOptions;
use egress_probe::flowlogs::{self, synth};

/// The REJECT group-by users write today.
const AWK: &str = r#"$13 == "REJECT" { k = $4 " " $5 " " $7; n[k]++; b[k] += $10 }
END { for (k in n) print k, n[k], b[k] }"#;

/// At most this many of the records are also written as Parquet (held in memory to write).
const PARQUET_RECORDS: u64 = 1_000_000;

/// How many times each contender runs; the best time counts.
const RUNS: usize = 3;

fn main() -> anyhow::Result<()> {
    let records: u64 = std::env::var("FLOWLOGS_BENCH_RECORDS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(3_000_000);
    let dir = tempfile::tempdir()?;
    let plain = dir.path().join("flows.log");
    let gzip = dir.path().join("flows.log.gz");

    let ranges = ip_ranges();
    let remotes = ranges
        .as_ref()
        .map(|ranges| synth::aws_addresses(ranges, 400))
        .unwrap_or_default();
    generate(&plain, &gzip, records, remotes)?;
    let ctx = Context {
        attributor: ranges.map(Attributor::new),
        source: None,
        settings: Settings::default(),
    };
    println!(
        "{records} generated records: {} MiB plain, {} MiB gzip; attribution {}",
        size_mib(&plain),
        size_mib(&gzip),
        if ctx.attributor.is_some() {
            "on"
        } else {
            "off (no ip-ranges snapshot)"
        }
    );

    let wc = best(|| shell(&format!("wc -l < {}", plain.display())))?;
    let awk = best(|| shell(&format!("awk '{AWK}' {} > /dev/null", plain.display())))?;
    let ours = best(|| analyse(&plain, &ctx, records, 1))?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let ours_all = best(|| analyse(&plain, &ctx, records, cores))?;
    let gunzip = best(|| shell(&format!("gzip -dc {} > /dev/null", gzip.display())))?;
    let ours_gz = best(|| analyse(&gzip, &ctx, records, 1))?;
    let ours_gz_all = best(|| analyse(&gzip, &ctx, records, cores))?;

    let parquet = dir.path().join("flows.log.parquet");
    let parquet_records = to_parquet(&plain, &parquet, PARQUET_RECORDS)?;
    let ours_pq = best(|| analyse(&parquet, &ctx, parquet_records, 1))?;
    let ours_pq_all = best(|| analyse(&parquet, &ctx, parquet_records, cores))?;

    let lines = best(|| phase(&plain, records, false))?;
    let parsed = best(|| phase(&plain, records, true))?;

    let rate = |time: Duration| records as f64 / time.as_secs_f64() / 1e6;
    println!(
        "\n{:<38} {:>9} {:>14}",
        "phase (plain, one core)", "seconds", "M records/s"
    );
    for (name, time) in [
        ("cut into lines", lines),
        ("lines parsed", parsed),
        ("lines parsed and analysed", ours),
    ] {
        println!(
            "{name:<38} {:>9.3} {:>14.2}",
            time.as_secs_f64(),
            rate(time)
        );
    }
    let all_cores = format!("egress-probe flowlogs ({cores} cores)");
    let all_cores_gz = format!("egress-probe flowlogs (gzip, {cores} cores)");
    println!(
        "\n{:<38} {:>9} {:>14}",
        "contender", "seconds", "M records/s"
    );
    for (name, time) in [
        ("wc -l (plain)", wc),
        ("awk REJECT group-by (plain)", awk),
        ("egress-probe flowlogs (one core)", ours),
        (all_cores.as_str(), ours_all),
        ("gzip -dc > /dev/null", gunzip),
        ("egress-probe flowlogs (gzip)", ours_gz),
        (all_cores_gz.as_str(), ours_gz_all),
    ] {
        println!(
            "{name:<38} {:>9.3} {:>14.2}",
            time.as_secs_f64(),
            rate(time)
        );
    }

    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    println!("\nratios");
    println!(
        "  flowlogs / wc -l time      {:>6.2}x  (1.0 = as fast as reading lines)",
        ratio(ours, wc)
    );
    println!(
        "  awk / flowlogs time        {:>6.2}x  one core; {:.2}x on {cores} cores (aim: at least 10x)",
        ratio(awk, ours),
        ratio(awk, ours_all)
    );
    println!(
        "  flowlogs gzip / gzip -dc   {:>6.2}x  one core; {:.2}x on {cores} cores (aim: at most 1.5x)",
        ratio(ours_gz, gunzip),
        ratio(ours_gz_all, gunzip)
    );
    println!(
        "  plain records/s per core   {:>6.2}M  (aim: at least 5M)",
        rate(ours)
    );
    let per_record = |time: Duration, count: u64| time.as_secs_f64() / count as f64;
    println!(
        "\nParquet (the first {parquet_records} records, {} MiB, gzip pages): {:.3} s one core \
         ({:.2} M records/s), {:.3} s on {cores} cores",
        size_mib(&parquet),
        ours_pq.as_secs_f64(),
        parquet_records as f64 / ours_pq.as_secs_f64() / 1e6,
        ours_pq_all.as_secs_f64()
    );
    println!(
        "  Parquet / plain time per record {:>6.2}x  one core",
        per_record(ours_pq, parquet_records) / per_record(ours, records)
    );
    if let Some(peak) = peak_memory() {
        println!("  peak resident memory       {peak} (generator buffers included)");
    }
    Ok(())
}

/// The newest ip-ranges snapshot beside the repository, when present.
fn ip_ranges() -> Option<IpRanges> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/ip-ranges/ip-ranges-2026-08-22.json");
    match IpRanges::load(&path) {
        Ok(ranges) => Some(ranges),
        Err(err) => {
            eprintln!("no attribution in the benchmark: {err:#}");
            None
        }
    }
}

fn generate(
    plain: &Path,
    gzip: &Path,
    records: u64,
    remotes: Vec<std::net::Ipv4Addr>,
) -> anyhow::Result<()> {
    let file = std::fs::File::create(plain)?;
    synth::Generator::new(42, remotes).write(BufWriter::new(file), records)?;

    let mut encoder = flate2::write::GzEncoder::new(
        BufWriter::new(std::fs::File::create(gzip)?),
        flate2::Compression::default(),
    );
    std::io::copy(&mut std::fs::File::open(plain)?, &mut encoder)?;
    encoder.finish()?.flush()?;
    Ok(())
}

/// Writes the first `limit` records of the default-format text `plain` as a Parquet file the
/// way VPC Flow Logs delivers it (one column per field, `-` as null); the records written.
fn to_parquet(plain: &Path, out: &Path, limit: u64) -> anyhow::Result<u64> {
    use parquet::basic::{Compression, GzipLevel};
    use parquet::column::writer::ColumnWriter;
    use parquet::data_type::ByteArray;
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;
    use std::sync::Arc;

    let schema = "message flow_log {
        OPTIONAL INT32 version; OPTIONAL BINARY account_id (UTF8);
        OPTIONAL BINARY interface_id (UTF8); OPTIONAL BINARY srcaddr (UTF8);
        OPTIONAL BINARY dstaddr (UTF8); OPTIONAL INT32 srcport; OPTIONAL INT32 dstport;
        OPTIONAL INT32 protocol; OPTIONAL INT64 packets; OPTIONAL INT64 bytes;
        OPTIONAL INT64 start; OPTIONAL INT64 end; OPTIONAL BINARY action (UTF8);
        OPTIONAL BINARY log_status (UTF8); }";
    let properties = WriterProperties::builder()
        .set_compression(Compression::GZIP(GzipLevel::default()))
        .build();
    let mut writer = SerializedFileWriter::new(
        std::fs::File::create(out)?,
        Arc::new(parse_message_type(schema)?),
        Arc::new(properties),
    )?;
    let mut lines = BufReader::new(std::fs::File::open(plain)?).lines();
    let mut written = 0;
    while written < limit {
        let group: Vec<String> = lines
            .by_ref()
            .take(100_000.min((limit - written) as usize))
            .collect::<Result<_, _>>()?;
        if group.is_empty() {
            break;
        }
        let rows: Vec<Vec<&str>> = group.iter().map(|line| line.split(' ').collect()).collect();
        let mut row_group = writer.next_row_group()?;
        let mut column = 0;
        while let Some(mut writer) = row_group.next_column()? {
            let values: Vec<&str> = rows.iter().map(|row| row[column]).collect();
            let levels: Vec<i16> = values.iter().map(|v| i16::from(*v != "-")).collect();
            let present = values.iter().filter(|v| **v != "-");
            match writer.untyped() {
                ColumnWriter::Int32ColumnWriter(typed) => {
                    let numbers: Vec<i32> = present.map(|v| v.parse()).collect::<Result<_, _>>()?;
                    typed.write_batch(&numbers, Some(&levels), None)?;
                }
                ColumnWriter::Int64ColumnWriter(typed) => {
                    let numbers: Vec<i64> = present.map(|v| v.parse()).collect::<Result<_, _>>()?;
                    typed.write_batch(&numbers, Some(&levels), None)?;
                }
                ColumnWriter::ByteArrayColumnWriter(typed) => {
                    let texts: Vec<ByteArray> = present.map(|v| ByteArray::from(*v)).collect();
                    typed.write_batch(&texts, Some(&levels), None)?;
                }
                _ => anyhow::bail!("column {column} has a type the schema does not give"),
            }
            writer.close()?;
            column += 1;
        }
        row_group.close()?;
        written += rows.len() as u64;
    }
    writer.close()?;
    Ok(written)
}

fn analyse(path: &Path, ctx: &Context, expected: u64, jobs: usize) -> anyhow::Result<()> {
    let sources = [Source::File(path.to_path_buf())];
    let (files, summary) = flowlogs::analyse(&sources, ctx, &ScanOptions::default(), jobs)?;
    anyhow::ensure!(
        files[0].records == expected,
        "read {} records",
        files[0].records
    );
    anyhow::ensure!(summary.analysed > 0 && !summary.rejects.is_empty());
    Ok(())
}

/// Reads the file into lines, and parses them when `parse` is set, without analysing.
fn phase(path: &Path, expected: u64, parse: bool) -> anyhow::Result<()> {
    let source = Source::File(path.to_path_buf());
    let opened = input::open(&source, Default::default())?;
    let format = Format::default_v2();
    let mut count = 0u64;
    input::lines(opened.reader, |_, piece| {
        if let Piece::Line(line) = piece {
            let mut record = record::Record::EMPTY;
            count += u64::from(!parse || record::parse_line(line, &format, &mut record).is_ok());
        }
        true
    });
    anyhow::ensure!(count == expected, "{count} lines");
    Ok(())
}

fn shell(script: &str) -> anyhow::Result<()> {
    let status = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdout(Stdio::null())
        .status()
        .with_context(|| format!("running {script}"))?;
    anyhow::ensure!(status.success(), "{script} failed");
    Ok(())
}

fn best(mut run: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<Duration> {
    let mut best = Duration::MAX;
    for _ in 0..RUNS {
        let started = Instant::now();
        run()?;
        best = best.min(started.elapsed());
    }
    Ok(best)
}

fn size_mib(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |meta| meta.len() >> 20)
}

fn peak_memory() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .map(|value| value.trim().to_string())
}
