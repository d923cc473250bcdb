// The REST API client: JSON calls, the bearer token (kept in sessionStorage,
// sent only in the Authorization header), server-sent events read with
// fetch, and authenticated downloads.

const BASE = "/api/v1";
const TOKEN_KEY = "faultline.token";

/** ApiError is a failed call: the HTTP status and the server's message. */
export class ApiError extends Error {
  constructor(status, message, field, body) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.field = field || "";
    this.body = body || null;
  }
}

let token = sessionStorage.getItem(TOKEN_KEY) || "";
let askForToken = async () => null;
let pendingAsk = null;
const tokenListeners = new Set();

export const hasToken = () => token !== "";

/** onTokenNeeded registers the UI that asks the user for a token. */
export function onTokenNeeded(fn) { askForToken = fn; }

/** onTokenChange calls fn whenever the token is set or forgotten. */
export function onTokenChange(fn) { tokenListeners.add(fn); }

function setToken(t) {
  token = t;
  if (t) sessionStorage.setItem(TOKEN_KEY, t); else sessionStorage.removeItem(TOKEN_KEY);
  for (const fn of tokenListeners) fn(hasToken());
}

export function forgetToken() { setToken(""); }

// obtainToken asks once for every call that hit a 401 at the same time.
async function obtainToken(refused) {
  if (!pendingAsk) {
    pendingAsk = (async () => {
      try {
        const t = await askForToken(refused);
        if (t) setToken(t);
        return !!t;
      } finally {
        pendingAsk = null;
      }
    })();
  }
  return pendingAsk;
}

function authHeaders(extra = {}) {
  return token ? { ...extra, Authorization: "Bearer " + token } : extra;
}

// send makes the request with the token. On a 401 it asks for a token and
// retries, unless quiet is set (a background refresh must not prompt). A
// read that fails before any answer is tried once more: the browser drops
// requests in flight when the machine's network changes (an interface of
// a container coming or going), even to the server on loopback.
async function send(path, init, { quiet = false } = {}) {
  let retried = false;
  for (;;) {
    const sent = token;
    let res;
    try {
      res = await fetch(BASE + path, { ...init, headers: authHeaders(init.headers) });
    } catch (err) {
      if (err.name === "AbortError") throw err;
      const idempotent = !init.method || init.method === "GET";
      if (idempotent && !retried) { retried = true; continue; }
      throw new ApiError(0, "The Faultline server could not be reached. Is `faultline serve` still running?");
    }
    if (res.status !== 401) return res;
    // A token changed while the call was out: retry with it.
    if (token && token !== sent) continue;
    if (quiet || !(await obtainToken(sent !== ""))) {
      throw new ApiError(401, "This server needs an API token. Reload the page or use \u201cSet token\u201d to enter it.");
    }
  }
}

async function decode(res) {
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!res.ok) {
    const e = data && data.error;
    const msg = (e && e.message) || `${res.status} ${res.statusText || "error"}`;
    throw new ApiError(res.status, msg, e && e.field, data);
  }
  return data;
}

/**
 * call sends a JSON request and returns the decoded answer. quiet: a 401
 * fails without asking for a token.
 */
export async function call(method, path, body, { signal, quiet } = {}) {
  const init = { method, signal, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  return decode(await send(path, init, { quiet }));
}

export const get = (path, opts) => call("GET", path, undefined, opts);

/** callYAML sends a YAML document as the body and returns the decoded answer. */
export async function callYAML(method, path, source, { signal } = {}) {
  return decode(await send(path, { method, signal, headers: { "Content-Type": "application/yaml" }, body: source }));
}

/**
 * stream reads a server-sent event stream with fetch (EventSource cannot
 * send the Authorization header) and calls onEvent(name, data) for every
 * event. onEvent returns undefined to read on, or a value to end with.
 * stream resolves with that value, or with null when the stream ends
 * first; an "error" event rejects.
 */
export async function stream(path, { onEvent, signal }) {
  const res = await send(path, { method: "GET", signal, headers: { Accept: "text/event-stream" } });
  if (!res.ok) await decode(res);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  let event = "message";
  let data = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return null;
      buf += value;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).replace(/\r$/, "");
        buf = buf.slice(nl + 1);
        if (line === "") {
          if (data.length) {
            const payload = JSON.parse(data.join("\n"));
            if (event === "error") throw new ApiError(0, payload.message || "the event stream failed");
            const out = onEvent(event, payload);
            if (out !== undefined) return out;
          }
          event = "message";
          data = [];
        } else if (line.startsWith(":")) {
          // a keep-alive comment
        } else if (line.startsWith("event:")) {
          event = line.slice(6).trim();
        } else if (line.startsWith("data:")) {
          data.push(line.slice(5).replace(/^ /, ""));
        }
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/**
 * follow reads GET /runs/{id}/events until the "end" event (resolves with
 * the ended run) or the stream breaks (resolves with null).
 */
export function follow(id, { onProgress, signal }) {
  return stream(`/runs/${id}/events`, {
    signal,
    onEvent: (event, payload) => {
      if (event === "progress") onProgress(payload);
      else if (event === "end") return payload;
      return undefined;
    },
  });
}

/**
 * download fetches a file with the token and saves it under filename, so a
 * protected server's exports work without putting the token in a URL.
 */
export async function download(path, filename) {
  const res = await send(path, { method: "GET" });
  if (!res.ok) await decode(res);
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

export const apiPath = (path) => BASE + path;
