// The forms of SPEC 9 and 10 that change things: a monitor (create and
// edit), alert rules (list, create, edit, delete for the rule types the
// API takes: threshold, slo_burn, monitor_down) and notification
// channels (list, create with a write-only secret, delete).  A refusal
// is shown as the server's `message` (a 400 names the field); what a
// role cannot do is not offered (the server still decides).
import React, { useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import {
	Alert, Box, Button, Chip, Dialog, DialogActions, DialogContent, DialogTitle, FormControlLabel, MenuItem,
	Switch, Table, TableBody, TableCell, TableHead, TableRow, TextField, Typography,
} from '@mui/material';
import { api, enc, projPath } from '../api';
import { ErrorBox, Loading, can, useMe } from '../App';

// "a, b ,c" <-> ["a","b","c"]
const splitList = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);
const joinList = (a) => (a || []).join(', ');
const ifMatch = (doc) => ({ 'If-Match': `"${doc.metadata.version}"` });

function Field({ k, label, f, set, ...rest }) {
	return (
		<TextField size="small" label={label} value={f[k] ?? ''} onChange={(e) => set({ ...f, [k]: e.target.value })}
		    inputProps={{ 'data-testid': `f-${k}` }} {...rest} />
	);
}

// --- monitors ------------------------------------------------------------

// Create (doc absent) or edit a monitor.  The form holds what people
// change; every other member of the stored spec is sent back as it was.
export function MonitorDialog({ project, doc, onClose, onSaved }) {
	const s = doc?.spec || {};
	const [f, set] = useState({
		name: doc?.metadata?.name || '', url: s.url || 'https://', method: s.method || 'GET',
		interval: s.interval || '60s', timeout: s.timeout || '10s',
		status: joinList(s.expect?.status || ['2xx']), bodyContains: s.expect?.bodyContains || '',
		maxLatency: s.expect?.maxLatency || '', failureThreshold: String(s.failureThreshold ?? 3),
		channels: joinList(s.channels), paused: !!s.paused,
	});
	const save = useMutation(() => {
		const expect = { ...(s.expect || {}), status: splitList(f.status), bodyContains: f.bodyContains };
		if (f.maxLatency)
			expect.maxLatency = f.maxLatency;
		else
			delete expect.maxLatency;
		const spec = {
			...s, url: f.url, method: f.method, interval: f.interval, timeout: f.timeout, expect,
			failureThreshold: Number(f.failureThreshold), channels: splitList(f.channels), paused: f.paused,
		};
		const body = { kind: 'Monitor', metadata: { name: f.name }, spec };
		if (doc)
			return api(`${projPath(project)}/monitors/${enc(doc.metadata.name)}`, { method: 'PUT', body, headers: ifMatch(doc) });
		return api(`${projPath(project)}/monitors`, { method: 'POST', body });
	}, { onSuccess: (d) => onSaved(d) });
	return (
		<Dialog open onClose={onClose} fullWidth maxWidth="sm" data-testid="monitor-dialog">
			<DialogTitle>{doc ? `Edit monitor ${doc.metadata.name}` : 'New monitor'}</DialogTitle>
			<DialogContent sx={{ display: 'flex', flexDirection: 'column', gap: 2, pt: '8px !important' }}>
				<Field k="name" label="Name" f={f} set={set} disabled={!!doc} helperText="letters, digits, . _ -" />
				<Box sx={{ display: 'flex', gap: 2 }}>
					<Field k="method" label="Method" f={f} set={set} select sx={{ width: 120 }}>
						{['GET', 'HEAD', 'POST', 'PUT'].map((m) => <MenuItem key={m} value={m}>{m}</MenuItem>)}
					</Field>
					<Field k="url" label="URL" f={f} set={set} sx={{ flexGrow: 1 }} />
				</Box>
				<Box sx={{ display: 'flex', gap: 2 }}>
					<Field k="interval" label="Interval" f={f} set={set} />
					<Field k="timeout" label="Timeout" f={f} set={set} />
					<Field k="failureThreshold" label="Failures before down" f={f} set={set} type="number" />
				</Box>
				<Box sx={{ display: 'flex', gap: 2 }}>
					<Field k="status" label="Expected status" f={f} set={set} helperText="e.g. 2xx, 301" />
					<Field k="bodyContains" label="Body contains" f={f} set={set} />
					<Field k="maxLatency" label="Max latency" f={f} set={set} helperText="e.g. 2s" />
				</Box>
				<Field k="channels" label="Channels" f={f} set={set} helperText="notification channel names, comma-separated" />
				<FormControlLabel control={<Switch checked={f.paused} onChange={(e) => set({ ...f, paused: e.target.checked })} />} label="Paused" />
				<ErrorBox error={save.error} />
			</DialogContent>
			<DialogActions>
				<Button onClick={onClose}>Cancel</Button>
				<Button variant="contained" onClick={() => save.mutate()} disabled={!f.name || save.isLoading} data-testid="monitor-save">Save</Button>
			</DialogActions>
		</Dialog>
	);
}

