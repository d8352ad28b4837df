// A project: its dashboards (search `q`, tag, state; favorites; create
// blank or from a template), its trash, its members and roles.
import React, { useState } from 'react';
import { Link as RouterLink, useNavigate, useParams, useSearchParams } from 'react-router-dom';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import {
	Box, Button, Chip, Dialog, DialogActions, DialogContent, DialogTitle, IconButton, Link, MenuItem,
	Tab, Table, TableBody, TableCell, TableHead, TableRow, Tabs, TextField, Typography,
} from '@mui/material';
import { api, dashPath, enc, projPath } from '../api';
import { ErrorBox, Loading, Page, can, useMe } from '../App';
import { AlertRules, Channels } from './Forms';

function useFavorites() {
	const qc = useQueryClient();
	const prefs = useQuery(['prefs'], () => api('/api/v1/me/preferences'));
	const toggle = useMutation(async ({ project, name }) => {
		const p = await api('/api/v1/me/preferences');
		const fav = p.favorites || [];
		const has = fav.some((f) => f.project === project && f.name === name);
		p.favorites = has ? fav.filter((f) => !(f.project === project && f.name === name)) : [...fav, { project, name }];
		return api('/api/v1/me/preferences', { method: 'PUT', body: p });
	}, { onSuccess: (d) => qc.setQueryData(['prefs'], d) });
	const isFav = (project, name) => (prefs.data?.favorites || []).some((f) => f.project === project && f.name === name);
	return { isFav, toggle };
}

function CreateDialog({ project, open, onClose }) {
	const nav = useNavigate();
	const [name, setName] = useState('');
	const [title, setTitle] = useState('');
	const [template, setTemplate] = useState('');
	const templates = useQuery(['templates'], () => api('/api/v1/templates'), { enabled: open });
	const create = useMutation(() => {
		if (template)
			return api(`${projPath(project)}/dashboards/from-template`, {
				method: 'POST', body: { template, name, display: { name: title || name } },
			});
		return api(`${projPath(project)}/dashboards`, {
			method: 'POST',
			body: {
				kind: 'Dashboard',
				metadata: { name, project },
				spec: { display: { name: title || name }, duration: '1h', variables: [], panels: {}, layouts: [] },
			},
		});
	}, { onSuccess: (d) => nav(`/projects/${project}/dashboards/${d.metadata.name}`) });
	return (
		<Dialog open={open} onClose={onClose} fullWidth>
			<DialogTitle>New dashboard</DialogTitle>
			<DialogContent sx={{ display: 'flex', flexDirection: 'column', gap: 2, pt: '8px !important' }}>
				<TextField label="Name" value={name} onChange={(e) => setName(e.target.value)} inputProps={{ 'data-testid': 'new-name' }} helperText="letters, digits, . _ -" />
				<TextField label="Display name" value={title} onChange={(e) => setTitle(e.target.value)} />
				<TextField select label="Template" value={template} onChange={(e) => setTemplate(e.target.value)} inputProps={{ 'data-testid': 'new-template' }}>
					<MenuItem value="">Blank dashboard</MenuItem>
					{(templates.data || []).map((t) => (
						<MenuItem key={t.id} value={t.id} data-testid={`template-${t.id}`}>{t.name} — {t.description}</MenuItem>
					))}
				</TextField>
				<ErrorBox error={create.error} />
			</DialogContent>
			<DialogActions>
				<Button onClick={onClose}>Cancel</Button>
				<Button variant="contained" onClick={() => create.mutate()} disabled={!name || create.isLoading} data-testid="create">Create</Button>
			</DialogActions>
		</Dialog>
	);
}

