package storage

// This file fixes the Store's surface that api/, bot/, scheduler/ and cmd/
// build against. The storage helper replaces each stub with the real thing,
// in the entity's own file, and deletes this file when none is left.

import (
	"context"
	"time"

	"github.com/hotlinebot/hotlinebot"
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
	Department string // code
	Overdue    bool   // open past due or completed late, as of Now
	AssigneeID int64
	Now        time.Time
	After      int64 // paging: ids greater than this
	Limit      int   // 0 → 100
}

// PeopleFilter selects people for lists.
type PeopleFilter struct {
	Department string
	Role       hotlinebot.Role
	After      int64
	Limit      int
}

// BindCode is a freshly issued one-time binding code; Code is shown once and
// only its hash is stored.
type BindCode struct {
	PersonID  int64
	Code      string
	Scene     string // the QR_STR_SCENE value, "bind:<code>"
	ExpiresAt time.Time
}

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

// RuleVersion is one saved version of the routing rules.
type RuleVersion struct {
	Version   int
	Text      string // the TOML as given
	CreatedBy string
	CreatedAt time.Time
}

var errTODO = hotlinebot.Errorf(hotlinebot.EINTERNAL, "not implemented yet")

func (s *Store) CreateDepartment(ctx context.Context, d hotlinebot.Department) (hotlinebot.Department, error) {
	return d, errTODO
}

func (s *Store) ListDepartments(ctx context.Context) ([]hotlinebot.Department, error) {
	return nil, errTODO
}

// Department finds a department by code or, failing that, by name.
func (s *Store) Department(ctx context.Context, codeOrName string) (hotlinebot.Department, error) {
	return hotlinebot.Department{}, errTODO
}

func (s *Store) CreatePerson(ctx context.Context, p hotlinebot.Person, now time.Time) (hotlinebot.Person, error) {
	return p, errTODO
}

func (s *Store) ListPeople(ctx context.Context, f PeopleFilter) ([]hotlinebot.Person, error) {
	return nil, errTODO
}

func (s *Store) Person(ctx context.Context, id int64) (hotlinebot.Person, error) {
	return hotlinebot.Person{}, errTODO
}

// PersonByOpenID finds the enabled person bound to openid; ENOTFOUND if none.
func (s *Store) PersonByOpenID(ctx context.Context, openid string) (hotlinebot.Person, error) {
	return hotlinebot.Person{}, errTODO
}

// DisablePerson: the person leaves; their open tickets go back to their
// department as dispatched (events recorded, handlers notified).
func (s *Store) DisablePerson(ctx context.Context, id int64, actor hotlinebot.Actor, now time.Time) error {
	return errTODO
}

// MovePerson moves a person to another department; open tickets as DisablePerson.
func (s *Store) MovePerson(ctx context.Context, id int64, dept string, actor hotlinebot.Actor, now time.Time) error {
	return errTODO
}

// UnbindPerson forgets the person's openid (a new phone); open tickets as DisablePerson.
func (s *Store) UnbindPerson(ctx context.Context, id int64, actor hotlinebot.Actor, now time.Time) error {
	return errTODO
}

// IssueBindCode makes a one-time code for person id, valid 7 days.
func (s *Store) IssueBindCode(ctx context.Context, id int64, now time.Time) (BindCode, error) {
	return BindCode{}, errTODO
}

// CreateTicket stores a new ticket, routes and dispatches it, and queues its
// pushes, in one transaction. An existing external_id returns the stored ticket
// with created=false and changes nothing.
func (s *Store) CreateTicket(ctx context.Context, in NewTicket, actor hotlinebot.Actor, now time.Time) (t hotlinebot.Ticket, created bool, err error) {
	return t, false, errTODO
}

// ImportTickets stores all rows in one transaction or none.
func (s *Store) ImportTickets(ctx context.Context, rows []NewTicket, actor hotlinebot.Actor, now time.Time, opt ImportOptions) (ImportResult, error) {
	return ImportResult{}, errTODO
}

// Ticket finds a ticket by ref: "37", "#37", "ext:123" or an external id.
func (s *Store) Ticket(ctx context.Context, ref string) (hotlinebot.Ticket, error) {
	return hotlinebot.Ticket{}, errTODO
}

func (s *Store) ListTickets(ctx context.Context, f TicketFilter) ([]hotlinebot.Ticket, error) {
	return nil, errTODO
}

// TicketEvents returns the ticket's history, oldest first.
func (s *Store) TicketEvents(ctx context.Context, ticketID int64) ([]hotlinebot.Event, error) {
	return nil, errTODO
}

// Act applies cmd to the ticket named by ref as actor at now: one transaction
// that locks the row, runs hotlinebot.Apply, writes the ticket, its events and
// its outbox rows. A refusal (EFORBIDDEN) is recorded as a `refused` event and
// returned.
func (s *Store) Act(ctx context.Context, ref string, actor hotlinebot.Actor, cmd hotlinebot.Command, now time.Time) (hotlinebot.Transition, error) {
	return hotlinebot.Transition{}, errTODO
}

// RecordEvent appends a system event (reveal, evidence…) without a transition.
func (s *Store) RecordEvent(ctx context.Context, ev hotlinebot.Event) (hotlinebot.Event, error) {
	return ev, errTODO
}

// ParseRules reads a rules file (TOML, CONTRACT.md "Routing rules file"); the
// error names the line or the rule.
func ParseRules(text string) (hotlinebot.RuleSet, error) {
	return hotlinebot.RuleSet{}, errTODO
}

// ReplaceRules validates text against the departments and saves it as the new
// version in force; an invalid file changes nothing.
func (s *Store) ReplaceRules(ctx context.Context, text, by string, now time.Time) (RuleVersion, error) {
	return RuleVersion{}, errTODO
}

// Rules returns the rules in force and their version (an empty set with
// Default "" before any import).
func (s *Store) Rules(ctx context.Context) (hotlinebot.RuleSet, RuleVersion, error) {
	return hotlinebot.RuleSet{}, RuleVersion{}, errTODO
}

// Report computes the report for tickets received on the days from..to
// (inclusive, in the calendar's location) as of now.
func (s *Store) Report(ctx context.Context, from, to time.Time, now time.Time) (hotlinebot.Report, error) {
	return hotlinebot.Report{}, errTODO
}
