-- 0015_hub_rule_types.up.sql -- the evaluator evaluates every rule
-- type of SPEC §10: threshold (as in 0010), slo_burn (the SLO's
-- multiwindow burn-rate alerts, computed by sli_eval() of migration
-- 0008, not again here) and monitor_down (monitors matching the rule's
-- selector down).  One function says what a rule sees now
-- (hub_rule_state); hub_evaluate() records it and opens, keeps,
-- escalates or resolves the incident rule:<project>/<name>.
-- hub_evaluate() now takes slo.resolution: the SLO windows end where
-- the SLO API's do (slo_now()).  Also hub_channel_doc(), the one
-- document of a notification channel.

DROP FUNCTION hub_evaluate(bigint);

-- Does a monitor name match a rule's selector (["*"], names, or names
-- with * wildcards such as "shop-*")?  Names are [a-zA-Z0-9_.-]: only
-- "_" needs escaping for LIKE.
CREATE FUNCTION hub_monitor_selected(sel jsonb, name text) RETURNS boolean
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN EXISTS (SELECT 1 FROM jsonb_array_elements_text(sel) s
		WHERE name LIKE replace(replace(s, '_', '\_'), '*', '%'));

-- Severities in rising order, for escalation.
CREATE FUNCTION hub_severity_rank(s text) RETURNS integer
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN array_position(ARRAY['low', 'medium', 'high', 'critical'], s);

-- What rule r sees now: is it firing, its value (threshold: the
-- aggregate; slo_burn: the highest burn rate both windows of one alert
-- exceed, of the firing alerts when some fire; monitor_down: the
-- monitors down), since when the condition holds when the data says
-- (monitor_down: the earliest state change to down; NULL: since this
-- evaluation), the severity and title of its incident and the metadata
-- that goes with it.  res is slo.resolution.
CREATE FUNCTION hub_rule_state(r alert_rule, res interval,
    OUT firing boolean, OUT value double precision, OUT since timestamptz,
    OUT severity text, OUT title text, OUT detail jsonb)
	LANGUAGE plpgsql STABLE
AS $$
DECLARE
	s	record;
BEGIN
	severity := coalesce(r.spec ->> 'severity', 'high');
	CASE r.spec ->> 'type'
	WHEN 'threshold' THEN
		value := hub_rule_value(r);
		firing := coalesce(CASE r.spec ->> 'op'
		    WHEN '>' THEN value > (r.spec ->> 'threshold')::float8
		    WHEN '>=' THEN value >= (r.spec ->> 'threshold')::float8
		    WHEN '<' THEN value < (r.spec ->> 'threshold')::float8
		    WHEN '<=' THEN value <= (r.spec ->> 'threshold')::float8
		    END, false);
		title := format('%s: %s(%s) %s %s', r.name, r.spec ->> 'aggregate',
		    r.spec ->> 'metric', r.spec ->> 'op', r.spec ->> 'threshold');
		detail := jsonb_build_object('rule', r.name, 'value', value,
		    'threshold', r.spec -> 'threshold', 'op', r.spec -> 'op',
		    'metric', r.spec -> 'metric', 'window', r.spec -> 'window');
	WHEN 'slo_burn' THEN
		-- Every SLI's alerts, as GET …/slos/{name}/status shows them.
		WITH a AS (SELECT i ->> 'id' AS sli, al,
			     least((i -> 'burnRates' ->> (al ->> 'long'))::float8,
				 (i -> 'burnRates' ->> (al ->> 'short'))::float8) AS rate
			     FROM slo o,
				  jsonb_array_elements(slo_eval(o, slo_now(res), true)
				      -> 'indicators') i,
				  jsonb_array_elements(i -> 'alerts') al
			    WHERE o.project = r.project AND o.name = r.spec ->> 'slo')
		SELECT coalesce(bool_or((al ->> 'firing')::boolean), false) AS f,
		       coalesce(max(rate) FILTER (WHERE (al ->> 'firing')::boolean),
			   max(rate)) AS v,
		       bool_or((al ->> 'firing')::boolean
			   AND al ->> 'severity' = 'page') AS page,
		       coalesce(jsonb_agg(jsonb_build_object('sli', sli,
			   'severity', al ->> 'severity', 'long', al ->> 'long',
			   'short', al ->> 'short', 'factor', al -> 'factor',
			   'burnRate', rate) ORDER BY sli, (al ->> 'factor')::float8 DESC)
			   FILTER (WHERE (al ->> 'firing')::boolean), '[]') AS fired
		  INTO s FROM a;
		firing := s.f;
		value := s.v;
		-- Page alerts open critical incidents, ticket alerts medium,
		-- unless the rule names its severity.
		severity := coalesce(r.spec ->> 'severity',
		    CASE WHEN s.page THEN 'critical' ELSE 'medium' END);
		title := format('%s: SLO %s is burning its error budget',
		    r.name, r.spec ->> 'slo');
		detail := jsonb_build_object('rule', r.name, 'slo', r.spec -> 'slo',
		    'value', value, 'alerts', s.fired);
	WHEN 'monitor_down' THEN
		SELECT count(*) AS n, min(m.state_since) AS since,
		       coalesce(jsonb_agg(m.name ORDER BY m.name), '[]') AS names
		  INTO s FROM monitor m
		 WHERE m.project = r.project AND m.state = 'down' AND NOT m.paused
		   AND hub_monitor_selected(r.spec -> 'monitors', m.name);
		firing := s.n > 0;
		value := s.n;
		since := s.since;
		title := format('%s: monitors down (%s)', r.name,
		    (SELECT string_agg(x, ', ') FROM jsonb_array_elements_text(
			r.spec -> 'monitors') x));
		detail := jsonb_build_object('rule', r.name, 'value', value,
		    'monitors', s.names);
	ELSE
		firing := false;
	END CASE;
	title := coalesce(r.spec ->> 'description', title);
