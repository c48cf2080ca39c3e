//! One YAML file being edited: operations that splice the text where the change is and leave
//! every other byte alone, each checked by reading the result back and comparing it with the
//! data the operation meant to produce.

use super::render::{self, Style};
use super::tree::{self, Kind, Node, TreeError, trimmed_end};
use serde_json::{Map, Value};

/// A step of a path into the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// Builds a path from keys and indexes: `path!["plugins", "extractors", 0]`.
#[macro_export]
macro_rules! yaml_path {
    ($($s:expr),* $(,)?) => { $crate::project::edit::doc::path_of([$($crate::project::edit::Seg::from($s)),*]) };
}

/// The path of `yaml_path!`, owned so it can be extended.
pub fn path_of<const N: usize>(segs: [Seg; N]) -> Vec<Seg> {
    segs.into()
}

impl From<&str> for Seg {
    fn from(s: &str) -> Seg {
        Seg::Key(s.to_string())
    }
}

impl From<String> for Seg {
    fn from(s: String) -> Seg {
        Seg::Key(s)
    }
}

impl From<&String> for Seg {
    fn from(s: &String) -> Seg {
        Seg::Key(s.clone())
    }
}

impl From<usize> for Seg {
    fn from(i: usize) -> Seg {
        Seg::Index(i)
    }
}

/// Why an edit did not happen.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error(transparent)]
    Tree(#[from] TreeError),
    #[error("{0}")]
    Shape(String),
    #[error(
        "the edit would not have produced the intended data ({0}); nothing was written. Please report this with the file"
    )]
    Verify(String),
}

/// A file's text, its tree and the data it means.
#[derive(Debug, Clone)]
pub struct Document {
    text: String,
    root: Node,
    data: Value,
    style: Style,
}

impl Document {
    /// Reads a YAML text for editing.
    pub fn parse(text: &str) -> Result<Document, EditError> {
        let root = tree::parse(text)?;
        let data = read_data(text)?;
        let style = detect_style(text, &root);
        Ok(Document {
            text: text.to_string(),
            root,
            data,
            style,
        })
    }

    /// The current text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The data the current text means (an empty file is an empty mapping).
    pub fn data(&self) -> &Value {
        &self.data
    }

    /// The value at `path`, if there is one.
    pub fn get(&self, path: &[Seg]) -> Option<&Value> {
        get_value(&self.data, path)
    }

    /// The index of the item of the sequence at `path` whose `name` is `name`.
    pub fn find_named(&self, path: &[Seg], name: &str) -> Option<usize> {
        self.get(path)?
            .as_array()?
            .iter()
            .position(|item| item.get("name").and_then(Value::as_str) == Some(name))
    }

    /// Sets the value at `path`, creating the mappings on the way.
    pub fn set(&mut self, path: &[Seg], value: Value) -> Result<(), EditError> {
        let mut expected = self.data.clone();
        set_value(&mut expected, path, value.clone())?;
        let text = self.splice_set(path, value)?;
        self.commit(text, expected)
    }

    /// Appends `value` to the sequence at `path`, creating it if it is missing.
    pub fn push(&mut self, path: &[Seg], value: Value) -> Result<(), EditError> {
        let current = self.get(path).cloned();
        match current {
            None | Some(Value::Null) => return self.set(path, Value::Array(vec![value])),
            Some(Value::Array(_)) => {}
            Some(_) => {
                return Err(EditError::Shape(format!(
                    "{} is not a list",
                    show_path(path)
                )));
            }
        }
        let mut expected = self.data.clone();
        if let Some(Value::Array(items)) = get_value_mut(&mut expected, path) {
            items.push(value.clone());
        }
        let chain = self.chain(path)?;
        let seq = chain.last().expect("found").clone();
        let Kind::Seq { items, flow } = &seq.kind else {
            return Err(EditError::Shape(format!(
                "{} is not a list",
                show_path(path)
            )));
        };
        let text = if *flow {
            if items.is_empty() {
                if !render::is_inline(&value) && chain.len() > 1 && self.owner_is_block(&chain) {
                    self.splice_set(path, Value::Array(vec![value]))?
                } else {
                    self.splice(seq.start, seq.end, &format!("[{}]", render::flow(&value)))
                }
            } else {
                let last = items.last().expect("non-empty");
                self.splice(last.end, last.end, &format!(", {}", render::flow(&value)))
            }
        } else {
            let first = &items[0];
            let dash = self.dash_of(first);
            let col = self.column(dash);
            let last = items.last().expect("non-empty");
            let at = self.line_end(self.node_end(last));
            let line = format!(
                "\n{}- {}",
                " ".repeat(col),
                render::item_body(&value, col + 2, self.style)
            );
            self.splice(at, at, &line)
        };
        self.commit(text, expected)
    }

