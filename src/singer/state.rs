//! Singer state documents as Meltano stores them, and the rules for combining them.
//!
//! A stored state is `{"completed": {"singer_state": S}, "partial": {...}}`; what a tap
//! receives is `partial` deep-merged over `completed`.

use serde_json::{Map, Value, json};

/// A stored state document (Meltano's JSON layout, byte-compatible).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StateDoc {
    pub completed: Map<String, Value>,
    pub partial: Map<String, Value>,
}

impl StateDoc {
    /// Parses a stored document. A bare Singer state (no `completed`/`partial`) is taken as
    /// the completed state, which is what `eltr state set` users mean.
    pub fn from_json(v: &Value) -> Option<StateDoc> {
        let obj = v.as_object()?;
        if obj.contains_key("completed") || obj.contains_key("partial") {
            Some(StateDoc {
                completed: obj
                    .get("completed")?
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                partial: obj
                    .get("partial")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default(),
            })
        } else if obj.contains_key("singer_state") {
            Some(StateDoc {
                completed: obj.clone(),
                partial: Map::new(),
            })
        } else {
            Some(StateDoc::completed(v.clone()))
        }
    }

    /// A document whose completed state is the Singer state `singer_state`.
    pub fn completed(singer_state: Value) -> StateDoc {
        let mut completed = Map::new();
        completed.insert("singer_state".into(), singer_state);
        StateDoc {
            completed,
            partial: Map::new(),
        }
    }

    /// The document as stored.
    pub fn to_json(&self) -> Value {
        json!({"completed": self.completed, "partial": self.partial})
    }

    /// The state a tap resumes from: `partial` merged over `completed`.
    pub fn effective(&self) -> Value {
        let mut merged = Value::Object(self.completed.clone());
        merge(&mut merged, &Value::Object(self.partial.clone()));
        merged
    }

    /// The Singer state inside the effective state, if any.
    pub fn singer_state(&self) -> Option<Value> {
        self.effective()
            .get("singer_state")
            .cloned()
            .filter(|v| !v.is_null())
    }

    /// True when there is nothing to resume from.
    pub fn is_empty(&self) -> bool {
        self.singer_state()
            .is_none_or(|s| s.as_object().is_some_and(|o| o.is_empty()))
    }

    /// Applies a state the target confirmed. Overwrite: it becomes the completed state.
    /// Merge: it is merged into `partial`, keeping bookmarks of streams it does not mention.
    pub fn apply(&mut self, singer_state: &Value, merge_into_partial: bool) {
        if merge_into_partial {
            let mut partial = Value::Object(std::mem::take(&mut self.partial));
            merge(&mut partial, &json!({"singer_state": singer_state}));
            self.partial = partial.as_object().cloned().unwrap_or_default();
        } else {
            *self = StateDoc::completed(singer_state.clone());
        }
    }
}

/// Why a Singer state cannot be shared out between copies of a tap that each sync some of
/// its streams (`--split-streams`), or `None` when it can: its only key is `bookmarks`, an
/// object of one bookmark per stream (a `currently_syncing` of null is allowed). Anything
/// else (`currently_syncing` naming a stream, a cursor shared by all streams) has one value
/// for the whole tap, which no single copy owns.
pub fn split_shape_problem(state: &Value) -> Option<String> {
    let Some(obj) = state.as_object() else {
        return Some("its state is not a JSON object".into());
    };
    for (key, value) in obj {
        match key.as_str() {
            "bookmarks" if value.is_object() => {}
            "bookmarks" => return Some("its state's `bookmarks` is not an object".into()),
            "currently_syncing" if value.is_null() => {}
            "currently_syncing" => {
                return Some(format!(
                    "its state says `currently_syncing: {value}`, a position of the whole tap rather than of one stream"
                ));
            }
            other => {
                return Some(format!(
                    "its state has the top-level key '{other}' besides `bookmarks`, which no single copy of the tap owns"
                ));
            }
        }
    }
    None
}

/// Merges into `combined` what one copy of a split tap confirmed: the bookmark of each of
/// `streams` (the copy's share) that `confirmed` holds replaces the one in `combined`, whole,
/// as the next state of a tap syncing that stream alone would. Everything else the copy
/// printed should be what it was given (`given`): a copy carries the other streams'
/// bookmarks over unchanged. Returns what it changed that is not its own (and was left out
/// of `combined`): a bookmark of a stream outside its share, a top-level key.
pub fn take_bookmarks(
    combined: &mut Value,
    confirmed: &Value,
    given: &Value,
    streams: &[String],
) -> Vec<String> {
    let mut foreign = Vec::new();
    let Some(obj) = confirmed.as_object() else {
        return vec!["a state that is not a JSON object".into()];
    };
    for (key, value) in obj {
        if key == "bookmarks" {
            continue;
        }
        let carried = given.get(key).unwrap_or(&Value::Null) == value;
        if !carried {
            foreign.push(format!("the top-level key '{key}'"));
        }
    }
    let empty = Map::new();
    let bookmarks = obj
        .get("bookmarks")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    for (stream, bookmark) in bookmarks {
        if streams.contains(stream) {
            if !combined.is_object() {
                *combined = json!({});
            }
            if !combined["bookmarks"].is_object() {
                combined["bookmarks"] = json!({});
            }
            combined["bookmarks"][stream] = bookmark.clone();
        } else if given.pointer(&format!("/bookmarks/{}", pointer_escape(stream))) != Some(bookmark)
        {
            foreign.push(format!(
                "the bookmark of stream '{stream}', not in its share"
            ));
        }
    }
    foreign
}

