package hotlinebot

// Report is the period report (CONTRACT.md, "Report JSON"). The cohort is the
// tickets received in [From, To]; every figure is computed from tickets and
// events, never kept on the side.
type Report struct {
	From             string             `json:"from"`
	To               string             `json:"to"`
	Received         int                `json:"received"`
	Completed        int                `json:"completed"`
	CompletionRate   float64            `json:"completion_rate"`
	FollowUps        int                `json:"followups"`
	Satisfied        int                `json:"satisfied"`
	SatisfactionRate float64            `json:"satisfaction_rate"`
	Overdue          int                `json:"overdue"`
	OverdueRate      float64            `json:"overdue_rate"`
	Departments      []DepartmentReport `json:"departments"`
	Categories       []CategoryCount    `json:"categories"`
}

// DepartmentReport is one department's line of the report.
type DepartmentReport struct {
	Code      string `json:"code"`
	Name      string `json:"name"`
	Received  int    `json:"received"`
	Completed int    `json:"completed"`
	Overdue   int    `json:"overdue"`
	FollowUps int    `json:"followups"`
	Satisfied int    `json:"satisfied"`
}

// CategoryCount is how many tickets of the cohort fall in a category.
type CategoryCount struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// Rate returns part/whole, or 0 when whole is 0.
func Rate(part, whole int) float64 {
	if whole == 0 {
		return 0
	}
	return float64(part) / float64(whole)
}

// Fill computes the rates from the counts.
func (r *Report) Fill() {
	r.CompletionRate = Rate(r.Completed, r.Received)
	r.SatisfactionRate = Rate(r.Satisfied, r.FollowUps)
	r.OverdueRate = Rate(r.Overdue, r.Received)
}
