//! How the status of a failed call becomes an [`Error`], for every call alike (the version
//! check when connecting, its re-check after a re-dial, and the RPCs).

use std::error::Error as _;

use tonic::Status;

use crate::deadline::Due;
use crate::dial::Dials;
use crate::{Endpoint, Error};

/// What a failed call's status means: a missed deadline, a peer that is not a CRI runtime, a
/// broken connection (a status the gRPC stack made from a transport error has that error as
/// its source; a status from the runtime has none), or the runtime's answer.
pub(crate) fn failure(
    rpc: &'static str,
    endpoint: &Endpoint,
    dials: &Dials,
    due: Option<&Due>,
    status: Status,
) -> Error {
    if let Some(due) = due.filter(|due| due.missed(&status)) {
        return Error::DeadlineExceeded {
            rpc,
            endpoint: endpoint.clone(),
            after: due.after(),
        };
    }
    if status.source().is_some() {
        if let Some(peer) = dials.non_cri_peer() {
            return Error::NotCri {
                endpoint: endpoint.clone(),
                rpc,
                peer,
            };
        }
        return Error::Transport {
            rpc,
            endpoint: endpoint.clone(),
            status,
        };
    }
    Error::Rpc { rpc, status }
}
