// History: the versions, any two compared side by side, restore.
import React, { useMemo, useState } from 'react';
import { Link as RouterLink, useNavigate, useParams } from 'react-router-dom';
import { useMutation, useQuery } from '@tanstack/react-query';
import { Box, Button, Link, Radio, Table, TableBody, TableCell, TableHead, TableRow, Typography } from '@mui/material';
import { api, dashPath } from '../api';
import { ErrorBox, Loading, Page, can, useMe } from '../App';

// A line diff (longest common subsequence): rows of [left, right, kind].
function diffLines(a, b) {
	const n = a.length, m = b.length;
	const w = m + 1;
	const t = new Uint32Array((n + 1) * w);
	for (let i = n - 1; i >= 0; i--)
		for (let j = m - 1; j >= 0; j--)
			t[i * w + j] = a[i] === b[j] ? t[(i + 1) * w + j + 1] + 1 : Math.max(t[(i + 1) * w + j], t[i * w + j + 1]);
	const rows = [];
	let i = 0, j = 0;
	while (i < n || j < m) {
		if (i < n && j < m && a[i] === b[j]) {
			rows.push([a[i++], b[j++], 'same']);
		} else if (j < m && (i >= n || t[i * w + j + 1] >= t[(i + 1) * w + j])) {
			rows.push(['', b[j++], 'add']);
		} else {
			rows.push([a[i++], '', 'del']);
		}
	}
	return rows;
}

const bg = { same: 'transparent', add: '#e6ffec', del: '#ffebe9' };

export function SideBySide({ left, right, leftTitle, rightTitle }) {
	const rows = useMemo(() => diffLines(JSON.stringify(left, null, 2).split('\n'), JSON.stringify(right, null, 2).split('\n')), [left, right]);
	const changed = rows.filter((r) => r[2] !== 'same').length;
	return (
		<Box data-testid="diff" sx={{ mt: 2 }}>
			<Typography variant="body2" sx={{ mb: 1 }}>{changed} changed line(s)</Typography>
			<Box sx={{ display: 'grid', gridTemplateColumns: '1fr 1fr', fontFamily: 'monospace', fontSize: 12, border: 1, borderColor: 'divider', maxHeight: '60vh', overflow: 'auto' }}>
				<Box sx={{ fontWeight: 'bold', p: 0.5, borderBottom: 1, borderColor: 'divider' }}>{leftTitle}</Box>
				<Box sx={{ fontWeight: 'bold', p: 0.5, borderBottom: 1, borderColor: 'divider' }}>{rightTitle}</Box>
				{rows.map(([l, r, k], i) => (
					<React.Fragment key={i}>
						<Box component="pre" sx={{ m: 0, px: 0.5, whiteSpace: 'pre-wrap', background: k === 'del' ? bg.del : k === 'add' ? '#f6f8fa' : bg.same }}>{l}</Box>
						<Box component="pre" sx={{ m: 0, px: 0.5, whiteSpace: 'pre-wrap', background: k === 'add' ? bg.add : k === 'del' ? '#f6f8fa' : bg.same }}>{r}</Box>
					</React.Fragment>
				))}
			</Box>
		</Box>
	);
}

export function HistoryPage() {
	const { project, dashboard } = useParams();
	const me = useMe();
	const nav = useNavigate();
	const path = dashPath(project, dashboard);
	const versions = useQuery(['versions', project, dashboard], () => api(`${path}/versions`));
	const cur = useQuery(['dashboard-cur', project, dashboard], () => api(path));
	const [a, setA] = useState(null);
	const [b, setB] = useState(null);
	const list = versions.data || [];
	const va = a ?? list[1]?.version ?? list[0]?.version;
	const vb = b ?? list[0]?.version;
	const da = useQuery(['version', project, dashboard, va], () => api(`${path}/versions/${va}`), { enabled: va != null });
	const db = useQuery(['version', project, dashboard, vb], () => api(`${path}/versions/${vb}`), { enabled: vb != null });
	const restore = useMutation((v) => api(`${path}/versions/${v}/restore`, {
		method: 'POST', headers: { 'If-Match': `"${cur.data.metadata.version}"` },
	}), { onSuccess: () => nav(`/projects/${project}/dashboards/${dashboard}`) });
	if (versions.isLoading)
		return <Loading />;
	return (
		<Page title={`History of ${dashboard}`} actions={<Button component={RouterLink} to={`/projects/${project}/dashboards/${dashboard}`}>Back to the dashboard</Button>}>
			<ErrorBox error={versions.error || restore.error || da.error || db.error} />
			<Table size="small" data-testid="versions">
				<TableHead>
					<TableRow><TableCell>A</TableCell><TableCell>B</TableCell><TableCell>Version</TableCell><TableCell>Saved</TableCell><TableCell>By</TableCell><TableCell>Message</TableCell><TableCell /></TableRow>
				</TableHead>
				<TableBody>
					{list.map((v, i) => (
						<TableRow key={v.version}>
							<TableCell padding="checkbox"><Radio size="small" checked={va === v.version} onChange={() => setA(v.version)} inputProps={{ 'data-testid': `a-${v.version}` }} /></TableCell>
							<TableCell padding="checkbox"><Radio size="small" checked={vb === v.version} onChange={() => setB(v.version)} inputProps={{ 'data-testid': `b-${v.version}` }} /></TableCell>
							<TableCell>
								<Link component={RouterLink} to={`/projects/${project}/dashboards/${dashboard}?version=${v.version}`}>{v.version}</Link>
								{v.restoredFrom != null && ` (restored from ${v.restoredFrom})`}
							</TableCell>
							<TableCell>{v.updatedAt}</TableCell><TableCell>{v.updatedBy}</TableCell><TableCell>{v.message}</TableCell>
							<TableCell>
								{i > 0 && can(me, project, 'editor') && cur.data && (
									<Button size="small" onClick={() => restore.mutate(v.version)} data-testid={`restore-${v.version}`}>Restore</Button>
								)}
							</TableCell>
						</TableRow>
					))}
				</TableBody>
			</Table>
			{da.data && db.data && (
				<SideBySide left={da.data.spec} right={db.data.spec} leftTitle={`version ${va}`} rightTitle={`version ${vb}`} />
			)}
		</Page>
	);
}