END;
$$;

-- Does this session hold the session advisory lock k, or take it now?
-- (Taken once: a session lock taken again would have to be released
-- twice.)
CREATE FUNCTION hub_evaluator_lock(k bigint) RETURNS boolean
	LANGUAGE sql VOLATILE
	RETURN CASE WHEN EXISTS (SELECT 1 FROM pg_locks l
			WHERE l.locktype = 'advisory' AND l.pid = pg_backend_pid()
			  AND l.objsubid = 1 AND l.granted
			  AND l.classid::bigint = ((k >> 32) & 4294967295)
			  AND l.objid::bigint = (k & 4294967295))
	    THEN true ELSE pg_try_advisory_lock(k) END;

-- Evaluate every enabled rule, holding the evaluator's session advisory
-- lock (taken here if this session does not hold it yet): -1 when
-- another session holds it, else the number of rules evaluated.  One
-- set-based statement computes every rule's state and records it
-- (pending_since: firing since); only the rules whose incident must
-- change are then visited one by one.  A rule firing for its "for"
-- opens the incident rule:<project>/<name>, keeps the open one, or
-- raises its severity (an slo_burn rule's page alert after a ticket
-- alert); a rule that stops firing resolves it.  The notifications go
-- with the incident change, in this transaction (triggers of 0010).
-- One rule that fails to act is logged and does not stop the others.
CREATE FUNCTION hub_evaluate(k bigint, res interval) RETURNS integer
	LANGUAGE plpgsql
AS $$
DECLARE
	r	record;
	n	integer;
BEGIN
	IF NOT hub_evaluator_lock(k) THEN
		RETURN -1;
	END IF;
	SELECT count(*) INTO n FROM alert_rule a
	 WHERE coalesce((a.spec ->> 'enabled')::boolean, true);
	FOR r IN
		WITH s AS (SELECT a.project, a.name, x.*
			     FROM alert_rule a, LATERAL hub_rule_state(a, res) x
			    WHERE coalesce((a.spec ->> 'enabled')::boolean, true)),
		u AS (UPDATE alert_rule a SET evaluated_at = now(), last_value = s.value,
			     pending_since = CASE WHEN s.firing
				 THEN coalesce(a.pending_since, s.since, now()) END
			FROM s WHERE a.project = s.project AND a.name = s.name
			RETURNING a.*, s.firing, s.severity AS sev, s.title, s.detail),
		c AS (SELECT u.*, 'rule:' || u.project || '/' || u.name AS key FROM u)
		SELECT c.*, i.severity AS open_sev
		  FROM c LEFT JOIN incident i ON i.project = c.project
		       AND i.dedup_key = c.key AND i.status IN ('open', 'investigating')
		 WHERE CASE WHEN c.firing
			    THEN now() - c.pending_since >= coalesce(c.spec ->> 'for', '0s')::interval
				 AND (i.id IS NULL OR hub_severity_rank(i.severity)
				      < hub_severity_rank(c.sev))
			    ELSE i.id IS NOT NULL END
	LOOP
		BEGIN
			IF r.firing AND r.open_sev IS NULL THEN
				PERFORM hub_trigger(r.project, r.key, r.title, r.sev,
				    'rule', r.detail, 'evaluator', r.name);
			ELSIF r.firing THEN
				PERFORM hub_escalate(r.project, r.key, r.sev, r.detail);
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

-- Raise the severity of the open incident with dedup key key (never
-- lower it: an incident that once paged stays critical until resolved),
-- with a timeline entry saying so.  Returns the incidents changed.
CREATE FUNCTION hub_escalate(p text, key text, sev text, meta jsonb)
    RETURNS integer
	LANGUAGE plpgsql
AS $$
DECLARE
	i	incident;
	was	text;
BEGIN
	SELECT * INTO i FROM incident
	 WHERE project = p AND dedup_key = key
	   AND status IN ('open', 'investigating') FOR UPDATE;
	IF NOT FOUND OR hub_severity_rank(i.severity) >= hub_severity_rank(sev) THEN
		RETURN 0;
	END IF;
	was := i.severity;
	UPDATE incident SET severity = sev, metadata = metadata || meta,
	    last_seen = now(), version = version + 1, updated_at = now()
	 WHERE id = i.id;
	INSERT INTO incident_timeline (incident_id, project, actor, from_status,
	    to_status, note)
	VALUES (i.id, p, 'evaluator', i.status, i.status,
	    format('severity %s -> %s', was, sev));
	RETURN 1;
END;
$$;

-- A notification channel of the hub, as its list and its PUT answer.
CREATE FUNCTION hub_channel_doc(c hub_channel) RETURNS jsonb
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN jsonb_build_object('name', c.name, 'type', c.type, 'url', c.url,
	    'allIncidents', c.all_incidents, 'createdAt', rfc3339(c.created_at),
	    'createdBy', c.created_by);
