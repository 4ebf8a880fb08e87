package hotlinebot

// Rule is one routing rule: a ticket matches when every condition it sets holds.
// Inside one list any value matches; an omitted condition matches everything.
type Rule struct {
	Name       string
	Department string   // department code
	Area       []string // exact match on the ticket's area
	Category   []string // exact match on the ticket's category
	Keywords   []string // substring of the title or the content
	Pattern    string   // regular expression over title and content
	Urgency    Urgency  // optional: sets the ticket's urgency
}

// RuleSet is the office's routing rules in force: first match wins, in order.
type RuleSet struct {
	Rules []Rule
	// Default is the department for tickets no rule matches; "" leaves them
	// pending for the office.
	Default string
}

// RuleInput is what routing looks at.
type RuleInput struct {
	Category string
	Area     string
	Title    string
	Content  string
}

// Validate checks every rule: a name, a department in known (a set of
// department codes), a pattern that compiles; and Default in known or "".
// The error names the rule (by position and name).
func (rs *RuleSet) Validate(known map[string]bool) error { panic("unimplemented") }

// Match returns the first rule that matches (nil when none does) and the
// department the ticket goes to ("" for pending).
func (rs *RuleSet) Match(in RuleInput) (*Rule, string) { panic("unimplemented") }
