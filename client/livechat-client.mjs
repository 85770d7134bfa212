/*! @odoo-livechat-relay/client 1.0.0 — the headless client of Odoo Livechat Relay (LGPL-3.0-or-later).
 *  No DOM, no build step: an ES module (this file) and the same code as a classic script
 *  (livechat-client.js, made by build.mjs). Contract: docs/protocol.md §2, §5, §6. */

// ------------------------------------------------------------------ pure parts

/** The client's version: the project's x.y.z, whose major is the relay's protocol major. */
export const VERSION = "1.0.0";
/** The longest message text the relay takes, in code points. */
export const MAX_TEXT = 4000;

/** An answer of the relay that is not a success, or a network failure (`status` 0).
 *  `status`: the HTTP status (a WebSocket close or error frame is given the status of the same
 *  refusal over HTTP); `code`: the relay's error code (`invalid_rating`, `no_operator_available`, …). */
export class LivechatError extends Error {
  constructor(message, { status = 0, code = "", retryAfter = 0, body = null, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "LivechatError";
    this.status = status;
    this.code = code || (status ? "http_" + status : "network");
    this.retryAfter = retryAfter;
    this.body = body;
  }
  /** Worth trying again as it is: network, 408, 429, 5xx. Any other 4xx is bad input, and so is a
   *  call the client refuses itself (`empty_message`, `no_conversation`: status 0). */
  get retryable() {
    if (!this.status) return /^(network|aborted|ack_timeout|ws_close_)/.test(this.code);
    const outcome = sendOutcome(this);
    return outcome === "retry" || outcome === "wait";
  }
}

/** Full-jitter backoff: a random delay in [0, min(30 s, 0.5 s · 2^attempt)], at least 0.5 s. */
export function backoff(attempt, random) {
  const cap = Math.min(30000, 500 * Math.pow(2, Math.max(0, attempt)));
  const r = random === undefined ? Math.random() : random;
  return Math.max(500, Math.floor(r * cap));
}

/** Which transport, from what failed while the relay answered by other means. A relay that is
 *  down fails them all: then nothing counts and the preferred transport is kept (issue 16). */
export class Fallback {
  constructor(configured) {
    this.configured = configured || "auto";
    this.mode = this.configured === "auto" ? "ws" : this.configured;
    this.wsFailures = 0;
    this.httpFailures = 0;
  }
  /** `httpWorks`: a plain request to the same relay got through just after. True: fall back now. */
  wsFailed(httpWorks) {
    if (!httpWorks) return false;
    this.wsFailures += 1;
    if (this.mode === "ws" && this.wsFailures >= 3) { this.mode = "longpoll"; this.httpFailures = 0; return true; }
    return false;
  }
  wsConnected() { this.wsFailures = 0; this.mode = "ws"; this.httpFailures = 0; }
  /** `cut`: the long poll was cut short on the way (timed out, 408/504: a proxy that keeps no long
   *  request), not refused by a relay that is down. True: 3 s polling from now on. */
  httpFailed(cut) {
    if (!cut) return false;
    this.httpFailures += 1;
    if (this.mode === "longpoll" && this.httpFailures >= 2) { this.mode = "poll"; return true; }
    return false;
  }
  httpOk() { this.httpFailures = 0; }
  canUpgrade() { return this.configured === "auto" && this.mode !== "ws"; }
}

/** Accepts each stored event once (dedupe by seq); typing (seq null) always passes. */
export class SeqTracker {
  constructor(last) { this.last = last || 0; }
  accept(event) {
    if (event.seq == null) return true;
    if (event.seq <= this.last) return false;
    this.last = event.seq;
    return true;
  }
}

/** Messages of the visitor, kept in order until the relay has them; never doubled. `failed`:
 *  those refused as bad input, out of the line until retried (then at its end). */
export class SendQueue {
  constructor(items, save, failed) {
    this.items = (items || []).slice();
    this.failed = (failed || []).slice();
    this.save = save || (() => {});
  }
  push(item) { this.items.push(item); this.save(); }
  move(from, to, clientId) {
    let item = null;
    this[from] = this[from].filter((m) => { if (m.client_id !== clientId) return true; item = m; return false; });
    if (item) { if (to) this[to].push(item); this.save(); }
    return item;
  }
  fail(clientId) { return this.move("items", "failed", clientId); }
  retry(clientId) { return this.move("failed", "items", clientId); }
  forget(clientId) { return this.move("failed", null, clientId) || this.move("items", null, clientId); }
  head() { return this.items[0] || null; }
  done(clientId) { return !!this.move("items", null, clientId); }
}

/** Text the relay takes: lone surrogates become U+FFFD, cut at `max` code points, never inside a pair. */
export function cleanText(text, max) {
  const s = String(text == null ? "" : text), limit = max == null ? MAX_TEXT : max;
  let out = "", n = 0;
  for (let i = 0; i < s.length && n < limit; i++, n++) {
    const c = s.charCodeAt(i);
    if (c >= 0xD800 && c <= 0xDBFF) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xDC00 && d <= 0xDFFF) { out += s.charAt(i) + s.charAt(i + 1); i++; } else out += "\uFFFD";
    } else if (c >= 0xDC00 && c <= 0xDFFF) out += "\uFFFD";
    else out += s.charAt(i);
  }
  return out;
}

