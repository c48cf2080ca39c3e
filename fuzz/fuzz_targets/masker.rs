//! Any secret and any text around any printed form of it: masking never panics, and the
//! secret never survives in what would be printed.
#![no_main]

use eltr::vocab::mask::{MIN_SECRET_BYTES, Masker, forms};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The first line is the secret, the rest the text it is printed in.
    let (secret, around) = text.split_once('\n').unwrap_or((text, ""));
    let masker = Masker::new();
    masker.add(secret);
    let mut middle = around.len() / 2;
    while !around.is_char_boundary(middle) {
        middle += 1;
    }
    let (before, after) = around.split_at(middle);
    for form in forms(secret) {
        let line = format!("{before}{form}{after}");
        let masked = masker.mask(&line);
        let _ = masker.mask_cut(&line);
        // A secret made of the mask's own character would be "found" in the mask itself.
        if secret.len() >= MIN_SECRET_BYTES && !secret.contains('*') {
            assert!(
                !masked.contains(secret),
                "secret {secret:?} survives in {masked:?}"
            );
        }
    }
});
