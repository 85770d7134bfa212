"""The transcript on real Odoo (issue 13, item 4): by email where Odoo offers it to visitors (17,
18: Odoo's own template, queued as a mail.mail to that address), refused plainly on 19 (its route
is for users only); Odoo's own PDF on 19 (rendered by wkhtmltopdf), refused plainly on 17 and 18.
The relay's own text and HTML transcripts are there on every version."""
from __future__ import annotations

import shutil
import uuid

import pytest

from tests.odoo.livechat import answered, live_conversation

pytestmark = pytest.mark.odoo


def mails_to(odoo, email: str) -> list[dict]:
    return odoo.execute("mail.mail", "search_read", [[["email_to", "=", email]]], {"fields": ["subject", "body_html"]})


async def test_the_transcript_by_email_where_odoo_offers_it(odoo, tmp_path):
    email = f"visitor-{uuid.uuid4().hex[:12]}@shop.example"
    async with live_conversation(odoo, tmp_path, "Visitor who wants a copy") as (client, conv, channel_id):
        await answered(odoo, client, conv, channel_id, "<p>Your order ships tomorrow</p>")
        status, body, _ = await client.call("POST", f"/v1/conversations/{conv['conversation_id']}/transcript",
                                            conv["token"], json={"email": email})
        if odoo.major >= 19:
            assert (status, body["error"]) == (409, "not_offered"), body
            assert mails_to(odoo, email) == []
            return
        assert status == 202, body
        (mail,) = mails_to(odoo, email)
        assert "Your order ships tomorrow" in mail["body_html"]


async def test_odoos_own_pdf_on_19(odoo, tmp_path):
    if odoo.major >= 19 and not shutil.which("wkhtmltopdf"):
        pytest.fail("Odoo 19 renders the PDF with wkhtmltopdf: apt-get install -y wkhtmltopdf, then restart Odoo")
    async with live_conversation(odoo, tmp_path, "Visitor who wants a PDF") as (client, conv, channel_id):
        await answered(odoo, client, conv, channel_id, "<p>Here is the summary</p>")
        async with client.http.get(client.relay.url + f"/v1/conversations/{conv['conversation_id']}/transcript?format=pdf",
                                   headers={"Authorization": "Bearer " + conv["token"]}) as resp:
            status, headers, pdf = resp.status, resp.headers, await resp.read()
        if odoo.major < 19:
            assert status == 409 and b'"not_offered"' in pdf, pdf
            return
        assert status == 200, pdf[:300]
        assert headers["Content-Type"] == "application/pdf"
        assert headers["Content-Disposition"].startswith('attachment; filename="conversation-')
        assert odoo.url not in str(dict(headers))
        assert pdf.startswith(b"%PDF-") and len(pdf) > 1000
