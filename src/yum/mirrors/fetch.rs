//! The bounded fetch of mirror lists and metalinks: a size cap, a deadline, and redirects
//! followed by hand so that none goes from https to http, loops, or leaves HTTP.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Client, Url};
use rustls_pki_types::CertificateDer;
use tokio::time::Instant;

/// The largest mirror list or metalink read (real ones are a few KiB).
pub const MAX_LIST_BYTES: usize = 1024 * 1024;

/// How many redirects a fetch follows.
pub const MAX_REDIRECTS: usize = 5;

/// How long a mirror list fetch may take by default, redirects included.
pub const LIST_DEADLINE: Duration = Duration::from_secs(10);

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

/// An HTTP client for lists: redirects off (they are followed by hand), no proxy from the
/// environment, the webpki roots plus `extra_roots`.
pub fn client(extra_roots: &[CertificateDer<'static>]) -> anyhow::Result<Client> {
    crate::install_crypto_provider();
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
    let mut fetches = tokio::task::JoinSet::new();
    for (index, url) in urls.iter().enumerate() {
        let (client, url, permits) = (client.clone(), url.clone(), permits.clone());
        fetches.spawn(async move {
            let _permit = permits.acquire_owned().await;
            (index, fetch_list(&client, &url, deadline, max_bytes).await)
        });
    }

    let mut results: Vec<Option<Result<Fetched, FetchError>>> = vec![None; urls.len()];
    while let Some(joined) = fetches.join_next().await {
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
                    reason: "the fetch stopped unexpectedly".to_string(),
                })
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
