//! The specs, one module per group.

use crate::Spec;

pub mod runtime_info;

/// Every spec, group by group.
pub fn all() -> Vec<Spec> {
    let mut specs = Vec::new();
    specs.extend(runtime_info::specs());
    specs
}
