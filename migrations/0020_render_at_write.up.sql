-- 0020_render_at_write: a dashboard's document is rendered once, when it
-- is written, not on every read.  Reads outnumber writes by orders of
-- magnitude, and rendering a jsonb spec to text was most of a GET's
-- cost in PostgreSQL (issue 16, item 22).
--
-- dashboard.doc is dashboard_doc(d)::text and dashboard.list_doc the
-- metadata_only list item, both kept by a BEFORE trigger on every
-- INSERT and on every UPDATE of a column they show, whatever statement
-- writes the row (the API, import, restore, state changes, templates,
-- migrations): a GET can never see a document other than the one its
-- row would render.  dashboard_version.doc is dashboard_version_doc():
-- the writers copy the superseded row's doc (the same bytes: a version
-- doc is the row's doc as it was), and a trigger renders it for an
-- INSERT that brings none.

ALTER TABLE dashboard
	ADD COLUMN doc text,
	ADD COLUMN list_doc text;
ALTER TABLE dashboard_version ADD COLUMN doc text;

-- The metadata_only list item, as Perses sends them (empty spec).
CREATE FUNCTION dashboard_list_doc(d dashboard) RETURNS jsonb
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN jsonb_build_object('kind', 'Dashboard',
	    'metadata', dashboard_metadata(d), 'spec', '{}'::jsonb);

UPDATE dashboard d SET doc = dashboard_doc(d)::text,
	list_doc = dashboard_list_doc(d)::text;
UPDATE dashboard_version v SET doc = dashboard_version_doc(d, v)::text
	FROM dashboard d WHERE d.id = v.dashboard_id;

ALTER TABLE dashboard
	ALTER COLUMN doc SET NOT NULL,
	ALTER COLUMN list_doc SET NOT NULL;
ALTER TABLE dashboard_version ALTER COLUMN doc SET NOT NULL;

CREATE FUNCTION dashboard_render() RETURNS trigger
	LANGUAGE plpgsql
AS $$
BEGIN
	NEW.doc := dashboard_doc(NEW)::text;
	NEW.list_doc := dashboard_list_doc(NEW)::text;
	RETURN NEW;
END;
$$;

COMMENT ON FUNCTION dashboard_render() IS
	'Trigger function: renders dashboard.doc and dashboard.list_doc from the row being written';

-- Every column dashboard_doc() shows.  deleted_at/deleted_by (the trash)
-- and state are not in the document.
CREATE TRIGGER dashboard_render BEFORE INSERT OR UPDATE OF project, name,
	spec, tags, version, created_at, updated_at ON dashboard
	FOR EACH ROW EXECUTE FUNCTION dashboard_render();

CREATE FUNCTION dashboard_version_render() RETURNS trigger
	LANGUAGE plpgsql
AS $$
BEGIN
	SELECT dashboard_version_doc(d, NEW)::text INTO NEW.doc
	FROM dashboard d WHERE d.id = NEW.dashboard_id;
	RETURN NEW;
END;
$$;

COMMENT ON FUNCTION dashboard_version_render() IS
	'Trigger function: renders dashboard_version.doc for a row inserted without it';

CREATE TRIGGER dashboard_version_render BEFORE INSERT ON dashboard_version
	FOR EACH ROW WHEN (NEW.doc IS NULL)
	EXECUTE FUNCTION dashboard_version_render();

COMMENT ON COLUMN dashboard.doc IS
	'dashboard_doc(d)::text, what GET returns; trigger-maintained';
COMMENT ON COLUMN dashboard.list_doc IS
	'dashboard_list_doc(d)::text, a metadata_only list item; trigger-maintained';
COMMENT ON COLUMN dashboard_version.doc IS
	'dashboard_version_doc()::text of this version, what GET ?version= returns';

-- History trim (issue 16, item 20): a DELETE planned for the values at
-- hand every time.  Inside the writers' prepared statements it got a
-- generic plan, made once per connection: made while dashboard_version
-- was tiny it scanned the whole table, and kept doing so as the table
-- grew.  Versions of one dashboard older than newest - keep go (keep
-- 0: none); returns how many.
CREATE FUNCTION dashboard_trim_history(dash_id bigint, newest integer,
    keep bigint) RETURNS bigint
	LANGUAGE plpgsql VOLATILE
	SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
	n	bigint;
