package wire

import (
	"errors"
	"fmt"
)

// Sentinel errors, one per kind of rejection, so that a daemon can count
// dropped packets by cause (errors.Is) while logging the detailed message.
var (
	ErrShort       = errors.New("message too short")
	ErrBadMagic    = errors.New("bad magic number")
	ErrBadVersion  = errors.New("unsupported totem version")
	ErrBadType     = errors.New("unknown message type")
	ErrBadCount    = errors.New("entry count out of range")
	ErrLength      = errors.New("length does not match entry counts")
	ErrUnencodable = errors.New("message cannot be encoded")
)

// DecodeError says which message kind failed and why. Unwrap gives the
// sentinel above.
type DecodeError struct {
	Type   Type // the header's type, when the header was readable
	Kind   error
	Detail string
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("totem %s: %v: %s", e.Type, e.Kind, e.Detail)
}

func (e *DecodeError) Unwrap() error { return e.Kind }

func decodeErr(t Type, kind error, format string, args ...any) error {
	return &DecodeError{Type: t, Kind: kind, Detail: fmt.Sprintf(format, args...)}
}
