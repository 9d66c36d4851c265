//! Entry points shared by the fuzz targets (`fuzz/`) and the tests that replay their corpus:
//! hostile bytes in, no panic out, bounded work.

use std::time::{Duration, Instant};

use crate::capture::dissect;
use crate::capture::flows::{FlowTable, Way};
use crate::capture::frame::{self, LinkType, Parsed};

/// Dissects `data` as the first bytes of one direction of a flow.
pub fn dissect(data: &[u8]) {
    let (dissection, consumed) = dissect::dissect(data);
    assert!(consumed <= data.len(), "consumed more than given");
    let _ = dissection.kind();
}

/// Reads `data` as a run of frames (a control byte, a two-byte length, the frame), feeds every
/// TCP segment to a flow table, then reassembles and dissects every flow.
///
/// Control bit 0 picks the link type (Ethernet or raw IP), bit 1 the direction.
pub fn frames(mut data: &[u8]) {
    let mut table = FlowTable::default();
    let start = Instant::now();
    let mut tick = 0u64;
    while data.len() >= 3 {
        let control = data[0];
        let length = usize::from(u16::from_be_bytes([data[1], data[2]]));
        let end = (3 + length).min(data.len());
        let bytes = &data[3..end];
        data = &data[end..];

        let link = if control & 1 == 0 {
            LinkType::Ethernet
        } else {
            LinkType::RawIp
        };
        let way = if control & 2 == 0 { Way::Out } else { Way::In };
        if let Parsed::Tcp(segment) = frame::parse(link, bytes) {
            tick += 1;
            table.add(way, &segment, start + Duration::from_micros(tick));
        }
    }
    for flow in table.finish() {
        let _ = flow.carries_http();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::frame::tests::tcp_v4;

    #[test]
    fn framed_input_reaches_the_flow_table() {
        let frame = tcp_v4(
            "198.51.100.10:40000",
            "203.0.113.10:80",
            64,
            1,
            "PA",
            b"GET / HTTP/1.1\r\n\r\n",
        );
        let mut data = vec![0u8];
        data.extend_from_slice(&(frame.len() as u16).to_be_bytes());
        data.extend_from_slice(&frame);
        frames(&data);
        frames(&data[..data.len() - 7]);
        dissect(&frame[54..]);
    }
}

#[cfg(test)]
mod seeds {
    use crate::capture::dissect::tests::client_hello_record;
    use crate::capture::frame::tests::tcp_v4;

    fn framed(frames: &[(u8, Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (control, frame) in frames {
            out.push(*control);
            out.extend_from_slice(&(frame.len() as u16).to_be_bytes());
            out.extend_from_slice(frame);
        }
        out
    }

    #[test]
    #[ignore = "writes the seed corpus once"]
    fn write_seeds() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
        let hello = client_hello_record("s3.us-west-2.amazonaws.com", 1216);
        let small = client_hello_record("bucket.s3.amazonaws.com", 32);
        let request =
            b"GET /pub/ HTTP/1.1\r\nHost: s3.us-west-2.amazonaws.com\r\nAccept: */*\r\n\r\n"
                .to_vec();
        let response =
            b"HTTP/1.1 307 Temporary Redirect\r\nServer: AmazonS3\r\nContent-Length: 0\r\n\r\n"
                .to_vec();
        let dissect = [
            ("seed-client-hello-pq", hello.clone()),
            ("seed-client-hello-small", small.clone()),
            ("seed-client-hello-cut", hello[..900].to_vec()),
            ("seed-http-request", request.clone()),
            ("seed-http-response", response.clone()),
            ("seed-application-data", vec![23, 3, 3, 0, 4, 1, 2, 3, 4]),
        ];
        for (name, bytes) in dissect {
            std::fs::write(dir.join("dissect").join(name), bytes).unwrap();
        }
        let (host, s3) = ("198.51.100.10:40000", "203.0.113.10:443");
        let (first, second) = hello.split_at(600);
        let tls = framed(&[
            (0, tcp_v4(host, s3, 64, 100, "S", b"")),
            (2, tcp_v4(s3, host, 61, 900, "SA", b"")),
            (0, tcp_v4(host, s3, 64, 701, "PA", second)),
            (0, tcp_v4(host, s3, 64, 101, "PA", first)),
        ]);
        let (host, s3) = ("198.51.100.10:40001", "203.0.113.10:80");
        let http = framed(&[
            (0, tcp_v4(host, s3, 64, 10, "S", b"")),
            (2, tcp_v4(s3, host, 61, 90, "SA", b"")),
            (0, tcp_v4(host, s3, 64, 11, "PA", &request)),
            (2, tcp_v4(s3, host, 61, 91, "PA", &response)),
            (1, tcp_v4(host, s3, 64, 11, "PA", &request)[14..].to_vec()),
        ]);
        for (name, bytes) in [("seed-tls-split", tls), ("seed-http", http)] {
            std::fs::write(dir.join("frames").join(name), bytes).unwrap();
        }
    }
}
