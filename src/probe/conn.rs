//! One port of one address: TCP connect, TLS with rustls on 443, then one anonymous HTTP
//! request with the right Host, reading at most 64 KiB. Redirects are recorded, never followed.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpSocket, TcpStream};

use crate::evidence::{
    Failure, FailureClass, HttpEvidence, PortEvidence, TcpEvidence, TlsEvidence,
};
use crate::probe::Budget;
use crate::probe::s3xml;

/// The most body read from any answer.
pub const MAX_BODY: usize = 64 * 1024;

/// What a probe of one port needs besides the address.
#[derive(Clone)]
pub struct Request {
    /// Hostname for SNI and the Host header.
    pub host: String,
    /// Path requested.
    pub path: String,
    /// Extra headers sent over TLS only (a SigV4 signature with `--sign`).
    pub tls_headers: Vec<(String, String)>,
}

/// Probes `address:port`: TCP, TLS when the port is 443, then HTTP.
pub async fn probe(
    address: IpAddr,
    port: u16,
    request: &Request,
    verifier: &Arc<WebPkiServerVerifier>,
    budget: &Budget,
) -> PortEvidence {
    let mut evidence = PortEvidence {
        port,
        address,
        tcp: TcpEvidence {
            ok: false,
            ms: 0.0,
            error: None,
            local_port: None,
        },
        tls: None,
        http: None,
        flows: None,
    };

    let started = Instant::now();
    let socket = match bound_socket(address) {
        Ok(socket) => socket,
        Err(err) => {
            evidence.tcp.error = Some(io_failure(&err));
            return evidence;
        }
    };
    evidence.tcp.local_port = socket.local_addr().ok().map(|local| local.port());
    let connected = budget
        .run(socket.connect(SocketAddr::new(address, port)))
        .await;
    evidence.tcp.ms = ms_since(started);
    let stream = match connected {
        Ok(Ok(stream)) => stream,
        Ok(Err(err)) => {
            evidence.tcp.error = Some(io_failure(&err));
            return evidence;
        }
        Err(class) => {
            evidence.tcp.error = Some(Failure::new(class, "no answer to the SYN"));
            return evidence;
        }
    };
    evidence.tcp.ok = true;
    let _ = stream.set_nodelay(true);

    if port != 443 {
        let plain = Request {
            tls_headers: Vec::new(),
            ..request.clone()
        };
        evidence.http = Some(exchange(stream, &plain, budget).await);
        return evidence;
    }
    let (tls, stream) = handshake(stream, &request.host, verifier, budget).await;
    evidence.tls = Some(tls);
    if let Some(stream) = stream {
        evidence.http = Some(exchange(stream, request, budget).await);
    }
    evidence
}

/// A TCP socket bound to an ephemeral port before connecting, so the port is known even when
/// the SYN is never answered (capture finds the flow by it).
fn bound_socket(address: IpAddr) -> io::Result<TcpSocket> {
    let (socket, any) = match address {
        IpAddr::V4(_) => (TcpSocket::new_v4()?, IpAddr::from([0u8; 4])),
        IpAddr::V6(_) => (TcpSocket::new_v6()?, IpAddr::from([0u16; 8])),
    };
    socket.bind(SocketAddr::new(any, 0))?;
    Ok(socket)
}

/// The leaf certificate offered (DER) and the verification result.
type Seen = (Vec<u8>, Result<(), String>);

/// A verifier that delegates to WebPKI and remembers the leaf and the result, so a failed
/// verification still shows which certificate was offered.
#[derive(Debug)]
struct Recording {
    inner: Arc<WebPkiServerVerifier>,
    seen: Mutex<Option<Seen>>,
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let result = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        let outcome = result.as_ref().map(|_| ()).map_err(ToString::to_string);
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some((end_entity.to_vec(), outcome));
        }
        result
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

async fn handshake(
    stream: TcpStream,
    host: &str,
    verifier: &Arc<WebPkiServerVerifier>,
    budget: &Budget,
) -> (
    TlsEvidence,
    Option<tokio_rustls::client::TlsStream<TcpStream>>,
) {
    let mut tls = TlsEvidence {
        sni: host.to_string(),
        ..TlsEvidence::default()
    };
    let recording = Arc::new(Recording {
        inner: verifier.clone(),
        seen: Mutex::new(None),
    });
    let mut config = rustls::ClientConfig::builder()
        .dangerous()
        .with_custom_certificate_verifier(recording.clone())
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let Ok(server_name) = ServerName::try_from(host.to_string()) else {
        tls.error = Some(Failure::new(
            FailureClass::Tls,
            format!("{host} is not a valid SNI"),
        ));
        return (tls, None);
    };

    let started = Instant::now();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let outcome = budget.run(connector.connect(server_name, stream)).await;
    tls.ms = ms_since(started);
    if let Ok(seen) = recording.seen.lock()
        && let Some((leaf, verified)) = seen.as_ref()
    {
        describe_certificate(leaf, &mut tls);
        tls.verification = Some(match verified {
            Ok(()) => "ok".to_string(),
            Err(reason) => reason.clone(),
        });
    }
    match outcome {
        Ok(Ok(stream)) => {
            let (_, connection) = stream.get_ref();
            tls.ok = true;
            tls.version = connection.protocol_version().map(|v| format!("{v:?}"));
            tls.cipher_suite = connection
                .negotiated_cipher_suite()
                .map(|suite| format!("{:?}", suite.suite()));
            tls.alpn = connection
                .alpn_protocol()
                .map(|alpn| String::from_utf8_lossy(alpn).into_owned());
            (tls, Some(stream))
        }
        Ok(Err(err)) => {
            let class = match err.kind() {
                io::ErrorKind::InvalidData => FailureClass::Tls,
                _ => io_failure(&err).class,
            };
            tls.error = Some(Failure::new(class, err.to_string()));
            (tls, None)
        }
        Err(class) => {
            tls.error = Some(Failure::new(class, "the handshake did not finish"));
            (tls, None)
        }
    }
}

