-- 0013_monitor_incidents.up.sql -- a monitor's state changes open and
-- resolve incidents in the hub (SPEC section 9): down triggers the
-- incident with dedup key monitor:<project>/<name>, up resolves it, in
-- the same transaction as the check result that changed the state
-- (the alert row's insert).

CREATE FUNCTION monitor_alert_incident() RETURNS trigger
	LANGUAGE plpgsql
AS $$
DECLARE
	key	text := 'monitor:' || NEW.project || '/' || NEW.monitor;
BEGIN
	IF NEW.to_state = 'down' THEN
		PERFORM hub_trigger(NEW.project, key,
		    format('Monitor %s is down%s', NEW.monitor,
			coalesce(': ' || NEW.error, '')),
		    'high', 'monitor',
		    jsonb_strip_nulls(jsonb_build_object('monitor', NEW.monitor,
			'error', NEW.error, 'message', NEW.message)),
		    'monitor:' || NEW.monitor);
	ELSIF NEW.to_state = 'up' THEN
		PERFORM hub_key_transition(NEW.project, key, 'resolved',
		    'monitor:' || NEW.monitor, 'back up');
	END IF;
	NEW.processed_at := now();
	RETURN NEW;
END;
$$;

COMMENT ON FUNCTION monitor_alert_incident() IS
	'Trigger: a monitor going down opens (or counts) its hub incident, coming back up resolves it';

CREATE TRIGGER alert_incident BEFORE INSERT ON alert
	FOR EACH ROW EXECUTE FUNCTION monitor_alert_incident();
