//! `image`: pull, status, list, remove, and one identity for an image however it is named.

use anyhow::{Context as _, bail, ensure};
use cri_api_v1 as v1;

use crate::{Ctx, Spec, SpecResult};

/// The group's specs.
pub fn specs() -> Vec<Spec> {
    vec![
        Spec::new("image", "pull_status_list_remove", pull_status_list_remove).also_in_critest(),
        Spec::new("image", "identifier_consistency", identifier_consistency).also_in_critest(),
        Spec::new("image", "remove_twice", remove_twice),
        Spec::new("image", "remove_unknown_is_ok", remove_unknown).also_in_critest(),
        Spec::new("image", "status_of_unknown_is_empty", status_of_unknown).also_in_critest(),
        Spec::new("image", "fs_info", fs_info).also_in_critest(),
    ]
}

fn spec(image: &str) -> Option<v1::ImageSpec> {
    Some(v1::ImageSpec {
        image: image.to_owned(),
        ..Default::default()
    })
}

pub(crate) async fn pull(ctx: &Ctx, image: &str) -> anyhow::Result<String> {
    ctx.remember_image(image);
    let image_ref = ctx
        .client()
        .pull_image(v1::PullImageRequest {
            image: spec(image),
            ..Default::default()
        })
        .await
        .with_context(|| format!("PullImage {image}"))?
        .image_ref;
    ensure!(
        !image_ref.is_empty(),
        "PullImage {image} answered an empty image_ref"
    );
    Ok(image_ref)
}

pub(crate) async fn status(ctx: &Ctx, image: &str) -> anyhow::Result<Option<v1::Image>> {
    Ok(ctx
        .client()
        .image_status(v1::ImageStatusRequest {
            image: spec(image),
            verbose: false,
        })
        .await
        .with_context(|| format!("ImageStatus {image}"))?
        .image)
}

async fn remove(ctx: &Ctx, image: &str) -> anyhow::Result<()> {
    ctx.client()
        .remove_image(v1::RemoveImageRequest { image: spec(image) })
        .await
        .with_context(|| format!("RemoveImage {image}"))?;
    Ok(())
}

fn pull_image(ctx: &Ctx, n: usize) -> String {
    ctx.config().pull_images[n % ctx.config().pull_images.len()].clone()
}

/// Pull; status and list show it; remove; status is empty and list lacks it.
async fn pull_status_list_remove(ctx: Ctx) -> SpecResult {
    let image = pull_image(&ctx, 0);
    pull(&ctx, &image).await?;
    let found = status(&ctx, &image)
        .await?
        .with_context(|| format!("ImageStatus of the pulled {image} is empty"))?;
    ensure!(!found.id.is_empty(), "the image's id is empty");
    ensure!(found.size > 0, "the image's size is 0");
    let listed = ctx
        .client()
        .list_images(v1::ListImagesRequest::default())
        .await
        .context("ListImages")?
        .images;
    ensure!(
        listed.iter().any(|i| i.id == found.id),
        "ListImages lacks {}",
        found.id
    );
    remove(&ctx, &image).await?;
    if let Some(left) = status(&ctx, &image).await? {
        bail!(
            "ImageStatus still finds {image} after RemoveImage: {}",
            left.id
        );
    }
    Ok(())
}

/// Pull's image_ref, status by tag, status by id and the list all name one image, whose
/// repo_tags hold the tag pulled.
async fn identifier_consistency(ctx: Ctx) -> SpecResult {
    let image = pull_image(&ctx, 1);
    let image_ref = pull(&ctx, &image).await?;
    let by_tag = status(&ctx, &image).await?.context("no status by tag")?;
    let by_id = status(&ctx, &by_tag.id).await?.context("no status by id")?;
    let by_ref = status(&ctx, &image_ref)
        .await?
        .context("no status by the pull's image_ref")?;
    ensure!(
        by_id.id == by_tag.id,
        "by id {} != by tag {}",
        by_id.id,
        by_tag.id
    );
    ensure!(
        by_ref.id == by_tag.id,
        "by ref {} != by tag {}",
        by_ref.id,
        by_tag.id
    );
    let tag = image.rsplit('/').next().unwrap_or(&image);
    ensure!(
        by_tag.repo_tags.iter().any(|t| t.ends_with(tag)),
        "repo_tags {:?} lack {tag}",
        by_tag.repo_tags
    );
    let listed = ctx
        .client()
        .list_images(v1::ListImagesRequest::default())
        .await
        .context("ListImages")?
        .images;
    let entry = listed
        .iter()
        .find(|i| i.id == by_tag.id)
        .context("ListImages lacks the image")?;
    ensure!(
        entry.repo_tags == by_tag.repo_tags,
        "list repo_tags {:?} != status repo_tags {:?}",
        entry.repo_tags,
        by_tag.repo_tags
    );
    Ok(())
}

/// A second RemoveImage of a removed image succeeds.
async fn remove_twice(ctx: Ctx) -> SpecResult {
    let image = pull_image(&ctx, 2);
    pull(&ctx, &image).await?;
    remove(&ctx, &image).await.context("first remove")?;
    remove(&ctx, &image)
        .await
        .context("second remove of the same image")?;
    Ok(())
}

/// ImageStatus of an image nobody pulled answers an empty image, not an error.
async fn status_of_unknown(ctx: Ctx) -> SpecResult {
    let image = format!("cri-conformance.invalid/{}:never", ctx.unique("unknown"));
    if let Some(found) = status(&ctx, &image).await? {
        bail!("ImageStatus of {image} found {}", found.id);
    }
    Ok(())
}

/// ImageFsInfo names at least one filesystem.
async fn fs_info(ctx: Ctx) -> SpecResult {
    let info = ctx
        .client()
        .image_fs_info(v1::ImageFsInfoRequest {})
        .await
        .context("ImageFsInfo")?;
    ensure!(!info.image_filesystems.is_empty(), "no image filesystem");
    Ok(())
}

/// RemoveImage of an image nobody pulled succeeds.
async fn remove_unknown(ctx: Ctx) -> SpecResult {
    let image = format!("cri-conformance.invalid/{}:never", ctx.unique("unknown"));
    remove(&ctx, &image).await
}
