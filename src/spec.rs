//! Bake specs: a TOML file of what must hold on a host (allowed regions, no plaintext, the path
//! each target takes, reachability) plus targets of the user's own, and the evaluation of each
//! expectation against a report as pass, fail or skip with its reason.
//!
//! The `[[target]]` tables have the form of the probe catalog (`probes/*.toml`); `buckets` adds
//! buckets as `--bucket` does; every `[[expect]]` table holds one expectation over `targets`.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;

use crate::exit::UsageError;
use crate::report::CheckReport;
use crate::report::TargetDto;
use crate::report::expectation::{ExpectationDto, SpecDto, Status};

/// The path verdicts a spec may name.
pub const PATH_VERDICTS: &[&str] = &[
    "interface-endpoint",
    "gateway-endpoint",
    "gateway-endpoint-or-internet-gateway",
    "internet-gateway",
    "nat",
    "blocked",
    "unknown",
];

/// A loaded spec.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The file as given, for the report.
    pub file: String,
    /// The spec's `[[target]]` tables as catalog text, when it has any.
    pub catalog: Option<String>,
    /// Buckets to probe, as `--bucket` adds them.
    pub buckets: Vec<String>,
    /// The expectations, in file order.
    pub rules: Vec<Rule>,
}

/// One `[[expect]]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The `name` the spec gave it.
    pub label: Option<String>,
    /// Which targets it applies to.
    pub selectors: Vec<Selector>,
    /// What must hold.
    pub check: Check,
}

/// What an expectation asks of a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Every address is in one of these regions (`instance` is the instance's).
    Regions(Vec<String>),
    /// Nothing is exchanged in clear.
    NoPlaintext,
    /// The path verdict is one of these.
    Path(Vec<String>),
    /// The port answers (`true`) or does not (`false`).
    Reachable { port: u16, want: bool },
}

impl Check {
    fn kind(&self) -> &'static str {
        match self {
            Check::Regions(_) => "regions",
            Check::NoPlaintext => "plaintext",
            Check::Path(_) => "path",
            Check::Reachable { .. } => "reachable",
        }
    }
}

/// Which targets an expectation applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// `*`: every target of the run.
    All,
    /// `origin:catalog`, `origin:yum` or `origin:user`.
    Origin(String),
    /// A name with `*` wildcards.
    Glob(String),
    /// One target by name.
    Name(String),
}

impl Selector {
    fn parse(text: &str) -> Selector {
        match text {
            "*" => Selector::All,
            _ if text.starts_with("origin:") => Selector::Origin(text["origin:".len()..].into()),
            _ if text.contains('*') => Selector::Glob(text.to_string()),
            _ => Selector::Name(text.to_string()),
        }
    }

    fn matches(&self, target: &TargetDto) -> bool {
        match self {
            Selector::All => true,
            Selector::Origin(origin) => target.origin == origin,
            Selector::Glob(pattern) => wildcard(pattern, &target.name),
            Selector::Name(name) => target.name == *name,
        }
    }

    fn text(&self) -> String {
        match self {
            Selector::All => "*".into(),
            Selector::Origin(origin) => format!("origin:{origin}"),
            Selector::Glob(text) | Selector::Name(text) => text.clone(),
        }
    }
}

/// Matches `text` against `pattern`, where `*` stands for any run of characters.
fn wildcard(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if parts.len() == 1 {
        return pattern == text;
    }
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

/// A string or a list of strings.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(one) => vec![one],
            OneOrMany::Many(many) => many,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    #[serde(default)]
    target: Vec<toml::Table>,
    #[serde(default)]
    buckets: Vec<String>,
    #[serde(default)]
    expect: Vec<RawExpect>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    name: Option<String>,
    targets: Option<OneOrMany>,
    regions: Option<OneOrMany>,
    plaintext: Option<bool>,
    path: Option<OneOrMany>,
    reachable: Option<bool>,
    port: Option<u16>,
}

