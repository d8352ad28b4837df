-- 0010_hub: the incident hub (SPEC §10, src/api/hub.c, src/evaluator.c):
-- events in daily partitions, their one-minute metric windows,
-- incidents with a timeline, alert rules, integration keys (hashed),
-- notification channels of the hub and the notification queue.
--
-- Every table belongs to a project and goes with it (ON DELETE
-- CASCADE).  The timeline and the notification queue are written by
-- triggers on incident, so every path that changes an incident (the
-- API, PagerDuty and Alertmanager ingest, the evaluator) records its
-- transition and enqueues its notifications in the same transaction.

-- ---------------------------------------------------------------------
-- Events

CREATE SEQUENCE raw_event_id_seq;

CREATE TABLE raw_event (
	project		text COLLATE "C" NOT NULL
			REFERENCES project (name) ON DELETE CASCADE,
	at		timestamptz NOT NULL,
	id		bigint NOT NULL DEFAULT nextval('raw_event_id_seq'),
	received_at	timestamptz NOT NULL DEFAULT now(),
	topic		text NOT NULL,
	level		text,
	data		jsonb NOT NULL,
	PRIMARY KEY (project, at, id)
) PARTITION BY RANGE (at);

ALTER SEQUENCE raw_event_id_seq OWNED BY raw_event.id;

COMMENT ON TABLE raw_event IS
	'Events posted to /api/v1/projects/{p}/events, one partition per UTC day, kept hub.events_retention';

-- The partitions from yesterday (late events) to ahead days ahead.
-- Idempotent; returns the number created.
CREATE FUNCTION hub_event_partitions(ahead integer) RETURNS integer
	LANGUAGE plpgsql
AS $$
DECLARE
	y	timestamp := date_trunc('day', now() AT TIME ZONE 'UTC') - interval '1 day';
	part	text := 'raw_event_' || to_char(y, 'YYYY_MM_DD');
	created	integer := 0;
BEGIN
	IF to_regclass(format('%I', part)) IS NULL THEN
		EXECUTE format('CREATE TABLE %I PARTITION OF raw_event FOR VALUES FROM (%L) TO (%L)',
		    part, y AT TIME ZONE 'UTC', (y + interval '1 day') AT TIME ZONE 'UTC');
		created := 1;
	END IF;
	RETURN created + partition_ensure('raw_event', ahead, 'day');
END;
$$;

SELECT hub_event_partitions(7);

CREATE TABLE metrics_agg (
	project		text COLLATE "C" NOT NULL
			REFERENCES project (name) ON DELETE CASCADE,
	window_key	text NOT NULL DEFAULT '',
	metric_type	text NOT NULL,
	window_start	timestamptz NOT NULL,
	count		bigint NOT NULL,
	sum		double precision NOT NULL,
	min		double precision NOT NULL,
	max		double precision NOT NULL,
	PRIMARY KEY (project, window_key, metric_type, window_start)
);

COMMENT ON TABLE metrics_agg IS
	'One-minute windows of event metrics, upserted in the ingest transaction; 5m/15m/1h windows are sums of these rows';

-- ---------------------------------------------------------------------
-- Incidents

CREATE TABLE incident (
	id		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	project		text COLLATE "C" NOT NULL
			REFERENCES project (name) ON DELETE CASCADE,
	title		text NOT NULL,
	severity	text NOT NULL
			CHECK (severity IN ('low', 'medium', 'high', 'critical')),
	status		text NOT NULL DEFAULT 'open'
			CHECK (status IN ('open', 'investigating', 'resolved', 'closed')),
	source		text NOT NULL DEFAULT 'api',
	dedup_key	text NOT NULL,
	count		integer NOT NULL DEFAULT 1,
	first_seen	timestamptz NOT NULL DEFAULT now(),
	last_seen	timestamptz NOT NULL DEFAULT now(),
	resolved_at	timestamptz,
	metadata	jsonb NOT NULL DEFAULT '{}'
			CHECK (jsonb_typeof(metadata) = 'object'),
	rule		text,		-- the alert rule that opened it
	version		integer NOT NULL DEFAULT 1,
	created_by	text NOT NULL,
	updated_at	timestamptz NOT NULL DEFAULT now(),
	-- Who made the last transition and why: the timeline trigger
	-- copies them into the entry it writes.
	last_actor	text NOT NULL,
	last_note	text
);

