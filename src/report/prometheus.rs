//! Prometheus text format for node_exporter's textfile collector. The metric names and labels
//! are a contract (listed in the README); every metric is a gauge describing the last run.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::report::CheckReport;
use crate::verdict::KINDS;

/// The severities, as labels.
const SEVERITIES: &[&str] = &["info", "warn", "fail"];

/// Renders the report as metrics.
pub fn render(report: &CheckReport) -> String {
    let mut out = String::new();

    let mut findings: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for finding in &report.findings {
        *findings
            .entry((finding.kind, finding.severity))
            .or_default() += 1;
    }
    header(
        &mut out,
        "egress_probe_findings",
        "Findings of the last run by kind and severity.",
    );
    for kind in KINDS {
        for severity in SEVERITIES {
            let count = findings.get(&(*kind, *severity)).copied().unwrap_or(0);
            sample(
                &mut out,
                "egress_probe_findings",
                &[("kind", kind), ("severity", severity)],
                count as f64,
            );
        }
    }

    header(
        &mut out,
        "egress_probe_target_up",
        "1 when some address of the target answered on the port.",
    );
    for target in &report.targets {
        let mut ports: BTreeMap<u16, bool> = BTreeMap::new();
        for port in &target.ports {
            *ports.entry(port.port).or_default() |= port.tcp.ok;
        }
        if ports.is_empty() {
            // The name did not resolve: nothing answered on HTTPS.
            ports.insert(443, false);
        }
        for (port, up) in ports {
            sample(
                &mut out,
                "egress_probe_target_up",
                &[("target", &target.name), ("port", &port.to_string())],
                f64::from(u8::from(up)),
            );
        }
    }

    header(
        &mut out,
        "egress_probe_target_path",
        "1 for the path the target's traffic takes (absent without a path verdict).",
    );
    for target in &report.targets {
        if let Some(route) = &target.path {
            sample(
                &mut out,
                "egress_probe_target_path",
                &[("target", &target.name), ("verdict", route.verdict)],
                1.0,
            );
        }
    }

    header(
        &mut out,
        "egress_probe_target_cross_region",
        "1 when the target's addresses are in another region than the instance.",
    );
    for target in &report.targets {
        if let Some(cross) = target.cross_region {
            sample(
                &mut out,
                "egress_probe_target_cross_region",
                &[("target", &target.name)],
                f64::from(u8::from(cross)),
            );
        }
    }

    if let Some(spec) = &report.spec {
        header(
            &mut out,
            "egress_probe_expectations",
            "Expectations of the spec by status.",
        );
        for (status, count) in [
            ("pass", spec.pass),
            ("fail", spec.fail),
            ("skip", spec.skip),
        ] {
            sample(
                &mut out,
                "egress_probe_expectations",
                &[("status", status)],
                count as f64,
            );
        }
    }

    header(
        &mut out,
        "egress_probe_exit_code",
        "The exit code of the last run (0 clean, 1 failing).",
    );
    sample(
        &mut out,
        "egress_probe_exit_code",
        &[],
        f64::from(report.summary.exit_code),
    );

    header(
        &mut out,
        "egress_probe_run_duration_seconds",
        "How long the last run took.",
    );
    sample(
        &mut out,
        "egress_probe_run_duration_seconds",
        &[],
        report.duration_ms / 1000.0,
    );

    header(
        &mut out,
        "egress_probe_last_run_timestamp_seconds",
        "When the last run started, in seconds since the Unix epoch.",
    );
    sample(
        &mut out,
        "egress_probe_last_run_timestamp_seconds",
        &[],
        started(report),
    );

    if let Some(age) = report.ip_ranges.age_seconds {
        header(
            &mut out,
            "egress_probe_ip_ranges_age_seconds",
            "Age of the ip-ranges.json data the run used (its createDate).",
        );
        sample(
            &mut out,
            "egress_probe_ip_ranges_age_seconds",
            &[],
            age as f64,
        );
    }

    header(
        &mut out,
        "egress_probe_info",
        "Always 1; the labels describe the tool and the host.",
    );
    let region = report.host.region.clone().unwrap_or_default();
    sample(
        &mut out,
        "egress_probe_info",
        &[
            ("version", report.tool_version),
            ("region", &region),
            ("imds", report.host.imds),
        ],
        1.0,
    );
    out
}

fn header(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        let labels: Vec<String> = labels
            .iter()
            .map(|(key, value)| format!("{key}=\"{}\"", escape(value)))
            .collect();
        let _ = write!(out, "{{{}}}", labels.join(","));
    }
    let _ = writeln!(out, " {value}");
}

