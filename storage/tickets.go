package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/jmoiron/sqlx"
)

// NewTicket is a ticket as it arrives by API or import. Zero values are unset.
type NewTicket struct {
	ExternalID  string
	Title       string
	Content     string
	Category    string
	Area        string
	Address     string
	CallerName  string
	CallerPhone string
	Urgency     hotlinebot.Urgency // "" → from the matching rule, else normal
	ReceivedAt  time.Time          // zero → now
	Department  string             // code or name; skips routing
	DueAt       time.Time          // overrides the 办理 deadline policy

	// History fields: a row with CompletedAt set is a record of the past.
	CompletedAt    time.Time
	Outcome        string
	FollowUpResult hotlinebot.FollowUpResult
	FollowUpAt     time.Time
}

// TicketFilter selects tickets for lists. Zero fields select everything.
type TicketFilter struct {
	Status     hotlinebot.Status
	Department string // code or name
	Overdue    bool   // open past due or completed late, as of Now
	AssigneeID int64
	Now        time.Time
	After      int64 // paging: ids greater than this
	Limit      int   // 0 → 100, at most 1000
}

type ticketRow struct {
	ID                   int64          `db:"id"`
	ExternalID           string         `db:"external_id"`
	Title                string         `db:"title"`
	Content              string         `db:"content"`
	Category             string         `db:"category"`
	Area                 string         `db:"area"`
	Address              string         `db:"address"`
	CallerName           string         `db:"caller_name"`
	CallerPhone          string         `db:"caller_phone"`
	Urgency              string         `db:"urgency"`
	Status               string         `db:"status"`
	Department           sql.NullString `db:"department"`
	AssigneeID           sql.NullInt64  `db:"assignee_id"`
	Rule                 string         `db:"rule"`
	ReceivedAt           time.Time      `db:"received_at"`
	DispatchedAt         sql.NullTime   `db:"dispatched_at"`
	SignDueAt            sql.NullTime   `db:"sign_due_at"`
	DueAt                sql.NullTime   `db:"due_at"`
	OriginalDueAt        sql.NullTime   `db:"original_due_at"`
	AcceptedAt           sql.NullTime   `db:"accepted_at"`
	CompletedAt          sql.NullTime   `db:"completed_at"`
	ClosedAt             sql.NullTime   `db:"closed_at"`
	Outcome              string         `db:"outcome"`
	FollowUpResult       string         `db:"followup_result"`
	FollowUpAt           sql.NullTime   `db:"followup_at"`
	ReopenCount          int            `db:"reopen_count"`
	ReturnFrom           string         `db:"return_from"`
	ReturnReason         string         `db:"return_reason"`
	ReturnRequestedBy    sql.NullInt64  `db:"return_requested_by"`
	ExtensionDays        int            `db:"extension_days"`
	ExtensionReason      string         `db:"extension_reason"`
	ExtensionRequestedBy sql.NullInt64  `db:"extension_requested_by"`
	ExtendedDays         int            `db:"extended_days"`
	History              bool           `db:"history"`
	Version              int            `db:"version"`
}

const ticketColumns = `t.id, t.external_id, t.title, t.content, t.category, t.area, t.address,
	t.caller_name, t.caller_phone, t.urgency, t.status, d.code AS department, t.assignee_id, t.rule,
	t.received_at, t.dispatched_at, t.sign_due_at, t.due_at, t.original_due_at, t.accepted_at,
	t.completed_at, t.closed_at, t.outcome, t.followup_result, t.followup_at, t.reopen_count,
	t.return_from, t.return_reason, t.return_requested_by, t.extension_days, t.extension_reason,
	t.extension_requested_by, t.extended_days, t.history, t.version`

const ticketFrom = ` FROM tickets t LEFT JOIN departments d ON d.id = t.department_id `

