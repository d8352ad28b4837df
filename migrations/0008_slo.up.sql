-- 0008_slo.up.sql -- SLOs (SPEC section 8): SLO documents per
-- project, their SLIs, 5-minute points partitioned by month with hourly
-- roll-ups kept beside them, and the arithmetic of budgets, burn rates,
-- alerts and statuses, all in PostgreSQL so a read is one statement.
--
-- Experiences and journeys are not tables: they are the distinct names
-- the SLOs of a project use.

-- ---------------------------------------------------------------------
-- Documents

CREATE TABLE slo (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	project		text COLLATE "C" NOT NULL
			REFERENCES project (name) ON DELETE CASCADE,
	name		text COLLATE "C" NOT NULL
			CONSTRAINT slo_name_valid CHECK (perses_name_valid(name)),
	-- The document's spec as the client sent it, with defaults filled;
	-- the columns below are copies of its members for querying.
	spec		jsonb NOT NULL
			CONSTRAINT slo_spec_object CHECK (jsonb_typeof(spec) = 'object'),
	experience	text NOT NULL CONSTRAINT slo_experience_nonempty
			CHECK (experience <> ''),
	journey		text NOT NULL CONSTRAINT slo_journey_nonempty
			CHECK (journey <> ''),
	target		double precision NOT NULL
			CONSTRAINT slo_target_range CHECK (target > 0 AND target < 1),
	slo_window	text NOT NULL CONSTRAINT slo_window_valid
			CHECK (slo_window IN ('7d', '28d', '30d', 'calendar-month',
			    'calendar-week')),
	version		integer NOT NULL DEFAULT 0,
	created_at	timestamptz NOT NULL DEFAULT now(),
	created_by	text NOT NULL,
	updated_at	timestamptz NOT NULL DEFAULT now(),
	updated_by	text NOT NULL,
	UNIQUE (project, name)
);
CREATE INDEX slo_hierarchy ON slo (project, experience, journey, name);

COMMENT ON TABLE slo IS
	'SLO documents (SPEC section 8); experiences and journeys are the names they use';

-- An SLI: key is what points refer to (a small, fixed-width primary key
-- for the largest table); (project, id) is what clients name.
CREATE TABLE sli (
	key		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	project		text COLLATE "C" NOT NULL,
	id		text COLLATE "C" NOT NULL
			CONSTRAINT sli_id_valid CHECK (id ~ '^[a-z0-9-]{1,75}$'),
	slo_id		bigint NOT NULL REFERENCES slo (id) ON DELETE CASCADE,
	ord		integer NOT NULL,
	display		jsonb NOT NULL DEFAULT '{}',
	UNIQUE (project, id)
);
CREATE INDEX sli_slo ON sli (slo_id, ord);

COMMENT ON TABLE sli IS
	'SLIs of the SLOs; ids unique per project; points refer to key';

-- ---------------------------------------------------------------------
-- Points and hourly roll-ups, partitioned by month (UTC)

CREATE TABLE sli_point (
	sli	bigint NOT NULL,
	t	timestamptz NOT NULL,
	good	bigint NOT NULL CONSTRAINT sli_point_good CHECK (good >= 0),
	bad	bigint NOT NULL CONSTRAINT sli_point_bad CHECK (bad >= 0),
	PRIMARY KEY (sli, t)
) PARTITION BY RANGE (t);

COMMENT ON TABLE sli_point IS
	'SLI data points aligned to slo.resolution; monthly partitions dropped past slo.raw_retention';

-- Kept by the statement that writes points (the same statement adds the
-- difference each written point makes to its hour).
CREATE TABLE sli_hourly (
	sli	bigint NOT NULL,
	t	timestamptz NOT NULL,
	good	bigint NOT NULL,
	bad	bigint NOT NULL,
	PRIMARY KEY (sli, t)
) PARTITION BY RANGE (t);

COMMENT ON TABLE sli_hourly IS
	'Hourly sums of sli_point; monthly partitions dropped past slo.rollup_retention';

-- No foreign key from the points to sli: checking one per point would
-- cost more than writing it.  Points go with their SLI here instead
-- (also when a project or an SLO is deleted: the cascades reach sli).
CREATE FUNCTION sli_drop_points() RETURNS trigger
	LANGUAGE plpgsql
