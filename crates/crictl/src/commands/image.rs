//! Images: `images`, `inspecti`, `imagefsinfo`, `pull` and `rmi`, and the registry credentials
//! of `pull`, `create` and `run`.

use std::collections::BTreeMap;
use std::io::Write;

use cri_api_v1 as v1;
use cri_client::Client;

use super::{clear_progress, rpc};
use crate::cli::{AuthArgs, ImagesArgs, InspectImagesArgs, Output, OutputArgs, PullArgs, RmiArgs};
use crate::failure::{Failure, Out, Result};
use crate::human::{human_size, truncate_id};
use crate::output::json;
use crate::output::table::Table;
use crate::output::{documents, status_document, write_document_or_template, write_list};
use crate::proto::{self, to_value};

/// crictl's `normalizeRepoDigest`: the name and digest of the first repo digest.
fn normalize_repo_digest(digests: &[String]) -> (String, String) {
    let Some(first) = digests.first() else {
        return ("<none>".into(), "<none>".into());
    };
    let parts: Vec<&str> = first.split('@').collect();
    if parts.len() != 2 {
        return ("errorName".into(), "errorRepoDigest".into());
    }
    (parts[0].to_string(), parts[1].to_string())
}

fn normalize_repo_tags(tags: &[String], image_name: &str) -> Vec<(String, String)> {
    if tags.is_empty() {
        return vec![(image_name.to_string(), "<none>".into())];
    }
    tags.iter()
        .map(|tag| match tag.rfind(':') {
            Some(at) => {
                let name = &tag[..at];
                let name = if name == "<none>" { image_name } else { name };
                (name.to_string(), tag[at + 1..].to_string())
            }
            None => ("errorRepoTag".into(), "errorRepoTag".into()),
        })
        .collect()
}

/// The ID the runtime resolves `image` to (none when the image is not present).
pub(super) async fn image_id_of(client: &Client, image: &str) -> Result<Option<String>> {
    let response = rpc(
        "get image status",
        client
            .image_status(v1::ImageStatusRequest {
                image: Some(v1::ImageSpec {
                    image: image.to_string(),
                    ..Default::default()
                }),
                verbose: false,
            })
            .await,
    )?;
    Ok(response.image.map(|i| i.id))
}

/// crictl's `ListImages`: the images the runtime lists for `name` (all when empty), sorted by
/// their first tag, digest or ID, then narrowed by `--filter` conditions in order.
pub(super) async fn list_images(
    client: &Client,
    name: Option<&str>,
    filters: &[String],
) -> Result<Vec<v1::Image>> {
    let filter = name.map(|image| v1::ImageFilter {
        image: Some(v1::ImageSpec {
            image: image.to_string(),
            ..Default::default()
        }),
    });
    let mut pages = super::listing::images(client, filter).await?;
    let mut images = Vec::new();
    while let Some(page) = pages.next().await? {
        images.extend(page);
    }
    clear_progress();
    super::debug_list_path(pages.rpc);
    images.sort_by(|a, b| {
        if let (Some(x), Some(y)) = (a.repo_tags.first(), b.repo_tags.first()) {
            return x.cmp(y);
        }
        if let (Some(x), Some(y)) = (a.repo_digests.first(), b.repo_digests.first()) {
            return x.cmp(y);
        }
        a.id.cmp(&b.id)
    });
    if !images.is_empty() {
        for condition in filters {
            images = filter_images(images, condition)?;
        }
    }
    Ok(images)
}

/// One `--filter` condition of crictl's `filterImagesList`.
fn filter_images(images: Vec<v1::Image>, condition: &str) -> Result<Vec<v1::Image>> {
    if let Some(value) = condition.strip_prefix("before=") {
        let mut reversed = images;
        reversed.reverse();
        let mut kept = before_since(value, reversed);
        kept.reverse();
        return Ok(kept);
    }
    if let Some(value) = condition.strip_prefix("since=") {
        return Ok(before_since(value, images));
    }
    if let Some(value) = condition.strip_prefix("dangling=") {
        return Ok(images
            .into_iter()
            .filter(|image| match value {
                "true" => image.repo_tags.is_empty(),
                "false" => !image.repo_tags.is_empty(),
                _ => false,
            })
            .collect());
    }
    if let Some(value) = condition.strip_prefix("reference=") {
        let re = regex::Regex::new(value).map_err(|e| {
            Failure::msg(format!(
                "filter images: reference={value}: invalid regular expression: {e}"
            ))
        })?;
        return Ok(images
            .into_iter()
            .filter(|image| {
                let (name, _) = normalize_repo_digest(&image.repo_digests);
                re.is_match(&name) || name == value
            })
            .collect());
    }
    Err(Failure::msg(format!(
        "filter images: unknown filter flag: {condition} (use dangling=, reference=, before= or since=)"
    )))
}

