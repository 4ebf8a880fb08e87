package storage

// The outbox: pushes queued by ticket transactions (and the scheduler), sent
// by scheduler.Dispatcher through WeChat. This file holds the dispatcher's
// side: claiming rows under a lease, recording outcomes, receipts, and the
// office's view (`hotlinebot outbox list|retry`, /metrics).

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hotlinebot/hotlinebot"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// PushStatus is where an outbox row stands.
type PushStatus string

const (
	PushPending   PushStatus = "pending"   // waits for its next attempt
	PushSending   PushStatus = "sending"   // claimed by a dispatcher, under a lease
	PushSent      PushStatus = "sent"      // WeChat accepted it
	PushDead      PushStatus = "dead"      // failed for good; the office was told
	PushUncertain PushStatus = "uncertain" // may or may not have arrived; not resent
)

// PushStatuses lists every status, in the order a push goes through them.
var PushStatuses = []PushStatus{PushPending, PushSending, PushSent, PushDead, PushUncertain}

// Chinese is the status as the office reads it.
func (s PushStatus) Chinese() string {
	switch s {
	case PushPending:
		return "待发送"
	case PushSending:
		return "发送中"
	case PushSent:
		return "已发送"
	case PushDead:
		return "发送失败"
	case PushUncertain:
		return "不确定是否送达"
	}
	return string(s)
}

const (
	// PushLease is how long a claimed row belongs to its dispatcher. A
	// dispatcher that crashes mid-send leaves the row in `sending`; once the
	// lease runs out another one claims it again.
	PushLease = 2 * time.Minute
	// ClientMsgIDWindow is how long after its first attempt a push may be
	// resent. WeChat drops a repeat of a client_msg_id for about 10 minutes;
	// resending later could deliver it twice, so the row becomes uncertain.
	ClientMsgIDWindow = 8 * time.Minute
)

// DeadReason says why a push failed for good; it decides what the office is told.
type DeadReason string

const (
	DeadUserGone DeadReason = "user_gone" // 43004, 40003: unfollowed or the openid is wrong
	DeadBlocked  DeadReason = "blocked"   // 43101: the user refuses the account's messages
	DeadRejected DeadReason = "rejected"  // the message itself cannot be sent (template setup, content)
	DeadGaveUp   DeadReason = "gave_up"   // transient errors for too long
)

// PushRow is an outbox row as `hotlinebot outbox list` shows it.
type PushRow struct {
	ID             int64                       `json:"id"`
	DedupeKey      string                      `json:"dedupe_key"`
	Kind           hotlinebot.NotificationKind `json:"kind"`
	PersonID       int64                       `json:"person_id"`
	PersonName     string                      `json:"person_name"`
	TicketID       int64                       `json:"ticket_id,omitempty"`
	TicketRef      string                      `json:"ticket_ref,omitempty"` // "#37"
	DigestDate     string                      `json:"digest_date,omitempty"`
	Status         PushStatus                  `json:"status"`
	Attempts       int                         `json:"attempts"`
	NextAttemptAt  time.Time                   `json:"next_attempt_at"`
	FirstAttemptAt *time.Time                  `json:"first_attempt_at"`
	LastAttemptAt  *time.Time                  `json:"last_attempt_at"`
	SentAt         *time.Time                  `json:"sent_at"`
	WeChatMsgID    int64                       `json:"wechat_msg_id,omitempty"`
	ReceiptStatus  string                      `json:"receipt_status,omitempty"`
	LastError      string                      `json:"last_error"`
	CreatedAt      time.Time                   `json:"created_at"`
}

type claimRow struct {
	ID             int64          `db:"id"`
	Kind           string         `db:"kind"`
	PersonID       int64          `db:"person_id"`
	TicketID       sql.NullInt64  `db:"ticket_id"`
	DigestDate     sql.NullTime   `db:"digest_date"`
	Data           []byte         `db:"data"`
	Attempts       int            `db:"attempts"`
	FirstAttemptAt sql.NullTime   `db:"first_attempt_at"`
	OpenID         sql.NullString `db:"openid"`
	Reachable      bool           `db:"reachable"`
	Disabled       bool           `db:"disabled"`
}

// outboxPauseKey is the kv row that pauses all sending (WeChat's 45009), so
// that every replica holds off, not only the one that hit the quota.
const outboxPauseKey = "outbox:paused"

