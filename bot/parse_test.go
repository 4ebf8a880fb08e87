package bot

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Command
	}{
		// 签收 and its synonym, every way of writing the ref.
		{"签收 37", Command{Verb: VerbAccept, Ref: "#37"}},
		{"签收37", Command{Verb: VerbAccept, Ref: "#37"}},
		{"签收 #37", Command{Verb: VerbAccept, Ref: "#37"}},
		{"签收＃３７", Command{Verb: VerbAccept, Ref: "#37"}},
		{"签收　37", Command{Verb: VerbAccept, Ref: "#37"}},
		{"签收：37", Command{Verb: VerbAccept, Ref: "#37"}},
		{"  签收 37号 ", Command{Verb: VerbAccept, Ref: "#37"}},
		{"签收 037", Command{Verb: VerbAccept, Ref: "#37"}},
		{"接单 37", Command{Verb: VerbAccept, Ref: "#37"}},
		{"签收", Command{Verb: VerbAccept}},
		{"签收 YY20171020-0012", Command{Verb: VerbAccept, Ref: "YY20171020-0012"}},
		{"签收 ext:123", Command{Verb: VerbAccept, Ref: "ext:123"}},
		{"签收 EXT：123", Command{Verb: VerbAccept, Ref: "ext:123"}},
		{"签收 ＃YY", Command{Verb: VerbHelp, Topic: VerbAccept}},
		{"签收 " + strings.Repeat("0", 65), Command{Verb: VerbHelp, Topic: VerbAccept}}, // longer than any external id
		// A sentence's end after the ref: the ref is still the ref, not left
		// out (which would act on whichever single ticket there is).
		{"签收 37。", Command{Verb: VerbAccept, Ref: "#37"}},
		{"签收 37a", Command{Verb: VerbHelp, Topic: VerbAccept}},
		{"签收 三十七", Command{Verb: VerbHelp, Topic: VerbAccept}},
		{"查 三十七", Command{Verb: VerbHelp, Topic: VerbShow}},
		{"签收 37！", Command{Verb: VerbAccept, Ref: "#37"}},
		{"签收 #37．", Command{Verb: VerbAccept, Ref: "#37"}},
		{"查 37?", Command{Verb: VerbShow, Ref: "#37"}},
		{"办结 37。已清理完毕。", Command{Verb: VerbComplete, Ref: "#37", Text: "已清理完毕。"}},

		// 进展 / 反馈.
		{"进展 37 已联系来电人", Command{Verb: VerbProgress, Ref: "#37", Text: "已联系来电人"}},
		{"反馈 #37 已到现场，正在处理。", Command{Verb: VerbProgress, Ref: "#37", Text: "已到现场，正在处理。"}},
		{"进展 已联系来电人", Command{Verb: VerbProgress, Text: "已联系来电人"}},
		{"进展 37户已通知", Command{Verb: VerbProgress, Text: "37户已通知"}},
		{"进展 37", Command{Verb: VerbHelp, Topic: VerbProgress}},

		// 办结 / 完成, with colons between the parts.
		{"办结 37 已清理完毕", Command{Verb: VerbComplete, Ref: "#37", Text: "已清理完毕"}},
		{"办结：37：已处理", Command{Verb: VerbComplete, Ref: "#37", Text: "已处理"}},
		{"办结:37:已处理", Command{Verb: VerbComplete, Ref: "#37", Text: "已处理"}},
		{"完成 ＃37　已清理，现场整洁", Command{Verb: VerbComplete, Ref: "#37", Text: "已清理，现场整洁"}},
		{"办结 已清理完毕", Command{Verb: VerbComplete, Text: "已清理完毕"}},
		{"办结 YY20171020-0012 已处理", Command{Verb: VerbComplete, Ref: "YY20171020-0012", Text: "已处理"}},
		{"办结 37", Command{Verb: VerbHelp, Topic: VerbComplete}},
		{"办结", Command{Verb: VerbHelp, Topic: VerbComplete}},

		// 退回 / 退单.
		{"退回 37 不属于本单位职责", Command{Verb: VerbReturn, Ref: "#37", Text: "不属于本单位职责"}},
		{"退单 37 不属于本单位职责", Command{Verb: VerbReturn, Ref: "#37", Text: "不属于本单位职责"}},
		{"退回 37", Command{Verb: VerbHelp, Topic: VerbReturn}},

		// 延期 and every way of writing the days.
		{"延期 37 3天 需协调施工单位", Command{Verb: VerbExtend, Ref: "#37", Days: 3, Text: "需协调施工单位"}},
		{"延期 37 3 天 需协调", Command{Verb: VerbExtend, Ref: "#37", Days: 3, Text: "需协调"}},
		{"延期 37 3个工作日 需协调", Command{Verb: VerbExtend, Ref: "#37", Days: 3, Text: "需协调"}},
		{"延期 37 3 需协调", Command{Verb: VerbExtend, Ref: "#37", Days: 3, Text: "需协调"}},
		{"延期 #37 ３天 需协调", Command{Verb: VerbExtend, Ref: "#37", Days: 3, Text: "需协调"}},
		{"延期 37 两天 需协调", Command{Verb: VerbExtend, Ref: "#37", Days: 2, Text: "需协调"}},
		{"延期 37 十二天 需协调", Command{Verb: VerbExtend, Ref: "#37", Days: 12, Text: "需协调"}},
		{"延期 3天 需协调", Command{Verb: VerbExtend, Days: 3, Text: "需协调"}},
		{"延期 37 3天需协调施工单位", Command{Verb: VerbExtend, Ref: "#37", Days: 3, Text: "需协调施工单位"}},
		{"延期 3个工作日需协调", Command{Verb: VerbExtend, Days: 3, Text: "需协调"}},
		{"延期 3 天 需协调", Command{Verb: VerbExtend, Days: 3, Text: "需协调"}},
		{"延期 3 需协调", Command{Verb: VerbHelp, Topic: VerbExtend}},
		{"延期 37 3天", Command{Verb: VerbHelp, Topic: VerbExtend}},
		{"延期 37 0天 原因", Command{Verb: VerbHelp, Topic: VerbExtend}},
		{"延期 37 需协调", Command{Verb: VerbHelp, Topic: VerbExtend}},

		// Decisions.
		{"同意延期 37", Command{Verb: VerbApproveExtension, Ref: "#37"}},
		{"同意延期", Command{Verb: VerbApproveExtension}},
		{"驳回延期 37 理由不充分", Command{Verb: VerbRejectExtension, Ref: "#37", Text: "理由不充分"}},
		{"驳回延期 37", Command{Verb: VerbHelp, Topic: VerbRejectExtension}},
		{"同意退回 37", Command{Verb: VerbApproveReturn, Ref: "#37"}},
		{"同意退回 37 南湖街道办事处", Command{Verb: VerbApproveReturn, Ref: "#37", Dept: "南湖街道办事处"}},
		{"同意退回 37 nanhu", Command{Verb: VerbApproveReturn, Ref: "#37", Dept: "nanhu"}},
		{"驳回退回 37 属于你单位辖区", Command{Verb: VerbRejectReturn, Ref: "#37", Text: "属于你单位辖区"}},

		// 派 / 派单 / 改派.
		{"派 37 longshan", Command{Verb: VerbDispatch, Ref: "#37", Dept: "longshan"}},
		{"派单 37 龙山管理处", Command{Verb: VerbDispatch, Ref: "#37", Dept: "龙山管理处"}},
		{"改派：37：区城市管理局", Command{Verb: VerbDispatch, Ref: "#37", Dept: "区城市管理局"}},
		{"派 龙山管理处", Command{Verb: VerbDispatch, Dept: "龙山管理处"}},
		{"派 37", Command{Verb: VerbHelp, Topic: VerbDispatch}},
		{"派出所来电", Command{Verb: VerbHelp}},

		// Lists, details, help, binding.
		{"待办", Command{Verb: VerbTodo}},
		{"我的工单", Command{Verb: VerbTodo}},
		{"待办事项", Command{Verb: VerbHelp}},
		{"查 37", Command{Verb: VerbShow, Ref: "#37"}},
		{"查37", Command{Verb: VerbShow, Ref: "#37"}},
		{"详情 #37", Command{Verb: VerbShow, Ref: "#37"}},
		{"查", Command{Verb: VerbShow}},
		{"帮助", Command{Verb: VerbHelp}},
		{"帮助 延期", Command{Verb: VerbHelp, Topic: VerbExtend}},
		{"绑定 K7Q2M9", Command{Verb: VerbBind, Code: "K7Q2M9"}},
		{"绑定：Ｋ７Ｑ２Ｍ９", Command{Verb: VerbBind, Code: "K7Q2M9"}},
		{"绑定 1234 5678", Command{Verb: VerbBind, Code: "12345678"}},
		{"绑定 1234-5678 谢谢", Command{Verb: VerbBind, Code: "12345678"}},
		{"绑定", Command{Verb: VerbHelp, Topic: VerbBind}},
		{"绑定 我的码", Command{Verb: VerbHelp, Topic: VerbBind}},

		// Not understood.
		{"", Command{Verb: VerbHelp}},
		{"你好", Command{Verb: VerbHelp}},
		{"?", Command{Verb: VerbHelp}},
	}
	for _, tt := range tests {
		got := Parse(tt.in)
		if got != tt.want {
			t.Errorf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestCommandStringRoundTrip(t *testing.T) {
	for _, in := range []string{
		"办结：37：已处理", "延期 37 3 天 需协调", "同意退回 37 南湖街道办事处", "帮助 延期",
		"绑定 K7Q2M9", "派 龙山管理处", "进展 已联系", "签收", "查 ext:123",
	} {
		c := Parse(in)
		if again := Parse(c.String()); again != c {
			t.Errorf("Parse(%q) = %+v, printed %q, parsed again %+v", in, c, c.String(), again)
		}
	}
}

func TestNormalize(t *testing.T) {
	if got, want := Normalize("  办结：＃３７　　已处理 "), "办结:#37 已处理"; got != want {
		t.Errorf("Normalize = %q, want %q", got, want)
	}
}
