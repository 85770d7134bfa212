// node --test: the widget's pure parts (strings, bot statuses). Transport, queue and order are the
// client library's (client/livechat-client.mjs), tested in tests/client/pure.test.mjs and against real relays.
"use strict";
const test = require("node:test");
const assert = require("node:assert");
const w = require("../../widget/widget.js");

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

test("the widget is UI only: no transport, no conversation storage of its own", () => {
  const source = fs.readFileSync(path.join(__dirname, "../../widget/widget.js"), "utf8").replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "");
  for (const word of ["WebSocket", "XMLHttpRequest", "fetch(", "EventSource", "localStorage", "Authorization", "/v1/conversations"]) {
    assert.ok(!source.includes(word), "widget.js uses " + word + ": that is the client's part");
  }
  assert.ok(source.includes("new Client("), "the widget runs on the client library");
});