/// crictl's `filterByBeforeSince`: the images up to (not including) the one `value` names.
fn before_since(value: &str, images: Vec<v1::Image>) -> Vec<v1::Image> {
    let by_tag = value.contains(':') && !value.contains('@');
    let by_id = !value.contains(':') && !value.contains('@');
    let mut kept = Vec::new();
    for image in images {
        if by_tag {
            let (name, _) = normalize_repo_digest(&image.repo_digests);
            let (repo, tag) = normalize_repo_tags(&image.repo_tags, &name).remove(0);
            if format!("{repo}:{tag}") == value {
                break;
            }
        } else if by_id {
            if image.id.starts_with(value) {
                break;
            }
        } else {
            match image.repo_digests.first() {
                Some(digest) if digest.starts_with(value) => break,
                Some(_) => {}
                None => continue,
            }
        }
        kept.push(image);
    }
    kept
}

pub(super) async fn images(client: &Client, args: &ImagesArgs, out: &mut Out) -> Result<()> {
    let images = list_images(client, args.image.as_deref(), &args.filter).await?;
    match args.output {
        Output::Table => {}
        other => return write_list(out, "images", &images, other),
    }
    if args.quiet {
        for image in &images {
            writeln!(out, "{}", image.id)?;
        }
        return Ok(());
    }
    if args.verbose {
        for image in &images {
            writeln!(out, "ID: {}", image.id)?;
            for tag in &image.repo_tags {
                writeln!(out, "RepoTags: {tag}")?;
            }
            for digest in &image.repo_digests {
                writeln!(out, "RepoDigests: {digest}")?;
            }
            if image.size != 0 {
                writeln!(out, "Size: {}", image.size)?;
            }
            if let Some(uid) = &image.uid {
                writeln!(out, "Uid: {}", uid.value)?;
            }
            if !image.username.is_empty() {
                writeln!(out, "Username: {}", image.username)?;
            }
            if image.pinned {
                writeln!(out, "Pinned: {}", image.pinned)?;
            }
            writeln!(out)?;
        }
        return Ok(());
    }
    let mut header = vec!["IMAGE", "TAG"];
    if args.digests {
        header.push("DIGEST");
    }
    header.extend(["IMAGE ID", "SIZE"]);
    if args.pinned {
        header.push("PINNED");
    }
    let rows = |image: &v1::Image| -> Vec<Vec<String>> {
        let (name, digest) = normalize_repo_digest(&image.repo_digests);
        let pairs = normalize_repo_tags(&image.repo_tags, &name);
        let size = human_size(image.size as f64, 3);
        let (id, digest) = if args.no_trunc {
            (image.id.clone(), digest)
        } else {
            (
                truncate_id(&image.id, "sha256:").to_string(),
                truncate_id(&digest, "sha256:").to_string(),
            )
        };
        pairs
            .into_iter()
            .map(|(repo, tag)| {
                let mut row = vec![repo, tag];
                if args.digests {
                    row.push(digest.clone());
                }
                row.push(id.clone());
                row.push(size.clone());
                if args.pinned {
                    row.push(image.pinned.to_string());
                }
                row
            })
            .collect()
    };
    let mut table = Table::new();
    table.measure(&header);
    for image in &images {
        for row in rows(image) {
            table.measure(&row);
        }
    }
    table.write(out, &header)?;
    for image in &images {
        for row in rows(image) {
            table.write(out, &row)?;
        }
    }
    Ok(())
}

