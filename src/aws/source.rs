//! Where the ip-ranges data comes from: an explicit file, the local cache, or a download from
//! AWS that refreshes the cache (atomically, with a conditional request when it can).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::aws::ipranges::{IpRanges, MAX_FILE_BYTES};
use crate::exit::{UsageError, one_line};

/// The file AWS publishes.
pub const OFFICIAL_URL: &str = "https://ip-ranges.amazonaws.com/ip-ranges.json";

/// Where the data in use came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A file the user named.
    File,
    /// The cached copy of an earlier download.
    Cache,
    /// Downloaded during this run.
    Download,
    /// No data could be had.
    None,
}

impl SourceKind {
    /// A short stable name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::File => "file",
            SourceKind::Cache => "cache",
            SourceKind::Download => "download",
            SourceKind::None => "none",
        }
    }
}

/// How to obtain the data.
#[derive(Debug, Clone)]
pub struct SourceOptions {
    /// An explicit file, which then is the only source tried.
    pub file: Option<PathBuf>,
    /// Where to download from.
    pub url: String,
    /// The cache directory; `None` means [`default_cache_dir`].
    pub cache_dir: Option<PathBuf>,
    /// Whether a download may be tried when there is no usable cache.
    pub download: bool,
    /// The deadline for a download, connection and body together.
    pub timeout: Duration,
    /// Trust anchors besides the built-in roots (`--ca-file`).
    pub extra_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
}

impl Default for SourceOptions {
    fn default() -> SourceOptions {
        SourceOptions {
            file: None,
            url: OFFICIAL_URL.to_string(),
            cache_dir: None,
            download: false,
            timeout: Duration::from_secs(10),
            extra_roots: Vec::new(),
        }
    }
}

impl SourceOptions {
    /// The cache directory in effect.
    pub fn cache_dir(&self) -> PathBuf {
        self.cache_dir.clone().unwrap_or_else(default_cache_dir)
    }
}

/// The data obtained, where it came from, and what went wrong on the way.
#[derive(Debug)]
pub struct Loaded {
    /// Where the data came from.
    pub kind: SourceKind,
    /// The file read or written, if any.
    pub path: Option<PathBuf>,
    /// The data; `None` only with [`SourceKind::None`].
    pub ranges: Option<IpRanges>,
    /// One line per source that was tried and failed, for the report.
    pub problems: Vec<String>,
}

/// The outcome of a conditional refresh of the cache.
#[derive(Debug)]
pub struct Update {
    /// The cache file.
    pub path: PathBuf,
    /// The `syncToken` of the cached copy before the refresh, if there was a valid one.
    pub old_sync_token: Option<String>,
    /// True when the server answered 304 and the cached copy was kept.
    pub not_modified: bool,
    /// The data now in the cache.
    pub ranges: IpRanges,
}

/// The validators of the cached copy, kept beside it for conditional requests.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Validators {
    url: String,
    etag: Option<String>,
    last_modified: Option<String>,
}

/// What a download brought.
enum Fetched {
    NotModified,
    Body(Vec<u8>, Validators),
}

/// The cache directory: `EGRESS_PROBE_CACHE_DIR`, else `/var/cache/egress-probe` for root, else
/// the user's cache directory.
pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("EGRESS_PROBE_CACHE_DIR").filter(|dir| !dir.is_empty()) {
        return PathBuf::from(dir);
    }
    if effective_uid() == Some(0) {
        return PathBuf::from("/var/cache/egress-probe");
    }
    dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("egress-probe")
}

/// The cached copy inside a cache directory.
pub fn cache_file(dir: &Path) -> PathBuf {
    dir.join("ip-ranges.json")
}

/// The validators file beside a cache file.
fn validators_file(cache: &Path) -> PathBuf {
    let mut name = cache.as_os_str().to_owned();
    name.push(".meta");
    PathBuf::from(name)
}

