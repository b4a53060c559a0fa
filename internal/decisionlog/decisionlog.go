// Package decisionlog writes one structured entry per decision to its own
// stream, a zap logger named "decision" with its own core, apart from the
// process log. Entries are built only when the log is on, configured input
// paths are masked, and writing never fails or delays a decision: entries
// go through a memory buffer, and an entry that cannot be written is
// counted, not returned as an error.
package decisionlog

import (
	"errors"
	"io"
	"os"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/pdp-sidecar/pdp/internal/engine"
)

// Destinations besides a file path.
const (
	Stdout = "stdout"
	Stderr = "stderr"
	Off    = "off"
)

// Config says where entries go and what they hide.
type Config struct {
	Destination string   // Stdout, Stderr, Off or a file path (appended to, created 0600)
	Mask        []string // input paths whose values are logged as "***" (see maskTree)

	// OnError, if set, is called with the number of entries lost each time
	// some are (a failed write, or a destination too slow to keep up). It
	// runs on a request's goroutine or the writer's: it must be quick.
	OnError func(lost int)
	// Log, if set, is the process logger; it gets one Warn when entries
	// are lost, at most once a minute.
	Log *zap.Logger
}

// Logger writes decision log entries. A nil *Logger is a log that is off.
// All methods may be called concurrently.
type Logger struct {
	dest  string
	paths []string
	mask  *maskTree // nil: nothing masked
	z     *zap.Logger
	w     *writer // nil when off

	// The flat fields masked because a mask path covers them.
	maskSubjectType, maskSubjectID, maskAction, maskResourceType, maskResourceID bool
}

// New opens the destination. Off returns a Logger whose Enabled is false.
func New(cfg Config) (*Logger, error) {
	return newLogger(cfg, defaultMaxPending, nil)
}

// newLogger lets tests choose the buffer limit and the writer.
func newLogger(cfg Config, maxPending int, out io.Writer) (*Logger, error) {
	mask, paths, err := parseMask(cfg.Mask)
	if err != nil {
		return nil, err
	}
	l := &Logger{dest: cfg.Destination, paths: paths, mask: mask}
	if mask != nil {
		l.maskSubjectType = mask.covers("subject", "type")
		l.maskSubjectID = mask.covers("subject", "id")
		l.maskAction = mask.covers("action", "name")
		l.maskResourceType = mask.covers("resource", "type")
		l.maskResourceID = mask.covers("resource", "id")
	}
	var path string
	switch {
	case out != nil:
	case cfg.Destination == Off:
		return l, nil
	case cfg.Destination == Stdout:
		out = os.Stdout
	case cfg.Destination == Stderr:
		out = os.Stderr
	case cfg.Destination == "":
		return nil, errors.New("decision log: no destination (want stdout, stderr, off or a file path)")
	default:
		f, err := openFile(cfg.Destination)
		if err != nil {
			return nil, err
		}
		out, path = f, cfg.Destination
	}
	var warn *zap.Logger
	if cfg.Log != nil {
		warn = cfg.Log.Named("decisionlog").With(zap.String("destination", cfg.Destination))
	}
	l.w = newWriter(out, path, maxPending, cfg.OnError, warn)
	enc := zapcore.NewJSONEncoder(zapcore.EncoderConfig{
		TimeKey:        "time",
		LevelKey:       "level",
		NameKey:        "logger",
		MessageKey:     "msg",
		LineEnding:     zapcore.DefaultLineEnding,
		EncodeTime:     zapcore.ISO8601TimeEncoder,
		EncodeLevel:    zapcore.LowercaseLevelEncoder,
		EncodeDuration: zapcore.StringDurationEncoder,
		EncodeName:     zapcore.FullNameEncoder,
		// The input is encoded by appendJSON, which masks as it goes.
		NewReflectedEncoder: newReflectedEncoder,
	})
	// The writer never returns an error, so zap's ErrorOutput stays silent;
	// discard it anyway rather than let zap write to stderr behind our back.
	l.z = zap.New(zapcore.NewCore(enc, l.w, zapcore.InfoLevel), zap.ErrorOutput(zapcore.AddSync(io.Discard))).Named("decision")
	return l, nil
}

// Entry is one decision as the log records it. Build it only when Enabled
// says so: then a decision costs the log nothing when it is off.
type Entry struct {
	DecisionID string
	RequestID  string // the caller's X-Request-ID, if any
	Revision   string
	Endpoint   string         // evaluation, evaluations, search_action, search_subject, data, forward_auth
	Request    engine.Request // what was asked; its properties and context are logged, masked, under "input"
	Decision   engine.Decision
	Duration   time.Duration

	// Optional.
	Batch   bool     // the entry is one item of a batch
	Index   int      // its position in the batch, from 0 (logged when Batch)
	Path    string   // data: the document path; forward_auth: the original method and path
	Results []string // search_*: what the search returned
	Input   any      // data: the raw input document; logged masked, instead of Request's parts
}

