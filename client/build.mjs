// Makes livechat-client.js (a classic script, and CommonJS for require) from livechat-client.mjs
// (the ES module, the one source). `node build.mjs` writes it; `node build.mjs --check` fails when
// the committed file is not what this makes (tests/client/build.test.mjs runs that).
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const here = (name) => fileURLToPath(new URL(name, import.meta.url));

export function classic(source) {
  const names = [];
  const header = source.match(/^\/\*![\s\S]*?\*\/\n/)[0];
  let body = source.slice(header.length)
    .replace(/^export default \w+;\n/m, "")
    .replace(/^export (const|function|class) (\w+)/gm, (_, kind, name) => { names.push(name); return `${kind} ${name}`; });
  if (/^\s*(export|import)\b/m.test(body)) throw new Error("livechat-client.mjs: an export or import build.mjs cannot rewrite");
  body = body.replace(/^(?=.)/gm, "  ");
  return header.replace("an ES module (this file) and the same code as a classic script\n *  (livechat-client.js, made by build.mjs)",
    "a classic script and CommonJS (this file, made by build.mjs from\n *  livechat-client.mjs, the ES module)") +
`(function (root, factory) {
  "use strict";
  var api = factory();
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.LivechatClient = api.LivechatClient;
})(typeof globalThis !== "undefined" ? globalThis : this, function () {
  "use strict";
${body}
  return { ${names.join(", ")}, default: LivechatClient };
});
`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const made = classic(readFileSync(here("./livechat-client.mjs"), "utf8"));
  if (process.argv.includes("--check")) {
    if (readFileSync(here("./livechat-client.js"), "utf8") !== made) {
      console.error("client/livechat-client.js is not what build.mjs makes from livechat-client.mjs: run node client/build.mjs");
      process.exit(1);
    }
  } else writeFileSync(here("./livechat-client.js"), made);
}
