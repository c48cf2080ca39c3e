//! Spawning plugin processes and following their stderr: each line logged with the plugin's
//! name (secrets masked), the last lines kept for the error message if the process fails.

use super::metrics::{Metrics, readable};
use crate::plugin::PreparedPlugin;
use crate::vocab::lines::{BoundedLines, LOG_LINE_CAP};
use crate::vocab::mask::Masker;
use crate::vocab::supervisor::own_process_group;
use std::collections::VecDeque;
use std::io::BufReader;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Lines of stderr kept for error messages.
pub const TAIL_LINES: usize = 20;

/// A running plugin process.
pub struct Running {
    pub name: String,
    pub kind: &'static str,
    pub child: Child,
    pub pid: i32,
    pub started: std::time::Instant,
    pub tail: Arc<Mutex<VecDeque<String>>>,
    pub stderr_thread: Option<JoinHandle<()>>,
}

/// How the process's stdin and stdout are connected.
pub struct Stdio2 {
    pub stdin: Stdio,
    pub stdout: Stdio,
}

/// Starts a prepared plugin. It gets its own process group (so signals reach its children
/// too, and a Ctrl-C in the terminal reaches eltr first, which forwards it in order) and is
/// killed (SIGKILL: a plugin ignoring SIGTERM must not outlive it) if eltr itself is killed.
pub fn spawn(p: &PreparedPlugin, stdio: Stdio2, metrics: Arc<Metrics>) -> std::io::Result<Running> {
    let mut cmd = Command::new(&p.program);
    cmd.args(&p.args)
        .env_clear()
        .envs(p.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&p.cwd)
        .stdin(stdio.stdin)
        .stdout(stdio.stdout)
        .stderr(Stdio::piped());
    own_process_group(&mut cmd);
    let mut child = cmd.spawn()?;
    let pid = child.id() as i32;
    let tail = Arc::new(Mutex::new(VecDeque::with_capacity(TAIL_LINES)));
    let stderr = child.stderr.take().expect("stderr is piped");
    let stderr_thread = Some(follow_stderr(
        stderr,
        p.process_name(),
        p.masker.clone(),
        tail.clone(),
        metrics,
    ));
    Ok(Running {
        name: p.process_name(),
        kind: p.plugin.plugin_type.singular(),
        child,
        pid,
        started: std::time::Instant::now(),
        tail,
        stderr_thread,
    })
}

fn follow_stderr(
    stderr: ChildStderr,
    name: String,
    masker: Arc<Masker>,
    tail: Arc<Mutex<VecDeque<String>>>,
    metrics: Arc<Metrics>,
) -> JoinHandle<()> {
    super::console::spawn_in_block(move || {
        // A plugin dumping megabytes on stderr without a newline must not bloat eltr: each
        // line is cut as it is read, and the log shows where.
        let reader = BufReader::with_capacity(64 * 1024, stderr);
        let mut lines = BoundedLines::new(reader, LOG_LINE_CAP);
        while let Ok(Some(raw)) = lines.next_line() {
            let line = match raw.parts() {
                (text, None) => masker.mask(&text).into_owned(),
                // A secret the cut split in two is hidden too.
                (text, Some(marker)) => masker.mask_cut(&text).into_owned() + &marker,
            };
            metrics.observe(&name, &line);
            let shown = readable(&line).unwrap_or_else(|| line.clone());
            tracing::info!(target: "eltr::plugin", plugin = %name, "{shown}");
            let mut t = tail.lock().unwrap_or_else(|e| e.into_inner());
            if t.len() == TAIL_LINES {
                t.pop_front();
            }
            t.push_back(line);
        }
    })
}

impl Running {
    /// Waits until every stderr line of the process has been logged. A grandchild that
    /// keeps the stream open must not hang the run: after a few seconds it is left behind.
    pub fn join_stderr(&mut self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while let Some(t) = self.stderr_thread.take() {
            if t.is_finished() {
                let _ = t.join();
            } else if std::time::Instant::now() < deadline {
                self.stderr_thread = Some(t);
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
    }

    /// The last stderr lines, waiting for the stderr reader to finish first.
    pub fn stderr_tail(&mut self) -> Vec<String> {
        self.join_stderr();
        self.tail
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}

/// How a process ended and what it cost.
#[derive(Debug, Clone, Copy)]
pub struct Exit {
    pub status: std::process::ExitStatus,
    pub wall: std::time::Duration,
    /// User + system CPU time of the process and the children it waited for.
    pub cpu: std::time::Duration,
}

impl Running {
    /// Waits for the process, with its resource usage (`wait4`).
    pub fn wait(&mut self) -> std::io::Result<Exit> {
        use std::os::unix::process::ExitStatusExt;
        let mut status: libc::c_int = 0;
        // SAFETY: rusage is plain integers and timevals, for which all-zero bytes are valid.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        loop {
            // SAFETY: both out-pointers are to live locals of the right types; wait4 writes
            // only through them.
            let r = unsafe { libc::wait4(self.pid, &mut status, 0, &mut usage) };
            if r == self.pid {
                break;
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        let tv =
            |t: libc::timeval| std::time::Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
        Ok(Exit {
            status: std::process::ExitStatus::from_raw(status),
            wall: self.started.elapsed(),
            cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        })
    }
}
