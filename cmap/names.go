package cmap

import (
	"errors"
	"fmt"
	"strings"
)

// Key name limits from Corosync's icmap.h.
const (
	KeyNameMinLen = 3
	KeyNameMaxLen = 255
)

var (
	// ErrInvalidName: the key is too short, too long or has a character
	// outside [a-zA-Z0-9._/:-]. Corosync answers CS_ERR_NAME_TOO_LONG.
	ErrInvalidName = errors.New("cmap: invalid key name")
	// ErrNotFound: no such key (CS_ERR_NOT_EXIST).
	ErrNotFound = errors.New("cmap: key not found")
	// ErrReadOnly: a client tried to change a read-only key (CS_ERR_ACCESS).
	ErrReadOnly = errors.New("cmap: key is read-only")
	// ErrTypeMismatch: a typed getter was used on a key of another type
	// (icmap answers CS_ERR_INVALID_PARAM).
	ErrTypeMismatch = errors.New("cmap: value has another type")
	// ErrInvalidValue: bad type number or wrong length for the type.
	ErrInvalidValue = errors.New("cmap: invalid value")
)

func validNameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '_' || c == '-' || c == '/' || c == ':'
}

// ValidateKeyName applies icmap's rule for new keys.
func ValidateKeyName(name string) error {
	if len(name) < KeyNameMinLen || len(name) > KeyNameMaxLen {
		return fmt.Errorf("%w: %q has %d characters (allowed %d..%d)", ErrInvalidName, name, len(name), KeyNameMinLen, KeyNameMaxLen)
	}
	for i := 0; i < len(name); i++ {
		if !validNameChar(name[i]) {
			return fmt.Errorf("%w: %q has character %q at %d", ErrInvalidName, name, name[i], i)
		}
	}
	return nil
}

// SanitizeKeyName replaces every character icmap does not allow with '_'
// (icmap_convert_name_to_valid_name), e.g. for names built from host names.
func SanitizeKeyName(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		if validNameChar(name[i]) {
			b.WriteByte(name[i])
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
