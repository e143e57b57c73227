package cib

import (
	"strconv"
	"strings"
	"time"
)

// RuleContext is what a rule can look at.
type RuleContext struct {
	NodeAttrs map[string]string
	Now       time.Time
	// Resource being evaluated (rsc_expression, value-source=param/meta).
	RscClass, RscProvider, RscType string
	RscParams, RscMeta             map[string]string
	// Operation being evaluated (op_expression).
	OpName     string
	OpInterval int64
	HasOp      bool
	// Role for role-restricted rules ("" = any).
	Role string
	// NextChange, when non-nil, receives the earliest future time at which
	// a date expression could change its result (for recheck-by).
	NextChange *time.Time
}

func (c *RuleContext) noteChange(t time.Time) {
	if c == nil || c.NextChange == nil || !t.After(c.Now) {
		return
	}
	if c.NextChange.IsZero() || t.Before(*c.NextChange) {
		*c.NextChange = t
	}
}

// EvalRule evaluates a <rule> element.
func EvalRule(rule *Element, ctx *RuleContext) bool {
	if rule == nil {
		return true
	}
	if ctx == nil {
		ctx = &RuleContext{}
	}
	if r := rule.Get("role"); r != "" && ctx.Role != "" && NormalizeRole(r) != ctx.Role {
		return false
	}
	or := strings.EqualFold(rule.Get("boolean-op"), "or")
	any := false
	for _, e := range rule.Children {
		var ok bool
		switch e.Name {
		case "expression":
			ok = evalAttrExpr(e, ctx)
		case "date_expression":
			ok = evalDateExpr(e, ctx)
		case "rule":
			ok = EvalRule(e, ctx)
		case "rsc_expression":
			ok = (e.Get("class") == "" || e.Get("class") == ctx.RscClass) &&
				(e.Get("provider") == "" || e.Get("provider") == ctx.RscProvider) &&
				(e.Get("type") == "" || e.Get("type") == ctx.RscType)
		case "op_expression":
			ok = ctx.HasOp && e.Get("name") == ctx.OpName
			if ok && e.Has("interval") {
				iv, _ := ParseDurationMS(e.Get("interval"))
				ok = iv == ctx.OpInterval
			}
		default:
			continue
		}
		any = true
		if or && ok {
			return true
		}
		if !or && !ok {
			return false
		}
	}
	if !any {
		return true // an empty rule passes
	}
	return !or
}

func evalAttrExpr(e *Element, ctx *RuleContext) bool {
	attr := e.Get("attribute")
	op := e.Get("operation")
	val := e.Get("value")
	hasVal := e.Has("value")
	switch e.Get("value-source") {
	case "param":
		v, ok := ctx.RscParams[val]
		val, hasVal = v, ok
	case "meta":
		v, ok := ctx.RscMeta[val]
		val, hasVal = v, ok
	}
	nv, has := ctx.NodeAttrs[attr]
	switch op {
	case "defined":
		return has
	case "not_defined":
		return !has
	}
	if !hasVal {
		return false
	}
	typ := strings.ToLower(e.Get("type"))
	if typ == "" {
		switch op {
		case "lt", "lte", "gt", "gte":
			if strings.Contains(val, ".") || strings.Contains(nv, ".") {
				typ = "number"
			} else {
				typ = "integer"
			}
		default:
			typ = "string"
		}
	}
	if !has {
		return op == "ne"
	}
	cmp := 0
	switch typ {
	case "integer":
		a, err1 := parseIntLoose(nv)
		b, err2 := parseIntLoose(val)
		if err1 != nil || err2 != nil {
			// fall back to number, then string
			cmp = strings.Compare(strings.ToLower(nv), strings.ToLower(val))
		} else {
			cmp = cmpInt(a, b)
		}
	case "number":
		fa, e1 := parseFloatLoose(nv)
		fb, e2 := parseFloatLoose(val)
		if e1 != nil || e2 != nil {
			cmp = strings.Compare(strings.ToLower(nv), strings.ToLower(val))
		} else {
			cmp = cmpFloat(fa, fb)
		}
	case "version":
		cmp = compareVersion(nv, val)
	default:
		cmp = strings.Compare(strings.ToLower(nv), strings.ToLower(val))
	}
	switch op {
	case "eq":
		return cmp == 0
	case "ne":
		return cmp != 0
	case "lt":
		return cmp < 0
	case "lte":
		return cmp <= 0
	case "gt":
		return cmp > 0
	case "gte":
		return cmp >= 0
	}
	return false
}

