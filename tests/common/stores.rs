//! What the tests that run against every state store share (`tests/state_stores.rs`,
//! `tests/reliability.rs`): the store kinds, the one-test-per-store macro, and the emulator
//! variables, which fail the test (never skip it) when missing.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The stores every scenario runs against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Local,
    S3,
    Azure,
}

/// Generates one test per store for each scenario: `scenario::local`, `::s3`, `::azure`.
/// Each scenario is a `fn(Kind)` of the calling file.
macro_rules! per_store {
    ($($scenario:ident),* $(,)?) => {
        $(
            mod $scenario {
                #[test]
                fn local() {
                    super::$scenario(super::Kind::Local)
                }
                #[test]
                fn s3() {
                    super::$scenario(super::Kind::S3)
                }
                #[test]
                fn azure() {
                    super::$scenario(super::Kind::Azure)
                }
            }
        )*
    };
}
pub(crate) use per_store;

/// A variable the emulator-backed tests need; panics saying how to provide it.
#[track_caller]
pub fn required_var(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{name} is not set: the S3/Azure tests need the moto and Azurite emulators. Run the \
             suite with scripts/test.sh, or start them with \
             `eval \"$(scripts/emulators.sh target/test-tools)\"` and export \
             ELTR_TEST_VENV=target/test-tools/venvs (these tests fail rather than skip)"
        ),
    }
}

/// A new name no other test (or earlier run) uses.
pub fn unique(name: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    format!(
        "{}-{:x}{:08x}-{:x}-{}",
        name.replace('_', "-"),
        t.as_secs(),
        t.subsec_nanos(),
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}
