package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/jmoiron/sqlx"
)

// EnqueueTx queues notification n inside tx, the transaction of the change
// that causes it: one outbox row per person its recipient names at this
// moment (enabled, bound and still following the 公众号), with the ticket's
// TemplateData (n.TicketID; 0 for none) and n.Note.
//
// Each row's dedupe key is dedupeKey + ":" + kind + ":" + person id, so
// queueing the same thing twice (a retry, a second replica) adds nothing: a
// ticket change passes "evt:<event id>", the scheduler its own key such as
// "remind:<ticket>:<stage>:<offset>:<due>". When the recipient resolves to
// nobody, the office gets a `notice` saying so (key dedupeKey + ":nobody:" +
// kind + ":" + audience + ":notice:" + person id); when the office has nobody
// reachable either, it is logged.
//
// It returns the number of rows queued. The caller calls Store.OutboxAdded
// (see NotifyOutboxAdded) after its commit.
func (s *Store) EnqueueTx(ctx context.Context, tx *sqlx.Tx, n hotlinebot.Notification, dedupeKey string, now time.Time) (int, error) {
	var data hotlinebot.TemplateData
	if n.TicketID != 0 {
		var err error
		if data, err = s.ticketTemplateData(ctx, tx, n.TicketID); err != nil {
			return 0, err
		}
	}
	return s.EnqueueDataTx(ctx, tx, n, data, time.Time{}, dedupeKey, now)
}

// EnqueueDataTx is EnqueueTx with the template data given (for pushes about
// no single ticket, such as the digest); n.Note fills data.Note when that is
// empty, and digestDate (zero: none) is stored as the row's digest_date.
func (s *Store) EnqueueDataTx(ctx context.Context, tx *sqlx.Tx, n hotlinebot.Notification, data hotlinebot.TemplateData, digestDate time.Time, dedupeKey string, now time.Time) (int, error) {
	if data.Note == "" {
		data.Note = n.Note
	}
	people, err := s.recipients(ctx, tx, n)
	if err != nil {
		return 0, err
	}
	if len(people) == 0 {
		return s.enqueueNobody(ctx, tx, n, data, dedupeKey, now)
	}
	js, err := json.Marshal(data)
	if err != nil {
		return 0, fmt.Errorf("storage: template data: %w", err)
	}
	var digest any
	if !digestDate.IsZero() {
		digest = digestDate.In(s.location()).Format(time.DateOnly)
	}
	queued := 0
	for _, pid := range people {
		key := dedupeKey + ":" + string(n.Kind) + ":" + strconv.FormatInt(pid, 10)
		res, err := tx.ExecContext(ctx,
			`INSERT INTO outbox (dedupe_key, kind, person_id, ticket_id, digest_date, data, next_attempt_at, created_at)
			 VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (dedupe_key) DO NOTHING`,
			key, string(n.Kind), pid, nullInt(n.TicketID), digest, string(js), now)
		if err != nil {
			return queued, fmt.Errorf("storage: queue %s push: %w", n.Kind, err)
		}
		if k, _ := res.RowsAffected(); k == 1 {
			queued++
		}
	}
	return queued, nil
}

// NotifyOutboxAdded calls Options.OutboxAdded (when set): for callers of
// EnqueueTx after their commit, when they queued rows.
func (s *Store) NotifyOutboxAdded() { s.notifyOutbox(1) }

// recipients resolves n's recipient to the ids of the people reachable now.
func (s *Store) recipients(ctx context.Context, tx *sqlx.Tx, n hotlinebot.Notification) ([]int64, error) {
	const reachable = ` p.disabled = false AND p.reachable AND p.openid IS NOT NULL `
	to := n.To
	var (
		q    string
		args []any
	)
	dept := to.Department
	if dept == "" && n.TicketID != 0 && (to.Audience == hotlinebot.AudienceDepartmentHandlers || to.Audience == hotlinebot.AudienceDepartmentLeaders) {
		if err := tx.GetContext(ctx, &dept,
			`SELECT coalesce(d.code, '') FROM tickets t LEFT JOIN departments d ON d.id = t.department_id WHERE t.id = $1`,
			n.TicketID); err != nil {
			return nil, fmt.Errorf("storage: department of #%d: %w", n.TicketID, err)
		}
	}
	switch to.Audience {
	case hotlinebot.AudiencePerson:
		q, args = `SELECT p.id FROM people p WHERE p.id = $1 AND`+reachable, []any{to.PersonID}
	case hotlinebot.AudienceAssignee:
		q, args = `SELECT p.id FROM tickets t JOIN people p ON p.id = t.assignee_id WHERE t.id = $1 AND`+reachable, []any{n.TicketID}
	case hotlinebot.AudienceDepartmentHandlers, hotlinebot.AudienceDepartmentLeaders:
		role := hotlinebot.RoleHandler
		if to.Audience == hotlinebot.AudienceDepartmentLeaders {
			role = hotlinebot.RoleLeader
		}
		q = `SELECT p.id FROM people p JOIN departments d ON d.id = p.department_id
		     WHERE d.code = $1 AND p.role = $2 AND` + reachable + `ORDER BY p.id`
		args = []any{dept, string(role)}
	case hotlinebot.AudienceOffice:
		q = `SELECT p.id FROM people p WHERE p.role = 'office' AND` + reachable + `ORDER BY p.id`
	case hotlinebot.AudienceDistrictLeaders:
		q = `SELECT p.id FROM people p WHERE p.role = 'leader' AND p.department_id IS NULL AND` + reachable + `ORDER BY p.id`
	default:
		return nil, fmt.Errorf("storage: unknown audience %q", to.Audience)
	}
	var ids []int64
	if err := tx.SelectContext(ctx, &ids, q, args...); err != nil {
		return nil, fmt.Errorf("storage: recipients of %s: %w", n.Kind, err)
	}
	return ids, nil
}

