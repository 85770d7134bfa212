// A relay that goes away: killed with -9 and restarted mid-stream (every event once, in order, on
// the WebSocket throughout), and refusing connections for 10 s while the visitor writes (the
// offline queue: kept, also across a reload, sent in order, each once).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { LivechatClient, MemoryStorage } from "../../client/livechat-client.mjs";
import { Relay, record, sleep, texts, until } from "./relay.mjs";

const relay = await Relay.create();
after(() => relay.close());

test("kill -9 and restart mid-stream: every event once, in order, and back on the WebSocket", async () => {
  const chat = new LivechatClient({ relay: relay.url, storage: new MemoryStorage() });
  const seen = record(chat);
  try {
    await chat.send("before the crash");
    await until(() => chat.status === "connected", 10000, "WebSocket");
    const conv = chat.conversation;
    let sent = 0, stop = false;
    const replies = (async () => {        // the operator writes on, whether the relay is up or not
      while (!stop) {
        try { await relay.reply(conv.conversation_id, "reply " + sent); sent += 1; } catch (e) { /* relay down */ }
        await sleep(30);
      }
    })();
    for (let round = 0; round < 2; round++) {
      await until(() => sent >= 10 * (round + 1), 20000, "replies flowing");
      await relay.kill();
      await until(() => chat.status === "error", 10000, "the client notices");
      await sleep(1500);
      assert.equal(chat.mode, "ws", "a relay that is down is no reason to fall back");
      await relay.start();
      const back = Date.now();
      await until(() => chat.status === "connected", 20000, "the WebSocket is back");
      assert.ok(Date.now() - back < 15000);
    }
    await until(() => sent >= 30, 20000, "more replies");
    stop = true;
    await replies;
    const stored = await relay.events(conv);
    await until(() => seen.events.length === stored.length, 15000, "every stored event");
    assert.deepEqual(seen.events.map((e) => e.seq), stored.map((e) => e.seq), "the same events, in order");
    assert.deepEqual(seen.events.map((e) => e.seq), stored.map((_, i) => i + 1), "no gap");
    assert.deepEqual(texts(seen.events), texts(stored));
    // a reset (the relay lost an event it had shown) is the only reason to see a seq again
    const seqs = seen.all.map((e) => e.seq);
    if (!seen.resets) assert.equal(new Set(seqs).size, seqs.length, "no event delivered twice");
    assert.ok(!seen.states.some((s) => s.mode !== "ws" || s.status === "polling"), JSON.stringify(seen.states));
  } finally { chat.destroy(); }
});

test("a relay refusing connections for 10 s: messages wait, survive a reload, and go out in order once", async () => {
  const storage = new MemoryStorage();
  const chat = new LivechatClient({ relay: relay.url, storage });
  const seen = record(chat);
  let again = null;
  try {
    await chat.send("online first");
    await until(() => chat.status === "connected", 10000, "WebSocket");
    const conv = chat.conversation;
    await relay.stop();                   // the port refuses connections
    await until(() => chat.status === "error", 10000, "offline");
    const one = chat.send("offline 1");
    const two = chat.send("offline 2");
    await sleep(4000);
    assert.deepEqual(chat.pending.map((m) => [m.text, m.state]), [["offline 1", "sending"], ["offline 2", "sending"]]);
    chat.destroy();                       // a reload while the relay is still away
    again = new LivechatClient({ relay: relay.url, storage });
    const seen2 = record(again);
    const three = again.send("offline 3");
    await sleep(6000);
    assert.deepEqual(again.pending.map((m) => m.text), ["offline 1", "offline 2", "offline 3"]);
    assert.equal(again.status, "error");
    assert.equal(again.mode, "ws");
    await relay.start();
    const stored3 = await three;          // resolved once the relay has it
    assert.ok(stored3.seq > 1);
    await until(() => again.pending.length === 0, 30000, "the queue sent");
    await until(async () => texts(await relay.events(conv)).length === 4, 10000, "stored");
    const stored = await relay.events(conv);
    assert.deepEqual(texts(stored), ["online first", "offline 1", "offline 2", "offline 3"]);
    assert.equal(new Set(stored.filter((e) => e.type === "message").map((e) => e.message.client_id)).size, 4, "each once, with its own client_id");
    await until(() => seen.events.length + seen2.events.length === stored.length, 10000, "delivered");
    assert.deepEqual(seen.events.concat(seen2.events).map((e) => e.seq), stored.map((e) => e.seq));
    assert.equal(again.mode, "ws");
    void one; void two;                   // their client was destroyed: the new one sent them
  } finally { chat.destroy(); if (again) again.destroy(); if (!relay.proc) await relay.start(); }
});
