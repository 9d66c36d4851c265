//! The probe catalog: which names to probe and what to expect of them, as data.
//!
//! The default catalog (`probes/default.toml`) is embedded in the binary; `--probes DIR` adds
//! every `*.toml` file of a directory, and `--target` / `--bucket` add names from the command line.

use std::path::Path;

use anyhow::Context as _;
use serde::Deserialize;

use crate::exit::UsageError;

/// The embedded default catalog.
pub const DEFAULT: &str = include_str!("../probes/default.toml");

/// The dated table of S3 name forms an interface endpoint's private DNS covers.
pub const PRIVATE_DNS: &str = include_str!("../probes/interface-endpoint-dns.toml");

/// What AWS documented about one hostname form and interface endpoint private DNS.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PrivateDnsCoverage {
    /// The hostname form (`s3-regional`, `s3-dualstack`, ...).
    pub form: String,
    /// Resolved into the VPC by private DNS.
    pub covered: bool,
    /// The date of the documentation this rests on.
    pub as_of: String,
    /// Where it is documented.
    pub source: String,
}

/// The coverage entry of a hostname form, from the embedded dated table.
pub fn private_dns_coverage(form: &str) -> Option<&'static PrivateDnsCoverage> {
    #[derive(Deserialize)]
    struct Table {
        form: Vec<PrivateDnsCoverage>,
    }
    static TABLE: std::sync::OnceLock<Vec<PrivateDnsCoverage>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        toml::from_str::<Table>(PRIVATE_DNS)
            .map(|table| table.form)
            .unwrap_or_default()
    });
    table.iter().find(|entry| entry.form == form)
}

/// Where a target came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The embedded or a user catalog file.
    Catalog,
    /// A repository of the package manager.
    Yum,
    /// `--target` or `--bucket`.
    User,
}

impl Origin {
    /// The value written in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Catalog => "catalog",
            Origin::Yum => "yum",
            Origin::User => "user",
        }
    }
}

/// Where a target's addresses are expected to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpectRegion {
    /// The instance's own region.
    Instance,
    /// Served from one place for every region: another region is information only.
    Any,
    /// A named region.
    Named(String),
}

/// One name to probe, with what is expected of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Short unique identifier.
    pub name: String,
    /// Hostname to resolve and to send as SNI and Host.
    pub host: String,
    /// The request path (`/` or `/BUCKET/` for path-style bucket requests).
    pub path: String,
    /// Where the target came from.
    pub origin: Origin,
    /// Port 443 must answer.
    pub required: bool,
    /// Where the addresses are expected.
    pub expect_region: ExpectRegion,
    /// Ports to probe.
    pub ports: Vec<u16>,
    /// A line for the reader.
    pub note: Option<String>,
    /// The bucket the request addresses, if any.
    pub bucket: Option<String>,
    /// The configured URL scheme when the target comes from a consumer's configuration.
    pub configured_scheme: Option<String>,
    /// A publicly readable object in another account (`--foreign-object`): reading it proves
    /// the path lets traffic reach foreign buckets.
    pub canary: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    target: Vec<RawTarget>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    name: String,
    host: String,
    #[serde(default)]
    required: bool,
    region: Option<String>,
    ports: Option<Vec<u16>>,
    note: Option<String>,
}

/// Values substituted into catalog templates.
#[derive(Debug, Clone)]
pub struct Context {
    /// The instance's region, when known.
    pub region: Option<String>,
    /// The partition's DNS suffix.
    pub domain: String,
}

/// A catalog expanded for one host.
#[derive(Debug, Default)]
pub struct Expanded {
    /// The targets to probe, in catalog order, unique by host and path.
    pub targets: Vec<Target>,
    /// Catalog entries left out, with the reason.
    pub skipped: Vec<String>,
}

