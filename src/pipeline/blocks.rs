//! Turning `eltr run` words into blocks: job names expand to their tasks, an extractor opens
//! an extract-load block that mappers (or mapping names) continue and a loader closes, and
//! `plugin:command` or a utility is a block of its own.

use crate::project::Context;
use crate::project::error::did_you_mean;
use crate::project::model::{MappingDef, PluginType};

/// A mapper in a block, with the mapping the block named (if it named one).
#[derive(Debug, Clone)]
pub struct MapperStep {
    pub plugin: String,
    pub mapping: Option<MappingDef>,
}

/// One unit of `eltr run`.
#[derive(Debug, Clone)]
pub enum Block {
    /// extractor [mapper …] loader
    ExtractLoad {
        extractor: String,
        mappers: Vec<MapperStep>,
        loader: String,
    },
    /// A plugin run on its own, optionally one of its `commands:`.
    Command {
        plugin: String,
        command: Option<String>,
    },
}

impl Block {
    /// How the block is shown in logs (`tap-x → target-y`).
    pub fn label(&self) -> String {
        match self {
            Block::ExtractLoad {
                extractor,
                mappers,
                loader,
            } => {
                let mut parts = vec![extractor.clone()];
                parts.extend(mappers.iter().map(|m| {
                    m.mapping
                        .as_ref()
                        .map(|x| x.name.clone())
                        .unwrap_or_else(|| m.plugin.clone())
                }));
                parts.push(loader.clone());
                parts.join(" → ")
            }
            Block::Command { plugin, command } => match command {
                Some(c) => format!("{plugin}:{c}"),
                None => plugin.clone(),
            },
        }
    }
}

/// A block list that cannot be built; the message says which word and why.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    #[error("'{0}' is both a job and a plugin; rename one of them")]
    JobAndPlugin(String),
    #[error("mapping '{0}' must follow an extractor")]
    MappingFirst(String),
    #[error("mapper '{0}' must follow an extractor")]
    MapperFirst(String),
    #[error("loader '{0}' has no extractor before it")]
    LoaderFirst(String),
    #[error("extractor '{extractor}' is not followed by a loader before '{next}'")]
    NoLoaderBefore { extractor: String, next: String },
    #[error("extractor '{0}' has no loader after it")]
    NoLoader(String),
    #[error("nothing to run")]
    Nothing,
    #[error("unknown plugin or job '{name}'{hint}")]
    Unknown { name: String, hint: String },
    #[error("plugin '{plugin}' has no command '{command}'")]
    NoCommand { plugin: String, command: String },
}

/// Parses the words of `eltr run`.
pub fn parse(ctx: &Context, words: &[String]) -> Result<Vec<Block>, BlockError> {
    let mut grouper = Grouper::default();
    for word in expand_jobs(ctx, words)? {
        grouper.push(ctx, word)?;
    }
    grouper.finish()
}

/// The words with each job name replaced by its tasks' words.
fn expand_jobs(ctx: &Context, words: &[String]) -> Result<Vec<String>, BlockError> {
    let mut expanded = Vec::new();
    for word in words {
        let is_plugin =
            ctx.project.plugins.keys().any(|(_, n)| n == word) || mapping(ctx, word).is_some();
        match ctx.project.jobs.get(word) {
            Some(_) if is_plugin => return Err(BlockError::JobAndPlugin(word.clone())),
            Some(job) => {
                for task in &job.item.tasks {
                    for block in task.blocks() {
                        expanded.extend(block.split_whitespace().map(String::from));
                    }
                }
            }
            None => expanded.push(word.clone()),
        }
    }
    Ok(expanded)
}

/// Groups words into blocks: an extractor opens a block, mappers and mappings join it, a
/// loader closes it; anything else is a block of its own.
#[derive(Default)]
struct Grouper {
    blocks: Vec<Block>,
    /// The open block's extractor and mappers.
    open: Option<(String, Vec<MapperStep>)>,
}

impl Grouper {
    fn push(&mut self, ctx: &Context, word: String) -> Result<(), BlockError> {
        let (name, command) = match word.split_once(':') {
            Some((p, c)) => (p.to_string(), Some(c.to_string())),
            None => (word.clone(), None),
        };
        if let Some((mapper, def)) = mapping(ctx, &name) {
            return self.join(MapperStep {
                plugin: mapper,
                mapping: Some(def),
            });
        }
        match (plugin_type(ctx, &name)?, command) {
            (PluginType::Extractors, None) => {
                self.refuse_open(&name)?;
                self.open = Some((name, Vec::new()));
            }
            (PluginType::Mappers, None) => self.join(MapperStep {
                plugin: name,
                mapping: None,
            })?,
            (PluginType::Loaders, None) => {
                let (extractor, mappers) = self
                    .open
                    .take()
                    .ok_or(BlockError::LoaderFirst(name.clone()))?;
                self.blocks.push(Block::ExtractLoad {
                    extractor,
                    mappers,
                    loader: name,
                });
            }
            (_, command) => {
                self.refuse_open(&word)?;
                self.blocks.push(Block::Command {
                    plugin: name,
                    command,
                });
            }
        }
        Ok(())
    }

    /// Adds a mapper (or mapping) to the open block.
    fn join(&mut self, step: MapperStep) -> Result<(), BlockError> {
        match self.open.as_mut() {
            Some((_, mappers)) => {
                mappers.push(step);
                Ok(())
            }
            None => Err(match step.mapping {
                Some(m) => BlockError::MappingFirst(m.name),
                None => BlockError::MapperFirst(step.plugin),
            }),
        }
    }

    /// An error if a block is open: `next` cannot start before it has a loader.
    fn refuse_open(&self, next: &str) -> Result<(), BlockError> {
        match &self.open {
            Some((extractor, _)) => Err(BlockError::NoLoaderBefore {
                extractor: extractor.clone(),
                next: next.to_string(),
            }),
            None => Ok(()),
        }
    }

    fn finish(self) -> Result<Vec<Block>, BlockError> {
        if let Some((extractor, _)) = self.open {
            return Err(BlockError::NoLoader(extractor));
        }
        if self.blocks.is_empty() {
            return Err(BlockError::Nothing);
        }
        Ok(self.blocks)
    }
}

fn plugin_type(ctx: &Context, name: &str) -> Result<PluginType, BlockError> {
    ctx.find_def(None, name).map(|(t, _)| t).map_err(|_| {
        let candidates = ctx
            .project
            .plugins
            .keys()
            .map(|(_, n)| n.as_str())
            .chain(ctx.project.jobs.keys().map(String::as_str));
        BlockError::Unknown {
            name: name.to_string(),
            hint: did_you_mean(name, candidates),
        }
    })
}

/// The mapper that defines a mapping called `name`, and the mapping.
fn mapping(ctx: &Context, name: &str) -> Option<(String, MappingDef)> {
    ctx.project
        .plugins
        .iter()
        .filter(|((t, _), _)| *t == PluginType::Mappers)
        .find_map(|((_, mapper), def)| {
            def.item
                .mappings
                .iter()
                .flatten()
                .find(|m| m.name == name)
                .map(|m| (mapper.clone(), m.clone()))
        })
}
