//! NACL entries as a JSON list, each element a document for
//! `aws ec2 create-network-acl-entry --cli-input-json`.
//!
//! The AWS CLI rejects unknown keys, so this list alone carries no `schema_version` or
//! provenance; those go to stderr.

use serde::Serialize;

use crate::ranges::format::Rendering;

/// One `create-network-acl-entry` input document.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct EntryInput {
    network_acl_id: String,
    rule_number: u32,
    protocol: &'static str,
    rule_action: &'static str,
    egress: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    cidr_block: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ipv6_cidr_block: Option<String>,
    port_range: PortRangeInput,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct PortRangeInput {
    from: u16,
    to: u16,
}

/// Renders both directions' entries; the summary goes to stderr.
pub fn render(rendering: &Rendering) -> anyhow::Result<String> {
    for line in rendering.summary() {
        tracing::warn!("{line}");
    }
    let entries: Vec<EntryInput> = rendering
        .nacl_rules()?
        .into_iter()
        .map(|rule| {
            let cidr = rule.cidr.to_string();
            let v4 = rule.cidr.addr().is_ipv4();
            EntryInput {
                network_acl_id: rendering.args.nacl_id.clone(),
                rule_number: rule.number,
                protocol: "6",
                rule_action: "allow",
                egress: rule.egress,
                cidr_block: v4.then(|| cidr.clone()),
                ipv6_cidr_block: (!v4).then_some(cidr),
                port_range: PortRangeInput {
                    from: rule.ports.from,
                    to: rule.ports.to,
                },
            }
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&entries)?;
    text.push('\n');
    Ok(text)
}
