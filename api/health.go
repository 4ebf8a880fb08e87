package api

import (
	"context"
	"net/http"
	"time"
)

// readyTimeout bounds the readiness checks, so that a hung database makes
// /readyz answer 503 rather than hang the probe.
const readyTimeout = 3 * time.Second

// handleHealthz answers 200 while the process serves.
func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// handleReadyz answers 200 when the database answers and Options.Ready
// passes (migrations current, scheduler ticking), else 503 with the reason.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		// The driver's text may name the host and user: it goes to the log only.
		s.log.Warn("readyz: database does not answer", "error", redact(err.Error()))
		writeError(w, http.StatusServiceUnavailable, codeUnavailable, "database: not reachable")
		return
	}
	if s.ready != nil {
		if err := s.ready(ctx); err != nil {
			s.log.Warn("readyz: not ready", "error", redact(err.Error()))
			writeError(w, http.StatusServiceUnavailable, codeUnavailable, err.Error())
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