// ClaimPushes claims up to limit pushes due at now for sending: one
// transaction that locks due rows with SKIP LOCKED (so several dispatchers
// never claim one row), sets them `sending` under a lease of PushLease, and
// returns them with the recipient's openid. On the way it settles rows that
// must not be sent: a row whose first attempt lies more than
// ClientMsgIDWindow back becomes uncertain, a row whose recipient is no
// longer bound, following or enabled becomes dead. Nothing is claimed while
// sending is paused (PauseOutbox).
func (s *Store) ClaimPushes(ctx context.Context, now time.Time, limit int) ([]hotlinebot.Push, error) {
	if limit <= 0 {
		limit = 10
	}
	var pushes []hotlinebot.Push
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var paused bool
		err := tx.GetContext(ctx, &paused,
			`SELECT EXISTS (SELECT 1 FROM kv WHERE key = $1 AND expires_at > $2)`, outboxPauseKey, now)
		if err != nil {
			return fmt.Errorf("storage: outbox pause: %w", err)
		}
		if paused {
			return nil
		}
		for len(pushes) == 0 {
			var rows []claimRow
			err := tx.SelectContext(ctx, &rows,
				`SELECT o.id, o.kind, o.person_id, o.ticket_id, o.digest_date, o.data, o.attempts,
				        o.first_attempt_at, p.openid, p.reachable, p.disabled
				   FROM outbox o JOIN people p ON p.id = o.person_id
				  WHERE o.status IN ('pending', 'sending') AND o.next_attempt_at <= $1
				  ORDER BY o.next_attempt_at, o.id
				  LIMIT $2
				  FOR UPDATE OF o SKIP LOCKED`, now, limit)
			if err != nil {
				return fmt.Errorf("storage: claim pushes: %w", err)
			}
			if len(rows) == 0 {
				return nil
			}
			var claimed, uncertain, dead []int64
			for _, r := range rows {
				switch {
				case r.FirstAttemptAt.Valid && now.Sub(r.FirstAttemptAt.Time) > ClientMsgIDWindow:
					uncertain = append(uncertain, r.ID)
				case !r.OpenID.Valid || r.OpenID.String == "" || !r.Reachable || r.Disabled:
					dead = append(dead, r.ID)
				default:
					p, err := r.push()
					if err != nil {
						return err
					}
					pushes = append(pushes, p)
					claimed = append(claimed, r.ID)
				}
			}
			if len(uncertain) > 0 {
				if _, err := tx.ExecContext(ctx,
					`UPDATE outbox SET status = 'uncertain',
					        last_error = '发送可能已到达微信但未确认，且已超过可安全重发的时间（首次发送后 8 分钟），不再重发'
					                     || CASE WHEN last_error = '' THEN '' ELSE '；' || last_error END
					  WHERE id = ANY($1)`, pq.Array(uncertain)); err != nil {
					return fmt.Errorf("storage: claim pushes: uncertain: %w", err)
				}
			}
			if len(dead) > 0 {
				if _, err := tx.ExecContext(ctx,
					`UPDATE outbox SET status = 'dead', last_error = '收件人未绑定微信、已取消关注或已停用'
					  WHERE id = ANY($1)`, pq.Array(dead)); err != nil {
					return fmt.Errorf("storage: claim pushes: dead: %w", err)
				}
			}
			if len(claimed) > 0 {
				if _, err := tx.ExecContext(ctx,
					`UPDATE outbox SET status = 'sending', attempts = attempts + 1,
					        first_attempt_at = COALESCE(first_attempt_at, $2),
					        last_attempt_at = $2, next_attempt_at = $3
					  WHERE id = ANY($1)`, pq.Array(claimed), now, now.Add(PushLease)); err != nil {
					return fmt.Errorf("storage: claim pushes: %w", err)
				}
			}
			if len(rows) < limit {
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return pushes, nil
}

func (r claimRow) push() (hotlinebot.Push, error) {
	p := hotlinebot.Push{
		OutboxID: r.ID,
		Kind:     hotlinebot.NotificationKind(r.Kind),
		PersonID: r.PersonID,
		OpenID:   r.OpenID.String,
		TicketID: r.TicketID.Int64,
		Attempt:  r.Attempts + 1,
	}
	if r.DigestDate.Valid {
		p.Date = r.DigestDate.Time.Format(time.DateOnly)
	}
	if err := json.Unmarshal(r.Data, &p.Data); err != nil {
		return p, fmt.Errorf("storage: outbox row %d: data: %w", r.ID, err)
	}
	return p, nil
}

// MarkSent records that WeChat accepted push id as message msgID, with the
// delivery receipt if WeChat's TEMPLATESENDJOBFINISH came first.
func (s *Store) MarkSent(ctx context.Context, id, msgID int64, now time.Time) error {
	queued := 0
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx,
			`UPDATE outbox SET status = 'sent', sent_at = $3, wechat_msg_id = $2, last_error = ''
			  WHERE id = $1 AND status <> 'sent'`, id, nullInt(msgID), now); err != nil {
			return fmt.Errorf("storage: mark push %d sent: %w", id, err)
		}
		if msgID == 0 {
			return nil
		}
		var early []string
		if err := tx.SelectContext(ctx, &early,
			`DELETE FROM kv WHERE key = $1 RETURNING value`, receiptKey(msgID)); err != nil {
			return fmt.Errorf("storage: mark push %d sent: early receipt: %w", id, err)
		}
		if len(early) == 0 {
			return nil
		}
		var err error
		_, queued, err = s.ApplyReceiptTx(ctx, tx, msgID, early[0], now)
		return err
	})
	if err != nil {
		return err
	}
	s.notifyOutbox(queued)
	return nil
}