func (r ticketRow) ticket() hotlinebot.Ticket {
	return hotlinebot.Ticket{
		ID:                   r.ID,
		ExternalID:           r.ExternalID,
		Title:                r.Title,
		Content:              r.Content,
		Category:             r.Category,
		Area:                 r.Area,
		Address:              r.Address,
		CallerName:           r.CallerName,
		CallerPhone:          r.CallerPhone,
		Urgency:              hotlinebot.Urgency(r.Urgency),
		Status:               hotlinebot.Status(r.Status),
		Department:           r.Department.String,
		AssigneeID:           r.AssigneeID.Int64,
		Rule:                 r.Rule,
		ReceivedAt:           r.ReceivedAt,
		DispatchedAt:         fromNullTime(r.DispatchedAt),
		SignDueAt:            fromNullTime(r.SignDueAt),
		DueAt:                fromNullTime(r.DueAt),
		OriginalDueAt:        fromNullTime(r.OriginalDueAt),
		AcceptedAt:           fromNullTime(r.AcceptedAt),
		CompletedAt:          fromNullTime(r.CompletedAt),
		ClosedAt:             fromNullTime(r.ClosedAt),
		Outcome:              r.Outcome,
		FollowUpResult:       hotlinebot.FollowUpResult(r.FollowUpResult),
		FollowUpAt:           fromNullTime(r.FollowUpAt),
		ReopenCount:          r.ReopenCount,
		ReturnFrom:           hotlinebot.Status(r.ReturnFrom),
		ReturnReason:         r.ReturnReason,
		ReturnRequestedBy:    r.ReturnRequestedBy.Int64,
		ExtensionDays:        r.ExtensionDays,
		ExtensionReason:      r.ExtensionReason,
		ExtensionRequestedBy: r.ExtensionRequestedBy.Int64,
		ExtendedDays:         r.ExtendedDays,
		History:              r.History,
		Version:              r.Version,
	}
}

// loadTicket reads ticket id, locking its row when forUpdate.
func loadTicket(ctx context.Context, q sqlx.QueryerContext, id int64, forUpdate bool) (hotlinebot.Ticket, error) {
	query := `SELECT ` + ticketColumns + ticketFrom + ` WHERE t.id = $1`
	if forUpdate {
		query += ` FOR UPDATE OF t`
	}
	var r ticketRow
	err := sqlx.GetContext(ctx, q, &r, query, id)
	if notFound(err) {
		return hotlinebot.Ticket{}, hotlinebot.Errorf(hotlinebot.ENOTFOUND, "没有工单 #%d", id)
	}
	if err != nil {
		return hotlinebot.Ticket{}, fmt.Errorf("storage: ticket %d: %w", id, err)
	}
	return r.ticket(), nil
}

// ticketIn shows t's times in loc, so that every ticket the Store returns
// reads the same whether it came from the database or from Apply.
func ticketIn(t hotlinebot.Ticket, loc *time.Location) hotlinebot.Ticket {
	for _, p := range []*time.Time{&t.ReceivedAt, &t.DispatchedAt, &t.SignDueAt, &t.DueAt, &t.OriginalDueAt,
		&t.AcceptedAt, &t.CompletedAt, &t.ClosedAt, &t.FollowUpAt} {
		*p = timeIn(*p, loc)
	}
	return t
}

// timeIn is t in loc, the zero time left zero.
func timeIn(t time.Time, loc *time.Location) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.In(loc)
}

// parseRef reads a ticket ref: "37", "#37" (also full-width ＃) name the id;
// "ext:123" and any other string name the external id.
func parseRef(ref string) (id int64, externalID string) {
	ref = strings.TrimSpace(ref)
	if rest, ok := strings.CutPrefix(ref, "ext:"); ok {
		return 0, strings.TrimSpace(rest)
	}
	num := strings.TrimPrefix(strings.TrimPrefix(ref, "#"), "＃")
	if n, err := strconv.ParseInt(num, 10, 64); err == nil && n > 0 && num != "" && num[0] != '+' && num[0] != '-' {
		return n, ""
	}
	return 0, ref
}

// ticketID finds the id of the ticket named by ref.
func ticketID(ctx context.Context, q sqlx.QueryerContext, ref string) (int64, error) {
	id, ext := parseRef(ref)
	if ext == "" && id == 0 {
		return 0, hotlinebot.Errorf(hotlinebot.EINVALID, "缺少工单编号")
	}
	if id != 0 {
		return id, nil
	}
	err := sqlx.GetContext(ctx, q, &id, `SELECT id FROM tickets WHERE external_id = $1`, ext)
	if notFound(err) {
		return 0, hotlinebot.Errorf(hotlinebot.ENOTFOUND, "没有工单 %s", ext)
	}
	if err != nil {
		return 0, fmt.Errorf("storage: ticket %q: %w", ext, err)
	}
	return id, nil
}

// Ticket finds a ticket by ref: "37", "#37", "ext:123" or an external id.
func (s *Store) Ticket(ctx context.Context, ref string) (hotlinebot.Ticket, error) {
	id, err := ticketID(ctx, s.db, ref)
	if err != nil {
		return hotlinebot.Ticket{}, err
	}
	t, err := loadTicket(ctx, s.db, id, false)
	return ticketIn(t, s.location()), err
}

