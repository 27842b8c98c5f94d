#!/usr/bin/env bash
# Style checks: clang-format (.clang-format: Google base, 100 columns) and clang-tidy (.clang-tidy).
#   scripts/lint.sh [--all] [--fix] [--tidy] [--build-dir=DIR] [file...]
# Files: those given, else every C/C++ file with --all, else the ones changed against main
# (committed on this branch, staged, unstaged or untracked). The format check is fast and runs in
# the test command (--all); --fix rewrites the files instead of failing. --tidy also runs
# clang-tidy on the sources among them, with the compile commands of DIR (default build/, which
# scripts/build.sh configures); it is slower (minutes for --all) and not part of the test command.
set -euo pipefail
cd "$(dirname "$0")/.."
all=0 fix=0 tidy=0 build_dir=build
files=()
for arg in "$@"; do
  case $arg in
    --all) all=1 ;;
    --fix) fix=1 ;;
    --tidy) tidy=1 ;;
    --build-dir=*) build_dir=${arg#--build-dir=} ;;
    -*) echo "lint.sh: unknown option $arg" >&2; exit 2 ;;
    *) files+=("$arg") ;;
  esac
done

sources=('*.h' '*.cc' '*.c')
if ((${#files[@]} == 0)); then
  if ((all)); then
    mapfile -t files < <(git ls-files -- "${sources[@]}")
  else
    base=$(git merge-base HEAD main 2>/dev/null || git merge-base HEAD origin/main 2>/dev/null ||
      true)
    if [[ -z $base ]]; then
      echo "lint.sh: no main branch to compare with; checking all files" >&2
      mapfile -t files < <(git ls-files -- "${sources[@]}")
    else
      mapfile -t files < <({
        git diff --name-only --diff-filter=d "$base" -- "${sources[@]}"
        git ls-files --others --exclude-standard -- "${sources[@]}"
      } | sort -u)
    fi
  fi
fi
if ((${#files[@]} == 0)); then
  echo "lint: no C/C++ files to check"
  exit 0
fi

status=0
if ((fix)); then
  clang-format -i "${files[@]}"
elif ! clang-format --dry-run --Werror "${files[@]}"; then
  echo "lint: clang-format would change the files above; fix with scripts/lint.sh --fix" \
    "${files[*]:0:3}..." >&2
  status=1
else
  echo "lint: ${#files[@]} files formatted as .clang-format says"
fi

if ((tidy)); then
  if [[ ! -f $build_dir/compile_commands.json ]]; then
    echo "lint: $build_dir/compile_commands.json is missing; run scripts/build.sh first" >&2
    exit 1
  fi
  tidy_files=()
  for f in "${files[@]}"; do
    [[ $f == *.cc ]] && grep -q "\"file\": \"$PWD/$f\"" "$build_dir/compile_commands.json" &&
      tidy_files+=("$f")
  done
  if ((${#tidy_files[@]})); then
    # One process per file, $(nproc) at a time; the headers they include are checked with them.
    if ! printf '%s\n' "${tidy_files[@]}" |
        xargs -P "$(nproc)" -n 1 clang-tidy -p "$build_dir" --quiet --warnings-as-errors='*' \
          --header-filter="^$PWD/(base|version|sandbox|image|api|server|client|bench|tests)/"; then
      echo "lint: clang-tidy found the problems above" >&2
      status=1
    else
      echo "lint: clang-tidy clean on ${#tidy_files[@]} sources"
    fi
  fi
fi
exit $status
