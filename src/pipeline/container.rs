//! `invoke --containers PLUGIN:COMMAND`: a command with a `container_spec` runs in a
//! container, as Meltano 4.4 runs it (`ContainerService.run_container`): the spec's `image`,
//! `command` (split like a shell), `entrypoint`, `ports` (`host: container`) and `volumes`
//! (`$VAR`s expanded), with the plugin's whole environment plus the spec's `env` on top,
//! under the name `meltano-<plugin>--<command>-<uuid>`; the container is removed afterwards
//! and its exit code is the command's. Meltano talks to the Docker daemon's API; eltr runs
//! the `docker` command line (else `podman`), handing the environment over in an in-memory
//! file (`/dev/fd/N`): the values are neither on the command line, where `ps` would show the
//! secrets, nor in a file on disk that an eltr killed while the container runs would leave
//! behind.

use super::RunError;
use super::command::{Invocation, find_command, ready};
use crate::project::{Context, ResolvedPlugin};
use crate::vocab::supervisor::{Supervisor, own_process_group};
use serde_json::Value;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus};

/// Why a command cannot run in a container.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("command '{command}' of '{plugin}' has no container_spec")]
    NoSpec { plugin: String, command: String },
    #[error("command '{command}': its container_spec has no image")]
    NoImage { command: String },
    #[error(
        "command '{command}': its container_spec's image '{image}' starts with '-', which the container runtime would read as an option"
    )]
    BadImage { command: String, image: String },
    #[error(
        "command '{command}': the volume '{volume}' of its container_spec holds a sensitive value once its variables are expanded, and the container runtime's command line is visible to every user of this machine (`ps`): mount a path that is no secret"
    )]
    SecretInVolume { command: String, volume: String },
    #[error(
        "running commands in containers needs `docker` or `podman` on PATH, and neither was found"
    )]
    NoRuntime,
    #[error(transparent)]
    Run(#[from] RunError),
}

/// True when `command` of `plugin` declares a container.
pub fn has_spec(plugin: &ResolvedPlugin, command: &str) -> bool {
    find_command(plugin, command).is_ok_and(|c| c.container_spec.is_some())
}

/// Runs `command` of `plugin` in its container; returns the container's exit status.
pub fn run(
    ctx: &Context,
    plugin: ResolvedPlugin,
    command: &str,
    how: &Invocation,
) -> Result<ExitStatus, ContainerError> {
    let name = plugin.name.to_string();
    let spec = find_command(&plugin, command)?
        .container_spec
        .ok_or_else(|| ContainerError::NoSpec {
            plugin: name.clone(),
            command: command.to_string(),
        })?;
    let runtime = runtime(ctx).ok_or(ContainerError::NoRuntime)?;
    let ready = ready(ctx, plugin, Some(command), Vec::new(), how)?;
    let mut env: Vec<(String, String)> = ready.env().to_vec();
    for (k, v) in spec
        .get("env")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let text = v
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| v.to_string());
        env.retain(|(key, _)| key != k);
        env.push((k.clone(), text));
    }
    let image = image(&spec, command)?;
    let env_file = env_file(&env).map_err(|error| {
        RunError::Plugin(crate::plugin::PluginError::RunFiles {
            plugin: name.clone(),
            path: "an in-memory environment file".into(),
            error,
        })
    })?;
    let mut cmd = Command::new(&runtime);
    cmd.args(["run", "--rm", "--name"])
        .arg(format!(
            "meltano-{name}--{command}-{}",
            uuid::Uuid::new_v4()
        ))
        .arg("--env-file")
        .arg(format!("/dev/fd/{}", env_file.as_raw_fd()));
    inherit(&mut cmd, env_file.as_raw_fd());
    if let Some(entrypoint) = spec.get("entrypoint").and_then(Value::as_str) {
        cmd.args(["--entrypoint", entrypoint]);
    }
    for (host, inside) in spec
        .get("ports")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let inside = inside
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| inside.to_string());
        cmd.arg("-p").arg(format!("0.0.0.0:{host}:{inside}"));
    }
    let lookup = |n: &str| {
        env.iter()
            .rev()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
    };
    for bind in spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let bind = bind.as_str().unwrap_or_default();
        // Unlike the environment, a volume can only go on the command line: a variable that
        // brings a secret into it is refused (text written in the spec itself is the user's).
        let brought_secret = std::cell::Cell::new(false);
        let checked = |n: &str| {
            let value = lookup(n);
            if let Some(v) = &value {
                let masked = ctx.masker.mask(v);
                brought_secret.set(brought_secret.get() || masked != v.as_str());
            }
            value
        };
        let bind = crate::project::expand::expand(bind, &checked).text;
        if brought_secret.get() {
            return Err(ContainerError::SecretInVolume {
                command: command.to_string(),
                volume: ctx.masker.mask(&bind).into_owned(),
            });
        }
        cmd.arg("-v").arg(bind);
    }
    cmd.arg(image);
    if let Some(words) = spec.get("command").and_then(Value::as_str) {
        cmd.args(
            shell_words::split(words).map_err(|e| RunError::CommandArgs {
                command: command.to_string(),
                message: e.to_string(),
                args: words.to_string(),
            })?,
        );
    }
    tracing::info!("running command '{command}' of '{name}' in a container ({image})");
    cmd.current_dir(&ctx.project.root);
    let status = wait_handing_on_signals(cmd).map_err(|source| {
        ContainerError::Run(RunError::Spawn {
            kind: "container runtime",
            name,
            program: runtime.display().to_string(),
            source,
        })
    })?;
    // `ready` (its run folder and the config files in it) goes only now, after the runtime.
    drop(ready);
    drop(env_file);
    Ok(status)
}