// overdueSQL is Ticket.Overdue in SQL over tickets t, with now as the
// parameter named.
func overdueSQL(now string) string {
	return `(t.due_at IS NOT NULL AND ((t.completed_at IS NOT NULL AND t.completed_at > t.due_at)
		OR (t.completed_at IS NULL AND t.status IN ('pending', 'dispatched', 'accepted', 'return_requested')
		    AND t.due_at < ` + now + `)))`
}

// ListTickets lists tickets by id.
func (s *Store) ListTickets(ctx context.Context, f TicketFilter) ([]hotlinebot.Ticket, error) {
	q := `SELECT ` + ticketColumns + ticketFrom + ` WHERE t.id > $1`
	args := []any{f.After}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Status != "" {
		if !f.Status.Valid() {
			return nil, hotlinebot.Errorf(hotlinebot.EINVALID, "状态（status）%q 无效", f.Status)
		}
		q += ` AND t.status = ` + arg(string(f.Status))
	}
	if f.Department != "" {
		// By id, so that the department's rows can be found through an
		// index on tickets (a filter on the joined d.code or d.name could
		// only be applied after the join); an unknown department matches
		// nothing.
		p := arg(strings.TrimSpace(f.Department))
		q += ` AND t.department_id = ANY (ARRAY(SELECT id FROM departments WHERE code = ` + p + ` OR name = ` + p + `))`
	}
	if f.AssigneeID != 0 {
		q += ` AND t.assignee_id = ` + arg(f.AssigneeID)
	}
	if f.Overdue {
		if f.Now.IsZero() {
			return nil, hotlinebot.Errorf(hotlinebot.EINTERNAL, "storage: TicketFilter.Overdue needs Now")
		}
		q += ` AND ` + overdueSQL(arg(f.Now))
	}
	q += ` ORDER BY t.id LIMIT ` + arg(pageLimit(f.Limit))
	var rows []ticketRow
	if err := s.db.SelectContext(ctx, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("storage: list tickets: %w", err)
	}
	ts := make([]hotlinebot.Ticket, len(rows))
	for i, r := range rows {
		ts[i] = ticketIn(r.ticket(), s.location())
	}
	return ts, nil
}

type eventRow struct {
	ID         int64         `db:"id"`
	TicketID   int64         `db:"ticket_id"`
	At         time.Time     `db:"at"`
	Action     string        `db:"action"`
	ActorID    sql.NullInt64 `db:"actor_id"`
	Channel    string        `db:"channel"`
	FromStatus string        `db:"from_status"`
	ToStatus   string        `db:"to_status"`
	Note       string        `db:"note"`
}

// TicketEvents returns the ticket's history, oldest first.
func (s *Store) TicketEvents(ctx context.Context, ticketID int64) ([]hotlinebot.Event, error) {
	var rows []eventRow
	err := s.db.SelectContext(ctx, &rows,
		`SELECT id, ticket_id, at, action, actor_id, channel, from_status, to_status, note
		 FROM ticket_events WHERE ticket_id = $1 ORDER BY id`, ticketID)
	if err != nil {
		return nil, fmt.Errorf("storage: events of #%d: %w", ticketID, err)
	}
	evs := make([]hotlinebot.Event, len(rows))
	for i, r := range rows {
		evs[i] = hotlinebot.Event{
			ID: r.ID, TicketID: r.TicketID, At: timeIn(r.At, s.location()), Action: hotlinebot.Action(r.Action),
			ActorID: r.ActorID.Int64, Channel: hotlinebot.Channel(r.Channel),
			FromStatus: hotlinebot.Status(r.FromStatus), ToStatus: hotlinebot.Status(r.ToStatus), Note: r.Note,
		}
	}
	return evs, nil
}