// Enabled says whether entries are written. Check it before building an Entry.
func (l *Logger) Enabled() bool { return l != nil && l.z != nil }

// Log writes e. It never blocks on the destination and never fails; e is
// not kept after Log returns, so the caller may reuse it.
func (l *Logger) Log(e *Entry) {
	if !l.Enabled() {
		return
	}
	if ce := l.z.Check(zapcore.InfoLevel, "decision"); ce != nil {
		ce.Write(zap.Inline(&entryFields{l, e}))
	}
}

// Reopen opens a file destination again by name (call it on SIGUSR1 after
// logrotate renamed the file). For other destinations it does nothing. On
// error the previous file stays in use.
func (l *Logger) Reopen() error {
	if !l.Enabled() {
		return nil
	}
	return l.w.Reopen()
}

// Sync writes out the entries logged so far (waiting at most 5s) and
// flushes a file to disk.
func (l *Logger) Sync() error {
	if !l.Enabled() {
		return nil
	}
	return l.w.Sync()
}

// Close flushes like Sync, then closes a file. Entries logged afterwards
// are dropped and counted.
func (l *Logger) Close() error {
	if !l.Enabled() {
		return nil
	}
	return l.w.Close()
}

// Errors is the number of entries lost so far.
func (l *Logger) Errors() uint64 {
	if !l.Enabled() {
		return 0
	}
	return l.w.lost.Load()
}

// State is what /v1/status shows of the decision log.
type State struct {
	Destination string     `json:"destination"`
	MaskedPaths []string   `json:"masked_paths"`
	Written     uint64     `json:"entries_written"`
	Errors      uint64     `json:"errors"` // entries lost
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
}

// State returns the current state.
func (l *Logger) State() State {
	if l == nil {
		return State{Destination: Off, MaskedPaths: []string{}}
	}
	s := State{Destination: l.dest, MaskedPaths: append([]string{}, l.paths...)}
	if l.w != nil {
		s.Written = l.w.written.Load()
		s.Errors = l.w.lost.Load()
		if f := l.w.lastErr.Load(); f != nil {
			at := f.at
			s.LastError, s.LastErrorAt = f.msg, &at
		}
	}
	return s
}

// entryFields encodes an Entry: the fields go at the top level of the JSON
// line, after time, level, logger and msg.
type entryFields struct {
	l *Logger
	e *Entry
}

func (f *entryFields) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	l, e := f.l, f.e
	r := &e.Request
	enc.AddString("decision_id", e.DecisionID)
	enc.AddString("revision", e.Revision)
	enc.AddString("endpoint", e.Endpoint)
	if e.RequestID != "" {
		enc.AddString("request_id", e.RequestID)
	}
	if e.Batch {
		enc.AddInt("index", e.Index)
	}
	if e.Path != "" {
		enc.AddString("path", e.Path)
	}
	addMasked(enc, "subject.type", r.Subject.Type, l.maskSubjectType)
	addMasked(enc, "subject.id", r.Subject.ID, l.maskSubjectID)
	addMasked(enc, "action", r.Action, l.maskAction)
	addMasked(enc, "resource.type", r.Resource.Type, l.maskResourceType)
	addMasked(enc, "resource.id", r.Resource.ID, l.maskResourceID)
	enc.AddBool("decision", e.Decision.Allow)
	_ = enc.AddArray("reasons", (*stringArray)(&e.Decision.Reasons))
	if e.Results != nil {
		_ = enc.AddArray("results", (*stringArray)(&e.Results))
	}
	enc.AddInt64("duration_us", e.Duration.Microseconds())
	if e.Decision.Cached {
		enc.AddBool("cached", true)
	}
	if e.Decision.Err != nil {
		_ = enc.AddObject("error", (*evalError)(e.Decision.Err))
	}
	if e.hasInput() {
		if err := enc.AddReflected("input", (*inputOf)(f)); err != nil {
			enc.AddString("input_error", err.Error())
		}
	}
	return nil
}

func addMasked(enc zapcore.ObjectEncoder, key, v string, masked bool) {
	switch {
	case v == "":
	case masked:
		enc.AddString(key, Masked)
	default:
		enc.AddString(key, v)
	}
}

type stringArray []string

func (a *stringArray) MarshalLogArray(enc zapcore.ArrayEncoder) error {
	for _, s := range *a {
		enc.AppendString(s)
	}
	return nil
}

type evalError engine.EvalError

func (e *evalError) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("code", e.Code)
	enc.AddString("message", e.Message)
	return nil
}
