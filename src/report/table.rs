//! The readable report: a header about the host, one block per target, then the findings.

use std::fmt::Write;

use crate::report::{CheckReport, PortDto, TargetDto};

/// Colours, or none.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Emit ANSI colour codes.
    pub color: bool,
}

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn severity(self, severity: &str) -> String {
        let code = match severity {
            "fail" => "1;31",
            "warn" => "33",
            _ => "36",
        };
        self.paint(code, &format!("{severity:<4}"))
    }
}

/// Renders the report for a person.
pub fn render(report: &CheckReport, style: Style) -> String {
    let mut out = String::new();
    header(report, &mut out, style);
    for target in &report.targets {
        target_block(target, &mut out, style);
    }
    for skipped in &report.skipped {
        let _ = writeln!(out, "{}", style.paint("2", &format!("skipped: {skipped}")));
    }
    if let Some(spec) = &report.spec {
        out.push_str(&crate::report::expectation::render(spec));
    }
    findings(report, &mut out, style);
    out
}

fn header(report: &CheckReport, out: &mut String, style: Style) {
    let host = &report.host;
    let unknown = || "-".to_string();
    let _ = writeln!(
        out,
        "{} {} · region {} ({}) · IMDS {}",
        style.paint("1", "egress-probe"),
        report.tool_version,
        host.region.clone().unwrap_or_else(unknown),
        host.region_source,
        host.imds
    );
    if host.instance_id.is_some() || host.vpc_id.is_some() {
        let _ = writeln!(
            out,
            "instance {} ({}) in {} · {} {} · subnet {} · public IPv4 {}",
            host.instance_id.clone().unwrap_or_else(unknown),
            host.instance_type.clone().unwrap_or_else(unknown),
            host.availability_zone.clone().unwrap_or_else(unknown),
            host.vpc_id.clone().unwrap_or_else(unknown),
            host.vpc_cidrs.join(","),
            host.subnet_id.clone().unwrap_or_else(unknown),
            host.public_ipv4.clone().unwrap_or_else(|| "none".into()),
        );
    }
    for problem in &host.imds_problems {
        let _ = writeln!(out, "IMDS: {problem}");
    }
    let ranges = &report.ip_ranges;
    let age = ranges
        .age_seconds
        .map(|s| format!(", {} days old", s / 86_400))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "ip-ranges: {} · syncToken {} · created {}{age}",
        ranges.source,
        ranges.sync_token.clone().unwrap_or_else(unknown),
        ranges.create_date.clone().unwrap_or_else(unknown),
    );
    for line in ranges.problems.iter().chain(&ranges.lacks) {
        let _ = writeln!(out, "ip-ranges: {line}");
    }
    let _ = writeln!(out, "resolvers: {}", host.resolvers.join(", "));
    path_header(report, out, style);
}

/// Capture, trace and echo: what the path verdicts could rest on.
fn path_header(report: &CheckReport, out: &mut String, style: Style) {
    let capture = &report.capture;
    if capture.ran {
        let kernel = capture
            .dropped
            .kernel
            .map_or("-".to_string(), |k| k.to_string());
        let _ = writeln!(
            out,
            "capture: {} · {} frames, {} kept · {} flows · dropped {} + {kernel} (kernel){}",
            capture.interfaces.join(","),
            capture.frames_seen,
            capture.frames_kept,
            capture.flows,
            capture.dropped.channel,
            capture
                .pcap
                .as_ref()
                .map(|p| format!(" · pcap {p}"))
                .unwrap_or_default(),
        );
    } else {
        let why = capture.reason.clone().unwrap_or_default();
        let _ = writeln!(
            out,
            "capture: {}",
            style.paint("33", &format!("off: {why}"))
        );
        if let Some(hint) = &capture.hint {
            let _ = writeln!(out, "  {hint}");
        }
    }
    for line in &capture.not_seen {
        let _ = writeln!(out, "capture: not seen: {line}");
    }
    let trace = &report.trace;
    if trace.ran {
        let _ = writeln!(
            out,
            "trace: {} addresses to port {} in {:.0} ms",
            trace.addresses, trace.port, trace.ms
        );
    } else if capture.ran || trace.reason.as_deref() != capture.reason.as_deref() {
        let _ = writeln!(
            out,
            "trace: off: {}",
            trace.reason.clone().unwrap_or_default()
        );
    }
    let echo = &report.egress_echo;
    if echo.asked {
        let seen = match (&echo.address, echo.error) {
            (Some(address), _) => format!("saw {address}"),
            (None, Some(error)) => style.paint("31", error),
            (None, None) => "no answer".to_string(),
        };
        let _ = writeln!(
            out,
            "egress echo: {} {seen}{}",
            echo.url.clone().unwrap_or_default(),
            match echo.matches_public_ipv4 {
                Some(true) => " (the instance's public IPv4)",
                Some(false) => " (not the instance's public IPv4)",
                None => "",
            }
        );
    }
}

