/*! Odoo Livechat Relay widget. One script tag, no build step, no framework.
 *  <script src="https://relay.example/widget.js" data-relay="https://relay.example" defer></script>
 *  Contract: docs/protocol.md §2. Text is rendered with textContent; operator HTML is rebuilt
 *  node by node through an allow-list, never through an HTML-parsing sink of the live page. */
(function (root) {
  "use strict";

  // ------------------------------------------------------------------ pure parts (node --test)

  var STRINGS = {
    en: {
      title: "Chat with us", open: "Open chat", close: "Close chat", send: "Send", message: "Message",
      placeholder: "Type a message…", connected: "Real-time connected", polling: "Using polling mode",
      error: "Connection error", idle: "Not connected yet", sending: "sending…", failed: "not sent",
      resend: "Retry", resendLabel: "Retry sending: {text}",
      noOperator: "No operator is available right now. Please try again later.", retry: "Try again",
      waiting: "Waiting for an operator…", joined: "{name} joined the conversation",
      left: "{name} left the conversation", closed: "The conversation has ended.", newChat: "Start a new chat",
      typing: "{name} is typing…", deleted: "This message was deleted.", edited: "(edited)",
      you: "You", operator: "Operator", ended: "This conversation is no longer available.",
      attachment: "Attachment", openImage: "Open image {name}", attachFile: "Attach a file",
      fileTooLarge: "not sent: this file is too large", fileType: "not sent: this type of file cannot be sent",
      filesNotOffered: "not sent: files cannot be sent in this chat", filesLater: "not sent: files can be sent once a person has joined",
      fileEmpty: "not sent: this file is empty", endChat: "End chat",
      rateTitle: "How was this conversation?", rateGood: "Good", rateOkay: "Okay", rateBad: "Bad",
      rateComment: "Tell us more (optional)", rateSend: "Send", rateSkip: "Skip",
      rateThanks: "Thank you for your feedback.", rateFailed: "Your rating could not be sent.",
      unread: "{n} unread", today: "Today",
      transcript: "Download the conversation", transcriptFailed: "The conversation could not be downloaded.",
      emailIt: "Email it to me", emailLabel: "Your email address", emailSent: "The conversation is on its way to {email}.",
      emailNo: "Sending by email is not offered here.", emailBad: "That email address does not look right.", talkToPerson: "Talk to a person", assistant: "Assistant",
      withBot: "You are chatting with our virtual assistant. You can ask for a person at any time.",
      withScript: "You are chatting with our virtual assistant.",
      handoff: "Connecting you to a person…", handoffFailed: "Your request could not be sent. Please try again.",
      noOperatorBot: "No one is available right now; the assistant is still here to help. You can ask for a person again later.",
      leaveMessage: "No one is available right now. Leave your message here (with how to reach you): the first person available will read it.",
      leaveIntro: "No one is available right now. Leave a message and how to reach you: we will answer as soon as someone is back.",
      contactLabel: "Your email or phone", contactNeeded: "Please tell us how to reach you (an email address or a phone number).",
      leftMessage: "Thank you. The first person available will read your messages here and can reach you at {contact}."
    }
  };

  /** English is built in; another language's table comes from the relay (/widget/i18n/<lang>.json). */
  function strings(table) {
    return function (key, vars) {
      var text = (table && typeof table[key] === "string" && table[key]) || STRINGS.en[key] || key;
      return text.replace(/\{(\w+)\}/g, function (_, k) { return vars && vars[k] != null ? vars[k] : ""; });
    };
  }

  /** Full-jitter backoff: a random delay in [0, min(30 s, 0.5 s · 2^attempt)], at least 0.5 s. */
  function backoff(attempt, random) {
    var cap = Math.min(30000, 500 * Math.pow(2, Math.max(0, attempt)));
    var r = random === undefined ? Math.random() : random;
    return Math.max(500, Math.floor(r * cap));
  }

  /** Which transport, from what failed while the relay answered by other means (a relay that is
   *  down fails them all: the preferred one is kept). */
  function Fallback(configured) {
    this.configured = configured || "auto";
    this.mode = this.configured === "auto" ? "ws" : this.configured;
    this.wsFailures = 0;
    this.httpFailures = 0;
  }
  /** ``httpWorks``: a plain request to the same relay got through just after. */
  Fallback.prototype.wsFailed = function (httpWorks) {
    if (!httpWorks) return false;
    this.wsFailures += 1;
    if (this.mode === "ws" && this.wsFailures >= 3) { this.mode = "longpoll"; this.httpFailures = 0; return true; }
    return false;
  };
  Fallback.prototype.wsConnected = function () { this.wsFailures = 0; this.mode = "ws"; this.httpFailures = 0; };
  /** ``cut``: the long poll was cut short on the way (timed out, 408/504: a proxy that keeps no
   *  long request), not refused by a relay that is down. */
  Fallback.prototype.httpFailed = function (cut) {
    if (!cut) return false;
    this.httpFailures += 1;
    if (this.mode === "longpoll" && this.httpFailures >= 2) { this.mode = "poll"; return true; }
    return false;
  };
  Fallback.prototype.httpOk = function () { this.httpFailures = 0; };
  Fallback.prototype.canUpgrade = function () { return this.configured === "auto" && this.mode !== "ws"; };

  /** Messages typed by the visitor, kept in order until the relay has them; never doubled.
   *  ``failed``: those refused as bad input, out of the line until retried (then at its end). */
  function SendQueue(items, save, failed) {
    this.items = (items || []).slice();
    this.failed = (failed || []).slice();
    this.save = save || function () {};
  }
  SendQueue.prototype.push = function (clientId, text, file) {
    this.items.push(file ? { client_id: clientId, text: text, file: file, name: file.name } : { client_id: clientId, text: text });
    this.save(this.items, this.failed);
  };
  SendQueue.prototype.move = function (from, to, clientId) {
    var item = null;
    this[from] = this[from].filter(function (m) { if (m.client_id !== clientId) return true; item = m; return false; });
    if (item) { if (to) this[to].push(item); this.save(this.items, this.failed); }
    return item;
  };
  SendQueue.prototype.fail = function (clientId) { return this.move("items", "failed", clientId); };
  SendQueue.prototype.retry = function (clientId) { return this.move("failed", "items", clientId); };
  /** The relay has it after all (another tab): no longer "not sent". */
  SendQueue.prototype.forget = function (clientId) { this.move("failed", null, clientId); };
  SendQueue.prototype.head = function () { return this.items[0] || null; };
  SendQueue.prototype.done = function (clientId) {
    var before = this.items.length;
    this.items = this.items.filter(function (m) { return m.client_id !== clientId; });
    if (this.items.length !== before) this.save(this.items, this.failed);
    return this.items.length !== before;
  };

  /** Text the relay takes: lone surrogates become U+FFFD, cut at ``max`` code points, never inside a pair. */
  var MAX_TEXT = 4000;
  function cleanText(text, max) {
    var s = String(text == null ? "" : text), limit = max == null ? MAX_TEXT : max, out = "", n = 0;
    for (var i = 0; i < s.length && n < limit; i++, n++) {
      var c = s.charCodeAt(i);
      if (c >= 0xD800 && c <= 0xDBFF) {
        var d = s.charCodeAt(i + 1);
        if (d >= 0xDC00 && d <= 0xDFFF) { out += s.charAt(i) + s.charAt(i + 1); i++; } else out += "\uFFFD";
      } else if (c >= 0xDC00 && c <= 0xDFFF) out += "\uFFFD";
      else out += s.charAt(i);
    }
    return out;
  }

  /** A message the relay did not take: "fatal" 401/404, start over; "wait" 429/408; "refused" other
   *  4xx ("not sent", with a retry); else kept first in line. */
  function sendOutcome(err) {
    var status = err && err.status;
    if (status === 401 || status === 404) return "fatal";
    if (status === 429 || status === 408) return "wait";
    if (status >= 400 && status < 500) return "refused";
    return "retry";
  }

  /** WebSocket ``error`` codes as the HTTP status of the same refusal; any other is bad input. */
  var WS_ERROR_STATUS = { rate_limited: 429, unauthorized: 401, token_expired: 401, unknown_conversation: 404,
                          not_found: 404, request_timeout: 408, internal_error: 500 };
  /** Codes without ``client_id``: about the ``send`` waiting for its ack. */
  var WS_FRAME_REFUSED = { invalid_json: true, invalid_unicode: true, number_out_of_range: true, bad_frame: true };
  function wsError(frame) {
    var err = new Error(frame.message || frame.code || "error");
    err.code = frame.code;
    err.status = WS_ERROR_STATUS[frame.code] || (/unavailable$/.test(frame.code || "") ? 503 : 400);
    return err;
  }
  /** Closed while a ``send`` waited for its ack: 1007 (invalid payload), 1009 (too big) refuse it. */
  function closeError(code) {
    var err = new Error(code === 1007 ? "invalid frame" : code === 1009 ? "message too big" : "closed");
    if (code === 1007) err.status = 400; else if (code === 1009) err.status = 413;
    err.code = "ws_close_" + code;
    return err;
  }

  /** Accepts each stored event once (dedupe by seq); typing (seq null) always passes. */
  function SeqTracker(last) { this.last = last || 0; }
  SeqTracker.prototype.accept = function (event) {
    if (event.seq == null) return true;
    if (event.seq <= this.last) return false;
    this.last = event.seq;
    return true;
  };

  /** Relay status codes (docs/protocol.md §2, bot addition): their strings, and whether the
   *  "Talk to a person" control is offered after them (true), withdrawn (false) or unchanged (absent). */
  var BOT_STATUS = {
    bot: ["withBot", true], chatbot: ["withScript", false], no_operator: ["noOperatorBot", true], handoff: ["handoff", false],
    leave_message: ["leaveMessage", false], waiting_operator: ["waiting", false], operator_joined: [null, false]
  };
  function offersPerson(status, before) {
    var known = BOT_STATUS[status];
    return known ? known[1] : !!before;
  }

  function newClientId() {
    if (root.crypto && root.crypto.randomUUID) return root.crypto.randomUUID();
    return "c" + Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
  }

  var pure = { STRINGS: STRINGS, strings: strings, backoff: backoff, Fallback: Fallback, SendQueue: SendQueue,
               SeqTracker: SeqTracker, newClientId: newClientId, offersPerson: offersPerson, BOT_STATUS: BOT_STATUS,
               MAX_TEXT: MAX_TEXT, cleanText: cleanText, sendOutcome: sendOutcome, wsError: wsError,
               WS_FRAME_REFUSED: WS_FRAME_REFUSED, closeError: closeError };
  if (typeof module === "object" && module.exports) { module.exports = pure; return; }

  // ------------------------------------------------------------------ DOM helpers

  var doc = root.document;
  function el(tag, attrs, text) {
    var node = doc.createElement(tag);
    for (var k in attrs || {}) node.setAttribute(k, attrs[k]);
    if (text != null) node.textContent = text;
    return node;
  }
  /** 1536 → "1.5 KB": sizes as people read them. */
  function fileSize(bytes) {
    var units = ["B", "KB", "MB", "GB"], n = Number(bytes) || 0, i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(n < 10 ? 1 : 0) : String(n)) + " " + units[i];
  }
  function safeUrl(url) {
    if (!/^(https?:\/\/|mailto:)/i.test(String(url || "").trim())) return null;   // absolute links only
    try { var u = new URL(String(url).trim()); return /^(https?|mailto):$/.test(u.protocol) ? u.href : null; }
    catch (e) { return null; }
  }

  var ALLOWED = { P: "p", BR: "br", B: "b", STRONG: "strong", I: "i", EM: "em", U: "u", S: "s", A: "a", UL: "ul",
                  OL: "ol", LI: "li", BLOCKQUOTE: "blockquote", CODE: "code", PRE: "pre", SPAN: "span" };
  /** Rebuild relay-sanitized HTML through the allow-list: new elements, text nodes, safe hrefs only. */
  function rebuild(html) {
    var parsed = new root.DOMParser().parseFromString(String(html), "text/html"); // inert document
    var out = doc.createDocumentFragment();
    (function walk(from, into, depth) {
      for (var n = from.firstChild; n; n = n.nextSibling) {
        if (n.nodeType === 3) { into.appendChild(doc.createTextNode(n.nodeValue)); continue; }
        if (n.nodeType !== 1 || depth > 20) continue;
        var tag = ALLOWED[n.tagName];
        if (!tag) { if (!/^(SCRIPT|STYLE|TEMPLATE|IFRAME|OBJECT|SVG|MATH|NOSCRIPT)$/i.test(n.tagName)) walk(n, into, depth + 1); continue; }
        var copy = doc.createElement(tag);
        if (tag === "a") {
          var href = safeUrl(n.getAttribute("href") || "");
          if (href) { copy.setAttribute("href", href); copy.setAttribute("target", "_blank"); copy.setAttribute("rel", "noopener noreferrer nofollow"); }
        }
        into.appendChild(copy);
        walk(n, copy, depth + 1);
      }
    })(parsed.body, out, 0);
    return out;
  }

  var CSS = [
    ":host{all:initial}:host([hidden]){display:none}",
    "*{box-sizing:border-box;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}",
    ".launcher{position:fixed;inset-inline-end:20px;bottom:20px;width:56px;height:56px;border-radius:50%;border:0;background:var(--c);color:#fff;font-size:26px;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25);z-index:2147483000}",
    ".launcher:focus-visible,button:focus-visible,textarea:focus-visible,input:focus-visible{outline:3px solid #111;outline-offset:2px}",
    ".panel{position:fixed;inset-inline-end:20px;bottom:88px;width:min(370px,calc(100vw - 24px));height:min(540px,calc(100vh - 110px));display:flex;flex-direction:column;background:#fff;color:#1d1d1f;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.25);overflow:hidden;z-index:2147483000;font-size:15px;line-height:1.4}",
    "[hidden]{display:none!important}",
    "header{background:var(--c);color:#fff;padding:10px 12px;display:flex;align-items:center;gap:8px}",
    "header h2{font-size:16px;margin:0;flex:1}",
    "header button{background:transparent;border:0;color:#fff;font-size:20px;cursor:pointer;padding:2px 6px}",
    "header button.end{font-size:13px;border:1px solid rgba(255,255,255,.6);border-radius:6px}",
    "header button:focus-visible{outline:2px solid #fff;outline-offset:1px;box-shadow:0 0 0 4px #111}",
    ".status{font-size:12px;padding:4px 12px;background:#f3f4f6;border-bottom:1px solid #e5e7eb}",
    ".logbox{flex:1;overflow-y:auto}.log{padding:10px 12px;margin:0;list-style:none}",
    ".log li{margin:6px 0;max-width:85%;padding:7px 10px;border-radius:10px;background:#eef2ff;white-space:pre-wrap;word-wrap:break-word}",
    ".log li.visitor{margin-inline-start:auto;background:var(--c);color:#fff}",
    ".log li.visitor a{color:#fff}",
    ".log li.bot{background:#ecfdf5}",
    ".person{padding:4px 8px 0;text-align:center}",
    ".contact{padding:6px 8px 0}.contact p{margin:0 0 4px;font-size:13px;color:#b91c1c}.contact input{width:100%;padding:8px;border:1px solid #888;border-radius:6px;font-size:14px}",
    ".person button{background:#fff;color:var(--c);border:1px solid var(--c);border-radius:16px;padding:4px 14px;font-size:14px;cursor:pointer;min-height:32px}",
    ".person button:disabled{opacity:.5;cursor:default}",
    ".choices{display:flex;flex-wrap:wrap;gap:6px;padding:4px 8px 0;justify-content:flex-end}",
    ".choices button{background:#fff;color:var(--c);border:1px solid var(--c);border-radius:16px;padding:4px 12px;font-size:14px;cursor:pointer;min-height:32px}",
    ".log li.note{background:none;color:#6b7280;font-size:13px;text-align:center;max-width:100%}",
    ".log li.pending{background:#fff;color:#4b5563;border:1px dashed #6b7280}.log li.pending .meta{opacity:1}",
    ".log li.failed{outline:2px solid #b91c1c;outline-offset:1px}",
    ".log li.failed .meta{font-weight:600;opacity:1}",
    ".log .retry{margin-inline-start:6px;background:#fff;color:#b91c1c;border:1px solid #b91c1c;border-radius:6px;padding:2px 10px;font-size:13px;cursor:pointer;min-height:28px}",
    ".log .who{display:block;font-size:12px;font-weight:600;opacity:.8}",
    ".who img{width:18px;height:18px;border-radius:50%;vertical-align:middle;margin-inline-end:4px}",
    ".log .meta{display:block;font-size:11px;opacity:.7}",
    ".log p{margin:0}",
    ".attach{background:transparent!important;color:#374151!important;border:1px solid #d1d5db!important;padding:0 10px!important}",
    ".panel.dropping{outline:3px dashed var(--c);outline-offset:-6px}",
    ".rate .faces{display:flex;gap:8px;justify-content:center;margin:6px 0}.rate .faces button{font-size:24px;background:#fff;border:2px solid #d1d5db;border-radius:50%;width:44px;height:44px;cursor:pointer}",
    ".rate .faces button[aria-pressed=true]{border-color:var(--c);background:#f5f3ff}.rate textarea{width:100%;height:auto;margin-bottom:6px}",
    ".skip{margin-inline-start:8px;background:#fff;color:#374151;border:1px solid #d1d5db;border-radius:8px;padding:0 14px;min-height:40px;cursor:pointer}",
    ".launcher .badge{position:absolute;top:-4px;inset-inline-end:-4px;min-width:22px;height:22px;padding:0 6px;border-radius:11px;background:#b91c1c;color:#fff;font-size:13px;line-height:22px;font-weight:700}",
    ".log time.at{display:block;font-size:11px;opacity:.7;text-align:end}.log li.day{font-size:12px;font-weight:600}",
    ".file{display:block;margin-top:4px}.file img{display:block;max-width:100%;max-height:180px;border-radius:6px}",
    ".typing{font-size:12px;color:#6b7280;padding:0 12px;min-height:18px}",
    "form{display:flex;gap:6px;padding:8px;border-top:1px solid #e5e7eb}",
    "textarea{flex:1;resize:none;height:40px;padding:8px;border:1px solid #d1d5db;border-radius:8px;font-size:15px}",
    "form button,.action{background:var(--c);color:#fff;border:0;border-radius:8px;padding:0 14px;font-size:15px;cursor:pointer;min-height:40px}",
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}",
    "@media (max-width:480px){.panel{inset-inline-end:0;bottom:0;width:100vw;height:100vh;border-radius:0}.panel:not([hidden])+.launcher{display:none}}"
  ].join("");

  var STATUS = { connected: "🟢", polling: "🟡", error: "🔴", idle: "⚪" };
  var COLOR = /^#[0-9a-fA-F]{3,8}$/;

  // ------------------------------------------------------------------ the widget

  function Widget(opts) {
    this.opts = opts;
    this.t = strings(opts.strings);
    this.cfg = opts.config || {};
    this.key = "olr:" + opts.relay + ":" + (opts.channel || "");
    var saved = this.load();
    this.conv = saved.conv || null;
    this.visitor = saved.visitor;
    this.history = saved.history || [];
    this.pages = saved.pages || [];
    this.seq = new SeqTracker(saved.last || 0);
    this.queue = new SendQueue(saved.queue, this.persist.bind(this), saved.failed);
    this.fallback = new Fallback(opts.transport);
    this.mode = this.fallback.mode;
    this.status = "idle";
    this.transportId = 0;
    this.ws = null;
    this.timers = {};
    this.attempt = 0;
    this.sendAttempt = 0;
    this.sending = null;
    this.build();
    for (var i = 0; i < this.history.length; i++) this.render(this.history[i], true);
    for (var f = 0; f < this.queue.failed.length; f++) this.renderFailed(this.queue.failed[f]);
    for (var j = 0; j < this.queue.items.length; j++) this.renderPending(this.queue.items[j]);
    this.setStatus("idle");
    this.listen();
    if (this.conv) this.connect(); else this.greet();
    if (opts.open) this.toggle(true, true);
  }

  /** Before a conversation, as Odoo's own widget: its welcome line; no launcher where the channel's
   *  rule hides it (or nobody is online and data-offline="hide"); open by itself after the rule's
   *  timer, once per tab. */
  Widget.prototype.greet = function () {
    var cfg = this.cfg, rule = cfg.rule || {}, self = this;
    this.welcome();
    if (cfg.available === false && this.opts.offline === "notice") this.note(this.t("noOperator"));
    if (cfg.available === false && this.opts.offline === "message" && !cfg.bot && !rule.chatbot) this.leaveMode();
    this.host.hidden = rule.action === "hide_button" || (cfg.available === false && this.opts.offline === "hide");
    if (rule.action === "auto_popup" && !this.host.hidden && !read("sessionStorage", "olr:popped").at) {
      this.timers.popup = setTimeout(function () {
        try { root.sessionStorage.setItem("olr:popped", '{"at":1}'); } catch (e) {}
        if (!self.conv && self.panel.hidden) self.toggle(true, true);
      }, (rule.auto_popup_timer || 0) * 1000);
    }
  };
  /** Nobody online (data-offline="message", the default): the visitor leaves a message with a
   *  way to reach them; the relay keeps it and opens the chat once an operator is available. */
  Widget.prototype.leaveMode = function () {
    if (this.leaving) return;
    this.leaving = true;
    this.note(this.t("leaveIntro"));
    this.contactBar.hidden = false;
  };
  Widget.prototype.welcome = function () {
    var text = (this.cfg.texts || {}).welcome;
    if (text && !this.log.firstChild) this.note(text).className = "note welcome";
  };

  /** The conversation lives in localStorage (every tab of the site, across browser restarts, until
   *  it ends or its token expires); what waits to be sent, and the transport, in this tab's own
   *  sessionStorage (two tabs never send each other's queue). */
  function read(store, key) { try { return JSON.parse(root[store].getItem(key)) || {}; } catch (e) { return {}; } }
  Widget.prototype.load = function () {
    var s = read("localStorage", this.key), tab = read("sessionStorage", this.key);
    if (s.conv && !(s.conv.expires_at * 1000 > Date.now())) { s.conv = null; s.history = []; s.last = 0; }
    s.queue = tab.queue; s.failed = tab.failed;
    return s;
  };
  Widget.prototype.persist = function () {
    try {
      root.localStorage.setItem(this.key, JSON.stringify({
        conv: this.conv, last: this.seq.last, history: this.history.slice(-200), visitor: this.visitor, pages: this.pages }));
      root.sessionStorage.setItem(this.key, JSON.stringify({
        // a chosen file lives in this page only (a File cannot be stored): a reload drops it
        queue: this.queue.items.filter(function (m) { return !m.file; }),
        failed: this.queue.failed.filter(function (m) { return !m.file; })
      }));
    } catch (e) { /* storage full or blocked: the session still works, it just won't survive a reload */ }
  };
  /** Another tab started, ended or left the conversation: this one follows (its own queue kept). */
  Widget.prototype.sync = function () {
    var s = this.load(), c = s.conv || null, q = this.queue.items, f = this.queue.failed;
    if ((c && c.conversation_id) === (this.conv && this.conv.conversation_id)) return;
    this.reset(true);
    this.visitor = s.visitor;
    this.queue.items = q; this.queue.failed = f; this.restart();
    this.conv = c;
    if (c) this.connect();
  };

  Widget.prototype.build = function () {
    var t = this.t, self = this;
    this.host = el("div", { "data-livechat-relay": "", lang: this.opts.lang });
    if ((this.opts.strings || {})._dir === "rtl") this.host.dir = "rtl";   // the panel mirrored
    var shadow = this.host.attachShadow({ mode: "open" });
    this.shadow = shadow;
    var cfg = this.cfg, texts = cfg.texts || {}, odooColor = (cfg.colors || {}).button;
    this.buttonText = texts.button;        // Odoo's button text, unless the page gives its own
    var color = this.opts.color || (COLOR.test(odooColor || "") ? odooColor : "#714B67");
    var style = el("style", null, CSS.replace(/var\(--c\)/g, color));
    this.launcher = el("button", { "class": "launcher", type: "button", "aria-expanded": "false", "aria-controls": "olr-panel", "aria-label": this.buttonText || t("open"), title: this.buttonText || t("open") }, "💬");
    this.badge = el("span", { "class": "badge", "aria-hidden": "true", hidden: "" });
    this.launcher.appendChild(this.badge);
    this.unread = 0; this.beeps = 0; this.pageTitle = doc.title;
    this.panel = el("section", { "class": "panel", id: "olr-panel", role: "dialog", "aria-label": this.opts.title || t("title"), hidden: "" });
    var header = el("header");
    header.appendChild(el("h2", null, this.opts.title || t("title")));
    this.endBtn = el("button", { type: "button", "class": "end", title: t("endChat") }, t("endChat"));
    this.closeBtn = el("button", { type: "button", "aria-label": t("close") }, "×");
    header.appendChild(this.endBtn); header.appendChild(this.closeBtn);
    this.statusEl = el("div", { "class": "status", role: "status", "aria-live": "polite" });
    // a live region around a plain list: the list keeps its semantics, the region announces additions
    this.logBox = el("div", { "class": "logbox", role: "log", "aria-live": "polite", "aria-relevant": "additions" });
    this.log = el("ol", { "class": "log" });
    this.logBox.appendChild(this.log);
    this.typingEl = el("div", { "class": "typing", "aria-live": "polite" });
    this.personBar = el("div", { "class": "person", hidden: "" });
    this.personBtn = el("button", { type: "button", "class": "talk" }, t("talkToPerson"));
    this.personBar.appendChild(this.personBtn);
    this.choicesBar = el("div", { "class": "choices", role: "group", hidden: "" });
    this.contactBar = el("div", { "class": "contact", hidden: "" });   // leaving a message: how to reach them
    this.contactBar.appendChild(el("label", { "for": "olr-contact", "class": "sr" }, t("contactLabel")));
    this.contactInput = el("input", { id: "olr-contact", type: "text", autocomplete: "email", maxlength: "254", placeholder: t("contactLabel") });
    this.contactBar.appendChild(this.contactInput);
    this.form = el("form");
    var label = el("label", { "for": "olr-input", "class": "sr" }, t("message"));
    this.input = el("textarea", { id: "olr-input", rows: "1", maxlength: "4000", placeholder: texts.placeholder || t("placeholder") });
    this.sendBtn = el("button", { type: "submit" }, t("send"));
    this.attachBtn = el("button", { type: "button", "class": "attach", "aria-label": t("attachFile"), title: t("attachFile") }, "📎");
    this.fileInput = el("input", { type: "file", multiple: "", hidden: "", tabindex: "-1", "aria-hidden": "true" });
    this.form.appendChild(this.attachBtn); this.form.appendChild(this.fileInput);
    this.form.appendChild(label); this.form.appendChild(this.input); this.form.appendChild(this.sendBtn);
    [this.statusEl, this.logBox, this.typingEl, this.choicesBar, this.personBar, this.contactBar, this.form].forEach(function (n) { self.panel.appendChild(n); });
    this.panel.insertBefore(header, this.statusEl);
    shadow.appendChild(style); shadow.appendChild(this.panel); shadow.appendChild(this.launcher);
    doc.body.appendChild(this.host);

    this.launcher.addEventListener("click", function () { self.toggle(); });
    // a sound may play only after the visitor has interacted (autoplay rules): made ready then
    shadow.addEventListener("pointerdown", function () { self.audioReady(); }, true);
    shadow.addEventListener("keydown", function () { self.audioReady(); }, true);
    this.closeBtn.addEventListener("click", function () { self.toggle(false); });
    this.endBtn.addEventListener("click", function () { self.end(); });
    this.personBtn.addEventListener("click", function () { self.askPerson(); });
    this.panel.addEventListener("keydown", function (e) { if (e.key === "Escape") self.toggle(false); else self.trapTab(e); });
    this.launcher.addEventListener("keydown", function (e) { if (e.key === "Escape" && !self.panel.hidden) self.toggle(false); });
    this.form.addEventListener("submit", function (e) { e.preventDefault(); self.submit(); });
    this.contactInput.addEventListener("keydown", function (e) {   // Enter: what waits goes, else on to the message
      if (e.key !== "Enter") return;
      e.preventDefault(); self.contactInput.removeAttribute("aria-invalid");
      if (self.queue.items.length && !self.conv) self.start().catch(function () {}); else self.input.focus();
    });
    this.input.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); self.submit(); }
    });
    this.input.addEventListener("input", function () { self.typing(); });
    this.attachBtn.addEventListener("click", function () { self.fileInput.click(); });
    this.fileInput.addEventListener("change", function () { self.submitFiles(self.fileInput.files); self.fileInput.value = ""; });
    this.panel.addEventListener("dragover", function (e) {
      if (e.dataTransfer && Array.prototype.indexOf.call(e.dataTransfer.types || [], "Files") >= 0) {
        e.preventDefault(); self.panel.classList.add("dropping");
      }
    });
    this.panel.addEventListener("dragleave", function (e) { if (e.target === self.panel) self.panel.classList.remove("dropping"); });
    this.panel.addEventListener("drop", function (e) {
      self.panel.classList.remove("dropping");
      if (e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files.length) { e.preventDefault(); self.submitFiles(e.dataTransfer.files); }
    });
  };

  /** Open or close the panel; ``quiet``: opened by the page (data-open, a rule's popup), so the
   *  visitor's focus stays where it is. Full screen (≤ 480 px) it is modal: Tab stays inside. */
  Widget.prototype.toggle = function (open, quiet) {
    var show = open === undefined ? this.panel.hidden : open;
    this.panel.hidden = !show;
    this.launcher.setAttribute("aria-expanded", String(show));
    this.launcher.setAttribute("aria-label", show ? this.t("close") : this.buttonText || this.t("open"));
    this.panel.setAttribute("aria-modal", String(this.fullScreen()));
    if (!quiet) { if (show) this.input.focus(); else this.launcher.focus(); }
    if (show) { this.markSeen(); this.setUnread(0); }
  };
  Widget.prototype.fullScreen = function () { return !!(root.matchMedia && root.matchMedia("(max-width: 480px)").matches); };
  /** Tab and Shift+Tab cycle within the full-screen panel (the page under it is out of reach). */
  Widget.prototype.trapTab = function (e) {
    if (e.key !== "Tab" || !this.fullScreen()) return;
    var all = Array.prototype.filter.call(this.panel.querySelectorAll("button,textarea,input:not([type=file]),a[href]"),
      function (n) { return !n.disabled && n.getClientRects().length; });
    if (!all.length) return;
    var first = all[0], last = all[all.length - 1], at = this.shadow.activeElement;
    if (e.shiftKey ? at === first || !this.panel.contains(at) : at === last) {
      e.preventDefault(); (e.shiftKey ? last : first).focus();
    }
  };

  /** Unread operator messages while the panel is closed or the tab hidden: on the launcher (and
   *  its label) and in the page title, "(2) Shop". */
  Widget.prototype.setUnread = function (n) {
    this.unread = n;
    this.badge.hidden = !n;
    this.badge.textContent = n ? String(n > 99 ? "99+" : n) : "";
    var label = this.t(this.panel.hidden ? "open" : "close");
    this.launcher.setAttribute("aria-label", n ? label + " — " + this.t("unread", { n: n }) : label);
    var base = this.pageTitle;
    if (n) { if (!/^\(\d+\+?\) /.test(doc.title)) this.pageTitle = doc.title; doc.title = "(" + this.badge.textContent + ") " + this.pageTitle; }
    else if (/^\(\d+\+?\) /.test(doc.title)) doc.title = base;
  };
  Widget.prototype.audioReady = function () {
    if (this.audio || !this.opts.sound) return;
    var Ctx = root.AudioContext || root.webkitAudioContext;
    if (Ctx) { try { this.audio = new Ctx(); } catch (e) { this.audio = null; } }
  };
  /** A short, soft two-note chime; silent until the visitor has interacted with the page. */
  Widget.prototype.chime = function () {
    if (!this.opts.sound || !this.audio || this.audio.state === "closed") return;
    try {
      var a = this.audio, now = a.currentTime;
      [[660, 0], [880, 0.12]].forEach(function (n) {
        var o = a.createOscillator(), g = a.createGain();
        o.frequency.value = n[0]; g.gain.setValueAtTime(0.0001, now + n[1]);
        g.gain.exponentialRampToValueAtTime(0.08, now + n[1] + 0.02);
        g.gain.exponentialRampToValueAtTime(0.0001, now + n[1] + 0.25);
        o.connect(g); g.connect(a.destination); o.start(now + n[1]); o.stop(now + n[1] + 0.3);
      });
      this.beeps++;
    } catch (e) { /* no sound, nothing else */ }
  };
  /** A new message from the other side arrived (not a replay): count it and chime when unseen. */
  Widget.prototype.notifyNew = function () {
    if (!this.panel.hidden && doc.visibilityState !== "hidden") return;
    this.setUnread(this.unread + 1);
    this.chime();
  };
  /** "Today" or the date, once when the day changes; times in the visitor's own zone. */
  Widget.prototype.dayLine = function (at) {
    var d = new Date(at);
    if (isNaN(d)) return;
    var day = d.toDateString();
    if (day === this.lastDay) return;
    this.lastDay = day;
    var text = day === new Date().toDateString() ? this.t("today")
      : d.toLocaleDateString(this.opts.lang, { weekday: "long", year: "numeric", month: "long", day: "numeric" });
    var li = el("li", { "class": "note day" });
    li.appendChild(el("time", { datetime: at }, text));
    this.appendBeforePending(li);
  };

  /** Tell the relay (and so the operator) what the visitor has seen: the newest operator-side
   *  event shown while the panel is open and the tab visible; once a second at most. */
  Widget.prototype.markSeen = function () {
    var self = this;
    if (!this.conv || this.panel.hidden || doc.visibilityState === "hidden") return;
    var upTo = this.seenWanted || 0;
    if (!upTo || upTo <= (this.seenSent || 0) || this.timers.seen) return;
    this.timers.seen = setTimeout(function () {
      self.timers.seen = null;
      var seq = self.seenWanted;
      if (!self.conv || seq <= (self.seenSent || 0)) return;
      self.seenSent = seq;
      self.api("POST", self.path("seen"), { seq: seq }).catch(function () { self.seenSent = 0; });
    }, 800);
  };

  Widget.prototype.setStatus = function (status) {
    var changed = status !== this.status || this.mode !== this.fallback.mode;
    this.status = status;
    this.mode = this.fallback.mode;
    this.statusEl.textContent = "";
    this.statusEl.appendChild(el("span", { "aria-hidden": "true" }, STATUS[status] + " "));
    this.statusEl.appendChild(doc.createTextNode(this.t(status)));
    this.statusEl.setAttribute("data-status", status);
    if (!changed) return;
    this.log_("status " + status + " (" + this.mode + ")");
    this.host.dispatchEvent(new root.CustomEvent("livechat-relay:status", { bubbles: true, composed: true,
      detail: { status: status, mode: this.mode } }));
  };
  Widget.prototype.log_ = function (text) { if (root.console) root.console.info("[livechat-relay] " + text); };

  // ------------------------------------------------------------------ conversation

  Widget.prototype.api = function (method, path, body, signal) {
    var headers = { "Content-Type": "application/json" };
    if (this.conv) headers.Authorization = "Bearer " + this.conv.token;
    return root.fetch(this.opts.relay + path, { method: method, headers: headers, signal: signal,
      body: body === undefined ? undefined : JSON.stringify(body) }).then(function (r) {
      if (r.status === 204) return null;
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) {
          var err = new Error(data.message || ("HTTP " + r.status)); err.status = r.status; err.code = data.error;
          err.retryAfter = +r.headers.get("Retry-After") || 0;   // readable where the relay exposes it
          throw err;
        }
        return data;
      });
    });
  };
  Widget.prototype.path = function (action) { return "/v1/conversations/" + encodeURIComponent(this.conv.conversation_id) + "/" + action; };

  Widget.prototype.start = function () {
    var self = this;
    if (this.starting) return this.starting;
    var body = { lang: this.opts.lang, page_url: root.location.href.slice(0, 2048) };
    if (this.opts.name) body.visitor_name = this.opts.name;
    if (this.opts.channel) body.livechat_channel_id = +this.opts.channel;
    if (this.visitor) body.visitor = this.visitor;   // a returning visitor: their operator, their name
    if (this.leaving) {
      body.leave_message = true; body.contact = this.contactInput.value.trim();
      if (!body.contact) return this.askContact();
    }
    this.pendingMeta(this.t("sending"));
    this.starting = this.api("POST", "/v1/conversations", body).then(function (conv) {
      // a new conversation's events count from 1: the seq of an ended one must not hide them
      self.conv = conv; self.visitor = conv.visitor; self.starting = null; self.seq = new SeqTracker(0); self.history = [];
      self.leaving = false; self.contactBar.hidden = true;
      self.persist(); self.connect(); self.page(1);
    }, function (err) {
      self.starting = null;
      self.pendingMeta(self.t("failed"));   // not "sending…" while nothing is on its way
      if (err.code === "invalid_contact") return self.askContact();
      if (err.code === "no_operator_available" && self.opts.offline === "message") {   // nobody after all
        self.leaveMode(); return self.askContact();
      }
      self.note(err.code === "no_operator_available" ? self.t("noOperator") : self.t("error"), "retry");
      throw err;
    });
    return this.starting;
  };

  Widget.prototype.pendingMeta = function (text) {
    var metas = this.log.querySelectorAll("li.pending .meta");
    for (var i = 0; i < metas.length; i++) metas[i].textContent = text;
  };
  /** The message waits (queued) until the visitor says how to reach them. */
  Widget.prototype.askContact = function () {
    this.pendingMeta(this.t("failed"));
    if (!this.contactNote) {   // said beside the field (an alert), which takes the focus
      this.contactNote = el("p", { id: "olr-contact-hint", role: "alert" }, this.t("contactNeeded"));
      this.contactBar.insertBefore(this.contactNote, this.contactInput);
      this.contactInput.setAttribute("aria-describedby", "olr-contact-hint");
    }
    this.contactInput.setAttribute("aria-invalid", "true");
    this.contactInput.focus();
    var err = new Error("contact needed"); err.code = "contact_needed";
    return Promise.reject(err);
  };

  Widget.prototype.submit = function (given) {
    var text = cleanText(String(given != null ? given : this.input.value).trim());   // code points, valid Unicode
    if (!text.trim()) return;
    if (given == null) this.input.value = "";
    var item = { client_id: newClientId(), text: text };
    this.queue.push(item.client_id, item.text);
    this.renderPending(item);
    this.sendTyping(false);
    if (!this.conv) this.start().catch(function () {}); else this.flush();
  };

  /** Files the visitor chose or dropped: each one a message of its own, queued like text (sent in
   *  order when the link is there), uploaded first, then posted with its attachment. */
  Widget.prototype.submitFiles = function (list) {
    for (var i = 0; i < (list ? list.length : 0); i++) {
      var item = { client_id: newClientId(), text: "", file: list[i], name: list[i].name };
      this.queue.push(item.client_id, "", list[i]);
      this.renderPending(item);
    }
    if (list && list.length) { if (!this.conv) this.start().catch(function () {}); else this.flush(); }
  };

  /** Upload one file with progress (XMLHttpRequest: fetch reports no upload progress). */
  Widget.prototype.upload = function (item) {
    var self = this;
    return new Promise(function (resolve, reject) {
      var xhr = new root.XMLHttpRequest(), form = new root.FormData();
      form.append("file", item.file, item.name);
      xhr.open("POST", self.opts.relay + self.path("attachments"));
      xhr.setRequestHeader("Authorization", "Bearer " + self.conv.token);
      xhr.upload.onprogress = function (e) {
        if (!e.lengthComputable) return;
        var meta = self.log.querySelector('li[data-client-id="' + item.client_id + '"] .meta');
        if (meta) meta.textContent = self.t("sending") + " " + Math.floor(100 * e.loaded / e.total) + "%";
      };
      xhr.onload = function () {
        var data = {}; try { data = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
        if (xhr.status === 201) return resolve(data.attachment);
        var err = new Error(data.message || ("HTTP " + xhr.status)); err.status = xhr.status; err.code = data.error;
        err.retryAfter = +xhr.getResponseHeader("Retry-After") || 0;
        reject(err);
      };
      xhr.onerror = xhr.ontimeout = function () { reject(new Error("network")); };
      xhr.send(form);
    });
  };

  /** Send queued messages one at a time, in order; each waits for its ack (or 201/200). One refused
   *  as bad input leaves the line, so the next ones go out (see sendOutcome). */
  Widget.prototype.flush = function () {
    var self = this, item = this.queue.head();
    if (!item || this.sending || !this.conv || this.status === "error" || this.status === "idle") return;
    clearTimeout(this.timers.flush);
    this.sending = item.client_id;
    var body = { client_id: item.client_id, text: cleanText(item.text) };   // also for a queue saved by an older widget
    var sent;
    if (item.file) {                     // a file: uploaded (once), then its message over HTTP
      sent = (item.attachment ? Promise.resolve(item.attachment) : this.upload(item)).then(function (att) {
        item.attachment = att;
        return self.api("POST", self.path("messages"), { client_id: item.client_id, text: "", attachment_ids: [att.id] });
      });
    } else if (this.ws && this.ws.readyState === 1 && this.fallback.mode === "ws") {
      var ws = this.ws;
      sent = new Promise(function (resolve, reject) {
        var timer = setTimeout(function () { reject(new Error("ack timeout")); }, 10000);
        self.pendingAck = { id: item.client_id,
          resolve: function (v) { clearTimeout(timer); resolve(v); },
          reject: function (e) { clearTimeout(timer); reject(e); } };
        ws.send(JSON.stringify({ type: "send", client_id: body.client_id, text: body.text }));
      });
    } else {
      sent = this.api("POST", this.path("messages"), body);
    }
    sent.then(function () {
      self.sending = null; self.pendingAck = null; self.sendAttempt = 0;
      self.queue.done(item.client_id);
      self.markSent(item.client_id);   // the event itself comes through the stream, in seq order
      self.flush();
    }, function (err) {
      self.sending = null; self.pendingAck = null;
      var outcome = sendOutcome(err), delay;
      if (outcome === "refused") {
        self.sendAttempt = 0;
        self.refused(item, err);
        self.flush();
        return;
      }
      if (outcome === "fatal") {         // kept: sent in the next conversation the visitor starts
        if (self.conv) self.fatal(err.status === 401 ? 4401 : 4404);
        return;
      }
      delay = outcome === "wait" && err.retryAfter ? err.retryAfter * 1000 : backoff(self.sendAttempt++);
      self.log_("message not taken (" + (err.code || err.status || err.message) + "): trying again in " + delay + " ms");
      clearTimeout(self.timers.flush);   // kept first in line: retried, in order, when the link is back
      self.timers.flush = setTimeout(function () { self.flush(); }, Math.min(delay, 30000));
    });
  };

  /** The relay refused this message as bad input: out of the line, marked "not sent" with a Retry. */
  Widget.prototype.refused = function (item, err) {
    this.log_("message refused by the relay (" + (err.code || err.status) + "): " + err.message);
    if (item.file) {                     // why, in the visitor's words; a refused file is not retried as it is
      item.reason = { file_too_large: "fileTooLarge", unsupported_type: "fileType", type_mismatch: "fileType",
                      not_offered: "filesNotOffered", not_with_operator: "filesLater", empty_file: "fileEmpty" }[err.code] || "failed";
      delete item.attachment;
    }
    if (!this.queue.fail(item.client_id)) return;
    this.renderFailed(item, this.log.querySelector('li[data-client-id="' + item.client_id + '"]'));
  };
  /** Retry a refused message: back at the end of the line, pending again. */
  Widget.prototype.resend = function (clientId) {
    var li = this.log.querySelector('li.failed[data-client-id="' + clientId + '"]');
    var item = this.queue.retry(clientId);
    if (li) li.remove();
    this.input.focus();                  // the button is gone: keep the focus in the widget
    if (!item) return;
    this.renderPending(item);
    if (!this.conv) this.start().catch(function () {}); else this.flush();
  };

  Widget.prototype.typing = function () {
    var self = this, now = Date.now();
    if (!this.conv) return;
    if (!this.typingSentAt || now - this.typingSentAt > 3000) this.sendTyping(true);
    clearTimeout(this.timers.typingStop);
    this.timers.typingStop = setTimeout(function () { self.sendTyping(false); }, 4000);
  };
  Widget.prototype.sendTyping = function (on) {
    if (!this.conv || (!on && !this.typingSentAt)) return;
    this.typingSentAt = on ? Date.now() : 0;
    if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify({ type: "typing", typing: on }));
    else this.api("POST", this.path("typing"), { typing: on }).catch(function () {});
  };

  Widget.prototype.end = function () {
    var self = this;
    if (!this.conv) return;
    if (this.hadOperator && !this.rated && !this.ratePanel) {   // as Odoo's widget: rate, then leave
      this.askRating(function () { self.api("POST", self.path("close")).catch(function () {}); });
      return;
    }
    if (this.ratePanel) return;
    this.api("POST", this.path("close")).catch(function () {}).then(function () { self.reset(); });
  };

  /** The conversation as a text file, saved by the browser (the token goes in a header, not a URL). */
  Widget.prototype.downloadTranscript = function () {
    var self = this;
    if (!this.conv) return;
    root.fetch(this.opts.relay + this.path("transcript"), { headers: { Authorization: "Bearer " + this.conv.token } })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.blob(); })
      .then(function (blob) {
        var a = el("a", { href: root.URL.createObjectURL(blob), download: "conversation.txt" });
        self.shadow.appendChild(a); a.click(); a.remove();
        setTimeout(function () { root.URL.revokeObjectURL(a.href); }, 10000);
      }).catch(function () { self.note(self.t("transcriptFailed")); });
  };

  /** "Email it to me": an address, then Odoo mails its own transcript (where it offers that). */
  Widget.prototype.askEmail = function (line) {
    var t = this.t, self = this, form = el("form", { "class": "mail" });
    var input = el("input", { type: "email", required: "", maxlength: "254", autocomplete: "email", "aria-label": t("emailLabel"), placeholder: t("emailLabel") });
    form.appendChild(input); form.appendChild(el("button", { type: "submit" }, t("send")));
    line.appendChild(form); input.focus();
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var email = input.value.trim();
      self.api("POST", self.path("transcript"), { email: email }).then(function () {
        form.remove(); self.note(t("emailSent", { email: email }));
      }, function (err) {
        if (err.code === "invalid_email") { input.setAttribute("aria-invalid", "true"); self.note(t("emailBad")); return; }
        form.remove(); self.note(t(err.code === "not_offered" ? "emailNo" : "error"));
      });
    });
  };

  /** The end-of-chat panel, as Odoo's: 5 / 3 / 1 and an optional comment; ``then`` runs after a
   *  rating was sent or skipped (the visitor's own "End chat" leaves the session then). */
  Widget.prototype.askRating = function (then) {
    var t = this.t, self = this, chosen = null;
    var li = el("li", { "class": "note rate", role: "group", "aria-label": t("rateTitle") });
    li.appendChild(el("p", null, t("rateTitle")));
    var faces = el("div", { "class": "faces" }), buttons = [];
    [[5, "😊", "rateGood"], [3, "😐", "rateOkay"], [1, "😞", "rateBad"]].forEach(function (f) {
      var b = el("button", { type: "button", "aria-pressed": "false", "aria-label": t(f[2]), title: t(f[2]), "data-rating": String(f[0]) }, f[1]);
      b.addEventListener("click", function () {
        chosen = f[0];
        buttons.forEach(function (x) { x.setAttribute("aria-pressed", String(x === b)); });
        send.disabled = false;
      });
      buttons.push(b); faces.appendChild(b);
    });
    li.appendChild(faces);
    li.appendChild(el("label", { "for": "olr-comment", "class": "sr" }, t("rateComment")));
    var comment = el("textarea", { id: "olr-comment", maxlength: "1000", rows: "2", placeholder: t("rateComment") });
    li.appendChild(comment);
    var send = el("button", { type: "button", "class": "action", disabled: "" }, t("rateSend"));
    var skip = el("button", { type: "button", "class": "skip" }, t("rateSkip"));
    li.appendChild(send); li.appendChild(skip);
    this.ratePanel = li;
    this.append(li);
    buttons[0].focus();
    function done(text) {
      li.remove(); self.ratePanel = null;
      if (text) self.note(text);
      if (then) then();
    }
    send.addEventListener("click", function () {
      if (chosen === null) return;
      send.disabled = true;
      var body = { rating: chosen };
      if (comment.value.trim()) body.comment = cleanText(comment.value.trim(), 1000);
      self.api("POST", self.path("rating"), body).then(function () {
        self.rated = true; done(t("rateThanks"));
      }, function () { done(t("rateFailed")); });
    });
    skip.addEventListener("click", function () { done(null); });
  };
  Widget.prototype.reset = function (quiet) {
    this.stop();
    this.conv = null; this.history = []; this.seq = new SeqTracker(0); this.queue.items = []; this.queue.failed = [];
    this.hadOperator = false; this.rated = false; this.ratePanel = null; this.seenWanted = 0; this.seenSent = 0;
    this.lastDay = null; this.setUnread(0);
    this.log.textContent = ""; this.welcome();
    this.form.hidden = false;
    this.offerPerson(false); this.showChoices(null);
    if (!quiet) this.persist();
    this.setStatus("idle");
  };

  /** "Talk to a person": the relay opens the operator's session and hands the bot part over. */
  Widget.prototype.askPerson = function () {
    var self = this;
    if (!this.conv) return;
    this.personBtn.disabled = true;
    this.api("POST", this.path("handoff"), {}).then(function () {
      self.personBtn.disabled = false;       // the status events that follow say what happened
    }, function (err) {
      self.personBtn.disabled = false;
      if (err.status === 401 || err.status === 404) { self.fatal(err.status === 401 ? 4401 : 4404); return; }
      self.note(self.t("handoffFailed"));
    });
  };
  Widget.prototype.offerPerson = function (show) {
    this.personBar.hidden = !show;
  };
  /** Answer buttons of Odoo's chatbot script (a ``choices`` status); a press sends the answer's
   *  text as the visitor's message, which the relay matches to the answer. */
  Widget.prototype.showChoices = function (choices) {
    var self = this;
    this.choicesBar.textContent = "";
    this.choicesBar.hidden = !(choices && choices.length);
    (choices || []).forEach(function (c) {
      var b = el("button", { type: "button" }, String(c.label || ""));
      b.addEventListener("click", function () { self.showChoices(null); self.submit(String(c.label || "")); });
      self.choicesBar.appendChild(b);
    });
  };

  // ------------------------------------------------------------------ connection

  // the last 15 pages (all tabs): for the operator's /history in Odoo
  Widget.prototype.page = function (all) {
    var p = this.pages = this.load().pages || [], u = root.location.href, e = all ? { pages: p } : { url: u, title: doc.title.slice(0, 200) };
    if (!all) { if ((p[p.length - 1] || {}).url === u) return; p.push(e); p.splice(0, p.length - 15); this.persist(); }
    if (this.conv && p.length) this.api("POST", this.path("pages"), e).catch(Boolean);
  };
  Widget.prototype.listen = function () {
    var self = this, h = root.history;
    function nav() { setTimeout(self.page.bind(self), 300); }
    ["pushState", "replaceState", "popstate", "hashchange"].forEach(function (m, i) {
      var f = h[m];
      if (i > 1) root.addEventListener(m, nav); else h[m] = function () { var r = f.apply(h, arguments); nav(); return r; };
    });
    this.page();
    function now() { if (self.conv && self.status !== "connected") self.reconnectNow(); else self.checkWatchdog(); }
    root.addEventListener("online", now);
    root.addEventListener("offline", function () {   // say so at once; "online" brings us back
      if (!self.conv) return;
      self.stop();
      self.setStatus("error");
    });
    root.addEventListener("pageshow", function (e) { if (e.persisted) now(); });
    root.addEventListener("storage", function (e) { if (e.key === self.key) self.sync(); });
    doc.addEventListener("visibilitychange", function () {
      if (doc.visibilityState !== "visible") return;
      now(); self.markSeen();
      if (!self.panel.hidden) self.setUnread(0);
    });
  };

  Widget.prototype.stop = function () {
    this.transportId += 1;
    for (var k in this.timers) clearTimeout(this.timers[k]);
    this.timers = {};
    if (this.ws) { try { this.ws.close(1000); } catch (e) {} this.ws = null; }
    if (this.probe) { try { this.probe.close(1000); } catch (e) {} this.probe = null; }
    if (this.abort) { this.abort.abort(); this.abort = null; }
  };

  Widget.prototype.connect = function () {
    if (!this.conv) return;
    this.stop();
    if (this.fallback.mode === "ws") this.openWs(); else this.pollLoop();
  };
  Widget.prototype.reconnectNow = function () { this.attempt = 0; this.connect(); };
  Widget.prototype.retryLater = function () {
    var self = this;
    clearTimeout(this.timers.retry);
    this.timers.retry = setTimeout(function () { self.connect(); }, backoff(this.attempt++));
  };

  Widget.prototype.wsUrl = function () {
    return this.opts.relay.replace(/^http/, "ws") + this.path("ws") + "?token=" + encodeURIComponent(this.conv.token) + "&after=" + this.seq.last;
  };

  /** Open a WebSocket; ``onHello`` runs once the relay said hello (the connection is usable). */
  Widget.prototype.socket = function (onHello, onFail) {
    var self = this, ws, helloed = false, done = false;
    try { ws = new root.WebSocket(this.wsUrl()); } catch (e) { setTimeout(function () { onFail(0); }, 0); return null; }
    var timer = setTimeout(function () { if (!helloed) { fail(0); try { ws.close(); } catch (e) {} } }, 5000);
    function fail(code) { if (done) return; done = true; clearTimeout(timer); onFail(code, helloed); }
    ws.onmessage = function (m) {
      var frame; try { frame = JSON.parse(m.data); } catch (e) { return; }
      if (!helloed) { if (frame.type !== "hello") return; helloed = true; clearTimeout(timer); onHello(ws, frame); return; }
      if (ws === self.ws) self.onFrame(frame);
    };
    ws.onclose = function (e) { fail(e.code); };
    ws.onerror = function () { /* onclose follows */ };
    return ws;
  };

  Widget.prototype.openWs = function () {
    var self = this, id = this.transportId;
    this.socket(function (ws, hello) {
      if (id !== self.transportId) { ws.close(1000); return; }
      self.adoptWs(ws, hello);
    }, function (code, helloed) {
      if (id !== self.transportId) return;
      self.ws = null;
      if (self.pendingAck) self.pendingAck.reject(closeError(code));
      if (self.fatal(code)) return;
      self.setStatus("error");
      if (helloed) { self.log_("WebSocket closed (" + code + "), reconnecting"); self.retryLater(); return; }
      // refused before its hello: a blocked WebSocket, or a relay that is down? ask it over HTTP
      self.api("GET", self.path("events?after=" + self.seq.last + "&wait=0")).then(function () { return true; },
        function (err) { return err.status > 0 && err.status < 500; }).then(function (httpWorks) {
        if (id !== self.transportId) return;
        if (self.fallback.wsFailed(httpWorks)) {
          self.log_("WebSocket failed 3 times while HTTP works: falling back to HTTP (" + self.fallback.mode + ")");
          self.attempt = 0;
          self.connect();
          return;
        }
        self.log_(httpWorks ? "WebSocket failed, retrying" : "the relay is not answering: retrying the WebSocket");
        self.retryLater();
      });
    });
  };

  Widget.prototype.adoptWs = function (ws, hello) {
    this.ws = ws;
    if (hello.reset || hello.last_seq < this.seq.last) this.restart();   // the relay lost what we had: start over
    this.fallback.wsConnected();
    this.attempt = 0;
    this.pingInterval = (hello.ping_interval || 25) * 1000;
    this.persist();
    this.setStatus("connected");
    this.log_("WebSocket connected");
    this.frameSeen();
    this.flush();
  };

  /** Close codes that mean "this conversation is over for this token": never retried as is. */
  Widget.prototype.fatal = function (code) {
    if (code !== 4401 && code !== 4404) return false;
    if (!this.conv) return true;         // already over (the stream and a send both said so)
    this.log_("conversation over for this token (" + code + "): the next message starts a new one");
    this.stop();
    this.note(this.t("ended"));
    this.conv = null; this.persist();
    this.setStatus("idle");
    return true;
  };

  /** Heartbeat watchdog: no frame for 2 ping intervals means a dead link. Rescheduled on every
   *  frame, and checked again when the tab becomes visible (background tabs throttle timers). */
  Widget.prototype.frameSeen = function () {
    var self = this;
    this.lastFrame = Date.now();
    clearTimeout(this.timers.watchdog);
    this.timers.watchdog = setTimeout(function () { self.checkWatchdog(); }, 2 * this.pingInterval + 1000);
  };
  Widget.prototype.checkWatchdog = function () {
    if (!this.ws || this.fallback.mode !== "ws") return;
    if (Date.now() - this.lastFrame > 2 * this.pingInterval) {
      this.log_("no ping from the relay: reconnecting");
      try { this.ws.close(4000); } catch (e) {}
      this.ws = null;
      this.setStatus("error");
      this.reconnectNow();
    }
  };

  Widget.prototype.onFrame = function (frame) {
    this.frameSeen();
    if (frame.type === "event") this.handle(frame.event);
    else if (frame.type === "ping") this.ws.send('{"type":"pong"}');
    else if (frame.type === "ack" && this.pendingAck && this.pendingAck.id === frame.client_id) this.pendingAck.resolve(null);
    else if (frame.type === "error" && this.pendingAck && (frame.client_id === this.pendingAck.id ||
             (frame.client_id == null && WS_FRAME_REFUSED[frame.code]))) {
      this.pendingAck.reject(wsError(frame));   // a frame the relay could not read was that send
    }
  };

  Widget.prototype.pollLoop = function () {
    var self = this, id = this.transportId;
    var wait = this.fallback.mode === "poll" ? 0 : 25;
    this.abort = new root.AbortController();
    var guard = setTimeout(function () { if (self.abort) self.abort.abort(); }, (wait + 10) * 1000);
    this.api("GET", this.path("events?after=" + this.seq.last + "&wait=" + wait), undefined, this.abort.signal).then(function (body) {
      clearTimeout(guard);
      if (id !== self.transportId) return;
      self.fallback.httpOk(); self.attempt = 0;
      self.setStatus("polling");
      if (body.reset) self.restart();
      (body.events || []).forEach(function (e) { self.handle(e); });
      self.flush();
      self.scheduleUpgrade();
      self.timers.poll = setTimeout(function () { if (id === self.transportId) self.pollLoop(); },
        self.fallback.mode === "poll" ? 3000 : 0);
    }, function (err) {
      clearTimeout(guard);
      if (id !== self.transportId) return;
      if (err.status === 401 || err.status === 404) { self.fatal(err.status === 401 ? 4401 : 4404); return; }
      self.setStatus("error");
      if (self.fallback.httpFailed(err.name === "AbortError" || err.status === 408 || err.status === 504)) {
        self.log_("long polling was cut twice: polling every 3 s");
      }
      self.timers.poll = setTimeout(function () { if (id === self.transportId) self.pollLoop(); }, backoff(self.attempt++));
    });
  };

  /** While in HTTP mode, try the WebSocket again in the background; switch back when it works. */
  Widget.prototype.scheduleUpgrade = function () {
    var self = this;
    if (!this.fallback.canUpgrade() || this.timers.upgrade) return;
    this.timers.upgrade = setTimeout(function () {
      self.timers.upgrade = null;
      if (!self.conv || !self.fallback.canUpgrade()) return;
      var id = self.transportId;
      self.probe = self.socket(function (ws, hello) {
        self.probe = null;
        if (id !== self.transportId) { ws.close(1000); return; }
        self.log_("WebSocket works again: leaving polling mode");
        self.stop();                       // ends the HTTP loop (new transport id)
        var newId = self.transportId;
        self.fallback.wsConnected();
        ws.onclose = function (e) {          // from now on this socket is the main transport
          if (newId !== self.transportId) return;
          self.ws = null;
          if (self.pendingAck) self.pendingAck.reject(closeError(e.code));
          self.setStatus("error"); if (!self.fatal(e.code)) self.retryLater();
        };
        self.adoptWs(ws, hello);
      }, function () { self.probe = null; self.scheduleUpgrade(); });
    }, this.opts.wsRetry * 1000);
  };

  // ------------------------------------------------------------------ rendering

  Widget.prototype.handle = function (event) {
    if (!event || !this.seq.accept(event)) return;
    if (event.seq != null) { this.history.push(event); this.persist(); }
    this.render(event, false);
  };

  Widget.prototype.restart = function () {
    this.history = []; this.log.textContent = ""; this.seq = new SeqTracker(0); this.offerPerson(false); this.showChoices(null);
    for (var f = 0; f < this.queue.failed.length; f++) this.renderFailed(this.queue.failed[f]);
    for (var i = 0; i < this.queue.items.length; i++) this.renderPending(this.queue.items[i]);
  };

  Widget.prototype.note = function (text, action) {
    var self = this, li = el("li", { "class": "note" }, text);
    if (action === "retry") {
      var b = el("button", { type: "button", "class": "action" }, this.t("retry"));
      b.addEventListener("click", function () { self.input.focus(); li.remove(); self.start().catch(function () {}); });
      li.appendChild(doc.createTextNode(" ")); li.appendChild(b);
    }
    this.appendBeforePending(li);
    return li;
  };
  Widget.prototype.appendBeforePending = function (li) {
    var firstPending = this.log.querySelector("li.pending");
    if (firstPending) this.log.insertBefore(li, firstPending); else this.append(li);
  };
  Widget.prototype.append = function (li) { this.log.appendChild(li); this.logBox.scrollTop = this.logBox.scrollHeight; };

  Widget.prototype.renderPending = function (item) {
    var li = el("li", { "class": "visitor pending", "data-client-id": item.client_id });
    li.appendChild(el("span", { "class": "sr" }, this.t("you") + ": "));
    li.appendChild(el("span", { "class": "body" }, item.file ? "📎 " + item.name : item.text));
    li.appendChild(el("span", { "class": "meta" }, this.t("sending")));
    this.append(li);
  };

  /** "not sent" and a Retry button labelled with the message; a new node, so aria-live announces it. */
  Widget.prototype.renderFailed = function (item, li) {
    var self = this;
    if (!li) {
      li = el("li", { "class": "visitor", "data-client-id": item.client_id });
      li.appendChild(el("span", { "class": "body" }, item.file ? "📎 " + item.name : item.text));
      this.appendBeforePending(li);
    }
    li.classList.remove("pending"); li.classList.add("failed");
    var old = li.querySelector(".meta"); if (old) old.remove();
    var meta = el("span", { "class": "meta" }, (item.file && item.reason ? this.t(item.reason) : this.t("failed")) + " ");
    var snippet = cleanText(item.file ? item.name : item.text, 40);
    if (snippet.length < item.text.length) snippet += "…";
    var b = el("button", { type: "button", "class": "retry", "aria-label": this.t("resendLabel", { text: snippet }) }, this.t("resend"));
    b.addEventListener("click", function () { self.resend(item.client_id); });
    meta.appendChild(b);
    li.appendChild(meta);
  };

  Widget.prototype.markSent = function (clientId) {
    var li = this.log.querySelector('.pending[data-client-id="' + clientId + '"]');
    if (li) { li.classList.remove("pending"); var meta = li.querySelector(".meta"); if (meta) meta.textContent = ""; }
  };

  Widget.prototype.fill = function (li, message) {
    var body = li.querySelector(".body");
    body.textContent = "";
    if (message.html && this.opts.html) body.appendChild(rebuild(message.html)); else body.textContent = message.text || "";
    var self = this;
    (message.attachments || []).forEach(function (a) { body.appendChild(self.file(a)); });
  };

  /** One file: an image inline (its thumbnail; a click opens it full size), anything else a link
   *  with its name and size. URLs are the relay's own (/v1/files/…), resolved against the relay. */
  Widget.prototype.file = function (a) {
    var name = String(a.name || this.t("attachment")), href = a.url && this.fileUrl(a.url);
    var box = el("span", { "class": "file" });
    if (!href) { box.textContent = "📎 " + name; return box; }
    var link = el("a", { href: href, target: "_blank", rel: "noopener noreferrer nofollow", download: name });
    var thumb = a.thumbnail_url && this.fileUrl(a.thumbnail_url);
    if (thumb) {
      link.removeAttribute("download");
      link.setAttribute("aria-label", this.t("openImage", { name: name }));
      link.appendChild(el("img", { src: thumb, alt: name, loading: "lazy" }));
    } else {
      link.textContent = "📎 " + name + (a.size != null ? " (" + fileSize(a.size) + ")" : "");
    }
    box.appendChild(link);
    return box;
  };

  Widget.prototype.fileUrl = function (url) {
    url = String(url || "");
    if (/^\/v1\/(files|avatars)\//.test(url)) return safeUrl(this.opts.relay.replace(/\/+$/, "") + url);
    return null;                                      // only the relay's own file links are followed
  };

  Widget.prototype.render = function (event, restoring) {
    var t = this.t, m = event.message, name;
    var who = (m && m.author) || event.member;
    if ((who && who.kind === "operator" && (event.type === "message" || event.type === "member_joined"))
        || (event.type === "status" && event.status === "operator_joined")) this.hadOperator = true;
    switch (event.type) {
      case "message":
        var pending = m.client_id && this.log.querySelector('[data-client-id="' + m.client_id + '"]');
        // the stored event takes the pending bubble's place, in seq order: the first pending one is
        // filled where it is (not removed and added again, which a screen reader would say twice)
        var inPlace = pending && pending === this.log.querySelector("li.pending");
        if (pending && !inPlace) pending.remove();
        if (m.client_id) this.queue.forget(m.client_id);
        if (event.at) this.dayLine(event.at);
        var li = inPlace ? pending : el("li");
        li.textContent = ""; li.className = m.author.kind === "visitor" ? "visitor" : m.author.kind;
        li.setAttribute("data-message-id", m.id);
        if (m.client_id) li.setAttribute("data-client-id", m.client_id);
        if (m.author.kind === "visitor") li.appendChild(el("span", { "class": "sr" }, t("you") + ": "));
        else {
          var who_ = li.appendChild(el("span", { "class": "who" }, m.author.name || t(m.author.kind === "bot" ? "assistant" : "operator")));
          var face = this.fileUrl(m.author.avatar_url);   // decorative: the name beside it says who
          if (face) who_.insertBefore(el("img", { src: face, alt: "", loading: "lazy" }), who_.firstChild);
        }
        li.appendChild(el("span", { "class": "body" }));
        this.fill(li, m);
        var when = new Date(event.at);
        if (!isNaN(when)) li.appendChild(el("time", { "class": "at", datetime: event.at },
          when.toLocaleTimeString(this.opts.lang, { hour: "2-digit", minute: "2-digit" })));
        if (!inPlace) this.appendBeforePending(li);
        if (!restoring && m.author.kind !== "visitor") this.notifyNew();
        if (m.author.kind !== "visitor") this.showTyping(null); else this.showChoices(null);
        if (m.author.kind !== "visitor" && event.seq) { this.seenWanted = Math.max(this.seenWanted || 0, event.seq); this.markSeen(); }
        break;
      case "message_updated":
      case "message_deleted":
        var old = this.log.querySelector('[data-message-id="' + (m && m.id) + '"]');
        if (!old) break;
        if (event.type === "message_deleted") { old.querySelector(".body").textContent = t("deleted"); break; }
        this.fill(old, m);
        old.querySelector(".body").appendChild(el("span", { "class": "meta" }, t("edited")));
        break;
      case "member_joined":
      case "member_left":
        name = (event.member && event.member.name) || t("operator");
        this.note(t(event.type === "member_joined" ? "joined" : "left", { name: name }));
        break;
      case "closed":
        this.offerPerson(false); this.showChoices(null);
        if (this.ratePanel && event.by === "visitor") { this.ratePanel.remove(); this.ratePanel = null; }
        this.note(t("closed"));
        this.form.hidden = true;
        if (!restoring) {
          var self = this, b = el("button", { type: "button", "class": "action" }, t("newChat"));
          b.addEventListener("click", function () { self.reset(); self.input.focus(); });
          var tb = el("button", { type: "button", "class": "skip transcript" }, t("transcript"));
          tb.addEventListener("click", function () { self.downloadTranscript(); });
          var eb = el("button", { type: "button", "class": "skip" }, t("emailIt"));
          eb.addEventListener("click", function () { eb.remove(); self.askEmail(line); });
          var line = this.note(""); line.appendChild(b); line.appendChild(tb); line.appendChild(eb);
          // ended on the operator's side: the visitor may still rate it
          if (event.by !== "visitor" && this.hadOperator && !this.rated && !this.ratePanel) this.askRating(null);
        }
        break;
      case "rating":
        this.rated = true;
        break;
      case "status":
        if (event.status === "choices") { this.showChoices(event.choices); break; }
        var known = BOT_STATUS[event.status];
        if (event.status === "operator_joined") this.note(t("joined", { name: event.name || t("operator") }));
        else if (event.status === "leave_message" && event.contact) this.note(t("leftMessage", { contact: event.contact }));
        else this.note(known ? t(known[0]) : (event.text || ""));
        this.offerPerson(!this.form.hidden && offersPerson(event.status, !this.personBar.hidden));
        break;
      case "typing":
        if (event.member && event.member.kind !== "visitor") this.showTyping(event.typing ? event.member.name || t("operator") : null);
        break;
    }
  };

  Widget.prototype.showTyping = function (name) {
    var self = this;
    this.typingEl.textContent = name ? this.t("typing", { name: name }) : "";
    clearTimeout(this.timers.typingShown);
    if (name) this.timers.typingShown = setTimeout(function () { self.typingEl.textContent = ""; }, 6000);
  };

  // ------------------------------------------------------------------ boot from the script tag

  function boot() {
    var script = doc.currentScript || doc.querySelector("script[data-relay],script[src*='widget.js']");
    var d = (script && script.dataset) || {};
    var src = script && script.src ? new URL(script.src, root.location.href) : root.location;
    var opts = {
      relay: (d.relay || src.origin).replace(/\/+$/, ""),
      channel: d.channel || "",
      title: d.title || "",
      color: /^#[0-9a-fA-F]{3,8}$|^[a-z]+$/.test(d.color || "") ? d.color : "",   // else Odoo's, else ours
      offline: d.offline || "message",
      lang: d.lang || doc.documentElement.lang || root.navigator.language || "en",
      transport: /^(auto|longpoll|poll)$/.test(d.transport || "") ? d.transport : "auto",
      wsRetry: Math.max(1, +d.wsRetry || 60),
      html: d.html !== "false",
      name: d.name || "",
      open: d.open === "true",
      sound: d.sound !== "false"
    };
    var start = function () {
      var widget = new Widget(opts);
      root.OdooLivechatRelay = { version: "1.0.0", widget: widget,
        get mode() { return widget.fallback.mode; }, get status() { return widget.status; } };
    };
    // the visitor's language (English is built in) and what Odoo's own widget would start with:
    // asked together, waited for 3 s at most (the widget then starts without them)
    function get(path) {
      return root.fetch(opts.relay + path).then(function (r) { return r.ok ? r.json() : null; }, function () { return null; });
    }
    var lang = String(opts.lang), query = "page_url=" + encodeURIComponent(root.location.href.slice(0, 2048)) +
      (/^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})?$/.test(lang) ? "&lang=" + lang : "");
    if (opts.channel) query += "&livechat_channel_id=" + encodeURIComponent(opts.channel);
    Promise.race([Promise.all([/^en\b/i.test(lang) ? null : get("/widget/i18n/" + encodeURIComponent(lang) + ".json"),
      get("/v1/config?" + query)]), new Promise(function (ok) { setTimeout(ok, 3000, []); })]).then(function (found) {
      opts.strings = found[0]; opts.config = found[1];
      if (doc.body) start(); else doc.addEventListener("DOMContentLoaded", start);
    });
  }
  boot();
})(typeof window !== "undefined" ? window : globalThis);
