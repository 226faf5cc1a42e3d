//! crictl's config file (`/etc/crictl.yaml`): its settings, read, changed and written back.

use crate::failure::Failure;

/// Settings of the config file (`/etc/crictl.yaml`).
#[derive(Debug, Default)]
pub struct Config {
    pub runtime_endpoint: Option<String>,
    pub image_endpoint: Option<String>,
    pub timeout: Option<String>,
    pub debug: bool,
    pub pull_image_on_create: bool,
    pub disable_pull_on_run: bool,
}

/// The config file's keys, in the order crictl writes them.
pub const CONFIG_KEYS: [&str; 6] = [
    "runtime-endpoint",
    "image-endpoint",
    "timeout",
    "debug",
    "pull-image-on-create",
    "disable-pull-on-run",
];

impl Config {
    /// The value of `key` as text.
    pub fn get(&self, key: &str) -> Option<String> {
        Some(match key {
            "runtime-endpoint" => self.runtime_endpoint.clone().unwrap_or_default(),
            "image-endpoint" => self.image_endpoint.clone().unwrap_or_default(),
            "timeout" => self.timeout.clone().unwrap_or_else(|| "0".into()),
            "debug" => self.debug.to_string(),
            "pull-image-on-create" => self.pull_image_on_create.to_string(),
            "disable-pull-on-run" => self.disable_pull_on_run.to_string(),
            _ => return None,
        })
    }

    /// Sets `key` from text.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), Failure> {
        let flag = |value: &str| match value {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(Failure::msg(format!(
                "{key}: use true or false, not {value:?}"
            ))),
        };
        match key {
            "runtime-endpoint" => {
                self.runtime_endpoint = Some(value.to_string()).filter(|s| !s.is_empty())
            }
            "image-endpoint" => {
                self.image_endpoint = Some(value.to_string()).filter(|s| !s.is_empty())
            }
            "timeout" => {
                value.parse::<u64>().map_err(|_| {
                    Failure::msg(format!("timeout: a number of seconds, not {value:?}"))
                })?;
                self.timeout = Some(value.to_string());
            }
            "debug" => self.debug = flag(value)?,
            "pull-image-on-create" => self.pull_image_on_create = flag(value)?,
            "disable-pull-on-run" => self.disable_pull_on_run = flag(value)?,
            _ => {
                return Err(Failure::msg(format!(
                    "no such option {key:?}: use one of {}",
                    CONFIG_KEYS.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// The config file's text.
    pub fn to_yaml(&self) -> String {
        let quoted = |s: Option<&String>| {
            serde_json::to_string(s.map_or("", |s| s.as_str())).unwrap_or_default()
        };
        format!(
            "runtime-endpoint: {}\nimage-endpoint: {}\ntimeout: {}\ndebug: {}\npull-image-on-create: {}\ndisable-pull-on-run: {}\n",
            quoted(self.runtime_endpoint.as_ref()),
            quoted(self.image_endpoint.as_ref()),
            self.timeout.as_deref().unwrap_or("0"),
            self.debug,
            self.pull_image_on_create,
            self.disable_pull_on_run
        )
    }
}

/// Reads the config file; a missing default file is no error.
pub fn read_config(path: &str, explicit: bool) -> Result<Config, Failure> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && !explicit => {
            return Ok(Config::default());
        }
        Err(error) => return Err(Failure::msg(format!("load config file {path}: {error}"))),
    };
    parse_config(&text).map_err(|error| Failure::msg(format!("load config file {path}: {error}")))
}

/// The config file's text: a mapping of the [`CONFIG_KEYS`], each with a value of its type.
/// Anything else is an error naming the key, as Go's crictl refuses it: a mistyped config
/// never falls back to the defaults (the built-in fake, for the endpoint).
fn parse_config(text: &str) -> Result<Config, String> {
    use serde_yaml::Value;
    let kind = |value: &Value| match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    };
    let value: Value = crate::yaml_input::from_str(text)?;
    let mut config = Config::default();
    let map = match &value {
        Value::Null => return Ok(config),
        Value::Mapping(map) => map,
        other => {
            return Err(format!(
                "expected a mapping of options (key: value), not {}",
                kind(other)
            ));
        }
    };
    for (key, value) in map {
        let Some(key) = key.as_str() else {
            return Err(format!("an option's name is {}, not a string", kind(key)));
        };
        let text = match value {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => {
                return Err(format!(
                    "config option '{key}' wants a single value, not {}",
                    kind(other)
                ));
            }
        };
        let flag = |text: &str| match text {
            "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
            "0" | "f" | "F" | "false" | "FALSE" | "False" | "" => Ok(false),
            _ => Err(format!(
                "config option '{key}' wants true or false, not {text:?}"
            )),
        };
        match key {
            "runtime-endpoint" => config.runtime_endpoint = Some(text).filter(|s| !s.is_empty()),
            "image-endpoint" => config.image_endpoint = Some(text).filter(|s| !s.is_empty()),
            "timeout" => {
                if !text.is_empty() {
                    crate::duration::parse_duration(&text)
                        .map_err(|e| format!("config option 'timeout': {e}"))?;
                    config.timeout = Some(text);
                }
            }
            "debug" => config.debug = flag(&text)?,
            "pull-image-on-create" => config.pull_image_on_create = flag(&text)?,
            "disable-pull-on-run" => config.disable_pull_on_run = flag(&text)?,
            _ => {
                return Err(format!(
                    "config option '{key}' is not valid: use one of {}",
                    CONFIG_KEYS.join(", ")
                ));
            }
        }
    }
    Ok(config)
}