function Dashboards({ project }) {
	const me = useMe();
	const [q, setQ] = useState('');
	const [tag, setTag] = useState('');
	const [state, setState] = useState('');
	const [creating, setCreating] = useState(false);
	const { isFav, toggle } = useFavorites();
	const params = new URLSearchParams({ metadata_only: 'true' });
	if (q) params.set('q', q);
	if (tag) params.set('tag', tag);
	if (state) params.set('state', state);
	const list = useQuery(['dashboards', project, q, tag, state],
	    () => api(`${projPath(project)}/dashboards?${params}`), { keepPreviousData: true });
	return (
		<Box>
			<Box sx={{ display: 'flex', gap: 2, mb: 2, alignItems: 'center' }}>
				<TextField size="small" label="Search" value={q} onChange={(e) => setQ(e.target.value)} inputProps={{ 'data-testid': 'search' }} />
				<TextField size="small" label="Tag" value={tag} onChange={(e) => setTag(e.target.value)} />
				<TextField size="small" select label="State" value={state} onChange={(e) => setState(e.target.value)} sx={{ minWidth: 140 }}>
					<MenuItem value="">draft + active</MenuItem>
					<MenuItem value="draft">draft</MenuItem>
					<MenuItem value="active">active</MenuItem>
					<MenuItem value="archived">archived</MenuItem>
					<MenuItem value="all">all</MenuItem>
				</TextField>
				<Box sx={{ flexGrow: 1 }} />
				{can(me, project, 'editor') && (
					<Button variant="contained" onClick={() => setCreating(true)} data-testid="new-dashboard">New dashboard</Button>
				)}
			</Box>
			<ErrorBox error={list.error} />
			{list.isLoading ? <Loading /> : (
				<Table size="small" data-testid="dashboard-list">
					<TableHead>
						<TableRow>
							<TableCell padding="checkbox" />
							<TableCell>Dashboard</TableCell>
							<TableCell>Tags</TableCell>
							<TableCell>Version</TableCell>
							<TableCell>Updated</TableCell>
						</TableRow>
					</TableHead>
					<TableBody>
						{(list.data || []).length === 0 && (
							<TableRow><TableCell colSpan={5}><Typography color="text.secondary">No dashboards.</Typography></TableCell></TableRow>
						)}
						{(list.data || []).map((d) => (
							<TableRow key={d.metadata.name} hover>
								<TableCell padding="checkbox">
									<IconButton size="small" title="Favorite" data-testid={`fav-${d.metadata.name}`}
									    onClick={() => toggle.mutate({ project, name: d.metadata.name })}>
										{isFav(project, d.metadata.name) ? '★' : '☆'}
									</IconButton>
								</TableCell>
								<TableCell>
									<Link component={RouterLink} to={`/projects/${project}/dashboards/${d.metadata.name}`}>
										{d.spec?.display?.name || d.metadata.name}
									</Link>
								</TableCell>
								<TableCell>{(d.metadata.tags || []).map((t) => <Chip key={t} label={t} size="small" sx={{ mr: 0.5 }} onClick={() => setTag(t)} />)}</TableCell>
								<TableCell>{d.metadata.version}</TableCell>
								<TableCell>{d.metadata.updatedAt}</TableCell>
							</TableRow>
						))}
					</TableBody>
				</Table>
			)}
			{creating && <CreateDialog project={project} open onClose={() => setCreating(false)} />}
		</Box>
	);
}

function Trash({ project }) {
	const me = useMe();
	const qc = useQueryClient();
	const trash = useQuery(['trash', project], () => api(`${projPath(project)}/trash`));
	const restore = useMutation((name) => api(`${projPath(project)}/trash/${enc(name)}/restore`, { method: 'POST' }),
	    { onSuccess: () => qc.invalidateQueries(['trash', project]) });
	return (
		<Box data-testid="trash">
			<ErrorBox error={trash.error || restore.error} />
			<Table size="small">
				<TableHead><TableRow><TableCell>Name</TableCell><TableCell>Version</TableCell><TableCell>Deleted</TableCell><TableCell>By</TableCell><TableCell /></TableRow></TableHead>
				<TableBody>
					{(trash.data || []).length === 0 && <TableRow><TableCell colSpan={5}>The trash is empty.</TableCell></TableRow>}
					{(trash.data || []).map((t) => (
						<TableRow key={`${t.name}-${t.deletedAt}`}>
							<TableCell>{t.name}</TableCell><TableCell>{t.version}</TableCell>
							<TableCell>{t.deletedAt}</TableCell><TableCell>{t.deletedBy}</TableCell>
							<TableCell>{can(me, project, 'editor') && <Button size="small" onClick={() => restore.mutate(t.name)} data-testid={`restore-${t.name}`}>Restore</Button>}</TableCell>
						</TableRow>
					))}
				</TableBody>
			</Table>
		</Box>
	);
}

