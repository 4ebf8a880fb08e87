package hotlinebot

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestTicketViewJSON(t *testing.T) {
	loc := time.FixedZone("CST", 8*3600)
	received := time.Date(2017, 10, 20, 1, 30, 0, 0, time.UTC)
	tk := Ticket{
		ID: 37, ExternalID: "YY20171020-0012", Title: "占道经营", Status: StatusDispatched,
		Urgency: UrgencyNormal, Department: "longshan", CallerPhone: "13812340000",
		ReceivedAt: received, DueAt: received.Add(time.Hour),
	}
	b, err := json.Marshal(TicketView(tk, received.Add(2*time.Hour), loc, false))
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	for _, want := range []string{
		`"id":37`, `"ref":"#37"`, `"caller_phone":"138****0000"`, `"assignee":null`,
		`"received_at":"2017-10-20T09:30:00+08:00"`, `"completed_at":null`, `"outcome":null`,
		`"followup_result":null`, `"overdue":true`, `"status":"dispatched"`,
		`"department":"longshan"`, `"rule":null`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("ticket JSON lacks %s:\n%s", want, got)
		}
	}
	pending, _ := json.Marshal(TicketView(Ticket{ID: 38, Status: StatusPending, Rule: ""}, received, loc, false))
	if !strings.Contains(string(pending), `"department":null`) {
		t.Errorf("a pending ticket's department should be null:\n%s", pending)
	}
	revealed := TicketView(tk, received, loc, true)
	if revealed.CallerPhone != "13812340000" {
		t.Errorf("revealed phone = %q", revealed.CallerPhone)
	}
}

func TestEventViewJSON(t *testing.T) {
	loc := time.FixedZone("CST", 8*3600)
	ev := Event{ID: 901, At: time.Date(2026, 11, 27, 1, 30, 0, 0, time.UTC), Action: ActionCreate, Channel: ChannelImport, ToStatus: StatusDispatched}
	b, _ := json.Marshal(EventView(ev, loc))
	want := `{"id":901,"at":"2026-11-27T09:30:00+08:00","action":"create","actor":null,"channel":"import","from_status":null,"to_status":"dispatched","note":""}`
	if string(b) != want {
		t.Errorf("event JSON\n got %s\nwant %s", b, want)
	}
}
