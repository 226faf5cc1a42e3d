//! The in-memory state and how it reads as CRI messages.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use cri_api_v1 as api;
use tonic::Status;

mod container;
mod images;
mod pod;

pub(crate) use container::Ctr;
pub(crate) use images::{image_id_of, normalize_image};
pub(crate) use pod::Pod;

/// Nanoseconds since the Unix epoch.
pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

#[derive(Default)]
pub(crate) struct State {
    pub pods: BTreeMap<String, Pod>,
    pub containers: BTreeMap<String, Ctr>,
    /// By image id.
    pub images: BTreeMap<String, api::Image>,
    pub pod_cidr: String,
}

impl State {
    pub fn containers_of<'a>(&'a self, pod_id: &'a str) -> impl Iterator<Item = &'a Ctr> + 'a {
        self.containers.values().filter(move |c| c.pod_id == pod_id)
    }
}

/// Finds `id` (in full or as a unique prefix) among the keys of `map`.
pub(crate) fn resolve<'a, T>(
    map: &'a BTreeMap<String, T>,
    id: &str,
    what: &str,
) -> Result<&'a String, Status> {
    if id.is_empty() {
        return Err(Status::invalid_argument(format!("{what} id is empty")));
    }
    if let Some((key, _)) = map.get_key_value(id) {
        return Ok(key);
    }
    let mut matches = map
        .range::<str, _>((std::ops::Bound::Included(id), std::ops::Bound::Unbounded))
        .take_while(|(k, _)| k.starts_with(id));
    match (matches.next(), matches.next()) {
        (Some((key, _)), None) => Ok(key),
        (Some(_), Some(_)) => Err(Status::invalid_argument(format!(
            "{what} id prefix {id:?} is ambiguous"
        ))),
        (None, _) => Err(Status::not_found(format!("{what} {id:?} not found"))),
    }
}

/// Whether `id` matches the id filter `wanted` (empty: everything; else the id or a prefix).
pub(crate) fn id_matches(id: &str, wanted: &str) -> bool {
    wanted.is_empty() || id.starts_with(wanted)
}
