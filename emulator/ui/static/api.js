// The JSON control plane of one namespace: every call goes to /ns/{name}/_emulator/...
export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

export class Api {
  constructor(namespace) {
    this.namespace = namespace;
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
    const init = { method, headers: { Accept: "application/json" } };
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
