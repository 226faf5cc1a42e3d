//! Exact conversions between the CRI versions `runtime.v1alpha2` ([`cri_api_v1alpha2`]) and
//! `runtime.v1` ([`cri_api_v1`]), and service adapters built on them.
//!
//! Every message that both versions have converts both ways; the conversions are generated
//! from the two upstream protos (fields pair by number, their wire identity), so they follow
//! upstream exactly and are regenerated with the API crates.
//!
//! - **Upgrade** (v1alpha2 → v1, [`Upgrade::upgrade`]) is total and lossless. It consumes its
//!   input and moves strings, vectors and maps into the result: no clones.
//! - **Downgrade** (v1 → v1alpha2) cannot always be exact: v1 has fields that v1alpha2 lacks,
//!   and `KeyValue.value` is `bytes` in v1 but `string` in v1alpha2. Two forms:
//!   [`Downgrade::downgrade`] is strict and fails with every field path it could not carry;
//!   [`Downgrade::downgrade_lossy`] always converts and reports exactly what it dropped.
//!
//! A field counts as "set" when it holds a non-default value (proto3 has no other notion of
//! presence for scalars). Enum values convert as their number: values one version does not know
//! stay numerically intact. No conversion panics, whatever the input.
//!
//! # Calling it
//!
//! The orphan rule forbids `From` impls between two foreign crates' types, so conversions are
//! methods of two traits of this crate; bring them into scope and call them on the value:
//!
//! ```
//! use cri_convert::{Downgrade, Upgrade};
//!
//! // A request from an old kubelet, upgraded for a runtime written against v1.
//! let old = cri_api_v1alpha2::ListContainersRequest {
//!     filter: Some(cri_api_v1alpha2::ContainerFilter { pod_sandbox_id: "pod-1".into(), ..Default::default() }),
//! };
//! let new: cri_api_v1::ListContainersRequest = old.upgrade();
//! assert_eq!(new.filter.unwrap().pod_sandbox_id, "pod-1");
//!
//! // A v1 status downgraded: strict fails and names what v1alpha2 cannot carry ...
//! let status = cri_api_v1::ContainerStatus {
//!     id: "c1".into(),
//!     user: Some(cri_api_v1::ContainerUser::default()),
//!     ..Default::default()
//! };
//! let error = status.clone().downgrade().unwrap_err();
//! assert_eq!(error.dropped()[0].path, "user");
//!
//! // ... lossy converts anyway and reports the same thing.
//! let (old_status, report) = status.downgrade_lossy();
//! assert_eq!(old_status.id, "c1");
//! assert_eq!(report.to_string(), "user: runtime.v1.ContainerStatus.user is not in runtime.v1alpha2");
//! ```
//!
//! # Service adapters (feature `services`, on by default)
//!
//! - [`V1alpha2OverV1`] serves `runtime.v1alpha2` from any implementation of the v1
//!   `RuntimeService`/`ImageService` traits: requests are upgraded, responses downgraded (lossy
//!   by default, since an old client cannot receive what it does not know; see
//!   [`DowngradePolicy`]). RPCs that v1alpha2 lacks are simply not offered.
//! - [`V1OverV1alpha2`] presents a runtime that speaks only v1alpha2 through the v1 service
//!   traits: call its methods with v1 types, or serve it as v1 (a translating proxy). Requests
//!   are downgraded strictly, so a caller never loses a field it set without an error
//!   (`INVALID_ARGUMENT` naming the fields); RPCs that v1alpha2 lacks answer `UNIMPLEMENTED`.
//!
//! ```no_run
//! # #[cfg(feature = "services")]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use cri_api_v1::runtime_service_server::RuntimeService;
//! use cri_convert::V1OverV1alpha2;
//!
//! // containerd 1.6 speaks both; an older runtime might speak only v1alpha2.
//! let channel = tonic::transport::Endpoint::from_static("unix:///run/old-runtime.sock")
//!     .connect()
//!     .await?;
//! let runtime = V1OverV1alpha2::new(channel);
//! let version = runtime
//!     .version(tonic::Request::new(cri_api_v1::VersionRequest::default()))
//!     .await?
//!     .into_inner();
//! assert_eq!(version.runtime_api_version, "v1alpha2");
//! # Ok(()) }
//! ```
//!
//! # Features
//!
//! | feature | default | brings |
//! |---|---|---|
//! | `services` | yes | the service adapters (needs the `client` and `server` features of the API crates, and tonic without its transport) |
//!
//! Without features the crate needs only the two API crates without their features, and
//! `prost`.

