//! Images: references normalized as Docker does, what makes two references one image, and
//! the image store of the state (a pull recorded, a reference resolved).

use cri_api_v1 as api;

use super::State;
use crate::ids;

/// Docker's normalization of an image reference: `busybox` is
/// `docker.io/library/busybox:latest`, `me/app` is `docker.io/me/app:latest`.
pub(crate) fn normalize_image(name: &str) -> String {
    let name = name.trim();
    let (first, rest) = name.split_once('/').unwrap_or(("", name));
    let mut full = if first.is_empty() {
        format!("docker.io/library/{rest}")
    } else if first.contains('.') || first.contains(':') || first == "localhost" {
        name.to_string()
    } else {
        format!("docker.io/{name}")
    };
    let last = full.rsplit('/').next().unwrap_or_default();
    if !last.contains(':') && !last.contains('@') {
        full.push_str(":latest");
    }
    full
}

impl State {
    /// Records a pull of the image `name` (normalized): the image (made if new, with the
    /// size and user of `config`) gets `name` among its tags or digests. Its id.
    pub fn add_image(
        &mut self,
        name: &str,
        size: u64,
        pinned: bool,
        config: Option<&crate::ImageConfig>,
    ) -> String {
        let id = image_id_of(name, config);
        let image = self.images.entry(id.clone()).or_insert_with(|| {
            let (uid, username) = config.map_or((None, String::new()), |c| user_of(&c.user));
            api::Image {
                id: id.clone(),
                repo_tags: Vec::new(),
                repo_digests: Vec::new(),
                size: config.and_then(|c| c.size).unwrap_or(size),
                uid,
                username,
                spec: Some(api::ImageSpec {
                    image: id.clone(),
                    ..Default::default()
                }),
                pinned,
            }
        });
        image.pinned |= pinned;
        let add = |list: &mut Vec<String>, item: String| {
            if !list.contains(&item) {
                list.push(item);
            }
        };
        match name.split_once('@') {
            Some(_) => add(&mut image.repo_digests, name.to_string()),
            None => {
                add(&mut image.repo_tags, name.to_string());
                let repo = repository(name);
                add(&mut image.repo_digests, format!("{repo}@{id}"));
            }
        }
        id
    }

    /// The id of the image that `reference` (an id, a full or short id, a tag or a digest)
    /// names.
    pub fn resolve_image(&self, reference: &str) -> Option<String> {
        if reference.is_empty() {
            return None;
        }
        if self.images.contains_key(reference) {
            return Some(reference.to_string());
        }
        let with_prefix = format!("sha256:{reference}");
        if self.images.contains_key(&with_prefix) {
            return Some(with_prefix);
        }
        let normalized = normalize_image(reference);
        self.images
            .values()
            .find(|image| {
                image
                    .repo_tags
                    .iter()
                    .any(|t| *t == normalized || t == reference)
                    || image
                        .repo_digests
                        .iter()
                        .any(|d| *d == normalized || d == reference)
            })
            .map(|image| image.id.clone())
    }
}

/// The repository of a normalized reference (without its tag or digest).
pub(crate) fn repository(name: &str) -> &str {
    if let Some((repo, _)) = name.split_once('@') {
        return repo;
    }
    match name.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => name,
    }
}

/// What makes two references the same image when the catalog does not say: the reference
/// without its registry (a mirror serves the same image under the same path).
fn identity_key(name: &str) -> &str {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            rest
        }
        _ => name,
    }
}

/// The id of the image `name` (normalized) gives, with its catalog entry if it has one.
pub(crate) fn image_id_of(name: &str, config: Option<&crate::ImageConfig>) -> String {
    match config {
        Some(config) => ids::image_id(&config.key),
        None => ids::image_id(identity_key(name)),
    }
}

/// `uid`/`username` from an image config's `User` (`1000`, `www-data`, `1000:50000`), as
/// runtimes report them in `Image`.
fn user_of(user: &str) -> (Option<api::Int64Value>, String) {
    let user = user.split_once(':').map_or(user, |(u, _)| u);
    if user.is_empty() {
        return (None, String::new());
    }
    match user.parse::<i64>() {
        Ok(uid) => (Some(api::Int64Value { value: uid }), String::new()),
        Err(_) => (None, user.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names_normalize_like_docker() {
        assert_eq!(
            normalize_image("busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(normalize_image("me/app:1"), "docker.io/me/app:1");
        assert_eq!(
            normalize_image("registry.k8s.io/pause:3.10"),
            "registry.k8s.io/pause:3.10"
        );
        assert_eq!(
            normalize_image("localhost:5000/x"),
            "localhost:5000/x:latest"
        );
        assert_eq!(
            normalize_image("localhost/busybox:1"),
            "localhost/busybox:1"
        );
    }
}
