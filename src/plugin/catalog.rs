//! An extractor's catalog for a run: the `catalog:` extra if set, else the cached discovery
//! when its key still matches, else `tap --config FILE --discover`; then Meltano's rules.

use super::PluginError;
use crate::project::ResolvedPlugin;
use crate::singer::catalog::{Catalog, Rules};
use crate::vocab::confine;
use crate::vocab::lines::{BoundedLines, LOG_LINE_CAP};
use crate::vocab::supervisor::{Supervisor, own_process_group, signal_group, signal_name};
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::io::{BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};

/// Where the discovered catalog and its key are cached.
const CACHE_FILE: &str = "tap.properties.json";
const KEY_FILE: &str = "tap.properties.cache_key";

/// The inputs a discovery run depends on.
pub struct DiscoverInput<'a> {
    pub root: &'a Path,
    pub plugin: &'a ResolvedPlugin,
    pub program: &'a Path,
    pub env: &'a [(String, String)],
    pub config_file: &'a Path,
    pub refresh: bool,
    /// Masks the discovery's stderr tail in errors.
    pub masker: &'a crate::vocab::mask::Masker,
    /// The run's supervisor: a signal stops the discovery too.
    pub supervisor: &'a std::sync::Arc<Supervisor>,
}

/// The catalog with the plugin's rules applied.
pub fn prepare(input: &DiscoverInput<'_>) -> Result<Catalog, PluginError> {
    let mut catalog = raw_catalog(input)?;
    let x = &input.plugin.extras;
    let rules = Rules {
        select: x.select.clone().unwrap_or_else(|| vec!["*.*".into()]),
        metadata: x.metadata.clone(),
        schema: x.schema.clone(),
        select_filter: x.select_filter.clone().unwrap_or_default(),
    };
    // A catalog the project (or `el --catalog`) gives is used as it is, but for the select
    // filter (Meltano's `apply_catalog_rules`).
    let applied = match &x.catalog {
        Some(_) => catalog.apply_select_filter(&rules.select_filter),
        None => catalog.apply(&rules),
    };
    applied.map_err(|e| PluginError::Catalog {
        plugin: input.plugin.name.to_string(),
        message: e.to_string(),
    })?;
    Ok(catalog)
}

/// The catalog before rules: given, cached or discovered.
fn raw_catalog(input: &DiscoverInput<'_>) -> Result<Catalog, PluginError> {
    let plugin = input.plugin;
    let bad = |message: String| PluginError::Catalog {
        plugin: plugin.name.to_string(),
        message,
    };
    if let Some(file) = &plugin.extras.catalog {
        let path = input.root.join(file);
        let bytes = crate::vocab::files::read_capped(&path, crate::vocab::files::DOCUMENT_CAP)
            .map_err(|e| bad(format!("cannot read catalog {}: {e}", path.display())))?;
        return parse(&bytes)
            .ok_or_else(|| bad(format!("{} is not a Singer catalog", path.display())));
    }
    let dir = super::run_dir::plugin_dir(input.root, &plugin.name);
    let key = cache_key(plugin);
    let use_cache = !input.refresh && plugin.extras.use_cached_catalog != Some(false);
    if use_cache && std::fs::read_to_string(dir.join(KEY_FILE)).is_ok_and(|k| k == key) {
        if let Some(c) = std::fs::read(dir.join(CACHE_FILE))
            .ok()
            .and_then(|b| parse(&b))
        {
            tracing::debug!("using the cached catalog of '{}'", plugin.name);
            return Ok(c);
        }
    }
    if !plugin.has_capability("discover") {
        return Err(bad(
            "the extractor has no `discover` capability and no `catalog` extra; set `catalog:` to a catalog file".into(),
        ));
    }
    tracing::info!("discovering the catalog of '{}'", plugin.name);
    let output = run_discovery(input)
        .map_err(|e| bad(format!("cannot run {}: {e}", input.program.display())))?;
    if output.too_big {
        return Err(bad(format!(
            "discovery printed more than {} MiB on stdout; that is not a catalog eltr reads (set `catalog:` to a catalog file instead)",
            CATALOG_CAP >> 20
        )));
    }
    if let Some(sig) = input.supervisor.received() {
        return Err(bad(format!(
            "discovery was interrupted by {}",
            signal_name(sig)
        )));
    }
    if !output.status.success() {
        // A line the reader cut may end with the first half of a secret: `mask_cut` hides it.
        let tail: Vec<String> = output
            .stderr_tail
            .iter()
            .map(|(text, cut)| match cut {
                None => input.masker.mask(text).into_owned(),
                Some(marker) => input.masker.mask_cut(text).into_owned() + marker,
            })
            .collect();
        return Err(bad(format!(
            "discovery failed ({}):\n{}",
            super::describe_status(output.status),
            tail.join("\n")
        )));
    }
    let catalog = parse(&output.stdout)
        .ok_or_else(|| bad("discovery printed no valid catalog JSON".into()))?;
    if std::fs::create_dir_all(&dir).is_ok() {
        let owner = crate::project::eltr_dir(input.root);
        let _ = confine::write_replacing(&owner, &dir.join(CACHE_FILE), &output.stdout, false);
        let _ = confine::write_replacing(&owner, &dir.join(KEY_FILE), key.as_bytes(), false);
    }
    Ok(catalog)
}

