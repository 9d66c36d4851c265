//! Discovery over the repository fixtures (AL1, AL2, AL2023, Rocky, RHEL RHUI, bad input) and,
//! when present, over the real configuration trees in the shared data.

use std::path::{Path, PathBuf};

use egress_probe::policy;
use egress_probe::yum::mirrors::{self, MirrorList};
use egress_probe::yum::repo::{Manager, Repo, Step, UrlKind};
use egress_probe::yum::report::needed_buckets;
use egress_probe::yum::{Discovery, Overrides, Severity, Source, discover};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/yum")
        .join(name)
}

fn shared(path: &str) -> Option<PathBuf> {
    let full = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/yum-repos")
        .join(path);
    if full.exists() {
        Some(full)
    } else {
        eprintln!("skipping: {} is absent", full.display());
        None
    }
}

fn run(name: &str, overrides: Overrides) -> Discovery {
    discover(&fixture(name), &overrides)
}

fn repo<'a>(discovery: &'a Discovery, id: &str) -> &'a Repo {
    let found = discovery.repos.iter().find(|repo| repo.id == id);
    found.unwrap_or_else(|| panic!("no repository {id}"))
}

fn codes(repo: &Repo) -> Vec<&'static str> {
    repo.problems.iter().map(|problem| problem.code).collect()
}

fn file(path: &str) -> Source {
    Source::File {
        path: path.to_string(),
    }
}

#[test]
fn al1_mirror_list_buckets_and_instance_query() {
    let found = run("al1", Overrides::default());
    assert_eq!(found.manager, Manager::Yum);
    let releasever = found.releasever.as_ref().unwrap();
    assert_eq!(releasever.value, "latest");
    let main_config = Source::MainConfig {
        path: "/etc/yum.conf".to_string(),
    };
    assert_eq!(releasever.source, main_config);
    let region = found.region.as_ref().unwrap();
    assert_eq!(
        (region.value.as_str(), &region.source),
        ("eu-west-1", &file("/etc/yum/vars/awsregion"))
    );
    assert_eq!(found.hidden, 1);

    let main = repo(&found, "amzn-main");
    assert_eq!(
        main.urls[0].expanded,
        "http://repo.eu-west-1.amazonaws.com/latest/main/mirror.list"
    );
    assert_eq!(main.scheme(), "http");
    assert_eq!(main.generation.as_deref(), Some("al1"));
    assert_eq!(codes(main), ["plaintext"]);
    assert!(main.problems[0].message.contains("dotted bucket name"));

    let buckets = needed_buckets(main);
    let names: Vec<(&str, &str)> = buckets
        .iter()
        .map(|b| (b.bucket.name.as_str(), b.via))
        .collect();
    assert_eq!(
        names,
        [
            ("repo.eu-west-1.amazonaws.com", "hostname"),
            ("packages.eu-west-1.amazonaws.com", "mirror-list")
        ]
    );
    assert_eq!(
        main.repomd_url(
            "http://packages.eu-west-1.amazonaws.com/2018.03/main/abc/x86_64/",
            Some("i-0abc"),
            Some("eu-west-1")
        ),
        "http://packages.eu-west-1.amazonaws.com/2018.03/main/abc/x86_64/repodata/repomd.xml\
         ?instance_id=i-0abc&region=eu-west-1"
    );
    let plan = main.plan(found.manager);
    assert!(matches!(plan.as_slice(), [Step::List(url)] if url.kind == UrlKind::Mirrorlist));
}

