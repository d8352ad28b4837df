-- 0019_db_roles.up.sql -- two database roles: an owner and the service.
--
-- The owner (the role `dashcgi migrate` runs as: database.migrate_url)
-- owns the schema, every table and partition, and the functions that
-- create and drop partitions.  The service (the role the workers and
-- `dashcgi maintenance` log in as) gets what dashcgi_grant_service()
-- below grants it, which `migrate up` calls at the end of every run:
--   - SELECT, INSERT, UPDATE, DELETE on every table, and by default
--     privileges on every table the owner creates later (so the
--     migrations after this one need no GRANT of their own);
--   - on audit_log SELECT, and INSERT of every column but id and at:
--     the database numbers and dates each row, so the service cannot
--     write a back-dated one; nothing at all on its partitions (rows go
--     in through audit_log);
--   - schema_migrations read-only;
--   - no DDL: it owns nothing, so it cannot drop or disable a trigger,
--     create, detach or drop a partition, or drop a table.  Partition
--     maintenance goes through the SECURITY DEFINER functions below,
--     owned by the owner, with a fixed search_path; the audit log's
--     partitions only through audit_drop_partitions_before(), which
--     never drops one holding rows of the last 30 days.
-- A setup with one role (the service owns the schema, as the tests'
-- default and older installs do) keeps working: migrate grants nothing
-- when the service is the role it runs as.
--
-- For later migrations: a function the service calls that runs DDL
-- must be SECURITY DEFINER with SET search_path (see below), and a
-- CREATE OR REPLACE of one of these must restate both.

-- ---------------------------------------------------------------------
-- Partitions: made and dropped as the owner.

-- The audit log's own guards on every partition, and no privilege on a
-- partition for anyone but its owner: the TRUNCATE guard (statement
-- triggers are not cloned onto partitions), every guard firing always,
-- and the default privileges a new partition got revoked again.
CREATE FUNCTION audit_guard_partitions() RETURNS void
	LANGUAGE plpgsql
AS $$
DECLARE
	r	record;
BEGIN
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

	FOR r IN
		SELECT DISTINCT c.oid::regclass AS rel, a.grantee
		  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid,
		       aclexplode(c.relacl) a
		 WHERE i.inhparent = 'audit_log'::regclass
		   AND a.grantee <> c.relowner
	LOOP
		EXECUTE format('REVOKE ALL ON %s FROM %s', r.rel,
		    CASE WHEN r.grantee = 0 THEN 'PUBLIC'
			 ELSE quote_ident(pg_get_userbyid(r.grantee)) END);
	END LOOP;
END;
$$;

COMMENT ON FUNCTION audit_guard_partitions() IS
	'The audit log''s guards on every partition: the TRUNCATE trigger, every guard enabled always, no privilege for anyone but the owner';

-- 0005's partition_ensure, guarding what it made for the audit log.
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
	IF parent = 'audit_log'::regclass THEN
		PERFORM audit_guard_partitions();
	END IF;
	RETURN created;
END;
$$;

-- 0005's partition_drop_before, for the owner's functions only: the
-- service reaches it through partition_drop_before() (not the audit
-- log) and audit_drop_partitions_before() (not the last 30 days).
CREATE FUNCTION partition_detach_drop(parent regclass, cutoff timestamptz)
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

COMMENT ON FUNCTION partition_detach_drop(regclass, timestamptz) IS
	'Detach and drop the partitions of parent whose whole range is before cutoff; the owner''s, behind partition_drop_before and audit_drop_partitions_before';

CREATE OR REPLACE FUNCTION partition_drop_before(parent regclass, cutoff timestamptz)
    RETURNS integer
	LANGUAGE plpgsql
AS $$
BEGIN
	IF parent = 'audit_log'::regclass THEN
		RAISE EXCEPTION 'partition_drop_before: the audit log''s partitions go only through audit_drop_partitions_before()'
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	RETURN partition_detach_drop(parent, cutoff);
END;
$$;

-- Retention of the audit log: whole months, never one that may hold a
-- row of the last 30 days, whoever asks.
CREATE OR REPLACE FUNCTION audit_drop_partitions_before(cutoff timestamptz) RETURNS integer
	LANGUAGE plpgsql
AS $$
BEGIN
	IF cutoff > now() - interval '30 days' THEN
		RAISE EXCEPTION 'audit_drop_partitions_before: the cutoff % is less than 30 days ago; audit rows are kept at least 30 days', cutoff
			USING ERRCODE = 'insufficient_privilege',
			      HINT = 'audit.retention is 0 (forever) or at least 30d';
	END IF;
	RETURN partition_detach_drop('audit_log', cutoff);
END;
$$;

CREATE OR REPLACE FUNCTION audit_ensure_partitions(months_ahead integer) RETURNS integer
	LANGUAGE plpgsql
