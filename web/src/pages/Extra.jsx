// The seed systems' pages (SLOs, uptime, incidents) and the audit log.
// Their modules land separately: until a route answers, a page says so
// (an empty state), it never breaks.
import React, { useLayoutEffect, useRef, useState } from 'react';
import { Link as RouterLink, useNavigate, useParams } from 'react-router-dom';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import {
	Alert, Box, Button, Card, CardContent, Chip, Link, MenuItem, Table, TableBody, TableCell, TableHead,
	TableRow, TextField, Typography,
} from '@mui/material';
import { api, enc, optional, projPath } from '../api';
import { ErrorBox, Loading, Page, can, useMe } from '../App';
import { CheckNow, MonitorDialog } from './Forms';

const NOT_YET = Symbol('not yet');
const useOptional = (key, path, opts = {}) => useQuery(key, () => optional(path, NOT_YET), opts);

function NotYet({ what }) {
	return <Alert severity="info" data-testid="empty-state">{what} are not served by this dashcgi yet.</Alert>;
}

const colour = {
	healthy: 'success', up: 'success', resolved: 'success', closed: 'default',
	at_risk: 'warning', investigating: 'warning', pending: 'default', paused: 'default',
	critical: 'error', breached: 'error', down: 'error', open: 'error', no_data: 'default',
};
const StatusChip = ({ s }) => <Chip size="small" label={s || 'unknown'} color={colour[s] || 'default'} />;
const pct = (x) => (x == null ? '—' : `${(x * 100).toFixed(3)}%`);

function Back({ project }) {
	return <Button component={RouterLink} to={`/projects/${project}`}>{project}</Button>;
}

export function SlosPage() {
	const { project } = useParams();
	const tree = useOptional(['slo-tree', project], `${projPath(project)}/slo-tree`);
	if (tree.isLoading)
		return <Loading />;
	const exps = Array.isArray(tree.data) ? tree.data : tree.data?.experiences || [];
	return (
		<Page title="SLOs" actions={<Back project={project} />}>
			<ErrorBox error={tree.error} />
			{tree.data === NOT_YET && <NotYet what="SLOs" />}
			{tree.data !== NOT_YET && exps.length === 0 && <Alert severity="info" data-testid="empty-state">No SLOs in this project.</Alert>}
			{exps.map((e) => (
				<Card key={e.name} variant="outlined" sx={{ mb: 2 }} data-testid="experience">
					<CardContent>
						<Typography variant="h2" sx={{ fontSize: 18 }}>{e.name} <StatusChip s={e.status} /></Typography>
						{(e.journeys || []).map((j) => (
							<Box key={j.name} sx={{ ml: 2, mt: 1 }}>
								<Typography sx={{ fontWeight: 600 }}>{j.name} <StatusChip s={j.status} /></Typography>
								<Table size="small">
									<TableBody>
										{(j.slos || []).map((s) => (
											<TableRow key={s.name}>
												<TableCell><Link component={RouterLink} to={`/projects/${project}/slos/${s.name}`}>{s.display?.name || s.name}</Link></TableCell>
												<TableCell><StatusChip s={s.status} /></TableCell>
												<TableCell>target {pct(s.target)}</TableCell>
												<TableCell>budget left {pct(s.errorBudget?.remaining)}</TableCell>
											</TableRow>
										))}
									</TableBody>
								</Table>
							</Box>
						))}
					</CardContent>
				</Card>
			))}
		</Page>
	);
}

