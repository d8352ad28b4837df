-- 0016_monitor_channels_hub.up.sql -- one notification-channel table
-- (SPEC sections 9, 10), and the status page's daily bars.
--
-- Monitor state changes open hub incidents (0013) and the hub delivers
-- them (alert_notification, the evaluator), so the monitors' channels
-- move into the hub's table: notification_channel's rows become
-- hub_channel rows with their header values and secret (still
-- write-only: channel_doc() returns header names and secretSet), a
-- surrogate id for monitor_channel's foreign key, and a version for the
-- monitors' If-Match.  Moved channels get all_incidents = false: they
-- hear only of the incidents of the monitors that list them.
--
-- A name in both tables of one project is one channel when type and
-- URL agree (the hub's row keeps its all_incidents and gains the
-- headers and secret); when they differ no migration can tell which
-- is meant, so it stops and names them (rename one, then migrate).
--
-- hub_enqueue() (0010) learns one rule: an incident a monitor opened
-- (dedup key monitor:<project>/<name>) also goes to that monitor's
-- channels.  Every other incident is routed as before.

DO $$
DECLARE
	clash	text;
BEGIN
	SELECT string_agg(format('%s/%s', n.project, n.name), ', '
	    ORDER BY n.project, n.name) INTO clash
	  FROM notification_channel n JOIN hub_channel h USING (project, name)
	 WHERE (h.type, h.url) IS DISTINCT FROM (n.type, n.url);
	IF clash IS NOT NULL THEN
		RAISE EXCEPTION 'monitor and hub channels with the same name but another type or URL: %', clash
		    USING HINT = 'rename one of each pair through the API, then migrate again';
	END IF;
END;
$$;

ALTER TABLE hub_channel
	ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
	-- Write-only values: only header names are ever returned.
	ADD COLUMN headers jsonb NOT NULL DEFAULT '{}'
	    CHECK (jsonb_typeof(headers) = 'object'),
	ADD COLUMN secret text,
	ADD COLUMN version integer NOT NULL DEFAULT 0,
	ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now(),
	ADD COLUMN updated_by text;
UPDATE hub_channel SET updated_at = created_at, updated_by = created_by;

COMMENT ON TABLE hub_channel IS
	'Notification channels of incidents and monitors; secret and header values are write-only';

-- Same name, same type and URL: one channel.
UPDATE hub_channel h SET headers = n.headers || h.headers,
	secret = coalesce(h.secret, n.secret)
  FROM notification_channel n
 WHERE n.project = h.project AND n.name = h.name;
INSERT INTO hub_channel (project, name, type, url, all_incidents, headers,
	secret, version, created_at, created_by, updated_at, updated_by)
SELECT n.project, n.name, n.type, n.url, false, n.headers, n.secret,
	n.version, n.created_at, n.created_by, n.updated_at, n.updated_by
  FROM notification_channel n
 WHERE NOT EXISTS (SELECT 1 FROM hub_channel h
		    WHERE h.project = n.project AND h.name = n.name)
 ORDER BY n.id;

ALTER TABLE monitor_channel DROP CONSTRAINT monitor_channel_channel_id_fkey;
UPDATE monitor_channel mc SET channel_id = h.id
  FROM notification_channel n, hub_channel h
 WHERE n.id = mc.channel_id AND h.project = n.project AND h.name = n.name;
ALTER TABLE monitor_channel ADD CONSTRAINT monitor_channel_channel_id_fkey
	FOREIGN KEY (channel_id) REFERENCES hub_channel (id) ON DELETE RESTRICT;

DROP FUNCTION channel_doc(notification_channel);
DROP TABLE notification_channel;

-- The NotificationChannel document of the monitors' routes: never the
-- secret, never header values.
CREATE FUNCTION channel_doc(c hub_channel) RETURNS jsonb
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
			-- Names only: a value sent back as null keeps
			-- the stored one.
			'headers', coalesce((SELECT jsonb_object_agg(k, NULL)
			    FROM jsonb_object_keys(c.headers) k), '{}'),
			'secretSet', c.secret IS NOT NULL AND c.secret <> '',
			'allIncidents', c.all_incidents));

-- 0010's hub_enqueue with the monitors' rule added (the channel list
-- and the bodies are 0010's).
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
	   AND (CASE WHEN i.rule IS NOT NULL
		     THEN chans ? c.name
		     ELSE c.all_incidents END
		OR (i.rule IS NULL
		    AND starts_with(i.dedup_key, 'monitor:' || i.project || '/')
		    AND c.id IN (SELECT mc.channel_id FROM monitor m
				   JOIN monitor_channel mc ON mc.monitor_id = m.id
				  WHERE m.project = i.project
				    AND m.name = substr(i.dedup_key,
					length('monitor:' || i.project || '/') + 1))))
	 ORDER BY c.name;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END;
$$;

-- The status page's 90 daily bars per monitor by an index-only scan:
-- the day roll-ups' rows are wide (two 64-element histograms).
CREATE INDEX monitor_rollup_day_bars ON monitor_rollup_day (monitor_id, bucket)
	INCLUDE (checks, ok);