/// Parses one catalog file's text; `origin_name` names it in errors.
fn parse(text: &str, origin_name: &str) -> anyhow::Result<Vec<RawTarget>> {
    let file: File = toml::from_str(text)
        .map_err(|err| UsageError::new(format!("{origin_name}: {}", err.message())))?;
    let mut names = std::collections::HashSet::new();
    for raw in &file.target {
        if !names.insert(raw.name.as_str()) {
            return Err(UsageError::new(format!(
                "{origin_name}: target {} twice",
                raw.name
            )));
        }
        if raw.ports.as_ref().is_some_and(|ports| ports.is_empty()) {
            return Err(UsageError::new(format!(
                "{origin_name}: target {}: no port",
                raw.name
            )));
        }
        let probe = raw
            .host
            .replace("{region}", "us-east-1")
            .replace("{domain}", "amazonaws.com");
        if probe.contains(['{', '}']) || validate_host(&probe).is_err() {
            return Err(UsageError::new(format!(
                "{origin_name}: target {}: {:?} is not a hostname (templates: {{region}}, \
                 {{domain}})",
                raw.name, raw.host
            )));
        }
        if raw.ports.as_ref().is_some_and(|ports| ports.contains(&0)) {
            return Err(UsageError::new(format!(
                "{origin_name}: target {}: port 0",
                raw.name
            )));
        }
    }
    Ok(file.target)
}

/// Loads the default catalog plus every `*.toml` file of `dir`, in name order.
pub fn load(dir: Option<&Path>) -> anyhow::Result<Vec<(String, String)>> {
    let mut sources = vec![("default catalog".to_string(), DEFAULT.to_string())];
    let Some(dir) = dir else {
        return Ok(sources);
    };
    let entries = std::fs::read_dir(dir)
        .map_err(|err| UsageError::new(format!("--probes {}: {err}", dir.display())))?;
    let mut paths: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    paths.sort();
    for path in paths {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))
            .map_err(|err| UsageError::new(crate::exit::one_line(&err)))?;
        sources.push((path.display().to_string(), text));
    }
    Ok(sources)
}

/// Names added on the command line.
#[derive(Debug, Clone, Default)]
pub struct Additions {
    /// `--target HOST|URL`.
    pub targets: Vec<String>,
    /// `--bucket NAME`.
    pub buckets: Vec<String>,
    /// `--foreign-object s3://BUCKET/KEY`.
    pub foreign_objects: Vec<String>,
}

/// Expands catalog sources and command-line additions into targets for one host.
pub fn expand(
    sources: &[(String, String)],
    additions: &Additions,
    context: &Context,
) -> anyhow::Result<Expanded> {
    let mut expanded = Expanded::default();
    let mut names: std::collections::HashMap<String, &str> = std::collections::HashMap::new();
    for (origin_name, text) in sources {
        for raw in parse(text, origin_name)? {
            if let Some(first) = names.insert(raw.name.clone(), origin_name) {
                return Err(UsageError::new(format!(
                    "{origin_name}: target {} is already defined in {first}",
                    raw.name
                )));
            }
            add_catalog_target(&mut expanded, raw, context);
        }
    }
    for given in &additions.targets {
        push_unique(&mut expanded, url_target(given)?);
    }
    for object in &additions.foreign_objects {
        match foreign_target(object, context)? {
            Some(target) => push_unique(&mut expanded, target),
            None => expanded.skipped.push(format!(
                "foreign object {object}: no region known (use --region)"
            )),
        }
    }
    for bucket in &additions.buckets {
        match bucket_target(bucket, context)? {
            Some(target) => push_unique(&mut expanded, target),
            None => expanded
                .skipped
                .push(format!("bucket {bucket}: no region known (use --region)")),
        }
    }
    Ok(expanded)
}

fn add_catalog_target(expanded: &mut Expanded, raw: RawTarget, context: &Context) {
    let needs_region = raw.host.contains("{region}")
        || raw.note.as_deref().is_some_and(|n| n.contains("{region}"));
    let region = match (&context.region, needs_region) {
        (Some(region), _) => region.as_str(),
        (None, false) => "",
        (None, true) => {
            expanded
                .skipped
                .push(format!("{}: no region known (use --region)", raw.name));
            return;
        }
    };
    let fill = |text: &str| {
        text.replace("{region}", region)
            .replace("{domain}", &context.domain)
    };
    let host = fill(&raw.host).to_ascii_lowercase();
    let expect_region = match raw.region.as_deref() {
        None | Some("instance") => ExpectRegion::Instance,
        Some("any") => ExpectRegion::Any,
        Some(named) => ExpectRegion::Named(named.to_string()),
    };
    let bucket = crate::aws::hostname::parse(&host).and_then(|info| info.bucket);
    let target = Target {
        name: raw.name,
        host,
        path: "/".into(),
        origin: Origin::Catalog,
        required: raw.required,
        expect_region,
        ports: raw.ports.unwrap_or_else(|| vec![80, 443]),
        note: raw.note.as_deref().map(fill),
        bucket,
        configured_scheme: None,
        canary: false,
    };
    push_unique(expanded, target);
}

