//! `egress-probe repos` and `egress-probe policy` run as the real binary over the fixtures:
//! exit codes, the JSON contract (validated against the committed schema) and the human views.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/yum")
        .join(name)
}

fn egress_probe(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_egress-probe"))
        .args(args)
        .env_remove("EGRESS_PROBE_ROOT")
        .env_remove("EGRESS_PROBE_REGION")
        .env_remove("EGRESS_PROBE_ACCOUNT")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn repos_json(name: &str, extra: &[&str]) -> (i32, Value) {
    let root = fixture(name);
    let mut args = vec![
        "repos",
        "--root",
        root.to_str().unwrap(),
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let output = egress_probe(&args);
    let json = serde_json::from_str(&stdout(&output)).unwrap();
    (output.status.code().unwrap(), json)
}

fn schema() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/repos-v1.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

#[test]
fn every_fixture_report_matches_the_schema() {
    let validator = schema();
    let fixtures = [
        "al1",
        "al2",
        "al2023",
        "al2023-container",
        "al2-default-region",
        "rocky9",
        "rhel8-rhui",
        "bad-input",
    ];
    for name in fixtures {
        let (_, report) = repos_json(name, &["--all-repos", "--region", "us-east-1"]);
        let errors: Vec<String> = validator
            .iter_errors(&report)
            .map(|err| format!("{} at {}", err, err.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:#?}");
        let mut tampered = report.clone();
        tampered["repos"][0]["unexpected"] = Value::Bool(true);
        assert!(
            !validator.is_valid(&tampered),
            "{name}: the schema let an unknown field by"
        );
    }
}

#[test]
fn repos_json_for_al2() {
    let (code, report) = repos_json("al2", &[]);
    assert_eq!(code, 0);
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["package_manager"], "yum");
    assert_eq!(report["hidden_repos"], 1);
    assert_eq!(report["region"]["value"], "us-west-2");
    assert_eq!(report["region"]["source"]["kind"], "file");
    assert_eq!(
        report["region"]["source"]["path"],
        "/etc/yum/vars/awsregion"
    );
    assert_eq!(report["releasever"]["source"]["kind"], "package");

    let core = &report["repos"][0];
    assert_eq!(core["id"], "amzn2-core");
    assert_eq!(core["enabled"], true);
    assert_eq!(core["scheme"], "http");
    assert_eq!(
        core["urls"][0]["expanded"],
        "http://amazonlinux.us-west-2.amazonaws.com/2/core/latest/aarch64/mirror.list"
    );
    assert_eq!(core["mirrors"], serde_json::json!([]));
    assert_eq!(core["repomd"], Value::Null);
    assert_eq!(
        core["buckets"][0]["name"],
        "amazonlinux.us-west-2.amazonaws.com"
    );
    assert_eq!(core["buckets"][0]["generation"], "al2");
    assert_eq!(core["buckets"][0]["dotted"], true);
    assert_eq!(core["problems"][0]["code"], "plaintext");
}

#[test]
fn repos_exit_codes() {
    let (code, report) = repos_json("bad-input", &[]);
    assert_eq!(code, 1, "errors in repositories fail the bake check");
    assert_eq!(report["repos"].as_array().unwrap().len(), 9);

    let (code, report) = repos_json("al2-default-region", &["--region", "eu-central-1"]);
    assert_eq!(code, 1);
    let fix = &report["repos"][0]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"] == "region-default")
        .unwrap()["fix"];
    assert_eq!(fix, "write `eu-central-1` to /etc/yum/vars/awsregion");

    let missing = egress_probe(&["repos", "--root", "/nonexistent/egress-probe-root"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("not a directory"));

    let empty = tempfile::tempdir().unwrap();
    let nothing = egress_probe(&["repos", "--root", empty.path().to_str().unwrap()]);
    assert_eq!(nothing.status.code(), Some(2));
    assert!(stderr(&nothing).contains("holds no yum or dnf configuration"));

    let root = fixture("al2");
    let bad_region = egress_probe(&["repos", "--root", root.to_str().unwrap(), "--region", "x"]);
    assert_eq!(bad_region.status.code(), Some(2));
    assert!(stderr(&bad_region).contains("is not a region name"));
}

#[test]
fn repos_table_for_people() {
    let root = fixture("al1");
    let output = egress_probe(&["repos", "--root", root.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert!(text.starts_with("yum configuration under "));
    assert!(text.contains("  releasever  latest  (releasever= in /etc/yum.conf)\n"));
    assert!(text.contains("Repositories (1 disabled not shown: --all-repos)"));
    assert!(text.contains("\n  amzn-main  enabled  http  /etc/yum.repos.d/amzn-main.repo:1\n"));
    assert!(text.contains(
        "    bucket      arn:aws:s3:::packages.eu-west-1.amazonaws.com (eu-west-1, Amazon Linux \
         AMI, via the mirror list)\n"
    ));
}

fn policy(name: &str, extra: &[&str]) -> Output {
    let root = fixture(name);
    let mut args = vec!["policy", "--root", root.to_str().unwrap()];
    args.extend_from_slice(extra);
    egress_probe(&args)
}

#[test]
fn policy_json_is_the_document() {
    let output = policy("al2023", &["--account", "123456789012"]);
    assert_eq!(output.status.code(), Some(0));
    let document: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(document["Version"], "2012-10-17");
    let statements = document["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 2);
    assert_eq!(
        statements[0]["Condition"]["StringEquals"]["aws:ResourceAccount"],
        "123456789012"
    );
    assert_eq!(
        statements[1]["Resource"],
        serde_json::json!(["arn:aws:s3:::al2023-repos-ap-northeast-1-de612dc2/*"])
    );
}

#[test]
fn policy_human_terraform_and_cloudformation() {
    let table = stdout(&policy(
        "al1",
        &["--account", "123456789012", "--format", "table"],
    ));
    let comments: Vec<&str> = table.lines().take_while(|l| l.starts_with('#')).collect();
    assert_eq!(
        comments[0],
        "# S3 endpoint policy for account 123456789012 in eu-west-1 (partition aws)"
    );
    assert!(comments[1].starts_with("# OwnAccountBuckets: everything on buckets owned by"));
    assert!(comments[2].starts_with("# AmazonLinuxRepositories: read-only on the Amazon Linux"));
    let json_part: String = table
        .lines()
        .skip(comments.len())
        .collect::<Vec<_>>()
        .join("\n");
    let document: Value = serde_json::from_str(&json_part).unwrap();
    assert_eq!(
        document["Statement"][1]["Resource"][1],
        "arn:aws:s3:::packages.eu-west-1.amazonaws.com/*"
    );

    let terraform = stdout(&policy(
        "al1",
        &["--account", "123456789012", "--format", "terraform"],
    ));
    assert!(terraform.contains("resource \"aws_vpc_endpoint_policy\" \"s3\" {"));
    let start = terraform.find("<<-EOT\n").unwrap() + "<<-EOT\n".len();
    let end = terraform.find("\n  EOT\n").unwrap();
    let embedded: Value = serde_json::from_str(&terraform[start..end]).unwrap();
    assert_eq!(embedded, document);

    let args = [
        "--account",
        "123456789012",
        "--region",
        "cn-north-1",
        "--format",
        "cloudformation",
    ];
    let template = stdout(&policy("al2", &args));
    assert!(template.contains("      ServiceName: cn.com.amazonaws.cn-north-1.s3\n"));
    assert!(template.contains("\"arn:aws-cn:s3:::amazonlinux-2-repos-cn-north-1/*\""));
    let start = template.find("      PolicyDocument:\n").unwrap() + "      PolicyDocument:\n".len();
    let embedded: Value = serde_json::from_str(&template[start..]).unwrap();
    assert_eq!(embedded["Statement"][0]["Sid"], "OwnAccountBuckets");
}

#[test]
fn policy_needs_an_account_and_a_region() {
    // Off EC2 (nothing answers the metadata endpoint) the account must be given.
    let missing = policy("al2", &["--imds-endpoint", "http://127.0.0.1:9"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("--account is needed"),
        "{}",
        stderr(&missing)
    );
    assert!(
        stderr(&missing).contains("IMDS not-ec2"),
        "{}",
        stderr(&missing)
    );

    let malformed = policy("al2", &["--account", "1234"]);
    assert_eq!(malformed.status.code(), Some(2));

    let no_region = policy("al2-default-region", &["--account", "123456789012"]);
    assert_eq!(no_region.status.code(), Some(2));
    assert!(stderr(&no_region).contains("pass --region"));
}
