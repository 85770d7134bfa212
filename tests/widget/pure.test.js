// node --test: the widget's pure parts (backoff, fallback decisions, send queue, seq dedupe, strings).
"use strict";
const test = require("node:test");
const assert = require("node:assert");
const w = require("../../widget/widget.js");

test("backoff: full jitter between 0.5 s and a cap that doubles up to 30 s", () => {
  assert.strictEqual(w.backoff(0, 0), 500);
  assert.strictEqual(w.backoff(0, 0.999), 500);                      // cap 500 ms: never below 0.5 s
  assert.strictEqual(w.backoff(3, 0.5), 2000);                       // cap 4 s, half of it
  assert.strictEqual(w.backoff(20, 0.999999), 29999);                // capped at 30 s
  for (let a = 0; a < 30; a++) {
    const d = w.backoff(a);
    assert.ok(d >= 500 && d <= 30000, `attempt ${a}: ${d}`);
  }
  const spread = new Set(Array.from({ length: 50 }, () => w.backoff(6)));
  assert.ok(spread.size > 10, "jitter spreads reconnects");
});

test("fallback: 3 failed WebSocket attempts in a row while HTTP works, then long polling", () => {
  const f = new w.Fallback("auto");
  assert.strictEqual(f.mode, "ws");
  assert.strictEqual(f.wsFailed(true), false);
  assert.strictEqual(f.wsFailed(true), false);
  f.wsConnected();                                   // a success resets the count
  assert.strictEqual(f.wsFailed(true), false);
  assert.strictEqual(f.wsFailed(true), false);
  assert.strictEqual(f.wsFailed(true), true);
  assert.strictEqual(f.mode, "longpoll");
  assert.ok(f.canUpgrade());
});

test("fallback: a relay that is down (HTTP fails too) never pushes the widget off the WebSocket", () => {
  const f = new w.Fallback("auto");
  for (let i = 0; i < 50; i++) assert.strictEqual(f.wsFailed(false), false);
  assert.strictEqual(f.mode, "ws");
  assert.strictEqual(f.wsFailed(true), false);        // and those did not count towards the three
  assert.strictEqual(f.mode, "ws");
});

test("fallback: long polling cut twice in a row goes to 3 s polling; a relay down does not", () => {
  const f = new w.Fallback("auto");
  f.wsFailed(true); f.wsFailed(true); f.wsFailed(true);
  assert.strictEqual(f.mode, "longpoll");
  for (let i = 0; i < 20; i++) assert.strictEqual(f.httpFailed(false), false);   // refused: the relay is down
  assert.strictEqual(f.mode, "longpoll");
  assert.strictEqual(f.httpFailed(true), false);
  f.httpOk();
  assert.strictEqual(f.httpFailed(true), false);
  assert.strictEqual(f.httpFailed(true), true);
  assert.strictEqual(f.mode, "poll");
  f.wsConnected();
  assert.strictEqual(f.mode, "ws");
});

test("fallback: every page load starts from the preferred transport", () => {
  assert.strictEqual(new w.Fallback("auto", "poll").mode, "ws");   // nothing remembered any more
});

test("fallback: a configured transport is kept and never upgraded", () => {
  const f = new w.Fallback("poll");
  assert.strictEqual(f.mode, "poll");
  assert.strictEqual(f.canUpgrade(), false);
  const g = new w.Fallback("longpoll");
  assert.strictEqual(g.mode, "longpoll");
  assert.strictEqual(g.canUpgrade(), false);
});

test("send queue keeps order, survives a reload through save, never doubles", () => {
  let saved = null;
  const q = new w.SendQueue([], (items) => { saved = JSON.parse(JSON.stringify(items)); });
  q.push("a", "one"); q.push("b", "two"); q.push("c", "three");
  assert.deepStrictEqual(q.head(), { client_id: "a", text: "one" });
  const reloaded = new w.SendQueue(saved);
  assert.deepStrictEqual(reloaded.items.map((m) => m.client_id), ["a", "b", "c"]);
  assert.strictEqual(q.done("a"), true);
  assert.strictEqual(q.done("a"), false);           // an ack twice removes nothing more
  assert.deepStrictEqual(q.head(), { client_id: "b", text: "two" });
  assert.deepStrictEqual(saved.map((m) => m.client_id), ["b", "c"]);
});

test("seq tracker: each stored event once, in order; typing always passes", () => {
  const t = new w.SeqTracker(2);
  assert.strictEqual(t.accept({ seq: 2 }), false);
  assert.strictEqual(t.accept({ seq: 3 }), true);
  assert.strictEqual(t.accept({ seq: 3 }), false);
  assert.strictEqual(t.accept({ seq: null, type: "typing" }), true);
  assert.strictEqual(t.last, 3);
});

const fs = require("node:fs");
const path = require("node:path");
const I18N = path.join(__dirname, "../../widget/i18n");
const table = (code) => JSON.parse(fs.readFileSync(path.join(I18N, code + ".json"), "utf8"));

test("strings: English built in, another language's table as the relay serves it, placeholders", () => {
  assert.strictEqual(w.strings(table("fr"))("connected"), "Connecté en temps réel");
  assert.strictEqual(w.strings(null)("polling"), "Using polling mode");
  assert.strictEqual(w.strings({ polling: 7 })("polling"), "Using polling mode");   // a bad table entry: English
  assert.strictEqual(w.strings({})("typing", { name: "Ada" }), "Ada is typing…");
});

test("every language has every key of English, with the same placeholders, and nothing else", () => {
  const codes = fs.readdirSync(I18N).filter((f) => f.endsWith(".json")).map((f) => f.slice(0, -5));
  assert.ok(codes.includes("fr"));
  for (const code of codes) {
    const t = table(code);
    for (const [key, text] of Object.entries(w.STRINGS.en)) {
      assert.ok(typeof t[key] === "string" && t[key].trim(), `${code} lacks ${key}`);
      const holes = (s) => (s.match(/\{\w+\}/g) || []).sort().join();
      assert.strictEqual(holes(t[key]), holes(text), `${code}.${key}: placeholders`);
    }
    for (const key of Object.keys(t)) assert.ok(key in w.STRINGS.en || key === "_dir", `${code} has an unknown key ${key}`);
  }
});

test("client ids are unique", () => {
  const ids = new Set(Array.from({ length: 1000 }, () => w.newClientId()));
  assert.strictEqual(ids.size, 1000);
});

test("bot statuses: the 'Talk to a person' control is offered while the bot has the conversation", () => {
  assert.strictEqual(w.offersPerson("bot", false), true);
  assert.strictEqual(w.offersPerson("no_operator", false), true);              // no one came: ask again later
  for (const s of ["handoff", "leave_message", "waiting_operator", "operator_joined"]) {
    assert.strictEqual(w.offersPerson(s, true), false, s);
  }
  assert.strictEqual(w.offersPerson("upstream_unavailable", true), true);     // other statuses change nothing
  assert.strictEqual(w.offersPerson("upstream_unavailable", false), false);
  const en = w.strings(null), fr = w.strings(table("fr"));
  for (const code in w.BOT_STATUS) {
    const key = w.BOT_STATUS[code][0];
    if (key) { assert.notStrictEqual(en(key), key); assert.notStrictEqual(fr(key), en(key), key); }
  }
});
