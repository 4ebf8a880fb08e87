package bot

import (
	"context"
	"fmt"

	"github.com/hotlinebot/hotlinebot"
)

// bind binds the sender's openid with a one-time code, typed (绑定 <code>) or
// scanned (the bind QR code's scene "bind:<code>"). A wrong code is counted
// in the transaction (storage throttles repeated ones) and answered.
func (b *Bot) bind(t *turn, code string) (string, error) {
	p, err := b.store.BindTx(t.ctx, t.tx, t.openid, code, t.now)
	if err != nil {
		if c := hotlinebot.ErrorCodeOf(err); c == hotlinebot.EINVALID || c == hotlinebot.ECONFLICT || c == hotlinebot.EFORBIDDEN {
			return "绑定未成功：" + hotlinebot.ErrorMessage(err) + "。", nil
		}
		return "", err
	}
	who, err := b.describe(t.ctx, p)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("绑定成功：%s，%s。发送「待办」查看您的工单，发送「帮助」查看可用的指令。", p.Name, who), nil
}

// describe says what a person is in the district: "龙山管理处承办人",
// "龙山管理处领导", "区领导", "热线办".
func (b *Bot) describe(ctx context.Context, p hotlinebot.Person) (string, error) {
	switch {
	case p.Role == hotlinebot.RoleOffice:
		return "热线办", nil
	case p.DistrictLeader():
		return "区领导", nil
	}
	name, err := b.deptName(ctx, p.Department)
	if err != nil {
		return "", err
	}
	return name + p.Role.Chinese(), nil
}

// deptName is a department's name for a code ("" stays "").
func (b *Bot) deptName(ctx context.Context, code string) (string, error) {
	if code == "" {
		return "", nil
	}
	d, err := b.store.Department(ctx, code)
	if hotlinebot.ErrorCodeOf(err) == hotlinebot.ENOTFOUND {
		return code, nil
	}
	if err != nil {
		return "", err
	}
	return d.Name, nil
}
