//! Repositories as the package manager sees them: their URLs as configured and expanded, the
//! order in which they are tried, the repomd.xml request, and the problems of each one.

use reqwest::Url;
use serde::Serialize;

use crate::yum::buckets::{self, HostKind};
use crate::yum::config::{self, Section};
use crate::yum::vars::Vars;

/// Which package manager reads the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Manager {
    /// yum 3 (Amazon Linux 1 and 2, CentOS 7).
    Yum,
    /// dnf (Amazon Linux 2023, Fedora, RHEL 8+ and rebuilds).
    Dnf,
}

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; nothing is wrong.
    Info,
    /// The package manager works, but not as the user may think (plaintext, proxy).
    Warning,
    /// The package manager will fail or use the wrong place.
    Error,
}

/// A problem with one repository (or with the configuration as a whole).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// How bad it is.
    pub severity: Severity,
    /// A stable short code, e.g. `unknown-variable`.
    pub code: &'static str,
    /// What is wrong, in one sentence.
    pub message: String,
    /// What to change, when there is a clear fix.
    pub fix: Option<String>,
}

impl Problem {
    /// A problem without a fix.
    pub fn new(severity: Severity, code: &'static str, message: impl Into<String>) -> Problem {
        Problem {
            severity,
            code,
            message: message.into(),
            fix: None,
        }
    }

    /// The same problem with a fix.
    pub fn with_fix(mut self, fix: impl Into<String>) -> Problem {
        self.fix = Some(fix.into());
        self
    }
}

/// Which option a URL was configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UrlKind {
    /// `baseurl`: a repository root.
    Baseurl,
    /// `mirrorlist`: a list of repository roots, one per line.
    Mirrorlist,
    /// `metalink`: an XML list of `repomd.xml` locations.
    Metalink,
}

/// One configured URL, before and after substitution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepoUrl {
    /// The option it came from.
    pub kind: UrlKind,
    /// As written in the file.
    pub configured: String,
    /// After variable substitution (and the RHUI `REGION` placeholder, when a region is known).
    pub expanded: String,
    /// The scheme of the expanded URL (`http`, `https`, `file`, `ftp`, ...), lower-case.
    pub scheme: String,
    /// The host of the expanded URL.
    pub host: Option<String>,
}

impl RepoUrl {
    /// The expanded URL parsed, when it parses.
    pub fn url(&self) -> Option<Url> {
        Url::parse(&self.expanded).ok()
    }
}

/// One step of the package manager's plan for a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Fetch a mirror list or metalink, then try each mirror it names in order.
    List(RepoUrl),
    /// Try this repository root.
    Base(RepoUrl),
}

/// One repository section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    /// The id between brackets.
    pub id: String,
    /// `name=`, expanded.
    pub name: Option<String>,
    /// Whether the package manager uses it.
    pub enabled: bool,
    /// The file, by its path inside the root.
    pub file: String,
    /// The line of the section header.
    pub line: usize,
    /// Every configured URL: base URLs in order, then the mirror list, then the metalink.
    pub urls: Vec<RepoUrl>,
    /// The proxy its traffic leaves through (`proxy=` here, else in the main configuration).
    pub proxy: Option<String>,
    /// `report_instanceid=yes`: Amazon Linux adds the instance id to repomd.xml requests.
    pub report_instanceid: bool,
    /// Variables used in its URLs that nothing sets, as the package manager leaves them.
    pub unexpanded: Vec<String>,
    /// The Amazon Linux generation its URLs point to, when the catalog knows.
    pub generation: Option<String>,
    /// What is wrong with it.
    pub problems: Vec<Problem>,
}

/// What a repository is built from besides its own section.
pub struct Context<'a> {
    /// The package manager.
    pub manager: Manager,
    /// The variables.
    pub vars: &'a Vars,
    /// The main configuration's `proxy=`.
    pub main_proxy: Option<&'a str>,
    /// The region to put in the RHUI `REGION` placeholder (what the amazon-id plugin does).
    pub region: Option<&'a str>,
    /// The instance's region as discovery sees it, to spot URLs in another region.
    pub home: Option<&'a str>,
}

impl Repo {
    /// Builds a repository from its section, substituting variables and recording problems.
    pub fn from_section(section: &Section, file: &str, context: &Context) -> Repo {
        let mut repo = Repo {
            id: section.name.clone(),
            name: section
                .get("name")
                .map(|name| context.vars.expand(name).text),
            enabled: true,
            file: file.to_string(),
            line: section.line,
            urls: Vec::new(),
            proxy: None,
            report_instanceid: false,
            unexpanded: Vec::new(),
            generation: None,
            problems: Vec::new(),
        };

        repo.read_syntax(section);
        repo.enabled = repo.flag(section, "enabled", true);
        repo.report_instanceid = repo.flag(section, "report_instanceid", false);
        repo.proxy = effective_proxy(section.get("proxy"), context.main_proxy);
        repo.read_urls(section, context);
        repo.generation = repo.urls.iter().find_map(generation_of);
        repo
    }

