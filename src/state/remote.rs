//! Remote stores: S3 (and S3-compatible endpoints) and Azure Blob Storage, through the
//! `object_store` crate, laid out as Meltano's backends lay them out:
//! `{prefix}/{state_id}/state.json` and `{prefix}/{state_id}/lock`.
//!
//! Locks are create-only puts (`If-None-Match: *`); a stale lock is taken over by a
//! conditional update on its ETag, so of several runs racing for it exactly one wins; the
//! heartbeat is a conditional update too, so a run whose lock was taken over finds out.

use super::lock::{HOLDER_METADATA, HeldLock, LockInfo, LockObject, LockPolicy, Refresh};
use super::{LockGuard, Result, StateError, StateId, Store};
use crate::project::backend::StateBackendSettings;
use crate::singer::state::StateDoc;
use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::path::Path;
use object_store::{
    Attribute, AttributeValue, Attributes, BackoffConfig, ClientOptions, ObjectStore,
    ObjectStoreExt, PutMode, PutOptions, PutPayload, RetryConfig, UpdateVersion,
};
use std::sync::Arc;
use std::time::Duration;

/// A store in a bucket or container.
pub struct RemoteStore {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    label: String,
    rt: Arc<tokio::runtime::Runtime>,
}

fn remote_err(label: &str, e: impl std::fmt::Display) -> StateError {
    StateError::Remote {
        store: label.to_string(),
        message: explain(label, &e.to_string()),
    }
}

/// Turns a store client error (often a multi-line XML dump) into one line saying what is
/// wrong and what to check, in the terms of the store in use (`label` is its URI).
pub fn explain(label: &str, raw: &str) -> String {
    let azure = label.starts_with("azure") || label.starts_with("az:") || label.starts_with("abfs");
    let has = |needles: &[&str]| needles.iter().any(|n| raw.contains(n));
    if is_missing_container(raw) {
        let what = if azure { "container" } else { "bucket" };
        return format!(
            "the {what} does not exist; create it, or fix the name in state_backend.uri"
        );
    }
    if has(&[
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AuthenticationFailed",
        "AuthorizationFailure",
        "403 Forbidden",
        "AccessDenied",
        "Unauthenticated",
        "PermissionDenied",
        "invalid credentials",
    ]) {
        return if azure {
            "access denied: check the credentials (state_backend azure.connection_string or AZURE_STORAGE_CONNECTION_STRING)".into()
        } else {
            "access denied: check the credentials (state_backend s3.aws_access_key_id / s3.aws_secret_access_key, or the AWS_* variables)".into()
        };
    }
    if has(&[
        "error sending request",
        "Connection refused",
        "connection refused",
        "dns error",
        "timed out",
        "tcp connect",
        "client error (Connect)",
        "builder error",
    ]) {
        return if azure {
            "cannot reach the store: check the connection string's BlobEndpoint (or azure.storage_account_url) and the network".into()
        } else {
            "cannot reach the store: check s3.endpoint_url (or AWS_ENDPOINT_URL) and the network"
                .into()
        };
    }
    let first = raw.lines().next().unwrap_or(raw);
    first.chars().take(300).collect()
}

/// A 404 about the bucket or container itself, not about an object in it.
fn is_missing_container(raw: &str) -> bool {
    [
        "NoSuchBucket",
        "ContainerNotFound",
        "The specified container does not exist",
        "bucket does not exist",
    ]
    .iter()
    .any(|n| raw.contains(n))
}

/// Bounded retries: a store that stays unreachable fails the command in seconds, not after
/// the client's default of minutes.
fn retry_config() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig::default(),
        max_retries: 3,
        retry_timeout: Duration::from_secs(20),
    }
}

fn client_options() -> ClientOptions {
    ClientOptions::new()
        .with_connect_timeout(Duration::from_secs(5))
        .with_timeout(Duration::from_secs(30))
}

