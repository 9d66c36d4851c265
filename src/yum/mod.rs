//! Package repositories as yum and dnf would use them, read offline from a root directory:
//! the main configuration, the repository files, the variables and where each value comes
//! from, the mirror lists and metalinks, and the S3 buckets behind Amazon Linux hosts.

pub mod buckets;
pub mod command;
pub mod config;
pub mod mirrors;
pub mod repo;
pub mod report;
pub mod vars;

use std::path::{Path, PathBuf};

pub use command::{Args, run};
pub use repo::{Manager, Problem, Repo, Severity};
pub use vars::{Source, Variable, Vars};

use crate::yum::config::{IniFile, Section};
use crate::yum::repo::Context;

/// What the user (or the instance metadata) says that the files may not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--region`: the region to suggest as a fix and to fill placeholders with.
    pub region: Option<String>,
    /// `--releasever`: replaces `$releasever`, as the package manager's own flag does.
    pub releasever: Option<String>,
    /// `--all-repos`: show disabled repositories too.
    pub all_repos: bool,
    /// The region IMDS reports, when the caller read it.
    pub imds_region: Option<String>,
}

/// Everything discovery found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    /// The root the files were read under.
    pub root: PathBuf,
    /// The package manager whose rules apply.
    pub manager: Manager,
    /// The main configuration file, by its path inside the root.
    pub main_config: Option<String>,
    /// `proxy=` of the main configuration.
    pub proxy: Option<String>,
    /// Every variable with its value and source (`releasever` and `basearch` included).
    pub vars: Vars,
    /// `$releasever` and where it came from; `None` when nothing sets it.
    pub releasever: Option<Variable>,
    /// The instance's region and where it came from (flag, IMDS, or `$awsregion`).
    pub region: Option<Variable>,
    /// The repositories: enabled ones, or all with `--all-repos`, in file order.
    pub repos: Vec<Repo>,
    /// How many disabled repositories were left out.
    pub hidden: usize,
    /// Problems of the configuration as a whole.
    pub problems: Vec<Problem>,
}

