//! Evidence: the raw facts the probes gathered, per target, address and port. Nothing here
//! judges; verdicts are drawn from these values by `verdict`.

use std::net::IpAddr;

use crate::aws::hostname::NameInfo;
use crate::aws::ipranges::Attribution;
use crate::capture::flows::Flow;
use crate::catalog::Target;

/// Why a network step did not succeed, as a small stable vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// No answer before the step's deadline (a silent drop).
    Timeout,
    /// Actively refused (TCP RST, ICMP port unreachable, DNS REFUSED).
    Refused,
    /// No route, network or host unreachable.
    Unreachable,
    /// The connection was reset or closed mid-exchange.
    Reset,
    /// The name does not exist.
    NxDomain,
    /// The name exists but has no record of the type asked.
    NoRecords,
    /// The DNS server failed (SERVFAIL and the like).
    ServerFailure,
    /// The TLS handshake or certificate failed.
    Tls,
    /// The peer spoke something that is not the protocol expected.
    Protocol,
    /// The run's overall deadline stopped the step.
    RunDeadline,
    /// Anything else.
    Other,
}

impl FailureClass {
    /// The value written in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::Timeout => "timeout",
            FailureClass::Refused => "refused",
            FailureClass::Unreachable => "unreachable",
            FailureClass::Reset => "reset",
            FailureClass::NxDomain => "nxdomain",
            FailureClass::NoRecords => "no-records",
            FailureClass::ServerFailure => "server-failure",
            FailureClass::Tls => "tls",
            FailureClass::Protocol => "protocol",
            FailureClass::RunDeadline => "run-deadline",
            FailureClass::Other => "other",
        }
    }
}

/// A failed step: its class and the underlying message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The class scripts match on.
    pub class: FailureClass,
    /// What the system said.
    pub detail: String,
}

impl Failure {
    /// A failure of `class` with `detail`.
    pub fn new(class: FailureClass, detail: impl Into<String>) -> Failure {
        Failure {
            class,
            detail: detail.into(),
        }
    }
}

/// What DNS said about a target's hostname.
#[derive(Debug, Clone, Default)]
pub struct DnsEvidence {
    /// The server that answered (the first configured one that did).
    pub server: Option<IpAddr>,
    /// `/etc/hosts` gave the addresses; DNS was not consulted for them.
    pub hosts_file: bool,
    /// The CNAME chain, in order.
    pub cnames: Vec<String>,
    /// Every address returned, IPv4 first.
    pub addresses: Vec<AddressEvidence>,
    /// The A lookup's failure, if any.
    pub error_v4: Option<Failure>,
    /// The AAAA lookup's failure, if any.
    pub error_v6: Option<Failure>,
    /// Time the lookups took.
    pub ms: f64,
}

/// One resolved address and what is known of it.
#[derive(Debug, Clone)]
pub struct AddressEvidence {
    /// The address.
    pub ip: IpAddr,
    /// The record's TTL, when it came from DNS.
    pub ttl: Option<u32>,
    /// In RFC 1918, RFC 6598 (100.64/10) or ULA space.
    pub private: bool,
    /// Inside one of the VPC's CIDR blocks (from IMDS): likely an interface endpoint.
    pub in_vpc: bool,
    /// What ip-ranges.json says of it.
    pub aws: Option<Attribution>,
}

/// A TCP connection attempt.
#[derive(Debug, Clone)]
pub struct TcpEvidence {
    /// Connected.
    pub ok: bool,
    /// Time to connect or to fail.
    pub ms: f64,
    /// The failure, when not connected.
    pub error: Option<Failure>,
    /// This host's port of the connection (bound before connecting), to find it in a capture.
    pub local_port: Option<u16>,
}

/// A TLS handshake.
#[derive(Debug, Clone, Default)]
pub struct TlsEvidence {
    /// Handshake completed and the certificate verified.
    pub ok: bool,
    /// The SNI sent.
    pub sni: String,
    /// `TLSv1_3`, `TLSv1_2`.
    pub version: Option<String>,
    /// The negotiated cipher suite.
    pub cipher_suite: Option<String>,
    /// The negotiated ALPN protocol.
    pub alpn: Option<String>,
    /// The leaf certificate's subject.
    pub subject: Option<String>,
    /// The leaf certificate's issuer.
    pub issuer: Option<String>,
    /// The leaf certificate's DNS names.
    pub names: Vec<String>,
    /// The verification result: `ok` or the verifier's reason.
    pub verification: Option<String>,
    /// Time the handshake took.
    pub ms: f64,
    /// The failure, when the handshake did not complete.
    pub error: Option<Failure>,
}

/// An HTTP exchange and what S3 said in it.
#[derive(Debug, Clone, Default)]
pub struct HttpEvidence {
    /// The status code, when a response arrived.
    pub status: Option<u16>,
    /// `Server`.
    pub server: Option<String>,
    /// `x-amz-request-id` (or `x-amzn-RequestId`).
    pub request_id: Option<String>,
    /// `x-amz-bucket-region`.
    pub bucket_region: Option<String>,
    /// `Location` of a redirect (recorded, never followed).
    pub location: Option<String>,
    /// The S3 error code from the XML body.
    pub s3_error_code: Option<String>,
    /// The S3 error message.
    pub s3_error_message: Option<String>,
    /// The body was an error but not S3's XML.
    pub body_not_xml: bool,
    /// Bytes of body read (at most 64 KiB).
    pub body_bytes: usize,
    /// Time from request to the end of the body.
    pub ms: f64,
    /// The failure, when no complete response arrived.
    pub error: Option<Failure>,
}

/// One port of one address.
#[derive(Debug, Clone)]
pub struct PortEvidence {
    /// The port.
    pub port: u16,
    /// The address connected to.
    pub address: IpAddr,
    /// The TCP connection.
    pub tcp: TcpEvidence,
    /// The TLS handshake (port 443 only).
    pub tls: Option<TlsEvidence>,
    /// The HTTP exchange, when the connection (and TLS) succeeded.
    pub http: Option<HttpEvidence>,
    /// The captured flows of this probe; None when capture did not run.
    pub flows: Option<Vec<Flow>>,
}

impl PortEvidence {
    /// An HTTP exchange went over this port without TLS.
    pub fn exchanged_in_clear(&self) -> bool {
        self.tls.is_none() && self.http.as_ref().is_some_and(|http| http.status.is_some())
    }

    /// Readable HTTP was seen on the wire in a flow of this probe; None when nothing was
    /// captured.
    pub fn seen_in_clear(&self) -> Option<bool> {
        self.flows
            .as_ref()
            .map(|flows| flows.iter().any(Flow::carries_http))
    }
}

/// Everything probed for one target.
#[derive(Debug, Clone)]
pub struct TargetEvidence {
    /// What was probed and what was expected.
    pub target: Target,
    /// What the hostname itself says.
    pub name_info: Option<NameInfo>,
    /// DNS results.
    pub dns: DnsEvidence,
    /// One entry per probed address and port.
    pub ports: Vec<PortEvidence>,
    /// The same request through the environment's proxy (`--via-proxy`).
    pub via_proxy: Option<crate::probe::proxy::ViaProxy>,
}
