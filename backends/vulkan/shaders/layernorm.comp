#version 450
// Layer normalization over the trailing L elements of each row: a workgroup per
// row computes the mean and then the biased variance (two passes, shared-memory
// reductions), writes the normalized, scaled and shifted row, and the row's
// mean and 1/sqrt(var + eps).
#include "common.glsl"
layout(local_size_x = 128) in;
layout(std430, set = 0, binding = 1) writeonly buffer Out { float o[]; };
layout(std430, set = 0, binding = 2) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 3) readonly buffer Wt { float wt[]; };
layout(std430, set = 0, binding = 4) readonly buffer Bs { float bs[]; };
layout(std430, set = 0, binding = 5) writeonly buffer Mean { float mean_out[]; };
layout(std430, set = 0, binding = 6) writeonly buffer Rstd { float rstd_out[]; };

#define P_ROWS 0
#define P_L 1
#define P_EPS 2
#define P_FLAGS 3 /* 1: weight, 2: bias, 4: mean and rstd outputs */

shared float red[128];

float block_sum(float v, uint tid)
{
	red[tid] = v;
	barrier();
	for (uint w = 64u; w > 0u; w >>= 1) {
		if (tid < w)
			red[tid] += red[tid + w];
		barrier();
	}
	float s = red[0];
	barrier();
	return s;
}

void main()
{
	uint row = flat_group();
	if (row >= pu(P_ROWS))
		return;
	uint tid = gl_LocalInvocationID.x;
	uint L = pu(P_L), flags = pu(P_FLAGS);
	uint base = row * L;
	float s = 0.0;
	for (uint l = tid; l < L; l += 128u)
		s += x[base + l];
	float mean = block_sum(s, tid) / float(L);
	float q = 0.0;
	for (uint l = tid; l < L; l += 128u) {
		float d = x[base + l] - mean;
		q += d * d;
	}
	float var = block_sum(q, tid) / float(L);
	float rstd = 1.0 / sqrt(var + pf(P_EPS));
	for (uint l = tid; l < L; l += 128u) {
		float v = (x[base + l] - mean) * rstd;
		if ((flags & 1u) != 0u)
			v *= wt[l];
		if ((flags & 2u) != 0u)
			v += bs[l];
		o[base + l] = v;
	}
	if (tid == 0u && (flags & 4u) != 0u) {
		mean_out[row] = mean;
		rstd_out[row] = rstd;
	}
}