AS $$
BEGIN
	DELETE FROM sli_point WHERE sli IN (SELECT key FROM gone);
	DELETE FROM sli_hourly WHERE sli IN (SELECT key FROM gone);
	RETURN NULL;
END;
$$;
CREATE TRIGGER sli_drop_points AFTER DELETE ON sli
	REFERENCING OLD TABLE AS gone
	FOR EACH STATEMENT EXECUTE FUNCTION sli_drop_points();

-- Month partitions of both tables from the month holding lo to ahead
-- months past now (partition_ensure of 0005 makes the months ahead; the
-- months behind hold points written late, back to slo.raw_retention).
-- Returns the number created.
CREATE FUNCTION slo_partitions_ensure(back interval, ahead integer)
    RETURNS integer
	LANGUAGE plpgsql
AS $$
DECLARE
	parent	text;
	m	timestamp;
	part	text;
	created	integer := 0;
BEGIN
	FOREACH parent IN ARRAY ARRAY['sli_point', 'sli_hourly'] LOOP
		created := created + partition_ensure(parent::regclass, ahead, 'month');
		m := date_trunc('month', (now() - back) AT TIME ZONE 'UTC');
		WHILE m < date_trunc('month', now() AT TIME ZONE 'UTC') LOOP
			part := parent || '_' || to_char(m, 'YYYY_MM');
			IF to_regclass(part) IS NULL THEN
				EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
				    part, parent, m AT TIME ZONE 'UTC',
				    (m + interval '1 month') AT TIME ZONE 'UTC');
				created := created + 1;
			END IF;
			m := m + interval '1 month';
		END LOOP;
	END LOOP;
	RETURN created;
END;
$$;

SELECT slo_partitions_ensure(interval '35 days', 2);

-- ---------------------------------------------------------------------
-- Arithmetic

