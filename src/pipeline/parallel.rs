//! Running a plan's blocks side by side (`eltr run … --parallel N`).
//!
//! Blocks start in the order of the plan, each on a thread of its own, at most N at a time.
//! A block waits (and the blocks after it with it, so the order stays the plan's) while a
//! block it shares a plugin or a state id with is running: two runs of one plugin would
//! share its run folder and catalog cache, and one state id is never written by two runs.
//! A `plugin:command` block (a utility, a `dbt:run`) runs alone: it usually works on what
//! the blocks before it loaded, and the ones after it on what it made.
//!
//! A failure ends the run as it would one after another: no block starts after it, and the
//! error the run ends with (and its exit code) is that of the first failed block in plan
//! order. Blocks already running are left to finish, keeping the bookmarks they confirm;
//! a signal stops them all (the supervisor is the run's).

use super::plan::{Plan, PlannedBlock};
use super::summary::{Interval, render_overlap};
use super::{BlockResult, RunOutcome, Session, interrupted, run_block};
use crate::project::Context;
use std::sync::mpsc::{Receiver, channel};
use std::time::Instant;

/// A block that ended: its index in the plan, its result, and when it ended.
type Ended = (usize, BlockResult, Instant);

/// Runs the blocks of `plan`, up to `plan.parallel` at once.
pub fn execute(session: &Session, ctx: &Context, plan: &Plan) -> RunOutcome {
    let mut board = Board::new(plan);
    std::thread::scope(|scope| {
        let (done, ended) = channel::<Ended>();
        for (i, block) in plan.blocks.iter().enumerate() {
            board.wait_for_room(i, &ended);
            if board.failed || interrupted(session).is_some() {
                break;
            }
            board.start(i);
            let done = done.clone();
            // The block's plugins are spawned by this thread, which waits for them: their
            // parent-death signal is tied to it, so it must live as long as they do.
            scope.spawn(move || {
                let result = run_block(session, ctx, plan, block);
                let _ = done.send((i, result, Instant::now()));
            });
        }
        drop(done);
        while let Ok(e) = ended.recv() {
            board.end(e);
        }
    });
    board.outcome(session)
}

/// What has started, what runs and how each block ended.
struct Board<'p> {
    plan: &'p Plan,
    started: Instant,
    running: Vec<usize>,
    /// By block: when it started and ended (seconds into the run), and its result.
    ran: Vec<Option<(f64, f64)>>,
    results: Vec<Option<BlockResult>>,
    /// A block failed: no other one starts.
    failed: bool,
}

impl<'p> Board<'p> {
    fn new(plan: &'p Plan) -> Board<'p> {
        let n = plan.blocks.len();
        Board {
            plan,
            started: Instant::now(),
            running: Vec::new(),
            ran: vec![None; n],
            results: (0..n).map(|_| None).collect(),
            failed: false,
        }
    }

    /// Takes the ends of blocks until block `i` may start (or a failure means it will not).
    fn wait_for_room(&mut self, i: usize, ended: &Receiver<Ended>) {
        while !self.failed && !self.may_start(i) {
            // A block that may not start waits on a running one, which will end.
            match ended.recv() {
                Ok(e) => self.end(e),
                Err(_) => break,
            }
        }
    }

    fn may_start(&self, i: usize) -> bool {
        let blocks = &self.plan.blocks;
        self.running.len() < self.plan.parallel
            && self
                .running
                .iter()
                .all(|&j| !conflict(&blocks[i], &blocks[j]))
    }

    fn start(&mut self, i: usize) {
        let at = self.started.elapsed().as_secs_f64();
        self.ran[i] = Some((at, at));
        self.running.push(i);
    }

    fn end(&mut self, (i, result, at): Ended) {
        self.running.retain(|&j| j != i);
        if let Some((from, _)) = self.ran[i] {
            self.ran[i] = Some((from, at.duration_since(self.started).as_secs_f64()));
        }
        if result.is_err() && !self.failed {
            self.failed = true;
            if i + 1 < self.plan.blocks.len() {
                tracing::warn!(
                    "block '{}' failed; no further block starts, the ones running finish",
                    self.plan.blocks[i].label()
                );
            }
        }
        self.results[i] = Some(result);
    }

    /// The run's outcome: summaries in plan order, the first failure in plan order (or the
    /// signal that stopped the run), and the timeline.
    fn outcome(self, session: &Session) -> RunOutcome {
        let wall = self.started.elapsed().as_secs_f64();
        let mut outcome = RunOutcome {
            seconds: wall,
            ..RunOutcome::default()
        };
        let mut intervals = Vec::new();
        for ((block, ran), result) in self.plan.blocks.iter().zip(&self.ran).zip(self.results) {
            let offset = ran.map_or(0.0, |(a, _)| a);
            let failed = matches!(result, Some(Err(_)));
            match result {
                Some(Ok(summary)) => outcome.blocks.extend(summary.map(|s| s.at(offset))),
                Some(Err(failure)) => {
                    let (summary, e) = *failure;
                    outcome.blocks.extend(summary.map(|s| s.at(offset)));
                    match outcome.error {
                        None => outcome.error = Some(e),
                        // Only one error ends the run; the others are said here.
                        Some(_) => tracing::error!("block '{}' failed too: {e}", block.label()),
                    }
                }
                None => {}
            }
            intervals.push(Interval {
                label: block.label(),
                ran: *ran,
                failed,
            });
        }
        if let Some(e) = interrupted(session) {
            outcome.error = Some(e);
        }
        session
            .console
            .println(&render_overlap(&intervals, wall, self.plan.parallel));
        outcome
    }
}

/// True when two blocks may not run at the same time: they share a plugin or a state id,
/// or one of them is a command block.
fn conflict(a: &PlannedBlock, b: &PlannedBlock) -> bool {
    let (PlannedBlock::ExtractLoad(a), PlannedBlock::ExtractLoad(b)) = (a, b) else {
        return true;
    };
    a.state_id == b.state_id
        || a.plugins()
            .iter()
            .any(|(_, p)| b.plugins().iter().any(|(_, q)| q.name == p.name))
}
