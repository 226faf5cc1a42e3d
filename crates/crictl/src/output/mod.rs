//! Output as crictl prints it: JSON (`json`), YAML (`yaml`), tables (`table`), and the shapes
//! the commands share (list responses, status documents).

pub mod json;
pub mod table;
pub mod yaml;

use std::collections::BTreeMap;
use std::io::Write;

use serde_json::{Map, Value};

use self::json::{write_go_json, write_protojson};
use self::yaml::{write_yaml, write_yaml_item};
use crate::cli::Output;
use crate::failure::{Failure, Out, Result};
use crate::proto::{self, to_value};

/// The failure of an output format this command does not print.
pub fn unsupported(output: Output) -> Failure {
    Failure::msg(match output {
        Output::GoTemplate => {
            "output format go-template is not supported by this crictl: use -o json and jq"
                .to_string()
        }
        other => format!("unsupported output format {other:?}"),
    })
}

/// A list response `{"key": [items]}` streamed item by item, as crictl prints it.
pub fn write_list<T: cri_api_v1::json::JsonMessage>(
    out: &mut Out,
    key: &str,
    items: &[T],
    output: Output,
) -> Result<()> {
    match output {
        Output::Json => {
            if items.is_empty() {
                writeln!(out, "{{\n  \"{key}\":  []\n}}")?;
                return Ok(());
            }
            write!(out, "{{\n  \"{key}\":  [")?;
            for (index, item) in items.iter().enumerate() {
                out.write_all(if index == 0 { b"\n    " } else { b",\n    " })?;
                write_protojson(out, &proto::view(item), 2)?;
            }
            writeln!(out, "\n  ]\n}}")?;
        }
        Output::Yaml => {
            if items.is_empty() {
                writeln!(out, "{key}: []\n")?;
                return Ok(());
            }
            writeln!(out, "{key}:")?;
            for item in items {
                write_yaml_item(out, &to_value(item)?)?;
            }
            writeln!(out)?;
        }
        other => return Err(unsupported(other)),
    }
    Ok(())
}

/// A document through Go maps (sorted keys) in JSON or YAML, as `inspect*`/`info` print it.
pub fn write_document(out: &mut Out, document: &Value, output: Output) -> Result<()> {
    match output {
        Output::Json => {
            write_go_json(out, document, 0)?;
            writeln!(out)?;
        }
        Output::Yaml => {
            write_yaml(out, document)?;
            writeln!(out)?;
        }
        other => return Err(unsupported(other)),
    }
    Ok(())
}

/// crictl's `outputStatusData`: the status and the runtime's verbose info parsed as JSON.
pub fn status_document(
    status: Value,
    info: &BTreeMap<String, String>,
    extra: Vec<(&str, Value)>,
) -> Result<Value> {
    let mut map = Map::new();
    map.insert("status".into(), status);
    for (key, value) in extra {
        map.insert(key.into(), value);
    }
    for (key, raw) in info {
        let value = if raw.starts_with('{') {
            serde_json::from_str::<Value>(raw)
                .map_err(|e| Failure::msg(format!("unmarshal status info JSON: {e}")))?
        } else {
            Value::String(raw.trim_matches('"').to_string())
        };
        map.insert(key.clone(), value);
    }
    let mut document = Value::Object(map);
    json::go_numbers(&mut document);
    Ok(document)
}

/// One document as itself, several as an array (what `inspect*` prints for one or more IDs).
pub fn documents(mut documents: Vec<Value>) -> Value {
    if documents.len() == 1 {
        documents.remove(0)
    } else {
        Value::Array(documents)
    }
}