fn user_target(name: String, host: String, path: String, bucket: Option<String>) -> Target {
    Target {
        name,
        host,
        path,
        origin: Origin::User,
        required: true,
        expect_region: ExpectRegion::Instance,
        ports: vec![80, 443],
        note: None,
        bucket,
        configured_scheme: None,
        canary: false,
    }
}

/// The target for `--bucket NAME`: virtual-hosted in the instance region, or path style when
/// the name has dots (no wildcard certificate covers a dotted bucket name).
fn bucket_target(bucket: &str, context: &Context) -> anyhow::Result<Option<Target>> {
    let valid = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && !bucket.starts_with(['.', '-'])
        && !bucket.ends_with(['.', '-']);
    if !valid {
        return Err(UsageError::new(format!(
            "bucket {bucket:?} (--bucket or a spec's buckets) is not a valid bucket name"
        )));
    }
    let Some(region) = &context.region else {
        return Ok(None);
    };
    let regional = format!("s3.{region}.{}", context.domain);
    let target = if bucket.contains('.') {
        let mut target = user_target(
            format!("bucket:{bucket}"),
            regional,
            format!("/{bucket}/"),
            Some(bucket.to_string()),
        );
        target.note =
            Some("path-style request: a dotted bucket name has no valid certificate".into());
        target
    } else {
        user_target(
            format!("bucket:{bucket}"),
            format!("{bucket}.{regional}"),
            "/".into(),
            Some(bucket.to_string()),
        )
    };
    Ok(Some(target))
}

/// `--target`: a hostname, or an `http://` / `https://` URL whose scheme is then the
/// configured one (so a plain-HTTP consumer is judged as such).
fn url_target(given: &str) -> anyhow::Result<Target> {
    if !given.contains("://") {
        let host = validate_host(given)?;
        return Ok(user_target(host.clone(), host, "/".into(), None));
    }
    let url = reqwest::Url::parse(given)
        .map_err(|err| UsageError::new(format!("--target {given:?}: {err}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UsageError::new(format!(
            "--target {given:?}: only http:// and https:// URLs"
        )));
    }
    let host = validate_host(url.host_str().unwrap_or_default())
        .map_err(|_| UsageError::new(format!("--target {given:?}: the URL needs a hostname")))?;
    if url.port().is_some() {
        return Err(UsageError::new(format!(
            "--target {given:?}: only the default ports (80 for http://, 443 for https://) \
             are probed; drop the port"
        )));
    }
    let path = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    };
    let mut target = user_target(given.to_string(), host.clone(), path, None);
    target.bucket = crate::aws::hostname::parse(&host).and_then(|info| info.bucket);
    target.configured_scheme = Some(url.scheme().to_string());
    // A consumer configured with a URL uses that scheme's port only.
    if url.scheme() == "http" {
        target.ports = vec![80];
        target.required = false;
    } else {
        target.ports = vec![443];
    }
    Ok(target)
}

/// `--foreign-object s3://BUCKET/KEY`: a public object in another account, probed as a
/// virtual-hosted GET in the instance region.
fn foreign_target(object: &str, context: &Context) -> anyhow::Result<Option<Target>> {
    let invalid = || UsageError::new(format!("--foreign-object {object:?}: give s3://BUCKET/KEY"));
    let rest = object.strip_prefix("s3://").ok_or_else(invalid)?;
    let (bucket, key) = rest.split_once('/').ok_or_else(invalid)?;
    if key.is_empty() || bucket.contains('.') {
        return Err(invalid());
    }
    let Some(mut target) = bucket_target(bucket, context)? else {
        return Ok(None);
    };
    target.name = format!("foreign-object:{bucket}/{key}");
    target.path = format!("/{key}");
    target.ports = vec![443];
    target.required = false;
    target.canary = true;
    Ok(Some(target))
}

