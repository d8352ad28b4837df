-- 0001_init.up.sql -- the dashcgi data model (SPEC §5).
--
-- Applied by "dashcgi migrate up" inside one transaction together with
-- its schema_migrations row; the migrator creates schema_migrations
-- itself.  Nothing here may use a statement that cannot run inside a
-- transaction block (CREATE INDEX CONCURRENTLY, VACUUM, ...).
--
-- Conventions: names of projects, dashboards and templates follow the
-- Perses rule (perses_name_valid) and are COLLATE "C": they are ASCII,
-- byte order sorts them predictably and lets btree indexes serve LIKE
-- prefixes.  Timestamps are timestamptz.  Every *_by column holds the
-- acting user as the API saw it (REMOTE_USER, "anonymous"), or "system"
-- for rows written by migrations and maintenance.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- The Perses name rule, in one place: 1-75 characters of
-- [a-zA-Z0-9_.-], no "..", not starting or ending with ".".  The API
-- validates first (to answer 400 with a Perses message); this is the
-- database's own guard so no other writer can store a bad name.
CREATE FUNCTION perses_name_valid(n text) RETURNS boolean
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	RETURN n ~ '^[a-zA-Z0-9_.-]{1,75}$'
	    AND strpos(n, '..') = 0
	    AND left(n, 1) <> '.'
	    AND right(n, 1) <> '.';

COMMENT ON FUNCTION perses_name_valid(text) IS
	'Perses metadata.name rule: 1-75 chars of [a-zA-Z0-9_.-], no "..", no leading or trailing "."';

-- ---------------------------------------------------------------------
-- Projects and members

CREATE TABLE project (
	name		text COLLATE "C" PRIMARY KEY
			CONSTRAINT project_name_valid CHECK (perses_name_valid(name)),
	display		jsonb NOT NULL DEFAULT '{}'
			CONSTRAINT project_display_object CHECK (jsonb_typeof(display) = 'object'),
	created_at	timestamptz NOT NULL DEFAULT now(),
	created_by	text NOT NULL,
	updated_at	timestamptz NOT NULL DEFAULT now(),
	updated_by	text NOT NULL
);

COMMENT ON TABLE project IS
	'Perses projects; display is the Perses spec.display object ({"name","description"})';

CREATE TABLE project_member (
	project		text COLLATE "C" NOT NULL REFERENCES project (name) ON DELETE CASCADE,
	user_name	text NOT NULL
			CONSTRAINT project_member_user_nonempty CHECK (user_name <> ''),
	role		text NOT NULL
			CONSTRAINT project_member_role_valid
			CHECK (role IN ('viewer', 'editor', 'admin')),
	created_at	timestamptz NOT NULL DEFAULT now(),
	created_by	text NOT NULL,
	updated_at	timestamptz NOT NULL DEFAULT now(),
	updated_by	text NOT NULL,
	PRIMARY KEY (project, user_name)
);

-- "Which projects may this user see" (GET /api/v1/projects, /me).
CREATE INDEX project_member_user_idx ON project_member (user_name);

COMMENT ON TABLE project_member IS
	'Per-project roles: viewer reads, editor also writes dashboards and shares, admin also manages members and reads the audit log';

-- ---------------------------------------------------------------------
-- Dashboards

-- The project foreign key is RESTRICT on purpose: dashboards are never
-- lost as a side effect of deleting a project.  The API answers 409 while
-- live dashboards remain and deletes the project's trash explicitly.
CREATE TABLE dashboard (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	project		text COLLATE "C" NOT NULL REFERENCES project (name) ON DELETE RESTRICT,
	name		text COLLATE "C" NOT NULL
			CONSTRAINT dashboard_name_valid CHECK (perses_name_valid(name)),
	spec		jsonb NOT NULL
			CONSTRAINT dashboard_spec_object
			CHECK (jsonb_typeof(spec) = 'object' AND spec <> '{}'),
	-- Kept by PostgreSQL itself so search can never disagree with spec.
	display_name	text GENERATED ALWAYS AS (spec -> 'display' ->> 'name') STORED,
	tags		text[] NOT NULL DEFAULT '{}'
			CONSTRAINT dashboard_tags_valid
			CHECK (cardinality(tags) <= 20 AND array_position(tags, NULL) IS NULL),
	state		text NOT NULL DEFAULT 'active'
			CONSTRAINT dashboard_state_valid
			CHECK (state IN ('draft', 'active', 'archived')),
	version		integer NOT NULL DEFAULT 0
			CONSTRAINT dashboard_version_nonnegative CHECK (version >= 0),
	-- What dashboard_version stores for this version once it is superseded.
	message		text,
	restored_from	integer
			CONSTRAINT dashboard_restored_from_valid CHECK (restored_from >= 0),
	created_at	timestamptz NOT NULL DEFAULT now(),
	created_by	text NOT NULL,
	updated_at	timestamptz NOT NULL DEFAULT now(),
	updated_by	text NOT NULL,
	deleted_at	timestamptz,
	deleted_by	text,
	CONSTRAINT dashboard_trash_consistent
		CHECK ((deleted_at IS NULL) = (deleted_by IS NULL))
);

