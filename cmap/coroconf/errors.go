package coroconf

import "fmt"

// Error is a rejected configuration. Error() is "file:line: message" on one
// line. Corosync is the text corosync 3.1.7 prints for the same problem
// (without its "parser error: file:line: " or "parse error in config: "
// framing), which the golden tests compare against.
type Error struct {
	File     string
	Line     int
	Msg      string
	Corosync string
	// Exit is the status corosync -t exits with: 8 for the main config
	// (COROSYNC_DONE_MAINCONFIGREAD), 7 for logging (LOGCONFIGREAD).
	Exit int
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }
