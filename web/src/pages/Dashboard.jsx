// A dashboard: the Perses dashboard view (time range, variables,
// refresh, panels through the plugin registry), edit and save with the
// conflict dialog, state, share links, delete.
import React, { useEffect, useRef, useState } from 'react';
import { Link as RouterLink, useNavigate, useParams, useSearchParams } from 'react-router-dom';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import {
	Alert, Box, Button, Checkbox, Dialog, DialogActions, DialogContent, DialogTitle, FormControlLabel,
	MenuItem, Table, TableBody, TableCell, TableHead, TableRow, TextField, Typography,
} from '@mui/material';
import { ViewDashboard } from '@perses-dev/dashboards';
import { PersesRoot, hideEdit } from '../perses';
import { api, dashPath, enc } from '../api';
import { datasourceApi } from '../datasources';
import { firstUseOfPrefetched } from '../prefetch';
import { ErrorBox, Loading, can, useMe } from '../App';
import { SideBySide } from './History';

const ifMatch = (v) => ({ 'If-Match': `"${v}"` });

// Remember the dashboard among the caller's 20 most recent.
function useRecent(project, name) {
	useEffect(() => {
		let gone = false;
		(async () => {
			const p = await api('/api/v1/me/preferences');
			if (gone)
				return;
			const rest = (p.recent || []).filter((x) => !(x.project === project && x.name === name));
			if (p.recent?.[0]?.project === project && p.recent?.[0]?.name === name)
				return;
			p.recent = [{ project, name }, ...rest].slice(0, 20);
			await api('/api/v1/me/preferences', { method: 'PUT', body: p });
		})().catch(() => {});
		return () => { gone = true; };
	}, [project, name]);
}

function ConflictDialog({ conflict, onReload, onOverwrite, onClose }) {
	const [diff, setDiff] = useState(null);
	// Who and when: the 409's changedBy/changedAt, else the newest
	// version in the history (a server without those fields).
	const hist = useQuery(['versions', conflict.project, conflict.name, conflict.currentVersion],
	    () => api(`${dashPath(conflict.project, conflict.name)}/versions`), { enabled: !conflict.changedBy });
	const who = conflict.changedBy || hist.data?.[0]?.updatedBy || '…';
	const when = conflict.changedAt || hist.data?.[0]?.updatedAt || '…';
	const showDiff = async () => {
		const cur = await api(dashPath(conflict.project, conflict.name));
		setDiff(cur);
	};
	return (
		<Dialog open onClose={onClose} maxWidth={diff ? 'xl' : 'sm'} fullWidth data-testid="conflict-dialog">
			<DialogTitle>This dashboard changed while you were editing it</DialogTitle>
			<DialogContent>
				<Typography data-testid="conflict-text">
					<b>{who}</b> saved version {conflict.currentVersion} at {when}.
					{' '}Your changes are based on version {conflict.pending.metadata.version}.
				</Typography>
				{diff && (
					<SideBySide left={diff.spec} right={conflict.pending.spec}
					    leftTitle={`saved: version ${diff.metadata.version} by ${who}`} rightTitle="yours" />
				)}
			</DialogContent>
			<DialogActions>
				<Button onClick={onReload} data-testid="conflict-reload">Reload (drop my changes)</Button>
				<Button onClick={showDiff} data-testid="conflict-diff">View diff</Button>
				<Button color="warning" variant="contained" onClick={onOverwrite} data-testid="conflict-overwrite">Overwrite</Button>
			</DialogActions>
		</Dialog>
	);
}

