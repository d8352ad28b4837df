// index.jsx -- the providers every page sits in: MUI and charts theme
// from @perses-dev/components, react-query, the router with query-param
// state (Perses keeps time range and variables in the URL), and the
// the charts theme and plugin registry come with the dashboard pages
// (perses.jsx).
import React from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter } from 'react-router-dom';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { QueryParamProvider } from 'use-query-params';
import { ReactRouter6Adapter } from 'use-query-params/adapters/react-router-6';
import { CssBaseline, ThemeProvider } from '@mui/material';
// The theme module alone: the package's index would pull in every
// Perses component (and echarts) before the first page.
import { getTheme } from '@perses-dev/components/dist/theme/theme';
import { App } from './App';
import { api, dashPath } from './api';
import { notePrefetchedQuery, prefetchForLocation } from './prefetch';

// A panel whose query fails shows the error in the panel; react-query
// would also log it as a console error, which is not ours to raise.
const queryClient = new QueryClient({
	logger: { log: console.log, warn: console.warn, error: console.warn },
	defaultOptions: { queries: { refetchOnWindowFocus: false, retry: false, staleTime: 10000 } },
});
const muiTheme = getTheme('light');

// A dashboard's URL: its chunk, document and plugin list start now
// (prefetch.js); the document under the key its page reads.
const first = prefetchForLocation();
if (first) {
	const key = ['dashboard', first.project, first.dashboard, null, 0];
	notePrefetchedQuery(key);
	queryClient.prefetchQuery(key, () => api(dashPath(first.project, first.dashboard)));
}

createRoot(document.getElementById('root')).render(
	<React.StrictMode>
		<ThemeProvider theme={muiTheme}>
			<CssBaseline />
			<QueryClientProvider client={queryClient}>
				<BrowserRouter>
					<QueryParamProvider adapter={ReactRouter6Adapter}>
						<App />
					</QueryParamProvider>
				</BrowserRouter>
			</QueryClientProvider>
		</ThemeProvider>
	</React.StrictMode>,
);
