-- 0006_perses_clients.down.sql -- reverts 0006_perses_clients.up.sql.
-- project_doc() gets 0002's body back before the column it reads goes.

DROP TRIGGER dashboard_other_writer ON dashboard;
DROP FUNCTION dashboard_other_writer();
ALTER TABLE dashboard
	DROP COLUMN other_version,
	DROP COLUMN other_by,
	DROP COLUMN other_at;

ALTER TABLE dashboard
	DROP CONSTRAINT dashboard_project_fkey,
	ADD CONSTRAINT dashboard_project_fkey FOREIGN KEY (project)
		REFERENCES project (name) ON DELETE RESTRICT;

CREATE OR REPLACE FUNCTION project_doc(p project) RETURNS jsonb
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN jsonb_build_object(
		'kind', 'Project',
		'metadata', jsonb_build_object(
			'name', p.name,
			'createdAt', rfc3339(p.created_at),
			'updatedAt', rfc3339(p.updated_at)),
		'spec', jsonb_build_object('display', p.display));

ALTER TABLE project DROP COLUMN version;