// receiptKey is the kv row that keeps a receipt which came before its push
// was marked sent.
func receiptKey(msgID int64) string { return "outbox:receipt:" + strconv.FormatInt(msgID, 10) }

// earlyReceiptTTL is how long a receipt for a msgid no push has (yet) is kept.
const earlyReceiptTTL = 24 * time.Hour

// MarkRetry puts a claimed push back for another attempt at nextAt after a
// failure that certainly did not deliver it (WeChat answered with an error).
// An attempt that did not reach WeChat opens no client_msg_id window: if it
// was the one that set first_attempt_at, that is cleared.
//
// attempt is the claim's Push.Attempt: a dispatcher whose lease ran out and
// whose row was claimed again meanwhile changes nothing (MarkCutOff and
// ReleasePush alike).
func (s *Store) MarkRetry(ctx context.Context, id int64, attempt int, nextAt time.Time, errText string) error {
	_, err := s.db.ExecContext(ctx,
		`UPDATE outbox SET status = 'pending', next_attempt_at = $2, last_error = $3,
		        first_attempt_at = CASE WHEN first_attempt_at = last_attempt_at THEN NULL ELSE first_attempt_at END
		  WHERE id = $1 AND status = 'sending' AND attempts = $4`, id, nextAt, truncateError(errText), attempt)
	if err != nil {
		return fmt.Errorf("storage: retry push %d: %w", id, err)
	}
	return nil
}

// ReleasePush gives back a claimed push that was not attempted at all (the
// dispatcher stopped, or sending was paused), due again at nextAt.
func (s *Store) ReleasePush(ctx context.Context, id int64, attempt int, nextAt time.Time) error {
	_, err := s.db.ExecContext(ctx,
		`UPDATE outbox SET status = 'pending', next_attempt_at = $2, attempts = greatest(attempts - 1, 0),
		        first_attempt_at = CASE WHEN first_attempt_at = last_attempt_at THEN NULL ELSE first_attempt_at END
		  WHERE id = $1 AND status = 'sending' AND attempts = $3`, id, nextAt, attempt)
	if err != nil {
		return fmt.Errorf("storage: release push %d: %w", id, err)
	}
	return nil
}

// MarkCutOff records an attempt that may have reached WeChat (the connection
// broke after the request went out). The push is resent at nextAt with the
// same client_msg_id if that is still within ClientMsgIDWindow of its first
// attempt; otherwise it becomes uncertain at once. It returns the status the
// row is left in ("" when the claim is stale).
func (s *Store) MarkCutOff(ctx context.Context, id int64, attempt int, nextAt time.Time, errText string) (PushStatus, error) {
	var st PushStatus
	err := s.db.GetContext(ctx, &st,
		`UPDATE outbox SET next_attempt_at = $2, last_error = $3,
		        status = CASE WHEN $2 - first_attempt_at > $4::interval THEN 'uncertain' ELSE 'pending' END
		  WHERE id = $1 AND status = 'sending' AND attempts = $5 RETURNING status`,
		id, nextAt, truncateError(errText), fmt.Sprintf("%d seconds", int(ClientMsgIDWindow.Seconds())), attempt)
	if notFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("storage: cut-off push %d: %w", id, err)
	}
	return st, nil
}

