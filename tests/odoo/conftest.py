"""Tests against a real, running Odoo. They run when ODOO_URL (and ODOO_DB) point at one with the
im_livechat_webhook addon installed; otherwise they are skipped with that reason. Odoo is not on
any package registry, so CI without an Odoo skips them (and says so); see tools/odoo_tests.sh."""
from __future__ import annotations

import pytest

from tools.odoo_client import Odoo


@pytest.fixture(scope="module")
def odoo():
    client = Odoo.from_env()
    if client is None:
        pytest.skip("ODOO_URL not set: no real Odoo to test against (see README, 'Testing with a real Odoo')")
    return client.start()