    fn read_syntax(&mut self, section: &Section) {
        for problem in &section.problems {
            let mut message = format!("{} line {}: {}", self.file, problem.line, problem.message);
            let severity = if problem.fatal {
                message.push_str(": yum and dnf refuse the whole file");
                Severity::Error
            } else {
                Severity::Warning
            };
            self.problems
                .push(Problem::new(severity, "malformed-file", message));
        }
        for (key, lines) in section.duplicate_keys() {
            let lines: Vec<String> = lines.iter().map(usize::to_string).collect();
            let message = format!(
                "`{key}` is set {} times (lines {}): the last one is used",
                lines.len(),
                lines.join(", ")
            );
            self.problems
                .push(Problem::new(Severity::Warning, "duplicate-key", message));
        }
    }

    fn flag(&mut self, section: &Section, key: &str, default: bool) -> bool {
        let Some(setting) = section.setting(key) else {
            return default;
        };
        match config::boolean(&setting.value) {
            Some(value) => value,
            None => {
                let message = format!(
                    "{} line {}: `{key}={}` is not a boolean: the package manager rejects it",
                    self.file, setting.line, setting.value
                );
                self.problems
                    .push(Problem::new(Severity::Error, "invalid-boolean", message));
                default
            }
        }
    }

    fn read_urls(&mut self, section: &Section, context: &Context) {
        let base = section.get("baseurl").map(config::list).unwrap_or_default();
        let mut configured: Vec<(UrlKind, String)> = base
            .into_iter()
            .map(|url| (UrlKind::Baseurl, url))
            .collect();
        for (key, kind) in [
            ("mirrorlist", UrlKind::Mirrorlist),
            ("metalink", UrlKind::Metalink),
        ] {
            if let Some(value) = section.get(key).filter(|value| !value.is_empty()) {
                configured.push((kind, value.trim().to_string()));
            }
        }
        if configured.is_empty() {
            let message = "no baseurl, mirrorlist or metalink: the package manager cannot use it";
            self.problems
                .push(Problem::new(Severity::Error, "no-url", message));
        }

        for (kind, url) in configured {
            let repo_url = self.expand_url(kind, &url, context);
            self.check_scheme(&repo_url, context.home);
            self.urls.push(repo_url);
        }
        self.check_variables(context);
    }

    fn expand_url(&mut self, kind: UrlKind, configured: &str, context: &Context) -> RepoUrl {
        let expanded = context.vars.expand(configured);
        for name in expanded.unknown {
            if !self.unexpanded.contains(&name) {
                self.unexpanded.push(name);
            }
        }
        let text = self.fill_region_placeholder(expanded.text, context.region);
        let parsed = Url::parse(&text);
        let (scheme, host) = match &parsed {
            Ok(url) => (url.scheme().to_string(), url.host_str().map(str::to_string)),
            Err(_) => {
                let scheme = text.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
                (scheme.unwrap_or_default(), None)
            }
        };
        RepoUrl {
            kind,
            configured: configured.to_string(),
            expanded: text,
            scheme,
            host,
        }
    }

    /// RHEL on AWS writes a literal `REGION` label that the amazon-id plugin replaces at run
    /// time from the instance identity (GovCloud regions use the nearest commercial one).
    fn fill_region_placeholder(&mut self, text: String, region: Option<&str>) -> String {
        let Some((scheme, rest)) = text.split_once("://") else {
            return text;
        };
        let host_end = rest.find(['/', '?', ':']).unwrap_or(rest.len());
        let host = &rest[..host_end];
        if !host.split('.').any(|label| label == "REGION") {
            return text;
        }
        let Some(region) = region else {
            let message = format!(
                "`{host}` has the REGION placeholder that dnf's amazon-id plugin fills from the \
                 instance identity; no region is known here"
            );
            self.problems.push(
                Problem::new(Severity::Info, "region-placeholder", message)
                    .with_fix("pass --region to see the name the plugin would use"),
            );
            return text;
        };
        let used = match region {
            "us-gov-west-1" => "us-west-2",
            "us-gov-east-1" => "us-east-2",
            other => other,
        };
        let host = host
            .split('.')
            .map(|label| if label == "REGION" { used } else { label })
            .collect::<Vec<_>>()
            .join(".");
        format!("{scheme}://{host}{}", &rest[host_end..])
    }

