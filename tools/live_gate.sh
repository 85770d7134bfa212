#!/usr/bin/env bash
# The live Odoo gate (.ci/run runs it before the test suite): when an Odoo rig is on the machine,
# run tests/odoo and the addon's own tests against every Odoo version it holds, one version after
# another (the webhook tests share the addon's one endpoint per database).
#
#   tools/live_gate.sh            # rig in $ODOO_RIG, default /tmp/odoo-rig
#
# A rig is what ../shared/odoo-rig/build.sh builds (read its header): for NN in 17, 18, 19,
# odoo-NN/ (source), venv-NN/, odoo-NN.conf, and the databases rigNN (served) and rigNN_base (a
# template with im_livechat). For each version found built, the gate
#   1. puts THIS checkout's addon first on the rig's addons_path: $ODOO_RIG/relay-addons/
#      im_livechat_webhook is a symlink to odoo_addons/im_livechat_webhook here, and that folder
#      leads addons_path in odoo-NN.conf (idempotent: the link is re-pointed on each run);
#   2. stops the rig's server, installs the addon in rigNN (-i, or -u when installed), starts the
#      server again (build.sh start NN);
#   3. makes sure $ODOO_RIG/apikey-NN (mode 600) holds a valid API key of admin (kept from the
#      last run while Odoo still accepts it, otherwise a new persistent one); it is never printed;
#   4. runs tests/odoo against it (ODOO_URL, ODOO_DB, ODOO_API_KEY) and tools/odoo_tests.sh with
#      the rig's virtualenv and the template rigNN_base;
#   5. stops the server again if it was not running before the gate (CI's rig has none running).
# It prints which versions ran and which were absent, and each version's time. Without a rig it
# says so and exits 0. Any failure is a failure of the gate (non-zero exit).
#
# Time: every test of tests/odoo runs (80 a version, test_scale_live.py included: the gate stays
# within its ~40 minutes for the three versions on 2 cores; see the times it prints). Should it not,
# GATE_PYTEST_MARK="not slow" with the heavy cases marked `slow` is the way to trim, said here and in
# the README. GATE_VERSIONS="18 19" limits the versions.
#
# A version's skipped tests are listed (-rs) but not failures here: some skips are by design on one
# version (17.0 keeps an operator online 65 s after their last presence; the saas~19 case runs on
# 19 only). The relay's own CI rule (CI=true: any skip fails) is for the offline suite.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
RIG="${ODOO_RIG:-/tmp/odoo-rig}"
DB="${ODOO_RIG_DB:-rig}"
python="${GATE_PYTHON:-$here/.venv/bin/python}"
mark="${GATE_PYTEST_MARK-}"   # a pytest -m expression; empty: every test of tests/odoo

if [ ! -d "$RIG" ]; then
  echo "== live gate: no Odoo rig at $RIG (set ODOO_RIG; see ../shared/odoo-rig/build.sh): tests/odoo and the addon's tests did not run"
  exit 0
fi
build=""
for candidate in "${ODOO_RIG_BUILD:-}" "$here/../shared/odoo-rig/build.sh" /work/shared/odoo-rig/build.sh; do
  [ -n "$candidate" ] && [ -x "$candidate" ] && { build="$candidate"; break; }
done

port_of() { case $1 in 17) echo 8269;; 18) echo 8069;; 19) echo 8169;; esac; }
pidfile() { echo "$RIG/odoo-$1.pid"; }
running() { [ -s "$(pidfile "$1")" ] && kill -0 "$(cat "$(pidfile "$1")")" 2>/dev/null; }
db_exists() { psql -h /var/run/postgresql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$1'" 2>/dev/null | grep -q 1; }
built() {
  [ -x "$RIG/venv-$1/bin/python" ] && [ -f "$RIG/odoo-$1/odoo-bin" ] && [ -f "$RIG/odoo-$1.conf" ] \
    && db_exists "$DB$1" && db_exists "$DB${1}_base"
}

stop() {
  local v=$1 pid
  running "$v" || return 0
  pid=$(cat "$(pidfile "$v")")
  kill "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
  kill -9 "$pid" 2>/dev/null || true
}

start() {
  local v=$1 port; port=$(port_of "$v")
  if [ -n "$build" ]; then
    # not through a pipe: the server it leaves in the background would hold the pipe open
    ODOO_RIG="$RIG" "$build" start "$v"
  else   # the same as build.sh start, when the rig came without its script
    (cd "$RIG" && nohup setsid bash -c "echo \$\$ > odoo-$v.pid; exec venv-$v/bin/python odoo-$v/odoo-bin -c odoo-$v.conf -d $DB$v" >/dev/null 2>&1 &)
  fi
  for _ in $(seq 1 120); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/web/login")" = 200 ] && return 0
    sleep 1
  done
  echo "odoo $v did not answer on :$port; see $RIG/odoo-$v.log" >&2
  return 1
}

odoo_bin() { local v=$1; shift; "$RIG/venv-$v/bin/python" "$RIG/odoo-$v/odoo-bin" -c "$RIG/odoo-$v.conf" "$@"; }
odoo_shell() { local v=$1; shift; "$RIG/venv-$v/bin/python" "$RIG/odoo-$v/odoo-bin" shell -c "$RIG/odoo-$v.conf" "$@"; }

