package age

import (
	"reflect"
	"testing"
	"time"

	"github.com/akosha/akosha/lake"
)

var now = time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)

func TestAgeCountsFromTheDaysEnd(t *testing.T) {
	for _, tt := range []struct {
		day  string
		want int
	}{
		{"2026-11-26", 0},  // today
		{"2026-11-25", 0},  // ended 2 hours ago
		{"2026-11-24", 1},  // ended a day and 2 hours ago
		{"2026-11-18", 7},  // its last record is 7 days and 2 hours old
		{"2026-11-19", 6},  // not yet
		{"2027-01-01", 0},  // the future (a clock skewed client)
		{"2026-02-30", -1}, // not a day
		{"../x", -1},
	} {
		if got := Age(tt.day, now); got != tt.want {
			t.Errorf("Age(%s) = %d, want %d", tt.day, got, tt.want)
		}
	}
}

func TestTargetAtTheBoundaries(t *testing.T) {
	p := DefaultPolicy
	day := func(age int) string { return now.AddDate(0, 0, -age-1).Format(time.DateOnly) }
	for _, tt := range []struct {
		age  int
		want string
	}{
		{0, "hot"}, {6, "hot"}, {7, "warm"}, {89, "warm"}, {90, "cold"}, {2554, "cold"}, {2555, ""}, {9000, ""},
	} {
		if a := Age(day(tt.age), now); a != tt.age {
			t.Fatalf("fixture: age of %s is %d, want %d", day(tt.age), a, tt.age)
		}
		if got := p.Target(day(tt.age), now); got != tt.want {
			t.Errorf("age %d: target %q, want %q", tt.age, got, tt.want)
		}
	}
}

func TestPolicyValidate(t *testing.T) {
	for _, p := range []Policy{{0, 90, 2555}, {7, 7, 2555}, {7, 90, 90}, {7, 90, 30}, {-1, 2, 3}} {
		if p.Validate() == nil {
			t.Errorf("%+v accepted", p)
		}
	}
	if err := DefaultPolicy.Validate(); err != nil {
		t.Error(err)
	}
	if err := (Policy{1, 2, 3}).Validate(); err != nil {
		t.Error(err)
	}
}

func file(tier, day, path string, size int64) FileInfo {
	return FileInfo{Path: path, Partition: lake.Partition{Tier: tier, Day: day}, Size: size, Rows: size}
}

func TestPlanMovesForwardOnly(t *testing.T) {
	files := []FileInfo{
		file("hot", "2026-11-25", "h/new", 10),      // stays hot
		file("hot", "2026-11-10", "h/old2", 10),     // -> warm
		file("hot", "2026-11-10", "h/old1", 10),     // -> warm, same move, path order
		file("hot", "2026-06-01", "h/older", 10),    // -> cold, skipping warm
		file("warm", "2026-11-10", "w/done", 10),    // already warm: stays
		file("warm", "2026-05-01", "w/old", 10),     // -> cold
		file("cold", "2026-05-01", "c/done", 10),    // stays
		file("cold", "2018-01-01", "c/expired", 10), // deleted
		file("hot", "2018-01-01", "h/expired", 10),  // deleted too, from hot
		file("warm", "2026-11-25", "w/young", 10),   // never moved back
		file("lukewarm", "2018-01-01", "x/y", 10),   // unknown tier: left alone
		file("hot", "someday", "h/bad", 10),         // unparsable day: left alone
	}
	got := Plan(files, now, DefaultPolicy, 0)
	type m struct {
		kind  string
		from  string
		paths []string
	}
	var gotM []m
	for _, mv := range got {
		var ps []string
		for _, f := range mv.Files {
			ps = append(ps, f.Path)
		}
		gotM = append(gotM, m{mv.Kind(), mv.From.String(), ps})
	}
	want := []m{
		{"delete", "tier=cold/day=2018-01-01", []string{"c/expired"}},
		{"delete", "tier=hot/day=2018-01-01", []string{"h/expired"}},
		{"hot->cold", "tier=hot/day=2026-06-01", []string{"h/older"}},
		{"hot->warm", "tier=hot/day=2026-11-10", []string{"h/old1", "h/old2"}},
		{"warm->cold", "tier=warm/day=2026-05-01", []string{"w/old"}},
	}
	if !reflect.DeepEqual(gotM, want) {
		t.Fatalf("plan:\n got %+v\nwant %+v", gotM, want)
	}
	if got[3].Size != 20 || got[3].Rows != 20 || got[3].To != "warm" || got[3].Delete {
		t.Errorf("move totals: %+v", got[3])
	}
}

func TestPlanSplitsLargePartitions(t *testing.T) {
	var files []FileInfo
	for _, p := range []string{"e", "a", "d", "c", "b"} {
		files = append(files, file("hot", "2026-11-01", p, 40))
	}
	files = append(files, file("hot", "2026-11-01", "f", 500)) // larger than the bound: alone
	got := Plan(files, now, DefaultPolicy, 100)
	var sizes []int64
	var first []string
	for _, mv := range got {
		sizes = append(sizes, mv.Size)
		first = append(first, mv.Files[0].Path)
	}
	if !reflect.DeepEqual(sizes, []int64{80, 80, 40, 500}) || !reflect.DeepEqual(first, []string{"a", "c", "e", "f"}) {
		t.Fatalf("split: sizes %v first %v", sizes, first)
	}
}

func TestPlanIsPure(t *testing.T) {
	files := []FileInfo{file("hot", "2026-11-01", "x", 1), file("hot", "2026-11-02", "y", 1)}
	cp := append([]FileInfo(nil), files...)
	a := Plan(files, now, DefaultPolicy, 0)
	b := Plan(files, now, DefaultPolicy, 0)
	if !reflect.DeepEqual(a, b) || !reflect.DeepEqual(files, cp) {
		t.Fatal("plan differs between calls or changed its input")
	}
	if len(Plan(nil, now, DefaultPolicy, 0)) != 0 {
		t.Fatal("empty input planned moves")
	}
	// A shorter policy moves what the default keeps.
	if n := len(Plan(files, now, Policy{1, 2, 3}, 0)); n != 2 {
		t.Fatalf("short policy: %d moves", n)
	}
}
