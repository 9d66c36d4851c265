//! JUnit XML for CI dashboards: a `<testsuite>` for the spec's expectations and one for the
//! targets, one `<testcase>` each, with `<failure>` and `<skipped>` as the exit code counts them.

use std::io;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use crate::report::CheckReport;
use crate::report::cases::{self, Case, Outcome, printable};

/// Renders the report as a JUnit XML document.
pub fn render(report: &CheckReport) -> String {
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    // Writing into a Vec cannot fail.
    let _ = write(report, &mut writer);
    let mut text = String::from_utf8(writer.into_inner()).unwrap_or_default();
    text.push('\n');
    text
}

fn write(report: &CheckReport, writer: &mut Writer<Vec<u8>>) -> io::Result<()> {
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;

    let suites = cases::suites(report);
    let tests: usize = suites.iter().map(|s| s.cases.len()).sum();
    let (failures, skipped) = suites
        .iter()
        .map(|s| s.counts())
        .fold((0, 0), |acc, c| (acc.0 + c.0, acc.1 + c.1));
    let seconds = format!("{:.3}", report.duration_ms / 1000.0);
    let host = report
        .host
        .instance_id
        .clone()
        .unwrap_or_else(|| "unknown".into());

    writer
        .create_element("testsuites")
        .with_attributes([
            ("name", "egress-probe"),
            ("tests", tests.to_string().as_str()),
            ("failures", failures.to_string().as_str()),
            ("errors", "0"),
            ("skipped", skipped.to_string().as_str()),
            ("time", seconds.as_str()),
            ("timestamp", report.generated_at.as_str()),
        ])
        .write_inner_content(|writer| {
            for suite in &suites {
                let (failures, skipped) = suite.counts();
                writer
                    .create_element("testsuite")
                    .with_attributes([
                        ("name", suite.name),
                        ("tests", suite.cases.len().to_string().as_str()),
                        ("failures", failures.to_string().as_str()),
                        ("errors", "0"),
                        ("skipped", skipped.to_string().as_str()),
                        ("time", seconds.as_str()),
                        ("timestamp", report.generated_at.as_str()),
                        ("hostname", host.as_str()),
                    ])
                    .write_inner_content(|writer| {
                        properties(report, writer)?;
                        for case in &suite.cases {
                            testcase(case, writer)?;
                        }
                        Ok(())
                    })?;
            }
            Ok(())
        })?;
    Ok(())
}

/// The run's context, as `<properties>`.
fn properties(report: &CheckReport, writer: &mut Writer<Vec<u8>>) -> io::Result<()> {
    let host = &report.host;
    let pairs = [
        ("tool_version", Some(report.tool_version.to_string())),
        ("region", host.region.clone()),
        ("instance_id", host.instance_id.clone()),
        ("ami_id", host.ami_id.clone()),
        ("subnet_id", host.subnet_id.clone()),
        ("ip_ranges_sync_token", report.ip_ranges.sync_token.clone()),
        ("exit_code", Some(report.summary.exit_code.to_string())),
    ];
    writer
        .create_element("properties")
        .write_inner_content(|writer| {
            for (name, value) in pairs {
                writer
                    .create_element("property")
                    .with_attributes([("name", name), ("value", value.as_deref().unwrap_or(""))])
                    .write_empty()?;
            }
            Ok(())
        })?;
    Ok(())
}

