-- 0025_hub_pd_one_statement.up.sql -- a PagerDuty Events v2 event in one
-- statement (issue 13: ≥ 3,000 single events/s).
--
-- Before, POST /v2/enqueue made five round trips: BEGIN, the key
-- lookup, hub_trigger() (which built the incident's whole document for
-- an answer that needs its id), audit_write(), COMMIT.  Now the worker
-- runs hub_pd_event() alone, as a transaction of its own (route flag
-- R_ONE_STMT, src/worker.c): the key, the incident change (its timeline
-- and notifications by the triggers below, as before) and the audit row
-- commit together, durably, in one round trip.
--
-- The incident trigger of 0010 ran for every UPDATE, so every repeated
-- trigger (count + 1, no transition) queued an after-trigger event and
-- called PL/pgSQL for nothing.  It now fires on an INSERT and on a
-- change of status only; hub_incident_changed() itself is unchanged and
-- still writes a timeline row for every transition, none for a repeat.

DROP TRIGGER incident_changed ON incident;

CREATE TRIGGER incident_opened AFTER INSERT ON incident
	FOR EACH ROW EXECUTE FUNCTION hub_incident_changed();
CREATE TRIGGER incident_moved AFTER UPDATE OF status ON incident
	FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
	EXECUTE FUNCTION hub_incident_changed();

-- One PagerDuty event (validated in C): the live integration key
-- routing_key (its last_used_at written at most once a minute: every
-- event of an integration would otherwise queue on its one row), then
-- for action 'trigger' hub_trigger()'s upsert without the document it
-- builds (the partial unique index is the arbiter: exact under
-- concurrency), for 'acknowledge' and 'resolve' hub_key_transition(),
-- and the audit row through audit_write().  No row changes and project is NULL when the key is
-- not a live one.  actor is integration:<key id>; resource and version
-- are the audit row's (the incident id and its version for a trigger,
-- the dedup key for the others); created and changed say what
-- happened (a trigger that counted, a transition that did not apply).
-- The OUT names project, dedup_key and version are columns of incident
-- too: inside the statements a bare name is the column (use_column).
CREATE FUNCTION hub_pd_event(routing_key text, action text, key text,
    ttl text, sev text, src text, meta jsonb, audit_action text,
    client_ip inet, request_id text, client_request_id text,
    OUT project text, OUT actor text, OUT dedup_key text,
    OUT resource text, OUT version integer, OUT created boolean,
    OUT changed integer)
	LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
	k	integration_key;
	det	jsonb;
BEGIN
	SELECT * INTO k FROM integration_key ik
	 WHERE ik.key_hash = sha256(convert_to(routing_key, 'UTF8'))
	   AND ik.revoked_at IS NULL;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	IF k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute' THEN
		UPDATE integration_key ik SET last_used_at = now()
		 WHERE ik.id = k.id
		   AND (ik.last_used_at IS NULL
			OR ik.last_used_at < now() - interval '1 minute');
	END IF;
	project := k.project;
	actor := 'integration:' || k.id;
	IF action = 'trigger' THEN
		INSERT INTO incident AS i (project, title, severity, source,
		    dedup_key, metadata, created_by, last_actor, last_note)
		VALUES (k.project, ttl, sev, src,
		    coalesce(key, gen_random_uuid()::text), coalesce(meta, '{}'),
		    actor, actor, 'opened')
		ON CONFLICT (project, dedup_key) WHERE status IN ('open', 'investigating')
		DO UPDATE SET count = i.count + 1, last_seen = now(),
		    metadata = i.metadata || excluded.metadata,
		    version = i.version + 1, updated_at = now()
		RETURNING i.id::text, (i.xmax = 0), i.version, i.dedup_key
		INTO resource, created, version, dedup_key;
		changed := 1;
		det := jsonb_build_object('action', action,
		    'deduplicated', NOT created);
	ELSE
		changed := hub_key_transition(k.project, key,
		    CASE action WHEN 'resolve' THEN 'resolved'
			ELSE 'investigating' END, actor,
		    CASE action WHEN 'resolve' THEN 'resolved via the Events API'
			ELSE 'acknowledged via the Events API' END);
		dedup_key := key;
		resource := key;
		det := jsonb_build_object('action', action, 'dedupKey', key,
		    'changed', changed);
	END IF;
	PERFORM audit_write(actor, audit_action, k.project, resource, version,
	    'success', client_ip, request_id, det, client_request_id);
END;
$$;

COMMENT ON FUNCTION hub_pd_event(text, text, text, text, text, text, jsonb, text, inet, text, text) IS
	'One PagerDuty Events v2 event with its audit row, run alone as its own transaction (POST /v2/enqueue)';
