// /shared/{token}: a dashboard opened read-only with no login, from
// /api/v1/shared/{token}.  The page never calls an authenticated route.
import React from 'react';
import { useParams } from 'react-router-dom';
import { useQuery } from '@tanstack/react-query';
import { Alert, AppBar, Box, Toolbar, Typography } from '@mui/material';
import { ViewDashboard } from '@perses-dev/dashboards';
import { PersesRoot, hideEdit } from '../perses';
import { api, enc } from '../api';
import { Loading } from '../App';

// Panel data of a shared dashboard goes through its token, never the
// viewer's identity (there is none): the datasource lives under the
// share's own path.
function sharedDatasources(token) {
	const base = `/api/v1/shared/${enc(token)}`;
	const ds = {
		kind: 'GlobalDatasource',
		metadata: { name: 'dashcgi' },
		spec: { default: true, plugin: { kind: 'PrometheusDatasource', spec: { proxy: { kind: 'HTTPProxy', spec: { url: `${base}/proxy/dashcgi` } } } } },
	};
	const byKind = (k) => (!k || k === 'PrometheusDatasource' ? [ds] : []);
	return {
		buildProxyUrl: ({ name }) => `${base}/proxy/${enc(name)}`,
		getDatasource: async () => undefined,
		getGlobalDatasource: async (sel) => byKind(sel.kind)[0],
		listDatasources: async () => [],
		listGlobalDatasources: async (k) => byKind(k),
	};
}

export function SharedPage() {
	return <PersesRoot><SharedPageInner /></PersesRoot>;
}

function SharedPageInner() {
	const { token } = useParams();
	const q = useQuery(['shared', token], () => api(`/api/v1/shared/${enc(token)}`), { staleTime: Infinity });
	const dsApi = React.useMemo(() => sharedDatasources(token), [token]);
	return (
		<Box sx={{ display: 'flex', flexDirection: 'column', minHeight: '100vh' }}>
			<AppBar position="static" elevation={0}>
				<Toolbar variant="dense">
					<Typography sx={{ fontWeight: 600, flexGrow: 1 }}>dashcgi</Typography>
					<Typography variant="body2">shared, read-only</Typography>
				</Toolbar>
			</AppBar>
			{q.isLoading && <Loading />}
			{q.error && (
				<Alert severity="warning" sx={{ m: 2 }} data-testid="shared-error">
					This link is unknown, expired, revoked or not valid from your address.
				</Alert>
			)}
			{q.data && (
				<Box sx={{ flexGrow: 1, display: 'flex', ...hideEdit }} data-testid="dashboard">
					<ViewDashboard
						dashboardResource={q.data}
						datasourceApi={dsApi}
						isReadonly
						isEditing={false}
						isVariableEnabled
						isDatasourceEnabled={false}
					/>
				</Box>
			)}
		</Box>
	);
}
