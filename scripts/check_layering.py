#!/usr/bin/env python3
"""Checks that dependencies point one way, by the #include lines of every source, and that nothing
in the repository refers to files outside it. Run by ctest (check_layering, label unit):

  scripts/check_layering.py [REPO_ROOT]

The stages of the data flow, each may include only itself and the ones before it:
  base, version  <- sandbox <- image <- proto (generated zerocell/v1) <- api <- server, client
server/ never includes client/, client/ never includes server/. bench/ and tests/ may include
any stage. Quoted includes climbing out of their directory ("../x.h") are refused too, as is any
mention of the sibling directory "shared" next to the repository (a clone of the project does not have it).
Prints each offence as file:line and exits 1 when there is one."""
import os
import re
import sys

# What each stage may include (the stage of an include is its first path component).
ALLOWED = {
    "base": {"base"},
    "version": {"version"},
    "sandbox": {"base", "sandbox"},
    "image": {"base", "sandbox", "image"},
    "proto": {"proto"},
    "api": {"base", "sandbox", "image", "proto", "api"},
    "server": {"base", "version", "sandbox", "image", "proto", "api", "server"},
    "client": {"base", "version", "sandbox", "image", "proto", "api", "client"},
}
STAGES = set(ALLOWED) | {"bench", "tests"}
CHECKED_DIRS = ["base", "version", "sandbox", "image", "api", "server", "client", "bench",
                "tests"]
SOURCE_EXTENSIONS = (".h", ".hpp", ".cc", ".cpp", ".c", ".S", ".inc")
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')
# Build output and tool directories are not the project's text.
SKIP_DIRS = {".git", "node_modules", "__pycache__"}
# The sibling directory no clone has, spelled so that this file does not match itself.
SHARED = "../" + "shared"


def stage_of_include(path):
    first = path.split("/", 1)[0]
    if first == "zerocell":  # generated: "zerocell/v1/sandbox.pb.h"
        return "proto"
    return first if first in STAGES else None


def check_includes(root, errors):
    for top in CHECKED_DIRS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            for name in sorted(filenames):
                if not name.endswith(SOURCE_EXTENSIONS):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root)
                with open(path, encoding="utf-8", errors="replace") as f:
                    for number, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        target = m.group(1)
                        if target.startswith("../") or "/../" in target:
                            errors.append(f"{rel}:{number}: includes \"{target}\": include from "
                                          "the source root instead of climbing directories")
                            continue
                        stage = stage_of_include(target)
                        if stage is None or top not in ALLOWED:
                            continue  # system or third-party header; bench/ and tests/
                        if stage not in ALLOWED[top]:
                            errors.append(f"{rel}:{number}: {top}/ includes \"{target}\" "
                                          f"({stage}/), against the data flow: {top}/ may "
                                          f"include only {', '.join(sorted(ALLOWED[top]))}")


def is_build_dir(root, dirpath, name):
    # build/, build-fuzz/, ...: anything holding a CMakeCache.txt.
    return os.path.exists(os.path.join(dirpath, name, "CMakeCache.txt"))


def check_shared(root, errors):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames
                             if d not in SKIP_DIRS and not is_build_dir(root, dirpath, d))
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            try:
                with open(path, encoding="utf-8") as f:
                    lines = f.readlines()
            except (UnicodeDecodeError, OSError):
                continue  # binary (seed corpora, images)
            for number, line in enumerate(lines, 1):
                if SHARED in line:
                    errors.append(f"{os.path.relpath(path, root)}:{number}: refers to "
                                  f"{SHARED}, which a clone of the project does not have")


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    errors = []
    check_includes(root, errors)
    check_shared(root, errors)
    for e in errors:
        print(e)
    if errors:
        print(f"check_layering: {len(errors)} offence(s)")
        return 1
    print("check_layering: every include follows the data flow; no reference to " + SHARED)
    return 0


if __name__ == "__main__":
    sys.exit(main())
