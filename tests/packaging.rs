//! The packaging files as data: the deb and rpm metadata in Cargo.toml install the same files
//! with the same privileges, every source they name exists, and the systemd, cron, Systems
//! Manager and Packer files say what the README promises. No build, no root.

use std::collections::BTreeSet;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|err| panic!("{path}: {err}"))
}

fn metadata() -> toml::Table {
    let manifest: toml::Table = toml::from_str(&read("Cargo.toml")).unwrap();
    manifest["package"]["metadata"].as_table().unwrap().clone()
}

/// Sources that are not build outputs must be in the repository.
fn assert_source_exists(source: &str) {
    if source.starts_with("target/") {
        return;
    }
    assert!(root().join(source).exists(), "{source} does not exist");
}

/// The file name a destination installs (`dest/` keeps the source's name).
fn installed_name(source: &str, dest: &str) -> String {
    let name = if dest.ends_with('/') {
        Path::new(source)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    } else {
        Path::new(dest)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    };
    name.replace("egress-probe.bash", "egress-probe")
}

#[test]
fn deb_and_rpm_install_the_same_files() {
    let metadata = metadata();
    let deb = metadata["deb"]["assets"].as_array().unwrap();
    let rpm = metadata["generate-rpm"]["assets"].as_array().unwrap();

    let mut deb_files = BTreeSet::new();
    for asset in deb {
        let asset = asset.as_array().unwrap();
        let (source, dest) = (asset[0].as_str().unwrap(), asset[1].as_str().unwrap());
        assert_source_exists(source);
        deb_files.insert((source.to_string(), installed_name(source, dest)));
    }
    let mut rpm_files = BTreeSet::new();
    for asset in rpm {
        let (source, dest) = (
            asset["source"].as_str().unwrap(),
            asset["dest"].as_str().unwrap(),
        );
        assert_source_exists(source);
        assert!(
            dest.starts_with('/'),
            "rpm destinations are absolute: {dest}"
        );
        rpm_files.insert((source.to_string(), installed_name(source, dest)));
    }
    assert_eq!(deb_files, rpm_files);
    for wanted in [
        "target/assets/man/*.1",
        "packaging/systemd/egress-probe.service",
        "packaging/systemd/egress-probe.timer",
        "probes/default.toml",
        "target/assets/completions/_egress-probe",
    ] {
        assert!(
            deb_files.iter().any(|(s, _)| s == wanted),
            "{wanted} is not packaged"
        );
    }
}