    /// Removes the key or item at `path` with the comment lines right above it. Returns
    /// false (and changes nothing) when there is nothing at `path`.
    pub fn remove(&mut self, path: &[Seg]) -> Result<bool, EditError> {
        if self.get(path).is_none() {
            return Ok(false);
        }
        let mut expected = self.data.clone();
        remove_value(&mut expected, path);
        let (last, parent_path) = path.split_last().expect("a non-empty path");
        let chain = self.chain(parent_path)?;
        let parent = chain.last().expect("found").clone();
        let text = match (&parent.kind, last) {
            (Kind::Map { entries, flow }, Seg::Key(k)) => {
                let i = entries
                    .iter()
                    .position(|(key, _)| key.scalar() == Some(k.as_str()))
                    .expect("present");
                let spans: Vec<(usize, usize, usize)> = entries
                    .iter()
                    .map(|(k, v)| (k.start, self.node_end(v), self.column(k.start)))
                    .collect();
                self.splice_remove(&chain, parent_path, &spans, i, *flow, true)?
            }
            (Kind::Seq { items, flow }, Seg::Index(i)) => {
                let spans: Vec<(usize, usize, usize)> = items
                    .iter()
                    .map(|n| {
                        let start = if *flow { n.start } else { self.dash_of(n) };
                        (start, self.node_end(n), self.column(start))
                    })
                    .collect();
                self.splice_remove(&chain, parent_path, &spans, *i, *flow, false)?
            }
            _ => return Err(EditError::Shape(format!("nothing at {}", show_path(path)))),
        };
        self.commit(text, expected)?;
        Ok(true)
    }

    /// Checks the new text and makes it current.
    fn commit(&mut self, text: String, expected: Value) -> Result<(), EditError> {
        let root = tree::parse(&text)
            .map_err(|e| EditError::Verify(format!("the result does not parse: {e}")))?;
        let data = read_data(&text)
            .map_err(|e| EditError::Verify(format!("the result does not load: {e}")))?;
        if data != expected {
            return Err(EditError::Verify(format!(
                "read back {}, meant {}",
                data, expected
            )));
        }
        self.text = text;
        self.root = root;
        self.data = data;
        Ok(())
    }

    /// The nodes from the root down to `path` (all of it must exist).
    fn chain(&self, path: &[Seg]) -> Result<Vec<Node>, EditError> {
        let mut chain = vec![self.root.clone()];
        for seg in path {
            let node = chain.last().expect("non-empty");
            let next = match (&node.kind, seg) {
                (Kind::Map { .. }, Seg::Key(k)) => node.get(k).cloned(),
                (Kind::Seq { items, .. }, Seg::Index(i)) => items.get(*i).cloned(),
                _ => None,
            };
            match next {
                Some(n) => chain.push(n),
                None => return Err(EditError::Shape(format!("nothing at {}", show_path(path)))),
            }
        }
        Ok(chain)
    }

    /// True when the last node of `chain` is the value of an entry of a block mapping.
    fn owner_is_block(&self, chain: &[Node]) -> bool {
        chain.len() > 1 && matches!(chain[chain.len() - 2].kind, Kind::Map { flow: false, .. })
    }

