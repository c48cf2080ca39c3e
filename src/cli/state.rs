//! `eltr state list|get|set|merge|copy|move|clear|edit|export|import`, printed as Meltano
//! prints them.

use super::Call;
use crate::pipeline::{lock_policy, open_store};
use crate::state::{StateId, ops};
use anyhow::{Context as _, bail};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::Value;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `eltr state`.
#[derive(Debug, Args)]
pub struct StateArgs {
    #[command(subcommand)]
    pub action: StateAction,
}

/// What to do with stored state.
#[derive(Debug, Subcommand)]
pub enum StateAction {
    /// List state ids.
    List {
        /// Only ids matching this glob.
        #[arg(long)]
        pattern: Option<String>,
    },
    /// Print the effective state of an id.
    Get {
        state_id: String,
        #[arg(long, value_enum, default_value_t)]
        format: GetFormat,
    },
    /// Replace the state of an id.
    Set {
        state_id: String,
        /// The state, as JSON with a top-level `singer_state`.
        state: Option<String>,
        #[arg(long)]
        input_file: Option<PathBuf>,
        /// Accept state without a top-level `singer_state`.
        #[arg(long)]
        no_validate: bool,
        /// Do not ask for confirmation (Meltano's `--force`).
        #[arg(long)]
        force: bool,
        /// Take the lock of a run that holds this state.
        #[arg(long)]
        break_lock: bool,
    },
    /// Merge state into an id's state.
    Merge {
        state_id: String,
        state: Option<String>,
        #[arg(long)]
        input_file: Option<PathBuf>,
        /// Merge the state of this id instead.
        #[arg(long)]
        from_state_id: Option<String>,
        /// Take the lock of a run that holds this state (`--force` is an older spelling).
        #[arg(long, alias = "force")]
        break_lock: bool,
    },
    /// Copy the state of one id to another.
    Copy {
        src: String,
        dst: String,
        /// Do not ask for confirmation (Meltano's `--force`).
        #[arg(long)]
        force: bool,
        /// Take the lock of a run that holds the state.
        #[arg(long)]
        break_lock: bool,
    },
    /// Move the state of one id to another.
    Move {
        src: String,
        dst: String,
        /// Do not ask for confirmation (Meltano's `--force`).
        #[arg(long)]
        force: bool,
        /// Take the lock of a run that holds the state.
        #[arg(long)]
        break_lock: bool,
    },
    /// Edit the effective state of an id in $VISUAL / $EDITOR (else vi); it is stored as
    /// completed when it changed.
    Edit {
        state_id: String,
        /// Do not ask for confirmation (Meltano's `--force`).
        #[arg(long)]
        force: bool,
        /// Take the lock of a run that holds this state.
        #[arg(long)]
        break_lock: bool,
    },
    /// Print every state as one JSON object (state id → completed and partial state), in
    /// Meltano's format.
    Export,
    /// Store every state of an export (Meltano's or eltr's), replacing those ids' states.
    Import {
        /// The export file; `-` or none for standard input.
        input_file: Option<PathBuf>,
        /// Take the locks of runs holding these states (`--force` is an older spelling).
        #[arg(long, alias = "force")]
        break_lock: bool,
    },
    /// Remove the state of an id (or of all ids).
    Clear {
        state_id: Option<String>,
        #[arg(long)]
        all: bool,
        /// Do not ask for confirmation (Meltano's `--force`).
        #[arg(long)]
        force: bool,
        /// Take the lock of a run that holds the state.
        #[arg(long)]
        break_lock: bool,
    },
}

/// `state get` output shapes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum GetFormat {
    #[default]
    Json,
    Pretty,
}

