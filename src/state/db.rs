//! What eltr needs from Meltano's system database, whichever engine holds it: the `state`
//! table (one row per state id, its partial and completed state as JSON text) and the `runs`
//! table (Meltano's job records, whose `RUNNING` rows are the locks Meltano's systemdb backend
//! relies on). `sqlite.rs` and `postgres.rs` implement [`Database`]; `systemdb.rs` builds the
//! store on it.
//!
//! Facts from Meltano 4.4.1 (its `core/state_store/db.py`, `core/job/job.py`, and the tables
//! its migrations leave, read with `.schema` / `pg_dump -s`):
//! - `state(state_id VARCHAR(900) PK, partial_state VARCHAR, completed_state VARCHAR,
//!   updated_at DATETIME)`; the two states are `json.dumps` text (`{"singer_state": …}`), NULL
//!   when a `state import` gave none.
//! - `runs(id PK, job_name, state, started_at, ended_at, payload, payload_flags, run_id,
//!   trigger, last_heartbeat_at)`: a `meltano run` inserts a `RUNNING` row named by the state
//!   id, heartbeats it every second, and ends it `SUCCESS` or `FAIL`; another run of the same
//!   state id refuses to start while such a row is fresh (no heartbeat for 5 minutes makes it
//!   stale). Times are naive UTC, `YYYY-MM-DD HH:MM:SS.ffffff`.

use super::{Result, StateError};
use std::time::SystemTime;

/// One row of the `state` table: the JSON texts as stored (`None` for SQL NULL).
#[derive(Debug, Clone, PartialEq)]
pub struct StateRow {
    pub partial: Option<String>,
    pub completed: Option<String>,
}

/// A `RUNNING` row of the `runs` table.
#[derive(Debug, Clone)]
pub struct RunRow {
    pub id: i64,
    /// The run id as stored (hex or dashed UUID).
    pub run_id: String,
    /// Seconds since the epoch.
    pub started_at: f64,
    pub last_heartbeat_at: Option<f64>,
    pub payload: Option<String>,
}

/// The row a lock inserts.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub job_name: String,
    /// A UUID without dashes.
    pub run_id: uuid::Uuid,
    /// `YYYY-MM-DD HH:MM:SS.ffffff`, UTC.
    pub now: String,
    /// `{"eltr_lock": {…}}`: the holder, where Meltano does not look (it reads `payload` only
    /// of rows whose `payload_flags` is not 0; this one's is 0).
    pub payload: String,
}

/// What the lock decides about the `RUNNING` rows it found: an error (the state is locked),
/// or the message to fail them with (stale, or broken by `--force`).
pub type Decide<'a> = dyn FnMut(&[RunRow]) -> Result<String> + 'a;

