//! The dissector over hand-built and real TLS hellos, HTTP heads, cut and hostile bytes.

use super::*;

/// A TLS extension: type, length, data.
fn extension(kind: u16, data: &[u8]) -> Vec<u8> {
    let mut out = kind.to_be_bytes().to_vec();
    out.extend_from_slice(&(data.len() as u16).to_be_bytes());
    out.extend_from_slice(data);
    out
}

/// A ClientHello shaped like a browser's: GREASE, supported versions, a key share of
/// `key_share` bytes (a post-quantum one is about 1.2 KB), ALPN, and the SNI last.
pub(crate) fn client_hello_record(sni: &str, key_share: usize) -> Vec<u8> {
    let mut extensions = Vec::new();
    extensions.extend(extension(0x2a2a, b""));
    extensions.extend(extension(43, &[6, 0x3a, 0x3a, 0x03, 0x04, 0x03, 0x03]));
    let mut share = vec![0x00, 0x00, 0x11, 0xec];
    share.extend_from_slice(&(key_share as u16).to_be_bytes());
    share.resize(share.len() + key_share, 0xab);
    let mut shares = ((share.len()) as u16).to_be_bytes().to_vec();
    shares.extend(share);
    extensions.extend(extension(51, &shares));
    let alpn = b"\x00\x0c\x02h2\x08http/1.1";
    extensions.extend(extension(16, alpn));
    let mut name = vec![0];
    name.extend_from_slice(&(sni.len() as u16).to_be_bytes());
    name.extend_from_slice(sni.as_bytes());
    let mut list = (name.len() as u16).to_be_bytes().to_vec();
    list.extend(name);
    extensions.extend(extension(0, &list));

    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[7; 32]);
    body.push(32);
    body.extend_from_slice(&[9; 32]);
    body.extend_from_slice(&[0, 6, 0x1a, 0x1a, 0x13, 0x01, 0x13, 0x02]);
    body.extend_from_slice(&[1, 0]);
    body.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
    body.extend(extensions);
    records(1, &body, usize::MAX)
}

/// A handshake message of `kind` in handshake records of at most `fragment` bytes each.
fn records(kind: u8, body: &[u8], fragment: usize) -> Vec<u8> {
    let mut message = vec![kind];
    message.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    message.extend_from_slice(body);
    let mut out = Vec::new();
    for chunk in message.chunks(fragment.min(16384)) {
        out.extend_from_slice(&[22, 3, 1]);
        out.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
        out.extend_from_slice(chunk);
    }
    out
}

fn server_hello_record(chosen: u16) -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[5; 32]);
    body.push(32);
    body.extend_from_slice(&[9; 32]);
    body.extend_from_slice(&[0x13, 0x01, 0]);
    let mut extensions = extension(43, &chosen.to_be_bytes());
    extensions.extend(extension(16, b"\x00\x09\x08http/1.1"));
    body.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
    body.extend(extensions);
    records(2, &body, usize::MAX)
}

fn hello(bytes: &[u8]) -> ClientHello {
    match dissect(bytes).0 {
        Dissection::ClientHello(hello) => hello,
        other => panic!("not a ClientHello: {other:?}"),
    }
}

#[test]
fn a_large_client_hello_yields_sni_versions_and_alpn() {
    let record = client_hello_record("s3.us-west-2.amazonaws.com", 1216);
    assert!(record.len() > 1300, "{}", record.len());
    let (dissection, consumed) = dissect(&record);
    assert_eq!(consumed, record.len());
    let Dissection::ClientHello(hello) = dissection else {
        panic!("{dissection:?}")
    };
    assert_eq!(hello.sni.as_deref(), Some("s3.us-west-2.amazonaws.com"));
    assert_eq!(hello.versions, ["TLSv1_3", "TLSv1_2"]);
    assert_eq!(hello.alpn, ["h2", "http/1.1"]);
    assert!(hello.complete);
}

#[test]
fn a_hello_spread_over_several_records_is_gathered() {
    let whole = client_hello_record("bucket.s3.us-west-2.amazonaws.com", 1216);
    let body = &whole[9..];
    let split = records(1, body, 500);
    assert_eq!(split.len(), whole.len() + 10, "three records");
    let hello = hello(&split);
    assert_eq!(
        hello.sni.as_deref(),
        Some("bucket.s3.us-west-2.amazonaws.com")
    );
    assert!(hello.complete);
}

#[test]
fn a_hello_cut_mid_extension_keeps_the_whole_extensions_before_the_cut() {
    let record = client_hello_record("s3.us-west-2.amazonaws.com", 1216);
    // Cut inside the SNI, the last extension: versions and ALPN arrived, the name did not.
    let cut = hello(&record[..record.len() - 5]);
    assert_eq!(cut.sni, None);
    assert_eq!(cut.versions, ["TLSv1_3", "TLSv1_2"]);
    assert_eq!(cut.alpn, ["h2", "http/1.1"]);
    assert!(!cut.complete);
    // Cut inside the key share: only what came before it.
    let early = hello(&record[..200]);
    assert_eq!((early.sni, early.alpn.len()), (None, 0));
    assert_eq!(early.versions, ["TLSv1_3", "TLSv1_2"]);
}

