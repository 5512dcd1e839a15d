package shipevents

import (
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// The default retry schedule: exponential from 5 s, times 3 per attempt,
// each delay capped at 10 h and jittered by ±20 %, for 11 attempts in all:
// waits of about 5 s, 15 s, 45 s, 2 m, 7 m, 20 m, 1 h, 3 h, 9 h and 10 h,
// so the last attempt comes about 24 hours after the first (Svix's
// schedule spans about 28). A delivery also gives up DefaultMaxAge after
// it was created.
const (
	DefaultInitialInterval = 5 * time.Second
	DefaultMultiplier      = 3.0
	DefaultMaxInterval     = 10 * time.Hour
	DefaultJitter          = 0.2
	DefaultMaxAttempts     = 11
	DefaultMaxAge          = 72 * time.Hour
	DefaultMaxRetryAfter   = time.Hour
)

// RetryPolicy decides whether and when a failed delivery is tried again.
// The zero value is the default schedule above. A policy is a value with no
// state, so one policy serves every delivery concurrently.
type RetryPolicy struct {
	// Schedule, when set, lists the delay after each failed attempt
	// (Schedule[0] after the first) and replaces the exponential schedule;
	// the number of attempts is then len(Schedule)+1 unless MaxAttempts is
	// smaller. Jitter still applies.
	Schedule        []time.Duration `json:"schedule,omitempty"`
	InitialInterval time.Duration   `json:"initial_interval,omitempty"`
	Multiplier      float64         `json:"multiplier,omitempty"`
	MaxInterval     time.Duration   `json:"max_interval,omitempty"`
	// Jitter is the randomization factor (0.2 = ±20 %); 0 means the
	// default, NoJitter turns it off (for tests and strict schedules).
	Jitter   float64 `json:"jitter,omitempty"`
	NoJitter bool    `json:"no_jitter,omitempty"`
	// MaxAttempts bounds attempts, the first included.
	MaxAttempts int `json:"max_attempts,omitempty"`
	// MaxAge bounds how long after its creation a delivery is retried.
	MaxAge time.Duration `json:"max_age,omitempty"`
	// MaxRetryAfter clamps a Retry-After the endpoint asks for.
	MaxRetryAfter time.Duration `json:"max_retry_after,omitempty"`
}

// Validate reports a policy that cannot work.
func (p *RetryPolicy) Validate() error {
	if p.Multiplier != 0 && p.Multiplier < 1 {
		return fmt.Errorf("retry multiplier %v is below 1", p.Multiplier)
	}
	if p.Jitter < 0 || p.Jitter >= 1 {
		return fmt.Errorf("retry jitter %v is outside [0, 1)", p.Jitter)
	}
	for _, d := range p.Schedule {
		if d < 0 {
			return fmt.Errorf("negative delay %v in retry schedule", d)
		}
	}
	if p.MaxAttempts < 0 || p.InitialInterval < 0 || p.MaxInterval < 0 || p.MaxAge < 0 || p.MaxRetryAfter < 0 {
		return errors.New("negative retry setting")
	}
	return nil
}

func (p *RetryPolicy) maxAttempts() int {
	if p.MaxAttempts > 0 {
		return p.MaxAttempts
	}
	if len(p.Schedule) > 0 {
		return len(p.Schedule) + 1
	}
	return DefaultMaxAttempts
}

func (p *RetryPolicy) jitter() float64 {
	switch {
	case p.NoJitter:
		return 0
	case p.Jitter > 0:
		return p.Jitter
	}
	return DefaultJitter
}

// Delay returns the wait after the given number of failed attempts (1 for
// the wait after the first attempt), jittered.
func (p *RetryPolicy) Delay(attempts int) time.Duration {
	if attempts < 1 {
		attempts = 1
	}
	b := &backoff.ExponentialBackOff{
		InitialInterval:     p.InitialInterval,
		RandomizationFactor: p.jitter(),
		Multiplier:          p.Multiplier,
		MaxInterval:         p.MaxInterval,
		Stop:                backoff.Stop,
		Clock:               backoff.SystemClock,
	}
	if len(p.Schedule) > 0 {
		i := min(attempts, len(p.Schedule)) - 1
		b.InitialInterval, b.Multiplier, b.MaxInterval = p.Schedule[i], 1, p.Schedule[i]
		if b.InitialInterval == 0 {
			return 0
		}
		b.Reset()
		return b.NextBackOff()
	}
	if b.InitialInterval == 0 {
		b.InitialInterval = DefaultInitialInterval
	}
	if b.Multiplier == 0 {
		b.Multiplier = DefaultMultiplier
	}
	if b.MaxInterval == 0 {
		b.MaxInterval = DefaultMaxInterval
	}
	b.Reset()
	// The backoff is stateful; walk it to the wanted attempt. Attempts are
	// few (tens at most), so this costs nothing that matters.
	for i := 1; i < attempts; i++ {
		b.NextBackOff()
	}
	return b.NextBackOff()
}

// RetryDecision is what the policy says after a failed attempt.
type RetryDecision struct {
	Retry bool
	At    time.Time // when to try again, if Retry
	// DisableSubscription is set when the endpoint said 410 Gone.
	DisableSubscription bool
	Reason              string
}

// Decide classifies err (the failure of attempt number attempts of a
// delivery created at created) and returns what to do at now:
//
//   - a [*HTTPError] with 410 Gone: dead letter, and disable the
//     subscription;
//   - 4xx other than 408, 409, 425 and 429, and errors wrapped with
//     [Permanent]: dead letter at once;
//   - 429 and 503 with Retry-After: retry no sooner than it asks (clamped
//     to MaxRetryAfter), nor sooner than the schedule;
//   - everything else (5xx, 3xx, timeouts, refused or reset connections):
//     retry on the schedule, until MaxAttempts or MaxAge runs out.
func (p *RetryPolicy) Decide(err error, attempts int, created, now time.Time) RetryDecision {
	var se *HTTPError
	var pe *PermanentError
	switch {
	case errors.As(err, &se) && se.StatusCode == 410:
		return RetryDecision{DisableSubscription: true, Reason: "endpoint answered 410 Gone"}
	case errors.As(err, &pe):
		return RetryDecision{Reason: "permanent failure"}
	case errors.As(err, &se) && !retryableStatus(se.StatusCode):
		return RetryDecision{Reason: fmt.Sprintf("permanent HTTP status %d", se.StatusCode)}
	}
	if attempts >= p.maxAttempts() {
		return RetryDecision{Reason: fmt.Sprintf("gave up after %d attempts", attempts)}
	}
	delay := p.Delay(attempts)
	if se != nil && (se.StatusCode == 429 || se.StatusCode == 503) && se.RetryAfter > 0 {
		limit := p.MaxRetryAfter
		if limit == 0 {
			limit = DefaultMaxRetryAfter
		}
		delay = max(delay, min(se.RetryAfter, limit))
	}
	at := now.Add(delay)
	maxAge := p.MaxAge
	if maxAge == 0 {
		maxAge = DefaultMaxAge
	}
	if at.After(created.Add(maxAge)) {
		return RetryDecision{Reason: fmt.Sprintf("gave up: next attempt would be more than %v after the event", maxAge)}
	}
	return RetryDecision{Retry: true, At: at}
}

// retryableStatus reports whether an HTTP status is worth retrying.
func retryableStatus(code int) bool {
	switch {
	case code >= 500, code < 400:
		return true
	case code == 408, code == 409, code == 425, code == 429:
		return true
	}
	return false
}
