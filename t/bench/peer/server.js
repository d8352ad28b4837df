// t/bench/peer/server.js -- the yardstick of t/bench/slo.pl: the SLO
// seed's own stack (Fastify 5 + postgres.js) serving, from dashcgi's
// PostgreSQL and behind the same nginx (HTTP/1.1 upstream keep-alive):
//
//   GET /peer/api/series/:sliId?days=N[&project=P]
//       the seed's /api/series/{sliId}: [{"t","good","bad"},...], oldest
//       first, the same window as dashcgi's (slo_now(), days of steps);
//   GET /peer/dashboards/:project/:name
//       a stored dashboard's document, the bytes dashcgi's GET answers
//       (dashboard_doc(d)::text, or PEER_DASHBOARD_SQL), after the same
//       role check on the user nginx authenticated (X-Remote-User);
//   GET /peer/live  {"alive":true}
//
// Environment: PEER_SOCKET (unix socket to listen on) or PEER_PORT;
// PGHOST (a socket directory), PGPORT, PGDATABASE, PGUSER;
// PEER_PROCESSES (node:cluster workers, default the CPU count);
// PEER_POOL (postgres.js connections per process, 4);
// PEER_RESOLUTION (seconds, 300); PEER_DEFAULT_PROJECT (default).
// The seed checks no roles on its series routes, so neither does the
// series route here.
'use strict';
const cluster = require('node:cluster');
const os = require('node:os');
const fs = require('node:fs');

const procs = Number(process.env.PEER_PROCESSES || os.availableParallelism());

if (cluster.isPrimary && procs > 1) {
	if (process.env.PEER_SOCKET) fs.rmSync(process.env.PEER_SOCKET, { force: true });
	for (let i = 0; i < procs; i++) cluster.fork();
	cluster.on('exit', (w, code) => { console.error(`peer: worker exited ${code}`); process.exit(1); });
	for (const s of ['SIGTERM', 'SIGINT'])
		process.on(s, () => { for (const id in cluster.workers) cluster.workers[id].kill(); process.exit(0); });
} else {
	serve();
}

function serve() {
	const fastify = require('fastify')({ logger: false });
	const postgres = require('postgres');
	const sql = postgres({
		host: process.env.PGHOST, port: Number(process.env.PGPORT || 5432),
		database: process.env.PGDATABASE || 'dashcgi', username: process.env.PGUSER || 'postgres',
		max: Number(process.env.PEER_POOL || 4), prepare: true,
		connection: { application_name: 'bench-peer' },
	});
	const res = Number(process.env.PEER_RESOLUTION || 300);
	const defProject = process.env.PEER_DEFAULT_PROJECT || 'default';
	const docSql = process.env.PEER_DASHBOARD_SQL || 'dashboard_doc(d)::text';

	// The seed's response schema: fast-json-stringify writes the array.
	const point = { type: 'object', properties: { t: { type: 'string' },
	    good: { type: 'number' }, bad: { type: 'number' } } };

	fastify.get('/peer/live', async () => ({ alive: true }));

	fastify.get('/peer/api/series/:sliId', {
		schema: {
			querystring: { type: 'object', properties: {
			    days: { type: 'integer', minimum: 1, maximum: 400, default: 28 },
			    project: { type: 'string' } } },
			response: { 200: { type: 'array', items: point } },
		},
	}, async (req, reply) => {
		const project = req.query.project || defProject;
		const rows = await sql`
			SELECT to_char(p.t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS t,
			    p.good::float8 AS good, p.bad::float8 AS bad
			FROM sli i JOIN sli_point p ON p.sli = i.key,
			    (SELECT slo_now(${res}::int * interval '1 second') AS e) w
			WHERE i.project = ${project} AND i.id = ${req.params.sliId}
			    AND p.t >= w.e - ${res}::int * interval '1 second'
				- ${req.query.days}::int * interval '1 day'
			    AND p.t < w.e
			ORDER BY p.t`;
		if (rows.length === 0) {
			const [k] = await sql`SELECT 1 FROM sli WHERE project = ${project}
			    AND id = ${req.params.sliId}`;
			if (!k) return reply.code(404).send({ code: 'not_found',
			    message: `SLI "${req.params.sliId}" not found` });
		}
		return rows;
	});

	fastify.get('/peer/dashboards/:project/:name', async (req, reply) => {
		const user = req.headers['x-remote-user'] || '';
		const [r] = await sql.unsafe(
		    'SELECT EXISTS (SELECT 1 FROM project WHERE name = $1::text) AS p,' +
		    ' (SELECT role FROM project_member WHERE project = $1::text' +
		    ' AND user_name = $3::text) AS role, d.version, ' + docSql + ' AS doc' +
		    ' FROM (VALUES (1)) one (o) LEFT JOIN dashboard d' +
		    ' ON d.project = $1::text AND d.name = $2::text',
		    [req.params.project, req.params.name, user], { prepare: true });
		if (!r.p || r.role === null || r.doc === null)
			return reply.code(404).send({ code: 'not_found', message: 'not found' });
		return reply.header('ETag', `"${r.version}"`)
		    .type('application/json').send(r.doc);
	});

	if (process.env.PEER_SOCKET && !cluster.isWorker)
		fs.rmSync(process.env.PEER_SOCKET, { force: true });
	const listen = process.env.PEER_SOCKET ? { path: process.env.PEER_SOCKET }
	    : { port: Number(process.env.PEER_PORT || 3000), host: '127.0.0.1' };
	fastify.listen(listen).catch((e) => { console.error(e); process.exit(1); });
}
