-- 0017_datasource_templates.up.sql -- the system templates that chart
-- dashcgi's own data (SPEC section 11): slo-overview, uptime and
-- incidents.  Like the four of 0003 they are Perses dashboard specs,
-- built here with small session-local helpers (dropped at the end).
--
-- Every query names the built-in datasource "dashcgi" and is one that
-- dashcgi's own query language answers (src/promql.h: a selector, or
-- sum/avg/min/max/count by|without over one): no rate(), no
-- histogram_quantile(), no arithmetic.  The families and their labels
-- are those of migration 0012.  Panels use Perses's standard plugins
-- (TimeSeriesChart, StatChart, Table, StatusHistoryChart); there is no
-- Alertmanager table plugin on npm, so open incidents are charted from
-- incidents_open{severity}.

-- A TimeSeriesQuery on the dashcgi datasource; legend is its
-- seriesNameFormat.
CREATE FUNCTION pg_temp.dq(expr text, legend text DEFAULT NULL)
	RETURNS jsonb LANGUAGE sql IMMUTABLE
	RETURN jsonb_build_object('kind', 'TimeSeriesQuery', 'spec',
		jsonb_build_object('plugin', jsonb_build_object(
			'kind', 'PrometheusTimeSeriesQuery',
			'spec', jsonb_strip_nulls(jsonb_build_object(
				'datasource', jsonb_build_object(
				    'kind', 'PrometheusDatasource',
				    'name', 'dashcgi'),
				'query', expr, 'seriesNameFormat', legend)))));

-- A panel of any plugin kind with its plugin spec and queries.
CREATE FUNCTION pg_temp.dpanel(name text, description text, kind text,
    spec jsonb, VARIADIC queries jsonb[])
	RETURNS jsonb LANGUAGE sql IMMUTABLE
	RETURN jsonb_build_object('kind', 'Panel', 'spec', jsonb_build_object(
		'display', jsonb_build_object('name', name,
		    'description', description),
		'plugin', jsonb_build_object('kind', kind, 'spec', spec),
		'queries', to_jsonb(queries)));

-- Plugin specs: a chart in unit u; the last value against steps (the
-- colour below the first step is low); a table; a status history.
CREATE FUNCTION pg_temp.dchart(u text) RETURNS jsonb LANGUAGE sql IMMUTABLE
	RETURN jsonb_build_object(
		'legend', jsonb_build_object('position', 'bottom', 'mode', 'list'),
		'yAxis', jsonb_build_object('format', jsonb_build_object('unit', u)));

CREATE FUNCTION pg_temp.dstat(u text, low text, steps jsonb)
	RETURNS jsonb LANGUAGE sql IMMUTABLE
	RETURN jsonb_build_object('calculation', 'last-number',
		'format', jsonb_build_object('unit', u),
		'thresholds', jsonb_build_object('defaultColor', low,
		    'steps', steps));

-- A ListVariable of the values of a label of a family, "All" = .*.
CREATE FUNCTION pg_temp.dvar(name text, display text, label text,
    family text)
	RETURNS jsonb LANGUAGE sql IMMUTABLE
	RETURN jsonb_build_object('kind', 'ListVariable', 'spec',
		jsonb_build_object(
		    'name', name,
		    'display', jsonb_build_object('name', display,
			'hidden', false),
		    'allowAllValue', true,
		    'allowMultiple', true,
		    'customAllValue', '.*',
		    'defaultValue', '$__all',
		    'plugin', jsonb_build_object(
			'kind', 'PrometheusLabelValuesVariable',
			'spec', jsonb_build_object(
			    'datasource', jsonb_build_object(
				'kind', 'PrometheusDatasource',
				'name', 'dashcgi'),
			    'labelName', label,
			    'matchers', jsonb_build_array(family)))));

-- One Grid item; a titled Grid of them.
CREATE FUNCTION pg_temp.ditem(panel text, x int, y int, w int, h int)
	RETURNS jsonb LANGUAGE sql IMMUTABLE
	RETURN jsonb_build_object('x', x, 'y', y, 'width', w, 'height', h,
		'content', jsonb_build_object('$ref', '#/spec/panels/' || panel));

CREATE FUNCTION pg_temp.dgrid(title text, VARIADIC items jsonb[])
	RETURNS jsonb LANGUAGE sql IMMUTABLE
	RETURN jsonb_build_object('kind', 'Grid', 'spec', jsonb_build_object(
		'display', jsonb_build_object('title', title,
		    'collapse', jsonb_build_object('open', true)),
		'items', to_jsonb(items)));

CREATE FUNCTION pg_temp.dtemplate(id text, name text, description text,
    duration text, variables jsonb, panels jsonb, VARIADIC layouts jsonb[])
	RETURNS void LANGUAGE sql