// MarkUncertain records that push id may or may not have arrived and must not
// be resent; the office can check with the recipient and `outbox retry` it.
func (s *Store) MarkUncertain(ctx context.Context, id int64, errText string, now time.Time) error {
	_, err := s.db.ExecContext(ctx,
		`UPDATE outbox SET status = 'uncertain', last_error = $2, next_attempt_at = $3
		  WHERE id = $1 AND status IN ('pending', 'sending')`, id, truncateError(errText), now)
	if err != nil {
		return fmt.Errorf("storage: mark push %d uncertain: %w", id, err)
	}
	return nil
}

// MarkDead records that push id failed for good and, in the same
// transaction, tells the office: a `notice` to each reachable office member,
// dedupe key "notice:dead:<id>:notice:<person>", so a repeat tells nobody
// twice. For DeadUserGone the recipient is also marked unreachable, so the
// pushes queued for them next are not attempted. A failed notice about a
// failed push tells nobody, so failures never chain.
func (s *Store) MarkDead(ctx context.Context, id int64, reason DeadReason, errText string, now time.Time) error {
	queued := 0
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var r noticeSource
		err := tx.GetContext(ctx, &r,
			`UPDATE outbox SET status = 'dead', last_error = $2, next_attempt_at = $3
			  WHERE id = $1 AND status IN ('pending', 'sending')
			  RETURNING id, kind, person_id, ticket_id, digest_date, data, dedupe_key`,
			id, truncateError(errText), now)
		if notFound(err) {
			return nil // settled already (another dispatcher, or the office)
		}
		if err != nil {
			return fmt.Errorf("storage: mark push %d dead: %w", id, err)
		}
		if reason == DeadUserGone {
			if _, err := tx.ExecContext(ctx,
				`UPDATE people SET reachable = false, unreachable_at = $2 WHERE id = $1 AND reachable`,
				r.PersonID, now); err != nil {
				return fmt.Errorf("storage: mark push %d dead: person: %w", id, err)
			}
		}
		if r.isFailureNotice() {
			return nil
		}
		p, err := getPerson(ctx, tx, r.PersonID, false)
		if err != nil {
			return err
		}
		var why string
		switch reason {
		case DeadUserGone:
			why = "无法送达（对方已取消关注或账号无效）"
		case DeadBlocked:
			why = "未送达（对方已拒收公众号消息）"
		case DeadGaveUp:
			why = "多次重试仍未发出（微信接口持续出错）"
		default:
			why = "无法发送（模板配置或内容有误，详见 hotlinebot outbox list）"
		}
		note := fmt.Sprintf("推送给 %s 的消息%s：%s", p.Name, why, r.subject())
		n, err := s.queueOfficeNotice(ctx, tx, fmt.Sprintf("notice:dead:%d", id), r.TicketID.Int64, r.noticeData(note), now)
		queued = n
		return err
	})
	if err != nil {
		return err
	}
	s.notifyOutbox(queued)
	return nil
}

// ApplyReceipt records WeChat's TEMPLATESENDJOBFINISH status for message
// msgID ("success", "failed:user block", "failed: system failed"). A user who
// blocks the account's messages never sees the push, so the office is told.
// It reports whether a push with that msgID exists.
func (s *Store) ApplyReceipt(ctx context.Context, msgID int64, status string, now time.Time) (bool, error) {
	var found bool
	queued := 0
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		found, queued, err = s.ApplyReceiptTx(ctx, tx, msgID, status, now)
		return err
	})
	if err != nil {
		return false, err
	}
	s.notifyOutbox(queued)
	return found, nil
}

