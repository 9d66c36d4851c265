//! Where the ip-ranges data comes from: an explicit file, the cache, or a download.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::aws::ipranges::IpRanges;
use crate::exit::UsageError;

/// The official location of ip-ranges.json.
pub const OFFICIAL_URL: &str = "https://ip-ranges.amazonaws.com/ip-ranges.json";

/// Which source supplied the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// `--ip-ranges FILE`.
    File,
    /// The cache file.
    Cache,
    /// Downloaded during this run.
    Download,
    /// No data.
    None,
}

impl SourceKind {
    /// The value written in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::File => "file",
            SourceKind::Cache => "cache",
            SourceKind::Download => "download",
            SourceKind::None => "none",
        }
    }
}

/// How to obtain the data.
#[derive(Debug, Clone)]
pub struct SourceOptions {
    /// An explicit file.
    pub file: Option<PathBuf>,
    /// The download URL.
    pub url: String,
    /// The cache directory, when not the default.
    pub cache_dir: Option<PathBuf>,
    /// Whether a download may be tried.
    pub download: bool,
    /// Deadline of the download.
    pub timeout: Duration,
}

/// The data and where it came from.
#[derive(Debug)]
pub struct Loaded {
    /// The source.
    pub kind: SourceKind,
    /// The file read, if any.
    pub path: Option<PathBuf>,
    /// The data, if any.
    pub ranges: Option<IpRanges>,
    /// What went wrong on the way, one line each.
    pub problems: Vec<String>,
}

/// The default cache directory.
pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("EGRESS_PROBE_CACHE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    dirs::cache_dir()
        .map(|dir| dir.join("egress-probe"))
        .unwrap_or_else(|| PathBuf::from("/var/cache/egress-probe"))
}

/// The cache file inside a cache directory.
pub fn cache_file(dir: &Path) -> PathBuf {
    dir.join("ip-ranges.json")
}

/// Obtains the data: explicit file, then cache. TODO(download): not yet fetched.
pub async fn obtain(options: &SourceOptions) -> anyhow::Result<Loaded> {
    if let Some(path) = &options.file {
        let ranges = IpRanges::load(path).map_err(|err| {
            UsageError::new(format!("--ip-ranges: {}", crate::exit::one_line(&err)))
        })?;
        return Ok(Loaded {
            kind: SourceKind::File,
            path: Some(path.clone()),
            ranges: Some(ranges),
            problems: Vec::new(),
        });
    }
    let dir = options.cache_dir.clone().unwrap_or_else(default_cache_dir);
    let path = cache_file(&dir);
    let mut problems = Vec::new();
    if path.exists() {
        match IpRanges::load(&path) {
            Ok(ranges) => {
                return Ok(Loaded {
                    kind: SourceKind::Cache,
                    path: Some(path),
                    ranges: Some(ranges),
                    problems,
                });
            }
            Err(err) => problems.push(crate::exit::one_line(&err)),
        }
    }
    Ok(Loaded {
        kind: SourceKind::None,
        path: None,
        ranges: None,
        problems,
    })
}
