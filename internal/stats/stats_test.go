package stats

import (
	"math"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// The closed forms of Student's t for 1, 2 and 3 degrees of freedom check
// the continued fraction independently.
func TestStudentTwoSidedClosedForms(t *testing.T) {
	closed := map[float64]func(t float64) float64{
		1: func(t float64) float64 { return 1 - 2/math.Pi*math.Atan(math.Abs(t)) },
		2: func(t float64) float64 { return 1 - math.Abs(t)/math.Sqrt(2+t*t) },
		3: func(t float64) float64 {
			u := math.Abs(t) / math.Sqrt(3)
			return 1 - 2/math.Pi*(math.Atan(u)+u/(1+u*u))
		},
	}
	for df, want := range closed {
		for _, tv := range []float64{0, 0.1, 0.5, 1, 1.5, 2, 3.3, 7, 25, 400, -2.5} {
			got := StudentTwoSided(tv, df)
			if !near(got, want(tv), 1e-12) {
				t.Errorf("df %v t %v: p %.17g, want %.17g", df, tv, got, want(tv))
			}
		}
	}
	// Many degrees of freedom approach the normal distribution, where
	// 2*(1-Φ(1.959964)) = 0.05; the first term of the expansion in 1/df
	// (Abramowitz & Stegun 26.7.5) adds φ(z)(z³+z)/(2 df).
	z, df := 1.959963984540054, 1e4
	want := 0.05 + math.Exp(-z*z/2)/math.Sqrt(2*math.Pi)*(z*z*z+z)/(2*df)
	if p := StudentTwoSided(z, df); !near(p, want, 1e-8) {
		t.Errorf("df 1e4: p %.12f, want %.12f", p, want)
	}
	// Textbook table: t(0.975, 10) = 2.228138851986273.
	if p := StudentTwoSided(2.228138851986273, 10); !near(p, 0.05, 1e-12) {
		t.Errorf("df 10: p %v, want 0.05", p)
	}
	if p := StudentTwoSided(math.Inf(1), 4); p != 0 {
		t.Errorf("infinite t: p %v", p)
	}
	for _, bad := range [][2]float64{{math.NaN(), 3}, {1, 0}, {1, -1}} {
		if p := StudentTwoSided(bad[0], bad[1]); !math.IsNaN(p) {
			t.Errorf("t %v df %v: p %v, want NaN", bad[0], bad[1], p)
		}
	}
}

func TestRegIncBetaIdentities(t *testing.T) {
	for _, x := range []float64{0.01, 0.2, 0.5, 0.77, 0.999} {
		for _, a := range []float64{0.5, 1, 2.5, 7} {
			// I_x(a, 1) = x^a and I_x(1, a) = 1 - (1-x)^a.
			if got, want := RegIncBeta(a, 1, x), math.Pow(x, a); !near(got, want, 1e-13) {
				t.Errorf("I_%v(%v,1) = %v, want %v", x, a, got, want)
			}
			if got, want := RegIncBeta(1, a, x), 1-math.Pow(1-x, a); !near(got, want, 1e-13) {
				t.Errorf("I_%v(1,%v) = %v, want %v", x, a, got, want)
			}
			// Symmetry: I_x(a, b) = 1 - I_{1-x}(b, a).
			if got, want := RegIncBeta(a, 3.5, x), 1-RegIncBeta(3.5, a, 1-x); !near(got, want, 1e-13) {
				t.Errorf("symmetry at x %v a %v: %v vs %v", x, a, got, want)
			}
		}
	}
	if RegIncBeta(2, 3, 0) != 0 || RegIncBeta(2, 3, 1) != 1 || !math.IsNaN(RegIncBeta(2, 3, 1.5)) || !math.IsNaN(RegIncBeta(0, 3, 0.5)) {
		t.Error("bounds")
	}
}

func TestPearson(t *testing.T) {
	// r = 0.5 over 6 pairs: t = 0.5 * sqrt(4 / 0.75).
	if got, want := PearsonT(0.5, 6), 0.5*math.Sqrt(4/0.75); !near(got, want, 1e-15) {
		t.Errorf("t = %v, want %v", got, want)
	}
	// 3 pairs: one degree of freedom, the Cauchy closed form.
	r := 0.8
	tv := r * math.Sqrt(1/(1-r*r))
	if got, want := PearsonP(r, 3), 1-2/math.Pi*math.Atan(tv); !near(got, want, 1e-12) {
		t.Errorf("p = %v, want %v", got, want)
	}
	if !math.IsInf(PearsonT(1.0000000000000002, 10), 1) || PearsonP(-1, 10) != 0 {
		t.Error("|r| = 1 must give an infinite t and p 0")
	}
	if !math.IsNaN(PearsonT(0.9, 2)) || !math.IsNaN(PearsonP(0.9, 2)) || !math.IsNaN(PearsonP(math.NaN(), 20)) {
		t.Error("two pairs or NaN r have no test")
	}
	if p := PearsonP(0, 50); !near(p, 1, 1e-15) {
		t.Errorf("r 0: p %v, want 1", p)
	}
}
