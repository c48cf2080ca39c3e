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
    let glob = compile(root, root_file, pattern)?;
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
        return Ok(match glob.is_match(relative) {
            true => vec![start],
            false => Vec::new(),
        });
    }
    let mut found: Vec<PathBuf> = files_below(&start, root_file, pattern)?
        .into_iter()
        .filter(|path| path.strip_prefix(root).is_ok_and(|rel| glob.is_match(rel)))
        .collect();
    found.sort();
    Ok(found)
}

/// The pattern as a glob relative to the root; one that climbs out of it is an error.
fn compile(root: &Path, root_file: &Path, pattern: &str) -> Result<globset::GlobMatcher> {
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
        })?;
    Ok(glob.compile_matcher())
}

/// Every file below `start` (following links, skipping tool folders). A folder that cannot
/// be read (permissions, a symbolic link loop or one pointing nowhere) may hide plugin files:
/// it is an error rather than a project loaded with parts missing.
fn files_below(start: &Path, root_file: &Path, pattern: &str) -> Result<Vec<PathBuf>> {
    let walk = walkdir::WalkDir::new(start)
        .follow_links(true)
        .into_iter()
        .filter_entry(|e| {
            e.depth() == 0
                || !(e.file_type().is_dir()
                    && SKIPPED_DIRS.contains(&e.file_name().to_string_lossy().as_ref()))
        });
    let mut files = Vec::new();
    for entry in walk {
        let entry = entry.map_err(|e| ProjectError::Io {
            path: e
                .path()
                .map_or_else(|| start.to_path_buf(), Path::to_path_buf),
            error: std::io::Error::other(format!(
                "cannot read it while looking for include_paths pattern '{pattern}' of {}: {}",
                root_file.display(),
                e.io_error()
                    .map(|io| io.to_string())
                    .unwrap_or_else(|| "a symbolic link loop".into())
            )),
        })?;
        if !entry.file_type().is_dir() {
            files.push(entry.into_path());
        }
    }
    Ok(files)
}
