//! A CloudFormation YAML template: `AWS::EC2::NetworkAclEntry` resources for both directions,
//! or `AWS::EC2::SecurityGroupEgress` resources with the prefix-list advice.

use std::fmt::Write;

use crate::ranges::format::{Rendering, RulesFor};

/// Renders the template; the target id is a parameter.
pub fn render(rendering: &Rendering) -> anyhow::Result<String> {
    let mut out = String::new();
    for line in rendering.summary() {
        writeln!(out, "# {line}")?;
    }
    if rendering.args.rules_for == RulesFor::Sg {
        for line in rendering.prefix_list_note() {
            writeln!(out, "# {line}")?;
        }
    }
    writeln!(out, "AWSTemplateFormatVersion: \"2010-09-09\"")?;
    writeln!(
        out,
        "Description: \"{}, {}\"",
        rendering.selection.describe(),
        crate::ranges::report::provenance(rendering.ranges)
    )?;
    match rendering.args.rules_for {
        RulesFor::Nacl => nacl(rendering, &mut out)?,
        RulesFor::Sg => security_group(rendering, &mut out)?,
    }
    Ok(out)
}

fn nacl(rendering: &Rendering, out: &mut String) -> anyhow::Result<()> {
    writeln!(out, "Parameters:")?;
    writeln!(out, "  NetworkAclId:")?;
    writeln!(out, "    Type: String")?;
    writeln!(out, "    Default: \"{}\"", rendering.args.nacl_id)?;
    writeln!(out, "    Description: The network ACL the entries go into.")?;
    writeln!(out, "Resources:")?;
    for rule in rendering.nacl_rules()? {
        let name = if rule.egress { "Egress" } else { "Ingress" };
        let cidr_key = if rule.cidr.addr().is_ipv4() {
            "CidrBlock"
        } else {
            "Ipv6CidrBlock"
        };
        writeln!(out, "  {name}{}:", rule.number)?;
        writeln!(out, "    Type: AWS::EC2::NetworkAclEntry")?;
        writeln!(out, "    Properties:")?;
        writeln!(out, "      NetworkAclId: !Ref NetworkAclId")?;
        writeln!(out, "      RuleNumber: {}", rule.number)?;
        writeln!(out, "      Protocol: 6")?;
        writeln!(out, "      RuleAction: allow")?;
        writeln!(out, "      Egress: {}", rule.egress)?;
        writeln!(out, "      {cidr_key}: \"{}\"", rule.cidr)?;
        writeln!(out, "      PortRange:")?;
        writeln!(out, "        From: {}", rule.ports.from)?;
        writeln!(out, "        To: {}", rule.ports.to)?;
    }
    Ok(())
}

fn security_group(rendering: &Rendering, out: &mut String) -> anyhow::Result<()> {
    writeln!(out, "Parameters:")?;
    writeln!(out, "  SecurityGroupId:")?;
    writeln!(out, "    Type: AWS::EC2::SecurityGroup::Id")?;
    writeln!(
        out,
        "    Description: The security group the egress rules go into."
    )?;
    writeln!(out, "Resources:")?;
    let description = crate::ranges::format::sg::description(rendering);
    let mut index = 0;
    for cidr in rendering.cidrs() {
        for range in &rendering.args.ports.0 {
            index += 1;
            let cidr_key = if cidr.addr().is_ipv4() {
                "CidrIp"
            } else {
                "CidrIpv6"
            };
            writeln!(out, "  RangesEgress{index}:")?;
            writeln!(out, "    Type: AWS::EC2::SecurityGroupEgress")?;
            writeln!(out, "    Properties:")?;
            writeln!(out, "      GroupId: !Ref SecurityGroupId")?;
            writeln!(out, "      IpProtocol: tcp")?;
            writeln!(out, "      FromPort: {}", range.from)?;
            writeln!(out, "      ToPort: {}", range.to)?;
            writeln!(out, "      {cidr_key}: \"{cidr}\"")?;
            writeln!(out, "      Description: \"{description}\"")?;
        }
    }
    Ok(())
}