    /// The text after setting `path` to `value`.
    fn splice_set(&self, path: &[Seg], value: Value) -> Result<String, EditError> {
        let Some((last, parent_path)) = path.split_last() else {
            return Err(EditError::Shape("cannot replace a whole file".into()));
        };
        // The longest prefix of the parent path that exists.
        let mut found = 0;
        {
            let mut v = &self.data;
            for seg in parent_path {
                let next = match (v, seg) {
                    (Value::Object(m), Seg::Key(k)) => m.get(k),
                    (Value::Array(a), Seg::Index(i)) => a.get(*i),
                    _ => None,
                };
                match next {
                    Some(n) if !n.is_null() => {
                        v = n;
                        found += 1;
                    }
                    _ => break,
                }
            }
        }
        if found < parent_path.len() {
            // Build the missing mappings as one value and set it at the first missing key.
            let mut nested = value;
            for seg in path[found + 1..].iter().rev() {
                let Seg::Key(k) = seg else {
                    return Err(EditError::Shape(format!(
                        "no list at {}",
                        show_path(&path[..found + 1])
                    )));
                };
                let mut m = Map::new();
                m.insert(k.clone(), nested);
                nested = Value::Object(m);
            }
            return self.splice_set(&path[..found + 1], nested);
        }
        let chain = self.chain(parent_path)?;
        let parent = chain.last().expect("found").clone();
        match (&parent.kind, last) {
            (Kind::Map { entries, flow }, Seg::Key(k)) => {
                match entries
                    .iter()
                    .find(|(key, _)| key.scalar() == Some(k.as_str()))
                {
                    Some((key, val)) => Ok(self.replace_value(key, val, &value, *flow)),
                    None => self.insert_entry(&chain, parent_path, k, &value),
                }
            }
            (Kind::Seq { items, flow }, Seg::Index(i)) => {
                let item = items.get(*i).ok_or_else(|| {
                    EditError::Shape(format!("no item {i} at {}", show_path(parent_path)))
                })?;
                if *flow || render::is_inline(&value) {
                    let s = if *flow {
                        render::flow(&value)
                    } else {
                        render::scalar(&value)
                    };
                    Ok(self.splice(item.start, self.node_end(item), &s))
                } else {
                    let col = self.column(item.start);
                    Ok(self.splice(
                        item.start,
                        self.node_end(item),
                        &render::item_body(&value, col, self.style),
                    ))
                }
            }
            _ => Err(EditError::Shape(format!(
                "{} is not a mapping",
                show_path(parent_path)
            ))),
        }
    }

    /// The text with the value of entry `key` replaced by `value`.
    fn replace_value(&self, key: &Node, val: &Node, value: &Value, in_flow: bool) -> String {
        if in_flow {
            return self.splice(val.start, val.end, &render::flow(value));
        }
        let key_col = self.column(key.start);
        let child = match value {
            Value::Array(_) if !self.style.indent_sequences => key_col,
            _ => key_col + self.style.step,
        };
        let inline = render::is_inline(value);
        if val.is_implicit_null() {
            // `key:` with nothing after it (maybe a comment): the value goes after the colon
            // or on the lines below.
            let colon = self.colon_after(key.end);
            return if inline {
                self.splice(colon + 1, colon + 1, &format!(" {}", render::scalar(value)))
            } else {
                let at = self.line_end(key.end);
                self.splice(
                    at,
                    at,
                    &format!("\n{}", render::block(value, child, self.style)),
                )
            };
        }
        if inline && !val.is_block() {
            return self.splice(val.start, val.end, &render::scalar(value));
        }
        let end = self.node_end(val);
        let new = if inline {
            format!(": {}", render::scalar(value))
        } else {
            format!(":\n{}", render::block(value, child, self.style))
        };
        self.splice(key.end, end, &new)
    }

