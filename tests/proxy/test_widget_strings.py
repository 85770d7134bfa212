"""``/widget/i18n/<lang>.json``: the widget's texts in one language, as the widget asks for the
visitor's (English is built into the widget): the nearest translated table, 404 otherwise."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

I18N = Path(__file__).resolve().parents[2] / "widget" / "i18n"


@pytest.mark.parametrize("asked,served", [("fr", "fr"), ("fr-BE", "fr"), ("fr_CA", "fr"), ("FR", "fr")])
async def test_the_nearest_translation(client, asked, served):
    status, body, headers = await client.call("GET", f"/widget/i18n/{asked}.json")
    assert status == 200, body
    assert body == json.loads((I18N / f"{served}.json").read_text())
    assert headers["Access-Control-Allow-Origin"] == "*" and "max-age" in headers["Cache-Control"]


@pytest.mark.parametrize("asked", ["xx", "en", "../widget", "fr-BE-x-y", "%2e%2e%2fwidget", "a" * 40])
async def test_no_translation_is_404(client, asked):
    status, body, _ = await client.call("GET", f"/widget/i18n/{asked}.json")
    assert status == 404