#[test]
fn al2_variables_with_their_sources() {
    let found = run("al2", Overrides::default());
    let value = |name: &str| found.vars.get(name).unwrap();
    assert_eq!(value("awsregion").value, "us-west-2");
    assert_eq!(value("awsdomain").value, "amazonaws.com");
    assert_eq!(value("product").value, "core");
    assert_eq!(value("awsproto").source, file("/etc/yum/vars/awsproto"));
    assert_eq!(
        (value("basearch").value.as_str(), &value("basearch").source),
        ("aarch64", &file("/etc/image-id"))
    );
    let releasever = found.releasever.as_ref().unwrap();
    assert_eq!(releasever.value, "2");
    let package = Source::Package {
        package: "system-release".to_string(),
        path: "/etc/system-release".to_string(),
    };
    assert_eq!(releasever.source, package);

    let ids: Vec<&str> = found.repos.iter().map(|repo| repo.id.as_str()).collect();
    assert_eq!(ids, ["amzn2-core", "amzn2extra-docker"]);
    let core = repo(&found, "amzn2-core");
    assert_eq!(
        core.urls[0].expanded,
        "http://amazonlinux.us-west-2.amazonaws.com/2/core/latest/aarch64/mirror.list"
    );
    assert!(core.unexpanded.is_empty());
    let docker = repo(&found, "amzn2extra-docker");
    assert_eq!(docker.line, 7);
    assert_eq!(
        docker.urls[0].host.as_deref(),
        Some("amazonlinux.us-west-2.amazonaws.com")
    );
    assert_eq!(
        core.repomd_url(
            "http://amazonlinux.us-west-2.amazonaws.com/2/core/2.0/aarch64/abc/",
            Some("i-1"),
            Some("us-west-2")
        ),
        "http://amazonlinux.us-west-2.amazonaws.com/2/core/2.0/aarch64/abc/repodata/repomd.xml\
         ?instance_id=i-1&region=us-west-2"
    );

    let all = run(
        "al2",
        Overrides {
            all_repos: true,
            ..Overrides::default()
        },
    );
    assert!(!repo(&all, "amzn2-core-source").enabled);
    assert_eq!(all.hidden, 0);
}

#[test]
fn al2023_dual_stack_bucket_and_instance_query() {
    let found = run("al2023", Overrides::default());
    assert_eq!(found.manager, Manager::Dnf);
    assert_eq!(found.releasever.as_ref().unwrap().value, "2023.5.20240701");
    assert_eq!(found.vars.get("releasever_major").unwrap().value, "2023");
    let al = repo(&found, "amazonlinux");
    assert_eq!(
        al.urls[0].expanded,
        "https://al2023-repos-ap-northeast-1-de612dc2.s3.dualstack.ap-northeast-1.amazonaws.com\
         /core/mirrors/2023.5.20240701/x86_64/mirror.list"
    );
    assert!(al.problems.is_empty(), "{:?}", al.problems);
    let buckets = needed_buckets(al);
    assert_eq!(buckets.len(), 1);
    let bucket = &buckets[0].bucket;
    assert_eq!(bucket.name, "al2023-repos-ap-northeast-1-de612dc2");
    assert_eq!(
        (bucket.form, bucket.documented),
        ("s3-dualstack", Some(false))
    );
    let root = "https://al2023-repos-ap-northeast-1-de612dc2.s3.dualstack.ap-northeast-1\
                .amazonaws.com/core/guids/abc/x86_64/";
    assert!(!al.report_instanceid);
    assert_eq!(
        al.repomd_url(root, Some("i-2"), Some("ap-northeast-1")),
        format!("{root}repodata/repomd.xml")
    );
    let mut reporting = al.clone();
    reporting.report_instanceid = true;
    assert_eq!(
        reporting.repomd_url(root, Some("i-2"), Some("ap-northeast-1")),
        format!("{root}repodata/repomd.xml?instance_id=i-2")
    );
}

#[test]
fn al2023_container_uses_the_cdn() {
    let found = run("al2023-container", Overrides::default());
    let al = repo(&found, "amazonlinux");
    assert_eq!(codes(al), ["cdn-not-s3"]);
    assert!(al.problems[0].message.contains("CloudFront"));
    assert_eq!(al.generation.as_deref(), Some("al2023"));
    assert!(needed_buckets(al).is_empty());
}

