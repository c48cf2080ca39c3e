//! Meltano's system database in PostgreSQL (`database_uri: postgresql://…`), through the
//! `postgres` crate (the blocking client of rust-postgres).
//!
//! Lock-taking transactions first take a transaction-scoped advisory lock keyed by the state
//! id, so two eltr runs checking for a running holder cannot both see none; every other write
//! is one statement, so a killed process leaves the old row or the new one.

use super::db::{Database, Decide, NewRun, RunRow, StateRow, db_err, payload_with_error};
use super::{Result, StateError};
use postgres::{Client, Config, NoTls};
use sha2::{Digest, Sha256};
use std::sync::Mutex;
use std::time::Duration;

/// The tables Meltano 4.4.1's migrations leave in PostgreSQL (`pg_dump -s`), and the Alembic
/// revision they stand at, so Meltano finds nothing to migrate in a database eltr made.
const SCHEMA: &str = r#"
CREATE TABLE alembic_version (
    version_num character varying(32) NOT NULL,
    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
CREATE SEQUENCE job_id_seq AS integer START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1;
CREATE TABLE runs (
    id integer NOT NULL DEFAULT nextval('job_id_seq'::regclass),
    job_name character varying,
    state character varying,
    started_at timestamp without time zone,
    ended_at timestamp without time zone,
    payload character varying,
    payload_flags integer,
    run_id uuid,
    trigger character varying,
    last_heartbeat_at timestamp without time zone,
    CONSTRAINT job_pkey PRIMARY KEY (id)
);
ALTER SEQUENCE job_id_seq OWNED BY runs.id;
CREATE TABLE plugin_settings (
    label character varying(255),
    description text,
    name character varying(255) NOT NULL,
    namespace character varying(255) NOT NULL,
    value bytea,
    enabled boolean,
    CONSTRAINT plugin_settings_pkey PRIMARY KEY (name, namespace)
);
CREATE TABLE state (
    state_id character varying(900) NOT NULL,
    partial_state character varying,
    completed_state character varying,
    updated_at timestamp without time zone,
    CONSTRAINT state_pkey PRIMARY KEY (state_id)
);
INSERT INTO alembic_version (version_num) VALUES ('c0efb3c314eb');
"#;

/// An open PostgreSQL system database.
pub struct Postgres {
    label: String,
    client: Mutex<Client>,
}

impl Postgres {
    /// Connects to `url` (`postgresql://…`, the driver part already removed); creates
    /// Meltano's tables when the database has none.
    pub fn open(url: &str, label: String) -> Result<Postgres> {
        let err = |e: postgres::Error| db_err(&label, explain(&e));
        let mut config: Config = url.parse().map_err(err)?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        let client = config.connect(NoTls).map_err(err)?;
        let db = Postgres {
            label,
            client: Mutex::new(client),
        };
        db.ensure_tables()?;
        Ok(db)
    }

    fn client(&self) -> std::sync::MutexGuard<'_, Client> {
        self.client.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn err(&self, e: postgres::Error) -> StateError {
        db_err(&self.label, explain(&e))
    }

    fn ensure_tables(&self) -> Result<()> {
        let mut client = self.client();
        let mut tx = client.transaction().map_err(|e| self.err(e))?;
        // Two eltr processes creating the tables at once: the second waits, then finds them.
        tx.execute("SELECT pg_advisory_xact_lock(4242424242)", &[])
            .map_err(|e| self.err(e))?;
        let count = |tx: &mut postgres::Transaction<'_>, t: &str| -> Result<bool> {
            tx.query_one("SELECT to_regclass($1::text) IS NOT NULL", &[&t])
                .map(|r| r.get::<_, bool>(0))
                .map_err(|e| self.err(e))
        };
        let (state, runs, alembic) = (
            count(&mut tx, "state")?,
            count(&mut tx, "runs")?,
            count(&mut tx, "alembic_version")?,
        );
        match (state, runs) {
            (true, true) => {}
            (false, false) if !alembic => {
                tx.batch_execute(SCHEMA).map_err(|e| self.err(e))?;
            }
            _ => {
                return Err(StateError::Remote {
                    store: self.label.clone(),
                    message: "not a Meltano system database at a version eltr knows (it lacks the state or runs table); run `meltano state list` once to migrate it".into(),
                });
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }
}

/// The database's own message (`password authentication failed…`), not the client's wrapper.
fn explain(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text = format!("{text}: {s}");
                source = s.source();
            }
            text
        }
    }
}

