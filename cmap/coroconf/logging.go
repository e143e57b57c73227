package coroconf

import (
	"fmt"
	"strings"

	"github.com/ringfence/ringfence/cmap"
)

// syslog names accepted by logsys (priorities, case-insensitive) and by
// libqb (facilities).
var (
	syslogPriorities = []string{"alert", "crit", "debug", "emerg", "err", "error", "info", "notice", "warning"}
	syslogFacilities = []string{"auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail",
		"news", "syslog", "user", "uucp", "local0", "local1", "local2", "local3", "local4",
		"local5", "local6", "local7"}
)

func foldOneOf(v string, list []string) bool {
	for _, s := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// checkLogging applies corosync's logging configuration checks
// (exec/logconfig.c) in the order corosync makes them. It returns the key
// at fault and the reason, or "" when the logging section is acceptable.
func checkLogging(m *cmap.Store) (key, reason string) {
	str := func(k string) (string, bool) {
		v, err := m.GetString(k)
		return v, err == nil
	}
	onOff := func(k, name string, allowed ...string) (string, string) {
		if v, ok := str(k); ok && !oneOf(v, allowed...) {
			return k, "unknown value for " + name
		}
		return "", ""
	}
	if k, r := onOff("logging.fileline", "fileline", "on", "off"); r != "" {
		return k, r
	}
	if k, r := onOff("logging.function_name", "function_name", "on", "off"); r != "" {
		return k, r
	}
	if k, r := onOff("logging.timestamp", "timestamp", "on", "hires", "off"); r != "" {
		return k, r
	}
	if k, r := onOff("logging.blackbox", "blackbox", "on", "off"); r != "" {
		return k, r
	}
	if k, r := checkLogTarget(m, "logging"); r != "" {
		return k, r
	}
	for _, e := range m.Iter("logging.logger_subsys.") {
		rest := strings.TrimPrefix(e.Key, "logging.logger_subsys.")
		dot := strings.IndexByte(rest, '.')
		if dot <= 0 || rest[dot+1:] != "subsys" {
			continue
		}
		if k, r := checkLogTarget(m, "logging.logger_subsys."+rest[:dot]); r != "" {
			return k, r
		}
	}
	return "", ""
}

// checkLogTarget checks one logging level: the top "logging" or one
// logger_subsys.
func checkLogTarget(m *cmap.Store, path string) (key, reason string) {
	get := func(name string) (string, string, bool) {
		k := path + "." + name
		v, err := m.GetString(k)
		return k, v, err == nil
	}
	yesNo := func(name string) (string, string) {
		if k, v, ok := get(name); ok && !oneOf(v, "yes", "on", "no", "off") {
			return k, "unknown value for " + name
		}
		return "", ""
	}
	for _, n := range []string{"to_stderr", "to_syslog"} {
		if k, r := yesNo(n); r != "" {
			return k, r
		}
	}
	if k, v, ok := get("syslog_facility"); ok && !foldOneOf(v, syslogFacilities) {
		return k, "unknown syslog facility specified"
	}
	if k, v, ok := get("syslog_level"); ok && !foldOneOf(v, syslogPriorities) {
		return k, "unknown syslog level specified"
	}
	if k, v, ok := get("syslog_priority"); ok && !foldOneOf(v, syslogPriorities) {
		return k, "unknown syslog priority specified"
	}
	for _, n := range []string{"to_file", "to_logfile"} {
		if k, r := yesNo(n); r != "" {
			return k, r
		}
	}
	if k, v, ok := get("logfile_priority"); ok && !foldOneOf(v, syslogPriorities) {
		return k, "unknown logfile priority specified"
	}
	if k, v, ok := get("debug"); ok && !oneOf(v, "trace", "on", "off") {
		return k, "unknown value for debug"
	}
	return "", ""
}

func loggingCorosyncText(reason string) string {
	return fmt.Sprintf("parse error in config: %s.", reason)
}
