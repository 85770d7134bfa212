// Bad input surfaces as a typed LivechatError (status, code), tried once, never retried; 5xx and
// network failures are retried; an expired token (short RELAY_TOKEN_TTL) ends the conversation,
// and the next message starts a new one. The §5/§6 calls against the demo relay.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { LivechatClient, LivechatError, MemoryStorage } from "../../client/livechat-client.mjs";
import { Relay, record, sleep, texts, until } from "./relay.mjs";

const relay = await Relay.create();
after(() => relay.close());

/** A fetch that counts requests by "METHOD /last/path/part". */
function counting(inner = fetch) {
  const calls = [];
  const f = (url, init = {}) => {
    calls.push((init.method || "GET") + " " + new URL(url).pathname.split("/").slice(-1)[0]);
    return inner(url, init);
  };
  f.calls = calls;
  f.count = (what) => calls.filter((c) => c === what).length;
  return f;
}

async function rejects(promise, status, code) {
  const err = await promise.then(() => null, (e) => e);
  assert.ok(err instanceof LivechatError, "a LivechatError: " + err);
  assert.equal(err.status, status);
  assert.equal(err.code, code);
  assert.equal(err.retryable, false);
  return err;
}

test("bad input answers are typed errors, tried once", async () => {
  const f = counting();
  const chat = new LivechatClient({ relay: relay.url, storage: new MemoryStorage(), fetch: f, transport: "poll" });
  const errors = [];
  chat.on("error", (e) => errors.push(e));
  try {
    await chat.send("hello");
    await rejects(chat.rate(5), 409, "no_operator_yet");           // nobody has answered yet
    await rejects(chat.rate(7), 400, "invalid_rating");
    await rejects(chat.emailTranscript("not an address"), 400, "invalid_email");
    await rejects(chat.seen(99999), 400, "invalid_seq");
    // a message the relay refuses: out of the line, "failed", the next one goes out
    const bad = chat.send("with a file that is not there", { attachmentIds: [987654321] });
    const good = chat.send("after the refused one");
    const err = await rejects(bad, 400, "unknown_attachment");
    assert.ok((await good).seq > 0);
    assert.deepEqual(chat.pending.map((m) => [m.text, m.state, m.error && m.error.code]),
      [["with a file that is not there", "failed", "unknown_attachment"]]);
    assert.ok(errors.includes(err), "also on the error event");
    await sleep(3500);                     // nothing retries it by itself
    assert.equal(f.count("POST rating"), 2);
    assert.equal(f.count("POST transcript"), 1);
    assert.equal(f.count("POST seen"), 1);
    assert.equal(f.count("POST messages"), 3);
    const failedId = chat.pending[0].client_id;
    await rejects(chat.retry(failedId), 400, "unknown_attachment");   // retried on request only
    assert.equal(f.count("POST messages"), 4);
    assert.equal(chat.discard(failedId), true);
    assert.deepEqual(chat.pending, []);
    await rejects(chat.send("   "), 0, "empty_message");
    // the §5 calls that work here
    await relay.reply(chat.conversation.conversation_id, "an operator");
    assert.equal(await chat.rate(5, "good"), null);
    assert.equal(await chat.seen(), null);
    const transcript = await (await chat.transcript()).text();
    assert.match(transcript, /hello/);
    assert.match(transcript, /an operator/);
    assert.deepEqual(await chat.handoff(), { state: "operator" });
    assert.equal(await chat.visit("https://shop.example/cart", "Cart"), null);
    const state = await (await fetch(relay.url + "/demo/api/state")).json();
    assert.ok(state.page_history !== undefined);
    await chat.close();
    const seen = record(chat);
    await until(() => seen.events.some((e) => e.type === "closed"), 10000, "the closed event");
    await rejects(chat.handoff(), 409, "conversation_closed");
  } finally { chat.destroy(); }
});