// "Check now": the result's error (blocked_address, timeout, status …)
// is what the checker recorded; shown as it came.
export function CheckNow({ project, name, onDone }) {
	const check = useMutation(() => api(`${projPath(project)}/monitors/${enc(name)}/check`, { method: 'POST' }),
	    { onSuccess: () => onDone && onDone() });
	const r = check.data;
	return (
		<Box sx={{ display: 'flex', gap: 2, alignItems: 'center' }}>
			<Button variant="outlined" onClick={() => check.mutate()} disabled={check.isLoading} data-testid="check-now">Check now</Button>
			{r && (
				<Alert severity={r.ok ? 'success' : 'error'} data-testid="check-result">
					{r.ok ? `up: HTTP ${r.statusCode ?? ''} in ${r.latencyMs ?? '?'} ms`
						: `down: ${r.error || 'failed'}${r.message ? ` — ${r.message}` : ''}${r.statusCode ? ` (HTTP ${r.statusCode})` : ''}`}
				</Alert>
			)}
			<ErrorBox error={check.error} />
		</Box>
	);
}

// --- alert rules ---------------------------------------------------------

const RULE_TYPES = ['threshold', 'slo_burn', 'monitor_down'];
const SEVERITIES = ['low', 'medium', 'high', 'critical'];

function ruleSummary(s) {
	if (s.type === 'threshold')
		return `${s.aggregate || 'avg'}(${s.metric}${s.windowKey ? `{${s.windowKey}}` : ''}) over ${s.window || '5m'} ${s.op} ${s.threshold} for ${s.for || '0s'}`;
	if (s.type === 'slo_burn')
		return `SLO ${s.slo} burning its budget`;
	if (s.type === 'monitor_down')
		return `monitor down: ${joinList(s.monitors)}`;
	return s.type;
}