fn testcase(case: &Case, writer: &mut Writer<Vec<u8>>) -> io::Result<()> {
    let output = printable(&case.output.join("\n"));
    writer
        .create_element("testcase")
        .with_attributes([
            ("classname", case.classname.as_str()),
            ("name", printable(&case.name).as_str()),
            ("time", "0"),
        ])
        .write_inner_content(|writer| {
            match &case.outcome {
                Outcome::Pass => {}
                Outcome::Fail { message, kind } => {
                    writer
                        .create_element("failure")
                        .with_attributes([
                            ("message", printable(message).as_str()),
                            ("type", kind.as_str()),
                        ])
                        .write_text_content(BytesText::new(&output))?;
                }
                Outcome::Skip(reason) => {
                    writer
                        .create_element("skipped")
                        .with_attribute(("message", printable(reason).as_str()))
                        .write_empty()?;
                }
            }
            if !output.is_empty() {
                writer
                    .create_element("system-out")
                    .write_text_content(BytesText::new(&output))?;
            }
            Ok(())
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use quick_xml::events::Event;
    use quick_xml::{Reader, XmlVersion};

    use super::*;
    use crate::report::fixture;
    use crate::spec::Spec;

    /// Parses the whole document (failing on malformed XML) and returns every element's
    /// name and attributes, in document order.
    fn elements(xml: &str) -> Vec<(String, Vec<(String, String)>)> {
        let mut reader = Reader::from_str(xml);
        reader.config_mut().check_end_names = true;
        let mut found = Vec::new();
        loop {
            match reader.read_event().expect("well-formed XML") {
                Event::Start(e) | Event::Empty(e) => {
                    let attributes = e
                        .attributes()
                        .map(|a| {
                            let a = a.expect("well-formed attribute");
                            (
                                a.key.into_inner().to_string(),
                                a.normalized_value(XmlVersion::Implicit1_0)
                                    .unwrap()
                                    .into_owned(),
                            )
                        })
                        .collect();
                    found.push((e.name().into_inner().to_string(), attributes));
                }
                Event::Eof => break,
                _ => {}
            }
        }
        found
    }

    fn attr<'a>(element: &'a (String, Vec<(String, String)>), name: &str) -> &'a str {
        element
            .1
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .unwrap_or_else(|| panic!("no {name} on {}", element.0))
    }

    #[test]
    fn junit_counts_match_the_expectations_and_targets() {
        let spec = Spec::parse(
            "[[expect]]\ntargets = [\"s3-regional\", \"al2023-repo\"]\nregions = \"instance\"\n\
             [[expect]]\ntargets = \"s3-regional\"\npath = \"gateway-endpoint\"\n",
            "bake.toml",
        )
        .unwrap();
        let mut report = fixture::mixed();
        crate::spec::apply(&spec, false, &mut report);
        let xml = render(&report);
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
        let elements = elements(&xml);

        let root = &elements[0];
        assert_eq!(root.0, "testsuites");
        // 3 expectations + host + 5 targets; failures: regions al2023-repo, the unreachable
        // bucket and the plaintext mirror; skipped: the path without a verdict.
        assert_eq!(
            (
                attr(root, "tests"),
                attr(root, "failures"),
                attr(root, "skipped")
            ),
            ("9", "3", "1")
        );
        let suites: Vec<_> = elements.iter().filter(|e| e.0 == "testsuite").collect();
        assert_eq!(attr(suites[0], "name"), "egress-probe.spec");
        assert_eq!(
            (
                attr(suites[0], "tests"),
                attr(suites[0], "failures"),
                attr(suites[0], "skipped")
            ),
            ("3", "1", "1")
        );
        assert_eq!(attr(suites[1], "tests"), "6");
        assert_eq!(attr(suites[1], "hostname"), "i-0123456789abcdef0");

        let testcases = elements.iter().filter(|e| e.0 == "testcase").count();
        let failures: Vec<_> = elements.iter().filter(|e| e.0 == "failure").collect();
        let skipped: Vec<_> = elements.iter().filter(|e| e.0 == "skipped").collect();
        assert_eq!((testcases, failures.len(), skipped.len()), (9, 3, 1));
        assert_eq!(attr(failures[0], "type"), "regions");
        assert_eq!(
            attr(failures[0], "message"),
            "reaches us-east-1 (allowed: us-west-2)"
        );
        assert_eq!(attr(skipped[0], "message"), "no path verdict in this run");
        assert_eq!(attr(failures[2], "type"), "plaintext");
    }

    #[test]
    fn strict_turns_skips_into_failures_and_markup_is_escaped() {
        let spec = Spec::parse(
            "[[expect]]\ntargets = \"<b>&\"\nplaintext = false\n",
            "s.toml",
        )
        .unwrap();
        let mut report = fixture::mixed();
        report.findings[0].message = "a \"quoted\" <tag> & \u{1b}[1m".into();
        crate::spec::apply(&spec, true, &mut report);
        let xml = render(&report);
        let elements = elements(&xml);
        let failures: Vec<_> = elements.iter().filter(|e| e.0 == "failure").collect();
        assert_eq!(failures.len(), 3);
        assert_eq!(
            attr(failures[0], "message"),
            "skipped, and --strict fails skips: no target matches <b>& in this run"
        );
        assert!(
            xml.contains("a &quot;quoted&quot; &lt;tag&gt; &amp; [1m"),
            "{xml}"
        );
        assert!(elements.iter().all(|e| e.0 != "skipped"));
    }
}
