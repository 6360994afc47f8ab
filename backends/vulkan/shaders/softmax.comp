#version 450
// Softmax along one dim: a workgroup per row (outer x inner rows of length L,
// element l of a row at stride `inner`): max, then the sum of exponentials, both
// reduced in shared memory, then the normalized outputs.
#include "common.glsl"
layout(local_size_x = 128) in;
TENSOR_WO(1, Out, o)
TENSOR_RO(2, X, x)

#define P_ROWS 0
#define P_L 1
#define P_INNER 2

shared float red[128];

void main()
{
	uint row = flat_group();
	if (row >= pu(P_ROWS))
		return;
	uint tid = gl_LocalInvocationID.x;
	uint L = pu(P_L), inner = pu(P_INNER);
	uint base = (row / inner) * L * inner + row % inner;
	float m = uintBitsToFloat(0xff800000u);
	for (uint l = tid; l < L; l += 128u)
		m = max(m, ld_x(base + l * inner));
	red[tid] = m;
	barrier();
	for (uint w = 64u; w > 0u; w >>= 1) {
		if (tid < w)
			red[tid] = max(red[tid], red[tid + w]);
		barrier();
	}
	m = red[0];
	barrier();
	float s = 0.0;
	for (uint l = tid; l < L; l += 128u)
		s += exp(ld_x(base + l * inner) - m);
	red[tid] = s;
	barrier();
	for (uint w = 64u; w > 0u; w >>= 1) {
		if (tid < w)
			red[tid] += red[tid + w];
		barrier();
	}
	s = red[0];
	for (uint l = tid; l < L; l += 128u)
		st_o(base + l * inner, exp(ld_x(base + l * inner) - m) / s);
}
