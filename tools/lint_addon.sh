#!/usr/bin/env bash
# pylint-odoo on the addon. One source tree serves 17.0-19.0, so the manifest version carries no
# series prefix (Odoo adds it) and self.env._ (absent in 17.0) is not required.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python -m pylint --load-plugins=pylint_odoo --score=n --disable=all --enable=odoolint \
  --disable=manifest-version-format,prefer-env-translation \
  --valid-odoo-versions=17.0,18.0,19.0 --manifest-required-authors="Odoo Livechat Relay contributors" \
  odoo_addons/im_livechat_webhook
