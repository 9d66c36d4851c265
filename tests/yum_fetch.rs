//! The bounded list fetch against loopback servers started by each test (127.0.0.1 only): a
//! plain HTTP server and a TLS one with a throwaway certificate.

use std::sync::Arc;
use std::time::Duration;

use egress_probe::yum::mirrors::{
    self, FetchError, MAX_LIST_BYTES, MAX_REDIRECTS, fetch_list, fetch_lists,
};
use egress_probe::yum::repo::UrlKind;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::Instant;

const AL1_LIST: &str = "\
    http://packages.eu-west-1.amazonaws.com/2018.03/updates/c539f2128d87/x86_64\n\
    http://packages.us-east-1.amazonaws.com/2018.03/updates/c539f2128d87/x86_64\n";

/// What the test server answers.
enum Reply {
    /// A complete response with a Content-Length.
    Full(u16, Vec<(&'static str, String)>, Vec<u8>),
    /// 200 with `Content-Length: n`, then `n` bytes.
    Declared(usize),
    /// 200 without a length, then bytes until the client goes away.
    Endless,
    /// Never answers.
    Hang,
}

type Route = Arc<dyn Fn(&str) -> Reply + Send + Sync>;

fn redirect(location: String) -> Reply {
    Reply::Full(302, vec![("Location", location)], Vec::new())
}

async fn answer<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, route: Route) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();

    match route(&path) {
        Reply::Full(status, headers, body) => {
            let mut text = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (name, value) in headers {
                text.push_str(&format!("{name}: {value}\r\n"));
            }
            text.push_str("\r\n");
            let _ = stream.write_all(text.as_bytes()).await;
            let _ = stream.write_all(&body).await;
        }
        Reply::Declared(length) => {
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {length}\r\n\r\n");
            let _ = stream.write_all(head.as_bytes()).await;
            stream_bytes(&mut stream, Some(length)).await;
        }
        Reply::Endless => {
            let head = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
            let _ = stream.write_all(head.as_bytes()).await;
            stream_bytes(&mut stream, None).await;
        }
        Reply::Hang => tokio::time::sleep(Duration::from_secs(3600)).await,
    }
    let _ = stream.shutdown().await;
}

async fn stream_bytes<S: AsyncWrite + Unpin>(stream: &mut S, limit: Option<usize>) {
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0;
    while limit.is_none_or(|limit| sent < limit) {
        if stream.write_all(&chunk).await.is_err() {
            return;
        }
        sent += chunk.len();
    }
}

/// Starts a plain HTTP server; returns its base URL.
async fn plain(route: Route) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(answer(stream, route.clone()));
        }
    });
    base
}

/// Starts a TLS server for 127.0.0.1; returns its base URL and the certificate to trust.
async fn tls(route: Route) -> (String, CertificateDer<'static>) {
    egress_probe::install_crypto_provider();
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let cert = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("https://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (acceptor, route) = (acceptor.clone(), route.clone());
            tokio::spawn(async move {
                if let Ok(stream) = acceptor.accept(stream).await {
                    answer(stream, route).await;
                }
            });
        }
    });
    (base, cert)
}

/// The plain server most tests use.
async fn server() -> String {
    let route: Route = Arc::new(|path: &str| match path {
        "/list" => Reply::Full(200, Vec::new(), AL1_LIST.as_bytes().to_vec()),
        "/forbidden" => Reply::Full(
            403,
            vec![("Content-Type", "application/xml".to_string())],
            b"<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code></Error>".to_vec(),
        ),
        "/fifty-megabytes" => Reply::Declared(50 * 1024 * 1024),
        "/endless" => Reply::Endless,
        "/hang" => Reply::Hang,
        "/loop-a" => redirect("/loop-b".to_string()),
        "/loop-b" => redirect("/loop-a".to_string()),
        "/moved" => redirect("/list".to_string()),
        "/no-location" => Reply::Full(301, Vec::new(), Vec::new()),
        "/to-file" => redirect("file:///etc/passwd".to_string()),
        path => match path
            .strip_prefix("/chain/")
            .and_then(|n| n.parse::<u32>().ok())
        {
            Some(n) => redirect(format!("/chain/{}", n + 1)),
            None => Reply::Full(404, Vec::new(), Vec::new()),
        },
    });
    plain(route).await
}

fn soon(seconds: u64) -> Instant {
    Instant::now() + Duration::from_secs(seconds)
}

#[tokio::test]
async fn a_mirror_list_is_fetched_and_parsed() {
    let base = server().await;
    let client = mirrors::client(&[]).unwrap();
    let fetched = fetch_list(&client, &format!("{base}/moved"), soon(5), MAX_LIST_BYTES)
        .await
        .unwrap();
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.url, format!("{base}/list"));
    assert_eq!(fetched.redirects, [format!("{base}/list")]);
    let list = mirrors::parse_list(&fetched.body, UrlKind::Mirrorlist).unwrap();
    assert_eq!(list.mirrors.len(), 2);
    assert!(
        list.mirrors[1]
            .url
            .starts_with("http://packages.us-east-1.amazonaws.com/")
    );
}

#[tokio::test]
async fn a_403_is_an_answer_not_an_error() {
    let base = server().await;
    let client = mirrors::client(&[]).unwrap();
    let fetched = fetch_list(
        &client,
        &format!("{base}/forbidden"),
        soon(5),
        MAX_LIST_BYTES,
    )
    .await
    .unwrap();
    assert_eq!(fetched.status, 403);
    assert!(String::from_utf8_lossy(&fetched.body).contains("<Code>AccessDenied</Code>"));
}

