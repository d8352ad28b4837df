-- 0019_db_roles.down.sql -- reverts 0019_db_roles.up.sql: the service
-- roles granted by dashcgi_grant_service() lose what it gave them (the
-- grantees of the owner's default privileges here), the partition
-- functions get back 0005's bodies (CREATE OR REPLACE makes them
-- SECURITY INVOKER again, without a search_path, callable by anyone).
-- Ownership does not change; the tables' and those functions' ACLs
-- end as explicit defaults (owner only, EXECUTE for PUBLIC), which
-- grant what the NULL ACLs before 0019 did.

DO $$
DECLARE
	s	name := current_schema();
	g	record;
BEGIN
	FOR g IN
		SELECT DISTINCT pg_get_userbyid(a.grantee) AS role
		  FROM pg_default_acl d, aclexplode(d.defaclacl) a
		 WHERE d.defaclrole = (SELECT oid FROM pg_roles WHERE rolname = current_user)
		   AND d.defaclnamespace = (SELECT oid FROM pg_namespace WHERE nspname = s)
		   AND a.grantee <> 0
	LOOP
		EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I REVOKE ALL ON TABLES FROM %I', s, g.role);
		EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I REVOKE ALL ON SEQUENCES FROM %I', s, g.role);
		EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM %I', s, g.role);
		EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM %I', s, g.role);
	END LOOP;
END;
$$;

DROP FUNCTION dashcgi_grant_service(name);

CREATE OR REPLACE FUNCTION partition_ensure(parent regclass, ahead integer,
    unit text DEFAULT 'month') RETURNS integer
	LANGUAGE plpgsql
AS $$
DECLARE
	nsp	text;
	base	text;
	step	interval;
	fmt	text;
	t0	timestamp;
	lo	timestamp;
	part	text;
	created	integer := 0;
BEGIN
	IF unit = 'month' THEN
		step := interval '1 month'; fmt := 'YYYY_MM';
	ELSIF unit = 'day' THEN
		step := interval '1 day'; fmt := 'YYYY_MM_DD';
	ELSE
		RAISE EXCEPTION 'partition_ensure: unit must be month or day, got %', unit
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF ahead IS NULL OR ahead < 0 OR ahead > 400 THEN
		RAISE EXCEPTION 'partition_ensure: ahead must be 0..400, got %', ahead
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT n.nspname, c.relname INTO nsp, base
	  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	 WHERE c.oid = parent;
	t0 := date_trunc(unit, now() AT TIME ZONE 'UTC');
	FOR i IN 0 .. ahead LOOP
		lo := t0 + step * i;
		part := base || '_' || to_char(lo, fmt);
		IF to_regclass(format('%I.%I', nsp, part)) IS NULL THEN
			EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
			    nsp, part, parent, lo AT TIME ZONE 'UTC',
			    (lo + step) AT TIME ZONE 'UTC');
			EXECUTE format('COMMENT ON TABLE %I.%I IS %L', nsp, part,
			    base || ' partition for ' || to_char(lo, fmt) || ' (UTC)');
			created := created + 1;
		END IF;
	END LOOP;
	RETURN created;
END;
$$;

CREATE OR REPLACE FUNCTION partition_drop_before(parent regclass, cutoff timestamptz)
    RETURNS integer
	LANGUAGE plpgsql
AS $$
DECLARE
	r	record;
	dropped	integer := 0;
BEGIN
	IF cutoff IS NULL THEN
		RAISE EXCEPTION 'partition_drop_before: cutoff is NULL'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOR r IN
		SELECT b.rel, b.upper
		  FROM (SELECT c.oid::regclass AS rel,
			       substring(pg_get_expr(c.relpartbound, c.oid)
				   FROM $re$TO \('([^']+)'\)$re$)::timestamptz AS upper
			  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			 WHERE i.inhparent = parent) b
		 WHERE b.upper IS NOT NULL
		   AND b.upper <= cutoff
		   AND b.upper <= now()
		 ORDER BY b.upper
	LOOP
		EXECUTE format('ALTER TABLE %s DETACH PARTITION %s', parent, r.rel);
		EXECUTE format('DROP TABLE %s', r.rel);
		dropped := dropped + 1;
	END LOOP;
	RETURN dropped;
END;
$$;

CREATE OR REPLACE FUNCTION audit_ensure_partitions(months_ahead integer) RETURNS integer
	LANGUAGE plpgsql
AS $$
DECLARE
	created	integer;
	r	record;
BEGIN
	IF months_ahead IS NULL OR months_ahead < 0 OR months_ahead > 120 THEN
		RAISE EXCEPTION 'audit_ensure_partitions: months_ahead must be 0..120, got %', months_ahead
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	created := partition_ensure('audit_log', months_ahead, 'month');

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

CREATE OR REPLACE FUNCTION audit_drop_partitions_before(cutoff timestamptz) RETURNS integer
	LANGUAGE sql
AS $$ SELECT partition_drop_before('audit_log', cutoff) $$;

DROP FUNCTION partition_detach_drop(regclass, timestamptz);
DROP FUNCTION audit_guard_partitions();

DO $$
DECLARE
	f	text;
	g	record;
BEGIN
	FOREACH f IN ARRAY ARRAY[
	    'slo_partitions_ensure(interval, integer)',
	    'hub_event_partitions(integer)']
	LOOP
		IF to_regprocedure(f) IS NOT NULL THEN
			EXECUTE format('ALTER FUNCTION %s SECURITY INVOKER RESET search_path',
			    to_regprocedure(f));
		END IF;
	END LOOP;
	FOREACH f IN ARRAY ARRAY[
	    'partition_ensure(regclass, integer, text)',
	    'partition_drop_before(regclass, timestamptz)',
	    'audit_ensure_partitions(integer)',
	    'audit_drop_partitions_before(timestamptz)',
	    'slo_partitions_ensure(interval, integer)',
	    'hub_event_partitions(integer)']
	LOOP
		IF to_regprocedure(f) IS NOT NULL THEN
			FOR g IN
				SELECT DISTINCT pg_get_userbyid(a.grantee) AS role
				  FROM pg_proc p, aclexplode(p.proacl) a
				 WHERE p.oid = to_regprocedure(f)
				   AND a.grantee NOT IN (0, p.proowner)
			LOOP
				EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM %I',
				    to_regprocedure(f), g.role);
			END LOOP;
			EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO PUBLIC',
			    to_regprocedure(f));
		END IF;
	END LOOP;
END;
$$;
