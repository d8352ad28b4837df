-- 0009_monitors.up.sql -- uptime monitors (SPEC §9): monitors and
-- notification channels per project, the state changes (alert), the
-- raw check results by month and their minute, hour and day roll-ups.
--
-- Percentiles come from the roll-ups: each keeps a fixed log-bucket
-- histogram of latencies, an int[] of MONITOR_HIST_N counts.  Element k
-- (1-based) counts latencies in bucket b = k - 1: b = 0 is under 1 ms,
-- b >= 1 is [2^((b-1)/4), 2^(b/4)) ms, the last bucket open above.  A
-- quantile is the geometric middle of the bucket holding its rank,
-- clamped to the window's min and max, so it is within a factor
-- 2^(1/8) (9 %) of the exact nearest-rank value.  The same bucket
-- function serves the checker (through monitor_record) and any SQL
-- that generates data, so nothing else computes a bucket.
--
-- Every foreign key has an index that starts with its columns.

-- ---------------------------------------------------------------------
-- Notification channels

CREATE TABLE notification_channel (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	project		text COLLATE "C" NOT NULL REFERENCES project (name) ON DELETE CASCADE,
	name		text COLLATE "C" NOT NULL CHECK (perses_name_valid(name)),
	type		text NOT NULL CHECK (type IN ('webhook', 'slack')),
	url		text NOT NULL CHECK (url ~ '^https?://'),
	-- Write-only values: only header names are ever returned.
	headers		jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(headers) = 'object'),
	secret		text,
	version		integer NOT NULL DEFAULT 0,
	created_at	timestamptz NOT NULL DEFAULT now(),
	created_by	text NOT NULL,
	updated_at	timestamptz NOT NULL DEFAULT now(),
	updated_by	text NOT NULL,
	UNIQUE (project, name)
);

COMMENT ON TABLE notification_channel IS
	'Where monitor state changes and incidents are sent; secret and header values are write-only';

-- The document the API returns: never the secret, never header values.
CREATE FUNCTION channel_doc(c notification_channel) RETURNS jsonb
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN jsonb_build_object(
		'kind', 'NotificationChannel',
		'metadata', jsonb_build_object(
			'name', c.name,
			'project', c.project,
			'version', c.version,
			'createdAt', rfc3339(c.created_at),
			'updatedAt', rfc3339(c.updated_at)),
		'spec', jsonb_build_object(
			'type', c.type,
			'url', c.url,
			-- Names only: a value sent back as null keeps
			-- the stored one.
			'headers', coalesce((SELECT jsonb_object_agg(k, NULL)
			    FROM jsonb_object_keys(c.headers) k), '{}'),
			'secretSet', c.secret IS NOT NULL AND c.secret <> ''));

-- ---------------------------------------------------------------------
-- Monitors

CREATE TABLE monitor (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	project		text COLLATE "C" NOT NULL REFERENCES project (name) ON DELETE CASCADE,
	name		text COLLATE "C" NOT NULL CHECK (perses_name_valid(name)),
	-- The document's spec as the API normalised it (defaults filled).
	spec		jsonb NOT NULL CHECK (jsonb_typeof(spec) = 'object'),
	every		interval NOT NULL CHECK (every > interval '0'),
	paused		boolean NOT NULL DEFAULT false,
	version		integer NOT NULL DEFAULT 0,
	created_at	timestamptz NOT NULL DEFAULT now(),
	created_by	text NOT NULL,
	updated_at	timestamptz NOT NULL DEFAULT now(),
	updated_by	text NOT NULL,
	-- The schedule: the next check is due at next_due; the checker
	-- that claims it moves next_due on by every in the same statement.
	next_due	timestamptz NOT NULL DEFAULT now(),
	-- The state machine (monitor_record).
	state		text NOT NULL DEFAULT 'pending'
			    CHECK (state IN ('pending', 'up', 'down')),
	state_since	timestamptz NOT NULL DEFAULT now(),
	last_check	timestamptz,
	fail_streak	integer NOT NULL DEFAULT 0,
	ok_streak	integer NOT NULL DEFAULT 0,
	-- Running totals since the monitor began (see the roll-ups' base
	-- columns): checks, successes and the latency histogram.
	total_checks	bigint NOT NULL DEFAULT 0,
	total_ok	bigint NOT NULL DEFAULT 0,
	total_hist	bigint[] NOT NULL DEFAULT array_fill(0::bigint, ARRAY[64]),
	UNIQUE (project, name)
);

