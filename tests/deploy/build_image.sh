#!/usr/bin/env bash
# CTest fixture of the container tests: builds the runtime image from the binaries this build
# already has (scripts/image.sh --prebuilt: no second C++ build) on the local mmdebstrap base (no
# registry needed; made once per machine, ~3 minutes, then reused), and writes its reference to
# <build>/deploy/image.txt. Usage: build_image.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
source_dir=$1
build_dir=$2
mkdir -p "$build_dir/deploy"
# Containers and pods an earlier run of these tests left behind (killed by a timeout) go first.
source "$source_dir/scripts/container_env.sh"
engine=$ZEROCELL_CONTAINER_ENGINE
if [[ $engine == podman ]]; then
  podman pod ps -q --filter name='^zerocell-play-' | xargs -r podman pod rm -f >/dev/null
fi
[[ -n $engine ]] && "$engine" ps -aq --filter name='^zerocell-(test|bench)-' | xargs -r "$engine" rm -f >/dev/null
# Earlier runs' per-commit tags (zerocell-test:<version>-<commit>): each holds its binaries' layer.
[[ -n $engine ]] && "$engine" images --format '{{.Repository}}:{{.Tag}}' |
  grep -E '(^|/)zerocell-test:[0-9.]+-[0-9a-f]+$' | xargs -r "$engine" rmi >/dev/null 2>&1 || true
rm -f "$build_dir/deploy/image.txt"
start=$(date +%s)
ref=$(bash "$source_dir/scripts/image.sh" --prebuilt="$build_dir" --base=mmdebstrap \
        --name=zerocell-test | tail -n 1)
echo "$ref" >"$build_dir/deploy/image.txt"
echo "built $ref in $(($(date +%s) - start)) s"
