//! One extract-load block: lock the state, hand the tap its bookmarks, spawn tap → mappers →
//! target piped through eltr, checkpoint every state the target confirms, and decide which
//! process to blame if it goes wrong.

use super::blocks::{Block, MapperStep};
use super::checkpoint::Checkpointer;
use super::metrics::Metrics;
use super::process::{Exit, Running, Stdio2, spawn};
use super::progress::Progress;
use super::pump::{LiveCounters, PumpStats, pump};
use super::signals::{signal_name, supervisor};
use super::summary::{BlockSummary, ProcessSummary};
use super::{RunError, RunRequest, StateStrategy};
use crate::plugin::prepare::describe_vars;
use crate::plugin::{
    PrepareOptions, PreparedPlugin, describe_status,
    env::{extra_vars, setting_vars},
    prepare,
};
use crate::project::Context;
use crate::state::{LockInfo, StateId, Store};
use crate::vocab::ident::RunId;
use crate::vocab::lines::BoundedLines;
use crate::vocab::mask::Masker;
use serde_json::Value;
use std::io::BufReader;
use std::process::{ChildStdout, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Instant;

type BlockResult = Result<Option<BlockSummary>, super::BlockFailure>;

/// Runs one `extractor [mapper…] loader` block.
pub fn run(ctx: &Context, req: &RunRequest, block: &Block, store: Arc<dyn Store>) -> BlockResult {
    let Block::ExtractLoad {
        extractor,
        mappers,
        loader,
    } = block
    else {
        unreachable!("extract_load::run is only called with extract-load blocks");
    };
    let fail = |e: RunError| Box::new((None, e));
    let started = Instant::now();

    let tap = ctx.plugin(None, extractor).map_err(|e| fail(e.into()))?;
    // What mappers and the target learn of the tap, in their config and in their process env.
    let mut upstream = describe_vars(&tap);
    upstream.extend(setting_vars(&tap).into_iter().map(|(k, v, _)| (k, v)));
    upstream.extend(extra_vars(&tap));
    let target = ctx
        .plugin_with_upstream(None, loader, &upstream)
        .map_err(|e| fail(e.into()))?;
    let state_id = state_id(ctx, req, extractor, loader).map_err(fail)?;
    let mut mapper_plugins = Vec::new();
    for m in mappers {
        let mapper = ctx.plugin_with_upstream(None, &m.plugin, &upstream);
        mapper_plugins.push(mapper.map_err(|e| fail(e.into()))?);
    }
    let all: Vec<&crate::project::ResolvedPlugin> = std::iter::once(&tap)
        .chain(mapper_plugins.iter())
        .chain(std::iter::once(&target))
        .collect();
    super::ensure_installed(ctx, &all, req.no_install).map_err(fail)?;

    let lock = if req.no_state_update {
        None
    } else {
        let policy = super::lock_policy(ctx, req.force).map_err(fail)?;
        let info = LockInfo::for_this_process(&req.run_id.to_string());
        Some(
            store
                .lock(&state_id, &info, &policy)
                .map_err(|e| fail(e.into()))?,
        )
    };
    let stored = store
        .get(&state_id)
        .map_err(|e| fail(e.into()))?
        .unwrap_or_default();
    let state_for_tap = if req.full_refresh || req.no_state_update {
        None
    } else if let Some(file) = &tap.extras.state {
        let path = ctx.project.root.join(file);
        let text = std::fs::read(&path).map_err(|e| {
            fail(RunError::Plugin(crate::plugin::PluginError::RunFiles {
                plugin: tap.name.to_string(),
                path: path.display().to_string(),
                error: e,
            }))
        })?;
        let state = serde_json::from_slice::<Value>(&text).map_err(|e| {
            fail(RunError::Plugin(crate::plugin::PluginError::BadStateFile {
                plugin: tap.name.to_string(),
                path: path.display().to_string(),
                message: e.to_string(),
            }))
        })?;
        Some(state)
    } else {
        stored.singer_state()
    };
    if state_for_tap.is_some() {
        tracing::info!("resuming '{state_id}' from its stored state");
    }

    let extra_env = upstream;
    let opts = PrepareOptions {
        run_id: req.run_id,
        refresh_catalog: req.refresh_catalog || req.full_refresh,
        state: state_for_tap,
        with_catalog: true,
        ..PrepareOptions::default()
    };
    let tap_p = prepare(ctx, tap, &opts).map_err(|e| fail(e.into()))?;
    if tap_p
        .selected_streams
        .as_ref()
        .is_some_and(|s| s.is_empty())
    {
        tracing::warn!(
            "the catalog of '{}' selects no stream; check its `select` patterns (`eltr select {} --list --all`)",
            tap_p.plugin.name,
            tap_p.plugin.name
        );
    }
    let mut mapper_ps = Vec::new();
    for (MapperStep { mapping, .. }, m) in mappers.iter().zip(mapper_plugins) {
        let o = PrepareOptions {
            run_id: req.run_id,
            extra_env: extra_env.clone(),
            mapping: mapping.clone(),
            ..PrepareOptions::default()
        };
        mapper_ps.push(prepare(ctx, m, &o).map_err(|e| fail(e.into()))?);
    }
    let target_opts = PrepareOptions {
        run_id: req.run_id,
        extra_env,
        ..PrepareOptions::default()
    };
    let target_p = prepare(ctx, target, &target_opts).map_err(|e| fail(e.into()))?;

    // A signal that arrived while the plugins were being prepared stops the block here,
    // before anything is spawned (the guards remove the run files and the lock).
    if let Some(e) = super::interrupted() {
        return Err(fail(e));
    }
    let merge = req.state_strategy == StateStrategy::Merge
        || (req.state_strategy == StateStrategy::Auto && req.full_refresh);
    let checkpointer = (!req.no_state_update).then(|| {
        Checkpointer::start(
            store.clone(),
            state_id.clone(),
            stored.clone(),
            merge,
            lock.clone(),
        )
    });

    // Everything said from here on is stamped with the block's ids and copied to its run
    // log (masked, as every line is).
    let log_id = if req.no_state_update {
        format!("{extractor}-to-{loader}")
    } else {
        state_id.to_string()
    };
    super::console::begin_block(
        &req.run_id.to_string(),
        Some(&log_id),
        open_run_log(ctx, &log_id, req.run_id),
    );
    let metrics = Arc::new(Metrics::default());
    let first_hop = Arc::new(LiveCounters::default());
    let piped = Piped::start(
        &tap_p,
        &mapper_ps,
        &target_p,
        checkpointer.clone(),
        metrics.clone(),
        first_hop.clone(),
    );
    let mut piped = match piped {
        Ok(p) => p,
        Err(e) => {
            super::console::end_block();
            return Err(fail(e));
        }
    };
    let progress = req.progress.enabled().then(|| {
        let confirmed = checkpointer
            .as_ref()
            .map(|c| c.confirmed.clone())
            .unwrap_or_default();
        Progress::start(block.label(), first_hop.clone(), confirmed)
    });
    let watchdog = req.timeout.map(|t| {
        let (done, wait) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(t) {
                tracing::error!("timed out after {t:?}; stopping the plugins");
                supervisor().time_out();
            }
        });
        done
    });
    let exits = piped.wait();
    drop(watchdog);
    let (hops, unread_state) = piped.join_hops();
    drop(progress);

    let report = checkpointer.map(|c| c.finish()).unwrap_or_default();
    let mut summary = BlockSummary::new(
        block.label(),
        &req.run_id.to_string(),
        &hops,
        started.elapsed(),
    );
    if !req.no_state_update {
        summary.state_id = Some(state_id.to_string());
        summary.store = Some(store.describe());
    }
    summary.states_confirmed = report.confirmed;
    summary.state_writes = report.writes;
    summary.last_state = report.last_confirmed.clone();
    summary.metrics = metrics.totals();
    summary.processes = piped
        .procs
        .iter()
        .zip(&exits)
        .map(|(p, e)| ProcessSummary {
            name: p.name.clone(),
            kind: p.kind,
            exit: describe_status(e.status),
            wall_seconds: e.wall.as_secs_f64(),
            cpu_seconds: e.cpu.as_secs_f64(),
        })
        .collect();
    // Time the loader went on after the extractor finished is time the pipe waited on it too
    // (the pipe buffer absorbed the data, the loader had not processed it yet).
    if let (Some(first), Some(last)) = (exits.first(), exits.last()) {
        let tail = last.wall.saturating_sub(first.wall);
        summary.waited_on_loader += tail.as_secs_f64();
        summary.verdict = super::summary::verdict(
            std::time::Duration::from_secs_f64(summary.waited_on_extractor),
            std::time::Duration::from_secs_f64(summary.waited_on_loader),
        );
    }
    for hop in &hops {
        if hop.not_json_lines > 0 {
            tracing::warn!("{} lines on the pipe were not JSON", hop.not_json_lines);
        }
    }

    let statuses: Vec<ExitStatus> = exits.iter().map(|e| e.status).collect();
    let error = blame(&mut piped.procs, &statuses, &hops, req);
    let error = error.or_else(|| {
        report
            .error
            .or(unread_state)
            .map(|message| RunError::StateSave {
                store: store.describe(),
                message,
            })
    });
    super::console::println(&summary.render());
    super::console::end_block();
    match error {
        Some(e) => Err(Box::new((Some(summary), e))),
        None => Ok(Some(summary)),
    }
}