// insertEvent appends ev with its data (nil: {}) and returns it with its id.
func insertEvent(ctx context.Context, tx sqlx.QueryerContext, ev hotlinebot.Event, data map[string]string) (hotlinebot.Event, error) {
	if ev.At.IsZero() {
		return ev, fmt.Errorf("storage: event %s of #%d has no time", ev.Action, ev.TicketID)
	}
	js := []byte("{}")
	if len(data) > 0 {
		var err error
		if js, err = json.Marshal(data); err != nil {
			return ev, fmt.Errorf("storage: event data: %w", err)
		}
	}
	err := sqlx.GetContext(ctx, tx, &ev.ID,
		`INSERT INTO ticket_events (ticket_id, at, action, actor_id, channel, from_status, to_status, note, data)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		ev.TicketID, ev.At, string(ev.Action), nullInt(ev.ActorID), string(ev.Channel),
		string(ev.FromStatus), string(ev.ToStatus), ev.Note, string(js))
	if err != nil {
		return ev, fmt.Errorf("storage: record %s on #%d: %w", ev.Action, ev.TicketID, err)
	}
	return ev, nil
}

// RecordEvent appends a system event (reveal, evidence…) without a transition.
func (s *Store) RecordEvent(ctx context.Context, ev hotlinebot.Event) (hotlinebot.Event, error) {
	if ev.Action == "" || ev.Channel == "" {
		return ev, hotlinebot.Errorf(hotlinebot.EINTERNAL, "storage: RecordEvent needs an action and a channel")
	}
	if _, err := loadTicket(ctx, s.db, ev.TicketID, false); err != nil {
		return ev, err
	}
	return insertEvent(ctx, s.db, ev, nil)
}

// writeTicket saves t over the row read at t.Version and returns it with the
// new version.
func writeTicket(ctx context.Context, tx *sqlx.Tx, t hotlinebot.Ticket) (hotlinebot.Ticket, error) {
	res, err := tx.ExecContext(ctx, `UPDATE tickets SET
		title = $3, content = $4, category = $5, area = $6, address = $7, caller_name = $8,
		caller_phone = $9, urgency = $10, status = $11,
		department_id = (SELECT id FROM departments WHERE code = $12), assignee_id = $13, rule = $14,
		received_at = $15, dispatched_at = $16, sign_due_at = $17, due_at = $18, original_due_at = $19,
		accepted_at = $20, completed_at = $21, closed_at = $22, outcome = $23, followup_result = $24,
		followup_at = $25, reopen_count = $26, return_from = $27, return_reason = $28,
		return_requested_by = $29, extension_days = $30, extension_reason = $31,
		extension_requested_by = $32, extended_days = $33, history = $34, version = version + 1
		WHERE id = $1 AND version = $2`,
		t.ID, t.Version, t.Title, t.Content, t.Category, t.Area, t.Address, t.CallerName,
		t.CallerPhone, string(t.Urgency), string(t.Status),
		t.Department, nullInt(t.AssigneeID), t.Rule,
		t.ReceivedAt, nullTime(t.DispatchedAt), nullTime(t.SignDueAt), nullTime(t.DueAt), nullTime(t.OriginalDueAt),
		nullTime(t.AcceptedAt), nullTime(t.CompletedAt), nullTime(t.ClosedAt), t.Outcome, string(t.FollowUpResult),
		nullTime(t.FollowUpAt), t.ReopenCount, string(t.ReturnFrom), t.ReturnReason,
		nullInt(t.ReturnRequestedBy), t.ExtensionDays, t.ExtensionReason,
		nullInt(t.ExtensionRequestedBy), t.ExtendedDays, t.History)
	if err != nil {
		return t, fmt.Errorf("storage: write %s: %w", t.Ref(), err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return t, hotlinebot.Errorf(hotlinebot.ECONFLICT, "工单 %s 已被他人修改，请重试", t.Ref())
	}
	if t.Department != "" {
		// The department was resolved before Apply; a code that is gone now
		// must not silently turn into NULL.
		var ok bool
		if err := tx.GetContext(ctx, &ok, `SELECT department_id IS NOT NULL FROM tickets WHERE id = $1`, t.ID); err != nil {
			return t, fmt.Errorf("storage: write %s: %w", t.Ref(), err)
		}
		if !ok {
			return t, hotlinebot.Errorf(hotlinebot.EINVALID, "没有单位 %s", t.Department)
		}
	}
	t.Version++
	return t, nil
}

// eventData is what an event keeps besides its columns: a follow-up's result,
// so the report can count satisfied visits from events alone.
func eventData(ev hotlinebot.Event, t hotlinebot.Ticket, cmd hotlinebot.Command) map[string]string {
	if ev.Action == hotlinebot.ActionFollowUp {
		r := cmd.Result
		if r == "" {
			r = t.FollowUpResult
		}
		return map[string]string{"result": string(r)}
	}
	return nil
}

// applyTx runs cmd on t (locked by the caller) inside tx: the transition, the
// ticket, its events and its outbox rows. It returns the transition as
// written (events with ids) and how many pushes it queued.
func (s *Store) applyTx(ctx context.Context, tx *sqlx.Tx, t hotlinebot.Ticket, actor hotlinebot.Actor, cmd hotlinebot.Command, now time.Time) (hotlinebot.Transition, int, error) {
	return s.applyTxQuiet(ctx, tx, t, actor, cmd, now, false)
}

func (s *Store) applyTxQuiet(ctx context.Context, tx *sqlx.Tx, t hotlinebot.Ticket, actor hotlinebot.Actor, cmd hotlinebot.Command, now time.Time, quiet bool) (hotlinebot.Transition, int, error) {
	if s.opts.Calendar == nil {
		return hotlinebot.Transition{}, 0, hotlinebot.Errorf(hotlinebot.EINTERNAL, "storage: Options.Calendar is not set")
	}
	if cmd.Department != "" {
		d, err := department(ctx, tx, cmd.Department)
		if err != nil {
			if hotlinebot.ErrorCodeOf(err) == hotlinebot.ENOTFOUND {
				return hotlinebot.Transition{}, 0, hotlinebot.Errorf(hotlinebot.EINVALID, "没有单位 %s", cmd.Department)
			}
			return hotlinebot.Transition{}, 0, err
		}
		cmd.Department = d.Code
	}
	env := s.env(now)
	var err error
	if env.DepartmentNames, err = departmentNames(ctx, tx); err != nil {
		return hotlinebot.Transition{}, 0, err
	}
	tr, err := hotlinebot.Apply(t, actor, cmd, env)
	if err != nil {
		return tr, 0, err
	}
	tr.Ticket.ID, tr.Ticket.Version = t.ID, t.Version
	if tr.Ticket, err = writeTicket(ctx, tx, tr.Ticket); err != nil {
		return tr, 0, err
	}
	for i, ev := range tr.Events {
		ev.TicketID = t.ID
		if ev.At.IsZero() {
			ev.At = now
		}
		if ev.Channel == "" {
			ev.Channel = actor.Channel
		}
		if tr.Events[i], err = insertEvent(ctx, tx, ev, eventData(ev, tr.Ticket, cmd)); err != nil {
			return tr, 0, err
		}
	}
	if quiet || len(tr.Notifications) == 0 {
		return tr, 0, nil
	}
	if len(tr.Events) == 0 {
		return tr, 0, fmt.Errorf("storage: %s on %s notifies without an event", cmd.Action, t.Ref())
	}
	base := "evt:" + strconv.FormatInt(tr.Events[len(tr.Events)-1].ID, 10)
	queued := 0
	for _, n := range tr.Notifications {
		if n.TicketID == 0 {
			n.TicketID = t.ID
		}
		k, err := s.EnqueueTx(ctx, tx, n, base, now)
		if err != nil {
			return tr, queued, err
		}
		queued += k
	}
	return tr, queued, nil
}

// Act applies cmd to the ticket named by ref as actor at now: one transaction
// that locks the row, runs hotlinebot.Apply, writes the ticket, its events and
// its outbox rows. A refusal (EFORBIDDEN) is recorded as a `refused` event and
// returned.
func (s *Store) Act(ctx context.Context, ref string, actor hotlinebot.Actor, cmd hotlinebot.Command, now time.Time) (hotlinebot.Transition, error) {
	var (
		tr      hotlinebot.Transition
		queued  int
		current hotlinebot.Ticket
	)
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		id, err := ticketID(ctx, tx, ref)
		if err != nil {
			return err
		}
		if current, err = loadTicket(ctx, tx, id, true); err != nil {
			return err
		}
		tr, queued, err = s.applyTx(ctx, tx, current, actor, cmd, now)
		return err
	})
	if err != nil {
		if hotlinebot.ErrorCodeOf(err) == hotlinebot.EFORBIDDEN && current.ID != 0 {
			s.recordRefusal(ctx, current, actor, cmd, err, now)
		}
		return hotlinebot.Transition{}, err
	}
	s.notifyOutbox(queued)
	tr.Ticket = ticketIn(tr.Ticket, s.location())
	for i := range tr.Events {
		tr.Events[i].At = timeIn(tr.Events[i].At, s.location())
	}
	return tr, nil
}

// recordRefusal keeps, in its own transaction, that actor tried what they may
// not; a failure to record is logged, the refusal itself still returned.
func (s *Store) recordRefusal(ctx context.Context, t hotlinebot.Ticket, actor hotlinebot.Actor, cmd hotlinebot.Command, refusal error, now time.Time) {
	ev := hotlinebot.Event{
		TicketID: t.ID, At: now, Action: hotlinebot.ActionRefused, ActorID: actor.PersonID,
		Channel: actor.Channel, FromStatus: t.Status, ToStatus: t.Status, Note: hotlinebot.ErrorMessage(refusal),
	}
	if _, err := insertEvent(ctx, s.db, ev, map[string]string{"action": string(cmd.Action)}); err != nil {
		s.log.Error("record refused action", "ticket", t.ID, "action", cmd.Action, "err", err)
	}
}
