#!/usr/bin/env bash
# A local image registry for the CRI suites on a machine without network: Debian's
# docker-registry (the distribution registry) on 127.0.0.1 and skopeo, serving one image
# built from busybox-static (every applet, `sh` as the shell) under the names critest and
# cri-conformance pull, as the registries' paths (`e2e-test-images/busybox:1.29-2`,
# `k8s-staging-cri-tools/test-image-tags:1`, ...). Point containerd's mirrors for
# registry.k8s.io and gcr.io at it (scripts/containerd-with-registry.sh does).
#
#   scripts/registry-peer.sh DIR      prints "PID ADDRESS" (ADDRESS is 127.0.0.1:PORT)
#
# Digest-pinned images (critest's test-image-digest@sha256:...) cannot be rebuilt: they are
# not served, and the specs that need them fail for that reason.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
dir=$(realpath -m "$1"); mkdir -p "$dir/data"
if ! command -v docker-registry >/dev/null || ! command -v skopeo >/dev/null || ! command -v busybox >/dev/null; then
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-registry skopeo busybox-static >&2
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$dir/config.yml" <<CFG
version: 0.1
storage:
  filesystem:
    rootdirectory: $dir/data
http:
  addr: 127.0.0.1:$port
CFG
docker-registry serve "$dir/config.yml" </dev/null >"$dir/registry.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { echo "registry-peer: the registry exited:" >&2; tail -5 "$dir/registry.log" >&2; exit 1; }
  sleep 0.1
done
curl -fs "http://127.0.0.1:$port/v2/" >/dev/null || { echo "registry-peer: no answer on 127.0.0.1:$port" >&2; kill "$pid"; exit 1; }

# The images: busybox-static with every applet linked, as docker archives; each repository
# gets its own image (a file /etc/image-name differs), the tags of one repository share it
# (critest's test-image-tags:1/2/3 must be one image).
t=$(mktemp -d); r=$t/r
mkdir -p "$r/bin" "$r/etc" "$r/dev" "$r/proc" "$r/sys" "$r/tmp" "$r/root" "$r/www"
cp "$(command -v busybox)" "$r/bin/busybox"
for a in $("$r/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$r/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www-data:/www:/bin/sh\n' >"$r/etc/passwd"
printf 'root:x:0:\nwww-data:x:33:\n' >"$r/etc/group"
echo ok >"$r/www/index.html"
archive() { # archive REPOSITORY: prints the path of its docker archive
  local repo=$1 out=$dir/images/${1//\//_}.tar
  if [ ! -s "$out" ]; then
    mkdir -p "$dir/images"
    echo "$repo" >"$r/etc/image-name"
    tar --numeric-owner --owner=0 --group=0 --mtime=@0 --sort=name -C "$r" -cf "$t/layer.tar" .
    local layer; layer=$(sha256sum "$t/layer.tar" | cut -d' ' -f1)
    local user=""
    case $repo in
      *test-image-user-uid-group) user=1003:1003 ;;
      *test-image-user-uid) user=1002 ;;
      *test-image-user-username-group) user=www-data:www-data ;;
      *test-image-user-username) user=www-data ;;
    esac
    printf '{"architecture":"%s","os":"linux","config":{"User":"%s","Env":["PATH=/bin"],"Entrypoint":["/bin/sh","-c","httpd -f -p 80 -h /www"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
      "$(dpkg --print-architecture)" "$user" "$layer" >"$t/config.json"
    printf '[{"Config":"config.json","RepoTags":["local/image:1"],"Layers":["layer.tar"]}]' >"$t/manifest.json"
    tar -C "$t" -cf "$out" manifest.json config.json layer.tar
  fi
  echo "$out"
}

names="pause:3.9 pause:3.10 e2e-test-images/busybox:1.29-2 e2e-test-images/busybox:1.36.1-1 e2e-test-images/nginx:1.14-2
e2e-test-images/nginx:1.14-4 e2e-test-images/httpd:2.4.39-4 e2e-test-images/agnhost:2.53
k8s-staging-cri-tools/test-image-1:latest k8s-staging-cri-tools/test-image-2:latest
k8s-staging-cri-tools/test-image-3:latest k8s-staging-cri-tools/test-image-latest:latest
k8s-staging-cri-tools/test-image-tag:all k8s-staging-cri-tools/test-image-tag:test
k8s-staging-cri-tools/test-image-tags:1 k8s-staging-cri-tools/test-image-tags:2
k8s-staging-cri-tools/test-image-tags:3 k8s-staging-cri-tools/test-image-user-uid:latest
k8s-staging-cri-tools/test-image-user-uid-group:latest k8s-staging-cri-tools/test-image-user-username:latest
k8s-staging-cri-tools/test-image-user-username-group:latest"
for name in $names; do
  skopeo copy -q --dest-tls-verify=false "docker-archive:$(archive "${name%%:*}")" "docker://127.0.0.1:$port/$name" >&2
done
rm -rf "$t"
echo "$pid 127.0.0.1:$port"
