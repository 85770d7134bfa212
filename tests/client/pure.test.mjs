// The client's pure parts, as the widget's node tests had them before the widget moved onto the
// client (issue 16 item 2): backoff, the fallback rule, the send queue, seq order, text cleaning,
// what a refused message means, client ids.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as w from "../../client/livechat-client.mjs";

const LONE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const codePoints = (s) => Array.from(s).length;
const wellFormed = (s) => { try { encodeURIComponent(s); return true; } catch (e) { return false; } };
const copy = (x) => JSON.parse(JSON.stringify(x));

test("backoff: full jitter between 0.5 s and a cap that doubles up to 30 s", () => {
  assert.equal(w.backoff(0, 0), 500);
  assert.equal(w.backoff(0, 0.999), 500);                      // cap 500 ms: never below 0.5 s
  assert.equal(w.backoff(3, 0.5), 2000);                       // cap 4 s, half of it
  assert.equal(w.backoff(20, 0.999999), 29999);                // capped at 30 s
  for (let a = 0; a < 30; a++) {
    const d = w.backoff(a);
    assert.ok(d >= 500 && d <= 30000, `attempt ${a}: ${d}`);
  }
  const spread = new Set(Array.from({ length: 50 }, () => w.backoff(6)));
  assert.ok(spread.size > 10, "jitter spreads reconnects");
});

test("fallback: 3 failed WebSocket attempts in a row while HTTP works, then long polling", () => {
  const f = new w.Fallback("auto");
  assert.equal(f.mode, "ws");
  assert.equal(f.wsFailed(true), false);
  assert.equal(f.wsFailed(true), false);
  f.wsConnected();                                   // a success resets the count
  assert.equal(f.wsFailed(true), false);
  assert.equal(f.wsFailed(true), false);
  assert.equal(f.wsFailed(true), true);
  assert.equal(f.mode, "longpoll");
  assert.ok(f.canUpgrade());
});

test("fallback: a relay that is down (HTTP fails too) never pushes the client off the WebSocket", () => {
  const f = new w.Fallback("auto");
  for (let i = 0; i < 50; i++) assert.equal(f.wsFailed(false), false);
  assert.equal(f.mode, "ws");
  assert.equal(f.wsFailed(true), false);        // and those did not count towards the three
  assert.equal(f.mode, "ws");
});

test("fallback: long polling cut twice in a row goes to 3 s polling; a relay down does not", () => {
  const f = new w.Fallback("auto");
  f.wsFailed(true); f.wsFailed(true); f.wsFailed(true);
  assert.equal(f.mode, "longpoll");
  for (let i = 0; i < 20; i++) assert.equal(f.httpFailed(false), false);   // refused: the relay is down
  assert.equal(f.mode, "longpoll");
  assert.equal(f.httpFailed(true), false);
  f.httpOk();
  assert.equal(f.httpFailed(true), false);
  assert.equal(f.httpFailed(true), true);
  assert.equal(f.mode, "poll");
  f.wsConnected();
  assert.equal(f.mode, "ws");
});

test("fallback: every page load starts from the preferred transport; a configured one is kept", () => {
  assert.equal(new w.Fallback("auto", "poll").mode, "ws");   // nothing remembered
  const f = new w.Fallback("poll");
  assert.equal(f.mode, "poll");
  assert.equal(f.canUpgrade(), false);
  const g = new w.Fallback("longpoll");
  assert.equal(g.mode, "longpoll");
  assert.equal(g.canUpgrade(), false);
});

test("send queue keeps order, survives a reload through save, never doubles", () => {
  let saved = null;
  const q = new w.SendQueue([], () => { saved = copy(q.items); });
  q.push({ client_id: "a", text: "one" }); q.push({ client_id: "b", text: "two" }); q.push({ client_id: "c", text: "three" });
  assert.deepEqual(q.head(), { client_id: "a", text: "one" });
  const reloaded = new w.SendQueue(saved);
  assert.deepEqual(reloaded.items.map((m) => m.client_id), ["a", "b", "c"]);
  assert.equal(q.done("a"), true);
  assert.equal(q.done("a"), false);           // an ack twice removes nothing more
  assert.deepEqual(q.head(), { client_id: "b", text: "two" });
  assert.deepEqual(saved.map((m) => m.client_id), ["b", "c"]);
});

test("send queue: a refused message leaves the line, the next goes out, a retry puts it back at the end", () => {
  let saved = null, savedFailed = null;
  const q = new w.SendQueue([], () => { saved = copy(q.items); savedFailed = copy(q.failed); });
  for (const [id, text] of [["a", "bad"], ["b", "two"], ["c", "three"]]) q.push({ client_id: id, text });
  assert.deepEqual(q.fail("a"), { client_id: "a", text: "bad" });
  assert.equal(q.head().client_id, "b");                       // not stuck behind the refused one
  assert.deepEqual(saved.map((m) => m.client_id), ["b", "c"]);
  assert.deepEqual(savedFailed.map((m) => m.client_id), ["a"]);
  assert.equal(q.fail("a"), null);                             // twice changes nothing
  const reloaded = new w.SendQueue(saved, null, savedFailed);    // survives a reload
  assert.deepEqual(reloaded.failed.map((m) => m.client_id), ["a"]);
  q.done("b");
  assert.deepEqual(q.retry("a"), { client_id: "a", text: "bad" });
  assert.deepEqual(q.items.map((m) => m.client_id), ["c", "a"]);
  assert.deepEqual(q.failed, []);
  assert.equal(q.retry("a"), null);                            // no double in the line
  assert.deepEqual(q.items.map((m) => m.client_id), ["c", "a"]);
  q.fail("c"); q.forget("c");                                  // the relay had it after all
  assert.deepEqual(q.failed, []);
});