export function SloPage() {
	const { project, name } = useParams();
	const base = `${projPath(project)}/slos/${enc(name)}`;
	const slo = useOptional(['slo', project, name], base);
	const st = useOptional(['slo-status', project, name], `${base}/status`);
	if (slo.isLoading || st.isLoading)
		return <Loading />;
	if (slo.data === NOT_YET)
		return <Page title={name} actions={<Back project={project} />}><NotYet what="SLOs" /></Page>;
	const s = st.data && st.data !== NOT_YET ? st.data : {};
	return (
		<Page title={slo.data?.spec?.display?.name || name} actions={<Back project={project} />}>
			<ErrorBox error={slo.error || st.error} />
			<Box sx={{ display: 'flex', gap: 4, mb: 2 }} data-testid="slo-figures">
				<div>Status <StatusChip s={s.status} /></div>
				<div>SLI <b data-testid="slo-sli">{pct(s.sli)}</b></div>
				<div>Target <b>{pct(slo.data?.spec?.target)}</b> over {slo.data?.spec?.window}</div>
				<div>Budget remaining <b data-testid="slo-budget">{pct(s.errorBudget?.remaining)}</b></div>
			</Box>
			<Typography variant="h2" sx={{ fontSize: 18 }}>Burn rates</Typography>
			<Table size="small" sx={{ mb: 2 }}>
				<TableBody>
					<TableRow>{Object.entries(s.burnRates || {}).map(([w, v]) => <TableCell key={w}>{w}: {v == null ? '—' : Number(v).toFixed(2)}</TableCell>)}</TableRow>
				</TableBody>
			</Table>
			<Typography variant="h2" sx={{ fontSize: 18 }}>Alerts</Typography>
			<Table size="small">
				<TableHead><TableRow><TableCell>Severity</TableCell><TableCell>Windows</TableCell><TableCell>Factor</TableCell><TableCell>Firing</TableCell></TableRow></TableHead>
				<TableBody>
					{(s.alerts || []).map((a, i) => (
						<TableRow key={i}><TableCell>{a.severity}</TableCell><TableCell>{a.long}/{a.short}</TableCell><TableCell>{a.factor}</TableCell><TableCell>{a.firing ? <Chip size="small" color="error" label="firing" /> : 'no'}</TableCell></TableRow>
					))}
				</TableBody>
			</Table>
		</Page>
	);
}

const ms = (x) => (x == null ? '—' : `${Number(x).toFixed(0)} ms`);
const barColour = (u) => (u == null ? '#ccc' : u >= 0.999 ? '#2e7d32' : u >= 0.99 ? '#ed6c02' : '#d32f2f');

// 90 daily bars, oldest first; a day without checks is grey.  Plain
// elements with inline styles: the status page draws 90 per row, and
// a styled component each (a class generated per bar) costs more than
// the whole row.
const DailyBar = React.memo(({ daily }) => (
	<div style={{ display: 'flex', gap: 1, height: 18 }} data-testid="daily-bar">
		{(daily || []).map((d) => (
			<div key={d.date} title={`${d.date}: ${d.uptime == null ? 'no checks' : pct(d.uptime)}`}
			    style={{ width: 3, background: barColour(d.uptime) }} />
		))}
	</div>
));

// The status page's rows are all one height, so only those near the
// viewport are drawn (a spacer row above and below stands for the
// rest): a page of 1,000 monitors draws a screenful of rows, not
// 1,000 rows of 90 bars.  The window is the scroller.
const ROW_H = 41;
const OVERSCAN = 12;
function useWindowRows(count) {
	const ref = useRef(null);
	const [range, setRange] = useState([0, Math.min(count, 40)]);
	useLayoutEffect(() => {
		const update = () => {
			const el = ref.current;
			if (!el)
				return;
			const top = el.getBoundingClientRect().top;
			const first = Math.min(count, Math.max(0, Math.floor(-top / ROW_H) - OVERSCAN));
			const last = Math.min(count, Math.max(first, Math.ceil((window.innerHeight - top) / ROW_H) + OVERSCAN));
			setRange((r) => (r[0] === first && r[1] === last ? r : [first, last]));
		};
		update();
		window.addEventListener('scroll', update, { passive: true });
		window.addEventListener('resize', update);
		return () => {
			window.removeEventListener('scroll', update);
			window.removeEventListener('resize', update);
		};
	}, [count]);
	return [ref, range];
}

const cellSx = { py: 0, whiteSpace: 'nowrap' };
const StatusRow = React.memo(({ project, m, index }) => (
	<TableRow data-testid="monitor-row" aria-rowindex={index + 2} sx={{ height: ROW_H }}>
		<TableCell sx={cellSx}><Link component={RouterLink} to={`/projects/${project}/monitors/${m.name}`}>{m.name}</Link></TableCell>
		<TableCell sx={cellSx} data-testid={`state-${m.name}`}><StatusChip s={m.state} /></TableCell>
		<TableCell sx={cellSx}>{pct(m.uptime?.['24h'])}</TableCell>
		<TableCell sx={cellSx}>{pct(m.uptime?.['30d'])}</TableCell>
		<TableCell sx={cellSx}>{pct(m.uptime?.['90d'])}</TableCell>
		<TableCell sx={cellSx}>{ms(m.p95)}</TableCell>
		<TableCell sx={cellSx}><DailyBar daily={m.daily} /></TableCell>
	</TableRow>
));