function ShareDialog({ project, name, version, onClose }) {
	const qc = useQueryClient();
	const [expiresIn, setExpiresIn] = useState('24h');
	const [cidrs, setCidrs] = useState('');
	const [maxUses, setMaxUses] = useState('');
	const [pin, setPin] = useState(false);
	const [note, setNote] = useState('');
	const [created, setCreated] = useState(null);
	const [copied, setCopied] = useState(false);
	const key = ['shares', project, name];
	const list = useQuery(key, () => api(`${dashPath(project, name)}/shares`));
	const create = useMutation(() => api(`${dashPath(project, name)}/shares`, {
		method: 'POST',
		body: {
			expiresIn,
			allowedCidrs: cidrs.split(/[\s,]+/).filter(Boolean),
			pinVersion: pin,
			maxUses: maxUses ? Number(maxUses) : null,
			note,
		},
	}), { onSuccess: (d) => { setCreated(d); qc.invalidateQueries(key); } });
	const revoke = useMutation((id) => api(`${dashPath(project, name)}/shares/${enc(id)}`, { method: 'DELETE' }),
	    { onSuccess: () => qc.invalidateQueries(key) });
	const link = created ? `${window.location.origin}${created.url || `/shared/${created.token}`}` : '';
	const copy = async () => {
		try {
			await navigator.clipboard.writeText(link);
		} catch {
			document.getElementById('share-link')?.select();
			document.execCommand('copy');
		}
		setCopied(true);
	};
	return (
		<Dialog open onClose={onClose} maxWidth="md" fullWidth data-testid="share-dialog">
			<DialogTitle>Share links</DialogTitle>
			<DialogContent>
				<Box sx={{ display: 'flex', gap: 2, flexWrap: 'wrap', pt: 1 }}>
					<TextField select size="small" label="Expires in" value={expiresIn} onChange={(e) => setExpiresIn(e.target.value)}>
						{['1h', '24h', '168h', '720h'].map((x) => <MenuItem key={x} value={x}>{x}</MenuItem>)}
					</TextField>
					<TextField size="small" label="Allowed CIDRs" placeholder="10.0.0.0/8, 2001:db8::/32" value={cidrs} onChange={(e) => setCidrs(e.target.value)} />
					<TextField size="small" label="Max uses" type="number" value={maxUses} onChange={(e) => setMaxUses(e.target.value)} sx={{ width: 110 }} />
					<TextField size="small" label="Note" value={note} onChange={(e) => setNote(e.target.value)} />
					<FormControlLabel control={<Checkbox checked={pin} onChange={(e) => setPin(e.target.checked)} />} label={`Pin version ${version}`} />
					<Button variant="contained" onClick={() => create.mutate()} data-testid="share-create">Create link</Button>
				</Box>
				<ErrorBox error={create.error || revoke.error || list.error} />
				{created && (
					<Alert severity="success" sx={{ mt: 2 }}>
						This link is shown once:
						<TextField id="share-link" fullWidth size="small" value={link} inputProps={{ readOnly: true, 'data-testid': 'share-link' }} sx={{ my: 1 }} />
						<Button size="small" onClick={copy} data-testid="share-copy">{copied ? 'Copied' : 'Copy'}</Button>
					</Alert>
				)}
				<Table size="small" sx={{ mt: 2 }} data-testid="share-list">
					<TableHead>
						<TableRow><TableCell>Created</TableCell><TableCell>By</TableCell><TableCell>Expires</TableCell><TableCell>CIDRs</TableCell><TableCell>Uses</TableCell><TableCell>Status</TableCell><TableCell /></TableRow>
					</TableHead>
					<TableBody>
						{(list.data || []).map((s) => (
							<TableRow key={s.id}>
								<TableCell>{s.createdAt}</TableCell><TableCell>{s.createdBy}</TableCell>
								<TableCell>{s.expiresAt}</TableCell><TableCell>{(s.allowedCidrs || []).join(', ') || 'any'}</TableCell>
								<TableCell>{s.useCount}</TableCell><TableCell data-testid="share-status">{s.status}</TableCell>
								<TableCell>{s.status === 'active' && <Button size="small" color="error" onClick={() => revoke.mutate(s.id)} data-testid="share-revoke">Revoke</Button>}</TableCell>
							</TableRow>
						))}
					</TableBody>
				</Table>
			</DialogContent>
			<DialogActions><Button onClick={onClose}>Close</Button></DialogActions>
		</Dialog>
	);
}

export function DashboardPage() {
	return <PersesRoot><DashboardPageInner /></PersesRoot>;
}

