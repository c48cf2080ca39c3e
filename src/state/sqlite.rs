//! Meltano's system database in SQLite (`.meltano/meltano.db` by default), through `rusqlite`
//! with SQLite bundled.
//!
//! Meltano opens it in WAL mode; so does eltr. Lock-taking transactions begin `IMMEDIATE`, so
//! two eltr runs checking for a running holder cannot both see none; every other write is one
//! statement, so a killed process leaves the old row or the new one, never half of one.

use super::db::{Database, Decide, NewRun, RunRow, StateRow, db_err};
use super::{Result, StateError};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// The tables Meltano 4.4.1's migrations leave in SQLite (its `.schema`, verbatim), and the
/// Alembic revision they stand at, so Meltano finds nothing to migrate in a database eltr made.
const SCHEMA: &str = r#"
CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
CREATE TABLE IF NOT EXISTS "runs" (
	id INTEGER NOT NULL, 
	job_name VARCHAR, 
	state VARCHAR(7), 
	started_at DATETIME, 
	ended_at DATETIME, 
	payload VARCHAR, 
	payload_flags INTEGER, run_id CHAR(32), "trigger" VARCHAR, last_heartbeat_at DATETIME, 
	PRIMARY KEY (id)
);
CREATE TABLE plugin_settings (
	label VARCHAR(255), 
	description TEXT, 
	name VARCHAR(255) NOT NULL, 
	namespace VARCHAR(255), 
	value BLOB, 
	enabled BOOLEAN, 
	PRIMARY KEY (name, namespace)
);
CREATE TABLE state (
	state_id VARCHAR(900) NOT NULL, 
	partial_state VARCHAR, 
	completed_state VARCHAR, 
	updated_at DATETIME, 
	PRIMARY KEY (state_id), 
	UNIQUE (state_id)
);
INSERT INTO alembic_version (version_num) VALUES ('c0efb3c314eb');
"#;

/// An open SQLite system database.
pub struct Sqlite {
    path: PathBuf,
    label: String,
    conn: Mutex<Connection>,
}

impl Sqlite {
    /// Opens the database at `path`; creates it with Meltano's tables when `create` is set
    /// and it does not exist.
    pub fn open(path: &Path, label: String, create: bool) -> Result<Sqlite> {
        let err = |e: rusqlite::Error| db_err(&label, e);
        if !path.exists() && !create {
            return Err(StateError::Remote {
                store: label.clone(),
                message: "the database file does not exist".into(),
            });
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|error| StateError::Io {
                path: dir.to_path_buf(),
                error,
            })?;
        }
        let conn = Connection::open(path).map_err(err)?;
        // Writers wait for each other (a heartbeat, a checkpoint, Meltano) instead of failing.
        conn.busy_timeout(Duration::from_secs(30)).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        let db = Sqlite {
            path: path.to_path_buf(),
            label,
            conn: Mutex::new(conn),
        };
        db.ensure_tables()?;
        Ok(db)
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn err(&self, e: rusqlite::Error) -> StateError {
        db_err(&self.label, e)
    }

    /// A database without a `state` table gets Meltano's tables; one with a `state` table but
    /// no `runs` table is not Meltano's and is refused.
    fn ensure_tables(&self) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        let tables: Vec<String> = {
            let mut st = tx
                .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
                .map_err(|e| self.err(e))?;
            st.query_map([], |r| r.get(0))
                .and_then(|rows| rows.collect())
                .map_err(|e| self.err(e))?
        };
        let has = |t: &str| tables.iter().any(|n| n == t);
        match (has("state"), has("runs")) {
            (true, true) => {}
            (false, false) if !has("alembic_version") => {
                tx.execute_batch(SCHEMA).map_err(|e| self.err(e))?;
            }
            _ => {
                return Err(StateError::Remote {
                    store: self.label.clone(),
                    message: format!(
                        "{} is not a Meltano system database at a version eltr knows (it lacks the state or runs table); run `meltano state list` once to migrate it",
                        self.path.display()
                    ),
                });
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }
}

/// Whether the SQLite database at `path` holds at least one state row (never creates it).
pub fn holds_state(path: &Path) -> bool {
    let Ok(conn) = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return false;
    };
    let _ = conn.busy_timeout(Duration::from_secs(5));
    conn.query_row("SELECT 1 FROM state LIMIT 1", [], |_| Ok(()))
        .optional()
        .ok()
        .flatten()
        .is_some()
}