-- What the checkers scan: due, not paused.
CREATE INDEX monitor_due ON monitor (next_due) WHERE NOT paused;

COMMENT ON TABLE monitor IS
	'Uptime monitors (SPEC 9): the Monitor document, its schedule and its state';

CREATE FUNCTION rfc3339_ms(t timestamptz) RETURNS text
	LANGUAGE sql STABLE STRICT PARALLEL SAFE
	RETURN to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');

CREATE FUNCTION monitor_status(m monitor) RETURNS jsonb
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN jsonb_build_object(
		'state', CASE WHEN m.paused THEN 'paused' ELSE m.state END,
		'since', rfc3339(m.state_since),
		'lastCheck', rfc3339(m.last_check));

CREATE FUNCTION monitor_doc(m monitor) RETURNS jsonb
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN jsonb_build_object(
		'kind', 'Monitor',
		'metadata', jsonb_build_object(
			'name', m.name,
			'project', m.project,
			'version', m.version,
			'createdAt', rfc3339(m.created_at),
			'updatedAt', rfc3339(m.updated_at)),
		'spec', m.spec,
		'status', monitor_status(m));

-- A monitor's channels, kept beside spec.channels so that a channel in
-- use cannot be deleted (RESTRICT) and a project's deletion takes both.
CREATE TABLE monitor_channel (
	monitor_id	bigint NOT NULL REFERENCES monitor (id) ON DELETE CASCADE,
	channel_id	bigint NOT NULL REFERENCES notification_channel (id) ON DELETE RESTRICT,
	PRIMARY KEY (monitor_id, channel_id)
);
CREATE INDEX monitor_channel_channel ON monitor_channel (channel_id);

