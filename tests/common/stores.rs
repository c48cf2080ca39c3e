//! What the tests that run against every state store share (`tests/state_stores.rs`,
//! `tests/reliability.rs`): the store kinds, the one-test-per-store macros, the emulator
//! variables, which fail the test (never skip it) when missing, and [`Raw`], the stored objects
//! read and written without eltr (the local file; S3 with signed `curl` requests to moto;
//! Azure with the `azure-storage-blob` package of the emulator venv; Meltano's system database
//! with plain SQL through `rusqlite` and `postgres`).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The stores every scenario runs against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Local,
    S3,
    Azure,
    /// `systemdb` on SQLite (the project's `.meltano/meltano.db`).
    Sqlite,
    /// `systemdb` on PostgreSQL (a database of its own per test).
    Postgres,
    /// `gs://` on the fake-gcs-server emulator.
    Gcs,
}

/// Generates one test per store for each scenario: `scenario::local`, `::s3`, `::azure`.
/// Each scenario is a `fn(Kind)` of the calling file.
#[allow(unused_macros)]
macro_rules! per_store {
    ($($scenario:ident),* $(,)?) => {
        $(
            mod $scenario {
                #[test]
                fn local() {
                    super::$scenario(super::Kind::Local)
                }
                #[test]
                fn s3() {
                    super::$scenario(super::Kind::S3)
                }
                #[test]
                fn azure() {
                    super::$scenario(super::Kind::Azure)
                }
            }
        )*
    };
}
#[allow(unused_imports)]
pub(crate) use per_store;

/// Generates one test per state home for each scenario: the three of [`per_store`], and
/// Meltano's system database on SQLite and PostgreSQL, and Google Cloud Storage.
#[allow(unused_macros)]
macro_rules! every_store {
    ($($scenario:ident),* $(,)?) => {
        $(
            mod $scenario {
                #[test]
                fn local() {
                    super::$scenario(super::Kind::Local)
                }
                #[test]
                fn s3() {
                    super::$scenario(super::Kind::S3)
                }
                #[test]
                fn azure() {
                    super::$scenario(super::Kind::Azure)
                }
                #[test]
                fn sqlite() {
                    super::$scenario(super::Kind::Sqlite)
                }
                #[test]
                fn postgres() {
                    super::$scenario(super::Kind::Postgres)
                }
                #[test]
                fn gcs() {
                    super::$scenario(super::Kind::Gcs)
                }
            }
        )*
    };
}
#[allow(unused_imports)]
pub(crate) use every_store;

/// A variable the emulator-backed tests need; panics saying how to provide it.
#[track_caller]
pub fn required_var(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{name} is not set: the S3/Azure tests need the moto and Azurite emulators. Run the \
             suite with scripts/test.sh, or start them with \
             `eval \"$(scripts/emulators.sh target/test-tools)\"` and export \
             ELTR_TEST_VENV=target/test-tools/venvs (these tests fail rather than skip)"
        ),
    }
}

