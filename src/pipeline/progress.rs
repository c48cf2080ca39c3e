//! The live progress line of a block on a terminal: records and rate per stream, bytes,
//! elapsed time and states confirmed, redrawn a few times a second from counters the pump
//! publishes once per chunk (so the display costs the data path nothing per record).

use super::console::BlockLog;
use super::pump::LiveCounters;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// When to show progress.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressMode {
    /// When stderr is a terminal.
    #[default]
    Auto,
    Always,
    Never,
}

impl ProgressMode {
    /// Whether to draw, given where stderr goes.
    pub fn enabled(self) -> bool {
        use std::io::IsTerminal;
        match self {
            ProgressMode::Auto => std::io::stderr().is_terminal(),
            ProgressMode::Always => true,
            ProgressMode::Never => false,
        }
    }
}

/// A running progress display; stops when dropped.
pub struct Progress {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    /// Starts drawing `label` with the counters of the first hop (of each copy of the tap,
    /// in a split block) and the confirmed-state count.
    /// On a terminal: a live line redrawn five times a second. Elsewhere (`--progress always`
    /// into a log), and for blocks running side by side (one live line cannot show them
    /// all): a plain line every few seconds, in the block's log.
    pub fn start(
        log: Arc<BlockLog>,
        label: String,
        live: Vec<Arc<LiveCounters>>,
        confirmed: Arc<AtomicU64>,
    ) -> Progress {
        use std::io::IsTerminal;
        let console = log.console().clone();
        let live_line = std::io::stderr().is_terminal() && log.label().is_none();
        let pb = live_line.then(|| {
            let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(5));
            pb.set_style(
                ProgressStyle::with_template("{spinner} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            console.set_progress(Some(pb.clone()));
            pb
        });
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = super::console::spawn_in_block(move || {
            let mut meter = Meter::new(label, live, confirmed);
            let mut last_line = Instant::now();
            loop {
                let message = meter.message();
                let done = !matches!(
                    stopped.recv_timeout(Duration::from_millis(200)),
                    Err(mpsc::RecvTimeoutError::Timeout)
                );
                match &pb {
                    Some(pb) => {
                        pb.set_message(message);
                        pb.tick();
                    }
                    None if done || last_line.elapsed() >= Duration::from_secs(5) => {
                        log.println(&format!("progress: {message}"));
                        last_line = Instant::now();
                    }
                    None => {}
                }
                if done {
                    break;
                }
            }
            if pb.is_some() {
                console.set_progress(None);
            }
        });
        Progress {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

/// What the progress line says: records and their rate, megabytes, elapsed time, records per
/// stream and states confirmed, from the counters the pumps publish.
struct Meter {
    label: String,
    live: Vec<Arc<LiveCounters>>,
    confirmed: Arc<AtomicU64>,
    started: Instant,
    /// When the rate was last measured, and the records then.
    last: (Instant, u64),
    rate: f64,
}

impl Meter {
    fn new(label: String, live: Vec<Arc<LiveCounters>>, confirmed: Arc<AtomicU64>) -> Meter {
        Meter {
            label,
            live,
            confirmed,
            started: Instant::now(),
            last: (Instant::now(), 0),
            rate: 0.0,
        }
    }

    fn message(&mut self) -> String {
        let records: u64 = self
            .live
            .iter()
            .map(|l| l.records.load(Ordering::Relaxed))
            .sum();
        let bytes: u64 = self
            .live
            .iter()
            .map(|l| l.bytes.load(Ordering::Relaxed))
            .sum();
        let dt = self.last.0.elapsed().as_secs_f64();
        if dt >= 0.5 {
            self.rate = (records - self.last.1) as f64 / dt;
            self.last = (Instant::now(), records);
        }
        format!(
            "{}  {records} records ({:.0}/s)  {:.1} MB  {:.0?}  [{}]  states confirmed: {}",
            self.label,
            self.rate,
            bytes as f64 / 1e6,
            Duration::from_secs(self.started.elapsed().as_secs()),
            streams(&self.live),
            self.confirmed.load(Ordering::Relaxed)
        )
    }
}

/// `name: records` of every stream so far, of every copy of the tap.
fn streams(live: &[Arc<LiveCounters>]) -> String {
    let mut shown = Vec::new();
    for l in live {
        if let Ok(s) = l.streams.lock() {
            shown.extend(s.iter().map(|(name, st)| format!("{name}: {}", st.records)));
        }
    }
    shown.join(", ")
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
