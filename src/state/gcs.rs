//! Google Cloud Storage (`gs://bucket/prefix`), laid out as Meltano's GCS backend lays it out:
//! `{prefix}/{state_id}/state.json` and `{prefix}/{state_id}/lock`.
//!
//! A small client of the JSON API on `reqwest`, not `object_store`'s GCS support: that one
//! writes through the XML API, which the emulators tests can run against do not honour
//! (measured: `gcp-storage-emulator` 2026.7.19 ignores `x-goog-if-generation-match` and
//! `ifGenerationMatch`, `fake-gcs-server` 1.x answers 404 to XML PUTs), so create-only locks
//! could not be tested. The JSON API's multipart upload with `ifGenerationMatch=0` (create
//! only) and `ifGenerationMatch=G` (update only generation G) is what the locks need, and
//! what real GCS and `fake-gcs-server` both honour.
//!
//! Settings, as Meltano names them: `gcs.application_credentials_path` (or the deprecated
//! `gcs.application_credentials`), `gcs.application_credentials_json`, else
//! `GOOGLE_APPLICATION_CREDENTIALS`, else the metadata server (GCE, GKE, Cloud Run).
//! `STORAGE_EMULATOR_HOST`, as Google's client libraries read it, sends every request to an
//! emulator, without credentials.

use super::lock::{HOLDER_METADATA, HeldLock, LockInfo, LockObject, LockPolicy, Refresh};
use super::{LockGuard, Result, StateError, StateId, Store};
use crate::project::backend::StateBackendSettings;
use crate::singer::state::StateDoc;
use base64::Engine as _;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A store in a GCS bucket.
pub struct GcsStore {
    inner: Arc<Client>,
}

/// The HTTP side: where requests go and with which token.
struct Client {
    http: reqwest::Client,
    /// `https://storage.googleapis.com`, or the emulator.
    base: String,
    bucket: String,
    prefix: String,
    label: String,
    auth: Auth,
    token: Mutex<Option<(String, SystemTime)>>,
    rt: tokio::runtime::Runtime,
}

/// Where access tokens come from.
enum Auth {
    /// An emulator: no credentials, as Google's libraries do with `STORAGE_EMULATOR_HOST`.
    Anonymous,
    ServiceAccount {
        email: String,
        key_der: Vec<u8>,
        token_uri: String,
    },
    AuthorizedUser {
        client_id: String,
        client_secret: String,
        refresh_token: String,
    },
    /// The metadata server of the machine (GCE, GKE, Cloud Run).
    Metadata,
}

/// What an upload can run into besides success.
enum Upload {
    Done(String),
    /// The `ifGenerationMatch` condition did not hold (412), or the object is gone (404).
    Conflict,
}

const SCOPE: &str = "https://www.googleapis.com/auth/devstorage.read_write";

fn gcs_err(label: &str, message: impl Into<String>) -> StateError {
    StateError::Remote {
        store: label.to_string(),
        message: message.into(),
    }
}

/// Percent-encodes an object name for a URL path segment or query value.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl GcsStore {
    /// Opens the store `gs://bucket/prefix` with the backend settings.
    pub fn open(uri: &str, settings: &StateBackendSettings) -> Result<GcsStore> {
        let rest = uri
            .strip_prefix("gs://")
            .ok_or_else(|| StateError::BadUri(uri.into()))?;
        let (bucket, prefix) = match rest.split_once('/') {
            Some((b, p)) => (b, p.trim_matches('/')),
            None => (rest, ""),
        };
        if bucket.is_empty() {
            return Err(StateError::BadUri(uri.into()));
        }
        let label = uri.trim_end_matches('/').to_string();
        let emulator = std::env::var("STORAGE_EMULATOR_HOST")
            .ok()
            .filter(|h| !h.is_empty());
        let (base, auth) = match emulator {
            Some(host) => {
                let host = host.trim_end_matches('/');
                let base = if host.contains("://") {
                    host.to_string()
                } else {
                    format!("http://{host}")
                };
                (base, Auth::Anonymous)
            }
            None => (
                "https://storage.googleapis.com".to_string(),
                credentials(settings).map_err(|m| gcs_err(&label, m))?,
            ),
        };
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| gcs_err(&label, e.to_string()))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| gcs_err(&label, e.to_string()))?;
        Ok(GcsStore {
            inner: Arc::new(Client {
                http,
                base,
                bucket: bucket.to_string(),
                prefix: prefix.to_string(),
                label,
                auth,
                token: Mutex::new(None),
                rt,
            }),
        })
    }
}