-- At most one incident per dedup key is open or investigating.
CREATE UNIQUE INDEX incident_dedup_open ON incident (project, dedup_key)
	WHERE status IN ('open', 'investigating');
CREATE INDEX incident_list ON incident (project, first_seen DESC, id DESC);

COMMENT ON TABLE incident IS
	'Incidents: open -> investigating -> resolved -> closed, open -> resolved, resolved -> open';

CREATE TABLE incident_timeline (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	incident_id	uuid NOT NULL REFERENCES incident (id) ON DELETE CASCADE,
	project		text COLLATE "C" NOT NULL
			REFERENCES project (name) ON DELETE CASCADE,
	at		timestamptz NOT NULL DEFAULT clock_timestamp(),
	actor		text NOT NULL,
	from_status	text,
	to_status	text NOT NULL,
	note		text
);
CREATE INDEX incident_timeline_incident ON incident_timeline (incident_id, id);

-- Is from -> to a transition the contract allows?
CREATE FUNCTION hub_transition_ok(f text, t text) RETURNS boolean
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN (f, t) IN (('open', 'investigating'), ('investigating', 'resolved'),
	    ('resolved', 'closed'), ('open', 'resolved'), ('resolved', 'open'));

-- ---------------------------------------------------------------------
-- Alert rules, channels, integration keys

CREATE TABLE alert_rule (
	project		text COLLATE "C" NOT NULL
			REFERENCES project (name) ON DELETE CASCADE,
	name		text COLLATE "C" NOT NULL
			CHECK (perses_name_valid(name)),
	spec		jsonb NOT NULL CHECK (jsonb_typeof(spec) = 'object'),
	version		integer NOT NULL DEFAULT 1,
	created_at	timestamptz NOT NULL DEFAULT now(),
	created_by	text NOT NULL,
	updated_at	timestamptz NOT NULL DEFAULT now(),
	updated_by	text NOT NULL,
	-- The evaluator's state: firing since, last evaluation and value.
	pending_since	timestamptz,
	evaluated_at	timestamptz,
	last_value	double precision,
	PRIMARY KEY (project, name)
);

-- Notification channels of the hub (the monitors module may bring its
-- own; this one is named so the two never collide).
CREATE TABLE hub_channel (
	project		text COLLATE "C" NOT NULL
			REFERENCES project (name) ON DELETE CASCADE,
	name		text COLLATE "C" NOT NULL CHECK (perses_name_valid(name)),
	type		text NOT NULL CHECK (type IN ('webhook', 'slack')),
	url		text NOT NULL CHECK (url ~ '^https?://'),
	-- Notified of incidents that no rule opened (API, PagerDuty,
	-- Alertmanager); a rule's incidents go to the rule's channels.
	all_incidents	boolean NOT NULL DEFAULT true,
	created_at	timestamptz NOT NULL DEFAULT now(),
	created_by	text NOT NULL,
	PRIMARY KEY (project, name)
);

CREATE TABLE integration_key (
	id		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	project		text COLLATE "C" NOT NULL
			REFERENCES project (name) ON DELETE CASCADE,
	name		text NOT NULL,
	key_hash	bytea NOT NULL UNIQUE,
	created_at	timestamptz NOT NULL DEFAULT now(),
	created_by	text NOT NULL,
	last_used_at	timestamptz,
	revoked_at	timestamptz
);
CREATE INDEX integration_key_project ON integration_key (project, created_at);

COMMENT ON TABLE integration_key IS
	'PagerDuty-style routing keys (dik_...): only their sha256 is stored';

-- ---------------------------------------------------------------------
-- Notifications

