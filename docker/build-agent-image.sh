#!/usr/bin/env bash
# Builds `pfi-agent:local`: a FROM-scratch image holding the pfi binary (for `pfi agent`) and
# the shared libraries it links, nothing else (docker/build-binary-image.sh does the work).
#
#   docker/build-agent-image.sh                          # from the release build
#   PFI_DEMO_PROFILE=dev docker/build-agent-image.sh     # from the debug build (`cargo test`'s)
#   PFI_DEMO_NO_BUILD=1 ...                              # the binary is built already: no cargo
#   PFI_AGENT_IMAGE=name:tag docker/build-agent-image.sh
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/build-binary-image.sh" pfi agent "${PFI_AGENT_IMAGE:-pfi-agent:local}"