#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

use std::fmt;

pub use cri_api_v1;
pub use cri_api_v1alpha2;

#[cfg(feature = "services")]
mod services;
#[cfg(feature = "services")]
pub use services::{DowngradePolicy, V1OverV1alpha2, V1alpha2OverV1};

/// The generated conversions. They carry deprecated fields like any other: a conversion
/// drops nothing because upstream deprecated it.
#[allow(deprecated)]
mod generated {
    include!("generated/messages.rs");
}

/// Converts a `runtime.v1alpha2` value into its `runtime.v1` counterpart, losslessly.
///
/// Implemented for every `cri_api_v1alpha2` message that `runtime.v1` also has. Fields that
/// only v1 has are left at their defaults.
pub trait Upgrade {
    /// The `runtime.v1` type.
    type Output;
    /// Converts, moving every field of `self` into the result.
    fn upgrade(self) -> Self::Output;
}

/// Converts a `runtime.v1` value into its `runtime.v1alpha2` counterpart.
///
/// Implemented for every `cri_api_v1` message that `runtime.v1alpha2` also has.
pub trait Downgrade: Sized {
    /// The `runtime.v1alpha2` type.
    type Output;

    /// Converts exactly, or fails listing every set field that `runtime.v1alpha2` cannot carry
    /// (by its path, such as `containers[3].user`).
    fn downgrade(self) -> Result<Self::Output, DowngradeError>;

    /// Converts, dropping what `runtime.v1alpha2` cannot carry, and reports what was dropped.
    /// The report is empty exactly when [`downgrade`](Downgrade::downgrade) would succeed.
    fn downgrade_lossy(self) -> (Self::Output, Report);
}

impl<T> Downgrade for T
where
    T: __private::DowngradeInto + prost::Name,
{
    type Output = T::Output;

    fn downgrade(self) -> Result<Self::Output, DowngradeError> {
        let (output, report) = self.downgrade_lossy();
        if report.is_empty() {
            Ok(output)
        } else {
            Err(DowngradeError {
                message: T::full_name(),
                report,
            })
        }
    }

    fn downgrade_lossy(self) -> (Self::Output, Report) {
        let mut report = Report::default();
        let output = self.downgrade_into(&__private::Path::ROOT, &mut report);
        (output, report)
    }
}

/// One thing a downgrade could not carry over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// Where, from the converted value: `containers[3].user`, `annotations["k"].x`, or empty
    /// for the value itself.
    pub path: String,
    /// Why.
    pub reason: Reason,
}

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.reason)
    }
}

/// Why a downgrade dropped something.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// A field that only `runtime.v1` has holds a non-default value.
    NotInV1alpha2 {
        /// The field's full protobuf name (`runtime.v1.ContainerStatus.user`).
        field: &'static str,
    },
    /// A `bytes` value of v1 that is not valid UTF-8 went to a `string` of v1alpha2; the lossy
    /// form replaced the invalid sequences with U+FFFD.
    NotUtf8,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NotInV1alpha2 { field } => write!(f, "{field} is not in runtime.v1alpha2"),
            Reason::NotUtf8 => write!(
                f,
                "bytes that are not valid UTF-8 cannot become a runtime.v1alpha2 string"
            ),
        }
    }
}

/// What a lossy downgrade dropped, in the order it met it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    dropped: Vec<Dropped>,
}

impl Report {
    /// Whether nothing was dropped.
    pub fn is_empty(&self) -> bool {
        self.dropped.is_empty()
    }

    /// Everything that was dropped.
    pub fn dropped(&self) -> &[Dropped] {
        &self.dropped
    }

    fn push(&mut self, path: __private::Path<'_>, reason: Reason) {
        self.dropped.push(Dropped {
            path: path.render(),
            reason,
        });
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, dropped) in self.dropped.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{dropped}")?;
        }
        Ok(())
    }
}

