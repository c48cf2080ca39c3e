//! The shared vocabulary of every layer: validated identifiers, the secret masker, confined
//! file operations, checked numbers and bounded line reading. It depends on nothing else in
//! the crate, so any layer may use it without an arrow pointing back up the data path
//! (ARCHITECTURE.md).

pub mod clock;
pub mod confine;
pub mod files;
pub mod ident;
pub mod json;
pub mod lines;
pub mod mask;
pub mod number;
pub mod pyjson;
pub mod supervisor;
pub mod truth;
