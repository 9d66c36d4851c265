//! The public egress address, as an echo service sees it: one GET to a `checkip`-like URL whose
//! answer is the caller's address. It describes the route to the echo service only.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use reqwest::Url;
use rustls::client::WebPkiServerVerifier;

use crate::evidence::{Failure, FailureClass};
use crate::exit::UsageError;
use crate::probe::Budget;

/// AWS's echo service.
pub const DEFAULT_URL: &str = "https://checkip.amazonaws.com/";

/// The most of the answer read.
const MAX_BODY: usize = 1024;

/// What the echo service said.
#[derive(Debug, Clone, PartialEq)]
pub struct Echo {
    /// The URL asked.
    pub url: String,
    /// The address the service saw this host come from.
    pub address: Option<IpAddr>,
    /// The service's own address, as connected to.
    pub server: Option<IpAddr>,
    /// Time the exchange took.
    pub ms: f64,
    /// Why there is no address.
    pub error: Option<Failure>,
}

/// Checks an `--egress-echo` value: an http or https URL with a host.
pub fn parse_url(url: &str) -> anyhow::Result<Url> {
    let parsed =
        Url::parse(url).map_err(|err| UsageError::new(format!("--egress-echo {url:?}: {err}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(UsageError::new(format!(
            "--egress-echo {url:?}: give an http:// or https:// URL"
        )));
    }
    Ok(parsed)
}

/// Asks the echo service at `url`, within one step of `budget`.
pub async fn ask(url: Url, verifier: Arc<WebPkiServerVerifier>, budget: Budget) -> Echo {
    let started = Instant::now();
    let mut echo = Echo {
        url: url.to_string(),
        address: None,
        server: None,
        ms: 0.0,
        error: None,
    };
    let outcome = match client(verifier) {
        Ok(client) => budget.run(fetch(&client, url)).await,
        Err(failure) => Ok(Err(failure)),
    };
    echo.ms = started.elapsed().as_secs_f64() * 1000.0;
    match outcome {
        Ok(Ok((server, body))) => {
            echo.server = server;
            match parse_answer(&body) {
                Some(address) => echo.address = Some(address),
                None => {
                    echo.error = Some(Failure::new(
                        FailureClass::Protocol,
                        format!("the answer is not an address: {:?}", clip(&body)),
                    ));
                }
            }
        }
        Ok(Err(failure)) => echo.error = Some(failure),
        Err(class) => echo.error = Some(Failure::new(class, "no answer from the echo service")),
    }
    echo
}

fn client(verifier: Arc<WebPkiServerVerifier>) -> Result<reqwest::Client, Failure> {
    crate::install_crypto_provider();
    let tls = rustls::ClientConfig::builder()
        .with_webpki_verifier(verifier)
        .with_no_client_auth();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("egress-probe/", env!("CARGO_PKG_VERSION")))
        .tls_backend_preconfigured(tls)
        .build()
        .map_err(|err| Failure::new(FailureClass::Other, err.to_string()))
}

async fn fetch(client: &reqwest::Client, url: Url) -> Result<(Option<IpAddr>, Vec<u8>), Failure> {
    let mut response = client
        .get(url)
        .send()
        .await
        .map_err(|err| transport(&err))?;
    let server = response.remote_addr().map(|a| a.ip());
    let status = response.status();
    let mut body = Vec::new();
    while body.len() < MAX_BODY {
        match response.chunk().await.map_err(|err| transport(&err))? {
            Some(chunk) => body.extend_from_slice(&chunk[..chunk.len().min(MAX_BODY - body.len())]),
            None => break,
        }
    }
    if !status.is_success() {
        return Err(Failure::new(
            FailureClass::Protocol,
            format!("HTTP {status}"),
        ));
    }
    Ok((server, body))
}

fn transport(err: &reqwest::Error) -> Failure {
    let text = crate::exit::one_line(&anyhow::Error::msg(chain(err)));
    let lower = text.to_ascii_lowercase();
    // getaddrinfo's EAI_AGAIN ("Temporary failure in name resolution") is a DNS server
    // that did not answer, not a name that does not exist.
    let class = if err.is_timeout()
        || lower.contains("timed out")
        || lower.contains("temporary failure in name resolution")
    {
        FailureClass::Timeout
    } else if lower.contains("refused") {
        FailureClass::Refused
    } else if lower.contains("certificate") || lower.contains("tls") {
        FailureClass::Tls
    } else if lower.contains("name or service not known") || lower.contains("no address") {
        FailureClass::NxDomain
    } else if lower.contains("dns") || lower.contains("resolve") {
        FailureClass::ServerFailure
    } else if lower.contains("unreachable") {
        FailureClass::Unreachable
    } else {
        FailureClass::Other
    };
    Failure::new(class, text)
}

/// The error and its sources on one line.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

/// The first line of the answer, as an address (checkip answers `203.0.113.7\n`).
pub fn parse_answer(body: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(body).ok()?;
    text.lines().next()?.trim().parse().ok()
}

fn clip(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(64)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_is_the_first_line() {
        assert_eq!(
            parse_answer(b"203.0.113.129\n"),
            Some("203.0.113.129".parse().unwrap())
        );
        assert_eq!(
            parse_answer(b"2001:db8::7"),
            Some("2001:db8::7".parse().unwrap())
        );
        assert_eq!(parse_answer(b"<html>blocked</html>"), None);
        assert_eq!(parse_answer(&[0xff, 0xfe]), None);
    }

    #[test]
    fn only_http_urls_are_accepted() {
        assert!(parse_url("https://checkip.amazonaws.com/").is_ok());
        for bad in ["ftp://x/", "checkip.amazonaws.com", "https://"] {
            let err = parse_url(bad).unwrap_err();
            assert_eq!(
                crate::exit::Status::of_error(&err),
                crate::exit::Status::Usage,
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn a_loopback_echo_answers_with_the_caller() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut stream, peer) = listener.accept().await.unwrap();
            let mut head = [0u8; 1024];
            let _ = stream.read(&mut head).await;
            let body = format!("{}\n", peer.ip());
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(answer.as_bytes()).await.unwrap();
        });
        let url = parse_url(&format!("http://127.0.0.1:{port}/")).unwrap();
        let verifier = crate::probe::verifier(&[]).unwrap();
        let budget = Budget::new(
            std::time::Duration::from_secs(3),
            std::time::Duration::from_secs(5),
        );
        let echo = ask(url, verifier, budget).await;
        assert_eq!(echo.error, None);
        assert_eq!(echo.address, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(echo.server, Some("127.0.0.1".parse().unwrap()));
    }
}
