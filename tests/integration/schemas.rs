//! Host-ready listings: every input and output schema passes a lint of what the strictest
//! clients and function-calling dialects reject (OpenAI- and Gemini-style), descriptions are
//! clean single lines, every tool, prompt and the server have a human title, and the server
//! sends its icon.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::common::{self, command, connect};

/// Keywords a schema may use: those of Gemini's function-declaration subset (an OpenAPI 3.0
/// subset), which OpenAI-style function schemas accept too, plus `additionalProperties`, which
/// every input object must carry so a misspelt argument is refused.
const KEYWORDS: &[&str] = &[
    "type",
    "description",
    "title",
    "enum",
    "format",
    "properties",
    "required",
    "items",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "pattern",
    "default",
    "additionalProperties",
];
const TYPES: &[&str] = &["string", "integer", "number", "boolean", "array", "object"];

#[derive(Clone, Copy, PartialEq)]
enum Side {
    Input,
    Output,
}

/// What a strict client would reject in `schema`, one line per problem, each with its path.
fn lint(schema: &Value, path: &str, side: Side, problems: &mut Vec<String>) {
    let mut bad = |why: String| problems.push(format!("{path}: {why}"));
    let Some(map) = schema.as_object() else {
        bad(format!("not a schema object: {schema}"));
        return;
    };
    for key in map.keys() {
        if !KEYWORDS.contains(&key.as_str()) {
            bad(format!("keyword `{key}` is outside the portable subset"));
        }
    }
    let ty = match map.get("type") {
        Some(Value::String(t)) if TYPES.contains(&t.as_str()) => t.as_str(),
        Some(Value::Array(_)) => {
            bad("`type` is a union (an array)".into());
            ""
        }
        Some(other) => {
            bad(format!("`type` {other} is not a single JSON type"));
            ""
        }
        None => {
            bad("no `type`".into());
            ""
        }
    };
    if let Some(values) = map.get("enum") {
        let ok = values
            .as_array()
            .is_some_and(|v| !v.is_empty() && v.iter().all(Value::is_string));
        if ty != "string" || !ok {
            bad(format!(
                "`enum` {values} must be non-empty strings on a string"
            ));
        }
    }
    if let Some(format) = map.get("format") {
        let known: &[&str] = match ty {
            "string" => &["date-time"],
            "integer" => &["int32", "int64"],
            "number" => &["float", "double"],
            _ => &[],
        };
        if !format.as_str().is_some_and(|f| known.contains(&f)) {
            bad(format!("`format` {format} is unknown to Gemini for {ty}"));
        }
    }
    for (key, on) in [
        ("minimum", ["integer", "number"]),
        ("maximum", ["integer", "number"]),
        ("minItems", ["array", "array"]),
        ("maxItems", ["array", "array"]),
        ("minLength", ["string", "string"]),
        ("maxLength", ["string", "string"]),
    ] {
        if map.contains_key(key) && !on.contains(&ty) {
            bad(format!("`{key}` on a {ty}"));
        }
    }
    if let Some(d) = map.get("description") {
        match d.as_str() {
            Some(d) if !d.trim().is_empty() && !d.contains('\n') && d.trim() == d => {}
            _ => bad(format!("description {d} is not one clean line")),
        }
    }
    let properties = map.get("properties").and_then(Value::as_object);
    if let Some(required) = map.get("required") {
        let listed = |r: &Value| {
            r.as_str()
                .is_some_and(|r| properties.is_some_and(|p| p.contains_key(r)))
        };
        if !required.as_array().is_some_and(|r| r.iter().all(listed)) {
            bad(format!("`required` {required} names a missing property"));
        }
    }
    match map.get("additionalProperties") {
        None if side == Side::Input && ty == "object" => {
            bad("input object without `additionalProperties: false`".into())
        }
        Some(v) if !v.is_boolean() || (side == Side::Input && v != &json!(false)) => {
            bad(format!("`additionalProperties` {v}"))
        }
        _ => {}
    }
    // Gemini rejects an array without items and (below the root) an object without
    // properties in a function declaration; output schemas are never one, and name only the
    // top-level fields (see src/tools/schema.rs), so this holds for inputs.
    if side == Side::Input {
        if ty == "array" && !map.contains_key("items") {
            bad("array without `items`".into());
        }
        if ty == "object"
            && path.contains(".properties.")
            && properties.is_none_or(|p| p.is_empty())
        {
            bad("nested object without properties".into());
        }
    }
    for (name, sub) in properties.into_iter().flatten() {
        lint(sub, &format!("{path}.properties.{name}"), side, problems);
    }
    if let Some(items) = map.get("items") {
        lint(items, &format!("{path}.items"), side, problems);
    }
}

fn lint_all(schema: &Value, path: &str, side: Side) -> Vec<String> {
    let mut problems = Vec::new();
    lint(schema, path, side, &mut problems);
    problems
}

