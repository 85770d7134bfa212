#!/bin/sh
# Install the relay into the current Python: the install commands shared by CI (.ci/run), the relay
# image (Dockerfile) and tests/test_packaging.py, so they cannot drift.
#
#   tools/install.sh              build the relay's wheel and install it, not editable (the image):
#                                 the widget, the demo page and the console are package data
#   tools/install.sh test         editable, with the test tools (CI, developers)
#   tools/install.sh build [DIR]  build every artifact into DIR (default dist/): the relay's sdist
#                                 and wheel (python -m build), the addon's wheels for Odoo 17.0,
#                                 18.0 and 19.0 (tools/build_addon.py, whool); needs the test extra
set -eu
cd "$(dirname "$0")/.."
case "${1:-}" in
  "")
    python -m pip install --quiet --no-cache-dir --upgrade pip
    wheels="$(mktemp -d)"
    python -m pip wheel --quiet --no-cache-dir --no-deps --wheel-dir "$wheels" .
    python -m pip install --quiet --no-cache-dir "$wheels"/odoo_livechat_relay-*.whl
    rm -rf "$wheels" ;;
  test)
    python -m pip install --quiet --no-cache-dir --upgrade pip
    python -m pip install --quiet --no-cache-dir -e ".[test]" ;;
  build)
    out="${2:-dist}"
    python -m build --outdir "$out" .   # the sdist, then the wheel built from that sdist
    python -m tools.build_addon --outdir "$out" ;;
  *) echo "usage: tools/install.sh [test | build [DIR]]" >&2; exit 2 ;;
esac
