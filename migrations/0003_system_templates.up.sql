-- 0003_system_templates: the template documents the API returns, and
-- the four system templates (SPEC §4 Templates).
--
-- Each template's dashboard column is a Perses Dashboard *spec* (what
-- goes under "spec" of a Dashboard document): display, duration,
-- variables, panels and Grid layouts whose items $ref those panels.
-- The rows are built with small helper functions in pg_temp so that
-- every panel reads as its title, unit and PromQL rather than as
-- forty lines of nested JSON; the helpers are dropped at the end and
-- the stored rows are plain JSONB.  GET /api/v1/templates/{id} shows
-- the result; "dashcgi migrate down" removes the rows again.
--
-- Metric names follow what the usual exporters publish: vLLM (the
-- vllm: prefix) and its FastAPI http_requests_total for serving, NVIDIA
-- DCGM (DCGM_FI_DEV_*) for GPUs, cAdvisor and kube-state-metrics for
-- pods, jobs and deployments, JupyterHub and jupyter_server for
-- notebooks, kafka_exporter for Kafka.  Training jobs export their own
-- training_* figures (loss, accuracy, steps, data loader wait and the
-- last checkpoint's time); those names are the convention the template
-- documents.

-- ---------------------------------------------------------------------
-- Template documents, built by PostgreSQL like those of 0002.

-- One entry of GET /api/v1/templates.
CREATE FUNCTION template_summary(t dashboard_template) RETURNS jsonb
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN jsonb_build_object(
		'id', t.id,
		'name', t.name,
		'description', t.description,
		'category', t.category,
		'version', t.version,
		'isSystem', t.is_system,
		'usageCount', t.usage_count,
		'createdAt', rfc3339(t.created_at));

-- GET /api/v1/templates/{id}: the summary and the dashboard spec.
CREATE FUNCTION template_doc(t dashboard_template) RETURNS jsonb
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN template_summary(t) || jsonb_build_object('dashboard', t.dashboard);

-- ---------------------------------------------------------------------
-- Builders for the Perses objects below (session-local, dropped at the end).

-- A PrometheusTimeSeriesQuery; legend is its seriesNameFormat.
CREATE FUNCTION pg_temp.tpl_query(expr text, legend text DEFAULT NULL)
	RETURNS jsonb LANGUAGE sql IMMUTABLE
	RETURN jsonb_build_object('kind', 'TimeSeriesQuery', 'spec',
		jsonb_build_object('plugin', jsonb_build_object(
			'kind', 'PrometheusTimeSeriesQuery',
			'spec', jsonb_strip_nulls(jsonb_build_object(
				'query', expr, 'seriesNameFormat', legend)))));

-- p50, p95 and p99 of a Prometheus histogram: bucket{selector}.
CREATE FUNCTION pg_temp.tpl_quantiles(bucket text, selector text)
	RETURNS jsonb LANGUAGE sql IMMUTABLE
	RETURN (SELECT jsonb_agg(pg_temp.tpl_query(format(
			'histogram_quantile(%s, sum by (le) (rate(%s{%s}[5m])))',
			q, bucket, selector), 'p' || substr(q, 3)) ORDER BY q)
		  FROM unnest(ARRAY['0.50', '0.95', '0.99']) AS q);

-- A TimeSeriesChart panel with its queries (a JSON array).
CREATE FUNCTION pg_temp.tpl_chart(name text, description text, unit text,
    queries jsonb, axis_label text DEFAULT NULL)
	RETURNS jsonb LANGUAGE sql IMMUTABLE
	RETURN jsonb_build_object('kind', 'Panel', 'spec', jsonb_build_object(
		'display', jsonb_build_object('name', name,
		    'description', description),
		'plugin', jsonb_build_object('kind', 'TimeSeriesChart',
		    'spec', jsonb_build_object(
			'legend', jsonb_build_object('position', 'bottom',
			    'mode', 'list'),
			'yAxis', jsonb_strip_nulls(jsonb_build_object(
			    'format', jsonb_build_object('unit', unit),
			    'label', axis_label)))),
		'queries', queries));

-- A StatChart panel showing the last value against threshold steps.
CREATE FUNCTION pg_temp.tpl_stat(name text, description text, unit text,
    query jsonb, steps jsonb)
	RETURNS jsonb LANGUAGE sql IMMUTABLE
	RETURN jsonb_build_object('kind', 'Panel', 'spec', jsonb_build_object(
		'display', jsonb_build_object('name', name,
		    'description', description),
		'plugin', jsonb_build_object('kind', 'StatChart',
		    'spec', jsonb_build_object(
			'calculation', 'last-number',
			'format', jsonb_build_object('unit', unit),
			'thresholds', jsonb_build_object(
			    'defaultColor', '#2e7d32', 'steps', steps))),
		'queries', jsonb_build_array(query)));

-- A ListVariable fed by the values of a label on the series matcher.
CREATE FUNCTION pg_temp.tpl_var(name text, display text, label text,
    matcher text, multi boolean)
	RETURNS jsonb LANGUAGE sql IMMUTABLE
	RETURN jsonb_build_object('kind', 'ListVariable', 'spec',
		jsonb_build_object(
		    'name', name,
		    'display', jsonb_build_object('name', display,
			'hidden', false),
		    'allowAllValue', multi,
		    'allowMultiple', multi,
		    'plugin', jsonb_build_object(
			'kind', 'PrometheusLabelValuesVariable',
			'spec', jsonb_build_object('labelName', label,
			    'matchers', jsonb_build_array(matcher)))));

-- One Grid item: panel key, position and size (the grid is 24 wide).
CREATE FUNCTION pg_temp.tpl_item(panel text, x int, y int, w int, h int)
	RETURNS jsonb LANGUAGE sql IMMUTABLE
	RETURN jsonb_build_object('x', x, 'y', y, 'width', w, 'height', h,
		'content', jsonb_build_object('$ref', '#/spec/panels/' || panel));

-- A titled, open Grid section.
CREATE FUNCTION pg_temp.tpl_grid(title text, VARIADIC items jsonb[])
	RETURNS jsonb LANGUAGE sql IMMUTABLE
	RETURN jsonb_build_object('kind', 'Grid', 'spec', jsonb_build_object(
		'display', jsonb_build_object('title', title,
		    'collapse', jsonb_build_object('open', true)),
		'items', to_jsonb(items)));

-- The dashboard spec itself.
CREATE FUNCTION pg_temp.tpl_spec(name text, description text,
    variables jsonb, panels jsonb, layouts jsonb)
	RETURNS jsonb LANGUAGE sql IMMUTABLE
	RETURN jsonb_build_object(
		'display', jsonb_build_object('name', name,
		    'description', description),
		'duration', '1h',
		'refreshInterval', '30s',
		'variables', variables,
		'panels', panels,
		'layouts', layouts);

-- ---------------------------------------------------------------------
-- model-serving: online inference.

INSERT INTO dashboard_template (id, name, description, category, is_system,
    created_by, updated_by, dashboard)
VALUES ('model-serving', 'Model serving',
    'Online inference (vLLM, KServe, Triton): request rate, latency percentiles, errors, GPU, queueing and replicas.',
    'ml', true, 'system', 'system', pg_temp.tpl_spec(
	'Model serving',
	'Online inference: request rate, p50/p95/p99 latency, error ratio, GPU utilisation, queue depth and replicas.',
	jsonb_build_array(
	    pg_temp.tpl_var('namespace', 'Namespace', 'namespace',
		'kube_pod_info', false),
	    pg_temp.tpl_var('model', 'Model', 'model_name',
		'vllm:num_requests_running{namespace="$namespace"}', true)),
	jsonb_build_object(
	    'request_rate', pg_temp.tpl_chart('Request rate',
		'Successful requests per second, by model.', 'requests/sec',
		jsonb_build_array(pg_temp.tpl_query(
		    'sum by (model_name) (rate(vllm:request_success_total{namespace="$namespace",model_name=~"$model"}[5m]))',
		    '{{model_name}}'))),
	    'error_ratio', pg_temp.tpl_chart('Error ratio',
		'Share of HTTP requests answered 5xx by the inference server.',
		'percent-decimal',
		jsonb_build_array(pg_temp.tpl_query(
		    'sum(rate(http_requests_total{namespace="$namespace",handler=~"/v1/.+",status=~"5.."}[5m])) / sum(rate(http_requests_total{namespace="$namespace",handler=~"/v1/.+"}[5m]))',
		    '5xx ratio'))),
	    'latency', pg_temp.tpl_chart('End-to-end latency',
		'p50, p95 and p99 of request latency from the server histogram.',
		'seconds',
		pg_temp.tpl_quantiles('vllm:e2e_request_latency_seconds_bucket',
		    'namespace="$namespace",model_name=~"$model"')),
	    'time_to_first_token', pg_temp.tpl_chart('Time to first token',
		'p50, p95 and p99 of the time to the first generated token.',
		'seconds',
		pg_temp.tpl_quantiles('vllm:time_to_first_token_seconds_bucket',
		    'namespace="$namespace",model_name=~"$model"')),
	    'gpu_utilisation', pg_temp.tpl_chart('GPU utilisation',
		'DCGM GPU utilisation of the serving pods.', 'percent',
		jsonb_build_array(pg_temp.tpl_query(
		    'avg by (pod, gpu) (DCGM_FI_DEV_GPU_UTIL{namespace="$namespace"})',
		    '{{pod}} GPU {{gpu}}'))),
	    'kv_cache_usage', pg_temp.tpl_chart('KV cache usage',
		'Share of the GPU KV cache in use; near 1 means requests queue for memory.',
		'percent-decimal',
		jsonb_build_array(pg_temp.tpl_query(
		    'max by (model_name) (vllm:gpu_cache_usage_perc{namespace="$namespace",model_name=~"$model"})',
		    '{{model_name}}'))),
	    'queue_depth', pg_temp.tpl_chart('Queue depth',
		'Requests waiting for and in execution, by model.', 'decimal',
		jsonb_build_array(
		    pg_temp.tpl_query(
			'sum by (model_name) (vllm:num_requests_waiting{namespace="$namespace",model_name=~"$model"})',
			'{{model_name}} waiting'),
		    pg_temp.tpl_query(
			'sum by (model_name) (vllm:num_requests_running{namespace="$namespace",model_name=~"$model"})',
			'{{model_name}} running'))),
	    'replicas', pg_temp.tpl_chart('Replicas',
		'Available against desired predictor replicas (kube-state-metrics).',
		'decimal',
		jsonb_build_array(
		    pg_temp.tpl_query(
			'sum(kube_deployment_status_replicas_available{namespace="$namespace",deployment=~".+-predictor.*"})',
			'available'),
		    pg_temp.tpl_query(
			'sum(kube_deployment_spec_replicas{namespace="$namespace",deployment=~".+-predictor.*"})',
			'desired')))),
	jsonb_build_array(
	    pg_temp.tpl_grid('Traffic',
		pg_temp.tpl_item('request_rate', 0, 0, 12, 8),
		pg_temp.tpl_item('error_ratio', 12, 0, 12, 8)),
	    pg_temp.tpl_grid('Latency',
		pg_temp.tpl_item('latency', 0, 0, 12, 8),
		pg_temp.tpl_item('time_to_first_token', 12, 0, 12, 8)),
	    pg_temp.tpl_grid('Capacity',
		pg_temp.tpl_item('gpu_utilisation', 0, 0, 12, 8),
		pg_temp.tpl_item('kv_cache_usage', 12, 0, 12, 8),
		pg_temp.tpl_item('queue_depth', 0, 8, 12, 8),
		pg_temp.tpl_item('replicas', 12, 8, 12, 8)))));

-- ---------------------------------------------------------------------
-- training-job: distributed training.  Pods of a Kubeflow job are
-- named <job>-master-0, <job>-worker-N.

INSERT INTO dashboard_template (id, name, description, category, is_system,
    created_by, updated_by, dashboard)
VALUES ('training-job', 'Training job',
    'Distributed training (PyTorch, Kubeflow Training Operator): loss and accuracy, step throughput, GPU memory and utilisation, data loader wait, checkpoint age.',
    'ml', true, 'system', 'system', pg_temp.tpl_spec(
	'Training job',
	'Loss and accuracy, step throughput, GPU memory and utilisation, data loader wait and checkpoint age.',
	jsonb_build_array(
	    pg_temp.tpl_var('namespace', 'Namespace', 'namespace',
		'kube_pod_info', false),
	    pg_temp.tpl_var('job', 'Training job', 'job_name',
		'training_loss{namespace="$namespace"}', true)),
	jsonb_build_object(
	    'loss', pg_temp.tpl_chart('Loss',
		'Training and evaluation loss reported by the job.', 'decimal',
		jsonb_build_array(
		    pg_temp.tpl_query(
			'avg by (job_name) (training_loss{namespace="$namespace",job_name=~"$job"})',
			'{{job_name}} train'),
		    pg_temp.tpl_query(
			'avg by (job_name) (training_eval_loss{namespace="$namespace",job_name=~"$job"})',
			'{{job_name}} eval'))),
	    'accuracy', pg_temp.tpl_chart('Accuracy',
		'Evaluation accuracy reported by the job.', 'percent-decimal',
		jsonb_build_array(pg_temp.tpl_query(
		    'avg by (job_name) (training_eval_accuracy{namespace="$namespace",job_name=~"$job"})',
		    '{{job_name}}'))),
	    'step_throughput', pg_temp.tpl_chart('Step throughput',
		'Optimizer steps per second, by job.', 'decimal',
		jsonb_build_array(pg_temp.tpl_query(
		    'sum by (job_name) (rate(training_steps_total{namespace="$namespace",job_name=~"$job"}[5m]))',
		    '{{job_name}}')),
		'steps/s'),
	    'checkpoint_age', pg_temp.tpl_stat('Time since last checkpoint',
		'A job that stops checkpointing loses its work when it is preempted.',
		'seconds',
		pg_temp.tpl_query(
		    'time() - max(training_last_checkpoint_timestamp_seconds{namespace="$namespace",job_name=~"$job"})'),
		'[{"value": 3600, "color": "#f9a825"}, {"value": 7200, "color": "#c62828"}]'),
	    'gpu_utilisation', pg_temp.tpl_chart('GPU utilisation',
		'DCGM GPU utilisation of the pods of the job.', 'percent',
		jsonb_build_array(pg_temp.tpl_query(
		    'avg by (pod, gpu) (DCGM_FI_DEV_GPU_UTIL{namespace="$namespace",pod=~"($job)-.+"})',
		    '{{pod}} GPU {{gpu}}'))),
	    'gpu_memory', pg_temp.tpl_chart('GPU memory used',
		'DCGM frame buffer in use (exported in MiB).', 'bytes',
		jsonb_build_array(pg_temp.tpl_query(
		    'sum by (pod, gpu) (DCGM_FI_DEV_FB_USED{namespace="$namespace",pod=~"($job)-.+"}) * 1048576',
		    '{{pod}} GPU {{gpu}}'))),
	    'dataloader_wait', pg_temp.tpl_chart('Data loader wait',
		'p50, p95 and p99 of the time a step waits for its next batch.',
		'seconds',
		pg_temp.tpl_quantiles('training_dataloader_wait_seconds_bucket',
		    'namespace="$namespace",job_name=~"$job"')),
	    'restarts', pg_temp.tpl_chart('Pod restarts',
		'Container restarts in the pods of the job over the last hour (kube-state-metrics).',
		'decimal',
		jsonb_build_array(pg_temp.tpl_query(
		    'sum by (pod) (increase(kube_pod_container_status_restarts_total{namespace="$namespace",pod=~"($job)-.+"}[1h]))',
		    '{{pod}}')))),
	jsonb_build_array(
	    pg_temp.tpl_grid('Progress',
		pg_temp.tpl_item('loss', 0, 0, 12, 8),
		pg_temp.tpl_item('accuracy', 12, 0, 12, 8),
		pg_temp.tpl_item('step_throughput', 0, 8, 16, 8),
		pg_temp.tpl_item('checkpoint_age', 16, 8, 8, 8)),
	    pg_temp.tpl_grid('Resources',
		pg_temp.tpl_item('gpu_utilisation', 0, 0, 12, 8),
		pg_temp.tpl_item('gpu_memory', 12, 0, 12, 8),
		pg_temp.tpl_item('dataloader_wait', 0, 8, 12, 8),
		pg_temp.tpl_item('restarts', 12, 8, 12, 8)))));

-- ---------------------------------------------------------------------
-- notebook-server: JupyterHub single-user servers (pods jupyter-<user>).

INSERT INTO dashboard_template (id, name, description, category, is_system,
    created_by, updated_by, dashboard)
VALUES ('notebook-server', 'Notebook server',
    'JupyterHub and Kubeflow notebooks: active kernels, CPU and memory per user, idle kernels, spawn latency.',
    'ml', true, 'system', 'system', pg_temp.tpl_spec(
	'Notebook server',
	'Active kernels, CPU and memory per user, idle kernels and server spawn latency.',
	jsonb_build_array(
	    pg_temp.tpl_var('namespace', 'Namespace', 'namespace',
		'kube_pod_info', false)),
	jsonb_build_object(
	    'active_kernels', pg_temp.tpl_chart('Active kernels',
		'Running kernels and single-user servers.', 'decimal',
		jsonb_build_array(
		    pg_temp.tpl_query(
			'sum(kernel_currently_running_total{namespace="$namespace"})',
			'kernels'),
		    pg_temp.tpl_query(
			'sum(jupyterhub_running_servers{namespace="$namespace"})',
			'servers'))),
	    'idle_kernels', pg_temp.tpl_chart('Idle kernels',
		'Notebook servers that used less than 0.01 CPU core over the last 30 minutes: candidates for culling.',
		'decimal',
		jsonb_build_array(pg_temp.tpl_query(
		    'count(sum by (pod) (rate(container_cpu_usage_seconds_total{namespace="$namespace",pod=~"jupyter-.+",container!=""}[30m])) < 0.01)',
		    'idle'))),
	    'cpu_per_user', pg_temp.tpl_chart('CPU per user',
		'CPU cores used by the notebook pod of each user.', 'decimal',
		jsonb_build_array(pg_temp.tpl_query(
		    'sum by (pod) (rate(container_cpu_usage_seconds_total{namespace="$namespace",pod=~"jupyter-.+",container!=""}[5m]))',
		    '{{pod}}')),
		'cores'),
	    'memory_per_user', pg_temp.tpl_chart('Memory per user',
		'Working set of the notebook pod of each user.', 'bytes',
		jsonb_build_array(pg_temp.tpl_query(
		    'sum by (pod) (container_memory_working_set_bytes{namespace="$namespace",pod=~"jupyter-.+",container!=""})',
		    '{{pod}}'))),
	    'spawn_latency', pg_temp.tpl_chart('Spawn latency',
		'p50, p95 and p99 of successful server spawns.', 'seconds',
		pg_temp.tpl_quantiles('jupyterhub_server_spawn_duration_seconds_bucket',
		    'namespace="$namespace",status="success"')),
	    'spawn_failures', pg_temp.tpl_chart('Failed spawns',
		'Server spawns per second that did not succeed, by status.',
		'decimal',
		jsonb_build_array(pg_temp.tpl_query(
		    'sum by (status) (rate(jupyterhub_server_spawn_duration_seconds_count{namespace="$namespace",status!="success"}[5m]))',
		    '{{status}}')))),
	jsonb_build_array(
	    pg_temp.tpl_grid('Usage',
		pg_temp.tpl_item('active_kernels', 0, 0, 12, 8),
		pg_temp.tpl_item('idle_kernels', 12, 0, 12, 8),
		pg_temp.tpl_item('cpu_per_user', 0, 8, 12, 8),
		pg_temp.tpl_item('memory_per_user', 12, 8, 12, 8)),
	    pg_temp.tpl_grid('Spawner',
		pg_temp.tpl_item('spawn_latency', 0, 0, 12, 8),
		pg_temp.tpl_item('spawn_failures', 12, 0, 12, 8)))));

-- ---------------------------------------------------------------------
-- data-pipeline: Kafka streams and Kubernetes batch jobs.

INSERT INTO dashboard_template (id, name, description, category, is_system,
    created_by, updated_by, dashboard)
VALUES ('data-pipeline', 'Data pipeline',
    'Streaming and batch pipelines (Kafka, Kubernetes Jobs and CronJobs): records in and out, consumer lag, failures, batch duration, freshness.',
    'data', true, 'system', 'system', pg_temp.tpl_spec(
	'Data pipeline',
	'Records in and out, consumer lag, failed jobs, batch duration and data freshness.',
	jsonb_build_array(
	    pg_temp.tpl_var('namespace', 'Namespace', 'namespace',
		'kube_job_info', false),
	    pg_temp.tpl_var('consumergroup', 'Consumer group', 'consumergroup',
		'kafka_consumergroup_lag', true),
	    pg_temp.tpl_var('topic', 'Topic', 'topic',
		'kafka_consumergroup_lag{consumergroup=~"$consumergroup"}', true)),
	jsonb_build_object(
	    'records_in', pg_temp.tpl_chart('Records in',
		'Records produced to the topics per second (kafka_exporter).',
		'records/sec',
		jsonb_build_array(pg_temp.tpl_query(
		    'sum by (topic) (rate(kafka_topic_partition_current_offset{topic=~"$topic"}[5m]))',
		    '{{topic}}'))),
	    'records_out', pg_temp.tpl_chart('Records out',
		'Records committed by the consumer groups per second.',
		'records/sec',
		jsonb_build_array(pg_temp.tpl_query(
		    'sum by (consumergroup, topic) (rate(kafka_consumergroup_current_offset{consumergroup=~"$consumergroup",topic=~"$topic"}[5m]))',
		    '{{consumergroup}} {{topic}}'))),
	    'consumer_lag', pg_temp.tpl_chart('Consumer lag',
		'Records produced but not yet consumed.', 'decimal',
		jsonb_build_array(pg_temp.tpl_query(
		    'sum by (consumergroup, topic) (kafka_consumergroup_lag{consumergroup=~"$consumergroup",topic=~"$topic"})',
		    '{{consumergroup}} {{topic}}'))),
	    'failures', pg_temp.tpl_chart('Failures',
		'Failed batch jobs and their failed pods (kube-state-metrics).',
		'decimal',
		jsonb_build_array(
		    pg_temp.tpl_query(
			'sum(kube_job_failed{namespace="$namespace",condition="true"})',
			'failed jobs'),
		    pg_temp.tpl_query(
			'sum(kube_job_status_failed{namespace="$namespace"})',
			'failed pods'))),
	    'batch_duration', pg_temp.tpl_chart('Batch duration',
		'Run time of the latest completed job of each CronJob.',
		'seconds',
		jsonb_build_array(pg_temp.tpl_query(
		    'max by (owner_name) ((kube_job_status_completion_time{namespace="$namespace"} - kube_job_status_start_time{namespace="$namespace"}) * on (namespace, job_name) group_left (owner_name) kube_job_owner{namespace="$namespace",owner_kind="CronJob"})',
		    '{{owner_name}}'))),
	    'freshness', pg_temp.tpl_chart('Freshness',
		'Time since each CronJob last succeeded: how old the newest data is.',
		'seconds',
		jsonb_build_array(pg_temp.tpl_query(
		    'time() - max by (cronjob) (kube_cronjob_status_last_successful_time{namespace="$namespace"})',
		    '{{cronjob}}')))),
	jsonb_build_array(
	    pg_temp.tpl_grid('Streaming',
		pg_temp.tpl_item('records_in', 0, 0, 12, 8),
		pg_temp.tpl_item('records_out', 12, 0, 12, 8),
		pg_temp.tpl_item('consumer_lag', 0, 8, 24, 8)),
	    pg_temp.tpl_grid('Batch',
		pg_temp.tpl_item('failures', 0, 0, 8, 8),
		pg_temp.tpl_item('batch_duration', 8, 0, 8, 8),
		pg_temp.tpl_item('freshness', 16, 0, 8, 8)))));

-- ---------------------------------------------------------------------
-- The Perses rules the API enforces on every other template, checked
-- here once so a typo in this file fails the migration instead of
-- shipping a dashboard Perses cannot open: every layout item is a $ref
-- to an existing panel, every panel is placed, panel keys follow the
-- name rule, variable names are unique.

DO $$
DECLARE
	problem	text;
BEGIN
	WITH t AS (
		SELECT id, dashboard AS s FROM dashboard_template WHERE is_system
	), refs AS (
		SELECT t.id, r #>> '{}' AS ref
		  FROM t, jsonb_path_query(t.s,
			'$.layouts[*].spec.items[*].content."$ref"') AS r
	), keys AS (
		SELECT t.id, k FROM t, jsonb_object_keys(t.s -> 'panels') AS k
	), vars AS (
		SELECT t.id, v #>> '{spec,name}' AS name
		  FROM t, jsonb_array_elements(t.s -> 'variables') AS v
	)
	SELECT string_agg(p, '; ') INTO problem FROM (
		SELECT format('%s: layout $ref %s names no panel', id, ref)
		  FROM refs
		 WHERE NOT EXISTS (SELECT 1 FROM keys
				    WHERE keys.id = refs.id
				      AND '#/spec/panels/' || keys.k = refs.ref)
		UNION ALL
		SELECT format('%s: panel %s is in no layout', id, k)
		  FROM keys
		 WHERE NOT EXISTS (SELECT 1 FROM refs
				    WHERE refs.id = keys.id
				      AND refs.ref = '#/spec/panels/' || keys.k)
		UNION ALL
		SELECT format('%s: panel key %s breaks the name rule', id, k)
		  FROM keys WHERE NOT perses_name_valid(k)
		UNION ALL
		SELECT format('%s: variable %s is not unique', id, name)
		  FROM vars GROUP BY id, name HAVING count(*) > 1
	) x(p);
	IF problem IS NOT NULL THEN
		RAISE EXCEPTION 'system templates are not valid Perses dashboards: %',
			problem;
	END IF;
END;
$$;

DROP FUNCTION pg_temp.tpl_spec(text, text, jsonb, jsonb, jsonb);
DROP FUNCTION pg_temp.tpl_grid(text, jsonb[]);
DROP FUNCTION pg_temp.tpl_item(text, int, int, int, int);
DROP FUNCTION pg_temp.tpl_var(text, text, text, text, boolean);
DROP FUNCTION pg_temp.tpl_stat(text, text, text, jsonb, jsonb);
DROP FUNCTION pg_temp.tpl_chart(text, text, text, jsonb, text);
DROP FUNCTION pg_temp.tpl_quantiles(text, text);
DROP FUNCTION pg_temp.tpl_query(text, text);
