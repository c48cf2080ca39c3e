//! Turning a resolved plugin into something runnable: its process environment, its config
//! file, its executable and virtualenv, and (for extractors) its catalog.
//!
//! Takes `ResolvedPlugin`s from `project`; hands `PreparedPlugin`s to `pipeline`.

pub mod env;
