//! Mirror lists and metalinks: the pure parsers, and a bounded fetch (size cap, deadline,
//! redirects followed by hand so that none goes from https to http or loops).

use std::collections::HashSet;
use std::sync::{Arc, Once};
use std::time::Duration;

use quick_xml::XmlVersion;
use quick_xml::events::Event;
use reqwest::{Client, Url};
use rustls_pki_types::CertificateDer;
use serde::Serialize;
use tokio::time::Instant;

use crate::yum::buckets::{self, HostKind};
use crate::yum::repo::UrlKind;
use crate::yum::vars::Vars;

/// The largest mirror list or metalink read (real ones are a few KiB).
pub const MAX_LIST_BYTES: usize = 1024 * 1024;

/// How many redirects a fetch follows.
pub const MAX_REDIRECTS: usize = 5;

/// How long a mirror list fetch may take by default, redirects included.
pub const LIST_DEADLINE: Duration = Duration::from_secs(10);

/// The schemes a mirror list line may use, as yum accepts them.
const MIRROR_SCHEMES: &[&str] = &["http", "https", "ftp", "file"];

/// One mirror: a repository root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mirror {
    /// The repository root (for metalinks, the `repomd.xml` location minus `repodata/...`).
    pub url: String,
    /// The metalink preference (higher first), when given.
    pub preference: Option<u32>,
    /// The metalink location (a country code), when given.
    pub location: Option<String>,
}

/// What a mirror list or metalink body held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MirrorList {
    /// `mirrorlist` or `metalink`, by content rather than by the option's name.
    pub format: UrlKind,
    /// The mirrors in the order the package manager tries them.
    pub mirrors: Vec<Mirror>,
    /// Lines or entries skipped, each with the reason.
    pub skipped: Vec<String>,
}

/// Why a body is not a usable list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    /// The bytes are not UTF-8 text.
    #[error("the body is not UTF-8 text")]
    NotText,
    /// A metalink that does not parse as XML.
    #[error("the metalink is not XML: {0}")]
    NotXml(String),
    /// XML whose root is not `<metalink>`.
    #[error("the metalink is XML but not a metalink: {0}")]
    NotMetalink(String),
    /// No mirror in it.
    #[error("it names no mirror")]
    Empty,
}

/// Parses a mirror list: one URL per line, `#` comments, `$ARCH` meaning `$basearch`.
pub fn parse_mirrorlist(body: &str) -> MirrorList {
    let mut list = MirrorList {
        format: UrlKind::Mirrorlist,
        mirrors: Vec::new(),
        skipped: Vec::new(),
    };
    for (index, line) in body.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let scheme = line
            .split_once("://")
            .map(|(scheme, _)| scheme.to_ascii_lowercase());
        match scheme {
            Some(scheme) if MIRROR_SCHEMES.contains(&scheme.as_str()) => {
                list.mirrors.push(Mirror {
                    url: line.replace("$ARCH", "$basearch"),
                    preference: None,
                    location: None,
                })
            }
            _ => list.skipped.push(format!(
                "line {}: `{}` is not an http, https, ftp or file URL",
                index + 1,
                shorten(line)
            )),
        }
    }
    list
}

