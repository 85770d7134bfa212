// The client against a real relay (demo mode): WebSocket, forced long polling, forced 3 s polling;
// a reload (a new client over the same storage) delivers nothing twice; two clients on one conversation.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { LivechatClient, MemoryStorage } from "../../client/livechat-client.mjs";
import { Relay, record, texts, until } from "./relay.mjs";

const relay = await Relay.create();
after(() => relay.close());

async function exchange(transport, expectedMode) {
  const storage = new MemoryStorage();
  const chat = new LivechatClient({ relay: relay.url, storage, transport, visitorName: "Node " + transport });
  const seen = record(chat);
  try {
    const first = await chat.send("hello over " + transport);
    assert.ok(first.seq >= 1 && first.client_id);
    await until(() => chat.status !== "idle" && chat.status !== "error", 15000, "connected");
    assert.equal(chat.mode, expectedMode);
    assert.equal(chat.status, expectedMode === "ws" ? "connected" : "polling");
    const conv = chat.conversation;
    await relay.reply(conv.conversation_id, "operator answers " + transport);
    await chat.send("thanks " + transport);
    await until(() => texts(seen.events).length === 3, 15000, "three messages");
    const stored = await relay.events(conv);
    assert.deepEqual(seen.events.map((e) => e.seq), stored.map((e) => e.seq), "every stored event once, in order");
    assert.deepEqual(seen.events.map((e) => e.seq), stored.map((_, i) => i + 1));
    assert.deepEqual(texts(seen.events), ["hello over " + transport, "operator answers " + transport, "thanks " + transport]);
    assert.equal(seen.events.find((e) => e.type === "message").message.client_id, first.client_id);
    assert.deepEqual(chat.pending, []);
    return { chat, storage, seen, conv };
  } catch (e) { chat.destroy(); throw e; }
}

test("WebSocket first", async () => {
  const { chat } = await exchange("auto", "ws");
  const typing = [];
  chat.on("typing", (e) => typing.push(e));
  await relay.operator("typing", { conversation_id: chat.conversation.conversation_id, typing: true });
  await until(() => typing.length, 10000, "operator typing");
  assert.equal(typing[0].seq, null);
  assert.equal(typing[0].typing, true);
  chat.destroy();
});

test("forced long polling", async () => {
  const { chat } = await exchange("longpoll", "longpoll");
  chat.destroy();
});

test("forced 3 s polling", async () => {
  const { chat } = await exchange("poll", "poll");
  chat.destroy();
});

test("a reload (a new client over the same storage) resumes after what was delivered", async () => {
  const { chat, storage, seen, conv } = await exchange("auto", "ws");
  chat.destroy();                                    // the page goes away
  await relay.reply(conv.conversation_id, "while away 1");
  await relay.reply(conv.conversation_id, "while away 2");
  const again = new LivechatClient({ relay: relay.url, storage });
  const seen2 = record(again);
  try {
    assert.equal(again.conversation.conversation_id, conv.conversation_id);
    assert.deepEqual(again.history.map((e) => e.seq), seen.events.map((e) => e.seq), "what was delivered is in history");
    await until(() => texts(seen2.events).length === 2, 15000, "the replies written while away");
    assert.deepEqual(texts(seen2.events), ["while away 1", "while away 2"]);
    const stored = await relay.events(conv);
    assert.deepEqual(seen.events.concat(seen2.events).map((e) => e.seq), stored.map((e) => e.seq));
  } finally { again.destroy(); }
});

test("two clients on one conversation (WebSocket and polling) see the same events once", async () => {
  const a = new LivechatClient({ relay: relay.url, storage: new MemoryStorage() });
  const seenA = record(a);
  await a.send("from A");
  const b = new LivechatClient({ relay: relay.url, storage: new MemoryStorage(), transport: "poll",
    conversation: a.conversation });
  const seenB = record(b);
  try {
    await until(() => seenB.events.length >= 1, 15000, "B replays A's message");
    await b.send("from B");
    await relay.reply(a.conversation.conversation_id, "to both");
    await a.send("A again");
    const stored = await relay.events(a.conversation);
    await until(() => seenA.events.length === stored.length && seenB.events.length === stored.length, 15000, "both complete");
    assert.deepEqual(seenA.events.map((e) => e.seq), stored.map((e) => e.seq));
    assert.deepEqual(seenB.events.map((e) => e.seq), stored.map((e) => e.seq));
    assert.deepEqual(texts(seenB.events), ["from A", "from B", "to both", "A again"]);
  } finally { a.destroy(); b.destroy(); }
});

test("tabs over one storage follow each other (a new conversation, a forgotten one)", async () => {
  const storage = new MemoryStorage();
  const one = new LivechatClient({ relay: relay.url, storage });
  const two = new LivechatClient({ relay: relay.url, storage });
  const seenTwo = record(two);
  const changes = [];
  two.on("conversation", (c, why) => changes.push([c && c.conversation_id, why.reason]));
  try {
    await one.send("started in tab one");
    await until(() => texts(seenTwo.events).includes("started in tab one"), 15000, "tab two follows");
    assert.equal(two.conversation.conversation_id, one.conversation.conversation_id);
    one.forget();
    await until(() => two.conversation === null, 5000, "tab two forgets too");
    assert.deepEqual(changes.map((c) => c[1]), ["other_tab", "other_tab"]);
  } finally { one.destroy(); two.destroy(); }
});