    /// The text with `key: value` added to the mapping at the end of `chain`.
    fn insert_entry(
        &self,
        chain: &[Node],
        map_path: &[Seg],
        key: &str,
        value: &Value,
    ) -> Result<String, EditError> {
        let map = chain.last().expect("found");
        let Kind::Map { entries, flow } = &map.kind else {
            return Err(EditError::Shape(format!(
                "{} is not a mapping",
                show_path(map_path)
            )));
        };
        let mut one = Map::new();
        one.insert(key.to_string(), value.clone());
        let one = Value::Object(one);
        if *flow {
            if let Some((_, last_val)) = entries.last() {
                let at = last_val.end;
                return Ok(self.splice(
                    at,
                    at,
                    &format!(", {}: {}", render::string(key), render::flow(value)),
                ));
            }
            // `{}`: in a block mapping, becomes a block mapping.
            if chain.len() > 1 && self.owner_is_block(chain) {
                return self.splice_set(map_path, one);
            }
            if chain.len() == 1 {
                let text = self.splice(map.start, map.end, "");
                let mut doc = Document::parse(&text)?;
                doc.text = doc.text.trim_end().to_string();
                return doc.splice_set(&[Seg::Key(key.to_string())], value.clone());
            }
            return Ok(self.splice(map.start, map.end, &render::flow(&one)));
        }
        match entries.last() {
            Some((first_key, _)) => {
                let col = self.column(entries[0].0.start.min(first_key.start));
                let (last_key, last_val) = entries.last().expect("non-empty");
                let end = if last_val.is_implicit_null() {
                    last_key.end
                } else {
                    self.node_end(last_val)
                };
                let at = self.line_end(end);
                let text = format!("\n{}", render::entry(key, value, col, self.style));
                Ok(self.splice(at, at, &text))
            }
            None => {
                // An empty document (maybe comments): add at the end.
                let mut text = self.text.clone();
                if !text.is_empty() && !text.ends_with('\n') {
                    text.push('\n');
                }
                text.push_str(&render::entry(key, value, 0, self.style));
                text.push('\n');
                Ok(text)
            }
        }
    }

    /// The text without entry or item `i` of a collection whose entries span `spans`
    /// (start, end, column).
    fn splice_remove(
        &self,
        chain: &[Node],
        parent_path: &[Seg],
        spans: &[(usize, usize, usize)],
        i: usize,
        flow: bool,
        is_map: bool,
    ) -> Result<String, EditError> {
        let empty = if is_map {
            Value::Object(Map::new())
        } else {
            Value::Array(Vec::new())
        };
        let (start, end, col) = spans[i];
        if flow {
            return Ok(if spans.len() == 1 {
                let parent = chain.last().expect("found");
                self.splice(parent.start, parent.end, render::scalar(&empty).as_str())
            } else if i + 1 < spans.len() {
                self.splice(start, spans[i + 1].0, "")
            } else {
                self.splice(spans[i - 1].1, end, "")
            });
        }
        if spans.len() == 1 && chain.len() > 1 {
            // The collection empties: write it as `{}` / `[]` where it was.
            let parent_chain = &chain[..chain.len() - 1];
            let (_, grand_path) = parent_path.split_last().expect("non-root");
            let owner = parent_chain.last().expect("non-empty");
            return match &owner.kind {
                Kind::Seq { .. } => {
                    let node = chain.last().expect("found");
                    Ok(self.splice(
                        node.start,
                        self.node_end(node),
                        render::scalar(&empty).as_str(),
                    ))
                }
                _ => {
                    let _ = grand_path;
                    self.splice_set(parent_path, empty)
                }
            };
        }
        let line_start = self.line_start(start);
        if self.text[line_start..start].trim().is_empty() {
            // The entry owns its lines: remove them, with the comments right above at its
            // indentation and the deeper comments right below.
            let mut from = line_start;
            while from > 0 {
                let prev = self.line_start(from - 1);
                let line = &self.text[prev..from - 1];
                let trimmed = line.trim_start();
                if trimmed.starts_with('#') && line.len() - trimmed.len() == col {
                    from = prev;
                } else {
                    break;
                }
            }
            let mut to = self.line_end(end);
            while to < self.text.len() {
                let next_end = self.line_end(to + 1);
                let line = &self.text[to + 1..next_end];
                let trimmed = line.trim_start();
                if trimmed.starts_with('#') && line.len() - trimmed.len() > col {
                    to = next_end;
                } else {
                    break;
                }
            }
            let to = (to + 1).min(self.text.len());
            Ok(self.splice(from, to, ""))
        } else if i + 1 < spans.len() {
            // The first key of a list item shares the dash's line: the next key moves up.
            Ok(self.splice(start, spans[i + 1].0, ""))
        } else {
            Err(EditError::Shape(
                "cannot remove an entry that shares its line with another".into(),
            ))
        }
    }

