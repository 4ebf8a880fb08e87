package hotlinebot

import (
	"strconv"
	"time"
)

// Status is where a ticket stands in its lifecycle (DESIGN.md, "Ticket lifecycle").
type Status string

const (
	StatusPending         Status = "pending"          // 待分派
	StatusDispatched      Status = "dispatched"       // 待签收
	StatusAccepted        Status = "accepted"         // 办理中
	StatusReturnRequested Status = "return_requested" // 退回待审
	StatusCompleted       Status = "completed"        // 已办结
	StatusClosed          Status = "closed"           // 已结案
)

// Statuses lists every status in lifecycle order.
var Statuses = []Status{StatusPending, StatusDispatched, StatusAccepted, StatusReturnRequested, StatusCompleted, StatusClosed}

var statusChinese = map[Status]string{
	StatusPending:         "待分派",
	StatusDispatched:      "待签收",
	StatusAccepted:        "办理中",
	StatusReturnRequested: "退回待审",
	StatusCompleted:       "已办结",
	StatusClosed:          "已结案",
}

// Chinese is the status as handlers and clerks read it.
func (s Status) Chinese() string {
	if c, ok := statusChinese[s]; ok {
		return c
	}
	return string(s)
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool { _, ok := statusChinese[s]; return ok }

// Open reports whether the ticket still waits for work by the district
// (everything before 办结).
func (s Status) Open() bool {
	return s == StatusPending || s == StatusDispatched || s == StatusAccepted || s == StatusReturnRequested
}

// Urgency selects the deadline policy.
type Urgency string

const (
	UrgencyNormal Urgency = "normal" // 一般
	UrgencyUrgent Urgency = "urgent" // 紧急
)

// ParseUrgency accepts the English and Chinese spellings; "" is normal.
func ParseUrgency(s string) (Urgency, error) {
	switch s {
	case "", "normal", "一般":
		return UrgencyNormal, nil
	case "urgent", "紧急":
		return UrgencyUrgent, nil
	}
	return "", Errorf(EINVALID, "紧急程度 %q 无效：应为 一般/紧急 或 normal/urgent", s)
}

// Chinese is the urgency as clerks read it.
func (u Urgency) Chinese() string {
	if u == UrgencyUrgent {
		return "紧急"
	}
	return "一般"
}

// Role is what a person does in the district.
type Role string

const (
	RoleHandler Role = "handler" // 承办人, in a department
	RoleLeader  Role = "leader"  // a department's leader; with no department, a district leader
	RoleOffice  Role = "office"  // 热线办
)

// ParseRole accepts the English names and their Chinese equivalents.
func ParseRole(s string) (Role, error) {
	switch s {
	case "handler", "承办人":
		return RoleHandler, nil
	case "leader", "领导":
		return RoleLeader, nil
	case "office", "热线办":
		return RoleOffice, nil
	}
	return "", Errorf(EINVALID, "角色 %q 无效：应为 handler、leader 或 office", s)
}

// Chinese is the role as people read it.
func (r Role) Chinese() string {
	switch r {
	case RoleHandler:
		return "承办人"
	case RoleLeader:
		return "领导"
	case RoleOffice:
		return "热线办"
	}
	return string(r)
}

// Channel says where an action came from.
type Channel string

const (
	ChannelWeChat    Channel = "wechat"
	ChannelAPI       Channel = "api"
	ChannelCLI       Channel = "cli"
	ChannelImport    Channel = "import"
	ChannelScheduler Channel = "scheduler"
)

// FollowUpResult is the caller's answer to the 回访.
type FollowUpResult string

const (
	FollowUpSatisfied   FollowUpResult = "satisfied"   // 满意
	FollowUpBasic       FollowUpResult = "basic"       // 基本满意
	FollowUpUnsatisfied FollowUpResult = "unsatisfied" // 不满意
)

// ParseFollowUpResult accepts the English names and 满意/基本满意/不满意.
func ParseFollowUpResult(s string) (FollowUpResult, error) {
	switch s {
	case "satisfied", "满意":
		return FollowUpSatisfied, nil
	case "basic", "基本满意":
		return FollowUpBasic, nil
	case "unsatisfied", "不满意":
		return FollowUpUnsatisfied, nil
	}
	return "", Errorf(EINVALID, "回访结果 %q 无效：应为 满意/基本满意/不满意 或 satisfied/basic/unsatisfied", s)
}

// Satisfied reports whether the result counts towards 满意率.
func (r FollowUpResult) Satisfied() bool { return r == FollowUpSatisfied || r == FollowUpBasic }

// Chinese is the result as clerks read it.
func (r FollowUpResult) Chinese() string {
	switch r {
	case FollowUpSatisfied:
		return "满意"
	case FollowUpBasic:
		return "基本满意"
	case FollowUpUnsatisfied:
		return "不满意"
	}
	return string(r)
}

// Ticket is one 工单 as the district handles it. Zero times mean "not yet".
type Ticket struct {
	ID          int64
	ExternalID  string
	Title       string
	Content     string
	Category    string
	Area        string
	Address     string
	CallerName  string
	CallerPhone string // stored in full; MaskPhone it for every reader but the department's handlers
	Urgency     Urgency
	Status      Status
	Department  string // department code; "" while pending
	AssigneeID  int64  // the handler who signed; 0 for none
	Rule        string // the routing rule that chose the department, if any

	ReceivedAt    time.Time
	DispatchedAt  time.Time
	SignDueAt     time.Time // 签收 deadline
	DueAt         time.Time // 办理 deadline in force (approved extensions included)
	OriginalDueAt time.Time // 办理 deadline before any extension or reopen
	AcceptedAt    time.Time
	CompletedAt   time.Time
	ClosedAt      time.Time
	Outcome       string

	FollowUpResult FollowUpResult // the latest 回访 result, "" for none
	FollowUpAt     time.Time
	ReopenCount    int

	// ReturnFrom is the status to go back to when a return request is rejected.
	ReturnFrom        Status
	ReturnReason      string
	ReturnRequestedBy int64
	// ExtensionDays is the number of working days of a pending extension
	// request (0: none pending). ExtensionReason goes with it.
	ExtensionDays        int
	ExtensionReason      string
	ExtensionRequestedBy int64
	// ExtendedDays is the total that approved extensions have moved DueAt.
	ExtendedDays int

	// History marks a ticket imported as a record of the past: never pushed.
	History bool
	Version int
}

// Ref is how people name a ticket: "#37".
func (t Ticket) Ref() string { return "#" + strconv.FormatInt(t.ID, 10) }

// Overdue reports whether the ticket missed its 办理 deadline as of now: completed
// after it, or still open past it. The report counts the same way.
func (t Ticket) Overdue(now time.Time) bool {
	if t.DueAt.IsZero() {
		return false
	}
	if !t.CompletedAt.IsZero() {
		return t.CompletedAt.After(t.DueAt)
	}
	if t.Status.Open() {
		return now.After(t.DueAt)
	}
	return false
}

// MaskPhone hides the middle of a phone number: 13800000000 → 138****0000.
func MaskPhone(p string) string {
	r := []rune(p)
	switch {
	case len(r) == 0:
		return ""
	case len(r) <= 4:
		return "****"
	case len(r) < 8:
		return string(r[:len(r)-4]) + "****"
	}
	return string(r[:3]) + "****" + string(r[len(r)-4:])
}

// Department is a unit tickets are dispatched to.
type Department struct {
	ID   int64
	Code string
	Name string
}

// Person is someone who acts in the system: a handler, a leader or an office clerk.
type Person struct {
	ID          int64
	Name        string
	Role        Role
	Department  string // department code; "" for office and district leaders
	Phone       string
	OpenID      string // the bound WeChat openid, "" when unbound
	Reachable   bool   // bound and still following the 公众号
	Disabled    bool
	CreatedAt   time.Time
	BoundAt     time.Time
	Unreachable time.Time // when WeChat told us the person unsubscribed
}

// DistrictLeader reports whether p leads the whole district.
func (p Person) DistrictLeader() bool { return p.Role == RoleLeader && p.Department == "" }

// Actor is who takes an action, and through which channel. The office acting
// through the API or CLI has PersonID 0 and Role office; the scheduler and the
// importer have Role "" and act only through their own actions.
type Actor struct {
	PersonID   int64
	Name       string
	Role       Role
	Department string
	Channel    Channel
}

// Action names a step in a ticket's history. The first group are the actions
// people take through Apply; the rest are recorded by the system.
type Action string

const (
	ActionCreate           Action = "create"
	ActionDispatch         Action = "dispatch"
	ActionReassign         Action = "reassign"
	ActionAccept           Action = "accept"
	ActionProgress         Action = "progress"
	ActionComplete         Action = "complete"
	ActionRequestReturn    Action = "request_return"
	ActionApproveReturn    Action = "approve_return"
	ActionRejectReturn     Action = "reject_return"
	ActionRequestExtension Action = "request_extension"
	ActionApproveExtension Action = "approve_extension"
	ActionRejectExtension  Action = "reject_extension"
	ActionFollowUp         Action = "follow_up"
	ActionReopen           Action = "reopen"
	ActionClose            Action = "close"
	ActionRemind           Action = "remind"
	ActionOverdue          Action = "overdue"
	ActionEscalate         Action = "escalate"
	ActionEvidence         Action = "evidence"
	ActionReveal           Action = "reveal"
	ActionRefused          Action = "refused"
)

// Actions are the actions Apply takes, in lifecycle order.
var Actions = []Action{
	ActionDispatch, ActionReassign, ActionAccept, ActionProgress, ActionComplete,
	ActionRequestReturn, ActionApproveReturn, ActionRejectReturn,
	ActionRequestExtension, ActionApproveExtension, ActionRejectExtension,
	ActionFollowUp, ActionClose,
}

var actionChinese = map[Action]string{
	ActionCreate: "受理", ActionDispatch: "派单", ActionReassign: "改派", ActionAccept: "签收",
	ActionProgress: "进展", ActionComplete: "办结", ActionRequestReturn: "申请退回",
	ActionApproveReturn: "同意退回", ActionRejectReturn: "驳回退回", ActionRequestExtension: "申请延期",
	ActionApproveExtension: "同意延期", ActionRejectExtension: "驳回延期", ActionFollowUp: "回访",
	ActionReopen: "重办", ActionClose: "结案", ActionRemind: "提醒", ActionOverdue: "超期",
	ActionEscalate: "督办", ActionEvidence: "上传材料", ActionReveal: "查看号码", ActionRefused: "越权被拒",
}

// Chinese is the action as people read it in a history.
func (a Action) Chinese() string {
	if c, ok := actionChinese[a]; ok {
		return c
	}
	return string(a)
}

// Command is an action with its arguments.
type Command struct {
	Action     Action
	Department string         // dispatch, reassign, approve_return: the target department code
	Note       string         // outcome (complete), reason (returns, extensions), free text
	Days       int            // request_extension: working days asked for
	Result     FollowUpResult // follow_up
	DueAt      time.Time      // dispatch: an explicit 办理 deadline overriding the policy
}

// Event is one immutable step in a ticket's history.
type Event struct {
	ID         int64
	TicketID   int64
	At         time.Time
	Action     Action
	ActorID    int64 // 0: no person (the office's API token, the scheduler, the importer)
	Channel    Channel
	FromStatus Status
	ToStatus   Status
	Note       string
}

// Transition is what an action does: the ticket as it becomes, the events to
// record and the notifications to queue, all in one transaction.
type Transition struct {
	Ticket        Ticket
	Events        []Event
	Notifications []Notification
}