/// A path inside `root`: `under("/mnt", "/etc/yum.conf")` is `/mnt/etc/yum.conf`.
pub fn under(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

/// Reads the package manager's configuration under `root`; never fails, problems are recorded
/// per repository or for the whole configuration.
pub fn discover(root: &Path, overrides: &Overrides) -> Discovery {
    let mut problems = Vec::new();
    let (manager, main_path) = main_config(root);
    let main_file = main_path
        .as_deref()
        .and_then(|path| read_ini(root, path, &mut problems));
    let main_section = main_file.as_ref().and_then(|file| file.section("main"));
    let proxy = main_section
        .and_then(|section| section.get("proxy"))
        .filter(|proxy| !proxy.is_empty() && *proxy != "_none_")
        .map(str::to_string);

    let main = main_path.as_deref().zip(main_section);
    let (vars, releasever) = variables(root, manager, main, overrides, &mut problems);
    let region = region(&vars, overrides);
    let suggested = overrides
        .region
        .as_deref()
        .or(overrides.imds_region.as_deref());
    let context = Context {
        manager,
        vars: &vars,
        main_proxy: proxy.as_deref(),
        region: suggested,
        home: region.as_ref().map(|region| region.value.as_str()),
    };

    let mut files: Vec<(String, IniFile)> = Vec::new();
    if let (Some(path), Some(file)) = (&main_path, main_file.clone()) {
        files.push((path.clone(), file));
    }
    for path in repo_files(root, manager, main_section) {
        if let Some(file) = read_ini(root, &path, &mut problems) {
            files.push((path, file));
        }
    }
    let all = repos(&files, &context, &mut problems);
    let region = region.or_else(|| region_of_repos(&all));
    let total = all.len();
    let repos: Vec<Repo> = all
        .into_iter()
        .filter(|repo| repo.enabled || overrides.all_repos)
        .collect();

    if files.is_empty() {
        problems.push(Problem::new(
            Severity::Error,
            "no-configuration",
            format!("no yum or dnf configuration under {}", root.display()),
        ));
    }
    Discovery {
        root: root.to_path_buf(),
        manager,
        main_config: main_path,
        proxy,
        hidden: total - repos.len(),
        vars,
        releasever,
        region,
        repos,
        problems,
    }
}

/// dnf when `/etc/dnf/dnf.conf` exists (AL2023 links `/etc/yum.conf` to it), else yum.
fn main_config(root: &Path) -> (Manager, Option<String>) {
    for (manager, path) in [
        (Manager::Dnf, "/etc/dnf/dnf.conf"),
        (Manager::Yum, "/etc/yum.conf"),
    ] {
        if under(root, path).is_file() {
            return (manager, Some(path.to_string()));
        }
    }
    let manager = if under(root, "/etc/dnf").is_dir() {
        Manager::Dnf
    } else {
        Manager::Yum
    };
    (manager, None)
}

fn read_ini(root: &Path, path: &str, problems: &mut Vec<Problem>) -> Option<IniFile> {
    match std::fs::read(under(root, path)) {
        Ok(bytes) => Some(config::parse(&String::from_utf8_lossy(&bytes))),
        Err(err) => {
            let message = format!("cannot read {path}: {err}");
            problems.push(Problem::new(Severity::Error, "unreadable-file", message));
            None
        }
    }
}

/// The variables in the package manager's order: built-ins, then the vars directories (for
/// dnf `/etc/dnf/vars` wins over `/etc/yum/vars`), then `$releasever`.
fn variables(
    root: &Path,
    manager: Manager,
    main: Option<(&str, &Section)>,
    overrides: &Overrides,
    problems: &mut Vec<Problem>,
) -> (Vars, Option<Variable>) {
    let mut vars = Vars::default();
    let basearch = vars::basearch(root);
    vars.set("basearch", &basearch.value, basearch.source.clone());
    vars.set("arch", &basearch.value, basearch.source);

    let dirs: &[&str] = match manager {
        Manager::Yum => &["/etc/yum/vars"],
        Manager::Dnf => &["/etc/yum/vars", "/etc/dnf/vars"],
    };
    for dir in dirs {
        for variable in vars::read_dir(root, dir) {
            if let Some(earlier) = vars.get(&variable.name)
                && matches!(earlier.source, Source::File { .. })
                && earlier.value != variable.value
            {
                let message = format!(
                    "`${}` is `{}` in {} but `{}` in {}: {} wins",
                    variable.name,
                    earlier.value,
                    path_of(&earlier.source),
                    variable.value,
                    path_of(&variable.source),
                    path_of(&variable.source),
                );
                problems.push(Problem::new(
                    Severity::Warning,
                    "conflicting-variable",
                    message,
                ));
            }
            vars.set(&variable.name, &variable.value, variable.source);
        }
    }

    let releasever = vars::releasever(root, overrides.releasever.as_deref(), main);
    match &releasever {
        Some(variable) => {
            vars.set("releasever", &variable.value, variable.source.clone());
            if manager == Manager::Dnf {
                let (major, minor) = variable
                    .value
                    .split_once('.')
                    .unwrap_or((&variable.value, ""));
                vars.set("releasever_major", major, variable.source.clone());
                vars.set("releasever_minor", minor, variable.source.clone());
            }
        }
        None => problems.push(
            Problem::new(
                Severity::Error,
                "no-releasever",
                "nothing sets `$releasever`: no releasever= in the main configuration and no \
                 /etc/system-release or /etc/os-release version",
            )
            .with_fix("pass --releasever"),
        ),
    }
    (vars, releasever)
}

fn path_of(source: &Source) -> &str {
    match source {
        Source::File { path } | Source::MainConfig { path } | Source::Package { path, .. } => path,
        Source::Override { flag } => flag,
        Source::Imds => "IMDS",
        Source::Default { .. } => "the default",
    }
}

/// The instance's region: `--region`, then IMDS, then a real region in `$awsregion`.
fn region(vars: &Vars, overrides: &Overrides) -> Option<Variable> {
    let variable = |value: &str, source| Variable {
        name: "region".to_string(),
        value: value.to_string(),
        source,
    };
    if let Some(region) = &overrides.region {
        let flag = "--region".to_string();
        return Some(variable(region, Source::Override { flag }));
    }
    if let Some(region) = &overrides.imds_region {
        return Some(variable(region, Source::Imds));
    }
    let awsregion = vars.get("awsregion")?;
    crate::aws::hostname::is_region(&awsregion.value)
        .then(|| variable(&awsregion.value, awsregion.source.clone()))
}

/// The region an enabled Amazon Linux repository's host names, when nothing else gives one.
fn region_of_repos(repos: &[Repo]) -> Option<Variable> {
    repos.iter().filter(|repo| repo.enabled).find_map(|repo| {
        repo.urls.iter().find_map(|url| {
            let buckets::HostKind::S3(bucket) = buckets::host_kind(&url.url()?) else {
                return None;
            };
            bucket.generation.as_ref()?;
            let detail = format!(
                "named by {} in {}",
                url.host.as_deref().unwrap_or_default(),
                repo.file
            );
            Some(Variable {
                name: "region".to_string(),
                value: bucket.region?,
                source: Source::Default { detail },
            })
        })
    })
}

/// The `*.repo` files of every repository directory, each directory sorted by name.
fn repo_files(root: &Path, manager: Manager, main: Option<&Section>) -> Vec<String> {
    let defaults: &[&str] = match manager {
        Manager::Yum => &["/etc/yum.repos.d", "/etc/yum/repos.d"],
        Manager::Dnf => &[
            "/etc/yum.repos.d",
            "/etc/yum/repos.d",
            "/etc/distro.repos.d",
        ],
    };
    let dirs: Vec<String> = match main.and_then(|section| section.get("reposdir")) {
        Some(value) => config::list(value),
        None => defaults.iter().map(|dir| dir.to_string()).collect(),
    };

    let mut files = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(under(root, &dir)) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .filter_map(|entry| entry.ok())
            .filter(|entry| entry.path().is_file())
            .filter_map(|entry| entry.file_name().into_string().ok())
            .filter(|name| name.ends_with(".repo"))
            .collect();
        names.sort();
        let dir = dir.trim_end_matches('/').to_string();
        files.extend(names.into_iter().map(|name| format!("{dir}/{name}")));
    }
    files
}

