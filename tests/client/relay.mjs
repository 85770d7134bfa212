// A real relay process for the client's node tests (the twin of tools/relayproc.py): `python -m
// proxy` in demo mode on a free loopback port, SQLite in a temp dir, a known webhook secret (the
// demo console's replies are signed webhooks); killed with SIGKILL and started again on the same file.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const SECRET = "whsec_" + Buffer.from("relay-tests-webhook-secret-0001").toString("base64");
export const PYTHON = process.env.RELAY_PYTHON || (existsSync(join(ROOT, ".venv/bin/python")) ? join(ROOT, ".venv/bin/python") : "python3");

export function freePort() {
  return new Promise((ok, ko) => {
    const s = createServer();
    s.on("error", ko);
    s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => ok(port)); });
  });
}

export const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

/** Wait until `check()` is truthy (polled every 50 ms); its value, or a failure after `timeout` ms. */
export async function until(check, timeout = 15000, what = "condition") {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error("timed out waiting for " + what);
    await sleep(50);
  }
}

export class Relay {
  static async create(env = {}) {
    const r = new Relay();
    r.dir = mkdtempSync(join(tmpdir(), "olr-client-"));
    r.port = await freePort();
    r.env = { RELAY_LISTEN: "127.0.0.1:" + r.port, RELAY_STORE: "sqlite:///" + join(r.dir, "relay.db"),
      RELAY_WEBHOOK_SECRET: SECRET, RELAY_SECRET: "test-token-secret", RELAY_RATE_LIMIT_IP: "100000/60",
      RELAY_RATE_LIMIT_CREATE: "100000/60", RELAY_RATE_LIMIT_MESSAGES: "100000/60", RELAY_LOG_LEVEL: "warning", ...env };
    return r.start();
  }
  get url() { return "http://127.0.0.1:" + this.port; }

  async start(timeout = 20000) {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("RELAY_")));
    Object.assign(env, this.env, { PYTHONPATH: ROOT });
    const log = openSync(join(this.dir, "relay.log"), "a");
    this.proc = spawn(PYTHON, ["-m", "proxy"], { cwd: this.dir, env, stdio: ["ignore", log, log] });
    closeSync(log);
    this.exited = new Promise((ok) => this.proc.once("exit", ok));
    const end = Date.now() + timeout;
    while (Date.now() < end) {
      if (this.proc.exitCode !== null) throw new Error("relay exited: " + this.logs().slice(-2000));
      try { if ((await fetch(this.url + "/healthz")).status === 200) return this; } catch (e) { /* not yet */ }
      await sleep(50);
    }
    throw new Error("relay did not become healthy: " + this.logs().slice(-2000));
  }
  async stop(signal = "SIGTERM") {
    if (!this.proc) return;
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
    await this.exited;
    this.proc = null;
  }
  kill() { return this.stop("SIGKILL"); }
  async close() { await this.stop(); rmSync(this.dir, { recursive: true, force: true }); }
  logs() { try { return readFileSync(join(this.dir, "relay.log"), "utf8"); } catch (e) { return ""; } }

  /** The demo console's operator (`/demo/api/<action>`), as the browser tests use it. */
  async operator(action, body) {
    const r = await fetch(this.url + "/demo/api/" + action, { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body) });
    const data = await r.json();
    if (!r.ok) throw new Error("demo " + action + ": " + r.status + " " + JSON.stringify(data));
    return data;
  }
  reply(conversationId, text) { return this.operator("reply", { conversation_id: conversationId, text }); }
  /** Every event the relay keeps for a conversation (the reference the client must match). */
  async events(conv) {
    const r = await fetch(this.url + "/v1/conversations/" + conv.conversation_id + "/events?after=0&wait=0",
      { headers: { Authorization: "Bearer " + conv.token } });
    return (await r.json()).events;
  }
}

/** A client's delivered stored events, with the resets it was told about. */
export function record(chat) {
  const seen = { events: [], all: [], resets: 0, states: [] };
  chat.on("event", (e) => { if (e.seq != null) { seen.events.push(e); seen.all.push(e); } });
  chat.on("reset", () => { seen.resets += 1; seen.events = []; });
  chat.on("state", (s) => seen.states.push(s));
  return seen;
}
export const texts = (events) => events.filter((e) => e.type === "message").map((e) => e.message.text);