impl RemoteStore {
    /// Opens the store a `s3://` or `azure://` URI names, with the backend settings.
    pub fn open(uri: &str, settings: &StateBackendSettings) -> Result<RemoteStore> {
        let (scheme, rest) = uri
            .split_once("://")
            .ok_or_else(|| StateError::BadUri(uri.into()))?;
        let (bucket, prefix) = match rest.split_once('/') {
            Some((b, p)) => (b, p.trim_matches('/')),
            None => (rest, ""),
        };
        if bucket.is_empty() {
            return Err(StateError::BadUri(uri.into()));
        }
        let label = uri.trim_end_matches('/').to_string();
        let store: Arc<dyn ObjectStore> = match scheme {
            "s3" => Arc::new(
                s3(bucket, settings)
                    .build()
                    .map_err(|e| remote_err(&label, e))?,
            ),
            "azure" | "az" | "abfs" => Arc::new(
                azure(bucket, settings)
                    .map_err(|message| StateError::Remote {
                        store: label.clone(),
                        message,
                    })?
                    .build()
                    .map_err(|e| remote_err(&label, e))?,
            ),
            _ => return Err(StateError::BadUri(uri.into())),
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| remote_err(&label, e))?;
        Ok(RemoteStore {
            store,
            prefix: prefix.to_string(),
            label,
            rt: Arc::new(rt),
        })
    }

    fn path(&self, id: &StateId, file: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(format!("{}/{file}", id.as_str()))
        } else {
            Path::from(format!("{}/{}/{file}", self.prefix, id.as_str()))
        }
    }

    /// Fails when the bucket or container itself is missing or unreadable.
    fn check_container(&self) -> Result<()> {
        let store = self.store.clone();
        let prefix = (!self.prefix.is_empty()).then(|| Path::from(self.prefix.as_str()));
        self.rt
            .block_on(async move { store.list_with_delimiter(prefix.as_ref()).await.map(|_| ()) })
            .map_err(|e| self.err(format!("{e:?}")))
    }

    fn err(&self, e: impl std::fmt::Display) -> StateError {
        remote_err(&self.label, e)
    }

    /// Reads an object, `None` when it does not exist; also its version for conditional
    /// updates.
    fn read(&self, path: &Path) -> Result<Option<(Vec<u8>, UpdateVersion)>> {
        Ok(self.fetch(path)?.map(|f| (f.bytes, f.version)))
    }

    /// Reads a lock object with its holder metadata; `None` when there is none.
    fn read_lock(&self, path: &Path) -> Result<Option<(Option<LockInfo>, UpdateVersion)>> {
        Ok(self.fetch(path)?.map(|f| {
            (
                LockInfo::from_parts(&f.bytes, f.holder.as_deref()),
                f.version,
            )
        }))
    }

    /// An object's body, version and holder metadata (locks carry one); `None` when missing.
    fn fetch(&self, path: &Path) -> Result<Option<Fetched>> {
        let store = self.store.clone();
        let path = path.clone();
        self.rt
            .block_on(async move {
                match store.get(&path).await {
                    Ok(r) => {
                        let version = UpdateVersion {
                            e_tag: r.meta.e_tag.clone(),
                            version: r.meta.version.clone(),
                        };
                        let holder = r
                            .attributes
                            .get(&Attribute::Metadata(HOLDER_METADATA.into()))
                            .map(|v| v.as_ref().to_string());
                        let bytes = r.bytes().await?.to_vec();
                        Ok(Some(Fetched {
                            bytes,
                            version,
                            holder,
                        }))
                    }
                    Err(object_store::Error::NotFound { .. }) => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .map_err(|e| self.err(e))
    }

    /// Writes a lock object: Meltano's timestamp body, the holder in metadata.
    fn put_lock(
        &self,
        path: &Path,
        info: &LockInfo,
        mode: PutMode,
    ) -> std::result::Result<UpdateVersion, object_store::Error> {
        let mut attributes = Attributes::new();
        attributes.insert(
            Attribute::Metadata(HOLDER_METADATA.into()),
            AttributeValue::from(info.holder_text()),
        );
        self.put_with(path, info.body(), mode, attributes)
    }

    fn put(
        &self,
        path: &Path,
        body: Vec<u8>,
        mode: PutMode,
    ) -> std::result::Result<UpdateVersion, object_store::Error> {
        self.put_with(path, body, mode, Attributes::new())
    }

    fn put_with(
        &self,
        path: &Path,
        body: Vec<u8>,
        mode: PutMode,
        attributes: Attributes,
    ) -> std::result::Result<UpdateVersion, object_store::Error> {
        let store = self.store.clone();
        let path = path.clone();
        self.rt.block_on(async move {
            let opts = PutOptions {
                mode,
                attributes,
                ..PutOptions::default()
            };
            let r = store.put_opts(&path, PutPayload::from(body), opts).await?;
            Ok(UpdateVersion {
                e_tag: r.e_tag,
                version: r.version,
            })
        })
    }

    fn delete_path(&self, path: &Path) -> Result<()> {
        let store = self.store.clone();
        let path = path.clone();
        self.rt
            .block_on(async move {
                match store.delete(&path).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                    Err(e) => Err(e),
                }
            })
            .map_err(|e| self.err(e))
    }
}

fn s3(bucket: &str, s: &StateBackendSettings) -> AmazonS3Builder {
    let mut b = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_retry(retry_config())
        .with_client_options(client_options());
    if let Some(v) = s.get("s3.aws_access_key_id") {
        b = b.with_access_key_id(v);
    }
    if let Some(v) = s.get("s3.aws_secret_access_key") {
        b = b.with_secret_access_key(v);
    }
    if let Some(v) = s.get("s3.region") {
        b = b.with_region(v);
    }
    // The endpoint: the setting, else the variables boto3 (and so Meltano) reads.
    let endpoint = s.get("s3.endpoint_url").map(String::from).or_else(|| {
        ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|e| !e.is_empty()))
    });
    if let Some(v) = endpoint {
        b = b.with_allow_http(v.starts_with("http://")).with_endpoint(v);
    }
    b
}

