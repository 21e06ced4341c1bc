// The JSON control plane of one namespace: every call goes to /ns/{name}/_emulator/...
export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

// The control plane's admin token (--admin-token), when the emulator has one: kept for this
// browser tab only, sent on every call.
const TOKEN_KEY = "iot-emulator-admin-token";

export function adminToken() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setAdminToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export class Api {
  constructor(namespace) {
    this.namespace = namespace;
  }

  headers(extra = {}) {
    const token = adminToken();
    return token ? { ...extra, "X-Emulator-Admin-Token": token } : extra;
  }

  get base() {
    return `/ns/${encodeURIComponent(this.namespace)}/_emulator`;
  }

  url(path, params = {}) {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      if (value !== undefined && value !== null && value !== "") query.set(key, String(value));
    }
    const text = query.toString();
    return `${this.base}${path}${text ? `?${text}` : ""}`;
  }

  async request(method, path, { params, body } = {}) {
    const init = { method, headers: this.headers({ Accept: "application/json" }) };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(this.url(path, params), init);
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = text;
    }
    if (!response.ok) {
      const error = data && data.error ? data.error : null;
      let message = error ? error.message : `${method} ${path}: HTTP ${response.status}`;
      if (error && Array.isArray(error.errors) && error.errors.length) {
        message += ": " + error.errors.map((e) => `${e.field} ${e.message}`).join("; ");
      }
      throw new ApiError(response.status, message, data);
    }
    return data;
  }

  // A file from the control plane (a state export), saved by the browser.
  async download(path, params, filename) {
    const response = await fetch(this.url(path, params), { headers: this.headers() });
    if (!response.ok) throw new ApiError(response.status, `${path}: HTTP ${response.status}`, null);
    const link = document.createElement("a");
    link.href = URL.createObjectURL(await response.blob());
    link.download = filename;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  }

  get(path, params) {
    return this.request("GET", path, { params });
  }

  post(path, body) {
    return this.request("POST", path, { body });
  }

  delete(path) {
    return this.request("DELETE", path);
  }
}
