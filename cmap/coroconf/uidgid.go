package coroconf

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"

	"github.com/ringfence/ringfence/cmap"
)

// numericID is uid_determine's first step: a whole decimal number in
// 0..UINT_MAX (strtol, so leading blanks and a sign are allowed).
func numericID(s string) (uint32, bool) {
	neg, mag, overflow, ok := parseCInt(s)
	if !ok || overflow || s == "" {
		return 0, false
	}
	if neg {
		if mag == 0 {
			return 0, true
		}
		return 0, false
	}
	if mag > math.MaxUint32 {
		return 0, false
	}
	return uint32(mag), true
}

func (h *mainHandler) uidgidItem(key, value string) string {
	return setUidgid(h.m, h.env, key, value)
}

func setUidgid(m *cmap.Store, env *Env, key, value string) string {
	var id uint32
	switch key {
	case "uid":
		n, ok := numericID(value)
		if !ok {
			if n, ok = env.LookupUser(value); !ok {
				return fmt.Sprintf("The '%s' user is not found in /etc/passwd, please read the documentation.", value)
			}
		}
		id = n
	case "gid":
		n, ok := numericID(value)
		if !ok {
			if n, ok = env.LookupGroup(value); !ok {
				return fmt.Sprintf("The '%s' group is not found in /etc/group, please read the documentation.", value)
			}
		}
		id = n
	default:
		return "uidgid: Only uid and gid are allowed items"
	}
	k := fmt.Sprintf("uidgid.config.%s.%d", key, id)
	if err := m.Set(k, cmap.U8(1)); err != nil {
		return storeErr(k, err)
	}
	return ""
}

// uidgidHandler parses one file of the uidgid.d directory: only a top-level
// uidgid { uid: / gid: } section is allowed.
type uidgidHandler struct {
	m   *cmap.Store
	env *Env
}

func (u *uidgidHandler) start() {}

func (u *uidgidHandler) item(path, key, value string, _ *state) string {
	switch path {
	case "uidgid.uid", "uidgid.gid":
		return setUidgid(u.m, u.env, key, value)
	}
	return "uidgid: Only uid and gid are allowed items"
}

func (u *uidgidHandler) sectionStart(path string, _ *state) string {
	if path != "uidgid" {
		return "uidgid: Can't add subsection different than uidgid"
	}
	return ""
}

func (u *uidgidHandler) sectionEnd(string, *state) string { return "" }

// readUidgidDir parses every regular file of dir. Corosync takes them in
// readdir order; we sort by name so results do not depend on the file
// system (only the first error could differ).
func readUidgidDir(dir string, m *cmap.Store, env *Env) *Error {
	if dir == "" {
		return nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil // corosync ignores a missing or unreadable directory
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	for _, e := range ents {
		name := filepath.Join(dir, e.Name())
		st, err := os.Stat(name)
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(name)
		if err != nil {
			continue
		}
		p := &parser{file: name, src: lineSource{data: data}, h: &uidgidHandler{m, env}}
		if perr := p.parseSection("", 0, stNormal); perr != nil {
			return &Error{File: name, Line: perr.line, Msg: perr.msg,
				Corosync: formatParserError(name, perr.line, perr.msg), Exit: 8}
		}
	}
	return nil
}
