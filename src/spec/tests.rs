use super::*;
use crate::report::fixture::{self, Sample};

const SPEC: &str = r#"
buckets = ["artifacts"]

[[target]]
name = "mirror"
host = "mirror.internal.example"
required = true

[[expect]]
name = "stay in region"
targets = ["s3-*", "al2023-repo"]
regions = ["instance"]

[[expect]]
plaintext = false

[[expect]]
targets = ["s3-regional", "al2023-repo", "origin:yum"]
path = "gateway-endpoint"

[[expect]]
targets = ["s3-regional", "bucket:artifacts", "sts-regional", "ghost"]
reachable = true
"#;

fn outcome<'a>(spec: &'a SpecDto, id: &str) -> (&'static str, &'a str) {
    let found = spec
        .expectations
        .iter()
        .find(|e| e.id == id)
        .unwrap_or_else(|| panic!("no expectation {id} in {:#?}", spec.expectations));
    (found.status.as_str(), found.reason.as_str())
}

#[test]
fn spec_parses_targets_buckets_and_rules() {
    let spec = Spec::parse(SPEC, "bake.toml").unwrap();
    assert_eq!(spec.buckets, ["artifacts"]);
    assert_eq!(spec.rules.len(), 4);
    assert_eq!(spec.rules[0].label.as_deref(), Some("stay in region"));
    assert_eq!(
        spec.rules[0].selectors,
        [
            Selector::Glob("s3-*".into()),
            Selector::Name("al2023-repo".into())
        ]
    );
    assert_eq!(spec.rules[1].selectors, [Selector::All]);
    assert_eq!(
        spec.rules[3].check,
        Check::Reachable {
            port: 443,
            want: true
        }
    );

    // The spec's targets go through the catalog like any catalog file.
    let (name, text) = spec.catalog_source().unwrap();
    assert_eq!(name, "bake.toml");
    let context = crate::catalog::Context {
        region: Some("us-west-2".into()),
        domain: "amazonaws.com".into(),
    };
    let additions = crate::catalog::Additions {
        buckets: spec.buckets.clone(),
        ..crate::catalog::Additions::default()
    };
    let expanded = crate::catalog::expand(&[(name, text)], &additions, &context).unwrap();
    let hosts: Vec<(&str, &str, bool)> = expanded
        .targets
        .iter()
        .map(|t| (t.name.as_str(), t.host.as_str(), t.required))
        .collect();
    assert_eq!(
        hosts,
        [
            ("mirror", "mirror.internal.example", true),
            (
                "bucket:artifacts",
                "artifacts.s3.us-west-2.amazonaws.com",
                true
            )
        ]
    );
}

#[test]
fn each_expectation_passes_fails_or_skips_with_its_reason() {
    let spec = Spec::parse(SPEC, "bake.toml").unwrap();
    let mut report = fixture::mixed();
    report
        .skipped
        .push("ghost: no region known (use --region)".into());
    fixture::set_path(&mut report, "s3-regional", "gateway-endpoint");
    fixture::set_path(&mut report, "al2023-repo", "nat");
    let block = spec.evaluate(&report, false);

    assert_eq!(
        outcome(&block, "regions s3-regional"),
        ("pass", "reaches us-west-2")
    );
    assert_eq!(
        outcome(&block, "regions al2023-repo"),
        ("fail", "reaches us-east-1 (allowed: us-west-2)")
    );
    assert_eq!(outcome(&block, "plaintext mirror").0, "fail");
    assert_eq!(
        outcome(&block, "plaintext s3-regional"),
        (
            "pass",
            "port 80 answers, but nothing is configured to use http://"
        )
    );
    assert_eq!(
        outcome(&block, "plaintext sts-regional"),
        ("skip", "the name did not resolve (nxdomain)")
    );
    assert_eq!(outcome(&block, "path s3-regional").0, "pass");
    assert_eq!(
        outcome(&block, "path al2023-repo"),
        (
            "fail",
            "leaves through nat, expected gateway-endpoint (route table)"
        )
    );
    assert_eq!(
        outcome(&block, "path origin:yum"),
        ("skip", "no target matches origin:yum in this run")
    );
    assert_eq!(
        outcome(&block, "reachable s3-regional:443"),
        ("pass", "203.0.113.10 answered on 443 in 1 ms")
    );
    assert_eq!(
        outcome(&block, "reachable bucket:artifacts:443"),
        ("fail", "no address answered on 443 (timeout)")
    );
    assert_eq!(
        outcome(&block, "reachable sts-regional:443"),
        ("fail", "the name did not resolve (nxdomain)")
    );
    assert_eq!(
        outcome(&block, "reachable ghost:443"),
        ("skip", "not probed: ghost: no region known (use --region)")
    );

    // s3-* matches s3-regional only; plaintext covers all five targets.
    assert_eq!(block.expectations.len(), 2 + 5 + 3 + 4);
    assert_eq!((block.pass, block.fail, block.skip), (6, 5, 3));
    assert!(block.failing);
}

