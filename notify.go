package hotlinebot

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
