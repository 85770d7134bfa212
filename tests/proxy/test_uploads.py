"""Visitor files (docs/protocol.md §5, issue 13 item 1) against the demo upstream: upload, then a
message carrying it; the file is judged by its bytes; bad input gets a clear 4xx and changes
nothing; a 1 GiB body over the limit is refused with the relay's memory flat."""
from __future__ import annotations

import asyncio
import base64
import io
import json
import zipfile

import aiohttp
import pytest

from tests.conftest import Client
from tests.relayproc import RelayProcess

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


async def upload(client, conv, name, data, content_type=None, field="file", token=None):
    form = aiohttp.FormData()
    form.add_field(field, data, filename=name, content_type=content_type or "application/octet-stream")
    return await client.call("POST", f"/v1/conversations/{conv['conversation_id']}/attachments",
                             token or conv["token"], data=form)


async def send(client, conv, client_id, text, attachment_ids):
    return await client.call("POST", f"/v1/conversations/{conv['conversation_id']}/messages", conv["token"],
                             json={"client_id": client_id, "text": text, "attachment_ids": attachment_ids})


async def test_a_file_then_a_message_that_carries_it(client):
    conv = await client.create()
    status, body, _ = await upload(client, conv, "photo.png", PNG, "image/png")
    assert status == 201, body
    att = body["attachment"]
    assert (att["name"], att["mimetype"], att["size"]) == ("photo.png", "image/png", len(PNG))
    status, body, _ = await send(client, conv, "c1", "", [att["id"]])
    assert status == 201, body
    (sent,) = body["event"]["message"]["attachments"]
    assert sent["id"] == att["id"] and sent["url"].startswith(f"/v1/files/{conv['conversation_id']}/")
    async with client.http.get(client.relay.url + sent["url"]) as r:   # the visitor's own file, back
        assert r.status == 200 and await r.read() == PNG
    status, body, _ = await send(client, conv, "c1", "", [att["id"]])    # a retry: the same event
    assert status == 200 and body["event"]["message"]["attachments"][0]["id"] == att["id"]
    for name, data, declared, expected in (("invoice.pdf", PDF, "application/pdf", "application/pdf"),
                                           ("notes.txt", "héllo\nwörld".encode(), "text/plain", "text/plain"),
                                           ("report.docx", docx(), None,
                                            "application/vnd.openxmlformats-officedocument.wordprocessingml.document")):
        status, body, _ = await upload(client, conv, name, data, declared)
        assert (status, body["attachment"]["mimetype"]) == (201, expected), body


@pytest.mark.parametrize("case", ["executable", "lying_name", "lying_type", "html", "empty", "no_file_part",
                                  "not_multipart", "broken_multipart", "other_token"])
async def test_bad_files_get_a_clear_4xx_and_change_nothing(client, case):
    conv = await client.create()
    other = await client.create()
    before = client.db_counts()
    if case == "not_multipart":
        result = await client.call("POST", f"/v1/conversations/{conv['conversation_id']}/attachments", conv["token"],
                                   json={"file": "x"})
    elif case == "broken_multipart":
        result = await client.call("POST", f"/v1/conversations/{conv['conversation_id']}/attachments", conv["token"],
                                   data=b"--b\r\nContent-Disposition: form-da", headers={
                                       "Content-Type": "multipart/form-data; boundary=b"})
    else:
        name, data, declared, field, token = {
            "executable": ("setup.exe", b"MZ\x90\x00" + b"\x00" * 200, "application/x-msdownload", "file", None),
            "lying_name": ("photo.png", PDF, "image/png", "file", None),
            "lying_type": ("invoice.pdf", PNG, "application/pdf", "file", None),
            "html": ("page.html", b"<html><script>alert(1)</script></html>", "text/html", "file", None),
            "empty": ("empty.txt", b"", "text/plain", "file", None),
            "no_file_part": ("photo.png", PNG, "image/png", "picture", None),
            "other_token": ("photo.png", PNG, "image/png", "file", other["token"]),
        }[case]
        result = await upload(client, conv, name, data, declared, field, token)
    status, body, _ = result
    expected = {"executable": (415, "unsupported_type"), "lying_name": (415, "type_mismatch"),
                "lying_type": (415, "type_mismatch"), "html": (415, "unsupported_type"),
                "empty": (400, "empty_file"), "no_file_part": (400, "invalid_body"),
                "not_multipart": (400, "invalid_body"), "broken_multipart": (400, "invalid_body"),
                "other_token": (401, "token_invalid")}[case]
    assert (status, body["error"]) == expected, body
    assert client.db_counts() == before
    assert "uploads" not in client.upstream_of(conv["conversation_id"])