AS $$
	INSERT INTO dashboard_template (id, name, description, category,
	    is_system, created_by, updated_by, dashboard)
	VALUES (id, name, description, 'reliability', true, 'system',
	    'system', jsonb_build_object(
		'display', jsonb_build_object('name', name,
		    'description', description),
		'duration', duration,
		'refreshInterval', '1m',
		'variables', variables,
		'panels', panels,
		'layouts', to_jsonb(layouts)))
$$;

-- ---------------------------------------------------------------------
-- slo-overview: budgets, burn rates and the SLI of each SLO.

SELECT pg_temp.dtemplate('slo-overview', 'SLO overview',
    'Error budgets left, burn rates, SLI ratio and good/bad events of each SLO, from dashcgi''s own datasource.',
    '24h',
    jsonb_build_array(pg_temp.dvar('slo', 'SLO', 'slo', 'slo_sli_ratio')),
    jsonb_build_object(
	'lowest_budget', pg_temp.dpanel('Lowest budget left',
	    'The smallest share of error budget left among the SLOs shown, over each SLO''s window.',
	    'StatChart', pg_temp.dstat('percent-decimal', '#c62828',
		'[{"value": 0.25, "color": "#f9a825"}, {"value": 0.5, "color": "#2e7d32"}]'),
	    pg_temp.dq('min(slo_error_budget_remaining{slo=~"$slo"})')),
	'slis', pg_temp.dpanel('SLIs',
	    'The SLIs of the SLOs shown that have a budget (traffic in their window).',
	    'StatChart', pg_temp.dstat('decimal', '#1565c0', '[]'),
	    pg_temp.dq('count(slo_error_budget_remaining{slo=~"$slo"})')),
	'budgets', pg_temp.dpanel('Error budget left',
	    'Share of the error budget left over the SLO window, by SLO and SLI (now).',
	    'Table', '{"density": "compact"}',
	    pg_temp.dq('slo_error_budget_remaining{slo=~"$slo"}',
		'{{slo}} / {{sli}}')),
	'burn_rate', pg_temp.dpanel('Burn rate (5m)',
	    'Error ratio over (1 - target): 1 spends the budget exactly over the window; the worst SLI of each SLO.',
	    'TimeSeriesChart', pg_temp.dchart('decimal'),
	    pg_temp.dq('max by (project, slo) (slo_burn_rate{slo=~"$slo"})',
		'{{slo}}')),
	'sli_ratio', pg_temp.dpanel('SLI',
	    'good / (good + bad) per 5 minutes; the worst SLI of each SLO.',
	    'TimeSeriesChart', pg_temp.dchart('percent-decimal'),
	    pg_temp.dq('min by (project, slo) (slo_sli_ratio{slo=~"$slo"})',
		'{{slo}}')),
	'events', pg_temp.dpanel('Good and bad events',
	    'Events counted by the SLIs of the SLOs shown, per resolution step.',
	    'TimeSeriesChart', pg_temp.dchart('decimal'),
	    pg_temp.dq('sum(sli_good{slo=~"$slo"})', 'good'),
	    pg_temp.dq('sum(sli_bad{slo=~"$slo"})', 'bad'))),
    pg_temp.dgrid('Error budgets',
	pg_temp.ditem('lowest_budget', 0, 0, 6, 6),
	pg_temp.ditem('slis', 0, 6, 6, 6),
	pg_temp.ditem('budgets', 6, 0, 18, 12)),
    pg_temp.dgrid('Burn and SLI',
	pg_temp.ditem('burn_rate', 0, 0, 12, 8),
	pg_temp.ditem('sli_ratio', 12, 0, 12, 8),
	pg_temp.ditem('events', 0, 8, 24, 8)));

-- ---------------------------------------------------------------------
-- uptime: the public status page as a dashboard.

-- The uptime over a window, mean of the monitors shown.
CREATE FUNCTION pg_temp.duptime(win text, span text)
	RETURNS jsonb LANGUAGE sql IMMUTABLE
	RETURN pg_temp.dpanel('Uptime ' || win,
	    'Successful checks over the last ' || span || ', mean of the monitors shown.',
	    'StatChart', pg_temp.dstat('percent-decimal', '#c62828',
		'[{"value": 0.99, "color": "#f9a825"}, {"value": 0.999, "color": "#2e7d32"}]'),
	    pg_temp.dq(format('avg(monitor_uptime_ratio{monitor=~"$monitor",window="%s"})', win)));

