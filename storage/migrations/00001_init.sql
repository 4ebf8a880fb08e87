-- +goose Up
-- The whole schema of hotlinebot's first release. Times are timestamptz and
-- always written by the application (never now()), so tests control the clock.

CREATE TABLE departments (
  id bigserial PRIMARY KEY,
  code text NOT NULL UNIQUE CHECK (code <> ''),
  name text NOT NULL UNIQUE CHECK (name <> '')
);

CREATE TABLE people (
  id bigserial PRIMARY KEY,
  name text NOT NULL CHECK (name <> ''),
  role text NOT NULL CHECK (role IN ('handler', 'leader', 'office')),
  department_id bigint REFERENCES departments(id),
  phone text NOT NULL DEFAULT '',
  openid text UNIQUE,
  reachable boolean NOT NULL DEFAULT false,
  disabled boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL,
  bound_at timestamptz,
  unreachable_at timestamptz,
  -- A handler works in a department; the office belongs to none; a leader
  -- without one leads the district.
  CHECK (role <> 'handler' OR department_id IS NOT NULL),
  CHECK (role <> 'office' OR department_id IS NULL)
);
CREATE INDEX people_department ON people (department_id, role) WHERE NOT disabled;

-- Only the sha256 of a code is kept: a leaked table binds nobody.
CREATE TABLE bind_codes (
  id bigserial PRIMARY KEY,
  code_hash text NOT NULL UNIQUE,
  person_id bigint NOT NULL REFERENCES people(id),
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  created_at timestamptz NOT NULL
);
CREATE INDEX bind_codes_person ON bind_codes (person_id);

CREATE TABLE tickets (
  id bigserial PRIMARY KEY,
  external_id text NOT NULL UNIQUE CHECK (external_id <> ''),
  title text NOT NULL,
  content text NOT NULL,
  category text NOT NULL DEFAULT '',
  area text NOT NULL DEFAULT '',
  address text NOT NULL DEFAULT '',
  caller_name text NOT NULL DEFAULT '',
  caller_phone text NOT NULL DEFAULT '',
  urgency text NOT NULL DEFAULT 'normal' CHECK (urgency IN ('normal', 'urgent')),
  status text NOT NULL CHECK (status IN ('pending', 'dispatched', 'accepted', 'return_requested', 'completed', 'closed')),
  department_id bigint REFERENCES departments(id),
  assignee_id bigint REFERENCES people(id),
  rule text NOT NULL DEFAULT '',
  received_at timestamptz NOT NULL,
  dispatched_at timestamptz,
  sign_due_at timestamptz,
  due_at timestamptz,            -- the 办理 deadline in force, extensions included
  original_due_at timestamptz,   -- before any extension or reopen
  accepted_at timestamptz,
  completed_at timestamptz,
  closed_at timestamptz,
  outcome text NOT NULL DEFAULT '',
  followup_result text NOT NULL DEFAULT '' CHECK (followup_result IN ('', 'satisfied', 'basic', 'unsatisfied')),
  followup_at timestamptz,
  reopen_count int NOT NULL DEFAULT 0,
  return_from text NOT NULL DEFAULT '',
  return_reason text NOT NULL DEFAULT '',
  return_requested_by bigint REFERENCES people(id),
  extension_days int NOT NULL DEFAULT 0,
  extension_reason text NOT NULL DEFAULT '',
  extension_requested_by bigint REFERENCES people(id),
  extended_days int NOT NULL DEFAULT 0,
  history boolean NOT NULL DEFAULT false,
  version int NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL
);
-- The scheduler's scans: open tickets by their deadlines.
CREATE INDEX tickets_open_due ON tickets (due_at)
  WHERE status IN ('pending', 'dispatched', 'accepted', 'return_requested');
CREATE INDEX tickets_open_sign_due ON tickets (sign_due_at)
  WHERE status IN ('pending', 'dispatched', 'accepted', 'return_requested');
-- Reports and lists: the cohort by received date, by department.
CREATE INDEX tickets_received ON tickets (received_at);
CREATE INDEX tickets_department ON tickets (department_id, received_at);
CREATE INDEX tickets_assignee ON tickets (assignee_id)
  WHERE status IN ('pending', 'dispatched', 'accepted', 'return_requested');

CREATE TABLE ticket_events (
  id bigserial PRIMARY KEY,
  ticket_id bigint NOT NULL REFERENCES tickets(id),
  at timestamptz NOT NULL,
  action text NOT NULL,
  actor_id bigint REFERENCES people(id),
  channel text NOT NULL,
  from_status text NOT NULL DEFAULT '',
  to_status text NOT NULL DEFAULT '',
  note text NOT NULL DEFAULT '',
  data jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, id);
CREATE INDEX ticket_events_action ON ticket_events (action, ticket_id);

-- A ticket's history is a record: it is appended to, never rewritten.
-- +goose StatementBegin
CREATE FUNCTION ticket_events_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ticket_events are immutable';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER ticket_events_immutable BEFORE UPDATE OR DELETE ON ticket_events
  FOR EACH ROW EXECUTE FUNCTION ticket_events_immutable();

-- Every saved version of the routing rules; the highest version is in force.
CREATE TABLE rules_versions (
  version int PRIMARY KEY,
  text text NOT NULL,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL
);

CREATE TABLE outbox (
  id bigserial PRIMARY KEY,
  dedupe_key text NOT NULL UNIQUE,
  kind text NOT NULL,
  person_id bigint NOT NULL REFERENCES people(id),
  ticket_id bigint REFERENCES tickets(id),
  digest_date date,
  data jsonb NOT NULL,               -- hotlinebot.TemplateData as JSON (Go field names as keys)
  status text NOT NULL DEFAULT 'pending',  -- pending | sending | sent | dead | uncertain
  attempts int NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  first_attempt_at timestamptz,
  sent_at timestamptz,
  wechat_msg_id bigint,
  receipt_status text,
  last_error text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status IN ('pending','sending');

CREATE TABLE wechat_inbound (dedupe_key text PRIMARY KEY, openid text NOT NULL, reply text NOT NULL DEFAULT '', created_at timestamptz NOT NULL);

CREATE TABLE kv (key text PRIMARY KEY, value text NOT NULL, expires_at timestamptz);

-- +goose Down
DROP TABLE kv;
DROP TABLE wechat_inbound;
DROP TABLE outbox;
DROP TABLE rules_versions;
DROP TABLE ticket_events;
DROP FUNCTION ticket_events_immutable();
DROP TABLE tickets;
DROP TABLE bind_codes;
DROP TABLE people;
DROP TABLE departments;