-- The window of an SLO ending at e (exclusive): its start and its
-- length (a calendar window's whole period, for the alert factors).
CREATE FUNCTION slo_window_bounds(win text, e timestamptz,
    OUT lo timestamptz, OUT len interval)
	LANGUAGE sql STABLE PARALLEL SAFE
AS $$
	SELECT CASE win
		WHEN 'calendar-month' THEN date_trunc('month',
		    (e - interval '1 microsecond') AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
		WHEN 'calendar-week' THEN date_trunc('week',
		    (e - interval '1 microsecond') AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
		ELSE e - win::interval END,
	    CASE win
		WHEN 'calendar-month' THEN
		    (date_trunc('month', (e - interval '1 microsecond') AT TIME ZONE 'UTC')
		     + interval '1 month')
		    - date_trunc('month', (e - interval '1 microsecond') AT TIME ZONE 'UTC')
		WHEN 'calendar-week' THEN interval '7 days'
		ELSE win::interval END
$$;

-- good and bad of one SLI over [lo, hi): whole hours from the roll-ups,
-- the ragged ends from the points.  PL/pgSQL, not SQL: a SQL function
-- called from another is planned again on every call (PostgreSQL 15),
-- while PL/pgSQL keeps its plans for the session (the worker's).
CREATE FUNCTION sli_counts(k bigint, lo timestamptz, hi timestamptz,
    OUT good bigint, OUT bad bigint)
	LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
DECLARE
	h0	timestamptz := date_trunc('hour', lo, 'UTC');
	h1	timestamptz := date_trunc('hour', hi, 'UTC');
BEGIN
	IF h0 <> lo THEN
		h0 := h0 + interval '1 hour';
	END IF;
	IF h0 >= h1 THEN
		-- No whole hour inside: the points alone.
		SELECT coalesce(sum(p.good), 0), coalesce(sum(p.bad), 0)
		  INTO good, bad
		  FROM sli_point p WHERE p.sli = k AND p.t >= lo AND p.t < hi;
		RETURN;
	END IF;
	SELECT coalesce(sum(x.g), 0), coalesce(sum(x.b), 0) INTO good, bad
	  FROM (SELECT h.good, h.bad FROM sli_hourly h
		 WHERE h.sli = k AND h.t >= h0 AND h.t < h1
		UNION ALL
		SELECT p.good, p.bad FROM sli_point p
		 WHERE p.sli = k AND p.t >= lo AND p.t < h0
		UNION ALL
		SELECT p.good, p.bad FROM sli_point p
		 WHERE p.sli = k AND p.t >= h1 AND p.t < hi) x (g, b);
END;
$$;

-- The status bucket of a remaining budget (NULL: no events).
CREATE FUNCTION slo_status_of(remaining double precision) RETURNS text
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN CASE WHEN remaining IS NULL THEN 'no_data'
		WHEN remaining >= 0.70 THEN 'healthy'
		WHEN remaining >= 0.20 THEN 'at_risk'
		WHEN remaining > 0 THEN 'critical'
		ELSE 'breached' END;

-- Worse statuses rank higher; no_data ranks below healthy, so a journey
-- with data shows the state of that data.
CREATE FUNCTION slo_status_rank(status text) RETURNS integer
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN array_position(ARRAY['no_data', 'healthy', 'at_risk',
	    'critical', 'breached'], status);

-- Budget members for good and bad events over the window: nulls, never
-- NaN, when there were no events.  ref, when not NULL, is the number of
-- events the budget is a share of (calendar windows: see sli_eval()),
-- else the window's own events.
CREATE FUNCTION slo_budget(good bigint, bad bigint, target double precision,
    ref double precision DEFAULT NULL) RETURNS jsonb
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN CASE WHEN good + bad = 0 THEN jsonb_build_object(
		    'sli', NULL, 'good', good, 'bad', bad,
		    'errorBudget', jsonb_build_object('allowed', NULL,
			'spent', NULL, 'remaining', NULL),
		    'status', 'no_data')
		ELSE jsonb_build_object(
		    'sli', good::float8 / (good + bad), 'good', good, 'bad', bad,
		    'errorBudget', jsonb_build_object(
			'allowed', (1 - target) * coalesce(ref, good + bad),
			'spent', bad,
			'remaining', 1 - bad / ((1 - target)
			    * coalesce(ref, good + bad))),
		    'status', slo_status_of(1 - bad / ((1 - target)
			* coalesce(ref, good + bad))))
		END;

-- The burn-rate windows and the multiwindow alerts: share of the
-- budget that a long window may burn before the alert fires.
CREATE FUNCTION slo_alert_rules(OUT severity text, OUT long text,
    OUT short text, OUT share double precision)
	RETURNS SETOF record
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
	VALUES ('page', '1h', '5m', 0.02), ('page', '6h', '30m', 0.05),
	       ('ticket', '1d', '2h', 0.10), ('ticket', '3d', '6h', 0.10)
$$;

-- One SLI over its SLO's window ending at e: sli, good, bad,
-- errorBudget, status, and with detail the burn rates and alerts.
-- A window without events has a null rate; an alert fires only when
-- both its windows have a rate above the factor.
CREATE FUNCTION sli_eval(k bigint, target double precision, win text,
    e timestamptz, detail boolean) RETURNS jsonb
	LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
DECLARE
	w	record;
	c	record;
	r	record;
	rates	jsonb := '{}';
	alerts	jsonb := '[]';
	f	double precision;
	plo	timestamptz;
	ref	double precision;
BEGIN
	SELECT * INTO w FROM slo_window_bounds(win, e);
	SELECT * INTO c FROM sli_counts(k, w.lo, e);
	/*
	 * A calendar window's budget is a share of the events of the
	 * period before it (scaled to this period's length), fixed for the
	 * whole period: with no new bad events the remaining budget never
	 * rises, as it would if more good events grew the allowance.
	 * Without events in the period before: the period's own events.
	 */
	IF win IN ('calendar-month', 'calendar-week') THEN
		plo := CASE win WHEN 'calendar-month'
		    THEN (w.lo AT TIME ZONE 'UTC' - interval '1 month') AT TIME ZONE 'UTC'
		    ELSE w.lo - interval '7 days' END;
		SELECT * INTO r FROM sli_counts(k, plo, w.lo);
		IF r.good + r.bad > 0 THEN
			ref := (r.good + r.bad) * extract(epoch FROM w.len)
			    / extract(epoch FROM w.lo - plo);
		END IF;
	END IF;
	IF NOT detail THEN
		RETURN slo_budget(c.good, c.bad, target, ref);
	END IF;
	FOR r IN SELECT n, x.good, x.bad
		   FROM unnest(ARRAY['5m', '30m', '1h', '2h', '6h', '1d', '3d']) n,
			sli_counts(k, e - n::interval, e) x
	LOOP
		rates := rates || jsonb_build_object(r.n, CASE
		    WHEN r.good + r.bad = 0 THEN NULL
		    ELSE r.bad::float8 / (r.good + r.bad) / (1 - target) END);
	END LOOP;
	FOR r IN SELECT * FROM slo_alert_rules() LOOP
		f := r.share * extract(epoch FROM w.len)
		    / extract(epoch FROM r.long::interval);
		alerts := alerts || jsonb_build_array(jsonb_build_object(
		    'severity', r.severity, 'long', r.long, 'short', r.short,
		    'factor', f,
		    'firing', coalesce((rates ->> r.long)::float8 > f
			AND (rates ->> r.short)::float8 > f, false)));
	END LOOP;
	RETURN slo_budget(c.good, c.bad, target, ref)
	    || jsonb_build_object('burnRates', rates, 'alerts', alerts);
END;
$$;

-- The id and display of an SLI, as its SLO document lists it.
CREATE FUNCTION sli_ref(i sli) RETURNS jsonb
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN jsonb_build_object('id', i.id, 'display', i.display);

-- An SLO's status at e: each SLI evaluated, the SLO taking the figures
-- of its worst SLI (least budget left; no_data only when all are).
CREATE FUNCTION slo_eval(s slo, e timestamptz, detail boolean) RETURNS jsonb
	LANGUAGE sql STABLE PARALLEL SAFE
AS $$
	WITH ind AS (SELECT i.ord, sli_ref(i) || sli_eval(i.key, s.target,
			 s.slo_window, e, detail) AS j
		       FROM sli i WHERE i.slo_id = s.id),
	worst AS (SELECT j FROM ind
		  ORDER BY (j -> 'errorBudget' ->> 'remaining')::float8 NULLS LAST,
		      ord LIMIT 1)
	SELECT jsonb_build_object('slo', s.name, 'target', s.target,
		    'window', s.slo_window, 'evaluatedAt', rfc3339(e))
	    || coalesce((SELECT j - 'id' - 'display' FROM worst),
		slo_budget(0, 0, s.target))
	    || jsonb_build_object('indicators', coalesce((SELECT jsonb_agg(j
		ORDER BY ord) FROM ind), '[]'))
$$;

-- The end of every window: the step after the one that holds now, so a
-- window of n steps holds the current step and n - 1 before it.
CREATE FUNCTION slo_now(res interval) RETURNS timestamptz
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN to_timestamp(floor(extract(epoch FROM now())
	    / extract(epoch FROM res)) * extract(epoch FROM res))
	    + res;

-- The SLO document, as GET returns it.
CREATE FUNCTION slo_doc(s slo) RETURNS jsonb
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN jsonb_build_object(
		'kind', 'SLO',
		'metadata', jsonb_build_object(
			'name', s.name,
			'project', s.project,
			'version', s.version,
			'createdAt', rfc3339(s.created_at),
			'updatedAt', rfc3339(s.updated_at)),
		'spec', s.spec);

-- The spec as stored and returned: the members a client may send, with
-- their defaults (C has checked types and ranges).
CREATE FUNCTION slo_spec_norm(spec jsonb) RETURNS jsonb
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN jsonb_build_object(
		'experience', spec -> 'experience',
		'journey', spec -> 'journey',
		'display', coalesce(spec -> 'display', '{}'),
		'target', spec -> 'target',
		'window', spec -> 'window',
		'owner', coalesce(spec -> 'owner', '""'),
		'description', coalesce(spec -> 'description', '""'),
		'indicators', (SELECT jsonb_agg(jsonb_build_object('id', e -> 'id',
			'display', coalesce(e -> 'display', '{}')) ORDER BY o)
		    FROM jsonb_array_elements(spec -> 'indicators')
			 WITH ORDINALITY x (e, o)));

-- A journey's, an experience's or a project's roll-up of its SLOs'
-- statuses: the least healthy one and the count per status.
CREATE FUNCTION slo_rollup(sts text[]) RETURNS jsonb
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN jsonb_build_object(
		'status', coalesce((SELECT s FROM unnest(sts) s
			ORDER BY slo_status_rank(s) DESC LIMIT 1), 'no_data'),
		'counts', (SELECT jsonb_object_agg(k, (SELECT count(*)
			FROM unnest(sts) s WHERE s = k))
		    FROM unnest(ARRAY['healthy', 'at_risk', 'critical',
			'breached', 'no_data']) k));
