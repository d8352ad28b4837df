-- 0016_monitor_channels_hub.down.sql -- reverts
-- 0016_monitor_channels_hub.up.sql: the channels monitors use, and
-- those made for monitors only (all_incidents false), go back to their
-- own table; hub_enqueue is 0010's again.
DROP INDEX monitor_rollup_day_bars;

CREATE TABLE notification_channel (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	project		text COLLATE "C" NOT NULL REFERENCES project (name) ON DELETE CASCADE,
	name		text COLLATE "C" NOT NULL CHECK (perses_name_valid(name)),
	type		text NOT NULL CHECK (type IN ('webhook', 'slack')),
	url		text NOT NULL CHECK (url ~ '^https?://'),
	headers		jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(headers) = 'object'),
	secret		text,
	version		integer NOT NULL DEFAULT 0,
	created_at	timestamptz NOT NULL DEFAULT now(),
	created_by	text NOT NULL,
	updated_at	timestamptz NOT NULL DEFAULT now(),
	updated_by	text NOT NULL,
	UNIQUE (project, name)
);
COMMENT ON TABLE notification_channel IS
	'Where monitor state changes and incidents are sent; secret and header values are write-only';

INSERT INTO notification_channel (project, name, type, url, headers, secret,
	version, created_at, created_by, updated_at, updated_by)
SELECT h.project, h.name, h.type, h.url, h.headers, h.secret, h.version,
	h.created_at, h.created_by, h.updated_at, coalesce(h.updated_by, h.created_by)
  FROM hub_channel h
 WHERE NOT h.all_incidents
    OR EXISTS (SELECT 1 FROM monitor_channel mc WHERE mc.channel_id = h.id)
 ORDER BY h.id;

ALTER TABLE monitor_channel DROP CONSTRAINT monitor_channel_channel_id_fkey;
UPDATE monitor_channel mc SET channel_id = n.id
  FROM hub_channel h, notification_channel n
 WHERE h.id = mc.channel_id AND n.project = h.project AND n.name = h.name;
ALTER TABLE monitor_channel ADD CONSTRAINT monitor_channel_channel_id_fkey
	FOREIGN KEY (channel_id) REFERENCES notification_channel (id) ON DELETE RESTRICT;

DROP FUNCTION channel_doc(hub_channel);
DELETE FROM hub_channel WHERE NOT all_incidents;
ALTER TABLE hub_channel DROP COLUMN id, DROP COLUMN headers, DROP COLUMN secret,
	DROP COLUMN version, DROP COLUMN updated_at, DROP COLUMN updated_by;
COMMENT ON TABLE hub_channel IS NULL;

CREATE FUNCTION channel_doc(c notification_channel) RETURNS jsonb
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN jsonb_build_object(
		'kind', 'NotificationChannel',
		'metadata', jsonb_build_object(
			'name', c.name,
			'project', c.project,
			'version', c.version,
			'createdAt', rfc3339(c.created_at),
			'updatedAt', rfc3339(c.updated_at)),
		'spec', jsonb_build_object(
			'type', c.type,
			'url', c.url,
			'headers', coalesce((SELECT jsonb_object_agg(k, NULL)
			    FROM jsonb_object_keys(c.headers) k), '{}'),
			'secretSet', c.secret IS NOT NULL AND c.secret <> ''));

-- 0010's hub_enqueue.
CREATE OR REPLACE FUNCTION hub_enqueue(i incident, ev text) RETURNS integer
	LANGUAGE plpgsql
AS $$
DECLARE
	n	integer;
	chans	jsonb;
BEGIN
	IF i.rule IS NOT NULL THEN
		SELECT coalesce(r.spec -> 'channels', '[]') INTO chans FROM alert_rule r
		 WHERE r.project = i.project AND r.name = i.rule;
	END IF;
	INSERT INTO alert_notification (project, incident_id, channel,
	    channel_type, url, event, body)
	SELECT i.project, i.id, c.name, c.type, c.url, ev,
	       CASE c.type WHEN 'slack' THEN jsonb_build_object('text',
			format('[%s] %s incident %s: %s (%s, %s events) %s',
			    i.project, upper(i.severity),
			    CASE ev WHEN 'resolve' THEN 'resolved'
				WHEN 'reopen' THEN 'reopened' ELSE 'opened' END,
			    i.title, i.dedup_key, i.count,
			    '/api/v1/projects/' || i.project || '/incidents/' || i.id))::text
	       ELSE jsonb_build_object('event', ev, 'incident', incident_doc(i),
			'project', i.project,
			'url', '/api/v1/projects/' || i.project || '/incidents/' || i.id)::text
	       END
	  FROM hub_channel c
	 WHERE c.project = i.project
	   AND CASE WHEN i.rule IS NOT NULL
		    THEN chans ? c.name
		    ELSE c.all_incidents END
	 ORDER BY c.name;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END;
$$;
