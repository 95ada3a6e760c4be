// Fetch wrapper for the office API: JSON in and out, CSRF header on state-changing requests.
let csrfToken = "";

export function setCsrf(token) {
  csrfToken = token || "";
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (!["GET", "HEAD"].includes(method) && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch (err) {
    throw new ApiError(0, "network", String(err));
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = data.error || {};
    throw new ApiError(response.status, error.code || "other", error.message || response.statusText);
  }
  return data;
}

/** The logged-in user, with the session's CSRF token set; null after sending the browser to log in. */
export async function currentUser() {
  try {
    const me = await api("GET", "/api/auth/me");
    setCsrf(me.csrf_token);
    return me;
  } catch {
    location.assign(`/console/login.html?next=${encodeURIComponent(location.pathname)}`);
    return null;
  }
}
