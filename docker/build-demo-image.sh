#!/usr/bin/env bash
# Builds `pfi-demo:local`: a FROM-scratch image holding a statically linked pfi-demo.
#
#   docker/build-demo-image.sh            # builds the binary, then the image if it changed
#   PFI_DEMO_IMAGE=name:tag docker/build-demo-image.sh
#
# Idempotent and fast when up to date: cargo does nothing when the sources did not change, and
# the image is rebuilt only when the stripped binary or the Dockerfile differ from what the
# existing image was built from (a label holds their digest). The static build has its own
# target folder (target/static) so its RUSTFLAGS never invalidate the normal build.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
image="${PFI_DEMO_IMAGE:-pfi-demo:local}"
triple="x86_64-unknown-linux-gnu"
target_dir="${PFI_STATIC_TARGET_DIR:-$root/target/static}"
context="$target_dir/pfi-demo-image"
dockerfile="$root/docker/pfi-demo/Dockerfile"

if ! docker info >/dev/null 2>&1; then
  echo "build-demo-image: the Docker engine is not reachable (is it running? is DOCKER_HOST right?)" >&2
  exit 3
fi

# glibc, linked statically: works offline (no extra rustup target) and needs nothing in the
# image but the binary.
RUSTFLAGS="-C target-feature=+crt-static" CARGO_TARGET_DIR="$target_dir" \
  cargo build --quiet --release --target "$triple" --bin pfi-demo --manifest-path "$root/Cargo.toml"

mkdir -p "$context"
strip -o "$context/pfi-demo.new" "$target_dir/$triple/release/pfi-demo"
mv -f "$context/pfi-demo.new" "$context/pfi-demo"
cp -f "$dockerfile" "$context/Dockerfile"

digest="$(cat "$context/pfi-demo" "$context/Dockerfile" | sha256sum | cut -d' ' -f1)"
current="$(docker image inspect --format '{{ index .Config.Labels "pfi.demo.digest" }}' "$image" 2>/dev/null || true)"
previous="$(docker image inspect --format '{{ .Id }}' "$image" 2>/dev/null || true)"
if [[ "$current" == "$digest" ]]; then
  echo "build-demo-image: $image is up to date"
  exit 0
fi

# The classic builder: it needs no buildx plugin and pulls nothing for FROM scratch.
# Its deprecation notice is noise: show the output only when the build fails.
if ! output="$(DOCKER_BUILDKIT=0 docker build --quiet --label "pfi.demo.digest=$digest" \
  --tag "$image" "$context" 2>&1)"; then
  echo "$output" >&2
  exit 1
fi
# The image this replaced is now untagged: remove it (and its layers) unless a container
# still uses it.
if [[ -n "$previous" && "$previous" != "$(docker image inspect --format '{{ .Id }}' "$image")" ]]; then
  docker image rm "$previous" >/dev/null 2>&1 || true
fi
echo "build-demo-image: built $image"
