package lake

import (
	"fmt"
	"time"

	"github.com/akosha/akosha/schemas"
)

// Partition is where a data file lives: <table>/tier=<t>/day=<d>/. Its
// values are the Delta partition values of the file's add action. There is
// no system in it: a day's file holds every system's rows, sorted by
// (system_id, created_at), and its statistics say which systems it holds
// (SystemRange).
type Partition struct {
	Tier string
	Day  string // YYYY-MM-DD, UTC
}

// HotPartition is where a new record lands: every record enters the hot tier
// on the day of its created_at; the age job moves it on.
func HotPartition(createdAt time.Time) Partition {
	return Partition{Tier: schemas.TierHot, Day: schemas.Day(createdAt)}
}

// Dir is the partition's key prefix inside table, without a trailing slash.
// Both values are restricted (a tier name, a date), so no escaping is needed
// and the path is also a valid Hive-style partition path.
func (p Partition) Dir(table string) string {
	return fmt.Sprintf("%s/tier=%s/day=%s", table, p.Tier, p.Day)
}

// Values are the partition values of a Delta add action.
func (p Partition) Values() map[string]*string {
	t, d := p.Tier, p.Day
	return map[string]*string{"tier": &t, "day": &d}
}

// PartitionOf reads a partition back from Delta partition values.
func PartitionOf(values map[string]*string) (Partition, error) {
	get := func(k string) (string, error) {
		v, ok := values[k]
		if !ok || v == nil || *v == "" {
			return "", fmt.Errorf("partition value %q missing", k)
		}
		return *v, nil
	}
	var p Partition
	var err error
	if p.Tier, err = get("tier"); err != nil {
		return p, err
	}
	if p.Day, err = get("day"); err != nil {
		return p, err
	}
	return p, nil
}

// String is the partition's path form. A Partition with no Day (a tier, the
// scope of an index segment) prints without it.
func (p Partition) String() string {
	if p.Day == "" {
		return "tier=" + p.Tier
	}
	return "tier=" + p.Tier + "/day=" + p.Day
}
