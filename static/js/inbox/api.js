// The REST API from the agent app: same-origin fetch with the CSRF token, errors as
// `ApiError` with a message an agent can read, and one write at a time per conversation.

let apiRoot = "";
let onSignedOut = () => {};

// `root` is the API's base path; `signedOut` runs when the server says the session is gone.
export function configureApi({ root, signedOut }) {
  apiRoot = root;
  onSignedOut = signedOut;
}

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function errorMessage(status, data) {
  if (data && typeof data === "object") {
    if (typeof data.detail === "string") return data.detail;
    for (const value of Object.values(data)) {
      if (Array.isArray(value) && typeof value[0] === "string") return value[0];
      if (typeof value === "string") return value;
    }
  }
  if (status === 0) return "The server cannot be reached. Check your connection.";
  if (status === 404) return "Not found: it may have been moved to an inbox you cannot see.";
  return "Something went wrong (" + status + "). Try again.";
}

export async function api(path, options) {
  const opts = options || {};
  let url = /^https?:|^\//.test(path) ? path : apiRoot + path;
  if (/^https?:/.test(url)) {
    const parsed = new URL(url);
    if (parsed.origin !== location.origin) throw new ApiError(0, "Refusing a cross-origin link.");
    url = parsed.pathname + parsed.search;
  }
  const init = { method: opts.method || "GET", credentials: "same-origin", headers: { Accept: "application/json" } };
  if (opts.form !== undefined) {
    init.body = opts.form; // multipart: the browser sets the boundary
  } else if (opts.body !== undefined) {
    init.body = JSON.stringify(opts.body);
    init.headers["Content-Type"] = "application/json";
  }
  if (init.method !== "GET") init.headers["X-CSRFToken"] = csrfToken();
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    throw new ApiError(0, errorMessage(0));
  }
  let data = null;
  if (response.status !== 204) {
    try { data = await response.json(); } catch (error) { data = null; }
  }
  if (response.status === 401 || (response.status === 403 && data && /credentials|authenticat/i.test(data.detail || ""))) {
    onSignedOut();
    throw new ApiError(response.status, "Signed out.");
  }
  if (!response.ok) throw new ApiError(response.status, errorMessage(response.status, data));
  return data;
}

// One write at a time per conversation, in the order the agent made them: a read marker
// racing an assignment of the same conversation gains nothing and costs the server locks.
const writeChains = new Map();
export function serial(id, fn) {
  const next = (writeChains.get(id) || Promise.resolve()).catch(() => {}).then(fn);
  writeChains.set(id, next);
  next.catch(() => {}).then(() => { if (writeChains.get(id) === next) writeChains.delete(id); });
  return next;
}
