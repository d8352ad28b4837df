// App.jsx -- the frame (app bar with the signed-in user) and the
// client-side routes of SPEC 12.  The UI holds no state of its own: every
// page reads the API, and the server decides what a role may do (the UI
// only hides what it knows the role cannot do).
import React, { Suspense, createContext, lazy, useContext } from 'react';
import { Link as RouterLink, Route, Routes, useLocation } from 'react-router-dom';
import { useQuery } from '@tanstack/react-query';
import { Alert, AppBar, Box, Button, CircularProgress, Toolbar, Typography } from '@mui/material';
import { api } from './api';
import { Home } from './pages/Home';
import { ProjectPage } from './pages/Project';
import { HistoryPage } from './pages/History';
import { loadDashboardPage, loadSharedPage } from './prefetch';

// The pages drawing Perses dashboards load with the Perses libraries.
const DashboardPage = lazy(() => loadDashboardPage().then((m) => ({ default: m.DashboardPage })));
const SharedPage = lazy(() => loadSharedPage().then((m) => ({ default: m.SharedPage })));
import { AuditPage, IncidentPage, IncidentsPage, MonitorPage, SloPage, SlosPage, UptimePage } from './pages/Extra';

const MeContext = createContext(null);
export const useMe = () => useContext(MeContext);

const RANK = { viewer: 1, editor: 2, admin: 3 };
// Can the signed-in user act as `role` in `project`?
export function can(me, project, role) {
	if (!me)
		return false;
	if (me.admin)
		return true;
	return (RANK[me.projects?.[project]] || 0) >= RANK[role];
}

export function Loading() {
	return (
		<Box sx={{ p: 4, display: 'flex', justifyContent: 'center' }}>
			<CircularProgress size={28} />
		</Box>
	);
}

export function ErrorBox({ error }) {
	if (!error)
		return null;
	return <Alert severity="error" sx={{ m: 2 }} data-testid="error">{error.message}</Alert>;
}

export function Page({ title, actions, children }) {
	return (
		<Box sx={{ p: 3, maxWidth: 1400, mx: 'auto' }}>
			<Box sx={{ display: 'flex', alignItems: 'center', gap: 2, mb: 2 }}>
				<Typography variant="h1" sx={{ fontSize: 24, flexGrow: 1 }}>{title}</Typography>
				{actions}
			</Box>
			{children}
		</Box>
	);
}

function Frame({ me, children }) {
	return (
		<Box sx={{ display: 'flex', flexDirection: 'column', minHeight: '100vh' }}>
			<AppBar position="static" elevation={0}>
				<Toolbar variant="dense" sx={{ gap: 2 }}>
					<Typography component={RouterLink} to="/" sx={{ color: 'inherit', textDecoration: 'none', fontWeight: 600 }}>
						dashcgi
					</Typography>
					<Box sx={{ flexGrow: 1 }} />
					{me?.admin && (
						<Button color="inherit" component={RouterLink} to="/audit">Audit log</Button>
					)}
					<Typography variant="body2" data-testid="me">
						{me ? `${me.user}${me.admin ? ' (admin)' : ''}` : ''}
					</Typography>
				</Toolbar>
			</AppBar>
			<Box sx={{ flexGrow: 1, display: 'flex', flexDirection: 'column' }}>{children}</Box>
		</Box>
	);
}

function Authenticated() {
	const me = useQuery(['me'], () => api('/api/v1/me'), { staleTime: 60000 });
	if (me.isLoading)
		return <Loading />;
	if (me.error)
		return <ErrorBox error={me.error} />;
	return (
		<MeContext.Provider value={me.data}>
			<Frame me={me.data}>
				<Suspense fallback={<Loading />}>
				<Routes>
					<Route path="/" element={<Home />} />
					<Route path="/audit" element={<AuditPage />} />
					<Route path="/projects/:project" element={<ProjectPage />} />
					<Route path="/projects/:project/settings" element={<ProjectPage tab="members" />} />
					<Route path="/projects/:project/trash" element={<ProjectPage tab="trash" />} />
					<Route path="/projects/:project/dashboards/:dashboard" element={<DashboardPage />} />
					<Route path="/projects/:project/dashboards/:dashboard/history" element={<HistoryPage />} />
					<Route path="/projects/:project/slos" element={<SlosPage />} />
					<Route path="/projects/:project/slos/:name" element={<SloPage />} />
					<Route path="/projects/:project/uptime" element={<UptimePage />} />
					<Route path="/projects/:project/monitors/:name" element={<MonitorPage />} />
					<Route path="/projects/:project/incidents" element={<IncidentsPage />} />
					<Route path="/projects/:project/incidents/:id" element={<IncidentPage />} />
					<Route path="*" element={<Page title="Not found"><Alert severity="warning">No page here.</Alert></Page>} />
				</Routes>
				</Suspense>
			</Frame>
		</MeContext.Provider>
	);
}

export function App() {
	const loc = useLocation();
	// A share link opens with no login: it never asks /api/v1/me.
	if (loc.pathname.startsWith('/shared/'))
		return (
			<Suspense fallback={<Loading />}>
				<Routes>
					<Route path="/shared/:token" element={<SharedPage />} />
				</Routes>
			</Suspense>
		);
	return <Authenticated />;
}
