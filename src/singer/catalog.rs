//! The Singer catalog and the rules Meltano applies to a discovered one, in its order:
//! `schema` overrides, everything deselected, `select`, `metadata`, then `select_filter`.

use super::select::{PatternError, SelectPattern, Selection};
use serde_json::{Map, Value, json};

/// A catalog as a tap writes it; kept as JSON so keys eltr does not know survive untouched.
#[derive(Debug, Clone)]
pub struct Catalog(pub Value);

/// The rules of one extractor (its `select`, `metadata`, `schema`, `select_filter` extras).
#[derive(Debug, Clone, Default)]
pub struct Rules {
    pub select: Vec<String>,
    pub metadata: Option<Value>,
    pub schema: Option<Value>,
    pub select_filter: Vec<String>,
}

/// One line of `eltr select --list`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PropertyStatus {
    pub stream: String,
    pub property: String,
    /// `selected`, `excluded` or `automatic`.
    pub status: &'static str,
}

impl Catalog {
    /// Wraps a parsed catalog, checking it has a `streams` list.
    pub fn new(v: Value) -> Option<Catalog> {
        v.get("streams")?.as_array()?;
        Some(Catalog(v))
    }

    fn streams_mut(&mut self) -> impl Iterator<Item = &mut Map<String, Value>> {
        self.0["streams"]
            .as_array_mut()
            .into_iter()
            .flatten()
            .filter_map(Value::as_object_mut)
    }

    /// Applies every rule, in Meltano's order.
    pub fn apply(&mut self, rules: &Rules) -> Result<(), PatternError> {
        if let Some(schema) = rules.schema.as_ref().and_then(Value::as_object) {
            self.apply_schema(schema)?;
        }
        let selection = Selection::parse(&rules.select)?;
        for stream in self.streams_mut() {
            ensure_property_metadata(stream);
            let id = stream_id(stream);
            let stream_on = selection.stream_selected(&id);
            for entry in metadata_entries(stream) {
                let path = property_path(entry);
                let md = entry_metadata(entry);
                let inclusion = md.get("inclusion").and_then(Value::as_str).unwrap_or("");
                let on = match path {
                    None => stream_on,
                    Some(_) if inclusion == "unsupported" => false,
                    Some(_) if inclusion == "automatic" => stream_on,
                    Some(p) => {
                        let p: Vec<&str> = p.iter().map(String::as_str).collect();
                        stream_on && selection.property_selected(&id, &p)
                    }
                };
                md.insert("selected".into(), Value::Bool(on));
            }
            // Meltano also writes each stream-level rule on the stream itself, with
            // underscores (legacy catalogs read `selected`, `replication_method` there).
            stream.insert("selected".into(), Value::Bool(stream_on));
        }
        if let Some(metadata) = rules.metadata.as_ref().and_then(Value::as_object) {
            self.apply_metadata(metadata)?;
        }
        self.apply_select_filter(&rules.select_filter)
    }

    /// `select_filter` (`eltr el --select/--exclude`): each stream it leaves out is
    /// deselected. The only rule Meltano applies to a catalog the user gave.
    pub fn apply_select_filter(&mut self, patterns: &[String]) -> Result<(), PatternError> {
        if !patterns.is_empty() {
            let filter = Selection::parse(patterns)?;
            let has_includes = filter.patterns.iter().any(|p| !p.negated);
            // A stream the filter leaves out stays in the catalog, deselected (Meltano's
            // `select_filter_metadata_rules`: `selected: false` on the stream only).
            for stream in self.streams_mut() {
                let id = stream_id(stream);
                let excluded = filter
                    .patterns
                    .iter()
                    .any(|p| p.negated && p.matches_stream(&id));
                let included = !has_includes
                    || filter
                        .patterns
                        .iter()
                        .any(|p| !p.negated && p.matches_stream(&id));
                if included && !excluded {
                    continue;
                }
                for entry in metadata_entries(stream) {
                    if property_path(entry).is_none() {
                        entry_metadata(entry).insert("selected".into(), Value::Bool(false));
                    }
                }
                stream.insert("selected".into(), Value::Bool(false));
            }
        }
        Ok(())
    }

    /// `schema:` overrides: each matching stream's property schema is replaced.
    fn apply_schema(&mut self, rules: &Map<String, Value>) -> Result<(), PatternError> {
        for (stream_glob, props) in rules {
            let pattern = SelectPattern::parse(stream_glob)?;
            for stream in self.streams_mut() {
                if !pattern.matches_stream(&stream_id(stream)) {
                    continue;
                }
                let Some(props) = props.as_object() else {
                    continue;
                };
                let schema = stream.entry("schema").or_insert_with(|| json!({}));
                if !schema["properties"].is_object() {
                    schema["properties"] = json!({});
                }
                for (name, prop_schema) in props {
                    schema["properties"][name] = prop_schema.clone();
                }
            }
        }
        Ok(())
    }