#[test]
fn every_prefix_of_a_hello_dissects_without_panic() {
    let record = client_hello_record("s3.us-west-2.amazonaws.com", 300);
    for len in 0..=record.len() {
        let (dissection, consumed) = dissect(&record[..len]);
        assert!(consumed <= len);
        if len >= 6 {
            assert_eq!(dissection.kind(), "tls-client-hello", "at {len}");
        }
    }
}

#[test]
fn a_real_rustls_client_hello() {
    crate::install_crypto_provider();
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let mut config = config;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let name =
        rustls::pki_types::ServerName::try_from("s3.dualstack.us-west-2.amazonaws.com").unwrap();
    let mut connection = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
    let mut bytes = Vec::new();
    connection.write_tls(&mut bytes).unwrap();
    let hello = hello(&bytes);
    assert_eq!(
        hello.sni.as_deref(),
        Some("s3.dualstack.us-west-2.amazonaws.com")
    );
    assert_eq!(hello.versions, ["TLSv1_3", "TLSv1_2"]);
    assert_eq!(hello.alpn, ["http/1.1"]);
}

#[test]
fn a_tls13_server_hello_names_the_chosen_version() {
    let (dissection, _) = dissect(&server_hello_record(0x0304));
    let Dissection::ServerHello(hello) = dissection else {
        panic!("{dissection:?}")
    };
    assert_eq!(hello.version, "TLSv1_3");
    assert_eq!(hello.alpn.as_deref(), Some("http/1.1"));
    let cut = server_hello_record(0x0304);
    let (dissection, _) = dissect(&cut[..20]);
    assert_eq!(dissection.kind(), "tls-server-hello");
}

#[test]
fn application_data_is_tls_but_no_hello() {
    let (dissection, _) = dissect(&[23, 3, 3, 0, 4, 1, 2, 3, 4]);
    assert_eq!(dissection, Dissection::Other { tls: true });
}

#[test]
fn an_http_request_with_its_host() {
    let head =
        b"GET /amazonlinux/2023/mirror.list HTTP/1.1\r\nhost: al2023-repos.s3.amazonaws.com\r\n\
                 user-agent: dnf\r\n\r\n";
    let (dissection, consumed) = dissect(head);
    assert_eq!(consumed, head.len());
    let Dissection::Request(request) = dissection else {
        panic!("{dissection:?}")
    };
    assert_eq!(request.method, "GET");
    assert_eq!(
        request.target.as_deref(),
        Some("/amazonlinux/2023/mirror.list")
    );
    assert_eq!(
        request.host.as_deref(),
        Some("al2023-repos.s3.amazonaws.com")
    );
    assert!(request.complete);
}

#[test]
fn a_64_kb_request_line_cut_at_the_first_bytes_is_still_readable_http() {
    let mut line = b"GET /".to_vec();
    line.resize(64 * 1024, b'a');
    line.extend_from_slice(b" HTTP/1.1\r\nHost: x\r\n\r\n");
    let first = &line[..4096];
    let (dissection, _) = dissect(first);
    let Dissection::Request(request) = dissection else {
        panic!("{dissection:?}")
    };
    assert_eq!(request.method, "GET");
    let target = request.target.unwrap();
    assert_eq!(target.chars().count(), MAX_TEXT);
    assert!(target.starts_with("/aaa"));
    assert!(!request.complete);
    assert!(dissect(&line).0.is_http());
}

#[test]
fn a_status_line() {
    let (dissection, _) = dissect(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: x\r\n\r\n");
    assert_eq!(
        dissection,
        Dissection::Response(Response {
            status: 307,
            reason: Some("Temporary Redirect".into()),
            complete: true
        })
    );
    let (cut, _) = dissect(b"HTTP/1.1 403 Forb");
    assert!(matches!(
        cut,
        Dissection::Response(Response {
            status: 403,
            complete: false,
            ..
        })
    ));
}

#[test]
fn binary_and_text_that_is_not_http() {
    assert_eq!(dissect(&[0, 1, 2, 255]).0, Dissection::Other { tls: false });
    assert_eq!(dissect(b"SSH-2.0-OpenSSH_9.6\r\n").0.kind(), "other");
    assert_eq!(dissect(b"").0, Dissection::Nothing);
    assert_eq!(dissect(b"HTTP/x").0.kind(), "other");
}

#[test]
fn control_characters_never_reach_the_report() {
    let (dissection, _) = dissect(b"GET /\x1b[31mred HTTP/1.1\r\nHost: a\x7fb\r\n\r\n");
    let text = format!("{dissection:?}");
    assert!(!text.contains('\u{1b}'), "{text}");
}
