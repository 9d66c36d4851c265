//! Terraform HCL: `aws_network_acl_rule` resources for both directions, or
//! `aws_vpc_security_group_egress_rule` resources with the prefix-list advice.

use std::fmt::Write;

use crate::ranges::format::{Rendering, RulesFor};

/// Renders a variable for the target id and one resource per rule.
pub fn render(rendering: &Rendering) -> anyhow::Result<String> {
    let mut out = String::new();
    for line in rendering.summary() {
        writeln!(out, "# {line}")?;
    }
    match rendering.args.rules_for {
        RulesFor::Nacl => nacl(rendering, &mut out)?,
        RulesFor::Sg => security_group(rendering, &mut out)?,
    }
    Ok(out)
}

fn nacl(rendering: &Rendering, out: &mut String) -> anyhow::Result<()> {
    writeln!(out)?;
    writeln!(out, "variable \"network_acl_id\" {{")?;
    writeln!(out, "  type        = string")?;
    writeln!(
        out,
        "  description = \"The network ACL the rules go into.\""
    )?;
    writeln!(out, "  default     = \"{}\"", rendering.args.nacl_id)?;
    writeln!(out, "}}")?;
    for rule in rendering.nacl_rules()? {
        let direction = if rule.egress { "egress" } else { "ingress" };
        let cidr_key = if rule.cidr.addr().is_ipv4() {
            "cidr_block     "
        } else {
            "ipv6_cidr_block"
        };
        writeln!(out)?;
        writeln!(
            out,
            "resource \"aws_network_acl_rule\" \"{direction}_{}\" {{",
            rule.number
        )?;
        writeln!(out, "  network_acl_id  = var.network_acl_id")?;
        writeln!(out, "  rule_number     = {}", rule.number)?;
        writeln!(out, "  egress          = {}", rule.egress)?;
        writeln!(out, "  protocol        = \"tcp\"")?;
        writeln!(out, "  rule_action     = \"allow\"")?;
        writeln!(out, "  {cidr_key} = \"{}\"", rule.cidr)?;
        writeln!(out, "  from_port       = {}", rule.ports.from)?;
        writeln!(out, "  to_port         = {}", rule.ports.to)?;
        writeln!(out, "}}")?;
    }
    Ok(())
}

fn security_group(rendering: &Rendering, out: &mut String) -> anyhow::Result<()> {
    let region = rendering.selection.single_region().unwrap_or("REGION");
    for line in rendering.prefix_list_note() {
        writeln!(out, "# {line}")?;
    }
    writeln!(out, "#   data \"aws_ec2_managed_prefix_list\" \"s3\" {{")?;
    writeln!(out, "#     name = \"com.amazonaws.{region}.s3\"")?;
    writeln!(out, "#   }}")?;
    writeln!(
        out,
        "#   ... prefix_list_id = data.aws_ec2_managed_prefix_list.s3.id"
    )?;
    writeln!(out)?;
    writeln!(out, "variable \"security_group_id\" {{")?;
    writeln!(out, "  type        = string")?;
    writeln!(
        out,
        "  description = \"The security group the egress rules go into.\""
    )?;
    writeln!(
        out,
        "  default     = \"{}\"",
        rendering.args.security_group_id
    )?;
    writeln!(out, "}}")?;

    let description = crate::ranges::format::sg::description(rendering);
    let mut index = 0;
    for cidr in rendering.cidrs() {
        for range in &rendering.args.ports.0 {
            index += 1;
            let cidr_key = if cidr.addr().is_ipv4() {
                "cidr_ipv4"
            } else {
                "cidr_ipv6"
            };
            writeln!(out)?;
            writeln!(
                out,
                "resource \"aws_vpc_security_group_egress_rule\" \"ranges_{index}\" {{"
            )?;
            writeln!(out, "  security_group_id = var.security_group_id")?;
            writeln!(out, "  ip_protocol       = \"tcp\"")?;
            writeln!(out, "  from_port         = {}", range.from)?;
            writeln!(out, "  to_port           = {}", range.to)?;
            writeln!(out, "  {cidr_key}         = \"{cidr}\"")?;
            writeln!(out, "  description       = \"{description}\"")?;
            writeln!(out, "}}")?;
        }
    }
    Ok(())
}
