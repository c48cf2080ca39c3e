//! One extract-load block: lock the state, hand the tap its bookmarks, spawn tap → mappers →
//! target piped through eltr, checkpoint every state the target confirms, and decide which
//! process to blame if it goes wrong.

use super::checkpoint::{Checkpointer, Confirm};
use super::console::{BlockLog, spawn_in_block};
use super::metrics::Metrics;
use super::plan::{ExtractLoadPlan, Plan, StateSource};
use super::process::{Exit, Running, Stdio2, spawn};
use super::progress::Progress;
use super::pump::{LiveCounters, PumpStats, pump};
use super::split;
use super::summary::{BlockSummary, ProcessSummary};
use super::{RunError, Session};
use crate::plugin::{PluginError, PrepareOptions, PreparedPlugin, describe_status, prepare};
use crate::project::{Context, ResolvedPlugin};
use crate::singer::state::{StateDoc, split_shape_problem};
use crate::state::{LockGuard, LockInfo, Store};
use crate::vocab::files::{DOCUMENT_CAP, read_capped};
use crate::vocab::ident::RunId;
use crate::vocab::lines::BoundedLines;
use crate::vocab::mask::Masker;
use crate::vocab::supervisor::{signal_group, signal_name};
use serde_json::Value;
use std::io::BufReader;
use std::process::{ChildStdout, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::BlockResult;
use super::run_record;

/// The plugins of a block, prepared (config files written, catalog built), in data order.
struct Prepared {
    tap: PreparedPlugin,
    mappers: Vec<PreparedPlugin>,
    target: PreparedPlugin,
    /// The streams of this copy of a split tap.
    share: Option<Arc<Vec<String>>>,
}

/// Runs one planned `extractor [mapper…] loader` block: install what is missing, lock the
/// state, hand the tap its bookmarks, pipe the plugins, checkpoint, summarise.
pub fn run(session: &Session, ctx: &Context, plan: &Plan, el: &ExtractLoadPlan) -> BlockResult {
    let started = Instant::now();
    // Everything said from here on, by this thread and the ones it starts, is stamped with
    // the block's ids and copied to its run log (masked, as every line is).
    let log = session.console.begin_block(
        &plan.run_id.to_string(),
        Some(&el.log_id),
        open_run_log(ctx, &el.log_id, plan.run_id),
        plan.side_by_side().then(|| el.label.clone()),
    );
    let _in_block = log.span().entered();
    let root = &ctx.project.root;
    let record = run_record::started(
        root,
        &el.log_id,
        &el.state_id.to_string(),
        &plan.run_id.to_string(),
    );
    let result = match get_ready(session, ctx, plan, el) {
        Ok(ready) => pipe(session, plan, el, ready, started, &log),
        Err(e) => Err(Box::new((None, e))),
    };
    run_record::ended(
        root,
        record,
        result.is_ok(),
        started.elapsed().as_secs_f64(),
    );
    result
}

/// A block whose plugins are installed and prepared, its state locked and read.
struct Ready {
    /// The store, when the block reads or writes state there.
    store: Option<Arc<dyn Store>>,
    /// One line of plugins, or one per copy of a split tap.
    lines: Vec<Prepared>,
    /// Saves the states the target confirms, when the block writes state.
    checkpointer: Option<Arc<Checkpointer>>,
    /// The project's root, where the block's run metadata is kept.
    root: std::path::PathBuf,
    /// The state lock, told how the block ended (the system database records it).
    lock: Option<Arc<dyn LockGuard>>,
}

/// Everything before the first process starts. The run folders and the lock are guards: an
/// error (or a signal that arrived meanwhile) drops them, removing the files and the lock.
fn get_ready(
    session: &Session,
    ctx: &Context,
    plan: &Plan,
    el: &ExtractLoadPlan,
) -> Result<Ready, RunError> {
    if plan.install_missing {
        let all: Vec<&ResolvedPlugin> = el.plugins().into_iter().map(|(_, p)| p).collect();
        super::ensure_installed(ctx, &all)?;
    }
    let store = plan
        .store
        .clone()
        .filter(|_| el.state.write || matches!(el.state.read, StateSource::Store));
    let lock = take_lock(plan, el, store.as_deref())?;
    let stored = match &store {
        Some(s) => s.get(&el.state_id)?.unwrap_or_default(),
        None => StateDoc::default(),
    };
    let state_for_tap = state_for_tap(el, &stored)?;
    if state_for_tap.is_some() {
        tracing::info!("resuming '{}' from its stored state", el.state_id);
    }
    if el.split.is_some() {
        refuse_unsplittable(el, state_for_tap.as_ref())?;
    }
    let given = state_for_tap
        .clone()
        .unwrap_or_else(|| serde_json::json!({}));
    let prepared = prepare_all(session, ctx, plan, el, state_for_tap.clone())?;
    let streams = prepared.tap.selected_streams.clone().unwrap_or_default();
    let lines = match el.split {
        Some(n) => split_lines(session, ctx, plan, el, prepared, state_for_tap, n)?,
        None => vec![prepared],
    };
    if let Some(e) = super::interrupted(session) {
        return Err(e);
    }
    let held = lock.clone();
    let checkpointer = match (&store, el.state.write) {
        (Some(store), true) => {
            let c = Checkpointer::start(
                store.clone(),
                el.state_id.clone(),
                stored,
                el.state.merge,
                lock,
            );
            Some(if lines.len() > 1 {
                c.split(given, streams)
            } else {
                c
            })
        }
        _ => None,
    };
    Ok(Ready {
        store,
        lines,
        checkpointer,
        root: ctx.project.root.clone(),
        lock: held,
    })
}

/// An error when the state the copies of a split tap would start from cannot be shared out
/// between them (`singer::state::split_shape_problem`).
fn refuse_unsplittable(el: &ExtractLoadPlan, state: Option<&Value>) -> Result<(), RunError> {
    match state.and_then(split_shape_problem) {
        Some(problem) => Err(RunError::SplitRefused {
            block: el.label.clone(),
            reason: format!("the state of '{}': {problem}", el.state_id),
        }),
        None => Ok(()),
    }
}

/// The lines of a split block: the selected streams of the prepared tap dealt out over up
/// to `n` copies of it (balanced by last run's records per stream), each copy prepared with
/// a catalog selecting its share and a loader of its own. One stream or one copy: the block
/// runs as prepared.
fn split_lines(
    session: &Session,
    ctx: &Context,
    plan: &Plan,
    el: &ExtractLoadPlan,
    whole: Prepared,
    state: Option<Value>,
    n: usize,
) -> Result<Vec<Prepared>, RunError> {
    let streams = whole.tap.selected_streams.clone().unwrap_or_default();
    let weights = split::last_counts(&ctx.project.root, &el.log_id);
    let shares = split::shares(&streams, &weights, n);
    let Some(catalog) = whole.tap.catalog.clone().filter(|_| shares.len() > 1) else {
        return Ok(vec![whole]);
    };
    // The copies' run folders replace the whole block's.
    drop(whole);
    let shown: Vec<String> = shares.iter().map(|s| s.join(" ")).collect();
    tracing::info!(
        "streams of '{}' split over {} copies: [{}]",
        el.extractor.name,
        shares.len(),
        shown.join("], [")
    );
    let mut lines = Vec::with_capacity(shares.len());
    for (k, share) in shares.into_iter().enumerate() {
        let opts = PrepareOptions {
            run_id: plan.run_id,
            state: state.clone(),
            with_catalog: true,
            supervisor: session.supervisor.clone(),
            copy: Some(k + 1),
            catalog: Some(catalog.only(&share)),
            ..PrepareOptions::default()
        };
        let tap = prepare(ctx, el.extractor.clone(), &opts)?;
        let downstream = PrepareOptions {
            run_id: plan.run_id,
            extra_env: el.upstream.clone(),
            supervisor: session.supervisor.clone(),
            copy: Some(k + 1),
            ..PrepareOptions::default()
        };
        let target = prepare(ctx, el.loader.clone(), &downstream)?;
        lines.push(Prepared {
            tap,
            mappers: Vec::new(),
            target,
            share: Some(Arc::new(share)),
        });
    }
    Ok(lines)
}

/// Spawns and pipes the plugins (each line of them, in a split block), waits for them
/// (under the timeout, with progress), and turns what happened into the block's summary and
/// error.
fn pipe(
    session: &Session,
    plan: &Plan,
    el: &ExtractLoadPlan,
    ready: Ready,
    started: Instant,
    log: &Arc<BlockLog>,
) -> BlockResult {
    let metrics = Arc::new(Metrics::default());
    let checkpointer = ready.checkpointer;
    let (mut lines, live) = start_lines(session, &ready.lines, checkpointer.as_ref(), &metrics)
        .map_err(|e| Box::new((None, e)))?;
    let progress = plan.progress.then(|| {
        let confirmed = checkpointer
            .as_ref()
            .map(|c| c.confirmed.clone())
            .unwrap_or_default();
        Progress::start(log.clone(), el.label.clone(), live, confirmed)
    });
    let watchdog = plan.timeout.map(|t| start_watchdog(session, t));
    let ended: Vec<Vec<Exit>> = lines.iter_mut().map(|l| l.wait(session)).collect();
    drop(watchdog);
    let joined: Vec<_> = lines.iter_mut().map(Piped::join_hops).collect();
    drop(progress);

    let report = checkpointer.map(|c| c.finish()).unwrap_or_default();
    let store_name = ready.store.as_ref().map(|s| s.describe());
    let mut summary = summarise_lines(plan, el, &lines, &ended, &joined, started);
    if el.state.write {
        summary.state_id = Some(el.state_id.to_string());
        summary.store = store_name.clone();
    }
    summary.states_confirmed = report.confirmed;
    summary.state_writes = report.writes;
    summary.last_state = report.last_confirmed.clone();
    summary.metrics = metrics.totals();

    let error = blame_lines(session, &mut lines, &ended, &joined, plan.timeout);
    let unread_state = joined.into_iter().find_map(|(_, unread)| unread);
    let error = error.or_else(|| {
        let message = report.error.or(unread_state)?;
        Some(RunError::StateSave {
            store: store_name.unwrap_or_default(),
            message,
        })
    });
    let error = error.or_else(|| not_own_error(el, &report.not_own));
    if let Some(lock) = &ready.lock {
        lock.record_outcome(error.is_none());
    }
    // With JSON logs the summary is one JSON line: its first line as the message, its
    // numbers under `summary`.
    let text = summary.render();
    let mut fields = serde_json::Map::new();
    if let Ok(numbers) = serde_json::to_value(&summary) {
        fields.insert("summary".into(), numbers);
    }
    let message = match session.console.json_lines() {
        true => text.lines().next().unwrap_or_default().to_string(),
        false => text,
    };
    log.println_with(&message, fields);
    match error {
        Some(e) => Err(Box::new((Some(summary), e))),
        None => {
            split::record_counts(&ready.root, &el.log_id, &summary.streams);
            Ok(Some(summary))
        }
    }
}

/// Starts each line of the block (one, or one per copy of a split tap); if one cannot
/// start, the ones already running are stopped in data order (keeping what they confirmed)
/// and the error returned.
fn start_lines(
    session: &Session,
    lines: &[Prepared],
    checkpointer: Option<&Arc<Checkpointer>>,
    metrics: &Arc<Metrics>,
) -> Result<(Vec<Piped>, Vec<Arc<LiveCounters>>), RunError> {
    let mut started = Vec::with_capacity(lines.len());
    let mut live = Vec::with_capacity(lines.len());
    for line in lines {
        let first_hop = Arc::new(LiveCounters::default());
        let confirm = checkpointer.map(|c| match &line.share {
            Some(streams) => Confirm::share(c.clone(), streams.clone()),
            None => Confirm::whole(c.clone()),
        });
        match Piped::start(session, line, confirm, metrics.clone(), first_hop.clone()) {
            Ok(piped) => started.push(piped),
            Err(e) => {
                for mut piped in started {
                    signal_group(piped.procs[0].pid, libc::SIGTERM);
                    piped.wait(session);
                    piped.join_hops();
                }
                return Err(e);
            }
        }
        live.push(first_hop);
    }
    Ok((started, live))
}

/// The block's summary: that of its line, or of its copies' lines added up.
fn summarise_lines(
    plan: &Plan,
    el: &ExtractLoadPlan,
    lines: &[Piped],
    ended: &[Vec<Exit>],
    joined: &[(Vec<PumpStats>, Option<String>)],
    started: Instant,
) -> BlockSummary {
    let mut parts = lines
        .iter()
        .zip(ended)
        .zip(joined)
        .map(|((line, exits), (hops, _))| summarise(plan, el, line, exits, hops, started));
    let mut summary = parts.next().expect("a block has a line");
    for part in parts {
        summary.absorb(part);
    }
    summary
}

/// The error of the first line (in copy order) that failed.
fn blame_lines(
    session: &Session,
    lines: &mut [Piped],
    ended: &[Vec<Exit>],
    joined: &[(Vec<PumpStats>, Option<String>)],
    timeout: Option<Duration>,
) -> Option<RunError> {
    lines
        .iter_mut()
        .zip(ended)
        .zip(joined)
        .find_map(|((line, exits), (hops, _))| {
            let statuses: Vec<ExitStatus> = exits.iter().map(|e| e.status).collect();
            blame(session, &mut line.procs, &statuses, hops, timeout)
        })
}

/// The error of a split block whose copies changed what was not theirs: the tap's streams
/// are not independent, and splitting it is not safe.
fn not_own_error(el: &ExtractLoadPlan, not_own: &[String]) -> Option<RunError> {
    let first = not_own.first()?;
    Some(RunError::SplitRefused {
        block: el.label.clone(),
        reason: format!(
            "a copy of '{}' changed {first} (and {} more such changes); the tap's streams are not independent. The bookmarks of each copy's own streams were saved",
            el.extractor.name,
            not_own.len() - 1
        ),
    })
}

/// Takes the block's state lock, when it writes state.
fn take_lock(
    plan: &Plan,
    el: &ExtractLoadPlan,
    store: Option<&dyn Store>,
) -> Result<Option<Arc<dyn LockGuard>>, RunError> {
    let (Some(policy), Some(store)) = (&el.state.lock, store) else {
        return Ok(None);
    };
    let info = LockInfo::for_this_process(&plan.run_id.to_string());
    Ok(Some(store.lock(&el.state_id, &info, policy)?))
}

/// The Singer state the extractor starts from: nothing, the stored one, or the file its
/// `state` extra names (which must be valid JSON: a bad one is an error, not a full refresh).
pub(super) fn state_for_tap(
    el: &ExtractLoadPlan,
    stored: &StateDoc,
) -> Result<Option<Value>, RunError> {
    let path = match &el.state.read {
        StateSource::Nothing => return Ok(None),
        StateSource::Store => return Ok(stored.singer_state()),
        StateSource::File(path) => path,
    };
    let plugin = el.extractor.name.to_string();
    let text = read_capped(path, DOCUMENT_CAP).map_err(|error| PluginError::RunFiles {
        plugin: plugin.clone(),
        path: path.display().to_string(),
        error,
    })?;
    let state = serde_json::from_slice::<Value>(&text).map_err(|e| PluginError::BadStateFile {
        plugin,
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    Ok(Some(state))
}

/// Prepares every plugin of the block: config files, the extractor's catalog and state.
fn prepare_all(
    session: &Session,
    ctx: &Context,
    plan: &Plan,
    el: &ExtractLoadPlan,
    state: Option<Value>,
) -> Result<Prepared, RunError> {
    let opts = PrepareOptions {
        run_id: plan.run_id,
        refresh_catalog: el.refresh_catalog,
        state,
        with_catalog: true,
        supervisor: session.supervisor.clone(),
        ..PrepareOptions::default()
    };
    let tap = prepare(ctx, el.extractor.clone(), &opts)?;
    if tap.selected_streams.as_ref().is_some_and(|s| s.is_empty()) {
        tracing::warn!(
            "the catalog of '{}' selects no stream; check its `select` patterns (`eltr select {} --list --all`)",
            tap.plugin.name,
            tap.plugin.name
        );
    }
    let downstream = PrepareOptions {
        run_id: plan.run_id,
        extra_env: el.upstream.clone(),
        supervisor: session.supervisor.clone(),
        ..PrepareOptions::default()
    };
    let mut mappers = Vec::with_capacity(el.mappers.len());
    for (mapper, _) in &el.mappers {
        mappers.push(prepare(ctx, mapper.clone(), &downstream)?);
    }
    let target = prepare(ctx, el.loader.clone(), &downstream)?;
    Ok(Prepared {
        tap,
        mappers,
        target,
        share: None,
    })
}

/// Stops the plugins when `limit` passes; dropping the returned sender cancels it.
fn start_watchdog(session: &Session, limit: Duration) -> mpsc::Sender<()> {
    let (done, wait) = mpsc::channel::<()>();
    let supervisor = session.supervisor.clone();
    spawn_in_block(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(limit) {
            tracing::error!("timed out after {limit:?}; stopping the plugins");
            supervisor.time_out();
        }
    });
    done
}

/// The block's summary from what its processes and hops did.
fn summarise(
    plan: &Plan,
    el: &ExtractLoadPlan,
    piped: &Piped,
    exits: &[Exit],
    hops: &[PumpStats],
    started: Instant,
) -> BlockSummary {
    let mut summary = BlockSummary::new(
        el.label.clone(),
        &plan.run_id.to_string(),
        hops,
        started.elapsed(),
    );
    summary.processes = piped
        .procs
        .iter()
        .zip(exits)
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
            Duration::from_secs_f64(summary.waited_on_extractor),
            Duration::from_secs_f64(summary.waited_on_loader),
        );
    }
    for hop in hops {
        if hop.not_json_lines > 0 {
            tracing::warn!("{} lines on the pipe were not JSON", hop.not_json_lines);
        }
    }
    summary
}

