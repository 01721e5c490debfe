#include "textflag.h"
#include "sum_amd64.h"

// func dotHalfAVX2(q *float32, h *uint16, n int) float32
// n > 0 and a multiple of 32.
TEXT ·dotHalfAVX2(SB), NOSPLIT, $0-28
	MOVQ q+0(FP), SI
	MOVQ h+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
loop:
	VCVTPH2PS (DI), Y4
	VCVTPH2PS 16(DI), Y5
	VCVTPH2PS 32(DI), Y6
	VCVTPH2PS 48(DI), Y7
	VFMADD231PS (SI), Y4, Y0
	VFMADD231PS 32(SI), Y5, Y1
	VFMADD231PS 64(SI), Y6, Y2
	VFMADD231PS 96(SI), Y7, Y3
	ADDQ $64, DI
	ADDQ $128, SI
	SUBQ $32, CX
	JNZ loop
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	SUM_Y0
	MOVSS X0, ret+24(FP)
	RET

// func dotHalfAVX512(q *float32, h *uint16, n int) float32
// n > 0 and a multiple of 32.
TEXT ·dotHalfAVX512(SB), NOSPLIT, $0-28
	MOVQ q+0(FP), SI
	MOVQ h+8(FP), DI
	MOVQ n+16(FP), CX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
loop:
	VCVTPH2PS (DI), Z4
	VCVTPH2PS 32(DI), Z5
	VFMADD231PS (SI), Z4, Z0
	VFMADD231PS 64(SI), Z5, Z1
	ADDQ $64, DI
	ADDQ $128, SI
	SUBQ $32, CX
	JNZ loop
	VADDPS Z1, Z0, Z0
	VEXTRACTF64X4 $1, Z0, Y1
	VADDPS Y1, Y0, Y0
	SUM_Y0
	MOVSS X0, ret+24(FP)
	RET

// func toHalf(dst *uint16, src *float32, n int)
// n > 0 and a multiple of 8. Rounds to nearest even.
TEXT ·toHalf(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
loop:
	VMOVUPS (SI), Y0
	VCVTPS2PH $0, Y0, (DI)
	ADDQ $16, DI
	ADDQ $32, SI
	SUBQ $8, CX
	JNZ loop
	VZEROUPPER
	RET

