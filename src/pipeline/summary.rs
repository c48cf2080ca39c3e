//! What a finished block reports: records and bytes per stream, each process's wall and CPU
//! time and exit, where the pipe waited (so the bottleneck is named: tap-bound, target-bound
//! or balanced), Singer METRIC totals, and where the state went. Rendered for people on
//! stderr and serialised for `--summary-json`.

use super::metrics::MetricTotal;
use super::pump::{PumpStats, StreamStats};
use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;
use std::fmt::Write;
use std::time::Duration;

/// One process of a block.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessSummary {
    pub name: String,
    pub kind: &'static str,
    pub exit: String,
    pub wall_seconds: f64,
    pub cpu_seconds: f64,
}

/// One block's numbers.
#[derive(Debug, Clone, Serialize)]
pub struct BlockSummary {
    pub block: String,
    pub run_id: String,
    /// When the block started, in seconds after the run started.
    pub started_seconds: f64,
    /// Copies of the extractor the streams were split over (1: not split).
    pub copies: usize,
    pub state_id: Option<String>,
    pub store: Option<String>,
    pub records: u64,
    pub bytes: u64,
    pub seconds: f64,
    pub streams: IndexMap<String, StreamStats>,
    pub processes: Vec<ProcessSummary>,
    /// Seconds eltr waited for the extractor to produce data.
    pub waited_on_extractor: f64,
    /// Seconds eltr waited for the loader (or first mapper) to take data.
    pub waited_on_loader: f64,
    pub verdict: &'static str,
    pub states_confirmed: u64,
    pub state_writes: u64,
    pub last_state: Option<Value>,
    pub metrics: Vec<MetricTotal>,
}

/// The bottleneck, from how long the pipe waited on each side.
pub fn verdict(waited_on_extractor: Duration, waited_on_loader: Duration) -> &'static str {
    let (tap, target) = (
        waited_on_extractor.as_secs_f64(),
        waited_on_loader.as_secs_f64(),
    );
    if tap > 2.0 * target && tap > 0.05 {
        "tap-bound"
    } else if target > 2.0 * tap && target > 0.05 {
        "target-bound"
    } else {
        "balanced"
    }
}

impl BlockSummary {
    /// Builds the summary from the hops' counters (first hop: what the extractor sent; last
    /// hop: how the loader took it).
    pub fn new(block: String, run_id: &str, hops: &[PumpStats], elapsed: Duration) -> BlockSummary {
        let empty = PumpStats::default();
        let first = hops.first().unwrap_or(&empty);
        let last = hops.last().unwrap_or(&empty);
        BlockSummary {
            block,
            run_id: run_id.to_string(),
            started_seconds: 0.0,
            copies: 1,
            state_id: None,
            store: None,
            records: first.records,
            bytes: first.bytes,
            seconds: elapsed.as_secs_f64(),
            streams: first.streams.clone(),
            processes: Vec::new(),
            waited_on_extractor: first.read_wait.as_secs_f64(),
            waited_on_loader: last.write_wait.as_secs_f64(),
            verdict: verdict(first.read_wait, last.write_wait),
            states_confirmed: 0,
            state_writes: 0,
            last_state: None,
            metrics: Vec::new(),
        }
    }

    /// The summary of a block that started `offset` seconds into the run.
    pub fn at(mut self, offset: f64) -> BlockSummary {
        self.started_seconds = offset;
        self
    }

    /// Adds what another copy of the block's extractor did (a split block): its records,
    /// streams and processes; the time each side waited adds up too.
    pub fn absorb(&mut self, other: BlockSummary) {
        self.copies += other.copies;
        self.records += other.records;
        self.bytes += other.bytes;
        self.streams.extend(other.streams);
        self.processes.extend(other.processes);
        self.waited_on_extractor += other.waited_on_extractor;
        self.waited_on_loader += other.waited_on_loader;
        self.seconds = self.seconds.max(other.seconds);
        self.verdict = verdict(
            Duration::from_secs_f64(self.waited_on_extractor),
            Duration::from_secs_f64(self.waited_on_loader),
        );
    }

