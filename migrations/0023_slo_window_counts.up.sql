-- 0023_slo_window_counts.up.sql -- daily roll-ups of the SLI points
-- beside the hourly ones, and the sums of one SLI over [lo, hi) as a
-- SQL function the planner inlines (issue 11: the seed API for a
-- whole fleet, ≤ 50 ms for 124 SLOs).  A 28-day window is then 27 daily rows, up to 46
-- hourly and 22 points per SLI instead of 672 hourly rows, and the
-- statement over the fleet is one plan instead of a PL/pgSQL call
-- (with its own plans) per SLI.

-- Kept by the statement that writes points, as sli_hourly is; the same
-- months, the same retention (slo.rollup_retention), so a sum over any
-- range the hours cover is the same from either.
CREATE TABLE sli_daily (
	sli	bigint NOT NULL,
	t	timestamptz NOT NULL,
	good	bigint NOT NULL,
	bad	bigint NOT NULL,
	PRIMARY KEY (sli, t)
) PARTITION BY RANGE (t);

COMMENT ON TABLE sli_daily IS
	'Daily (UTC) sums of sli_point; monthly partitions dropped past slo.rollup_retention';

-- The months of sli_hourly, for sli_daily too.
DO $$
DECLARE
	r	record;
BEGIN
	FOR r IN SELECT substr(c.relname, length('sli_hourly_') + 1) AS ym
		   FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		  WHERE i.inhparent = 'sli_hourly'::regclass LOOP
		EXECUTE format('CREATE TABLE %I PARTITION OF sli_daily FOR VALUES FROM (%L) TO (%L)',
		    'sli_daily_' || r.ym,
		    to_timestamp(r.ym, 'YYYY_MM')::timestamp AT TIME ZONE 'UTC',
		    (to_timestamp(r.ym, 'YYYY_MM')::timestamp + interval '1 month')
			AT TIME ZONE 'UTC');
	END LOOP;
END;
$$;

INSERT INTO sli_daily (sli, t, good, bad)
	SELECT sli, date_trunc('day', t, 'UTC'), sum(good), sum(bad)
	  FROM sli_hourly GROUP BY 1, 2;

CREATE OR REPLACE FUNCTION sli_drop_points() RETURNS trigger
	LANGUAGE plpgsql
AS $$
BEGIN
	DELETE FROM sli_point WHERE sli IN (SELECT key FROM gone);
	DELETE FROM sli_hourly WHERE sli IN (SELECT key FROM gone);
	DELETE FROM sli_daily WHERE sli IN (SELECT key FROM gone);
	RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION slo_partitions_ensure(back interval, ahead integer)
    RETURNS integer
	LANGUAGE plpgsql
AS $$
DECLARE
	parent	text;
	m	timestamp;
	part	text;
	created	integer := 0;
BEGIN
	FOREACH parent IN ARRAY ARRAY['sli_point', 'sli_hourly', 'sli_daily'] LOOP
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

-- CREATE OR REPLACE resets what 0019_db_roles set: it runs DDL for
-- the service, as its owner, with this schema as its search_path.
DO $$
BEGIN
	EXECUTE format('ALTER FUNCTION slo_partitions_ensure(interval, integer) '
	    'SECURITY DEFINER SET search_path = %I, pg_temp', current_schema());
END;
$$;

SELECT slo_partitions_ensure(interval '35 days', 2);

-- How sli_counts() of 0008 splits [lo, hi), with days: [lo, h0) and
-- [h1, hi) from the points, [h0, d0) and [d1, h1) from the hours,
-- [d0, d1) from the days (UTC).  No whole hour inside: the points
-- alone (h0 = d0 = d1 = h1 = hi); no whole day: the hours alone.
CREATE FUNCTION sli_split(lo timestamptz, hi timestamptz,
    OUT h0 timestamptz, OUT d0 timestamptz, OUT d1 timestamptz,
    OUT h1 timestamptz)
	LANGUAGE sql STABLE PARALLEL SAFE
AS $$
	SELECT a.h0, CASE WHEN a.d0 < a.d1 THEN a.d0 ELSE a.h1 END,
	       CASE WHEN a.d0 < a.d1 THEN a.d1 ELSE a.h1 END, a.h1
	  FROM (SELECT h.h0, h.h1,
		    CASE WHEN date_trunc('day', h.h0, 'UTC') = h.h0 THEN h.h0
		    ELSE date_trunc('day', h.h0, 'UTC') + interval '1 day' END AS d0,
		    date_trunc('day', h.h1, 'UTC') AS d1
		  FROM (SELECT CASE WHEN b.h0 < b.h1 THEN b.h0 ELSE hi END AS h0,
			       CASE WHEN b.h0 < b.h1 THEN b.h1 ELSE hi END AS h1
			  FROM (SELECT CASE WHEN date_trunc('hour', lo, 'UTC') = lo
				    THEN lo
				    ELSE date_trunc('hour', lo, 'UTC') + interval '1 hour' END,
				    date_trunc('hour', hi, 'UTC')) b (h0, h1)) h) a
$$;

-- good and bad of SLI k over [lo, hi) split by sli_split(): a single
-- SELECT returning a set, so a LATERAL call is inlined into the
-- caller's plan (sli_counts() is PL/pgSQL: a call and its plans per
-- SLI).  The bounds are plain arguments: computed once per window by
-- the caller, not once per scan and SLI.  lo NULL: 0, 0.
CREATE FUNCTION sli_range_counts(k bigint, lo timestamptz, h0 timestamptz,
    d0 timestamptz, d1 timestamptz, h1 timestamptz, hi timestamptz)
    RETURNS TABLE (good bigint, bad bigint)
	LANGUAGE sql STABLE PARALLEL SAFE
AS $$
	SELECT coalesce(sum(x.g), 0)::bigint, coalesce(sum(x.b), 0)::bigint
	  FROM (SELECT d.good, d.bad FROM sli_daily d
		 WHERE d.sli = k AND d.t >= d0 AND d.t < d1
		UNION ALL
		SELECT h.good, h.bad FROM sli_hourly h
		 WHERE h.sli = k AND h.t >= h0 AND h.t < d0
		UNION ALL
		SELECT h.good, h.bad FROM sli_hourly h
		 WHERE h.sli = k AND h.t >= d1 AND h.t < h1
		UNION ALL
		SELECT p.good, p.bad FROM sli_point p
		 WHERE p.sli = k AND p.t >= lo AND p.t < h0
		UNION ALL
		SELECT p.good, p.bad FROM sli_point p
		 WHERE p.sli = k AND p.t >= h1 AND p.t < hi) x (g, b)
$$;
