// The controller's public widget API (see the README, "Calls from your website"): every answer
// is JSON; an error is {error, message}. Requests carry no cookies: the visitor is anonymous.

export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.body = body || { error: "network", message: "" };
    this.retryAfter = retryAfter;
  }
}

export class WidgetApi {
  constructor(base, widgetId) {
    this.base = base;                 // the directory widget.js came from: paths resolve against it
    this.path = `widget/${encodeURIComponent(widgetId)}`;
  }

  settings() {
    return this.request("GET", `${this.path}/settings`);
  }

  startCall({ video, fields }) {
    const page = { url: location.href, title: document.title };
    return this.request("POST", `${this.path}/call`, { video, fields, page });
  }

  status(statusUrl) {
    return this.request("GET", statusUrl);
  }

  async request(method, path, body) {
    const init = { method, credentials: "omit", cache: "no-store", headers: {} };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(new URL(path, this.base).href, init);
    } catch {
      throw new ApiError(0, { error: "network", message: "" });
    }
    let answer = null;
    try {
      answer = await response.json();
    } catch {
      answer = null;
    }
    if (!response.ok) {
      throw new ApiError(response.status, answer, response.headers.get("Retry-After"));
    }
    return answer;
  }
}