-- One live dashboard per (project, name); the trash may hold several
-- generations of a name.  Because names are COLLATE "C", this one index
-- also serves listing a project's live dashboards in name order, cursor
-- paging on name, and the ?name= prefix filter (name LIKE 'p%').
CREATE UNIQUE INDEX dashboard_live_name_key ON dashboard (project, name)
	WHERE deleted_at IS NULL;
-- The trash: listing per project, restore by name, purge by age.
CREATE INDEX dashboard_trash_idx ON dashboard (project, name, deleted_at DESC)
	WHERE deleted_at IS NOT NULL;
CREATE INDEX dashboard_trash_purge_idx ON dashboard (deleted_at)
	WHERE deleted_at IS NOT NULL;
-- ?q= : trigram search in the display name.
CREATE INDEX dashboard_display_name_trgm_idx ON dashboard
	USING gin (display_name gin_trgm_ops);
-- Containment queries on the spec (spec @> '{"panels":...}').
CREATE INDEX dashboard_spec_idx ON dashboard USING gin (spec jsonb_path_ops);
-- ?tag= : tags @> ARRAY[$1].
CREATE INDEX dashboard_tags_idx ON dashboard USING gin (tags);

COMMENT ON TABLE dashboard IS
	'Perses dashboards: the current version of each; deleted_at non-null means in the trash';
COMMENT ON COLUMN dashboard.spec IS 'the Perses Dashboard spec object';
COMMENT ON COLUMN dashboard.version IS
	'0 on create, +1 on every change; writes check it in their WHERE clause (optimistic locking)';
COMMENT ON COLUMN dashboard.message IS 'X-Change-Message of the change that made this version';
COMMENT ON COLUMN dashboard.restored_from IS 'the version this one restored, if it was a restore';

CREATE TABLE dashboard_version (
	dashboard_id	bigint NOT NULL REFERENCES dashboard (id) ON DELETE CASCADE,
	version		integer NOT NULL
			CONSTRAINT dashboard_version_version_nonnegative CHECK (version >= 0),
	spec		jsonb NOT NULL
			CONSTRAINT dashboard_version_spec_object CHECK (jsonb_typeof(spec) = 'object'),
	tags		text[] NOT NULL DEFAULT '{}',
	state		text NOT NULL
			CONSTRAINT dashboard_version_state_valid
			CHECK (state IN ('draft', 'active', 'archived')),
	updated_at	timestamptz NOT NULL,
	updated_by	text NOT NULL,
	message		text,
	restored_from	integer
			CONSTRAINT dashboard_version_restored_from_valid CHECK (restored_from >= 0),
	PRIMARY KEY (dashboard_id, version)
);

COMMENT ON TABLE dashboard_version IS
	'Superseded versions of each dashboard, written in the same transaction as the change';

-- ---------------------------------------------------------------------
-- Templates

CREATE TABLE dashboard_template (
	id		text COLLATE "C" PRIMARY KEY
			CONSTRAINT dashboard_template_id_valid CHECK (perses_name_valid(id)),
	name		text NOT NULL
			CONSTRAINT dashboard_template_name_nonempty CHECK (name <> ''),
	description	text NOT NULL DEFAULT '',
	category	text NOT NULL DEFAULT 'general'
			CONSTRAINT dashboard_template_category_nonempty CHECK (category <> ''),
	version		integer NOT NULL DEFAULT 1
			CONSTRAINT dashboard_template_version_positive CHECK (version >= 1),
	is_system	boolean NOT NULL DEFAULT false,
	dashboard	jsonb NOT NULL
			CONSTRAINT dashboard_template_dashboard_object
			CHECK (jsonb_typeof(dashboard) = 'object' AND dashboard <> '{}'),
	usage_count	bigint NOT NULL DEFAULT 0
			CONSTRAINT dashboard_template_usage_nonnegative CHECK (usage_count >= 0),
	last_used_at	timestamptz,
	created_at	timestamptz NOT NULL DEFAULT now(),
	created_by	text NOT NULL,
	updated_at	timestamptz NOT NULL DEFAULT now(),
	updated_by	text NOT NULL
);

