#!/bin/sh
# Install the relay into the current Python: the one install command, shared by CI (.ci/run) and
# the relay image (Dockerfile), so the two cannot drift.
#
#   tools/install.sh          the relay and its runtime dependencies (the image)
#   tools/install.sh test     the same plus the test tools (CI, developers)
#
# Editable (-e): the relay serves widget/ from the repository tree (proxy/api/demo.py), so the
# installed package must stay next to it, in CI as in the image.
set -eu
cd "$(dirname "$0")/.."
case "${1:-}" in
  "") target="." ;;
  test) target=".[test]" ;;
  *) echo "usage: tools/install.sh [test]" >&2; exit 2 ;;
esac
python -m pip install --quiet --no-cache-dir --upgrade pip
python -m pip install --quiet --no-cache-dir -e "$target"
