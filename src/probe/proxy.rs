//! `--via-proxy`: the same request sent through the proxy the environment names, as a separate
//! check beside the direct probes, so the report shows both paths.

use std::sync::Arc;
use std::time::Instant;

use rustls::client::WebPkiServerVerifier;

use crate::catalog::Target;
use crate::evidence::FailureClass;
use crate::probe::Budget;

/// What one request through the proxy gave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ViaProxy {
    /// The proxy used, credentials hidden.
    pub proxy: String,
    /// The URL requested.
    pub url: String,
    /// The status, when a response arrived.
    pub status: Option<u16>,
    /// `x-amz-request-id`, when S3 answered.
    pub request_id: Option<String>,
    /// Why no response arrived, in the report's failure vocabulary.
    pub error: Option<crate::evidence::FailureClass>,
    /// What the system said.
    pub detail: Option<String>,
    /// Time to the response headers, in milliseconds.
    pub ms: u64,
}

/// The proxy a client honouring the environment would use for `scheme`.
pub fn from_environment(scheme: &str) -> Option<String> {
    let names: &[&str] = if scheme == "https" {
        &["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
    } else {
        &["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
    };
    names
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
}

/// Requests `target` through `proxy` once, within the step deadline; never follows redirects.
pub async fn probe(
    target: &Target,
    proxy: &str,
    verifier: &Arc<WebPkiServerVerifier>,
    budget: &Budget,
    shown_proxy: String,
) -> ViaProxy {
    let scheme = target.configured_scheme.as_deref().unwrap_or("https");
    let url = format!("{scheme}://{}{}", target.host, target.path);
    let mut result = ViaProxy {
        proxy: shown_proxy,
        url: url.clone(),
        ..ViaProxy::default()
    };
    let client = match client(proxy, verifier) {
        Ok(client) => client,
        Err(err) => {
            result.error = Some(FailureClass::Other);
            result.detail = Some(format!("proxy {}: {err}", result.proxy));
            return result;
        }
    };

    let started = Instant::now();
    let sent = budget.run(client.get(&url).send()).await;
    result.ms = started.elapsed().as_millis() as u64;
    match sent {
        Ok(Ok(response)) => {
            result.status = Some(response.status().as_u16());
            result.request_id = response
                .headers()
                .get("x-amz-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
        }
        Ok(Err(err)) => {
            let detail = crate::host::imds::root_cause(&err);
            result.error = Some(classify(&err, &detail));
            result.detail = Some(detail);
        }
        Err(class) => {
            result.error = Some(class);
            result.detail = Some("no answer through the proxy".into());
        }
    }
    result
}

/// The failure class of a request through the proxy.
fn classify(err: &reqwest::Error, detail: &str) -> FailureClass {
    let lower = detail.to_ascii_lowercase();
    if err.is_timeout() || lower.contains("timed out") {
        FailureClass::Timeout
    } else if lower.contains("refused") {
        FailureClass::Refused
    } else if lower.contains("unreachable") || lower.contains("no route") {
        FailureClass::Unreachable
    } else if lower.contains("reset") || lower.contains("broken pipe") {
        FailureClass::Reset
    } else if lower.contains("certificate") || lower.contains("tls") {
        FailureClass::Tls
    } else if err.is_connect() {
        // The proxy refused the tunnel (CONNECT answered with an error status).
        FailureClass::Protocol
    } else {
        FailureClass::Other
    }
}

fn client(proxy: &str, verifier: &Arc<WebPkiServerVerifier>) -> anyhow::Result<reqwest::Client> {
    crate::install_crypto_provider();
    let tls = rustls::ClientConfig::builder()
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    Ok(reqwest::Client::builder()
        .proxy(reqwest::Proxy::all(proxy)?.no_proxy(reqwest::NoProxy::from_env()))
        .redirect(reqwest::redirect::Policy::none())
        .tls_backend_preconfigured(tls)
        .user_agent(concat!("egress-probe/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::catalog::{ExpectRegion, Origin};

    fn target(scheme: &str) -> Target {
        Target {
            name: "t".into(),
            host: "repo.example.invalid".into(),
            path: "/x".into(),
            origin: Origin::User,
            required: false,
            expect_region: ExpectRegion::Instance,
            ports: vec![80],
            note: None,
            bucket: None,
            configured_scheme: Some(scheme.into()),
            canary: false,
        }
    }

    /// A proxy on loopback that answers every request with `answer` and reports what it read.
    async fn fake_proxy(answer: &'static str) -> (String, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let handle = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let n = socket.read(&mut buf).await.unwrap();
            socket.write_all(answer.as_bytes()).await.unwrap();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        });
        (url, handle)
    }

    fn verifier() -> Arc<WebPkiServerVerifier> {
        crate::install_crypto_provider();
        crate::probe::verifier(&[]).unwrap()
    }

    #[tokio::test]
    async fn plain_http_goes_to_the_proxy_as_an_absolute_uri() {
        let (proxy, seen) = fake_proxy(
            "HTTP/1.1 200 OK\r\nx-amz-request-id: ABC\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )
        .await;
        let budget = Budget::new(Duration::from_secs(3), Duration::from_secs(5));
        let result = probe(
            &target("http"),
            &proxy,
            &verifier(),
            &budget,
            "shown".into(),
        )
        .await;
        assert_eq!(result.status, Some(200), "{result:?}");
        assert_eq!(result.request_id.as_deref(), Some("ABC"));
        let request = seen.await.unwrap();
        assert!(
            request.starts_with("GET http://repo.example.invalid/x HTTP/1.1"),
            "{request}"
        );
    }

    #[tokio::test]
    async fn https_tunnel_refused_by_the_proxy_is_an_error() {
        let (proxy, seen) = fake_proxy("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n").await;
        let budget = Budget::new(Duration::from_secs(3), Duration::from_secs(5));
        let result = probe(
            &target("https"),
            &proxy,
            &verifier(),
            &budget,
            "shown".into(),
        )
        .await;
        assert_eq!(result.status, None);
        assert!(result.error.is_some());
        assert!(
            seen.await
                .unwrap()
                .starts_with("CONNECT repo.example.invalid:443")
        );
    }
}
