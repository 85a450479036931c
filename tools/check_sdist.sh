#!/usr/bin/env bash
# The sdist, as a user gets it: built with `python -m build --sdist` from a clean copy of the
# checkout, checked to hold every file git tracks under csrc/, fastprop/ and tests/ (and
# LICENSE, README.md, the build files), then `pip install`ed (compiled from source, build
# isolation on) into a fresh venv from a folder outside the checkout, and smoke-tested there
# (tools/smoke_test.py: import, gradcheck, a tiny fit, `fastprop --version` and `info`).
#   tools/check_sdist.sh [OUT]   OUT: where to leave the sdist (default: a temporary folder)
# Needs python3 with venv, a C compiler, git, and access to the package index (build
# requirements). Called by .ci/run.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
OUT="${1:-$WORK/dist}"
PY="${PYTHON:-python3}"
START=$SECONDS

# A clean copy: the checkout's build/, modules and egg-info must not leak into the sdist.
. "$ROOT/tools/clean_copy.sh"

"$PY" -m venv "$WORK/tools"
"$WORK/tools/bin/python" -m pip install --quiet --upgrade pip build
"$WORK/tools/bin/python" -m build --sdist --outdir "$OUT" "$SRC" > "$WORK/sdist.log" 2>&1 \
  || { cat "$WORK/sdist.log"; exit 1; }
SDIST="$(ls "$OUT"/fastprop-*.tar.gz | tail -n 1)"
echo "check_sdist: built $(basename "$SDIST") ($(du -k "$SDIST" | cut -f1) kB, $((SECONDS - START)) s)"

# Every tracked file the build or the tests need is in the archive.
git -C "$ROOT" ls-files -- csrc fastprop tests LICENSE README.md MANIFEST.in pyproject.toml \
  setup.py > "$WORK/tracked"
"$WORK/tools/bin/python" - "$SDIST" "$WORK/tracked" <<'PY'
import sys, tarfile
sdist, tracked = sys.argv[1], sys.argv[2]
with tarfile.open(sdist) as tar:
    names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
want = [line.strip() for line in open(tracked) if line.strip()]
missing = [f for f in want if f not in names]
if not want or missing:
    sys.exit(f"check_sdist: the sdist lacks {len(missing)} tracked files: {missing[:20]}")
built = [n for n in names if n.endswith((".so", ".o")) or n == "fastprop/_core.c"]
if built:
    sys.exit(f"check_sdist: the sdist holds build products: {built}")
print(f"check_sdist: all {len(want)} tracked files of the build and tests are in the sdist")
PY

# A fresh venv, installed from a folder that is not the checkout.
"$PY" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install --quiet --upgrade pip
mkdir -p "$WORK/elsewhere"
cd "$WORK/elsewhere"
T0=$SECONDS
"$WORK/venv/bin/python" -m pip install --quiet --no-cache-dir "$SDIST"
echo "check_sdist: pip install of the sdist took $((SECONDS - T0)) s"
"$WORK/venv/bin/python" "$ROOT/tools/smoke_test.py" --checkout "$ROOT"
echo "check_sdist: passed ($((SECONDS - START)) s)"
