//! `egress-probe policy`: an S3 VPC endpoint policy that lets through the account's own
//! buckets and exactly the Amazon-owned repository buckets the discovered repositories need
//! in this region, as JSON, Terraform or CloudFormation, each statement explained.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::json;

use crate::exit::{Status, UsageError};
use crate::yum::buckets::{self, HostKind};
use crate::yum::command::{check_root, checked_region};
use crate::yum::{Discovery, Overrides, Source, discover};

/// Output formats of `policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The policy document alone, for `aws ec2 modify-vpc-endpoint --policy-document`.
    Json,
    /// An `aws_vpc_endpoint_policy` resource.
    Terraform,
    /// A CloudFormation template with an S3 gateway endpoint carrying the policy.
    Cloudformation,
    /// The policy document preceded by a comment line per statement.
    Table,
}

/// Arguments of `policy`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Read the repository configuration under this directory.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "/",
        env = "EGRESS_PROBE_ROOT"
    )]
    pub root: PathBuf,

    /// The endpoint's region (default: $awsregion of the configuration).
    #[arg(long, value_name = "REGION", env = "EGRESS_PROBE_REGION")]
    pub region: Option<String>,

    /// Instance metadata base URL, for the account when `--account` is not given
    /// [env: AWS_EC2_METADATA_SERVICE_ENDPOINT].
    #[arg(long, value_name = "URL")]
    pub imds_endpoint: Option<String>,

    /// The account whose own buckets the endpoint allows (12 digits); by default the
    /// instance's, from its identity document.
    #[arg(long, value_name = "ID", env = "EGRESS_PROBE_ACCOUNT")]
    pub account: Option<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
}

/// One policy statement and the sentence that explains it.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// The statement's `Sid`.
    pub sid: &'static str,
    /// Why it is there, in one line.
    pub explanation: String,
    /// The statement as it goes in the document.
    pub body: serde_json::Value,
}

/// A policy for one account, region and partition.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// The account.
    pub account: String,
    /// The endpoint's region.
    pub region: String,
    /// The partition (`aws`, `aws-cn`, `aws-us-gov`).
    pub partition: &'static str,
    /// The statements.
    pub statements: Vec<Statement>,
    /// What the policy cannot cover and why, one line each.
    pub notes: Vec<String>,
}

/// Runs `policy`.
pub fn run(args: Args) -> anyhow::Result<Status> {
    check_root(&args.root)?;
    let region = args.region.as_deref().map(checked_region).transpose()?;
    let (account, imds_region) = match &args.account {
        Some(account) => (checked_account(account)?.to_string(), None),
        None => account_from_imds(&args.imds_endpoint)?,
    };
    let account = account.as_str();
    let region = region.map(str::to_string).or(imds_region);
    let region = region.as_deref();

    let overrides = Overrides {
        region: region.map(str::to_string),
        ..Overrides::default()
    };
    let discovery = discover(&args.root, &overrides);
    let Some(region) = discovery.region.as_ref().map(|r| r.value.clone()) else {
        return Err(UsageError::new(
            "no region: the configuration has no usable $awsregion, pass --region",
        ));
    };

    let policy = build(&discovery, &region, account);
    let text = match args.format {
        Format::Json => format!("{}\n", document_text(&policy)?),
        Format::Table => table(&policy)?,
        Format::Terraform => terraform(&policy)?,
        Format::Cloudformation => cloudformation(&policy)?,
    };
    crate::output::print(&text)?;
    Ok(Status::Clean)
}

/// The account (and region) from the instance identity document, when `--account` is not
/// given; a clear usage error off EC2.
fn account_from_imds(endpoint: &Option<String>) -> anyhow::Result<(String, Option<String>)> {
    let config = crate::host::imds::ImdsConfig::from_env(endpoint.as_deref());
    crate::host::imds::validate_endpoint(&config.endpoint)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(crate::host::imds::query(&config));
    match report.facts.account_id {
        Some(account) => Ok((checked_account(&account)?.to_string(), report.facts.region)),
        None => Err(UsageError::new(format!(
            "--account is needed: the instance metadata gave no account (IMDS {})",
            report.state.as_str()
        ))),
    }
}

/// An account id is 12 digits.
pub fn checked_account(account: &str) -> anyhow::Result<&str> {
    if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) {
        Ok(account)
    } else {
        Err(UsageError::new(format!(
            "--account `{account}` is not a 12-digit AWS account id"
        )))
    }
}