fn target_block(target: &TargetDto, out: &mut String, style: Style) {
    let region = target.region.clone().unwrap_or_else(|| "-".into());
    let cross = if target.cross_region == Some(true) {
        style.paint("33", " cross-region")
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "\n{} {}{} · {} ({}){cross}",
        style.paint("1", &target.name),
        target.host,
        if target.request_path == "/" {
            String::new()
        } else {
            target.request_path.clone()
        },
        region,
        target.region_source,
    );
    if !target.dns.cnames.is_empty() {
        let _ = writeln!(out, "  cname {}", target.dns.cnames.join(" → "));
    }
    if let Some(error) = target.dns.error {
        let _ = writeln!(
            out,
            "  dns   {} {}",
            style.paint("31", error),
            target.dns.detail.clone().unwrap_or_default()
        );
    }
    if let Some(path) = &target.path {
        let colour = match path.verdict {
            "blocked" => "31",
            "unknown" | "gateway-endpoint-or-internet-gateway" => "33",
            _ => "32",
        };
        let hops: Vec<String> = path
            .hops
            .iter()
            .map(|hop| format!("{} {}", hop.ttl, hop.address))
            .collect();
        let _ = writeln!(
            out,
            "  path  {} ({}){}",
            style.paint(colour, path.verdict),
            path.confidence,
            if hops.is_empty() {
                String::new()
            } else {
                format!(" · hops {}", hops.join(" → "))
            }
        );
        if let Some(reason) = path.evidence.first() {
            let _ = writeln!(out, "        {reason}");
        }
    }
    for address in &target.dns.addresses {
        let owner = match &address.aws {
            Some(aws) => format!("{} {}", aws.services.join("+"), aws.region),
            None if address.in_vpc => "in VPC".to_string(),
            None => "not AWS".to_string(),
        };
        let mut line = format!("  {:<40} {:<24}", address.ip, owner);
        for port in target.ports.iter().filter(|p| p.address == address.ip) {
            let _ = write!(line, " {}", port_cell(port, style));
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    if let Some(via) = &target.via_proxy {
        let result = match (via.status, via.error) {
            (Some(status), _) => format!("{status}"),
            (None, Some(error)) => style.paint("31", error),
            (None, None) => "-".to_string(),
        };
        let _ = writeln!(out, "  via proxy {}: {} {result}", via.proxy, via.url);
    }
}

fn port_cell(port: &PortDto, style: Style) -> String {
    if !port.tcp.ok {
        let why = port.tcp.error.unwrap_or("failed");
        return format!("{}:{}", port.port, style.paint("31", why));
    }
    let mut cell = format!("{}:{:.0}ms", port.port, port.tcp.ms);
    if let Some(tls) = &port.tls {
        match tls.error {
            Some(error) => {
                let _ = write!(cell, " {}", style.paint("31", &format!("tls-{error}")));
                return cell;
            }
            None => {
                let _ = write!(cell, " {}", tls.version.clone().unwrap_or_default());
            }
        }
    }
    if let Some(http) = &port.http {
        match (http.status, http.error) {
            (Some(status), _) => {
                let _ = write!(cell, " {status}");
                if let Some(code) = &http.s3_error_code {
                    let _ = write!(cell, " {code}");
                }
            }
            (None, Some(error)) => {
                let _ = write!(cell, " {}", style.paint("31", &format!("http-{error}")));
            }
            (None, None) => {}
        }
    }
    cell
}

fn findings(report: &CheckReport, out: &mut String, style: Style) {
    let _ = writeln!(out);
    if report.findings.is_empty() {
        let _ = writeln!(out, "No findings.");
    }
    for finding in &report.findings {
        let place = match (&finding.target, finding.port) {
            (Some(target), Some(port)) => format!(" {target}:{port}"),
            (Some(target), None) => format!(" {target}"),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "{} {}{place}: {}",
            style.severity(finding.severity),
            finding.kind,
            finding.message
        );
    }
    let summary = &report.summary;
    let _ = writeln!(
        out,
        "{} targets · {} fail · {} warn · {} info · exit {}",
        summary.targets, summary.fail, summary.warn, summary.info, summary.exit_code
    );
}