fn validate_host(host: &str) -> anyhow::Result<String> {
    if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
        return Err(UsageError::new(format!(
            "--target {host:?} is an address: give the hostname clients use"
        )));
    }
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    let ok = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if ok {
        Ok(host)
    } else {
        Err(UsageError::new(format!(
            "--target {host:?} is not a hostname"
        )))
    }
}

fn push_unique(expanded: &mut Expanded, target: Target) {
    let duplicate = expanded
        .targets
        .iter()
        .any(|known| known.host == target.host && known.path == target.path);
    if !duplicate {
        expanded.targets.push(target);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(region: Option<&str>) -> Context {
        Context {
            region: region.map(str::to_string),
            domain: "amazonaws.com".into(),
        }
    }

    fn with_buckets(buckets: &[&str]) -> Additions {
        Additions {
            buckets: buckets.iter().map(|b| b.to_string()).collect(),
            ..Additions::default()
        }
    }

    #[test]
    fn default_catalog_expands_for_a_region() {
        let sources = load(None).unwrap();
        let expanded =
            expand(&sources, &Additions::default(), &context(Some("eu-west-1"))).unwrap();
        let hosts: Vec<&str> = expanded.targets.iter().map(|t| t.host.as_str()).collect();
        assert!(hosts.contains(&"s3.eu-west-1.amazonaws.com"));
        assert!(
            hosts.contains(&"al2023-repos-eu-west-1-de612dc2.s3.dualstack.eu-west-1.amazonaws.com")
        );
        assert!(expanded.targets[0].required);
        let global = expanded
            .targets
            .iter()
            .find(|t| t.name == "s3-global")
            .unwrap();
        assert_eq!(global.expect_region, ExpectRegion::Any);
        let al2023 = expanded
            .targets
            .iter()
            .find(|t| t.name == "al2023-repo")
            .unwrap();
        assert_eq!(
            al2023.bucket.as_deref(),
            Some("al2023-repos-eu-west-1-de612dc2")
        );
        assert!(expanded.skipped.is_empty());
    }

    #[test]
    fn a_target_url_keeps_its_path_and_scheme() {
        let targets = [
            "http://s3.us-west-2.amazonaws.com/pubbkt/".to_string(),
            "Repo.example.com".to_string(),
        ];
        let additions = Additions {
            targets: targets.to_vec(),
            ..Additions::default()
        };
        let expanded = expand(&[], &additions, &context(Some("us-west-2"))).unwrap();
        let url = &expanded.targets[0];
        assert_eq!(url.name, "http://s3.us-west-2.amazonaws.com/pubbkt/");
        assert_eq!(
            (url.host.as_str(), url.path.as_str()),
            ("s3.us-west-2.amazonaws.com", "/pubbkt/")
        );
        assert_eq!(url.configured_scheme.as_deref(), Some("http"));
        assert_eq!(expanded.targets[1].configured_scheme, None);
        for bad in ["ftp://s3.amazonaws.com/", "http://bad_host!/"] {
            let additions = Additions {
                targets: vec![bad.to_string()],
                ..Additions::default()
            };
            let err = expand(&[], &additions, &context(None)).unwrap_err();
            assert_eq!(
                crate::exit::Status::of_error(&err),
                crate::exit::Status::Usage
            );
        }
    }

    #[test]
    fn without_a_region_only_global_names_remain() {
        let sources = load(None).unwrap();
        let expanded = expand(&sources, &with_buckets(&["mybucket"]), &context(None)).unwrap();
        let names: Vec<&str> = expanded.targets.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["s3-global", "sts-global", "ip-ranges"]);
        assert_eq!(expanded.skipped.len(), 6);
    }

    #[test]
    fn buckets_with_dots_fall_back_to_path_style() {
        let sources = load(None).unwrap();
        let additions = with_buckets(&["plain-bucket", "images.example.com"]);
        let expanded = expand(&sources, &additions, &context(Some("us-west-2"))).unwrap();
        let plain = expanded
            .targets
            .iter()
            .find(|t| t.name == "bucket:plain-bucket")
            .unwrap();
        assert_eq!(plain.host, "plain-bucket.s3.us-west-2.amazonaws.com");
        let dotted = expanded
            .targets
            .iter()
            .find(|t| t.name == "bucket:images.example.com")
            .unwrap();
        assert_eq!(dotted.host, "s3.us-west-2.amazonaws.com");
        assert_eq!(dotted.path, "/images.example.com/");
    }

    #[test]
    fn bad_catalogs_and_flags_are_usage_errors() {
        let bad = [(
            "x.toml".to_string(),
            "[[target]]\nname = \"a\"\nhots = \"b\"".to_string(),
        )];
        let err = expand(&bad, &Additions::default(), &context(None)).unwrap_err();
        assert!(err.to_string().contains("x.toml"), "{err}");
        assert_eq!(
            crate::exit::Status::of_error(&err),
            crate::exit::Status::Usage
        );
        let target = |t: &str| Additions {
            targets: vec![t.to_string()],
            ..Additions::default()
        };
        for additions in [
            target("bad host"),
            target("-x"),
            target("203.0.113.10"),
            target("ftp://host/x"),
            with_buckets(&["UPPER"]),
            Additions {
                foreign_objects: vec!["s3://only-bucket".into()],
                ..Additions::default()
            },
        ] {
            let result = expand(&[], &additions, &context(Some("us-west-2")));
            assert!(result.is_err(), "{additions:?}");
        }
    }

    #[test]
    fn a_name_defined_in_two_sources_is_a_usage_error() {
        let mine = (
            "mine.toml".to_string(),
            "[[target]]\nname = \"s3-regional\"\nhost = \"example.com\"".to_string(),
        );
        let sources = vec![load(None).unwrap().remove(0), mine];
        let err = expand(&sources, &Additions::default(), &context(None)).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("mine.toml: target s3-regional is already defined")
        );
    }

    #[test]
    fn private_dns_table_is_dated_and_complete() {
        let regional = private_dns_coverage("s3-regional").unwrap();
        assert!(regional.covered);
        assert_eq!(regional.as_of, "2023-06-15");
        assert!(!private_dns_coverage("s3-dualstack").unwrap().covered);
        assert!(!private_dns_coverage("s3-fips").unwrap().covered);
        assert!(private_dns_coverage("sts-regional").is_none());
    }

    #[test]
    fn url_targets_keep_their_scheme_and_path() {
        let additions = Additions {
            targets: vec![
                "http://mirror.example.com/repo/".into(),
                "https://b.s3.us-west-2.amazonaws.com/k".into(),
            ],
            foreign_objects: vec!["s3://their-bucket/public.txt".into()],
            ..Additions::default()
        };
        let expanded = expand(&[], &additions, &context(Some("us-west-2"))).unwrap();
        let plain = &expanded.targets[0];
        assert_eq!(
            (plain.host.as_str(), plain.path.as_str()),
            ("mirror.example.com", "/repo/")
        );
        assert_eq!(plain.configured_scheme.as_deref(), Some("http"));
        assert_eq!(plain.ports, [80]);
        assert_eq!(expanded.targets[1].bucket.as_deref(), Some("b"));
        assert_eq!(expanded.targets[1].ports, [443]);
        let with_query = Additions {
            targets: vec!["https://sts.amazonaws.com/x?y=1".into()],
            ..Additions::default()
        };
        let expanded_query = expand(&[], &with_query, &context(None)).unwrap();
        assert_eq!(expanded_query.targets[0].path, "/x?y=1");
        let with_port = Additions {
            targets: vec!["http://s3.us-west-2.amazonaws.com:8080/p".into()],
            ..Additions::default()
        };
        assert!(expand(&[], &with_port, &context(None)).is_err());
        let canary = &expanded.targets[2];
        assert!(canary.canary);
        assert_eq!(canary.host, "their-bucket.s3.us-west-2.amazonaws.com");
        assert_eq!(canary.path, "/public.txt");
    }
}
