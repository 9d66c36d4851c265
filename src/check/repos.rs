//! The package manager's repositories inside `check`: discovery, the mirror lists and
//! metalinks fetched as yum or dnf would, the mirrors turned into probe targets, and the
//! `repodata/repomd.xml` request to the first mirror the package manager would try.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::catalog::{ExpectRegion, Origin, Target};
use crate::probe::s3xml;
use crate::yum::mirrors::{self, MirrorTarget, fetch};
use crate::yum::repo::{Manager, Step};
use crate::yum::{Discovery, Overrides, Repo};

/// The largest mirror list or metalink read.
const LIST_BYTES: usize = 1024 * 1024;
/// The largest repomd.xml read.
const REPOMD_BYTES: usize = 256 * 1024;
/// Mirror hosts probed per repository, in the order the package manager tries them.
const HOSTS_PER_REPO: usize = 12;

/// What to read and how.
#[derive(Debug, Clone)]
pub struct RepoOptions {
    /// The root the configuration is read under.
    pub root: PathBuf,
    /// `--releasever`.
    pub releasever: Option<String>,
    /// `--all-repos`.
    pub all_repos: bool,
}

/// The facts about the instance the requests carry.
#[derive(Debug, Clone, Default)]
pub struct InstanceIds {
    /// The instance id, for `report_instanceid`.
    pub instance_id: Option<String>,
    /// The instance's region.
    pub region: Option<String>,
}

/// The outcome of fetching one mirror list or metalink.
#[derive(Debug, Clone, Serialize)]
pub struct ListOutcome {
    /// The configured URL, expanded.
    pub url: String,
    /// The status of the final response.
    pub status: Option<u16>,
    /// Redirects followed.
    pub redirects: Vec<String>,
    /// How many mirrors it named.
    pub mirrors: usize,
    /// Why it gave no mirrors.
    pub error: Option<String>,
}

/// The outcome of the repomd.xml request.
#[derive(Debug, Clone, Serialize)]
pub struct RepomdOutcome {
    /// The URL requested, query included.
    pub url: String,
    /// The status of the final response.
    pub status: Option<u16>,
    /// The S3 error code of a refusal.
    pub s3_error_code: Option<String>,
    /// The S3 error message of a refusal.
    pub s3_error_message: Option<String>,
    /// Why no response arrived.
    pub error: Option<String>,
}

/// One repository as `check` saw it.
#[derive(Debug, Clone)]
pub struct RepoEvidence {
    /// The repository from discovery.
    pub repo: Repo,
    /// Its mirror list or metalink, when it has one.
    pub list: Option<ListOutcome>,
    /// The mirrors the list named, tagged.
    pub mirrors: Vec<MirrorTarget>,
    /// Repository roots in the order the package manager tries them.
    pub try_order: Vec<String>,
    /// The repomd.xml request to the first of them.
    pub repomd: Option<RepomdOutcome>,
}

/// Everything `check` learnt about the repositories.
#[derive(Debug, Clone, Default)]
pub struct RepoRun {
    /// Discovery, when the root has a yum or dnf configuration.
    pub discovery: Option<Discovery>,
    /// One entry per repository shown.
    pub repos: Vec<RepoEvidence>,
}

/// Discovers the repositories under the root and fetches their lists and repomd.xml.
pub async fn inspect(
    options: &RepoOptions,
    ids: &InstanceIds,
    client: &reqwest::Client,
    deadline: tokio::time::Instant,
) -> RepoRun {
    let overrides = Overrides {
        region: None,
        releasever: options.releasever.clone(),
        all_repos: options.all_repos,
        imds_region: ids.region.clone(),
    };
    let discovery = crate::yum::discover(&options.root, &overrides);
    if discovery.main_config.is_none() && discovery.repos.is_empty() && discovery.hidden == 0 {
        return RepoRun::default();
    }

    let home = ids.region.as_deref();
    let lists: Vec<Option<String>> = discovery
        .repos
        .iter()
        .map(|repo| list_url(repo, discovery.manager))
        .collect();
    let wanted: Vec<String> = lists.iter().flatten().cloned().collect();
    let mut fetched = fetch::fetch_lists(client, &wanted, 4, deadline, LIST_BYTES)
        .await
        .into_iter();

    let mut repos = Vec::new();
    for (repo, list_url) in discovery.repos.iter().zip(lists) {
        let mut evidence = RepoEvidence {
            repo: repo.clone(),
            list: None,
            mirrors: Vec::new(),
            try_order: Vec::new(),
            repomd: None,
        };
        if let Some(url) = list_url {
            let result = fetched.next();
            let (outcome, list) = list_outcome(url, result);
            evidence.list = Some(outcome);
            if let Some(list) = list {
                evidence.mirrors = mirrors::targets(&repo.id, &list, &discovery.vars, home);
            }
        }
        let roots: Vec<String> = evidence.mirrors.iter().map(|m| m.url.clone()).collect();
        evidence.try_order = repo.try_order(discovery.manager, &roots);
        repos.push(evidence);
    }

    let requests = repos.iter().map(|evidence| {
        let first = evidence.try_order.first().cloned();
        let repo = &evidence.repo;
        first.map(|root| repo.repomd_url(&root, ids.instance_id.as_deref(), home))
    });
    let urls: Vec<Option<String>> = requests.collect();
    let wanted: Vec<String> = urls.iter().flatten().cloned().collect();
    let mut answers = fetch::fetch_lists(client, &wanted, 4, deadline, REPOMD_BYTES)
        .await
        .into_iter();
    for (evidence, url) in repos.iter_mut().zip(urls) {
        if let Some(url) = url {
            evidence.repomd = answers.next().map(|answer| repomd_outcome(url, answer));
        }
    }

    RepoRun {
        discovery: Some(discovery),
        repos,
    }
}

