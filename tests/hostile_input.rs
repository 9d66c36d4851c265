//! Every parser that reads bytes from the network or a file, fed mutated and truncated versions
//! of real-shaped input: none may panic. A deterministic generator keeps failures replayable.

use egress_probe::aws::{hostname, ipranges::IpRanges};
use egress_probe::probe::s3xml;
use egress_probe::yum::{config, mirrors, repo::UrlKind};

/// xorshift64*: small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Truncations, byte flips, duplicated spans and inserted junk of `seed`.
fn mutations(seed: &[u8], count: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ seed.len() as u64);
    let mut out = vec![Vec::new(), seed.to_vec()];
    for _ in 0..count {
        let mut bytes = seed.to_vec();
        for _ in 0..=rng.below(4) {
            let at = rng.below(bytes.len() + 1);
            match rng.below(4) {
                0 => bytes.truncate(at),
                1 if at < bytes.len() => bytes[at] = rng.next() as u8,
                2 => {
                    let end = (at + rng.below(64)).min(bytes.len());
                    let span = bytes[at..end].to_vec();
                    bytes.splice(at..at, span);
                }
                _ => {
                    const JUNK: [&[u8]; 6] = [b"<", b"&#x0;", b"\xff\xfe", b"]]>", b"\n[", b"$x$"];
                    let junk = JUNK[rng.below(JUNK.len())];
                    bytes.splice(at..at, junk.iter().copied());
                }
            }
        }
        out.push(bytes);
    }
    out
}

const IP_RANGES: &str = include_str!("fixtures/vpc-ip-ranges.json");
const S3_ERROR: &str = "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>User: \
    x is not authorized &quot;arn&quot; because no VPC endpoint policy allows</Message>\
    <Endpoint>b.s3.us-east-1.amazonaws.com</Endpoint><BucketRegion>us-east-1</BucketRegion></Error>";
const METALINK: &str = "<?xml version=\"1.0\"?><metalink version=\"3.0\" \
    xmlns=\"http://www.metalinker.org/\"><files><file name=\"repomd.xml\"><resources>\
    <url protocol=\"https\" type=\"https\" location=\"US\" preference=\"100\">\
    https://mirror.example.com/fedora/31/x86_64/os/repodata/repomd.xml</url></resources></file>\
    </files></metalink>";
const MIRRORLIST: &str = "http://amazonlinux.us-west-2.amazonaws.com/2/core/2.0/x86_64/abc\n\
    # comment\nhttps://cdn.amazonlinux.com/al2023/core/guids/x/$basearch/\n";
const REPO_FILE: &str = "[main]\ncachedir=/var/cache\n[amzn2-core]\nname=core\n\
    mirrorlist=http://amazonlinux.$awsregion.$awsdomain/$releasever/x/mirror.list\n  \
    http://second/\nenabled=1\nreport_instanceid=yes\n";

#[test]
fn ip_ranges_parser_survives_mutations() {
    for bytes in mutations(IP_RANGES.as_bytes(), 400) {
        if let Ok(ranges) = IpRanges::parse(&bytes) {
            let _ = ranges.attribute("203.0.113.10".parse().unwrap());
            let _ = ranges.attribute("2001:db8:a::1".parse().unwrap());
        }
    }
}

#[test]
fn s3_error_parser_survives_mutations() {
    let mut parsed = 0;
    for bytes in mutations(S3_ERROR.as_bytes(), 2000) {
        parsed += usize::from(s3xml::parse_error(&bytes).is_some());
    }
    assert!(parsed > 0, "some mutations stay parseable");
}

#[test]
fn mirror_list_and_metalink_parsers_survive_mutations() {
    for seed in [METALINK, MIRRORLIST] {
        for bytes in mutations(seed.as_bytes(), 1000) {
            let _ = mirrors::parse_list(&bytes, UrlKind::Metalink);
            let _ = mirrors::parse_list(&bytes, UrlKind::Mirrorlist);
            let text = String::from_utf8_lossy(&bytes);
            let _ = mirrors::parse_mirrorlist(&text);
            let _ = mirrors::parse_metalink(&text);
        }
    }
}

#[test]
fn repo_file_and_hostname_parsers_survive_mutations() {
    for bytes in mutations(REPO_FILE.as_bytes(), 1000) {
        let _ = config::parse(&String::from_utf8_lossy(&bytes));
    }
    for bytes in mutations(
        b"al2023-repos-us-east-1-de612dc2.s3.dualstack.us-east-1.amazonaws.com",
        2000,
    ) {
        let _ = hostname::parse(&String::from_utf8_lossy(&bytes));
    }
}
