package bot

import (
	"strings"

	"github.com/hotlinebot/hotlinebot"
)

// The fixed replies. Everything a person reads is plain Chinese and says what
// to do next.
const (
	replyBusy    = "系统繁忙，请稍后再发送一次。"
	replyUnbound = "您的微信号尚未绑定。请向热线办索取绑定码，然后发送「绑定 绑定码」（例如：绑定 12345678），或扫描热线办提供的绑定二维码。绑定后才能查看和办理工单。"
	replyWelcome = "欢迎关注12345热线工单办理公众号。"
	replyVoice   = "暂不支持语音消息，请发送文字指令。发送「帮助」查看可用的指令。"
)

// topicHelp explains one command when a required part is missing.
var topicHelp = map[Verb]string{
	VerbBind:             "请发送「绑定 绑定码」，例如：绑定 12345678。绑定码可向热线办索取。",
	VerbAccept:           "签收工单请发送「签收 工单号」，例如：签收 37。",
	VerbProgress:         "记录进展请写明进展内容，例如：进展 37 已联系来电人，明天到现场。",
	VerbComplete:         "办结请写明办理结果，例如：办结 37 已清理完毕，现场已恢复。",
	VerbReturn:           "申请退回请写明原因，例如：退回 37 不属于本单位职责。",
	VerbExtend:           "申请延期请写明工作日天数和原因，例如：延期 37 3天 需协调施工单位。",
	VerbApproveExtension: "同意延期请发送「同意延期 工单号」，例如：同意延期 37。",
	VerbRejectExtension:  "驳回延期请写明理由，例如：驳回延期 37 可在原时限内办结。",
	VerbApproveReturn:    "同意退回请发送「同意退回 工单号 [改派单位]」，例如：同意退回 37 南湖街道办事处；不写单位则工单回到待分派。",
	VerbRejectReturn:     "驳回退回请写明理由，例如：驳回退回 37 属于你单位辖区。",
	VerbDispatch:         "派单请写明单位（名称或代码），例如：派 37 龙山管理处。",
	VerbShow:             "查看工单请发送「查 工单号」，例如：查 37。",
	VerbTodo:             "发送「待办」查看您的工单。",
}

// helpFor is what a person can do, for their role; topic narrows it to one
// command.
func helpFor(p hotlinebot.Person, topic Verb) string {
	if h, ok := topicHelp[topic]; ok {
		return h + "\n发送「帮助」查看全部指令。"
	}
	var lines []string
	switch {
	case p.Role == hotlinebot.RoleHandler:
		lines = []string{
			"您可以发送：",
			"签收 37 —— 签收工单",
			"进展 37 进展内容 —— 记录办理进展",
			"办结 37 办理结果 —— 办结工单",
			"退回 37 原因 —— 申请退回（不属于本单位职责）",
			"延期 37 3天 原因 —— 申请延期",
			"待办 —— 查看本单位待签收和您在办的工单",
			"查 37 —— 查看工单详情",
			"只有一件可办的工单时可以不写工单号。办结或进展后 10 分钟内发送的照片会作为办理材料保存。",
		}
	case p.Role == hotlinebot.RoleLeader && p.Department != "":
		lines = []string{
			"您可以发送：",
			"待办 —— 查看本单位未办结的工单和待审批的延期",
			"查 37 —— 查看工单详情",
			"同意延期 37 —— 同意延期申请",
			"驳回延期 37 理由 —— 驳回延期申请",
		}
	case p.Role == hotlinebot.RoleOffice:
		lines = []string{
			"您可以发送：",
			"待办 —— 查看待分派、待审退回和待审延期的工单",
			"派 37 单位 —— 派单或改派（单位名称或代码）",
			"同意退回 37 [单位] —— 同意退回，可同时改派",
			"驳回退回 37 理由 —— 驳回退回申请",
			"同意延期 37 / 驳回延期 37 理由 —— 审批延期",
			"查 37 —— 查看工单详情",
		}
	default: // district leaders
		lines = []string{
			"您可以发送：",
			"待办 —— 查看全区未办结的工单",
			"查 37 —— 查看工单详情",
		}
	}
	return strings.Join(lines, "\n")
}