/// A new name no other test (or earlier run) uses.
pub fn unique(name: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    format!(
        "{}-{:x}{:08x}-{:x}-{}",
        name.replace('_', "-"),
        t.as_secs(),
        t.subsec_nanos(),
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A new, empty database in the test PostgreSQL cluster (`ELTR_TEST_POSTGRES_URI`): the
/// cluster's URL without a database, and the new database's name.
pub fn postgres_database(test: &str) -> (String, String) {
    let uri = required_var("ELTR_TEST_POSTGRES_URI");
    let name = unique(test).to_lowercase().replace('-', "_");
    let mut client = postgres::Client::connect(&uri, postgres::NoTls)
        .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL at {uri}: {e}"));
    client
        .batch_execute(&format!("CREATE DATABASE \"{name}\""))
        .unwrap();
    let admin = uri.rsplit_once('/').unwrap().0.to_string();
    (admin, name)
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Where a store's objects are, read and written without eltr's code.
#[derive(Debug, Clone)]
pub enum Raw {
    /// The base folder (`{base}/{state_id}/state.json`).
    Local(PathBuf),
    S3 {
        endpoint: String,
        bucket: String,
        prefix: String,
    },
    Azure {
        conn: String,
        container: String,
        prefix: String,
    },
    /// Meltano's system database: `{id}/state.json` is the `state` row of `id` (its two
    /// columns put together as the document the file stores hold), `{id}/lock` the `RUNNING`
    /// row of `runs` named `id`.
    Sqlite(PathBuf),
    Postgres(String),
    /// GCS through the emulator's JSON API (`host:port`, no credentials).
    Gcs {
        host: String,
        bucket: String,
        prefix: String,
    },
}

/// A lock as a store holds it: the body Meltano reads (a bare timestamp) and the holder
/// record eltr keeps where Meltano does not look (`None`: a Meltano lock).
#[derive(Debug, Clone, PartialEq)]
pub struct RawLock {
    pub body: String,
    pub holder: Option<serde_json::Value>,
}

impl RawLock {
    /// The body as seconds since the epoch.
    pub fn time(&self) -> f64 {
        self.body.trim().parse().unwrap_or_else(|_| {
            panic!("lock body is not Meltano's bare timestamp: {:?}", self.body)
        })
    }
}

impl Raw {
    /// Reads `{prefix}/{key}` (`None` when it does not exist).
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        match self {
            Raw::Local(base) => std::fs::read(base.join(key)).ok(),
            Raw::S3 {
                endpoint,
                bucket,
                prefix,
            } => {
                let url = format!("{endpoint}/{bucket}/{prefix}/{key}");
                let out = run_tool(
                    s3_curl(&["--max-time", "20", "-w", "\n%{http_code}"]),
                    &url,
                    None,
                );
                let nl = out
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .expect("curl wrote the status");
                let (body, code) = (&out[..nl], String::from_utf8_lossy(&out[nl + 1..]));
                match code.as_ref() {
                    "200" => Some(body.to_vec()),
                    "404" => None,
                    other => panic!("GET {url}: HTTP {other}: {}", String::from_utf8_lossy(body)),
                }
            }
            Raw::Azure {
                conn,
                container,
                prefix,
            } => match azure("get", conn, container, &format!("{prefix}/{key}"), b"") {
                (200, body) => Some(body),
                (404, _) => None,
                (_, err) => panic!("Azure get {key}: {}", String::from_utf8_lossy(&err)),
            },
            Raw::Gcs { .. } => self.gcs_media(key),
            Raw::Sqlite(_) | Raw::Postgres(_) => {
                if let Some(id) = key.strip_suffix("/state.json") {
                    return self.sql().state(id).map(String::into_bytes);
                }
                let id = key.strip_suffix("/lock").expect("a state.json or lock key");
                self.lock_of(id).map(|l| l.body.into_bytes())
            }
        }
    }

    /// Writes `{prefix}/{key}`.
    pub fn put(&self, key: &str, bytes: &[u8]) {
        match self {
            Raw::Local(base) => {
                let path = base.join(key);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, bytes).unwrap();
            }
            Raw::S3 {
                endpoint,
                bucket,
                prefix,
            } => {
                let url = format!("{endpoint}/{bucket}/{prefix}/{key}");
                let put = s3_curl(&["-f", "-X", "PUT", "--data-binary", "@-"]);
                run_tool(put, &url, Some(bytes));
            }
            Raw::Azure {
                conn,
                container,
                prefix,
            } => {
                let (code, err) = azure("put", conn, container, &format!("{prefix}/{key}"), bytes);
                assert_eq!(
                    code,
                    200,
                    "Azure put {key}: {}",
                    String::from_utf8_lossy(&err)
                );
            }
            Raw::Gcs { .. } => self.gcs_upload(key, bytes, None),
            Raw::Sqlite(_) | Raw::Postgres(_) => {
                let id = key.strip_suffix("/state.json").expect("a state.json key");
                self.sql().put_state(id, &String::from_utf8_lossy(bytes));
            }
        }
    }

    /// The lock of `id`, if any.
    pub fn lock_of(&self, id: &str) -> Option<RawLock> {
        let key = format!("{id}/lock");
        match self {
            Raw::Local(base) => {
                let body = String::from_utf8(std::fs::read(base.join(&key)).ok()?).unwrap();
                let holder = std::fs::read_to_string(base.join(id).join("lock.holder.json"))
                    .ok()
                    .map(|t| serde_json::from_str(&t).unwrap());
                Some(RawLock { body, holder })
            }
            Raw::S3 {
                endpoint,
                bucket,
                prefix,
            } => {
                let url = format!("{endpoint}/{bucket}/{prefix}/{key}");
                let out = run_tool(s3_curl(&["-i", "--max-time", "20"]), &url, None);
                let text = String::from_utf8(out).unwrap();
                let (head, body) = text.split_once("\r\n\r\n").expect("headers");
                if head.starts_with("HTTP/1.1 404") {
                    return None;
                }
                assert!(head.starts_with("HTTP/1.1 200"), "GET {url}: {head}");
                let holder = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("x-amz-meta-eltrholder")
                            .then(|| v.trim())
                    })
                    .map(|v| serde_json::from_str(v).unwrap());
                Some(RawLock {
                    body: body.to_string(),
                    holder,
                })
            }
            Raw::Azure {
                conn,
                container,
                prefix,
            } => match azure("getlock", conn, container, &format!("{prefix}/{key}"), b"") {
                (200, out) => {
                    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
                    Some(RawLock {
                        body: v["body"].as_str().unwrap().to_string(),
                        holder: v["holder"]
                            .as_str()
                            .map(|h| serde_json::from_str(h).unwrap()),
                    })
                }
                (404, _) => None,
                (_, err) => panic!("Azure getlock {key}: {}", String::from_utf8_lossy(&err)),
            },
            Raw::Gcs {
                host,
                bucket,
                prefix,
            } => {
                let url = format!(
                    "http://{host}/storage/v1/b/{bucket}/o/{}",
                    gcs_encode(&format!("{prefix}/{key}"))
                );
                let (code, out) = curl_status(Command::new("curl").args(["-sS"]), &url);
                if code == 404 {
                    return None;
                }
                assert_eq!(code, 200, "GET {url}: {}", String::from_utf8_lossy(&out));
                let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
                let holder = v["metadata"]["eltrholder"]
                    .as_str()
                    .map(|h| serde_json::from_str(h).unwrap());
                let body = String::from_utf8(self.gcs_media(&key)?).unwrap();
                Some(RawLock { body, holder })
            }
            Raw::Sqlite(_) | Raw::Postgres(_) => self.sql().lock(id),
        }
    }

    /// An object's bytes through the JSON API (`None`: absent).
    fn gcs_media(&self, key: &str) -> Option<Vec<u8>> {
        let Raw::Gcs {
            host,
            bucket,
            prefix,
        } = self
        else {
            unreachable!()
        };
        let url = format!(
            "http://{host}/storage/v1/b/{bucket}/o/{}?alt=media",
            gcs_encode(&format!("{prefix}/{key}"))
        );
        match curl_status(Command::new("curl").args(["-sS"]), &url) {
            (200, body) => Some(body),
            (404, _) => None,
            (code, body) => panic!("GET {url}: HTTP {code}: {}", String::from_utf8_lossy(&body)),
        }
    }

    /// Writes an object with a multipart upload (metadata `eltrholder` when given).
    fn gcs_upload(&self, key: &str, bytes: &[u8], holder: Option<&str>) {
        let Raw::Gcs {
            host,
            bucket,
            prefix,
        } = self
        else {
            unreachable!()
        };
        let mut resource = serde_json::json!({"name": format!("{prefix}/{key}")});
        if let Some(h) = holder {
            resource["metadata"] = serde_json::json!({"eltrholder": h});
        }
        let mut body = format!(
            "--BB\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{resource}\r\n--BB\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n--BB--\r\n");
        let url = format!("http://{host}/upload/storage/v1/b/{bucket}/o?uploadType=multipart");
        let mut cmd = Command::new("curl");
        cmd.args([
            "-sSf",
            "-o",
            "/dev/null",
            "-X",
            "POST",
            "-H",
            "Content-Type: multipart/related; boundary=BB",
            "--data-binary",
            "@-",
        ]);
        run_tool(cmd, &url, Some(&body));
    }

    /// Writes a lock of `id`: an eltr holder's (`holder` given) or a Meltano run's.
    pub fn put_lock(&self, id: &str, time: f64, holder: Option<&serde_json::Value>) {
        let key = format!("{id}/lock");
        let body = format!("{time:.6}");
        let holder_text = holder.map(|h| h.to_string());
        match self {
            Raw::Local(base) => {
                self.put(&key, body.as_bytes());
                let sidecar = base.join(id).join("lock.holder.json");
                match &holder_text {
                    Some(t) => std::fs::write(&sidecar, t).unwrap(),
                    None => {
                        let _ = std::fs::remove_file(&sidecar);
                    }
                }
            }
            Raw::S3 {
                endpoint,
                bucket,
                prefix,
            } => {
                let url = format!("{endpoint}/{bucket}/{prefix}/{key}");
                let meta = holder_text
                    .as_ref()
                    .map(|t| format!("x-amz-meta-eltrholder: {t}"));
                let mut args = vec!["-f", "-X", "PUT", "--data-binary", "@-"];
                if let Some(m) = &meta {
                    args.extend(["-H", m.as_str()]);
                }
                run_tool(s3_curl(&args), &url, Some(body.as_bytes()));
            }
            Raw::Azure {
                conn,
                container,
                prefix,
            } => {
                let payload = serde_json::json!({"body": body, "holder": holder_text}).to_string();
                let (code, err) = azure(
                    "putlock",
                    conn,
                    container,
                    &format!("{prefix}/{key}"),
                    payload.as_bytes(),
                );
                assert_eq!(
                    code,
                    200,
                    "Azure putlock: {}",
                    String::from_utf8_lossy(&err)
                );
            }
            Raw::Gcs { .. } => self.gcs_upload(&key, body.as_bytes(), holder_text.as_deref()),
            Raw::Sqlite(_) | Raw::Postgres(_) => self.sql().put_lock(id, time, holder),
        }
    }

    fn sql(&self) -> Sql<'_> {
        Sql(self)
    }

    /// Every key under the prefix (relative to it), sorted.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = match self {
            Raw::Local(base) => crate::common::files_under(base)
                .into_iter()
                .map(|f| f.strip_prefix(base).unwrap().to_string_lossy().into_owned())
                .collect(),
            Raw::S3 {
                endpoint,
                bucket,
                prefix,
            } => {
                let url = format!("{endpoint}/{bucket}?list-type=2&prefix={prefix}/");
                let xml =
                    String::from_utf8_lossy(&run_tool(s3_curl(&["-f"]), &url, None)).into_owned();
                xml.split("<Key>")
                    .skip(1)
                    .map(|s| s.split("</Key>").next().unwrap())
                    .map(|k| k[prefix.len() + 1..].to_string())
                    .collect()
            }
            Raw::Azure {
                conn,
                container,
                prefix,
            } => {
                let (code, out) = azure("list", conn, container, &format!("{prefix}/"), b"");
                let out = String::from_utf8_lossy(&out).into_owned();
                assert_eq!(code, 200, "Azure list: {out}");
                out.lines()
                    .map(|k| k[prefix.len() + 1..].to_string())
                    .collect()
            }
            Raw::Gcs {
                host,
                bucket,
                prefix,
            } => {
                let url = format!(
                    "http://{host}/storage/v1/b/{bucket}/o?prefix={}",
                    gcs_encode(&format!("{prefix}/"))
                );
                let mut cmd = Command::new("curl");
                cmd.arg("-sSf");
                let out = run_tool(cmd, &url, None);
                let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
                v["items"]
                    .as_array()
                    .map(|items| {
                        items
                            .iter()
                            .map(|i| i["name"].as_str().unwrap()[prefix.len() + 1..].to_string())
                            .collect()
                    })
                    .unwrap_or_default()
            }
            Raw::Sqlite(_) | Raw::Postgres(_) => self.sql().keys(),
        };
        keys.retain(|k| !k.is_empty());
        keys.sort();
        keys
    }
}

