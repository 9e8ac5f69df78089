#!/usr/bin/env bash
# Builds a FROM-scratch image holding one binary of this package and the shared libraries it
# links (the C library and its loader), nothing else: the body of build-demo-image.sh and
# build-agent-image.sh, which say which binary and which image.
#
#   PFI_DEMO_PROFILE=release|dev   which build of the binary (default release)
#   PFI_DEMO_NO_BUILD=1            the binary is built already: no cargo
#
# Fast: it reuses the ordinary build (`cargo build --release`, or `cargo build` / `cargo test`
# for `dev`) instead of a static build of every dependency of its own; cargo does nothing when
# that build is up to date. Idempotent: the image is rebuilt only when the stripped binary, its
# libraries or the Dockerfile differ from what the existing image was built from (a label holds
# their digest).
set -euo pipefail

# Arguments: the binary (`pfi-demo`, `pfi`), what the image is (`demo`, `agent`: its Dockerfile
# is docker/pfi-WHAT/Dockerfile, its digest label pfi.WHAT.digest) and the image's name.
bin="$1"
what="$2"
image="$3"
me="build-$what-image"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
profile="${PFI_DEMO_PROFILE:-release}"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
context="$target_dir/pfi-$what-image"
dockerfile="$root/docker/pfi-$what/Dockerfile"

case "$profile" in
  release) cargo_profile=(--release); binary="$target_dir/release/$bin" ;;
  dev) cargo_profile=(); binary="$target_dir/debug/$bin" ;;
  *)
    echo "$me: PFI_DEMO_PROFILE must be release or dev, not \`$profile\`" >&2
    exit 2
    ;;
esac

if ! docker info >/dev/null 2>&1; then
  echo "$me: the Docker engine is not reachable (is it running? is DOCKER_HOST right?)" >&2
  exit 3
fi

# PFI_DEMO_NO_BUILD=1: the caller has just built the binary (the integration tests: `cargo test`
# builds every binary of the package before it runs them).
if [[ "${PFI_DEMO_NO_BUILD:-0}" != 1 ]]; then
  cargo build --quiet "${cargo_profile[@]}" --bin "$bin" --manifest-path "$root/Cargo.toml"
fi
if [[ ! -x "$binary" ]]; then
  echo "$me: $binary does not exist; build it with cargo build ${cargo_profile[*]} --bin $bin" >&2
  exit 3
fi

rm -rf "$context"
mkdir -p "$context/rootfs"
strip -o "$context/$bin" "$binary"
# The libraries the binary loads, at the paths its loader looks for them (ldd prints
# `name => /path (address)` for each library and `/path (address)` for the loader itself).
ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' |
  while read -r library; do
    cp -L --parents "$library" "$context/rootfs/"
  done
cp -f "$dockerfile" "$context/Dockerfile"

digest="$(cd "$context" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)"
current="$(docker image inspect --format "{{ index .Config.Labels \"pfi.$what.digest\" }}" "$image" 2>/dev/null || true)"
previous="$(docker image inspect --format '{{ .Id }}' "$image" 2>/dev/null || true)"
if [[ "$current" == "$digest" ]]; then
  echo "$me: $image is up to date"
  exit 0
fi

# The classic builder: it needs no buildx plugin and pulls nothing for FROM scratch.
# Its deprecation notice is noise: show the output only when the build fails.
if ! output="$(DOCKER_BUILDKIT=0 docker build --quiet --label "pfi.$what.digest=$digest" \
  --tag "$image" "$context" 2>&1)"; then
  echo "$output" >&2
  exit 1
fi
# The image this replaced is now untagged: remove it (and its layers) unless a container
# still uses it.
if [[ -n "$previous" && "$previous" != "$(docker image inspect --format '{{ .Id }}' "$image")" ]]; then
  docker image rm "$previous" >/dev/null 2>&1 || true
fi
echo "$me: built $image"