pub(super) async fn inspecti(
    client: &Client,
    args: &InspectImagesArgs,
    out: &mut Out,
) -> Result<()> {
    let ids: Vec<String> = if args.inspect.ids.is_empty() {
        list_images(client, args.name.as_deref(), &args.filter)
            .await?
            .into_iter()
            .map(|image| image.id)
            .collect()
    } else {
        args.inspect.ids.clone()
    };
    if ids.is_empty() {
        return Err(Failure::msg(
            "no IDs provided or nothing found per filter: give image IDs or filter flags",
        ));
    }
    let args = &args.inspect;
    let output = args.output.unwrap_or(Output::Json);
    let verbose = !args.quiet;
    let mut docs = Vec::new();
    for id in &ids {
        let response = rpc(
            "image status request",
            client
                .image_status(v1::ImageStatusRequest {
                    image: Some(v1::ImageSpec {
                        image: id.clone(),
                        ..Default::default()
                    }),
                    verbose,
                })
                .await,
        )?;
        let Some(image) = &response.image else {
            return Err(Failure::msg(format!("no such image {id:?} present")));
        };
        if output == Output::Table {
            writeln!(out, "ID: {}", image.id)?;
            for tag in &image.repo_tags {
                writeln!(out, "Tag: {tag}")?;
            }
            for digest in &image.repo_digests {
                writeln!(out, "Digest: {digest}")?;
            }
            writeln!(out, "Size: {}", human_size(image.size as f64, 3))?;
            if verbose {
                writeln!(out, "Info: {}", json::go_map_string(&response.info))?;
            }
            continue;
        }
        docs.push(status_document(
            to_value(image)?,
            &response.info,
            Vec::new(),
        )?);
    }
    if output == Output::Table {
        return Ok(());
    }
    write_document_or_template(out, &documents(docs), output, args.template.as_deref())
}

pub(super) async fn imagefsinfo(client: &Client, args: &OutputArgs, out: &mut Out) -> Result<()> {
    let response = rpc(
        "image filesystem info request",
        client.image_fs_info(v1::ImageFsInfoRequest {}).await,
    )?;
    let output = args.output.unwrap_or(Output::Json);
    if output != Output::Table {
        let document = status_document(to_value(&response)?, &BTreeMap::new(), Vec::new())?;
        return write_document_or_template(out, &document, output, args.template.as_deref());
    }
    let print = |out: &mut Out, title: &str, list: &[v1::FilesystemUsage]| -> Result<()> {
        writeln!(out, "{title} ")?;
        for (i, fs) in list.iter().enumerate() {
            writeln!(out, "TimeStamp[{i}]: {}", fs.timestamp)?;
            writeln!(
                out,
                "Disk[{i}]: {}",
                human_size(fs.used_bytes.as_ref().map_or(0, |v| v.value) as f64, 4)
            )?;
            writeln!(
                out,
                "Inodes[{i}]: {}",
                fs.inodes_used.as_ref().map_or(0, |v| v.value)
            )?;
            writeln!(
                out,
                "Mountpoint[{i}]: {}",
                fs.fs_id.as_ref().map_or("", |f| f.mountpoint.as_str())
            )?;
        }
        Ok(())
    };
    print(out, "Container Filesystem", &response.container_filesystems)?;
    print(out, "Image Filesystem", &response.image_filesystems)
}

pub(super) fn auth_config(args: &AuthArgs) -> Result<Option<v1::AuthConfig>> {
    // crictl's order: --username (the password read from the terminal) first, then --creds or
    // --auth, never both.
    if let Some(username) = args.username.as_deref().filter(|u| !u.is_empty()) {
        let password = super::password::read("Enter Password:")?;
        return Ok(Some(v1::AuthConfig {
            username: username.to_string(),
            password,
            ..Default::default()
        }));
    }
    let creds = args.creds.as_deref().filter(|c| !c.is_empty());
    let auth = args.auth.as_deref().filter(|a| !a.is_empty());
    if creds.is_some() && auth.is_some() {
        return Err(Failure::msg("both `--creds` and `--auth` are specified"));
    }
    if let Some(creds) = creds {
        let (username, password) = creds.split_once(':').unwrap_or((creds, ""));
        if username.is_empty() {
            return Err(Failure::msg(
                "--creds: the username is empty (use --creds USERNAME[:PASSWORD])",
            ));
        }
        return Ok(Some(v1::AuthConfig {
            username: username.to_string(),
            password: password.to_string(),
            ..Default::default()
        }));
    }
    Ok(auth.map(|auth| v1::AuthConfig {
        auth: auth.to_string(),
        ..Default::default()
    }))
}