    /// The text with `from..to` replaced.
    fn splice(&self, from: usize, to: usize, with: &str) -> String {
        let mut s = String::with_capacity(self.text.len() + with.len());
        s.push_str(&self.text[..from]);
        s.push_str(with);
        s.push_str(&self.text[to..]);
        s
    }

    fn node_end(&self, n: &Node) -> usize {
        if n.is_block() {
            trimmed_end(&self.text, n)
        } else {
            n.end
        }
    }

    fn line_start(&self, pos: usize) -> usize {
        self.text[..pos].rfind('\n').map_or(0, |i| i + 1)
    }

    fn line_end(&self, pos: usize) -> usize {
        let pos = pos.min(self.text.len());
        self.text[pos..]
            .find('\n')
            .map_or(self.text.len(), |i| pos + i)
    }

    fn column(&self, pos: usize) -> usize {
        self.text[self.line_start(pos)..pos].chars().count()
    }

    /// The position of the `-` that introduces a block sequence item.
    fn dash_of(&self, item: &Node) -> usize {
        let before = &self.text[..item.start];
        let trimmed = before.trim_end_matches([' ', '\t', '\n', '\r']);
        if trimmed.ends_with('-') {
            trimmed.len() - 1
        } else {
            item.start
        }
    }

    fn colon_after(&self, pos: usize) -> usize {
        self.text[pos..].find(':').map_or(pos, |i| pos + i)
    }
}

/// The indentation habits of a file, from its first nested block mapping and sequence.
fn detect_style(text: &str, root: &Node) -> Style {
    let mut style = Style::default();
    let (mut step, mut seq) = (None, None);
    visit(text, root, &mut step, &mut seq);
    if let Some(s) = step.filter(|s| (1..=8).contains(s)) {
        style.step = s;
    }
    if let Some(indented) = seq {
        style.indent_sequences = indented;
    }
    style
}

fn visit(text: &str, node: &Node, step: &mut Option<usize>, seq: &mut Option<bool>) {
    let col = |pos: usize| text[..pos].rfind('\n').map_or(pos, |i| pos - i - 1);
    match &node.kind {
        Kind::Map {
            entries,
            flow: false,
        } => {
            for (k, v) in entries {
                match &v.kind {
                    Kind::Map {
                        entries: inner,
                        flow: false,
                    } if step.is_none() && !inner.is_empty() => {
                        let (c, p) = (col(inner[0].0.start), col(k.start));
                        if c > p {
                            *step = Some(c - p);
                        }
                    }
                    Kind::Seq { items, flow: false } if seq.is_none() && !items.is_empty() => {
                        let before = text[..items[0].start].trim_end_matches([' ', '\t']);
                        if before.ends_with('-') {
                            *seq = Some(col(before.len() - 1) > col(k.start));
                        }
                    }
                    _ => {}
                }
                visit(text, v, step, seq);
            }
        }
        Kind::Seq { items, .. } => items.iter().for_each(|i| visit(text, i, step, seq)),
        _ => {}
    }
}

/// The data of a YAML text (an empty or comments-only text is an empty mapping).
pub fn read_data(text: &str) -> Result<Value, EditError> {
    let v: Value = serde_norway::from_str(text).map_err(|e| {
        EditError::Tree(TreeError::Syntax {
            line: e.location().map_or(0, |l| l.line()),
            column: e.location().map_or(0, |l| l.column()),
            message: e.to_string(),
        })
    })?;
    Ok(if v.is_null() {
        Value::Object(Map::new())
    } else {
        v
    })
}

fn show_path(path: &[Seg]) -> String {
    let parts: Vec<String> = path
        .iter()
        .map(|s| match s {
            Seg::Key(k) => k.clone(),
            Seg::Index(i) => format!("[{i}]"),
        })
        .collect();
    if parts.is_empty() {
        "the top of the file".into()
    } else {
        format!("'{}'", parts.join("."))
    }
}

