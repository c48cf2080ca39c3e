//! Any bytes as a line on the pipe: the Singer scanner must classify it without panicking; the
//! same bytes as a config string go through `${VAR}` expansion; and whatever serde_json parses
//! from them is written back as Python-style JSON (how states are stored), which must be JSON
//! that parses to what serde_json's own output parses to.
#![no_main]

use eltr::singer::scan::{Kind, scan};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let scanned = scan(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let lookup = |name: &str| -> Option<String> {
            match name.len() % 3 {
                0 => None,
                1 => Some(String::new()),
                _ => Some(format!("<{name}>")),
            }
        };
        let expanded = eltr::project::expand::expand(text, &lookup);
        // Expansion never invents a `$NAME` that was not in the input.
        for name in &expanded.missing {
            assert!(
                text.contains(name.as_str()),
                "missing {name:?} not in input"
            );
        }
    }
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        if value.is_object() {
            assert_ne!(
                scanned.kind,
                Kind::NotJson,
                "a JSON object line was scanned as not JSON"
            );
        }
        let written = eltr::vocab::pyjson::to_string(&value);
        let back: Value = serde_json::from_str(&written)
            .unwrap_or_else(|e| panic!("pyjson wrote invalid JSON ({e}): {written}"));
        // Compared with serde_json's own output read back the same way: this checks what
        // pyjson writes, not how exactly serde_json parses floats (without its
        // `float_roundtrip` feature a number can move by one ulp on a read; that bug is pinned
        // by tests/bad_input.rs `fuzz_state_numbers_survive_a_store_and_load`).
        let reference: Value =
            serde_json::from_str(&serde_json::to_string(&value).unwrap()).unwrap();
        assert_eq!(
            same_numbers(&back),
            same_numbers(&reference),
            "pyjson changed the value: {written}"
        );
    }
});

/// serde_json keeps numbers as written (`arbitrary_precision`), so `2e+07` and `2e7` differ as
/// text; pyjson writes exponents the Python way on purpose. Floats compare by value, integers
/// by their exact digits.
fn same_numbers(v: &Value) -> Value {
    match v {
        Value::Number(n) => {
            let text = n.to_string();
            if text.contains(['.', 'e', 'E']) {
                Value::String(format!("{:?}", n.as_f64()))
            } else {
                Value::String(text)
            }
        }
        Value::Array(items) => Value::Array(items.iter().map(same_numbers).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), same_numbers(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}