// parseIntLoose parses a leading integer like strtoll: trailing text is
// ignored, but there must be at least one digit.
func parseIntLoose(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	j := i
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j == i {
		return 0, strconv.ErrSyntax
	}
	return strconv.ParseInt(s[:j], 10, 64)
}

// parseFloatLoose parses a leading floating point number like strtod.
func parseFloatLoose(s string) (float64, error) {
	s = strings.TrimSpace(s)
	for j := len(s); j > 0; j-- {
		if f, err := strconv.ParseFloat(s[:j], 64); err == nil {
			return f, nil
		}
	}
	return 0, strconv.ErrSyntax
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func compareVersion(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var x, y int64
		if i < len(pa) {
			x, _ = strconv.ParseInt(pa[i], 10, 64)
		}
		if i < len(pb) {
			y, _ = strconv.ParseInt(pb[i], 10, 64)
		}
		if c := cmpInt(x, y); c != 0 {
			return c
		}
	}
	return 0
}

func evalDateExpr(e *Element, ctx *RuleContext) bool {
	now := ctx.Now
	parse := func(n string) (time.Time, bool) {
		if !e.Has(n) {
			return time.Time{}, false
		}
		t, err := ParseISOTime(e.Get(n))
		return t, err == nil
	}
	switch e.Get("operation") {
	case "gt":
		start, ok := parse("start")
		if !ok {
			return false
		}
		if now.After(start) {
			return true
		}
		ctx.noteChange(start.Add(time.Second))
		return false
	case "lt":
		end, ok := parse("end")
		if !ok {
			return false
		}
		if now.Before(end) {
			ctx.noteChange(end)
			return true
		}
		return false
	case "date_spec":
		return evalDateSpec(e.Child("date_spec"), now)
	default: // in_range
		start, hasStart := parse("start")
		end, hasEnd := parse("end")
		if !hasEnd && hasStart {
			if d := e.Child("duration"); d != nil {
				end = addDurationSpec(start, d)
				hasEnd = true
			}
		}
		if !hasStart && !hasEnd {
			return false
		}
		if hasStart && now.Before(start) {
			ctx.noteChange(start)
			return false
		}
		if hasEnd && now.After(end) {
			return false
		}
		if hasEnd {
			ctx.noteChange(end.Add(time.Second))
		}
		return true
	}
}

func addDurationSpec(t time.Time, d *Element) time.Time {
	get := func(n string) int { v, _ := strconv.Atoi(d.Get(n)); return v }
	dur := ISODuration{Years: get("years"), Months: get("months"), Days: get("days") + 7*get("weeks"),
		Hours: get("hours"), Minutes: get("minutes"), Secs: get("seconds")}
	return dur.AddTo(t)
}

func inRangeSpec(spec string, v int) bool {
	if spec == "" {
		return true
	}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if i := strings.Index(part, "-"); i > 0 {
			lo, e1 := strconv.Atoi(part[:i])
			hi, e2 := strconv.Atoi(part[i+1:])
			if e1 == nil && e2 == nil && v >= lo && v <= hi {
				return true
			}
		} else if n, err := strconv.Atoi(part); err == nil && n == v {
			return true
		}
	}
	return false
}

func evalDateSpec(s *Element, now time.Time) bool {
	if s == nil {
		return false
	}
	wd := int(now.Weekday())
	if wd == 0 {
		wd = 7
	}
	wy, wk := now.ISOWeek()
	checks := []struct {
		name string
		v    int
	}{
		{"years", now.Year()}, {"months", int(now.Month())}, {"monthdays", now.Day()},
		{"hours", now.Hour()}, {"minutes", now.Minute()}, {"seconds", now.Second()},
		{"yeardays", now.YearDay()}, {"weekdays", wd}, {"weekyears", wy}, {"weeks", wk},
	}
	for _, c := range checks {
		if s.Has(c.name) && !inRangeSpec(s.Get(c.name), c.v) {
			return false
		}
	}
	return true
}

// NormalizeRole maps legacy role names to the current ones.
func NormalizeRole(r string) string {
	switch strings.ToLower(r) {
	case "master", "promoted":
		return "Promoted"
	case "slave", "unpromoted":
		return "Unpromoted"
	case "started":
		return "Started"
	case "stopped":
		return "Stopped"
	case "", "unknown":
		return ""
	}
	return r
}
