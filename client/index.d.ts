// Type declarations of @odoo-livechat-relay/client (livechat-client.mjs and livechat-client.js).
// The contract behind them: docs/protocol.md §2 (transports, events), §5 and §6 (the calls).

/** The client's version: the project's x.y.z (its major is the relay's protocol major). */
export declare const VERSION: string;
/** The longest message text the relay takes, in code points. */
export declare const MAX_TEXT: number;

/** Where a client keeps the conversation: the Web Storage calls (localStorage, sessionStorage). */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
  /** Optional: `fn(key)` after each write by anyone, so clients over one storage follow each other. */
  subscribe?(fn: (key: string) => void): () => void;
}

/** Storage in memory (Node, tests); clients over one instance follow each other as tabs do. */
export declare class MemoryStorage implements StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
  subscribe(fn: (key: string) => void): () => void;
}

/** A relay answer that is not a success (`status`: its HTTP status; a WebSocket refusal is given
 *  the status of the same refusal over HTTP), or a network failure (`status` 0, `code` "network"). */
export declare class LivechatError extends Error {
  readonly name: "LivechatError";
  status: number;
  /** The relay's error code (`invalid_rating`, `no_operator_available`, …), or the client's own
   *  (`network`, `aborted`, `empty_message`, `no_conversation`, `token_expired`, `discarded`, …). */
  code: string;
  /** Seconds, from `Retry-After` (429, 503), else 0. */
  retryAfter: number;
  /** The relay's JSON answer, when there was one. */
  body: Record<string, unknown> | null;
  /** Worth trying again as it is (network, 408, 429, 5xx); false for bad input (other 4xx). */
  readonly retryable: boolean;
  constructor(message: string, init?: { status?: number; code?: string; retryAfter?: number; body?: unknown; cause?: unknown });
}

export interface Author {
  kind: "operator" | "bot" | "visitor";
  name?: string;
  partner_id?: number;
  /** A path on the relay (`/v1/avatars/…`): resolve it against the relay's URL. */
  avatar_url?: string;
}

export interface Attachment {
  id: number | string;
  name: string;
  mimetype: string;
  size?: number;
  /** A path on the relay (`/v1/files/…?exp&sig`): resolve it against the relay's URL. */
  url?: string;
  thumbnail_url?: string;
}

export interface Message {
  id: string;
  author: Author;
  text: string;
  /** Sanitized by the relay; still insert it through your own DOM building, never raw innerHTML. */
  html?: string;
  attachments: Attachment[];
  client_id: string | null;
}

/** One relay event (docs/protocol.md §2). Stored events have a `seq`; `typing` has `seq: null`. */
export interface LivechatEvent {
  seq: number | null;
  type: "message" | "message_updated" | "message_deleted" | "member_joined" | "member_left" | "closed" |
    "status" | "typing" | "rating" | string;
  at?: string;
  message?: Message;
  member?: Author;
  /** `status` events: `bot`, `handoff`, `waiting_operator`, `operator_joined`, `no_operator`,
   *  `leave_message`, `upstream_unavailable`, `chatbot`, `choices`. */
  status?: string;
  text?: string;
  name?: string;
  choices?: { id: number; label: string }[];
  typing?: boolean;
  by?: string;
  rating?: number;
  comment?: string;
  [more: string]: unknown;
}

export interface Conversation {
  conversation_id: string;
  token: string;
  /** Unix seconds. */
  expires_at: number;
}

export type Mode = "ws" | "longpoll" | "poll";
export type Status = "idle" | "connected" | "polling" | "error";

export interface PendingMessage {
  client_id: string;
  text: string;
  /** Names of the files it carries. */
  files: string[];
  /** "sending": in the line, sent in order when the link is there; "failed": refused by the
   *  relay (bad input), out of the line until `retry(client_id)`. */
  state: "sending" | "failed";
  error: LivechatError | null;
}