/// A strict downgrade met set fields that `runtime.v1alpha2` cannot carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DowngradeError {
    message: String,
    report: Report,
}

impl DowngradeError {
    /// Every field that could not be carried, with its path.
    pub fn dropped(&self) -> &[Dropped] {
        self.report.dropped()
    }

    /// The same as a report (what the lossy form would have dropped).
    pub fn into_report(self) -> Report {
        self.report
    }
}

impl fmt::Display for DowngradeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot convert {} to runtime.v1alpha2 without loss: {}",
            self.message, self.report
        )
    }
}

impl std::error::Error for DowngradeError {}

/// Machinery of the generated code; not a stable API.
#[doc(hidden)]
pub mod __private {
    use std::fmt;

    pub use crate::{Reason, Report};

    /// The generated half of [`Downgrade`](crate::Downgrade): converts while recording what it
    /// drops, at which path.
    pub trait DowngradeInto {
        /// The `runtime.v1alpha2` type.
        type Output;
        /// Converts `self`, found at `path`, recording drops into `report`.
        fn downgrade_into(self, path: &Path<'_>, report: &mut Report) -> Self::Output;
    }

    /// A field path kept on the stack while converting; rendered only when something is
    /// dropped.
    #[derive(Clone, Copy)]
    pub struct Path<'a> {
        parent: Option<&'a Path<'a>>,
        segment: Segment<'a>,
    }

    #[derive(Clone, Copy)]
    enum Segment<'a> {
        Root,
        Field(&'static str),
        Index(usize),
        Key(&'a str),
    }

    impl<'a> Path<'a> {
        /// The converted value itself.
        pub const ROOT: Path<'static> = Path {
            parent: None,
            segment: Segment::Root,
        };

        /// A field of the value at this path.
        pub fn field(&'a self, name: &'static str) -> Path<'a> {
            Path {
                parent: Some(self),
                segment: Segment::Field(name),
            }
        }

        /// An element of the repeated field at this path.
        pub fn index(&'a self, index: usize) -> Path<'a> {
            Path {
                parent: Some(self),
                segment: Segment::Index(index),
            }
        }

        /// A value of the map field at this path.
        pub fn key(&'a self, key: &'a str) -> Path<'a> {
            Path {
                parent: Some(self),
                segment: Segment::Key(key),
            }
        }
    }

    impl Path<'_> {
        /// The path as text (`containers[3].user`), built without the formatting machinery:
        /// a lossy downgrade may render one per container.
        pub(crate) fn render(&self) -> String {
            let mut out = String::with_capacity(self.len());
            self.write(&mut out);
            out
        }

        /// The rendered length, or a little more (map keys may need escapes).
        fn len(&self) -> usize {
            let own = match self.segment {
                Segment::Root => 0,
                Segment::Field(name) => name.len() + 1,
                Segment::Index(_) => 22,
                Segment::Key(key) => key.len() + 4,
            };
            own + self.parent.map_or(0, Path::len)
        }

        fn write(&self, out: &mut String) {
            if let Some(parent) = self.parent {
                parent.write(out);
            }
            match self.segment {
                Segment::Root => {}
                Segment::Field(name) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(name);
                }
                Segment::Index(index) => {
                    let mut digits = [0u8; 20];
                    let mut at = digits.len();
                    let mut rest = index;
                    loop {
                        at -= 1;
                        digits[at] = b'0' + (rest % 10) as u8;
                        rest /= 10;
                        if rest == 0 {
                            break;
                        }
                    }
                    out.push('[');
                    out.push_str(std::str::from_utf8(&digits[at..]).expect("ASCII digits"));
                    out.push(']');
                }
                Segment::Key(key) => {
                    use fmt::Write as _;
                    let _ = write!(out, "[{key:?}]");
                }
            }
        }
    }

    impl fmt::Display for Path<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&self.render())
        }
    }

    /// `bytes` → `string`: exact for UTF-8, reported (and lossily replaced) otherwise.
    pub fn bytes_to_string(bytes: Vec<u8>, path: &Path<'_>, report: &mut Report) -> String {
        match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(error) => {
                report.push(*path, Reason::NotUtf8);
                String::from_utf8_lossy(error.as_bytes()).into_owned()
            }
        }
    }
}