/// Opens `.eltr/logs/<state_id>/<run_id>.log` for the block's full log.
fn open_run_log(ctx: &Context, state_id: &str, run_id: RunId) -> Option<std::fs::File> {
    let dir = ctx.project.root.join(".eltr").join("logs").join(state_id);
    std::fs::create_dir_all(&dir).ok()?;
    std::fs::File::create(dir.join(format!("{run_id}.log"))).ok()
}

/// `{environment}:{extractor}-to-{loader}[:{suffix}]`, the suffix from the command line or
/// the environment's `state_id_suffix`.
fn state_id(ctx: &Context, req: &RunRequest, tap: &str, target: &str) -> Result<StateId, RunError> {
    let suffix = match &req.state_id_suffix {
        Some(s) => Some(s.clone()),
        None => match ctx
            .environment
            .as_ref()
            .and_then(|e| e.item.state_id_suffix.clone())
        {
            Some(raw) => {
                let env = ctx.project_env()?;
                Some(ctx.expand_str(&raw, &env, &ctx.project.root_file, "state_id_suffix")?)
            }
            None => None,
        },
    };
    Ok(StateId::for_pipeline(
        ctx.environment_name(),
        tap,
        target,
        suffix.as_deref(),
    )?)
}

/// The running processes of a block and the threads between them.
struct Piped {
    /// tap, mappers…, target
    procs: Vec<Running>,
    hops: Vec<std::thread::JoinHandle<PumpStats>>,
    /// Ends with the error of a state too long to read, if the target printed one.
    target_reader: Option<std::thread::JoinHandle<Option<String>>>,
}