export interface LivechatClientOptions {
  /** The relay's base URL, e.g. "https://relay.example". */
  relay: string;
  /** The Odoo livechat channel (`im_livechat.channel` id); default: the relay's. */
  channel?: string | number;
  /** Where the conversation is kept: localStorage in browsers (tabs follow each other), else a
   *  MemoryStorage. A new client over the same storage resumes the conversation (a reload). */
  storage?: StorageLike;
  /** Where this tab's unsent messages wait: sessionStorage with localStorage, else `storage`. */
  queueStorage?: StorageLike;
  /** "auto" (WebSocket, falling back only when it fails while HTTP works), or a forced transport. */
  transport?: "auto" | Mode;
  /** Seconds between attempts to go back to the WebSocket while polling (default 60). */
  wsRetry?: number;
  /** Seconds the WebSocket has to say hello (default 5). */
  connectTimeout?: number;
  /** Stored events kept for `history` (default 200; 0 keeps none). */
  historyLimit?: number;
  /** Join this conversation instead of the stored one (a bot or server joining as the visitor). */
  conversation?: Conversation;
  visitorName?: string;
  /** A BCP 47 tag: the relay passes it to Odoo (operator choice, the guest's language). */
  lang?: string;
  /** The page the visitor is on (default: location.href in browsers). */
  pageUrl?: string;
  /** Connect by itself when a stored conversation exists (default true). */
  autoConnect?: boolean;
  /** Start a conversation with the first `send` (default true). `false`: messages wait queued until
   *  the app calls `start(extra)` (the widget asks for a contact first while nobody is online). */
  autoStart?: boolean;
  /** Your fetch (default: the global one). */
  fetch?: typeof fetch;
  /** Your WebSocket class (default: the global one, else the `ws` package in Node). */
  WebSocket?: unknown;
  /** `false`: silent; a function receives the client's log lines (default: errors to console). */
  log?: false | ((text: string, level: "info" | "error") => void);
}

export interface SendOptions {
  /** Files (Blob/File): uploaded first (once each), then sent with the message. */
  files?: ArrayLike<Blob> | Blob[];
  /** Ids of attachments already uploaded with `upload()`. */
  attachmentIds?: (number | string)[];
  /** Upload progress (browsers: as it goes; Node: once at the end). */
  onProgress?: (loaded: number, total: number, file: Blob) => void;
  /** Your own id for the message (default: a random UUID); the relay stores one message per id. */
  clientId?: string;
}

export interface ConfigAnswer {
  available: boolean;
  rule: { action: "display_button" | "auto_popup" | "hide_button"; auto_popup_timer?: number; chatbot?: boolean };
  texts: { button?: string; welcome?: string; placeholder?: string };
  colors: { button?: string; button_text?: string; header?: string; title?: string };
  languages: string[];
  stale?: boolean;
}

export interface EventMap {
  /** Every event: each stored one once, in seq order (across transports, reloads, relay restarts); typing too. */
  event: (event: LivechatEvent) => void;
  /** `message`, `message_updated` and `message_deleted` events. */
  message: (event: LivechatEvent) => void;
  /** `status` events (bot, waiting_operator, operator_joined, …). */
  status: (event: LivechatEvent) => void;
  /** The operator typing (`seq: null`, never stored). */
  typing: (event: LivechatEvent) => void;
  /** The connection: status and mode changed. */
  state: (state: { status: Status; mode: Mode }) => void;
  /** A conversation started, or ended for this token (`expired`, `unknown`), or was forgotten,
   *  or another tab changed it (`other_tab`). */
  conversation: (conversation: Conversation | null, why: { reason: "started" | "expired" | "unknown" | "forgotten" | "other_tab"; error?: LivechatError }) => void;
  /** The relay lost events this client had (a crash): clear what you show; the replay from seq 1 follows. */
  reset: () => void;
  /** The unsent messages changed. */
  queue: (pending: PendingMessage[]) => void;
  /** The relay has this message (its ack; or its stored event came first). The stored `message`
   *  event with this `client_id` may come after the ack: fill the message's bubble then. */
  sent: (sent: { client_id: string; seq: number | undefined }) => void;
  /** The relay refused this message as bad input: it stays in `pending` as "failed" until `retry`. */
  refused: (refused: { client_id: string; error: LivechatError }) => void;
  /** Errors no promise carries alone: a refused message, a conversation that could not start or ended. */
  error: (error: LivechatError) => void;
}

export declare class LivechatClient {
  constructor(options: LivechatClientOptions);
  static readonly VERSION: string;
  static readonly LivechatError: typeof LivechatError;
  static readonly MemoryStorage: typeof MemoryStorage;

  readonly relay: string;
  /** The transport in use, or to be used. */
  readonly mode: Mode;
  /** "connected" (WebSocket), "polling" (HTTP), "error" (reconnecting), "idle" (no conversation yet). */
  readonly status: Status;
  readonly conversation: Conversation | null;
  /** The highest seq delivered. */
  readonly lastSeq: number;
  /** Stored events delivered before (restored from storage on a reload): render them first. */
  history: LivechatEvent[];
  readonly pending: PendingMessage[];

