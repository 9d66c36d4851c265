//! Security-group egress rules as one `aws ec2 authorize-security-group-egress --cli-input-json`
//! document; each range's description names the data it came from.

use serde::Serialize;

use crate::ranges::format::Rendering;

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct EgressInput {
    group_id: String,
    ip_permissions: Vec<Permission>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Permission {
    ip_protocol: &'static str,
    from_port: u16,
    to_port: u16,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ip_ranges: Vec<V4Range>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ipv6_ranges: Vec<V6Range>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct V4Range {
    cidr_ip: String,
    description: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct V6Range {
    cidr_ipv6: String,
    description: String,
}

/// The description AWS stores with each rule (255 characters at most).
pub fn description(rendering: &Rendering) -> String {
    let ranges = rendering.ranges;
    let mut text = format!(
        "{} from ip-ranges.json syncToken {} createDate {}",
        rendering.selection.describe(),
        ranges.sync_token.as_deref().unwrap_or("none"),
        ranges.create_date.as_deref().unwrap_or("none")
    );
    text.retain(|c| c.is_ascii_alphanumeric() || " ._-:/()#,@[]+=&;{}!$*".contains(c));
    text.truncate(255);
    text
}

/// Renders one permission per port range holding every CIDR.
pub fn render(rendering: &Rendering) -> anyhow::Result<String> {
    for line in rendering.summary() {
        tracing::warn!("{line}");
    }
    let description = description(rendering);
    let cidrs = rendering.cidrs();
    let permissions = rendering
        .args
        .ports
        .0
        .iter()
        .map(|range| Permission {
            ip_protocol: "tcp",
            from_port: range.from,
            to_port: range.to,
            ip_ranges: cidrs
                .iter()
                .filter(|cidr| cidr.addr().is_ipv4())
                .map(|cidr| V4Range {
                    cidr_ip: cidr.to_string(),
                    description: description.clone(),
                })
                .collect(),
            ipv6_ranges: cidrs
                .iter()
                .filter(|cidr| cidr.addr().is_ipv6())
                .map(|cidr| V6Range {
                    cidr_ipv6: cidr.to_string(),
                    description: description.clone(),
                })
                .collect(),
        })
        .collect();
    let input = EgressInput {
        group_id: rendering.args.security_group_id.clone(),
        ip_permissions: permissions,
    };
    let mut text = serde_json::to_string_pretty(&input)?;
    text.push('\n');
    Ok(text)
}