/// Builds the policy from the enabled repositories of a discovery.
pub fn build(discovery: &Discovery, region: &str, account: &str) -> Policy {
    let partition = buckets::partition_of(region);
    let mut notes = Vec::new();
    let needed = repository_buckets(discovery, region, &mut notes);

    let mut statements = vec![Statement {
        sid: "OwnAccountBuckets",
        explanation: format!(
            "everything on buckets owned by account {account}, and nothing on anyone else's: \
             data cannot leave through this endpoint to a foreign bucket"
        ),
        body: json!({
            "Sid": "OwnAccountBuckets",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:ResourceAccount": account}},
        }),
    }];
    if needed.is_empty() {
        notes.push("no enabled repository needs an Amazon-owned S3 bucket".to_string());
    } else {
        let names: Vec<&str> = needed.iter().map(|(name, _)| name.as_str()).collect();
        let resources: Vec<String> = needed
            .iter()
            .map(|(name, _)| format!("arn:{partition}:s3:::{name}/*"))
            .collect();
        statements.push(Statement {
            sid: "AmazonLinuxRepositories",
            explanation: format!(
                "read-only on the Amazon Linux repository buckets of {region} ({}): yum and dnf \
                 send anonymous requests, so a condition on the principal or account could \
                 never match them; s3:GetObject covers their GET and HEAD",
                names.join(", ")
            ),
            body: json!({
                "Sid": "AmazonLinuxRepositories",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": resources,
            }),
        });
    }
    Policy {
        account: account.to_string(),
        region: region.to_string(),
        partition,
        statements,
        notes,
    }
}

/// The Amazon-owned buckets the enabled repositories need in `region`, each with the repository
/// that first needs it; what cannot be covered goes to `notes`.
fn repository_buckets(
    discovery: &Discovery,
    region: &str,
    notes: &mut Vec<String>,
) -> Vec<(String, String)> {
    let mut vars = discovery.vars.clone();
    let file = Source::Override {
        flag: "--region".to_string(),
    };
    vars.set("awsregion", region, file.clone());
    vars.set("awsdomain", buckets::dns_suffix(region), file);

    let mut needed: Vec<(String, String)> = Vec::new();
    let mut add = |name: String, repo: &str| {
        if !needed.iter().any(|(known, _)| *known == name) {
            needed.push((name, repo.to_string()));
        }
    };
    for repo in discovery.repos.iter().filter(|repo| repo.enabled) {
        if let Some(proxy) = &repo.proxy {
            notes.push(format!(
                "{}: its requests leave through the proxy {proxy}, so this policy applies to \
                 them only if the proxy itself reaches S3 through the endpoint",
                repo.id
            ));
        }
        for url in &repo.urls {
            let expanded = vars.expand(&url.configured).text;
            let Ok(parsed) = reqwest::Url::parse(&expanded) else {
                continue;
            };
            let host = parsed.host_str().unwrap_or_default().to_string();
            match buckets::host_kind(&parsed) {
                HostKind::S3(bucket) => match buckets::known(&bucket.name) {
                    Some((entry, named)) => {
                        if named.as_deref().is_some_and(|named| named != region) {
                            notes.push(format!(
                                "{}: `{}` is in {}, not {region}; a gateway endpoint cannot carry \
                                 requests to another region, so the policy names {region}'s bucket",
                                repo.id,
                                bucket.name,
                                named.unwrap_or_default()
                            ));
                        }
                        let name = entry.name_in(region);
                        if name != buckets::fill(&entry.template, region) && name != bucket.name {
                            notes.push(format!(
                                "{}: in {region} the repositories live in `{name}`, not `{}` \
                                 that the configuration names: its variables need the values \
                                 that region uses",
                                repo.id, bucket.name
                            ));
                        }
                        add(name, &repo.id);
                        for template in &entry.also_needs {
                            add(buckets::fill(template, region), &repo.id);
                        }
                    }
                    None => notes.push(format!(
                        "{}: bucket `{}` is not a known Amazon Linux bucket: the first statement \
                         covers it if account-owned, otherwise add it to the second",
                        repo.id, bucket.name
                    )),
                },
                HostKind::Cdn { note, .. } => notes.push(format!("{}: {note}", repo.id)),
                HostKind::Other if parsed.scheme() == "file" => {}
                HostKind::Other => notes.push(format!(
                    "{}: {host} is not S3: an S3 endpoint cannot carry it, it needs a NAT \
                     gateway, an internet gateway or a proxy",
                    repo.id
                )),
            }
        }
    }
    notes.dedup();
    needed
}

