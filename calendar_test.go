package hotlinebot

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return time.FixedZone("CST", 8*3600)
	}
	return loc
}()

// at parses "2006-01-02 15:04" in Asia/Shanghai.
func at(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, shanghai)
	if err != nil {
		t.Fatalf("bad test time %q: %v", s, err)
	}
	return v
}

func newTestCalendar(t testing.TB, overrides map[string]bool) *WorkCalendar {
	t.Helper()
	c, err := NewWorkCalendar(shanghai, "18:00", overrides)
	if err != nil {
		t.Fatalf("NewWorkCalendar: %v", err)
	}
	return c
}

func TestIsWorkday(t *testing.T) {
	cal := newTestCalendar(t, map[string]bool{
		"2028-01-03": false, // a Monday the data lacks, declared off
		"2028-01-08": true,  // a Saturday declared worked
		"2026-10-01": true,  // an override beats the statutory data
	})
	tests := []struct {
		day  string
		want bool
		why  string
	}{
		{"2026-02-13", true, "Friday before 春节"},
		{"2026-02-14", true, "Saturday, 春节调休 makeup day"},
		{"2026-02-15", false, "Sunday, 春节"},
		{"2026-02-16", false, "Monday in 春节"},
		{"2026-02-23", false, "Monday, last day of 春节"},
		{"2026-02-24", true, "Tuesday, first workday after 春节"},
		{"2026-02-28", true, "Saturday, 春节调休"},

		{"2026-09-20", true, "Sunday, 国庆调休"},
		{"2026-09-30", true, "Wednesday before 国庆"},
		{"2026-10-02", false, "国庆"},
		{"2026-10-07", false, "last day of 国庆"},
		{"2026-10-08", true, "Thursday after 国庆"},
		{"2026-10-10", true, "Saturday, 国庆调休"},
		{"2026-10-11", false, "plain Sunday"},
		{"2026-10-12", true, "plain Monday"},
		{"2027-01-31", true, "Sunday, 2027 春节调休"},
		{"2027-02-08", false, "Monday in 2027 春节"},
		{"2028-01-03", false, "override: off"},
		{"2028-01-04", true, "Tuesday, no data: weekday"},
		{"2028-01-08", true, "override: worked"},
		{"2028-01-09", false, "Sunday, no data: weekend"},
		{"2026-10-01", true, "override beats 国庆"},
	}
	for _, tt := range tests {
		if got := cal.IsWorkday(at(t, tt.day+" 10:00")); got != tt.want {
			t.Errorf("IsWorkday(%s) = %v, want %v (%s)", tt.day, got, tt.want, tt.why)
		}
	}
}

func TestIsWorkdayJudgesTheDayInTheCalendarsZone(t *testing.T) {
	cal := newTestCalendar(t, nil)
	// 2026-10-09 17:00 UTC is 2026-10-10 01:00 in Shanghai: the 调休 Saturday.
	if !cal.IsWorkday(time.Date(2026, 10, 9, 17, 0, 0, 0, time.UTC)) {
		t.Error("2026-10-10 01:00 +08:00 given in UTC: want workday (调休 Saturday)")
	}
	// 2026-10-10 16:30 UTC is 2026-10-11 00:30 in Shanghai: a Sunday.
	if cal.IsWorkday(time.Date(2026, 10, 10, 16, 30, 0, 0, time.UTC)) {
		t.Error("2026-10-11 00:30 +08:00 given in UTC: want day off (Sunday)")
	}
}

func TestAddWorkdays(t *testing.T) {
	cal := newTestCalendar(t, map[string]bool{"2028-01-03": false})
	tests := []struct {
		from string
		n    int
		want string
	}{
		{"2026-09-30 00:00", 5, "2026-10-13 18:00"},
		{"2026-09-30 09:15", 5, "2026-10-13 18:00"},
		{"2026-09-30 23:59", 5, "2026-10-13 18:00"},
		{"2026-09-30 10:00", 1, "2026-10-08 18:00"},
		{"2026-10-09 10:00", 1, "2026-10-10 18:00"},
		{"2026-10-10 10:00", 1, "2026-10-12 18:00"},
		{"2026-02-13 10:00", 1, "2026-02-14 18:00"},
		{"2026-02-13 10:00", 3, "2026-02-25 18:00"},
		{"2026-10-03 10:00", 1, "2026-10-08 18:00"}, // from a holiday
		{"2027-12-31 10:00", 1, "2028-01-04 18:00"}, // override off on 2028-01-03
		{"2026-09-30 10:00", 15, "2026-10-27 18:00"},
	}
	for _, tt := range tests {
		got := cal.AddWorkdays(at(t, tt.from), tt.n)
		if want := at(t, tt.want); !got.Equal(want) {
			t.Errorf("AddWorkdays(%s, %d) = %s, want %s", tt.from, tt.n, got, want)
		}
		if got.Location() != shanghai {
			t.Errorf("AddWorkdays(%s, %d) in %s, want the calendar's zone", tt.from, tt.n, got.Location())
		}
	}
	from := at(t, "2026-09-30 10:00")
	for _, n := range []int{0, -1} {
		if got := cal.AddWorkdays(from, n); !got.Equal(from) {
			t.Errorf("AddWorkdays(from, %d) = %s, want from unchanged", n, got)
		}
	}
}

