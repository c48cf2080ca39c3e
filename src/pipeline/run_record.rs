//! What `eltr logs` lists: one small JSON record per block run beside its log,
//! `.eltr/logs/<log id>/<run id>.json`, written when the block starts (`RUNNING`) and
//! replaced when it ends (`SUCCESS` / `FAIL`), in the fields of Meltano's job runs.

use crate::project::eltr_dir;
use crate::vocab::clock::naive_time;
use crate::vocab::confine;
use crate::vocab::confine::ConfineError;
use crate::vocab::files::{DOCUMENT_CAP, PROJECT_FILE_CAP};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// One block run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    /// The state id (Meltano's job name).
    pub job_name: String,
    pub run_id: String,
    /// `RUNNING`, `SUCCESS` or `FAIL`.
    pub state: String,
    /// Naive UTC, `YYYY-MM-DD HH:MM:SS.ffffff`.
    pub started_at: String,
    pub ended_at: Option<String>,
    /// Seconds the block took, once it ended.
    pub duration_seconds: Option<f64>,
    /// `MELTANO_JOB_TRIGGER` of the run (`cli` unless a scheduler set it).
    pub trigger: Option<String>,
    /// The block's full log, beside this record.
    #[serde(skip)]
    pub log_file: PathBuf,
}

/// The folder of every block's log and record.
pub fn logs_dir(root: &Path) -> PathBuf {
    eltr_dir(root).join("logs")
}

/// Writes the record of a block that has just started.
pub fn started(root: &Path, log_id: &str, job_name: &str, run_id: &str) -> RunRecord {
    let record = RunRecord {
        job_name: job_name.to_string(),
        run_id: run_id.to_string(),
        state: "RUNNING".into(),
        started_at: naive_time(SystemTime::now(), false),
        ended_at: None,
        duration_seconds: None,
        trigger: std::env::var("MELTANO_JOB_TRIGGER")
            .ok()
            .or(Some("cli".into())),
        log_file: logs_dir(root).join(log_id).join(format!("{run_id}.log")),
    };
    save(root, &record);
    record
}

/// Replaces the record with how the block ended.
pub fn ended(root: &Path, mut record: RunRecord, success: bool, seconds: f64) {
    record.state = if success { "SUCCESS" } else { "FAIL" }.into();
    record.ended_at = Some(naive_time(SystemTime::now(), false));
    record.duration_seconds = Some(seconds);
    save(root, &record);
}

/// A record that cannot be written costs `eltr logs` one line, never the run.
fn save(root: &Path, record: &RunRecord) {
    let path = record.log_file.with_extension("json");
    let Ok(text) = serde_json::to_vec_pretty(record) else {
        return;
    };
    if let Err(e) = confine::write_replacing(&eltr_dir(root), &path, &text, false) {
        tracing::debug!("cannot write the run record {}: {e}", path.display());
    }
}

/// Every record under the project's logs folder, newest first. A record whose real path is
/// not inside `.eltr/` (a link planted in the logs folder, or the logs folder itself a link)
/// is not one of eltr's, which never writes there, and is skipped.
pub fn all(root: &Path) -> Vec<RunRecord> {
    let mut out = Vec::new();
    let owner = eltr_dir(root);
    let Ok(folders) = std::fs::read_dir(logs_dir(root)) else {
        return out;
    };
    for folder in folders.flatten() {
        let Ok(files) = std::fs::read_dir(folder.path()) else {
            continue;
        };
        for file in files.flatten() {
            let path = file.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let bytes = match confine::read_inside(&owner, &path, PROJECT_FILE_CAP) {
                Ok(bytes) => bytes,
                Err(e) => {
                    tracing::debug!("skipping the run record {}: {e}", path.display());
                    continue;
                }
            };
            if let Ok(mut record) = serde_json::from_slice::<RunRecord>(&bytes) {
                record.log_file = path.with_extension("log");
                out.push(record);
            }
        }
    }
    out.sort_by(|a, b| b.started_at.cmp(&a.started_at));
    out
}

/// The block's full log, read only from inside `.eltr/`, where eltr writes it (never through
/// a link out of it: `logs show` prints what it reads).
pub fn read_log(root: &Path, record: &RunRecord) -> Result<Vec<u8>, ConfineError> {
    confine::read_inside(&eltr_dir(root), &record.log_file, DOCUMENT_CAP)
}
