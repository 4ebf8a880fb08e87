package hotlinebot

import (
	"strings"
	"testing"
	"time"
)

func TestParseSpan(t *testing.T) {
	tests := []struct {
		in   string
		want Span
		str  string
	}{
		{"2h", Span{Duration: 2 * time.Hour}, "2h"},
		{"90s", Span{Duration: 90 * time.Second}, "1m30s"},
		{"0s", Span{}, "0s"},
		{"1h30m", Span{Duration: 90 * time.Minute}, "1h30m"},
		{"30m", Span{Duration: 30 * time.Minute}, "30m"},
		{"24h", Span{Duration: 24 * time.Hour}, "24h"},
		{"500ms", Span{Duration: 500 * time.Millisecond}, "500ms"},
		{"5wd", Span{Workdays: 5}, "5wd"},
		{"1wd", Span{Workdays: 1}, "1wd"},
		{"15wd", Span{Workdays: 15}, "15wd"},
		{"0wd", Span{}, "0s"},
		{" 2h ", Span{Duration: 2 * time.Hour}, "2h"},
	}
	for _, tt := range tests {
		got, err := ParseSpan(tt.in)
		if err != nil {
			t.Errorf("ParseSpan(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseSpan(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if s := got.String(); s != tt.str {
			t.Errorf("ParseSpan(%q).String() = %q, want %q", tt.in, s, tt.str)
		}
		back, err := ParseSpan(got.String())
		if err != nil || back != got {
			t.Errorf("ParseSpan(%q) does not round-trip: %q → %+v, %v", tt.in, got.String(), back, err)
		}
	}
}

func TestParseSpanRefuses(t *testing.T) {
	for _, in := range []string{"", "-2h", "-1wd", "wd", "1.5wd", "+3wd", "5 wd", "5d", "2 hours", "abc", "1w", "99999999999999999999wd"} {
		_, err := ParseSpan(in)
		if ErrorCodeOf(err) != EINVALID {
			t.Errorf("ParseSpan(%q): err = %v, want invalid", in, err)
			continue
		}
		if in != "" && !strings.Contains(err.Error(), in) {
			t.Errorf("ParseSpan(%q): error %q does not name the value", in, err)
		}
	}
}

func TestSpanText(t *testing.T) {
	var s Span
	if err := s.UnmarshalText([]byte("5wd")); err != nil || s != Workdays(5) {
		t.Fatalf("UnmarshalText(5wd) = %+v, %v", s, err)
	}
	if err := s.UnmarshalText([]byte("-1h")); err == nil {
		t.Error("UnmarshalText(-1h) accepted")
	}
	b, _ := Span{Duration: 2 * time.Hour}.MarshalText()
	if string(b) != "2h" {
		t.Errorf("MarshalText(2h) = %q", b)
	}
}

func TestSpanAfterBefore(t *testing.T) {
	cal := newTestCalendar(t, nil)
	from := at(t, "2026-09-30 09:00")
	if got, want := Workdays(5).After(cal, from), at(t, "2026-10-13 18:00"); !got.Equal(want) {
		t.Errorf("5wd after %s = %s, want %s", from, got, want)
	}
	if got, want := (Span{Duration: 2 * time.Hour}).After(cal, from), at(t, "2026-09-30 11:00"); !got.Equal(want) {
		t.Errorf("2h after = %s, want %s", got, want)
	}
	// Natural time ignores the holiday.
	if got, want := (Span{Duration: 24 * time.Hour}).After(cal, from), at(t, "2026-10-01 09:00"); !got.Equal(want) {
		t.Errorf("24h after = %s, want %s", got, want)
	}
	due := at(t, "2026-10-08 18:00")
	if got, want := Workdays(1).Before(cal, due), at(t, "2026-09-30 18:00"); !got.Equal(want) {
		t.Errorf("1wd before %s = %s, want %s", due, got, want)
	}
	if got, want := (Span{Duration: 2 * time.Hour}).Before(cal, due), at(t, "2026-10-08 16:00"); !got.Equal(want) {
		t.Errorf("2h before = %s, want %s", got, want)
	}
	if got := (Span{}).After(cal, from); !got.Equal(from) {
		t.Errorf("zero span after = %s, want the start", got)
	}
}

func TestDefaultDeadlinePolicy(t *testing.T) {
	p := DefaultDeadlinePolicy()
	normal := Policy{Sign: Workdays(1), Handle: Workdays(5), ReturnWindow: Workdays(1), MaxExtension: Workdays(10)}
	urgent := Policy{
		Sign: Span{Duration: 30 * time.Minute}, Handle: Span{Duration: 24 * time.Hour},
		ReturnWindow: Span{Duration: 2 * time.Hour}, MaxExtension: Workdays(2),
	}
	if got := p.For(UrgencyNormal, ""); got != normal {
		t.Errorf("normal = %+v, want %+v", got, normal)
	}
	if got := p.For(UrgencyUrgent, ""); got != urgent {
		t.Errorf("urgent = %+v, want %+v", got, urgent)
	}
	if got := p.For("", "社会保障"); got != normal {
		t.Errorf("urgency \"\" = %+v, want normal", got)
	}
	// A policy without the urgency at all still gives deadlines.
	if got := (DeadlinePolicy{}).For(UrgencyUrgent, ""); got != urgent {
		t.Errorf("empty policy, urgent = %+v, want the default", got)
	}
}

func TestDeadlinePolicyForCategory(t *testing.T) {
	p := DefaultDeadlinePolicy()
	p.Urgency[UrgencyNormal] = Policy{Sign: Workdays(1), Handle: Workdays(3), ReturnWindow: Workdays(2), MaxExtension: Workdays(10)}
	p.Categories["征收补偿"] = Policy{Handle: Workdays(15)}
	p.Categories["应急"] = Policy{Sign: Span{Duration: time.Hour}, MaxExtension: Workdays(1)}

	got := p.For(UrgencyNormal, "征收补偿")
	want := Policy{Sign: Workdays(1), Handle: Workdays(15), ReturnWindow: Workdays(2), MaxExtension: Workdays(10)}
	if got != want {
		t.Errorf("normal 征收补偿 = %+v, want %+v", got, want)
	}
	got = p.For(UrgencyUrgent, "征收补偿")
	want = DefaultDeadlinePolicy().Urgency[UrgencyUrgent]
	want.Handle = Workdays(15)
	if got != want {
		t.Errorf("urgent 征收补偿 = %+v, want %+v", got, want)
	}
	got = p.For(UrgencyNormal, "应急")
	want = Policy{Sign: Span{Duration: time.Hour}, Handle: Workdays(3), ReturnWindow: Workdays(2), MaxExtension: Workdays(1)}
	if got != want {
		t.Errorf("normal 应急 = %+v, want %+v", got, want)
	}
	if got := p.For(UrgencyNormal, "市容市貌"); got != p.Urgency[UrgencyNormal] {
		t.Errorf("category without override = %+v, want the urgency's", got)
	}
}
