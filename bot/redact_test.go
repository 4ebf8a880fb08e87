package bot

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/bot/wechatsim"
	"github.com/silenceper/wechat/v2/credential"
)

func TestRedact(t *testing.T) {
	cases := []struct{ in, want string }{
		{`http get error : uri=https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential&appid=wx1&secret=S3CR3T , statusCode=500`,
			`http get error : uri=https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential&appid=wx1&secret=REDACTED , statusCode=500`},
		{`Post "http://127.0.0.1:1/cgi-bin/message/template/send?access_token=TOK_en-1.2": EOF`,
			`Post "http://127.0.0.1:1/cgi-bin/message/template/send?access_token=REDACTED": EOF`},
		{`x?component_access_token=abc&y=1`, `x?component_access_token=REDACTED&y=1`},
		{`{"appid":"wx1","secret":"S3CR3T","force_refresh":false}`, `{"appid":"wx1","secret":"REDACTED","force_refresh":false}`},
		{`{"access_token" : "TOK\"EN","expires_in":7200}`, `{"access_token" : "REDACTED","expires_in":7200}`},
		{`appsecret=abc AppSecret=def`, `appsecret=REDACTED AppSecret=REDACTED`},
		{`uri%3Fsecret%3Dabc%26x`, `uri%3Fsecret%3DREDACTED%26x`},
		{`errcode=43004 , errmsg=require subscribe`, `errcode=43004 , errmsg=require subscribe`},
	}
	for _, c := range cases {
		if got := Redact(c.in); got != c.want {
			t.Errorf("Redact(%q)\n = %q\nwant %q", c.in, got, c.want)
		}
	}
}

// The SDK's own errors, made to fail against the simulator, carry the
// AppSecret and the token; once through Redact (and in what the sender logs
// and returns) they carry neither.
func TestSDKErrorsAreRedacted(t *testing.T) {
	p := newPlumbing(t)

	// The default (non-stable) handle puts the secret in the URL; an HTTP 500
	// makes the SDK return that URL in its error.
	p.sim.FailNext(wechatsim.PathToken, wechatsim.HTTP500, 1)
	_, err := credential.NewDefaultAccessToken(simAppID, simAppSecret, "redact_test_", newTestCache()).GetAccessToken()
	if err == nil || !strings.Contains(err.Error(), simAppSecret) {
		t.Fatalf("the SDK's token error no longer shows the secret (%v): this test needs a new trap", err)
	}
	if got := Redact(err.Error()); strings.Contains(got, simAppSecret) || !strings.Contains(got, "secret=REDACTED") {
		t.Errorf("redacted token error: %s", got)
	}

	s := newTestSender(t, p)
	ctx := context.Background()
	if _, err := s.Send(ctx, assignedPush(1)); err != nil {
		t.Fatal(err)
	}
	token := p.sim.AccessToken()
	for _, fail := range []int64{wechatsim.HTTP500, wechatsim.CutOff} {
		p.sim.FailNext(wechatsim.PathTemplateSend, fail, 1)
		_, err := s.Send(ctx, assignedPush(2))
		var pe *hotlinebot.PushError
		if !errors.As(err, &pe) {
			t.Fatalf("%v", err)
		}
		if strings.Contains(pe.Message, token) || strings.Contains(err.Error(), token) {
			t.Errorf("the push error shows the access token: %s", pe.Message)
		}
		if !strings.Contains(pe.Message, "access_token=REDACTED") {
			t.Errorf("the push error lost the URL it should show redacted: %s", pe.Message)
		}
	}
	logs := p.logs.String()
	if !strings.Contains(logs, "template push failed") {
		t.Fatalf("nothing logged: %s", logs)
	}
	if strings.Contains(logs, token) || strings.Contains(logs, simAppSecret) {
		t.Errorf("the logs show a secret:\n%s", logs)
	}
}

func TestRedactingHandler(t *testing.T) {
	var b syncBuffer
	log := slog.New(RedactingHandler(slog.NewTextHandler(&b, nil))).With("url", "x?access_token=T1")
	log.Error("call ?secret=S1 failed", "err", errors.New(`get "u?access_token=T2"`), slog.Group("g", "body", `{"secret":"S3"}`))
	out := b.String()
	for _, s := range []string{"T1", "S1", "T2", "S3"} {
		if strings.Contains(out, s) {
			t.Errorf("log line shows %s: %s", s, out)
		}
	}
	if strings.Count(out, "REDACTED") != 4 {
		t.Errorf("log line: %s", out)
	}
}
