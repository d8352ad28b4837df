-- 0006_perses_clients: what real Perses clients need from the data
-- model (SPEC §4 "Projects and members", "Optimistic locking").
--
-- Projects become versioned documents like dashboards; deleting a
-- project takes everything in it; and each dashboard row remembers the
-- newest version someone other than its current author wrote, so the
-- locking rule for a body metadata.version ("stale only when another
-- user wrote a version after it") is decided from the one row a write
-- locks.

-- ---------------------------------------------------------------------
-- Projects: metadata.version, 0 on create, +1 on every update.

ALTER TABLE project ADD COLUMN version integer NOT NULL DEFAULT 0
	CONSTRAINT project_version_nonnegative CHECK (version >= 0);

COMMENT ON COLUMN project.version IS
	'0 on create, +1 on every update of the project document (metadata.version)';

CREATE OR REPLACE FUNCTION project_doc(p project) RETURNS jsonb
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN jsonb_build_object(
		'kind', 'Project',
		'metadata', jsonb_build_object(
			'name', p.name,
			'version', p.version,
			'createdAt', rfc3339(p.created_at),
			'updatedAt', rfc3339(p.updated_at)),
		'spec', jsonb_build_object('display', p.display));

-- ---------------------------------------------------------------------
-- Deleting a project deletes what is in it, as Perses does: its
-- dashboards (live and in the trash), and through dashboard's own
-- cascades their history and share links; members already cascade.
-- Tables that later modules hang off a project cascade the same way.
-- The API counts what goes and audits it (projects.c, PR_DELETE).

ALTER TABLE dashboard
	DROP CONSTRAINT dashboard_project_fkey,
	ADD CONSTRAINT dashboard_project_fkey FOREIGN KEY (project)
		REFERENCES project (name) ON DELETE CASCADE;

-- ---------------------------------------------------------------------
-- The newest version by someone else.
--
-- A write based on version b by user u is stale when a version after b
-- was written by another user.  The newest such version is the current
-- one if another user wrote it, else the newest version whose author is
-- not the current author: other_version.  Kept on the dashboard row
-- itself, the fact is as fresh as the row a writer locks -- a writer
-- that waited for the lock sees the committed row (EvalPlanQual), while
-- history rows committed after its statement began stay invisible to
-- it -- and it survives history trimming.

ALTER TABLE dashboard
	ADD COLUMN other_version integer,
	ADD COLUMN other_by text,
	ADD COLUMN other_at timestamptz;

COMMENT ON COLUMN dashboard.other_version IS
	'the newest version written by someone other than updated_by (NULL: none); trigger-maintained';
COMMENT ON COLUMN dashboard.other_by IS 'who wrote other_version';
COMMENT ON COLUMN dashboard.other_at IS 'when other_version was written';

-- What history still knows for the rows there are.
WITH o AS (
	SELECT DISTINCT ON (v.dashboard_id) v.dashboard_id, v.version,
	       v.updated_by, v.updated_at
	  FROM dashboard_version v
	  JOIN dashboard d ON d.id = v.dashboard_id
	 WHERE v.updated_by <> d.updated_by
	 ORDER BY v.dashboard_id, v.version DESC
)
UPDATE dashboard d
   SET other_version = o.version, other_by = o.updated_by,
       other_at = o.updated_at
  FROM o
 WHERE o.dashboard_id = d.id;

-- Every writer gets it right, whatever statement it runs: a new
-- version by a new author makes the superseded one the newest by
-- someone else; a new version by the same author changes nothing.
CREATE FUNCTION dashboard_other_writer() RETURNS trigger
	LANGUAGE plpgsql
AS $$
BEGIN
	IF NEW.version <> OLD.version
	    AND NEW.updated_by IS DISTINCT FROM OLD.updated_by THEN
		NEW.other_version := OLD.version;
		NEW.other_by := OLD.updated_by;
		NEW.other_at := OLD.updated_at;
	END IF;
	RETURN NEW;
END;
$$;

COMMENT ON FUNCTION dashboard_other_writer() IS
	'Trigger function: keeps dashboard.other_version/other_by/other_at when a new version changes the author';

CREATE TRIGGER dashboard_other_writer BEFORE UPDATE OF version ON dashboard
	FOR EACH ROW EXECUTE FUNCTION dashboard_other_writer();