impl Piped {
    fn start(
        tap: &PreparedPlugin,
        mappers: &[PreparedPlugin],
        target: &PreparedPlugin,
        checkpointer: Option<Arc<Checkpointer>>,
        metrics: Arc<Metrics>,
        first_hop: Arc<LiveCounters>,
    ) -> Result<Piped, RunError> {
        let sup = supervisor();
        let order: Vec<&PreparedPlugin> = std::iter::once(tap)
            .chain(mappers)
            .chain(std::iter::once(target))
            .collect();
        let mut procs: Vec<Running> = Vec::new();
        let spawn_err = |p: &PreparedPlugin, source: std::io::Error| RunError::Spawn {
            kind: p.plugin.plugin_type.singular(),
            name: p.plugin.name.to_string(),
            program: p.program.display().to_string(),
            source,
        };
        for (i, p) in order.iter().enumerate() {
            let stdin = if i == 0 {
                Stdio::null()
            } else {
                Stdio::piped()
            };
            match spawn(
                p,
                Stdio2 {
                    stdin,
                    stdout: Stdio::piped(),
                },
                metrics.clone(),
            ) {
                Ok(r) => {
                    sup.register(r.pid, i == order.len() - 1);
                    procs.push(r);
                }
                Err(e) => {
                    for r in &mut procs {
                        super::process::signal_group(r.pid, libc::SIGKILL);
                        let _ = r.child.wait();
                        sup.unregister(r.pid);
                    }
                    return Err(spawn_err(p, e));
                }
            }
        }
        let mut hops = Vec::new();
        for i in 0..procs.len() - 1 {
            let from = procs[i].child.stdout.take().expect("stdout is piped");
            let to = procs[i + 1].child.stdin.take().expect("stdin is piped");
            let upstream = procs[i].pid;
            let live = if i == 0 {
                first_hop.clone()
            } else {
                Arc::new(LiveCounters::default())
            };
            hops.push(std::thread::spawn(move || {
                let stats = pump(from, to, live);
                if stats.downstream_closed {
                    // The next process stopped reading: stop the producer too.
                    super::process::signal_group(upstream, libc::SIGTERM);
                }
                stats
            }));
        }
        let last = procs.last_mut().expect("a block has a target");
        let out = last.child.stdout.take().expect("stdout is piped");
        let masker = target.masker.clone();
        let name = target.plugin.name.clone();
        let target_reader = Some(std::thread::spawn(move || {
            read_target_states(out, checkpointer, &name, &masker)
        }));
        Ok(Piped {
            procs,
            hops,
            target_reader,
        })
    }

    /// Waits for every process, in data order.
    fn wait(&mut self) -> Vec<Exit> {
        let sup = supervisor();
        let mut exits = Vec::new();
        for p in &mut self.procs {
            let exit = p.wait().unwrap_or_else(|e| {
                tracing::error!("cannot wait for '{}': {e}", p.name);
                Exit {
                    status: std::os::unix::process::ExitStatusExt::from_raw(1 << 8),
                    wall: p.started.elapsed(),
                    cpu: std::time::Duration::ZERO,
                }
            });
            sup.unregister(p.pid);
            exits.push(exit);
        }
        // Every stderr line is logged before the block reports (the readers end when the
        // processes' stderr closes).
        for p in &mut self.procs {
            p.join_stderr();
        }
        exits
    }

