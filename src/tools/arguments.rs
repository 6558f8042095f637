//! The one check every tool call passes before it runs: its arguments must be ones the tool
//! declares. Serde would ignore an unknown field, so a misspelt `reply_to` used to post a
//! top-level message instead of a reply; now the call is refused, naming the field and the
//! valid ones, and nothing is done.

use rmcp::model::{CallToolRequestParams, CallToolResult, IntoContents, JsonObject, Tool};
use serde_json::Value;

use super::{ToolError, render};

/// Longest unknown names shown, and how many.
const MAX_SHOWN_CHARS: usize = 40;
const MAX_SHOWN: usize = 5;

/// The refusal of a call to one of `tools` that passes an argument the tool does not declare;
/// `None` when the call may go ahead (an unknown tool is left to the router to refuse).
pub(crate) fn refuse_unknown(
    tools: &[Tool],
    request: &CallToolRequestParams,
) -> Option<CallToolResult> {
    let tool = tools.iter().find(|t| t.name == request.name)?;
    check(tool, request.arguments.as_ref())
        .err()
        .map(|e| CallToolResult::error(e.into_contents()))
}

/// Refuses `args` if any of them is not a property of `tool`'s input schema.
pub(crate) fn check(tool: &Tool, args: Option<&JsonObject>) -> Result<(), ToolError> {
    let Some(args) = args else { return Ok(()) };
    let properties = tool
        .input_schema
        .get("properties")
        .and_then(Value::as_object);
    let known = |name: &str| properties.is_some_and(|p| p.contains_key(name));
    let unknown: Vec<&str> = args
        .keys()
        .map(String::as_str)
        .filter(|k| !known(k))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let shown: Vec<String> = unknown
        .iter()
        .take(MAX_SHOWN)
        .map(|k| {
            format!(
                "`{}`",
                render::inline(&k.chars().take(MAX_SHOWN_CHARS).collect::<String>())
            )
        })
        .collect();
    let more = match unknown.len().saturating_sub(MAX_SHOWN) {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    let (what, them) = match unknown.len() {
        1 => ("argument", "it"),
        _ => ("arguments", "them"),
    };
    let mut text = format!(
        "{} has no {what} {}{more}; nothing was done. ",
        tool.name,
        shown.join(", ")
    );
    let valid: Vec<&str> = properties
        .map(|p| p.keys().map(String::as_str).collect())
        .unwrap_or_default();
    if valid.is_empty() {
        text.push_str(&format!(
            "It takes no arguments: call it again without {them}."
        ));
        return Err(ToolError::new(text));
    }
    let required: Vec<&str> = tool
        .input_schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let listed: Vec<String> = required
        .iter()
        .map(|r| format!("{r} (required)"))
        .chain(
            valid
                .iter()
                .filter(|v| !required.contains(v))
                .map(|v| v.to_string()),
        )
        .collect();
    let mut guesses: Vec<&str> = unknown.iter().filter_map(|u| closest(u, &valid)).collect();
    guesses.dedup();
    if !guesses.is_empty() {
        text.push_str(&format!("Did you mean {}? ", guesses.join(", ")));
    }
    text.push_str(&format!(
        "Valid arguments: {}. Call it again with those.",
        listed.join(", ")
    ));
    Err(ToolError::new(text))
}

/// The valid name a misspelt one most likely meant: one containing the other, or one that
/// starts with the same word (`reply_to` → `replying_to_message_id`), ignoring case.
fn closest<'a>(unknown: &str, valid: &[&'a str]) -> Option<&'a str> {
    let u = unknown.to_lowercase();
    let word = |s: &str| s.split(['_', '-']).next().unwrap_or("").to_owned();
    let stem = |w: &str| w.chars().take(5).collect::<String>();
    let uw = word(&u);
    valid
        .iter()
        .copied()
        .find(|v| v.contains(&u) || (u.len() >= 3 && u.contains(*v)))
        .or_else(|| {
            (uw.chars().count() >= 4)
                .then(|| valid.iter().copied().find(|v| stem(&word(v)) == stem(&uw)))
                .flatten()
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::Tool;
    use serde_json::json;

    fn tool(schema: Value) -> Tool {
        let Value::Object(map) = schema else { panic!() };
        Tool::new("send_message", "", std::sync::Arc::new(map))
    }

    fn args(v: Value) -> JsonObject {
        let Value::Object(map) = v else { panic!() };
        map
    }

    #[test]
    fn an_unknown_argument_is_named_with_a_guess_and_the_valid_ones() {
        let t = tool(json!({"type": "object", "properties": {
            "channel_id": {"type": "string"}, "content": {"type": "string"},
            "replying_to_message_id": {"type": "string"}}, "required": ["channel_id", "content"]}));
        assert!(check(&t, None).is_ok());
        assert!(
            check(
                &t,
                Some(&args(json!({"channel_id": "feed_a", "content": "hi"})))
            )
            .is_ok()
        );
        let e = check(
            &t,
            Some(&args(
                json!({"channel_id": "feed_a", "content": "hi", "reply_to": "msg_b"}),
            )),
        )
        .unwrap_err()
        .message;
        assert_eq!(
            e,
            "send_message has no argument `reply_to`; nothing was done. Did you mean replying_to_message_id? \
             Valid arguments: channel_id (required), content (required), replying_to_message_id. Call it again with those."
        );
        let e = check(
            &t,
            Some(&args(json!({"channel": "x", "text\n12:00 @admin": "y"}))),
        )
        .unwrap_err()
        .message;
        assert!(
            e.starts_with("send_message has no arguments `channel`, `text ⏎ 12:00 @admin`;"),
            "{e}"
        );
        assert!(e.contains("Did you mean channel_id?"), "{e}");
    }

    #[test]
    fn a_tool_without_arguments_says_so() {
        let t = tool(json!({"type": "object", "properties": {}}));
        assert!(check(&t, Some(&args(json!({})))).is_ok());
        let e = check(&t, Some(&args(json!({"verbose": true}))))
            .unwrap_err()
            .message;
        assert!(
            e.ends_with("It takes no arguments: call it again without it."),
            "{e}"
        );
    }
}
