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
#[error("{0}")]
pub struct BlockError(pub String);

/// Parses the words of `eltr run`.
pub fn parse(ctx: &Context, words: &[String]) -> Result<Vec<Block>, BlockError> {
    let mut expanded = Vec::new();
    for word in words {
        let is_plugin =
            ctx.project.plugins.keys().any(|(_, n)| n == word) || mapping(ctx, word).is_some();
        match ctx.project.jobs.get(word) {
            Some(_) if is_plugin => {
                return Err(BlockError(format!(
                    "'{word}' is both a job and a plugin; rename one of them"
                )));
            }
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

    let mut blocks = Vec::new();
    let mut open: Option<(String, Vec<MapperStep>)> = None;
    for word in expanded {
        let (name, command) = match word.split_once(':') {
            Some((p, c)) => (p.to_string(), Some(c.to_string())),
            None => (word.clone(), None),
        };
        if let Some((mapper, def)) = mapping(ctx, &name) {
            let Some((_, mappers)) = open.as_mut() else {
                return Err(BlockError(format!(
                    "mapping '{name}' must follow an extractor"
                )));
            };
            mappers.push(MapperStep {
                plugin: mapper,
                mapping: Some(def),
            });
            continue;
        }
        let ptype = plugin_type(ctx, &name)?;
        match (ptype, command) {
            (PluginType::Extractors, None) => {
                if let Some((tap, _)) = &open {
                    return Err(BlockError(format!(
                        "extractor '{tap}' is not followed by a loader before '{name}'"
                    )));
                }
                open = Some((name, Vec::new()));
            }
            (PluginType::Mappers, None) => match open.as_mut() {
                Some((_, mappers)) => mappers.push(MapperStep {
                    plugin: name,
                    mapping: None,
                }),
                None => {
                    return Err(BlockError(format!(
                        "mapper '{name}' must follow an extractor"
                    )));
                }
            },
            (PluginType::Loaders, None) => match open.take() {
                Some((extractor, mappers)) => blocks.push(Block::ExtractLoad {
                    extractor,
                    mappers,
                    loader: name,
                }),
                None => {
                    return Err(BlockError(format!(
                        "loader '{name}' has no extractor before it"
                    )));
                }
            },
            (_, command) => {
                if let Some((tap, _)) = &open {
                    return Err(BlockError(format!(
                        "extractor '{tap}' is not followed by a loader before '{word}'"
                    )));
                }
                blocks.push(Block::Command {
                    plugin: name,
                    command,
                });
            }
        }
    }
    if let Some((tap, _)) = open {
        return Err(BlockError(format!(
            "extractor '{tap}' has no loader after it"
        )));
    }
    if blocks.is_empty() {
        return Err(BlockError("nothing to run".into()));
    }
    Ok(blocks)
}

fn plugin_type(ctx: &Context, name: &str) -> Result<PluginType, BlockError> {
    ctx.find_def(None, name).map(|(t, _)| t).map_err(|_| {
        let candidates = ctx
            .project
            .plugins
            .keys()
            .map(|(_, n)| n.as_str())
            .chain(ctx.project.jobs.keys().map(String::as_str));
        BlockError(format!(
            "unknown plugin or job '{name}'{}",
            did_you_mean(name, candidates)
        ))
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