impl Spec {
    /// Reads and checks a spec file; every problem is a usage error naming the file.
    pub fn load(path: &Path) -> anyhow::Result<Spec> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| UsageError::new(format!("--spec {}: {err}", path.display())))?;
        Spec::parse(&text, &path.display().to_string())
    }

    /// Parses a spec's text; `file` names it in errors and in the report.
    pub fn parse(text: &str, file: &str) -> anyhow::Result<Spec> {
        let raw: RawSpec = toml::from_str(text)
            .map_err(|err| UsageError::new(format!("{file}: {}", err.message().trim())))?;

        let catalog = if raw.target.is_empty() {
            None
        } else {
            let mut table = toml::Table::new();
            table.insert(
                "target".into(),
                toml::Value::Array(raw.target.into_iter().map(toml::Value::Table).collect()),
            );
            Some(toml::to_string(&table).map_err(|err| UsageError::new(format!("{file}: {err}")))?)
        };

        let rules = raw
            .expect
            .into_iter()
            .enumerate()
            .map(|(index, expect)| {
                rule(expect).map_err(|why| {
                    UsageError::new(format!("{file}: expectation {}: {why}", index + 1))
                })
            })
            .collect::<anyhow::Result<Vec<Rule>>>()?;
        if rules.is_empty() {
            return Err(UsageError::new(format!(
                "{file}: no [[expect]] table: the spec expects nothing"
            )));
        }

        Ok(Spec {
            file: file.to_string(),
            catalog,
            buckets: raw.buckets,
            rules,
        })
    }

    /// The spec's targets as an extra catalog source (name, text), for `catalog::expand`.
    pub fn catalog_source(&self) -> Option<(String, String)> {
        self.catalog.clone().map(|text| (self.file.clone(), text))
    }

    /// Evaluates every expectation against the report.
    pub fn evaluate(&self, report: &CheckReport, strict: bool) -> SpecDto {
        let mut expectations = Vec::new();
        for rule in &self.rules {
            evaluate_rule(rule, report, &mut expectations);
        }
        SpecDto::new(self.file.clone(), strict, expectations)
    }
}

/// Checks one `[[expect]]` table and turns it into a rule.
fn rule(raw: RawExpect) -> Result<Rule, String> {
    let given = [
        raw.regions.is_some(),
        raw.plaintext.is_some(),
        raw.path.is_some(),
        raw.reachable.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err("give exactly one of regions, plaintext, path, reachable".into());
    }
    if raw.port.is_some() && raw.reachable.is_none() {
        return Err("port goes with reachable only".into());
    }

    let check = if let Some(regions) = raw.regions {
        let regions = regions.into_vec();
        for region in &regions {
            if region != "instance"
                && region != "GLOBAL"
                && !crate::aws::hostname::is_region(region)
            {
                return Err(format!(
                    "regions: {region:?} is not a region name, `instance` or `GLOBAL`"
                ));
            }
        }
        if regions.is_empty() {
            return Err("regions: name at least one region".into());
        }
        Check::Regions(regions)
    } else if let Some(plaintext) = raw.plaintext {
        if plaintext {
            return Err(
                "plaintext = true expects nothing; write plaintext = false or leave it out".into(),
            );
        }
        Check::NoPlaintext
    } else if let Some(path) = raw.path {
        let verdicts = path.into_vec();
        if let Some(bad) = verdicts
            .iter()
            .find(|v| !PATH_VERDICTS.contains(&v.as_str()))
        {
            return Err(format!(
                "path: {bad:?} is not a path verdict (one of {})",
                PATH_VERDICTS.join(", ")
            ));
        }
        if verdicts.is_empty() {
            return Err("path: name at least one verdict".into());
        }
        Check::Path(verdicts)
    } else {
        let port = raw.port.unwrap_or(443);
        if port == 0 {
            return Err("port 0".into());
        }
        Check::Reachable {
            port,
            want: raw.reachable.unwrap_or(true),
        }
    };

    let selectors: Vec<Selector> = raw
        .targets
        .map(OneOrMany::into_vec)
        .unwrap_or_else(|| vec!["*".into()])
        .iter()
        .map(|text| Selector::parse(text.trim()))
        .collect();
    if selectors.is_empty() {
        return Err("targets: name at least one target, or leave it out for every target".into());
    }
    if let Some(Selector::Origin(bad)) = selectors.iter().find(
        |s| matches!(s, Selector::Origin(o) if !["catalog", "yum", "user"].contains(&o.as_str())),
    ) {
        return Err(format!(
            "targets: origin:{bad} (origin is catalog, yum or user)"
        ));
    }

    Ok(Rule {
        label: raw.name,
        selectors,
        check,
    })
}