#[test]
fn default_region_is_kept_and_the_fix_suggested() {
    let overrides = Overrides {
        region: Some("eu-central-1".to_string()),
        ..Overrides::default()
    };
    let found = run("al2-default-region", overrides);
    let core = repo(&found, "amzn2-core");
    assert_eq!(
        core.urls[0].expanded,
        "http://amazonlinux.default.amazonaws.com/2/core/latest/x86_64/mirror.list"
            .replace("x86_64", &found.vars.get("basearch").unwrap().value)
    );
    let problem = core
        .problems
        .iter()
        .find(|p| p.code == "region-default")
        .unwrap();
    assert_eq!(problem.severity, Severity::Error);
    assert_eq!(
        problem.fix.as_deref(),
        Some("write `eu-central-1` to /etc/yum/vars/awsregion")
    );
    assert_eq!(
        found.proxy.as_deref(),
        Some("http://proxy.internal.example:3128")
    );
    assert_eq!(
        core.proxy.as_deref(),
        Some("http://proxy.internal.example:3128")
    );
    assert_eq!(repo(&found, "local-tools").proxy, None);
    let region = found.region.as_ref().unwrap();
    assert_eq!(
        region.source,
        Source::Override {
            flag: "--region".to_string()
        }
    );

    let unknown = run("al2-default-region", Overrides::default());
    assert_eq!(unknown.region, None);
    assert_eq!(
        needed_buckets(repo(&unknown, "amzn2-core"))[0]
            .bucket
            .region,
        None
    );
}

#[test]
fn rocky_and_rhel_rhui() {
    let rocky = run("rocky9", Overrides::default());
    assert_eq!(rocky.releasever.as_ref().unwrap().value, "9");
    let baseos = repo(&rocky, "baseos");
    let arch = &rocky.vars.get("basearch").unwrap().value;
    assert_eq!(
        baseos.urls[0].expanded,
        format!("https://mirrors.rockylinux.org/mirrorlist?arch={arch}&repo=BaseOS-9")
    );
    assert!(baseos.problems.is_empty());
    assert!(needed_buckets(baseos).is_empty());
    assert_eq!(rocky.hidden, 1);

    let gov = Overrides {
        region: Some("us-gov-west-1".to_string()),
        ..Overrides::default()
    };
    let rhel = run("rhel8-rhui", gov);
    assert_eq!(rhel.releasever.as_ref().unwrap().value, "8");
    let baseos = repo(&rhel, "rhel-8-baseos-rhui-rpms");
    assert!(baseos.urls[0].expanded.starts_with(
        "https://rhui3.us-west-2.aws.ce.redhat.com/pulp/mirror/content/dist/rhel8/rhui/8/"
    ));
    let unknown = run("rhel8-rhui", Overrides::default());
    let baseos = repo(&unknown, "rhel-8-baseos-rhui-rpms");
    assert_eq!(
        baseos.urls[0].host.as_deref(),
        Some("rhui3.region.aws.ce.redhat.com")
    );
    assert_eq!(codes(baseos), ["region-placeholder"]);
}

#[test]
fn bad_input_is_reported_per_repository() {
    let found = run("bad-input", Overrides::default());
    let ids: Vec<&str> = found.repos.iter().map(|repo| repo.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "broken-header",
            "same-file",
            "unknown-var",
            "loop",
            "local",
            "ftp",
            "badbool",
            "nourl",
            "dupkey"
        ]
    );

    let broken = repo(&found, "broken-header");
    assert_eq!(codes(broken), ["malformed-file", "plaintext"]);
    assert!(broken.problems[0].message.contains("broken.repo line 1"));
    assert_eq!(codes(repo(&found, "same-file")), ["malformed-file"]);

    let unknown = repo(&found, "unknown-var");
    assert_eq!(unknown.unexpanded, ["mirrorhost"]);
    assert_eq!(
        unknown.urls[0].expanded,
        "https://$mirrorhost/repo/x86_64/"
            .replace("x86_64", &found.vars.get("basearch").unwrap().value)
    );
    assert_eq!(codes(unknown), ["unknown-variable", "duplicate-repo"]);
    assert!(unknown.problems[1].message.contains("zz-again.repo line 1"));

    let looped = repo(&found, "loop");
    assert_eq!(codes(looped), ["variable-loop"]);
    assert!(looped.problems[0].message.contains("loopa → loopb → loopa"));
    assert_eq!(looped.urls[0].expanded, "https://repo.example/$loopb/");

    assert_eq!(codes(repo(&found, "local")), ["local-url"]);
    assert_eq!(codes(repo(&found, "ftp")), ["ftp-url"]);
    let badbool = repo(&found, "badbool");
    assert_eq!(codes(badbool), ["invalid-boolean"]);
    assert!(badbool.enabled);
    assert_eq!(codes(repo(&found, "nourl")), ["no-url"]);
    let dupkey = repo(&found, "dupkey");
    assert_eq!(codes(dupkey), ["duplicate-key"]);
    assert_eq!(dupkey.urls[0].expanded, "https://second.example/");
}