SELECT pg_temp.dtemplate('uptime', 'Uptime',
    'State of each uptime monitor, uptime over 24 hours, 30 and 90 days, and p95 check latency, from dashcgi''s own datasource.',
    '6h',
    jsonb_build_array(pg_temp.dvar('monitor', 'Monitor', 'monitor',
	'monitor_up')),
    jsonb_build_object(
	'up', pg_temp.dpanel('Monitors up',
	    'Monitors whose last check succeeded.',
	    'StatChart', pg_temp.dstat('decimal', '#2e7d32', '[]'),
	    pg_temp.dq('sum(monitor_up{monitor=~"$monitor"})')),
	'uptime_24h', pg_temp.duptime('24h', '24 hours'),
	'uptime_30d', pg_temp.duptime('30d', '30 days'),
	'uptime_90d', pg_temp.duptime('90d', '90 days'),
	'state', pg_temp.dpanel('State',
	    'Each check: 1 up, 0 down.',
	    'StatusHistoryChart', '{"legend": {"position": "bottom"}}',
	    pg_temp.dq('monitor_up{monitor=~"$monitor"}', '{{monitor}}')),
	'uptime', pg_temp.dpanel('Uptime by monitor',
	    'Share of successful checks over 24h, 30d and 90d, by monitor (now).',
	    'Table', '{"density": "compact"}',
	    pg_temp.dq('monitor_uptime_ratio{monitor=~"$monitor"}',
		'{{monitor}} {{window}}')),
	'latency_p95', pg_temp.dpanel('p95 latency',
	    '95th percentile of check latency per minute, by monitor (from the roll-ups).',
	    'TimeSeriesChart', pg_temp.dchart('seconds'),
	    pg_temp.dq('max by (project, monitor) (monitor_latency_seconds{monitor=~"$monitor",quantile="0.95"})',
		'{{monitor}}'))),
    pg_temp.dgrid('Now',
	pg_temp.ditem('up', 0, 0, 6, 5),
	pg_temp.ditem('uptime_24h', 6, 0, 6, 5),
	pg_temp.ditem('uptime_30d', 12, 0, 6, 5),
	pg_temp.ditem('uptime_90d', 18, 0, 6, 5)),
    pg_temp.dgrid('Monitors',
	pg_temp.ditem('state', 0, 0, 24, 8),
	pg_temp.ditem('uptime', 0, 8, 12, 10),
	pg_temp.ditem('latency_p95', 12, 8, 12, 10)));

-- ---------------------------------------------------------------------
-- incidents: what is open, by severity, and the events behind it.

SELECT pg_temp.dtemplate('incidents', 'Incidents',
    'Open and investigating incidents by severity and project, and the event metrics of the incident hub, from dashcgi''s own datasource.',
    '24h',
    '[]',
    jsonb_build_object(
	'open', pg_temp.dpanel('Open incidents',
	    'Open or investigating incidents now.',
	    'StatChart', pg_temp.dstat('decimal', '#2e7d32',
		'[{"value": 1, "color": "#f9a825"}]'),
	    pg_temp.dq('sum(incidents_open)')),
	'critical', pg_temp.dpanel('Critical',
	    'Open or investigating incidents of severity critical now.',
	    'StatChart', pg_temp.dstat('decimal', '#2e7d32',
		'[{"value": 1, "color": "#c62828"}]'),
	    pg_temp.dq('sum(incidents_open{severity="critical"})')),
	'by_severity', pg_temp.dpanel('Open incidents by severity',
	    'Incidents open at each step, by severity.',
	    'TimeSeriesChart', pg_temp.dchart('decimal'),
	    pg_temp.dq('sum by (severity) (incidents_open)', '{{severity}}')),
	'table', pg_temp.dpanel('Open incidents by project',
	    'Open or investigating incidents now, by project and severity.',
	    'Table', '{"density": "compact"}',
	    pg_temp.dq('sum by (project, severity) (incidents_open)',
		'{{project}} {{severity}}')),
	'events', pg_temp.dpanel('Events per minute',
	    'Events with a metric received by the hub per minute, by metric.',
	    'TimeSeriesChart', pg_temp.dchart('decimal'),
	    pg_temp.dq('sum by (metric) (hub_metric{aggregate="count"})',
		'{{metric}}'))),
    pg_temp.dgrid('Incidents',
	pg_temp.ditem('open', 0, 0, 6, 6),
	pg_temp.ditem('critical', 0, 6, 6, 6),
	pg_temp.ditem('by_severity', 6, 0, 18, 12),
	pg_temp.ditem('table', 0, 12, 12, 8),
	pg_temp.ditem('events', 12, 12, 12, 8)));

DROP FUNCTION pg_temp.duptime(text, text);
DROP FUNCTION pg_temp.dtemplate(text, text, text, text, jsonb, jsonb, jsonb[]);
DROP FUNCTION pg_temp.dgrid(text, jsonb[]);
DROP FUNCTION pg_temp.ditem(text, int, int, int, int);
DROP FUNCTION pg_temp.dvar(text, text, text, text);
DROP FUNCTION pg_temp.dstat(text, text, jsonb);
DROP FUNCTION pg_temp.dchart(text);
DROP FUNCTION pg_temp.dpanel(text, text, text, jsonb, jsonb[]);
DROP FUNCTION pg_temp.dq(text, text);
