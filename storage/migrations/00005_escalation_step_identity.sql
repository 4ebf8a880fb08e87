-- +goose Up
-- An escalation step is known by what it is (its offset and its audiences),
-- not by its place in the [[escalation]] list: when the steps are reordered
-- or one is inserted, a new step is a new alarm with its own dedupe key, and
-- a step that only moved keeps its fired alarm and fires no second time.
ALTER TABLE ticket_alarms ADD COLUMN notify text NOT NULL DEFAULT '';
COMMENT ON COLUMN ticket_alarms.notify IS
  'an escalation step''s audiences joined by +; '''' for the other stages; #<step> for a step fired before its audiences were recorded';
-- Steps fired before this migration are known by their index only: the
-- planner does not plan the step at that index with that offset again.
UPDATE ticket_alarms SET notify = '#' || step WHERE stage = 'escalate' AND fired_at IS NOT NULL;
-- Unfired steps are planned again, with their audiences.
DELETE FROM ticket_alarm_plans WHERE ticket_id IN
  (SELECT ticket_id FROM ticket_alarms WHERE stage = 'escalate' AND fired_at IS NULL);
DELETE FROM ticket_alarms WHERE stage = 'escalate' AND fired_at IS NULL;
ALTER TABLE ticket_alarms DROP CONSTRAINT ticket_alarms_pkey;
ALTER TABLE ticket_alarms ADD PRIMARY KEY (ticket_id, stage, span, notify, deadline);

-- +goose Down
DELETE FROM ticket_alarms a USING ticket_alarms b
  WHERE a.ticket_id = b.ticket_id AND a.stage = b.stage AND a.step = b.step AND a.span = b.span
    AND a.deadline = b.deadline AND a.notify > b.notify;
ALTER TABLE ticket_alarms DROP CONSTRAINT ticket_alarms_pkey;
ALTER TABLE ticket_alarms ADD PRIMARY KEY (ticket_id, stage, step, span, deadline);
ALTER TABLE ticket_alarms DROP COLUMN notify;
