// What the widget (widget/widget.js, the UI on this client) needs of the client, against a real
// relay: `autoStart: false` (the app decides when a conversation starts: the widget asks for a
// contact first while nobody is online), the `sent` and `refused` events (a bubble per message:
// acknowledged, stored, refused, also after a start that failed and was tried again), `config`
// without a language, a queue saved by an older widget sent cleaned.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { LivechatClient, MemoryStorage } from "../../client/livechat-client.mjs";
import { Relay, sleep, texts, until } from "./relay.mjs";

const relay = await Relay.create();
after(() => relay.close());

function counting(inner = fetch) {
  const calls = [];
  const f = (url, init = {}) => { calls.push((init.method || "GET") + " " + new URL(url).pathname + new URL(url).search); return inner(url, init); };
  f.calls = calls;
  return f;
}

test("autoStart: false queues without starting; start(extra) then sends what waits, in order", async () => {
  const f = counting();
  const chat = new LivechatClient({ relay: relay.url, storage: new MemoryStorage(), fetch: f, autoStart: false });
  const sent = [];
  chat.on("sent", (m) => sent.push(m));
  try {
    const one = chat.send("written before the contact");
    const two = chat.send("and another");
    await sleep(600);
    assert.equal(chat.conversation, null);
    assert.ok(!f.calls.some((c) => c.startsWith("POST /v1/conversations")), f.calls.join());
    assert.deepEqual(chat.pending.map((m) => [m.text, m.state]), [["written before the contact", "sending"], ["and another", "sending"]]);
    await chat.start({ leave_message: true, contact: "ada@example.com" });
    assert.ok(chat.conversation.visitor, "the relay's answer kept whole (the widget's stored shape: conv.visitor)");
    assert.equal(JSON.parse(chat.storage.getItem(chat.key)).conv.visitor, chat.conversation.visitor);
    const [a, b] = [await one, await two];
    assert.ok(a.seq < b.seq);
    assert.deepEqual(sent.map((m) => m.client_id), [a.client_id, b.client_id], "a sent event per message, in order");
    assert.ok(sent.every((m) => typeof m.seq === "number" && m.seq > 0));
    const stored = await relay.events(chat.conversation);
    assert.deepEqual(texts(stored).slice(0, 2), ["written before the contact", "and another"]);
  } finally { chat.destroy(); }
});

test("a start that fails keeps the queue; sent still comes once the next start works", async () => {
  let down = true;
  const flaky = (url, init) => (down && new URL(url).pathname === "/v1/conversations"
    ? Promise.reject(new TypeError("connection refused")) : fetch(url, init));
  const chat = new LivechatClient({ relay: relay.url, storage: new MemoryStorage(), fetch: flaky, autoStart: false });
  const sent = [];
  chat.on("sent", (m) => sent.push(m.client_id));
  try {
    const promise = chat.send("kept through a failed start");
    await assert.rejects(chat.start(), (e) => e.code === "network");
    await assert.rejects(promise, (e) => e.code === "network");            // its promise is settled...
    assert.equal(chat.pending.length, 1);                                    // ...but the message waits
    const id = chat.pending[0].client_id;
    down = false;
    await chat.start();
    await until(() => sent.length === 1, 15000, "the sent event");
    assert.equal(sent[0], id);
    assert.deepEqual(chat.pending, []);
  } finally { chat.destroy(); }
});

test("refused: an event with the message's client_id and the relay's error", async () => {
  const chat = new LivechatClient({ relay: relay.url, storage: new MemoryStorage(), transport: "poll" });
  const refused = [];
  chat.on("refused", (m) => refused.push(m));
  try {
    await chat.send("first");
    const bad = chat.send("with an attachment that is not there", { attachmentIds: [987654321] });
    const err = await bad.then(() => null, (e) => e);
    assert.equal(refused.length, 1);
    assert.equal(refused[0].error, err);
    assert.equal(refused[0].error.code, "unknown_attachment");
    assert.equal(refused[0].client_id, chat.pending[0].client_id);
    assert.equal(chat.pending[0].state, "failed");
  } finally { chat.destroy(); }
});

test("config: lang \"\" asks without a language; the default is the client's own", async () => {
  const f = counting();
  const chat = new LivechatClient({ relay: relay.url, storage: new MemoryStorage(), fetch: f, lang: "fr_FR", pageUrl: "https://shop.example/" });
  try {
    await chat.config();
    await chat.config({ lang: "" });
    const asked = f.calls.filter((c) => c.startsWith("GET /v1/config"));
    assert.match(asked[0], /lang=fr_FR/);
    assert.doesNotMatch(asked[1], /lang=/);
  } finally { chat.destroy(); }
});

test("a queue saved by an older widget (text not cleaned) is sent cleaned", async () => {
  const storage = new MemoryStorage();
  const first = new LivechatClient({ relay: relay.url, storage });
  await first.send("hello");
  const key = first.key;
  first.destroy();
  storage.setItem(key + ":queue", JSON.stringify({ queue: [{ client_id: "old-widget-1", text: "lone \uD83D half" }], failed: [] }));
  const chat = new LivechatClient({ relay: relay.url, storage });
  try {
    await until(() => chat.pending.length === 0 && chat.history.some((e) => e.message?.client_id === "old-widget-1"), 15000, "sent");
    const stored = await relay.events(chat.conversation);
    assert.deepEqual(texts(stored), ["hello", "lone \uFFFD half"]);
  } finally { chat.destroy(); }
});
