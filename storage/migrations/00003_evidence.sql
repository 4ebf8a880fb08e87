-- +goose Up
-- Images a person sends in WeChat within 10 minutes after their own 办结 or
-- 进展: kept here as that event's evidence. WeChat's media ids expire after 3
-- days, so the bytes are fetched at once and stored (up to 2 MB each).

CREATE TABLE evidence (
  id bigserial PRIMARY KEY,
  ticket_id bigint NOT NULL REFERENCES tickets(id),
  event_id bigint NOT NULL REFERENCES ticket_events(id),    -- the 办结/进展 it belongs to
  person_id bigint NOT NULL REFERENCES people(id),
  media_id text NOT NULL UNIQUE,
  status text NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'stored', 'failed', 'too_large')),
  content_type text NOT NULL DEFAULT '',
  size int NOT NULL DEFAULT 0,
  data bytea,
  attempts int NOT NULL DEFAULT 0,
  last_error text NOT NULL DEFAULT '',
  evidence_event_id bigint REFERENCES ticket_events(id),  -- the `evidence` event, once fetched
  received_at timestamptz NOT NULL,
  fetched_at timestamptz,
  CHECK (data IS NULL OR octet_length(data) <= 2097152)
);
CREATE INDEX evidence_ticket ON evidence (ticket_id, id);
CREATE INDEX evidence_pending ON evidence (received_at) WHERE status = 'pending';
-- An image finds its person's latest 办结/进展.
CREATE INDEX ticket_events_actor_work ON ticket_events (actor_id, at)
  WHERE action IN ('complete', 'progress');

-- +goose Down
DROP INDEX ticket_events_actor_work;
DROP TABLE evidence;
