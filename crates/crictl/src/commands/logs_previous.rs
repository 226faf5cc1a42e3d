//! `logs --previous`: the log of the container's previous attempt, which the kubelet's layout
//! keeps beside the current one (`<dir>/<attempt>.log`), found as crictl finds it.

use cri_api_v1 as v1;

use crate::failure::{Failure, Result};

/// The status with its log path turned to the previous attempt's.
pub(super) fn previous(mut status: v1::ContainerStatus) -> Result<v1::ContainerStatus> {
    let meta = status.metadata.clone().unwrap_or_default();
    if meta.attempt == 0 {
        return Err(Failure::msg(format!(
            "previous terminated container {} not found",
            meta.name
        )));
    }
    status.log_path = previous_path(&status.log_path, meta.attempt)?;
    Ok(status)
}

/// `dir/N.log` → `dir/(N-1).log`: crictl keeps the directory and the extension and puts the
/// previous attempt's number between.
fn previous_path(path: &str, attempt: u32) -> Result<String> {
    let dir_end = path.rfind('/').map_or(0, |at| at + 1);
    let Some(extension) = path.rfind('.').filter(|&at| at >= dir_end) else {
        return Err(Failure::msg(format!(
            "log path {path:?} has no extension: cannot name the previous attempt's log"
        )));
    };
    Ok(format!(
        "{}{}{}",
        &path[..dir_end],
        attempt - 1,
        &path[extension..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_previous_attempt_is_beside_the_current() {
        assert_eq!(
            previous_path("/var/log/pods/ns_pod_uid/app/2.log", 2).unwrap(),
            "/var/log/pods/ns_pod_uid/app/1.log"
        );
        assert!(previous_path("/var/log/app", 1).is_err());
        let status = v1::ContainerStatus {
            metadata: Some(v1::ContainerMetadata {
                name: "app".into(),
                attempt: 0,
            }),
            ..Default::default()
        };
        assert!(previous(status).is_err());
    }
}