/// A description is one or two sentences on one line.
fn clean_sentences(what: &str, d: &str) {
    assert!(
        !d.contains('\n') && d.trim() == d && d.ends_with('.'),
        "{what}: {d:?}"
    );
    let sentences = d.matches(". ").count() + 1;
    assert!(sentences <= 2, "{what} has {sentences} sentences: {d}");
}

#[test]
fn the_lint_catches_what_strict_clients_reject() {
    // What tools/list used to say for upload_file.visibility and list_messages.next_cursor.
    let old_input = json!({"type": "object", "properties": {
        "visibility": {"description": "Default public.", "enum": ["public", "private", null], "type": "string"}}});
    let p = lint_all(&old_input, "upload_file.inputSchema", Side::Input);
    assert!(
        p.iter().any(|p| p.contains("additionalProperties")),
        "{p:?}"
    );
    assert!(p.iter().any(|p| p.contains("`enum`")), "{p:?}");
    let old_output = json!({"type": "object", "properties": {
        "next_cursor": {"type": ["string", "null"]}}, "required": ["next_cursor"]});
    let p = lint_all(&old_output, "list_messages.outputSchema", Side::Output);
    assert_eq!(
        p,
        ["list_messages.outputSchema.properties.next_cursor: `type` is a union (an array)"]
    );
    for (schema, needle) in [
        (
            json!({"anyOf": [{"type": "string"}, {"type": "null"}]}),
            "`anyOf`",
        ),
        (json!({"$ref": "#/$defs/x"}), "`$ref`"),
        (json!({"type": "string", "format": "uri"}), "`format`"),
        (json!({"type": "array"}), "without `items`"),
        (json!({"type": "integer", "enum": [1, 2]}), "`enum`"),
        (
            json!({"type": "string", "description": "wrapped\nmid-sentence"}),
            "one clean line",
        ),
    ] {
        let p = lint_all(&schema, "x", Side::Input);
        assert!(p.iter().any(|p| p.contains(needle)), "{schema}: {p:?}");
    }
}

#[tokio::test]
async fn every_input_and_output_schema_passes_the_lint_and_reads_cleanly() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    let mut problems = Vec::new();
    for tool in client.list_all_tools().await.unwrap() {
        let name = tool.name.as_ref();
        let input = Value::Object(tool.input_schema.as_ref().clone());
        problems.extend(lint_all(
            &input,
            &format!("{name}.inputSchema"),
            Side::Input,
        ));
        let output = Value::Object(
            tool.output_schema
                .clone()
                .expect("outputSchema")
                .as_ref()
                .clone(),
        );
        problems.extend(lint_all(
            &output,
            &format!("{name}.outputSchema"),
            Side::Output,
        ));
        clean_sentences(name, tool.description.as_deref().unwrap_or(""));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    for p in client.list_all_prompts().await.unwrap() {
        clean_sentences(&p.name, p.description.as_deref().unwrap_or(""));
        for a in p.arguments.iter().flatten() {
            let d = a.description.as_deref().unwrap_or("");
            assert!(
                !d.is_empty() && !d.contains('\n'),
                "{}.{}: {d:?}",
                p.name,
                a.name
            );
        }
    }
}

#[tokio::test]
async fn every_tool_prompt_and_the_server_have_a_title_and_the_server_its_icon() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    for tool in client.list_all_tools().await.unwrap() {
        let (name, title) = (tool.name.as_ref(), tool.title.as_deref().unwrap_or(""));
        assert!(
            !title.is_empty() && title != name && !title.contains('_'),
            "{name}: title {title:?}"
        );
    }
    let prompts = client.list_all_prompts().await.unwrap();
    assert_eq!(prompts.len(), 3);
    for p in &prompts {
        let title = p.title.as_deref().unwrap_or("");
        assert!(
            !title.is_empty() && !title.contains('_'),
            "{}: {title:?}",
            p.name
        );
    }

    let info = client.peer_info().unwrap().server_info.clone().unwrap();
    assert_eq!(info.name, "whop-chat-mcp");
    assert_eq!(info.title.as_deref(), Some("Whop Chat"));
    assert!(
        info.website_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://")),
        "{info:?}"
    );
    let icons = info.icons.expect("icons");
    let assets = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    for (icon, file, mime) in [
        (&icons[0], "icon.png", "image/png"),
        (&icons[1], "icon.svg", "image/svg+xml"),
    ] {
        assert_eq!(icon.mime_type.as_deref(), Some(mime));
        let data = icon
            .src
            .strip_prefix(&format!("data:{mime};base64,"))
            .expect("a data URI");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap();
        assert_eq!(bytes, std::fs::read(assets.join(file)).unwrap(), "{file}");
    }
    assert_eq!(icons[0].sizes.as_deref(), Some(&["512x512".to_owned()][..]));
}