func TestAddWorkdaysUsesWorkdayEnd(t *testing.T) {
	cal, err := NewWorkCalendar(shanghai, "17:30", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := cal.AddWorkdays(at(t, "2026-09-30 10:00"), 5)
	if want := at(t, "2026-10-13 17:30"); !got.Equal(want) {
		t.Errorf("AddWorkdays with workday_end 17:30 = %s, want %s", got, want)
	}
	if cal.WorkdayEnd() != "17:30" {
		t.Errorf("WorkdayEnd() = %q, want 17:30", cal.WorkdayEnd())
	}
}

func TestWorkdaysBefore(t *testing.T) {
	cal := newTestCalendar(t, nil)
	tests := []struct {
		from string
		n    int
		want string
	}{
		{"2026-10-13 18:00", 1, "2026-10-12 18:00"},
		{"2026-10-09 18:00", 1, "2026-10-08 18:00"},
		{"2026-10-08 18:00", 1, "2026-09-30 18:00"}, // over 国庆
		{"2026-10-12 18:00", 1, "2026-10-10 18:00"}, // the 调休 Saturday counts
		{"2026-10-13 18:00", 5, "2026-09-30 18:00"}, // the inverse of 09-30 + 5wd
		{"2026-02-24 10:30", 1, "2026-02-14 10:30"}, // clock time kept
	}
	for _, tt := range tests {
		got := cal.WorkdaysBefore(at(t, tt.from), tt.n)
		if want := at(t, tt.want); !got.Equal(want) {
			t.Errorf("WorkdaysBefore(%s, %d) = %s, want %s", tt.from, tt.n, got, want)
		}
	}
	from := at(t, "2026-10-13 18:00")
	if got := cal.WorkdaysBefore(from, 0); !got.Equal(from) {
		t.Errorf("WorkdaysBefore(from, 0) = %s, want from unchanged", got)
	}
}

func TestHasHolidayData(t *testing.T) {
	cal := newTestCalendar(t, nil)
	for year, want := range map[int]bool{2026: true, 2027: true, 2028: false} {
		if got := cal.HasHolidayData(year); got != want {
			t.Errorf("HasHolidayData(%d) = %v, want %v", year, got, want)
		}
	}
	withOverride := newTestCalendar(t, map[string]bool{"2028-01-01": false})
	if !withOverride.HasHolidayData(2028) {
		t.Error("HasHolidayData(2028) with a 2028 override = false, want true")
	}
	if withOverride.HasHolidayData(2029) {
		t.Error("HasHolidayData(2029) = true, want false")
	}
}

func TestNewWorkCalendarRefusesBadConfig(t *testing.T) {
	for _, end := range []string{"", "18", "6:00", "24:00", "18:60", "1800", "18:0a", "-1:00", "18:00:00"} {
		_, err := NewWorkCalendar(shanghai, end, nil)
		if ErrorCodeOf(err) != EINVALID {
			t.Errorf("workday_end %q: err = %v, want invalid", end, err)
		}
	}
	for _, day := range []string{"2028-1-1", "2028-13-01", "2028-02-30", "20280101", "tomorrow", ""} {
		_, err := NewWorkCalendar(shanghai, "18:00", map[string]bool{day: false})
		if ErrorCodeOf(err) != EINVALID {
			t.Errorf("override %q: err = %v, want invalid", day, err)
		} else if day != "" && !strings.Contains(err.Error(), day) {
			t.Errorf("override %q: error %q does not name the date", day, err)
		}
	}
	if _, err := NewWorkCalendar(nil, "18:00", nil); ErrorCodeOf(err) != EINVALID {
		t.Errorf("nil location: err = %v, want invalid", err)
	}
	for _, end := range []string{"00:00", "09:05", "23:59"} {
		if _, err := NewWorkCalendar(shanghai, end, nil); err != nil {
			t.Errorf("workday_end %q: %v", end, err)
		}
	}
}

func TestWorkCalendarConcurrentUse(t *testing.T) {
	cal := newTestCalendar(t, nil)
	start := at(t, "2026-01-01 09:00")
	var wg sync.WaitGroup
	results := make([]string, 8)
	for g := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var s string
			for d := range 400 {
				day := start.AddDate(0, 0, d)
				s += fmt.Sprint(cal.IsWorkday(day), cal.AddWorkdays(day, 3).Unix())
			}
			results[g] = s
		}()
	}
	wg.Wait()
	for g := range results {
		if results[g] != results[0] {
			t.Fatalf("goroutine %d saw a different calendar", g)
		}
	}
}