#[test]
fn skips_fail_the_run_only_under_strict() {
    let text = "[[expect]]\ntargets = [\"s3-regional\"]\npath = \"gateway-endpoint\"\n";
    let spec = Spec::parse(text, "s.toml").unwrap();
    let mut report = fixture::mixed();
    let base_exit = report.summary.exit_code;
    assert_eq!(base_exit, 1, "the fixture has a failing finding");

    let mut clean = fixture::report(
        Some("us-west-2"),
        vec![
            Sample::new("s3-regional", "s3.us-west-2.amazonaws.com")
                .address("203.0.113.10", Some("us-west-2"))
                .port(443, "203.0.113.10", Some(307)),
        ],
    );
    assert_eq!(clean.summary.exit_code, 0);
    apply(&spec, false, &mut clean);
    let block = clean.spec.as_ref().unwrap();
    assert_eq!(
        outcome(block, "path s3-regional"),
        ("skip", "no path verdict in this run")
    );
    assert!(!block.failing);
    assert_eq!(clean.summary.exit_code, 0);

    apply(&spec, true, &mut clean);
    assert!(clean.spec.as_ref().unwrap().failing);
    assert_eq!(clean.summary.exit_code, 1);

    // A failing finding keeps failing the run whatever the spec says.
    apply(&spec, false, &mut report);
    assert_eq!(report.summary.exit_code, 1);
}

#[test]
fn ambiguous_and_unknown_paths_skip() {
    let text = "[[expect]]\npath = \"gateway-endpoint\"\n";
    let spec = Spec::parse(text, "s.toml").unwrap();
    let mut report = fixture::mixed();
    fixture::set_path(
        &mut report,
        "s3-regional",
        "gateway-endpoint-or-internet-gateway",
    );
    fixture::set_path(&mut report, "al2023-repo", "unknown");
    fixture::set_path(&mut report, "mirror", "interface-endpoint");
    let block = spec.evaluate(&report, false);
    assert_eq!(outcome(&block, "path s3-regional").0, "skip");
    assert!(
        outcome(&block, "path s3-regional")
            .1
            .contains("cannot tell which")
    );
    assert_eq!(outcome(&block, "path al2023-repo").0, "skip");
    assert_eq!(outcome(&block, "path mirror").0, "fail");
}

#[test]
fn unreachability_can_be_expected() {
    let text = "[[expect]]\n\
                targets = [\"bucket:artifacts\", \"sts-regional\", \"s3-regional\"]\n\
                reachable = false\nport = 443\n";
    let block = Spec::parse(text, "s.toml")
        .unwrap()
        .evaluate(&fixture::mixed(), false);
    assert_eq!(outcome(&block, "reachable bucket:artifacts:443").0, "pass");
    assert_eq!(
        outcome(&block, "reachable sts-regional:443"),
        ("pass", "not reachable: the name did not resolve (nxdomain)")
    );
    assert_eq!(
        outcome(&block, "reachable s3-regional:443"),
        ("fail", "203.0.113.10 answered on 443; expected no answer")
    );
}

#[test]
fn bad_specs_are_usage_errors_naming_the_file_and_expectation() {
    let cases = [
        (
            "[[expect]]\nregions = [\"mars-1\"]\n",
            "expectation 1: regions",
        ),
        (
            "[[expect]]\nplaintext = false\n[[expect]]\npath = \"tunnel\"\n",
            "expectation 2: path: \"tunnel\"",
        ),
        (
            "[[expect]]\nplaintext = false\nreachable = true\n",
            "exactly one",
        ),
        ("[[expect]]\nplaintext = true\n", "expects nothing"),
        (
            "[[expect]]\nplaintext = false\nport = 80\n",
            "port goes with reachable",
        ),
        (
            "[[expect]]\ntargets = [\"origin:ami\"]\nplaintext = false\n",
            "origin:ami",
        ),
        ("[[expect]]\nplaintxt = false\n", "unknown field"),
        ("buckets = [\"b\"]\n", "expects nothing"),
        ("[[expect]\n", "s.toml"),
    ];
    for (text, wanted) in cases {
        let err = Spec::parse(text, "s.toml").unwrap_err();
        assert_eq!(
            crate::exit::Status::of_error(&err),
            crate::exit::Status::Usage
        );
        let line = crate::exit::one_line(&err);
        assert!(
            line.starts_with("s.toml") && line.contains(wanted),
            "{text:?}: {line}"
        );
    }
    let err = Spec::load(Path::new("/nonexistent/spec.toml")).unwrap_err();
    assert!(err.to_string().starts_with("--spec /nonexistent/spec.toml"));
}

#[test]
fn wildcards_match_runs_of_characters() {
    assert!(wildcard("s3-*", "s3-regional"));
    assert!(wildcard("*-repo", "al2023-repo"));
    assert!(wildcard("al*-re*o", "al2023-repo"));
    assert!(wildcard("*", ""));
    assert!(!wildcard("s3-*", "sts-regional"));
    assert!(!wildcard("a*a", "a"));
}

#[test]
fn the_packer_example_spec_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/packer/bake-spec.toml");
    let spec = Spec::load(&path).unwrap();
    assert!(
        spec.rules
            .iter()
            .any(|r| matches!(&r.check, Check::Path(v) if v == &["gateway-endpoint"]))
    );
}

#[test]
fn a_report_with_a_spec_block_matches_the_schema() {
    let spec = Spec::parse(SPEC, "bake.toml").unwrap();
    let mut report = fixture::mixed();
    apply(&spec, true, &mut report);
    let schema: serde_json::Value = serde_json::from_str(crate::report::SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let value: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(value["spec"]["strict"], true);
    assert_eq!(value["spec"]["expectations"][0]["kind"], "regions");
    assert_eq!(value["spec"]["expectations"][0]["label"], "stay in region");

    // Without a spec the block is null, never omitted.
    let value: serde_json::Value = serde_json::from_str(&fixture::mixed().to_json()).unwrap();
    assert!(value.as_object().unwrap()["spec"].is_null());
}
