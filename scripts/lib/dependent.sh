# Shared by scripts/dependents.sh and scripts/build-cost.sh (source it, do not run it): makes a
# minimal crate *outside* the workspace that depends on a CRI crate the way a user's crate
# would, and builds it.

# dependent_code TYPES USE PROST: the code of a minimal dependent, for a crate whose types live
# at TYPES (a Rust path such as `cri_api_v1` or `k8s_cri::v1`) and whose prost is at PROST
# (`cri_api_v1::prost`; unused with `all`). USE is `none` (protobuf only), `serde` (protobuf and
# JSON through serde_json) or `all` (the tonic client and server, and JSON through serde_json);
# with `serde` and `all` the dependent must depend on serde_json.
dependent_code() {
  local types=$1 use=$2 prost=${3:-prost}
  if [ "$use" != all ]; then
    printf '%s\n' "pub fn encode(request: &$types::ListContainersRequest) -> Vec<u8> {
    $prost::Message::encode_to_vec(request)
}"
  fi
  if [ "$use" = serde ]; then
    printf '%s\n' "pub fn json(request: &$types::ListContainersRequest) -> String {
    serde_json::to_string(request).unwrap()
}"
  elif [ "$use" = all ]; then
    printf '%s\n' "pub type Client<T> = $types::runtime_service_client::RuntimeServiceClient<T>;
pub type Server<T> = $types::image_service_server::ImageServiceServer<T>;
pub fn json(request: &$types::ListContainersRequest) -> String {
    serde_json::to_string(request).unwrap()
}"
  fi
}

# write_dependent DIR NAME DEPENDENCIES CODE: a package NAME in DIR, outside any workspace.
# DEPENDENCIES is the body of its [dependencies] table, CODE its src/lib.rs.
write_dependent() {
  local dir=$1 name=$2 dependencies=$3 code=$4
  mkdir -p "$dir/src"
  cat >"$dir/Cargo.toml" <<TOML
[package]
name = "$name"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
$dependencies

[workspace]
TOML
  printf '%s\n' "$code" >"$dir/src/lib.rs"
}

# build_dependent DIR TARGET_DIR: downloads what DIR needs (not timed), then builds it with
# TARGET_DIR as its target directory and prints the seconds the build took.
build_dependent() {
  local dir=$1 target=$2 start end
  (cd "$dir" && cargo fetch --quiet) || return 1
  start=$(date +%s.%N)
  (cd "$dir" && CARGO_TARGET_DIR=$target cargo build --quiet) || return 1
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f\n", e - s }'
}