async def test_a_message_may_carry_only_this_conversations_files(client):
    conv, other = await client.create(), await client.create()
    status, body, _ = await upload(client, other, "photo.png", PNG, "image/png")
    assert status == 201
    theirs = body["attachment"]["id"]
    before = client.db_counts()
    for ids, code in (([theirs], "unknown_attachment"), ([999999], "unknown_attachment"),
                      (["1"], "invalid_attachments"), ([True], "invalid_attachments"),
                      (list(range(11)), "invalid_attachments"), ("7", "invalid_attachments")):
        status, body, _ = await send(client, conv, "c-bad", "look", ids)
        assert (status, body["error"]) == (400, code), (ids, body)
    assert client.db_counts() == before


async def test_hostile_file_names_are_kept_inert(client):
    conv = await client.create()
    name = "..\\..\\etc/pass\u202ewd<b>.png"           # as a browser writes it: raw UTF-8
    raw = (b'--b\r\nContent-Disposition: form-data; name="file"; filename="' + name.encode() + b'"\r\n'
           b"Content-Type: image/png\r\n\r\n" + PNG + b"\r\n--b--\r\n")
    status, body, _ = await client.call("POST", f"/v1/conversations/{conv['conversation_id']}/attachments",
                                        conv["token"], data=raw,
                                        headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert status == 201, body
    assert body["attachment"]["name"] == "passwd<b>.png"      # no folders, no bidirectional override


async def test_uploads_count_in_the_conversation_rate_limit(tmp_path):
    relay = RelayProcess(tmp_path, env={"RELAY_RATE_LIMIT_MESSAGES": "3/60"}).start()
    try:
        async with aiohttp.ClientSession() as http:
            client = Client(relay, http)
            conv = await client.create()
            statuses = [(await upload(client, conv, "photo.png", PNG, "image/png"))[0] for _ in range(4)]
            assert statuses == [201, 201, 201, 429]
    finally:
        relay.stop()


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


async def test_a_huge_upload_is_refused_while_streaming_with_memory_flat(tmp_path):
    relay = RelayProcess(tmp_path, env={"RELAY_MAX_UPLOAD_BYTES": "1048576", "RELAY_BODY_TIMEOUT": "30"}).start()
    try:
        async with aiohttp.ClientSession() as http:
            client = Client(relay, http)
            conv = await client.create()
            before = rss_kib(relay.proc.pid)
            peak = [before]

            async def body():                      # 1 GiB of a "PNG", no Content-Length (chunked)
                yield PNG[:16]
                block = b"\x00" * 1048576
                for _ in range(1024):
                    peak[0] = max(peak[0], rss_kib(relay.proc.pid))
                    yield block
                    await asyncio.sleep(0)

            form = aiohttp.FormData()
            form.add_field("file", body(), filename="huge.png", content_type="image/png")
            try:
                status, answer, _ = await client.call("POST", f"/v1/conversations/{conv['conversation_id']}/attachments",
                                                      conv["token"], data=form)
                assert (status, answer["error"]) == (413, "file_too_large")
            except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError):
                pass                               # refused and closed while the client was still sending
            assert peak[0] - before < 30 * 1024, f"relay RSS grew {(peak[0] - before) // 1024} MiB"
            status, answer, _ = await upload(client, conv, "big.png", PNG + b"\x00" * 1048576, "image/png")
            assert (status, answer["error"]) == (413, "file_too_large")
            assert "uploads" not in client.upstream_of(conv["conversation_id"])
            status, _, _ = await upload(client, conv, "small.png", PNG, "image/png")     # the relay is fine
            assert status == 201
    finally:
        relay.stop()