AS $$
BEGIN
	IF months_ahead IS NULL OR months_ahead < 0 OR months_ahead > 120 THEN
		RAISE EXCEPTION 'audit_ensure_partitions: months_ahead must be 0..120, got %', months_ahead
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- partition_ensure() guards the audit log's partitions.
	RETURN partition_ensure('audit_log', months_ahead, 'month');
END;
$$;

-- The functions that run DDL for the service run as their owner, with
-- this schema (then pg_temp, last) as their search_path; only the
-- service (granted below) and the owner may call them.
DO $$
DECLARE
	f	text;
BEGIN
	FOREACH f IN ARRAY ARRAY[
	    'partition_ensure(regclass, integer, text)',
	    'partition_drop_before(regclass, timestamptz)',
	    'audit_ensure_partitions(integer)',
	    'audit_drop_partitions_before(timestamptz)',
	    'audit_guard_partitions()',
	    'slo_partitions_ensure(interval, integer)',
	    'hub_event_partitions(integer)']
	LOOP
		IF to_regprocedure(f) IS NOT NULL THEN
			EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER SET search_path = %I, pg_temp',
			    to_regprocedure(f), current_schema());
			EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC',
			    to_regprocedure(f));
		END IF;
	END LOOP;
END;
$$;
REVOKE EXECUTE ON FUNCTION partition_detach_drop(regclass, timestamptz) FROM PUBLIC;

-- ---------------------------------------------------------------------
-- The service's privileges.  Called by `dashcgi migrate up` (as the
-- owner) after every run with the service's role, so it also covers
-- what later migrations add (audit_log columns included).  Idempotent.

CREATE FUNCTION dashcgi_grant_service(service name) RETURNS text
	LANGUAGE plpgsql
AS $$
DECLARE
	s	name := current_schema();
	cols	text;
	f	text;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = service) THEN
		RAISE EXCEPTION 'the service role "%" does not exist', service
			USING ERRCODE = 'undefined_object';
	END IF;
	IF service = current_user THEN
		RETURN 'single role';
	END IF;
	IF (SELECT rolsuper FROM pg_roles WHERE rolname = service) THEN
		RAISE EXCEPTION 'the service role "%" is a superuser: no privilege binds it', service
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF pg_has_role(service, current_user, 'MEMBER') THEN
		RAISE EXCEPTION 'the service role "%" is a member of the owner "%": it could do all the owner does', service, current_user
			USING ERRCODE = 'insufficient_privilege',
			      HINT = format('REVOKE %I FROM %I', current_user, service);
	END IF;
	IF pg_has_role(service, (SELECT nspowner FROM pg_namespace WHERE nspname = s), 'MEMBER') THEN
		RAISE EXCEPTION 'the service role "%" owns schema "%" (or the database): it could drop the schema with everything in it', service, s
			USING ERRCODE = 'insufficient_privilege',
			      HINT = format('ALTER DATABASE %I OWNER TO %I', current_database(), current_user);
	END IF;

	EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', s, service);
	EXECUTE format('REVOKE CREATE ON SCHEMA %I FROM PUBLIC', s);
	EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO %I', s, service);
	EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO %I', s, service);
	EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I', s, service);
	EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT ON SEQUENCES TO %I', s, service);

	EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON schema_migrations FROM %I', service);

	SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
	  FROM pg_attribute
	 WHERE attrelid = 'audit_log'::regclass AND attnum > 0
	   AND NOT attisdropped AND attname NOT IN ('id', 'at');
	EXECUTE format('REVOKE ALL ON audit_log FROM %I', service);
	EXECUTE format('GRANT SELECT, INSERT (%s) ON audit_log TO %I', cols, service);
	PERFORM audit_guard_partitions();

	FOREACH f IN ARRAY ARRAY[
	    'partition_ensure(regclass, integer, text)',
	    'partition_drop_before(regclass, timestamptz)',
	    'audit_ensure_partitions(integer)',
	    'audit_drop_partitions_before(timestamptz)',
	    'audit_guard_partitions()',
	    'slo_partitions_ensure(interval, integer)',
	    'hub_event_partitions(integer)']
	LOOP
		IF to_regprocedure(f) IS NOT NULL THEN
			EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I',
			    to_regprocedure(f), service);
		END IF;
	END LOOP;

	IF has_schema_privilege(service, s, 'CREATE') THEN
		RAISE EXCEPTION 'the service role "%" may still create objects in schema "%"', service, s
			USING ERRCODE = 'insufficient_privilege',
			      HINT = format('REVOKE CREATE ON SCHEMA %I FROM %I', s, service);
	END IF;
	RETURN 'granted';
END;
$$;

COMMENT ON FUNCTION dashcgi_grant_service(name) IS
	'The service role''s privileges (DML, INSERT-only audit log without id and at, read-only schema_migrations, partition maintenance through SECURITY DEFINER functions); run by dashcgi migrate up as the owner';
REVOKE EXECUTE ON FUNCTION dashcgi_grant_service(name) FROM PUBLIC;

SELECT audit_guard_partitions();
