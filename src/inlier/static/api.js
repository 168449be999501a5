// Calls to the REST API from the pages: the session cookie plus the page's CSRF token.

const csrf = document.querySelector('meta[name="csrf-token"]')?.content ?? "";

export class ApiError extends Error {
  constructor(status, problem, headers) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
    this.headers = headers;
  }
}

export async function api(method, path, body, { headers = {}, signal } = {}) {
  const init = {
    method,
    headers: { "X-CSRF-Token": csrf, Accept: "application/json", ...headers },
    credentials: "same-origin",
    signal,
  };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch("/api/v1" + path, init);
  if (res.status === 204) return { status: 204, headers: res.headers, data: null };
  let data = null;
  const text = await res.text();
  if (text) {
    try { data = JSON.parse(text); } catch { data = { detail: text.slice(0, 200) }; }
  }
  if (!res.ok) throw new ApiError(res.status, data, res.headers);
  return { status: res.status, headers: res.headers, data };
}

export function csrfToken() { return csrf; }

// Markdown as the server renders it (sanitized, math as MathML): one request for many texts.
export async function renderMarkdown(texts) {
  const { data } = await api("POST", "/render", { texts });
  return data.html;
}

export function uuid() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}
