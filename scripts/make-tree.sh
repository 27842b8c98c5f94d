#!/usr/bin/env bash
# Builds a file tree image (a tar) from installed Debian packages: their files plus the shared
# libraries their ELF files need, with the dynamic loader at its path.
#
#   scripts/make-tree.sh python3 python3.tar    # Debian's python3.11 (stdlib, glibc, ld-linux)
#   scripts/make-tree.sh busybox busybox.tar    # busybox-static: /bin/sh and every applet link
#
# Deterministic for the same installed package versions: entries sorted by path, owner 0/0 with
# no names, GNU format; files and symlinks keep the mtime dpkg gave them (the package's), so
# Python's timestamp-checked .pyc files stay valid; a __pycache__/*.cpython-311.pyc that Debian
# compiled at install time is included with its source's mtime; directories get mtime 0.
# Documentation (/usr/share/doc, man, info, lintian) is left out, and so are ELF files that need
# OpenSSL (see below).
set -euo pipefail
if [[ $# -ne 2 ]]; then
  echo "usage: $0 python3|busybox OUT.tar" >&2
  exit 2
fi
name=$1
out=$2
case "$name" in
  python3) packages=(python3 python3-minimal python3.11 python3.11-minimal libpython3.11-minimal
                     libpython3.11-stdlib) ;;
  busybox) packages=(busybox-static) ;;
  *) echo "make-tree: unknown tree \"$name\" (python3 or busybox)" >&2; exit 2 ;;
esac
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    { echo "make-tree: package $p is not installed (scripts/setup.sh installs it)" >&2; exit 1; }
done
busybox_links=""
if [[ $name == busybox ]]; then
  busybox_links=$(/bin/busybox --list-full)
fi
list=$(mktemp)
trap 'rm -f "$list"' EXIT
dpkg -L "${packages[@]}" >"$list"
python3 - "$out" "$list" "$busybox_links" <<'EOF'
import os, subprocess, sys, tarfile

out, listing, busybox_links = sys.argv[1], sys.argv[2], sys.argv[3].split()
SKIP = ("/usr/share/doc", "/usr/share/man", "/usr/share/info", "/usr/share/lintian")
entries = {}  # tree path ("usr/bin/x") -> host path or ("symlink", target)


def add_path(host):
    """Adds host path with every symlinked ancestor (/lib -> usr/lib) and a symlink's target."""
    parts = host.strip("/").split("/")
    cur = ""
    for i, part in enumerate(parts):
        cur = cur + "/" + part
        if os.path.islink(cur):
            target = os.readlink(cur)
            entries[cur.lstrip("/")] = ("symlink", target)
            resolved = os.path.normpath(os.path.join(os.path.dirname(cur), target))
            return add_path("/".join([resolved] + parts[i + 1:])) if i + 1 < len(parts) \
                else add_path(resolved)
        if i + 1 == len(parts) or not os.path.isdir(cur):
            entries[cur.lstrip("/")] = cur
    return None


def is_elf(path):
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


with open(listing) as f:
    files = [l.strip() for l in f if l.strip() and l.strip() != "/."]
for f in files:
    if f.startswith(SKIP) or not os.path.lexists(f) or (os.path.isdir(f) and not os.path.islink(f)):
        continue
    add_path(f)
    if f.endswith(".py") and os.path.isfile(f):
        d, base = os.path.split(f)
        pyc = os.path.join(d, "__pycache__", base[:-3] + ".cpython-311.pyc")
        if os.path.isfile(pyc):
            entries[pyc.lstrip("/")] = (pyc, os.lstat(f).st_mtime)
for link in busybox_links:  # applets: absolute links to the one binary, in real directories
    d, base = os.path.split("/" + link.lstrip("/"))
    real = os.path.join(os.path.realpath(d), base).lstrip("/")
    if real not in entries:
        entries[real] = ("symlink", "/bin/busybox")
# Shared libraries of every ELF, and the loader, as the dynamic loader resolves them here.
for tree_path, src in list(entries.items()):
    host = src if isinstance(src, str) else None
    if host is None or not os.path.isfile(host) or os.path.islink(host) or not is_elf(host):
        continue
    r = subprocess.run(["ldd", host], capture_output=True, text=True)
    # OpenSSL keeps constant tables in .text, which the admission sweep decodes as refused
    # instructions (port I/O): modules needing libcrypto/libssl (_ssl, _hashlib) are left out;
    # hashlib falls back to its builtin implementations.
    if "libcrypto.so" in r.stdout or "libssl.so" in r.stdout:
        del entries[tree_path]
        continue
    for line in r.stdout.splitlines():
        tokens = line.split()
        for t in tokens:
            if t.startswith("/") and os.path.exists(t):
                add_path(t)

with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as tar:
    dirs = set()
    for p in entries:
        parts = p.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
    for p in sorted(set(entries) | dirs):
        src = entries.get(p)
        if src is None or (isinstance(src, str) and os.path.isdir(src) and not os.path.islink(src)):
            if p in dirs or src is not None:
                info = tarfile.TarInfo(p)
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
                tar.addfile(info)
            continue
        info = tarfile.TarInfo(p)
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        if isinstance(src, tuple) and src[0] == "symlink":
            info.type, info.linkname, info.mode, info.mtime = tarfile.SYMTYPE, src[1], 0o777, 0
            tar.addfile(info)
            continue
        host, mtime = (src, None) if isinstance(src, str) else src
        st = os.lstat(host)
        info.size, info.mode = st.st_size, st.st_mode & 0o7777
        info.mtime = int(mtime if mtime is not None else st.st_mtime)
        with open(host, "rb") as f:
            tar.addfile(info, f)
EOF
echo "make-tree: $out: $(tar -tf "$out" | wc -l) entries, $(stat -c %s "$out") bytes"