/// The tables, on one engine. Each method is one transaction.
pub trait Database: Send + Sync {
    /// The database as messages name it (no password).
    fn describe(&self) -> String;
    fn get(&self, id: &str) -> Result<Option<StateRow>>;
    /// Inserts or replaces the row of `id` in one statement.
    fn put(&self, id: &str, partial: &str, completed: &str, updated_at: &str) -> Result<()>;
    fn delete(&self, id: &str) -> Result<()>;
    /// Every state id with a row.
    fn ids(&self) -> Result<Vec<String>>;
    /// Takes the lock of `new.job_name`, exclusive among eltr runs: reads its `RUNNING` rows,
    /// lets `decide` refuse or name why they end, marks them `FAIL`, inserts `new` as
    /// `RUNNING`; returns the new row's id.
    fn take_lock(&self, new: &NewRun, decide: &mut Decide<'_>) -> Result<i64>;
    /// Refreshes the heartbeat of row `row`; false when it is no longer `RUNNING` (broken by
    /// `--force` elsewhere, or failed as stale).
    fn beat(&self, row: i64, now: &str) -> Result<bool>;
    /// Whether row `row` is still `RUNNING`.
    fn running(&self, row: i64) -> Result<bool>;
    /// Ends row `row` (`SUCCESS` or `FAIL`) if it is still `RUNNING`.
    fn finish(&self, row: i64, state: &str, now: &str) -> Result<()>;
}

/// `payload` (a `runs` row's JSON) with `error` set to `reason`, as Meltano's `Job.fail` sets
/// it.
pub fn payload_with_error(payload: Option<&str>, reason: &str) -> String {
    let mut v: serde_json::Value = payload
        .and_then(|p| serde_json::from_str(p).ok())
        .filter(serde_json::Value::is_object)
        .unwrap_or_else(|| serde_json::json!({}));
    v["error"] = serde_json::Value::String(reason.to_string());
    crate::vocab::pyjson::to_string(&v)
}

/// The text of a database error, one line, for `StateError::Remote`.
pub fn db_err(label: &str, e: impl std::fmt::Display) -> StateError {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or(&text);
    StateError::Remote {
        store: label.to_string(),
        message: first.chars().take(300).collect(),
    }
}

/// A time as SQLAlchemy writes a naive `DateTime` (`updated_at` is written with Python's
/// `datetime.now()`, local time).
pub fn sql_time(t: SystemTime, local: bool) -> String {
    crate::vocab::clock::naive_time(t, local)
}

/// Now, as `runs` stores times (naive UTC).
pub fn utc_now() -> String {
    sql_time(SystemTime::now(), false)
}

/// Where a system database lives, parsed from Meltano's `database_uri` (an SQLAlchemy URL).
#[derive(Debug, Clone, PartialEq)]
pub enum DatabaseUri {
    /// `sqlite:///relative/path` (relative to the project root) or `sqlite:////absolute`.
    Sqlite(std::path::PathBuf),
    /// `postgresql://…`, `postgresql+psycopg://…`, `postgresql+psycopg2://…`,
    /// `postgres://…`: the URL with the SQLAlchemy driver part removed.
    Postgres(String),
}

impl DatabaseUri {
    /// Parses `uri`; relative SQLite paths are taken from `root`.
    pub fn parse(uri: &str, root: &std::path::Path) -> Result<DatabaseUri> {
        let bad = |why: &str| StateError::BadDatabaseUri {
            uri: redact_password(uri),
            reason: why.to_string(),
        };
        let (scheme, rest) = uri
            .split_once("://")
            .ok_or_else(|| bad("it has no scheme (sqlite:///PATH or postgresql://…)"))?;
        let (dialect, _driver) = scheme.split_once('+').unwrap_or((scheme, ""));
        match dialect {
            "sqlite" => {
                // SQLAlchemy: `sqlite:///rel` is relative, `sqlite:////abs` absolute; the
                // part before the third slash (a host) must be empty.
                let path = rest
                    .strip_prefix('/')
                    .ok_or_else(|| bad("write sqlite:///PATH (three slashes)"))?;
                let path = path.split('?').next().unwrap_or(path);
                if path.is_empty() || path == ":memory:" {
                    return Err(bad("an in-memory database keeps no state"));
                }
                Ok(DatabaseUri::Sqlite(root.join(path)))
            }
            "postgresql" | "postgres" => Ok(DatabaseUri::Postgres(format!("postgresql://{rest}"))),
            _ => Err(bad(
                "eltr reads SQLite and PostgreSQL system databases (sqlite:///PATH, postgresql://…)",
            )),
        }
    }

    /// The URI as messages show it (password replaced).
    pub fn label(&self) -> String {
        match self {
            DatabaseUri::Sqlite(p) => format!("systemdb sqlite:///{}", p.display()),
            DatabaseUri::Postgres(u) => format!("systemdb {}", redact_password(u)),
        }
    }
}

/// `scheme://user:secret@host…?password=…` with each password shown as `********`.
pub fn redact_password(uri: &str) -> String {
    crate::vocab::mask::redact_uri(uri)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn sqlalchemy_urls() {
        let root = Path::new("/p");
        assert_eq!(
            DatabaseUri::parse("sqlite:///.meltano/meltano.db", root).unwrap(),
            DatabaseUri::Sqlite("/p/.meltano/meltano.db".into())
        );
        assert_eq!(
            DatabaseUri::parse("sqlite:////abs/m.db", root).unwrap(),
            DatabaseUri::Sqlite("/abs/m.db".into())
        );
        assert_eq!(
            DatabaseUri::parse("postgresql+psycopg://u:p@h:5/db?sslmode=disable", root).unwrap(),
            DatabaseUri::Postgres("postgresql://u:p@h:5/db?sslmode=disable".into())
        );
        assert!(DatabaseUri::parse("sqlite://", root).is_err());
        assert!(DatabaseUri::parse("mysql://x", root).is_err());
    }

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            redact_password("postgresql://u:s3cr@t@h/db"),
            "postgresql://u:********@h/db"
        );
        assert_eq!(
            redact_password("postgresql://u@h/db?password=pw"),
            "postgresql://u@h/db?password=********"
        );
    }

    #[test]
    fn times_look_like_sqlalchemys() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_micros(1_765_059_668_173_204);
        assert_eq!(sql_time(t, false), "2025-12-06 22:21:08.173204");
    }
}
