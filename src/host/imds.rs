//! IMDSv2 client: the instance's identity, placement and primary network interface.
//!
//! Tells apart an instance whose metadata service answers (`ok`), a host where nothing answers
//! (`not-ec2`), a token PUT lost behind an extra hop (`hop-limit`), a service turned off
//! (`disabled`), one without tokens (`v1-only`) and answers that make no sense (`error`).

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

use crate::aws::hostname;

/// The IPv4 endpoint every EC2 instance has.
pub const DEFAULT_ENDPOINT: &str = "http://169.254.169.254";
/// The IPv6 endpoint of Nitro instances that enabled it.
pub const IPV6_ENDPOINT: &str = "http://[fd00:ec2::254]";

/// The largest metadata answer read.
const MAX_BODY: usize = 64 * 1024;

/// How the metadata service answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImdsState {
    /// Token and metadata obtained.
    Ok,
    /// Nothing answers: not an EC2 instance, or the service is unreachable.
    NotEc2,
    /// Metadata answers but the token PUT times out (response hop limit too low).
    HopLimit,
    /// Turned off for this instance (403), or by `AWS_EC2_METADATA_DISABLED`.
    Disabled,
    /// Answers without tokens only.
    V1Only,
    /// Answers that could not be used.
    Error,
}

impl ImdsState {
    /// The value written in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            ImdsState::Ok => "ok",
            ImdsState::NotEc2 => "not-ec2",
            ImdsState::HopLimit => "hop-limit",
            ImdsState::Disabled => "disabled",
            ImdsState::V1Only => "v1-only",
            ImdsState::Error => "error",
        }
    }
}

/// Where and how to ask.
#[derive(Debug, Clone)]
pub struct ImdsConfig {
    /// Base URL without a trailing slash.
    pub endpoint: String,
    /// `AWS_EC2_METADATA_DISABLED=true`.
    pub disabled: bool,
    /// Deadline of each request.
    pub step_timeout: Duration,
}

impl ImdsConfig {
    /// The configuration from a flag value and the environment variables AWS SDKs read.
    pub fn from_env(flag: Option<&str>) -> ImdsConfig {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let endpoint = flag
            .map(str::to_string)
            .or_else(|| env("AWS_EC2_METADATA_SERVICE_ENDPOINT"))
            .unwrap_or_else(|| {
                let mode = env("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE").unwrap_or_default();
                if mode.eq_ignore_ascii_case("ipv6") {
                    IPV6_ENDPOINT.to_string()
                } else {
                    DEFAULT_ENDPOINT.to_string()
                }
            });
        let disabled =
            env("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        ImdsConfig {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            disabled,
            step_timeout: Duration::from_millis(1500),
        }
    }
}

/// What the metadata service said about this instance. Absent values are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceFacts {
    /// `placement/region`, else the identity document's region.
    pub region: Option<String>,
    /// `placement/availability-zone`.
    pub availability_zone: Option<String>,
    /// `instance-id`.
    pub instance_id: Option<String>,
    /// `instance-type`.
    pub instance_type: Option<String>,
    /// `ami-id`.
    pub ami_id: Option<String>,
    /// The identity document's `accountId`.
    pub account_id: Option<String>,
    /// `services/domain`, such as `amazonaws.com` or `amazonaws.com.cn`.
    pub domain: Option<String>,
    /// `services/partition`.
    pub partition: Option<String>,
    /// The primary interface's VPC.
    pub vpc_id: Option<String>,
    /// The primary interface's subnet.
    pub subnet_id: Option<String>,
    /// The VPC's IPv4 and IPv6 CIDR blocks.
    pub vpc_cidrs: Vec<IpNet>,
    /// The subnet's IPv4 CIDR block.
    pub subnet_cidr: Option<IpNet>,
    /// `local-ipv4`.
    pub local_ipv4: Option<Ipv4Addr>,
    /// `public-ipv4`, absent for instances without one.
    pub public_ipv4: Option<Ipv4Addr>,
    /// The interface's IPv6 addresses.
    pub ipv6: Vec<IpAddr>,
}