/// The value at `path` in `v`.
pub fn get_value<'a>(v: &'a Value, path: &[Seg]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, seg| match (v, seg) {
        (Value::Object(m), Seg::Key(k)) => m.get(k),
        (Value::Array(a), Seg::Index(i)) => a.get(*i),
        _ => None,
    })
}

fn get_value_mut<'a>(v: &'a mut Value, path: &[Seg]) -> Option<&'a mut Value> {
    path.iter().try_fold(v, |v, seg| match (v, seg) {
        (Value::Object(m), Seg::Key(k)) => m.get_mut(k),
        (Value::Array(a), Seg::Index(i)) => a.get_mut(*i),
        _ => None,
    })
}

/// Sets `path` in `v` to `value`, creating mappings (and replacing nulls) on the way.
pub fn set_value(v: &mut Value, path: &[Seg], value: Value) -> Result<(), EditError> {
    let Some((first, rest)) = path.split_first() else {
        *v = value;
        return Ok(());
    };
    if v.is_null() {
        *v = Value::Object(Map::new());
    }
    match (v, first) {
        (Value::Object(m), Seg::Key(k)) => {
            let slot = m.entry(k.clone()).or_insert(Value::Null);
            set_value(slot, rest, value)
        }
        (Value::Array(a), Seg::Index(i)) if *i < a.len() => set_value(&mut a[*i], rest, value),
        _ => Err(EditError::Shape(format!(
            "cannot set {} here",
            show_path(path)
        ))),
    }
}