    fn check_scheme(&mut self, url: &RepoUrl, home: Option<&str>) {
        let what = match url.kind {
            UrlKind::Baseurl => "base URL",
            UrlKind::Mirrorlist => "mirror list",
            UrlKind::Metalink => "metalink",
        };
        match url.scheme.as_str() {
            "https" => {}
            "http" => {
                let mut message = format!("the {what} {} is fetched in clear", url.expanded);
                if let Some(HostKind::S3(bucket)) = url.url().map(|u| buckets::host_kind(&u))
                    && bucket.dotted
                {
                    message.push_str(&format!(
                        ": `{}` is a dotted bucket name that no S3 wildcard certificate covers, \
                         which is why it is served over http://",
                        bucket.name
                    ));
                }
                self.problems
                    .push(Problem::new(Severity::Warning, "plaintext", message));
            }
            "file" => {
                let message = format!("the {what} {} is read from local disk", url.expanded);
                self.problems
                    .push(Problem::new(Severity::Info, "local-url", message));
            }
            "ftp" => {
                let message = format!(
                    "the {what} {} uses ftp://: plaintext, and egress-probe does not fetch it",
                    url.expanded
                );
                self.problems
                    .push(Problem::new(Severity::Warning, "ftp-url", message));
            }
            other => {
                let message = format!("the {what} `{}` is not a usable URL", url.expanded);
                let code = if other.is_empty() {
                    "invalid-url"
                } else {
                    "unsupported-scheme"
                };
                self.problems
                    .push(Problem::new(Severity::Error, code, message));
            }
        }
        match url.url().map(|u| buckets::host_kind(&u)) {
            Some(HostKind::Cdn { note, .. }) => {
                self.problems
                    .push(Problem::new(Severity::Info, "cdn-not-s3", note));
            }
            Some(HostKind::S3(bucket)) => self.check_region(url, &bucket.region, home),
            _ => {}
        }
    }

    fn check_region(&mut self, url: &RepoUrl, region: &Option<String>, home: Option<&str>) {
        let (Some(region), Some(home)) = (region.as_deref(), home) else {
            return;
        };
        if region != home {
            let message = format!(
                "{} is in {region}, the instance in {home}: a gateway endpoint cannot carry \
                 requests to another region, so they need NAT or an internet gateway",
                url.expanded
            );
            self.problems
                .push(Problem::new(Severity::Warning, "cross-region", message));
        }
    }

    fn check_variables(&mut self, context: &Context) {
        let used: Vec<String> = self
            .urls
            .iter()
            .flat_map(|url| context.vars.expand(&url.configured).used)
            .collect();
        for name in self.unexpanded.clone() {
            let mut problem = Problem::new(
                Severity::Error,
                "unknown-variable",
                format!("`${name}` is set nowhere: the package manager sends it literally"),
            );
            if let Some(fix) = variable_fix(&name, context) {
                problem = problem.with_fix(fix);
            }
            self.problems.push(problem);
        }
        let mut reported = Vec::new();
        for name in used {
            if reported.contains(&name) {
                continue;
            }
            reported.push(name.clone());
            self.check_one_variable(&name, context);
        }
    }

    fn check_one_variable(&mut self, name: &str, context: &Context) {
        let Some(variable) = context.vars.get(name) else {
            return;
        };
        if let Some(path) = context.vars.loop_through(name) {
            let message = format!(
                "variable loop {}: the package manager inserts `{}` literally",
                path.join(" → "),
                variable.value
            );
            self.problems
                .push(Problem::new(Severity::Error, "variable-loop", message));
        } else if let Some(inner) = context.vars.references().get(name) {
            let message = format!(
                "`${name}` is `{}`, which names `${}`: variables are not expanded inside \
                 variables, so it reaches the URL as written",
                variable.value, inner[0]
            );
            self.problems
                .push(Problem::new(Severity::Error, "nested-variable", message));
        }
        if name == "awsregion" && variable.value == "default" {
            let mut problem = Problem::new(
                Severity::Error,
                "region-default",
                "`$awsregion` is `default`: cloud-init could not read the region from IMDS at \
                 first boot, so the package manager asks for a `default` region that does not \
                 exist",
            );
            if let Some(region) = context.region {
                problem = problem.with_fix(format!(
                    "write `{region}` to {}",
                    source_path(variable).unwrap_or("/etc/yum/vars/awsregion")
                ));
            }
            self.problems.push(problem);
        }
        if variable.value != variable.value.trim() {
            let message = format!(
                "`${name}` has blanks around its value `{}`: they are sent as they are",
                variable.value
            );
            self.problems.push(Problem::new(
                Severity::Warning,
                "blank-in-variable",
                message,
            ));
        }
    }

