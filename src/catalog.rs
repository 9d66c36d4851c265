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
    for raw in &file.target {
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

/// Expands catalog sources and command-line additions into targets for one host.
pub fn expand(
    sources: &[(String, String)],
    extra_hosts: &[String],
    buckets: &[String],
    context: &Context,
) -> anyhow::Result<Expanded> {
    let mut expanded = Expanded::default();
    for (origin_name, text) in sources {
        for raw in parse(text, origin_name)? {
            add_catalog_target(&mut expanded, raw, context);
        }
    }
    for host in extra_hosts {
        let target = if host.contains("://") {
            url_target(host)?
        } else {
            let host = validate_host(host)?;
            user_target(host.clone(), host, "/".into(), None)
        };
        push_unique(&mut expanded, target);
    }
    for bucket in buckets {
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
    }
}

/// The target for `--target URL`: its host and path, and the scheme a consumer is configured
/// with (an `http://` one sends its requests in clear).
fn url_target(raw: &str) -> anyhow::Result<Target> {
    let url = reqwest::Url::parse(raw.trim())
        .map_err(|err| UsageError::new(format!("--target {raw:?}: {err}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UsageError::new(format!(
            "--target {raw:?}: give a hostname or an http:// or https:// URL"
        )));
    }
    let host = validate_host(url.host_str().unwrap_or_default())?;
    let mut target = user_target(raw.trim().to_string(), host, url.path().to_string(), None);
    target.configured_scheme = Some(url.scheme().to_string());
    Ok(target)
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
            "--bucket {bucket:?} is not a valid bucket name"
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

fn validate_host(host: &str) -> anyhow::Result<String> {
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    let ok = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
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

    #[test]
    fn default_catalog_expands_for_a_region() {
        let sources = load(None).unwrap();
        let expanded = expand(&sources, &[], &[], &context(Some("eu-west-1"))).unwrap();
        let hosts: Vec<&str> = expanded.targets.iter().map(|t| t.host.as_str()).collect();
        assert!(hosts.contains(&"s3.eu-west-1.amazonaws.com"));
        assert!(
            hosts.contains(&"al2023-repos-eu-west-1-de612dc2.s3.dualstack.eu-west-1.amazonaws.com")
        );
        let regional = &expanded.targets[0];
        assert!(regional.required);
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
        let expanded = expand(&[], &targets, &[], &context(Some("us-west-2"))).unwrap();
        let url = &expanded.targets[0];
        assert_eq!(url.name, "http://s3.us-west-2.amazonaws.com/pubbkt/");
        assert_eq!(
            (url.host.as_str(), url.path.as_str()),
            ("s3.us-west-2.amazonaws.com", "/pubbkt/")
        );
        assert_eq!(url.configured_scheme.as_deref(), Some("http"));
        assert_eq!(expanded.targets[1].configured_scheme, None);
        for bad in ["ftp://s3.amazonaws.com/", "http://bad_host!/"] {
            let err = expand(&[], &[bad.to_string()], &[], &context(None)).unwrap_err();
            assert_eq!(
                crate::exit::Status::of_error(&err),
                crate::exit::Status::Usage
            );
        }
    }

    #[test]
    fn without_a_region_only_global_names_remain() {
        let sources = load(None).unwrap();
        let expanded = expand(&sources, &[], &["mybucket".into()], &context(None)).unwrap();
        let names: Vec<&str> = expanded.targets.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["s3-global", "sts-global", "ip-ranges"]);
        assert_eq!(expanded.skipped.len(), 6);
    }

    #[test]
    fn buckets_with_dots_fall_back_to_path_style() {
        let sources = load(None).unwrap();
        let buckets = ["plain-bucket".to_string(), "images.example.com".to_string()];
        let expanded = expand(&sources, &[], &buckets, &context(Some("us-west-2"))).unwrap();
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
        assert_eq!(
            (dotted.host.as_str(), dotted.path.as_str()),
            ("s3.us-west-2.amazonaws.com", "/images.example.com/")
        );
    }

    #[test]
    fn bad_catalogs_and_flags_are_usage_errors() {
        let bad = [(
            "x.toml".to_string(),
            "[[target]]\nname = \"a\"\nhots = \"b\"".to_string(),
        )];
        let err = expand(&bad, &[], &[], &context(None)).unwrap_err();
        assert!(err.to_string().contains("x.toml"), "{err}");
        assert_eq!(
            crate::exit::Status::of_error(&err),
            crate::exit::Status::Usage
        );
        assert!(expand(&[], &["bad host".into()], &[], &context(None)).is_err());
        assert!(expand(&[], &[], &["UPPER".into()], &context(None)).is_err());
    }
}