/// Puts the bookmarks of `state` in the order one tap would have written them: the streams
/// of `given` (the state it started from) first, as given, then the others in `streams`
/// (catalog) order. The merged state of a split run is then the same text as a sequential
/// run's, whichever copy confirmed first.
pub fn order_bookmarks(state: &mut Value, given: &Value, streams: &[String]) {
    let Some(bookmarks) = state.get_mut("bookmarks").and_then(Value::as_object_mut) else {
        return;
    };
    let mut old = std::mem::take(bookmarks);
    let first = given
        .get("bookmarks")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|b| b.keys());
    for key in first.chain(streams) {
        if let Some(v) = old.remove(key) {
            bookmarks.insert(key.clone(), v);
        }
    }
    bookmarks.append(&mut old);
}

/// A JSON pointer token for `key` (`~` and `/` escaped).
fn pointer_escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Deep merge: objects recursively, anything else replaced by `over`.
pub fn merge(base: &mut Value, over: &Value) {
    crate::vocab::json::deep_merge(base, over)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_wins_over_completed() {
        let doc = StateDoc::from_json(&json!({
            "completed": {"singer_state": {"bookmarks": {"a": {"v": 1}, "b": {"v": 1}}}},
            "partial": {"singer_state": {"bookmarks": {"a": {"v": 2}}}}
        }))
        .unwrap();
        assert_eq!(
            doc.singer_state().unwrap(),
            json!({"bookmarks": {"a": {"v": 2}, "b": {"v": 1}}})
        );
    }

    #[test]
    fn overwrite_replaces_and_resets_partial() {
        let mut doc = StateDoc::completed(json!({"bookmarks": {"a": 1}}));
        doc.partial.insert("singer_state".into(), json!({"x": 1}));
        doc.apply(&json!({"bookmarks": {"b": 2}}), false);
        assert_eq!(
            doc.to_json(),
            json!({"completed": {"singer_state": {"bookmarks": {"b": 2}}}, "partial": {}})
        );
    }

    #[test]
    fn only_bookmark_states_can_be_split() {
        assert_eq!(
            split_shape_problem(&json!({"bookmarks": {"a": {"v": 1}}})),
            None
        );
        assert_eq!(split_shape_problem(&json!({})), None);
        assert_eq!(
            split_shape_problem(&json!({"bookmarks": {}, "currently_syncing": null})),
            None
        );
        assert!(
            split_shape_problem(&json!({"currently_syncing": "a"}))
                .unwrap()
                .contains("currently_syncing")
        );
        assert!(
            split_shape_problem(&json!({"bookmarks": {}, "cursor": 5}))
                .unwrap()
                .contains("'cursor'")
        );
        assert!(split_shape_problem(&json!([1])).is_some());
    }

    #[test]
    fn each_copy_gives_the_bookmarks_of_its_own_streams() {
        let given = json!({"bookmarks": {"a": {"v": 1}, "b": {"v": 1}, "gone": {"v": 9}}});
        let mut combined = given.clone();
        // Copy 1 owns `a`; it carries `b` and `gone` over as it was given them.
        let one = json!({"bookmarks": {"a": {"v": 5}, "b": {"v": 1}, "gone": {"v": 9}}});
        assert!(take_bookmarks(&mut combined, &one, &given, &["a".into()]).is_empty());
        // Copy 2 owns `b`; its older view of `a` does not undo copy 1's bookmark, and a
        // bookmark replaces the old one whole (no key of the old one survives).
        let two = json!({"bookmarks": {"a": {"v": 1}, "b": {"w": 7}, "gone": {"v": 9}}});
        assert!(take_bookmarks(&mut combined, &two, &given, &["b".into()]).is_empty());
        assert_eq!(
            combined,
            json!({"bookmarks": {"a": {"v": 5}, "b": {"w": 7}, "gone": {"v": 9}}})
        );
    }

    #[test]
    fn what_a_copy_does_not_own_is_reported_and_left_out() {
        let given = json!({"bookmarks": {"a": {"v": 1}, "b": {"v": 1}}});
        let mut combined = given.clone();
        let moved = json!({"bookmarks": {"a": {"v": 2}, "b": {"v": 3}}, "currently_syncing": "a"});
        let foreign = take_bookmarks(&mut combined, &moved, &given, &["a".into()]);
        assert_eq!(foreign.len(), 2, "{foreign:?}");
        assert_eq!(
            combined,
            json!({"bookmarks": {"a": {"v": 2}, "b": {"v": 1}}})
        );
        // From nothing: the bookmarks object is made.
        let mut fresh = json!({});
        let first = json!({"bookmarks": {"a": {"v": 1}}});
        assert!(take_bookmarks(&mut fresh, &first, &json!({}), &["a".into()]).is_empty());
        assert_eq!(fresh, first);
    }

    #[test]
    fn bookmarks_come_in_the_order_one_tap_writes_them() {
        let given = json!({"bookmarks": {"z": 1}});
        let mut state = json!({"bookmarks": {"b": 2, "z": 1, "x": 0, "a": 3}});
        order_bookmarks(&mut state, &given, &["a".into(), "b".into()]);
        let keys: Vec<&String> = state["bookmarks"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["z", "a", "b", "x"]);
    }

    #[test]
    fn merge_keeps_other_streams() {
        let mut doc = StateDoc::completed(json!({"bookmarks": {"a": 1, "b": 1}}));
        doc.apply(&json!({"bookmarks": {"b": 2}}), true);
        assert_eq!(
            doc.singer_state().unwrap(),
            json!({"bookmarks": {"a": 1, "b": 2}})
        );
    }
}