// kindChinese names a kind of push in a notice.
var kindChinese = map[hotlinebot.NotificationKind]string{
	hotlinebot.NotifyAssigned: "派单", hotlinebot.NotifyReminder: "提醒", hotlinebot.NotifyOverdue: "超期",
	hotlinebot.NotifyEscalation: "督办", hotlinebot.NotifyExtension: "延期", hotlinebot.NotifyReturned: "退回",
	hotlinebot.NotifyReopened: "重办", hotlinebot.NotifyDigest: "日报", hotlinebot.NotifyNotice: "通知",
}

// enqueueNobody tells the office that a push reached nobody.
func (s *Store) enqueueNobody(ctx context.Context, tx *sqlx.Tx, n hotlinebot.Notification, data hotlinebot.TemplateData, dedupeKey string, now time.Time) (int, error) {
	if n.To.Audience == hotlinebot.AudienceOffice {
		s.log.Warn("push reaches nobody: the office has nobody reachable", "kind", n.Kind, "ticket", n.TicketID)
		return 0, nil
	}
	deptName := data.Department
	if n.To.Department != "" {
		var name string
		if err := tx.GetContext(ctx, &name, `SELECT name FROM departments WHERE code = $1`, n.To.Department); err == nil {
			deptName = name
		}
	}
	subject := data.Ref
	if subject == "" {
		subject = kindChinese[n.Kind]
	}
	// The office reads this in a template's thing field, cut at 20
	// characters: who cannot be reached comes first, then the ticket.
	var who string
	switch n.To.Audience {
	case hotlinebot.AudienceDepartmentHandlers:
		who = deptName + "无承办人可收推送"
	case hotlinebot.AudienceDepartmentLeaders:
		who = deptName + "无领导可收推送"
	case hotlinebot.AudienceDistrictLeaders:
		who = "区领导无人可收推送"
	case hotlinebot.AudienceAssignee:
		who = "承办人无法接收推送"
	default:
		who = "收件人无法接收推送"
		if p, err := getPerson(ctx, tx, n.To.PersonID, false); err == nil {
			who = p.Name + "无法接收推送"
		}
	}
	var note string
	if n.Kind == hotlinebot.NotifyAssigned && n.To.Audience == hotlinebot.AudienceDepartmentHandlers {
		note = fmt.Sprintf("%s，%s待签收", who, subject)
	} else {
		note = fmt.Sprintf("%s：%s%s未送达", who, subject, kindChinese[n.Kind])
	}
	s.log.Warn("push reaches nobody; telling the office", "kind", n.Kind, "audience", n.To.Audience, "ticket", n.TicketID)
	data.Note = note
	notice := hotlinebot.Notification{
		Kind: hotlinebot.NotifyNotice, To: hotlinebot.Recipient{Audience: hotlinebot.AudienceOffice},
		TicketID: n.TicketID, Note: note,
	}
	key := dedupeKey + ":nobody:" + string(n.Kind) + ":" + string(n.To.Audience)
	return s.EnqueueDataTx(ctx, tx, notice, data, time.Time{}, key, now)
}

// ticketTemplateData is what a push about ticket id shows.
func (s *Store) ticketTemplateData(ctx context.Context, q sqlx.QueryerContext, id int64) (hotlinebot.TemplateData, error) {
	t, err := loadTicket(ctx, q, id, false)
	if err != nil {
		return hotlinebot.TemplateData{}, err
	}
	data := hotlinebot.TemplateData{
		Ref: t.Ref(), ExternalID: t.ExternalID, Title: t.Title, Category: t.Category,
		Status: t.Status.Chinese(),
	}
	if t.Department != "" {
		if err := sqlx.GetContext(ctx, q, &data.Department, `SELECT name FROM departments WHERE code = $1`, t.Department); err != nil {
			return data, fmt.Errorf("storage: department %s: %w", t.Department, err)
		}
	}
	if !t.DueAt.IsZero() {
		data.DueAt = t.DueAt.In(s.location()).Format(hotlinebot.LayoutMinute)
	}
	return data, nil
}
