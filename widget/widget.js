/*! Odoo Livechat Relay widget (LGPL-3.0-or-later), on @odoo-livechat-relay/client. One script tag:
 *  <script src="https://relay.example/widget.js" data-relay="https://relay.example" defer></script> */
/* The relay serves this file after the client library (client/livechat-client.js), which owns
 * every network and queue decision: transports, replay by seq, the offline queue, storage, tabs
 * (proxy/api/demo.py widget_bundle). This is the UI only, no build step, no framework. Text is
 * rendered with textContent; operator HTML is rebuilt node by node through an allow-list, never
 * through an HTML-parsing sink of the live page. */
(function (root, Client) {
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

  var pure = { STRINGS: STRINGS, strings: strings, offersPerson: offersPerson, BOT_STATUS: BOT_STATUS };
  var doc = root.document;
  if (!doc || !Client) {            // node --test; or widget/widget.js alone, without the client
    if (typeof module === "object" && module.exports) module.exports = pure;
    else if (root.console) root.console.error("[livechat-relay] the widget needs the client library: load /widget.js from the relay");
    return;
  }
  var cleanText = Client.cleanText;


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
    ".person button,.choices button{background:#fff;color:var(--c);border:1px solid var(--c);border-radius:16px;padding:4px 14px;font-size:14px;cursor:pointer;min-height:32px}",
    ".person button:disabled{opacity:.5;cursor:default}",
    ".choices{display:flex;flex-wrap:wrap;gap:6px;padding:4px 8px 0;justify-content:flex-end}",
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


  /** A message not stored yet, as the visitor wrote it: its text, or its files. */
  function label(item) { return item.files && item.files.length ? "📎 " + item.files.join(", ") : item.text; }

  // ------------------------------------------------------------------ the widget

  /** The UI of one LivechatClient: what the client says is drawn, what the visitor does is asked of it. */
  function Widget(opts, client) {
    var self = this;
    this.opts = opts;
    this.t = strings(opts.strings);
    this.cfg = opts.config || {};
    this.client = client;
    this.timers = {};
    this.status = "idle";
    this.mode = client.mode;
    this.build();
    this.restore(client.history);
    this.setStatus(client.status);
    client.on("event", function (e) { self.render(e, false); });
    client.on("state", function (s) { self.setStatus(s.status); });
    client.on("sent", function (m) { self.markSent(m.client_id); });
    client.on("refused", function (m) { self.refused(m.client_id, m.error); });
    client.on("reset", function () { self.restore([]); });
    client.on("conversation", function (conv, why) { self.changed(why.reason); });
    this.listen();
    if (this.conv) client.connect(); else this.greet();
    if (opts.open) this.toggle(true, true);
  }
  /** The client's conversation ({conversation_id, token, expires_at}) or null. */
  Object.defineProperty(Widget.prototype, "conv", { get: function () { return this.client.conv; } });
  Widget.prototype.path = function (action) { return this.client.path(action); };
  /** The client's messages not yet stored, this one ({client_id, text, files, state, error}). */
  Widget.prototype.item = function (clientId) {
    return this.client.pending.filter(function (m) { return m.client_id === clientId; })[0];
  };
  /** Draw the conversation again: stored events, then what is not stored yet (a reload, another
   *  tab's conversation, the relay's reset). */
  Widget.prototype.restore = function (events) {
    var self = this;
    this.log.textContent = ""; this.lastDay = null; this.offerPerson(false); this.showChoices(null);
    events.forEach(function (e) { self.render(e, true); });
    this.client.pending.forEach(function (m) { if (m.state === "failed") self.renderFailed(m); else self.renderPending(m); });
  };
  /** The client's conversation changed: started, over for this token, or another tab's. */
  Widget.prototype.changed = function (reason) {
    if (reason === "started") { this.leaving = false; this.contactBar.hidden = true; }
    if (reason === "expired" || reason === "unknown") this.note(this.t("ended"));
    if (reason === "other_tab") { this.clear(); this.restore(this.client.history); }
  };

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

  function read(store, key) { try { return JSON.parse(root[store].getItem(key)) || {}; } catch (e) { return {}; } }

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
      if (!self.conv && self.waiting()) self.start().catch(function () {}); else self.input.focus();
    });
    this.input.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); self.submit(); }
    });
    this.input.addEventListener("input", function () { self.client.typing(); });
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
      self.client.seen(seq).catch(function () { self.seenSent = 0; });
    }, 800);
  };

  Widget.prototype.setStatus = function (status) {
    var changed = status !== this.status || this.mode !== this.client.mode;
    this.status = status;
    this.mode = this.client.mode;
    this.statusEl.textContent = "";
    this.statusEl.appendChild(el("span", { "aria-hidden": "true" }, STATUS[status] + " "));
    this.statusEl.appendChild(doc.createTextNode(this.t(status)));
    this.statusEl.setAttribute("data-status", status);
    if (!changed) return;
    this.client.log("status " + status + " (" + this.mode + ")");
    this.host.dispatchEvent(new root.CustomEvent("livechat-relay:status", { bubbles: true, composed: true,
      detail: { status: status, mode: this.mode } }));
  };


  // ------------------------------------------------------------------ conversation

  /** The client starts the conversation; here, what the visitor sees of it (and, leaving a
   *  message while nobody is online, the way to reach them it needs first). */
  Widget.prototype.start = function () {
    var self = this, extra = {};
    if (this.starting) return this.starting;
    if (this.leaving) {
      extra = { leave_message: true, contact: this.contactInput.value.trim() };
      if (!extra.contact) return this.askContact();
    }
    this.pendingMeta(this.t("sending"));
    this.starting = this.client.start(extra).then(function () { self.starting = null; }, function (err) {
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
  /** How many messages wait to be sent. */
  Widget.prototype.waiting = function () {
    return this.client.pending.filter(function (m) { return m.state === "sending"; }).length;
  };
  Widget.prototype.go = function () { if (!this.conv) this.start().catch(function () {}); };


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
    var id = Client.newClientId();
    this.renderPending({ client_id: id, text: text });
    this.client.send(text, { clientId: id });
    this.client.typing(false);
    this.go();
  };

  /** Files the visitor chose or dropped: each one a message of its own, queued like text (sent in
   *  order when the link is there), uploaded first with its progress shown. */
  Widget.prototype.submitFiles = function (list) {
    var self = this;
    Array.prototype.forEach.call(list || [], function (file) {
      var id = Client.newClientId();
      self.renderPending({ client_id: id, text: "", files: [file.name] });
      self.client.send("", { files: [file], clientId: id, onProgress: function (loaded, total) {
        var meta = self.log.querySelector('li[data-client-id="' + id + '"] .meta');
        if (meta && total) meta.textContent = self.t("sending") + " " + Math.floor(100 * loaded / total) + "%";
      } });
    });
    if (list && list.length) this.go();
  };

  /** The relay refused this message as bad input: marked "not sent" with a Retry (a file: why). */
  Widget.prototype.refused = function (clientId, err) {
    var item = this.item(clientId);
    if (!item) return;
    if (item.files.length) {
      item.reason = { file_too_large: "fileTooLarge", unsupported_type: "fileType", type_mismatch: "fileType",
                      not_offered: "filesNotOffered", not_with_operator: "filesLater", empty_file: "fileEmpty" }[err.code] || "failed";
    }
    this.renderFailed(item, this.log.querySelector('li[data-client-id="' + clientId + '"]:not([data-message-id])'));
  };
  /** Retry a refused message: back at the end of the line, pending again. */
  Widget.prototype.resend = function (clientId) {
    var li = this.log.querySelector('li.failed[data-client-id="' + clientId + '"]'), item = this.item(clientId);
    if (li) li.remove();
    this.input.focus();                  // the button is gone: keep the focus in the widget
    if (!item) return;
    this.client.retry(clientId).catch(function () {});   // refused again: the refused event says so
    this.renderPending(item);
    this.go();
  };


  Widget.prototype.end = function () {
    var self = this;
    if (!this.conv) return;
    if (this.hadOperator && !this.rated && !this.ratePanel) {   // as Odoo's widget: rate, then leave
      this.askRating(function () { self.client.close().catch(function () {}); });
      return;
    }
    if (this.ratePanel) return;
    this.client.close().catch(function () {});   // on its way (with the token) before the client forgets it
    this.reset();                                 // so the panel starts over at once, no "ended" flashing first
  };

  /** The conversation as a text file, saved by the browser (the token goes in a header, not a URL). */
  Widget.prototype.downloadTranscript = function () {
    var self = this;
    if (!this.conv) return;
    this.client.transcript().then(function (blob) {
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
      self.client.emailTranscript(email).then(function () {
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
      self.client.rate(chosen, comment.value).then(function () {
        self.rated = true; done(t("rateThanks"));
      }, function () { done(t("rateFailed")); });
    });
    skip.addEventListener("click", function () { done(null); });
  };
  /** A new chat: the client forgets the conversation (in every tab), the panel starts over. */
  Widget.prototype.reset = function () {
    this.client.forget();
    this.clear();
  };
  Widget.prototype.clear = function () {
    this.hadOperator = false; this.rated = false; this.ratePanel = null; this.seenWanted = 0; this.seenSent = 0;
    this.lastDay = null; this.setUnread(0);
    this.log.textContent = ""; this.welcome();
    this.form.hidden = false;
    this.offerPerson(false); this.showChoices(null);
  };

  /** "Talk to a person": the relay opens the operator's session and hands the bot part over. */
  Widget.prototype.askPerson = function () {
    var self = this;
    if (!this.conv) return;
    this.personBtn.disabled = true;
    this.client.handoff().then(function () {
      self.personBtn.disabled = false;       // the status events that follow say what happened
    }, function (err) {
      self.personBtn.disabled = false;
      if (err.status !== 401 && err.status !== 404) self.note(self.t("handoffFailed"));   // else: over (the client says)
    });
  };
  Widget.prototype.offerPerson = function (show) {
    this.personBar.hidden = !show;
  };
  /** Answer buttons of Odoo's chatbot script (a ``choices`` status); a press sends the answer's
   *  text as the visitor's message, which the relay matches to the answer. */
  Widget.prototype.showChoices = function (choices) {
    var self = this;
    this.choices = choices;
    this.choicesBar.textContent = "";
    this.choicesBar.hidden = !(choices && choices.length);
    (choices || []).forEach(function (c) {
      var b = el("button", { type: "button" }, String(c.label || ""));
      b.addEventListener("click", function () { self.showChoices(null); self.submit(String(c.label || "")); });
      self.choicesBar.appendChild(b);
    });
  };


  // ------------------------------------------------------------------ the page

  /** The pages the visitor sees (the operator's /history in Odoo): kept and sent by the client. */
  Widget.prototype.page = function () { this.client.visit(root.location.href, doc.title); };
  Widget.prototype.listen = function () {
    var self = this, h = root.history;
    function nav() { setTimeout(self.page.bind(self), 300); }
    ["pushState", "replaceState", "popstate", "hashchange"].forEach(function (m, i) {
      var f = h[m];
      if (i > 1) root.addEventListener(m, nav); else h[m] = function () { var r = f.apply(h, arguments); nav(); return r; };
    });
    this.page();
    doc.addEventListener("visibilitychange", function () {
      if (doc.visibilityState !== "visible") return;
      self.markSeen();
      if (!self.panel.hidden) self.setUnread(0);
    });
  };

  // ------------------------------------------------------------------ rendering


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
  /** Before the visitor's messages not stored yet ("pending": not acknowledged, "sent": acknowledged,
   *  its stored event not here yet), which the stored events fill in seq order. */
  Widget.prototype.appendBeforePending = function (li) {
    var firstPending = this.log.querySelector("li.pending,li.sent");
    if (firstPending) this.log.insertBefore(li, firstPending); else this.append(li);
  };
  Widget.prototype.append = function (li) { this.log.appendChild(li); this.logBox.scrollTop = this.logBox.scrollHeight; };

  Widget.prototype.renderPending = function (item) {
    var li = el("li", { "class": "visitor pending", "data-client-id": item.client_id });
    li.appendChild(el("span", { "class": "sr" }, this.t("you") + ": "));
    li.appendChild(el("span", { "class": "body" }, label(item)));
    li.appendChild(el("span", { "class": "meta" }, this.t("sending")));
    this.append(li);
  };

  /** "not sent" and a Retry button labelled with the message; a new node, so aria-live announces it. */
  Widget.prototype.renderFailed = function (item, li) {
    var self = this;
    if (!li) {
      li = el("li", { "class": "visitor", "data-client-id": item.client_id });
      li.appendChild(el("span", { "class": "body" }, label(item)));
      this.appendBeforePending(li);
    }
    li.classList.remove("pending", "sent"); li.classList.add("failed");
    var old = li.querySelector(".meta"); if (old) old.remove();
    var meta = el("span", { "class": "meta" }, this.t(item.reason || "failed") + " ");
    var text = item.files && item.files.length ? item.files.join(", ") : item.text, snippet = cleanText(text, 40);
    if (snippet.length < text.length) snippet += "…";
    var b = el("button", { type: "button", "class": "retry", "aria-label": this.t("resendLabel", { text: snippet }) }, this.t("resend"));
    b.addEventListener("click", function () { self.resend(item.client_id); });
    meta.appendChild(b);
    li.appendChild(meta);
  };

  Widget.prototype.markSent = function (clientId) {
    var li = this.log.querySelector('.pending[data-client-id="' + clientId + '"]');
    if (li) { li.classList.replace("pending", "sent"); var meta = li.querySelector(".meta"); if (meta) meta.textContent = ""; }
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
        var pending = m.client_id && this.log.querySelector('li[data-client-id="' + m.client_id + '"]:not([data-message-id])');
        // the stored event takes the bubble's place, in seq order: the first one not stored yet (sent
        // or not) is filled where it is (not removed and added again: a screen reader would say it twice)
        var inPlace = pending && pending === this.log.querySelector("li.pending,li.sent");
        if (pending && !inPlace) pending.remove();
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
        // the script's answer buttons go once one of them is the visitor's answer (a message typed
        // before them, stored after them, leaves them: Odoo still waits for a choice)
        if (m.author.kind !== "visitor") this.showTyping(null);
        else if ((this.choices || []).some(function (c) { return String(c.label || "") === m.text; })) this.showChoices(null);
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
    var lang = String(opts.lang), log = root.console || {};
    // the conversation, its transport and its queue: the client's (stored as the widget always kept them)
    var client = new Client({ relay: opts.relay, channel: opts.channel, transport: opts.transport, wsRetry: opts.wsRetry,
      lang: lang, visitorName: opts.name || undefined, autoConnect: false, autoStart: false,
      log: function (text, level) { (level === "error" ? log.error : log.info).call(log, "[livechat-relay] " + text); } });
    var start = function () {
      var widget = new Widget(opts, client);
      root.OdooLivechatRelay = { version: "1.0.0", widget: widget, client: client,
        get mode() { return client.mode; }, get status() { return client.status; } };
    };
    // the visitor's language (English is built in) and what Odoo's own widget would start with:
    // asked together, waited for 3 s at most (the widget then starts without them)
    function get(path) { return path && path.then(null, function () { return null; }); }
    Promise.race([Promise.all([
      /^en\b/i.test(lang) ? null : get(client.api("GET", "/widget/i18n/" + encodeURIComponent(lang) + ".json", undefined, { auth: false })),
      get(client.config({ pageUrl: root.location.href, lang: /^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})?$/.test(lang) ? lang : "" }))]),
      new Promise(function (ok) { setTimeout(ok, 3000, []); })]).then(function (found) {
      opts.strings = found[0]; opts.config = found[1];
      if (doc.body) start(); else doc.addEventListener("DOMContentLoaded", start);
    });
  }
  boot();
})(typeof window !== "undefined" ? window : globalThis, typeof LivechatClient === "function" ? LivechatClient : null);
