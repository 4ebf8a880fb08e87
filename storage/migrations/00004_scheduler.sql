-- +goose Up
-- The scheduler's state (scheduler/, storage/schedule.go, storage/digest.go).

-- One row per open ticket: the deadlines and the reminder/escalation settings
-- its alarms were last planned from. A ticket whose deadlines or the settings
-- changed since is planned again.
CREATE TABLE ticket_alarm_plans (
  ticket_id bigint PRIMARY KEY REFERENCES tickets(id),
  dispatched_at timestamptz,
  sign_due_at timestamptz,
  due_at timestamptz,
  settings text NOT NULL,
  planned_at timestamptz NOT NULL
);

-- Every moment the scheduler must act on a ticket: a reminder before the 签收
-- or 办理 deadline, the missed 签收 deadline, the first crossing of the 办理
-- deadline, each escalation step. An alarm belongs to the deadline it was
-- computed from: when the deadline moves (extension, reassignment, reopen),
-- the unfired alarms of the old one are deleted and never fire.
CREATE TABLE ticket_alarms (
  ticket_id bigint NOT NULL REFERENCES tickets(id),
  stage text NOT NULL CHECK (stage IN ('sign', 'sign_missed', 'due', 'overdue', 'escalate')),
  step int NOT NULL,             -- the escalation step's index; 0 for the other stages
  span text NOT NULL,            -- the offset as configured ("2h", "1wd"); '' for none
  deadline timestamptz NOT NULL, -- the sign_due_at or due_at the alarm belongs to
  fire_at timestamptz NOT NULL,
  fired_at timestamptz,
  -- queued: pushes were queued; skipped: a later reminder of the same stage
  -- was due too and went instead; void: no longer applies (the ticket moved on)
  outcome text NOT NULL DEFAULT '' CHECK (outcome IN ('', 'queued', 'skipped', 'void')),
  PRIMARY KEY (ticket_id, stage, step, span, deadline)
);
CREATE INDEX ticket_alarms_due ON ticket_alarms (fire_at, ticket_id) WHERE fired_at IS NULL;

-- Work that runs once per cluster and day (the daily digest): taken under an
-- advisory transaction lock, the row says it is done.
CREATE TABLE scheduler_runs (
  job text NOT NULL,
  day date NOT NULL,
  ran_at timestamptz NOT NULL,
  queued int NOT NULL,
  PRIMARY KEY (job, day)
);

-- +goose Down
DROP TABLE scheduler_runs;
DROP TABLE ticket_alarms;
DROP TABLE ticket_alarm_plans;
