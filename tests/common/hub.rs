//! A Meltano Hub on a local port, for the tests of commands that read the Hub (`add`,
//! `lock`, `hub list`): both tools are pointed at it with `MELTANO_HUB_URL`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

/// A Meltano Hub serving `tests/fixtures/editing/hub/<type>/<file>` at
/// `/meltano/api/v1/plugins/<type>/<file>`, with `{{HUB}}` replaced by its own address.
/// Lives until the test ends.
pub fn hub() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let root = crate::common::fixture_source("editing/hub");
    let served = base.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut first = String::new();
            if reader.read_line(&mut first).is_err() {
                continue;
            }
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let path = first.split_whitespace().nth(1).unwrap_or("/").to_string();
            let file = path
                .strip_prefix("/meltano/api/v1/plugins/")
                .filter(|rel| !rel.contains(".."))
                .map(|rel| root.join(rel));
            let (status, body) = match file.and_then(|f| std::fs::read_to_string(f).ok()) {
                Some(text) => ("200 OK", text.replace("{{HUB}}", &served)),
                None => ("404 Not Found", "{\"message\": \"not found\"}".to_string()),
            };
            let mut s = stream;
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.flush();
            let _ = reader.read_to_end(&mut Vec::new());
        }
    });
    base
}

/// A local port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
