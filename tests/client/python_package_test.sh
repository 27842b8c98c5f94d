#!/usr/bin/env bash
# The Python client installed as a package: a venv with the system site packages (Debian's
# python3-grpcio, python3-grpc-tools), `pip install --no-build-isolation` of examples/python (its
# build generates the stubs), then the client tests run against that install alone.
set -euo pipefail
src=${ZEROCELL_SOURCE_DIR:?}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$src/examples/python" "$work/package"  # pip builds in tree: keep the source clean
/usr/bin/python3 -m venv --system-site-packages "$work/venv"
ZEROCELL_PROTO_DIR="$src/proto" "$work/venv/bin/pip" install --quiet --no-index \
  --no-build-isolation "$work/package"
cd "$work"  # nothing of the source tree on sys.path: the installed package is what runs
env -u PYTHONPATH "$work/venv/bin/python" -c \
  'import zerocell_client, zerocell.v1.sandbox_pb2 as s; assert "site-packages" in s.__file__, s.__file__'
env -u PYTHONPATH PYTHONDONTWRITEBYTECODE=1 "$work/venv/bin/python" \
  "$src/tests/client/python_client_test.py" "$@"
