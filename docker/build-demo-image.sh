#!/usr/bin/env bash
# Builds `pfi-demo:local`: a FROM-scratch image holding pfi-demo and the shared libraries it
# links, nothing else (docker/build-binary-image.sh does the work).
#
#   docker/build-demo-image.sh                          # from the release build
#   PFI_DEMO_PROFILE=dev docker/build-demo-image.sh     # from the debug build (`cargo test`'s)
#   PFI_DEMO_NO_BUILD=1 ...                             # the binary is built already: no cargo
#   PFI_DEMO_IMAGE=name:tag docker/build-demo-image.sh
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/build-binary-image.sh" pfi-demo demo "${PFI_DEMO_IMAGE:-pfi-demo:local}"
