//! The fake's registry: which references a pull of one image answers to, and its config
//! ([`ImageConfig`]); it starts with the images of the CRI validation suite.

use crate::{FakeRuntime, state};

/// An image of the fake's registry: the references under which it can be pulled (tags in
/// any registry, digests) and its config. Pulling any of them gives the same image (one id,
/// every pulled reference among its `repo_tags`/`repo_digests`), as a registry serves one
/// image under several tags. Register with
/// [`FakeRuntimeBuilder::image`](crate::FakeRuntimeBuilder::image).
///
/// Without an entry, a pulled reference is its own image, except that the same path in two
/// registries (`docker.io/library/nginx:1.27`, `mirror.gcr.io/library/nginx:1.27`) is the
/// same image, as a mirror serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageConfig {
    references: Vec<String>,
    pub(crate) key: String,
    pub(crate) user: String,
    pub(crate) size: Option<u64>,
}

impl ImageConfig {
    /// An image known under `references` (normalized as Docker does; at least one).
    ///
    /// # Panics
    /// If `references` is empty.
    pub fn new<S: AsRef<str>>(references: impl IntoIterator<Item = S>) -> Self {
        let references: Vec<String> = references
            .into_iter()
            .map(|r| state::normalize_image(r.as_ref()))
            .collect();
        let key = references
            .first()
            .expect("an image needs at least one reference")
            .clone();
        ImageConfig {
            references,
            key,
            user: String::new(),
            size: None,
        }
    }

    /// The image config's `User` (`1000`, `www-data`, `1000:50000`, `www-data:www-data`):
    /// `ImageStatus` and `ListImages` report its `uid` or `username`, as runtimes do.
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = user.into();
        self
    }

    /// The image's size in bytes (default: derived from its name).
    pub fn size(mut self, bytes: u64) -> Self {
        self.size = Some(bytes);
        self
    }

    fn matches(&self, normalized: &str) -> bool {
        self.references.iter().any(|r| r == normalized)
    }
}

/// The images of the CRI validation suite (critest) whose config its tests check.
pub(crate) fn critest_images() -> Vec<ImageConfig> {
    let r = |name: &str| format!("gcr.io/k8s-staging-cri-tools/{name}");
    vec![
        ImageConfig::new([
            r("test-image-tags:1"),
            r("test-image-tags:2"),
            r("test-image-tags:3"),
        ]),
        ImageConfig::new([r("test-image-user-uid")]).user("1002"),
        ImageConfig::new([r("test-image-user-username")]).user("www-data"),
        ImageConfig::new([r("test-image-user-uid-group")]).user("1003:1003"),
        ImageConfig::new([r("test-image-user-username-group")]).user("www-data:www-data"),
        ImageConfig::new([r("test-image-predefined-group")]).user("1000:50000"),
    ]
}

impl FakeRuntime {
    /// The catalog entry of a normalized image reference.
    pub(crate) fn catalog_entry(&self, normalized: &str) -> Option<&ImageConfig> {
        self.options()
            .catalog
            .iter()
            .find(|c| c.matches(normalized))
    }
}