// ApplyReceiptTx is ApplyReceipt inside tx (for Inbound); it returns whether
// the push exists and how many notices it queued. The caller commits and then
// calls NotifyOutbox when any were queued.
func (s *Store) ApplyReceiptTx(ctx context.Context, tx *sqlx.Tx, msgID int64, status string, now time.Time) (bool, int, error) {
	var rows []noticeSource
	err := tx.SelectContext(ctx, &rows,
		`UPDATE outbox SET receipt_status = $2 WHERE wechat_msg_id = $1
		  RETURNING id, kind, person_id, ticket_id, digest_date, data, dedupe_key`, msgID, status)
	if err != nil {
		return false, 0, fmt.Errorf("storage: receipt %d: %w", msgID, err)
	}
	if len(rows) == 0 && msgID != 0 {
		// WeChat may report before the dispatcher has recorded the msgid:
		// MarkSent applies the receipt then.
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO kv (key, value, expires_at) VALUES ($1, $2, $3)
			 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at`,
			receiptKey(msgID), status, now.Add(earlyReceiptTTL)); err != nil {
			return false, 0, fmt.Errorf("storage: receipt %d: keep for later: %w", msgID, err)
		}
		return false, 0, nil
	}
	queued := 0
	if strings.Contains(strings.ReplaceAll(status, " ", ""), "userblock") {
		for _, r := range rows {
			if r.isFailureNotice() {
				continue
			}
			p, err := getPerson(ctx, tx, r.PersonID, false)
			if err != nil {
				return false, queued, err
			}
			note := fmt.Sprintf("推送给 %s 的消息未送达（对方已拒收公众号消息）：%s", p.Name, r.subject())
			n, err := s.queueOfficeNotice(ctx, tx, fmt.Sprintf("notice:block:%d", r.ID), r.TicketID.Int64, r.noticeData(note), now)
			if err != nil {
				return false, queued, err
			}
			queued += n
		}
	}
	return len(rows) > 0, queued, nil
}

// NotifyOutbox wakes the dispatcher after a transaction that queued pushes
// (n of them) has committed; for callers of the …Tx methods.
func (s *Store) NotifyOutbox(n int) { s.notifyOutbox(n) }

// PauseOutbox stops every dispatcher from claiming pushes until until (WeChat's
// daily quota, 45009). The pause lives in the database, so it holds for all replicas.
func (s *Store) PauseOutbox(ctx context.Context, until time.Time, reason string) error {
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO kv (key, value, expires_at) VALUES ($1, $2, $3)
		 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at`,
		outboxPauseKey, truncateError(reason), until)
	if err != nil {
		return fmt.Errorf("storage: pause outbox: %w", err)
	}
	return nil
}

// ListPushes lists outbox rows by id after `after`: those with the given
// status, or with "" every row not sent yet or failed (pending, sending,
// dead, uncertain), or with "all" every row.
func (s *Store) ListPushes(ctx context.Context, status string, after int64, limit int) ([]PushRow, error) {
	q := `SELECT o.id, o.dedupe_key, o.kind, o.person_id, p.name AS person_name, o.ticket_id, o.digest_date,
	             o.status, o.attempts, o.next_attempt_at, o.first_attempt_at, o.last_attempt_at, o.sent_at,
	             o.wechat_msg_id, o.receipt_status, o.last_error, o.created_at
	        FROM outbox o JOIN people p ON p.id = o.person_id
	       WHERE o.id > $1`
	args := []any{after}
	switch status = strings.TrimSpace(status); status {
	case "":
		q += ` AND o.status <> 'sent'`
	case "all":
	default:
		if !validPushStatus(status) {
			return nil, hotlinebot.Errorf(hotlinebot.EINVALID,
				"推送状态 %q 无效：应为 pending（待发送）、sending（发送中）、sent（已发送）、dead（发送失败）、uncertain（不确定是否送达）或 all", status)
		}
		args = append(args, status)
		q += ` AND o.status = $2`
	}
	args = append(args, pageLimit(limit))
	q += fmt.Sprintf(` ORDER BY o.id LIMIT $%d`, len(args))
	var rows []pushRow
	if err := s.db.SelectContext(ctx, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("storage: list pushes: %w", err)
	}
	list := make([]PushRow, len(rows))
	for i, r := range rows {
		list[i] = r.row()
	}
	return list, nil
}

