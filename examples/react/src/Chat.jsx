// A minimal chat on @odoo-livechat-relay/client: the library owns the connection, the order of
// events and the queue; the component only renders what it is told.
import { useEffect, useRef, useState } from "react";
import { LivechatClient } from "@odoo-livechat-relay/client";

const STATUS = { connected: "Real-time connected", polling: "Using polling mode", error: "Connection error", idle: "Not connected yet" };

/** Messages in order, with edits and deletions applied. */
function apply(messages, event) {
  const m = event.message;
  if (event.type === "message") return [...messages, m];
  if (event.type === "message_updated") return messages.map((x) => (x.id === m.id ? { ...x, text: m.text, edited: true } : x));
  if (event.type === "message_deleted") return messages.map((x) => (x.id === m.id ? { ...x, text: "", deleted: true } : x));
  return messages;
}

export function useLivechat(options) {
  const chatRef = useRef(null);
  const [messages, setMessages] = useState([]);
  const [pending, setPending] = useState([]);
  const [state, setState] = useState({ status: "idle", mode: "ws" });
  useEffect(() => {
    const chat = new LivechatClient(options);
    chatRef.current = chat;
    setMessages(chat.history.reduce(apply, []));            // what earlier pages showed
    setPending(chat.pending);
    const offs = [
      chat.on("event", (e) => { if (e.seq != null) setMessages((list) => apply(list, e)); }),
      chat.on("reset", () => setMessages([])),
      chat.on("conversation", (c) => { if (!c) setMessages([]); }),
      chat.on("queue", setPending),
      chat.on("state", setState),
    ];
    return () => { offs.forEach((off) => off()); chat.destroy(); };
  }, [options.relay, options.channel]);
  return { chat: chatRef, messages, pending, state };
}

export default function Chat({ relay, channel }) {
  const { chat, messages, pending, state } = useLivechat({ relay, channel });
  const [text, setText] = useState("");
  const submit = (e) => {
    e.preventDefault();
    if (!text.trim()) return;
    chat.current.send(text).catch(() => { /* shown as "not sent" from pending */ });
    setText("");
  };
  return (
    <section aria-label="Chat">
      <p role="status" data-status={state.status}>{STATUS[state.status]} ({state.mode})</p>
      <ol role="log" aria-live="polite">
        {messages.map((m) => (
          <li key={m.id} className={m.author.kind}>
            <strong>{m.author.kind === "visitor" ? "You" : m.author.name || "Operator"}: </strong>
            {m.deleted ? <em>This message was deleted.</em> : m.text}{m.edited ? " (edited)" : ""}
          </li>
        ))}
        {pending.map((p) => (
          <li key={p.client_id} className="visitor pending">
            <strong>You: </strong>{p.text} <em>{p.state === "failed" ? "not sent" : "sending…"}</em>
          </li>
        ))}
      </ol>
      <form onSubmit={submit}>
        <label htmlFor="chat-text">Message</label>
        <input id="chat-text" value={text} autoComplete="off" maxLength={4000}
               onChange={(e) => { setText(e.target.value); chat.current && chat.current.typing(); }} />
        <button type="submit">Send</button>
      </form>
    </section>
  );
}
