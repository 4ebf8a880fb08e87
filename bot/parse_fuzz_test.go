package bot

import (
	"testing"
	"unicode/utf8"
)

// FuzzParse checks that the parser never panics, that normalisation is
// idempotent, and that a command printed and parsed again is the same command.
// `make test` runs it for a few seconds.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"签收 37", "办结：37：已处理", "延期 37 3 天 需协调", "延期 3天 原因", "同意退回 37 nanhu",
		"驳回退回 #37 属于你单位", "派 37 龙山管理处", "查 ext:123", "绑定 K7Q2M9", "帮助 延期",
		"进展 YY20171020-0012 已联系", "待办", "我的工单", "", "　", "签收＃３７号", "延期 37 十二个工作日 x", "延期 37 3天需协调", "延期 3 天日", "办结 37。已清理。", "签收 37!",
		"ext:ext:1", "办结 ext: 1", "\xff\xfe", "延期 3 3", "派 #", "签收 99999999999999999999999",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		c := Parse(in)
		if c.Verb == "" {
			t.Fatalf("Parse(%q) has no verb", in)
		}
		n := Normalize(in)
		if Normalize(n) != n {
			t.Fatalf("Normalize not idempotent on %q: %q then %q", in, n, Normalize(n))
		}
		printed := c.String()
		if !utf8.ValidString(printed) {
			t.Fatalf("Parse(%q).String() = %q is not UTF-8", in, printed)
		}
		if again := Parse(printed); again != c {
			t.Fatalf("Parse(%q) = %+v; printed %q; parsed again %+v", in, c, printed, again)
		}
	})
}