  on<K extends keyof EventMap>(type: K, fn: EventMap[K]): () => void;
  off<K extends keyof EventMap>(type: K, fn: EventMap[K]): void;

  /** Open a conversation (also done by the first `send`); `extra` joins the body (`leave_message`, `contact`). */
  start(extra?: Record<string, unknown>): Promise<Conversation>;
  /** Queue a message; resolves once the relay stored it; rejects when refused (it stays as "failed"). */
  send(text: string, options?: SendOptions): Promise<{ client_id: string; seq: number | undefined }>;
  /** A refused message back in the line. */
  retry(clientId: string): Promise<{ client_id: string; seq: number | undefined }>;
  /** Drop a queued or refused message (not the one being sent). */
  discard(clientId: string): boolean;
  /** Upload one file: the attachment, to send with `send(text, {attachmentIds})`. */
  upload(file: Blob, options?: { onProgress?: (loaded: number, total: number) => void; name?: string }): Promise<Attachment>;
  /** Call on each keystroke (throttled: at most every 3 s, "stopped" after 4 s); `typing(false)` to stop. */
  typing(on?: boolean): void;
  /** Tell the operator the visitor has seen up to `seq` (default: the last delivered). */
  seen(seq?: number): Promise<null>;
  /** 5, 3 or 1, with an optional comment (≤ 1000 characters). */
  rate(rating: 5 | 3 | 1 | number, comment?: string): Promise<null>;
  /** The conversation as the relay stored it. */
  transcript(options?: { format?: "text" | "html" | "pdf" }): Promise<Blob>;
  /** Odoo mails its own transcript (17, 18; 409 `not_offered` on 19). */
  emailTranscript(email: string): Promise<{ status: string }>;
  /** Ask for a person. */
  handoff(): Promise<{ state: "operator" | "bot" | "message" | "retrying" }>;
  /** The visitor leaves (the `closed` event follows); rating and transcript still work. */
  close(): Promise<null>;
  /** A page the visitor saw (kept 15, sent when a conversation exists; the operator's /history). */
  visit(url?: string, title?: string): Promise<null>;
  /** `GET /v1/config` for this page: availability, rule, texts, colours, languages. */
  /** `lang: ""` asks without a language (default: the client's `lang`). */
  config(options?: { pageUrl?: string; lang?: string; channel?: string | number }): Promise<ConfigAnswer>;
  /** One request to the relay, JSON in and out (the widget fetches its language table with it);
   *  a non-2xx answer or a network failure throws a LivechatError. */
  api(method: string, path: string, body?: unknown, options?: { signal?: AbortSignal; raw?: boolean; auth?: boolean }): Promise<any>;
  /** `/v1/conversations/<id>/<action>` of the current conversation. */
  path(action: string): string;
  /** (Re)connect now. */
  connect(): void;
  /** Drop the conversation here and in every tab; the next message starts a new one. */
  forget(): void;
  /** Stop sockets, timers and listeners; what is stored stays (a new client resumes it). */
  destroy(): void;
}

export declare function backoff(attempt: number, random?: number): number;
export declare class Fallback {
  constructor(configured?: "auto" | Mode);
  configured: string;
  mode: Mode;
  wsFailed(httpWorks: boolean): boolean;
  wsConnected(): void;
  httpFailed(cut: boolean): boolean;
  httpOk(): void;
  canUpgrade(): boolean;
}
export declare class SeqTracker {
  constructor(last?: number);
  last: number;
  accept(event: { seq: number | null }): boolean;
}
export declare class SendQueue {
  constructor(items?: object[], save?: () => void, failed?: object[]);
  items: { client_id: string; text: string }[];
  failed: { client_id: string; text: string }[];
  push(item: { client_id: string; text: string }): void;
  fail(clientId: string): object | null;
  retry(clientId: string): object | null;
  forget(clientId: string): object | null;
  head(): { client_id: string; text: string } | null;
  done(clientId: string): boolean;
}
export declare function cleanText(text: unknown, max?: number): string;
export declare function sendOutcome(err: { status?: number } | null): "fatal" | "wait" | "refused" | "retry";
export declare const WS_FRAME_REFUSED: Record<string, true>;
export declare function wsError(frame: { code?: string; message?: string }): LivechatError;
export declare function closeError(code: number): LivechatError;
export declare function newClientId(): string;

export default LivechatClient;
