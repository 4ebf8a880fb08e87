package storage

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/jmoiron/sqlx"
)

// ImportOptions control ImportTickets.
type ImportOptions struct {
	DryRun bool // validate and report, store nothing
	Quiet  bool // queue no pushes
}

// ImportResult says what an import did.
type ImportResult struct {
	Created  int // new tickets
	Existing int // rows whose external_id was already stored (left unchanged)
	History  int // of the created, rows stored as history (completed_at set)
}

// RowError is what is wrong with one row of an import.
type RowError struct {
	Row     int    // index into the rows given to ImportTickets, from 0
	Field   string // the NewTicket field's column name: "external_id", "department"…
	Message string // in Chinese, for the clerk
}

// ImportError lists every bad row of a refused import. Its code is EINVALID
// (errors.As to *hotlinebot.Error works through Unwrap).
type ImportError struct {
	Rows []RowError
}

func (e *ImportError) Error() string {
	var b strings.Builder
	for i, r := range e.Rows {
		if i > 0 {
			b.WriteString("；")
		}
		fmt.Fprintf(&b, "第 %d 条（%s）：%s", r.Row+1, r.Field, r.Message)
	}
	return b.String()
}

// Unwrap gives the coded error the edges map to "invalid".
func (e *ImportError) Unwrap() error {
	return &hotlinebot.Error{Code: hotlinebot.EINVALID, Message: e.Error()}
}

// validateNewTicket checks one row and returns its problems.
// futureSlack is how far ahead of now a time given at intake may be (the
// city's clock and ours differ a little); later is a typo (2071 for 2017).
const futureSlack = time.Hour

func validateNewTicket(in *NewTicket, now time.Time) []RowError {
	var errs []RowError
	bad := func(field, msg string) { errs = append(errs, RowError{Field: field, Message: msg}) }
	in.ExternalID = strings.TrimSpace(in.ExternalID)
	in.Title = strings.TrimSpace(in.Title)
	in.Content = strings.TrimSpace(in.Content)
	if in.ExternalID == "" {
		bad("external_id", "缺少工单编号（external_id）")
	}
	if in.Title == "" {
		bad("title", "缺少标题（title）")
	}
	if in.Content == "" {
		bad("content", "缺少诉求内容（content）")
	}
	if in.Urgency != "" {
		u, err := hotlinebot.ParseUrgency(string(in.Urgency))
		if err != nil {
			bad("urgency", hotlinebot.ErrorMessage(err))
		}
		in.Urgency = u
	}
	if in.FollowUpResult != "" {
		r, err := hotlinebot.ParseFollowUpResult(string(in.FollowUpResult))
		if err != nil {
			bad("followup_result", hotlinebot.ErrorMessage(err))
		}
		in.FollowUpResult = r
	}
	if in.CompletedAt.IsZero() {
		if in.Outcome != "" {
			bad("outcome", "有办理结果（outcome）却没有办结时间（completed_at）")
		}
		if in.FollowUpResult != "" || !in.FollowUpAt.IsZero() {
			bad("followup_result", "有回访（followup_result）却没有办结时间（completed_at）")
		}
	} else {
		if !in.ReceivedAt.IsZero() && in.CompletedAt.Before(in.ReceivedAt) {
			bad("completed_at", "办结时间（completed_at）早于受理时间（received_at）")
		}
		if !in.FollowUpAt.IsZero() && in.FollowUpAt.Before(in.CompletedAt) {
			bad("followup_at", "回访时间（followup_at）早于办结时间（completed_at）")
		}
		if !in.FollowUpAt.IsZero() && in.FollowUpResult == "" {
			bad("followup_result", "有回访时间（followup_at）却没有回访结果（followup_result）")
		}
	}
	future := now.Add(futureSlack)
	if in.ReceivedAt.After(future) {
		bad("received_at", "受理时间（received_at）晚于当前时间")
	}
	if in.CompletedAt.After(future) {
		bad("completed_at", "办结时间（completed_at）晚于当前时间")
	}
	if in.FollowUpAt.After(future) {
		bad("followup_at", "回访时间（followup_at）晚于当前时间")
	}
	if !in.DueAt.IsZero() && !in.ReceivedAt.IsZero() && in.DueAt.Before(in.ReceivedAt) {
		bad("due_at", "办理时限（due_at）早于受理时间（received_at）")
	}
	return errs
}

