#version 450
// Tiled matrix product: out[b] = alpha * A[b] x B[b] + beta * bias (bias optional,
// broadcast through its strides). A workgroup of 16 x 16 threads computes a
// 64 x 64 tile of out, staging 16-deep slices of A and B in shared memory;
// each thread accumulates a 4 x 4 block of outputs in registers.
#include "common.glsl"
layout(local_size_x = 16, local_size_y = 16) in;
TENSOR_WO(1, Out, o)
TENSOR_RO(2, A, a)
TENSOR_RO(3, B, b)
TENSOR_RO(4, C, c)

#define P_M 0
#define P_N 1
#define P_K 2
#define P_A_RS 4
#define P_A_KS 5
#define P_A_BS 6
#define P_B_KS 7
#define P_B_CS 8
#define P_B_BS 9
#define P_FLAGS 10
#define P_ALPHA 11
#define P_BETA 12
#define P_C_RS 13
#define P_C_CS 14
#define P_C_BS 15

#define BM 64
#define BN 64
#define BK 16

shared float As[BK][BM];
shared float Bs[BK][BN];

void main()
{
	const uint M = pu(P_M), N = pu(P_N), K = pu(P_K);
	const uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
	const uint tid = ty * 16u + tx;
	const uint m0 = gl_WorkGroupID.y * BM, n0 = gl_WorkGroupID.x * BN, batch = gl_WorkGroupID.z;
	const uint a_base = batch * pu(P_A_BS), b_base = batch * pu(P_B_BS);
	const uint a_rs = pu(P_A_RS), a_ks = pu(P_A_KS), b_ks = pu(P_B_KS), b_cs = pu(P_B_CS);
	float acc[4][4];
	[[unroll]] for (int i = 0; i < 4; i++)
		[[unroll]] for (int j = 0; j < 4; j++)
			acc[i][j] = 0.0;
	for (uint k0 = 0u; k0 < K; k0 += BK) {
		// each thread loads 4 elements of each tile; consecutive threads take
		// consecutive rows of A (m) and columns of B (n)
		[[unroll]] for (uint e = 0u; e < 4u; e++) {
			uint lin = tid + e * 256u;
			uint am = lin % BM, ak = lin / BM;
			uint gm = m0 + am, gk = k0 + ak;
			As[ak][am] = (gm < M && gk < K) ? ld_a(a_base + gm * a_rs + gk * a_ks) : 0.0;
			uint bn = lin % BN, bk = lin / BN;
			uint gn = n0 + bn, gk2 = k0 + bk;
			Bs[bk][bn] = (gn < N && gk2 < K) ? ld_b(b_base + gk2 * b_ks + gn * b_cs) : 0.0;
		}
		barrier();
		[[unroll]] for (uint k = 0u; k < BK; k++) {
			float av[4], bv[4];
			[[unroll]] for (uint i = 0u; i < 4u; i++)
				av[i] = As[k][ty + 16u * i];
			[[unroll]] for (uint j = 0u; j < 4u; j++)
				bv[j] = Bs[k][tx + 16u * j];
			[[unroll]] for (uint i = 0u; i < 4u; i++)
				[[unroll]] for (uint j = 0u; j < 4u; j++)
					acc[i][j] += av[i] * bv[j];
		}
		barrier();
	}
	const float alpha = pf(P_ALPHA), beta = pf(P_BETA);
	const bool has_bias = (pu(P_FLAGS) & 1u) != 0u;
	[[unroll]] for (uint i = 0u; i < 4u; i++) {
		uint gm = m0 + ty + 16u * i;
		if (gm >= M)
			continue;
		[[unroll]] for (uint j = 0u; j < 4u; j++) {
			uint gn = n0 + tx + 16u * j;
			if (gn >= N)
				continue;
			float v = alpha * acc[i][j];
			if (has_bias)
				v += beta * ld_c(batch * pu(P_C_BS) + gm * pu(P_C_RS) + gn * pu(P_C_CS));
			st_o((batch * M + gm) * N + gn, v);
		}
	}
}
