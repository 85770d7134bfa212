"""The widget with a bot in front of the operators, in real Chromium: a relay in demo mode with
RELAY_BOT_URL pointing at tools/example_bot (run as its own process), the "Talk to a person"
control, the status notes, and the operator taking over."""
from __future__ import annotations

import subprocess
import sys
import time
import urllib.request

import pytest

from tests.botserver import BOT_SECRET
from tests.relayproc import ROOT, RelayProcess, free_port
from tests.widget.conftest import SHOP, Shop


@pytest.fixture
def example_bot():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tools.example_bot", "--listen", f"127.0.0.1:{port}",
                             "--secret", BOT_SECRET], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                break
        except OSError:
            assert time.monotonic() < deadline and proc.poll() is None, "example bot did not start"
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}/bot"
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def bot_relay(tmp_path, shop_server, example_bot):
    proc = RelayProcess(tmp_path, env={"RELAY_ALLOWED_ORIGINS": SHOP, "RELAY_BOT_URL": example_bot,
                                       "RELAY_BOT_SECRET": BOT_SECRET}).start()
    yield proc
    proc.stop()


def notes(shop: Shop) -> list[str]:
    return shop.page.locator(".log li.note").all_text_contents()


def test_talk_to_a_person(context, bot_relay):
    shop = Shop(context, bot_relay).open()
    talk = shop.page.get_by_role("button", name="Talk to a person")
    assert talk.is_hidden()                                   # no conversation yet
    shop.send("hello")
    shop.wait_bubbles("bot", [shop.page.locator(".log li.bot .body").first.text_content(timeout=10000)])
    assert shop.bubbles("bot")[0].startswith("Hello! I am the shop's assistant")
    assert shop.page.locator(".log li.bot .who").first.text_content() == "Shop assistant"
    assert any("virtual assistant" in n for n in notes(shop))
    talk.wait_for(state="visible")
    shop.send("when are you open?")
    shop.wait_bubbles("visitor", ["hello", "when are you open?"])
    shop.page.wait_for_function("document.querySelector('[data-livechat-relay]')?.shadowRoot"
                                ".querySelectorAll('.log li.bot').length === 2")
    assert "Monday to Friday" in shop.bubbles("bot")[1]

    shop.page.reload()                                        # the control comes back from the history
    shop.page.wait_for_selector("[data-livechat-relay] .panel:not([hidden])")
    talk = shop.page.get_by_role("button", name="Talk to a person")
    talk.wait_for(state="visible")
    shop.screenshot("bot")
    talk.click()
    shop.page.wait_for_selector(".log li.note:has-text('Connecting you to a person')")
    shop.page.wait_for_selector(".log li.note:has-text('Waiting for an operator')")
    talk.wait_for(state="hidden")

    shop.operator("reply", text="Hi, a person here. How can I help?")
    shop.wait_bubbles("operator", ["Hi, a person here. How can I help?"])
    shop.send("my parcel is late")
    shop.wait_bubbles("visitor", ["hello", "when are you open?", "my parcel is late"])
    shop.page.wait_for_timeout(500)
    assert len(shop.bubbles("bot")) == 2                      # the bot is out of it
    shop.screenshot("handed-off")


def test_the_bot_hands_off_when_asked_and_no_operator_is_said_plainly(context, bot_relay):
    shop = Shop(context, bot_relay, lang="fr").open()
    shop.send("bonjour")
    talk = shop.page.get_by_role("button", name="Parler à une personne")
    talk.wait_for(state="visible", timeout=10000)
    shop.operator("operator", online=False, conversation_id="-")
    talk.click()
    shop.page.wait_for_selector(".log li.note:has-text(\"Personne n'est disponible\")")
    talk.wait_for(state="visible")                            # the bot stays, the visitor may ask again
    shop.operator("operator", online=True, conversation_id="-")
    shop.send("je veux parler à un agent")                    # the example bot hands off on "agent"
    shop.page.wait_for_selector(".log li.note:has-text(\"En attente d'un opérateur\")", timeout=10000)
    talk.wait_for(state="hidden")
