# Sourced by tools/check_sdist.sh and tools/build_wheel.sh: a clean copy of the checkout ROOT in
# WORK/src, which they build from (the checkout's .git, build/ objects, dist/, compiled modules
# and egg-info must not leak into what they build). Sets SRC.
SRC="$WORK/src"
mkdir -p "$SRC"
tar -C "$ROOT" --exclude=./.git --exclude=./build --exclude=./dist --exclude='*.so' \
  --exclude='*.egg-info' -cf - . | tar -C "$SRC" -xf -