prepare_addons_path() {
  local v=$1 conf="$RIG/odoo-$1.conf" links="$RIG/relay-addons"
  mkdir -p "$links"
  ln -sfn "$here/odoo_addons/im_livechat_webhook" "$links/im_livechat_webhook"
  grep -qE "^addons_path = $links," "$conf" || sed -i -E "s#^addons_path = #addons_path = $links,#" "$conf"
  grep -qE "^addons_path = $links," "$conf" || { echo "no addons_path line in $conf" >&2; return 1; }
}

install_addon() {
  local v=$1 state flag
  state=$(psql -h /var/run/postgresql -d "$DB$v" -tAc \
    "SELECT state FROM ir_module_module WHERE name = 'im_livechat_webhook'" 2>/dev/null || true)
  flag=-i; [ "$state" = installed ] && flag=-u
  echo "   im_livechat_webhook ${state:-not known} in $DB$v: odoo-bin $flag (log $RIG/odoo-$v.log)"
  odoo_bin "$v" -d "$DB$v" "$flag" im_livechat_webhook --stop-after-init || return 1
  state=$(psql -h /var/run/postgresql -d "$DB$v" -tAc "SELECT state FROM ir_module_module WHERE name = 'im_livechat_webhook'")
  [ "$state" = installed ] || { echo "im_livechat_webhook is '$state' in $DB$v after $flag; see $RIG/odoo-$v.log" >&2; return 1; }
}

# An API key of admin in $RIG/apikey-NN: the stored one while Odoo accepts it, else a new persistent one
# (17.0: _generate(scope, name); 18.0 and 19.0: _generate(scope, name, expiration_date)).
api_key() {
  local v=$1 file="$RIG/apikey-$1" out key
  out=$(GATE_OLD_KEY="$(cat "$file" 2>/dev/null || true)" odoo_shell "$v" -d "$DB$v" --no-http \
        --log-level=warn --logfile=/dev/null 2>/dev/null <<'PY'
import inspect, os
keys = env["res.users.apikeys"]
admin = env.ref("base.user_admin")
old = os.environ.get("GATE_OLD_KEY", "").strip()
if old and keys._check_credentials(scope="rpc", key=old) == admin.id:
    print("GATE-KEY", old)
else:
    args = [None, "relay tests"]
    if "expiration_date" in inspect.signature(type(keys)._generate).parameters:
        args.append(None)   # persistent: admin may
    print("GATE-KEY", keys.with_user(admin)._generate(*args))
    env.cr.commit()
PY
)
  key=$(printf '%s\n' "$out" | sed -n 's/^GATE-KEY //p' | tail -n1)
  [ -n "$key" ] || { echo "could not make an API key for admin in $DB$v" >&2; return 1; }
  (umask 077; printf '%s\n' "$key" > "$file")
  chmod 600 "$file"
}

gate_version() {
  local v=$1 port was_running=0 rc=0
  port=$(port_of "$v")
  running "$v" && was_running=1
  echo "== live gate: Odoo $v ($DB$v on 127.0.0.1:$port)"
  # (set -e does not hold inside a function called from an if: each step says when it failed)
  if ! { prepare_addons_path "$v" && stop "$v" && install_addon "$v" && start "$v" && api_key "$v"; }; then
    echo "== live gate: Odoo $v could not be prepared"
    [ "$was_running" = 1 ] || stop "$v"
    return 1
  fi
  local select=(); [ -z "$mark" ] || select=(-m "$mark")
  echo "-- tests/odoo against Odoo $v${mark:+ (-m $mark)}"
  ODOO_URL="http://127.0.0.1:$port" ODOO_DB="$DB$v" ODOO_API_KEY="$(cat "$RIG/apikey-$v")" ODOO_RIG="$RIG" \
    CI=false "$python" -m pytest -q -rs --durations=5 -p no:cacheprovider "${select[@]}" tests/odoo || rc=1
  echo "-- the addon's tests on Odoo $v"   # also after a failure above: both results are worth having
  tools/odoo_tests.sh --require --python "$RIG/venv-$v/bin/python" --template "$DB${v}_base" \
    --db-host /var/run/postgresql "$RIG/odoo-$v" || rc=1
  [ "$was_running" = 1 ] || stop "$v"
  return "$rc"
}

ran=() absent=() failed=() times=()
total_start=$(date +%s)
for v in ${GATE_VERSIONS:-17 18 19}; do
  if ! built "$v"; then absent+=("$v"); continue; fi
  t0=$(date +%s)
  if gate_version "$v"; then ran+=("$v"); else failed+=("$v"); fi
  times+=("$v: $(( $(date +%s) - t0 )) s")
  echo "== live gate: Odoo $v took $(( $(date +%s) - t0 )) s"
done
echo "== live gate: ran on ${ran[*]:-none}; failed on ${failed[*]:-none}; absent: ${absent[*]:-none} (rig $RIG)"
echo "== live gate: times ${times[*]:-}; total $(( $(date +%s) - total_start )) s"
[ ${#failed[@]} = 0 ]