/// The outcome of asking the metadata service.
#[derive(Debug, Clone)]
pub struct ImdsReport {
    /// How the service answered.
    pub state: ImdsState,
    /// The facts it gave.
    pub facts: InstanceFacts,
    /// One line per thing that went wrong, for the report.
    pub problems: Vec<String>,
    /// The endpoint asked.
    pub endpoint: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdentityDocument {
    account_id: Option<String>,
    region: Option<String>,
    availability_zone: Option<String>,
    instance_id: Option<String>,
    instance_type: Option<String>,
    image_id: Option<String>,
}

/// The result of one request, classified.
enum Answer {
    Body(String),
    Status(u16),
    ConnectFailed(String),
    Silent,
    Broken(String),
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

/// A usable metadata base URL: `http://` or `https://` with a host.
pub fn validate_endpoint(endpoint: &str) -> anyhow::Result<()> {
    let valid = reqwest::Url::parse(endpoint)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https"))
        .is_some_and(|url| url.host_str().is_some_and(|host| !host.is_empty()));
    if valid {
        Ok(())
    } else {
        Err(crate::exit::UsageError::new(format!(
            "the IMDS endpoint {endpoint:?} is not an http:// URL with a host \
             (--imds-endpoint or AWS_EC2_METADATA_SERVICE_ENDPOINT)"
        )))
    }
}

/// [`query`] bounded by the run: whatever the service does, it is over by two steps or the
/// run's deadline, whichever comes first.
pub async fn query_within(config: &ImdsConfig, budget: crate::probe::Budget) -> ImdsReport {
    let mut config = config.clone();
    config.step_timeout = config.step_timeout.min(budget.step);
    let limit = (budget.step * 2).min(
        budget
            .run_end
            .saturating_duration_since(std::time::Instant::now()),
    );
    match tokio::time::timeout(limit, query(&config)).await {
        Ok(report) => report,
        Err(_) => ImdsReport {
            state: ImdsState::Error,
            facts: InstanceFacts::default(),
            problems: vec![format!(
                "{} did not finish within {limit:?}",
                config.endpoint
            )],
            endpoint: config.endpoint,
        },
    }
}

/// Asks the metadata service everything the report needs; never fails, never hangs.
pub async fn query(config: &ImdsConfig) -> ImdsReport {
    let mut report = ImdsReport {
        state: ImdsState::NotEc2,
        facts: InstanceFacts::default(),
        problems: Vec::new(),
        endpoint: config.endpoint.clone(),
    };
    if config.disabled {
        report.state = ImdsState::Disabled;
        report
            .problems
            .push("AWS_EC2_METADATA_DISABLED=true: not asked".to_string());
        return report;
    }
    crate::install_crypto_provider();
    let http = match reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(config.step_timeout)
        .timeout(config.step_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(http) => http,
        Err(err) => {
            report.state = ImdsState::Error;
            report
                .problems
                .push(format!("building the IMDS client: {err}"));
            return report;
        }
    };
    let mut client = Client {
        http,
        base: config.endpoint.clone(),
        token: None,
    };

    report.state = match client.token().await {
        Answer::Body(token) => {
            client.token = Some(token.trim().to_string());
            ImdsState::Ok
        }
        Answer::Status(403) => {
            report
                .problems
                .push("the token request was refused (403): IMDS is turned off".into());
            return report_with(report, ImdsState::Disabled);
        }
        Answer::Status(status) => match client.get("meta-data/").await {
            Answer::Body(_) => {
                report
                    .problems
                    .push(format!("no IMDSv2 token (HTTP {status}); using IMDSv1"));
                ImdsState::V1Only
            }
            _ => {
                report
                    .problems
                    .push(format!("the token request answered HTTP {status}"));
                return report_with(report, ImdsState::Error);
            }
        },
        Answer::ConnectFailed(why) => {
            report
                .problems
                .push(format!("nothing answers at {}: {why}", config.endpoint));
            return report_with(report, ImdsState::NotEc2);
        }
        Answer::Silent => match client.get("meta-data/").await {
            Answer::Body(_) | Answer::Status(401) => {
                report.problems.push(
                    "the token PUT timed out while metadata answers: the PUT response hop \
                     limit is too low for this host (a container behind one more hop?)"
                        .into(),
                );
                // Without a token, what IMDSv1 still gives is better than nothing.
                client.facts(&mut report).await;
                return report_with(report, ImdsState::HopLimit);
            }
            _ => {
                report.problems.push(format!(
                    "{} accepted the connection but never answered",
                    config.endpoint
                ));
                return report_with(report, ImdsState::Error);
            }
        },
        Answer::Broken(why) => {
            report.problems.push(format!("token request failed: {why}"));
            return report_with(report, ImdsState::Error);
        }
    };

    client.facts(&mut report).await;
    if report.facts.region.is_none() {
        report.state = ImdsState::Error;
        report
            .problems
            .push("IMDS answered but gave no usable region".into());
    }
    report
}

/// The instance role's temporary credentials, for `--sign`: the role named by
/// `iam/security-credentials/`, then its document. The error says what is missing, never a secret.
pub async fn role_credentials(
    config: &ImdsConfig,
) -> Result<crate::probe::sign::RoleCredentials, String> {
    crate::install_crypto_provider();
    let http = reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(config.step_timeout)
        .timeout(config.step_timeout)
        .build()
        .map_err(|err| err.to_string())?;
    let mut client = Client {
        http,
        base: config.endpoint.clone(),
        token: None,
    };
    if let Answer::Body(token) = client.token().await {
        client.token = Some(token.trim().to_string());
    }
    let role = client
        .text("meta-data/iam/security-credentials/")
        .await
        .and_then(|list| list.lines().next().map(str::to_string))
        .ok_or("the instance has no role (iam/security-credentials/ is empty)")?;
    let document = client
        .text(&format!("meta-data/iam/security-credentials/{role}"))
        .await
        .ok_or_else(|| format!("no credentials for the role {role}"))?;
    serde_json::from_str(&document)
        .map_err(|err| format!("the credentials of the role {role} are not JSON: {err}"))
}

fn report_with(mut report: ImdsReport, state: ImdsState) -> ImdsReport {
    report.state = state;
    report
}

impl Client {
    async fn token(&self) -> Answer {
        let request = self
            .http
            .put(format!("{}/latest/api/token", self.base))
            .header("X-aws-ec2-metadata-token-ttl-seconds", "60");
        classify(request.send().await).await
    }

