//! Editing project files in place (DESIGN.md §3, "Editing commands").
//!
//! Owns: locating nodes of a YAML file by their byte positions (`tree`, on `saphyr-parser`),
//! splicing new text in where a change is and nowhere else (`doc`), writing new values in the
//! file's own indentation (`render`), `.env` lines (`dotenv`), and a [`Changeset`] that holds
//! every file one command changes, checks each result and writes them all at once
//! (`vocab::confine::write_all_replacing`). Does not decide *what* to change: the commands in
//! `project::edit::ops` (and the CLI above them) do.
//!
//! Every operation reads its own result back and compares it with the data it meant to
//! produce; a difference is an error and nothing is written. Comments, key order, quoting,
//! blank lines and indentation of every line the change does not touch stay byte for byte.

pub mod add;
pub mod config;
pub mod doc;
pub mod dotenv;
pub mod ops;
pub mod render;
pub mod tree;

pub use doc::{Document, EditError, Seg};

use crate::project::model::ProjectFile;
use crate::vocab::confine::{Replacement, write_all_replacing};
use indexmap::IndexMap;
use std::path::{Path, PathBuf};

/// The files one command changes, written together by [`Changeset::commit`].
#[derive(Debug)]
pub struct Changeset {
    root: PathBuf,
    yaml: IndexMap<PathBuf, (Option<String>, Document)>,
    other: IndexMap<PathBuf, RawChange>,
}

/// A non-YAML file's original bytes, new bytes (`None`: remove it) and mode if created.
type RawChange = (Option<Vec<u8>>, Option<Vec<u8>>, u32);

/// What a commit wrote, relative to the project root, for the command's message.
#[derive(Debug, Default)]
pub struct Written {
    pub files: Vec<PathBuf>,
}

impl Changeset {
    /// A changeset for the project at `root` (every file must be inside it).
    pub fn new(root: &Path) -> Changeset {
        Changeset {
            root: root.to_path_buf(),
            yaml: IndexMap::new(),
            other: IndexMap::new(),
        }
    }

    /// The project root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The YAML file at `path` for editing (read on first use; a missing file is empty).
    pub fn yaml(&mut self, path: &Path) -> anyhow::Result<&mut Document> {
        if !self.yaml.contains_key(path) {
            let original = match std::fs::read(path) {
                Ok(b) => Some(
                    String::from_utf8(b)
                        .map_err(|_| anyhow::anyhow!("{} is not valid UTF-8", path.display()))?,
                ),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
            };
            let doc = Document::parse(original.as_deref().unwrap_or(""))
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            self.yaml.insert(path.to_path_buf(), (original, doc));
        }
        Ok(&mut self.yaml.get_mut(path).expect("inserted").1)
    }

    /// The current bytes of a non-YAML file (as changed so far).
    pub fn bytes(&mut self, path: &Path) -> Option<Vec<u8>> {
        if let Some((_, new, _)) = self.other.get(path) {
            return new.clone();
        }
        std::fs::read(path).ok()
    }

    /// Replaces a non-YAML file's content (`None` removes it); `mode` applies if it is new.
    pub fn put(&mut self, path: &Path, bytes: Option<Vec<u8>>, mode: u32) {
        let original = match self.other.get(path) {
            Some((o, _, _)) => o.clone(),
            None => std::fs::read(path).ok(),
        };
        self.other
            .insert(path.to_path_buf(), (original, bytes, mode));
    }

    /// Checks every changed YAML file loads as a project file, then writes all changed files
    /// at once. Unchanged files are not touched.
    pub fn commit(self) -> anyhow::Result<Written> {
        let mut files = Vec::new();
        let mut written = Written::default();
        for (path, (original, doc)) in &self.yaml {
            if original.as_deref() == Some(doc.text()) {
                continue;
            }
            crate::project::yaml::parse::<ProjectFile>(path, doc.text().as_bytes())
                .map_err(|e| anyhow::anyhow!("the edit would break the project file: {e}"))?;
            files.push(Replacement {
                path: path.clone(),
                bytes: Some(doc.text().as_bytes().to_vec()),
                new_mode: 0o644,
            });
        }
        for (path, (original, new, mode)) in &self.other {
            if original == new {
                continue;
            }
            files.push(Replacement {
                path: path.clone(),
                bytes: new.clone(),
                new_mode: *mode,
            });
        }
        write_all_replacing(&self.root, &files)?;
        written.files = files
            .into_iter()
            .map(|f| {
                f.path
                    .strip_prefix(&self.root)
                    .map(Path::to_path_buf)
                    .unwrap_or(f.path)
            })
            .collect();
        Ok(written)
    }
}