function Members({ project }) {
	const me = useMe();
	const qc = useQueryClient();
	const [user, setUser] = useState('');
	const [role, setRole] = useState('viewer');
	const members = useQuery(['members', project], () => api(`${projPath(project)}/members`));
	const put = useMutation(({ u, r }) => api(`${projPath(project)}/members/${enc(u)}`, { method: 'PUT', body: { role: r } }),
	    { onSuccess: () => qc.invalidateQueries(['members', project]) });
	const del = useMutation((u) => api(`${projPath(project)}/members/${enc(u)}`, { method: 'DELETE' }),
	    { onSuccess: () => qc.invalidateQueries(['members', project]) });
	const admin = can(me, project, 'admin');
	return (
		<Box data-testid="members">
			<ErrorBox error={members.error || put.error || del.error} />
			<Table size="small">
				<TableHead><TableRow><TableCell>User</TableCell><TableCell>Role</TableCell><TableCell /></TableRow></TableHead>
				<TableBody>
					{(members.data || []).map((m) => (
						<TableRow key={m.user}>
							<TableCell>{m.user}</TableCell>
							<TableCell>
								{admin ? (
									<TextField select size="small" value={m.role} onChange={(e) => put.mutate({ u: m.user, r: e.target.value })}>
										{['viewer', 'editor', 'admin'].map((r) => <MenuItem key={r} value={r}>{r}</MenuItem>)}
									</TextField>
								) : m.role}
							</TableCell>
							<TableCell>{admin && <Button size="small" color="error" onClick={() => del.mutate(m.user)}>Remove</Button>}</TableCell>
						</TableRow>
					))}
				</TableBody>
			</Table>
			{admin && (
				<Box sx={{ display: 'flex', gap: 2, mt: 2 }}>
					<TextField size="small" label="User" value={user} onChange={(e) => setUser(e.target.value)} />
					<TextField select size="small" value={role} onChange={(e) => setRole(e.target.value)}>
						{['viewer', 'editor', 'admin'].map((r) => <MenuItem key={r} value={r}>{r}</MenuItem>)}
					</TextField>
					<Button variant="outlined" disabled={!user} onClick={() => put.mutate({ u: user, r: role })}>Add member</Button>
				</Box>
			)}
		</Box>
	);
}

export function ProjectPage({ tab: initial }) {
	const { project } = useParams();
	const [params] = useSearchParams();
	const [tab, setTab] = useState(params.get('tab') || initial || 'dashboards');
	// The project and its list load side by side, not one after the other.
	const proj = useQuery(['project', project], () => api(projPath(project)));
	if (proj.error)
		return <ErrorBox error={proj.error} />;
	return (
		<Page
			title={proj.data?.spec?.display?.name || project}
			actions={(
				<>
					<Button component={RouterLink} to={`/projects/${project}/slos`}>SLOs</Button>
					<Button component={RouterLink} to={`/projects/${project}/uptime`}>Uptime</Button>
					<Button component={RouterLink} to={`/projects/${project}/incidents`}>Incidents</Button>
				</>
			)}
		>
			<Tabs value={tab} onChange={(e, v) => setTab(v)} sx={{ mb: 2 }}>
				<Tab value="dashboards" label="Dashboards" />
				<Tab value="trash" label="Trash" data-testid="tab-trash" />
				<Tab value="members" label="Members" data-testid="tab-members" />
				<Tab value="rules" label="Alert rules" data-testid="tab-rules" />
				<Tab value="channels" label="Channels" data-testid="tab-channels" />
			</Tabs>
			{tab === 'dashboards' && <Dashboards project={project} />}
			{tab === 'trash' && <Trash project={project} />}
			{tab === 'members' && <Members project={project} />}
			{tab === 'rules' && <AlertRules project={project} />}
			{tab === 'channels' && <Channels project={project} />}
		</Page>
	);
}