/// Runs `eltr state`.
pub fn run(call: &Call<'_>, args: StateArgs) -> anyhow::Result<ExitCode> {
    let question = question(&args.action);
    if let Some(question) = question {
        if !confirm(question, &mut std::io::stdin().lock())? {
            return Ok(ExitCode::FAILURE);
        }
    }
    let ctx = call.open()?;
    let store = open_store(&ctx)?;
    let store = store.as_ref();
    match args.action {
        action @ (StateAction::List { .. } | StateAction::Get { .. } | StateAction::Export) => {
            show(call, store, action)?
        }
        action => change(&ctx, store, action)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The commands that only read: `list`, `get`, `export`.
fn show(
    call: &Call<'_>,
    store: &dyn crate::state::Store,
    action: StateAction,
) -> anyhow::Result<()> {
    let id = |s: &str| StateId::parse(s);
    match action {
        StateAction::List { pattern } => {
            let ids = ops::list(store, pattern.as_deref())?;
            if ids.is_empty() {
                tracing::info!("No state IDs found.");
            }
            for i in ids {
                call.print_line(i.as_str())?;
            }
        }
        StateAction::Get { state_id, format } => {
            let state = ops::get(store, &id(&state_id)?)?;
            match format {
                GetFormat::Json => call.print_line(&serde_json::to_string(&state)?)?,
                GetFormat::Pretty => call.print_json(&state)?,
            }
        }
        StateAction::Export => {
            call.print_line(&serde_json::to_string(&ops::export(store)?)?)?;
        }
        _ => unreachable!("show is called with read-only actions"),
    }
    Ok(())
}

/// The commands that write (each under the store's lock for its state id). One arm per
/// command, each reading its flags and making one call on `state::ops`: long only by count.
fn change(
    ctx: &crate::project::Context,
    store: &dyn crate::state::Store,
    action: StateAction,
) -> anyhow::Result<()> {
    let id = |s: &str| StateId::parse(s);
    match action {
        StateAction::Set {
            state_id,
            state,
            input_file,
            no_validate,
            break_lock,
            ..
        } => {
            let value = read_state(state, input_file)?;
            if !no_validate && value.get("singer_state").is_none() {
                bail!(
                    "invalid state: no top-level 'singer_state' key; state must be JSON like {{\"singer_state\": {{...}}}} (use --no-validate to store it anyway)"
                );
            }
            ops::set(
                store,
                &id(&state_id)?,
                value,
                &lock_policy(ctx, break_lock)?,
            )?;
            tracing::info!("state for {state_id} was set");
        }
        StateAction::Merge {
            state_id,
            state,
            input_file,
            from_state_id,
            break_lock,
        } => {
            let value = match from_state_id {
                Some(src) => ops::get(store, &id(&src)?)?,
                None => read_state(state, input_file)?,
            };
            ops::merge_into(
                store,
                &id(&state_id)?,
                value,
                &lock_policy(ctx, break_lock)?,
            )?;
            tracing::info!("state for {state_id} was merged");
        }
        StateAction::Copy {
            src,
            dst,
            break_lock,
            ..
        } => {
            ops::copy(
                store,
                &id(&src)?,
                &id(&dst)?,
                &lock_policy(ctx, break_lock)?,
            )?;
            tracing::info!("state {src} was copied to {dst}");
        }
        StateAction::Move {
            src,
            dst,
            break_lock,
            ..
        } => {
            ops::move_state(
                store,
                &id(&src)?,
                &id(&dst)?,
                &lock_policy(ctx, break_lock)?,
            )?;
            tracing::info!("state {src} was moved to {dst}");
        }
        StateAction::Edit {
            state_id,
            break_lock,
            ..
        } => edit_state(store, &id(&state_id)?, &lock_policy(ctx, break_lock)?)?,
        StateAction::Import {
            input_file,
            break_lock,
        } => {
            let doc = read_import(input_file.as_deref())?;
            let count = ops::import(store, &doc, &lock_policy(ctx, break_lock)?)?;
            tracing::info!("Successfully imported {count} state(s).");
        }
        StateAction::Clear {
            state_id,
            all,
            break_lock,
            ..
        } => {
            let policy = lock_policy(ctx, break_lock)?;
            let ids = match (state_id, all) {
                (Some(s), false) => vec![id(&s)?],
                (None, true) => ops::list(store, None)?,
                _ => bail!("give a state id or --all"),
            };
            for i in &ids {
                ops::clear(store, i, &policy)?;
            }
            if all {
                tracing::info!("{} state(s) were successfully cleared", ids.len());
            }
        }
        _ => unreachable!("change is called with writing actions"),
    }
    Ok(())
}

/// The question a destructive command asks first, as Meltano's do, unless `--force`. Taking a
/// running pipeline's lock is a separate choice (`--break-lock`): scripts written for Meltano
/// pass `--force` to every state command and must not break locks by doing so.
fn question(action: &StateAction) -> Option<&'static str> {
    match action {
        StateAction::Set { force: false, .. } | StateAction::Edit { force: false, .. } => {
            Some("This will overwrite the state's current value. Continue?")
        }
        StateAction::Copy { force: false, .. } => {
            Some("This will overwrite state for the destination. Continue?")
        }
        StateAction::Move { force: false, .. } => {
            Some("This will clear the source state and overwrite destination state. Continue?")
        }
        StateAction::Clear { force: false, .. } => {
            Some("This will clear state for the job(s). Continue?")
        }
        _ => None,
    }
}

/// `state edit`: the state in `$VISUAL`/`$EDITOR`; nothing is written when the edit is
/// cancelled, empty or unchanged.
fn edit_state(
    store: &dyn crate::state::Store,
    sid: &StateId,
    policy: &crate::state::LockPolicy,
) -> anyhow::Result<()> {
    let current = ops::get(store, sid)?;
    let initial = serde_json::to_string_pretty(&current)?;
    let Some(edited) = edit_text(&initial)? else {
        tracing::info!("Edit cancelled - no changes made");
        return Ok(());
    };
    let edited = edited.trim();
    if edited.is_empty() {
        tracing::info!("Empty content provided - no changes made");
        return Ok(());
    }
    let value: Value =
        serde_json::from_str(edited).context("the edited state is not valid JSON")?;
    if value == current {
        tracing::info!("No changes detected");
        return Ok(());
    }
    if value.get("singer_state").is_none() {
        bail!(
            "invalid state: no top-level 'singer_state' key; state must be JSON like {{\"singer_state\": {{...}}}}"
        );
    }
    ops::set(store, sid, value, policy)?;
    tracing::info!("State for {sid} was successfully updated");
    Ok(())
}

/// The document `state import` reads: a file, or standard input (no file, or `-`), at most
/// 256 MiB either way.
fn read_import(input_file: Option<&std::path::Path>) -> anyhow::Result<Value> {
    use crate::vocab::files::{DOCUMENT_CAP, read_capped};
    use std::io::Read;
    let bytes = match input_file {
        Some(p) if p != std::path::Path::new("-") => {
            read_capped(p, DOCUMENT_CAP).with_context(|| format!("cannot read {}", p.display()))?
        }
        _ => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .take(DOCUMENT_CAP + 1)
                .read_to_end(&mut bytes)
                .context("cannot read standard input")?;
            if bytes.len() as u64 > DOCUMENT_CAP {
                bail!(
                    "the import is larger than the {} MiB eltr reads",
                    DOCUMENT_CAP >> 20
                );
            }
            bytes
        }
    };
    serde_json::from_slice(&bytes).context("the import is not valid JSON")
}

