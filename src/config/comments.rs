//! Comments in config files: any object key that starts with `_comment` (`"_comment"`,
//! `"_comment_token_env"`) is a note for people and is ignored by every check and by the runtime.
//! JSON has no comments; this is how `ss init` explains each key in the files it writes, and how
//! an operator leaves a note beside a setting. The keys are dropped before the schema check and
//! before the typed read, so a comment can sit in any object, even one whose keys are ids.

use serde_json::Value;

/// The prefix that makes a key a comment.
pub const PREFIX: &str = "_comment";

/// Whether `key` is a comment.
pub fn is_comment(key: &str) -> bool {
    key.starts_with(PREFIX)
}

/// Whether `text` may hold a comment key (a cheap test before a second parse).
pub fn may_have_comments(text: &str) -> bool {
    text.contains(PREFIX)
}

/// Removes every comment key from `value`, at any depth.
pub fn strip(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|key, _| !is_comment(key));
            map.values_mut().for_each(strip);
        }
        Value::Array(items) => items.iter_mut().for_each(strip),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn comment_keys_go_at_any_depth_and_nothing_else_does() {
        let mut value = json!({
            "_comment": "top",
            "creators": [{"id": "demo", "_comment_id": "lowercase", "platforms": {"_comment": "x", "sim": {"enabled": true}}}],
            "comment": "kept: not a comment key",
            "text": "_comment inside a value is kept"
        });
        strip(&mut value);
        assert_eq!(
            value,
            json!({
                "creators": [{"id": "demo", "platforms": {"sim": {"enabled": true}}}],
                "comment": "kept: not a comment key",
                "text": "_comment inside a value is kept"
            })
        );
    }
}
