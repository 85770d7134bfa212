"""The widget audited with axe-core in Chromium (issue 16 item 5): WCAG 2.0/2.1/2.2 A and AA and
axe's best practices, zero violations in each state a visitor meets (closed, open, mid-conversation,
offline, nobody online, a 320 px screen), plus what axe cannot see: focus kept in the full-screen
panel, focus after "Try again", Escape on the launcher, each message announced once with its
speaker. axe-core comes from the npm registry (package.json at the root; .ci/run runs npm ci)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.widget.conftest import Shop

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
HOST = "document.querySelector('[data-livechat-relay]')"


def audit(page) -> list[dict]:
    if not AXE.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{AXE} is missing: npm ci at the repository's root")
        pytest.skip("axe-core is not installed: npm ci at the repository's root")
    if not page.evaluate("() => !!window.axe"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate("""async (tags) => {
        const r = await axe.run({include: [["[data-livechat-relay]"]]}, {runOnly: {type: "tag", values: tags}});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.map(n => n.target.join(" ") + " :: " + n.failureSummary).slice(0, 5)}));
    }""", TAGS)
    return result


def assert_clean(page, state: str) -> None:
    found = audit(page)
    assert found == [], state + ": " + json.dumps(found, indent=1)


def test_closed_open_and_mid_conversation(context, relay):
    shop = Shop(context, relay, open="false")
    from tests.widget.conftest import SHOP
    shop.page.goto(SHOP + "/")
    shop.page.locator(".launcher").wait_for()
    assert_clean(shop.page, "closed")
    shop.page.locator(".launcher").click()
    assert_clean(shop.page, "open")
    shop.send("Hello, is anyone there?")
    shop.wait_status("connected")
    shop.wait_bubbles("visitor", ["Hello, is anyone there?"])
    shop.operator("reply", text="Yes, how can I help?")
    shop.wait_bubbles("operator", ["Yes, how can I help?"])
    assert_clean(shop.page, "mid-conversation")


def test_offline_and_nobody_online(context, relay):
    import urllib.request
    req = urllib.request.Request(f"{relay.url}/demo/api/operator", data=b'{"online": false}', method="POST",
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=10).read()
    shop = Shop(context, relay).open()
    shop.page.locator(".log li.note", has_text="Leave a message").wait_for()
    assert_clean(shop.page, "nobody online (leave a message)")
    shop.send("hello?")                                    # waits for a way to reach them
    shop.page.locator("[role=alert]").wait_for()
    assert_clean(shop.page, "nobody online, message waiting")
    context.set_offline(True)
    shop.page.wait_for_timeout(500)
    assert_clean(shop.page, "offline")
    context.set_offline(False)


def test_a_320_px_screen(context, relay):
    shop = Shop(context, relay)
    shop.page.set_viewport_size({"width": 320, "height": 640})
    shop.open()
    shop.send("small screen")
    shop.wait_bubbles("visitor", ["small screen"])
    assert_clean(shop.page, "320 px")


def active_in_widget(page) -> str | None:
    """The focused element inside the widget (its id or tag), None when focus is outside it."""
    return page.evaluate(f"""() => {{ const host = {HOST};
        if (document.activeElement !== host) return null;
        const a = host.shadowRoot.activeElement; return a ? (a.id || a.className || a.tagName) : null; }}""")


def test_full_screen_panel_keeps_the_focus_and_escape_closes_from_the_launcher(context, relay):
    shop = Shop(context, relay, open="false")
    from tests.widget.conftest import SHOP
    shop.page.set_viewport_size({"width": 320, "height": 640})
    shop.page.goto(SHOP + "/")
    shop.page.locator(".launcher").wait_for()
    shop.page.locator(".launcher").focus()
    shop.page.keyboard.press("Enter")
    assert shop.page.locator(".panel").get_attribute("aria-modal") == "true"
    for _ in range(12):                                     # the page's own controls are never reached
        shop.page.keyboard.press("Tab")
        assert active_in_widget(shop.page) is not None
    for _ in range(12):
        shop.page.keyboard.press("Shift+Tab")
        assert active_in_widget(shop.page) is not None
    shop.page.keyboard.press("Escape")
    assert shop.page.locator(".panel").is_hidden()
    assert active_in_widget(shop.page) == "launcher"
    shop.page.keyboard.press("Enter")                       # open again, then Escape on the launcher itself
    shop.page.locator(".launcher").focus()
    shop.page.keyboard.press("Escape")
    assert shop.page.locator(".panel").is_hidden()


def test_data_open_does_not_take_the_pages_focus(context, relay):
    shop = Shop(context, relay)                             # data-open="true"
    shop.open()
    shop.page.wait_for_timeout(300)
    assert shop.page.evaluate("() => document.activeElement === document.body")


def test_a_visitors_message_is_added_once_with_its_speaker_and_try_again_keeps_focus(context, relay):
    import urllib.request
    shop = Shop(context, relay, offline="notice").open()
    shop.send("first")
    shop.wait_status("connected")
    shop.wait_bubbles("visitor", ["first"])
    shop.page.evaluate(f"""() => {{ window.added = [];
        new MutationObserver(ms => ms.forEach(m => m.addedNodes.forEach(n => n.tagName === "LI" && window.added.push(n.textContent))))
          .observe({HOST}.shadowRoot.querySelector("ol.log"), {{childList: true}}); }}""")
    shop.send("second")
    shop.wait_bubbles("visitor", ["first", "second"])
    shop.page.wait_for_function(f"() => !{HOST}.shadowRoot.querySelector('li.pending')")
    added = [t for t in shop.page.evaluate("() => window.added") if "second" in t]
    assert len(added) == 1, added                           # pending, then filled in place: said once
    assert added[0].startswith("You: ")                     # who said it, for a screen reader
    # nobody online: the message is "not sent", not "sending…" forever; Try again keeps the focus
    shop.page.locator("button.end").click()
    shop.page.locator("button", has_text="Skip").click() if shop.page.locator("button", has_text="Skip").count() else None
    req = urllib.request.Request(f"{relay.url}/demo/api/operator", data=b'{"online": false}', method="POST",
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=10).read()
    new = shop.page.locator("button", has_text="Start a new chat")
    if new.count():
        new.click()
    shop.send("anyone?")
    shop.page.locator(".log li.note button", has_text="Try again").wait_for()
    assert shop.page.locator("li.pending .meta").text_content() == "not sent"
    shop.page.locator(".log li.note button", has_text="Try again").click()
    assert active_in_widget(shop.page) == "olr-input"
