package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/hotlinebot/hotlinebot"
	"github.com/silenceper/wechat/v2/util"
)

// MaxMediaBytes is the largest evidence image kept.
const MaxMediaBytes = 2 << 20

// ErrMediaTooLarge is FetchMedia's refusal of media over MaxMediaBytes.
var ErrMediaTooLarge = hotlinebot.Errorf(hotlinebot.EINVALID, "图片超过 2 MB，未能保存，请压缩后重新发送")

// FetchMedia downloads a temporary media (an image a user sent) through
// /cgi-bin/media/get with the access token, through the SDK's HTTP plumbing.
// WeChat keeps media 3 days: fetch it when the message arrives. Over
// MaxMediaBytes is ErrMediaTooLarge (never more than that is read); an
// unknown or expired media id is an error carrying WeChat's errcode
// (ErrCode: 40007).
func (wc *WeChat) FetchMedia(ctx context.Context, mediaID string) (data []byte, contentType string, err error) {
	if mediaID == "" {
		return nil, "", hotlinebot.Errorf(hotlinebot.EINVALID, "缺少图片的 media_id")
	}
	for attempt := 0; ; attempt++ {
		tok, err := wc.accessToken(ctx)
		if err != nil {
			return nil, "", err
		}
		cctx, ci := withCallInfo(ctx)
		ci.limit = MaxMediaBytes + 1
		body, err := util.HTTPGetContext(cctx, DefaultAPIBaseURL+"/cgi-bin/media/get?access_token="+url.QueryEscape(tok)+"&media_id="+url.QueryEscape(mediaID))
		if err != nil {
			return nil, "", fmt.Errorf("media get: %w", RedactError(err))
		}
		mt, _, _ := mime.ParseMediaType(ci.contentType)
		if mt == "application/json" || mt == "text/plain" || (mt == "" && len(body) > 0 && body[0] == '{') {
			var ce util.CommonError
			if jerr := json.Unmarshal(body, &ce); jerr == nil && ce.ErrCode != 0 {
				if tokenErrcode(ce.ErrCode) && attempt == 0 {
					wc.invalidateToken()
					continue
				}
				return nil, "", &apiError{API: "media get", ErrCode: ce.ErrCode, ErrMsg: Redact(ce.ErrMsg)}
			}
			if mt != "" {
				return nil, "", errors.New("media get: WeChat answered JSON without media")
			}
		}
		if len(body) > MaxMediaBytes {
			return nil, "", ErrMediaTooLarge
		}
		if mt == "" || mt == "application/octet-stream" {
			mt = http.DetectContentType(body)
			mt, _, _ = strings.Cut(mt, ";")
		}
		return body, mt, nil
	}
}
