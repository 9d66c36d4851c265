//! The path work of `check`: packet capture around the probes and the egress echo beside them,
//! then a trace of every probed address, the captured flows matched to their probes, and a
//! path verdict per target.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Url;
use rustls::client::WebPkiServerVerifier;
use tokio::task::JoinHandle;

use crate::capture::{self, Capture};
use crate::evidence::TargetEvidence;
use crate::exit::UsageError;
use crate::host::imds::{ImdsReport, ImdsState};
use crate::path::{self, HostPath, TargetPath};
use crate::probe::Budget;
use crate::probe::echo::{self, Echo};
use crate::probe::trace::{self, Trace};

/// Time left for the last segments of the probes' flows to arrive before capture stops.
const LINGER: Duration = Duration::from_millis(100);

/// A trace needs at least this much of the run's time to be worth starting.
const MIN_TRACE_TIME: Duration = Duration::from_millis(300);

/// What the user asked for.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `--pcap FILE`.
    pub pcap: Option<PathBuf>,
    /// The echo service, unless `--no-egress-echo`.
    pub echo: Option<Url>,
}

impl Settings {
    /// Checks `--pcap` and `--egress-echo` before anything touches the network.
    pub fn new(pcap: Option<PathBuf>, echo_url: &str, no_echo: bool) -> anyhow::Result<Settings> {
        if let Some(file) = &pcap {
            let dir = match file.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
                _ => PathBuf::from("."),
            };
            if !dir.is_dir() {
                return Err(UsageError::new(format!(
                    "--pcap {}: {} is not a directory",
                    file.display(),
                    dir.display()
                )));
            }
        }
        let echo = if no_echo {
            None
        } else {
            Some(echo::parse_url(echo_url)?)
        };
        Ok(Settings { pcap, echo })
    }
}

/// Everything the path work found.
pub struct Outcome {
    /// One verdict per target, in the targets' order.
    pub paths: Vec<TargetPath>,
    /// What capture saw.
    pub capture: capture::Summary,
    /// Flows matched to a port probe.
    pub matched_flows: usize,
    /// How the trace went.
    pub trace: trace::Run,
    /// What the echo service said, when asked.
    pub echo: Option<Echo>,
}

/// Capture and echo, running while the probes run.
pub struct Egress {
    capture: Arc<Capture>,
    echo: Option<JoinHandle<Echo>>,
}

impl Egress {
    /// Starts capture (when `CAP_NET_RAW` allows) and the echo request.
    pub fn start(
        settings: &Settings,
        verifier: Arc<WebPkiServerVerifier>,
        budget: Budget,
    ) -> Egress {
        let capture = Capture::start_system(capture::Options {
            pcap: settings.pcap.clone(),
        });
        let echo = settings
            .echo
            .clone()
            .map(|url| tokio::spawn(echo::ask(url, verifier, budget)));
        Egress {
            capture: Arc::new(capture),
            echo,
        }
    }

    /// The capture, for the probes to tell it their addresses.
    pub fn capture(&self) -> Arc<Capture> {
        self.capture.clone()
    }

    /// Stops capture, traces the probed addresses, waits for the echo, and judges the paths.
    pub async fn finish(
        self,
        evidence: &mut [TargetEvidence],
        imds: &ImdsReport,
        region: Option<&str>,
        budget: Budget,
    ) -> Outcome {
        if self.capture.running() {
            tokio::time::sleep(LINGER).await;
        }
        let capture = self.capture.clone();
        let captured = tokio::task::spawn_blocking(move || capture.finish())
            .await
            .unwrap_or_default();
        let matched_flows = attach(evidence, captured.summary.ran, &captured.flows);

        let (traces, trace) =
            traces(evidence, captured.summary.ran, &captured.summary, budget).await;
        let echo = match self.echo {
            Some(handle) => handle.await.ok(),
            None => None,
        };

        let facts = &imds.facts;
        let host = HostPath {
            region: region.map(str::to_string),
            vpc_cidrs: facts.vpc_cidrs.clone(),
            own_addresses: facts
                .local_ipv4
                .map(IpAddr::V4)
                .into_iter()
                .chain(facts.ipv6.iter().copied())
                .collect(),
            imds_answered: matches!(imds.state, ImdsState::Ok | ImdsState::V1Only),
            public_ipv4: facts.public_ipv4,
            echo: echo.clone(),
            no_trace: (!trace.ran).then(|| trace.reason.clone().unwrap_or_default()),
        };
        let paths = evidence
            .iter()
            .map(|target| path::judge(&host, target, &traces))
            .collect();
        Outcome {
            paths,
            capture: captured.summary,
            matched_flows,
            trace,
            echo,
        }
    }
}

/// Gives each port probe the flows with its local port and remote address; returns how many
/// flows found a probe. Without capture every probe's flows stay unknown (None).
fn attach(evidence: &mut [TargetEvidence], ran: bool, flows: &[capture::flows::Flow]) -> usize {
    let mut used = vec![false; flows.len()];
    for port in evidence.iter_mut().flat_map(|t| t.ports.iter_mut()) {
        if !ran {
            port.flows = None;
            continue;
        }
        let mine: Vec<capture::flows::Flow> = flows
            .iter()
            .enumerate()
            .filter(|(_, flow)| {
                flow.remote.ip() == port.address
                    && flow.remote.port() == port.port
                    && Some(flow.local.port()) == port.tcp.local_port
            })
            .map(|(index, flow)| {
                used[index] = true;
                flow.clone()
            })
            .collect();
        port.flows = Some(mine);
    }
    used.iter().filter(|&&u| u).count()
}

/// Traces every probed address, when capture ran (it needs the same privilege) and time is left.
async fn traces(
    evidence: &[TargetEvidence],
    captured: bool,
    summary: &capture::Summary,
    budget: Budget,
) -> (BTreeMap<IpAddr, Trace>, trace::Run) {
    let mut addresses: Vec<IpAddr> = Vec::new();
    for port in evidence.iter().flat_map(|t| &t.ports) {
        if !addresses.contains(&port.address) {
            addresses.push(port.address);
        }
    }
    let mut run = trace::Run {
        addresses: addresses.len(),
        ..trace::Run::default()
    };
    let remaining = budget.run_end.saturating_duration_since(Instant::now());
    if !captured && !crate::host::privilege::has_net_raw() {
        run.reason = Some(
            summary
                .reason
                .clone()
                .unwrap_or_else(|| "CAP_NET_RAW is missing".into()),
        );
        return (BTreeMap::new(), run);
    }
    if remaining < MIN_TRACE_TIME {
        run.reason = Some("no time left in the run for a trace (see --timeout)".into());
        return (BTreeMap::new(), run);
    }
    if addresses.is_empty() {
        run.reason = Some("no address was probed".into());
        return (BTreeMap::new(), run);
    }

    run.options.budget = run.options.budget.min(remaining - MIN_TRACE_TIME / 2);
    let started = Instant::now();
    let traces = trace::run(addresses, run.options).await;
    run.ms = started.elapsed().as_secs_f64() * 1000.0;
    run.ran = traces.values().any(|t| t.error.is_none());
    if !run.ran {
        run.reason = traces.values().find_map(|t| t.error.clone());
    }
    (traces, run)
}