    /// `metadata:` rules: scalar keys go on the stream's metadata, object values on the
    /// matching property's.
    fn apply_metadata(&mut self, rules: &Map<String, Value>) -> Result<(), PatternError> {
        for (stream_glob, keys) in rules {
            let pattern = SelectPattern::parse(stream_glob)?;
            let Some(keys) = keys.as_object() else {
                continue;
            };
            for stream in self.streams_mut() {
                if !pattern.matches_stream(&stream_id(stream)) {
                    continue;
                }
                for (key, value) in keys {
                    match value {
                        Value::Object(prop_md) => {
                            let glob = SelectPattern::parse(key)?;
                            for entry in metadata_entries(stream) {
                                let hit = property_path(entry)
                                    .is_some_and(|p| p.len() == 1 && glob.matches_stream(&p[0]));
                                if hit {
                                    let md = entry_metadata(entry);
                                    for (k, v) in prop_md {
                                        md.insert(k.clone(), v.clone());
                                    }
                                }
                            }
                        }
                        other => {
                            for entry in metadata_entries(stream) {
                                if property_path(entry).is_none() {
                                    entry_metadata(entry).insert(key.clone(), other.clone());
                                }
                            }
                            stream.insert(key.replace('-', "_"), other.clone());
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Ids of the streams that will be extracted.
    pub fn selected_streams(&self) -> Vec<String> {
        let mut out = Vec::new();
        for stream in self.0["streams"].as_array().into_iter().flatten() {
            let Some(obj) = stream.as_object() else {
                continue;
            };
            let on = stream_selected(obj);
            if on {
                out.push(stream_id(obj));
            }
        }
        out
    }

    /// The catalog with only `streams` still selected (a share of the streams, for one of the
    /// extractor copies of a split run): every other stream is deselected, properties and
    /// all other metadata left as they were.
    pub fn only(&self, streams: &[String]) -> Catalog {
        let mut out = self.clone();
        for stream in out.streams_mut() {
            if streams.contains(&stream_id(stream)) {
                continue;
            }
            if let Some(schema) = stream.get_mut("schema").and_then(Value::as_object_mut) {
                if schema.contains_key("selected") {
                    schema.insert("selected".into(), Value::Bool(false));
                }
            }
            ensure_property_metadata(stream);
            for entry in metadata_entries(stream) {
                if property_path(entry).is_none() {
                    entry_metadata(entry).insert("selected".into(), Value::Bool(false));
                }
            }
        }
        out
    }

    /// Every property of every stream with its selection status, for `select --list`.
    pub fn property_statuses(&self) -> Vec<PropertyStatus> {
        let mut out = Vec::new();
        for stream in self.0["streams"].as_array().into_iter().flatten() {
            let Some(obj) = stream.as_object() else {
                continue;
            };
            let id = stream_id(obj);
            let stream_on = stream_selected(obj);
            for entry in obj["metadata"].as_array().into_iter().flatten() {
                let Some(path) = entry["breadcrumb"]
                    .as_array()
                    .and_then(|b| breadcrumb_path(b))
                else {
                    continue;
                };
                let md = &entry["metadata"];
                let status = if !stream_on {
                    "excluded"
                } else if md["inclusion"] == "automatic" {
                    "automatic"
                } else if md["selected"] == json!(true) {
                    "selected"
                } else {
                    "excluded"
                };
                out.push(PropertyStatus {
                    stream: id.clone(),
                    property: path.join("."),
                    status,
                });
            }
        }
        out
    }
}

/// Whether the stream's own metadata entry says `selected: true`.
fn stream_selected(stream: &Map<String, Value>) -> bool {
    stream["metadata"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["breadcrumb"].as_array().is_some_and(|b| b.is_empty()))
        .is_some_and(|e| e["metadata"]["selected"] == json!(true))
}

fn stream_id(stream: &Map<String, Value>) -> String {
    stream
        .get("tap_stream_id")
        .or_else(|| stream.get("stream"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn metadata_entries(
    stream: &mut Map<String, Value>,
) -> impl Iterator<Item = &mut Map<String, Value>> {
    stream
        .get_mut("metadata")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

fn entry_metadata(entry: &mut Map<String, Value>) -> &mut Map<String, Value> {
    let md = entry.entry("metadata").or_insert_with(|| json!({}));
    if !md.is_object() {
        *md = json!({});
    }
    md.as_object_mut().expect("just made an object")
}

/// `None` for the stream's own entry, else the property path of the breadcrumb.
fn property_path(entry: &Map<String, Value>) -> Option<Vec<String>> {
    entry
        .get("breadcrumb")?
        .as_array()
        .and_then(|b| breadcrumb_path(b))
}

fn breadcrumb_path(b: &[Value]) -> Option<Vec<String>> {
    if b.is_empty() {
        return None;
    }
    Some(
        b.iter()
            .skip(1)
            .step_by(2)
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
    )
}

/// Adds metadata entries for the stream and for every schema property that lacks one, so
/// selection can mark them (taps may only list some).
fn ensure_property_metadata(stream: &mut Map<String, Value>) {
    let mut paths = vec![Vec::new()];
    if let Some(props) = stream
        .get("schema")
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
    {
        collect_paths(props, &mut Vec::new(), &mut paths);
    }
    let list = stream.entry("metadata").or_insert_with(|| json!([]));
    if !list.is_array() {
        *list = json!([]);
    }
    let list = list.as_array_mut().expect("just made a list");
    for path in paths {
        let breadcrumb: Vec<Value> = path
            .iter()
            .flat_map(|p: &String| [json!("properties"), json!(p)])
            .collect();
        let exists = list
            .iter()
            .any(|e| e["breadcrumb"] == Value::Array(breadcrumb.clone()));
        if !exists {
            list.push(json!({"breadcrumb": breadcrumb, "metadata": {}}));
        }
    }
}

fn collect_paths(props: &Map<String, Value>, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    for (name, schema) in props {
        prefix.push(name.clone());
        out.push(prefix.clone());
        if let Some(inner) = schema.get("properties").and_then(Value::as_object) {
            collect_paths(inner, prefix, out);
        }
        prefix.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::new(json!({"streams": [
            {"tap_stream_id": "users", "stream": "users",
             "schema": {"properties": {"id": {"type": "integer"}, "name": {"type": "string"},
                        "secret": {"type": "string"}, "addr": {"properties": {"city": {}, "zip": {}}}}},
             "metadata": [
                {"breadcrumb": [], "metadata": {"selected-by-default": true}},
                {"breadcrumb": ["properties", "id"], "metadata": {"inclusion": "automatic"}},
                {"breadcrumb": ["properties", "secret"], "metadata": {"inclusion": "unsupported"}}
             ]},
            {"tap_stream_id": "orders", "stream": "orders", "schema": {"properties": {"id": {}}}, "metadata": []}
        ]}))
        .unwrap()
    }

    #[test]
    fn only_keeps_the_share_selected() {
        let mut c = catalog();
        c.apply(&rules(&["*.*"])).unwrap();
        assert_eq!(c.selected_streams(), ["users", "orders"]);
        let share = c.only(&["orders".to_string()]);
        assert_eq!(share.selected_streams(), ["orders"]);
        assert_eq!(c.only(&[]).selected_streams(), Vec::<String>::new());
        // Properties keep their selection: the share extracts the same columns.
        let statuses = |c: &Catalog| {
            c.property_statuses()
                .into_iter()
                .filter(|p| p.stream == "orders")
                .collect::<Vec<_>>()
        };
        assert_eq!(statuses(&share), statuses(&c));
    }

    fn rules(select: &[&str]) -> Rules {
        Rules {
            select: select.iter().map(|s| s.to_string()).collect(),
            ..Rules::default()
        }
    }

    #[test]
    fn select_marks_streams_and_properties() {
        let mut c = catalog();
        c.apply(&rules(&["users.name", "users.addr.city"])).unwrap();
        assert_eq!(c.selected_streams(), vec!["users"]);
        let st: Vec<_> = c
            .property_statuses()
            .into_iter()
            .map(|p| (p.property, p.status))
            .collect();
        assert!(st.contains(&("id".into(), "automatic")));
        assert!(st.contains(&("name".into(), "selected")));
        assert!(st.contains(&("secret".into(), "excluded")));
        assert!(st.contains(&("addr".into(), "selected")));
        assert!(st.contains(&("addr.zip".into(), "excluded")));
    }

    #[test]
    fn unsupported_is_never_selected() {
        let mut c = catalog();
        c.apply(&rules(&["users.*"])).unwrap();
        let secret = c
            .property_statuses()
            .into_iter()
            .find(|p| p.property == "secret")
            .unwrap();
        assert_eq!(secret.status, "excluded");
    }

    #[test]
    fn metadata_and_schema_rules_apply() {
        let mut c = catalog();
        let r = Rules {
            select: vec!["*".into()],
            metadata: Some(
                json!({"use*": {"replication-method": "INCREMENTAL", "name": {"is-replication-key": true}}}),
            ),
            schema: Some(json!({"orders": {"total": {"type": "number"}}})),
            ..Rules::default()
        };
        c.apply(&r).unwrap();
        let users = &c.0["streams"][0]["metadata"];
        assert!(
            users
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["metadata"]["replication-method"] == "INCREMENTAL")
        );
        assert_eq!(
            c.0["streams"][1]["schema"]["properties"]["total"]["type"],
            "number"
        );
    }

    #[test]
    fn select_filter_drops_streams() {
        let mut c = catalog();
        let r = Rules {
            select: vec!["*".into()],
            select_filter: vec!["orders".into()],
            ..Rules::default()
        };
        c.apply(&r).unwrap();
        assert_eq!(c.selected_streams(), vec!["orders"]);
    }
}
