//! A YAML document as a tree of nodes that know where they are in the text (byte offsets),
//! built from the events of `saphyr-parser`. Only what the editor needs: mappings, sequences
//! and scalars with their spans and styles; anchors, aliases and tags are refused, because an
//! edit next to them could change what they mean elsewhere.

use saphyr_parser::{Event, Parser, ScalarStyle};

/// Why a text could not be read as an editable tree.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error("line {line}, column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{0}")]
    Unsupported(String),
}

/// One node with its byte range in the text. For block collections the range runs from the
/// first child to the end of the last one (trailing blanks and comments excluded).
#[derive(Debug, Clone)]
pub struct Node {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
}

/// What a node holds.
#[derive(Debug, Clone)]
pub enum Kind {
    Scalar {
        value: String,
        style: ScalarStyle,
    },
    Map {
        entries: Vec<(Node, Node)>,
        flow: bool,
    },
    Seq {
        items: Vec<Node>,
        flow: bool,
    },
}

impl Node {
    /// True for `{…}` and `[…]` collections.
    pub fn is_flow(&self) -> bool {
        matches!(
            self.kind,
            Kind::Map { flow: true, .. } | Kind::Seq { flow: true, .. }
        )
    }

    /// True for a block mapping or sequence, or a `|`/`>` scalar: nodes that span lines
    /// below their key.
    pub fn is_block(&self) -> bool {
        match &self.kind {
            Kind::Map { flow, .. } | Kind::Seq { flow, .. } => !flow,
            Kind::Scalar { style, .. } => {
                matches!(style, ScalarStyle::Literal | ScalarStyle::Folded)
            }
        }
    }

    /// True for a null written as nothing at all (`key:` followed by a line break).
    pub fn is_implicit_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar { value, style: ScalarStyle::Plain } if value.is_empty())
            && self.start == self.end
    }

    /// The scalar's text, if it is a scalar.
    pub fn scalar(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// The value under `key`, if this is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The entry (key node, value node) under `key`.
    pub fn entry(&self, key: &str) -> Option<&(Node, Node)> {
        match &self.kind {
            Kind::Map { entries, .. } => entries.iter().find(|(k, _)| k.scalar() == Some(key)),
            _ => None,
        }
    }
}

/// Parses `text` (one document) into a tree. An empty document is an empty block mapping.
pub fn parse(text: &str) -> Result<Node, TreeError> {
    // saphyr counts positions in characters; the editor splices bytes.
    let byte_at: Vec<usize> = if text.is_ascii() {
        Vec::new()
    } else {
        text.char_indices()
            .map(|(b, _)| b)
            .chain([text.len()])
            .collect()
    };
    let to_byte = |i: usize| {
        if byte_at.is_empty() {
            i.min(text.len())
        } else {
            byte_at.get(i).copied().unwrap_or(text.len())
        }
    };
    let mut stack: Vec<Builder> = Vec::new();
    let mut root: Option<Node> = None;
    let mut documents = 0;
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| TreeError::Syntax {
            line: e.marker().line(),
            column: e.marker().col() + 1,
            message: e.info().to_string(),
        })?;
        let (start, end) = (to_byte(span.start.index()), to_byte(span.end.index()));
        let done = match event {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(TreeError::Unsupported(
                        "the file holds more than one YAML document".into(),
                    ));
                }
                None
            }
            Event::Alias(_) => {
                return Err(TreeError::Unsupported(
                    "the file uses YAML aliases (*name), which eltr does not edit".into(),
                ));
            }
            Event::Scalar(value, style, anchor, tag) => {
                refuse_anchor_or_tag(anchor, tag.is_some())?;
                Some(Node {
                    kind: Kind::Scalar {
                        value: value.into_owned(),
                        style,
                    },
                    start,
                    end,
                })
            }
            Event::MappingStart(anchor, tag) => {
                refuse_anchor_or_tag(anchor, tag.is_some())?;
                stack.push(Builder::new(true, start, end > start));
                None
            }
            Event::SequenceStart(anchor, tag) => {
                refuse_anchor_or_tag(anchor, tag.is_some())?;
                stack.push(Builder::new(false, start, end > start));
                None
            }
            Event::MappingEnd | Event::SequenceEnd => {
                let b = stack.pop().expect("balanced events");
                Some(b.finish(end))
            }
            _ => None,
        };
        if let Some(node) = done {
            match stack.last_mut() {
                Some(parent) => parent.push(node),
                None => root = Some(node),
            }
        }
    }
    Ok(root.unwrap_or(Node {
        kind: Kind::Map {
            entries: Vec::new(),
            flow: false,
        },
        start: 0,
        end: 0,
    }))
}

fn refuse_anchor_or_tag(anchor: usize, tagged: bool) -> Result<(), TreeError> {
    if anchor != 0 {
        return Err(TreeError::Unsupported(
            "the file uses YAML anchors (&name), which eltr does not edit".into(),
        ));
    }
    if tagged {
        return Err(TreeError::Unsupported(
            "the file uses YAML tags (!tag), which eltr does not edit".into(),
        ));
    }
    Ok(())
}

/// A collection being read.
struct Builder {
    map: bool,
    flow: bool,
    start: usize,
    children: Vec<Node>,
}

impl Builder {
    fn new(map: bool, start: usize, flow: bool) -> Self {
        Builder {
            map,
            flow,
            start,
            children: Vec::new(),
        }
    }

    fn push(&mut self, node: Node) {
        self.children.push(node);
    }

    fn finish(self, end_event_end: usize) -> Node {
        let end = if self.flow {
            end_event_end
        } else {
            self.children
                .iter()
                .map(|c| c.end)
                .max()
                .unwrap_or(self.start)
        };
        let start = if self.flow {
            self.start
        } else {
            self.children.first().map_or(self.start, |c| c.start)
        };
        let kind = if self.map {
            let mut entries = Vec::new();
            let mut it = self.children.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                entries.push((k, v));
            }
            Kind::Map {
                entries,
                flow: self.flow,
            }
        } else {
            Kind::Seq {
                items: self.children,
                flow: self.flow,
            }
        };
        Node {
            kind,
            start: start.min(end),
            end,
        }
    }
}

/// Trims a block scalar's span to its last character that is not a blank or line break (a
/// literal's span runs into the following blank lines).
pub fn trimmed_end(text: &str, node: &Node) -> usize {
    let slice = &text[node.start..node.end.min(text.len())];
    node.start + slice.trim_end().len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_bytes_even_after_non_ascii_text() {
        let text = "# é\nname: tap-ü\nx: [a, b]\n";
        let root = parse(text).unwrap();
        let v = root.get("x").unwrap();
        assert_eq!(&text[v.start..v.end], "[a, b]");
        let n = root.get("name").unwrap();
        assert_eq!(&text[n.start..n.end], "tap-ü");
    }

    #[test]
    fn block_collections_span_their_children() {
        let text = "a:\n  b: 1\n  c:\n    - x\n    - y\n# tail\n";
        let root = parse(text).unwrap();
        let a = root.get("a").unwrap();
        assert_eq!(&text[a.start..a.end], "b: 1\n  c:\n    - x\n    - y");
    }

    #[test]
    fn anchors_are_refused() {
        assert!(parse("a: &x 1\nb: *x\n").is_err());
    }
}