    /// What each hop carried, and the error of a state the target printed that was too
    /// long to read.
    fn join_hops(&mut self) -> (Vec<PumpStats>, Option<String>) {
        let hops = std::mem::take(&mut self.hops)
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect();
        let unread_state = self
            .target_reader
            .take()
            .and_then(|r| r.join().ok().flatten());
        (hops, unread_state)
    }
}

/// The longest line read from the target's stdout. A state is one JSON line and may be big
/// (bookmarks of thousands of streams or partitions), but not without end.
const STATE_LINE_CAP: usize = 64 << 20;

/// Reads the target's stdout: each JSON object line is a state the target confirms. Returns
/// an error when a state was too long to read: its bookmarks are not saved, and the run must
/// not pretend they were.
fn read_target_states(
    out: ChildStdout,
    checkpointer: Option<Arc<Checkpointer>>,
    name: &str,
    masker: &Masker,
) -> Option<String> {
    let reader = BufReader::with_capacity(64 * 1024, out);
    let mut lines = BoundedLines::new(reader, STATE_LINE_CAP);
    let mut unread_state = None;
    // Read to the end whatever happens, so the target never blocks on a full pipe.
    while let Ok(Some(line)) = lines.next_line() {
        if line.was_cut() {
            let size = line.kept.len() as u64 + line.cut;
            let limit = STATE_LINE_CAP >> 20;
            if checkpointer.is_some() && line.kept.trim_ascii_start().starts_with(b"{") {
                let message = format!(
                    "loader '{name}' printed a state of {size} bytes on stdout, more than the {limit} MiB eltr reads; that state was not saved"
                );
                tracing::error!("{message}");
                unread_state.get_or_insert(message);
            } else {
                tracing::warn!(
                    "{name} printed a line of {size} bytes on stdout, more than the {limit} MiB eltr reads; ignored"
                );
            }
            continue;
        }
        // A state is stored exactly as the target wrote it: a line that is not UTF-8 is not a
        // state (repairing it would store a bookmark the target never sent).
        let Ok(text) = std::str::from_utf8(line.kept) else {
            tracing::warn!("{name} printed a line on stdout that is not UTF-8; ignored");
            continue;
        };
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(obj)) => {
                // Some targets echo the whole STATE message rather than its value.
                let state = match (obj.get("type"), obj.get("value")) {
                    (Some(Value::String(t)), Some(v)) if t == "STATE" => v.clone(),
                    _ => Value::Object(obj),
                };
                if state.as_object().is_some_and(|o| o.is_empty()) {
                    continue;
                }
                tracing::debug!("{name} confirmed a state");
                if let Some(c) = &checkpointer {
                    c.confirm(&state);
                }
            }
            _ => {
                let shown: String = masker.mask(text).chars().take(200).collect();
                tracing::warn!(
                    "{name} printed a line on stdout that is not a JSON state; ignored: {shown}"
                );
            }
        }
    }
    unread_state
}

/// Picks the error of a block. If a process closed its input early, the first such process
/// is to blame (its producers were stopped because of it); otherwise the most upstream
/// process that failed.
fn blame(
    procs: &mut [Running],
    statuses: &[ExitStatus],
    hops: &[PumpStats],
    req: &RunRequest,
) -> Option<RunError> {
    let sup = supervisor();
    if let Some(sig) = sup.received() {
        return Some(RunError::Interrupted {
            signal: signal_name(sig),
            code: (128 + sig) as u8,
        });
    }
    if sup.timed_out() {
        return Some(RunError::TimedOut(req.timeout.unwrap_or_default()));
    }
    let failed = |p: &mut Running, status: ExitStatus| RunError::PluginFailed {
        kind: p.kind,
        name: p.name.clone(),
        status: describe_status(status),
        tail: render_tail(&p.stderr_tail()),
    };
    if let Some(i) = hops.iter().position(|h| h.downstream_closed) {
        let culprit = i + 1;
        let status = statuses[culprit];
        let p = &mut procs[culprit];
        return Some(if status.success() {
            RunError::LoaderExitedEarly {
                name: p.name.clone(),
                status: describe_status(status),
                tail: render_tail(&p.stderr_tail()),
            }
        } else {
            failed(p, status)
        });
    }
    for (p, status) in procs.iter_mut().zip(statuses) {
        if !status.success() {
            return Some(failed(p, *status));
        }
    }
    for hop in hops {
        if let Some(e) = &hop.error {
            return Some(RunError::StateSave {
                store: "the pipe".into(),
                message: e.clone(),
            });
        }
    }
    None
}

fn render_tail(lines: &[String]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let mut out = String::from("; last lines of its stderr:");
    for l in lines {
        out.push_str("\n  | ");
        out.push_str(l);
    }
    out
}