/// An object name encoded for a JSON API URL.
fn gcs_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `curl … URL` writing the status after the body: (status, body).
fn curl_status(cmd: &mut Command, url: &str) -> (u16, Vec<u8>) {
    cmd.args(["--max-time", "20", "-w", "\n%{http_code}"]);
    let out = run_tool(std::mem::replace(cmd, Command::new("true")), url, None);
    let nl = out
        .iter()
        .rposition(|&b| b == b'\n')
        .expect("curl wrote the status");
    let code = String::from_utf8_lossy(&out[nl + 1..]).parse().unwrap();
    (code, out[..nl].to_vec())
}

/// Creates a bucket in the GCS emulator at `host` (one that exists is fine).
pub fn gcs_create_bucket(host: &str, bucket: &str) {
    let url = format!("http://{host}/storage/v1/b");
    let body = serde_json::json!({"name": bucket}).to_string();
    let mut cmd = Command::new("curl");
    cmd.args([
        "-sS",
        "-o",
        "/dev/null",
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        "@-",
    ]);
    run_tool(cmd, &url, Some(body.as_bytes()));
}

/// Plain SQL on Meltano's tables, for [`Raw`].
struct Sql<'a>(&'a Raw);

/// One query's rows as text (NULL as `None`), on either engine.
fn sql_rows(raw: &Raw, query: &str, params: &[&str]) -> Vec<Vec<Option<String>>> {
    match raw {
        Raw::Sqlite(path) => {
            let conn = rusqlite::Connection::open(path).unwrap();
            conn.busy_timeout(std::time::Duration::from_secs(30))
                .unwrap();
            let mut st = conn.prepare(query).unwrap();
            let n = st.column_count();
            st.query_map(rusqlite::params_from_iter(params.iter()), |r| {
                (0..n)
                    .map(|i| {
                        Ok(match r.get_ref(i)? {
                            rusqlite::types::ValueRef::Null => None,
                            rusqlite::types::ValueRef::Integer(v) => Some(v.to_string()),
                            rusqlite::types::ValueRef::Real(v) => Some(v.to_string()),
                            rusqlite::types::ValueRef::Text(t) => {
                                Some(String::from_utf8_lossy(t).into_owned())
                            }
                            rusqlite::types::ValueRef::Blob(b) => {
                                Some(String::from_utf8_lossy(b).into_owned())
                            }
                        })
                    })
                    .collect()
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
        }
        Raw::Postgres(url) => {
            let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
            let params: Vec<&(dyn postgres::types::ToSql + Sync)> = params
                .iter()
                .map(|p| p as &(dyn postgres::types::ToSql + Sync))
                .collect();
            client
                .query(query, &params)
                .unwrap_or_else(|e| panic!("{query}: {e}"))
                .iter()
                .map(|r| {
                    (0..r.len())
                        .map(|i| r.get::<_, Option<String>>(i))
                        .collect()
                })
                .collect()
        }
        _ => unreachable!("not a system database"),
    }
}

impl Sql<'_> {
    fn pg(&self) -> bool {
        matches!(self.0, Raw::Postgres(_))
    }

    /// The query with `?N` placeholders written for the engine (`$N` on PostgreSQL, where
    /// every parameter is text).
    fn q(&self, sqlite: &str) -> String {
        if !self.pg() {
            return sqlite.to_string();
        }
        let mut out = sqlite.to_string();
        for n in (1..=9).rev() {
            out = out.replace(&format!("?{n}"), &format!("${n}::text"));
        }
        out
    }

    fn rows(&self, sqlite: &str, params: &[&str]) -> Vec<Vec<Option<String>>> {
        sql_rows(self.0, &self.q(sqlite), params)
    }

    /// `{"completed": C, "partial": P}` from the row's texts; a column that is not JSON is
    /// returned as it is (a test stored garbage there).
    fn state(&self, id: &str) -> Option<String> {
        let rows = self.rows(
            "SELECT completed_state, partial_state FROM state WHERE state_id = ?1",
            &[id],
        );
        let row = rows.into_iter().next()?;
        let completed = row[0].clone().unwrap_or_else(|| "null".into());
        let partial = row[1].clone().unwrap_or_else(|| "null".into());
        if serde_json::from_str::<serde_json::Value>(&completed).is_err() {
            return Some(completed);
        }
        Some(format!(
            "{{\"completed\": {completed}, \"partial\": {partial}}}"
        ))
    }

    /// Stores a document's two parts in the row of `id` (text that is not a document goes
    /// into `completed_state` as it is).
    fn put_state(&self, id: &str, text: &str) {
        let (completed, partial) = match serde_json::from_str::<serde_json::Value>(text) {
            Ok(v) if v.get("completed").is_some() => (
                py_json(&v["completed"]),
                py_json(v.get("partial").unwrap_or(&serde_json::json!({}))),
            ),
            _ => (text.to_string(), "{}".to_string()),
        };
        self.rows("DELETE FROM state WHERE state_id = ?1", &[id]);
        self.rows(
            "INSERT INTO state (state_id, completed_state, partial_state) VALUES (?1, ?2, ?3)",
            &[id, &completed, &partial],
        );
    }

    fn epoch(&self, column: &str) -> String {
        if self.pg() {
            format!("extract(epoch from {column})::float8::text")
        } else {
            format!("(julianday({column}) - 2440587.5) * 86400.0")
        }
    }

    fn lock(&self, id: &str) -> Option<RawLock> {
        let q = format!(
            "SELECT {}, {}, payload FROM runs WHERE job_name = ?1 AND state = 'RUNNING' ORDER BY id DESC",
            self.epoch("last_heartbeat_at"),
            self.epoch("started_at"),
        );
        let row = self.rows(&q, &[id]).into_iter().next()?;
        let beat: f64 = row[0]
            .as_deref()
            .or(row[1].as_deref())
            .unwrap()
            .parse()
            .unwrap();
        let holder = row[2]
            .as_deref()
            .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
            .and_then(|v| v.get("eltr_lock").cloned());
        Some(RawLock {
            body: format!("{beat:.6}"),
            holder,
        })
    }

    fn put_lock(&self, id: &str, time: f64, holder: Option<&serde_json::Value>) {
        let started = holder
            .and_then(|h| h["started_at"].as_f64())
            .unwrap_or(time);
        let payload = match holder {
            Some(h) => {
                let mut h = h.clone();
                h["heartbeat_at"] = serde_json::json!(time);
                serde_json::json!({ "eltr_lock": h }).to_string()
            }
            None => "{}".to_string(),
        };
        let ts = |t: f64| {
            if self.pg() {
                format!("(to_timestamp({t}) AT TIME ZONE 'UTC')")
            } else {
                format!("strftime('%Y-%m-%d %H:%M:%f', {t}, 'unixepoch')")
            }
        };
        let run_id = format!("{:032x}", std::process::id() as u128 * 7919 + time as u128);
        let run_id = if self.pg() {
            format!("'{}'::uuid", &run_id)
        } else {
            format!("'{run_id}'")
        };
        let q = format!(
            "INSERT INTO runs (job_name, state, started_at, last_heartbeat_at, payload, payload_flags, run_id, trigger) \
             VALUES (?1, 'RUNNING', {}, {}, ?2, 0, {run_id}, 'cli')",
            ts(started),
            ts(time)
        );
        // A lock replaces the one before, as a put of the lock object does.
        self.rows(
            "DELETE FROM runs WHERE job_name = ?1 AND state = 'RUNNING'",
            &[id],
        );
        self.rows(&q, &[id, &payload]);
    }

    fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .rows("SELECT state_id FROM state", &[])
            .into_iter()
            .map(|r| format!("{}/state.json", r[0].as_deref().unwrap()))
            .collect();
        keys.extend(
            self.rows("SELECT job_name FROM runs WHERE state = 'RUNNING'", &[])
                .into_iter()
                .map(|r| format!("{}/lock", r[0].as_deref().unwrap())),
        );
        keys
    }
}

