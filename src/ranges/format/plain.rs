//! Plain output: `#` comment lines naming the data and the merge, then one CIDR per line.

use crate::ranges::format::Rendering;

/// Renders the CIDRs one per line after the summary comments.
pub fn render(rendering: &Rendering) -> String {
    let mut out = String::new();
    for line in rendering.summary() {
        out.push_str(&format!("# {line}\n"));
    }
    for cidr in rendering.cidrs() {
        out.push_str(&format!("{cidr}\n"));
    }
    out
}
