package hotlinebot

import "fmt"

// NotificationKind is the kind of a push; each kind has its template in
// [wechat.templates.<kind>] (CONTRACT.md, "Notifications").
type NotificationKind string

const (
	NotifyAssigned   NotificationKind = "assigned"
	NotifyReminder   NotificationKind = "reminder"
	NotifyOverdue    NotificationKind = "overdue"
	NotifyEscalation NotificationKind = "escalation"
	NotifyExtension  NotificationKind = "extension"
	NotifyReturned   NotificationKind = "returned"
	NotifyReopened   NotificationKind = "reopened"
	NotifyDigest     NotificationKind = "digest"
	NotifyNotice     NotificationKind = "notice"
)

// NotificationKinds lists every kind.
var NotificationKinds = []NotificationKind{
	NotifyAssigned, NotifyReminder, NotifyOverdue, NotifyEscalation, NotifyExtension,
	NotifyReturned, NotifyReopened, NotifyDigest, NotifyNotice,
}

// Audience is a group of people a notification goes to; storage resolves it to
// the reachable people it names at the moment the notification is queued.
type Audience string

const (
	AudiencePerson             Audience = "person" // Recipient.PersonID
	AudienceAssignee           Audience = "assignee"
	AudienceDepartmentHandlers Audience = "department_handlers"
	AudienceDepartmentLeaders  Audience = "department_leaders"
	AudienceOffice             Audience = "office"
	AudienceDistrictLeaders    Audience = "district_leaders"
)

// Audiences that an [[escalation]] step may name.
var EscalationAudiences = []Audience{
	AudienceAssignee, AudienceDepartmentHandlers, AudienceDepartmentLeaders, AudienceOffice, AudienceDistrictLeaders,
}

// Recipient says who gets a notification.
type Recipient struct {
	Audience   Audience
	Department string // for department audiences
	PersonID   int64  // for AudiencePerson
}

// Notification is a push to be queued in the outbox.
type Notification struct {
	Kind     NotificationKind
	To       Recipient
	TicketID int64
	Note     string // a short text for the template's .Note
}

// TemplateData are the values a template's `fields` expressions can use
// (CONTRACT.md, "Notifications"). Times are already formatted.
type TemplateData struct {
	Ref        string
	ExternalID string
	Title      string
	Category   string
	Department string
	Status     string
	DueAt      string
	Date       string
	Count      string
	Note       string
}

// Time layouts for what people read.
const (
	LayoutMinute = "2006年01月02日 15:04"
	LayoutDate   = "2006年01月02日"
)

// Push is one outbox row handed to a sender: a template message of Kind to one
// person. OutboxID doubles as WeChat's client_msg_id.
type Push struct {
	OutboxID int64
	Kind     NotificationKind
	PersonID int64
	OpenID   string
	TicketID int64  // 0 for pushes about no ticket (digest, some notices)
	Date     string // digest: the day, "2006-01-02"
	Data     TemplateData
	Attempt  int // 1 for the first attempt at this row; the dispatcher's backoff grows with it
}

// PushFailure classifies why a push failed, so the dispatcher knows whether to
// retry, pause, give up, or not resend for fear of a duplicate.
type PushFailure string

const (
	PushTransient PushFailure = "transient" // network, 5xx, errcode -1: retry with backoff
	PushPermanent PushFailure = "permanent" // 43004, 40003, a bad template: never retry, tell the office
	PushQuota     PushFailure = "quota"     // 45009: pause all sending for a while
	PushCutOff    PushFailure = "cut_off"   // the request may have reached WeChat: resend only within the client_msg_id window
)

// PushError is the error a sender returns for a failed push.
type PushError struct {
	Failure PushFailure
	ErrCode int64 // WeChat's errcode, 0 when there is none
	Message string
}

func (e *PushError) Error() string {
	if e.ErrCode != 0 {
		return fmt.Sprintf("push %s: errcode %d: %s", e.Failure, e.ErrCode, e.Message)
	}
	return fmt.Sprintf("push %s: %s", e.Failure, e.Message)
}
