#!/bin/bash
# The one-shot `odoo-init` service of docker-compose.yml, run in the odoo:18 image: refuse
# placeholder secrets, install (or update) im_livechat and im_livechat_webhook in $ODOO_DB, then
# point the addon at the relay with docker/odoo-init.py. Safe to run again: nothing is installed
# twice, and the settings are written only where they differ.
set -euo pipefail

for name in PASSWORD ODOO_ADMIN_PASSWORD RELAY_WEBHOOK_SECRET RELAY_SECRET; do
  value="${!name:-}"
  case "$value" in
    "" | *change-me*)
      echo "odoo-init: $name is empty or still the placeholder from .env.example; set it in .env" >&2
      exit 2 ;;
  esac
done

db_args=(--db_host "${HOST:-db}" --db_port "${PORT:-5432}" --db_user "${USER:-odoo}" --db_password "$PASSWORD")

echo "odoo-init: installing im_livechat and im_livechat_webhook in database $ODOO_DB"
odoo "${db_args[@]}" -d "$ODOO_DB" -i im_livechat,im_livechat_webhook -u im_livechat_webhook \
  --stop-after-init --without-demo=all --log-level=warn

echo "odoo-init: pointing the addon at $WEBHOOK_URL"
odoo shell "${db_args[@]}" -d "$ODOO_DB" --log-level=warn < "$(dirname "$0")/odoo-init.py"