#[test]
fn yum_tries_base_urls_first_and_dnf_the_list_first() {
    let found = run("bad-input", Overrides::default());
    let mut both = repo(&found, "dupkey").clone();
    let mut list = both.urls[0].clone();
    list.kind = UrlKind::Mirrorlist;
    list.expanded = "https://list.example/mirror.list".to_string();
    both.urls.push(list);
    let mirrors = ["https://m1.example/".to_string()];
    assert_eq!(
        both.try_order(Manager::Yum, &mirrors),
        ["https://second.example/", "https://m1.example/"]
    );
    assert_eq!(
        both.try_order(Manager::Dnf, &mirrors),
        ["https://m1.example/", "https://second.example/"]
    );
}

fn list_fixture(name: &str) -> MirrorList {
    let body = std::fs::read(fixture("mirror-lists").join(name)).unwrap();
    let kind = if name.ends_with("metalink") {
        UrlKind::Metalink
    } else {
        UrlKind::Mirrorlist
    };
    mirrors::parse_list(&body, kind).unwrap()
}

#[test]
fn mirror_lists_become_tagged_targets() {
    let found = run("al1", Overrides::default());
    let list = list_fixture("al1-updates-eu-west-1.list");
    let targets = mirrors::targets("amzn-updates", &list, &found.vars, Some("eu-west-1"));
    assert_eq!(targets.len(), 5);
    assert!(targets[0].url.ends_with("/c539f2128d87/x86_64"));
    assert!(!targets[0].cross_region);
    let others: Vec<&str> = targets
        .iter()
        .filter(|t| t.cross_region)
        .filter_map(|t| t.region.as_deref())
        .collect();
    assert_eq!(
        others,
        ["us-east-1", "us-west-2", "eu-central-1", "ap-southeast-1"]
    );
    assert_eq!(
        targets[1].bucket.as_ref().unwrap().name,
        "packages.us-east-1.amazonaws.com"
    );

    let metalink = list_fixture("fedora-31.metalink");
    assert_eq!(metalink.mirrors.len(), 3);
    assert_eq!(
        metalink.mirrors[0].url,
        "https://mirror.example.edu/fedora/linux/releases/31/Everything/x86_64/os/"
    );
    assert_eq!(metalink.mirrors[2].location.as_deref(), Some("DE"));
    assert_eq!(metalink.skipped.len(), 1);
}

#[test]
fn real_mirror_lists_when_present() {
    let Some(dir) = shared("mirror-lists") else {
        return;
    };
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
    let vars = egress_probe::yum::Vars::default();

    let al1 =
        mirrors::parse_list(&read("claircore-mirrors_linux1.txt"), UrlKind::Mirrorlist).unwrap();
    let targets = mirrors::targets("amzn-updates", &al1, &vars, Some("us-west-2"));
    assert_eq!(targets.len(), 11);
    assert_eq!(targets.iter().filter(|t| t.cross_region).count(), 10);
    assert!(
        targets.iter().all(|t| t.scheme == "http"
            && t.bucket.as_ref().unwrap().generation.as_deref() == Some("al1"))
    );

    let al2023 = mirrors::parse_list(
        &read("claircore-mirrors_linux2023.txt"),
        UrlKind::Mirrorlist,
    )
    .unwrap();
    let targets = mirrors::targets("amazonlinux", &al2023, &vars, Some("us-east-1"));
    assert_eq!(targets.len(), 1);
    assert!(targets[0].cdn);
    assert!(
        targets[0]
            .url
            .starts_with("https://cdn.amazonlinux.com/al2023/core/guids/46ff4933")
    );
}

