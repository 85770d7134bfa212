// node --test: the words of a message the relay did not take. Text cutting and what a refusal means
// are the client library's now (tests/client/pure.test.mjs: cleanText, sendOutcome, wsError, SendQueue).
"use strict";
const test = require("node:test");
const assert = require("node:assert");
const w = require("../../widget/widget.js");

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
