// datasources.js -- the DatasourceApi the Perses dashboard components
// call.  dashcgi's own datasource `dashcgi` (SPEC 11) is always there,
// even before the datasource module answers /api/v1/globaldatasources.
import { optional, enc } from './api';

const builtin = [
	{
		kind: 'GlobalDatasource',
		metadata: { name: 'dashcgi' },
		spec: {
			default: true,
			display: { name: 'dashcgi' },
			plugin: {
				kind: 'PrometheusDatasource',
				spec: { proxy: { kind: 'HTTPProxy', spec: { url: '/proxy/globaldatasources/dashcgi' } } },
			},
		},
	},
];

function byKind(list, kind) {
	return kind ? list.filter((d) => d.spec?.plugin?.kind === kind) : list;
}

function pick(list, selector) {
	const l = byKind(list, selector.kind);
	if (selector.name)
		return l.find((d) => d.metadata.name === selector.name);
	return l.find((d) => d.spec.default) || l[0];
}

// Every panel asks for its datasource: one request per list serves a
// whole dashboard (20 panels were 40 requests).
const cache = new Map();
function cached(path) {
	const hit = cache.get(path);
	if (hit && Date.now() - hit.at < 10000)
		return hit.p;
	const p = optional(path, []);
	cache.set(path, { at: Date.now(), p });
	p.catch(() => cache.delete(path));
	return p;
}

async function globals() {
	const l = await cached('/api/v1/globaldatasources');
	const list = Array.isArray(l) ? [...l] : [];
	for (const b of builtin)
		if (!list.some((d) => d.metadata.name === b.metadata.name))
			list.push(b);
	return list;
}

async function locals(project) {
	const l = await cached(`/api/v1/projects/${enc(project)}/datasources`);
	return Array.isArray(l) ? [...l] : [];
}

export const datasourceApi = {
	buildProxyUrl({ project, dashboard, name }) {
		if (dashboard && project)
			return `/proxy/projects/${enc(project)}/dashboards/${enc(dashboard)}/datasources/${enc(name)}`;
		if (project)
			return `/proxy/projects/${enc(project)}/datasources/${enc(name)}`;
		return `/proxy/globaldatasources/${enc(name)}`;
	},
	getDatasource: async (project, selector) => pick(await locals(project), selector),
	getGlobalDatasource: async (selector) => pick(await globals(), selector),
	listDatasources: async (project, kind) => byKind(await locals(project), kind),
	listGlobalDatasources: async (kind) => byKind(await globals(), kind),
};
