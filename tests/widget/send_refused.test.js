// node --test: the widget's text cutting (code points, valid Unicode) and what it does with a message
// the relay did not take (refused as bad input, wait, retry, start over).
"use strict";
const test = require("node:test");
const assert = require("node:assert");
const w = require("../../widget/widget.js");

const LONE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const codePoints = (s) => Array.from(s).length;
const wellFormed = (s) => { try { encodeURIComponent(s); return true; } catch (e) { return false; } };

test("cleanText cuts at 4000 code points and never splits an emoji", () => {
  const text = "a".repeat(3999) + "😀" + "b".repeat(50);
  assert.ok(LONE.test(text.slice(0, 4000)), "slice(0, 4000) would leave a lone surrogate");
  const cut = w.cleanText(text);
  assert.strictEqual(w.MAX_TEXT, 4000);
  assert.strictEqual(codePoints(cut), 4000);
  assert.ok(cut.endsWith("😀"), "the emoji is kept whole (it is the 4000th code point)");
  assert.ok(!LONE.test(cut) && wellFormed(cut));

  const after = w.cleanText("a".repeat(4000) + "😀");
  assert.strictEqual(after, "a".repeat(4000));                        // cut before the emoji, not in it

  const emojis = "😀".repeat(4100);                                    // 8200 UTF-16 units
  const cutEmojis = w.cleanText(emojis);
  assert.strictEqual(codePoints(cutEmojis), 4000);                    // not 2000: code points, not units
  assert.strictEqual(cutEmojis.length, 8000);
  assert.ok(wellFormed(cutEmojis));

  const family = "👩‍👩‍👧".repeat(10);                                 // pairs and joiners stay intact
  assert.strictEqual(w.cleanText(family), family);
  assert.strictEqual(w.cleanText("short"), "short");
  assert.strictEqual(w.cleanText("héllo 😀", 3), "hél");
});

test("cleanText replaces every lone surrogate by U+FFFD (the relay answers 400 to them)", () => {
  assert.strictEqual(w.cleanText("a\uD83D b"), "a\uFFFD b");          // high without its low half
  assert.strictEqual(w.cleanText("a\uDE00 b"), "a\uFFFD b");          // low without its high half
  assert.strictEqual(w.cleanText("\uDE00\uD83D"), "\uFFFD\uFFFD");    // reversed pair: both lone
  assert.strictEqual(w.cleanText("end\uD83D"), "end\uFFFD");
  assert.strictEqual(w.cleanText("ok 😀"), "ok 😀");
  const mixed = w.cleanText("x\uD800".repeat(3000));
  assert.strictEqual(codePoints(mixed), 4000);
  assert.ok(!LONE.test(mixed) && wellFormed(mixed));
});

test("send outcomes: bad input is refused, 401/404 start over, 429 waits, 5xx and network retry", () => {
  for (const status of [400, 403, 409, 413, 422]) assert.strictEqual(w.sendOutcome({ status }), "refused", status);
  assert.strictEqual(w.sendOutcome({ status: 401 }), "fatal");
  assert.strictEqual(w.sendOutcome({ status: 404 }), "fatal");
  assert.strictEqual(w.sendOutcome({ status: 429 }), "wait");
  for (const status of [500, 502, 503, 504]) assert.strictEqual(w.sendOutcome({ status }), "retry", status);
  assert.strictEqual(w.sendOutcome(new TypeError("Failed to fetch")), "retry");   // network: no status
  assert.strictEqual(w.sendOutcome(new Error("ack timeout")), "retry");
});

test("WebSocket error frames and close codes map to the same outcomes", () => {
  const outcome = (code) => w.sendOutcome(w.wsError({ type: "error", code, message: "m" }));
  for (const code of ["invalid_unicode", "invalid_json", "invalid_text", "text_too_long", "invalid_client_id",
                      "client_id_conflict", "conversation_closed"]) assert.strictEqual(outcome(code), "refused", code);
  assert.strictEqual(outcome("rate_limited"), "wait");
  assert.strictEqual(outcome("store_unavailable"), "retry");
  assert.strictEqual(outcome("upstream_unavailable"), "retry");
  assert.strictEqual(outcome("unknown_conversation"), "fatal");
  assert.strictEqual(outcome("unauthorized"), "fatal");
  // frames the relay could not read come without client_id: only those codes are the pending send's
  assert.ok(w.WS_FRAME_REFUSED.invalid_unicode && w.WS_FRAME_REFUSED.invalid_json);
  assert.ok(!w.WS_FRAME_REFUSED.rate_limited && !w.WS_FRAME_REFUSED.store_unavailable);
  assert.strictEqual(w.sendOutcome(w.closeError(1007)), "refused");  // invalid frame payload data
  assert.strictEqual(w.sendOutcome(w.closeError(1009)), "refused");  // message too big
  for (const code of [1000, 1001, 1006, 1011, 4408]) assert.strictEqual(w.sendOutcome(w.closeError(code)), "retry", code);
});

test("send queue: a refused message leaves the line, the next goes out, a retry puts it back at the end", () => {
  let saved = null, savedFailed = null;
  const q = new w.SendQueue([], (items, failed) => {
    saved = JSON.parse(JSON.stringify(items)); savedFailed = JSON.parse(JSON.stringify(failed));
  });
  q.push("a", "bad"); q.push("b", "two"); q.push("c", "three");
  assert.deepStrictEqual(q.fail("a"), { client_id: "a", text: "bad" });
  assert.strictEqual(q.head().client_id, "b");                       // not stuck behind the refused one
  assert.deepStrictEqual(saved.map((m) => m.client_id), ["b", "c"]);
  assert.deepStrictEqual(savedFailed.map((m) => m.client_id), ["a"]);
  assert.strictEqual(q.fail("a"), null);                             // twice changes nothing
  const reloaded = new w.SendQueue(saved, null, savedFailed);          // survives a reload
  assert.deepStrictEqual(reloaded.failed.map((m) => m.client_id), ["a"]);
  q.done("b");
  assert.deepStrictEqual(q.retry("a"), { client_id: "a", text: "bad" });
  assert.deepStrictEqual(q.items.map((m) => m.client_id), ["c", "a"]);
  assert.deepStrictEqual(q.failed, []);
  assert.strictEqual(q.retry("a"), null);                            // no double in the line
  assert.deepStrictEqual(q.items.map((m) => m.client_id), ["c", "a"]);
  q.fail("c"); q.forget("c");                                        // the relay had it after all
  assert.deepStrictEqual(q.failed, []);
});

test("strings: Retry and its accessible label in every language the widget has", () => {
  const fs = require("node:fs"), path = require("node:path");
  const dir = path.join(__dirname, "../../widget/i18n");
  const tables = { en: null };
  for (const f of fs.readdirSync(dir)) tables[f.slice(0, -5)] = JSON.parse(fs.readFileSync(path.join(dir, f), "utf8"));
  for (const [lang, table] of Object.entries(tables)) {
    const t = w.strings(table);
    assert.ok(t("resend") && t("resendLabel") !== "resendLabel", lang);
    assert.ok(t("resendLabel", { text: "hello" }).includes("hello"), lang);
  }
  assert.strictEqual(w.strings(null)("resend"), "Retry");
  assert.strictEqual(w.strings(tables.fr)("resend"), "Renvoyer");
  assert.strictEqual(w.strings(tables.fr)("failed"), "non envoyé");
});
