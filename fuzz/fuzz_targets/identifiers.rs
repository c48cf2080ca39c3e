//! Any text as a plugin/environment/job/schedule name, variant, run id or state id: parsing
//! never panics, and whatever is accepted is exactly one harmless path component.
#![no_main]

use eltr::state::StateId;
use eltr::vocab::ident::{Name, NameKind, RunId};
use libfuzzer_sys::fuzz_target;
use std::path::{Component, Path};

/// Joined onto a folder, `text` stays directly inside it.
fn one_component(text: &str) -> bool {
    let joined = Path::new("/owner").join(text);
    let mut parts = joined.strip_prefix("/owner").map(|p| p.components());
    matches!(
        parts.as_mut().map(|c| (c.next(), c.next())),
        Ok((Some(Component::Normal(_)), None))
    )
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for kind in [
        NameKind::Plugin,
        NameKind::Environment,
        NameKind::Job,
        NameKind::Schedule,
        NameKind::Variant,
    ] {
        match Name::parse(kind, text) {
            Ok(name) => {
                assert!(one_component(&name), "{name:?}");
                assert!(!name.chars().any(char::is_control), "{name:?}");
                assert!(!name.starts_with('.'), "{name:?}");
                if matches!(kind, NameKind::Plugin | NameKind::Environment) {
                    assert!(!name.contains(':'), "{name:?}");
                }
            }
            Err(e) => {
                // The message is one line, whatever the input held.
                assert!(!e.to_string().contains('\n'), "{e}");
            }
        }
    }
    if let Ok(id) = RunId::parse(text) {
        let shown = id.to_string();
        assert_eq!(shown.len(), 36);
        assert!(one_component(&shown));
    }
    if let Ok(id) = StateId::parse(text) {
        assert!(one_component(id.as_str()), "{id:?}");
        assert!(!id.as_str().chars().any(char::is_control), "{id:?}");
    }
});