/** What to do with a message the relay did not take: "fatal" 401/404 (the conversation is over
 *  for this token), "wait" 429/408 (Retry-After), "refused" other 4xx (bad input: out of the line,
 *  never retried by itself), else "retry" with backoff (network, 5xx). */
export function sendOutcome(err) {
  const status = err && err.status;
  if (status === 401 || status === 404) return "fatal";
  if (status === 429 || status === 408) return "wait";
  if (status >= 400 && status < 500) return "refused";
  return "retry";
}

/** WebSocket `error` codes as the HTTP status of the same refusal; any other is bad input. */
const WS_ERROR_STATUS = { rate_limited: 429, unauthorized: 401, token_expired: 401, unknown_conversation: 404,
  not_found: 404, request_timeout: 408, internal_error: 500 };
/** Codes without `client_id`: about the `send` waiting for its ack. */
export const WS_FRAME_REFUSED = { invalid_json: true, invalid_unicode: true, number_out_of_range: true, bad_frame: true };
export function wsError(frame) {
  return new LivechatError(frame.message || frame.code || "error", { code: frame.code,
    status: WS_ERROR_STATUS[frame.code] || (/unavailable$/.test(frame.code || "") ? 503 : 400) });
}
/** Closed while a `send` waited for its ack: 1007 (invalid payload), 1009 (too big) refuse it. */
export function closeError(code) {
  const status = code === 1007 ? 400 : code === 1009 ? 413 : 0;
  return new LivechatError(code === 1007 ? "invalid frame" : code === 1009 ? "message too big" : "closed",
    { status, code: "ws_close_" + code });
}

export function newClientId() {
  const c = globalThis.crypto;
  if (c && c.randomUUID) return c.randomUUID();
  return "c" + Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
}

/** Storage for Node, tests and private modes: the Web Storage calls, in memory. Clients over one
 *  MemoryStorage follow each other as tabs do over localStorage (`subscribe`). */
export class MemoryStorage {
  constructor() { this.map = new Map(); this.listeners = new Set(); }
  getItem(key) { return this.map.has(key) ? this.map.get(key) : null; }
  setItem(key, value) { this.map.set(key, String(value)); this.notify(key); }
  removeItem(key) { this.map.delete(key); this.notify(key); }
  /** `fn(key)` after each write; returns the function that stops it. */
  subscribe(fn) { this.listeners.add(fn); return () => this.listeners.delete(fn); }
  notify(key) { for (const fn of [...this.listeners]) queueMicrotask(() => fn(key)); }
}

function webStorage(name) {
  try { const s = globalThis[name]; s.getItem("olr:probe"); return s; } catch (e) { return null; }
}
function readJson(storage, key) {
  try { return JSON.parse(storage.getItem(key)) || {}; } catch (e) { return {}; }
}

// ------------------------------------------------------------------ the client

const EVENT_KINDS = { message: "message", message_updated: "message", message_deleted: "message",
  status: "status", typing: "typing" };

/** One visitor's conversation with the relay: transport, order, queue, storage. See client/index.d.ts. */
export class LivechatClient {
  constructor(options) {
    const o = Object.assign({ channel: "", transport: "auto", wsRetry: 60, connectTimeout: 5, historyLimit: 200,
      autoConnect: true, autoStart: true }, options || {});
    if (!o.relay) throw new TypeError("LivechatClient: the relay's base URL is required ({relay})");
    this.relay = String(o.relay).replace(/\/+$/, "");
    this.options = o;
    this.fetch = o.fetch || globalThis.fetch.bind(globalThis);
    this.storage = o.storage || webStorage("localStorage") || new MemoryStorage();
    // what waits to be sent: this tab's own (sessionStorage) where the conversation is in localStorage
    this.queueStorage = o.queueStorage || (this.storage === webStorage("localStorage") && webStorage("sessionStorage"))
      || this.storage;
    this.key = "olr:" + this.relay + ":" + (o.channel || "");
    this.queueKey = this.queueStorage === this.storage ? this.key + ":queue" : this.key;
    this.listeners = {};
    this.waiters = new Map();
    this.timers = {};
    this.transportId = 0;
    this.attempt = 0;
    this.sendAttempt = 0;
    this.sending = null;
    this.ws = null;
    this.fallback = new Fallback(/^(auto|ws|longpoll|poll)$/.test(o.transport) ? o.transport : "auto");
    this._status = "idle";
    this._mode = this.fallback.mode;
    this.destroyed = false;
    const saved = this.load();
    this.conv = saved.conv || null;
    if (o.conversation) {                       // join a conversation given by the app (a bot, a server)
      this.conv = { conversation_id: o.conversation.conversation_id, token: o.conversation.token,
        expires_at: o.conversation.expires_at || 0 };
      if (saved.conv && saved.conv.conversation_id !== this.conv.conversation_id) { saved.history = []; saved.last = 0; }
    }
    this.visitor = saved.visitor || null;
    this.history = saved.history || [];
    this.pages = saved.pages || [];
    this.seq = new SeqTracker(this.conv ? saved.last || 0 : 0);
    this.queue = new SendQueue(saved.queue, () => { this.persist(); this.emit("queue", this.pending); }, saved.failed);
    this.listen();
    if (o.autoConnect) queueMicrotask(() => { if (!this.destroyed && this.conv && !this.ws && !this.abort) this.connect(); });
  }