// routing is where a new ticket goes: its department code ("" for pending),
// the rule that chose it and the urgency it sets.
type routing struct {
	department string
	rule       string
	urgency    hotlinebot.Urgency
}

// route decides a new ticket's department: the one given, else the rules.
func route(ctx context.Context, q sqlx.QueryerContext, rs hotlinebot.RuleSet, in NewTicket) (routing, error) {
	if in.Department != "" {
		d, err := department(ctx, q, in.Department)
		if err != nil {
			if hotlinebot.ErrorCodeOf(err) == hotlinebot.ENOTFOUND {
				return routing{}, hotlinebot.Errorf(hotlinebot.EINVALID, "承办单位（department）%s 不存在", in.Department)
			}
			return routing{}, err
		}
		return routing{department: d.Code}, nil
	}
	rule, dept := rs.Match(hotlinebot.RuleInput{Category: in.Category, Area: in.Area, Title: in.Title, Content: in.Content})
	r := routing{department: dept}
	if rule != nil {
		r.rule, r.urgency = rule.Name, rule.Urgency
	}
	return r, nil
}

// CreateTicket stores a new ticket, routes and dispatches it, and queues its
// pushes, in one transaction. An existing external_id returns the stored ticket
// with created=false and changes nothing (also when two callers race).
func (s *Store) CreateTicket(ctx context.Context, in NewTicket, actor hotlinebot.Actor, now time.Time) (t hotlinebot.Ticket, created bool, err error) {
	if errs := validateNewTicket(&in, now); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Message
		}
		return t, false, hotlinebot.Errorf(hotlinebot.EINVALID, "%s", strings.Join(msgs, "；"))
	}
	rs, _, err := s.Rules(ctx)
	if err != nil {
		return t, false, err
	}
	var queued int
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		r, err := route(ctx, tx, rs, in)
		if err != nil {
			return err
		}
		t, created, queued, err = s.createTx(ctx, tx, in, r, actor, now, false, nil)
		return err
	})
	if err != nil {
		return hotlinebot.Ticket{}, false, err
	}
	if !created {
		t, err = s.Ticket(ctx, "ext:"+in.ExternalID)
		return t, false, err
	}
	s.notifyOutbox(queued)
	return ticketIn(t, s.location()), true, nil
}

// externalIDStored reports whether a ticket with this external_id exists, so
// that a repeated intake is answered before an INSERT would use up a ticket
// number (the ON CONFLICT below still settles two callers racing).
func externalIDStored(ctx context.Context, tx *sqlx.Tx, externalID string) (bool, error) {
	var stored bool
	if err := tx.GetContext(ctx, &stored, `SELECT EXISTS (SELECT 1 FROM tickets WHERE external_id = $1)`, externalID); err != nil {
		return false, fmt.Errorf("storage: look up ticket %s: %w", externalID, err)
	}
	return stored, nil
}

// ticketIDSQL is a new ticket's id: the placeholder p when it holds one (a
// dry run's, below zero, rolled back), else the next from the sequence, which
// a rollback would not give back, so that a dry run leaves no gap in the
// ticket numbers (COALESCE evaluates nextval only when p is null).
func ticketIDSQL(p string) string {
	return `COALESCE(` + p + `::bigint, nextval(pg_get_serial_sequence('tickets', 'id')))`
}

// dryRunID is the id row i of a dry run is stored under until the rollback:
// below zero, so it meets no real ticket's; nil outside a dry run.
func dryRunID(dry bool, i int) *int64 {
	if !dry {
		return nil
	}
	id := -int64(i) - 1
	return &id
}

