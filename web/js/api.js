// Calls to the runtime's public API: the API key (kept for this browser session) goes with each call, and a
// refusal becomes an ApiError whose message is the service's own words.

const KEY_STORE = "realtime-avatar.key";
let askForKey = async () => null;

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function onKeyNeeded(prompt) {
  askForKey = prompt;
}

export function storedKey() {
  return sessionStorage.getItem(KEY_STORE);
}

export function keyHeaders() {
  const key = storedKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

// /health answers every caller; without a valid key (when keys are set) it says only the status, so the page
// learns it needs a key without a refused call.
export async function health() {
  for (;;) {
    const response = await fetch("/health", { headers: keyHeaders(), cache: "no-store" });
    const body = await response.json();
    if ("auth" in body) return body;
    const reason = storedKey() ? "That key was not accepted. Try another." : "This service needs an API key.";
    sessionStorage.setItem(KEY_STORE, await askForKey(reason));
  }
}

// A pydantic 422 lists its errors; everything else sends one sentence.
function describe(detail, fallback) {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail.map((item) => `${(item.loc || []).slice(1).join(".") || "request"}: ${item.msg}`).join("; ");
  }
  return fallback;
}

async function refusal(response) {
  let message = `${response.status} ${response.statusText}`;
  try {
    message = describe((await response.json()).detail, message);
  } catch {
    // not JSON: keep the status line
  }
  if (response.status === 503 || response.status === 502) {
    window.dispatchEvent(new CustomEvent("service-refused", { detail: message }));
  }
  return new ApiError(response.status, message);
}

export async function call(path, options = {}) {
  const send = () => fetch(path, { ...options, headers: { ...(options.headers || {}), ...keyHeaders() } });
  let response = await send();
  if (response.status === 401) {
    sessionStorage.setItem(KEY_STORE, await askForKey("The key was refused. Enter a valid key."));
    response = await send();
  }
  if (!response.ok) throw await refusal(response);
  return response;
}

export async function getJson(path) {
  return (await call(path)).json();
}

export function postJson(path, body, options = {}) {
  return call(path, {
    ...options,
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

export async function postFile(path, file, name, fields = {}) {
  const form = new FormData();
  form.append("file", file, name);
  for (const [field, value] of Object.entries(fields)) form.append(field, value);
  return (await call(path, { method: "POST", body: form })).json();
}

// Media behind the key cannot be a plain src= (no header goes with it): fetched once, kept as a blob URL.
const blobUrls = new Map();

export async function blobUrl(path) {
  if (!blobUrls.has(path)) {
    const blob = await (await call(path)).blob();
    blobUrls.set(path, URL.createObjectURL(blob));
  }
  return blobUrls.get(path);
}

// A stream of server-sent events ({name, data}), read through fetch so that the API key goes with it.
export async function* serverEvents(url) {
  const response = await fetch(url, { headers: keyHeaders() });
  if (!response.ok) return;
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let pending = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    pending += value;
    let end;
    while ((end = pending.indexOf("\n\n")) >= 0) {
      const block = pending.slice(0, end);
      pending = pending.slice(end + 2);
      const name = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (name && data) yield { name, data: JSON.parse(data) };
    }
  }
}
