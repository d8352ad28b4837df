// Home: projects, favorites and recent dashboards (preferences).
import React from 'react';
import { Link as RouterLink } from 'react-router-dom';
import { useQuery } from '@tanstack/react-query';
import { Card, CardContent, Grid2 as Grid, Link, List, ListItem, Typography } from '@mui/material';
import { api } from '../api';
import { ErrorBox, Loading, Page } from '../App';

function DashList({ title, items, testid }) {
	return (
		<Card variant="outlined" data-testid={testid}>
			<CardContent>
				<Typography variant="h2" sx={{ fontSize: 18, mb: 1 }}>{title}</Typography>
				{items.length === 0 && <Typography color="text.secondary">None yet.</Typography>}
				<List dense>
					{items.map((f) => (
						<ListItem key={`${f.project}/${f.name}`} disableGutters>
							<Link component={RouterLink} to={`/projects/${f.project}/dashboards/${f.name}`}>
								{f.project} / {f.name}
							</Link>
						</ListItem>
					))}
				</List>
			</CardContent>
		</Card>
	);
}

export function Home() {
	const projects = useQuery(['projects'], () => api('/api/v1/projects'));
	const prefs = useQuery(['prefs'], () => api('/api/v1/me/preferences'));
	if (projects.isLoading)
		return <Loading />;
	return (
		<Page title="Projects">
			<ErrorBox error={projects.error || prefs.error} />
			<Grid container spacing={2}>
				<Grid size={{ xs: 12, md: 6 }}>
					<Card variant="outlined" data-testid="projects">
						<CardContent>
							<Typography variant="h2" sx={{ fontSize: 18, mb: 1 }}>Projects</Typography>
							{(projects.data || []).length === 0 && <Typography color="text.secondary">You are in no project yet.</Typography>}
							<List dense>
								{(projects.data || []).map((p) => (
									<ListItem key={p.metadata.name} disableGutters>
										<Link component={RouterLink} to={`/projects/${p.metadata.name}`}>
											{p.spec?.display?.name || p.metadata.name}
										</Link>
									</ListItem>
								))}
							</List>
						</CardContent>
					</Card>
				</Grid>
				<Grid size={{ xs: 12, md: 3 }}>
					<DashList title="Favorites" items={prefs.data?.favorites || []} testid="favorites" />
				</Grid>
				<Grid size={{ xs: 12, md: 3 }}>
					<DashList title="Recent" items={prefs.data?.recent || []} testid="recent" />
				</Grid>
			</Grid>
		</Page>
	);
}
