//! What the tests that run against every state store share (`tests/state_stores.rs`,
//! `tests/reliability.rs`): the store kinds, the one-test-per-store macro, the emulator
//! variables, which fail the test (never skip it) when missing, and [`Raw`], the stored objects
//! read and written without eltr (the local file; S3 with signed `curl` requests to moto;
//! Azure with the `azure-storage-blob` package of the emulator venv).
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
}

/// Generates one test per store for each scenario: `scenario::local`, `::s3`, `::azure`.
/// Each scenario is a `fn(Kind)` of the calling file.
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
pub(crate) use per_store;

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
        }
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
        };
        keys.retain(|k| !k.is_empty());
        keys.sort();
        keys
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
import sys
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