/// Opens `.eltr/logs/<log_id>/<run_id>.log` for the block's full log. Its folder must really
/// be inside `.eltr/` (not a link planted there): the log is not written otherwise.
fn open_run_log(ctx: &Context, log_id: &str, run_id: RunId) -> Option<std::fs::File> {
    let owner = crate::project::eltr_dir(&ctx.project.root);
    let dir = owner.join("logs").join(log_id);
    if let Err(e) = crate::vocab::confine::create_dir_inside(&owner, &dir) {
        tracing::warn!("the run log is not written: {e}");
        return None;
    }
    std::fs::File::create(dir.join(format!("{run_id}.log"))).ok()
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
    /// Spawns the plugins in data order and connects them: a pump thread per hop, a reader of
    /// the target's stdout for the states it confirms.
    fn start(
        session: &Session,
        prepared: &Prepared,
        confirm: Option<Confirm>,
        metrics: Arc<Metrics>,
        first_hop: Arc<LiveCounters>,
    ) -> Result<Piped, RunError> {
        let target = &prepared.target;
        let order: Vec<&PreparedPlugin> = std::iter::once(&prepared.tap)
            .chain(&prepared.mappers)
            .chain(std::iter::once(target))
            .collect();
        let mut procs = spawn_all(session, &order, metrics)?;
        let mut hops = Vec::new();
        for i in 0..procs.len() - 1 {
            let from = procs[i].child.stdout.take().expect("stdout is piped");
            let to = procs[i + 1].child.stdin.take().expect("stdin is piped");
            let upstream = procs[i].pid;
            let live = match i {
                0 => first_hop.clone(),
                _ => Arc::new(LiveCounters::default()),
            };
            hops.push(spawn_in_block(move || {
                let stats = pump(from, to, live);
                if stats.downstream_closed {
                    // The next process stopped reading: stop the producer too.
                    signal_group(upstream, libc::SIGTERM);
                }
                stats
            }));
        }
        let last = procs.last_mut().expect("a block has a target");
        let out = last.child.stdout.take().expect("stdout is piped");
        let masker = target.masker.clone();
        let name = target.process_name();
        let target_reader = Some(spawn_in_block(move || {
            read_target_states(out, confirm, &name, &masker)
        }));
        Ok(Piped {
            procs,
            hops,
            target_reader,
        })
    }

    /// Waits for every process, in data order.
    fn wait(&mut self, session: &Session) -> Vec<Exit> {
        let sup = &session.supervisor;
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

/// Starts each plugin (stdin from the one before it, the first from nothing) and registers it
/// with the supervisor, the last one as the sink. If one cannot start, the ones already
/// running are killed and reaped: a block runs whole or not at all.
fn spawn_all(
    session: &Session,
    order: &[&PreparedPlugin],
    metrics: Arc<Metrics>,
) -> Result<Vec<Running>, RunError> {
    let sup = &session.supervisor;
    let mut procs: Vec<Running> = Vec::new();
    for (i, p) in order.iter().enumerate() {
        let stdin = match i {
            0 => Stdio::null(),
            _ => Stdio::piped(),
        };
        let stdio = Stdio2 {
            stdin,
            stdout: Stdio::piped(),
        };
        match spawn(p, stdio, metrics.clone()) {
            Ok(r) => {
                sup.register(r.pid, i == order.len() - 1);
                procs.push(r);
            }
            Err(source) => {
                for r in &mut procs {
                    signal_group(r.pid, libc::SIGKILL);
                    let _ = r.child.wait();
                    sup.unregister(r.pid);
                }
                return Err(RunError::Spawn {
                    kind: p.plugin.plugin_type.singular(),
                    name: p.plugin.name.to_string(),
                    program: p.program.display().to_string(),
                    source,
                });
            }
        }
    }
    Ok(procs)
}

/// The longest line read from the target's stdout. A state is one JSON line and may be big
/// (bookmarks of thousands of streams or partitions), but not without end.
const STATE_LINE_CAP: usize = 64 << 20;

/// Reads the target's stdout: each JSON object line is a state the target confirms. Returns
/// an error when a state was too long to read: its bookmarks are not saved, and the run must
/// not pretend they were. (Its length is the list of the kinds of line a target prints, each
/// with what happens to it.)
fn read_target_states(
    out: ChildStdout,
    checkpointer: Option<Confirm>,
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
    session: &Session,
    procs: &mut [Running],
    statuses: &[ExitStatus],
    hops: &[PumpStats],
    timeout: Option<Duration>,
) -> Option<RunError> {
    let sup = &session.supervisor;
    if let Some(sig) = sup.received() {
        return Some(RunError::Interrupted {
            signal: signal_name(sig),
            code: (128 + sig) as u8,
        });
    }
    if sup.timed_out() {
        return Some(RunError::TimedOut(timeout.unwrap_or_default()));
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