-- ---------------------------------------------------------------------
-- State changes (the seed's alerts).  A hub picks up the rows it has
-- not processed (processed_at IS NULL) and raises or resolves the
-- incident with dedup key monitor:<project>/<name>.

CREATE TABLE alert (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	project		text COLLATE "C" NOT NULL REFERENCES project (name) ON DELETE CASCADE,
	monitor_id	bigint NOT NULL REFERENCES monitor (id) ON DELETE CASCADE,
	monitor		text COLLATE "C" NOT NULL,
	at		timestamptz NOT NULL DEFAULT now(),
	from_state	text NOT NULL,
	to_state	text NOT NULL CHECK (to_state IN ('up', 'down')),
	error		text,
	message		text,
	processed_at	timestamptz
);
CREATE INDEX alert_project_at ON alert (project, at DESC);
CREATE INDEX alert_monitor_at ON alert (monitor_id, at DESC);
CREATE INDEX alert_unprocessed ON alert (id) WHERE processed_at IS NULL;

CREATE FUNCTION alert_doc(a alert) RETURNS jsonb
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN jsonb_build_object(
		'id', a.id,
		'monitor', a.monitor,
		'at', rfc3339_ms(a.at),
		'from', a.from_state,
		'to', a.to_state,
		'error', a.error,
		'message', a.message,
		'dedupKey', 'monitor:' || a.project || '/' || a.monitor);

-- ---------------------------------------------------------------------
-- Raw results, by month; maintenance drops months past
-- monitors.retention.

CREATE TABLE check_result (
	monitor_id	bigint NOT NULL REFERENCES monitor (id) ON DELETE CASCADE,
	at		timestamptz NOT NULL,
	due		timestamptz,		-- NULL: a check run on demand
	location	text NOT NULL,
	ok		boolean NOT NULL,
	status_code	smallint,
	latency_ms	real,			-- total
	dns_ms		real,
	connect_ms	real,
	tls_ms		real,
	first_byte_ms	real,
	error		text CHECK (error IN ('timeout', 'dns', 'connect', 'tls',
			    'status', 'body', 'latency', 'blocked_address')),
	message		text,
	tls_expires_at	timestamptz
) PARTITION BY RANGE (at);
CREATE INDEX check_result_monitor_at ON check_result (monitor_id, at DESC);

CREATE FUNCTION check_result_doc(c check_result) RETURNS jsonb
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN jsonb_strip_nulls(jsonb_build_object(
		'at', rfc3339_ms(c.at),
		'due', rfc3339_ms(c.due),
		'location', c.location,
		'ok', c.ok,
		'statusCode', c.status_code,
		'latencyMs', c.latency_ms,
		'timings', jsonb_build_object('dnsMs', c.dns_ms,
		    'connectMs', c.connect_ms, 'tlsMs', c.tls_ms,
		    'firstByteMs', c.first_byte_ms, 'totalMs', c.latency_ms),
		'error', c.error,
		'message', c.message,
		'tlsExpiresAt', rfc3339(c.tls_expires_at)));

-- ---------------------------------------------------------------------
-- Roll-ups: minute rows by day partitions (kept 2 days), hour and day
-- rows kept 400 days (small: one row per monitor and hour or day).

CREATE FUNCTION monitor_hist_n() RETURNS integer
	LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN 64;

-- The 1-based histogram element of a latency in ms.
CREATE FUNCTION monitor_hist_bucket(ms double precision) RETURNS integer
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	RETURN CASE WHEN ms < 1 THEN 1
		ELSE least(monitor_hist_n(), 2 + floor(4 * log(2, ms::numeric))::integer) END;

-- A histogram with one count in element k.
CREATE FUNCTION monitor_hist_one(k integer) RETURNS integer[]
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	RETURN array_fill(0, ARRAY[k - 1]) || 1 || array_fill(0, ARRAY[monitor_hist_n() - k]);

-- Quantile q of a histogram (NULL when empty), clamped to [lo, hi].
CREATE FUNCTION monitor_hist_quantile(h bigint[], q double precision,
    lo double precision, hi double precision) RETURNS double precision
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
	SELECT round(least(greatest(CASE WHEN s.k = 1 THEN 0.5
		ELSE power(2, (s.k - 1.5) / 4.0) END, coalesce(lo, 0)),
		coalesce(hi, 'infinity'))::numeric, 3)::double precision
	  FROM (SELECT u.k, sum(u.c) OVER (ORDER BY u.k) AS cum,
		       sum(u.c) OVER () AS tot
		  FROM unnest(h) WITH ORDINALITY AS u(c, k)) s
	 WHERE s.tot > 0 AND s.cum >= ceil(q * s.tot)
	 ORDER BY s.k LIMIT 1
$$;

CREATE TABLE monitor_rollup_minute (
	monitor_id	bigint NOT NULL REFERENCES monitor (id) ON DELETE CASCADE,
	bucket		timestamptz NOT NULL,
	checks		integer NOT NULL,
	ok		integer NOT NULL,
	lat_count	integer NOT NULL,	-- checks with a response time
	lat_sum		double precision NOT NULL,
	lat_min		real,
	lat_max		real,
	hist		integer[] NOT NULL,
	PRIMARY KEY (monitor_id, bucket)
) PARTITION BY RANGE (bucket);

CREATE TABLE monitor_rollup_hour (
	monitor_id	bigint NOT NULL REFERENCES monitor (id) ON DELETE CASCADE,
	bucket		timestamptz NOT NULL,
	checks		integer NOT NULL,
	ok		integer NOT NULL,
	lat_count	integer NOT NULL,
	lat_sum		double precision NOT NULL,
	lat_min		real,
	lat_max		real,
	hist		integer[] NOT NULL,
	-- The monitor's totals before this bucket's first check: a window
	-- from this bucket on is total - base, one row read per monitor
	-- (the status page reads 3 rows a monitor, not 24 + 90).
	base_checks	bigint NOT NULL DEFAULT 0,
	base_ok		bigint NOT NULL DEFAULT 0,
	base_hist	bigint[] NOT NULL DEFAULT array_fill(0::bigint, ARRAY[64]),
	PRIMARY KEY (monitor_id, bucket)
);

CREATE TABLE monitor_rollup_day (
	monitor_id	bigint NOT NULL REFERENCES monitor (id) ON DELETE CASCADE,
	bucket		timestamptz NOT NULL,
	checks		integer NOT NULL,
	ok		integer NOT NULL,
	lat_count	integer NOT NULL,
	lat_sum		double precision NOT NULL,
	lat_min		real,
	lat_max		real,
	hist		integer[] NOT NULL,
	base_checks	bigint NOT NULL DEFAULT 0,
	base_ok		bigint NOT NULL DEFAULT 0,
	base_hist	bigint[] NOT NULL DEFAULT array_fill(0::bigint, ARRAY[64]),
	PRIMARY KEY (monitor_id, bucket)
);

-- Percentiles over many roll-up rows need the element-wise sum of
-- their histograms.  One sum() per element in one pass is far faster
-- than unnesting every array, so the function is written out here for
-- monitor_hist_n() elements.
DO $$
DECLARE
	sums	text;
BEGIN
	SELECT string_agg(format('sum(r.hist[%s])', i), ', ' ORDER BY i)
	  INTO sums FROM generate_series(1, monitor_hist_n()) i;
	EXECUTE format($f$
	CREATE FUNCTION monitor_window(ids bigint[], res text, since timestamptz)
	    RETURNS TABLE (monitor_id bigint, checks bigint, ok bigint,
			   lat_count bigint, lat_sum double precision,
			   lat_min real, lat_max real, hist bigint[])
		LANGUAGE sql STABLE PARALLEL SAFE
	AS 'SELECT r.monitor_id, sum(r.checks), sum(r.ok), sum(r.lat_count),
		   sum(r.lat_sum), min(r.lat_min), max(r.lat_max), ARRAY[%s]
	      FROM monitor_rollup_hour r
	     WHERE res = ''hour'' AND r.monitor_id = ANY (ids) AND r.bucket >= since
	     GROUP BY r.monitor_id
	    UNION ALL
	    SELECT r.monitor_id, sum(r.checks), sum(r.ok), sum(r.lat_count),
		   sum(r.lat_sum), min(r.lat_min), max(r.lat_max), ARRAY[%s]
	      FROM monitor_rollup_day r
	     WHERE res = ''day'' AND r.monitor_id = ANY (ids) AND r.bucket >= since
	     GROUP BY r.monitor_id'
	$f$, sums, sums);
END;
$$;

COMMENT ON FUNCTION monitor_window(bigint[], text, timestamptz) IS
	'Per monitor: checks, ok, latency sums and the summed histogram of the hour or day roll-ups since a time';

-- A window's summary as the API shows it.
CREATE FUNCTION monitor_window_doc(checks bigint, ok bigint, lat_min real,
    lat_max real, hist bigint[]) RETURNS jsonb
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN jsonb_build_object(
		'uptime', CASE WHEN coalesce(checks, 0) > 0
		    THEN round(ok::numeric / checks, 6) END,
		'checks', coalesce(checks, 0),
		'latency', jsonb_build_object(
			'p50', monitor_hist_quantile(hist, 0.50, lat_min, lat_max),
			'p95', monitor_hist_quantile(hist, 0.95, lat_min, lat_max),
			'p99', monitor_hist_quantile(hist, 0.99, lat_min, lat_max)));

-- Quantile q of the histogram a - b (totals less a base), NULL when
-- empty; the middle of the bucket, unclamped.  plpgsql: a loop over 64
-- elements is cheaper than a query per call (the status page makes one
-- call per monitor).
CREATE FUNCTION monitor_hist_quantile_diff(a bigint[], b bigint[],
    q double precision) RETURNS double precision
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
	tot	bigint := 0;
	cum	bigint := 0;
	rank	double precision;
BEGIN
	IF a IS NULL THEN
		RETURN NULL;
	END IF;
	FOR i IN 1 .. array_length(a, 1) LOOP
		tot := tot + a[i] - coalesce(b[i], 0);
	END LOOP;
	IF tot <= 0 THEN
		RETURN NULL;
	END IF;
	rank := ceil(q * tot);
	FOR i IN 1 .. array_length(a, 1) LOOP
		cum := cum + a[i] - coalesce(b[i], 0);
		IF cum >= rank THEN
			RETURN round((CASE WHEN i = 1 THEN 0.5
			    ELSE power(2, (i - 1.5) / 4.0) END)::numeric, 3);
		END IF;
	END LOOP;
	RETURN NULL;
END;
$$;

-- Recompute a monitor's totals and its hour and day roll-ups' bases
-- from the roll-ups themselves (base = total - what this bucket and
-- later ones hold): for roll-ups written other than by monitor_record
-- (generated data, a repair).  Returns the rows rebased.
CREATE FUNCTION monitor_rollup_rebase(p_monitor bigint) RETURNS integer
	LANGUAGE plpgsql
AS $$
DECLARE
	n	integer;
	d	integer;
	t	record;
	tbl	text;
BEGIN
	SELECT coalesce(sum(checks), 0) AS c, coalesce(sum(ok), 0) AS o,
	       coalesce((SELECT array_agg(s ORDER BY k) FROM (SELECT k,
		   sum(r.hist[k])::bigint AS s FROM monitor_rollup_day r,
		   generate_series(1, monitor_hist_n()) k
		   WHERE r.monitor_id = p_monitor GROUP BY k) x),
		   array_fill(0::bigint, ARRAY[monitor_hist_n()])) AS h
	  INTO t FROM monitor_rollup_day WHERE monitor_id = p_monitor;
	UPDATE monitor SET total_checks = t.c, total_ok = t.o, total_hist = t.h
	 WHERE id = p_monitor;
	n := 0;
	FOREACH tbl IN ARRAY ARRAY['monitor_rollup_hour', 'monitor_rollup_day'] LOOP
		-- Suffix sums (this bucket and later) by window functions:
		-- one pass, however many rows.
		EXECUTE format($q$
		WITH u AS (SELECT r.bucket, x.k, x.c FROM %1$I r,
			unnest(r.hist) WITH ORDINALITY AS x(c, k)
		      WHERE r.monitor_id = $1),
		sfx AS (SELECT u.bucket, u.k,
			sum(u.c) OVER (PARTITION BY u.k ORDER BY u.bucket DESC) AS s
		      FROM u),
		agg AS (SELECT sfx.bucket, array_agg(($4::bigint[])[sfx.k] - sfx.s
			ORDER BY sfx.k) AS bh FROM sfx GROUP BY sfx.bucket),
		cs AS (SELECT r.bucket, sum(r.checks) OVER w AS c,
			sum(r.ok) OVER w AS o FROM %1$I r WHERE r.monitor_id = $1
		      WINDOW w AS (ORDER BY r.bucket DESC))
		UPDATE %1$I r SET base_checks = $2 - cs.c, base_ok = $3 - cs.o,
		    base_hist = agg.bh
		  FROM cs JOIN agg ON agg.bucket = cs.bucket
		 WHERE r.monitor_id = $1 AND r.bucket = cs.bucket
		$q$, tbl) USING p_monitor, t.c, t.o, t.h;
		GET DIAGNOSTICS d = ROW_COUNT;
		n := n + d;
	END LOOP;
	RETURN n;
END;
$$;

-- ---------------------------------------------------------------------
-- One result: the raw row, the three roll-ups and the state machine,
-- in the caller's transaction (one statement).  Returns the result
-- document with the state change, or NULL when the monitor is gone.

CREATE FUNCTION monitor_record(p_monitor bigint, p_at timestamptz,
    p_due timestamptz, p_location text, p_ok boolean, p_status integer,
    p_total real, p_dns real, p_connect real, p_tls real, p_first_byte real,
    p_error text, p_message text, p_tls_expires timestamptz)
    RETURNS jsonb
	LANGUAGE plpgsql
AS $$
DECLARE
	m	monitor;
	r	check_result;
	k	integer;
	lat	real;
	okn	integer := CASE WHEN p_ok THEN 1 ELSE 0 END;
	latn	integer;
	fth	integer;
	sth	integer;
	st	text;
	changed	boolean := false;
BEGIN
	SELECT * INTO m FROM monitor WHERE id = p_monitor FOR UPDATE;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	INSERT INTO check_result VALUES (p_monitor, p_at, p_due, p_location,
	    p_ok, p_status, p_total, p_dns, p_connect, p_tls, p_first_byte,
	    p_error, p_message, p_tls_expires) RETURNING * INTO r;

	-- A response time counts when the server answered.
	lat := CASE WHEN p_status IS NOT NULL THEN p_total END;
	latn := CASE WHEN lat IS NOT NULL THEN 1 ELSE 0 END;
	k := coalesce(monitor_hist_bucket(lat), 1);
	INSERT INTO monitor_rollup_minute AS x VALUES (p_monitor,
	    date_trunc('minute', p_at, 'UTC'), 1, okn, latn, coalesce(lat, 0),
	    lat, lat, CASE WHEN latn = 1 THEN monitor_hist_one(k)
	    ELSE array_fill(0, ARRAY[monitor_hist_n()]) END)
	ON CONFLICT (monitor_id, bucket) DO UPDATE SET checks = x.checks + 1,
	    ok = x.ok + okn, lat_count = x.lat_count + latn,
	    lat_sum = x.lat_sum + coalesce(lat, 0),
	    lat_min = least(x.lat_min, lat), lat_max = greatest(x.lat_max, lat),
	    hist[k] = x.hist[k] + latn;
	INSERT INTO monitor_rollup_hour AS x VALUES (p_monitor,
	    date_trunc('hour', p_at, 'UTC'), 1, okn, latn, coalesce(lat, 0),
	    lat, lat, CASE WHEN latn = 1 THEN monitor_hist_one(k)
	    ELSE array_fill(0, ARRAY[monitor_hist_n()]) END,
	    m.total_checks, m.total_ok, m.total_hist)
	ON CONFLICT (monitor_id, bucket) DO UPDATE SET checks = x.checks + 1,
	    ok = x.ok + okn, lat_count = x.lat_count + latn,
	    lat_sum = x.lat_sum + coalesce(lat, 0),
	    lat_min = least(x.lat_min, lat), lat_max = greatest(x.lat_max, lat),
	    hist[k] = x.hist[k] + latn;
	INSERT INTO monitor_rollup_day AS x VALUES (p_monitor,
	    date_trunc('day', p_at, 'UTC'), 1, okn, latn, coalesce(lat, 0),
	    lat, lat, CASE WHEN latn = 1 THEN monitor_hist_one(k)
	    ELSE array_fill(0, ARRAY[monitor_hist_n()]) END,
	    m.total_checks, m.total_ok, m.total_hist)
	ON CONFLICT (monitor_id, bucket) DO UPDATE SET checks = x.checks + 1,
	    ok = x.ok + okn, lat_count = x.lat_count + latn,
	    lat_sum = x.lat_sum + coalesce(lat, 0),
	    lat_min = least(x.lat_min, lat), lat_max = greatest(x.lat_max, lat),
	    hist[k] = x.hist[k] + latn;

	-- The state machine: failureThreshold consecutive failures take a
	-- monitor down, successThreshold consecutive successes bring it
	-- up; a new monitor (pending) goes whichever way comes first.
	fth := coalesce((m.spec ->> 'failureThreshold')::integer, 3);
	sth := coalesce((m.spec ->> 'successThreshold')::integer, 1);
	IF p_ok THEN
		m.ok_streak := m.ok_streak + 1;
		m.fail_streak := 0;
	ELSE
		m.fail_streak := m.fail_streak + 1;
		m.ok_streak := 0;
	END IF;
	st := m.state;
	IF m.state <> 'up' AND m.ok_streak >= sth THEN
		st := 'up';
	ELSIF m.state <> 'down' AND m.fail_streak >= fth THEN
		st := 'down';
	END IF;
	IF st <> m.state THEN
		changed := true;
		INSERT INTO alert (project, monitor_id, monitor, at, from_state,
		    to_state, error, message)
		VALUES (m.project, m.id, m.name, p_at, m.state, st, p_error,
		    CASE WHEN st = 'down' THEN format('%s is down after %s consecutive failures: %s',
			m.name, m.fail_streak, coalesce(p_message, p_error))
		    ELSE format('%s is up after %s consecutive successes',
			m.name, m.ok_streak) END);
	END IF;
	UPDATE monitor SET state = st,
	    state_since = CASE WHEN changed THEN p_at ELSE state_since END,
	    last_check = greatest(last_check, p_at),
	    ok_streak = m.ok_streak, fail_streak = m.fail_streak,
	    total_checks = total_checks + 1, total_ok = total_ok + okn,
	    total_hist[k] = total_hist[k] + latn
	WHERE id = p_monitor;
	RETURN check_result_doc(r) || jsonb_build_object('state', st,
	    'stateChanged', changed);
END;
$$;

COMMENT ON FUNCTION monitor_record(bigint, timestamptz, timestamptz, text,
    boolean, integer, real, real, real, real, real, text, text, timestamptz) IS
	'One check result: the raw row, the minute/hour/day roll-ups and the state machine with its alert row';

-- Roll-up retention (maintenance): minute roll-ups serve the last day
-- and go by whole day partitions after 2 days; hour and day roll-ups
-- are kept 400 days (one small day's worth of rows goes each day).
CREATE FUNCTION monitor_rollup_retention() RETURNS integer
	LANGUAGE sql
AS $$
	WITH h AS (DELETE FROM monitor_rollup_hour
		    WHERE bucket < now() - interval '400 days' RETURNING 1),
	     d AS (DELETE FROM monitor_rollup_day
		    WHERE bucket < now() - interval '400 days' RETURNING 1)
	SELECT partition_drop_before('monitor_rollup_minute', now() - interval '2 days')
	    + (SELECT count(*) FROM h)::integer + (SELECT count(*) FROM d)::integer
$$;

-- Partitions: results by month, minute roll-ups by day.
SELECT partition_ensure('check_result', 1, 'month');
SELECT partition_ensure('monitor_rollup_minute', 2, 'day');