/// JSON text as Python's `json.dumps` writes it (`", "` and `": "`), as Meltano stores it.
fn py_json(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Object(m) => {
            let items: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}: {}", serde_json::Value::String(k.clone()), py_json(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        serde_json::Value::Array(a) => {
            let items: Vec<String> = a.iter().map(py_json).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

/// `curl` with moto's requests signed (SigV4, any key works; unsigned GETs are refused and
/// unsigned PUTs lose their body).
pub fn s3_curl(args: &[&str]) -> Command {
    let mut cmd = Command::new("curl");
    cmd.args([
        "-sS",
        "--aws-sigv4",
        "aws:amz:us-east-1:s3",
        "--user",
        "testing:testing",
        "-H",
        "Content-Type: application/octet-stream",
    ])
    .args(args);
    cmd
}

/// Runs `cmd LAST_ARG` with `stdin`; panics unless it succeeds; returns its stdout.
#[track_caller]
pub fn run_tool(mut cmd: Command, last_arg: &str, stdin: Option<&[u8]>) -> Vec<u8> {
    cmd.arg(last_arg)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if let Some(bytes) = stdin {
        child.stdin.take().unwrap().write_all(bytes).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    out.stdout
}

/// Creates a bucket at an S3 endpoint.
pub fn s3_create_bucket(endpoint: &str, bucket: &str) {
    run_tool(
        s3_curl(&["-f", "-X", "PUT", "-o", "/dev/null"]),
        &format!("{endpoint}/{bucket}"),
        None,
    );
}

/// Creates a container in an Azure Blob endpoint (one that exists is fine).
pub fn azure_create_container(conn: &str, container: &str) {
    let (code, err) = azure("create-container", conn, container, "-", b"");
    assert_eq!(
        code,
        200,
        "create container {container}: {}",
        String::from_utf8_lossy(&err)
    );
}

/// One long-lived Python (the emulator venv has `azure-storage-blob`) answering blob requests
/// line by line: starting Python for each request would cost more than the runs under test.
/// Bodies travel hex-encoded both ways.
const AZURE_HELPER: &str = r#"
import json, sys
from azure.core.exceptions import ResourceNotFoundError, ResourceExistsError
from azure.storage.blob import BlobServiceClient
clients = {}
for line in sys.stdin:
    op, conn, container, name, body = line.rstrip("\n").split("\t")
    c = clients.get((conn, container))
    if c is None:
        service = BlobServiceClient.from_connection_string(conn, retry_total=2)
        c = clients[(conn, container)] = service.get_container_client(container)
    try:
        if op == "get":
            try:
                out = "200\t" + c.download_blob(name).readall().hex()
            except ResourceNotFoundError:
                out = "404\t"
        elif op == "put":
            c.upload_blob(name, bytes.fromhex(body), overwrite=True)
            out = "200\t"
        elif op == "getlock":
            try:
                b = c.get_blob_client(name)
                props = b.get_blob_properties()
                data = b.download_blob().readall().decode()
                holder = props.metadata.get("eltrholder")
                out = "200\t" + json.dumps({"body": data, "holder": holder}).encode().hex()
            except ResourceNotFoundError:
                out = "404\t"
        elif op == "putlock":
            req = json.loads(bytes.fromhex(body))
            meta = {"eltrholder": req["holder"]} if req["holder"] else None
            c.upload_blob(name, req["body"].encode(), overwrite=True, metadata=meta)
            out = "200\t"
        elif op == "list":
            names = "".join(b.name + "\n" for b in c.list_blobs(name_starts_with=name))
            out = "200\t" + names.encode().hex()
        elif op == "create-container":
            try:
                c.create_container()
            except ResourceExistsError:
                pass
            out = "200\t"
        else:
            out = "500\t" + ("unknown op " + op).encode().hex()
    except Exception as e:
        out = "500\t" + repr(e).encode().hex()
    print(out, flush=True)
"#;

struct AzureHelper {
    _child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

static AZURE: Mutex<Option<AzureHelper>> = Mutex::new(None);

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One request to the Azure helper: its HTTP-like status and body.
fn azure(op: &str, conn: &str, container: &str, name: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut guard = AZURE.lock().unwrap_or_else(|e| e.into_inner());
    let helper = guard.get_or_insert_with(|| {
        let py = PathBuf::from(required_var("ELTR_TEST_VENV")).join("emulators/bin/python");
        assert!(
            py.is_file(),
            "{} does not exist: ELTR_TEST_VENV must point at the venvs scripts/test-env.sh builds",
            py.display()
        );
        let mut child = Command::new(py)
            .args(["-c", AZURE_HELPER])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the Azure helper");
        AzureHelper {
            stdin: child.stdin.take().unwrap(),
            stdout: BufReader::new(child.stdout.take().unwrap()),
            _child: child,
        }
    });
    writeln!(
        helper.stdin,
        "{op}\t{conn}\t{container}\t{name}\t{}",
        hex(body)
    )
    .expect("Azure helper stdin");
    helper.stdin.flush().unwrap();
    let mut line = String::new();
    helper
        .stdout
        .read_line(&mut line)
        .expect("Azure helper stdout");
    let (code, hex) = line
        .trim_end_matches('\n')
        .split_once('\t')
        .unwrap_or_else(|| panic!("Azure helper said {line:?}"));
    let bytes = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    (code.parse().unwrap(), bytes)
}