    /// The package manager's plan: dnf fetches the metalink, else the mirror list, then falls
    /// back to the base URLs; yum tries the base URLs first, then the mirrors of its list.
    pub fn plan(&self, manager: Manager) -> Vec<Step> {
        let of = |kind| {
            self.urls
                .iter()
                .filter(move |url| url.kind == kind)
                .cloned()
        };
        let base: Vec<Step> = of(UrlKind::Baseurl).map(Step::Base).collect();
        let list = of(UrlKind::Metalink)
            .chain(of(UrlKind::Mirrorlist))
            .next()
            .map(Step::List);
        match manager {
            Manager::Dnf => list.into_iter().chain(base).collect(),
            Manager::Yum => base.into_iter().chain(list).collect(),
        }
    }

    /// The repository roots in the order the package manager tries them, given the mirrors its
    /// list returned (empty when not fetched).
    pub fn try_order(&self, manager: Manager, mirrors: &[String]) -> Vec<String> {
        self.plan(manager)
            .into_iter()
            .flat_map(|step| match step {
                Step::Base(url) => vec![url.expanded],
                Step::List(_) => mirrors.to_vec(),
            })
            .collect()
    }

    /// The repomd.xml URL under a repository root, as the package manager requests it: with
    /// `report_instanceid=yes` on Amazon Linux, the instance id (and region on AL1 and AL2).
    pub fn repomd_url(
        &self,
        root: &str,
        instance_id: Option<&str>,
        region: Option<&str>,
    ) -> String {
        let mut url = format!("{}/repodata/repomd.xml", root.trim_end_matches('/'));
        if let Some(query) = self.instance_query(instance_id, region) {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(&query);
        }
        url
    }

    /// The query Amazon Linux adds with `report_instanceid=yes`, when it applies.
    pub fn instance_query(
        &self,
        instance_id: Option<&str>,
        region: Option<&str>,
    ) -> Option<String> {
        if !self.report_instanceid {
            return None;
        }
        let template = &buckets::generation(self.generation.as_deref()?)?.instance_query;
        let instance_id = instance_id?;
        if template.contains("{region}") && region.is_none() {
            return None;
        }
        Some(
            template
                .replace("{instance_id}", instance_id)
                .replace("{region}", region.unwrap_or_default()),
        )
    }

    /// The scheme of every URL it fetches: one scheme, or `mixed`.
    pub fn scheme(&self) -> String {
        let mut schemes: Vec<&str> = self.urls.iter().map(|url| url.scheme.as_str()).collect();
        schemes.sort_unstable();
        schemes.dedup();
        match schemes.as_slice() {
            [] => "none".to_string(),
            [one] => one.to_string(),
            _ => "mixed".to_string(),
        }
    }

    /// The worst problem it has.
    pub fn worst(&self) -> Option<Severity> {
        self.problems.iter().map(|problem| problem.severity).max()
    }
}

fn generation_of(url: &RepoUrl) -> Option<String> {
    match buckets::host_kind(&url.url()?) {
        HostKind::S3(bucket) => bucket.generation,
        HostKind::Cdn { generation, .. } => generation,
        HostKind::Other => None,
    }
}

fn source_path(variable: &crate::yum::vars::Variable) -> Option<&str> {
    match &variable.source {
        crate::yum::vars::Source::File { path } => Some(path),
        _ => None,
    }
}

/// `proxy=` of the repository wins; `_none_` or an empty value there means no proxy.
fn effective_proxy(repo: Option<&str>, main: Option<&str>) -> Option<String> {
    match repo.map(str::trim) {
        Some("_none_") | Some("") => None,
        Some(proxy) => Some(proxy.to_string()),
        None => main
            .map(str::trim)
            .filter(|proxy| !proxy.is_empty() && *proxy != "_none_")
            .map(str::to_string),
    }
}

fn variable_fix(name: &str, context: &Context) -> Option<String> {
    let dir = match context.manager {
        Manager::Yum => "/etc/yum/vars",
        Manager::Dnf => "/etc/dnf/vars",
    };
    match name {
        "awsregion" => Some(match context.region {
            Some(region) => format!("write `{region}` to {dir}/awsregion"),
            None => format!("write the instance's region to {dir}/awsregion (or pass --region)"),
        }),
        "awsdomain" => Some(format!(
            "write `{}` to {dir}/awsdomain",
            context.region.map_or("amazonaws.com", buckets::dns_suffix)
        )),
        "releasever" => {
            Some("pass --releasever, or set releasever= in the main configuration".into())
        }
        _ => Some(format!(
            "create {dir}/{name}, or remove `${name}` from the URL"
        )),
    }
}