/// Adds one expectation per target the rule selects, and a skipped one per selector that
/// selects nothing.
fn evaluate_rule(rule: &Rule, report: &CheckReport, out: &mut Vec<ExpectationDto>) {
    let mut seen = BTreeSet::new();
    for selector in &rule.selectors {
        let chosen: Vec<&TargetDto> = report
            .targets
            .iter()
            .filter(|t| selector.matches(t))
            .collect();
        if chosen.is_empty() {
            let reason = not_probed(selector, report);
            out.push(expectation(rule, &selector.text(), Status::Skip, reason));
            continue;
        }
        for target in chosen {
            if !seen.insert(target.name.clone()) {
                continue;
            }
            let (status, reason) = judge(&rule.check, target, report);
            out.push(expectation(rule, &target.name, status, reason));
        }
    }
}

fn expectation(rule: &Rule, target: &str, status: Status, reason: String) -> ExpectationDto {
    let id = match rule.check {
        Check::Reachable { port, .. } => format!("reachable {target}:{port}"),
        _ => format!("{} {target}", rule.check.kind()),
    };
    ExpectationDto {
        id,
        kind: rule.check.kind(),
        label: rule.label.clone(),
        target: target.to_string(),
        status,
        reason,
    }
}

/// Why a selector matched no target: the catalog's own reason when it left the name out.
fn not_probed(selector: &Selector, report: &CheckReport) -> String {
    if let Selector::Name(name) = selector
        && let Some(line) = report.skipped.iter().find(|line| {
            line.starts_with(&format!("{name}:"))
                || line.starts_with(&format!("bucket {}:", name.trim_start_matches("bucket:")))
        })
    {
        return format!("not probed: {line}");
    }
    format!("no target matches {} in this run", selector.text())
}

/// Decides one expectation for one target.
fn judge(check: &Check, target: &TargetDto, report: &CheckReport) -> (Status, String) {
    match check {
        Check::Regions(allowed) => regions(allowed, target, report),
        Check::NoPlaintext => plaintext(target),
        Check::Path(verdicts) => path(verdicts, target),
        Check::Reachable { port, want } => reachable(*port, *want, target),
    }
}

fn dns_failed(target: &TargetDto) -> Option<String> {
    target.dns.addresses.is_empty().then(|| {
        format!(
            "the name did not resolve ({})",
            target.dns.error.unwrap_or("no address")
        )
    })
}

fn regions(allowed: &[String], target: &TargetDto, report: &CheckReport) -> (Status, String) {
    if let Some(why) = dns_failed(target) {
        return (Status::Skip, why);
    }
    let home = report.host.region.as_deref();

    // The regions the traffic reaches: attributed addresses, interface endpoints in the VPC,
    // and a redirect to a bucket's region.
    let mut observed: BTreeSet<String> = BTreeSet::new();
    let mut global = false;
    for address in &target.dns.addresses {
        match (&address.aws, address.in_vpc, home) {
            (Some(aws), _, _) if aws.region == "GLOBAL" => global = true,
            (Some(aws), _, _) => {
                observed.insert(aws.region.clone());
            }
            (None, true, Some(home)) => {
                observed.insert(home.to_string());
            }
            _ => {}
        }
    }
    for port in &target.ports {
        if let Some(http) = &port.http
            && http.status == Some(301)
            && let Some(region) = &http.bucket_region
        {
            observed.insert(region.clone());
        }
    }

    if observed.is_empty() {
        return match (report.ip_ranges.source, global) {
            (_, true) => (
                Status::Pass,
                "served from GLOBAL (edge) addresses only".into(),
            ),
            ("none", false) => (
                Status::Skip,
                "no ip-ranges data to attribute the addresses (use --ip-ranges)".into(),
            ),
            _ => (Status::Skip, "no address is attributed to a region".into()),
        };
    }
    if allowed.iter().any(|a| a == "instance") && home.is_none() {
        return (
            Status::Skip,
            "the instance region is unknown (use --region)".into(),
        );
    }
    let allowed: BTreeSet<&str> = allowed
        .iter()
        .map(|a| {
            if a == "instance" {
                home.unwrap_or("")
            } else {
                a.as_str()
            }
        })
        .collect();
    let outside: Vec<&str> = observed
        .iter()
        .map(String::as_str)
        .filter(|r| !allowed.contains(r))
        .collect();
    let observed_list = observed.iter().cloned().collect::<Vec<_>>().join(", ");
    if outside.is_empty() {
        (Status::Pass, format!("reaches {observed_list}"))
    } else {
        let allowed_list = allowed.into_iter().collect::<Vec<_>>().join(", ");
        (
            Status::Fail,
            format!("reaches {} (allowed: {allowed_list})", outside.join(", ")),
        )
    }
}