test("seq tracker: each stored event once, in order; typing always passes", () => {
  const t = new w.SeqTracker(2);
  assert.equal(t.accept({ seq: 2 }), false);
  assert.equal(t.accept({ seq: 3 }), true);
  assert.equal(t.accept({ seq: 3 }), false);
  assert.equal(t.accept({ seq: null, type: "typing" }), true);
  assert.equal(t.last, 3);
});

test("client ids are unique", () => {
  const ids = new Set(Array.from({ length: 1000 }, () => w.newClientId()));
  assert.equal(ids.size, 1000);
});

test("cleanText cuts at 4000 code points and never splits an emoji", () => {
  const text = "a".repeat(3999) + "😀" + "b".repeat(50);
  assert.ok(LONE.test(text.slice(0, 4000)), "slice(0, 4000) would leave a lone surrogate");
  const cut = w.cleanText(text);
  assert.equal(w.MAX_TEXT, 4000);
  assert.equal(codePoints(cut), 4000);
  assert.ok(cut.endsWith("😀"), "the emoji is kept whole (it is the 4000th code point)");
  assert.ok(!LONE.test(cut) && wellFormed(cut));
  assert.equal(w.cleanText("a".repeat(4000) + "😀"), "a".repeat(4000));   // cut before the emoji, not in it
  const cutEmojis = w.cleanText("😀".repeat(4100));                        // 8200 UTF-16 units
  assert.equal(codePoints(cutEmojis), 4000);                              // not 2000: code points, not units
  assert.equal(cutEmojis.length, 8000);
  assert.ok(wellFormed(cutEmojis));
  const family = "👩‍👩‍👧".repeat(10);                                       // pairs and joiners stay intact
  assert.equal(w.cleanText(family), family);
  assert.equal(w.cleanText("short"), "short");
  assert.equal(w.cleanText("héllo 😀", 3), "hél");
});

test("cleanText replaces every lone surrogate by U+FFFD (the relay answers 400 to them)", () => {
  assert.equal(w.cleanText("a\uD83D b"), "a\uFFFD b");          // high without its low half
  assert.equal(w.cleanText("a\uDE00 b"), "a\uFFFD b");          // low without its high half
  assert.equal(w.cleanText("\uDE00\uD83D"), "\uFFFD\uFFFD");    // reversed pair: both lone
  assert.equal(w.cleanText("end\uD83D"), "end\uFFFD");
  assert.equal(w.cleanText("ok 😀"), "ok 😀");
  const mixed = w.cleanText("x\uD800".repeat(3000));
  assert.equal(codePoints(mixed), 4000);
  assert.ok(!LONE.test(mixed) && wellFormed(mixed));
});

test("send outcomes: bad input is refused, 401/404 start over, 429 waits, 5xx and network retry", () => {
  for (const status of [400, 403, 409, 413, 422]) assert.equal(w.sendOutcome({ status }), "refused", String(status));
  assert.equal(w.sendOutcome({ status: 401 }), "fatal");
  assert.equal(w.sendOutcome({ status: 404 }), "fatal");
  assert.equal(w.sendOutcome({ status: 429 }), "wait");
  for (const status of [500, 502, 503, 504]) assert.equal(w.sendOutcome({ status }), "retry", String(status));
  assert.equal(w.sendOutcome(new TypeError("Failed to fetch")), "retry");   // network: no status
  assert.equal(w.sendOutcome(new w.LivechatError("ack timeout", { code: "ack_timeout" })), "retry");
});

test("WebSocket error frames and close codes map to the same outcomes", () => {
  const outcome = (code) => w.sendOutcome(w.wsError({ type: "error", code, message: "m" }));
  for (const code of ["invalid_unicode", "invalid_json", "invalid_text", "text_too_long", "invalid_client_id",
                      "client_id_conflict", "conversation_closed"]) assert.equal(outcome(code), "refused", code);
  assert.equal(outcome("rate_limited"), "wait");
  assert.equal(outcome("store_unavailable"), "retry");
  assert.equal(outcome("upstream_unavailable"), "retry");
  assert.equal(outcome("unknown_conversation"), "fatal");
  assert.equal(outcome("unauthorized"), "fatal");
  // frames the relay could not read come without client_id: only those codes are the pending send's
  assert.ok(w.WS_FRAME_REFUSED.invalid_unicode && w.WS_FRAME_REFUSED.invalid_json);
  assert.ok(!w.WS_FRAME_REFUSED.rate_limited && !w.WS_FRAME_REFUSED.store_unavailable);
  assert.equal(w.sendOutcome(w.closeError(1007)), "refused");  // invalid frame payload data
  assert.equal(w.sendOutcome(w.closeError(1009)), "refused");  // message too big
  for (const code of [1000, 1001, 1006, 1011, 4408]) assert.equal(w.sendOutcome(w.closeError(code)), "retry", String(code));
});
