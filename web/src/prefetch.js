// prefetch.js -- a dashboard opened by its URL starts what it needs at
// once, side by side, instead of one after the other: the Perses chunk
// (else asked only once /api/v1/me has answered and the route has
// rendered), the dashboard document and the plugin list (else asked
// only once that chunk has been parsed and the registry mounted).  Each
// is handed to the code that would have asked for it, once; nothing is
// cached beyond that first use.
const DASHBOARD = /^\/projects\/([^/]+)\/dashboards\/([^/]+)\/?$/;
const SHARED = /^\/shared\/[^/]+\/?$/;

const pending = new Map();

// A response prefetched for `path`, or a fresh fetch.
export function takePrefetched(path, init) {
	const p = pending.get(path);
	if (p) {
		pending.delete(path);
		return p;
	}
	return fetch(path, init);
}

export const loadDashboardPage = () => import('./pages/Dashboard');
export const loadSharedPage = () => import('./pages/Shared');

export function prefetchForLocation(loc = window.location) {
	const m = DASHBOARD.exec(loc.pathname);
	const shared = SHARED.test(loc.pathname);
	if (!m && !shared)
		return null;
	(m ? loadDashboardPage : loadSharedPage)().catch(() => {});
	const plugins = fetch('/api/v1/plugins', { credentials: 'same-origin' });
	plugins.catch(() => {});	// its taker sees the failure
	pending.set('/api/v1/plugins', plugins);
	if (!m || new URLSearchParams(loc.search).has('version'))
		return null;
	return { project: decodeURIComponent(m[1]), dashboard: decodeURIComponent(m[2]) };
}

// The query index.jsx prefetched: its page's first mount takes it as it
// is (no second request for the document just fetched); later mounts
// ask again as usual.
let prefetchedKey = null;
export function notePrefetchedQuery(key) {
	prefetchedKey = JSON.stringify(key);
}
export function firstUseOfPrefetched(key) {
	if (prefetchedKey === null || prefetchedKey !== JSON.stringify(key))
		return false;
	prefetchedKey = null;
	return true;
}
