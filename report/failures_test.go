package report

import (
	"fmt"
	"testing"
	"time"
)

func TestNormaliseFailureMessage(t *testing.T) {
	for _, tc := range []struct{ typ, in, want string }{
		{"", "order 123 not found", "order <n> not found"},
		{"E", "id 1d6c0f7e-1111-2222-3333-444455556666 at 0x7ffe12ab", "E: id <id> at <hex>"},
		{"", "took 12.5 ms  \n on\tretry 3", "took <n> ms on retry <n>"},
		{"", "deadbeef accessed", "deadbeef accessed"},
		{"", "HTTP 503", "HTTP <n>"},
	} {
		if got := NormaliseFailureMessage(tc.typ, tc.in); got != tc.want {
			t.Errorf("Normalise(%q, %q) = %q, want %q", tc.typ, tc.in, got, tc.want)
		}
	}
}

// The table lists the 50 largest groups, first example kept, and counts the rest as other.
func TestFailureTableBounded(t *testing.T) {
	ft := NewFailureTable()
	for g := 0; g < 60; g++ {
		for i := 0; i <= g; i++ {
			ft.Add("fn", FailureReason{Kind: FailureException, Type: fmt.Sprintf("E%c", 'A'+g%26) + fmt.Sprintf("%c", 'a'+g/26), Message: fmt.Sprintf("boom %d", i)}, time.Duration(i), fmt.Sprint(i))
		}
	}
	ft.Add("", FailureReason{Kind: FailureTimeout, Message: "no answer within --timeout 1s"}, 0, "")
	tab := ft.Table()
	if len(tab.Groups) != MaxFailureGroups || tab.OtherGroups != 11 {
		t.Fatalf("%d groups listed, %d other groups", len(tab.Groups), tab.OtherGroups)
	}
	var sum int64
	for _, g := range tab.Groups {
		sum += g.Count
	}
	if sum+tab.Other != tab.Total || tab.Total != 60*61/2+1 {
		t.Errorf("listed %d + other %d != total %d", sum, tab.Other, tab.Total)
	}
	if g := tab.Groups[0]; g.Count != 60 || g.First.Message != "boom 0" || g.InvocationID != "0" {
		t.Errorf("largest group %+v: want 60 with its first example", g)
	}
}

// A message repeated verbatim (the cached path) and one differing only in a number land in one group.
func TestFailureTableRepeats(t *testing.T) {
	ft := NewFailureTable()
	for i := 0; i < 3; i++ {
		ft.Add("f", FailureReason{Kind: FailureException, Message: "boom 1"}, time.Duration(i), "")
	}
	ft.Add("f", FailureReason{Kind: FailureException, Message: "boom 2"}, 9, "")
	ft.Add("g", FailureReason{Kind: FailureException, Message: "boom 1"}, 9, "")
	tab := ft.Table()
	if tab.Total != 5 || len(tab.Groups) != 2 || tab.Groups[0].Count != 4 || tab.Groups[0].Function != "f" || tab.Groups[0].First.Message != "boom 1" {
		t.Fatalf("%+v", tab)
	}
}

// Merged runs add up their failures per reason and keep the earliest first example.
func TestMergeFailures(t *testing.T) {
	a := &Failures{Total: 3, Groups: []FailureGroup{{Function: "f", Kind: FailureException, Pattern: "p", Count: 3, FirstAt: 5, InvocationID: "a"}}}
	b := &Failures{Total: 4, Other: 1, Groups: []FailureGroup{
		{Function: "f", Kind: FailureException, Pattern: "p", Count: 2, FirstAt: 1, InvocationID: "b"},
		{Function: "f", Kind: FailureTimeout, Pattern: "t", Count: 1, FirstAt: 9}}}
	m := mergeFailures(mergeFailures(nil, a, 0), b, 2)
	if m.Total != 7 || m.Other != 1 || len(m.Groups) != 2 || m.Groups[0].Count != 5 || m.Groups[0].InvocationID != "b" || m.Groups[0].FirstAt != 3 {
		t.Fatalf("%+v", m)
	}
}
