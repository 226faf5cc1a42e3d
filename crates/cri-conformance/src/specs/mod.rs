//! The specs, one module per group.

use crate::Spec;

pub mod container;
pub mod exec;
pub mod image;
pub mod pod;
pub mod runtime_info;

/// Every spec, group by group.
pub fn all() -> Vec<Spec> {
    let mut specs = Vec::new();
    specs.extend(runtime_info::specs());
    specs.extend(pod::specs());
    specs.extend(container::specs());
    specs.extend(image::specs());
    specs.extend(exec::specs());
    specs
}
