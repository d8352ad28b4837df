-- 0023_slo_window_counts.down.sql -- reverts 0023_slo_window_counts.up.sql.
DROP FUNCTION sli_range_counts(bigint, timestamptz, timestamptz,
    timestamptz, timestamptz, timestamptz, timestamptz);
DROP FUNCTION sli_split(timestamptz, timestamptz);

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

-- CREATE OR REPLACE resets what 0019_db_roles set: it runs DDL for
-- the service, as its owner, with this schema as its search_path.
DO $$
BEGIN
	EXECUTE format('ALTER FUNCTION slo_partitions_ensure(interval, integer) '
	    'SECURITY DEFINER SET search_path = %I, pg_temp', current_schema());
END;
$$;

CREATE OR REPLACE FUNCTION sli_drop_points() RETURNS trigger
	LANGUAGE plpgsql
AS $$
BEGIN
	DELETE FROM sli_point WHERE sli IN (SELECT key FROM gone);
	DELETE FROM sli_hourly WHERE sli IN (SELECT key FROM gone);
	RETURN NULL;
END;
$$;

DROP TABLE sli_daily;