function RuleDialog({ project, doc, onClose, onSaved }) {
	const s = doc?.spec || {};
	const [f, set] = useState({
		name: doc?.metadata?.name || '', type: s.type || 'threshold', severity: s.severity || 'high',
		enabled: s.enabled ?? true, channels: joinList(s.channels), description: s.description || '',
		metric: s.metric || '', windowKey: s.windowKey || '', window: s.window || '5m', aggregate: s.aggregate || 'avg',
		op: s.op || '>', threshold: s.threshold == null ? '' : String(s.threshold), for: s.for || '0s',
		slo: s.slo || '', monitors: joinList(s.monitors || ['*']),
	});
	const slos = useQuery(['slo-names', project], () => api(`${projPath(project)}/slos`).catch(() => []),
	    { enabled: f.type === 'slo_burn' });
	const save = useMutation(() => {
		const spec = { type: f.type, severity: f.severity, enabled: f.enabled, channels: splitList(f.channels) };
		if (f.description)
			spec.description = f.description;
		if (f.type === 'threshold') {
			Object.assign(spec, { metric: f.metric, window: f.window, aggregate: f.aggregate, op: f.op, for: f.for });
			// A number when it reads as one; else as typed, so the
			// server names spec.threshold.
			spec.threshold = f.threshold.trim() !== '' && !Number.isNaN(Number(f.threshold)) ? Number(f.threshold) : f.threshold;
			if (f.windowKey)
				spec.windowKey = f.windowKey;
		} else if (f.type === 'slo_burn') {
			spec.slo = f.slo;
		} else {
			spec.monitors = splitList(f.monitors);
		}
		const body = { kind: 'AlertRule', metadata: { name: f.name }, spec };
		if (doc)
			return api(`${projPath(project)}/alert-rules/${enc(doc.metadata.name)}`, { method: 'PUT', body, headers: ifMatch(doc) });
		return api(`${projPath(project)}/alert-rules`, { method: 'POST', body });
	}, { onSuccess: (d) => onSaved(d) });
	const sloList = Array.isArray(slos.data) ? slos.data : [];
	return (
		<Dialog open onClose={onClose} fullWidth maxWidth="sm" data-testid="rule-dialog">
			<DialogTitle>{doc ? `Edit alert rule ${doc.metadata.name}` : 'New alert rule'}</DialogTitle>
			<DialogContent sx={{ display: 'flex', flexDirection: 'column', gap: 2, pt: '8px !important' }}>
				<Box sx={{ display: 'flex', gap: 2 }}>
					<Field k="name" label="Name" f={f} set={set} disabled={!!doc} sx={{ flexGrow: 1 }} />
					<Field k="type" label="Type" f={f} set={set} select disabled={!!doc} sx={{ width: 170 }}
					    SelectProps={{ SelectDisplayProps: { 'data-testid': 'rule-type' } }}>
						{RULE_TYPES.map((t) => <MenuItem key={t} value={t} data-testid={`rule-type-${t}`}>{t}</MenuItem>)}
					</Field>
					<Field k="severity" label="Severity" f={f} set={set} select sx={{ width: 130 }}>
						{SEVERITIES.map((t) => <MenuItem key={t} value={t}>{t}</MenuItem>)}
					</Field>
				</Box>
				{f.type === 'threshold' && (
					<>
						<Box sx={{ display: 'flex', gap: 2 }}>
							<Field k="metric" label="Metric" f={f} set={set} sx={{ flexGrow: 1 }} />
							<Field k="windowKey" label="Window key" f={f} set={set} helperText="optional" />
						</Box>
						<Box sx={{ display: 'flex', gap: 2 }}>
							<Field k="aggregate" label="Aggregate" f={f} set={set} select sx={{ width: 110 }}>
								{['avg', 'sum', 'max', 'min', 'count'].map((t) => <MenuItem key={t} value={t}>{t}</MenuItem>)}
							</Field>
							<Field k="window" label="Window" f={f} set={set} sx={{ width: 90 }} />
							<Field k="op" label="Op" f={f} set={set} select sx={{ width: 80 }}>
								{['>', '>=', '<', '<='].map((t) => <MenuItem key={t} value={t}>{t}</MenuItem>)}
							</Field>
							<Field k="threshold" label="Threshold" f={f} set={set} sx={{ width: 110 }} />
							<Field k="for" label="For" f={f} set={set} sx={{ width: 80 }} />
						</Box>
					</>
				)}
				{f.type === 'slo_burn' && (
					<Field k="slo" label="SLO" f={f} set={set} helperText={sloList.length ? `e.g. ${sloList.slice(0, 3).map((x) => x.metadata?.name || x.name).join(', ')}` : 'the SLO\'s name'} />
				)}
				{f.type === 'monitor_down' && (
					<Field k="monitors" label="Monitors" f={f} set={set} helperText="monitor names, comma-separated, or *" />
				)}
				<Field k="channels" label="Channels" f={f} set={set} helperText="hub channel names, comma-separated" />
				<Field k="description" label="Description" f={f} set={set} />
				<FormControlLabel control={<Switch checked={f.enabled} onChange={(e) => set({ ...f, enabled: e.target.checked })} />} label="Enabled" />
				<ErrorBox error={save.error} />
			</DialogContent>
			<DialogActions>
				<Button onClick={onClose}>Cancel</Button>
				<Button variant="contained" onClick={() => save.mutate()} disabled={!f.name || save.isLoading} data-testid="rule-save">Save</Button>
			</DialogActions>
		</Dialog>
	);
}

export function AlertRules({ project }) {
	const me = useMe();
	const qc = useQueryClient();
	const [editing, setEditing] = useState(null);	// null, 'new' or a doc
	const rules = useQuery(['alert-rules', project], () => api(`${projPath(project)}/alert-rules`));
	const del = useMutation((name) => api(`${projPath(project)}/alert-rules/${enc(name)}`, { method: 'DELETE' }),
	    { onSuccess: () => qc.invalidateQueries(['alert-rules', project]) });
	const editor = can(me, project, 'editor');
	if (rules.isLoading)
		return <Loading />;
	return (
		<Box data-testid="alert-rules">
			<ErrorBox error={rules.error || del.error} />
			{editor && <Button variant="contained" sx={{ mb: 2 }} onClick={() => setEditing('new')} data-testid="new-rule">New alert rule</Button>}
			<Table size="small">
				<TableHead><TableRow><TableCell>Rule</TableCell><TableCell>Type</TableCell><TableCell>Condition</TableCell><TableCell>Severity</TableCell><TableCell>Channels</TableCell><TableCell>Enabled</TableCell><TableCell /></TableRow></TableHead>
				<TableBody>
					{(rules.data || []).length === 0 && <TableRow><TableCell colSpan={7}>No alert rules.</TableCell></TableRow>}
					{(rules.data || []).map((r) => (
						<TableRow key={r.metadata.name} data-testid={`rule-${r.metadata.name}`}>
							<TableCell>{r.metadata.name}</TableCell>
							<TableCell>{r.spec.type}</TableCell>
							<TableCell>{ruleSummary(r.spec)}</TableCell>
							<TableCell>{r.spec.severity}</TableCell>
							<TableCell>{joinList(r.spec.channels)}</TableCell>
							<TableCell>{r.spec.enabled ? 'yes' : <Chip size="small" label="disabled" />}</TableCell>
							<TableCell sx={{ whiteSpace: 'nowrap' }}>
								{editor && (
									<>
										<Button size="small" onClick={() => setEditing(r)} data-testid={`edit-rule-${r.metadata.name}`}>Edit</Button>
										<Button size="small" color="error" onClick={() => window.confirm(`Delete alert rule ${r.metadata.name}?`) && del.mutate(r.metadata.name)}
										    data-testid={`delete-rule-${r.metadata.name}`}>Delete</Button>
									</>
								)}
							</TableCell>
						</TableRow>
					))}
				</TableBody>
			</Table>
			{editing && (
				<RuleDialog project={project} doc={editing === 'new' ? null : editing} onClose={() => setEditing(null)}
				    onSaved={() => { setEditing(null); qc.invalidateQueries(['alert-rules', project]); }} />
			)}
		</Box>
	);
}