CREATE INDEX dashboard_template_category_idx ON dashboard_template (category, id);

COMMENT ON TABLE dashboard_template IS
	'Dashboard templates; is_system rows ship in migrations and are immutable through the API';
COMMENT ON COLUMN dashboard_template.dashboard IS 'the Perses Dashboard spec a new dashboard starts from';
COMMENT ON COLUMN dashboard_template.usage_count IS
	'recomputed from template_usage by update_template_usage_stats()';

-- One row per dashboard created from a template.  No foreign key to
-- project or dashboard: the statistics outlive what was created.
CREATE TABLE template_usage (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	template_id	text COLLATE "C" NOT NULL REFERENCES dashboard_template (id) ON DELETE CASCADE,
	project		text NOT NULL,
	dashboard	text NOT NULL,
	used_at		timestamptz NOT NULL DEFAULT now(),
	used_by		text NOT NULL
);

CREATE INDEX template_usage_template_idx ON template_usage (template_id, used_at);

COMMENT ON TABLE template_usage IS
	'One row per dashboard created from a template (POST .../dashboards/from-template)';

CREATE FUNCTION update_template_usage_stats() RETURNS integer
	LANGUAGE plpgsql
AS $$
DECLARE
	n	integer;
BEGIN
	-- Only rows whose figures changed are written, so an hourly run
	-- on an idle system touches nothing.
	WITH s AS (
		SELECT t.id, count(u.id) AS uses, max(u.used_at) AS last
		  FROM dashboard_template t
		  LEFT JOIN template_usage u ON u.template_id = t.id
		 GROUP BY t.id
	)
	UPDATE dashboard_template t
	   SET usage_count = s.uses, last_used_at = s.last
	  FROM s
	 WHERE s.id = t.id
	   AND (t.usage_count, t.last_used_at) IS DISTINCT FROM (s.uses, s.last);
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END;
$$;

COMMENT ON FUNCTION update_template_usage_stats() IS
	'Recompute dashboard_template.usage_count and last_used_at from template_usage; returns the number of templates changed';

-- ---------------------------------------------------------------------
-- Share links

CREATE TABLE share_token (
	id		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	dashboard_id	bigint NOT NULL REFERENCES dashboard (id) ON DELETE CASCADE,
	-- Only the SHA-256 of the token is stored; the token is shown once.
	token_hash	bytea NOT NULL UNIQUE
			CONSTRAINT share_token_hash_sha256 CHECK (octet_length(token_hash) = 32),
	allowed_cidrs	cidr[] NOT NULL DEFAULT '{}'
			CONSTRAINT share_token_cidrs_nonnull
			CHECK (array_position(allowed_cidrs, NULL) IS NULL),
	pinned_version	integer
			CONSTRAINT share_token_pinned_nonnegative CHECK (pinned_version >= 0),
	max_uses	integer
			CONSTRAINT share_token_max_uses_positive CHECK (max_uses > 0),
	use_count	integer NOT NULL DEFAULT 0
			CONSTRAINT share_token_use_count_nonnegative CHECK (use_count >= 0),
	expires_at	timestamptz NOT NULL,
	revoked_at	timestamptz,
	revoked_by	text,
	last_used_at	timestamptz,
	note		text NOT NULL DEFAULT '',
	created_at	timestamptz NOT NULL DEFAULT now(),
	created_by	text NOT NULL
);

-- Listing a dashboard's links and the "still usable" test.
CREATE INDEX share_token_active_idx ON share_token (dashboard_id, expires_at)
	WHERE revoked_at IS NULL;
CREATE INDEX share_token_dashboard_idx ON share_token (dashboard_id, created_at DESC);
-- cleanup_expired_tokens().
CREATE INDEX share_token_expires_idx ON share_token (expires_at);

COMMENT ON TABLE share_token IS
	'Share links: SHA-256 of the token, allowed client networks (empty = any), expiry, revocation, use count';

CREATE FUNCTION cleanup_expired_tokens(grace interval DEFAULT '7 days') RETURNS integer
	LANGUAGE plpgsql
AS $$
DECLARE
	n	integer;
BEGIN
	-- Audit rows that mention a token stay: audit_log has no foreign key
	-- to share_token.  Revoked and used-up links go once they expire too.
	DELETE FROM share_token WHERE expires_at < now() - grace;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END;
$$;

COMMENT ON FUNCTION cleanup_expired_tokens(interval) IS
	'Delete share tokens that expired more than grace ago; returns the number deleted';

-- ---------------------------------------------------------------------
-- User preferences

