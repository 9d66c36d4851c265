//! The output formats of `ranges list`, one file each: plain CIDRs, JSON, NACL entries for the
//! AWS CLI, Terraform, CloudFormation, and security-group rules.

pub mod cloudformation;
pub mod json;
pub mod nacl;
pub mod plain;
pub mod sg;
pub mod terraform;

use clap::ValueEnum;
use ipnet::IpNet;

use crate::aws::ipranges::IpRanges;
use crate::aws::source::Loaded;
use crate::exit::UsageError;
use crate::ranges::list::{Args, FamilyListing, decimal_sum};
use crate::ranges::rules::{self, NaclRule, Numbering};
use crate::ranges::select::Selection;

/// The output formats of `ranges list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// One CIDR per line, after `#` comment lines naming the data.
    Plain,
    /// The listing as JSON (`schema_version` 1).
    Json,
    /// A JSON list of `aws ec2 create-network-acl-entry --cli-input-json` documents.
    NaclJson,
    /// Terraform HCL resources.
    Terraform,
    /// A CloudFormation YAML template.
    Cloudformation,
    /// `aws ec2 authorize-security-group-egress --cli-input-json` document.
    Sg,
}

/// Which rules the Terraform and CloudFormation formats describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RulesFor {
    /// Network ACL entries, both directions.
    Nacl,
    /// Security group egress rules.
    Sg,
}

/// The rule budget in force.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Rules per direction per family.
    pub rules_per_direction: usize,
    /// CIDRs per family that fit.
    pub cidrs_per_family: usize,
}

/// Everything a format needs.
pub struct Rendering<'a> {
    /// The data.
    pub ranges: &'a IpRanges,
    /// Where it came from.
    pub loaded: &'a Loaded,
    /// The resolved filters.
    pub selection: &'a Selection,
    /// True when the region came from IMDS.
    pub instance_region: bool,
    /// The listing, IPv4 first.
    pub listings: &'a [FamilyListing],
    /// The budget, when one was set.
    pub budget: Option<Budget>,
    /// The command's flags (ports, numbering, ids).
    pub args: &'a Args,
}

impl Rendering<'_> {
    /// Every CIDR to allow, IPv4 first.
    pub fn cidrs(&self) -> Vec<IpNet> {
        self.listings
            .iter()
            .flat_map(|family| family.cidrs.iter().map(|block| block.to_net(family.bits)))
            .collect()
    }

    /// The total extra addresses of the merge, as a decimal string.
    pub fn extra(&self) -> String {
        let counts: Vec<u128> = self.listings.iter().map(|family| family.extra).collect();
        decimal_sum(&counts)
    }

    /// The NACL entries for both directions; a numbering past 32766 is a usage error.
    pub fn nacl_rules(&self) -> anyhow::Result<Vec<NaclRule>> {
        let numbering = Numbering {
            first: self.args.first_rule,
            step: self.args.rule_step,
        };
        rules::nacl_rules(
            &self.cidrs(),
            &self.args.ports,
            self.args.ephemeral,
            numbering,
        )
        .map_err(UsageError::new)
    }

    /// Comment lines naming the data, the selection and the cost of the merge.
    pub fn summary(&self) -> Vec<String> {
        let mut lines = vec![
            format!("egress-probe ranges list: {}", self.selection.describe()),
            format!(
                "computed from {}",
                crate::ranges::report::provenance(self.ranges)
            ),
        ];
        for family in self.listings {
            let mut line = format!("{}: {} CIDRs exactly", family.name(), family.exact.len());
            if family.cidrs.len() != family.exact.len() {
                line.push_str(&format!(
                    ", merged into {} admitting {} addresses outside the selection \
                     ({} in other AWS prefixes, {} not AWS)",
                    family.cidrs.len(),
                    family.extra,
                    family.owners.aws,
                    family.owners.not_aws
                ));
            }
            lines.push(line);
        }
        if let Some(budget) = self.budget {
            lines.push(format!(
                "budget: {} rules per direction per family, ports {} -> {} CIDRs per family",
                budget.rules_per_direction, self.args.ports, budget.cidrs_per_family
            ));
        }
        lines
    }

    /// The note every security-group output carries about the managed prefix list.
    pub fn prefix_list_note(&self) -> Vec<String> {
        let region = self.selection.single_region().unwrap_or("REGION");
        vec![
            format!(
                "For security groups the AWS-managed prefix list com.amazonaws.{region}.s3 is \
                 the better tool: one rule, kept current by AWS."
            ),
            "The prefix list and ip-ranges.json are not the same set of addresses: check \
             traffic against the one your rules use."
                .to_string(),
        ]
    }
}

/// Warns when an unbudgeted listing needs more rules than a network ACL holds by default.
fn warn_past_nacl_quota(rendering: &Rendering) {
    let per_cidr = rendering.args.ports.0.len();
    for family in rendering.listings {
        let rules = family.cidrs.len() * per_cidr;
        if rules > DEFAULT_NACL_RULES {
            tracing::warn!(
                "{} needs {rules} outbound rules, more than the {DEFAULT_NACL_RULES} a network \
                 ACL holds per direction; add --nacl to merge into the budget",
                family.name()
            );
        }
    }
}

/// Rules per direction per family a network ACL holds without a quota increase.
pub const DEFAULT_NACL_RULES: usize = 20;

/// Renders the listing in the chosen format.
pub fn render(rendering: &Rendering) -> anyhow::Result<String> {
    let sg = rendering.args.format == ListFormat::Sg
        || (matches!(
            rendering.args.format,
            ListFormat::Terraform | ListFormat::Cloudformation
        ) && rendering.args.rules_for == RulesFor::Sg);
    if sg {
        for line in rendering.prefix_list_note() {
            tracing::warn!("{line}");
        }
    } else if rendering.budget.is_none() && rendering.args.format != ListFormat::Plain {
        warn_past_nacl_quota(rendering);
    }
    match rendering.args.format {
        ListFormat::Plain => Ok(plain::render(rendering)),
        ListFormat::Json => json::render(rendering),
        ListFormat::NaclJson => nacl::render(rendering),
        ListFormat::Terraform => terraform::render(rendering),
        ListFormat::Cloudformation => cloudformation::render(rendering),
        ListFormat::Sg => sg::render(rendering),
    }
}
