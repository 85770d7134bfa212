#!/usr/bin/env bash
# Run the im_livechat_webhook addon's own tests (Odoo's harness, odoo-bin --test-enable) in a
# throwaway database, then drop it.
#
#   tools/odoo_tests.sh [options] [ODOO]
#
#   ODOO              an Odoo checkout (a directory with odoo-bin) or an odoo / odoo-bin executable;
#                     default $ODOO_PATH. Without one, the tests are skipped with a message (exit 0),
#                     or fail with --require (what CI uses when it has an Odoo).
#   --python PY       Python to run odoo-bin with (default: <checkout>/.venv/bin/python, else python3)
#   --db-host H --db-port P --db-user U     PostgreSQL (default 127.0.0.1, 5432, $USER)
#   --template DB     clone DB (a database with im_livechat installed) instead of installing from scratch
#   --keep            keep the database afterwards
#   --require         no Odoo is an error, not a skip
#   --wheel WHL       test the addon wheel (python -m tools.build_addon) instead of the folder: WHL is
#                     installed with pip --no-deps into a copy of --python's virtualenv, the addon
#                     folder stays off the addons_path, and the module must load from the wheel
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
python="" db_host="${PGHOST:-127.0.0.1}" db_port="${PGPORT:-5432}" db_user="${PGUSER:-${USER:-root}}"
template="" keep=0 require=0 odoo="${ODOO_PATH:-}" wheel=""
while [ $# -gt 0 ]; do
  case "$1" in
    --python) python="$2"; shift 2 ;;
    --db-host) db_host="$2"; shift 2 ;;
    --db-port) db_port="$2"; shift 2 ;;
    --db-user) db_user="$2"; shift 2 ;;
    --template) template="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    --require) require=1; shift ;;
    --wheel) wheel="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) odoo="$1"; shift ;;
  esac
done

if [ -z "$odoo" ]; then
  msg="SKIPPED: no Odoo given (pass a checkout or an odoo binary, or set ODOO_PATH); the addon's tests did not run."
  if [ "$require" = 1 ]; then echo "$msg" >&2; exit 1; fi
  echo "$msg"; exit 0
fi
if [ -d "$odoo" ]; then
  bin="$odoo/odoo-bin"
  [ -n "$python" ] || { [ -x "$odoo/.venv/bin/python" ] && python="$odoo/.venv/bin/python" || python=python3; }
  cmd=("$python" "$bin")
  addons_path="$odoo/odoo/addons"
  [ -d "$odoo/addons" ] && addons_path="$addons_path,$odoo/addons"   # a source package (17.0's) has no addons/
  addons_path="$addons_path,$here/odoo_addons"
else
  cmd=("$odoo")
  [ -n "$python" ] && cmd=("$python" "$odoo")
  addons_path="$here/odoo_addons"   # a packaged odoo knows its own addons; ours are added
fi
[ -e "${cmd[-1]}" ] || command -v "${cmd[-1]}" >/dev/null || { echo "no odoo at ${cmd[-1]}" >&2; exit 2; }

db="livechat_webhook_test_$$"
pg=(-h "$db_host" -p "$db_port" -U "$db_user")
wheel_tmp=""
cleanup() {
  [ "$keep" = 1 ] || dropdb "${pg[@]}" --if-exists "$db" 2>/dev/null || true
  [ -z "$wheel_tmp" ] || rm -rf "$wheel_tmp"
}
trap cleanup EXIT
if [ -n "$wheel" ]; then
  [ -f "$wheel" ] || { echo "no wheel at $wheel" >&2; exit 2; }
  [ -d "$odoo" ] && [ -n "$python" ] || { echo "--wheel needs an Odoo checkout and --python (its virtualenv's python)" >&2; exit 2; }
  venv="$(cd "$(dirname "$python")/.." && pwd)"
  [ -f "$venv/pyvenv.cfg" ] || { echo "--wheel: $python is not a virtualenv's python" >&2; exit 2; }
  wheel_tmp="$(mktemp -d -t addon-wheel.XXXXXX)"
  cp -a "$venv" "$wheel_tmp/venv"   # a copy: the rig's own venv is left as it is
  python="$wheel_tmp/venv/bin/python"
  "$python" -m pip install --quiet --no-deps --no-index --disable-pip-version-check "$wheel"
  cmd=("$python" "$bin")
  addons_path="${addons_path%,"$here/odoo_addons"}"   # not the folder: the module must come from the wheel
  found=$(cd "$odoo" && "$python" -c 'import importlib.util as u; print(u.find_spec("odoo.addons.im_livechat_webhook").origin)')
  case "$found" in
    "$wheel_tmp/venv/"*/site-packages/odoo/addons/im_livechat_webhook/__init__.py) echo "== the module from the wheel: $found" ;;
    *) echo "== FAILED: odoo.addons.im_livechat_webhook is $found, not the wheel's" >&2; exit 1 ;;
  esac
fi
if [ -n "$template" ]; then
  createdb "${pg[@]}" -T "$template" "$db"
  install=(-i im_livechat_webhook)
else
  install=(-i im_livechat,im_livechat_webhook)
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log="$(mktemp -t livechat_webhook_tests.XXXXXX.log)"
echo "== odoo: ${cmd[*]}"
echo "== database $db; log $log"
start=$(date +%s)
set +e
"${cmd[@]}" --addons-path="$addons_path" --db_host="$db_host" --db_port="$db_port" --db_user="$db_user" \
  -d "$db" --db-filter="^$db\$" --http-interface=127.0.0.1 --http-port="$port" --workers=0 --max-cron-threads=0 \
  "${install[@]}" --test-enable --test-tags=/im_livechat_webhook --stop-after-init --log-level=test >"$log" 2>&1
rc=$?
set -e
grep -E "odoo.tests.(stats|result)|(ERROR|FAIL|CRITICAL)" "$log" | grep -v "^$" | tail -n 60 || true
version=$(grep -m1 -oE "Odoo version [^ ]+" "$log" || true)
echo "== ${version:-Odoo}: exit $rc in $(( $(date +%s) - start )) s"
if [ $rc -ne 0 ] || grep -qE "(ERROR|CRITICAL) $db " "$log"; then echo "== FAILED (see $log)"; exit 1; fi
# an addon Odoo cannot find is only a warning ("invalid module names, ignored"): no test would run
grep -qE "odoo.tests.stats: im_livechat_webhook: [1-9][0-9]* tests" "$log" || { echo "== FAILED: no test of im_livechat_webhook ran (see $log)"; exit 1; }
echo "== PASSED"