function DashboardPageInner() {
	const { project, dashboard } = useParams();
	const [search] = useSearchParams();
	const pastVersion = search.get('version');
	const me = useMe();
	const nav = useNavigate();
	const qc = useQueryClient();
	const [generation, setGeneration] = useState(0);
	const [conflict, setConflict] = useState(null);
	const [sharing, setSharing] = useState(false);
	// The version this tab's edits are based on: the one loaded, then
	// each one this tab saved.
	const base = useRef(null);
	const path = dashPath(project, dashboard);
	const q = useQuery(['dashboard', project, dashboard, pastVersion, generation],
	    () => api(pastVersion ? `${path}?version=${enc(pastVersion)}` : path),
	    // Fresh on every visit, but not asked twice when the page opens
	    // on the document index.jsx has just prefetched.
	    { staleTime: 0, refetchOnMount: (qr) => !firstUseOfPrefetched(qr.queryKey) });
	const state = useQuery(['state', project, dashboard, generation], () => api(`${path}/state`), { enabled: !pastVersion });
	useRecent(project, dashboard);
	if (q.data && base.current === null)
		base.current = q.data.metadata.version;

	const reload = () => { base.current = null; setConflict(null); setGeneration((g) => g + 1); };
	const put = async (doc, headers = {}) => {
		const saved = await api(path, { method: 'PUT', body: doc, headers });
		base.current = saved.metadata.version;
		qc.invalidateQueries(['dashboards', project]);
		return saved;
	};
	const onSave = async (d) => {
		const doc = { ...d, metadata: { ...d.metadata, version: base.current } };
		try {
			return await put(doc);
		} catch (e) {
			// The dialog takes it from here (reload, diff, overwrite); the
			// pending document lives in it.
			if (e.status === 409 && e.code === 'version_conflict') {
				setConflict({ ...e.body, project, name: dashboard, pending: doc });
				return undefined;
			}
			throw e;
		}
	};
	const overwrite = async () => {
		const c = conflict;
		try {
			await put({ ...c.pending, metadata: { ...c.pending.metadata, version: c.currentVersion } }, ifMatch(c.currentVersion));
			reload();
		} catch (e) {
			setConflict(null);
			alert(e.message);
		}
	};
	const setStateTo = useMutation((s) => api(`${path}/state`, { method: 'PUT', body: { state: s }, headers: ifMatch(base.current) }),
	    { onSuccess: () => reload() });
	const del = useMutation(() => api(path, { method: 'DELETE', headers: ifMatch(base.current) }),
	    { onSuccess: () => { qc.invalidateQueries(['dashboards', project]); nav(`/projects/${project}`); } });

	if (q.isLoading)
		return <Loading />;
	if (q.error)
		return <ErrorBox error={q.error} />;
	const editor = can(me, project, 'editor');
	const current = state.data?.state;
	const next = { draft: ['active', 'archived'], active: ['archived'], archived: ['active'] }[current] || [];
	return (
		<Box sx={{ display: 'flex', flexDirection: 'column', flexGrow: 1 }}>
			<Box sx={{ display: 'flex', alignItems: 'center', gap: 1, px: 2, pt: 1 }}>
				<Button size="small" component={RouterLink} to={`/projects/${project}`}>{project}</Button>
				<Typography variant="body2" color="text.secondary">
					version {q.data.metadata.version}{current ? ` · ${current}` : ''}
				</Typography>
				<Box sx={{ flexGrow: 1 }} />
				<Button size="small" component={RouterLink} to={`/projects/${project}/dashboards/${dashboard}/history`} data-testid="history">History</Button>
				{editor && !pastVersion && next.map((s) => (
					<Button size="small" key={s} onClick={() => setStateTo.mutate(s)} data-testid={`state-${s}`}>Make {s}</Button>
				))}
				{editor && <Button size="small" onClick={() => setSharing(true)} data-testid="share">Share</Button>}
				{editor && !pastVersion && <Button size="small" color="error" onClick={() => { if (window.confirm(`Move ${dashboard} to the trash?`)) del.mutate(); }} data-testid="delete">Delete</Button>}
			</Box>
			{pastVersion && <Alert severity="info" sx={{ mx: 2 }}>A past version ({pastVersion}), read-only.</Alert>}
			<ErrorBox error={setStateTo.error || del.error} />
			<Box sx={{ flexGrow: 1, display: 'flex', ...(!editor || pastVersion ? hideEdit : {}) }} data-testid="dashboard">
				<ViewDashboard
					key={`${generation}-${pastVersion}`}
					dashboardResource={q.data}
					datasourceApi={datasourceApi}
					isReadonly={!editor || !!pastVersion}
					isEditing={false}
					isVariableEnabled
					isDatasourceEnabled={false}
					isLeavingConfirmDialogEnabled={false}
					onSave={onSave}
				/>
			</Box>
			{conflict && <ConflictDialog conflict={conflict} onReload={reload} onOverwrite={overwrite} onClose={() => setConflict(null)} />}
			{sharing && <ShareDialog project={project} name={dashboard} version={q.data.metadata.version} onClose={() => setSharing(false)} />}
		</Box>
	);
}
