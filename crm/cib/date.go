package cib

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseISOTime parses the ISO 8601 forms Pacemaker accepts: calendar
// (2005-01-20), ordinal (2005-020) and week (2005-W03-4) dates, optionally
// followed by 'T' or ' ' and a time (HH, HH:MM, HH:MM:SS, HHMMSS), and an
// optional zone (Z, +hh, +hh:mm). Without a zone the time is UTC.
func ParseISOTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, fmt.Errorf("empty date")
	}
	datePart, timePart := s, ""
	if i := strings.IndexAny(s, "T "); i >= 0 {
		datePart, timePart = s[:i], strings.TrimSpace(s[i+1:])
	}
	var day time.Time
	parts := strings.Split(datePart, "-")
	atoi := func(x string) (int, error) { return strconv.Atoi(x) }
	switch {
	case len(parts) == 3 && strings.HasPrefix(parts[1], "W"):
		y, err1 := atoi(parts[0])
		w, err2 := atoi(parts[1][1:])
		d, err3 := atoi(parts[2])
		if err1 != nil || err2 != nil || err3 != nil {
			return time.Time{}, fmt.Errorf("bad week date %q", s)
		}
		// ISO week 1 contains Jan 4th.
		jan4 := time.Date(y, 1, 4, 0, 0, 0, 0, time.UTC)
		wd := int(jan4.Weekday())
		if wd == 0 {
			wd = 7
		}
		monday := jan4.AddDate(0, 0, 1-wd)
		day = monday.AddDate(0, 0, (w-1)*7+d-1)
	case len(parts) == 3:
		y, err1 := atoi(parts[0])
		m, err2 := atoi(parts[1])
		d, err3 := atoi(parts[2])
		if err1 != nil || err2 != nil || err3 != nil || m < 1 || m > 12 || d < 1 || d > 31 {
			return time.Time{}, fmt.Errorf("bad date %q", s)
		}
		day = time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	case len(parts) == 2:
		y, err1 := atoi(parts[0])
		yd, err2 := atoi(parts[1])
		if err1 != nil || err2 != nil || yd < 1 || yd > 366 {
			return time.Time{}, fmt.Errorf("bad ordinal date %q", s)
		}
		day = time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, yd-1)
	case len(parts) == 1 && len(datePart) == 8:
		t, err := time.Parse("20060102", datePart)
		if err != nil {
			return time.Time{}, fmt.Errorf("bad date %q", s)
		}
		day = t
	default:
		return time.Time{}, fmt.Errorf("bad date %q", s)
	}
	if timePart == "" {
		return day, nil
	}
	zone := 0
	if strings.HasSuffix(timePart, "Z") {
		timePart = timePart[:len(timePart)-1]
	} else if i := strings.LastIndexAny(timePart, "+-"); i > 0 {
		z := strings.TrimSpace(timePart[i+1:])
		sign := 1
		if timePart[i] == '-' {
			sign = -1
		}
		z = strings.ReplaceAll(z, ":", "")
		hh, mm := 0, 0
		if len(z) >= 2 {
			hh, _ = strconv.Atoi(z[:2])
		}
		if len(z) >= 4 {
			mm, _ = strconv.Atoi(z[2:4])
		}
		zone = sign * (hh*3600 + mm*60)
		timePart = strings.TrimSpace(timePart[:i])
	}
	var hh, mi, ss int
	var err error
	tp := strings.Split(timePart, ":")
	if len(tp) == 1 && len(timePart) == 6 {
		tp = []string{timePart[:2], timePart[2:4], timePart[4:]}
	}
	vals := []*int{&hh, &mi, &ss}
	for i, p := range tp {
		if i > 2 {
			break
		}
		if *vals[i], err = strconv.Atoi(p); err != nil {
			return time.Time{}, fmt.Errorf("bad time %q", s)
		}
	}
	return day.Add(time.Duration(hh)*time.Hour + time.Duration(mi)*time.Minute + time.Duration(ss)*time.Second - time.Duration(zone)*time.Second), nil
}

// ISODuration is a calendar duration.
type ISODuration struct {
	Years, Months, Days, Hours, Minutes, Secs int
}

// Seconds approximates the duration in seconds (months as 30 days).
func (d ISODuration) Seconds() int64 {
	return int64(d.Secs) + int64(d.Minutes)*60 + int64(d.Hours)*3600 + int64(d.Days)*86400 + int64(d.Months)*30*86400 + int64(d.Years)*365*86400
}

// AddTo adds the duration to t using calendar arithmetic.
func (d ISODuration) AddTo(t time.Time) time.Time {
	t = t.AddDate(d.Years, d.Months, d.Days)
	return t.Add(time.Duration(d.Hours)*time.Hour + time.Duration(d.Minutes)*time.Minute + time.Duration(d.Secs)*time.Second)
}

// ParseISODuration parses P[nY][nM][nW][nD][T[nH][nM][nS]].
func ParseISODuration(s string) (ISODuration, bool) {
	var d ISODuration
	if !strings.HasPrefix(s, "P") {
		return d, false
	}
	inTime := false
	num := ""
	for _, c := range s[1:] {
		switch {
		case c == 'T':
			inTime = true
		case c >= '0' && c <= '9':
			num += string(c)
		default:
			n, err := strconv.Atoi(num)
			if err != nil {
				return d, false
			}
			num = ""
			switch {
			case c == 'Y':
				d.Years = n
			case c == 'M' && !inTime:
				d.Months = n
			case c == 'W':
				d.Days += 7 * n
			case c == 'D':
				d.Days += n
			case c == 'H':
				d.Hours = n
			case c == 'M':
				d.Minutes = n
			case c == 'S':
				d.Secs = n
			default:
				return d, false
			}
		}
	}
	return d, num == ""
}
