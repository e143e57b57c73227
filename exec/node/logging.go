package node

import (
	"bytes"
	"fmt"
	"io"
	"log/syslog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ringfence/ringfence/cmap"
)

// Subsystem names as Corosync prints them in brackets.
const (
	SubsysTotem  = "TOTEM"
	SubsysQuorum = "QUORUM"
	SubsysMain   = "MAIN"
)

// LogSettings is the logging {} section as the runtime uses it.
type LogSettings struct {
	ToStderr  bool
	ToLogfile bool
	Logfile   string
	ToSyslog  bool
	// Timestamp is "off", "on" (seconds) or "hires" (milliseconds).
	Timestamp string
	Debug     bool
	// SubsysDebug turns debug on for single subsystems (logger_subsys).
	SubsysDebug map[string]bool
}

func yes(s string) bool { return s == "yes" || s == "on" || s == "trace" }

// logSettingsFromEntries reads logging.* keys, with Corosync's defaults
// (syslog on, stderr and logfile off, hires timestamps).
func logSettingsFromEntries(entries []cmap.Entry) LogSettings {
	ls := LogSettings{ToSyslog: true, Timestamp: "hires", SubsysDebug: map[string]bool{}}
	subsysName := map[string]string{}
	subsysDebug := map[string]string{}
	for _, e := range entries {
		v, _ := e.Value.AsString()
		switch e.Key {
		case "logging.to_stderr":
			ls.ToStderr = yes(v)
		case "logging.to_logfile":
			ls.ToLogfile = yes(v)
		case "logging.logfile":
			ls.Logfile = v
		case "logging.to_syslog":
			ls.ToSyslog = yes(v)
		case "logging.timestamp":
			ls.Timestamp = v
		case "logging.debug":
			ls.Debug = yes(v)
		}
		if rest, ok := strings.CutPrefix(e.Key, "logging.logger_subsys."); ok {
			name, field, ok := strings.Cut(rest, ".")
			if !ok {
				continue
			}
			switch field {
			case "subsys":
				subsysName[name] = v
			case "debug":
				subsysDebug[name] = v
			}
		}
	}
	for k, d := range subsysDebug {
		name := subsysName[k]
		if name == "" {
			name = k
		}
		ls.SubsysDebug[name] = yes(d)
	}
	return ls
}

// NewLogger builds the logger the logging section asks for. The returned
// closer releases the log file and the syslog connection.
func NewLogger(ls LogSettings, stderr io.Writer) (*logrus.Logger, io.Closer, error) {
	return ConfigureLogger(logrus.New(), ls, stderr)
}

// ConfigureLogger sets up log (output, level, format, syslog hook) as the
// logging section asks.
func ConfigureLogger(log *logrus.Logger, ls LogSettings, stderr io.Writer) (*logrus.Logger, io.Closer, error) {
	log.ReplaceHooks(logrus.LevelHooks{})
	var outs []io.Writer
	var closers multiCloser
	if ls.ToStderr {
		outs = append(outs, stderr)
	}
	if ls.ToLogfile && ls.Logfile != "" {
		f, err := os.OpenFile(ls.Logfile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return nil, nil, fmt.Errorf("cannot open logfile: %w", err)
		}
		outs = append(outs, f)
		closers = append(closers, f)
	}
	switch len(outs) {
	case 0:
		log.SetOutput(io.Discard)
	case 1:
		log.SetOutput(outs[0])
	default:
		log.SetOutput(io.MultiWriter(outs...))
	}
	anyDebug := ls.Debug
	for _, d := range ls.SubsysDebug {
		anyDebug = anyDebug || d
	}
	if anyDebug {
		log.SetLevel(logrus.DebugLevel)
	} else {
		log.SetLevel(logrus.InfoLevel)
	}
	f := &corosyncFormatter{settings: ls, pid: os.Getpid()}
	log.SetFormatter(f)
	if ls.ToSyslog {
		// Best effort, as Corosync: no syslog daemon is not an error.
		if w, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, "ringfenced"); err == nil {
			log.AddHook(&syslogHook{w: w, f: f})
			closers = append(closers, w)
		}
	}
	return log, closers, nil
}

type multiCloser []io.Closer

func (m multiCloser) Close() error {
	var first error
	for _, c := range m {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// corosyncFormatter prints lines the way Corosync's logsys does on stderr
// and in the log file:
//
//	Nov 23 09:15:00.123 notice  [TOTEM ] A new membership (1.9) was formed. Members joined: 2 3
//
// logrus' Info level is Corosync's notice. Debug lines of subsystems
// without debug enabled are dropped here (an empty line writes nothing).
type corosyncFormatter struct {
	settings LogSettings
	pid      int
}

func (f *corosyncFormatter) wanted(e *logrus.Entry) bool {
	if e.Level < logrus.DebugLevel {
		return true
	}
	if f.settings.Debug {
		return true
	}
	sub, _ := e.Data["subsys"].(string)
	return f.settings.SubsysDebug[sub]
}

func levelName(l logrus.Level) string {
	switch l {
	case logrus.PanicLevel, logrus.FatalLevel:
		return "crit"
	case logrus.ErrorLevel:
		return "error"
	case logrus.WarnLevel:
		return "warning"
	case logrus.InfoLevel:
		return "notice"
	default:
		return "debug"
	}
}

func (f *corosyncFormatter) body(e *logrus.Entry) string {
	var b strings.Builder
	sub, _ := e.Data["subsys"].(string)
	if sub == "" {
		sub = SubsysMain
	}
	fmt.Fprintf(&b, "[%-6s] %s", sub, e.Message)
	if e.Level >= logrus.DebugLevel || e.Data["error"] != nil {
		keys := make([]string, 0, len(e.Data))
		for k := range e.Data {
			if k != "subsys" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, " %s=%v", k, e.Data[k])
		}
	}
	return b.String()
}

func (f *corosyncFormatter) Format(e *logrus.Entry) ([]byte, error) {
	if !f.wanted(e) {
		return nil, nil
	}
	var b bytes.Buffer
	switch f.settings.Timestamp {
	case "on":
		b.WriteString(e.Time.Format(time.Stamp) + " ")
	case "hires":
		b.WriteString(e.Time.Format(time.StampMilli) + " ")
	}
	fmt.Fprintf(&b, "[%d] ringfenced %-7s %s\n", f.pid, levelName(e.Level), f.body(e))
	return b.Bytes(), nil
}

type syslogHook struct {
	w *syslog.Writer
	f *corosyncFormatter
}

func (h *syslogHook) Levels() []logrus.Level { return logrus.AllLevels }

func (h *syslogHook) Fire(e *logrus.Entry) error {
	if !h.f.wanted(e) {
		return nil
	}
	msg := h.f.body(e)
	switch e.Level {
	case logrus.PanicLevel, logrus.FatalLevel:
		return h.w.Crit(msg)
	case logrus.ErrorLevel:
		return h.w.Err(msg)
	case logrus.WarnLevel:
		return h.w.Warning(msg)
	case logrus.InfoLevel:
		return h.w.Notice(msg)
	default:
		return h.w.Debug(msg)
	}
}
