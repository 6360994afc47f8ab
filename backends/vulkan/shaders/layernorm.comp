#version 450
// Layer normalization over the trailing L elements of each row: a workgroup per
// row computes the mean and then the biased variance (two passes, shared-memory
// reductions), writes the normalized, scaled and shifted row, and the row's
// mean and 1/sqrt(var + eps).
#include "common.glsl"
layout(local_size_x = 128) in;
TENSOR_WO(1, Out, o)
TENSOR_RO(2, X, x)
TENSOR_RO(3, Wt, wt)
TENSOR_RO(4, Bs, bs)
TENSOR_WO(5, Mean, mean_out)
TENSOR_WO(6, Rstd, rstd_out)

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
		s += ld_x(base + l);
	float mean = block_sum(s, tid) / float(L);
	float q = 0.0;
	for (uint l = tid; l < L; l += 128u) {
		float d = ld_x(base + l) - mean;
		q += d * d;
	}
	float var = block_sum(q, tid) / float(L);
	float rstd = 1.0 / sqrt(var + pf(P_EPS));
	for (uint l = tid; l < L; l += 128u) {
		float v = (ld_x(base + l) - mean) * rstd;
		if ((flags & 1u) != 0u)
			v *= ld_wt(l);
		if ((flags & 2u) != 0u)
			v += ld_bs(l);
		st_o(base + l, v);
	}
	if (tid == 0u && (flags & 4u) != 0u) {
		st_mean_out(row, mean);
		st_rstd_out(row, rstd);
	}
}