/// The variables as the runtime's `--env-file` text, in an anonymous file in memory
/// (`memfd_create`) that it reads as `/dev/fd/N`: the values are neither on its command line,
/// where `ps` would show them, nor on disk, where an eltr killed while the container runs
/// would leave them. The runtime's own environment stays eltr's. A variable whose name or
/// value holds a newline cannot be written in that format and is left out.
fn env_file(env: &[(String, String)]) -> std::io::Result<File> {
    // SAFETY: the name is a valid NUL-terminated string that memfd_create only reads; it
    // returns a new descriptor or -1.
    let fd = unsafe { libc::memfd_create(c"eltr-container-env".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` was just created and is owned by nothing else; the File closes it once.
    let mut file = unsafe { File::from_raw_fd(fd) };
    let fits = |(k, v): &&(String, String)| {
        !k.is_empty() && !k.contains(['=', '\n', '\0']) && !v.contains(['\n', '\0'])
    };
    for (k, v) in env.iter().filter(fits) {
        writeln!(file, "{k}={v}")?;
    }
    Ok(file)
}

/// Lets the runtime inherit descriptor `fd` (eltr opens every descriptor close-on-exec).
fn inherit(cmd: &mut Command, fd: RawFd) {
    // SAFETY: the closure runs in the forked child before exec and only calls fcntl, which is
    // async-signal-safe; it allocates nothing and takes no lock.
    unsafe {
        cmd.pre_exec(move || {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags < 0 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Runs the container runtime in a process group of its own and waits for it, handing a
/// SIGINT or SIGTERM that eltr receives on to it (docker passes it to the container): eltr
/// is not killed half-way, so the run folder is removed on this path too, and the runtime
/// does not outlive the command that started it.
fn wait_handing_on_signals(mut cmd: Command) -> std::io::Result<ExitStatus> {
    own_process_group(&mut cmd);
    let supervisor = Supervisor::listening(super::signals::grace());
    let mut child = cmd.spawn()?;
    let pid = child.id() as i32;
    supervisor.register(pid, false);
    let status = child.wait();
    supervisor.unregister(pid);
    status
}

/// The spec's image. A value starting with `-` is no image reference: on the runtime's command
/// line it would be read as one more option (`--privileged`), so it is refused.
fn image<'s>(spec: &'s Value, command: &str) -> Result<&'s str, ContainerError> {
    let image =
        spec.get("image")
            .and_then(Value::as_str)
            .ok_or_else(|| ContainerError::NoImage {
                command: command.to_string(),
            })?;
    if image.starts_with('-') {
        return Err(ContainerError::BadImage {
            command: command.to_string(),
            image: crate::vocab::ident::shown(image),
        });
    }
    Ok(image)
}

/// `docker` on the PATH, else `podman`.
fn runtime(ctx: &Context) -> Option<std::path::PathBuf> {
    let path = ctx
        .vars
        .process("PATH")
        .map(str::to_string)
        .or_else(|| std::env::var("PATH").ok())?;
    ["docker", "podman"].iter().find_map(|tool| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(tool))
            .find(|p| p.is_file())
    })
}
