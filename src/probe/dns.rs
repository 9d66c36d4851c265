//! DNS through the system's configuration: A and AAAA, the CNAME chain, TTLs and which server
//! answered. Servers are asked in `resolv.conf` order, one at a time, as the C library does, so
//! the first that answers is the one the host really uses.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};

use crate::evidence::{Failure, FailureClass};
use crate::probe::Budget;

/// One resolver per configured server, in order.
pub struct Dns {
    servers: Vec<(IpAddr, TokioResolver)>,
    /// Why the system configuration could not be read, if it could not.
    pub problem: Option<String>,
}

/// The answer to one record type.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    /// The server that answered.
    pub server: Option<IpAddr>,
    /// CNAME targets in order.
    pub cnames: Vec<String>,
    /// Addresses with their TTLs.
    pub addresses: Vec<(IpAddr, u32)>,
    /// Why there is no address.
    pub error: Option<Failure>,
}

impl Dns {
    /// Reads `/etc/resolv.conf` and prepares a resolver for each server.
    pub fn from_system(step_timeout: Duration) -> Dns {
        match hickory_resolver::system_conf::read_system_conf() {
            Ok((config, options)) => Dns::from_config(&config, options, step_timeout),
            Err(err) => Dns {
                servers: Vec::new(),
                problem: Some(format!("reading /etc/resolv.conf: {err}")),
            },
        }
    }

    fn from_config(config: &ResolverConfig, options: ResolverOpts, step_timeout: Duration) -> Dns {
        let mut seen = Vec::new();
        let mut servers = Vec::new();
        for server in config.name_servers() {
            if seen.contains(&server.ip) {
                continue;
            }
            seen.push(server.ip);
            let mut opts = options.clone();
            opts.timeout = opts.timeout.min(step_timeout);
            opts.attempts = 1;
            opts.cache_size = 0;
            opts.use_hosts_file = ResolveHosts::Never;
            let single = ResolverConfig::from_name_servers(vec![server.clone()]);
            let resolver =
                TokioResolver::builder_with_config(single, TokioRuntimeProvider::default())
                    .with_options(opts)
                    .build();
            match resolver {
                Ok(resolver) => servers.push((server.ip, resolver)),
                Err(err) => tracing::warn!(server = %server.ip, %err, "resolver not built"),
            }
        }
        let problem = servers
            .is_empty()
            .then(|| "no name server configured in /etc/resolv.conf".to_string());
        Dns { servers, problem }
    }

    /// The configured servers, in the order they are asked.
    pub fn servers(&self) -> impl Iterator<Item = std::net::IpAddr> + '_ {
        self.servers.iter().map(|(ip, _)| *ip)
    }

    /// Looks up one record type, asking each server in turn until one answers; each server
    /// gets at most `step_timeout`.
    pub async fn lookup(&self, host: &str, record_type: RecordType, budget: &Budget) -> Answer {
        let fqdn = format!("{}.", host.trim_end_matches('.'));
        let mut last = Answer {
            error: Some(Failure::new(
                FailureClass::Other,
                self.problem
                    .clone()
                    .unwrap_or_else(|| "no name server".into()),
            )),
            ..Answer::default()
        };
        for (server, resolver) in &self.servers {
            let started = Instant::now();
            let outcome = budget
                .run(resolver.lookup(fqdn.as_str(), record_type))
                .await;
            tracing::debug!(%host, %server, ?record_type, ms = started.elapsed().as_millis() as u64, "dns");
            let answer = match outcome {
                Err(class) => failed(None, class, format!("no answer from {server}")),
                Ok(Err(err)) => classify(*server, &err),
                Ok(Ok(lookup)) => {
                    let mut answer = Answer {
                        server: Some(*server),
                        ..Answer::default()
                    };
                    for record in lookup.answers() {
                        match &record.data {
                            RData::A(a) => answer.addresses.push((IpAddr::V4(a.0), record.ttl)),
                            RData::AAAA(aaaa) => {
                                answer.addresses.push((IpAddr::V6(aaaa.0), record.ttl))
                            }
                            RData::CNAME(cname) => {
                                let name = cname.0.to_string();
                                answer.cnames.push(name.trim_end_matches('.').to_string());
                            }
                            _ => {}
                        }
                    }
                    answer
                }
            };
            // A server that answered (even NXDOMAIN) ends the walk; a silent one does not.
            let answered = answer.server.is_some();
            last = answer;
            if answered {
                break;
            }
        }
        last
    }
}

fn failed(server: Option<IpAddr>, class: FailureClass, detail: String) -> Answer {
    Answer {
        server,
        error: Some(Failure::new(class, detail)),
        ..Answer::default()
    }
}

fn classify(server: IpAddr, err: &hickory_resolver::net::NetError) -> Answer {
    if err.is_nx_domain() {
        return failed(
            Some(server),
            FailureClass::NxDomain,
            format!("NXDOMAIN from {server}"),
        );
    }
    if err.is_no_records_found() {
        return failed(
            Some(server),
            FailureClass::NoRecords,
            format!("no such record at {server}"),
        );
    }
    let text = err.to_string();
    let lower = text.to_ascii_lowercase();
    if lower.contains("timed out") || lower.contains("timeout") {
        failed(
            None,
            FailureClass::Timeout,
            format!("no answer from {server}"),
        )
    } else if lower.contains("refused") {
        failed(
            Some(server),
            FailureClass::Refused,
            format!("{server} refused: {text}"),
        )
    } else if lower.contains("servfail") || lower.contains("server failure") {
        failed(
            Some(server),
            FailureClass::ServerFailure,
            format!("{server}: {text}"),
        )
    } else {
        failed(None, FailureClass::Other, format!("{server}: {text}"))
    }
}

/// True for RFC 1918, RFC 6598 (shared address space) and IPv6 unique local addresses.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_private() || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::config::NameServerConfig;

    #[test]
    fn private_means_rfc1918_rfc6598_and_ula() {
        for (addr, private) in [
            ("10.1.2.3", true),
            ("172.31.0.1", true),
            ("192.168.1.1", true),
            ("100.64.0.1", true),
            ("100.127.255.255", true),
            ("100.128.0.1", false),
            ("52.216.0.1", false),
            ("fd00:ec2::254", true),
            ("2600:1f14::1", false),
        ] {
            assert_eq!(is_private(addr.parse().unwrap()), private, "{addr}");
        }
    }

    #[tokio::test]
    async fn silent_server_times_out_within_the_step_deadline() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let server = socket.local_addr().unwrap();
        let mut ns = NameServerConfig::udp(server.ip());
        for connection in &mut ns.connections {
            connection.port = server.port();
        }
        let config = ResolverConfig::from_name_servers(vec![ns]);
        let dns = Dns::from_config(&config, ResolverOpts::default(), Duration::from_millis(300));
        let started = Instant::now();
        let budget = Budget::new(Duration::from_millis(300), Duration::from_secs(5));
        let answer = dns
            .lookup("s3.us-west-2.amazonaws.com", RecordType::A, &budget)
            .await;
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(answer.error.unwrap().class, FailureClass::Timeout);
        assert_eq!(answer.server, None);
        drop(socket);
    }
}
