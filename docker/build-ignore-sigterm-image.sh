#!/usr/bin/env bash
# Builds `pfi-ignore-sigterm:local`: a FROM-scratch image whose only program ignores SIGTERM
# (docker/ignore-sigterm/ignore_sigterm.rs, compiled statically by rustc in a second). The
# tests of the container `stop` fault use it.
#
#   docker/build-ignore-sigterm-image.sh
#   PFI_IGNORE_SIGTERM_IMAGE=name:tag docker/build-ignore-sigterm-image.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
image="${PFI_IGNORE_SIGTERM_IMAGE:-pfi-ignore-sigterm:local}"
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT

if ! docker info >/dev/null 2>&1; then
  echo "build-ignore-sigterm-image: the Docker engine is not reachable" >&2
  exit 3
fi

rustc --edition 2024 -O -C target-feature=+crt-static -C strip=symbols \
  -o "$context/ignore-sigterm" "$root/docker/ignore-sigterm/ignore_sigterm.rs"
cp "$root/docker/ignore-sigterm/Dockerfile" "$context/Dockerfile"
docker build --quiet --tag "$image" "$context" >/dev/null
echo "build-ignore-sigterm-image: built $image"