/// The parts of an Azure storage connection string eltr uses.
#[derive(Debug, Default, PartialEq)]
pub struct ConnectionString {
    pub account_name: Option<String>,
    pub account_key: Option<String>,
    pub blob_endpoint: Option<String>,
    pub endpoint_suffix: Option<String>,
    pub protocol: Option<String>,
    pub sas: Option<String>,
}

impl ConnectionString {
    /// Parses `Key=Value;Key=Value` (values may contain `=`, as keys and SAS tokens do).
    pub fn parse(text: &str) -> ConnectionString {
        let mut c = ConnectionString::default();
        for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((k, v)) = part.split_once('=') else {
                continue;
            };
            let v = Some(v.to_string());
            match k.trim() {
                "AccountName" => c.account_name = v,
                "AccountKey" => c.account_key = v,
                "BlobEndpoint" => c.blob_endpoint = v,
                "EndpointSuffix" => c.endpoint_suffix = v,
                "DefaultEndpointsProtocol" => c.protocol = v,
                "SharedAccessSignature" => c.sas = v,
                _ => {}
            }
        }
        c
    }

    /// The blob service URL the string describes.
    pub fn blob_url(&self) -> Option<String> {
        if let Some(e) = &self.blob_endpoint {
            return Some(e.trim_end_matches('/').to_string());
        }
        let account = self.account_name.as_ref()?;
        let proto = self.protocol.as_deref().unwrap_or("https");
        let suffix = self
            .endpoint_suffix
            .as_deref()
            .unwrap_or("core.windows.net");
        Some(format!("{proto}://{account}.blob.{suffix}"))
    }
}

/// The Azure client the settings describe, or what is wrong with them.
fn azure(
    container: &str,
    s: &StateBackendSettings,
) -> std::result::Result<MicrosoftAzureBuilder, String> {
    let mut b = MicrosoftAzureBuilder::from_env()
        .with_container_name(container)
        .with_retry(retry_config())
        .with_client_options(client_options());
    let conn = s
        .get("azure.connection_string")
        .map(String::from)
        .or_else(|| std::env::var("AZURE_STORAGE_CONNECTION_STRING").ok())
        .filter(|c| !c.is_empty());
    if let Some(text) = conn {
        let c = ConnectionString::parse(&text);
        if let Some(a) = &c.account_name {
            b = b.with_account(a);
        }
        if let Some(k) = &c.account_key {
            b = b.with_access_key(k);
        }
        if let Some(url) = c.blob_url() {
            b = b
                .with_allow_http(url.starts_with("http://"))
                .with_endpoint(url);
        }
        if let Some(sas) = &c.sas {
            let pairs = sas
                .trim_start_matches('?')
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| match percent_decode(v) {
                    Some(v) => Ok((k.to_string(), v)),
                    // The value is a credential: only its name is shown.
                    None => Err(format!(
                        "the SharedAccessSignature of the connection string has a percent-escape in '{k}' that does not decode to text"
                    )),
                })
                .collect::<std::result::Result<Vec<_>, _>>()?;
            b = b.with_sas_authorization(pairs);
        }
    }
    if let Some(url) = s.get("azure.storage_account_url") {
        b = b
            .with_allow_http(url.starts_with("http://"))
            .with_endpoint(url.to_string());
        if let Some(account) = url
            .split("://")
            .nth(1)
            .and_then(|h| h.split('.').next())
            .filter(|a| !a.is_empty())
        {
            b = b.with_account(account);
        }
    }
    Ok(b)
}