/// Parses a metalink (version 3 or 4): the `repomd.xml` URLs, highest preference first, as
/// repository roots.
pub fn parse_metalink(body: &str) -> Result<MirrorList, ListError> {
    let mut reader = quick_xml::Reader::from_str(body);
    let mut list = MirrorList {
        format: UrlKind::Metalink,
        mirrors: Vec::new(),
        skipped: Vec::new(),
    };
    let mut seen_root = false;
    let mut open: Option<Mirror> = None;
    let mut text = String::new();

    loop {
        let event = reader
            .read_event()
            .map_err(|err| ListError::NotXml(err.to_string()))?;
        match event {
            Event::Start(start) | Event::Empty(start) if !seen_root => {
                let name = start.local_name().as_ref().to_string();
                if name != "metalink" {
                    return Err(ListError::NotMetalink(format!(
                        "the root element is <{name}>"
                    )));
                }
                seen_root = true;
            }
            Event::Text(content) if !seen_root && !content.trim().is_empty() => {
                return Err(ListError::NotXml(format!(
                    "text `{}` before any element",
                    shorten(content.trim())
                )));
            }
            Event::Start(start) if start.local_name().as_ref() == "url" => {
                let mut mirror = Mirror {
                    url: String::new(),
                    preference: None,
                    location: None,
                };
                for attribute in start.attributes().flatten() {
                    let value = attribute
                        .normalized_value(XmlVersion::Implicit1_0)
                        .map(|value| value.into_owned())
                        .unwrap_or_default();
                    match attribute.key.local_name().as_ref() {
                        "preference" | "priority" => mirror.preference = value.parse().ok(),
                        "location" => mirror.location = Some(value),
                        _ => {}
                    }
                }
                open = Some(mirror);
                text.clear();
            }
            Event::Text(content) if open.is_some() => text.push_str(&content),
            Event::CData(content) if open.is_some() => text.push_str(&content),
            Event::GeneralRef(reference) if open.is_some() => {
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(ch)) => ch.to_string(),
                    _ => quick_xml::escape::unescape(&format!("&{};", &*reference))
                        .map(|text| text.into_owned())
                        .unwrap_or_default(),
                };
                text.push_str(&resolved);
            }
            Event::End(end) if end.local_name().as_ref() == "url" => {
                if let Some(mut mirror) = open.take() {
                    mirror.url = text.trim().to_string();
                    list.add_metalink_url(mirror);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }

    if !seen_root {
        return Err(ListError::NotXml("no element at all".to_string()));
    }
    // Metalink 3 ranks by `preference` (higher first), metalink 4 by `priority` (lower first);
    // repositories publish version 3, so the higher number goes first.
    list.mirrors
        .sort_by_key(|mirror| std::cmp::Reverse(mirror.preference.unwrap_or(0)));
    if list.mirrors.is_empty() {
        return Err(ListError::Empty);
    }
    Ok(list)
}

impl MirrorList {
    fn add_metalink_url(&mut self, mut mirror: Mirror) {
        let scheme = mirror
            .url
            .split_once("://")
            .map(|(scheme, _)| scheme.to_ascii_lowercase());
        if !scheme.is_some_and(|scheme| MIRROR_SCHEMES.contains(&scheme.as_str())) {
            let skipped = format!(
                "`{}` is not an http, https, ftp or file URL",
                shorten(&mirror.url)
            );
            self.skipped.push(skipped);
            return;
        }
        if let Some(root) = mirror.url.strip_suffix("repodata/repomd.xml") {
            mirror.url = root.to_string();
        }
        self.mirrors.push(mirror);
    }
}

/// Parses a fetched body: a metalink when configured as one or when the body is XML (dnf
/// accepts a metalink behind `mirrorlist=` too), else a plain mirror list.
pub fn parse_list(body: &[u8], configured_as: UrlKind) -> Result<MirrorList, ListError> {
    let text = std::str::from_utf8(body).map_err(|_| ListError::NotText)?;
    let text = text.trim_start_matches('\u{feff}');
    let looks_like_xml = text.trim_start().starts_with('<');
    if configured_as == UrlKind::Metalink || looks_like_xml {
        return parse_metalink(text);
    }
    let list = parse_mirrorlist(text);
    if list.mirrors.is_empty() {
        return Err(ListError::Empty);
    }
    Ok(list)
}

fn shorten(text: &str) -> String {
    const MAX: usize = 80;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

/// One mirror as a probe target, tagged with its repository and what its name says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MirrorTarget {
    /// The repository that lists it.
    pub repo: String,
    /// The repository root, variables substituted.
    pub url: String,
    /// Its scheme.
    pub scheme: String,
    /// Its host.
    pub host: Option<String>,
    /// The region its name states, if any.
    pub region: Option<String>,
    /// The S3 bucket behind it, when it is an S3 name.
    pub bucket: Option<buckets::Bucket>,
    /// True when its region differs from the instance's.
    pub cross_region: bool,
    /// A CDN name that no S3 endpoint can carry.
    pub cdn: bool,
}

/// Tags each mirror with its repository, region and bucket; `home` is the instance's region.
pub fn targets(
    repo: &str,
    list: &MirrorList,
    vars: &Vars,
    home: Option<&str>,
) -> Vec<MirrorTarget> {
    list.mirrors
        .iter()
        .map(|mirror| {
            let url = vars.expand(&mirror.url).text;
            let parsed = Url::parse(&url).ok();
            let host = parsed
                .as_ref()
                .and_then(|u| u.host_str().map(str::to_string));
            let region = host
                .as_deref()
                .and_then(crate::aws::hostname::parse)
                .and_then(|info| info.region);
            let kind = parsed.as_ref().map(buckets::host_kind);
            let cross_region = matches!((region.as_deref(), home), (Some(r), Some(h)) if r != h);
            MirrorTarget {
                repo: repo.to_string(),
                scheme: url
                    .split_once("://")
                    .map(|(s, _)| s.to_ascii_lowercase())
                    .unwrap_or_default(),
                bucket: match &kind {
                    Some(HostKind::S3(bucket)) => Some(bucket.clone()),
                    _ => None,
                },
                cdn: matches!(kind, Some(HostKind::Cdn { .. })),
                url,
                host,
                region,
                cross_region,
            }
        })
        .collect()
}

/// A successful fetch: the final response, whatever its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The URL that answered, after redirects.
    pub url: String,
    /// Each redirect followed, in order (the URLs redirected to).
    pub redirects: Vec<String>,
    /// The HTTP status of the final response.
    pub status: u16,
    /// The body, at most the size cap (decompressed).
    pub body: Vec<u8>,
}