impl Database for Sqlite {
    fn describe(&self) -> String {
        self.label.clone()
    }

    fn get(&self, id: &str) -> Result<Option<StateRow>> {
        self.conn()
            .query_row(
                "SELECT partial_state, completed_state FROM state WHERE state_id = ?1",
                [id],
                |r| {
                    Ok(StateRow {
                        partial: r.get(0)?,
                        completed: r.get(1)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    fn put(&self, id: &str, partial: &str, completed: &str, updated_at: &str) -> Result<()> {
        self.conn()
            .execute(
                "INSERT INTO state (state_id, partial_state, completed_state, updated_at) \
                 VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (state_id) DO UPDATE SET partial_state = excluded.partial_state, \
                 completed_state = excluded.completed_state, updated_at = excluded.updated_at",
                params![id, partial, completed, updated_at],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    fn delete(&self, id: &str) -> Result<()> {
        self.conn()
            .execute("DELETE FROM state WHERE state_id = ?1", [id])
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    fn ids(&self) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut st = conn
            .prepare("SELECT state_id FROM state")
            .map_err(|e| self.err(e))?;
        st.query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))
    }

    fn take_lock(&self, new: &NewRun, decide: &mut Decide<'_>) -> Result<i64> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        let rows: Vec<RunRow> = {
            let mut st = tx
                .prepare(
                    "SELECT id, run_id, (julianday(started_at) - 2440587.5) * 86400.0, \
                     (julianday(last_heartbeat_at) - 2440587.5) * 86400.0, payload \
                     FROM runs WHERE job_name = ?1 AND state = 'RUNNING'",
                )
                .map_err(|e| self.err(e))?;
            st.query_map([&new.job_name], |r| {
                Ok(RunRow {
                    id: r.get(0)?,
                    run_id: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                    started_at: r.get::<_, Option<f64>>(2)?.unwrap_or(0.0),
                    last_heartbeat_at: r.get(3)?,
                    payload: r.get(4)?,
                })
            })
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))?
        };
        let reason = decide(&rows)?;
        for row in &rows {
            fail_row(&tx, row, &reason, &new.now).map_err(|e| self.err(e))?;
        }
        tx.execute(
            "INSERT INTO runs (job_name, state, started_at, last_heartbeat_at, payload, \
             payload_flags, run_id, \"trigger\") VALUES (?1, 'RUNNING', ?2, ?2, ?3, 0, ?4, 'eltr')",
            params![
                new.job_name,
                new.now,
                new.payload,
                new.run_id.simple().to_string()
            ],
        )
        .map_err(|e| self.err(e))?;
        let id = tx.last_insert_rowid();
        tx.commit().map_err(|e| self.err(e))?;
        Ok(id)
    }

    fn beat(&self, row: i64, now: &str) -> Result<bool> {
        self.conn()
            .execute(
                "UPDATE runs SET last_heartbeat_at = ?2 WHERE id = ?1 AND state = 'RUNNING'",
                params![row, now],
            )
            .map(|n| n == 1)
            .map_err(|e| self.err(e))
    }

    fn running(&self, row: i64) -> Result<bool> {
        self.conn()
            .query_row("SELECT state FROM runs WHERE id = ?1", [row], |r| {
                r.get::<_, Option<String>>(0)
            })
            .optional()
            .map(|s| s.flatten().as_deref() == Some("RUNNING"))
            .map_err(|e| self.err(e))
    }

    fn finish(&self, row: i64, state: &str, now: &str) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE runs SET state = ?2, ended_at = ?3 WHERE id = ?1 AND state = 'RUNNING'",
                params![row, state, now],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }
}

/// Marks a running row `FAIL` with `reason` in its payload's `error`, as Meltano's
/// `fail_stale` does.
fn fail_row(
    tx: &rusqlite::Transaction<'_>,
    row: &RunRow,
    reason: &str,
    now: &str,
) -> rusqlite::Result<usize> {
    let payload = super::db::payload_with_error(row.payload.as_deref(), reason);
    tx.execute(
        "UPDATE runs SET state = 'FAIL', ended_at = ?2, payload = ?3 WHERE id = ?1",
        params![row.id, now, payload],
    )
}
