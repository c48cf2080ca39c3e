//! `include_paths`: turning the root file's glob patterns into the list of files to merge.
//!
//! Each pattern is taken in list order and its matches are sorted, so the merge order (and any
//! duplicate error) is the same on every machine; Meltano uses filesystem order here.

use super::error::{ProjectError, Result};
use globset::GlobBuilder;
use std::path::{Component, Path, PathBuf};

/// Folders never searched for includes: tool state and VCS metadata.
const SKIPPED_DIRS: [&str; 4] = [".git", ".eltr", ".meltano", "node_modules"];

/// Resolves the patterns of `root_file` (relative to `root`) to files, without duplicates.
pub fn resolve(root: &Path, root_file: &Path, patterns: &[String]) -> Result<Vec<PathBuf>> {
    let canonical_root = root.canonicalize().map_err(|error| ProjectError::Io {
        path: root.to_path_buf(),
        error,
    })?;
    let mut files: Vec<PathBuf> = Vec::new();
    for pattern in patterns {
        for found in matches(root, root_file, pattern)? {
            let canonical = found.canonicalize().map_err(|error| ProjectError::Io {
                path: found.clone(),
                error,
            })?;
            if !canonical.starts_with(&canonical_root) {
                return Err(ProjectError::IncludeOutsideRoot {
                    path: root_file.to_path_buf(),
                    included: found,
                    root: root.to_path_buf(),
                });
            }
            if !canonical.is_file() {
                return Err(ProjectError::Invalid {
                    path: root_file.to_path_buf(),
                    message: format!(
                        "include_paths matched '{}', which is not a regular file",
                        found.display()
                    ),
                });
            }
            if canonical != root_file.canonicalize().unwrap_or_default()
                && !files.iter().any(|f| f == &found)
            {
                files.push(found);
            }
        }
    }
    Ok(files)
}

/// The sorted files matching one pattern.
fn matches(root: &Path, root_file: &Path, pattern: &str) -> Result<Vec<PathBuf>> {
    let relative = pattern.trim_start_matches("./");
    let escapes = Path::new(relative).components().any(|c| {
        matches!(
            c,
            Component::ParentDir | Component::RootDir | Component::Prefix(_)
        )
    });
    if escapes {
        return Err(ProjectError::IncludeOutsideRoot {
            path: root_file.to_path_buf(),
            included: PathBuf::from(pattern),
            root: root.to_path_buf(),
        });
    }
    let glob = GlobBuilder::new(relative)
        .literal_separator(true)
        .build()
        .map_err(|e| ProjectError::BadGlob {
            path: root_file.to_path_buf(),
            pattern: pattern.to_string(),
            message: e.kind().to_string(),
        })?
        .compile_matcher();

    // Walk only below the pattern's literal prefix: `./plugins/extractors/*.yml` never needs to
    // look at `pipelines/`.
    let prefix: PathBuf = Path::new(relative)
        .components()
        .take_while(|c| {
            !c.as_os_str()
                .to_string_lossy()
                .contains(['*', '?', '[', '{'])
        })
        .collect();
    let start = root.join(&prefix);
    if !start.exists() {
        return Ok(Vec::new());
    }
    if start.is_file() {
        return Ok(if glob.is_match(relative) {
            vec![start]
        } else {
            Vec::new()
        });
    }
    let walk = walkdir::WalkDir::new(&start)
        .follow_links(true)
        .into_iter()
        .filter_entry(|e| {
            e.depth() == 0
                || !(e.file_type().is_dir()
                    && SKIPPED_DIRS.contains(&e.file_name().to_string_lossy().as_ref()))
        });
    // A folder that cannot be read (permissions, a symbolic link loop or one pointing
    // nowhere) may hide plugin files: say so rather than load a project with parts missing.
    let mut entries = Vec::new();
    for entry in walk {
        let entry = entry.map_err(|e| ProjectError::Io {
            path: e
                .path()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| start.clone()),
            error: std::io::Error::other(format!(
                "cannot read it while looking for include_paths pattern '{pattern}' of {}: {}",
                root_file.display(),
                e.io_error()
                    .map(|io| io.to_string())
                    .unwrap_or_else(|| "a symbolic link loop".into())
            )),
        })?;
        entries.push(entry);
    }
    let mut found: Vec<PathBuf> = entries
        .into_iter()
        .filter(|e| !e.file_type().is_dir())
        .filter(|e| {
            e.path()
                .strip_prefix(root)
                .is_ok_and(|rel| glob.is_match(rel))
        })
        .map(|e| e.into_path())
        .collect();
    found.sort();
    Ok(found)
}
