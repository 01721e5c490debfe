package lake

import (
	"fmt"
	"strings"
	"time"

	"github.com/akosha/akosha/schemas"
)

// Partition is where a data file lives: <table>/tier=<t>/system_id=<s>/day=<d>/.
// Its values are the Delta partition values of the file's add action.
type Partition struct {
	Tier     string
	SystemID string
	Day      string // YYYY-MM-DD, UTC
}

// HotPartition is where a new record lands: every record enters the hot tier
// on the day of its created_at; the age job moves it on.
func HotPartition(systemID string, createdAt time.Time) Partition {
	return Partition{Tier: schemas.TierHot, SystemID: systemID, Day: schemas.Day(createdAt)}
}

// Dir is the partition's key prefix inside table, without a trailing slash.
// system_id is already restricted to [A-Za-z0-9_-], so no escaping is needed
// and the path is also a valid Hive-style partition path.
func (p Partition) Dir(table string) string {
	return fmt.Sprintf("%s/tier=%s/system_id=%s/day=%s", table, p.Tier, p.SystemID, p.Day)
}

// Values are the partition values of a Delta add action.
func (p Partition) Values() map[string]*string {
	t, s, d := p.Tier, p.SystemID, p.Day
	return map[string]*string{"tier": &t, "system_id": &s, "day": &d}
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
	if p.SystemID, err = get("system_id"); err != nil {
		return p, err
	}
	if p.Day, err = get("day"); err != nil {
		return p, err
	}
	return p, nil
}

// String is the partition's path form. A Partition with no Day (the
// (tier, system_id) group of an index across days) prints without it.
func (p Partition) String() string {
	if p.Day == "" {
		return "tier=" + p.Tier + "/system_id=" + p.SystemID
	}
	return strings.Join([]string{"tier=" + p.Tier, "system_id=" + p.SystemID, "day=" + p.Day}, "/")
}
