-- 0005_partitions.down.sql -- reverts 0005_partitions.up.sql: the audit
-- functions get back their own bodies (as 0001 wrote them), then the
-- generic functions go.

CREATE OR REPLACE FUNCTION audit_ensure_partitions(months_ahead integer) RETURNS integer
	LANGUAGE plpgsql
AS $$
DECLARE
	nsp	text;
	month0	timestamp;
	lo	timestamptz;
	hi	timestamptz;
	part	text;
	created	integer := 0;
	r	record;
BEGIN
	IF months_ahead IS NULL OR months_ahead < 0 OR months_ahead > 120 THEN
		RAISE EXCEPTION 'audit_ensure_partitions: months_ahead must be 0..120, got %', months_ahead
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	-- Partitions live in audit_log's schema whatever the search_path.
	SELECT n.nspname INTO nsp
	  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	 WHERE c.oid = 'audit_log'::regclass;

	month0 := date_trunc('month', now() AT TIME ZONE 'UTC');
	FOR i IN 0 .. months_ahead LOOP
		lo := (month0 + make_interval(months => i)) AT TIME ZONE 'UTC';
		hi := (month0 + make_interval(months => i + 1)) AT TIME ZONE 'UTC';
		part := 'audit_log_' || to_char(month0 + make_interval(months => i), 'YYYY_MM');
		IF to_regclass(format('%I.%I', nsp, part)) IS NULL THEN
			EXECUTE format('CREATE TABLE %I.%I PARTITION OF audit_log FOR VALUES FROM (%L) TO (%L)',
			    nsp, part, lo, hi);
			EXECUTE format('COMMENT ON TABLE %I.%I IS %L', nsp, part,
			    'audit_log partition for ' || to_char(month0 + make_interval(months => i), 'YYYY-MM') || ' (UTC)');
			created := created + 1;
		END IF;
	END LOOP;

	FOR r IN
		SELECT c.oid::regclass AS rel
		  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		 WHERE i.inhparent = 'audit_log'::regclass
		   AND NOT EXISTS (SELECT 1 FROM pg_trigger t
				    WHERE t.tgrelid = c.oid
				      AND t.tgname = 'audit_log_no_truncate')
	LOOP
		EXECUTE format('CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON %s '
		    'FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse()', r.rel);
	END LOOP;

	-- Every guard, on the parent and on each partition, fires always.
	FOR r IN
		SELECT t.tgrelid::regclass AS rel, t.tgname
		  FROM pg_trigger t
		 WHERE t.tgname IN ('audit_log_no_update', 'audit_log_no_delete',
				    'audit_log_no_truncate')
		   AND t.tgenabled <> 'A'
		   AND (t.tgrelid = 'audit_log'::regclass
			OR t.tgrelid IN (SELECT inhrelid FROM pg_inherits
					  WHERE inhparent = 'audit_log'::regclass))
	LOOP
		EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER %I', r.rel, r.tgname);
	END LOOP;

	RETURN created;
END;
$$;

-- Retention: detach and drop every partition whose whole range lies
-- before cutoff (and in the past).  Dropping a partition bypasses the
-- row triggers; that is intended, it is the only way rows leave.
-- Returns the number of partitions dropped.
CREATE OR REPLACE FUNCTION audit_drop_partitions_before(cutoff timestamptz) RETURNS integer
	LANGUAGE plpgsql
AS $$
DECLARE
	r	record;
	dropped	integer := 0;
BEGIN
	IF cutoff IS NULL THEN
		RAISE EXCEPTION 'audit_drop_partitions_before: cutoff is NULL'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOR r IN
		SELECT b.rel, b.upper
		  FROM (SELECT c.oid::regclass AS rel,
			       substring(pg_get_expr(c.relpartbound, c.oid)
				   FROM $re$TO \('([^']+)'\)$re$)::timestamptz AS upper
			  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			 WHERE i.inhparent = 'audit_log'::regclass) b
		 WHERE b.upper IS NOT NULL
		   AND b.upper <= cutoff
		   AND b.upper <= now()
		 ORDER BY b.upper
	LOOP
		EXECUTE format('ALTER TABLE audit_log DETACH PARTITION %s', r.rel);
		EXECUTE format('DROP TABLE %s', r.rel);
		dropped := dropped + 1;
	END LOOP;
	RETURN dropped;
END;
$$;


DROP FUNCTION partition_drop_before(regclass, timestamptz);
DROP FUNCTION partition_ensure(regclass, integer, text);
