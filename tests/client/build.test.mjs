// The package itself: one source (the ES module) and its classic-script twin kept equal, the
// version that of the project (whose major is the protocol's), the transport rule's pure parts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import vm from "node:vm";
import { classic } from "../../client/build.mjs";
import * as esm from "../../client/livechat-client.mjs";
import { ROOT } from "./relay.mjs";

const require = createRequire(import.meta.url);
const read = (p) => readFileSync(ROOT + "/" + p, "utf8");

test("livechat-client.js is what build.mjs makes from livechat-client.mjs", () => {
  assert.equal(read("client/livechat-client.js"), classic(read("client/livechat-client.mjs")));
});

test("the classic script sets globalThis.LivechatClient; require gives the same API as import", () => {
  const sandbox = {};
  vm.runInNewContext(read("client/livechat-client.js"), sandbox);
  assert.equal(typeof sandbox.LivechatClient, "function");
  assert.equal(sandbox.LivechatClient.VERSION, esm.VERSION);
  assert.equal(typeof sandbox.LivechatClient.LivechatError, "function");
  const cjs = require("../../client/livechat-client.js");
  assert.deepEqual(Object.keys(cjs).sort(), Object.keys(esm).sort());
});

test("package.json: the project's version, exports for import, require and types", () => {
  const pkg = JSON.parse(read("client/package.json"));
  const project = read("proxy/__init__.py").match(/__version__ = "([^"]+)"/)[1];
  const protocol = read("proxy/__init__.py").match(/PROTOCOL_VERSION = "([^"]+)"/)[1];
  assert.equal(pkg.version, project);
  assert.equal(pkg.version.split(".")[0], protocol.split(".")[0], "the client's major is the protocol's");
  assert.equal(esm.VERSION, pkg.version);
  assert.match(read("client/livechat-client.mjs"), new RegExp("^/\\*! @odoo-livechat-relay/client " + pkg.version.replace(/\./g, "\\.")));
  assert.deepEqual(pkg.exports["."], { types: "./index.d.ts", import: "./livechat-client.mjs", require: "./livechat-client.js",
    default: "./livechat-client.mjs" });
  assert.equal(pkg.types, "./index.d.ts");
  for (const f of pkg.files) assert.ok(read("client/" + f).length > 0, f);
  assert.match(JSON.stringify(pkg.dependencies), /^\{"ws":"\d+\.\d+\.\d+"\}$/, "pinned");
  const lock = JSON.parse(read("client/package-lock.json"));
  assert.equal(lock.packages["node_modules/ws"].version, pkg.dependencies.ws);
});

test("index.d.ts declares every export of the module", () => {
  const dts = read("client/index.d.ts");
  for (const name of Object.keys(esm)) {
    if (name === "default") continue;
    assert.match(dts, new RegExp("export (declare )?(const|function|class|interface|type) " + name + "\\b"), name);
  }
});

test("the transport rule: a relay that is down is no reason to fall back", () => {
  const f = new esm.Fallback("auto");
  for (let i = 0; i < 10; i++) assert.equal(f.wsFailed(false), false);
  assert.equal(f.mode, "ws");
  assert.equal(f.wsFailed(true), false);
  assert.equal(f.wsFailed(true), false);
  assert.equal(f.wsFailed(true), true);          // three WebSocket failures while HTTP works
  assert.equal(f.mode, "longpoll");
  assert.equal(f.httpFailed(false), false);      // refused (down): not counted
  assert.equal(f.httpFailed(true), false);
  assert.equal(f.httpFailed(true), true);        // long polls cut twice on the way
  assert.equal(f.mode, "poll");
  assert.equal(f.canUpgrade(), true);
  f.wsConnected();
  assert.equal(f.mode, "ws");
  assert.equal(new esm.Fallback("poll").canUpgrade(), false);
});

test("backoff, seq order, text cleaning, outcomes", () => {
  assert.equal(esm.backoff(0, 0), 500);
  assert.equal(esm.backoff(20, 0.999999), 29999);
  const seq = new esm.SeqTracker(2);
  assert.deepEqual([1, 2, 3, 3, null, 4].map((s) => seq.accept({ seq: s })), [false, false, true, false, true, true]);
  assert.equal(esm.cleanText("a\uD800b"), "a\uFFFDb");
  assert.equal([...esm.cleanText("😀".repeat(5000))].length, 4000);
  assert.deepEqual([401, 404, 429, 408, 400, 409, 413, 500, 503, 0].map((s) => esm.sendOutcome({ status: s })),
    ["fatal", "fatal", "wait", "wait", "refused", "refused", "refused", "retry", "retry", "retry"]);
  assert.equal(esm.wsError({ code: "rate_limited" }).status, 429);
  assert.equal(esm.wsError({ code: "invalid_text" }).status, 400);
  assert.equal(esm.closeError(1009).status, 413);
});
