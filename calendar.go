package hotlinebot

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/6tail/lunar-go/HolidayUtil"
)

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
// overrides from config for days the data lacks. It is safe for concurrent use.
type WorkCalendar struct {
	loc       *time.Location
	endHour   int
	endMinute int
	overrides map[string]bool // "2006-01-02" → is a working day

	// days caches the answer per day (key yyyymmdd): lunar-go's lookup is a
	// linear scan over its whole data string.
	days sync.Map
}

var _ Calendar = (*WorkCalendar)(nil)

// dateLayout is how config and overrides spell a day.
const dateLayout = "2006-01-02"

// NewWorkCalendar returns a calendar in loc whose working-day deadlines end at
// workdayEnd ("18:00"); overrides maps "2006-01-02" to whether that day is worked.
func NewWorkCalendar(loc *time.Location, workdayEnd string, overrides map[string]bool) (*WorkCalendar, error) {
	if loc == nil {
		return nil, Errorf(EINVALID, "工作日历缺少时区（calendar.timezone）")
	}
	hour, minute, ok := parseClock(workdayEnd)
	if !ok {
		return nil, Errorf(EINVALID, "下班时间 calendar.workday_end %q 无效：应为 HH:MM，如 18:00", workdayEnd)
	}
	c := &WorkCalendar{loc: loc, endHour: hour, endMinute: minute, overrides: make(map[string]bool, len(overrides))}
	for day, work := range overrides {
		d, err := time.Parse(dateLayout, day)
		if err != nil {
			return nil, Errorf(EINVALID, "节假日调整 calendar.overrides 的日期 %q 无效：应为 YYYY-MM-DD，如 2028-01-01", day)
		}
		c.overrides[d.Format(dateLayout)] = work
	}
	return c, nil
}

// parseClock reads "HH:MM" (24-hour, two digits each).
func parseClock(s string) (hour, minute int, ok bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, 0, false
	}
	for _, i := range []int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, 0, false
		}
	}
	hour = int(s[0]-'0')*10 + int(s[1]-'0')
	minute = int(s[3]-'0')*10 + int(s[4]-'0')
	if hour > 23 || minute > 59 {
		return 0, 0, false
	}
	return hour, minute, true
}

// Location is the time zone days are judged in.
func (c *WorkCalendar) Location() *time.Location { return c.loc }

// WorkdayEnd is the clock time working-day deadlines end at, as "15:04".
func (c *WorkCalendar) WorkdayEnd() string {
	return time.Date(2000, 1, 1, c.endHour, c.endMinute, 0, 0, time.UTC).Format("15:04")
}

// IsWorkday reports whether t's day (in Location) is worked: an override
// first, then the statutory record (holiday or 调休 makeup day), else Monday
// to Friday.
func (c *WorkCalendar) IsWorkday(t time.Time) bool {
	y, m, d := t.In(c.loc).Date()
	return c.isWorkday(y, m, d)
}

func (c *WorkCalendar) isWorkday(y int, m time.Month, d int) bool {
	key := y*10000 + int(m)*100 + d
	if v, ok := c.days.Load(key); ok {
		return v.(bool)
	}
	work := c.lookup(y, m, d)
	c.days.Store(key, work)
	return work
}

func (c *WorkCalendar) lookup(y int, m time.Month, d int) bool {
	day := time.Date(y, m, d, 12, 0, 0, 0, time.UTC)
	if work, ok := c.overrides[day.Format(dateLayout)]; ok {
		return work
	}
	if h := HolidayUtil.GetHolidayByYmd(y, int(m), d); h != nil {
		return h.IsWork()
	}
	wd := day.Weekday()
	return wd != time.Saturday && wd != time.Sunday
}

// AddWorkdays returns workday_end (in Location) of the nth working day after
// t's day: 2026-09-30 + 5 is 2026-10-13 18:00, the National Day holiday
// skipped and the 调休 Saturday 2026-10-10 counted. n <= 0 returns t.
func (c *WorkCalendar) AddWorkdays(t time.Time, n int) time.Time {
	if n <= 0 {
		return t
	}
	y, m, d := t.In(c.loc).Date()
	// Step in UTC noon days so that calendar arithmetic never meets a DST gap.
	day := time.Date(y, m, d, 12, 0, 0, 0, time.UTC)
	for n > 0 {
		day = day.AddDate(0, 0, 1)
		if c.isWorkday(day.Date()) {
			n--
		}
	}
	y, m, d = day.Date()
	return time.Date(y, m, d, c.endHour, c.endMinute, 0, 0, c.loc)
}

// WorkdaysBefore returns t's clock time on the day reached by stepping back
// from t's day over n working days: 2026-10-08 18:00 minus 1 is 2026-09-30
// 18:00, the holiday skipped. n <= 0 returns t.
func (c *WorkCalendar) WorkdaysBefore(t time.Time, n int) time.Time {
	if n <= 0 {
		return t
	}
	lt := t.In(c.loc)
	y, m, d := lt.Date()
	day := time.Date(y, m, d, 12, 0, 0, 0, time.UTC)
	for n > 0 {
		day = day.AddDate(0, 0, -1)
		if c.isWorkday(day.Date()) {
			n--
		}
	}
	y, m, d = day.Date()
	return time.Date(y, m, d, lt.Hour(), lt.Minute(), lt.Second(), lt.Nanosecond(), c.loc)
}

// HasHolidayData reports whether the statutory data (built-in or overrides)
// holds any entry for the given year; serve warns at start when next year's is missing.
func (c *WorkCalendar) HasHolidayData(year int) bool {
	prefix := strconv.Itoa(year) + "-"
	for day := range c.overrides {
		if strings.HasPrefix(day, prefix) {
			return true
		}
	}
	if year < 1000 || year > 9999 {
		return false
	}
	return HolidayUtil.GetHolidaysByYear(year).Len() > 0
}