// RetryPush sends a dead or uncertain push again, at once: the office has
// checked that the recipient did not get it (or fixed the template). It gets
// a fresh client_msg_id window: attempts and first_attempt_at start over.
func (s *Store) RetryPush(ctx context.Context, id int64, now time.Time) (PushRow, error) {
	var row PushRow
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var cur struct {
			Status    string         `db:"status"`
			Name      string         `db:"name"`
			OpenID    sql.NullString `db:"openid"`
			Reachable bool           `db:"reachable"`
			Disabled  bool           `db:"disabled"`
		}
		err := tx.GetContext(ctx, &cur,
			`SELECT o.status, p.name, p.openid, p.reachable, p.disabled
			   FROM outbox o JOIN people p ON p.id = o.person_id WHERE o.id = $1 FOR UPDATE OF o`, id)
		if notFound(err) {
			return hotlinebot.Errorf(hotlinebot.ENOTFOUND, "没有编号为 %d 的推送", id)
		}
		if err != nil {
			return fmt.Errorf("storage: retry push %d: %w", id, err)
		}
		st := PushStatus(cur.Status)
		if st != PushDead && st != PushUncertain {
			return hotlinebot.Errorf(hotlinebot.ECONFLICT,
				"推送 %d 的状态是“%s”：只有“发送失败”或“不确定是否送达”的推送可以重试", id, st.Chinese())
		}
		if cur.Disabled || !cur.OpenID.Valid || !cur.Reachable {
			return hotlinebot.Errorf(hotlinebot.ECONFLICT,
				"%s 已停用、未绑定微信或已取消关注：请先让其重新绑定，再重试推送 %d", cur.Name, id)
		}
		if _, err := tx.ExecContext(ctx,
			`UPDATE outbox SET status = 'pending', attempts = 0, first_attempt_at = NULL, last_attempt_at = NULL,
			        next_attempt_at = $2, last_error = '', receipt_status = NULL
			  WHERE id = $1`, id, now); err != nil {
			return fmt.Errorf("storage: retry push %d: %w", id, err)
		}
		var r pushRow
		if err := tx.GetContext(ctx, &r,
			`SELECT o.id, o.dedupe_key, o.kind, o.person_id, p.name AS person_name, o.ticket_id, o.digest_date,
			        o.status, o.attempts, o.next_attempt_at, o.first_attempt_at, o.last_attempt_at, o.sent_at,
			        o.wechat_msg_id, o.receipt_status, o.last_error, o.created_at
			   FROM outbox o JOIN people p ON p.id = o.person_id WHERE o.id = $1`, id); err != nil {
			return fmt.Errorf("storage: retry push %d: %w", id, err)
		}
		row = r.row()
		return nil
	})
	if err != nil {
		return PushRow{}, err
	}
	s.notifyOutbox(1)
	return row, nil
}

// OutboxCounts counts the outbox rows not sent, by status (pending, sending,
// dead, uncertain; each present), for /metrics. Sent rows, which pile up
// over the years, are left out so a scrape reads only the status index.
func (s *Store) OutboxCounts(ctx context.Context) (map[string]int, error) {
	var rows []struct {
		Status string `db:"status"`
		N      int    `db:"n"`
	}
	if err := s.db.SelectContext(ctx, &rows,
		`SELECT status, count(*) AS n FROM outbox
		  WHERE status IN ('pending', 'sending', 'dead', 'uncertain') GROUP BY status`); err != nil {
		return nil, fmt.Errorf("storage: outbox counts: %w", err)
	}
	counts := make(map[string]int, len(PushStatuses))
	for _, st := range PushStatuses {
		if st != PushSent {
			counts[string(st)] = 0
		}
	}
	for _, r := range rows {
		counts[r.Status] = r.N
	}
	return counts, nil
}

func validPushStatus(s string) bool {
	for _, st := range PushStatuses {
		if string(st) == s {
			return true
		}
	}
	return false
}

type pushRow struct {
	ID             int64          `db:"id"`
	DedupeKey      string         `db:"dedupe_key"`
	Kind           string         `db:"kind"`
	PersonID       int64          `db:"person_id"`
	PersonName     string         `db:"person_name"`
	TicketID       sql.NullInt64  `db:"ticket_id"`
	DigestDate     sql.NullTime   `db:"digest_date"`
	Status         string         `db:"status"`
	Attempts       int            `db:"attempts"`
	NextAttemptAt  time.Time      `db:"next_attempt_at"`
	FirstAttemptAt sql.NullTime   `db:"first_attempt_at"`
	LastAttemptAt  sql.NullTime   `db:"last_attempt_at"`
	SentAt         sql.NullTime   `db:"sent_at"`
	WeChatMsgID    sql.NullInt64  `db:"wechat_msg_id"`
	ReceiptStatus  sql.NullString `db:"receipt_status"`
	LastError      string         `db:"last_error"`
	CreatedAt      time.Time      `db:"created_at"`
}

