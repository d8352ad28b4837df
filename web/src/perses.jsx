// perses.jsx -- what only dashboard pages need: the charts theme, the
// Perses snackbar and the plugin registry (module-federation plugins
// listed by /api/v1/plugins).  Loaded lazily with those pages, so the
// project and list pages ship without echarts and the Perses libraries.
import React from 'react';
import { useTheme } from '@mui/material';
import { ChartsProvider, SnackbarProvider, generateChartsTheme } from '@perses-dev/components';
import { PluginRegistry, remotePluginLoader } from '@perses-dev/plugin-system';
import { installQueryBatching } from './batch';

// A dashboard's panels share one range query per metric (batch.js).
installQueryBatching();

const pluginLoader = remotePluginLoader();
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