    async fn get(&self, path: &str) -> Answer {
        let mut request = self.http.get(format!("{}/latest/{path}", self.base));
        if let Some(token) = &self.token {
            request = request.header("X-aws-ec2-metadata-token", token);
        }
        classify(request.send().await).await
    }

    /// A plain text value, or `None` when absent (404) or unusable.
    async fn text(&self, path: &str) -> Option<String> {
        match self.get(path).await {
            Answer::Body(body) => Some(body.trim().to_string()).filter(|v| !v.is_empty()),
            _ => None,
        }
    }

    async fn facts(&self, report: &mut ImdsReport) {
        let (region, zone, instance_id, instance_type, ami_id, domain, partition, identity) = tokio::join!(
            self.text("meta-data/placement/region"),
            self.text("meta-data/placement/availability-zone"),
            self.text("meta-data/instance-id"),
            self.text("meta-data/instance-type"),
            self.text("meta-data/ami-id"),
            self.text("meta-data/services/domain"),
            self.text("meta-data/services/partition"),
            self.text("dynamic/instance-identity/document"),
        );
        let (mac, local, public) = tokio::join!(
            self.text("meta-data/mac"),
            self.text("meta-data/local-ipv4"),
            self.text("meta-data/public-ipv4"),
        );

        let identity =
            identity.and_then(
                |text| match serde_json::from_str::<IdentityDocument>(&text) {
                    Ok(doc) => Some(doc),
                    Err(err) => {
                        report
                            .problems
                            .push(format!("the identity document is not JSON: {err}"));
                        None
                    }
                },
            );
        let facts = &mut report.facts;
        facts.region = valid(
            region,
            hostname::is_region,
            "placement/region",
            &mut report.problems,
        )
        .or_else(|| {
            identity
                .as_ref()
                .and_then(|d| d.region.clone())
                .filter(|r| hostname::is_region(r))
        });
        facts.availability_zone =
            zone.or_else(|| identity.as_ref().and_then(|d| d.availability_zone.clone()));
        facts.instance_id = instance_id
            .filter(|id| id.starts_with("i-"))
            .or_else(|| identity.as_ref().and_then(|d| d.instance_id.clone()));
        facts.instance_type =
            instance_type.or_else(|| identity.as_ref().and_then(|d| d.instance_type.clone()));
        facts.ami_id = ami_id
            .filter(|id| id.starts_with("ami-"))
            .or_else(|| identity.as_ref().and_then(|d| d.image_id.clone()));
        facts.account_id = identity.as_ref().and_then(|d| d.account_id.clone());
        facts.domain = domain.filter(|d| d.contains('.') && !d.contains(char::is_whitespace));
        facts.partition = partition.filter(|p| p.starts_with("aws"));
        facts.local_ipv4 = local.and_then(|v| v.parse().ok());
        facts.public_ipv4 = public.and_then(|v| v.parse().ok());

        let Some(mac) = mac.filter(|m| m.len() == 17 && m.split(':').count() == 6) else {
            return;
        };
        let path = |leaf: &str| format!("meta-data/network/interfaces/macs/{mac}/{leaf}");
        let paths = [
            path("vpc-id"),
            path("subnet-id"),
            path("vpc-ipv4-cidr-blocks"),
            path("vpc-ipv6-cidr-blocks"),
            path("subnet-ipv4-cidr-block"),
            path("ipv6s"),
        ];
        let (vpc, subnet, v4_cidrs, v6_cidrs, subnet_cidr, ipv6s) = tokio::join!(
            self.text(&paths[0]),
            self.text(&paths[1]),
            self.text(&paths[2]),
            self.text(&paths[3]),
            self.text(&paths[4]),
            self.text(&paths[5]),
        );
        let facts = &mut report.facts;
        facts.vpc_id = vpc.filter(|id| id.starts_with("vpc-"));
        facts.subnet_id = subnet.filter(|id| id.starts_with("subnet-"));
        facts.vpc_cidrs = [v4_cidrs, v6_cidrs]
            .into_iter()
            .flatten()
            .flat_map(|text| {
                text.lines()
                    .filter_map(|l| l.trim().parse().ok())
                    .collect::<Vec<IpNet>>()
            })
            .collect();
        facts.subnet_cidr = subnet_cidr.and_then(|v| v.parse().ok());
        facts.ipv6 = ipv6s
            .map(|text| text.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default();
    }
}

/// Keeps a value only when it has the expected shape, recording a problem otherwise.
fn valid(
    value: Option<String>,
    shape: fn(&str) -> bool,
    what: &str,
    problems: &mut Vec<String>,
) -> Option<String> {
    let value = value?;
    if shape(&value) {
        return Some(value);
    }
    let shown: String = value.chars().take(40).collect();
    problems.push(format!("{what} is not what IMDS gives: {shown:?}"));
    None
}

async fn classify(sent: Result<reqwest::Response, reqwest::Error>) -> Answer {
    let response = match sent {
        Ok(response) => response,
        Err(err) if err.is_connect() => return Answer::ConnectFailed(root_cause(&err)),
        Err(err) if err.is_timeout() => return Answer::Silent,
        Err(err) => return Answer::Broken(root_cause(&err)),
    };
    let status = response.status().as_u16();
    if status != 200 {
        return Answer::Status(status);
    }
    match read_capped(response).await {
        Ok(body) => Answer::Body(body),
        Err(err) if err.is_timeout() => Answer::Silent,
        Err(err) => Answer::Broken(root_cause(&err)),
    }
}

async fn read_capped(mut response: reqwest::Response) -> Result<String, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = MAX_BODY.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if room <= chunk.len() {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// The innermost cause of an error, which says what really happened (refused, timed out).
pub fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_from_flag_wins_and_loses_its_slash() {
        let config = ImdsConfig::from_env(Some("http://127.0.0.1:9/"));
        assert_eq!(config.endpoint, "http://127.0.0.1:9");
    }

    #[tokio::test]
    async fn closed_port_is_not_ec2() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let config = ImdsConfig {
            endpoint: format!("http://127.0.0.1:{port}"),
            disabled: false,
            step_timeout: Duration::from_millis(500),
        };
        let report = query(&config).await;
        assert_eq!(report.state, ImdsState::NotEc2);
        assert!(
            report.problems[0].contains("nothing answers"),
            "{:?}",
            report.problems
        );
    }

    #[tokio::test]
    async fn disabled_by_environment_asks_nothing() {
        let config = ImdsConfig {
            endpoint: "http://127.0.0.1:9".into(),
            disabled: true,
            step_timeout: Duration::from_millis(100),
        };
        let report = query(&config).await;
        assert_eq!(report.state, ImdsState::Disabled);
    }
}