/// The advisory lock key of a state id (the first 8 bytes of its SHA-256).
fn lock_key(job: &str) -> i64 {
    let digest = Sha256::digest(job.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

impl Database for Postgres {
    fn describe(&self) -> String {
        self.label.clone()
    }

    fn get(&self, id: &str) -> Result<Option<StateRow>> {
        self.client()
            .query_opt(
                "SELECT partial_state::text, completed_state::text FROM state WHERE state_id = $1::text",
                &[&id],
            )
            .map(|row| {
                row.map(|r| StateRow {
                    partial: r.get(0),
                    completed: r.get(1),
                })
            })
            .map_err(|e| self.err(e))
    }

    fn put(&self, id: &str, partial: &str, completed: &str, updated_at: &str) -> Result<()> {
        self.client()
            .execute(
                "INSERT INTO state (state_id, partial_state, completed_state, updated_at) \
                 VALUES ($1::text, $2::text, $3::text, $4::text::timestamp) \
                 ON CONFLICT (state_id) DO UPDATE SET partial_state = excluded.partial_state, \
                 completed_state = excluded.completed_state, updated_at = excluded.updated_at",
                &[&id, &partial, &completed, &updated_at],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    fn delete(&self, id: &str) -> Result<()> {
        self.client()
            .execute("DELETE FROM state WHERE state_id = $1::text", &[&id])
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    fn ids(&self) -> Result<Vec<String>> {
        self.client()
            .query("SELECT state_id::text FROM state", &[])
            .map(|rows| rows.iter().map(|r| r.get(0)).collect())
            .map_err(|e| self.err(e))
    }

    fn take_lock(&self, new: &NewRun, decide: &mut Decide<'_>) -> Result<i64> {
        let mut client = self.client();
        let mut tx = client.transaction().map_err(|e| self.err(e))?;
        tx.execute(
            "SELECT pg_advisory_xact_lock($1::int8)",
            &[&lock_key(&new.job_name)],
        )
        .map_err(|e| self.err(e))?;
        let rows: Vec<RunRow> = tx
            .query(
                "SELECT id::int8, run_id::text, extract(epoch from started_at)::float8, \
                 extract(epoch from last_heartbeat_at)::float8, payload::text \
                 FROM runs WHERE job_name = $1::text AND state = 'RUNNING'",
                &[&new.job_name],
            )
            .map_err(|e| self.err(e))?
            .iter()
            .map(|r| RunRow {
                id: r.get(0),
                run_id: r.get::<_, Option<String>>(1).unwrap_or_default(),
                started_at: r.get::<_, Option<f64>>(2).unwrap_or(0.0),
                last_heartbeat_at: r.get(3),
                payload: r.get(4),
            })
            .collect();
        let reason = decide(&rows)?;
        for row in &rows {
            let payload = payload_with_error(row.payload.as_deref(), &reason);
            tx.execute(
                "UPDATE runs SET state = 'FAIL', ended_at = $2::text::timestamp, payload = $3::text \
                 WHERE id = $1::int8",
                &[&row.id, &new.now, &payload],
            )
            .map_err(|e| self.err(e))?;
        }
        let id: i64 = tx
            .query_one(
                "INSERT INTO runs (job_name, state, started_at, last_heartbeat_at, payload, \
                 payload_flags, run_id, trigger) VALUES ($1::text, 'RUNNING', \
                 $2::text::timestamp, $2::text::timestamp, $3::text, 0, $4::text::uuid, 'eltr') \
                 RETURNING id::int8",
                &[
                    &new.job_name,
                    &new.now,
                    &new.payload,
                    &new.run_id.hyphenated().to_string(),
                ],
            )
            .map(|r| r.get(0))
            .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(id)
    }

    fn beat(&self, row: i64, now: &str) -> Result<bool> {
        self.client()
            .execute(
                "UPDATE runs SET last_heartbeat_at = $2::text::timestamp \
                 WHERE id = $1::int8 AND state = 'RUNNING'",
                &[&row, &now],
            )
            .map(|n| n == 1)
            .map_err(|e| self.err(e))
    }

    fn running(&self, row: i64) -> Result<bool> {
        self.client()
            .query_opt("SELECT state::text FROM runs WHERE id = $1::int8", &[&row])
            .map(|r| r.and_then(|r| r.get::<_, Option<String>>(0)).as_deref() == Some("RUNNING"))
            .map_err(|e| self.err(e))
    }

    fn finish(&self, row: i64, state: &str, now: &str) -> Result<()> {
        self.client()
            .execute(
                "UPDATE runs SET state = $2::text, ended_at = $3::text::timestamp \
                 WHERE id = $1::int8 AND state = 'RUNNING'",
                &[&row, &state, &now],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }
}