/// The effective user id, read from `/proc/self/status` (no unsafe call needed).
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Obtains the data: the explicit file, else the cache, else a download if allowed.
///
/// Only an explicit file that cannot be used is an error (a usage error); every other failure
/// is a problem line and the next source is tried.
pub async fn obtain(opts: &SourceOptions) -> anyhow::Result<Loaded> {
    if let Some(file) = &opts.file {
        let ranges = IpRanges::load(file)
            .map_err(|err| UsageError::new(format!("--ip-ranges: {}", one_line(&err))))?;
        return Ok(Loaded {
            kind: SourceKind::File,
            path: Some(file.clone()),
            ranges: Some(ranges),
            problems: Vec::new(),
        });
    }

    let mut problems = Vec::new();
    let cache = cache_file(&opts.cache_dir());
    match read_cache(&cache) {
        Ok(Some(ranges)) => {
            return Ok(Loaded {
                kind: SourceKind::Cache,
                path: Some(cache),
                ranges: Some(ranges),
                problems,
            });
        }
        Ok(None) => problems.push(format!("no cached copy at {}", cache.display())),
        Err(err) => problems.push(format!("cached copy ignored: {}", one_line(&err))),
    }

    if !opts.download {
        problems.push("downloading is off".to_string());
        return Ok(none(problems));
    }
    match download(opts, None).await {
        Ok(Fetched::Body(bytes, validators)) => match IpRanges::parse(&bytes) {
            Ok(ranges) => {
                let path = match store(&cache, &bytes, &validators) {
                    Ok(()) => Some(cache),
                    Err(err) => {
                        problems.push(format!("not cached: {}", one_line(&err)));
                        None
                    }
                };
                Ok(Loaded {
                    kind: SourceKind::Download,
                    path,
                    ranges: Some(ranges),
                    problems,
                })
            }
            Err(err) => {
                problems.push(format!("{} sent an unusable file: {err}", opts.url));
                Ok(none(problems))
            }
        },
        Ok(Fetched::NotModified) => {
            problems.push(format!(
                "{} answered 304 to an unconditional request",
                opts.url
            ));
            Ok(none(problems))
        }
        Err(err) => {
            problems.push(one_line(&err));
            Ok(none(problems))
        }
    }
}

/// Refreshes the cache from `opts.url` with a conditional request; a 304 keeps the cached copy.
///
/// The new file is validated before it replaces the cached copy, so a bad download leaves the
/// cache as it was.
pub async fn update(opts: &SourceOptions) -> anyhow::Result<Update> {
    let dir = opts.cache_dir();
    let cache = cache_file(&dir);
    let old = read_cache(&cache).ok().flatten();
    let validators = old
        .as_ref()
        .and_then(|_| read_validators(&cache))
        .filter(|validators| validators.url == opts.url);

    let fetched = download(opts, validators.as_ref()).await?;
    let (bytes, validators) = match (fetched, old) {
        (Fetched::NotModified, Some(ranges)) => {
            return Ok(Update {
                path: cache,
                old_sync_token: ranges.sync_token.clone(),
                not_modified: true,
                ranges,
            });
        }
        (Fetched::NotModified, None) => {
            anyhow::bail!("{} answered 304 but there is no cached copy", opts.url)
        }
        (Fetched::Body(bytes, validators), _) => (bytes, validators),
    };

    let ranges = IpRanges::parse(&bytes)
        .with_context(|| format!("{} sent an unusable file, the cache is unchanged", opts.url))?;
    let old_sync_token = read_cache(&cache)
        .ok()
        .flatten()
        .and_then(|old| old.sync_token);
    store(&cache, &bytes, &validators)?;
    Ok(Update {
        path: cache,
        old_sync_token,
        not_modified: false,
        ranges,
    })
}

fn none(problems: Vec<String>) -> Loaded {
    Loaded {
        kind: SourceKind::None,
        path: None,
        ranges: None,
        problems,
    }
}

/// The cached copy: `Ok(None)` when there is none, an error when it is unusable.
fn read_cache(path: &Path) -> anyhow::Result<Option<IpRanges>> {
    if !path.exists() {
        return Ok(None);
    }
    IpRanges::load(path).map(Some)
}

fn read_validators(cache: &Path) -> Option<Validators> {
    let text = std::fs::read(validators_file(cache)).ok()?;
    serde_json::from_slice(&text).ok()
}

/// Writes the cache file, then its validators, each atomically; creates the directory.
fn store(cache: &Path, bytes: &[u8], validators: &Validators) -> anyhow::Result<()> {
    if let Some(dir) = cache.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    crate::output::write_atomic(cache, bytes)?;

    let meta = serde_json::to_vec_pretty(validators).context("encoding the validators")?;
    crate::output::write_atomic(&validators_file(cache), &meta)
}

