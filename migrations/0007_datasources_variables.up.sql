-- 0007_datasources_variables: Perses datasources and variables (SPEC §4
-- "What the Perses UI needs besides dashboards", §11 "Datasource
-- documents"), global (project NULL) and per project, and the two
-- datasources dashcgi has built in.
--
-- One table per resource holds both scopes: a GlobalDatasource is a row
-- whose project is NULL.  Names are unique per scope (NULLS NOT
-- DISTINCT: two global rows of one name collide too).  A project's rows
-- go with it (ON DELETE CASCADE), as Perses deletes a project's
-- datasources and variables with the project.
--
-- The built-in datasources ("dashcgi", "dashcgi-alerts") are not rows:
-- datasource_scope() makes them for every scope, so they exist in every
-- project the moment it does and can never be changed.  Their names are
-- reserved here, in any letter case, because the Perses UI looks
-- datasources up by name case-insensitively.

CREATE FUNCTION datasource_builtin_name(n text) RETURNS boolean
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	RETURN lower(n) IN ('dashcgi', 'dashcgi-alerts');

COMMENT ON FUNCTION datasource_builtin_name(text) IS
	'Is n (in any letter case) the name of a datasource dashcgi has built in?';

CREATE TABLE datasource (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	project		text COLLATE "C" REFERENCES project (name) ON DELETE CASCADE,
	name		text COLLATE "C" NOT NULL
			CONSTRAINT datasource_name_valid CHECK (perses_name_valid(name))
			CONSTRAINT datasource_name_not_builtin
			CHECK (NOT datasource_builtin_name(name)),
	-- The Perses DatasourceSpec: {display?, default?, plugin:{kind, spec}}.
	spec		jsonb NOT NULL
			CONSTRAINT datasource_spec_valid CHECK (
			    jsonb_typeof(spec) = 'object'
			    AND jsonb_typeof(spec -> 'plugin' -> 'kind') = 'string'
			    AND spec -> 'plugin' ->> 'kind' <> ''
			    AND coalesce(jsonb_typeof(spec -> 'default'), 'boolean') = 'boolean'),
	plugin_kind	text COLLATE "C" GENERATED ALWAYS AS (spec -> 'plugin' ->> 'kind') STORED,
	is_default	boolean GENERATED ALWAYS AS
			(coalesce(spec -> 'default' = 'true'::jsonb, false)) STORED,
	version		integer NOT NULL DEFAULT 0
			CONSTRAINT datasource_version_nonnegative CHECK (version >= 0),
	created_at	timestamptz NOT NULL DEFAULT now(),
	created_by	text NOT NULL,
	updated_at	timestamptz NOT NULL DEFAULT now(),
	updated_by	text NOT NULL,
	CONSTRAINT datasource_name_unique UNIQUE NULLS NOT DISTINCT (project, name)
);

COMMENT ON TABLE datasource IS
	'Perses Datasource (project set) and GlobalDatasource (project NULL) documents; spec is the Perses DatasourceSpec';

-- At most one default datasource per plugin kind in a scope, as Perses's
-- server checks; the API names the other one before this index fires.
CREATE UNIQUE INDEX datasource_one_default ON datasource (project, plugin_kind)
	NULLS NOT DISTINCT WHERE is_default;

-- Who wrote each version: a write based on version v conflicts only with
-- a later version written by someone else (SPEC §4, optimistic locking).
CREATE TABLE datasource_edit (
	datasource_id	bigint NOT NULL REFERENCES datasource (id) ON DELETE CASCADE,
	version		integer NOT NULL,
	updated_at	timestamptz NOT NULL DEFAULT now(),
	updated_by	text NOT NULL,
	PRIMARY KEY (datasource_id, version)
);

COMMENT ON TABLE datasource_edit IS
	'The author and time of every version of a datasource, for version conflicts';

CREATE TABLE variable (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	project		text COLLATE "C" REFERENCES project (name) ON DELETE CASCADE,
	name		text COLLATE "C" NOT NULL
			CONSTRAINT variable_name_valid CHECK (perses_name_valid(name)),
	-- The Perses VariableSpec: {kind: ListVariable|TextVariable, spec}.
	spec		jsonb NOT NULL
			CONSTRAINT variable_spec_valid CHECK (
			    jsonb_typeof(spec) = 'object'
			    AND spec ->> 'kind' IN ('ListVariable', 'TextVariable')),
	version		integer NOT NULL DEFAULT 0
			CONSTRAINT variable_version_nonnegative CHECK (version >= 0),
	created_at	timestamptz NOT NULL DEFAULT now(),
	created_by	text NOT NULL,
	updated_at	timestamptz NOT NULL DEFAULT now(),
	updated_by	text NOT NULL,
	CONSTRAINT variable_name_unique UNIQUE NULLS NOT DISTINCT (project, name)
);

COMMENT ON TABLE variable IS
	'Perses Variable (project set) and GlobalVariable (project NULL) documents; spec is the Perses VariableSpec';

CREATE TABLE variable_edit (
	variable_id	bigint NOT NULL REFERENCES variable (id) ON DELETE CASCADE,
	version		integer NOT NULL,
	updated_at	timestamptz NOT NULL DEFAULT now(),
	updated_by	text NOT NULL,
	PRIMARY KEY (variable_id, version)
);

COMMENT ON TABLE variable_edit IS
	'The author and time of every version of a variable, for version conflicts';

-- ---------------------------------------------------------------------
-- Documents

-- metadata of a document in scope p (NULL: global, no project member).
CREATE FUNCTION scoped_doc_metadata(p text, n text, v integer,
    created timestamptz, updated timestamptz) RETURNS jsonb
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN jsonb_build_object(
		'name', n,
		'version', v,
		'createdAt', rfc3339(created),
		'updatedAt', rfc3339(updated))
	    || CASE WHEN p IS NULL THEN '{}'::jsonb
		ELSE jsonb_build_object('project', p) END;

CREATE FUNCTION datasource_doc(d datasource) RETURNS jsonb
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN jsonb_build_object(
		'kind', CASE WHEN d.project IS NULL THEN 'GlobalDatasource'
		    ELSE 'Datasource' END,
		'metadata', scoped_doc_metadata(d.project, d.name, d.version,
		    d.created_at, d.updated_at),
		'spec', d.spec);

CREATE FUNCTION variable_doc(v variable) RETURNS jsonb
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN jsonb_build_object(
		'kind', CASE WHEN v.project IS NULL THEN 'GlobalVariable'
		    ELSE 'Variable' END,
		'metadata', scoped_doc_metadata(v.project, v.name, v.version,
		    v.created_at, v.updated_at),
		'spec', v.spec);

-- Every datasource of scope p (NULL: the global ones): the stored rows
-- and the built-in ones.  The built-ins are served by dashcgi itself
-- (SPEC §11) through the proxy paths the Perses UI derives from a
-- datasource's scope and name; proxy.spec.url says the same.  Built-in
-- "dashcgi" is the scope's default PrometheusDatasource unless an
-- administrator made a stored one the default, in this scope or the
-- global one: the Perses UI looks for a default in the project first,
-- then globally, so a project's built-in default would hide a global
-- choice.  A dashboard that names no datasource then queries the
-- administrator's.  since: the built-ins' createdAt and updatedAt.
CREATE FUNCTION datasource_scope(p text, since timestamptz)
	RETURNS TABLE (name text, plugin_kind text, is_default boolean, doc jsonb)
	LANGUAGE sql STABLE PARALLEL SAFE
AS $$
	SELECT d.name, d.plugin_kind, d.is_default, datasource_doc(d)
	FROM datasource d WHERE d.project IS NOT DISTINCT FROM p
	UNION ALL
	SELECT b.name, b.kind, b.dflt, jsonb_build_object(
		'kind', CASE WHEN p IS NULL THEN 'GlobalDatasource'
		    ELSE 'Datasource' END,
		'metadata', scoped_doc_metadata(p, b.name, 0, since, since),
		'spec', jsonb_build_object(
			'display', jsonb_build_object('name', b.title,
			    'description', b.descr),
			'default', b.dflt,
			'plugin', jsonb_build_object('kind', b.kind,
			    'spec', jsonb_build_object('proxy', jsonb_build_object(
				'kind', 'HTTPProxy',
				'spec', jsonb_build_object('url',
				    CASE WHEN p IS NULL THEN '/proxy/globaldatasources/'
				    ELSE '/proxy/projects/' || p || '/datasources/'
				    END || b.name))))))
	FROM (SELECT v.name, v.kind, v.title, v.descr,
		v.dflt AND NOT EXISTS (SELECT 1 FROM datasource s
		    WHERE (s.project IS NULL OR s.project = p) AND s.is_default
		    AND s.plugin_kind = v.kind) AS dflt
	    FROM (VALUES
		('dashcgi', 'PrometheusDatasource', 'dashcgi',
		 'SLO, uptime and incident series served by dashcgi', true),
		('dashcgi-alerts', 'AlertManagerDatasource', 'dashcgi alerts',
		 'Open incidents as Alertmanager alerts, served by dashcgi', false)
	    ) AS v (name, kind, title, descr, dflt)) AS b
$$;

COMMENT ON FUNCTION datasource_scope(text, timestamptz) IS
	'The datasources of a project (p) or the global ones (p NULL): stored rows and the built-in dashcgi and dashcgi-alerts';

-- When the built-in global datasources appeared: when this migration ran.
CREATE FUNCTION datasource_builtin_since() RETURNS timestamptz
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN coalesce((SELECT applied_at FROM schema_migrations
	    WHERE version = 7), 'epoch'::timestamptz);

-- The built-ins' createdAt in scope p: the project's, else the above.
CREATE FUNCTION datasource_builtin_since(p text) RETURNS timestamptz
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN CASE WHEN p IS NULL THEN datasource_builtin_since()
	    ELSE (SELECT created_at FROM project WHERE name = p) END;

-- Every variable of scope p (NULL: the global ones), in the shape of
-- datasource_scope() so one statement layout serves both resources.
CREATE FUNCTION variable_scope(p text, since timestamptz)
	RETURNS TABLE (name text, plugin_kind text, is_default boolean, doc jsonb)
	LANGUAGE sql STABLE PARALLEL SAFE
AS $$
	SELECT v.name, NULL::text, NULL::boolean, variable_doc(v)
	FROM variable v WHERE v.project IS NOT DISTINCT FROM p
$$;

COMMENT ON FUNCTION variable_scope(text, timestamptz) IS
	'The variables of a project (p) or the global ones (p NULL); since is unused (no built-in variables)';