/// Builds every repository section; a repeated id is kept once, as the package manager does.
fn repos(files: &[(String, IniFile)], context: &Context, problems: &mut Vec<Problem>) -> Vec<Repo> {
    let mut repos: Vec<Repo> = Vec::new();
    for (path, file) in files {
        for problem in &file.problems {
            let message = format!("{path} line {}: {}", problem.line, problem.message);
            problems.push(Problem::new(Severity::Error, "malformed-file", message));
        }
        for section in &file.sections {
            if section.name == "main" {
                for problem in &section.problems {
                    let message = format!("{path} line {}: {}", problem.line, problem.message);
                    problems.push(Problem::new(Severity::Error, "malformed-file", message));
                }
                continue;
            }
            if let Some(first) = repos.iter_mut().find(|repo| repo.id == section.name) {
                let message = format!(
                    "`[{}]` is defined again in {path} line {}: only the first definition \
                     ({} line {}) is used",
                    section.name, section.line, first.file, first.line
                );
                first
                    .problems
                    .push(Problem::new(Severity::Warning, "duplicate-repo", message));
                continue;
            }

            let mut repo = Repo::from_section(section, path, context);
            if let Some(line) = file.fatal_line()
                && !section.problems.iter().any(|problem| problem.fatal)
            {
                let message = format!(
                    "{path} line {line} cannot be parsed: yum and dnf refuse the whole file, \
                     this repository included"
                );
                repo.problems
                    .push(Problem::new(Severity::Error, "malformed-file", message));
            }
            repos.push(repo);
        }
    }
    repos
}