function StatusTable({ project, list }) {
	const [ref, [first, last]] = useWindowRows(list.length);
	return (
		<Table size="small" data-testid="status-page" aria-rowcount={list.length + 1}>
			<TableHead><TableRow><TableCell>Monitor</TableCell><TableCell>State</TableCell><TableCell>24h</TableCell><TableCell>30d</TableCell><TableCell>90d</TableCell><TableCell>p95</TableCell><TableCell>90 days</TableCell></TableRow></TableHead>
			<TableBody ref={ref}>
				{list.length === 0 && <TableRow><TableCell colSpan={7}>No monitors.</TableCell></TableRow>}
				{first > 0 && <tr aria-hidden style={{ height: first * ROW_H }} />}
				{list.slice(first, last).map((m, i) => <StatusRow key={m.name} project={project} m={m} index={first + i} />)}
				{last < list.length && <tr aria-hidden style={{ height: (list.length - last) * ROW_H }} />}
			</TableBody>
		</Table>
	);
}

// Counts by state, from the answer's summary.
function Summary({ summary }) {
	if (!summary)
		return null;
	return (
		<Box sx={{ display: 'flex', gap: 2, mb: 1 }} data-testid="status-summary">
			{['up', 'down', 'pending', 'paused'].map((s) => <span key={s}><StatusChip s={s} /> {summary[s] ?? 0}</span>)}
		</Box>
	);
}

// The status page: one request (…/status carries every monitor's
// figures and 90 daily bars), asked again every 15 s so a monitor
// going down shows without a reload.
export function UptimePage() {
	const { project } = useParams();
	const me = useMe();
	const nav = useNavigate();
	const [creating, setCreating] = useState(false);
	const status = useOptional(['status', project], `${projPath(project)}/status`,
	    { refetchInterval: (d) => (d === NOT_YET ? false : 15000) });
	if (status.isLoading)
		return <Loading />;
	const list = Array.isArray(status.data) ? status.data : status.data?.monitors || [];
	const actions = (
		<>
			{can(me, project, 'editor') && status.data !== NOT_YET
				&& <Button variant="contained" onClick={() => setCreating(true)} data-testid="new-monitor">New monitor</Button>}
			<Back project={project} />
		</>
	);
	return (
		<Page title="Status" actions={actions}>
			{creating && <MonitorDialog project={project} onClose={() => setCreating(false)}
			    onSaved={(d) => nav(`/projects/${project}/monitors/${d.metadata.name}`)} />}
			<ErrorBox error={status.error} />
			{status.data === NOT_YET ? <NotYet what="Uptime monitors" /> : (
				<>
					<Summary summary={status.data?.summary} />
					<StatusTable project={project} list={list} />
				</>
			)}
		</Page>
	);
}