/// Asks `question` on stderr (stdout is data) and reads the answer from `input` as Meltano's
/// `click.confirm` does: `y`/`yes` go on, `n`/`no` or an empty answer stop, anything else asks
/// again; the end of the input (no terminal, nothing piped) stops with "Aborted!". So without a
/// person to answer, a destructive command needs `--force`.
fn confirm(question: &str, input: &mut dyn std::io::BufRead) -> anyhow::Result<bool> {
    loop {
        eprint!("{question} [y/N]: ");
        let mut answer = String::new();
        if input.read_line(&mut answer)? == 0 {
            eprintln!("\nAborted!");
            return Ok(false);
        }
        match answer.trim().to_ascii_lowercase().as_str() {
            "y" | "yes" => return Ok(true),
            "" | "n" | "no" => return Ok(false),
            _ => eprintln!("Error: invalid input"),
        }
    }
}

fn read_state(inline: Option<String>, file: Option<PathBuf>) -> anyhow::Result<Value> {
    let text = match (inline, file) {
        (Some(s), None) => s,
        (None, Some(f)) => {
            let bytes = crate::vocab::files::read_capped(&f, crate::vocab::files::DOCUMENT_CAP)
                .with_context(|| format!("cannot read {}", f.display()))?;
            String::from_utf8(bytes)
                .with_context(|| format!("{} is not UTF-8 text", f.display()))?
        }
        _ => bail!("give the state as an argument or with --input-file (not both)"),
    };
    serde_json::from_str(&text).context("the state is not valid JSON")
}

/// Opens `initial` in the user's editor (`$VISUAL`, `$EDITOR`, else `vi`, run through the
/// shell as Meltano's `click.edit` does) on a temporary `.json` file; `None` when the editor
/// failed or left the file unsaved.
fn edit_text(initial: &str) -> anyhow::Result<Option<String>> {
    let editor = ["VISUAL", "EDITOR"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|e| !e.trim().is_empty()))
        .unwrap_or_else(|| "vi".into());
    let path = std::env::temp_dir().join(format!(
        "eltr-state-{}-{}.json",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    // A new file only this user can read: states may hold what a bookmark reveals.
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, initial.as_bytes()))
        .context("cannot write a temporary file for the editor")?;
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(&path)
        .status();
    let text = std::fs::read_to_string(&path);
    let _ = std::fs::remove_file(&path);
    let status = status.with_context(|| format!("cannot start the editor '{editor}'"))?;
    if !status.success() {
        bail!("the editor '{editor}' failed ({status})");
    }
    let text = text.context("cannot read the edited file")?;
    Ok((text != initial).then_some(text))
}

#[cfg(test)]
mod tests {
    use super::confirm;

    #[test]
    fn confirm_reads_answers_as_click_does() {
        let ask = |input: &str| confirm("Continue?", &mut input.as_bytes()).unwrap();
        assert!(ask("y\n"));
        assert!(ask("YES\n"));
        assert!(!ask("\n"));
        assert!(!ask("n\n"));
        assert!(!ask(""));
        assert!(ask("maybe\ny\n"));
    }
}