#[test]
fn the_binary_is_for_root_and_the_group_only_with_cap_net_raw() {
    let metadata = metadata();
    let deb_binary = metadata["deb"]["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_array().unwrap())
        .find(|a| a[0].as_str() == Some("target/release/egress-probe"))
        .unwrap()
        .clone();
    assert_eq!(deb_binary[2].as_str(), Some("750"));
    let postinst = read("packaging/debian/postinst");
    assert!(
        postinst.contains(
            "dpkg-statoverride --update --add root egress-probe 0750 /usr/bin/egress-probe"
        )
    );
    assert!(postinst.contains("setcap cap_net_raw=ep /usr/bin/egress-probe"));
    assert!(postinst.contains("groupadd --system egress-probe"));

    let rpm_binary = metadata["generate-rpm"]["assets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["dest"].as_str() == Some("/usr/bin/egress-probe"))
        .unwrap()
        .clone();
    assert_eq!(rpm_binary["mode"].as_str(), Some("750"));
    assert_eq!(rpm_binary["user"].as_str(), Some("root"));
    assert_eq!(rpm_binary["group"].as_str(), Some("egress-probe"));
    assert_eq!(rpm_binary["caps"].as_str(), Some("cap_net_raw=ep"));
    let pre = read("packaging/rpm/pre-install.sh");
    assert!(
        pre.contains("groupadd --system egress-probe"),
        "the group exists before the files"
    );
    for key in [
        "pre_install_script",
        "post_install_script",
        "pre_uninstall_script",
        "post_uninstall_script",
    ] {
        assert_source_exists(metadata["generate-rpm"][key].as_str().unwrap());
    }
}

#[test]
fn release_profile_is_lto_and_stripped() {
    let manifest: toml::Table = toml::from_str(&read("Cargo.toml")).unwrap();
    let release = &manifest["profile"]["release"];
    assert_eq!(release["lto"].as_bool(), Some(true));
    assert_eq!(release["strip"].as_bool(), Some(true));
}

#[test]
fn systemd_units_run_unprivileged_with_an_ambient_capability_and_a_spread() {
    let service = read("packaging/systemd/egress-probe.service");
    for line in [
        "User=egress-probe",
        "AmbientCapabilities=CAP_NET_RAW",
        "CapabilityBoundingSet=CAP_NET_RAW",
        "StateDirectory=egress-probe",
        "--output prometheus=/var/lib/egress-probe/egress-probe.prom",
        "--output jsonl=/var/lib/egress-probe/runs.jsonl",
        "SuccessExitStatus=1",
    ] {
        assert!(service.contains(line), "service lacks {line}");
    }
    let timer = read("packaging/systemd/egress-probe.timer");
    assert!(timer.contains("RandomizedDelaySec="));
    assert!(timer.contains("WantedBy=timers.target"));
    let cron = read("packaging/cron/egress-probe");
    let job = cron
        .lines()
        .find(|l| l.starts_with("0 * * * * egress-probe "))
        .unwrap();
    assert!(!job.contains('%'), "cron turns % into newlines");
    assert!(job.contains("shuf") && job.contains("/var/lib/egress-probe/egress-probe.prom"));
}

#[test]
fn ssm_document_and_association() {
    let doc: serde_json::Value =
        serde_json::from_str(&read("packaging/ssm/egress-probe-check.json")).unwrap();
    assert_eq!(doc["schemaVersion"], "2.2");
    let step = &doc["mainSteps"][0];
    assert_eq!(step["action"], "aws:runShellScript");
    assert_eq!(
        step["precondition"]["StringEquals"],
        serde_json::json!(["platformType", "Linux"])
    );
    let script = step["inputs"]["runCommand"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        script.contains("--output jsonl=-"),
        "one compact line on stdout"
    );
    assert!(
        script.contains("/var/lib/egress-probe/"),
        "the result stays on the host"
    );
    for parameter in doc["parameters"].as_object().unwrap().keys() {
        assert!(
            script.contains(&format!("{{{{ {parameter} }}}}")),
            "{parameter} unused"
        );
    }

    let association: serde_json::Value =
        serde_json::from_str(&read("packaging/ssm/association.json")).unwrap();
    assert_eq!(association["Name"], "EgressProbeCheck");
    assert!(association["OutputLocation"]["S3Location"]["OutputS3BucketName"].is_string());
    assert!(
        association["ScheduleExpression"]
            .as_str()
            .unwrap()
            .starts_with("rate(")
    );
}

#[test]
fn packer_example_fails_the_build_and_keeps_the_junit_file() {
    let template = read("packaging/packer/egress-probe.pkr.hcl");
    assert!(template.contains("valid_exit_codes = [0]"));
    assert!(template.contains("error-cleanup-provisioner \"file\""));
    assert!(template.contains("/var/lib/egress-probe/bake-junit.xml"));
    let provision = read("packaging/packer/provision.sh");
    assert!(provision.contains("--spec \"$SPEC\""));
    assert!(provision.contains("--output junit=/var/lib/egress-probe/bake-junit.xml"));
    assert!(provision.contains("exit \"$status\""));
}

#[test]
fn shell_scripts_parse() {
    for (shell, script) in [
        ("bash", "packaging/ci-package"),
        ("bash", "packaging/build-assets"),
        ("bash", "packaging/ssm/deploy"),
        ("sh", "packaging/packer/provision.sh"),
        ("sh", "packaging/debian/postinst"),
        ("sh", "packaging/debian/prerm"),
        ("sh", "packaging/debian/postrm"),
        ("sh", "packaging/rpm/pre-install.sh"),
        ("sh", "packaging/rpm/post-install.sh"),
        ("sh", "packaging/rpm/pre-uninstall.sh"),
        ("sh", "packaging/rpm/post-uninstall.sh"),
    ] {
        let status = std::process::Command::new(shell)
            .arg("-n")
            .arg(root().join(script))
            .status()
            .unwrap();
        assert!(status.success(), "{script} does not parse");
    }
}