export function MonitorPage() {
	const { project, name } = useParams();
	const me = useMe();
	const qc = useQueryClient();
	const [editing, setEditing] = useState(false);
	const base = `${projPath(project)}/monitors/${enc(name)}`;
	const mon = useOptional(['monitor', project, name], base);
	const up = useOptional(['uptime', project, name], `${base}/uptime`);
	const res = useOptional(['results', project, name], `${base}/results?limit=50`);
	if (mon.isLoading)
		return <Loading />;
	if (mon.data === NOT_YET)
		return <Page title={name} actions={<Back project={project} />}><NotYet what="Uptime monitors" /></Page>;
	const u = up.data && up.data !== NOT_YET ? up.data : {};
	const editor = can(me, project, 'editor') && mon.data;
	const refresh = () => ['monitor', 'uptime', 'results'].forEach((k) => qc.invalidateQueries([k, project, name]));
	const actions = (
		<>
			{editor && <Button variant="outlined" onClick={() => setEditing(true)} data-testid="edit-monitor">Edit</Button>}
			<Button component={RouterLink} to={`/projects/${project}/uptime`}>Status page</Button>
			<Back project={project} />
		</>
	);
	return (
		<Page title={name} actions={actions}>
			<ErrorBox error={mon.error || up.error || res.error} />
			{editing && <MonitorDialog project={project} doc={mon.data} onClose={() => setEditing(false)}
			    onSaved={(d) => { setEditing(false); qc.setQueryData(['monitor', project, name], d); refresh(); }} />}
			<Box sx={{ display: 'flex', gap: 4, mb: 2, alignItems: 'center' }}>
				<div>State <StatusChip s={mon.data?.status?.state} /></div>
				{['24h', '7d', '30d', '90d'].map((w) => <div key={w}>{w} <b>{pct(u[w]?.uptime)}</b></div>)}
				<div>p95 <b>{ms(u['24h']?.latency?.p95)}</b></div>
				<Typography variant="body2" color="text.secondary" data-testid="monitor-url">{mon.data?.spec?.method} {mon.data?.spec?.url}</Typography>
			</Box>
			{editor && <Box sx={{ mb: 2 }}><CheckNow project={project} name={name} onDone={refresh} /></Box>}
			<DailyBar daily={u.daily} />
			<Table size="small" sx={{ mt: 2 }}>
				<TableHead><TableRow><TableCell>At</TableCell><TableCell>Result</TableCell><TableCell>Status</TableCell><TableCell>Latency</TableCell><TableCell>Error</TableCell></TableRow></TableHead>
				<TableBody>
					{(Array.isArray(res.data) ? res.data : []).map((r, i) => (
						<TableRow key={i}><TableCell>{r.at}</TableCell><TableCell>{r.ok ? 'up' : 'down'}</TableCell><TableCell>{r.statusCode}</TableCell><TableCell>{ms(r.latencyMs)}</TableCell><TableCell>{r.error}</TableCell></TableRow>
					))}
				</TableBody>
			</Table>
		</Page>
	);
}

export function IncidentsPage() {
	const { project } = useParams();
	const [status, setStatus] = useState('');
	const [severity, setSeverity] = useState('');
	const qs = new URLSearchParams();
	if (status) qs.set('status', status);
	if (severity) qs.set('severity', severity);
	const list = useOptional(['incidents', project, status, severity], `${projPath(project)}/incidents?${qs}`);
	return (
		<Page title="Incidents" actions={<Back project={project} />}>
			<Box sx={{ display: 'flex', gap: 2, mb: 2 }}>
				<TextField select size="small" label="Status" value={status} onChange={(e) => setStatus(e.target.value)} sx={{ minWidth: 150 }}>
					{['', 'open', 'investigating', 'resolved', 'closed'].map((s) => <MenuItem key={s} value={s}>{s || 'any'}</MenuItem>)}
				</TextField>
				<TextField select size="small" label="Severity" value={severity} onChange={(e) => setSeverity(e.target.value)} sx={{ minWidth: 150 }}>
					{['', 'low', 'medium', 'high', 'critical'].map((s) => <MenuItem key={s} value={s}>{s || 'any'}</MenuItem>)}
				</TextField>
			</Box>
			<ErrorBox error={list.error} />
			{list.isLoading ? <Loading /> : list.data === NOT_YET ? <NotYet what="Incidents" /> : (
				<Table size="small" data-testid="incidents">
					<TableHead><TableRow><TableCell>Title</TableCell><TableCell>Severity</TableCell><TableCell>Status</TableCell><TableCell>Count</TableCell><TableCell>Last seen</TableCell></TableRow></TableHead>
					<TableBody>
						{(list.data || []).length === 0 && <TableRow><TableCell colSpan={5}>No incidents.</TableCell></TableRow>}
						{(list.data || []).map((i) => (
							<TableRow key={i.id}>
								<TableCell><Link component={RouterLink} to={`/projects/${project}/incidents/${i.id}`}>{i.title}</Link></TableCell>
								<TableCell>{i.severity}</TableCell><TableCell><StatusChip s={i.status} /></TableCell>
								<TableCell>{i.count}</TableCell><TableCell>{i.lastSeen}</TableCell>
							</TableRow>
						))}
					</TableBody>
				</Table>
			)}
		</Page>
	);
}

const NEXT = { open: ['investigating', 'resolved'], investigating: ['resolved'], resolved: ['closed', 'open'], closed: [] };

