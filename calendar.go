package hotlinebot

import "time"

// Calendar tells working days from days off on the Chinese statutory calendar,
// 调休 makeup workdays included. Dates are judged in Location().
type Calendar interface {
	// IsWorkday reports whether the day of t (in Location) is a working day.
	IsWorkday(t time.Time) bool
	// AddWorkdays returns the workday_end of the nth working day after t's
	// day (n >= 1); n <= 0 returns t.
	AddWorkdays(t time.Time, n int) time.Time
	// WorkdaysBefore returns the moment n working days before t at the same
	// clock time: the day is found by stepping back over n working days.
	WorkdaysBefore(t time.Time, n int) time.Time
	Location() *time.Location
}

// WorkCalendar is the Calendar on lunar-go's statutory holiday data plus
// overrides from config for days the data lacks.
type WorkCalendar struct {
	loc       *time.Location
	endHour   int
	endMinute int
	overrides map[string]bool // "2006-01-02" → is a working day
}

// NewWorkCalendar returns a calendar in loc whose working-day deadlines end at
// workdayEnd ("18:00"); overrides maps "2006-01-02" to whether that day is worked.
func NewWorkCalendar(loc *time.Location, workdayEnd string, overrides map[string]bool) (*WorkCalendar, error) {
	panic("unimplemented")
}

// HasHolidayData reports whether the statutory data (built-in or overrides)
// holds any entry for the given year; serve warns at start when next year's is missing.
func (c *WorkCalendar) HasHolidayData(year int) bool { panic("unimplemented") }
