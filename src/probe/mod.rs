//! The probes: DNS, TCP, TLS and HTTP for every target, concurrently, each step with its own
//! deadline inside the run's deadline. Probes record facts and failures; they never judge.

pub mod conn;
pub mod dns;
pub mod echo;
pub mod proxy;
pub mod s3xml;
pub mod sign;
pub mod trace;

use std::future::Future;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use hickory_resolver::proto::rr::RecordType;
use ipnet::IpNet;
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio::task::JoinSet;

use crate::aws::ipranges::IpRanges;
use crate::catalog::Target;
use crate::evidence::{AddressEvidence, DnsEvidence, FailureClass, TargetEvidence};
use crate::exit::UsageError;

/// At most this many addresses of each family are probed per target.
pub const ADDRESSES_PER_FAMILY: usize = 4;

/// A step's deadline bounded by the run's.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// The longest one step may take.
    pub step: Duration,
    /// When the whole run must be over.
    pub run_end: Instant,
}

impl Budget {
    /// A budget of `step` per step inside a run of `run` from now.
    pub fn new(step: Duration, run: Duration) -> Budget {
        Budget {
            step,
            run_end: Instant::now() + run,
        }
    }

    /// Runs `future` within the step deadline; the error says which deadline stopped it.
    pub async fn run<F: Future>(&self, future: F) -> Result<F::Output, FailureClass> {
        let remaining = self.run_end.saturating_duration_since(Instant::now());
        let (limit, class) = if remaining < self.step {
            (remaining, FailureClass::RunDeadline)
        } else {
            (self.step, FailureClass::Timeout)
        };
        tokio::time::timeout(limit, future).await.map_err(|_| class)
    }
}

/// Everything a probe run needs besides the targets.
pub struct Probes {
    /// Resolvers in `resolv.conf` order.
    pub dns: dns::Dns,
    /// WebPKI roots plus `--ca-file` anchors.
    pub verifier: Arc<WebPkiServerVerifier>,
    /// The address index, when one was loaded.
    pub ranges: Option<Arc<IpRanges>>,
    /// The VPC's CIDR blocks from IMDS.
    pub vpc_cidrs: Vec<IpNet>,
    /// Where `/etc/hosts` is read.
    pub hosts_path: std::path::PathBuf,
    /// Deadlines.
    pub budget: Budget,
    /// Credentials and region for signing requests to the user's own buckets (`--sign`).
    pub signing: Option<(sign::RoleCredentials, String)>,
    /// The packet capture told about each target's addresses before any connection starts.
    pub capture: Option<Arc<crate::capture::Capture>>,
}

/// The SigV4 headers for a user's bucket, when `--sign` gave credentials.
fn signature(probes: &Probes, target: &Target) -> Vec<(String, String)> {
    let Some((credentials, region)) = &probes.signing else {
        return Vec::new();
    };
    let own_bucket =
        target.origin == crate::catalog::Origin::User && target.bucket.is_some() && !target.canary;
    if !own_bucket {
        return Vec::new();
    }
    let now = std::time::SystemTime::now();
    match sign::s3_get_headers(credentials, region, &target.host, &target.path, now) {
        Ok(headers) => headers,
        Err(err) => {
            tracing::warn!(target = %target.name, %err, "request not signed");
            Vec::new()
        }
    }
}

/// The certificates of `--ca-file`, checked; empty without the flag.
pub fn ca_certificates(ca_file: Option<&Path>) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let Some(path) = ca_file else {
        return Ok(Vec::new());
    };
    let certificates = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|err| UsageError::new(format!("--ca-file {}: {err}", path.display())))?;
    if certificates.is_empty() {
        return Err(UsageError::new(format!(
            "--ca-file {}: no PEM certificate in it",
            path.display()
        )));
    }
    Ok(certificates)
}

/// Builds the certificate verifier: the Mozilla roots plus `extra` trust anchors.
pub fn verifier(extra: &[CertificateDer<'static>]) -> anyhow::Result<Arc<WebPkiServerVerifier>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for certificate in extra {
        roots
            .add(certificate.clone())
            .map_err(|err| UsageError::new(format!("--ca-file: {err}")))?;
    }
    WebPkiServerVerifier::builder(Arc::new(roots))
        .build()
        .context("building the certificate verifier")
}