// createTx inserts a live ticket (ON CONFLICT on external_id: created=false,
// nothing written), records `create`, and dispatches it through Apply when
// routing found a department.
func (s *Store) createTx(ctx context.Context, tx *sqlx.Tx, in NewTicket, r routing, actor hotlinebot.Actor, now time.Time, quiet bool, dryID *int64) (hotlinebot.Ticket, bool, int, error) {
	t := hotlinebot.Ticket{
		ExternalID: in.ExternalID, Title: in.Title, Content: in.Content, Category: strings.TrimSpace(in.Category),
		Area: strings.TrimSpace(in.Area), Address: strings.TrimSpace(in.Address),
		CallerName: strings.TrimSpace(in.CallerName), CallerPhone: strings.TrimSpace(in.CallerPhone),
		Urgency: in.Urgency, Status: hotlinebot.StatusPending, Rule: r.rule, ReceivedAt: in.ReceivedAt,
		Version: 1,
	}
	if t.Urgency == "" {
		t.Urgency = r.urgency
	}
	if t.Urgency == "" {
		t.Urgency = hotlinebot.UrgencyNormal
	}
	if t.ReceivedAt.IsZero() {
		t.ReceivedAt = now
	}
	if r.department == "" && !in.DueAt.IsZero() {
		// The city's deadline holds while the ticket waits for the office.
		t.DueAt, t.OriginalDueAt = in.DueAt, in.DueAt
	}
	if stored, err := externalIDStored(ctx, tx, t.ExternalID); err != nil || stored {
		return t, false, 0, err
	}
	var ids []int64
	err := tx.SelectContext(ctx, &ids, `INSERT INTO tickets (id, external_id, title, content, category, area, address,
		caller_name, caller_phone, urgency, status, rule, received_at, due_at, original_due_at, created_at)
		VALUES (`+ticketIDSQL("$15")+`, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14)
		ON CONFLICT (external_id) DO NOTHING RETURNING id`,
		t.ExternalID, t.Title, t.Content, t.Category, t.Area, t.Address, t.CallerName, t.CallerPhone,
		string(t.Urgency), string(t.Status), t.Rule, t.ReceivedAt, nullTime(t.DueAt), now, dryID)
	if err != nil {
		return t, false, 0, fmt.Errorf("storage: create ticket %s: %w", t.ExternalID, err)
	}
	if len(ids) == 0 {
		return t, false, 0, nil
	}
	t.ID = ids[0]
	create := hotlinebot.Event{
		TicketID: t.ID, At: now, Action: hotlinebot.ActionCreate, ActorID: actor.PersonID,
		Channel: actor.Channel, ToStatus: hotlinebot.StatusPending,
	}
	var data map[string]string
	if t.Rule != "" {
		data = map[string]string{"rule": t.Rule}
	}
	create, err = insertEvent(ctx, tx, create, data)
	if err != nil {
		return t, false, 0, err
	}
	if r.department == "" {
		if quiet {
			return t, true, 0, nil
		}
		n, err := s.EnqueueTx(ctx, tx, hotlinebot.Notification{
			Kind: hotlinebot.NotifyNotice, To: hotlinebot.Recipient{Audience: hotlinebot.AudienceOffice},
			TicketID: t.ID, Note: fmt.Sprintf("%s 没有匹配的分派规则，待热线办分派", t.Ref()),
		}, fmt.Sprintf("evt:%d", create.ID), now)
		return t, true, n, err
	}
	system := hotlinebot.Actor{Channel: actor.Channel}
	tr, n, err := s.applyTxQuiet(ctx, tx, t, system,
		hotlinebot.Command{Action: hotlinebot.ActionDispatch, Department: r.department, DueAt: in.DueAt}, now, quiet)
	if err != nil {
		return t, false, 0, fmt.Errorf("storage: dispatch %s: %w", t.Ref(), err)
	}
	return tr.Ticket, true, n, nil
}

