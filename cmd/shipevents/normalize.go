package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/shipevents/shipevents"
)

func init() {
	register(&command{
		name:     "normalize",
		synopsis: "[-format NAME] [-form nested|flat|cloudevents] [-now TIME] [FILE ...]",
		summary:  "carrier payloads to canonical events, one JSON per line",
		details: `
Normalize reads each FILE ("-" or none: standard input), one payload per file, and
writes its canonical events to standard output, one JSON object per line, oldest
first: what shipevents.Normalize returns, marshalled as a subscription of the given
-form receives it.

The format is detected from the payload's shape unless -format names it. Formats:
` + formatList() + `

A payload that is not valid input (or that no format recognises) is reported on
standard error with the reason and where it is, and the other files are still read;
the exit status is then 1. Files larger than -max-bytes are refused.

Examples:

	shipevents normalize ups-webhook.json
	curl -s "$TRACK_URL" | shipevents normalize -format fedex
	shipevents normalize -form cloudevents testdata/dhl/*.json`,
		define: defineNormalize,
	})
}

// formatList wraps the names of the supported formats for the help text.
func formatList() string {
	var b strings.Builder
	line := "\t"
	for i, f := range shipevents.Formats() {
		word := f
		if i < len(shipevents.Formats())-1 {
			word += ","
		}
		if len(line)+len(word) > 76 {
			b.WriteString(line + "\n")
			line = "\t"
		}
		if line != "\t" {
			line += " "
		}
		line += word
	}
	b.WriteString(line)
	return b.String()
}

func defineNormalize(fs *flag.FlagSet) runFunc {
	format := fs.String("format", "", "the payload format `name` (see above); empty detects it")
	form := fs.String("form", string(shipevents.FormNested), "the JSON `form` of each event: nested (the envelope), flat (event_data lifted to the root) or cloudevents")
	now := &timeFlag{now: time.Now}
	fs.Var(now, "now", "the `time` written as each event's triggered_at, for reproducible output (RFC 3339, a date, unix seconds); default the current time")
	maxBytes := fs.Int("max-bytes", shipevents.DefaultMaxPayloadBytes, "the largest payload accepted, in `bytes`")
	return func(ctx context.Context, e *env, args []string) error {
		if *format != "" && !slices.Contains(shipevents.Formats(), *format) {
			return usageError("-format %q: unknown format; want one of %s", *format, strings.Join(shipevents.Formats(), ", "))
		}
		marshal, err := eventMarshaller(shipevents.PayloadForm(*form))
		if err != nil {
			return err
		}
		if *maxBytes <= 0 {
			return usageError("-max-bytes %d: want a positive size", *maxBytes)
		}
		cfg := shipevents.NormalizerConfig{MaxPayloadBytes: *maxBytes}
		if !now.t.IsZero() {
			fixed := now.t.UTC()
			cfg.Now = func() time.Time { return fixed }
		}
		n := shipevents.NewNormalizer(cfg)
		if len(args) == 0 {
			args = []string{"-"}
		}
		out := newLineWriter(e.stdout)
		defer out.flush()
		worst, failed := exitOK, 0
		for _, name := range args {
			err := normalizeOne(n, e, name, *format, *maxBytes, marshal, out)
			if err == nil {
				continue
			}
			code := exitCode(err)
			if len(args) == 1 {
				return err
			}
			// Like cat and grep: report the file and go on with the others.
			fmt.Fprintf(e.stderr, "shipevents normalize: %s\n", sanitize(err.Error()))
			worst = max(worst, code)
			failed++
		}
		if err := out.flush(); err != nil {
			return failure(fmt.Errorf("write: %w", err))
		}
		if worst != exitOK {
			return &exitError{code: worst, err: fmt.Errorf("%d of %d payloads not normalized", failed, len(args))}
		}
		return nil
	}
}

func normalizeOne(n *shipevents.Normalizer, e *env, name, format string, maxBytes int, marshal func(*shipevents.Event) ([]byte, error), out *lineWriter) error {
	raw, err := readInput(e, name, maxBytes)
	if err != nil {
		return failure(err)
	}
	events, err := n.Normalize(format, raw)
	if err != nil {
		if name != "-" {
			err = fmt.Errorf("%s: %w", name, err)
		}
		if errors.Is(err, shipevents.ErrInvalidPayload) || errors.Is(err, shipevents.ErrUnknownFormat) {
			return rejected(err)
		}
		return failure(err)
	}
	for i := range events {
		b, err := marshal(&events[i])
		if err != nil {
			return failure(fmt.Errorf("%s: event %d: %w", name, i, err))
		}
		if err := out.writeRaw(b); err != nil {
			return failure(fmt.Errorf("write: %w", err))
		}
	}
	return nil
}

// eventMarshaller returns the marshalling of a payload form.
func eventMarshaller(form shipevents.PayloadForm) (func(*shipevents.Event) ([]byte, error), error) {
	switch form {
	case shipevents.FormNested:
		return func(e *shipevents.Event) ([]byte, error) { return json.Marshal(e) }, nil
	case shipevents.FormFlat:
		return (*shipevents.Event).MarshalFlat, nil
	case shipevents.FormCloudEvents:
		return (*shipevents.Event).MarshalCloudEvent, nil
	}
	return nil, usageError("-form %q: want nested, flat or cloudevents", form)
}

// readInput reads a file ("-" is standard input), reading at most one
// byte more than limit, so that an endless or huge input costs bounded
// memory and is still reported as too large by whoever checks the limit.
func readInput(e *env, name string, limit int) ([]byte, error) {
	var r io.Reader = e.stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err // *PathError names the file
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		if name == "-" {
			name = "standard input"
		}
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return b, nil
}