/// Decodes the percent-escapes of a query value (`%3A` is `:`; a `%` not followed by two hex
/// digits stays as written). The escapes are decoded as bytes and the result checked as a
/// whole: an escape may hold one byte of a multi-byte character (`%C3%A9` is `é`), and one
/// that leaves a character unfinished (`%C3` alone) makes the value `None`, not a guess.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((high * 16 + low) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

impl Store for RemoteStore {
    fn describe(&self) -> String {
        self.label.clone()
    }

    fn min_write_interval(&self) -> Duration {
        // Each write is a request; a run's checkpoints coalesce to at most one a second.
        Duration::from_secs(1)
    }

    fn get(&self, id: &StateId) -> Result<Option<StateDoc>> {
        let path = self.path(id, "state.json");
        let Some((bytes, _)) = self.read(&path)? else {
            // No state yet, or no bucket at all: only a listing tells them apart.
            self.check_container()?;
            return Ok(None);
        };
        let corrupt = |message: String| StateError::Corrupt {
            path: format!("{}/{}", self.label, path),
            message,
        };
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        StateDoc::from_json(&value)
            .map(Some)
            .ok_or_else(|| corrupt("expected a JSON object".into()))
    }

    fn set(&self, id: &StateId, doc: &StateDoc) -> Result<()> {
        let body = crate::vocab::pyjson::to_string(&doc.to_json()).into_bytes();
        self.put(&self.path(id, "state.json"), body, PutMode::Overwrite)
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    fn delete(&self, id: &StateId) -> Result<()> {
        self.delete_path(&self.path(id, "state.json"))
    }

    fn list(&self) -> Result<Vec<StateId>> {
        let store = self.store.clone();
        let prefix = (!self.prefix.is_empty()).then(|| Path::from(self.prefix.as_str()));
        let metas: Vec<object_store::ObjectMeta> = self
            .rt
            .block_on(async move { store.list(prefix.as_ref()).try_collect().await })
            .map_err(|e| self.err(e))?;
        let mut ids: Vec<StateId> = metas
            .iter()
            .filter_map(|m| {
                let key = m.location.as_ref();
                let rest = if self.prefix.is_empty() {
                    key
                } else {
                    key.strip_prefix(&format!("{}/", self.prefix))?
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
        let path = self.path(id, "lock");
        for _attempt in 0..3 {
            match self.put_lock(&path, info, PutMode::Create) {
                Ok(version) => {
                    return Ok(Arc::new(self.guard(
                        path,
                        info.clone(),
                        version,
                        policy.timeout,
                    )));
                }
                Err(object_store::Error::AlreadyExists { .. })
                | Err(object_store::Error::Precondition { .. }) => {}
                Err(e) => return Err(self.err(e)),
            }
            let Some((holder, version)) = self.read_lock(&path)? else {
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
            // Take over with a conditional update: of several runs racing, one wins.
            match self.put_lock(&path, info, PutMode::Update(version)) {
                Ok(v) => {
                    if let Some(h) = &holder {
                        tracing::warn!(
                            "took over the lock of state '{id}' held by {}",
                            h.describe()
                        );
                    }
                    return Ok(Arc::new(self.guard(path, info.clone(), v, policy.timeout)));
                }
                Err(object_store::Error::Precondition { .. })
                | Err(object_store::Error::NotFound { .. }) => continue,
                Err(e) => return Err(self.err(e)),
            }
        }
        Err(StateError::Locked {
            id: id.to_string(),
            holder: "another run that took it at the same moment".into(),
        })
    }
}

impl RemoteStore {
    fn guard(
        &self,
        path: Path,
        info: LockInfo,
        version: UpdateVersion,
        timeout: Duration,
    ) -> HeldLock<RemoteLockObject> {
        let store = RemoteStore {
            store: self.store.clone(),
            prefix: self.prefix.clone(),
            label: self.label.clone(),
            rt: self.rt.clone(),
        };
        HeldLock::start(RemoteLockObject { store, path }, info, version, timeout)
    }
}

/// The lock object of one state id in S3 or Azure: conditional on its ETag / version.
struct RemoteLockObject {
    store: RemoteStore,
    path: Path,
}

impl LockObject for RemoteLockObject {
    type Version = UpdateVersion;

    fn refresh(&self, info: &LockInfo, version: &UpdateVersion) -> Refresh<UpdateVersion> {
        match self
            .store
            .put_lock(&self.path, info, PutMode::Update(version.clone()))
        {
            Ok(newer) => Refresh::Done(newer),
            Err(object_store::Error::Precondition { .. })
            | Err(object_store::Error::NotFound { .. }) => Refresh::TakenOver,
            Err(e) => Refresh::Failed(e.to_string()),
        }
    }

    fn holder(&self) -> Result<Option<LockInfo>> {
        Ok(self
            .store
            .read_lock(&self.path)?
            .and_then(|(holder, _)| holder))
    }

    fn remove(&self) -> Result<()> {
        self.store.delete_path(&self.path)
    }

    fn name(&self) -> String {
        self.path.to_string()
    }
}

/// What one read of an object gives.
struct Fetched {
    bytes: Vec<u8>,
    version: UpdateVersion,
    /// The lock holder recorded in the object's metadata, if any.
    holder: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn azurite_connection_string() {
        let c = ConnectionString::parse(
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=abc==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;",
        );
        assert_eq!(c.account_key.as_deref(), Some("abc=="));
        assert_eq!(
            c.blob_url().as_deref(),
            Some("http://127.0.0.1:10000/devstoreaccount1")
        );
    }

    #[test]
    fn cloud_connection_string_builds_the_blob_url() {
        let c = ConnectionString::parse(
            "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=k;EndpointSuffix=core.windows.net",
        );
        assert_eq!(
            c.blob_url().as_deref(),
            Some("https://acme.blob.core.windows.net")
        );
    }

    #[test]
    fn sas_values_are_percent_decoded() {
        let decoded = |s: &str| percent_decode(s);
        assert_eq!(
            decoded("2024-01-01T00%3A00Z").as_deref(),
            Some("2024-01-01T00:00Z")
        );
        assert_eq!(decoded("a%2").as_deref(), Some("a%2"));
        assert_eq!(decoded("%").as_deref(), Some("%"));
        assert_eq!(decoded("%zz%4").as_deref(), Some("%zz%4"));
        assert_eq!(decoded("sig%2Bx%3d%3D").as_deref(), Some("sig+x=="));
        assert_eq!(decoded("caf%C3%A9").as_deref(), Some("café"));
        assert_eq!(decoded("%E2%82%AC").as_deref(), Some("€"));
        // A `%` next to a multi-byte character is not an escape, and is not cut in two.
        assert_eq!(decoded("%é").as_deref(), Some("%é"));
        assert_eq!(decoded("%aé").as_deref(), Some("%aé"));
        assert_eq!(decoded("é%").as_deref(), Some("é%"));
    }

    #[test]
    fn an_escape_that_splits_a_character_is_refused() {
        for s in ["%C3", "%C3%", "%E2%82", "x%FFy", "%C3%28", "%ED%A0%80"] {
            assert_eq!(percent_decode(s), None, "{s:?}");
        }
    }

    #[test]
    fn any_text_decodes_without_panicking() {
        // Random short strings over `%`, hex digits and multi-byte characters: every result is
        // either `None` or valid text, and unescaped text comes back unchanged.
        let pieces = [
            "%", "C3", "A9", "E2", "82", "f", "0", "é", "€", "𝄞", "z", "%2", "\u{0}",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..50_000 {
            let len = next() % 10;
            let text: String = (0..len)
                .map(|_| pieces[(next() % pieces.len() as u64) as usize])
                .collect();
            let decoded = percent_decode(&text);
            if !text.contains('%') {
                assert_eq!(decoded.as_deref(), Some(text.as_str()));
            }
        }
        for _ in 0..20_000 {
            let bytes: Vec<u8> = (0..next() % 12).map(|_| next() as u8).collect();
            let text = String::from_utf8_lossy(&bytes);
            let _ = percent_decode(&text);
        }
    }
}