// ImportTickets stores all rows in one transaction or none. Rows whose
// external_id is stored already are counted and left alone; rows with
// CompletedAt are history, stored as they were and never pushed. A refused
// import returns an *ImportError naming every bad row.
func (s *Store) ImportTickets(ctx context.Context, rows []NewTicket, actor hotlinebot.Actor, now time.Time, opt ImportOptions) (ImportResult, error) {
	var res ImportResult
	if s.opts.Calendar == nil {
		return res, hotlinebot.Errorf(hotlinebot.EINTERNAL, "storage: Options.Calendar is not set")
	}
	rs, _, err := s.Rules(ctx)
	if err != nil {
		return res, err
	}
	var bad []RowError
	seen := make(map[string]int, len(rows))
	for i := range rows {
		for _, e := range validateNewTicket(&rows[i], now) {
			e.Row = i
			bad = append(bad, e)
		}
		if ext := rows[i].ExternalID; ext != "" {
			if j, dup := seen[ext]; dup {
				bad = append(bad, RowError{Row: i, Field: "external_id",
					Message: fmt.Sprintf("工单编号 %s 与第 %d 条重复", ext, j+1)})
			} else {
				seen[ext] = i
			}
		}
	}
	routes := make([]routing, len(rows))
	for i, in := range rows {
		r, err := route(ctx, s.db, rs, in)
		if err != nil {
			if hotlinebot.ErrorCodeOf(err) != hotlinebot.EINVALID {
				return res, err
			}
			bad = append(bad, RowError{Row: i, Field: "department", Message: hotlinebot.ErrorMessage(err)})
		}
		routes[i] = r
	}
	if len(bad) > 0 {
		return res, &ImportError{Rows: bad}
	}

	queued := 0
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return res, fmt.Errorf("storage: begin: %w", err)
	}
	defer tx.Rollback()
	for i, in := range rows {
		var created bool
		if in.CompletedAt.IsZero() {
			var n int
			// A dry run plans no pushes: they would be rolled back anyway.
			_, created, n, err = s.createTx(ctx, tx, in, routes[i], actor, now, opt.Quiet || opt.DryRun, dryRunID(opt.DryRun, i))
			queued += n
		} else {
			created, err = s.createHistoryTx(ctx, tx, in, routes[i], actor, now, dryRunID(opt.DryRun, i))
			if created {
				res.History++
			}
		}
		if err != nil {
			return ImportResult{}, fmt.Errorf("第 %d 条（%s）：%w", i+1, in.ExternalID, err)
		}
		if created {
			res.Created++
		} else {
			res.Existing++
		}
	}
	if opt.DryRun {
		return res, nil // the deferred rollback undoes everything
	}
	if err := tx.Commit(); err != nil {
		return ImportResult{}, fmt.Errorf("storage: commit import: %w", err)
	}
	s.notifyOutbox(queued)
	return res, nil
}