/// Why a fetch did not produce a response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// A URL that does not parse.
    #[error("`{url}` is not a valid URL: {reason}")]
    InvalidUrl {
        /// The URL.
        url: String,
        /// The parser's reason.
        reason: String,
    },
    /// A scheme that is not fetched over the network.
    #[error("{url}: {reason}")]
    Refused {
        /// The URL.
        url: String,
        /// Why it is refused.
        reason: String,
    },
    /// A redirect from https to http (or to another scheme).
    #[error("{from} redirects to {to}: a redirect from https to http is refused")]
    Downgrade {
        /// The https URL.
        from: String,
        /// Where it pointed.
        to: String,
    },
    /// A redirect back to a URL already visited.
    #[error("redirect loop: {url} was already visited")]
    RedirectLoop {
        /// The URL seen twice.
        url: String,
    },
    /// More redirects than the limit.
    #[error("more than {limit} redirects (the last to {last})")]
    TooManyRedirects {
        /// The limit.
        limit: usize,
        /// The last location.
        last: String,
    },
    /// A redirect status without a usable `Location`.
    #[error("{url} answered {status} without a usable Location header")]
    BadRedirect {
        /// The URL.
        url: String,
        /// The status.
        status: u16,
    },
    /// A body larger than the cap.
    #[error("{url}: the body is larger than {limit} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The cap.
        limit: usize,
    },
    /// The deadline passed.
    #[error("{url}: no complete answer within {after:?}")]
    Deadline {
        /// The URL being fetched when time ran out.
        url: String,
        /// The time allowed.
        after: Duration,
    },
    /// Connection, TLS or HTTP failure.
    #[error("{url}: {reason}")]
    Transport {
        /// The URL.
        url: String,
        /// The error and its causes on one line.
        reason: String,
    },
}