/// Removes `path` from `v`; nothing happens if it is not there.
pub fn remove_value(v: &mut Value, path: &[Seg]) {
    let Some((last, parent)) = path.split_last() else {
        return;
    };
    match (get_value_mut(v, parent), last) {
        (Some(Value::Object(m)), Seg::Key(k)) => {
            m.shift_remove(k);
        }
        (Some(Value::Array(a)), Seg::Index(i)) if *i < a.len() => {
            a.remove(*i);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const FILE: &str = "\
# Header comment.
plugins:
  extractors:
    # Orders.
    - name: tap-orders   # inline
      config:
        api_url: https://x  # keep
        page_size: 100
      select: [a.b, 'c.*']

    # Customers.
    - name: tap-customers
      config: {}
  loaders: []
jobs:
- name: j
  tasks:
  - tap-orders target-x
";

    fn doc() -> Document {
        Document::parse(FILE).unwrap()
    }

    /// Every line of `before` that is not in `changed` (by index in the old text) is still
    /// in `after`, in order.
    fn untouched_lines_kept(before: &str, after: &str, dropped: &[&str]) {
        let mut rest = after.lines();
        for line in before.lines().filter(|l| !dropped.contains(&l.trim())) {
            assert!(
                rest.any(|l| l == line),
                "line {line:?} lost or moved:\n{after}"
            );
        }
    }

    #[test]
    fn set_replaces_a_scalar_in_place() {
        let mut d = doc();
        let p = yaml_path!["plugins", "extractors", 0, "config", "page_size"];
        d.set(&p, json!(50)).unwrap();
        assert_eq!(d.text(), FILE.replace("page_size: 100", "page_size: 50"));
    }

    #[test]
    fn set_inserts_nested_keys_with_the_mappings_indentation() {
        let mut d = doc();
        let p = yaml_path!["plugins", "extractors", 0, "config", "auth", "user"];
        d.set(&p, json!("bob")).unwrap();
        assert!(
            d.text()
                .contains("        page_size: 100\n        auth:\n          user: bob\n"),
            "{}",
            d.text()
        );
        untouched_lines_kept(FILE, d.text(), &[]);
    }

    #[test]
    fn set_into_an_empty_flow_mapping_makes_a_block() {
        let mut d = doc();
        let p = yaml_path!["plugins", "extractors", 1, "config", "a"];
        d.set(&p, json!("x")).unwrap();
        assert!(
            d.text().contains("      config:\n        a: x\n"),
            "{}",
            d.text()
        );
        untouched_lines_kept(FILE, d.text(), &["config: {}"]);
    }

    #[test]
    fn push_appends_to_flow_and_block_lists() {
        let mut d = doc();
        d.push(
            &yaml_path!["plugins", "extractors", 0, "select"],
            json!("d.*"),
        )
        .unwrap();
        assert!(
            d.text().contains("select: [a.b, 'c.*', d.*]"),
            "{}",
            d.text()
        );
        d.push(
            &yaml_path!["plugins", "loaders"],
            json!({"name": "target-x", "config": {"path": "out"}}),
        )
        .unwrap();
        d.push(&yaml_path!["jobs"], json!({"name": "k", "tasks": ["a b"]}))
            .unwrap();
        untouched_lines_kept(FILE, d.text(), &["loaders: []", "select: [a.b, 'c.*']"]);
        assert_eq!(
            d.data()["plugins"]["loaders"][0]["config"]["path"],
            json!("out")
        );
        assert_eq!(d.data()["jobs"][1], json!({"name": "k", "tasks": ["a b"]}));
        assert!(d.text().contains("- name: k\n  tasks:\n"), "{}", d.text());
    }

    #[test]
    fn remove_takes_the_comment_lines_that_belong_to_the_item() {
        let mut d = doc();
        assert!(d.remove(&yaml_path!["plugins", "extractors", 1]).unwrap());
        assert!(!d.text().contains("Customers"), "{}", d.text());
        untouched_lines_kept(
            FILE,
            d.text(),
            &["# Customers.", "- name: tap-customers", "config: {}"],
        );
        assert!(
            d.remove(&yaml_path!["plugins", "extractors", 0, "config", "api_url"])
                .unwrap()
        );
        assert!(!d.text().contains("# keep"));
        assert!(!d.remove(&yaml_path!["nothing"]).unwrap());
    }

    #[test]
    fn removing_the_last_entry_leaves_an_empty_collection() {
        let mut d = doc();
        d.remove(&yaml_path!["plugins", "extractors", 0, "config", "api_url"])
            .unwrap();
        d.remove(&yaml_path![
            "plugins",
            "extractors",
            0,
            "config",
            "page_size"
        ])
        .unwrap();
        assert!(d.text().contains("      config: {}\n"), "{}", d.text());
        d.remove(&yaml_path!["jobs", 0]).unwrap();
        assert!(d.text().ends_with("jobs: []\n"), "{}", d.text());
    }

    #[test]
    fn removing_the_first_key_of_a_list_item_moves_the_next_one_up() {
        let mut d = Document::parse("l:\n  - a: 1\n    b: 2\n").unwrap();
        d.remove(&yaml_path!["l", 0, "a"]).unwrap();
        assert_eq!(d.text(), "l:\n  - b: 2\n");
    }

    #[test]
    fn empty_and_comment_only_files_take_new_keys() {
        let mut d = Document::parse("# only a comment\n").unwrap();
        d.push(&yaml_path!["jobs"], json!({"name": "j", "tasks": ["a b"]}))
            .unwrap();
        assert_eq!(
            d.text(),
            "# only a comment\njobs:\n  - name: j\n    tasks:\n      - a b\n"
        );
        let mut d = Document::parse("").unwrap();
        d.set(&yaml_path!["a", "b"], json!(1)).unwrap();
        assert_eq!(d.text(), "a:\n  b: 1\n");
    }

    #[test]
    fn implicit_null_values_take_scalars_and_blocks() {
        let mut d = Document::parse("a:\nb:   # note\nc: 1\n").unwrap();
        d.set(&yaml_path!["a"], json!("x")).unwrap();
        d.set(&yaml_path!["b", "k"], json!(true)).unwrap();
        assert_eq!(d.text(), "a: x\nb:   # note\n  k: true\nc: 1\n");
    }

    #[test]
    fn block_values_are_replaced_whole() {
        let mut d = doc();
        d.set(
            &yaml_path!["plugins", "extractors", 0, "config"],
            json!({"only": 1}),
        )
        .unwrap();
        assert!(
            d.text()
                .contains("      config:\n        only: 1\n      select"),
            "{}",
            d.text()
        );
        d.set(
            &yaml_path!["jobs", 0, "tasks"],
            json!(["x y", ["a b", "c d"]]),
        )
        .unwrap();
        assert_eq!(d.data()["jobs"][0]["tasks"][1][1], json!("c d"));
    }
}