// --- notification channels ----------------------------------------------

function ChannelDialog({ project, onClose, onSaved }) {
	const [f, set] = useState({ name: '', type: 'webhook', url: 'https://', secret: '' });
	const save = useMutation(() => api(`${projPath(project)}/channels`, {
		method: 'POST',
		body: { kind: 'NotificationChannel', metadata: { name: f.name }, spec: { type: f.type, url: f.url, ...(f.secret ? { secret: f.secret } : {}) } },
	}), { onSuccess: (d) => onSaved(d) });
	return (
		<Dialog open onClose={onClose} fullWidth maxWidth="sm" data-testid="channel-dialog">
			<DialogTitle>New notification channel</DialogTitle>
			<DialogContent sx={{ display: 'flex', flexDirection: 'column', gap: 2, pt: '8px !important' }}>
				<Box sx={{ display: 'flex', gap: 2 }}>
					<Field k="name" label="Name" f={f} set={set} sx={{ flexGrow: 1 }} />
					<Field k="type" label="Type" f={f} set={set} select sx={{ width: 140 }}>
						{['webhook', 'slack'].map((t) => <MenuItem key={t} value={t}>{t}</MenuItem>)}
					</Field>
				</Box>
				<Field k="url" label="URL" f={f} set={set} />
				<Field k="secret" label="Secret" f={f} set={set} type="password" autoComplete="new-password"
				    helperText="write-only: stored, never shown again" />
				<ErrorBox error={save.error} />
			</DialogContent>
			<DialogActions>
				<Button onClick={onClose}>Cancel</Button>
				<Button variant="contained" onClick={() => save.mutate()} disabled={!f.name || save.isLoading} data-testid="channel-save">Create</Button>
			</DialogActions>
		</Dialog>
	);
}

export function Channels({ project }) {
	const me = useMe();
	const qc = useQueryClient();
	const [creating, setCreating] = useState(false);
	const list = useQuery(['channels', project], () => api(`${projPath(project)}/channels`));
	const del = useMutation((name) => api(`${projPath(project)}/channels/${enc(name)}`, { method: 'DELETE' }),
	    { onSuccess: () => qc.invalidateQueries(['channels', project]) });
	const admin = can(me, project, 'admin');
	if (list.isLoading)
		return <Loading />;
	return (
		<Box data-testid="channels">
			<ErrorBox error={list.error || del.error} />
			{admin && <Button variant="contained" sx={{ mb: 2 }} onClick={() => setCreating(true)} data-testid="new-channel">New channel</Button>}
			{!admin && <Typography color="text.secondary" sx={{ mb: 1 }}>Project admins manage channels.</Typography>}
			<Table size="small">
				<TableHead><TableRow><TableCell>Channel</TableCell><TableCell>Type</TableCell><TableCell>URL</TableCell><TableCell>Secret</TableCell><TableCell /></TableRow></TableHead>
				<TableBody>
					{(list.data || []).length === 0 && <TableRow><TableCell colSpan={5}>No channels.</TableCell></TableRow>}
					{(list.data || []).map((c) => (
						<TableRow key={c.metadata.name} data-testid={`channel-${c.metadata.name}`}>
							<TableCell>{c.metadata.name}</TableCell>
							<TableCell>{c.spec.type}</TableCell>
							<TableCell>{c.spec.url}</TableCell>
							<TableCell data-testid={`secret-${c.metadata.name}`}>{c.spec.secretSet ? 'set' : '—'}</TableCell>
							<TableCell>
								{admin && (
									<Button size="small" color="error" onClick={() => window.confirm(`Delete channel ${c.metadata.name}?`) && del.mutate(c.metadata.name)}
									    data-testid={`delete-channel-${c.metadata.name}`}>Delete</Button>
								)}
							</TableCell>
						</TableRow>
					))}
				</TableBody>
			</Table>
			{creating && (
				<ChannelDialog project={project} onClose={() => setCreating(false)}
				    onSaved={() => { setCreating(false); qc.invalidateQueries(['channels', project]); }} />
			)}
		</Box>
	);
}