    /// The human summary printed on stderr at the end of the block.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let copies = match self.copies {
            1 => String::new(),
            n => format!(" ({n} extractor copies)"),
        };
        let _ = writeln!(
            out,
            "{}{copies}: {} records, {:.1} MB in {:.2}s: {} (waited {:.2}s on the extractor, {:.2}s on the loader)",
            self.block,
            self.records,
            self.bytes as f64 / 1e6,
            self.seconds,
            self.verdict,
            self.waited_on_extractor,
            self.waited_on_loader
        );
        if !self.streams.is_empty() {
            let _ = writeln!(out, "  {:<28} {:>12} {:>12}", "stream", "records", "bytes");
            for (name, s) in &self.streams {
                let _ = writeln!(out, "  {name:<28} {:>12} {:>12}", s.records, s.bytes);
            }
        }
        if !self.processes.is_empty() {
            let _ = writeln!(
                out,
                "  {:<28} {:<10} {:>16} {:>8} {:>8}",
                "process", "role", "exit", "wall s", "cpu s"
            );
            for p in &self.processes {
                let _ = writeln!(
                    out,
                    "  {:<28} {:<10} {:>16} {:>8.2} {:>8.2}",
                    p.name, p.kind, p.exit, p.wall_seconds, p.cpu_seconds
                );
            }
        }
        for m in &self.metrics {
            let stream = m
                .stream
                .as_deref()
                .map(|s| format!("[{s}]"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  metric {} {}{stream}: {} ({} {} lines)",
                m.plugin, m.metric, m.total, m.points, m.kind
            );
        }
        if let (Some(id), Some(store)) = (&self.state_id, &self.store) {
            let _ = write!(
                out,
                "  state '{id}': {} confirmed, {} written to {store}",
                self.states_confirmed, self.state_writes
            );
        } else {
            out.pop();
        }
        out
    }
}

/// When one block of a run ran, for the timeline of a run whose blocks ran side by side.
#[derive(Debug, Clone)]
pub struct Interval {
    pub label: String,
    /// Seconds after the run started; `None` for a block that never started.
    pub ran: Option<(f64, f64)>,
    pub failed: bool,
}

/// Width of the timeline bars, in characters.
const BAR: usize = 40;

/// The timeline of a run whose blocks ran side by side: how long it took, how long its
/// blocks took together (what running them one after another would have cost), and a bar
/// per block showing when it ran.
pub fn render_overlap(intervals: &[Interval], wall: f64, parallel: usize) -> String {
    let busy: f64 = intervals
        .iter()
        .filter_map(|i| i.ran.map(|(a, b)| b - a))
        .sum();
    let ran = intervals.iter().filter(|i| i.ran.is_some()).count();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{ran} blocks in {wall:.2}s, up to {parallel} at once; one after another they took {busy:.2}s ({:.1}x)",
        busy / wall.max(1e-9)
    );
    let width = intervals
        .iter()
        .map(|i| i.label.chars().count())
        .max()
        .unwrap_or(0);
    let scale = BAR as f64 / wall.max(1e-9);
    for i in intervals {
        let label = format!("{:<width$}", i.label);
        let Some((a, b)) = i.ran else {
            let _ = writeln!(out, "  {label} |{}| not started", " ".repeat(BAR));
            continue;
        };
        let from = ((a * scale).floor() as usize).min(BAR - 1);
        let to = ((b * scale).ceil() as usize).clamp(from + 1, BAR);
        let bar = format!(
            "{}{}{}",
            " ".repeat(from),
            "#".repeat(to - from),
            " ".repeat(BAR - to)
        );
        let end = if i.failed { " failed" } else { "" };
        let _ = writeln!(out, "  {label} |{bar}| {a:6.2}s to {b:6.2}s{end}");
    }
    out.pop();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_names_the_side_the_pipe_waited_on() {
        let s = Duration::from_secs_f64;
        assert_eq!(verdict(s(2.0), s(0.1)), "tap-bound");
        assert_eq!(verdict(s(0.1), s(2.0)), "target-bound");
        assert_eq!(verdict(s(1.0), s(1.0)), "balanced");
        assert_eq!(verdict(s(0.01), s(0.0)), "balanced");
    }

    #[test]
    fn the_timeline_shows_blocks_that_overlapped() {
        let block = |label: &str, ran: Option<(f64, f64)>, failed| Interval {
            label: label.into(),
            ran,
            failed,
        };
        let text = render_overlap(
            &[
                block("a", Some((0.0, 2.0)), false),
                block("bb", Some((0.0, 1.0)), true),
                block("c", None, false),
            ],
            2.0,
            2,
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "2 blocks in 2.00s, up to 2 at once; one after another they took 3.00s (1.5x)"
        );
        assert_eq!(
            lines[1],
            format!("  a  |{}|   0.00s to   2.00s", "#".repeat(40))
        );
        assert_eq!(
            lines[2],
            format!(
                "  bb |{}{}|   0.00s to   1.00s failed",
                "#".repeat(20),
                " ".repeat(20)
            )
        );
        assert!(lines[3].ends_with("| not started"), "{text}");
    }
}