/// An HTTP client with rustls on ring and the webpki roots, and an overall deadline.
pub fn http_client(
    timeout: Duration,
    extra_roots: &[rustls::pki_types::CertificateDer<'static>],
) -> anyhow::Result<reqwest::Client> {
    crate::install_crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for root in extra_roots {
        roots.add(root.clone()).context("adding a trust anchor")?;
    }
    let tls = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();

    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("egress-probe/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("building the HTTP client")
}

/// GETs the file, conditionally when validators are given, within `opts.timeout` overall.
async fn download(
    opts: &SourceOptions,
    validators: Option<&Validators>,
) -> anyhow::Result<Fetched> {
    let deadline = opts.timeout;
    match tokio::time::timeout(deadline, fetch(opts, validators)).await {
        Ok(result) => result.with_context(|| format!("downloading {}", opts.url)),
        Err(_) => anyhow::bail!(
            "downloading {}: no complete answer within {:.1}s",
            opts.url,
            deadline.as_secs_f64()
        ),
    }
}

async fn fetch(opts: &SourceOptions, validators: Option<&Validators>) -> anyhow::Result<Fetched> {
    let client = http_client(opts.timeout, &opts.extra_roots)?;
    let mut request = client.get(&opts.url);
    if let Some(validators) = validators {
        if let Some(etag) = &validators.etag {
            request = request.header(http::header::IF_NONE_MATCH, etag);
        }
        if let Some(date) = &validators.last_modified {
            request = request.header(http::header::IF_MODIFIED_SINCE, date);
        }
    }

    let mut response = request.send().await.map_err(plain_reqwest_error)?;
    let status = response.status();
    if status == http::StatusCode::NOT_MODIFIED {
        return Ok(Fetched::NotModified);
    }
    if !status.is_success() {
        anyhow::bail!("HTTP {status}");
    }
    if response
        .content_length()
        .is_some_and(|len| len > MAX_FILE_BYTES)
    {
        anyhow::bail!(
            "the file is larger than {} MiB",
            MAX_FILE_BYTES / 1024 / 1024
        );
    }

    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|value: &http::HeaderValue| value.to_str().ok())
            .map(str::to_string)
    };
    let validators = Validators {
        url: opts.url.clone(),
        etag: header(http::header::ETAG),
        last_modified: header(http::header::LAST_MODIFIED),
    };

    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(plain_reqwest_error)? {
        if body.len() as u64 + chunk.len() as u64 > MAX_FILE_BYTES {
            anyhow::bail!(
                "the file is larger than {} MiB",
                MAX_FILE_BYTES / 1024 / 1024
            );
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Fetched::Body(body, validators))
}

/// A reqwest error as one line with its innermost cause (the URL is already in the context).
fn plain_reqwest_error(err: reqwest::Error) -> anyhow::Error {
    let mut cause: &dyn std::error::Error = &err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "cannot connect"
    } else {
        "failed"
    };
    anyhow::anyhow!("{kind}: {cause}")
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::{Arc, Mutex};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A loopback HTTP server answering each connection with the next canned response (or
    /// holding it open without answering when the response is `None`), recording requests.
    pub(crate) struct Server {
        pub(crate) url: String,
        pub(crate) requests: Arc<Mutex<Vec<String>>>,
    }

    pub(crate) async fn serve(responses: Vec<Option<Vec<u8>>>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/ip-ranges.json", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        tokio::spawn(async move {
            for response in responses {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let seen = Arc::clone(&seen);
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    seen.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&head).into_owned());
                    match response {
                        Some(bytes) => {
                            let _ = socket.write_all(&bytes).await;
                            let _ = socket.shutdown().await;
                        }
                        None => tokio::time::sleep(Duration::from_secs(30)).await,
                    }
                });
            }
        });
        Server { url, requests }
    }

    pub(crate) fn ok(body: &str, extra_headers: &str) -> Option<Vec<u8>> {
        Some(
            format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n{extra_headers}Connection: close\r\n\r\n{body}",
                body.len()
            )
            .into_bytes(),
        )
    }

    fn not_modified() -> Option<Vec<u8>> {
        Some(b"HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n".to_vec())
    }

    const DOC: &str = r#"{"syncToken":"1787411825","createDate":"2026-08-22-15-17-05",
      "prefixes":[{"ip_prefix":"3.5.0.0/19","region":"us-east-1","service":"S3",
      "network_border_group":"us-east-1"}],"ipv6_prefixes":[]}"#;
    const NEWER: &str = r#"{"syncToken":"1787500000","createDate":"2026-08-23-15-17-05",
      "prefixes":[{"ip_prefix":"3.5.0.0/19","region":"us-east-1","service":"S3",
      "network_border_group":"us-east-1"}],"ipv6_prefixes":[]}"#;

    fn options(dir: &Path, url: &str, timeout_ms: u64) -> SourceOptions {
        SourceOptions {
            file: None,
            url: url.to_string(),
            cache_dir: Some(dir.to_path_buf()),
            download: true,
            timeout: Duration::from_millis(timeout_ms),
            extra_roots: Vec::new(),
        }
    }

    fn dir_names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn download_fills_the_cache_and_the_next_run_reads_it_offline() {
        let server = serve(vec![ok(DOC, "ETag: \"abc\"\r\n")]).await;
        let dir = tempfile::tempdir().unwrap();
        let opts = options(dir.path(), &server.url, 5_000);

        let loaded = obtain(&opts).await.unwrap();
        assert_eq!(loaded.kind.as_str(), "download");
        let ranges = loaded.ranges.unwrap();
        assert_eq!(ranges.sync_token.as_deref(), Some("1787411825"));
        assert_eq!(
            dir_names(dir.path()),
            ["ip-ranges.json", "ip-ranges.json.meta"]
        );

        let offline = SourceOptions {
            download: false,
            ..opts
        };
        let again = obtain(&offline).await.unwrap();
        assert_eq!(again.kind, SourceKind::Cache);
        assert_eq!(again.path, Some(cache_file(dir.path())));
    }

    #[tokio::test]
    async fn update_sends_validators_and_keeps_the_file_on_304() {
        let server = serve(vec![
            ok(
                DOC,
                "ETag: \"v1\"\r\nLast-Modified: Sat, 22 Aug 2026 15:17:05 GMT\r\n",
            ),
            not_modified(),
            ok(NEWER, "ETag: \"v2\"\r\n"),
        ])
        .await;
        let dir = tempfile::tempdir().unwrap();
        let opts = options(dir.path(), &server.url, 5_000);

        let first = update(&opts).await.unwrap();
        assert_eq!((first.old_sync_token, first.not_modified), (None, false));

        let second = update(&opts).await.unwrap();
        assert!(second.not_modified);
        assert_eq!(second.old_sync_token.as_deref(), Some("1787411825"));
        let sent = server.requests.lock().unwrap()[1].to_ascii_lowercase();
        assert!(sent.contains("if-none-match: \"v1\""), "{sent}");
        assert!(
            sent.contains("if-modified-since: sat, 22 aug 2026 15:17:05 gmt"),
            "{sent}"
        );

        let third = update(&opts).await.unwrap();
        assert_eq!(third.old_sync_token.as_deref(), Some("1787411825"));
        assert_eq!(third.ranges.sync_token.as_deref(), Some("1787500000"));
        let meta = std::fs::read_to_string(validators_file(&cache_file(dir.path()))).unwrap();
        assert!(meta.contains("\\\"v2\\\""), "{meta}");
    }

    #[tokio::test]
    async fn malformed_body_leaves_the_cache_untouched() {
        let server = serve(vec![
            ok(DOC, ""),
            ok("{\"prefixes\": [", ""),
            ok("<html>", ""),
        ])
        .await;
        let dir = tempfile::tempdir().unwrap();
        let opts = options(dir.path(), &server.url, 5_000);
        update(&opts).await.unwrap();
        let before = std::fs::read(cache_file(dir.path())).unwrap();

        let err = one_line(&update(&opts).await.unwrap_err());
        assert!(
            err.contains("unusable file, the cache is unchanged"),
            "{err}"
        );
        assert_eq!(std::fs::read(cache_file(dir.path())).unwrap(), before);
        assert_eq!(
            dir_names(dir.path()),
            ["ip-ranges.json", "ip-ranges.json.meta"]
        );

        std::fs::write(cache_file(dir.path()), b"{}").unwrap();
        let loaded = obtain(&opts).await.unwrap();
        assert_eq!(loaded.kind, SourceKind::None);
        assert!(
            loaded.problems[0].starts_with("cached copy ignored"),
            "{:?}",
            loaded.problems
        );
        assert!(
            loaded.problems[1].contains("unusable file"),
            "{:?}",
            loaded.problems
        );
    }

    #[tokio::test]
    async fn a_server_that_never_answers_is_abandoned_at_the_deadline() {
        let server = serve(vec![None]).await;
        let dir = tempfile::tempdir().unwrap();
        let opts = options(dir.path(), &server.url, 300);

        let started = std::time::Instant::now();
        let loaded = obtain(&opts).await.unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(loaded.kind, SourceKind::None);
        assert!(loaded.problems[1].contains("timed out") || loaded.problems[1].contains("within"));
        assert_eq!(dir_names(dir.path()), Vec::<String>::new());
    }

    #[tokio::test]
    async fn an_unusable_explicit_file_is_a_usage_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mine.json");
        std::fs::write(&path, b"not json").unwrap();
        let opts = SourceOptions {
            file: Some(path.clone()),
            ..SourceOptions::default()
        };
        let err = obtain(&opts).await.unwrap_err();
        assert_eq!(
            crate::exit::Status::of_error(&err),
            crate::exit::Status::Usage
        );
        let line = one_line(&err);
        assert!(
            line.contains("mine.json") && line.contains("not an ip-ranges document"),
            "{line}"
        );
    }

    #[test]
    fn cache_dir_follows_the_environment_variable_and_file_name() {
        assert_eq!(
            cache_file(Path::new("/x")),
            PathBuf::from("/x/ip-ranges.json")
        );
        assert_eq!(
            validators_file(Path::new("/x/ip-ranges.json")),
            PathBuf::from("/x/ip-ranges.json.meta")
        );
        assert!(effective_uid().is_some());
    }
}
