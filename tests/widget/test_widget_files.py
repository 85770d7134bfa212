"""Operator files in the widget, in Chromium (issue 13, item 2): an image inline from the relay's
own file URL (a click opens it full size), a PDF as a link with its name and size; a hostile file
name is shown as text."""
from __future__ import annotations

import base64
import struct
import zlib

from tests.widget.conftest import Shop


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n" * 40


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_an_image_inline_and_a_pdf_as_a_link(context, relay):
    shop = Shop(context, relay).open()
    shop.send("can you send the invoice?")
    shop.wait_status("connected")
    hostile = '<img src=x onerror="window.pwned=1">.pdf'
    shop.operator("reply", text="here it is", files=[
        {"name": "photo.png", "mimetype": "image/png", "data": b64(png(40, 30, (200, 30, 30)))},
        {"name": "invoice.pdf", "mimetype": "application/pdf", "data": b64(PDF)},
        {"name": hostile, "mimetype": "application/pdf", "data": b64(b"%PDF-1.4\n")}])
    page = shop.page
    image = page.locator(".log li.operator .file img")
    image.wait_for(timeout=10000)
    for _ in range(100):                                   # loaded through the relay, decoded
        if image.evaluate("i => i.complete && i.naturalWidth") == 40:
            break
        page.wait_for_timeout(100)
    assert image.evaluate("i => i.naturalWidth") == 40
    assert image.get_attribute("alt") == "photo.png"
    assert image.get_attribute("src").startswith(relay.url + "/v1/files/")
    links = page.locator(".log li.operator .file a")
    assert links.count() == 3
    assert links.nth(0).get_attribute("aria-label") == "Open image photo.png"
    pdf = links.nth(1)
    assert pdf.text_content() == f"📎 invoice.pdf ({len(PDF) / 1024:.1f} KB)"
    assert pdf.get_attribute("href").startswith(relay.url + "/v1/files/")
    assert pdf.get_attribute("target") == "_blank" and "noopener" in pdf.get_attribute("rel")
    assert links.nth(2).text_content() == f"📎 {hostile} (9 B)"          # text, not markup
    assert page.evaluate("window.pwned") is None
    with context.expect_page() as popup:                   # the thumbnail opens the file full size
        links.nth(0).click()
    full = popup.value
    full.wait_for_load_state()
    assert full.url.startswith(relay.url + "/v1/files/") and "thumb" not in full.url
    full.close()
    shop.screenshot("files")


def wait_for(page, check, timeout: float = 15) -> None:
    for _ in range(int(timeout * 10)):
        if check():
            return
        page.wait_for_timeout(100)
    assert check()


def test_the_visitor_sends_files_by_the_button_by_drag_and_drop_and_offline(context, relay):
    shop = Shop(context, relay).open()
    shop.send("hello")
    shop.wait_status("connected")
    page = shop.page
    page.locator("input[type=file]").set_input_files(files=[
        {"name": "photo.png", "mimeType": "image/png", "buffer": png(20, 20, (30, 90, 200))}])
    visitor_files = page.locator(".log li.visitor .file a")
    wait_for(page, lambda: visitor_files.count() == 1)
    assert visitor_files.nth(0).get_attribute("href").startswith(relay.url + "/v1/files/")
    # drag-and-drop onto the panel, as a file dragged from the desktop
    page.evaluate("""(bytes) => {
        const panel = document.querySelector('[data-livechat-relay]')?.shadowRoot.querySelector('.panel');
        const dt = new DataTransfer();
        dt.items.add(new File([new Uint8Array(bytes)], 'invoice.pdf', {type: 'application/pdf'}));
        panel.dispatchEvent(new DragEvent('dragover', {dataTransfer: dt, bubbles: true, cancelable: true}));
        panel.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
    }""", list(PDF))
    wait_for(page, lambda: visitor_files.count() == 2)
    assert visitor_files.nth(1).text_content().startswith("📎 invoice.pdf")
    # a refused file says why, and the next one still goes
    page.locator("input[type=file]").set_input_files(files=[
        {"name": "setup.exe", "mimeType": "application/octet-stream", "buffer": b"MZ\x90\x00" + b"\x00" * 100}])
    failed = page.locator(".log li.visitor.failed")
    wait_for(page, lambda: failed.count() == 1)
    assert "this type of file cannot be sent" in failed.text_content()
    # chosen while offline: waits in the queue, goes when the link is back
    context.set_offline(True)
    shop.wait_status("error", timeout=40)
    page.locator("input[type=file]").set_input_files(files=[
        {"name": "later.png", "mimeType": "image/png", "buffer": png(10, 10, (0, 160, 0))}])
    assert page.locator(".log li.visitor.pending").count() == 1
    context.set_offline(False)
    wait_for(page, lambda: visitor_files.count() == 3, timeout=40)
    assert page.locator(".log li.visitor.pending").count() == 0
    conv = shop.conversation()
    import json as _json
    import urllib.request
    req = urllib.request.Request(f"{relay.url}/v1/conversations/{conv['conversation_id']}/events?after=0",
                                 headers={"Authorization": "Bearer " + conv["token"]})
    events = _json.loads(urllib.request.urlopen(req, timeout=10).read())["events"]
    names = [a["name"] for e in events if e["type"] == "message" for a in e["message"]["attachments"]]
    assert names == ["photo.png", "invoice.pdf", "later.png"]          # each once, in order
    shop.screenshot("visitor-files")