#[tokio::test]
async fn fifty_megabytes_and_endless_bodies_stop_at_the_cap() {
    let base = server().await;
    let client = mirrors::client(&[]).unwrap();
    for path in ["/fifty-megabytes", "/endless"] {
        let started = std::time::Instant::now();
        let result = fetch_list(&client, &format!("{base}{path}"), soon(20), MAX_LIST_BYTES).await;
        assert_eq!(
            result,
            Err(FetchError::TooLarge {
                url: format!("{base}{path}"),
                limit: MAX_LIST_BYTES
            })
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{path} took too long"
        );
    }
}

#[tokio::test]
async fn redirect_loops_and_long_chains_are_cut() {
    let base = server().await;
    let client = mirrors::client(&[]).unwrap();
    let looped = fetch_list(&client, &format!("{base}/loop-a"), soon(5), MAX_LIST_BYTES).await;
    assert_eq!(
        looped,
        Err(FetchError::RedirectLoop {
            url: format!("{base}/loop-a")
        })
    );

    let chain = fetch_list(&client, &format!("{base}/chain/0"), soon(5), MAX_LIST_BYTES).await;
    let last = format!("{base}/chain/{}", MAX_REDIRECTS + 1);
    assert_eq!(
        chain,
        Err(FetchError::TooManyRedirects {
            limit: MAX_REDIRECTS,
            last
        })
    );

    let bad = fetch_list(
        &client,
        &format!("{base}/no-location"),
        soon(5),
        MAX_LIST_BYTES,
    )
    .await;
    assert!(matches!(
        bad,
        Err(FetchError::BadRedirect { status: 301, .. })
    ));
    let to_file = fetch_list(&client, &format!("{base}/to-file"), soon(5), MAX_LIST_BYTES).await;
    assert!(matches!(to_file, Err(FetchError::Refused { url, .. }) if url == "file:///etc/passwd"));
}

#[tokio::test]
async fn a_server_that_hangs_meets_the_deadline() {
    let base = server().await;
    let client = mirrors::client(&[]).unwrap();
    let started = std::time::Instant::now();
    let deadline = Instant::now() + Duration::from_millis(300);
    let result = fetch_list(&client, &format!("{base}/hang"), deadline, MAX_LIST_BYTES).await;
    match result {
        Err(FetchError::Deadline { url, after }) => {
            assert_eq!(url, format!("{base}/hang"));
            assert!(after <= Duration::from_millis(300));
        }
        other => panic!("expected a deadline error, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn https_to_http_is_refused_and_http_to_https_followed() {
    let http_base = server().await;
    let downgrade_target = format!("{http_base}/list");
    let route: Route = Arc::new(move |path: &str| match path {
        "/list" => Reply::Full(200, Vec::new(), AL1_LIST.as_bytes().to_vec()),
        _ => redirect(downgrade_target.clone()),
    });
    let (https_base, cert) = tls(route).await;
    let client = mirrors::client(&[cert]).unwrap();

    let secure = fetch_list(
        &client,
        &format!("{https_base}/list"),
        soon(5),
        MAX_LIST_BYTES,
    )
    .await
    .unwrap();
    assert_eq!((secure.status, secure.body.len()), (200, AL1_LIST.len()));

    let down = format!("{https_base}/down");
    let downgraded = fetch_list(&client, &down, soon(5), MAX_LIST_BYTES).await;
    assert_eq!(
        downgraded,
        Err(FetchError::Downgrade {
            from: format!("{https_base}/down"),
            to: format!("{http_base}/list"),
        })
    );

    let upgrade_target = format!("{https_base}/list");
    let upgrade: Route = Arc::new(move |_: &str| redirect(upgrade_target.clone()));
    let up = format!("{}/up", plain(upgrade).await);
    let upgraded = fetch_list(&client, &up, soon(5), MAX_LIST_BYTES)
        .await
        .unwrap();
    assert_eq!(
        (upgraded.status, upgraded.url),
        (200, format!("{https_base}/list"))
    );

    let untrusted = mirrors::client(&[]).unwrap();
    let list = format!("{https_base}/list");
    let refused = fetch_list(&untrusted, &list, soon(5), MAX_LIST_BYTES).await;
    let Err(FetchError::Transport { reason, .. }) = refused else {
        panic!("expected a transport error, got {refused:?}");
    };
    assert!(reason.contains("certificate"), "{reason}");
}

#[tokio::test]
async fn file_and_ftp_are_refused_without_a_connection() {
    let client = mirrors::client(&[]).unwrap();
    let file = fetch_list(
        &client,
        "file:///etc/yum/mirror.list",
        soon(1),
        MAX_LIST_BYTES,
    )
    .await;
    assert!(
        matches!(file, Err(FetchError::Refused { reason, .. }) if reason.contains("from disk"))
    );
    let ftp = fetch_list(
        &client,
        "ftp://ftp.example/mirror.list",
        soon(1),
        MAX_LIST_BYTES,
    )
    .await;
    assert!(matches!(ftp, Err(FetchError::Refused { reason, .. }) if reason.contains("plaintext")));
    let junk = fetch_list(&client, "not a url", soon(1), MAX_LIST_BYTES).await;
    assert!(matches!(junk, Err(FetchError::InvalidUrl { .. })));
}

#[tokio::test]
async fn several_lists_run_bounded_and_keep_their_order() {
    let base = server().await;
    let client = mirrors::client(&[]).unwrap();
    let urls = [
        format!("{base}/hang"),
        format!("{base}/list"),
        "ftp://ftp.example/x".to_string(),
    ];
    let deadline = Instant::now() + Duration::from_millis(500);
    let results = fetch_lists(&client, &urls, 2, deadline, MAX_LIST_BYTES).await;
    assert!(matches!(results[0], Err(FetchError::Deadline { .. })));
    assert_eq!(results[1].as_ref().unwrap().status, 200);
    assert!(matches!(results[2], Err(FetchError::Refused { .. })));
}