fn describe_certificate(der: &[u8], tls: &mut TlsEvidence) {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return;
    };
    tls.subject = Some(cert.subject().to_string());
    tls.issuer = Some(cert.issuer().to_string());
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        tls.names = san
            .value
            .general_names
            .iter()
            .filter_map(|name| match name {
                x509_parser::extensions::GeneralName::DNSName(dns) => Some(dns.to_string()),
                _ => None,
            })
            .collect();
    }
}

/// Sends `GET path` with the Host header and reads the answer, all within the step deadline.
async fn exchange<S>(stream: S, request: &Request, budget: &Budget) -> HttpEvidence
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let started = Instant::now();
    let mut http = HttpEvidence::default();
    match budget.run(send(stream, request, &mut http)).await {
        Ok(Ok(())) => {}
        Ok(Err(failure)) => http.error = Some(failure),
        Err(class) => {
            let stage = if http.status.is_some() {
                "the body"
            } else {
                "a response"
            };
            http.error = Some(Failure::new(
                class,
                format!("no complete answer: waiting for {stage}"),
            ));
        }
    }
    http.ms = ms_since(started);
    http
}

async fn send<S>(stream: S, request: &Request, http: &mut HttpEvidence) -> Result<(), Failure>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let protocol = |err: hyper::Error| Failure::new(FailureClass::Protocol, err.to_string());
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(protocol)?;
    let driver = tokio::spawn(connection);

    let mut builder = http::Request::get(request.path.as_str())
        .header(http::header::HOST, request.host.as_str())
        .header(
            http::header::USER_AGENT,
            concat!("egress-probe/", env!("CARGO_PKG_VERSION")),
        )
        .header(http::header::ACCEPT, "*/*");
    for (name, value) in &request.tls_headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let outgoing = builder
        .body(Empty::<Bytes>::new())
        .map_err(|err| Failure::new(FailureClass::Other, err.to_string()))?;
    let response = sender.send_request(outgoing).await.map_err(|err| {
        let class = if err.is_incomplete_message() || err.is_closed() {
            FailureClass::Reset
        } else {
            FailureClass::Protocol
        };
        Failure::new(class, err.to_string())
    });
    let response = match response {
        Ok(response) => response,
        Err(failure) => {
            driver.abort();
            return Err(failure);
        }
    };

    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string)
    };
    http.status = Some(response.status().as_u16());
    http.server = header("server");
    http.request_id = header("x-amz-request-id").or_else(|| header("x-amzn-requestid"));
    http.bucket_region = header("x-amz-bucket-region");
    http.location = header("location");

    let mut body = response.into_body();
    let mut bytes = Vec::new();
    while bytes.len() < MAX_BODY {
        match body.frame().await {
            None => break,
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    let room = MAX_BODY - bytes.len();
                    bytes.extend_from_slice(&data[..data.len().min(room)]);
                }
            }
            Some(Err(err)) => {
                driver.abort();
                return Err(Failure::new(FailureClass::Reset, err.to_string()));
            }
        }
    }
    driver.abort();
    http.body_bytes = bytes.len();

    if http.status.is_some_and(|status| status >= 300) && !bytes.is_empty() {
        match s3xml::parse_error(&bytes) {
            Some(error) => {
                http.s3_error_code = error.code;
                http.s3_error_message = error.message;
                if http.bucket_region.is_none() {
                    http.bucket_region = error.bucket_region;
                }
            }
            None => http.body_not_xml = true,
        }
    }
    Ok(())
}

/// Classifies an I/O error from connect or read.
pub fn io_failure(err: &io::Error) -> Failure {
    let class = match err.kind() {
        io::ErrorKind::ConnectionRefused => FailureClass::Refused,
        io::ErrorKind::TimedOut => FailureClass::Timeout,
        io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
            FailureClass::Unreachable
        }
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::UnexpectedEof
        | io::ErrorKind::BrokenPipe => FailureClass::Reset,
        _ => FailureClass::Other,
    };
    Failure::new(class, err.to_string())
}

fn ms_since(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}
