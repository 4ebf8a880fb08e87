package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// apiHandler adapts a handler that returns its error, limits the body to
// MaxBodyBytes and marks the answer as not to be cached (it holds personal
// data).
func (s *Server) apiHandler(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		if err := h(w, r); err != nil {
			s.fail(w, r, err)
		}
	})
}

// authorized lets a request through only with "Authorization: Bearer
// <admin token>". The comparison takes the same time whatever the token
// given: both sides are hashed first, so neither their content nor their
// length shows in the timing.
func (s *Server) authorized(next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(s.token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := bearer(r.Header.Get("Authorization"))
		sum := sha256.Sum256([]byte(got))
		match := subtle.ConstantTimeCompare(sum[:], want[:]) == 1
		if !ok || !match || s.token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hotlinebot"`)
			w.Header().Set("Cache-Control", "no-store")
			s.fail(w, r, errUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bearer returns the token of an "Authorization: Bearer <token>" header.
func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
