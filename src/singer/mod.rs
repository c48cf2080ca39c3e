//! Singer messages: finding a line's type and stream on raw bytes (the hot path of every run),
//! the rules for merging states, and the catalog model with Meltano's selection rules.
//!
//! Knows nothing about processes or stores; `pipeline` and `plugin` call into it.

pub mod catalog;
pub mod scan;
pub mod select;
pub mod state;