CREATE TABLE alert_notification (
	id		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	project		text COLLATE "C" NOT NULL
			REFERENCES project (name) ON DELETE CASCADE,
	incident_id	uuid NOT NULL REFERENCES incident (id) ON DELETE CASCADE,
	channel		text NOT NULL,
	channel_type	text NOT NULL,
	url		text NOT NULL,
	event		text NOT NULL CHECK (event IN ('open', 'reopen', 'resolve')),
	body		text NOT NULL,	-- built when enqueued: what was true then
	status		text NOT NULL DEFAULT 'pending'
			CHECK (status IN ('pending', 'sent', 'failed')),
	attempts	integer NOT NULL DEFAULT 0,
	last_error	text,
	next_attempt_at	timestamptz NOT NULL DEFAULT now(),
	sent_at		timestamptz,
	created_at	timestamptz NOT NULL DEFAULT now(),
	history		jsonb NOT NULL DEFAULT '[]'	-- every attempt
);
CREATE INDEX alert_notification_due ON alert_notification (next_attempt_at)
	WHERE status = 'pending';
CREATE INDEX alert_notification_incident ON alert_notification (incident_id);

-- ---------------------------------------------------------------------
-- Documents

CREATE FUNCTION incident_doc(i incident) RETURNS jsonb
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN jsonb_build_object(
		'id', i.id, 'title', i.title, 'severity', i.severity,
		'status', i.status, 'source', i.source, 'dedupKey', i.dedup_key,
		'count', i.count, 'firstSeen', rfc3339(i.first_seen),
		'lastSeen', rfc3339(i.last_seen),
		'resolvedAt', rfc3339(i.resolved_at),
		'metadata', i.metadata, 'rule', i.rule, 'version', i.version);

