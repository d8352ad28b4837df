// api.js -- the one way the UI talks to dashcgi: fetch with the browser's
// own credentials (nginx authenticates), JSON in and out, and errors as
// the server's `message` (never its `code`: that is for programs).
export class ApiError extends Error {
	constructor(status, body) {
		super((body && body.message) || `HTTP ${status}`);
		this.status = status;
		this.body = body || {};
		this.code = this.body.code || this.body.error;
	}
}

export async function api(path, { method = 'GET', body, headers = {}, raw } = {}) {
	const h = { Accept: 'application/json', ...headers };
	const init = { method, headers: h, credentials: 'same-origin' };
	if (body !== undefined) {
		h['Content-Type'] = 'application/json';
		init.body = JSON.stringify(body);
	}
	const r = await fetch(path, init);
	if (raw)
		return r;
	const text = r.status === 204 ? '' : await r.text();
	let json;
	try {
		json = text ? JSON.parse(text) : null;
	} catch {
		json = { message: text.slice(0, 200) };
	}
	if (!r.ok)
		throw new ApiError(r.status, json);
	return json;
}

// Modules that land in parallel (datasources, SLOs, monitors,
// incidents) answer 404 until then: `optional` turns that into `fallback`.
export async function optional(path, fallback) {
	try {
		return await api(path);
	} catch (e) {
		if (e.status === 404 || e.status === 405 || e.status === 501)
			return fallback;
		throw e;
	}
}

export const enc = encodeURIComponent;
export const projPath = (p) => `/api/v1/projects/${enc(p)}`;
export const dashPath = (p, d) => `${projPath(p)}/dashboards/${enc(d)}`;
