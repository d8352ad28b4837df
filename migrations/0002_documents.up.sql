-- 0002_documents: PostgreSQL builds the Perses JSON documents the API
-- returns, so a read is one statement whose text is streamed as is.

-- RFC 3339 UTC, as Perses writes metadata times.
CREATE FUNCTION rfc3339(t timestamptz) RETURNS text
	LANGUAGE sql STABLE STRICT PARALLEL SAFE
	RETURN to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"');

-- The metadata object of a dashboard document.
CREATE FUNCTION dashboard_metadata(d dashboard) RETURNS jsonb
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN jsonb_build_object(
		'name', d.name,
		'project', d.project,
		'version', d.version,
		'createdAt', rfc3339(d.created_at),
		'updatedAt', rfc3339(d.updated_at),
		'tags', to_jsonb(d.tags));

-- The whole Perses Dashboard document, as GET returns it.
CREATE FUNCTION dashboard_doc(d dashboard) RETURNS jsonb
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN jsonb_build_object(
		'kind', 'Dashboard',
		'metadata', dashboard_metadata(d),
		'spec', d.spec);

-- A past version of a dashboard, in the same shape.
CREATE FUNCTION dashboard_version_doc(d dashboard, v dashboard_version)
	RETURNS jsonb
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN jsonb_build_object(
		'kind', 'Dashboard',
		'metadata', jsonb_build_object(
			'name', d.name,
			'project', d.project,
			'version', v.version,
			'createdAt', rfc3339(d.created_at),
			'updatedAt', rfc3339(v.updated_at),
			'tags', to_jsonb(v.tags)),
		'spec', v.spec);

-- A Perses Project document.
CREATE FUNCTION project_doc(p project) RETURNS jsonb
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN jsonb_build_object(
		'kind', 'Project',
		'metadata', jsonb_build_object(
			'name', p.name,
			'createdAt', rfc3339(p.created_at),
			'updatedAt', rfc3339(p.updated_at)),
		'spec', jsonb_build_object('display', p.display));
