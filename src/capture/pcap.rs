//! The `--pcap FILE` writer: the frames capture kept, in classic pcap format for Wireshark.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use pcap_file::DataLink;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};

use crate::capture::frame::LinkType;

/// Bytes of one frame written at most (tcpdump's default snap length).
pub const SNAPLEN: usize = 262_144;

/// Frame bytes kept for the file at most; later frames are counted as dropped.
pub const MAX_BYTES: usize = 64 * 1024 * 1024;

/// The part of a frame that is written.
pub fn clip(frame: &[u8]) -> &[u8] {
    &frame[..frame.len().min(SNAPLEN)]
}

/// Writes `frames` to `path` (atomically); the file's link type is the first frame's, and
/// frames of another link type are left out. Returns how many were left out.
// TODO(capture on a tun and an Ethernet interface at once): pcapng would keep both.
pub fn write(path: &Path, frames: &[(SystemTime, LinkType, Vec<u8>)]) -> anyhow::Result<u64> {
    let link = frames
        .first()
        .map_or(LinkType::Ethernet, |(_, link, _)| *link);
    let header = PcapHeader {
        snaplen: SNAPLEN as u32,
        datalink: DataLink::from(u32::from(link.pcap_number())),
        ..PcapHeader::default()
    };
    let mut writer =
        PcapWriter::with_header(Vec::new(), header).context("writing the pcap header")?;
    let mut skipped = 0;
    for (wall, frame_link, frame) in frames {
        if *frame_link != link {
            skipped += 1;
            continue;
        }
        let timestamp = wall.duration_since(UNIX_EPOCH).unwrap_or_default();
        let packet = PcapPacket::new(timestamp, frame.len() as u32, frame);
        writer
            .write_packet(&packet)
            .context("writing a pcap record")?;
    }
    crate::output::write_atomic(path, &writer.into_writer())?;
    Ok(skipped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::frame::tests::tcp_v4;

    #[test]
    fn written_file_reads_back_with_the_same_frames() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.pcap");
        let frame = tcp_v4("198.51.100.10:40000", "203.0.113.10:443", 64, 1, "S", b"");
        let at = UNIX_EPOCH + std::time::Duration::from_micros(1_764_504_000_123_456);
        let frames = vec![
            (at, LinkType::Ethernet, frame.clone()),
            (at, LinkType::RawIp, frame[14..].to_vec()),
        ];
        assert_eq!(write(&path, &frames).unwrap(), 1);

        let bytes = std::fs::read(&path).unwrap();
        let mut reader = pcap_file::pcap::PcapReader::new(&bytes[..]).unwrap();
        assert_eq!(reader.header().datalink, DataLink::ETHERNET);
        let packet = reader.next_packet().unwrap().unwrap();
        assert_eq!(packet.data.as_ref(), &frame[..]);
        assert_eq!(packet.timestamp.as_micros(), 1_764_504_000_123_456);
        assert!(reader.next_packet().is_none());
    }
}
