//! `check` with the package manager's repositories, in the simulated VPC: the mirror lists and
//! repomd.xml are served by the S3-like servers, as Amazon's repository buckets do.

mod common;

use std::path::{Path, PathBuf};

use common::report::{findings, validated};
use common::vpc::{Options, World};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/yum")
        .join(name)
}

/// A copy of a fixture root with the region variable set to the world's region.
fn root_in_us_west_2(world: &World, name: &str) -> PathBuf {
    let root = world.state_dir().join(format!("root-{name}"));
    copy_tree(&fixture(name), &root);
    for vars in ["etc/yum/vars", "etc/dnf/vars"] {
        let dir = root.join(vars);
        if dir.join("awsregion").exists() {
            std::fs::write(dir.join("awsregion"), "us-west-2").unwrap();
        }
    }
    root
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn check(world: &World, root: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["--root", root.to_str().unwrap()];
    args.extend_from_slice(extra);
    validated(world.run_check(&args))
}

fn repo<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["repos"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no repo {id} in {:#}", report["repos"]))
}

#[test]
fn amazon_linux_2_mirror_list_over_http_is_plaintext() {
    let opts = Options::new().bucket("amazonlinux.us-west-2.amazonaws.com", "repo");
    let Some(world) = World::up("yal2", &opts) else {
        return;
    };
    let root = root_in_us_west_2(&world, "al2");
    let (code, report) = check(&world, &root, &[]);
    assert_eq!(code, 1, "plaintext fails the run: {:#}", report["findings"]);

    let core = repo(&report, "amzn2-core");
    assert_eq!(core["scheme"], "http");
    assert_eq!(
        core["mirrors"][0]["host"],
        "amazonlinux.us-west-2.amazonaws.com"
    );
    assert_eq!(core["mirrors"][0]["region"], "us-west-2");
    assert_eq!(core["repomd"]["status"], 200);
    let repomd_url = core["repomd"]["url"].as_str().unwrap();
    assert!(
        repomd_url
            .ends_with("repodata/repomd.xml?instance_id=i-0123456789abcdef0&region=us-west-2"),
        "{repomd_url}"
    );
    let buckets: Vec<&str> = core["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert!(
        buckets.iter().any(|b| b.starts_with("amazonlinux")),
        "{buckets:?}"
    );

    let plaintext = findings(&report, "plaintext");
    assert_eq!(plaintext.len(), 1, "{plaintext:#?}");
    assert_eq!(plaintext[0]["severity"], "fail");
    assert!(
        plaintext[0]["message"]
            .as_str()
            .unwrap()
            .contains("no wildcard certificate")
    );
    let host = report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["host"] == "amazonlinux.us-west-2.amazonaws.com")
        .unwrap();
    assert_eq!(host["plaintext"], true);
    assert_eq!(host["region"], "us-west-2");
}

#[test]
fn repomd_refused_by_the_endpoint_policy() {
    let opts = Options::new().bucket("amazonlinux.us-west-2.amazonaws.com", "repo-deny");
    let Some(world) = World::up("yden", &opts) else {
        return;
    };
    let root = root_in_us_west_2(&world, "al2");
    let (code, report) = check(&world, &root, &["--fail-on", "endpoint-policy-denied"]);
    assert_eq!(code, 1);
    let denied = findings(&report, "endpoint-policy-denied");
    assert!(
        denied.iter().any(|f| f["target"] == "repo:amzn2-core"),
        "{denied:#?}"
    );
    assert_eq!(repo(&report, "amzn2-core")["repomd"]["status"], 403);
    assert_eq!(
        repo(&report, "amzn2-core")["repomd"]["s3_error_code"],
        "AccessDenied"
    );
}

#[test]
fn mirror_list_pointing_to_another_region() {
    let opts = Options::new()
        .bucket(
            "amazonlinux.us-west-2.amazonaws.com",
            "repo-elsewhere:us-east-1",
        )
        .bucket("amazonlinux-2-repos-us-east-1", "repo");
    let Some(world) = World::up("yelse", &opts) else {
        return;
    };
    let root = root_in_us_west_2(&world, "al2");
    let (_, report) = check(&world, &root, &[]);
    let core = repo(&report, "amzn2-core");
    assert_eq!(core["mirrors"][0]["host"], "s3.us-east-1.amazonaws.com");
    assert_eq!(core["mirrors"][0]["region"], "us-east-1");
    assert_eq!(core["mirrors"][0]["cross_region"], true);
    assert_eq!(core["repomd"]["status"], 200);
    let cross = findings(&report, "cross-region");
    assert!(
        cross
            .iter()
            .any(|f| f["target"] == "yum:s3.us-east-1.amazonaws.com" && f["severity"] == "warn"),
        "{cross:#?}"
    );
}

#[test]
fn al2023_dual_stack_name_outside_the_interface_endpoint() {
    let opts = Options::new()
        .interface_endpoint()
        .bucket("al2023-repos-us-west-2-de612dc2", "repo");
    let Some(world) = World::up("y2023", &opts) else {
        return;
    };
    let root = root_in_us_west_2(&world, "al2023");
    let (_, report) = check(&world, &root, &[]);
    let al2023 = repo(&report, "amazonlinux");
    assert_eq!(al2023["scheme"], "https");
    assert_eq!(al2023["repomd"]["status"], 200);
    let gaps = findings(&report, "endpoint-dns-gap");
    let hosts: Vec<&str> = gaps.iter().map(|f| f["target"].as_str().unwrap()).collect();
    assert!(hosts.contains(&"al2023-repo"), "{gaps:#?}");
    assert!(hosts.contains(&"s3-dualstack"), "{gaps:#?}");
    let message = gaps[0]["message"].as_str().unwrap();
    assert!(
        message.contains("s3-dualstack names as covered (as of 2023-06-15"),
        "{message}"
    );
    assert!(findings(&report, "plaintext").is_empty());
}

#[test]
fn policy_takes_the_account_and_region_from_the_instance() {
    let Some(world) = World::up("ypol", &Options::new()) else {
        return;
    };
    let root = root_in_us_west_2(&world, "al2");
    let run = world.run_probe(&[
        "policy",
        "--root",
        root.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let policy: Value = serde_json::from_str(&run.stdout).unwrap();
    let own = &policy["Statement"][0];
    assert_eq!(
        own["Condition"]["StringEquals"]["aws:ResourceAccount"],
        "111122223333"
    );
    assert!(run.stdout.contains("us-west-2"), "{}", run.stdout);
}
