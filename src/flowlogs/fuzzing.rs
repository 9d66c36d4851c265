//! The entry point shared by the flow-log fuzz target (`fuzz/`) and the test that replays its
//! corpus: hostile bytes read as a flow-log file, analysed and reported, no panic out.

use std::io::Cursor;

use crate::aws::ipranges::IpRanges;
use crate::flowlogs::analysis::{Context, Settings, Tally};
use crate::flowlogs::attribution::Attributor;
use crate::flowlogs::format::{Format, Origin};
use crate::flowlogs::input::{self, Source};
use crate::flowlogs::scan::{self, ScanOptions};
use crate::flowlogs::{report, table};

/// A few prefixes, so that attribution, S3 paths and other regions are reached.
const RANGES: &str = r#"{"syncToken":"1","createDate":"2026-11-30-12-00-00","prefixes":[
  {"ip_prefix":"203.0.113.0/26","region":"us-west-2","service":"AMAZON"},
  {"ip_prefix":"203.0.113.0/27","region":"us-west-2","service":"S3"},
  {"ip_prefix":"198.51.100.0/25","region":"us-east-1","service":"EC2"}],
  "ipv6_prefixes":[{"ipv6_prefix":"2001:db8::/32","region":"eu-west-1","service":"S3"}]}"#;

/// Reads `data` as one flow-log input (plain or gzip) and renders both reports.
///
/// Bit 0 of the first byte sets `--strict`, bit 1 gives a `--fields` list for headerless
/// records; the rest is the input.
pub fn flowlogs(data: &[u8]) {
    let Some((&control, body)) = data.split_first() else {
        return;
    };
    let fields = (control & 2 != 0).then(|| {
        Format::parse(
            "interface-id instance-id srcaddr dstaddr pkt-srcaddr pkt-dstaddr srcport dstport \
             protocol bytes action region traffic-path flow-direction log-status",
            Origin::Option,
        )
        .expect("a valid field list")
    });
    let options = ScanOptions {
        fields,
        strict: control & 1 != 0,
        region: Some("us-west-2".to_string()),
        ..ScanOptions::default()
    };
    let ranges = IpRanges::parse(RANGES.as_bytes()).expect("valid ranges");
    let ctx = Context {
        attributor: Some(Attributor::new(ranges)),
        source: None,
        settings: Settings::default(),
    };

    let mut tally = Tally::new(&ctx);
    let opened = input::decode(Box::new(Cursor::new(body.to_vec())), Default::default());
    let stop = scan::Stop::never();
    let Ok(file) = scan::scan_opened(&Source::Stdin, opened, &options, &mut tally, stop) else {
        return;
    };
    assert!(file.first_bad_lines.len() <= scan::BAD_LINES_SHOWN);
    assert!(file.nodata + file.skipdata <= file.records);

    let summary = tally.finish();
    let built = report::build(vec![file], &summary, &ctx, 5);
    let _ = table::render(&built);
    let _ = serde_json::to_string(&built).expect("the report serializes");
}
