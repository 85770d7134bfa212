"""tools.compare_modes against real relays in demo mode: every transport gets every reply once,
the outputs are written, and a relay killed halfway shows up as lost replies and exit status 1."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import pytest

from tools import compare_modes
from tools.relayproc import ROOT, SECRET, free_port

MODES = ("ws", "longpoll", "poll")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def argv(relay, out, *extra) -> list[str]:
    return ["--relay", relay.url, "--messages", "20", "--rate", "50", "--poll-interval", "0.5",
            "--out", str(out), *extra]


def test_every_mode_gets_every_reply_once(relay, tmp_path, capsys):
    out = tmp_path / "out"
    assert compare_modes.main(argv(relay, out, "--secret", SECRET)) == 0

    report = json.loads((out / "compare_modes.json").read_text())
    assert report["ok"] is True and report["timed_out"] is False
    assert report["replies_via"] == "webhook" and report["relay"] == relay.url
    assert report["config"]["messages"] == 20 and report["config"]["rate"] == 50
    assert report["machine"]["cores"] >= 1 and report["relay_health"]["mode"] == "demo"
    assert list(report["modes"]) == list(MODES)
    for mode in MODES:
        r = report["modes"][mode]
        assert (r["sent"], r["received"], r["lost"], r["duplicated"], r["send_errors"]) == (20, 20, 0, 0, 0), mode
        assert r["warmed_up"] is True
        assert len(r["samples_ms"]) == 20 and all(s is not None and s > 0 for s in r["samples_ms"])
        assert 0 < r["p50_ms"] <= r["p95_ms"] <= r["p99_ms"] <= r["max_ms"]
        assert r["max_ms"] == pytest.approx(max(r["samples_ms"]), abs=0.01)
    # short polling every 0.5 s waits on average a quarter second; WebSocket does not wait at all
    assert report["modes"]["poll"]["p50_ms"] > report["modes"]["ws"]["p50_ms"]
    assert report["modes"]["poll"]["max_ms"] < 500 + 1000

    png = (out / "compare_modes.png").read_bytes()
    assert png.startswith(PNG_SIGNATURE) and len(png) > 10_000

    table = capsys.readouterr().out
    for mode in MODES:
        row = next(line for line in table.splitlines() if line.startswith(mode + " "))
        assert row.split()[1:5] == ["20", "20", "0", "0"], row


def test_demo_console_sends_the_replies_without_a_secret(relay, tmp_path, monkeypatch):
    monkeypatch.delenv("RELAY_WEBHOOK_SECRET", raising=False)
    out = tmp_path / "out"
    assert compare_modes.main(argv(relay, out, "--modes", "ws,longpoll", "--messages", "5")) == 0
    report = json.loads((out / "compare_modes.json").read_text())
    assert report["replies_via"] == "console" and list(report["modes"]) == ["ws", "longpoll"]
    assert all(r["received"] == 5 and r["lost"] == 0 for r in report["modes"].values())


def test_a_relay_killed_halfway_means_lost_replies_and_exit_1(relay, tmp_path, capsys):
    out = tmp_path / "out"
    killed = []

    def kill_at_half(k: int) -> None:
        if k == 10:
            relay.kill()
            killed.append(k)

    t0 = time.monotonic()
    assert compare_modes.main(argv(relay, out, "--secret", SECRET), on_sent=kill_at_half) == 1
    assert killed == [10] and time.monotonic() - t0 < 30
    report = json.loads((out / "compare_modes.json").read_text())
    assert report["ok"] is False
    for mode in MODES:
        r = report["modes"][mode]
        assert r["sent"] == 20 and r["send_errors"] >= 9, (mode, r)     # replies 11..20 could not be posted
        assert r["lost"] >= r["send_errors"] and r["lost"] == r["sent"] - r["received"], (mode, r)
        assert r["duplicated"] == 0
        assert sum(s is None for s in r["samples_ms"]) == r["lost"]
    assert report["modes"]["ws"]["errors"], "the WebSocket client saw its connection go"
    assert "not accepted by the relay" in capsys.readouterr().out
    assert (out / "compare_modes.png").read_bytes().startswith(PNG_SIGNATURE)


def test_unreachable_relay_is_an_error_not_a_hang(tmp_path, capsys):
    t0 = time.monotonic()
    assert compare_modes.main(["--relay", f"http://127.0.0.1:{free_port()}", "--out", str(tmp_path)]) == 1
    assert time.monotonic() - t0 < 10
    assert "Connection refused" in capsys.readouterr().err
    assert not (tmp_path / "compare_modes.json").exists()


def test_a_silent_server_is_cut_by_the_overall_timeout(tmp_path, capsys):
    with socket.socket() as silent:          # accepts connections (kernel backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        t0 = time.monotonic()
        code = compare_modes.main(["--relay", f"http://127.0.0.1:{silent.getsockname()[1]}", "--timeout", "2",
                                   "--out", str(tmp_path)])
        elapsed = time.monotonic() - t0
    assert code == 1 and elapsed < 8
    assert "timed out after 2 s" in capsys.readouterr().err


@pytest.mark.parametrize("bad", [["--modes", "ws,carrier-pigeon"], ["--modes", "ws,ws"], ["--rate", "0"],
                                 ["--messages", "0"], ["--spawn", "--relay", "http://x"], ["--odoo", "http://o"],
                                 ["--secret", "not-a-whsec"], ["--timeout", "-1"]])
def test_usage_errors_exit_2(bad, capsys):
    with pytest.raises(SystemExit) as exc:
        compare_modes.main(bad)
    assert exc.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_spawn_runs_its_own_demo_relay_as_a_command(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "tools.compare_modes", "--spawn", "--messages", "10", "--rate", "50",
                           "--modes", "ws,poll", "--poll-interval", "0.5", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "compare_modes.json").read_text())
    assert report["spawned"] is True and report["replies_via"] == "webhook"
    assert [r["received"] for r in report["modes"].values()] == [10, 10]
    assert "ws " in proc.stdout and "written:" in proc.stdout


def test_tally_counts_first_arrivals_and_doubles_of_its_own_run_only():
    tally = compare_modes.Tally("abc123")

    def event(text: str) -> dict:
        return {"seq": 1, "type": "message", "message": {"text": text}}

    tally.sent = {0: 10.0, 1: 10.0, 2: 10.0}
    tally.on_event(event(compare_modes.reply_text("abc123", 0)), 10.5)
    tally.on_event(event(compare_modes.reply_text("abc123", 0)), 10.7)     # again: a duplicate
    tally.on_event(event(compare_modes.reply_text("ffff00", 1)), 10.5)     # another run's reply
    tally.on_event({"seq": 2, "type": "member_joined"}, 10.5)
    tally.on_event(event(compare_modes.reply_text("abc123", "warm-up")), 10.5)
    tally.refused[2] = "HTTP 503"
    assert tally.arrived == {0: 10.5} and tally.duplicated == 1 and tally.warm.is_set()
    assert tally.pending()                   # reply 1 was accepted and has not arrived
    tally.on_event(event(compare_modes.reply_text("abc123", 1)), 11.0)
    assert not tally.pending()               # reply 2 was refused: nothing to wait for
