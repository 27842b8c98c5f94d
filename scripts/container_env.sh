# Sourced by scripts/image.sh and the container tests: the container engine and, for podman, a
# containers.conf that works on hosts like the CI VM. Defines:
#   ZEROCELL_CACHE_DIR         per-machine cache (helm, containers.conf), kept between runs
#   ZEROCELL_CONTAINER_ENGINE  podman (preferred) or docker, whichever works; empty if neither
#   CONTAINERS_CONF            exported for podman unless the caller set it
ZEROCELL_CACHE_DIR=${ZEROCELL_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/zerocell}
# A user without a writable home (nobody: /nonexistent) caches under /tmp instead.
mkdir -p "$ZEROCELL_CACHE_DIR" 2>/dev/null || ZEROCELL_CACHE_DIR=/tmp/zerocell-cache-$(id -u)
mkdir -p "$ZEROCELL_CACHE_DIR"

# Found on the CI VM kind (root without CAP_SYS_RESOURCE, cgroup v1/hybrid):
# - podman's default ulimits (nofile and nproc 1048576) exceed the hard limits root has there,
#   so the runtime's setrlimit fails with EPERM: the defaults become the hard limits (nproc at
#   most 32768, the value podman 4.3 sets for itself before it starts the runtime);
# - crun refuses hybrid cgroups ("cgroups in hybrid mode not supported"): runc, where installed.
zerocell_podman_conf() {
  local conf="$ZEROCELL_CACHE_DIR/containers.conf" nofile nproc
  nofile=$(ulimit -Hn)
  nproc=$(ulimit -Hu)
  [[ $nofile == unlimited ]] && nofile=1048576
  [[ $nproc == unlimited || $nproc -gt 32768 ]] && nproc=32768
  {
    echo "# Written by scripts/container_env.sh (Zerocell): see the comments there."
    echo "[containers]"
    echo "default_ulimits = [\"nofile=$nofile:$nofile\", \"nproc=$nproc:$nproc\"]"
    if command -v runc >/dev/null; then
      echo "[engine]"
      echo "runtime = \"runc\""
    fi
  } >"$conf.tmp"
  mv "$conf.tmp" "$conf"
  echo "$conf"
}

ZEROCELL_CONTAINER_ENGINE=${ZEROCELL_CONTAINER_ENGINE:-}
if [[ -z $ZEROCELL_CONTAINER_ENGINE ]]; then
  if command -v podman >/dev/null; then
    ZEROCELL_CONTAINER_ENGINE=podman
  elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    ZEROCELL_CONTAINER_ENGINE=docker
  fi
fi
if [[ $ZEROCELL_CONTAINER_ENGINE == podman && -z ${CONTAINERS_CONF:-} ]]; then
  CONTAINERS_CONF=$(zerocell_podman_conf)
  export CONTAINERS_CONF
fi
