//! `eltr compile`: Meltano's manifests, as `meltano compile` writes them
//! (`plugin::manifest`): `meltano-manifest.json` for the project without an environment and
//! `meltano-manifest.<env>.json` for each environment, or only the chosen one. With `--print`,
//! eltr's own view instead: the whole resolved project as JSON on stdout, for review.

use super::Call;
use crate::plugin::manifest;
use crate::project::{self, OpenOptions};
use crate::vocab::confine;
use anyhow::Context as _;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// The widest indentation `--indent` accepts.
const MAX_INDENT: i64 = 64;

/// Flags of `eltr compile` (Meltano 4.4's, and `--print`).
#[derive(Debug, Args)]
pub struct CompileArgs {
    /// Where the manifests go (relative to the current folder, as in Meltano).
    #[arg(long, value_name = "DIR", default_value = ".meltano/manifests")]
    pub directory: PathBuf,
    /// Spaces of indentation (at most 64); -1 (or 0) writes each manifest on one line.
    // Bounded: every line of a manifest repeats the indentation per level, so a huge number
    // would exhaust memory (Meltano takes any integer and fails the same way).
    #[arg(
        long,
        default_value_t = 4,
        allow_negative_numbers = true,
        value_parser = clap::value_parser!(i64).range(..=MAX_INDENT)
    )]
    pub indent: i64,
    /// Accepted for Meltano's scripts; eltr checks the project as it loads it.
    #[arg(long, overrides_with = "no_lint")]
    pub lint: bool,
    /// Meltano's default: no schema check.
    #[arg(long)]
    pub no_lint: bool,
    /// Meltano's default: sensitive values are redacted.
    #[arg(long, overrides_with = "show_secrets")]
    pub safe: bool,
    /// Write (or print) sensitive values instead of redacting them.
    #[arg(long = "unsafe")]
    pub show_secrets: bool,
    /// Print the resolved project (the active environment) as JSON instead of writing
    /// manifests.
    #[arg(long)]
    pub print: bool,
}

/// Writes the manifests, or prints the resolved project.
pub fn run(call: &Call<'_>, args: CompileArgs) -> anyhow::Result<ExitCode> {
    if args.print {
        return print(call, &args);
    }
    let ctx = call.open()?;
    let dir = std::env::current_dir()?.join(&args.directory);
    // A folder inside the project (the default `.meltano/manifests`) must really be inside
    // it: a link planted there must not make eltr write elsewhere. A folder named outside
    // the project is the user's choice, as in Meltano.
    let owner = match confine::names_inside(&ctx.project.root, &dir) {
        true => ctx.project.root.clone(),
        false => dir.clone(),
    };
    let created = match owner == dir {
        true => std::fs::create_dir_all(&dir).map_err(anyhow::Error::new),
        false => confine::create_dir_inside(&owner, &dir).map_err(anyhow::Error::new),
    };
    created.with_context(|| {
        format!(
            "Unable to create directory for Meltano manifests {}",
            dir.display()
        )
    })?;
    let environments = environments(call, &ctx);
    let names: Vec<&str> = environments
        .iter()
        .map(|e| e.as_deref().unwrap_or("no environment"))
        .collect();
    call.print_line(&format!(
        "Compiling Meltano manifest for environments: {}",
        names.join(", ")
    ))?;
    for environment in &environments {
        let file = match environment {
            None => "meltano-manifest.json".to_string(),
            Some(name) => format!("meltano-manifest.{name}.json"),
        };
        let path = dir.join(file);
        let options = OpenOptions {
            environment: environment.clone(),
            no_environment: environment.is_none(),
            ..call.global.open_options()
        };
        let env_ctx = project::open(&options, &std::env::current_dir()?)?;
        let data = manifest::build(&env_ctx, !args.show_secrets)?;
        let text = manifest::to_text(&data, args.indent);
        // With --unsafe the manifest holds secrets: it is the user's alone, like a config file.
        let written = match args.show_secrets {
            true => confine::write_private_replacing(&owner, &path, text.as_bytes()),
            false => confine::write_replacing(&owner, &path, text.as_bytes(), false),
        };
        written
            .with_context(|| format!("Unable to write Meltano manifest '{}'", path.display()))?;
        call.print_line(&format!("Compiled {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Meltano's choice: `--no-environment` compiles the project alone; an environment chosen
/// explicitly (not the default one) compiles that one; otherwise the project alone and then
/// every environment.
fn environments(call: &Call<'_>, ctx: &project::Context) -> Vec<Option<String>> {
    if call.global.no_environment {
        return vec![None];
    }
    if let Ok(Some(chosen)) = super::edit_environment(call.global, ctx) {
        if ctx.project.default_environment.as_deref() != Some(chosen.as_str()) {
            return vec![Some(chosen)];
        }
    }
    let mut all = vec![None];
    all.extend(ctx.project.environments.keys().cloned().map(Some));
    all
}

/// `--print`: the resolved project.
fn print(call: &Call<'_>, args: &CompileArgs) -> anyhow::Result<ExitCode> {
    let ctx = call.open()?;
    let doc = project::compile::compile(&ctx, args.show_secrets)?;
    match args.show_secrets {
        true => call.print_json_unmasked(&doc)?,
        false => call.print_json(&doc)?,
    }
    Ok(ExitCode::SUCCESS)
}
