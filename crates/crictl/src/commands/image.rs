//! Images: `images`, `inspecti`, `imagefsinfo`, `pull` and `rmi`, and the registry credentials
//! of `pull`, `create` and `run`.

use std::collections::BTreeMap;
use std::io::Write;

use cri_api_v1 as v1;
use cri_client::Client;

use super::{clear_progress, need_ids, rpc};
use crate::cli::{AuthArgs, ImagesArgs, InspectArgs, Output, OutputArgs, PullArgs, RmiArgs};
use crate::failure::{Failure, Out, Result};
use crate::human::{human_size, truncate_id};
use crate::output::json;
use crate::output::table::Table;
use crate::output::{documents, status_document, write_document, write_list};
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

pub(super) async fn images(client: &Client, args: &ImagesArgs, out: &mut Out) -> Result<()> {
    let filter = args.image.as_ref().map(|image| v1::ImageFilter {
        image: Some(v1::ImageSpec {
            image: image.clone(),
            ..Default::default()
        }),
    });
    let response = rpc(
        "listing images",
        client.list_images(v1::ListImagesRequest { filter }).await,
    )?;
    clear_progress();
    let mut images = response.images;
    images.sort_by(|a, b| {
        if let (Some(x), Some(y)) = (a.repo_tags.first(), b.repo_tags.first()) {
            return x.cmp(y);
        }
        if let (Some(x), Some(y)) = (a.repo_digests.first(), b.repo_digests.first()) {
            return x.cmp(y);
        }
        a.id.cmp(&b.id)
    });
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

pub(super) async fn inspecti(client: &Client, args: &InspectArgs, out: &mut Out) -> Result<()> {
    need_ids(&args.ids)?;
    let output = args.output.unwrap_or(Output::Json);
    let verbose = !args.quiet;
    let mut docs = Vec::new();
    for id in &args.ids {
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
    write_document(out, &documents(docs), output)
}

pub(super) async fn imagefsinfo(client: &Client, args: &OutputArgs, out: &mut Out) -> Result<()> {
    let response = rpc(
        "image filesystem info request",
        client.image_fs_info(v1::ImageFsInfoRequest {}).await,
    )?;
    let output = args.output.unwrap_or(Output::Json);
    if output != Output::Table {
        let document = status_document(to_value(&response)?, &BTreeMap::new(), Vec::new())?;
        return write_document(out, &document, output);
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
    if let Some(auth) = &args.auth {
        return Ok(Some(v1::AuthConfig {
            auth: auth.clone(),
            ..Default::default()
        }));
    }
    if let Some(creds) = &args.creds {
        let (username, password) = match creds.split_once(':') {
            Some((u, p)) => (u.to_string(), p.to_string()),
            None => (creds.clone(), String::new()),
        };
        if username.is_empty() {
            return Err(Failure::msg(
                "--creds: the username is empty (use --creds USERNAME[:PASSWORD])",
            ));
        }
        if password.is_empty() {
            return Err(Failure::msg(
                "--creds: no password given (use --creds USERNAME:PASSWORD or --auth)",
            ));
        }
        return Ok(Some(v1::AuthConfig {
            username,
            password,
            ..Default::default()
        }));
    }
    if let Some(username) = &args.username {
        return Err(Failure::msg(format!(
            "--username {username}: reading a password from the terminal is not supported; use --creds USERNAME:PASSWORD or --auth"
        )));
    }
    Ok(None)
}

pub(super) async fn pull(client: &Client, args: &PullArgs, out: &mut Out) -> Result<()> {
    let auth = auth_config(&args.auth)?;
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
