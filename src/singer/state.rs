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
    fn merge_keeps_other_streams() {
        let mut doc = StateDoc::completed(json!({"bookmarks": {"a": 1, "b": 1}}));
        doc.apply(&json!({"bookmarks": {"b": 2}}), true);
        assert_eq!(
            doc.singer_state().unwrap(),
            json!({"bookmarks": {"a": 1, "b": 2}})
        );
    }
}
