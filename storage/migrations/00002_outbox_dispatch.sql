-- +goose Up
-- What the outbox dispatcher needs beyond the first schema.

-- last_attempt_at is when the current (or latest) attempt began. With it a
-- definite failure can tell whether first_attempt_at was set by that very
-- attempt, and clear it: first_attempt_at is the start of WeChat's
-- client_msg_id window, the first attempt that may have reached WeChat.
ALTER TABLE outbox ADD COLUMN last_attempt_at timestamptz;
ALTER TABLE outbox ADD CONSTRAINT outbox_status_known
  CHECK (status IN ('pending', 'sending', 'sent', 'dead', 'uncertain'));

-- TEMPLATESENDJOBFINISH receipts name the message by WeChat's msgid.
CREATE INDEX outbox_wechat_msg ON outbox (wechat_msg_id) WHERE wechat_msg_id IS NOT NULL;
-- `outbox list --status S` and the metrics' counts.
CREATE INDEX outbox_status ON outbox (status, id);
-- Pruning old inbound dedupe rows.
CREATE INDEX wechat_inbound_created ON wechat_inbound (created_at);

-- +goose Down
DROP INDEX wechat_inbound_created;
DROP INDEX outbox_status;
DROP INDEX outbox_wechat_msg;
ALTER TABLE outbox DROP CONSTRAINT outbox_status_known;
ALTER TABLE outbox DROP COLUMN last_attempt_at;
