//! eltr: a Meltano-compatible orchestrator for Singer taps and targets.
//!
//! The crate is laid out along the data path of `eltr run` (see ARCHITECTURE.md): `project` loads
//! and resolves the project files, `plugin` turns a resolved plugin into something runnable,
//! `singer` understands the messages on the wire, `pipeline` spawns and pipes the processes and
//! `state` keeps the bookmarks. `cli` holds one thin module per command on top of them.

pub mod cli;
pub mod pipeline;
pub mod plugin;
pub mod project;
pub mod singer;
pub mod state;
pub mod vocab;

/// Python-compatible JSON text, at its older path (tests and fuzz targets read states with it).
pub use vocab::pyjson;