/// A label value: backslash, double quote and line feed escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The run's start (its `generated_at`) in seconds since the epoch; now if unreadable.
fn started(report: &CheckReport) -> f64 {
    let rfc3339 = time::format_description::well_known::Rfc3339;
    let at = time::OffsetDateTime::parse(&report.generated_at, &rfc3339)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    at.unix_timestamp() as f64 + f64::from(at.nanosecond()) / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    /// Parses with a Prometheus text-format parser and returns (name, labels, value) samples.
    fn parse(text: &str) -> Vec<(String, BTreeMap<String, String>, f64)> {
        let lines = text.lines().map(|l| Ok(l.to_string()));
        let scrape = prometheus_parse::Scrape::parse(lines).expect("parseable metrics");
        scrape
            .samples
            .into_iter()
            .map(|s| {
                let value = match s.value {
                    prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) => v,
                    other => panic!("{} is not a gauge: {other:?}", s.metric),
                };
                let labels = s
                    .labels
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                (s.metric, labels, value)
            })
            .collect()
    }

    fn value(
        samples: &[(String, BTreeMap<String, String>, f64)],
        name: &str,
        labels: &[(&str, &str)],
    ) -> Option<f64> {
        samples
            .iter()
            .find(|(metric, found, _)| {
                metric == name
                    && labels
                        .iter()
                        .all(|(k, v)| found.get(*k).map(String::as_str) == Some(*v))
                    && found.len() == labels.len()
            })
            .map(|(_, _, v)| *v)
    }

    #[test]
    fn metrics_parse_with_the_contract_names_and_values() {
        let mut report = fixture::mixed();
        fixture::set_path(&mut report, "s3-regional", "gateway-endpoint");
        let text = render(&report);
        let samples = parse(&text);

        assert_eq!(
            value(
                &samples,
                "egress_probe_findings",
                &[("kind", "unreachable"), ("severity", "fail")]
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                &samples,
                "egress_probe_findings",
                &[("kind", "cross-region"), ("severity", "warn")]
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                &samples,
                "egress_probe_findings",
                &[("kind", "tls-failure"), ("severity", "fail")]
            ),
            Some(0.0)
        );
        assert_eq!(
            samples
                .iter()
                .filter(|s| s.0 == "egress_probe_findings")
                .count(),
            KINDS.len() * 3
        );
        assert_eq!(
            value(
                &samples,
                "egress_probe_target_up",
                &[("target", "s3-regional"), ("port", "443")]
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                &samples,
                "egress_probe_target_up",
                &[("target", "bucket:artifacts"), ("port", "443")]
            ),
            Some(0.0)
        );
        assert_eq!(
            value(
                &samples,
                "egress_probe_target_up",
                &[("target", "sts-regional"), ("port", "443")]
            ),
            Some(0.0)
        );
        assert_eq!(
            value(
                &samples,
                "egress_probe_target_path",
                &[("target", "s3-regional"), ("verdict", "gateway-endpoint")]
            ),
            Some(1.0)
        );
        assert_eq!(
            samples
                .iter()
                .filter(|s| s.0 == "egress_probe_target_path")
                .count(),
            1
        );
        assert_eq!(
            value(
                &samples,
                "egress_probe_target_cross_region",
                &[("target", "al2023-repo")]
            ),
            Some(1.0)
        );
        assert_eq!(
            value(&samples, "egress_probe_run_duration_seconds", &[]),
            Some(2.5)
        );
        assert_eq!(
            value(&samples, "egress_probe_last_run_timestamp_seconds", &[]),
            Some(1_796_292_000.0)
        );
        assert_eq!(
            value(&samples, "egress_probe_ip_ranges_age_seconds", &[]),
            Some(86_400.0)
        );
        assert_eq!(value(&samples, "egress_probe_exit_code", &[]), Some(1.0));
        assert_eq!(
            value(
                &samples,
                "egress_probe_info",
                &[
                    ("version", "0.1.0"),
                    ("region", "us-west-2"),
                    ("imds", "ok")
                ]
            ),
            Some(1.0)
        );
    }

    #[test]
    fn every_line_is_a_comment_or_a_well_formed_sample() {
        let mut report = fixture::mixed();
        report.targets[0].name = "odd \"name\" \\ with\nnewline".into();
        let text = render(&report);
        assert!(text.ends_with('\n'));
        for line in text.lines() {
            if line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
            let name_end = series.find('{').unwrap_or(series.len());
            assert!(
                series[..name_end]
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{line}"
            );
        }
        assert!(
            text.contains("target=\"odd \\\"name\\\" \\\\ with\\nnewline\""),
            "{text}"
        );
        // The parser reads the escaped value as one label: every series is still there.
        let samples = parse(&text);
        let up: Vec<_> = samples
            .iter()
            .filter(|s| s.0 == "egress_probe_target_up")
            .collect();
        assert_eq!(up.len(), 7);
        assert!(up[0].1["target"].starts_with("odd "), "{:?}", up[0].1);
    }
}