fn plaintext(target: &TargetDto) -> (Status, String) {
    if target.plaintext {
        let address = target
            .ports
            .iter()
            .find(|p| p.plaintext)
            .map(|p| p.address.as_str())
            .unwrap_or("-");
        return (
            Status::Fail,
            format!(
                "configured with http:// and port 80 at {address} answered: \
                 requests travel in clear"
            ),
        );
    }
    if let Some(why) = dns_failed(target) {
        return (Status::Skip, why);
    }
    if target.ports.iter().any(|p| p.plaintext) {
        (
            Status::Pass,
            "port 80 answers, but nothing is configured to use http://".into(),
        )
    } else {
        (Status::Pass, "no exchange in clear".into())
    }
}

fn path(allowed: &[String], target: &TargetDto) -> (Status, String) {
    let Some(route) = &target.path else {
        return (Status::Skip, "no path verdict in this run".into());
    };
    let verdict = route.verdict;
    let allowed_list = allowed.join(" or ");
    let because = if route.evidence.is_empty() {
        String::new()
    } else {
        format!(" ({})", route.evidence.join("; "))
    };
    if allowed.iter().any(|a| a == verdict) {
        return (Status::Pass, format!("leaves through {verdict}{because}"));
    }
    let either = ["gateway-endpoint", "internet-gateway"];
    match verdict {
        "unknown" => (Status::Skip, format!("the path could not be told{because}")),
        "gateway-endpoint-or-internet-gateway"
            if either.iter().any(|e| allowed.iter().any(|a| a == e)) =>
        {
            (
                Status::Skip,
                format!(
                    "leaves through a gateway endpoint or an internet gateway; \
                     this run cannot tell which{because}"
                ),
            )
        }
        _ => (
            Status::Fail,
            format!("leaves through {verdict}, expected {allowed_list}{because}"),
        ),
    }
}

fn reachable(port: u16, want: bool, target: &TargetDto) -> (Status, String) {
    if let Some(why) = dns_failed(target) {
        return if want {
            (Status::Fail, why)
        } else {
            (Status::Pass, format!("not reachable: {why}"))
        };
    }
    let tried: Vec<_> = target.ports.iter().filter(|p| p.port == port).collect();
    if tried.is_empty() {
        return (
            Status::Skip,
            format!("port {port} was not probed for this target"),
        );
    }
    let answered = tried.iter().find(|p| p.tcp.ok);
    match (answered, want) {
        (Some(p), true) => (
            Status::Pass,
            format!("{} answered on {port} in {:.0} ms", p.address, p.tcp.ms),
        ),
        (Some(p), false) => (
            Status::Fail,
            format!("{} answered on {port}; expected no answer", p.address),
        ),
        (None, _) => {
            let classes: BTreeSet<&str> = tried.iter().filter_map(|p| p.tcp.error).collect();
            let why = format!(
                "no address answered on {port} ({})",
                classes.into_iter().collect::<Vec<_>>().join(", ")
            );
            if want {
                (Status::Fail, why)
            } else {
                (Status::Pass, why)
            }
        }
    }
}

/// Evaluates the spec into the report; a failing spec makes the run's exit code 1.
pub fn apply(spec: &Spec, strict: bool, report: &mut CheckReport) {
    let block = spec.evaluate(report, strict);
    if block.failing {
        report.summary.exit_code = crate::exit::Status::Failing as u8;
    }
    report.spec = Some(block);
}

#[cfg(test)]
mod tests;
