package imapmsg

import (
	"strconv"
	"strings"
	"time"
)

// parseDate parses a Date: header value (RFC 5322 §3.3), accepting the
// obsolete syntax and the common mistakes: no day of week, no seconds,
// two- or four-digit years, single-digit hours, named zones (known ones
// converted, unknown ones taken as UTC), missing zones, comments, extra
// or missing spaces and commas, and dotted times.
func parseDate(v string) (time.Time, bool) {
	return parseDateLenient(v)
}

// zoneNames maps the obsolete zone names of RFC 5322 §4.3 and a few
// common others to their offsets in minutes.
var zoneNames = map[string]int{
	"UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "WET": 0,
	"EST": -5 * 60, "EDT": -4 * 60, "CST": -6 * 60, "CDT": -5 * 60,
	"MST": -7 * 60, "MDT": -6 * 60, "PST": -8 * 60, "PDT": -7 * 60,
	"CET": 60, "CEST": 120, "MET": 60, "MEST": 120, "EET": 120, "EEST": 180,
	"BST": 60, "IST": 330, "JST": 9 * 60, "KST": 9 * 60, "HKT": 8 * 60,
	"AEST": 10 * 60, "AEDT": 11 * 60,
}

const monthAbbrevs = "janfebmaraprmayjunjulaugsepoctnovdec"

// monthOf returns the month a word names by its first three letters, or
// 0.
func monthOf(w string) time.Month {
	if len(w) < 3 {
		return 0
	}
	var k [3]byte
	for i := range k {
		k[i] = w[i] | 0x20
	}
	for m := 0; m < 12; m++ {
		if monthAbbrevs[3*m:3*m+3] == string(k[:]) {
			return time.Month(m + 1)
		}
	}
	return 0
}

// parseDateLenient picks the day, month, year, time and zone out of the
// value's words in whatever order they come.
func parseDateLenient(v string) (time.Time, bool) {
	// Drop comments and split into words at spaces and commas.
	l := lexer{s: v}
	var buf [16]string
	words := buf[:0]
	for !l.eof() && len(words) < len(buf) {
		l.skipCFWS()
		s := l.i
		for l.i < len(l.s) {
			c := l.s[l.i]
			if c == ' ' || c == '\t' || c == ',' || c == '(' || c == '\r' || c == '\n' {
				break
			}
			l.i++
		}
		if l.i > s {
			words = append(words, l.s[s:l.i])
		}
		for l.i < len(l.s) && l.s[l.i] == ',' {
			l.i++
		}
	}
	day, year := -1, -1
	month := time.Month(0)
	hh, mm, ss := -1, 0, 0
	zone, zoneSet := 0, false
	for _, w := range words {
		switch {
		case strings.ContainsAny(w, ":.") && hh < 0 && len(w) >= 3 && isDigit(w[0]):
			seps := strings.Count(w, ":") + strings.Count(w, ".")
			if seps > 2 {
				continue
			}
			var pbuf [3]string
			parts := pbuf[:0]
			rest := w
			for i := strings.IndexAny(rest, ":."); i >= 0; i = strings.IndexAny(rest, ":.") {
				parts = append(parts, rest[:i])
				rest = rest[i+1:]
			}
			parts = append(parts, rest)
			var ok bool
			if hh, ok = atoiRange(parts[0], 0, 23); !ok {
				hh = -1
				continue
			}
			if mm, ok = atoiRange(parts[1], 0, 59); !ok {
				return time.Time{}, false
			}
			if len(parts) == 3 {
				if ss, ok = atoiRange(parts[2], 0, 60); !ok {
					return time.Time{}, false
				}
				if ss == 60 {
					ss = 59
				}
			}
		case (w[0] == '+' || w[0] == '-') && len(w) == 5 && allDigits(w[1:]):
			h, _ := strconv.Atoi(w[1:3])
			m, _ := strconv.Atoi(w[3:5])
			if h > 23 || m > 59 {
				continue // not a zone (as an unknown zone name: UTC)
			}
			zone = h*60 + m
			if w[0] == '-' {
				zone = -zone
			}
			zoneSet = true
		case len(w) >= 3 && month == 0 && monthOf(w) != 0:
			month = monthOf(w)
		case allDigits(w) && len(w) <= 2 && day < 0:
			day, _ = strconv.Atoi(w)
		case allDigits(w) && (len(w) == 4 || (len(w) <= 2 && day >= 0)) && year < 0:
			year, _ = strconv.Atoi(w)
			if len(w) <= 2 {
				// RFC 5322 §4.3: 00-49 are 2000-2049, 50-99 are 1950-1999.
				if year < 50 {
					year += 2000
				} else {
					year += 1900
				}
			}
		case !zoneSet && len(w) <= 5:
			var k [5]byte
			for i := 0; i < len(w); i++ {
				k[i] = w[i] &^ 0x20
			}
			if z, ok := zoneNames[string(k[:len(w)])]; ok {
				zone, zoneSet = z, true
			}
		}
	}
	if day < 1 || day > 31 || month == 0 || year < 1 || hh < 0 {
		return time.Time{}, false
	}
	t := time.Date(year, month, day, hh, mm, ss, 0, zoneFor(zone*60))
	if t.Day() != day {
		return time.Time{}, false // 31 Feb and the like
	}
	return t, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func atoiRange(s string, lo, hi int) (int, bool) {
	if !allDigits(s) || len(s) > 2 {
		return 0, false
	}
	n, _ := strconv.Atoi(s)
	return n, n >= lo && n <= hi
}
