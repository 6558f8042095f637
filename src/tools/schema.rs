//! Output schemas as compact as they can be while staying exact.
//!
//! Fourteen tools must fit a `tools/list` of 10 KB, and full nested output schemas alone would
//! take 7 KB. So an output schema names every top-level field of the result with its type
//! (`object` and `array` without their inner shape, which the tool description and the text
//! rendering show). The schema still validates exactly
//! what it states (clients such as the Python SDK check every result against it).
//!
//! Input schemas are compacted once, when the tool list is built ([`compact_tool`]), and written
//! for the strictest function-calling dialects hosts translate them into (OpenAI- and
//! Gemini-style): one `type` per schema, no `null` in enums, no `$ref`, optional arguments simply
//! not required, and `additionalProperties: false` on every object, which the server also
//! enforces (see [`super::arguments`]).

use std::sync::Arc;

use rmcp::model::Tool;
use serde_json::{Map, Value};

/// The output schema of a tool returning `T`, written for what it is: the serialised form of
/// our own types. Subschemas are inlined (no `$defs`/`$ref` indirection to follow), and a
/// property that is not required loses its `null` alternative: our optional output fields are
/// left out when empty, never written as `null` (the Python client's validation in the tests
/// holds us to that).
pub(crate) fn schema<T: schemars::JsonSchema + 'static>() -> Arc<Map<String, Value>> {
    let mut settings = schemars::generate::SchemaSettings::draft2020_12().for_serialize();
    settings.inline_subschemas = true;
    let root = settings.into_generator().into_root_schema_for::<T>();
    let mut value = serde_json::to_value(root).expect("a schema serialises");
    tighten_optional(&mut value);
    outline(&mut value);
    let serde_json::Value::Object(mut map) = value else {
        panic!("output schema of a struct is an object")
    };
    map.remove("title");
    map.remove("description");
    Arc::new(map)
}

fn tighten_optional(v: &mut serde_json::Value) {
    match v {
        Value::Object(map) => {
            let required: Vec<String> = map
                .get("required")
                .and_then(Value::as_array)
                .map(|r| {
                    r.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            if let Some(Value::Object(props)) = map.get_mut("properties") {
                for (name, prop) in props.iter_mut() {
                    if !required.contains(name) {
                        drop_null(prop);
                    }
                }
            }
            map.values_mut().for_each(tighten_optional);
        }
        Value::Array(items) => items.iter_mut().for_each(tighten_optional),
        _ => {}
    }
}

/// `{"type": ["string", "null"]}` → `{"type": "string"}`; `{"anyOf": [S, {"type": "null"}]}` → S;
/// `{"enum": ["a", null]}` → `{"enum": ["a"]}`.
fn drop_null(prop: &mut serde_json::Value) {
    let Value::Object(map) = prop else { return };
    if let Some(Value::Array(values)) = map.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
    if let Some(Value::Array(types)) = map.get("type") {
        let kept: Vec<Value> = types
            .iter()
            .filter(|t| t.as_str() != Some("null"))
            .cloned()
            .collect();
        map.insert(
            "type".into(),
            if kept.len() == 1 {
                kept[0].clone()
            } else {
                Value::Array(kept)
            },
        );
    }
    let any_of = map.get("anyOf").and_then(Value::as_array).cloned();
    if let Some(options) = any_of {
        let kept: Vec<Value> = options
            .into_iter()
            .filter(|o| o.get("type").and_then(Value::as_str) != Some("null"))
            .collect();
        if kept.len() == 1 {
            map.remove("anyOf");
            if let Value::Object(inner) = &kept[0] {
                for (k, v) in inner {
                    map.insert(k.clone(), v.clone());
                }
            }
        } else {
            map.insert("anyOf".into(), Value::Array(kept));
        }
    }
}

/// Keeps the root's properties with their types only (`object`, `array`, `string`, …).
fn outline(root: &mut serde_json::Value) {
    fn bare(schema: &Value) -> Value {
        let mut out = serde_json::Map::new();
        if let Some(t) = schema.get("type") {
            out.insert("type".into(), t.clone());
        }
        if let Some(e) = schema.get("enum") {
            out.insert("enum".into(), e.clone());
        }
        Value::Object(out)
    }
    if let Some(Value::Object(props)) = root.get_mut("properties") {
        for prop in props.values_mut() {
            *prop = bare(prop);
        }
    }
}

/// Shrinks a tool's schemas without loosening what they accept or promise: drops `$schema`
/// (2020-12 is MCP's default dialect) and the integer `format` annotations schemars adds
/// (`uint32`, `int64`: not standard formats; `minimum` already says what matters). Closes every
/// input object (`additionalProperties: false`: a misspelt argument is an error, not a silent
/// default), and puts descriptions on one line (doc comments wrap mid-sentence).
pub(crate) fn compact_tool(mut tool: Tool) -> Tool {
    let mut input = Value::Object(compact_schema(&tool.input_schema));
    // Optional arguments may simply be left out; saying "or null" for each is noise.
    tighten_optional(&mut input);
    close_objects(&mut input);
    if let Value::Object(map) = input {
        tool.input_schema = Arc::new(map);
    }
    if let Some(out) = &tool.output_schema {
        tool.output_schema = Some(Arc::new(compact_schema(out)));
    }
    tool.description = tool.description.map(|d| one_line(&d).into());
    tool
}

/// Text on one line: every run of whitespace (line breaks included) becomes one space.
pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Adds `additionalProperties: false` to every object schema that does not say otherwise.
fn close_objects(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if map.get("type").and_then(Value::as_str) == Some("object") {
                map.entry("additionalProperties")
                    .or_insert(Value::Bool(false));
            }
            map.values_mut().for_each(close_objects);
        }
        Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}

fn compact_schema(schema: &Map<String, Value>) -> Map<String, Value> {
    fn walk(v: &Value) -> Value {
        match v {
            Value::Object(map) => Value::Object(
                map.iter()
                    .filter(|(k, v)| {
                        !(k.as_str() == "$schema"
                            || (k.as_str() == "format"
                                && v.as_str().is_some_and(|f| {
                                    f.starts_with("int") || f.starts_with("uint")
                                })))
                    })
                    .map(|(k, v)| match (k.as_str(), v) {
                        ("description", Value::String(d)) => (k.clone(), Value::from(one_line(d))),
                        _ => (k.clone(), walk(v)),
                    })
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(walk).collect()),
            other => other.clone(),
        }
    }
    match walk(&Value::Object(schema.clone())) {
        Value::Object(m) => m,
        _ => unreachable!("an object stays an object"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn compacting_drops_only_noise() {
        let s = json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
            "properties": {"limit": {"type": ["integer", "null"], "format": "uint32", "minimum": 0},
                           "when": {"type": "string", "format": "date-time"}}});
        let c = compact_schema(s.as_object().unwrap());
        assert_eq!(
            Value::Object(c),
            json!({"type": "object",
            "properties": {"limit": {"type": ["integer", "null"], "minimum": 0},
                           "when": {"type": "string", "format": "date-time"}}})
        );
    }
}
