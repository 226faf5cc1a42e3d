//! Output as crictl prints it: JSON (`json`), YAML (`yaml`), tables (`table`), and the shapes
//! the commands share (list responses, status documents).

pub mod json;
pub mod table;
pub mod template;
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
            "output format go-template is only supported by info, inspect, inspectp, inspecti, imagefsinfo and events"
                .to_string()
        }
        other => format!("unsupported output format {other:?}"),
    })
}

/// A list response `{"key": [items]}` written item by item, as crictl prints it (protojson
/// of the whole response, or its YAML), so that a command need not hold the decoded list.
pub struct ListWriter {
    key: &'static str,
    output: Output,
    count: usize,
}

impl ListWriter {
    /// A writer of `{"key": [...]}`; fails for an output format other than JSON and YAML.
    pub fn new(key: &'static str, output: Output) -> Result<Self> {
        match output {
            Output::Json | Output::Yaml => Ok(ListWriter {
                key,
                output,
                count: 0,
            }),
            other => Err(unsupported(other)),
        }
    }

    /// Writes the next item.
    pub fn item<T: cri_api_v1::json::JsonMessage>(
        &mut self,
        out: &mut Out,
        item: &T,
    ) -> Result<()> {
        let key = self.key;
        match self.output {
            Output::Json => {
                if self.count == 0 {
                    write!(out, "{{\n  \"{key}\": [\n    ")?;
                } else {
                    out.write_all(b",\n    ")?;
                }
                write_protojson(out, &proto::view(item), 2)?;
            }
            _ => {
                if self.count == 0 {
                    writeln!(out, "{key}:")?;
                }
                write_yaml_item(out, &to_value(item)?)?;
            }
        }
        self.count += 1;
        Ok(())
    }

    /// Closes the list.
    pub fn finish(self, out: &mut Out) -> Result<()> {
        let key = self.key;
        match (self.output, self.count) {
            (Output::Json, 0) => writeln!(out, "{{\n  \"{key}\": []\n}}")?,
            (Output::Json, _) => writeln!(out, "\n  ]\n}}")?,
            (_, 0) => writeln!(out, "{key}: []\n")?,
            _ => writeln!(out)?,
        }
        Ok(())
    }
}

/// A list response `{"key": [items]}`, as crictl prints it.
pub fn write_list<T: cri_api_v1::json::JsonMessage>(
    out: &mut Out,
    key: &'static str,
    items: &[T],
    output: Output,
) -> Result<()> {
    let mut writer = ListWriter::new(key, output)?;
    for item in items {
        writer.item(out, item)?;
    }
    writer.finish(out)
}

/// A document through Go maps (sorted keys) in JSON or YAML, as `inspect*`/`info` print it.
pub fn write_document(out: &mut Out, document: &Value, output: Output) -> Result<()> {
    write_document_or_template(out, document, output, None)
}

/// [`write_document`], or with `-o go-template` the template run on the document.
pub fn write_document_or_template(
    out: &mut Out,
    document: &Value,
    output: Output,
    template: Option<&str>,
) -> Result<()> {
    match output {
        Output::GoTemplate => {
            let text = template::render(template.unwrap_or(""), document.clone())?;
            writeln!(out, "{text}")?;
        }
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
