//! The `ImageService`.

use cri_api_v1 as api;
use cri_api_v1::image_service_server::ImageService;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};

use crate::FakeRuntime;
use crate::runtime::{grpc_deadline, pages};
use crate::state::{self, normalize_image};

type Reply<T> = Result<Response<T>, Status>;

impl FakeRuntime {
    fn list_images_matching(&self, filter: Option<api::ImageFilter>) -> Vec<api::Image> {
        let wanted = filter
            .and_then(|f| f.image)
            .map(|spec| spec.image)
            .unwrap_or_default();
        let state = self.read();
        if wanted.is_empty() {
            return state.images.values().cloned().collect();
        }
        state
            .resolve_image(&wanted)
            .and_then(|id| state.images.get(&id).cloned())
            .into_iter()
            .collect()
    }
}

fn image_name(spec: Option<api::ImageSpec>) -> Result<String, Status> {
    let name = spec.map(|s| s.image).unwrap_or_default();
    if name.trim().is_empty() {
        return Err(Status::invalid_argument("image name is empty"));
    }
    Ok(name)
}

#[tonic::async_trait]
impl ImageService for FakeRuntime {
    async fn list_images(
        &self,
        request: Request<api::ListImagesRequest>,
    ) -> Reply<api::ListImagesResponse> {
        Ok(Response::new(api::ListImagesResponse {
            images: self.list_images_matching(request.into_inner().filter),
        }))
    }

    async fn stream_images(
        &self,
        request: Request<api::StreamImagesRequest>,
    ) -> Reply<BoxStream<api::StreamImagesResponse>> {
        self.check_streaming("StreamImages", "ImageService")?;
        let items = self.list_images_matching(request.into_inner().filter);
        Ok(Response::new(pages(
            items,
            self.options().page_size,
            |images| api::StreamImagesResponse { images },
        )))
    }

    async fn image_status(
        &self,
        request: Request<api::ImageStatusRequest>,
    ) -> Reply<api::ImageStatusResponse> {
        let request = request.into_inner();
        let name = image_name(request.image)?;
        let state = self.read();
        let image = state
            .resolve_image(&name)
            .and_then(|id| state.images.get(&id).cloned());
        let mut info = std::collections::BTreeMap::new();
        if request.verbose
            && let Some(image) = &image
        {
            info.insert(
                "info".to_string(),
                format!(
                    r#"{{"chainID":"{}","size":{},"user":{:?}}}"#,
                    image.id,
                    image.size,
                    image
                        .uid
                        .map(|u| u.value.to_string())
                        .unwrap_or_else(|| image.username.clone())
                ),
            );
        }
        Ok(Response::new(api::ImageStatusResponse { image, info }))
    }

    async fn pull_image(
        &self,
        request: Request<api::PullImageRequest>,
    ) -> Reply<api::PullImageResponse> {
        let deadline = grpc_deadline(&request);
        let name = normalize_image(&image_name(request.into_inner().image)?);
        let delay = self.options().pull_delay;
        if !delay.is_zero() {
            match deadline {
                // The pull cannot finish in time: it fails at once (deterministically,
                // before the client's own timer), and pulls nothing.
                Some(deadline) if deadline < delay => {
                    return Err(Status::deadline_exceeded(format!(
                        "pulling image {name:?} takes {delay:?}, beyond the deadline of {deadline:?}"
                    )));
                }
                _ => tokio::time::sleep(delay).await,
            }
        }
        // A plausible size between 1 and 65 MiB, the same for the same name.
        let size = (1 << 20) + crate::ids::hash(&name) % (64 << 20);
        let config = self.catalog_entry(&name);
        let image_ref = self.write().add_image(&name, size, false, config);
        Ok(Response::new(api::PullImageResponse { image_ref }))
    }

    async fn remove_image(
        &self,
        request: Request<api::RemoveImageRequest>,
    ) -> Reply<api::RemoveImageResponse> {
        let name = image_name(request.into_inner().image)?;
        let mut state = self.write();
        if let Some(id) = state.resolve_image(&name) {
            state.images.remove(&id);
        }
        Ok(Response::new(api::RemoveImageResponse {}))
    }

    async fn image_fs_info(
        &self,
        _: Request<api::ImageFsInfoRequest>,
    ) -> Reply<api::ImageFsInfoResponse> {
        let state = self.read();
        let at = state::now();
        let usage = |mountpoint: &str, used: u64, inodes: u64| api::FilesystemUsage {
            timestamp: at,
            fs_id: Some(api::FilesystemIdentifier {
                mountpoint: mountpoint.into(),
            }),
            used_bytes: Some(api::UInt64Value { value: used }),
            inodes_used: Some(api::UInt64Value { value: inodes }),
        };
        let images: u64 = state.images.values().map(|i| i.size).sum();
        let containers = state.containers.len() as u64;
        Ok(Response::new(api::ImageFsInfoResponse {
            image_filesystems: vec![usage(
                "/var/lib/cri-fake/images",
                images,
                state.images.len() as u64 * 100,
            )],
            container_filesystems: vec![usage(
                "/var/lib/cri-fake/containers",
                containers * 4096,
                containers * 12,
            )],
        }))
    }
}
