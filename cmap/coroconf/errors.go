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
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// Stage tells which corosync stage would have rejected the file.
func (e *Error) String() string { return e.Error() }