CREATE FUNCTION incident_full_doc(i incident) RETURNS jsonb
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN incident_doc(i) || jsonb_build_object(
		'timeline', (SELECT coalesce(jsonb_agg(jsonb_build_object(
			'at', to_char(t.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
			'actor', t.actor, 'from', t.from_status,
			'to', t.to_status, 'note', t.note) ORDER BY t.id), '[]')
			FROM incident_timeline t WHERE t.incident_id = i.id),
		'notifications', (SELECT coalesce(jsonb_agg(jsonb_build_object(
			'id', n.id, 'channel', n.channel, 'event', n.event,
			'status', n.status, 'attempts', n.attempts,
			'lastError', n.last_error,
			'nextAttemptAt', CASE WHEN n.status = 'pending' THEN rfc3339(n.next_attempt_at) END,
			'sentAt', rfc3339(n.sent_at), 'history', n.history)
			ORDER BY n.created_at, n.channel), '[]')
			FROM alert_notification n WHERE n.incident_id = i.id));

CREATE FUNCTION alert_rule_doc(r alert_rule) RETURNS jsonb
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN jsonb_build_object('kind', 'AlertRule',
		'metadata', jsonb_build_object('name', r.name, 'project', r.project,
		    'version', r.version, 'createdAt', rfc3339(r.created_at),
		    'createdBy', r.created_by, 'updatedAt', rfc3339(r.updated_at),
		    'updatedBy', r.updated_by),
		'spec', r.spec,
		'status', jsonb_build_object('pendingSince', rfc3339(r.pending_since),
		    'evaluatedAt', rfc3339(r.evaluated_at), 'lastValue', r.last_value));

-- ---------------------------------------------------------------------
-- Timeline and notifications, by trigger

-- One notification per channel: a rule's incident goes to the rule's
-- channels, any other to the project's all_incidents channels.
CREATE FUNCTION hub_enqueue(i incident, ev text) RETURNS integer
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

CREATE FUNCTION hub_incident_changed() RETURNS trigger
	LANGUAGE plpgsql
AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		INSERT INTO incident_timeline (incident_id, project, actor,
		    from_status, to_status, note)
		VALUES (NEW.id, NEW.project, NEW.last_actor, NULL, NEW.status,
		    NEW.last_note);
		IF NEW.status IN ('open', 'investigating') THEN
			PERFORM hub_enqueue(NEW, 'open');
		END IF;
	ELSIF NEW.status IS DISTINCT FROM OLD.status THEN
		INSERT INTO incident_timeline (incident_id, project, actor,
		    from_status, to_status, note)
		VALUES (NEW.id, NEW.project, NEW.last_actor, OLD.status,
		    NEW.status, NEW.last_note);
		IF NEW.status = 'resolved' THEN
			PERFORM hub_enqueue(NEW, 'resolve');
		ELSIF NEW.status = 'open' AND OLD.status = 'resolved' THEN
			PERFORM hub_enqueue(NEW, 'reopen');
		END IF;
	END IF;
	RETURN NULL;
END;
$$;

CREATE TRIGGER incident_changed AFTER INSERT OR UPDATE ON incident
	FOR EACH ROW EXECUTE FUNCTION hub_incident_changed();

-- A transition asked for by someone (API, PagerDuty, Alertmanager,
-- evaluator): refused unless hub_transition_ok.  The caller locks.

-- Open a new incident or count a trigger on the open one with the same
-- dedup key (exact under concurrency: the partial unique index is the
-- arbiter).  Returns the incident and whether it is new.
CREATE FUNCTION hub_trigger(p text, key text, ttl text, sev text, src text,
    meta jsonb, actor text, rule_name text DEFAULT NULL,
    OUT id uuid, OUT created boolean, OUT version integer, OUT doc jsonb)
	LANGUAGE plpgsql
AS $$
BEGIN
	INSERT INTO incident AS i (project, title, severity, source, dedup_key,
	    metadata, rule, created_by, last_actor, last_note)
	VALUES (p, ttl, sev, src, coalesce(key, gen_random_uuid()::text),
	    coalesce(meta, '{}'), rule_name, actor, actor, 'opened')
	ON CONFLICT (project, dedup_key) WHERE status IN ('open', 'investigating')
	DO UPDATE SET count = i.count + 1, last_seen = now(),
	    metadata = i.metadata || excluded.metadata,
	    version = i.version + 1, updated_at = now()
	RETURNING i.id, (i.xmax = 0), i.version, incident_doc(i)
	INTO id, created, version, doc;
END;
$$;

-- Move the open or investigating incident with dedup key key to
-- status st (acknowledge, resolve), if the transition is allowed.
-- Returns the number of incidents changed (0 or 1).
CREATE FUNCTION hub_key_transition(p text, key text, st text, actor text,
    note text) RETURNS integer
	LANGUAGE plpgsql
AS $$
DECLARE
	n	integer;
BEGIN
	UPDATE incident SET status = st, version = version + 1,
	    updated_at = now(), last_seen = now(),
	    resolved_at = CASE WHEN st = 'resolved' THEN now() ELSE resolved_at END,
	    last_actor = actor, last_note = note
	 WHERE project = p AND dedup_key = key
	   AND status IN ('open', 'investigating')
	   AND hub_transition_ok(status, st);
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END;
$$;

-- ---------------------------------------------------------------------
-- The evaluator (src/evaluator.c): one call per hub.interval.

CREATE INDEX metrics_agg_metric ON metrics_agg (project, metric_type, window_start);

-- The value of threshold rule r now: its aggregate over the one-minute
-- windows that started within its window (the current one included).
-- NULL when there is no data (avg, min, max) -- which never fires.
CREATE FUNCTION hub_rule_value(r alert_rule) RETURNS double precision
	LANGUAGE sql STABLE
	RETURN (SELECT CASE r.spec ->> 'aggregate'
		    WHEN 'sum' THEN coalesce(sum(m.sum), 0)
		    WHEN 'count' THEN coalesce(sum(m.count), 0)
		    WHEN 'max' THEN max(m.max)
		    WHEN 'min' THEN min(m.min)
		    ELSE sum(m.sum) / nullif(sum(m.count), 0) END
		  FROM metrics_agg m
		 WHERE m.project = r.project
		   AND m.metric_type = r.spec ->> 'metric'
		   AND (r.spec ->> 'windowKey' IS NULL
			OR m.window_key = r.spec ->> 'windowKey')
		   AND m.window_start > now() - coalesce(r.spec ->> 'window', '5m')::interval);

-- Evaluate every enabled threshold rule, holding the evaluator's
-- session advisory lock (taken here if this session does not hold it
-- yet): -1 when another session holds it, else the number of rules
-- evaluated.  One set-based statement computes every rule's value and
-- records it (pending_since: firing since); only the rules whose
-- incident must change are then visited one by one.  A rule firing for
-- its "for" opens the incident rule:<project>/<name> (or keeps the open
-- one); a rule that stops firing resolves it.  One rule that fails to
-- act is logged and does not stop the others.  slo_burn and
-- monitor_down rules are stored but not evaluated by this version.
CREATE FUNCTION hub_evaluate(k bigint) RETURNS integer
	LANGUAGE plpgsql
AS $$
DECLARE
	r	record;
	n	integer;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_locks l
			WHERE l.locktype = 'advisory' AND l.pid = pg_backend_pid()
			  AND l.objsubid = 1 AND l.granted
			  AND l.classid::bigint = ((k >> 32) & 4294967295)
			  AND l.objid::bigint = (k & 4294967295))
	   AND NOT pg_try_advisory_lock(k) THEN
		RETURN -1;
	END IF;
	SELECT count(*) INTO n FROM alert_rule a
	 WHERE a.spec ->> 'type' = 'threshold'
	   AND coalesce((a.spec ->> 'enabled')::boolean, true);
	FOR r IN
		WITH v AS (SELECT a.project, a.name, hub_rule_value(a) AS v
			     FROM alert_rule a
			    WHERE a.spec ->> 'type' = 'threshold'
			      AND coalesce((a.spec ->> 'enabled')::boolean, true)),
		f AS (SELECT v.*, coalesce(CASE a.spec ->> 'op'
			    WHEN '>' THEN v.v > (a.spec ->> 'threshold')::float8
			    WHEN '>=' THEN v.v >= (a.spec ->> 'threshold')::float8
			    WHEN '<' THEN v.v < (a.spec ->> 'threshold')::float8
			    WHEN '<=' THEN v.v <= (a.spec ->> 'threshold')::float8
			    END, false) AS firing
			FROM v JOIN alert_rule a USING (project, name)),
		u AS (UPDATE alert_rule a SET evaluated_at = now(), last_value = f.v,
			     pending_since = CASE WHEN f.firing
				 THEN coalesce(a.pending_since, now()) END
			FROM f WHERE a.project = f.project AND a.name = f.name
			RETURNING a.*, f.firing)
		SELECT u.*, 'rule:' || u.project || '/' || u.name AS key
		  FROM u
		 WHERE CASE WHEN u.firing
			    THEN now() - u.pending_since >= coalesce(u.spec ->> 'for', '0s')::interval
				 AND NOT EXISTS (SELECT 1 FROM incident i
						  WHERE i.project = u.project
						    AND i.dedup_key = 'rule:' || u.project || '/' || u.name
						    AND i.status IN ('open', 'investigating'))
			    ELSE EXISTS (SELECT 1 FROM incident i
					  WHERE i.project = u.project
					    AND i.dedup_key = 'rule:' || u.project || '/' || u.name
					    AND i.status IN ('open', 'investigating')) END
	LOOP
		BEGIN
			IF r.firing THEN
				PERFORM hub_trigger(r.project, r.key,
				    coalesce(r.spec ->> 'description',
					format('%s: %s(%s) %s %s', r.name,
					    r.spec ->> 'aggregate', r.spec ->> 'metric',
					    r.spec ->> 'op', r.spec ->> 'threshold')),
				    coalesce(r.spec ->> 'severity', 'high'), 'rule',
				    jsonb_build_object('rule', r.name, 'value', r.last_value,
					'threshold', r.spec -> 'threshold',
					'op', r.spec -> 'op', 'metric', r.spec -> 'metric',
					'window', r.spec -> 'window'),
				    'evaluator', r.name);
			ELSE
				PERFORM hub_key_transition(r.project, r.key, 'resolved',
				    'evaluator', 'the rule stopped firing');
			END IF;
		EXCEPTION WHEN OTHERS THEN
			RAISE WARNING 'alert rule %/% failed: %', r.project, r.name, SQLERRM;
		END;
	END LOOP;
	RETURN n;
END;
$$;

-- Retention of the metric windows (metrics_agg is small next to
-- raw_event: one row per key, metric and minute).
CREATE FUNCTION hub_metrics_drop_before(cutoff timestamptz) RETURNS bigint
	LANGUAGE plpgsql
AS $$
DECLARE
	n	bigint;
BEGIN
	DELETE FROM metrics_agg WHERE window_start < cutoff;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END;
$$;