  // -------------------------------------------------------------- events

  /** `fn` for each `type` ("event", "message", "status", "typing", "state", "conversation", "reset",
   *  "queue", "sent", "refused", "error"); returns the function that removes it. */
  on(type, fn) {
    (this.listeners[type] = this.listeners[type] || []).push(fn);
    return () => this.off(type, fn);
  }
  off(type, fn) { this.listeners[type] = (this.listeners[type] || []).filter((f) => f !== fn); }
  emit(type, ...args) {
    for (const fn of (this.listeners[type] || []).slice()) {
      try { fn(...args); } catch (e) { this.log("a \"" + type + "\" listener failed: " + (e && e.stack || e), "error"); }
    }
  }
  log(text, level) {
    const l = this.options.log;
    if (l === false) return;
    if (typeof l === "function") l(text, level || "info");
    else if (level === "error" && globalThis.console) globalThis.console.error("[livechat-relay] " + text);
  }

  /** "ws", "longpoll" or "poll": the transport in use (or to be used). */
  get mode() { return this.fallback.mode; }
  /** "idle" (no conversation or not connected yet), "connected" (WebSocket), "polling" (HTTP), "error" (reconnecting). */
  get status() { return this._status; }
  /** `{conversation_id, token, expires_at, last_seq?}` or null. */
  get conversation() { return this.conv ? Object.assign({}, this.conv) : null; }
  /** The highest seq delivered. */
  get lastSeq() { return this.seq.last; }
  /** Messages not yet stored by the relay, oldest first: `{client_id, text, state: "sending"|"failed", error?}`. */
  get pending() {
    const view = (state) => (m) => ({ client_id: m.client_id, text: m.text, files: (m.files || []).map((f) => f.name),
      state, error: m.error || null });
    return this.queue.failed.map(view("failed")).concat(this.queue.items.map(view("sending")));
  }

  setStatus(status) {
    const changed = status !== this._status || this._mode !== this.fallback.mode;
    this._status = status;
    this._mode = this.fallback.mode;
    if (changed) this.emit("state", { status, mode: this._mode });
  }

  // -------------------------------------------------------------- storage

  load() {
    const s = readJson(this.storage, this.key), tab = readJson(this.queueStorage, this.queueKey);
    if (s.conv && !(s.conv.expires_at * 1000 > Date.now())) { s.conv = null; s.history = []; s.last = 0; }
    s.queue = tab.queue; s.failed = tab.failed;
    return s;
  }
  persist() {
    if (this.destroyed) return;
    const limit = this.options.historyLimit;
    try {
      this.storage.setItem(this.key, JSON.stringify({ conv: this.conv, last: this.seq.last,
        history: limit ? this.history.slice(-limit) : [], visitor: this.visitor, pages: this.pages }));
      const keep = (m) => !m.files;            // a chosen file lives in this page only: a reload drops it
      this.queueStorage.setItem(this.queueKey, JSON.stringify({ queue: this.queue.items.filter(keep),
        failed: this.queue.failed.filter(keep).map((m) => Object.assign({}, m, { error: undefined })) }));
    } catch (e) { /* storage full or blocked: the conversation works, it will not survive a reload */ }
  }
  /** Another tab (or client over the same storage) started, ended or left the conversation: follow it. */
  sync() {
    if (this.destroyed) return;
    const s = this.load(), c = s.conv || null;
    if ((c && c.conversation_id) === (this.conv && this.conv.conversation_id)) return;
    this.stop();
    this.conv = c; this.visitor = s.visitor || this.visitor;
    this.history = c ? s.history || [] : []; this.seq = new SeqTracker(c ? s.last || 0 : 0);
    this.setStatus("idle");
    this.emit("conversation", this.conversation, { reason: "other_tab" });
    if (c) this.connect();
  }
  listen() {
    const st = this.storage;
    if (typeof st.subscribe === "function") {
      this.unsubscribe = st.subscribe((key) => { if (key === this.key) this.sync(); });
    } else if (typeof globalThis.addEventListener === "function") {
      const onStorage = (e) => { if (e.key === this.key && e.storageArea === st) this.sync(); };
      const onNow = () => { if (this.conv && this._status !== "connected") this.reconnectNow(); else this.checkWatchdog(); };
      const onVisible = () => { if (!globalThis.document || globalThis.document.visibilityState === "visible") onNow(); };
      const onOffline = () => { if (this.conv) { this.stop(); this.setStatus("error"); this.retryLater(); } };
      const onShow = (e) => { if (e.persisted) onNow(); };
      const add = (target, type, fn) => { target.addEventListener(type, fn); return () => target.removeEventListener(type, fn); };
      const offs = [add(globalThis, "storage", onStorage), add(globalThis, "online", onNow),
        add(globalThis, "offline", onOffline), add(globalThis, "pageshow", onShow)];
      if (globalThis.document) offs.push(add(globalThis.document, "visibilitychange", onVisible));
      this.unsubscribe = () => offs.forEach((f) => f());
    }
  }

