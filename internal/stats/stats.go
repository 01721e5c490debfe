// Package stats holds the few statistical functions Akosha computes outside
// DuckDB: the significance of a Pearson correlation, which needs Student's t
// distribution (DuckDB has corr but no distribution functions). The data
// itself is always aggregated in DuckDB; these functions only turn an
// aggregate (r, n) into a p-value.
package stats

import "math"

// PearsonT is the t statistic of a Pearson correlation r over n pairs,
// t = r * sqrt((n-2) / (1-r²)), with n-2 degrees of freedom. It is ±Inf for
// |r| = 1 and NaN for n < 3, where no test exists.
func PearsonT(r float64, n int) float64 {
	if n < 3 || math.IsNaN(r) {
		return math.NaN()
	}
	r = math.Max(-1, math.Min(1, r)) // corr may overshoot ±1 by an ulp
	if math.Abs(r) == 1 {
		return math.Copysign(math.Inf(1), r)
	}
	return r * math.Sqrt(float64(n-2)/(1-r*r))
}

// PearsonP is the two-sided p-value of the null hypothesis "no correlation"
// for a Pearson r over n pairs, assuming bivariate normality: the chance of
// an |r| at least this large from uncorrelated series. NaN for n < 3.
func PearsonP(r float64, n int) float64 {
	return StudentTwoSided(PearsonT(r, n), float64(n-2))
}

// StudentTwoSided is P(|T| >= |t|) for Student's t distribution with df
// degrees of freedom: the regularized incomplete beta I_x(df/2, 1/2) at
// x = df / (df + t²). NaN when t is NaN or df <= 0.
func StudentTwoSided(t, df float64) float64 {
	if math.IsNaN(t) || math.IsNaN(df) || df <= 0 {
		return math.NaN()
	}
	if math.IsInf(t, 0) {
		return 0
	}
	return RegIncBeta(df/2, 0.5, df/(df+t*t))
}

// RegIncBeta is the regularized incomplete beta function I_x(a, b) for
// a, b > 0 and 0 <= x <= 1, by the continued fraction of Numerical Recipes
// (§6.4), evaluated with the modified Lentz method on whichever of x and
// 1-x makes it converge fast. Accurate to about 1e-14 relative.
func RegIncBeta(a, b, x float64) float64 {
	switch {
	case math.IsNaN(a) || math.IsNaN(b) || math.IsNaN(x) || a <= 0 || b <= 0 || x < 0 || x > 1:
		return math.NaN()
	case x == 0:
		return 0
	case x == 1:
		return 1
	}
	// The prefactor x^a (1-x)^b / (a B(a, b)), in logs to avoid overflow.
	la, _ := math.Lgamma(a)
	lb, _ := math.Lgamma(b)
	lab, _ := math.Lgamma(a + b)
	front := math.Exp(lab - la - lb + a*math.Log(x) + b*math.Log1p(-x))
	if x < (a+1)/(a+b+2) {
		return front * betaCF(a, b, x) / a
	}
	return 1 - front*betaCF(b, a, 1-x)/b
}

// betaCF evaluates the continued fraction of the incomplete beta function.
func betaCF(a, b, x float64) float64 {
	const (
		maxIter = 300
		eps     = 1e-16
		tiny    = 1e-300
	)
	qab, qap, qam := a+b, a+1, a-1
	c, d := 1.0, 1-qab*x/qap
	if math.Abs(d) < tiny {
		d = tiny
	}
	d = 1 / d
	h := d
	for m := 1; m <= maxIter; m++ {
		fm := float64(m)
		m2 := 2 * fm
		aa := fm * (b - fm) * x / ((qam + m2) * (a + m2))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		h *= d * c
		aa = -(a + fm) * (qab + fm) * x / ((a + m2) * (qap + m2))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < eps {
			break
		}
	}
	return h
}
