package analytics

// The answers of the three analyses, encoded as they are by the query
// function (api/openapi.yaml).

// Point is one bucket of a series: its start (RFC 3339, UTC) and value.
type Point struct {
	T     string  `json:"t"`
	Value float64 `json:"value"`
}

// Window describes the buckets an analytics answer covers.
type Window struct {
	Metric  string `json:"metric"`
	GroupBy string `json:"group_by"`
	Bucket  string `json:"bucket"`
	Window  string `json:"window"`
	From    string `json:"from"` // first bucket's start, inclusive
	To      string `json:"to"`   // last bucket's end, exclusive
	Buckets int    `json:"buckets"`
}

// TrendSeries is the trend of one key.
type TrendSeries struct {
	Key     string  `json:"key"`
	Status  string  `json:"status"` // ok | insufficient_data
	Message string  `json:"message,omitempty"`
	Points  []Point `json:"points"`
	// ActiveBuckets counts the buckets holding data.
	ActiveBuckets int     `json:"active_buckets"`
	Total         float64 `json:"total"`
	Mean          float64 `json:"mean"`
	// Slope is the least-squares change of the metric per bucket; Intercept
	// the fitted value of the first bucket. Null when the data is
	// insufficient.
	Slope     *float64 `json:"slope"`
	Intercept *float64 `json:"intercept"`
	// R2 is the coefficient of determination of the fit; null when the
	// series is constant (there is no variance to explain) or insufficient.
	R2 *float64 `json:"r2"`
	// PercentChange is the fitted line's change from the first bucket to
	// the last, relative to its value at the first; null when that value
	// is not positive.
	PercentChange *float64 `json:"percent_change"`
	// PValue is the two-sided p-value of the slope (the t-test of a zero
	// slope, n-2 degrees of freedom); null for a constant series.
	PValue *float64 `json:"p_value"`
	// Direction is up or down when the slope is significant (p_value below
	// 0.05) and the fitted change at least 5% of the mean, flat otherwise;
	// null when the data is insufficient.
	Direction *string `json:"direction"`
}

// TrendsResponse is the answer of GET /v1/analytics/trends.
type TrendsResponse struct {
	Window
	Status  string        `json:"status"`
	Message string        `json:"message,omitempty"`
	Series  []TrendSeries `json:"series"`
	// SeriesTotal counts the keys with data in the window; Truncated says
	// only the `limit` most active are in Series.
	SeriesTotal int     `json:"series_total"`
	Truncated   bool    `json:"truncated"`
	Version     int64   `json:"version"`
	ElapsedMS   float64 `json:"elapsed_ms"`
}

// Anomaly is one bucket whose z-score exceeds the threshold.
type Anomaly struct {
	T     string  `json:"t"`
	Value float64 `json:"value"`
	Z     float64 `json:"z"`
	Kind  string  `json:"kind"` // spike | drop
}

// AnomalySeries is the anomaly check of one key.
type AnomalySeries struct {
	Key           string    `json:"key"`
	Status        string    `json:"status"`
	Message       string    `json:"message,omitempty"`
	Points        []Point   `json:"points"`
	ActiveBuckets int       `json:"active_buckets"`
	Total         float64   `json:"total"`
	Mean          *float64  `json:"mean"`
	Stddev        *float64  `json:"stddev"` // sample standard deviation
	Anomalies     []Anomaly `json:"anomalies"`
}

// AnomaliesResponse is the answer of GET /v1/analytics/anomalies.
type AnomaliesResponse struct {
	Window
	Threshold    float64         `json:"threshold"`
	Status       string          `json:"status"`
	Message      string          `json:"message,omitempty"`
	Series       []AnomalySeries `json:"series"`
	AnomalyCount int             `json:"anomaly_count"`
	SeriesTotal  int             `json:"series_total"`
	Truncated    bool            `json:"truncated"`
	Version      int64           `json:"version"`
	ElapsedMS    float64         `json:"elapsed_ms"`
}

// CorrelationPair is the Pearson correlation of two keys' series.
type CorrelationPair struct {
	A string  `json:"a"`
	B string  `json:"b"`
	R float64 `json:"r"`
	N int     `json:"n"` // buckets compared
	// T is the t statistic r·sqrt((n-2)/(1-r²)); null when |r| = 1.
	T *float64 `json:"t"`
	// PValue is the two-sided p-value of "no correlation" (Student's t
	// with n-2 degrees of freedom). It assumes independent buckets; activity
	// series are autocorrelated, so read it as a screen, not a proof.
	PValue      float64 `json:"p_value"`
	Significant bool    `json:"significant"` // p_value < alpha
}

// CorrelationsResponse is the answer of GET /v1/analytics/correlations.
type CorrelationsResponse struct {
	Window
	MinAbs  float64           `json:"min_abs"`
	Alpha   float64           `json:"alpha"`
	Status  string            `json:"status"`
	Message string            `json:"message,omitempty"`
	Pairs   []CorrelationPair `json:"pairs"`
	// Series are the keys compared; Excluded those left out (too few
	// active buckets, or constant, where r is undefined), with why.
	Series   []string          `json:"series"`
	Excluded map[string]string `json:"excluded"`
	// PairsChecked counts the pairs computed, before min_abs and limit.
	PairsChecked int     `json:"pairs_checked"`
	SeriesTotal  int     `json:"series_total"`
	Truncated    bool    `json:"truncated"`
	Version      int64   `json:"version"`
	ElapsedMS    float64 `json:"elapsed_ms"`
}
