package hotlinebot

import "time"

// The JSON shapes of CONTRACT.md, in one place for every edge that prints
// them (the API and the CLI's -o json). Unset times, a missing outcome or
// follow-up, and "no person" are null.

// TicketJSON is a ticket as the API and `-o json` show it.
type TicketJSON struct {
	ID             int64           `json:"id"`
	Ref            string          `json:"ref"`
	ExternalID     string          `json:"external_id"`
	Title          string          `json:"title"`
	Content        string          `json:"content"`
	Category       string          `json:"category"`
	Area           string          `json:"area"`
	Address        string          `json:"address"`
	CallerName     string          `json:"caller_name"`
	CallerPhone    string          `json:"caller_phone"`
	Urgency        Urgency         `json:"urgency"`
	Status         Status          `json:"status"`
	Department     *string         `json:"department"`
	Assignee       *int64          `json:"assignee"`
	ReceivedAt     *string         `json:"received_at"`
	DispatchedAt   *string         `json:"dispatched_at"`
	SignDueAt      *string         `json:"sign_due_at"`
	DueAt          *string         `json:"due_at"`
	AcceptedAt     *string         `json:"accepted_at"`
	CompletedAt    *string         `json:"completed_at"`
	Outcome        *string         `json:"outcome"`
	FollowUpResult *FollowUpResult `json:"followup_result"`
	ReopenCount    int             `json:"reopen_count"`
	Overdue        bool            `json:"overdue"`
	Rule           *string         `json:"rule"`
}

// TicketView is t as of now, with times in loc (RFC 3339) and the caller's
// phone masked unless revealPhone.
func TicketView(t Ticket, now time.Time, loc *time.Location, revealPhone bool) TicketJSON {
	phone := MaskPhone(t.CallerPhone)
	if revealPhone {
		phone = t.CallerPhone
	}
	v := TicketJSON{
		ID:           t.ID,
		Ref:          t.Ref(),
		ExternalID:   t.ExternalID,
		Title:        t.Title,
		Content:      t.Content,
		Category:     t.Category,
		Area:         t.Area,
		Address:      t.Address,
		CallerName:   t.CallerName,
		CallerPhone:  phone,
		Urgency:      t.Urgency,
		Status:       t.Status,
		Department:   stringRef(t.Department),
		Assignee:     personRef(t.AssigneeID),
		ReceivedAt:   timeRef(t.ReceivedAt, loc),
		DispatchedAt: timeRef(t.DispatchedAt, loc),
		SignDueAt:    timeRef(t.SignDueAt, loc),
		DueAt:        timeRef(t.DueAt, loc),
		AcceptedAt:   timeRef(t.AcceptedAt, loc),
		CompletedAt:  timeRef(t.CompletedAt, loc),
		ReopenCount:  t.ReopenCount,
		Overdue:      t.Overdue(now),
		Rule:         stringRef(t.Rule),
	}
	if t.Outcome != "" {
		o := t.Outcome
		v.Outcome = &o
	}
	if t.FollowUpResult != "" {
		r := t.FollowUpResult
		v.FollowUpResult = &r
	}
	return v
}

// EventJSON is one step of a ticket's history as the API and `-o json` show it.
type EventJSON struct {
	ID         int64   `json:"id"`
	At         string  `json:"at"`
	Action     Action  `json:"action"`
	Actor      *int64  `json:"actor"`
	Channel    Channel `json:"channel"`
	FromStatus *Status `json:"from_status"`
	ToStatus   *Status `json:"to_status"`
	Note       string  `json:"note"`
}

// EventView is e with its time in loc; an event that changed no status (or,
// like create, came from none) has null statuses.
func EventView(e Event, loc *time.Location) EventJSON {
	return EventJSON{
		ID:         e.ID,
		At:         inLoc(e.At, loc).Format(time.RFC3339),
		Action:     e.Action,
		Actor:      personRef(e.ActorID),
		Channel:    e.Channel,
		FromStatus: statusRef(e.FromStatus),
		ToStatus:   statusRef(e.ToStatus),
		Note:       e.Note,
	}
}

// DepartmentJSON is a department as the API and `-o json` show it.
type DepartmentJSON struct {
	ID   int64  `json:"id"`
	Code string `json:"code"`
	Name string `json:"name"`
}

// DepartmentView is d's JSON shape.
func DepartmentView(d Department) DepartmentJSON {
	return DepartmentJSON(d)
}

// PersonJSON is a person as the API and `-o json` show them. The WeChat
// openid is never shown: only whether the person is bound.
type PersonJSON struct {
	ID         int64   `json:"id"`
	Name       string  `json:"name"`
	Role       Role    `json:"role"`
	Department string  `json:"department"`
	Phone      string  `json:"phone"`
	Bound      bool    `json:"bound"`
	Reachable  bool    `json:"reachable"`
	Disabled   bool    `json:"disabled"`
	CreatedAt  *string `json:"created_at"`
	BoundAt    *string `json:"bound_at"`
}

// PersonView is p's JSON shape with times in loc.
func PersonView(p Person, loc *time.Location) PersonJSON {
	return PersonJSON{
		ID:         p.ID,
		Name:       p.Name,
		Role:       p.Role,
		Department: p.Department,
		Phone:      p.Phone,
		Bound:      p.OpenID != "",
		Reachable:  p.Reachable,
		Disabled:   p.Disabled,
		CreatedAt:  timeRef(p.CreatedAt, loc),
		BoundAt:    timeRef(p.BoundAt, loc),
	}
}

func personRef(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

func statusRef(s Status) *Status {
	if s == "" {
		return nil
	}
	return &s
}

func timeRef(t time.Time, loc *time.Location) *string {
	if t.IsZero() {
		return nil
	}
	s := inLoc(t, loc).Format(time.RFC3339)
	return &s
}

func inLoc(t time.Time, loc *time.Location) time.Time {
	if loc == nil {
		return t
	}
	return t.In(loc)
}

// stringRef is s, or nil (JSON null) when it is empty.
func stringRef(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
