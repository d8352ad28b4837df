-- 0015_hub_rule_types.down.sql -- reverts 0015_hub_rule_types.up.sql:
-- hub_evaluate(k) of migration 0010 again (threshold rules only).
DROP FUNCTION hub_evaluate(bigint, interval);
DROP FUNCTION hub_escalate(text, text, text, jsonb);
DROP FUNCTION hub_evaluator_lock(bigint);
DROP FUNCTION hub_rule_state(alert_rule, interval);
DROP FUNCTION hub_severity_rank(text);
DROP FUNCTION hub_monitor_selected(jsonb, text);
DROP FUNCTION hub_channel_doc(hub_channel);

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
