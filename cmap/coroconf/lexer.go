package coroconf

import (
	"bytes"
	"fmt"
	"strings"
)

// Limits of corosync's line parser (exec/coroparse.c): lines are read with
// a 512-byte buffer and key paths are limited by icmap's 255 characters.
const (
	lineBufSize = 512
	keyNameMax  = 255
)

// lineSource hands out lines the way fgets(buf, 512, fp) does: at most 511
// bytes, stopping after a newline. eof reports what feof() would say after
// the read, which corosync uses to accept a last line without newline.
type lineSource struct {
	data []byte
	pos  int
	eof  bool
}

func (s *lineSource) next() (chunk []byte, ok bool) {
	if s.pos >= len(s.data) {
		s.eof = true
		return nil, false
	}
	rest := s.data[s.pos:]
	n := lineBufSize - 1
	if i := bytes.IndexByte(rest, '\n'); i >= 0 && i < n {
		n = i + 1
	}
	if n >= len(rest) {
		n = len(rest)
		// fgets hit end of file unless it stopped on a newline or a full
		// buffer exactly at the end.
		if rest[n-1] != '\n' && n < lineBufSize-1 {
			s.eof = true
		}
	}
	s.pos += n
	return rest[:n], true
}

// events is what a section handler receives. Each method returns "" or the
// corosync error text.
type handler interface {
	start()
	item(path, key, value string, st *state) string
	sectionStart(path string, st *state) string
	sectionEnd(path string, st *state) string
}

// state is the per-section parser state of coroparse (which kind of
// section the current line is in). Nested sections start from a copy of
// the parent's state, exactly like the C recursion passes it by value.
type state int

// parser walks one file.
type parser struct {
	file string
	src  lineSource
	line int
	h    handler
	// keyLines remembers where each path was last set, so later semantic
	// errors can point at a line.
	keyLines map[string]int
}

type parseErr struct {
	line int
	msg  string
}

func (p *parser) fail(msg string) *parseErr { return &parseErr{p.line, msg} }

// cString cuts a chunk at its first NUL, as C string functions see it.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// trimEnds removes leading blanks and trailing blanks; with colonBrace also
// trailing ':' and '{'. Like coroparse it never removes the first remaining
// character, so ":" stays ":".
func trimEnds(s string, colonBrace bool) string {
	start := 0
	for start < len(s) && isBlank(s[start]) {
		start++
	}
	s = s[start:]
	end := len(s)
	for end > 1 {
		c := s[end-1]
		if isBlank(c) || colonBrace && (c == ':' || c == '{') {
			end--
			continue
		}
		break
	}
	return s[:end]
}

// afterMark finds the first c and returns the index just past it and any
// blanks that follow (coroparse's strchr_rs), or -1.
func afterMark(line string, c byte) int {
	i := strings.IndexByte(line, c)
	if i < 0 {
		return -1
	}
	i++
	for i < len(line) && isBlank(line[i]) {
		i++
	}
	return i
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// parseSection reads lines until the matching "}" (or end of file at depth
// 0) and reports items and sub-sections to the handler.
func (p *parser) parseSection(path string, depth int, st state) *parseErr {
	if path == "" {
		p.h.start()
	}
	for {
		chunk, ok := p.src.next()
		if !ok {
			break
		}
		p.line++
		line := cString(chunk)
		if len(line) > 0 {
			if line[len(line)-1] != '\n' && !p.src.eof {
				return p.fail("Line too long")
			}
			line = strings.TrimSuffix(line, "\n")
			line = strings.TrimSuffix(line, "\r")
		}
		line = strings.TrimRight(line, " \t")
		first := strings.TrimLeft(line, " \t")
		if first == "" || first[0] == '#' {
			continue
		}

		if loc := afterMark(line, '{'); loc >= 0 {
			section := trimEnds(line[:loc-1], true)
			after := trimEnds(line[loc:], false)
			if section == "" {
				return p.fail("Missing section name before opening bracket '{'")
			}
			if after != "" {
				return p.fail("Extra characters after opening bracket '{'")
			}
			if len(path)+len(section)+1 >= keyNameMax {
				return p.fail("Start of section makes total cmap path too long")
			}
			newPath := joinPath(path, section)
			newState := st
			if p.keyLines != nil {
				p.keyLines[newPath] = p.line
			}
			if msg := p.h.sectionStart(newPath, &newState); msg != "" {
				return p.fail(msg)
			}
			if err := p.parseSection(newPath, depth+1, newState); err != nil {
				return err
			}
			continue
		}

		if loc := afterMark(line, ':'); loc >= 0 {
			key := trimEnds(line[:loc-1], true)
			value := trimEnds(line[loc:], false)
			if len(path)+len(key)+1 >= keyNameMax {
				return p.fail("New key makes total cmap path too long")
			}
			newPath := joinPath(path, key)
			if msg := p.h.item(newPath, key, value, &st); msg != "" {
				return p.fail(msg)
			}
			if p.keyLines != nil {
				p.keyLines[newPath] = p.line
			}
			continue
		}

		if strings.IndexByte(line, '}') >= 0 {
			if trimEnds(line, false) != "}" {
				return p.fail("Extra characters before or after closing bracket '}'")
			}
			if depth == 0 {
				return p.fail("Unexpected closing brace")
			}
			if msg := p.h.sectionEnd(path, &st); msg != "" {
				return p.fail(msg)
			}
			return nil
		}
		return p.fail("Line is not opening or closing section or key value")
	}
	if path != "" {
		return p.fail("Missing closing brace")
	}
	return nil
}

// formatParserError builds corosync's "parser error: file:line: msg", which
// corosync replaces by a fixed text when it would not fit its 384-byte
// buffer.
func formatParserError(file string, line int, msg string) string {
	s := fmt.Sprintf("parser error: %s:%d: %s", file, line, msg)
	if len(s) >= 384 {
		return "Can't format parser error message"
	}
	return s
}
