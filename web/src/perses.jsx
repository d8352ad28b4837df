// perses.jsx -- what only dashboard pages need: the charts theme, the
// Perses snackbar and the plugin registry (module-federation plugins
// listed by /api/v1/plugins).  Loaded lazily with those pages, so the
// project and list pages ship without echarts and the Perses libraries.
import React from 'react';
import { useTheme } from '@mui/material';
import { ChartsProvider, SnackbarProvider, generateChartsTheme } from '@perses-dev/components';
import { PluginRegistry, remotePluginLoader } from '@perses-dev/plugin-system';
import { installQueryBatching } from './batch';
import { takePrefetched } from './prefetch';

// A dashboard's panels share one range query per metric (batch.js).
installQueryBatching();

// The plugin list: the one prefetch.js started with the page, if any.
// Each plugin of a module is listed as a module of its own (the same
// remote), so a dashboard loads the plugins it draws with, not every
// plugin of their modules one after the other (Perses's loader imports
// a module's plugins in turn: Prometheus's six for one query).
const remote = remotePluginLoader();
const pluginLoader = {
	getInstalledPlugins: async () => {
		const r = await takePrefetched('/api/v1/plugins', { credentials: 'same-origin' });
		const list = await r.json();
		const mods = Array.isArray(list) ? list.filter((m) => m?.kind === 'PluginModule' && Array.isArray(m.spec?.plugins)) : [];
		return mods.flatMap((m) => m.spec.plugins.map((p) => ({ ...m, spec: { ...m.spec, plugins: [p] } })));
	},
	importPluginModule: (resource) => remote.importPluginModule(resource),
};

const kinds = { Panel: 'TimeSeriesChart', TimeSeriesQuery: 'PrometheusTimeSeriesQuery' };

export function PersesRoot({ children }) {
	const muiTheme = useTheme();
	const chartsTheme = React.useMemo(() => generateChartsTheme(muiTheme, {}), [muiTheme]);
	return (
		<ChartsProvider chartsTheme={chartsTheme}>
			<SnackbarProvider anchorOrigin={{ vertical: 'top', horizontal: 'center' }} variant="default">
				<PluginRegistry pluginLoader={pluginLoader} defaultPluginKinds={kinds}>
					{children}
				</PluginRegistry>
			</SnackbarProvider>
		</ChartsProvider>
	);
}

// Perses's toolbar has no prop to drop its Edit button: a read-only view
// (a viewer, a past version, a share link) hides it.  The server refuses
// the save anyway.
export const hideEdit = {
	'& [data-testid="dashboard-toolbar"] > div:first-of-type button.MuiButton-outlinedSecondary': { display: 'none' },
};
