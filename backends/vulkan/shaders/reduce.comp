#version 450
// Sum over a set of dims, times a scale (mean): one workgroup per output
// element; its 128 threads stride over the reduced elements (addressed through
// up to 8 reduced dims) and combine their partial sums in shared memory.
#include "common.glsl"
layout(local_size_x = 128) in;
TENSOR_WO(1, Out, o)
TENSOR_RO(2, X, x)

#define P_NOUT 0
#define P_R 1
#define P_KRANK 2
#define P_RRANK 3
#define P_SCALE 4
#define P_KSIZES 8
#define P_KSTR 16
#define P_RSIZES 24
#define P_RSTR 32

shared float part[128];

void main()
{
	uint oidx = flat_group();
	if (oidx >= pu(P_NOUT))
		return;
	uint tid = gl_LocalInvocationID.x;
	uint rest = oidx;
	int base = 0;
	for (int d = pi(P_KRANK) - 1; d >= 0; d--) {
		uint sz = pu(P_KSIZES + d);
		base += int(rest % sz) * pi(P_KSTR + d);
		rest /= sz;
	}
	uint R = pu(P_R);
	int rr = pi(P_RRANK);
	float s = 0.0;
	for (uint k = tid; k < R; k += 128u) {
		uint q = k;
		int off = base;
		for (int d = rr - 1; d >= 0; d--) {
			uint sz = pu(P_RSIZES + d);
			off += int(q % sz) * pi(P_RSTR + d);
			q /= sz;
		}
		s += ld_x(off);
	}
	part[tid] = s;
	barrier();
	for (uint w = 64u; w > 0u; w >>= 1) {
		if (tid < w)
			part[tid] += part[tid + w];
		barrier();
	}
	if (tid == 0u)
		st_o(oidx, part[0] * pf(P_SCALE));
}
