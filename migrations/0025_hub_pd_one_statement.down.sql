-- 0025_hub_pd_one_statement.down.sql -- reverts 0025_hub_pd_one_statement.up.sql.
DROP FUNCTION hub_pd_event(text, text, text, text, text, text, jsonb, text, inet, text, text);
DROP TRIGGER incident_moved ON incident;
DROP TRIGGER incident_opened ON incident;
CREATE TRIGGER incident_changed AFTER INSERT OR UPDATE ON incident
	FOR EACH ROW EXECUTE FUNCTION hub_incident_changed();