export function IncidentPage() {
	const { project, id } = useParams();
	const me = useMe();
	const qc = useQueryClient();
	const [note, setNote] = useState('');
	const path = `${projPath(project)}/incidents/${enc(id)}`;
	const inc = useOptional(['incident', project, id], path);
	const move = useMutation((to) => api(`${path}/status`, {
		method: 'PUT', body: { status: to, note }, headers: { 'If-Match': `"${inc.data.version}"` },
	}), { onSuccess: () => { setNote(''); qc.invalidateQueries(['incident', project, id]); } });
	if (inc.isLoading)
		return <Loading />;
	if (inc.data === NOT_YET)
		return <Page title="Incident" actions={<Back project={project} />}><NotYet what="Incidents" /></Page>;
	const i = inc.data || {};
	return (
		<Page title={i.title || id} actions={<Back project={project} />}>
			<ErrorBox error={inc.error || move.error} />
			<Box sx={{ display: 'flex', gap: 3, mb: 2, alignItems: 'center' }}>
				<StatusChip s={i.status} /><span>{i.severity}</span><span>seen {i.count}×</span><span>since {i.firstSeen}</span>
			</Box>
			{can(me, project, 'editor') && (NEXT[i.status] || []).length > 0 && (
				<Box sx={{ display: 'flex', gap: 1, mb: 2 }}>
					<TextField size="small" label="Note" value={note} onChange={(e) => setNote(e.target.value)} inputProps={{ 'data-testid': 'note' }} />
					{NEXT[i.status].map((s) => <Button key={s} variant="outlined" onClick={() => move.mutate(s)} data-testid={`to-${s}`}>{s}</Button>)}
				</Box>
			)}
			<Typography variant="h2" sx={{ fontSize: 18 }}>Timeline</Typography>
			<Table size="small">
				<TableBody>
					{(i.timeline || []).map((t, k) => (
						<TableRow key={k}><TableCell>{t.at}</TableCell><TableCell>{t.actor || t.by}</TableCell><TableCell>{t.from} → {t.to}</TableCell><TableCell>{t.note}</TableCell></TableRow>
					))}
				</TableBody>
			</Table>
		</Page>
	);
}

export function AuditPage() {
	const me = useMe();
	const [f, setF] = useState({ project: '', actor: '', action: '', result: '' });
	const qs = new URLSearchParams({ limit: '200' });
	for (const [k, v] of Object.entries(f))
		if (v) qs.set(k, v);
	const rows = useQuery(['audit', qs.toString()], () => api(`/api/v1/audit?${qs}`), { keepPreviousData: true });
	const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
	return (
		<Page title="Audit log">
			{!me?.admin && <Alert severity="info" sx={{ mb: 2 }}>You see the projects you administer.</Alert>}
			<Box sx={{ display: 'flex', gap: 2, mb: 2 }}>
				<TextField size="small" label="Project" value={f.project} onChange={set('project')} />
				<TextField size="small" label="Actor" value={f.actor} onChange={set('actor')} />
				<TextField size="small" label="Action" value={f.action} onChange={set('action')} />
				<TextField select size="small" label="Result" value={f.result} onChange={set('result')} sx={{ minWidth: 130 }}>
					{['', 'success', 'denied', 'failure'].map((s) => <MenuItem key={s} value={s}>{s || 'any'}</MenuItem>)}
				</TextField>
			</Box>
			<ErrorBox error={rows.error} />
			<Table size="small" data-testid="audit">
				<TableHead><TableRow><TableCell>At</TableCell><TableCell>Actor</TableCell><TableCell>Action</TableCell><TableCell>Project</TableCell><TableCell>Resource</TableCell><TableCell>Result</TableCell><TableCell>Client</TableCell></TableRow></TableHead>
				<TableBody>
					{(rows.data || []).map((r) => (
						<TableRow key={r.id}><TableCell>{r.at}</TableCell><TableCell>{r.actor}</TableCell><TableCell>{r.action}</TableCell><TableCell>{r.project}</TableCell><TableCell>{r.resource}</TableCell><TableCell>{r.result}</TableCell><TableCell>{r.client_ip || r.clientIp}</TableCell></TableRow>
					))}
				</TableBody>
			</Table>
		</Page>
	);
}
