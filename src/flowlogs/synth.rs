//! Synthetic flow logs for benchmarks and tests: default-format records with a realistic mix
//! (AWS services and the internet, both directions, REJECTs, port 80, NODATA), the same for
//! the same seed.

use std::io::{self, Write};
use std::net::Ipv4Addr;

use crate::aws::ipranges::IpRanges;

/// Makes default (version 2) flow-log lines.
#[derive(Debug, Clone)]
pub struct Generator {
    state: u64,
    remotes: Vec<Ipv4Addr>,
    interfaces: Vec<String>,
    clock: u64,
}

impl Generator {
    /// A generator drawing remote addresses from `remotes` (documentation addresses if empty).
    pub fn new(seed: u64, mut remotes: Vec<Ipv4Addr>) -> Generator {
        if remotes.is_empty() {
            remotes = (1..=200).map(|n| Ipv4Addr::new(198, 51, 100, n)).collect();
        }
        let interfaces = (0..64)
            .map(|n| format!("eni-{:017x}", 0x0a1b_2c3d_u64 * (n + 1)))
            .collect();
        Generator {
            state: seed ^ 0x9E37_79B9_7F4A_7C15,
            remotes,
            interfaces,
            clock: 1_764_504_000,
        }
    }

    /// A splitmix64 step.
    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    /// Appends one record and its newline to `line`.
    pub fn line(&mut self, line: &mut Vec<u8>) -> io::Result<()> {
        let interface = self.below(self.interfaces.len() as u64) as usize;
        let start = self.clock + self.below(60);
        self.clock += u64::from(self.below(1000) == 0);
        let end = start + 60;
        let roll = self.below(1000);
        if roll < 10 {
            return writeln!(
                line,
                "2 123456789012 {} - - - - - - - {start} {end} - NODATA",
                self.interfaces[interface]
            );
        }

        let local = Ipv4Addr::new(10, 0, self.below(4) as u8, 1 + self.below(250) as u8);
        let pick = self.below(self.remotes.len() as u64) as usize;
        let remote = self.remotes[pick];
        let service_port = if self.below(10) == 0 { 80 } else { 443 };
        let ephemeral = 32768 + self.below(28000);
        let action = if self.below(20) == 0 {
            "REJECT"
        } else {
            "ACCEPT"
        };
        let packets = 1 + self.below(50);
        let bytes = packets * (40 + self.below(1400));
        let (src, dst, src_port, dst_port) = if roll.is_multiple_of(2) {
            (local, remote, ephemeral, service_port)
        } else {
            (remote, local, service_port, ephemeral)
        };
        writeln!(
            line,
            "2 123456789012 {} {src} {dst} {src_port} {dst_port} 6 {packets} {bytes} {start} {end} \
             {action} OK",
            self.interfaces[interface]
        )
    }

    /// Writes `records` lines to `out`.
    pub fn write(&mut self, mut out: impl Write, records: u64) -> io::Result<()> {
        let mut chunk = Vec::with_capacity(1 << 20);
        for _ in 0..records {
            self.line(&mut chunk)?;
            if chunk.len() >= (1 << 20) - 256 {
                out.write_all(&chunk)?;
                chunk.clear();
            }
        }
        out.write_all(&chunk)?;
        out.flush()
    }
}

/// Up to `count` IPv4 addresses inside published prefixes, spread over the whole file.
pub fn aws_addresses(ranges: &IpRanges, count: usize) -> Vec<Ipv4Addr> {
    let v4: Vec<_> = ranges
        .entries
        .iter()
        .filter_map(|entry| match entry.prefix {
            ipnet::IpNet::V4(net) => Some(net),
            ipnet::IpNet::V6(_) => None,
        })
        .collect();
    if v4.is_empty() {
        return Vec::new();
    }
    let step = (v4.len() / count.max(1)).max(1);
    v4.iter()
        .step_by(step)
        .take(count)
        .map(|net| {
            let first = u32::from(net.network());
            let hosts = u32::from(net.broadcast()) - first;
            Ipv4Addr::from(first + hosts.min(7))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flowlogs::format::Format;
    use crate::flowlogs::record::{self, LogStatus};

    #[test]
    fn generated_lines_parse_and_repeat_for_a_seed() {
        let mut first = Vec::new();
        Generator::new(7, Vec::new())
            .write(&mut first, 2000)
            .unwrap();
        let mut second = Vec::new();
        Generator::new(7, Vec::new())
            .write(&mut second, 2000)
            .unwrap();
        assert_eq!(first, second);

        let format = Format::default_v2();
        let mut nodata = 0;
        let mut rejects = 0;
        let lines: Vec<&[u8]> = first
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(lines.len(), 2000);
        for line in lines {
            let record = record::parse(line, &format).unwrap();
            nodata += usize::from(record.status == LogStatus::NoData);
            rejects += usize::from(record.action == Some(record::Action::Reject));
        }
        assert!((5..60).contains(&nodata), "{nodata}");
        assert!((40..200).contains(&rejects), "{rejects}");
    }
}