/// Probes every target concurrently; the result keeps the targets' order.
pub async fn run(probes: Arc<Probes>, targets: Vec<Target>) -> Vec<TargetEvidence> {
    let mut set = JoinSet::new();
    for (index, target) in targets.iter().cloned().enumerate() {
        let probes = probes.clone();
        set.spawn(async move { (index, probe_target(&probes, target).await) });
    }
    let mut results: Vec<Option<TargetEvidence>> = vec![None; targets.len()];
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((index, evidence)) => results[index] = Some(evidence),
            Err(err) => tracing::error!(%err, "a probe task failed"),
        }
    }
    results
        .into_iter()
        .zip(targets)
        .map(|(evidence, target)| evidence.unwrap_or_else(|| empty(target)))
        .collect()
}

fn empty(target: Target) -> TargetEvidence {
    TargetEvidence {
        name_info: crate::aws::hostname::parse(&target.host),
        target,
        dns: DnsEvidence::default(),
        ports: Vec::new(),
        via_proxy: None,
    }
}

async fn probe_target(probes: &Probes, target: Target) -> TargetEvidence {
    let mut evidence = empty(target);
    evidence.dns = resolve(probes, &evidence.target.host).await;
    if let Some(capture) = &probes.capture {
        let addresses: Vec<IpAddr> = evidence.dns.addresses.iter().map(|a| a.ip).collect();
        capture.watch(&addresses, &evidence.target.ports);
    }

    let request = conn::Request {
        host: evidence.target.host.clone(),
        path: evidence.target.path.clone(),
        tls_headers: signature(probes, &evidence.target),
    };
    let mut set = JoinSet::new();
    for address in &evidence.dns.addresses {
        for &port in &evidence.target.ports {
            let request = request.clone();
            let verifier = probes.verifier.clone();
            let budget = probes.budget;
            let ip = address.ip;
            set.spawn(async move { conn::probe(ip, port, &request, &verifier, &budget).await });
        }
    }
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(port) => evidence.ports.push(port),
            Err(err) => tracing::error!(%err, "a connection task failed"),
        }
    }
    let order = |ip: &IpAddr| evidence.dns.addresses.iter().position(|a| a.ip == *ip);
    let mut ports = std::mem::take(&mut evidence.ports);
    ports.sort_by_key(|p| (order(&p.address), p.port));
    evidence.ports = ports;
    evidence
}

/// `/etc/hosts` first, as the C library does; then A and AAAA from DNS.
async fn resolve(probes: &Probes, host: &str) -> DnsEvidence {
    let started = Instant::now();
    let mut dns = DnsEvidence::default();
    let pinned = crate::host::hosts::lookup(&probes.hosts_path, host);
    let mut found: Vec<(IpAddr, Option<u32>)> = Vec::new();

    if pinned.is_empty() {
        let (v4, v6) = tokio::join!(
            probes.dns.lookup(host, RecordType::A, &probes.budget),
            probes.dns.lookup(host, RecordType::AAAA, &probes.budget),
        );
        dns.server = v4.server.or(v6.server);
        dns.cnames = if v4.cnames.is_empty() {
            v6.cnames
        } else {
            v4.cnames
        };
        dns.error_v4 = v4.error;
        dns.error_v6 = v6.error;
        found.extend(v4.addresses.into_iter().map(|(ip, ttl)| (ip, Some(ttl))));
        found.extend(v6.addresses.into_iter().map(|(ip, ttl)| (ip, Some(ttl))));
    } else {
        dns.hosts_file = true;
        found.extend(pinned.into_iter().map(|ip| (ip, None)));
    }

    let mut per_family = [0usize; 2];
    for (ip, ttl) in found {
        let family = usize::from(ip.is_ipv6());
        if per_family[family] == ADDRESSES_PER_FAMILY || dns.addresses.iter().any(|a| a.ip == ip) {
            continue;
        }
        per_family[family] += 1;
        dns.addresses.push(AddressEvidence {
            ip,
            ttl,
            private: dns::is_private(ip),
            in_vpc: probes.vpc_cidrs.iter().any(|cidr| cidr.contains(&ip)),
            aws: probes
                .ranges
                .as_ref()
                .and_then(|ranges| ranges.attribute(ip)),
        });
    }
    dns.addresses.sort_by_key(|a| a.ip.is_ipv6());
    dns.ms = started.elapsed().as_secs_f64() * 1000.0;
    dns
}