BEGIN
	IF keep <= 0 THEN
		RETURN 0;
	END IF;
	DELETE FROM dashboard_version v
	 WHERE v.dashboard_id = dash_id AND v.version < newest - keep;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END;
$$;

COMMENT ON FUNCTION dashboard_trim_history(bigint, integer, bigint) IS
	'Deletes the versions of a dashboard older than newest - keep (keep 0: none); always a custom plan';

-- Trigram search (issue 16, item 21): every write of a dashboard adds
-- its display name's trigrams to the GIN index's pending list
-- (fastupdate), which the planner counts into the index's cost: after a
-- few thousand writes ?q= chose a sequential scan of every dashboard
-- (cost 3,438 against 3,028 for the index with 358 pending pages; 156
-- with none).  Writes go straight into the index instead: a little
-- more per write, search stays on the index.
ALTER INDEX dashboard_display_name_trgm_idx SET (fastupdate = off);
SELECT gin_clean_pending_list('dashboard_display_name_trgm_idx');

-- A dashboard GET (DS_GET in src/api/dashboards.c): the project, the
-- caller's role, the current version and the stored document -- the
-- current one, or version want -- NULL when the caller holds it
-- (If-None-Match versions held, or any_held for "*").  The dashboard
-- is read only when the caller may read the project (sees_all, or a
-- role): a refusal costs the same whether it exists or not.
--
-- In PL/pgSQL so that its plans are cached in the server session
-- whatever the client does: behind PgBouncer in transaction mode
-- dashcgi cannot keep named prepared statements and sends unnamed
-- ones, planned on every call; planning this join cost more than
-- running it.  "SELECT * FROM dashboard_get(...)" is cheap to plan.
CREATE FUNCTION dashboard_get(p text, n text, who text, want integer,
    held integer[], any_held boolean, sees_all boolean)
	RETURNS TABLE (project_exists boolean, member_role text,
	    cur integer, ver integer, doc text)
	LANGUAGE plpgsql STABLE
AS $$
BEGIN
	IF want IS NULL THEN
		RETURN QUERY
		SELECT EXISTS (SELECT 1 FROM project j WHERE j.name = p),
		    a.r, d.version, d.version,
		    CASE WHEN any_held OR d.version = ANY (held) THEN NULL
		    ELSE d.doc END
		FROM (SELECT (SELECT m.role FROM project_member m
		    WHERE m.project = p AND m.user_name = who) AS r) a
		LEFT JOIN dashboard d ON (sees_all OR a.r IS NOT NULL)
		    AND d.project = p AND d.name = n AND d.deleted_at IS NULL;
	ELSE
		RETURN QUERY
		SELECT EXISTS (SELECT 1 FROM project j WHERE j.name = p),
		    a.r, x.cur, x.ver, x.doc
		FROM (SELECT (SELECT m.role FROM project_member m
		    WHERE m.project = p AND m.user_name = who) AS r) a
		LEFT JOIN LATERAL (
		    SELECT d.version AS cur, s.ver, s.doc FROM dashboard d
		    LEFT JOIN LATERAL (
			SELECT d.version AS ver, CASE WHEN any_held
			    OR d.version = ANY (held) THEN NULL
			    ELSE d.doc END AS doc
			WHERE want = d.version
			UNION ALL
			SELECT v.version, CASE WHEN any_held
			    OR v.version = ANY (held) THEN NULL
			    ELSE v.doc END
			FROM dashboard_version v WHERE v.dashboard_id = d.id
			AND v.version = want AND v.version <> d.version
		    ) s ON true
		    WHERE (sees_all OR a.r IS NOT NULL)
		    AND d.project = p AND d.name = n
		    AND d.deleted_at IS NULL) x ON true;
	END IF;
END;
$$;

COMMENT ON FUNCTION dashboard_get(text, text, text, integer, integer[],
    boolean, boolean) IS
	'A dashboard GET: project exists, the caller''s role, current version, the version served and its stored document';