CREATE TABLE user_preferences (
	user_name	text PRIMARY KEY,
	-- Validated against pg_timezone_names by the API: the set of zones
	-- changes with tzdata, so it cannot be an immutable CHECK.
	timezone	text NOT NULL DEFAULT 'UTC',
	theme		text NOT NULL DEFAULT 'system'
			CONSTRAINT user_preferences_theme_valid
			CHECK (theme IN ('light', 'dark', 'system')),
	favorites	jsonb NOT NULL DEFAULT '[]'
			CONSTRAINT user_preferences_favorites_valid
			CHECK (jsonb_typeof(favorites) = 'array' AND jsonb_array_length(favorites) <= 100),
	recent		jsonb NOT NULL DEFAULT '[]'
			CONSTRAINT user_preferences_recent_valid
			CHECK (jsonb_typeof(recent) = 'array' AND jsonb_array_length(recent) <= 20),
	updated_at	timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE user_preferences IS
	'Per-user UI preferences; favorites and recent are arrays of {"project","name"}';

-- ---------------------------------------------------------------------
-- Audit log: append-only, partitioned by month (UTC), retention drops
-- whole partitions.  There is deliberately no default partition: a row
-- with no partition fails (and with it the change it records) rather
-- than landing where retention cannot reach it.  "dashcgi maintenance"
-- keeps two months ahead.

CREATE TABLE audit_log (
	id			bigint GENERATED ALWAYS AS IDENTITY,
	at			timestamptz NOT NULL DEFAULT now(),
	actor			text NOT NULL,
	action			text NOT NULL,
	project			text,
	resource		text,
	resource_version	integer,
	result			text NOT NULL
				CONSTRAINT audit_log_result_valid
				CHECK (result IN ('success', 'denied', 'failure')),
	client_ip		inet,
	request_id		text,
	details			jsonb NOT NULL DEFAULT '{}',
	PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);

CREATE INDEX audit_log_project_idx ON audit_log (project, at DESC);
CREATE INDEX audit_log_actor_idx ON audit_log (actor, at DESC);
CREATE INDEX audit_log_action_idx ON audit_log (action);
CREATE INDEX audit_log_request_idx ON audit_log (request_id);
-- Unfiltered newest-first paging with an (at, id) cursor.
CREATE INDEX audit_log_at_idx ON audit_log (at DESC, id DESC);

COMMENT ON TABLE audit_log IS
	'Append-only audit trail, one row per change, denial and share-link attempt; partitioned by month, retention drops partitions';

CREATE FUNCTION audit_log_refuse() RETURNS trigger
	LANGUAGE plpgsql
AS $$
BEGIN
	RAISE EXCEPTION 'audit_log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
		USING ERRCODE = 'insufficient_privilege',
		      HINT = 'rows leave only when retention drops a whole partition (audit_drop_partitions_before)';
END;
$$;

COMMENT ON FUNCTION audit_log_refuse() IS 'Trigger function: refuses UPDATE, DELETE and TRUNCATE on the audit log';

-- Row triggers on a partitioned table are cloned onto every partition,
-- present and future.  Statement-level TRUNCATE triggers are not, so
-- audit_ensure_partitions() puts one on each partition as well.
-- ENABLE ALWAYS: the triggers fire even under session_replication_role
-- = replica, the one switch that would otherwise silence them without
-- DDL.  (DDL -- DROP/DISABLE TRIGGER -- stays the owner's; deployments
-- that need more run the service as a role that owns nothing.)
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
	FOR EACH ROW EXECUTE FUNCTION audit_log_refuse();
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
	FOR EACH ROW EXECUTE FUNCTION audit_log_refuse();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse();
ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_no_update;
ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_no_delete;
ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_no_truncate;

-- Create the monthly partitions audit_log_YYYY_MM (UTC months) from the
-- current month up to months_ahead months ahead, and make sure every
-- partition carries the TRUNCATE guard and every guard fires always.
-- Idempotent.  Returns the number of partitions created.
CREATE FUNCTION audit_ensure_partitions(months_ahead integer) RETURNS integer
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

COMMENT ON FUNCTION audit_ensure_partitions(integer) IS
	'Create missing monthly audit_log partitions (UTC) from this month to months_ahead ahead; returns the number created';

-- Retention: detach and drop every partition whose whole range lies
-- before cutoff (and in the past).  Dropping a partition bypasses the
-- row triggers; that is intended, it is the only way rows leave.
-- Returns the number of partitions dropped.
CREATE FUNCTION audit_drop_partitions_before(cutoff timestamptz) RETURNS integer
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

COMMENT ON FUNCTION audit_drop_partitions_before(timestamptz) IS
	'Retention: detach and drop audit_log partitions whose whole range is before cutoff; returns the number dropped';

SELECT audit_ensure_partitions(1);