func (r pushRow) row() PushRow {
	p := PushRow{
		ID:             r.ID,
		DedupeKey:      r.DedupeKey,
		Kind:           hotlinebot.NotificationKind(r.Kind),
		PersonID:       r.PersonID,
		PersonName:     r.PersonName,
		TicketID:       r.TicketID.Int64,
		Status:         PushStatus(r.Status),
		Attempts:       r.Attempts,
		NextAttemptAt:  r.NextAttemptAt,
		FirstAttemptAt: timePtr(r.FirstAttemptAt),
		LastAttemptAt:  timePtr(r.LastAttemptAt),
		SentAt:         timePtr(r.SentAt),
		WeChatMsgID:    r.WeChatMsgID.Int64,
		ReceiptStatus:  r.ReceiptStatus.String,
		LastError:      r.LastError,
		CreatedAt:      r.CreatedAt,
	}
	if r.TicketID.Valid {
		p.TicketRef = fmt.Sprintf("#%d", r.TicketID.Int64)
	}
	if r.DigestDate.Valid {
		p.DigestDate = r.DigestDate.Time.Format(time.DateOnly)
	}
	return p
}

func timePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	return &t.Time
}

// noticeSource is a push that a notice to the office is about.
type noticeSource struct {
	ID         int64         `db:"id"`
	Kind       string        `db:"kind"`
	PersonID   int64         `db:"person_id"`
	TicketID   sql.NullInt64 `db:"ticket_id"`
	DigestDate sql.NullTime  `db:"digest_date"`
	Data       []byte        `db:"data"`
	DedupeKey  string        `db:"dedupe_key"`
}

// isFailureNotice reports whether the push is itself a notice about a failed push.
func (r noticeSource) isFailureNotice() bool {
	return strings.HasPrefix(r.DedupeKey, "notice:dead:") || strings.HasPrefix(r.DedupeKey, "notice:block:")
}

func (r noticeSource) data() hotlinebot.TemplateData {
	var d hotlinebot.TemplateData
	_ = json.Unmarshal(r.Data, &d) // written by us; a bad row only loses the ticket's details
	return d
}

// subject names what the push was about: "#37 路灯不亮", "每日摘要 2026年12月01日".
func (r noticeSource) subject() string {
	d := r.data()
	switch {
	case d.Ref != "":
		if d.Title == "" {
			return d.Ref
		}
		return d.Ref + " " + cutRunes(d.Title, 20)
	case r.Kind == string(hotlinebot.NotifyDigest):
		if r.DigestDate.Valid {
			return "每日摘要 " + r.DigestDate.Time.Format(hotlinebot.LayoutDate)
		}
		return "每日摘要"
	case d.Note != "":
		return cutRunes(d.Note, 20)
	}
	return kindChinese[hotlinebot.NotificationKind(r.Kind)]
}

// noticeData keeps the failed push's ticket values (so the notice links to
// the ticket) with note as its text.
func (r noticeSource) noticeData(note string) hotlinebot.TemplateData {
	d := r.data()
	d.Note = note
	d.Count = ""
	return d
}

func cutRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// truncateError keeps last_error readable and bounded.
func truncateError(s string) string { return cutRunes(s, 500) }

// queueOfficeNotice queues a `notice` with data to every reachable office
// member (EnqueueDataTx), keyed by key, so a repeat queues nothing. The
// caller calls notifyOutbox with the count after its commit.
func (s *Store) queueOfficeNotice(ctx context.Context, tx *sqlx.Tx, key string, ticketID int64,
	data hotlinebot.TemplateData, now time.Time) (int, error) {
	n := hotlinebot.Notification{
		Kind:     hotlinebot.NotifyNotice,
		To:       hotlinebot.Recipient{Audience: hotlinebot.AudienceOffice},
		TicketID: ticketID,
		Note:     data.Note,
	}
	return s.EnqueueDataTx(ctx, tx, n, data, time.Time{}, key, now)
}