#[test]
fn real_amazon_linux_trees_when_present() {
    if let Some(root) = shared("amzn1-2014.03") {
        let found = discover(&root, &Overrides::default());
        let main = repo(&found, "amzn-main");
        assert_eq!(
            main.urls[0].expanded,
            "http://repo.ap-southeast-1.amazonaws.com/latest/main/mirror.list"
        );
        assert!(main.report_instanceid);
        let region = found.region.as_ref().unwrap();
        assert_eq!(region.value, "ap-southeast-1");
        assert_eq!(found.hidden, 5);
    }
    if let Some(root) = shared("amzn2-2.0.20200207") {
        let found = discover(&root, &Overrides::default());
        assert_eq!(found.vars.get("awsregion").unwrap().value, "us-east-1");
        let ids: Vec<&str> = found.repos.iter().map(|repo| repo.id.as_str()).collect();
        assert_eq!(ids, ["amzn2-core", "amzn2extra-docker"]);
        assert_eq!(
            repo(&found, "amzn2-core").urls[0].expanded,
            "http://amazonlinux.us-east-1.amazonaws.com/2/core/latest/x86_64/mirror.list"
        );
        assert_eq!(found.hidden, 4);
    }
}

/// The AL2023 and Rocky files are not laid out as a root; they are copied into a temporary
/// root for the test.
fn temporary_root(files: &[(&Path, &str)]) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    for (source, target) in files {
        let target = root.path().join(target);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        let mut text = std::fs::read_to_string(target.as_path()).unwrap_or_default();
        text.push_str(&std::fs::read_to_string(source).unwrap());
        std::fs::write(target, text).unwrap();
    }
    root
}

#[test]
fn real_al2023_and_rocky_files_when_present() {
    if let Some(dir) = shared("al2023-reconstructed/etc") {
        let repos = dir.join("yum.repos.d");
        let vars = dir.join("dnf/vars");
        let root = temporary_root(&[
            (
                &repos.join("amazonlinux.repo.section-amazonlinux"),
                "etc/yum.repos.d/amazonlinux.repo",
            ),
            (
                &repos.join("amazonlinux.repo.section-amazonlinux-source"),
                "etc/yum.repos.d/amazonlinux.repo",
            ),
            (&vars.join("awsregion"), "etc/dnf/vars/awsregion"),
            (&vars.join("awsdomain"), "etc/dnf/vars/awsdomain"),
            (&vars.join("dualstack"), "etc/dnf/vars/dualstack"),
            (&vars.join("mirrorlist"), "etc/dnf/vars/mirrorlist"),
        ]);
        std::fs::write(root.path().join("etc/dnf/dnf.conf"), "[main]\n").unwrap();
        let overrides = Overrides {
            releasever: Some("2023.5.20240701".to_string()),
            ..Overrides::default()
        };
        let found = discover(root.path(), &overrides);
        assert_eq!(found.repos.len(), 2);
        let al = repo(&found, "amazonlinux");
        let arch = &found.vars.get("basearch").unwrap().value;
        assert_eq!(
            al.urls[0].expanded,
            format!(
                "https://al2023-repos-us-west-2-de612dc2.s3.dualstack.us-west-2.amazonaws.com\
                 /core/mirrors/2023.5.20240701/{arch}/mirror.list"
            )
        );
        assert_eq!(
            needed_buckets(al)[0].bucket.arn,
            "arn:aws:s3:::al2023-repos-us-west-2-de612dc2"
        );
        let policy = policy::build(&found, "us-west-2", "123456789012");
        assert_eq!(
            policy.statements[1].body["Resource"],
            serde_json::json!(["arn:aws:s3:::al2023-repos-us-west-2-de612dc2/*"])
        );
    }
    if let Some(dir) = shared("contrast/rocky-9") {
        let root = temporary_root(&[
            (&dir.join("rocky.repo"), "etc/yum.repos.d/rocky.repo"),
            (
                &dir.join("rocky-extras.repo"),
                "etc/yum.repos.d/rocky-extras.repo",
            ),
        ]);
        std::fs::create_dir_all(root.path().join("etc/dnf")).unwrap();
        std::fs::write(root.path().join("etc/dnf/dnf.conf"), "[main]\n").unwrap();
        let found = discover(root.path(), &Overrides::default());
        assert!(found.problems.iter().any(|p| p.code == "no-releasever"));
        let ids: Vec<&str> = found.repos.iter().map(|repo| repo.id.as_str()).collect();
        assert_eq!(ids, ["extras", "baseos", "appstream", "crb"]);
        let baseos = repo(&found, "baseos");
        assert_eq!(baseos.unexpanded, ["releasever", "rltype"]);
        assert!(codes(baseos).iter().all(|code| *code == "unknown-variable"));
    }
}

