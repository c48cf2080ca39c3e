//! Any bytes as a project file: parsing must return a value or an error naming the file (and a
//! line:column), never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("f.yml");
    if let Err(e) = eltr::project::yaml::parse::<eltr::project::model::ProjectFile>(path, data) {
        // The message is what a user sees: building it must not panic either, and it must
        // say which file is at fault.
        let message = e.to_string();
        assert!(
            message.contains("f.yml"),
            "error does not name the file: {message}"
        );
    }
});