/// The credentials the settings (or the environment) name, as Meltano's GCS backend and
/// Google's libraries look for them.
fn credentials(s: &StateBackendSettings) -> std::result::Result<Auth, String> {
    let path = s
        .get("gcs.application_credentials_path")
        .or_else(|| s.get("gcs.application_credentials"))
        .map(String::from);
    let inline = s.get("gcs.application_credentials_json").map(String::from);
    let text = match (path, inline) {
        (Some(_), Some(_)) => {
            return Err("give only one of gcs.application_credentials_path and gcs.application_credentials_json".into());
        }
        (None, Some(json)) => Some(json),
        (Some(p), None) => Some(
            std::fs::read_to_string(&p)
                .map_err(|e| format!("cannot read the credentials file {p}: {e}"))?,
        ),
        (None, None) => {
            match std::env::var("GOOGLE_APPLICATION_CREDENTIALS") {
                Ok(p) if !p.is_empty() => Some(std::fs::read_to_string(&p).map_err(|e| {
                    format!("cannot read GOOGLE_APPLICATION_CREDENTIALS ({p}): {e}")
                })?),
                _ => None,
            }
        }
    };
    let Some(text) = text else {
        return Ok(Auth::Metadata);
    };
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| format!("the GCS credentials are not valid JSON ({e})"))?;
    let field = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .map(String::from)
            .ok_or_else(|| format!("the GCS credentials have no '{k}'"))
    };
    match v.get("type").and_then(Value::as_str) {
        Some("service_account") => Ok(Auth::ServiceAccount {
            email: field("client_email")?,
            key_der: pem_to_der(&field("private_key")?)
                .ok_or("the service account's private_key is not a PEM key")?,
            token_uri: field("token_uri")
                .unwrap_or_else(|_| "https://oauth2.googleapis.com/token".into()),
        }),
        Some("authorized_user") => Ok(Auth::AuthorizedUser {
            client_id: field("client_id")?,
            client_secret: field("client_secret")?,
            refresh_token: field("refresh_token")?,
        }),
        other => Err(format!(
            "unsupported GCS credentials type {other:?} (service_account or authorized_user)"
        )),
    }
}