pub(super) async fn pull(client: &Client, args: &PullArgs, out: &mut Out) -> Result<()> {
    let auth = auth_config(&args.auth.to_auth())?;
    let sandbox_config: Option<v1::PodSandboxConfig> = match &args.pod_config {
        Some(path) => Some(proto::from_config_file(path)?),
        None => None,
    };
    let mut annotations = BTreeMap::new();
    for annotation in &args.annotation {
        let (k, v) = annotation.split_once('=').ok_or_else(|| {
            Failure::msg(format!(
                "incorrectly specified annotation: {annotation} (use key=value)"
            ))
        })?;
        annotations.insert(k.to_string(), v.to_string());
    }
    let response = rpc(
        "pulling image",
        client
            .pull_image(v1::PullImageRequest {
                image: Some(v1::ImageSpec {
                    image: args.image.clone(),
                    annotations,
                    ..Default::default()
                }),
                auth,
                sandbox_config,
            })
            .await,
    )?;
    writeln!(out, "Image is up to date for {}", response.image_ref)?;
    Ok(())
}

pub(super) async fn rmi(client: &Client, args: &RmiArgs, out: &mut Out) -> Result<()> {
    let mut ids = args.ids.clone();
    if args.all || args.prune {
        let images = rpc(
            "list images",
            client.list_images(v1::ListImagesRequest::default()).await,
        )?
        .images;
        clear_progress();
        let mut in_use = std::collections::HashSet::new();
        if args.prune {
            let containers = rpc(
                "list containers",
                client
                    .list_containers(v1::ListContainersRequest::default())
                    .await,
            )?;
            for c in containers.containers {
                in_use.insert(c.image_ref.clone());
                if let Some(image) = c.image {
                    in_use.insert(image.image);
                }
            }
        }
        ids = images
            .into_iter()
            .filter(|i| {
                !(args.prune
                    && (in_use.contains(&i.id) || i.repo_tags.iter().any(|t| in_use.contains(t))))
            })
            .map(|i| i.id)
            .collect();
    } else if ids.is_empty() {
        return Err(Failure::msg(
            "no image given: give image IDs or references, or use --all or --prune",
        ));
    }
    let mut failed = Vec::new();
    for id in &ids {
        let status = rpc(
            "image status",
            client
                .image_status(v1::ImageStatusRequest {
                    image: Some(v1::ImageSpec {
                        image: id.clone(),
                        ..Default::default()
                    }),
                    verbose: false,
                })
                .await,
        )?;
        let Some(image) = status.image else {
            failed.push(format!("no such image {id}"));
            continue;
        };
        if image.pinned && args.prune {
            continue;
        }
        match client
            .remove_image(v1::RemoveImageRequest {
                image: Some(v1::ImageSpec {
                    image: image.id.clone(),
                    ..Default::default()
                }),
            })
            .await
        {
            Ok(_) => {
                if image.repo_tags.is_empty() {
                    writeln!(out, "Deleted: {}", image.id)?;
                }
                for tag in &image.repo_tags {
                    writeln!(out, "Deleted: {tag}")?;
                }
            }
            Err(error) => failed.push(format!("error of removing image {id:?}: {error}")),
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::msg(failed.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_tags_and_digests_split_like_crictl() {
        assert_eq!(
            normalize_repo_digest(&["docker.io/library/busybox@sha256:abc".into()]),
            ("docker.io/library/busybox".into(), "sha256:abc".into())
        );
        assert_eq!(
            normalize_repo_digest(&[]),
            ("<none>".into(), "<none>".into())
        );
        assert_eq!(
            normalize_repo_digest(&["bad".into()]),
            ("errorName".into(), "errorRepoDigest".into())
        );
        assert_eq!(
            normalize_repo_tags(
                &["localhost:5000/a:1".into(), "<none>:<none>".into()],
                "img"
            ),
            vec![
                ("localhost:5000/a".into(), "1".into()),
                ("img".into(), "<none>".into())
            ]
        );
        assert_eq!(
            normalize_repo_tags(&[], "img"),
            vec![("img".into(), "<none>".into())]
        );
        assert_eq!(
            normalize_repo_tags(&["x".into()], "img"),
            vec![("errorRepoTag".into(), "errorRepoTag".into())]
        );
    }
}