#[test]
fn policy_names_exactly_the_repository_buckets() {
    let account = "123456789012";
    let al1 = run("al1", Overrides::default());
    let built = policy::build(&al1, "eu-west-1", account);
    assert_eq!(
        built.statements[0].body["Condition"]["StringEquals"]["aws:ResourceAccount"],
        account
    );
    assert_eq!(
        built.statements[1].body["Resource"],
        serde_json::json!([
            "arn:aws:s3:::repo.eu-west-1.amazonaws.com/*",
            "arn:aws:s3:::packages.eu-west-1.amazonaws.com/*"
        ])
    );
    assert_eq!(built.statements[1].body["Action"], "s3:GetObject");

    let al2 = run("al2", Overrides::default());
    let china = policy::build(&al2, "cn-north-1", account);
    assert_eq!(china.partition, "aws-cn");
    assert_eq!(
        china.statements[1].body["Resource"],
        serde_json::json!(["arn:aws-cn:s3:::amazonlinux-2-repos-cn-north-1/*"])
    );
    assert!(china.notes.iter().any(|note| {
        note.contains("`amazonlinux-2-repos-cn-north-1`, not `amazonlinux.cn-north-1")
    }));

    let defaulted = run("al2-default-region", Overrides::default());
    let fixed = policy::build(&defaulted, "eu-central-1", account);
    assert_eq!(
        fixed.statements[1].body["Resource"],
        serde_json::json!([
            "arn:aws:s3:::amazonlinux.eu-central-1.amazonaws.com/*",
            "arn:aws:s3:::amazonlinux-2-repos-eu-central-1/*"
        ]),
        "AWS's own Amazon Linux 2 endpoint policy grants both buckets"
    );
    assert!(
        fixed
            .notes
            .iter()
            .any(|note| note.contains("repo.tools.internal.example is not S3"))
    );
    let proxied = "amzn2-core: its requests leave through the proxy http://proxy.internal";
    assert!(fixed.notes.iter().any(|note| note.starts_with(proxied)));

    let container = run("al2023-container", Overrides::default());
    let cdn = policy::build(&container, "us-east-1", account);
    assert_eq!(cdn.statements.len(), 1);
    assert!(cdn.notes.iter().any(|note| note.contains("CloudFront")));
}

#[test]
fn only_enabled_repositories_decide_the_exit_code() {
    let mut found = run("bad-input", Overrides::default());
    let report = egress_probe::yum::report::ReposReport::new(&found);
    assert_eq!(report.worst(), Some(Severity::Error));
    for repo in &mut found.repos {
        repo.enabled = false;
    }
    let report = egress_probe::yum::report::ReposReport::new(&found);
    assert_eq!(report.worst(), None);
}