/// The list the package manager fetches for a repository, if its plan has one.
fn list_url(repo: &Repo, manager: Manager) -> Option<String> {
    repo.plan(manager).into_iter().find_map(|step| match step {
        Step::List(url) => Some(url.expanded),
        Step::Base(_) => None,
    })
}

fn list_outcome(
    url: String,
    result: Option<Result<fetch::Fetched, fetch::FetchError>>,
) -> (ListOutcome, Option<mirrors::MirrorList>) {
    let mut outcome = ListOutcome {
        url,
        status: None,
        redirects: Vec::new(),
        mirrors: 0,
        error: None,
    };
    let fetched = match result {
        Some(Ok(fetched)) => fetched,
        Some(Err(err)) => {
            outcome.error = Some(err.to_string());
            return (outcome, None);
        }
        None => {
            outcome.error = Some("not fetched".into());
            return (outcome, None);
        }
    };
    outcome.status = Some(fetched.status);
    outcome.redirects = fetched.redirects;
    if fetched.status != 200 {
        outcome.error = Some(match s3xml::parse_error(&fetched.body) {
            Some(error) => format!("HTTP {} {}", fetched.status, error.code.unwrap_or_default()),
            None => format!("HTTP {}", fetched.status),
        });
        return (outcome, None);
    }
    let kind = if outcome.url.contains("metalink") {
        crate::yum::repo::UrlKind::Metalink
    } else {
        crate::yum::repo::UrlKind::Mirrorlist
    };
    match mirrors::parse_list(&fetched.body, kind) {
        Ok(list) => {
            outcome.mirrors = list.mirrors.len();
            (outcome, Some(list))
        }
        Err(err) => {
            outcome.error = Some(err.to_string());
            (outcome, None)
        }
    }
}

fn repomd_outcome(url: String, answer: Result<fetch::Fetched, fetch::FetchError>) -> RepomdOutcome {
    match answer {
        Ok(fetched) => {
            let error = (fetched.status >= 300)
                .then(|| s3xml::parse_error(&fetched.body))
                .flatten();
            RepomdOutcome {
                url,
                status: Some(fetched.status),
                s3_error_code: error.as_ref().and_then(|e| e.code.clone()),
                s3_error_message: error.and_then(|e| e.message),
                error: None,
            }
        }
        Err(err) => RepomdOutcome {
            url,
            status: None,
            s3_error_code: None,
            s3_error_message: None,
            error: Some(err.to_string()),
        },
    }
}

/// The probe targets of the repositories: every host the package manager would try, in
/// order, at most [`HOSTS_PER_REPO`] per repository. The first host of each repository is
/// required; the ones after it are fallbacks, so another region there is information.
pub fn targets(run: &RepoRun) -> Vec<Target> {
    let mut targets: Vec<Target> = Vec::new();
    for evidence in &run.repos {
        let mut seen = 0;
        for root in &evidence.try_order {
            let Ok(url) = reqwest::Url::parse(root) else {
                continue;
            };
            let Some(host) = url.host_str().map(str::to_ascii_lowercase) else {
                continue;
            };
            if !matches!(url.scheme(), "http" | "https") {
                continue;
            }
            if seen == HOSTS_PER_REPO {
                break;
            }
            seen += 1;
            let first = seen == 1;
            if let Some(known) = targets.iter_mut().find(|t| t.host == host) {
                known.required |= first;
                if first {
                    known.expect_region = ExpectRegion::Instance;
                }
                continue;
            }
            targets.push(Target {
                name: format!("yum:{host}"),
                host: host.clone(),
                path: "/".into(),
                origin: Origin::Yum,
                required: first,
                expect_region: if first {
                    ExpectRegion::Instance
                } else {
                    ExpectRegion::Any
                },
                ports: vec![80, 443],
                note: Some(if first {
                    format!("first mirror of repository {}", evidence.repo.id)
                } else {
                    format!("fallback mirror of repository {}", evidence.repo.id)
                }),
                bucket: crate::aws::hostname::parse(&host).and_then(|info| info.bucket),
                configured_scheme: Some(url.scheme().to_string()),
                canary: false,
            });
        }
    }
    targets
}

/// How long repository fetches may take inside a run of `run_deadline`.
pub fn fetch_budget(run_deadline: Duration) -> Duration {
    (run_deadline / 2).min(Duration::from_secs(8))
}