/// The policy document.
pub fn document(policy: &Policy) -> serde_json::Value {
    let statements: Vec<&serde_json::Value> = policy.statements.iter().map(|s| &s.body).collect();
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// The order in which policy keys are written, as AWS shows them; other keys follow.
const KEY_ORDER: &[&str] = &[
    "Version",
    "Statement",
    "Sid",
    "Effect",
    "Principal",
    "Action",
    "Resource",
    "Condition",
];

/// A JSON value written with policy keys in [`KEY_ORDER`] (serde_json sorts them otherwise).
struct Ordered<'a>(&'a serde_json::Value);

impl serde::Serialize for Ordered<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0 {
            serde_json::Value::Object(map) => {
                let rank = |key: &str| KEY_ORDER.iter().position(|k| *k == key);
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort_by_key(|key| (rank(key).unwrap_or(KEY_ORDER.len()), key.as_str()));
                let mut out = serializer.serialize_map(Some(keys.len()))?;
                for key in keys {
                    out.serialize_entry(key, &Ordered(&map[key]))?;
                }
                out.end()
            }
            serde_json::Value::Array(items) => {
                let mut out = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    out.serialize_element(&Ordered(item))?;
                }
                out.end()
            }
            other => other.serialize(serializer),
        }
    }
}

/// The policy document as pretty JSON, keys in the usual order.
pub fn document_text(policy: &Policy) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(&Ordered(&document(policy)))?)
}

/// The explanation lines, each starting with `# `.
fn comments(policy: &Policy) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# S3 endpoint policy for account {} in {} (partition {})",
        policy.account, policy.region, policy.partition
    );
    for statement in &policy.statements {
        let _ = writeln!(out, "# {}: {}", statement.sid, statement.explanation);
    }
    for note in &policy.notes {
        let _ = writeln!(out, "# Not covered: {note}");
    }
    out
}

fn indented(policy: &Policy, indent: &str) -> anyhow::Result<String> {
    let text = document_text(policy)?;
    Ok(text
        .lines()
        .map(|line| format!("{indent}{line}"))
        .collect::<Vec<_>>()
        .join("\n"))
}

/// Comment lines, then the document.
pub fn table(policy: &Policy) -> anyhow::Result<String> {
    Ok(format!("{}{}\n", comments(policy), document_text(policy)?))
}

/// An `aws_vpc_endpoint_policy` for an existing endpoint.
pub fn terraform(policy: &Policy) -> anyhow::Result<String> {
    Ok(format!(
        "{}\nvariable \"s3_endpoint_id\" {{\n  description = \"The S3 VPC endpoint to attach \
         the policy to\"\n  type        = string\n}}\n\nresource \"aws_vpc_endpoint_policy\" \
         \"s3\" {{\n  vpc_endpoint_id = var.s3_endpoint_id\n  policy          = <<-EOT\n{}\n  \
         EOT\n}}\n",
        comments(policy),
        indented(policy, "    ")?
    ))
}

/// A template with an S3 gateway endpoint carrying the policy.
pub fn cloudformation(policy: &Policy) -> anyhow::Result<String> {
    let service = match policy.partition {
        "aws-cn" => format!("cn.com.amazonaws.{}.s3", policy.region),
        _ => format!("com.amazonaws.{}.s3", policy.region),
    };
    Ok(format!(
        "{}AWSTemplateFormatVersion: \"2010-09-09\"\nDescription: S3 gateway endpoint for \
         account {} in {}\nParameters:\n  VpcId:\n    Type: AWS::EC2::VPC::Id\n  \
         RouteTableIds:\n    Type: CommaDelimitedList\nResources:\n  S3GatewayEndpoint:\n    \
         Type: AWS::EC2::VPCEndpoint\n    Properties:\n      VpcEndpointType: Gateway\n      \
         ServiceName: {service}\n      VpcId: !Ref VpcId\n      RouteTableIds: !Ref \
         RouteTableIds\n      PolicyDocument:\n{}\n",
        comments(policy),
        policy.account,
        policy.region,
        indented(policy, "        ")?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_twelve_digits() {
        assert!(checked_account("123456789012").is_ok());
        assert!(checked_account("12345678901").is_err());
        assert!(checked_account("12345678901x").is_err());
    }
}