/// Installs ring as rustls's process-wide provider; an earlier installation is fine.
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// An HTTP client for lists: redirects off (they are followed by hand), no proxy from the
/// environment, the webpki roots plus `extra_roots`.
pub fn client(extra_roots: &[CertificateDer<'static>]) -> anyhow::Result<Client> {
    install_crypto_provider();
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for root in extra_roots {
        roots.add(root.clone())?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let client = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("egress-probe/", env!("CARGO_PKG_VERSION")))
        .tls_backend_preconfigured(tls)
        .build()?;
    Ok(client)
}

/// Fetches a mirror list or metalink: at most `max_bytes`, done by `deadline`, at most
/// [`MAX_REDIRECTS`] redirects, never from https to http, never `file://` or `ftp://`.
pub async fn fetch_list(
    client: &Client,
    url: &str,
    deadline: Instant,
    max_bytes: usize,
) -> Result<Fetched, FetchError> {
    let allowed = deadline.saturating_duration_since(Instant::now());
    let current = std::sync::Mutex::new(url.to_string());
    let work = follow(client, url, max_bytes, &current);
    match tokio::time::timeout_at(deadline, work).await {
        Ok(result) => result,
        Err(_) => Err(FetchError::Deadline {
            url: current.lock().map(|url| url.clone()).unwrap_or_default(),
            after: allowed,
        }),
    }
}

async fn follow(
    client: &Client,
    url: &str,
    max_bytes: usize,
    current: &std::sync::Mutex<String>,
) -> Result<Fetched, FetchError> {
    let mut at = checked(url)?;
    let mut visited = HashSet::from([at.to_string()]);
    let mut redirects = Vec::new();

    loop {
        if let Ok(mut slot) = current.lock() {
            *slot = at.to_string();
        }
        let response = client
            .get(at.clone())
            .send()
            .await
            .map_err(|err| transport(&at, &err))?;
        let status = response.status();
        if !status.is_redirection() || status == reqwest::StatusCode::NOT_MODIFIED {
            let body = read_capped(response, &at, max_bytes).await?;
            return Ok(Fetched {
                url: at.to_string(),
                redirects,
                status: status.as_u16(),
                body,
            });
        }

        let next = next_hop(
            &at,
            response.headers().get(reqwest::header::LOCATION),
            status,
        )?;
        if !visited.insert(next.to_string()) {
            return Err(FetchError::RedirectLoop {
                url: next.to_string(),
            });
        }
        redirects.push(next.to_string());
        if redirects.len() > MAX_REDIRECTS {
            return Err(FetchError::TooManyRedirects {
                limit: MAX_REDIRECTS,
                last: next.to_string(),
            });
        }
        at = next;
    }
}

/// Parses a URL and refuses the schemes that are not fetched.
fn checked(url: &str) -> Result<Url, FetchError> {
    let parsed = Url::parse(url).map_err(|err| FetchError::InvalidUrl {
        url: url.to_string(),
        reason: err.to_string(),
    })?;
    let reason = match parsed.scheme() {
        "http" | "https" => return Ok(parsed),
        "file" => "file:// names a file on the host itself: the package manager reads it from \
                   disk and there is no network path to probe"
            .to_string(),
        "ftp" => "ftp:// is not fetched: it is plaintext and no S3 endpoint carries it".to_string(),
        other => format!("{other}:// is not a scheme yum or dnf fetches lists over"),
    };
    Err(FetchError::Refused {
        url: url.to_string(),
        reason,
    })
}

/// Where a redirect leads, refusing https to http and non-HTTP schemes.
fn next_hop(
    at: &Url,
    location: Option<&reqwest::header::HeaderValue>,
    status: reqwest::StatusCode,
) -> Result<Url, FetchError> {
    let bad = || FetchError::BadRedirect {
        url: at.to_string(),
        status: status.as_u16(),
    };
    let location = location
        .and_then(|value| value.to_str().ok())
        .ok_or_else(bad)?;
    let next = at.join(location).map_err(|_| bad())?;
    if at.scheme() == "https" && next.scheme() != "https" {
        return Err(FetchError::Downgrade {
            from: at.to_string(),
            to: next.to_string(),
        });
    }
    checked(next.as_str())
}

async fn read_capped(
    mut response: reqwest::Response,
    at: &Url,
    max_bytes: usize,
) -> Result<Vec<u8>, FetchError> {
    let too_large = || FetchError::TooLarge {
        url: at.to_string(),
        limit: max_bytes,
    };
    if response
        .content_length()
        .is_some_and(|length| length > max_bytes as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|err| transport(at, &err))? {
        if body.len() + chunk.len() > max_bytes {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn transport(at: &Url, err: &reqwest::Error) -> FetchError {
    let mut reason = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !reason.contains(&text) {
            reason.push_str(": ");
            reason.push_str(&text);
        }
        source = cause.source();
    }
    FetchError::Transport {
        url: at.to_string(),
        reason,
    }
}

/// Fetches several lists, at most `concurrency` at a time, all by `deadline`; results come
/// back in the order of `urls`.
pub async fn fetch_lists(
    client: &Client,
    urls: &[String],
    concurrency: usize,
    deadline: Instant,
    max_bytes: usize,
) -> Vec<Result<Fetched, FetchError>> {
    let permits = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, url) in urls.iter().enumerate() {
        let (client, url, permits) = (client.clone(), url.clone(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            (index, fetch_list(&client, &url, deadline, max_bytes).await)
        });
    }

    let mut results: Vec<Option<Result<Fetched, FetchError>>> = vec![None; urls.len()];
    while let Some(joined) = tasks.join_next().await {
        if let Ok((index, result)) = joined {
            results[index] = Some(result);
        }
    }
    results
        .into_iter()
        .zip(urls)
        .map(|(result, url)| {
            result.unwrap_or_else(|| {
                Err(FetchError::Transport {
                    url: url.clone(),
                    reason: "the fetch task stopped unexpectedly".to_string(),
                })
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_list_lines_comments_and_junk() {
        let body = "# mirrors\n\nhttp://packages.us-west-2.amazonaws.com/2018.03/updates/x/$ARCH\n\
                    <html>oops</html>\n  https://cdn.example/al/  \nrsync://m.example/x\n";
        let list = parse_mirrorlist(body);
        assert_eq!(
            list.mirrors[0].url,
            "http://packages.us-west-2.amazonaws.com/2018.03/updates/x/$basearch"
        );
        assert_eq!(list.mirrors[1].url, "https://cdn.example/al/");
        assert_eq!(list.mirrors.len(), 2);
        assert_eq!(list.skipped.len(), 2);
        assert!(list.skipped[0].starts_with("line 4:"));
    }

    #[test]
    fn metalink_urls_by_preference_as_roots() {
        let body = r#"<?xml version="1.0" encoding="utf-8"?>
<metalink version="3.0" xmlns="http://www.metalinker.org/" type="dynamic">
 <files><file name="repomd.xml"><resources maxconnections="1">
  <url protocol="http" type="http" location="DE" preference="90">http://b.example/f31/repodata/repomd.xml</url>
  <url protocol="https" type="https" location="US" preference="100">https://a.example/f31/x86_64/os/repodata/repomd.xml?a=1&amp;b=2</url>
  <url protocol="rsync" type="rsync" location="US" preference="80">rsync://c.example/f31/repodata/repomd.xml</url>
 </resources></file></files>
</metalink>"#;
        let list = parse_metalink(body).unwrap();
        assert_eq!(list.format, UrlKind::Metalink);
        assert_eq!(list.mirrors[0].preference, Some(100));
        assert_eq!(
            list.mirrors[0].url,
            "https://a.example/f31/x86_64/os/repodata/repomd.xml?a=1&b=2"
        );
        assert_eq!(list.mirrors[1].url, "http://b.example/f31/");
        assert_eq!(list.mirrors[1].location.as_deref(), Some("DE"));
        assert_eq!(list.skipped.len(), 1);
    }

    #[test]
    fn bodies_that_are_not_metalinks() {
        assert!(matches!(
            parse_metalink("just text"),
            Err(ListError::NotXml(_))
        ));
        assert!(matches!(
            parse_metalink("<html><body>503</body></html>"),
            Err(ListError::NotMetalink(_))
        ));
        assert!(matches!(
            parse_metalink("<metalink><files><file></metalink>"),
            Err(ListError::NotXml(_))
        ));
        assert_eq!(parse_metalink("<metalink/>"), Err(ListError::Empty));
        assert_eq!(
            parse_list(&[0xff, 0xfe, 0x00], UrlKind::Mirrorlist),
            Err(ListError::NotText)
        );
        assert_eq!(
            parse_list(b"\n# only comments\n", UrlKind::Mirrorlist),
            Err(ListError::Empty)
        );
        let xml = parse_list(b"<?xml version=\"1.0\"?><error/>", UrlKind::Mirrorlist);
        assert!(matches!(xml, Err(ListError::NotMetalink(_))));
    }

    #[test]
    fn redirect_rules() {
        let https = Url::parse("https://a.example/list").unwrap();
        let found = reqwest::StatusCode::FOUND;
        let to = |location: &str| {
            let value = reqwest::header::HeaderValue::from_str(location).unwrap();
            next_hop(&https, Some(&value), found)
        };
        assert_eq!(to("/other").unwrap().as_str(), "https://a.example/other");
        assert!(matches!(
            to("http://a.example/list"),
            Err(FetchError::Downgrade { .. })
        ));
        assert!(matches!(
            to("ftp://a.example/list"),
            Err(FetchError::Downgrade { .. })
        ));
        assert!(matches!(
            next_hop(&https, None, found),
            Err(FetchError::BadRedirect { .. })
        ));
        let http = Url::parse("http://a.example/").unwrap();
        let value = reqwest::header::HeaderValue::from_static("file:///etc/passwd");
        assert!(matches!(
            next_hop(&http, Some(&value), found),
            Err(FetchError::Refused { .. })
        ));
        assert!(matches!(
            checked("ftp://x/"),
            Err(FetchError::Refused { .. })
        ));
        assert!(
            checked("file:///etc/yum/mirror.list")
                .unwrap_err()
                .to_string()
                .contains("disk")
        );
    }
}
