//! The specs, one module per group.

use crate::Spec;

/// Runs a call and measures it: `(result, elapsed)`.
macro_rules! timed {
    ($call:expr) => {{
        let started = std::time::Instant::now();
        let result = $call.await;
        (result, started.elapsed())
    }};
}

pub mod container;
pub mod deadline;
mod deadline_steps;
pub mod events;
pub mod exec;
pub mod image;
pub mod large_list;
pub mod linux;
pub mod list_stream;
pub mod logs;
pub mod metrics;
pub mod pod;
pub mod runtime_info;
pub mod stats;
pub mod streaming;
pub mod streaming_versions;

/// Every spec, group by group.
pub fn all() -> Vec<Spec> {
    let mut specs = Vec::new();
    specs.extend(runtime_info::specs());
    specs.extend(pod::specs());
    specs.extend(container::specs());
    specs.extend(image::specs());
    specs.extend(exec::specs());
    specs.extend(linux::specs());
    specs.extend(streaming::specs());
    specs.extend(streaming_versions::specs());
    specs.extend(logs::specs());
    specs.extend(stats::specs());
    specs.extend(events::specs());
    specs.extend(metrics::specs());
    specs.extend(list_stream::specs());
    specs.extend(large_list::specs());
    specs.extend(deadline::specs());
    specs
}
