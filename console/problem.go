package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/shipevents/shipevents"
)

// problem is an RFC 9457 problem details object, and the error the
// handlers return for a request that cannot be answered.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// InvalidParams names each bad parameter and what is wrong with it.
	InvalidParams []invalidParam `json:"invalid_params,omitempty"`
}

type invalidParam struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

func (p problem) Error() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%d %s", p.Status, p.Detail)
	for _, ip := range p.InvalidParams {
		fmt.Fprintf(&sb, "; %s: %s", ip.Name, ip.Reason)
	}
	return sb.String()
}

// badParams is the 400 for the given invalid parameters.
func badParams(params ...invalidParam) problem {
	return problem{Status: http.StatusBadRequest, Detail: "invalid request parameters", InvalidParams: params}
}

// problemOf turns a handler's error into the problem to answer: a
// problem as it is, the library's errors by their kind, and anything
// else (a store failing) a 500 without its text, which is logged.
func (c *Console) problemOf(r *http.Request, err error) problem {
	var p problem
	switch {
	case errors.As(err, &p):
		return p
	case errors.Is(err, shipevents.ErrNotFound):
		return problem{Status: http.StatusNotFound, Detail: "not found"}
	case errors.Is(err, shipevents.ErrInvalidCursor):
		return badParams(invalidParam{"after/before", "not a cursor this store issued"})
	case errors.Is(err, shipevents.ErrInvalidSubscription), errors.Is(err, shipevents.ErrInvalidPattern):
		// Their messages never quote secrets or header values.
		return problem{Status: http.StatusBadRequest, Detail: err.Error()}
	case errors.Is(err, shipevents.ErrNotSupported):
		return problem{Status: http.StatusNotImplemented, Detail: err.Error()}
	}
	if r.Context().Err() == nil {
		c.log.Error("console: request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	}
	return problem{Status: http.StatusInternalServerError, Detail: "the request failed; the console's log says why"}
}

// writeProblem writes p as application/problem+json.
func writeProblem(w http.ResponseWriter, _ *http.Request, p problem) {
	if p.Type == "" {
		p.Type = "about:blank"
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// writeJSON writes v as JSON with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// apiHandler adapts a JSON handler: an error it returns is answered as a
// problem.
func (c *Console) apiHandler(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			writeProblem(w, r, c.problemOf(r, err))
		}
	})
}