// createHistoryTx stores a ticket completed in the past as it was: completed,
// or closed when the follow-up was satisfied; deadlines from the policy
// counted from its receipt (unless due_at is given); its events at their own
// times through the import channel; no push.
func (s *Store) createHistoryTx(ctx context.Context, tx *sqlx.Tx, in NewTicket, r routing, actor hotlinebot.Actor, now time.Time, dryID *int64) (bool, error) {
	t := hotlinebot.Ticket{
		ExternalID: in.ExternalID, Title: in.Title, Content: in.Content, Category: strings.TrimSpace(in.Category),
		Area: strings.TrimSpace(in.Area), Address: strings.TrimSpace(in.Address),
		CallerName: strings.TrimSpace(in.CallerName), CallerPhone: strings.TrimSpace(in.CallerPhone),
		Urgency: in.Urgency, Status: hotlinebot.StatusCompleted, Department: r.department, Rule: r.rule,
		ReceivedAt: in.ReceivedAt, CompletedAt: in.CompletedAt, Outcome: strings.TrimSpace(in.Outcome),
		FollowUpResult: in.FollowUpResult, FollowUpAt: in.FollowUpAt, History: true,
	}
	if t.Urgency == "" {
		t.Urgency = r.urgency
	}
	if t.Urgency == "" {
		t.Urgency = hotlinebot.UrgencyNormal
	}
	if t.ReceivedAt.IsZero() {
		t.ReceivedAt = t.CompletedAt
	}
	if t.FollowUpResult != "" && t.FollowUpAt.IsZero() {
		t.FollowUpAt = t.CompletedAt
	}
	pol := s.policy().For(t.Urgency, t.Category)
	cal := s.opts.Calendar
	t.DispatchedAt = t.ReceivedAt
	t.SignDueAt = pol.Sign.After(cal, t.ReceivedAt)
	t.DueAt = in.DueAt
	if t.DueAt.IsZero() {
		t.DueAt = pol.Handle.After(cal, t.ReceivedAt)
	}
	t.OriginalDueAt = t.DueAt
	if t.FollowUpResult.Satisfied() {
		t.Status, t.ClosedAt = hotlinebot.StatusClosed, t.FollowUpAt
	}
	if stored, err := externalIDStored(ctx, tx, t.ExternalID); err != nil || stored {
		return false, err
	}
	var ids []int64
	err := tx.SelectContext(ctx, &ids, `INSERT INTO tickets (id, external_id, title, content, category, area, address,
		caller_name, caller_phone, urgency, status, department_id, rule, received_at, dispatched_at,
		sign_due_at, due_at, original_due_at, completed_at, closed_at, outcome, followup_result,
		followup_at, history, created_at)
		VALUES (`+ticketIDSQL("$24")+`, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, (SELECT id FROM departments WHERE code = $11), $12,
		        $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, true, $23)
		ON CONFLICT (external_id) DO NOTHING RETURNING id`,
		t.ExternalID, t.Title, t.Content, t.Category, t.Area, t.Address, t.CallerName, t.CallerPhone,
		string(t.Urgency), string(t.Status), t.Department, t.Rule, t.ReceivedAt, nullTime(t.DispatchedAt),
		nullTime(t.SignDueAt), nullTime(t.DueAt), nullTime(t.OriginalDueAt), nullTime(t.CompletedAt),
		nullTime(t.ClosedAt), t.Outcome, string(t.FollowUpResult), nullTime(t.FollowUpAt), now, dryID)
	if err != nil {
		return false, fmt.Errorf("storage: import %s: %w", t.ExternalID, err)
	}
	if len(ids) == 0 {
		return false, nil
	}
	t.ID = ids[0]
	ev := func(at time.Time, a hotlinebot.Action, from, to hotlinebot.Status, note string, data map[string]string) error {
		_, err := insertEvent(ctx, tx, hotlinebot.Event{
			TicketID: t.ID, At: at, Action: a, ActorID: actor.PersonID, Channel: hotlinebot.ChannelImport,
			FromStatus: from, ToStatus: to, Note: note,
		}, data)
		return err
	}
	var ruleData map[string]string
	if t.Rule != "" {
		ruleData = map[string]string{"rule": t.Rule}
	}
	if err := ev(t.ReceivedAt, hotlinebot.ActionCreate, "", hotlinebot.StatusPending, "", ruleData); err != nil {
		return false, err
	}
	last := hotlinebot.StatusPending
	if t.Department != "" {
		// Noted by the department's name, as a live dispatch is.
		d, err := department(ctx, tx, t.Department)
		if err != nil {
			return false, err
		}
		if err := ev(t.ReceivedAt, hotlinebot.ActionDispatch, last, hotlinebot.StatusDispatched, d.Name, nil); err != nil {
			return false, err
		}
		last = hotlinebot.StatusDispatched
	}
	if err := ev(t.CompletedAt, hotlinebot.ActionComplete, last, hotlinebot.StatusCompleted, t.Outcome, nil); err != nil {
		return false, err
	}
	if t.FollowUpResult != "" {
		if err := ev(t.FollowUpAt, hotlinebot.ActionFollowUp, hotlinebot.StatusCompleted, t.Status,
			t.FollowUpResult.Chinese(), map[string]string{"result": string(t.FollowUpResult)}); err != nil {
			return false, err
		}
	}
	return true, nil
}