test("a conversation that cannot start: the typed error, once, the message kept", async () => {
  const f = counting();
  const chat = new LivechatClient({ relay: relay.url, storage: new MemoryStorage(), fetch: f, lang: "not a language tag" });
  try {
    await rejects(chat.send("hi"), 400, "invalid_body");
    await sleep(1500);
    assert.equal(f.count("POST conversations"), 1);
    assert.deepEqual(chat.pending.map((m) => m.text), ["hi"]);
    await relay.operator("operator", { online: false });
    const other = new LivechatClient({ relay: relay.url, storage: new MemoryStorage() });
    try {
      const err = await other.start().then(() => null, (e) => e);
      assert.ok(err instanceof LivechatError && err.status === 503 && err.code === "no_operator_available", String(err));
      assert.equal(err.retryable, true);
    } finally { other.destroy(); await relay.operator("operator", { online: true }); }
  } finally { chat.destroy(); }
});

test("5xx and network failures are retried with backoff, then stored once", async () => {
  let refused = 0;
  const flaky = (url, init = {}) => {
    if (init.method === "POST" && url.endsWith("/messages") && refused < 2) {
      refused += 1;
      return Promise.resolve(new Response(JSON.stringify({ error: "store_unavailable", message: "down" }), { status: 503 }));
    }
    if (init.method === "POST" && url.endsWith("/messages") && refused === 2) { refused += 1; return Promise.reject(new TypeError("fetch failed")); }
    return fetch(url, init);
  };
  const chat = new LivechatClient({ relay: relay.url, storage: new MemoryStorage(), fetch: flaky, transport: "longpoll" });
  try {
    const done = await chat.send("through a flaky link");
    assert.equal(refused, 3);
    const stored = await relay.events(chat.conversation);
    assert.deepEqual(texts(stored), ["through a flaky link"]);
    assert.equal(done.seq, stored.find((e) => e.type === "message").seq);
  } finally { chat.destroy(); }
});

test("token expiry: the conversation ends (4401 / 401), the next message starts a new one", async () => {
  const short = await Relay.create({ RELAY_TOKEN_TTL: "4" });
  const storage = new MemoryStorage();
  const ws = new LivechatClient({ relay: short.url, storage });
  const poll = new LivechatClient({ relay: short.url, storage: new MemoryStorage(), transport: "poll" });
  try {
    for (const chat of [ws, poll]) {
      const ended = [];
      chat.on("conversation", (c, why) => { if (!c) ended.push(why); });
      await chat.send("before expiry");
      const first = chat.conversation.conversation_id;
      await until(() => ended.length, 15000, "expiry noticed");
      assert.equal(ended[0].reason, "expired");
      assert.ok(ended[0].error instanceof LivechatError && ended[0].error.status === 401);
      assert.equal(chat.conversation, null);
      assert.equal(chat.status, "idle");
      await chat.send("after expiry");
      assert.notEqual(chat.conversation.conversation_id, first);
      assert.deepEqual(texts(await short.events(chat.conversation)), ["after expiry"]);
    }
    ws.destroy();
    await sleep(4500);                    // a stored conversation whose token expired is dropped unread
    const reloaded = new LivechatClient({ relay: short.url, storage });
    assert.equal(reloaded.conversation, null);
    assert.deepEqual(reloaded.history, []);
    reloaded.destroy();
  } finally { ws.destroy(); poll.destroy(); await short.close(); }
});

test("files: uploaded with progress, then sent with the message; an empty file is refused", async () => {
  const chat = new LivechatClient({ relay: relay.url, storage: new MemoryStorage() });
  try {
    await chat.send("a picture follows");
    await relay.reply(chat.conversation.conversation_id, "send it");
    const png = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==", "base64");
    const progress = [];
    const done = await chat.send("here", { files: [new File([png], "dot.png", { type: "image/png" })],
      onProgress: (loaded, total, file) => progress.push([loaded, total, file.name]) });
    assert.deepEqual(progress.at(-1), [png.length, png.length, "dot.png"]);
    const stored = (await relay.events(chat.conversation)).find((e) => e.seq === done.seq);
    assert.equal(stored.message.text, "here");
    assert.deepEqual(stored.message.attachments.map((a) => [a.name, a.mimetype]), [["dot.png", "image/png"]]);
    assert.match(stored.message.attachments[0].url, /^\/v1\/files\//);
    await rejects(chat.send("", { files: [new File([], "empty.txt", { type: "text/plain" })] }), 400, "empty_file");
    assert.equal(chat.pending[0].state, "failed");
  } finally { chat.destroy(); }
});
