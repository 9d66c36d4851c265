//! `ranges update`: refresh the cached ip-ranges.json with a conditional request and say what
//! changed.

use crate::aws::source;
use crate::exit::Status;
use crate::ranges::report::{self, UpdateReport};
use crate::ranges::{ReportFormat, SourceArgs};

/// Arguments of `ranges update`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
}

/// Runs `ranges update`; a failed download or an invalid file is an error and leaves the cache.
pub async fn run(source_args: &SourceArgs, args: Args) -> anyhow::Result<Status> {
    if source_args.offline {
        return Err(crate::exit::UsageError::new(
            "`ranges update` downloads; drop --offline",
        ));
    }
    let update = source::update(&source_args.options(true)).await?;
    let ranges = &update.ranges;
    let document = UpdateReport {
        schema_version: report::SCHEMA_VERSION,
        sync_token: ranges.sync_token.clone(),
        create_date: ranges.create_date.clone(),
        path: update.path.display().to_string(),
        not_modified: update.not_modified,
        old_sync_token: update.old_sync_token.clone(),
        new_sync_token: ranges.sync_token.clone(),
        lacks: ranges.lacks.clone(),
        warnings: ranges.warnings.clone(),
    };

    let text = match args.format {
        ReportFormat::Json => report::to_json(&document)?,
        ReportFormat::Table => {
            let old = document
                .old_sync_token
                .as_deref()
                .unwrap_or("(no cached copy)");
            let new = document.new_sync_token.as_deref().unwrap_or("(none)");
            let what = if document.not_modified {
                format!("not modified: syncToken {new} kept")
            } else if document.old_sync_token == document.new_sync_token {
                format!("refreshed: syncToken {new} unchanged")
            } else {
                format!("updated: syncToken {old} -> {new}")
            };
            format!(
                "{what} (createDate {}) in {}\n",
                document.create_date.as_deref().unwrap_or("(none)"),
                document.path
            )
        }
    };
    crate::output::print(&text)?;
    Ok(Status::Clean)
}
