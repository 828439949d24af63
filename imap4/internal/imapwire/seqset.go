package imapwire

import (
	"slices"
	"strconv"
)

// A Range is an inclusive range of message numbers or UIDs; 0 stands for
// "*" (the largest number in use).
type Range struct {
	Start, Stop uint32
}

// A SeqSet is a sequence-set (RFC 9051 §9): ranges of sequence numbers or
// UIDs, or the saved search result "$" (RFC 5182).
type SeqSet struct {
	Ranges []Range
	// Saved reports "$": the result of the last SEARCH ... RETURN (SAVE).
	Saved bool
}

// SequenceSet reads a sequence-set, or "$".
func (d *Decoder) SequenceSet() SeqSet {
	var s SeqSet
	if d.err != nil {
		return s
	}
	if d.Accept('$') {
		s.Saved = true
		return s
	}
	for {
		r := Range{Start: d.seqNumber()}
		r.Stop = r.Start
		if d.Accept(':') {
			r.Stop = d.seqNumber()
		}
		if d.err != nil {
			return SeqSet{}
		}
		s.Ranges = append(s.Ranges, r)
		if !d.Accept(',') {
			return s
		}
	}
}

func (d *Decoder) seqNumber() uint32 {
	if d.Accept('*') {
		return 0
	}
	return d.NzNumber()
}

// Resolve returns the set's ranges with "*" replaced by star, each range
// ordered (Start <= Stop), sorted and merged. With star 0 (an empty
// mailbox) a range holding "*" becomes empty: it is dropped when both ends
// are "*", and otherwise covers 1 up to its other end.
func (s SeqSet) Resolve(star uint32) []Range {
	out := make([]Range, 0, len(s.Ranges))
	for _, r := range s.Ranges {
		if r.Start == 0 {
			r.Start = star
		}
		if r.Stop == 0 {
			r.Stop = star
		}
		if r.Start > r.Stop {
			r.Start, r.Stop = r.Stop, r.Start
		}
		if r.Stop == 0 {
			continue
		}
		if r.Start == 0 {
			r.Start = 1
		}
		out = append(out, r)
	}
	return MergeRanges(out)
}

// MergeRanges sorts ranges and merges those that overlap or touch, in
// place.
func MergeRanges(rs []Range) []Range {
	if len(rs) < 2 {
		return rs
	}
	if !slices.IsSortedFunc(rs, cmpRange) {
		slices.SortFunc(rs, cmpRange)
	}
	out := rs[:1]
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if uint64(r.Start) <= uint64(last.Stop)+1 {
			last.Stop = max(last.Stop, r.Stop)
			continue
		}
		out = append(out, r)
	}
	return out
}

func cmpRange(a, b Range) int {
	switch {
	case a.Start < b.Start:
		return -1
	case a.Start > b.Start:
		return 1
	}
	return 0
}

// MaxNumber returns the largest explicit number in the set (not counting
// "*"), for range checks.
func (s SeqSet) MaxNumber() uint32 {
	var m uint32
	for _, r := range s.Ranges {
		m = max(m, r.Start, r.Stop)
	}
	return m
}

// HasStar reports whether the set uses "*".
func (s SeqSet) HasStar() bool {
	for _, r := range s.Ranges {
		if r.Start == 0 || r.Stop == 0 {
			return true
		}
	}
	return false
}

// AppendSet appends ascending numbers as a compact sequence-set
// ("1:3,7"). nums must be sorted ascending; duplicates are tolerated.
func AppendSet[T ~uint32](dst []byte, nums []T) []byte {
	for i := 0; i < len(nums); {
		j := i
		for j+1 < len(nums) && (nums[j+1] == nums[j] || nums[j+1] == nums[j]+1) {
			j++
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendUint(dst, uint64(nums[i]), 10)
		if nums[j] != nums[i] {
			dst = append(dst, ':')
			dst = strconv.AppendUint(dst, uint64(nums[j]), 10)
		}
		i = j + 1
	}
	return dst
}

// AppendRanges appends ranges as a sequence-set.
func AppendRanges(dst []byte, rs []Range) []byte {
	for i, r := range rs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendSeqNumber(dst, r.Start)
		if r.Stop != r.Start {
			dst = append(dst, ':')
			dst = appendSeqNumber(dst, r.Stop)
		}
	}
	return dst
}

func appendSeqNumber(dst []byte, n uint32) []byte {
	if n == 0 {
		return append(dst, '*')
	}
	return strconv.AppendUint(dst, uint64(n), 10)
}

// String formats the set as on the wire.
func (s SeqSet) String() string {
	if s.Saved {
		return "$"
	}
	return string(AppendRanges(nil, s.Ranges))
}