/// The DER bytes of a PEM block.
fn pem_to_der(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

/// A signed JWT asking for a token (RFC 7523), as service accounts authenticate.
fn service_account_assertion(
    email: &str,
    key_der: &[u8],
    token_uri: &str,
    now: u64,
) -> std::result::Result<String, String> {
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let header = b64(br#"{"alg":"RS256","typ":"JWT"}"#);
    let claims = json!({
        "iss": email,
        "scope": SCOPE,
        "aud": token_uri,
        "iat": now,
        "exp": now + 3600,
    });
    let signing_input = format!("{header}.{}", b64(claims.to_string().as_bytes()));
    let key = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(key_der)
        .map_err(|e| format!("the service account's private key is unusable: {e}"))?;
    let mut sig = vec![0u8; key.public_modulus_len()];
    key.sign(
        &aws_lc_rs::signature::RSA_PKCS1_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        signing_input.as_bytes(),
        &mut sig,
    )
    .map_err(|e| format!("cannot sign the token request: {e}"))?;
    Ok(format!("{signing_input}.{}", b64(&sig)))
}

impl Client {
    fn err(&self, message: impl Into<String>) -> StateError {
        let message = message.into();
        let first = message.lines().next().unwrap_or(&message);
        gcs_err(&self.label, first.chars().take(300).collect::<String>())
    }

    fn key(&self, id: &StateId, file: &str) -> String {
        if self.prefix.is_empty() {
            format!("{}/{file}", id.as_str())
        } else {
            format!("{}/{}/{file}", self.prefix, id.as_str())
        }
    }

    fn object_url(&self, name: &str) -> String {
        format!(
            "{}/storage/v1/b/{}/o/{}",
            self.base,
            encode(&self.bucket),
            encode(name)
        )
    }

    /// A request error in the store's terms.
    fn send_err(&self, e: reqwest::Error) -> StateError {
        if e.is_connect() || e.is_timeout() {
            self.err("cannot reach the store: check STORAGE_EMULATOR_HOST (if set) and the network")
        } else {
            self.err(format!("request failed: {e}"))
        }
    }

    /// What a non-success status means.
    fn status_err(&self, status: reqwest::StatusCode, body: &str) -> StateError {
        let detail = serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(String::from))
            .unwrap_or_else(|| body.chars().take(200).collect());
        match status.as_u16() {
            401 | 403 => self.err(format!(
                "access denied: check the credentials (state_backend gcs.application_credentials_path / gcs.application_credentials_json, or GOOGLE_APPLICATION_CREDENTIALS): {detail}"
            )),
            _ => self.err(format!("HTTP {status}: {detail}")),
        }
    }

    /// The `Authorization` header value, refreshed when the token expires.
    async fn bearer(&self) -> Result<Option<String>> {
        if matches!(self.auth, Auth::Anonymous) {
            return Ok(None);
        }
        if let Some((token, until)) = self.token.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            if SystemTime::now() + Duration::from_secs(60) < until {
                return Ok(Some(format!("Bearer {token}")));
            }
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let request = match &self.auth {
            Auth::Anonymous => unreachable!(),
            Auth::ServiceAccount {
                email,
                key_der,
                token_uri,
            } => {
                let jwt = service_account_assertion(email, key_der, token_uri, now)
                    .map_err(|m| self.err(m))?;
                form(self.http.post(token_uri), &[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                    ("assertion", jwt.as_str()),
                ])
            }
            Auth::AuthorizedUser {
                client_id,
                client_secret,
                refresh_token,
            } => form(
                self.http.post("https://oauth2.googleapis.com/token"),
                &[
                    ("grant_type", "refresh_token"),
                    ("client_id", client_id.as_str()),
                    ("client_secret", client_secret.as_str()),
                    ("refresh_token", refresh_token.as_str()),
                ],
            ),
            Auth::Metadata => self
                .http
                .get("http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token")
                .header("Metadata-Flavor", "Google"),
        };
        let resp = request.send().await.map_err(|_| {
            self.err("no credentials: set state_backend gcs.application_credentials_path (or GOOGLE_APPLICATION_CREDENTIALS), or run where the metadata server answers")
        })?;
        let status = resp.status();
        let body = resp.text().await.map_err(|e| self.send_err(e))?;
        if !status.is_success() {
            return Err(self.err(format!(
                "access denied: the token request failed (HTTP {status}); check the credentials"
            )));
        }
        let v: Value = serde_json::from_str(&body).unwrap_or_default();
        let token = v["access_token"]
            .as_str()
            .ok_or_else(|| self.err("the token response has no access_token"))?
            .to_string();
        let ttl = v["expires_in"].as_u64().unwrap_or(300);
        *self.token.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((token.clone(), SystemTime::now() + Duration::from_secs(ttl)));
        Ok(Some(format!("Bearer {token}")))
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<(reqwest::StatusCode, String)> {
        let req = match self.bearer().await? {
            Some(b) => req.header("Authorization", b),
            None => req,
        };
        let resp = req.send().await.map_err(|e| self.send_err(e))?;
        let status = resp.status();
        let body = resp.text().await.map_err(|e| self.send_err(e))?;
        Ok((status, body))
    }

    /// An object's bytes at `generation` (the newest when `None`); `None` when absent.
    fn download(&self, name: &str, generation: Option<&str>) -> Result<Option<Vec<u8>>> {
        let mut url = format!("{}?alt=media", self.object_url(name));
        if let Some(g) = generation {
            url.push_str(&format!("&generation={g}"));
        }
        self.rt.block_on(async {
            let req = self.http.get(&url);
            let req = match self.bearer().await? {
                Some(b) => req.header("Authorization", b),
                None => req,
            };
            let resp = req.send().await.map_err(|e| self.send_err(e))?;
            let status = resp.status();
            let bytes = resp.bytes().await.map_err(|e| self.send_err(e))?;
            match status.as_u16() {
                200 => Ok(Some(bytes.to_vec())),
                404 => Ok(None),
                _ => Err(self.status_err(status, &String::from_utf8_lossy(&bytes))),
            }
        })
    }

    /// An object's resource (generation, metadata); `None` when absent.
    fn resource(&self, name: &str) -> Result<Option<Value>> {
        let url = self.object_url(name);
        self.rt.block_on(async {
            let (status, body) = self.send(self.http.get(&url)).await?;
            match status.as_u16() {
                200 => serde_json::from_str(&body)
                    .map(Some)
                    .map_err(|e| self.err(format!("unreadable object resource: {e}"))),
                404 => Ok(None),
                _ => Err(self.status_err(status, &body)),
            }
        })
    }

    /// Writes an object in one multipart upload, with metadata, if the generation condition
    /// holds (`Some("0")`: only if it does not exist).
    fn upload(
        &self,
        name: &str,
        body: &[u8],
        metadata: Option<&str>,
        if_generation_match: Option<&str>,
    ) -> Result<Upload> {
        let mut resource = json!({ "name": name, "contentType": "application/json" });
        if let Some(m) = metadata {
            resource["metadata"] = json!({ HOLDER_METADATA: m });
        }
        let boundary = format!("eltr-{}", uuid::Uuid::new_v4().simple());
        let mut payload = Vec::with_capacity(body.len() + 512);
        payload.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{resource}\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        payload.extend_from_slice(body);
        payload.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let mut url = format!(
            "{}/upload/storage/v1/b/{}/o?uploadType=multipart",
            self.base,
            encode(&self.bucket)
        );
        if let Some(g) = if_generation_match {
            url.push_str(&format!("&ifGenerationMatch={g}"));
        }
        self.rt.block_on(async {
            let req = self
                .http
                .post(&url)
                .header(
                    "Content-Type",
                    format!("multipart/related; boundary={boundary}"),
                )
                .body(payload);
            let (status, text) = self.send(req).await?;
            match status.as_u16() {
                200 => {
                    let v: Value = serde_json::from_str(&text).unwrap_or_default();
                    Ok(Upload::Done(generation_of(&v)))
                }
                412 if if_generation_match.is_some() => Ok(Upload::Conflict),
                // An update of a lock object that was deleted meanwhile; a create (or any
                // other write) answered 404 has no bucket to go to.
                404 if if_generation_match.is_some_and(|g| g != "0") => Ok(Upload::Conflict),
                404 => Err(self.err(
                    "the bucket does not exist; create it, or fix the name in state_backend.uri",
                )),
                _ => Err(self.status_err(status, &text)),
            }
        })
    }

    fn delete(&self, name: &str) -> Result<()> {
        let url = self.object_url(name);
        self.rt.block_on(async {
            let (status, body) = self.send(self.http.delete(&url)).await?;
            match status.as_u16() {
                200 | 204 | 404 => Ok(()),
                _ => Err(self.status_err(status, &body)),
            }
        })
    }

    /// Every object name under the prefix.
    fn list(&self) -> Result<Vec<String>> {
        let prefix = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        let mut names = Vec::new();
        let mut page: Option<String> = None;
        loop {
            let mut url = format!(
                "{}/storage/v1/b/{}/o?prefix={}",
                self.base,
                encode(&self.bucket),
                encode(&prefix)
            );
            if let Some(p) = &page {
                url.push_str(&format!("&pageToken={}", encode(p)));
            }
            let (status, body) = self.rt.block_on(self.send(self.http.get(&url)))?;
            if status.as_u16() == 404 {
                return Err(self.err(
                    "the bucket does not exist; create it, or fix the name in state_backend.uri",
                ));
            }
            if !status.is_success() {
                return Err(self.status_err(status, &body));
            }
            let v: Value = serde_json::from_str(&body)
                .map_err(|e| self.err(format!("unreadable listing: {e}")))?;
            if let Some(items) = v["items"].as_array() {
                names.extend(
                    items
                        .iter()
                        .filter_map(|i| i["name"].as_str().map(String::from)),
                );
            }
            match v["nextPageToken"].as_str() {
                Some(t) if !t.is_empty() => page = Some(t.to_string()),
                _ => return Ok(names),
            }
        }
    }

    /// Fails when the bucket itself is missing or unreadable.
    fn check_bucket(&self) -> Result<()> {
        let url = format!("{}/storage/v1/b/{}", self.base, encode(&self.bucket));
        let (status, body) = self.rt.block_on(self.send(self.http.get(&url)))?;
        match status.as_u16() {
            200 => Ok(()),
            404 => Err(self
                .err("the bucket does not exist; create it, or fix the name in state_backend.uri")),
            _ => Err(self.status_err(status, &body)),
        }
    }

    /// The lock object: its holder (`None` when unreadable) and generation; `None` when
    /// there is no lock.
    fn read_lock(&self, name: &str) -> Result<Option<(Option<LockInfo>, String)>> {
        // The body is read at the generation whose metadata was read; a heartbeat may replace
        // that generation in between (its bytes are then gone): read both again.
        for _ in 0..5 {
            let Some(resource) = self.resource(name)? else {
                return Ok(None);
            };
            let generation = generation_of(&resource);
            let holder = resource["metadata"][HOLDER_METADATA]
                .as_str()
                .map(String::from);
            if let Some(body) = self.download(name, Some(&generation))? {
                return Ok(Some((
                    LockInfo::from_parts(&body, holder.as_deref()),
                    generation,
                )));
            }
        }
        Ok(None)
    }
}

/// A form-encoded POST body.
fn form(req: reqwest::RequestBuilder, fields: &[(&str, &str)]) -> reqwest::RequestBuilder {
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    req.header("Content-Type", "application/x-www-form-urlencoded")
        .body(body.join("&"))
}

fn generation_of(resource: &Value) -> String {
    match &resource["generation"] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

impl Store for GcsStore {
    fn describe(&self) -> String {
        self.inner.label.clone()
    }

    fn min_write_interval(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn get(&self, id: &StateId) -> Result<Option<StateDoc>> {
        let c = &self.inner;
        let name = c.key(id, "state.json");
        let Some(bytes) = c.download(&name, None)? else {
            c.check_bucket()?;
            return Ok(None);
        };
        let corrupt = |message: String| StateError::Corrupt {
            path: format!("{}/{}", c.label, name),
            message,
        };
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        StateDoc::from_json(&value)
            .map(Some)
            .ok_or_else(|| corrupt("expected a JSON object".into()))
    }

    fn set(&self, id: &StateId, doc: &StateDoc) -> Result<()> {
        let c = &self.inner;
        let body = crate::vocab::pyjson::to_string(&doc.to_json());
        match c.upload(&c.key(id, "state.json"), body.as_bytes(), None, None)? {
            Upload::Done(_) => Ok(()),
            Upload::Conflict => Err(c.err("the write was refused")),
        }
    }

    fn delete(&self, id: &StateId) -> Result<()> {
        self.inner.delete(&self.inner.key(id, "state.json"))
    }

    fn list(&self) -> Result<Vec<StateId>> {
        let c = &self.inner;
        let mut ids: Vec<StateId> = c
            .list()?
            .iter()
            .filter_map(|key| {
                let rest = if c.prefix.is_empty() {
                    key.as_str()
                } else {
                    key.strip_prefix(&format!("{}/", c.prefix))?
                };
                let id = rest.strip_suffix("/state.json")?;
                (!id.contains('/'))
                    .then(|| StateId::parse(id).ok())
                    .flatten()
            })
            .collect();
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    fn lock(
        &self,
        id: &StateId,
        info: &LockInfo,
        policy: &LockPolicy,
    ) -> Result<Arc<dyn LockGuard>> {
        let c = &self.inner;
        let name = c.key(id, "lock");
        let holder_text = info.holder_text();
        for _attempt in 0..3 {
            if let Upload::Done(generation) =
                c.upload(&name, &info.body(), Some(&holder_text), Some("0"))?
            {
                return Ok(Arc::new(HeldLock::start(
                    GcsLockObject {
                        client: c.clone(),
                        name,
                    },
                    info.clone(),
                    generation,
                    policy.timeout,
                )));
            }
            let Some((holder, generation)) = c.read_lock(&name)? else {
                continue; // released meanwhile: try to create it again
            };
            let breakable = policy.force || holder.as_ref().is_some_and(|h| h.is_stale(policy));
            if !breakable {
                return Err(StateError::Locked {
                    id: id.to_string(),
                    holder: holder.map(|h| h.describe()).unwrap_or_else(|| {
                        "an unreadable lock object (pass --force to break it)".into()
                    }),
                });
            }
            // Take over only the generation that was judged: of several runs, one wins.
            if let Upload::Done(g) =
                c.upload(&name, &info.body(), Some(&holder_text), Some(&generation))?
            {
                if let Some(h) = &holder {
                    tracing::warn!(
                        "took over the lock of state '{id}' held by {}",
                        h.describe()
                    );
                }
                return Ok(Arc::new(HeldLock::start(
                    GcsLockObject {
                        client: c.clone(),
                        name,
                    },
                    info.clone(),
                    g,
                    policy.timeout,
                )));
            }
        }
        Err(StateError::Locked {
            id: id.to_string(),
            holder: "another run that took it at the same moment".into(),
        })
    }
}

/// The lock object of one state id in a GCS bucket: conditional on its generation.
struct GcsLockObject {
    client: Arc<Client>,
    name: String,
}

impl LockObject for GcsLockObject {
    type Version = String;

    fn refresh(&self, info: &LockInfo, generation: &String) -> Refresh<String> {
        let holder = info.holder_text();
        match self
            .client
            .upload(&self.name, &info.body(), Some(&holder), Some(generation))
        {
            Ok(Upload::Done(g)) => Refresh::Done(g),
            Ok(Upload::Conflict) => Refresh::TakenOver,
            Err(e) => Refresh::Failed(e.to_string()),
        }
    }

    fn holder(&self) -> Result<Option<LockInfo>> {
        Ok(self
            .client
            .read_lock(&self.name)?
            .and_then(|(holder, _)| holder))
    }

    fn remove(&self) -> Result<()> {
        self.client.delete(&self.name)
    }

    fn name(&self) -> String {
        self.name.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_are_encoded() {
        assert_eq!(encode("p/dev:tap-to-t/lock"), "p%2Fdev%3Atap-to-t%2Flock");
    }

    #[test]
    fn a_service_account_assertion_is_a_signed_jwt() {
        // A throwaway 2048-bit key made for this test.
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let _ = rng;
        let key = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let der =
            aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&key).unwrap();
        let jwt =
            service_account_assertion("sa@p.iam", der.as_ref(), "https://t/token", 1000).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[1])
            .unwrap();
        let claims: Value = serde_json::from_slice(&claims).unwrap();
        assert_eq!(claims["iss"], "sa@p.iam");
        assert_eq!(claims["exp"], 4600);
    }
}
