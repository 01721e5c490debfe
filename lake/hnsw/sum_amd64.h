// SUM_Y0 adds the eight float32 lanes of Y0 into X0's lowest lane and
// leaves the vector unit (VZEROUPPER): the dot kernels' common ending, each
// then storing X0 as its result (kept outside the macro so go vet can
// check the store against the function's signature).
#define SUM_Y0 \
	VEXTRACTF128 $1, Y0, X1; \
	VADDPS X1, X0, X0; \
	VHADDPS X0, X0, X0; \
	VHADDPS X0, X0, X0; \
	VZEROUPPER
