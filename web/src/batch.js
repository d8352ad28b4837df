// batch.js -- one range query for a dashboard's panels, not one each.
//
// Every Perses panel asks its Prometheus datasource on its own (POST
// …/api/v1/query_range, one per panel).  A dashcgi datasource answers a
// metric's query from the same rows whatever its label matcher (the SQL
// reads the project's series, the matcher filters them), so 20 panels
// of `slo_sli_ratio{slo="…"}` cost 20 times one, queued behind the
// workers and the browser's 6 connections.  This wraps window.fetch:
// range queries of the simple form `name{label="value"}` to the same
// datasource, range and step that start within a few milliseconds of
// each other are sent as one `name{label=~"v1|v2|…"}` and each caller
// gets the series of its own value, the answer it would have had.
// Share links' pages too (their data path is rate-limited per client).
// Anything else passes through untouched; a combined query that fails
// is retried one by one, so every panel still gets its own answer or
// its own error.
const WINDOW_MS = 15;
const SIMPLE = /^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*\}\s*$/;

// PromQL string literal <-> text.
const unquote = (s) => s.replace(/\\(.)/g, '$1');
const quote = (s) => s.replace(/[\\"]/g, (c) => `\\${c}`);
// RE2: the value matched literally.
const reEscape = (s) => s.replace(/[\\.+*?()|[\]{}^$]/g, (c) => `\\${c}`);

const groups = new Map();

function jsonResponse(status, body) {
	return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

function abortError() {
	return new DOMException('The operation was aborted.', 'AbortError');
}

async function flush(key, orig) {
	const g = groups.get(key);
	groups.delete(key);
	const live = g.waiters.filter((w) => !w.done);
	const values = [...new Set(live.map((w) => w.value))];
	if (values.length <= 1) {
		for (const w of live)
			orig(w.url, w.init).then(w.resolve, w.reject);
		return;
	}
	const params = new URLSearchParams(g.params);
	params.set('query', `${g.name}{${g.label}=~"${quote(values.map(reEscape).join('|'))}"}`);
	let body = null;
	let status = 0;
	try {
		const r = await orig(g.url, {
			method: 'POST', credentials: 'same-origin', headers: g.headers, body: params,
		});
		status = r.status;
		body = r.ok ? await r.json() : null;
	} catch {
		body = null;
	}
	if (!body || body.status !== 'success' || body.data?.resultType !== 'matrix') {
		// Each on its own: its own answer or its own error.
		for (const w of live)
			if (!w.done)
				orig(w.url, w.init).then(w.resolve, w.reject);
		return;
	}
	for (const w of live) {
		if (w.done)
			continue;
		w.done = true;
		const result = body.data.result.filter((s) => s.metric?.[g.label] === w.value);
		const own = { ...body, data: { resultType: 'matrix', result } };
		w.resolve(jsonResponse(status, own));
	}
}

// localStorage dashcgi.batch = off: every panel on its own (to compare).
function off() {
	try {
		return window.localStorage.getItem('dashcgi.batch') === 'off';
	} catch {
		return false;
	}
}

export function installQueryBatching() {
	if (window.__dashcgiBatching)
		return;
	window.__dashcgiBatching = true;
	const orig = window.fetch.bind(window);
	window.fetch = (input, init) => {
		const url = typeof input === 'string' ? input : null;
		if (!url || !init || init.method !== 'POST' || off() || !/^(\/api\/v1\/shared\/[^/]+)?\/proxy\/.*\/api\/v1\/query_range$/.test(url))
			return orig(input, init);
		let params;
		try {
			params = new URLSearchParams(init.body);
		} catch {
			return orig(input, init);
		}
		const keys = [...params.keys()];
		const m = SIMPLE.exec(params.get('query') || '');
		if (!m || keys.some((k) => !['query', 'start', 'end', 'step'].includes(k)))
			return orig(input, init);
		const [, name, label, raw] = m;
		const rest = new URLSearchParams(params);
		rest.delete('query');
		const headers = { ...(init.headers || {}) };
		const key = JSON.stringify([url, name, label, rest.toString(), headers]);
		return new Promise((resolve, reject) => {
			let g = groups.get(key);
			if (!g) {
				g = { url, name, label, params: rest.toString(), headers, waiters: [] };
				groups.set(key, g);
				setTimeout(() => flush(key, orig), WINDOW_MS);
			}
			const w = { url, init, value: unquote(raw), resolve, reject, done: false };
			if (init.signal) {
				if (init.signal.aborted) {
					reject(abortError());
					return;
				}
				init.signal.addEventListener('abort', () => {
					if (!w.done) {
						w.done = true;
						reject(abortError());
					}
				});
			}
			g.waiters.push(w);
		});
	};
}