  // -------------------------------------------------------------- HTTP

  path(action) { return "/v1/conversations/" + encodeURIComponent(this.conv.conversation_id) + "/" + action; }

  /** One request to the relay: JSON in and out; a non-2xx answer or a network failure throws a LivechatError. */
  async api(method, path, body, { signal, raw = false, auth = true } = {}) {
    const headers = {};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (auth && this.conv) headers.Authorization = "Bearer " + this.conv.token;
    let r;
    try {
      r = await this.fetch(this.relay + path, { method, headers, signal,
        body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      const aborted = e && e.name === "AbortError";
      throw new LivechatError(aborted ? "aborted" : "network: " + (e && e.message), { code: aborted ? "aborted" : "network", cause: e });
    }
    if (raw && r.ok) return r;
    if (r.status === 204) return null;
    const data = await r.json().catch(() => ({}));
    if (!r.ok) {
      throw new LivechatError(data.message || "HTTP " + r.status, { status: r.status, code: data.error,
        retryAfter: +r.headers.get("Retry-After") || 0, body: data });
    }
    return data;
  }
  /** A call on the conversation; 401/404 end it for this token (then the error is thrown). */
  async call(method, action, body, extra) {
    if (!this.conv) throw new LivechatError("no conversation", { code: "no_conversation" });
    try {
      return await this.api(method, this.path(action), body, extra);
    } catch (err) {
      if (err.status === 401 || err.status === 404) this.fatal(err.status === 401 ? 4401 : 4404);
      throw err;
    }
  }

  /** `GET /v1/config` (§6): availability, the channel's rule, texts and colours for this page. */
  config({ pageUrl, lang, channel } = {}) {
    const q = [], ch = channel != null ? channel : this.options.channel, l = lang !== undefined ? lang : this.options.lang;
    const page = pageUrl || this.options.pageUrl || (globalThis.location && globalThis.location.href);
    if (page) q.push("page_url=" + encodeURIComponent(String(page).slice(0, 2048)));
    if (l) q.push("lang=" + encodeURIComponent(l));
    if (ch) q.push("livechat_channel_id=" + encodeURIComponent(ch));
    return this.api("GET", "/v1/config" + (q.length ? "?" + q.join("&") : ""), undefined, { auth: false });
  }

  // -------------------------------------------------------------- conversation

  /** Open a conversation (`POST /v1/conversations`); `extra` goes in the body too (`leave_message`,
   *  `contact`, …). The same promise while one is starting. */
  start(extra) {
    if (this.conv) return Promise.resolve(this.conversation);
    if (this.starting) return this.starting;
    const o = this.options, body = {};
    if (o.visitorName) body.visitor_name = o.visitorName;
    if (o.lang) body.lang = o.lang;
    const page = o.pageUrl || (globalThis.location && globalThis.location.href);
    if (page && /^https?:/.test(page)) body.page_url = String(page).slice(0, 2048);
    if (o.channel) body.livechat_channel_id = +o.channel;
    if (this.visitor) body.visitor = this.visitor;      // a returning visitor: their operator, their name
    Object.assign(body, extra || {});
    this.starting = this.api("POST", "/v1/conversations", body, { auth: false }).then((conv) => {
      this.starting = null;
      if (this.destroyed) return conv;
      this.conv = Object.assign({}, conv);       // kept whole, as the widget always kept it (visitor, …)
      this.visitor = conv.visitor || this.visitor;
      this.seq = new SeqTracker(0); this.history = [];       // a new conversation's events count from 1
      this.persist();
      this.emit("conversation", this.conversation, { reason: "started" });
      this.connect();
      if (this.pages.length) this.call("POST", "pages", { pages: this.pages }).catch(() => {});
      return this.conversation;
    }, (err) => {
      this.starting = null;
      for (const item of this.queue.items) this.settle(item.client_id, err);   // they stay queued
      this.emit("error", err);
      throw err;
    });
    return this.starting;
  }

  /** Queue a message (with files, uploaded first); resolves `{client_id, seq}` once the relay stored
   *  it. Rejects when the relay refuses it (a 4xx: it stays in `pending` as failed, `retry` puts it
   *  back) or the conversation cannot start (it stays queued). Offline, it waits and goes out in order. */
  send(text, { files, attachmentIds, onProgress, clientId } = {}) {
    const item = { client_id: clientId || newClientId(), text: cleanText(String(text == null ? "" : text).trim()) };
    if (files && files.length) { item.files = Array.from(files); item.onProgress = onProgress; }
    if (attachmentIds && attachmentIds.length) item.attachment_ids = attachmentIds.slice();
    if (!item.text.trim() && !item.files && !item.attachment_ids) {
      return Promise.reject(new LivechatError("empty message", { code: "empty_message" }));
    }
    const done = this.waitFor(item.client_id);
    this.queue.push(item);
    this.go();
    return done;
  }
  /** What waits goes out; with no conversation, one starts (unless `autoStart: false`: the app calls `start`). */
  go() {
    if (this.conv) this.flush();
    else if (this.options.autoStart) this.start().catch(() => {});
  }
  waitFor(clientId) {
    const p = new Promise((resolve, reject) => this.waiters.set(clientId, { resolve, reject }));
    p.catch(() => {});        // the app may ignore the promise: no unhandled rejection
    return p;
  }
  /** The relay has the message (its ack, or its stored event came first): `sent`; the stored
   *  event (a `message` with this `client_id`) may still follow. */
  acked(clientId, seq) {
    this.settle(clientId, null, { client_id: clientId, seq });
    this.emit("sent", { client_id: clientId, seq });
  }
  settle(clientId, err, value) {
    const w = this.waiters.get(clientId);
    if (!w) return;
    this.waiters.delete(clientId);
    if (err) w.reject(err); else w.resolve(value);
  }
  /** A refused message back in the line (at its end). */
  retry(clientId) {
    const item = this.queue.retry(clientId);
    if (!item) return Promise.reject(new LivechatError("no such failed message", { code: "unknown_message" }));
    delete item.error;
    const done = this.waitFor(clientId);
    this.go();
    return done;
  }
  /** Drop a queued or refused message. */
  discard(clientId) {
    if (this.sending === clientId) return false;
    const gone = this.queue.forget(clientId);
    if (gone) this.settle(clientId, new LivechatError("discarded", { code: "discarded" }));
    return !!gone;
  }

  /** Upload one file (`POST …/attachments`); `onProgress(loaded, total)` while it goes (browsers). */
  upload(file, { onProgress, name } = {}) {
    if (!this.conv) return Promise.reject(new LivechatError("no conversation", { code: "no_conversation" }));
    const url = this.relay + this.path("attachments"), token = this.conv.token;
    const fileName = name || file.name || "file";
    const fail = (status, data, retryAfter) => new LivechatError((data && data.message) || "HTTP " + status,
      { status, code: data && data.error, retryAfter: retryAfter || 0, body: data });
    const check = (err) => { if (err.status === 401 || err.status === 404) this.fatal(err.status === 401 ? 4401 : 4404); throw err; };
    const XHR = this.options.fetch ? null : globalThis.XMLHttpRequest;
    if (XHR) {       // fetch reports no upload progress
      return new Promise((resolve, reject) => {
        const xhr = new XHR(), form = new FormData();
        form.append("file", file, fileName);
        xhr.open("POST", url);
        xhr.setRequestHeader("Authorization", "Bearer " + token);
        xhr.upload.onprogress = (e) => { if (e.lengthComputable && onProgress) onProgress(e.loaded, e.total); };
        xhr.onload = () => {
          let data = {}; try { data = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
          if (xhr.status === 201) resolve(data.attachment);
          else reject(fail(xhr.status, data, +xhr.getResponseHeader("Retry-After")));
        };
        xhr.onerror = xhr.ontimeout = () => reject(new LivechatError("network", { code: "network" }));
        xhr.send(form);
      }).catch(check);
    }
    const form = new FormData();
    form.append("file", file, fileName);
    const size = file.size || 0;
    return this.fetch(url, { method: "POST", headers: { Authorization: "Bearer " + token }, body: form }).then(async (r) => {
      const data = await r.json().catch(() => ({}));
      if (r.status !== 201) throw fail(r.status, data, +r.headers.get("Retry-After"));
      if (onProgress) onProgress(size, size);
      return data.attachment;
    }, (e) => { throw new LivechatError("network: " + e.message, { code: "network", cause: e }); }).catch(check);
  }

  /** Send queued messages one at a time, in order; each waits for its ack (or 201/200). One refused
   *  as bad input leaves the line, so the next ones go out. */
  flush() {
    const item = this.queue.head();
    if (!item || this.sending || !this.conv || this._status === "error" || this._status === "idle" || this.destroyed) return;
    clearTimeout(this.timers.flush);
    this.sending = item.client_id;
    const id = this.transportId;
    let sent;
    if (item.files || item.attachment_ids) {      // files: uploaded (once), then the message over HTTP
      const files = item.files || [];
      item.uploaded = item.uploaded || [];
      sent = (async () => {
        for (let i = item.uploaded.length; i < files.length; i++) {
          const f = files[i];
          item.uploaded.push(await this.upload(f, { onProgress: item.onProgress && ((l, t) => item.onProgress(l, t, f)) }));
        }
        return this.api("POST", this.path("messages"), { client_id: item.client_id, text: item.text,
          attachment_ids: (item.attachment_ids || []).concat(item.uploaded.map((a) => a.id)) });
      })();
    } else if (this.ws && this.ws.readyState === 1 && this.fallback.mode === "ws") {
      const ws = this.ws;
      sent = new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new LivechatError("ack timeout", { code: "ack_timeout" })), 10000);
        this.pendingAck = { id: item.client_id,
          resolve: (v) => { clearTimeout(timer); resolve(v); },
          reject: (e) => { clearTimeout(timer); reject(e); } };
        ws.send(JSON.stringify({ type: "send", client_id: item.client_id, text: cleanText(item.text) }));
      });
    } else {
      sent = this.api("POST", this.path("messages"), { client_id: item.client_id, text: cleanText(item.text) });
    }
    sent.then((answer) => {
      this.sending = null; this.pendingAck = null; this.sendAttempt = 0;
      this.queue.done(item.client_id);
      this.acked(item.client_id, answer && answer.seq);
      this.flush();
    }, (err) => {
      this.sending = null; this.pendingAck = null;
      if (this.destroyed) return;
      const outcome = sendOutcome(err);
      if (outcome === "refused") {
        this.sendAttempt = 0;
        item.error = err;
        delete item.uploaded;
        if (this.queue.fail(item.client_id)) {
          this.settle(item.client_id, err);
          this.emit("refused", { client_id: item.client_id, error: err });
          this.emit("error", err);
        }
        this.flush();
        return;
      }
      if (outcome === "fatal") {         // kept: sent in the next conversation
        if (this.conv) this.fatal(err.status === 401 ? 4401 : 4404);
        return;
      }
      const delay = outcome === "wait" && err.retryAfter ? err.retryAfter * 1000 : backoff(this.sendAttempt++);
      this.log("message not taken (" + (err.code || err.status) + "): trying again in " + delay + " ms");
      clearTimeout(this.timers.flush);
      if (id === this.transportId || this.conv) this.timers.flush = setTimeout(() => this.flush(), Math.min(delay, 30000));
    });
  }

  /** The visitor is typing: `typing()` on each keystroke (sent at most every 3 s; "stopped" 4 s
   *  after the last), `typing(false)` when they stop or send. Best effort. */
  typing(on = true) {
    if (!this.conv) return;
    clearTimeout(this.timers.typingStop);
    if (!on) { this.sendTyping(false); return; }
    const now = Date.now();
    if (!this.typingSentAt || now - this.typingSentAt > 3000) this.sendTyping(true);
    this.timers.typingStop = setTimeout(() => this.sendTyping(false), 4000);
  }
  sendTyping(on) {
    if (!this.conv || (!on && !this.typingSentAt)) return;
    this.typingSentAt = on ? Date.now() : 0;
    if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify({ type: "typing", typing: on }));
    else this.call("POST", "typing", { typing: on }).catch(() => {});
  }

  /** Tell the operator what the visitor has seen, up to event `seq` (default: the last delivered). */
  seen(seq) {
    const upTo = seq == null ? this.seq.last : seq;
    if (seq == null && upTo <= (this.seenSent || 0)) return Promise.resolve(null);
    return this.call("POST", "seen", { seq: upTo }).then((r) => { this.seenSent = Math.max(this.seenSent || 0, upTo); return r; });
  }
  /** Rate the conversation: 5, 3 or 1, and a comment (≤ 1000 characters). */
  rate(rating, comment) {
    const body = { rating };
    if (comment != null && String(comment).trim()) body.comment = cleanText(String(comment).trim(), 1000);
    return this.call("POST", "rating", body);
  }
  /** The conversation as the relay stored it: a Blob (`format`: "text", "html", or "pdf" on Odoo 19). */
  async transcript({ format } = {}) {
    const r = await this.call("GET", "transcript" + (format && format !== "text" ? "?format=" + encodeURIComponent(format) : ""),
      undefined, { raw: true });
    return r.blob();
  }
  /** Odoo mails its own transcript to `email` (Odoo 17, 18). */
  emailTranscript(email) { return this.call("POST", "transcript", { email }); }
  /** Ask for a person: `{state: "operator" | "bot" | "message" | "retrying"}`. */
  handoff() { return this.call("POST", "handoff", {}); }
  /** Leave the conversation (the visitor leaves the Odoo session); the `closed` event follows.
   *  The conversation stays readable (rate, transcript) until `forget()`. */
  close() { return this.call("POST", "close"); }
  /** Record a page the visitor saw (the operator's `/history` in Odoo); kept (15), sent when a
   *  conversation exists. */
  visit(url, title) {
    const p = this.pages = this.load().pages || this.pages;
    url = url || (globalThis.location && globalThis.location.href);
    if (!url) return Promise.resolve(null);
    const entry = { url: String(url), title: String(title == null ? "" : title).slice(0, 200) };
    if ((p[p.length - 1] || {}).url !== entry.url) { p.push(entry); p.splice(0, p.length - 15); this.persist(); }
    return this.conv ? this.call("POST", "pages", entry).catch(() => null) : Promise.resolve(null);
  }
  /** Drop the conversation here and in every tab (a new one starts with the next message). */
  forget() {
    this.stop();
    for (const m of this.queue.items.concat(this.queue.failed)) this.settle(m.client_id, new LivechatError("forgotten", { code: "discarded" }));
    this.conv = null; this.history = []; this.seq = new SeqTracker(0); this.queue.items = []; this.queue.failed = [];
    this.seenSent = 0;
    this.persist();
    this.setStatus("idle");
    this.emit("conversation", null, { reason: "forgotten" });
  }
  /** Stop everything this client runs (sockets, timers, listeners); what is stored stays. */
  destroy() {
    this.stop();
    this.destroyed = true;
    if (this.unsubscribe) this.unsubscribe();
    this.listeners = {};
  }

  // -------------------------------------------------------------- transport

  stop() {
    this.transportId += 1;
    for (const k in this.timers) clearTimeout(this.timers[k]);
    this.timers = {};
    if (this.pendingAck) { this.pendingAck.reject(closeError(1000)); this.pendingAck = null; }
    if (this.ws) { try { this.ws.close(1000); } catch (e) { /* closed */ } this.ws = null; }
    if (this.probe) { try { this.probe.close(1000); } catch (e) { /* closed */ } this.probe = null; }
    if (this.abort) { this.abort.abort(); this.abort = null; }
  }
  /** (Re)connect now with the current transport. */
  connect() {
    if (!this.conv || this.destroyed) return;
    this.stop();
    if (this.fallback.mode === "ws") this.openWs(); else this.pollLoop();
  }
  reconnectNow() { this.attempt = 0; this.connect(); }
  retryLater() {
    clearTimeout(this.timers.retry);
    this.timers.retry = setTimeout(() => this.connect(), backoff(this.attempt++));
  }

  wsUrl() {
    return this.relay.replace(/^http/, "ws") + this.path("ws") + "?token=" + encodeURIComponent(this.conv.token) +
      "&after=" + this.seq.last;
  }
  async wsClass() {
    if (this.options.WebSocket) return this.options.WebSocket;
    if (globalThis.WebSocket) return globalThis.WebSocket;
    if (!this.wsModule) {
      const name = "ws";                 // Node without a WebSocket: the ws package (not bundled)
      this.wsModule = import(name).then((m) => m.WebSocket || m.default || m, () => null);
    }
    return this.wsModule;
  }

  /** Open a WebSocket; `onHello(ws, hello)` once the relay said hello; `onFail(code, helloed)` once. */
  socket(onHello, onFail) {
    const id = this.transportId;
    let ws = null, helloed = false, done = false, timer = null;
    const fail = (code) => { if (done) return; done = true; clearTimeout(timer); onFail(code, helloed); };
    const handle = { close: (c) => { if (ws) { try { ws.close(c); } catch (e) { /* closed */ } } else fail(1000); } };
    this.wsClass().then((WS) => {
      if (done) return;
      if (id !== this.transportId || !WS) { fail(id !== this.transportId ? 1000 : 0); return; }
      try { ws = new WS(this.wsUrl()); } catch (e) { fail(0); return; }
      timer = setTimeout(() => { if (!helloed) { fail(0); try { ws.close(); } catch (e) { /* closed */ } } },
        this.options.connectTimeout * 1000);
      ws.onmessage = (m) => {
        let frame; try { frame = JSON.parse(typeof m.data === "string" ? m.data : String(m.data)); } catch (e) { return; }
        if (!helloed) { if (frame.type !== "hello") return; helloed = true; clearTimeout(timer); onHello(ws, frame); return; }
        if (ws === this.ws) this.onFrame(frame);
      };
      ws.onclose = (e) => fail(e.code);
      ws.onerror = () => { /* onclose follows */ };
    });
    return handle;
  }

  openWs() {
    const id = this.transportId;
    this.wsHandle = this.socket((ws, hello) => {
      if (id !== this.transportId) { ws.close(1000); return; }
      this.adoptWs(ws, hello);
    }, (code, helloed) => {
      if (id !== this.transportId) return;
      this.lostWs(code);
      if (this.fatal(code)) return;
      this.setStatus("error");
      if (helloed) { this.log("WebSocket closed (" + code + "), reconnecting"); this.retryLater(); return; }
      // refused before its hello: a blocked WebSocket, or a relay that is down? ask it over HTTP
      this.api("GET", this.path("events?after=" + this.seq.last + "&wait=0")).then(() => true,
        (err) => err.status > 0 && err.status < 500).then((httpWorks) => {
        if (id !== this.transportId) return;
        if (this.fallback.wsFailed(httpWorks)) {
          this.log("WebSocket failed 3 times while HTTP works: falling back to HTTP (" + this.fallback.mode + ")");
          this.attempt = 0;
          this.connect();
          return;
        }
        this.retryLater();
      });
    });
  }
  lostWs(code) {
    this.ws = null;
    if (this.pendingAck) { this.pendingAck.reject(closeError(code)); this.pendingAck = null; }
  }

  adoptWs(ws, hello) {
    this.ws = ws;
    if (hello.reset || hello.last_seq < this.seq.last) this.restart();   // the relay lost what we had
    this.fallback.wsConnected();
    this.attempt = 0;
    this.pingInterval = (hello.ping_interval || 25) * 1000;
    this.setStatus("connected");
    this.frameSeen();
    this.flush();
  }

  /** Close codes and statuses that end the conversation for this token: never retried as is. */
  fatal(code) {
    if (code !== 4401 && code !== 4404) return false;
    if (!this.conv) return true;
    this.stop();
    const err = new LivechatError(code === 4401 ? "the conversation's token expired" : "unknown conversation",
      { status: code === 4401 ? 401 : 404, code: code === 4401 ? "token_expired" : "unknown_conversation" });
    this.conv = null; this.history = []; this.seq = new SeqTracker(0);
    this.persist();
    this.setStatus("idle");
    this.emit("conversation", null, { reason: code === 4401 ? "expired" : "unknown", error: err });
    this.emit("error", err);
    return true;
  }

  /** Heartbeat: no frame for 2 ping intervals is a dead link. */
  frameSeen() {
    this.lastFrame = Date.now();
    clearTimeout(this.timers.watchdog);
    this.timers.watchdog = setTimeout(() => this.checkWatchdog(), 2 * this.pingInterval + 1000);
  }
  checkWatchdog() {
    if (!this.ws || this.fallback.mode !== "ws") return;
    if (Date.now() - this.lastFrame > 2 * this.pingInterval) {
      this.log("no ping from the relay: reconnecting");
      try { this.ws.close(4000); } catch (e) { /* closed */ }
      this.lostWs(4000);
      this.setStatus("error");
      this.reconnectNow();
    }
  }

  onFrame(frame) {
    this.frameSeen();
    const ack = this.pendingAck;
    if (frame.type === "event") this.handle(frame.event);
    else if (frame.type === "ping") this.ws.send('{"type":"pong"}');
    else if (frame.type === "ack" && ack && ack.id === frame.client_id) ack.resolve({ seq: frame.seq });
    else if (frame.type === "error" && ack && (frame.client_id === ack.id ||
             (frame.client_id == null && WS_FRAME_REFUSED[frame.code]))) ack.reject(wsError(frame));
  }

  pollLoop() {
    const id = this.transportId, wait = this.fallback.mode === "poll" ? 0 : 25;
    const abort = this.abort = new AbortController();
    let timedOut = false;
    const guard = setTimeout(() => { timedOut = true; abort.abort(); }, (wait + 10) * 1000);
    this.api("GET", this.path("events?after=" + this.seq.last + "&wait=" + wait), undefined, { signal: abort.signal }).then((body) => {
      clearTimeout(guard);
      if (id !== this.transportId) return;
      this.fallback.httpOk(); this.attempt = 0;
      this.setStatus("polling");
      if (body.reset) this.restart();
      for (const e of body.events || []) this.handle(e);
      this.flush();
      this.scheduleUpgrade();
      this.timers.poll = setTimeout(() => { if (id === this.transportId) this.pollLoop(); }, this.fallback.mode === "poll" ? 3000 : 0);
    }, (err) => {
      clearTimeout(guard);
      if (id !== this.transportId) return;
      if (err.status === 401 || err.status === 404) { this.fatal(err.status === 401 ? 4401 : 4404); return; }
      this.setStatus("error");
      if (this.fallback.httpFailed(timedOut || err.status === 408 || err.status === 504)) {
        this.log("long polling was cut twice: polling every 3 s");
      }
      this.timers.poll = setTimeout(() => { if (id === this.transportId) this.pollLoop(); }, backoff(this.attempt++));
    });
  }

  /** While in HTTP mode, try the WebSocket again in the background; switch back when it works. */
  scheduleUpgrade() {
    if (!this.fallback.canUpgrade() || this.timers.upgrade) return;
    this.timers.upgrade = setTimeout(() => {
      this.timers.upgrade = null;
      if (!this.conv || !this.fallback.canUpgrade()) return;
      const id = this.transportId;
      this.probe = this.socket((ws, hello) => {
        this.probe = null;
        if (id !== this.transportId) { ws.close(1000); return; }
        this.log("WebSocket works again: leaving polling mode");
        this.stop();                       // ends the HTTP loop (new transport id)
        const newId = this.transportId;
        this.fallback.wsConnected();
        ws.onclose = (e) => {              // from now on this socket is the main transport
          if (newId !== this.transportId) return;
          this.lostWs(e.code);
          if (!this.fatal(e.code)) { this.setStatus("error"); this.retryLater(); }
        };
        this.adoptWs(ws, hello);
      }, () => { this.probe = null; if (id === this.transportId) this.scheduleUpgrade(); });
    }, this.options.wsRetry * 1000);
  }

  // -------------------------------------------------------------- events in

  /** The relay's `reset`: what it keeps starts over from seq 1; the app clears what it shows. */
  restart() {
    this.history = []; this.seq = new SeqTracker(0);
    this.emit("reset");
  }

  handle(event) {
    if (!event || !this.seq.accept(event)) return;
    if (event.seq != null) {
      this.history.push(event);
      const limit = this.options.historyLimit;
      if (limit && this.history.length > limit * 2) this.history = this.history.slice(-limit);
      const m = event.type === "message" && event.message;
      if (m && m.client_id && this.sending !== m.client_id && this.queue.forget(m.client_id)) {
        this.acked(m.client_id, event.seq);   // stored after all (another tab, a lost ack)
      }
      this.persist();
    }
    this.emit("event", event);
    const kind = EVENT_KINDS[event.type];
    if (kind) this.emit(kind, event);
  }
}

Object.assign(LivechatClient, { VERSION, LivechatError, MemoryStorage, Fallback, SeqTracker, SendQueue, backoff,
  cleanText, sendOutcome, wsError, closeError, newClientId, WS_FRAME_REFUSED, MAX_TEXT });

export default LivechatClient;
