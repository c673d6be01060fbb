#!/usr/bin/env bash
# Format every C source with the root .clang-format (clang-format 14+).
# scripts/format.sh --check only reports, and fails when a file would change.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.c' '*.h'; git ls-files --others --exclude-standard '*.c' '*.h')
if [[ ${1:-} == --check ]]; then
    exec clang-format --dry-run --Werror "${files[@]}"
fi
clang-format -i "${files[@]}"