/// The most discovery may print on stdout. Real catalogs are megabytes; this bounds what a
/// runaway extractor can make eltr hold.
const CATALOG_CAP: u64 = 256 << 20;

/// Lines of discovery's stderr kept for the error message.
const STDERR_TAIL: usize = 20;

/// What a discovery run left: its status, the catalog text, the end of its stderr.
struct Discovery {
    status: std::process::ExitStatus,
    stdout: Vec<u8>,
    /// Stdout went past `CATALOG_CAP`; the extractor was killed.
    too_big: bool,
    /// The last lines, each as its kept text and the marker of what was cut.
    stderr_tail: Vec<(String, Option<String>)>,
}

/// Runs `tap --config FILE --discover` in its own process group, known to the supervisor so
/// a SIGTERM to eltr stops it too. Its stderr is read in bounded lines and only the last few
/// kept; its stdout up to `CATALOG_CAP`.
fn run_discovery(input: &DiscoverInput<'_>) -> std::io::Result<Discovery> {
    let mut cmd = Command::new(input.program);
    cmd.arg("--config")
        .arg(input.config_file)
        .arg("--discover")
        .env_clear()
        .envs(input.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    own_process_group(&mut cmd);
    let mut child = cmd.spawn()?;
    let sup = input.supervisor;
    let pid = child.id() as i32;
    sup.register(pid, false);
    let stderr = child.stderr.take().expect("stderr is piped");
    let tail = std::thread::spawn(move || {
        let mut lines = BoundedLines::new(BufReader::new(stderr), LOG_LINE_CAP);
        let mut tail = VecDeque::with_capacity(STDERR_TAIL);
        while let Ok(Some(line)) = lines.next_line() {
            if tail.len() == STDERR_TAIL {
                tail.pop_front();
            }
            tail.push_back(line.parts());
        }
        Vec::from(tail)
    });
    let mut stdout = Vec::new();
    let read = (child.stdout.take().expect("stdout is piped"))
        .take(CATALOG_CAP + 1)
        .read_to_end(&mut stdout);
    let too_big = stdout.len() as u64 > CATALOG_CAP;
    if too_big {
        stdout = Vec::new();
        signal_group(pid, libc::SIGKILL);
    }
    let status = child.wait();
    sup.unregister(pid);
    let stderr_tail = tail.join().unwrap_or_default();
    read?;
    Ok(Discovery {
        status: status?,
        stdout,
        too_big,
        stderr_tail,
    })
}

fn parse(bytes: &[u8]) -> Option<Catalog> {
    serde_json::from_slice(bytes).ok().and_then(Catalog::new)
}

/// Discovery depends on the resolved config (credentials, schemas to scan) and the program.
fn cache_key(plugin: &ResolvedPlugin) -> String {
    let mut h = Sha256::new();
    h.update(serde_json::Value::Object(plugin.config_object()).to_string());
    h.update([0]);
    h.update(&plugin.executable);
    h.update([0]);
    h.update(plugin.pip_url.as_deref().unwrap_or(""));
    format!("{:x}", h.finalize())
}
