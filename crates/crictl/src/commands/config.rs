//! `config`: get, list and set the options of crictl's config file (needs no runtime).

use std::io::Write;

use crate::cli::ConfigArgs;
use crate::config::{CONFIG_KEYS, read_config};
use crate::failure::{Failure, Out, Result};
use crate::output::table::write_table;

pub(super) fn config_command(path: &str, args: &ConfigArgs, out: &mut Out) -> Result<()> {
    let mut config = read_config(path, false)?;
    if let Some(key) = &args.get {
        let value = config.get(key).ok_or_else(|| {
            Failure::msg(format!(
                "no such option {key:?}: use one of {}",
                CONFIG_KEYS.join(", ")
            ))
        })?;
        writeln!(out, "{value}")?;
        return Ok(());
    }
    if args.list {
        let rows: Vec<[String; 2]> = CONFIG_KEYS
            .iter()
            .map(|key| [key.to_string(), config.get(key).unwrap_or_default()])
            .collect();
        write_table(out, &["KEY", "VALUE"], &rows)?;
        return Ok(());
    }
    let mut changes = Vec::new();
    for set in &args.set {
        for pair in set.split(',') {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| Failure::msg(format!("--set {pair:?}: use --set key=value")))?;
            changes.push((key.to_string(), value.to_string()));
        }
    }
    match args.args.as_slice() {
        [] => {}
        [key, value] => changes.push((key.clone(), value.clone())),
        _ => {
            return Err(Failure::msg(
                "use crictl config KEY VALUE, --set KEY=VALUE, --get KEY or --list",
            ));
        }
    }
    if changes.is_empty() {
        return Err(Failure::msg(
            "use crictl config KEY VALUE, --set KEY=VALUE, --get KEY or --list",
        ));
    }
    for (key, value) in changes {
        config.set(&key, &value)?;
    }
    std::fs::write(path, config.to_yaml())
        .map_err(|e| Failure::msg(format!("write {path}: {e}")))?;
    Ok(())
}
