#version 450
// Elementwise and strided-copy kernel: out = op(a, b) over an iteration shape of
// up to 8 dims, each operand addressed by its own element strides (0 broadcasts).
// Copies with strides give permute, transpose, slice, cat and the view family.
#include "common.glsl"
layout(local_size_x = 256) in;
TENSOR_WO(1, Out, o)
TENSOR_RO(2, A, a)
TENSOR_RO(3, B, b)

// Parameter block (see vk_ops.c, struct ew_params)
#define P_OP 0
#define P_N 1
#define P_RANK 2
#define P_FLAGS 3
#define P_ALPHA 4
#define P_SCALAR 5
#define P_LO 6
#define P_HI 7
#define P_OOFF 8
#define P_AOFF 9
#define P_BOFF 10
#define P_SIZES 12
#define P_OSTR 20
#define P_ASTR 28
#define P_BSTR 36

#define F_B_SCALAR 1u
#define F_HAS_LO 4u
#define F_HAS_HI 8u

#define OP_COPY 0
#define OP_ADD 1
#define OP_MUL 2
#define OP_DIV 3
#define OP_RELU 4
#define OP_CLAMP 5
#define OP_SIGMOID 6
#define OP_TANH 7
#define OP_GELU 8
#define OP_GELU_TANH 9
#define OP_SILU 10
#define OP_HARDSWISH 11

float tanh_stable(float x)
{
	// 1 - 2 / (e^2|x| + 1) never overflows into inf / inf
	float t = 1.0 - 2.0 / (exp(2.0 * abs(x)) + 1.0);
	return x < 0.0 ? -t : t;
}

float erf_as(float x)
{
	// Abramowitz and Stegun 7.1.26, as the portable gelu uses
	float ax = abs(x);
	float t = 1.0 / (0.3275911 * ax + 1.0);
	float r = 1.061405429;
	r = r * t - 1.453152027;
	r = r * t + 1.421413741;
	r = r * t - 0.284496736;
	r = r * t + 0.254829592;
	float v = 1.0 - r * t * exp(-(x * x));
	return x < 0.0 ? -v : v;
}

void main()
{
	uint idx = flat_id(256u);
	if (idx >= pu(P_N))
		return;
	int rank = pi(P_RANK);
	uint flags = pu(P_FLAGS);
	uint rest = idx;
	int oi = pi(P_OOFF), ai = pi(P_AOFF), bi = pi(P_BOFF);
	if (rank == 1) {
		oi += int(idx) * pi(P_OSTR);
		ai += int(idx) * pi(P_ASTR);
		bi += int(idx) * pi(P_BSTR);
	} else for (int d = rank - 1; d >= 0; d--) {
		uint sz = pu(P_SIZES + d);
		int k = int(rest % sz);
		rest /= sz;
		oi += k * pi(P_OSTR + d);
		ai += k * pi(P_ASTR + d);
		bi += k * pi(P_BSTR + d);
	}
	int op = pi(P_OP);
	float x = ld_a(ai);
	float r;
	if (op <= OP_DIV) {
		float y = (flags & F_B_SCALAR) != 0u ? pf(P_SCALAR) : ld_b(bi);
		if (op == OP_COPY)
			r = x;
		else if (op == OP_ADD)
			r = x + pf(P_ALPHA) * y;
		else if (op == OP_MUL)
			r = x * y;
		else
			r = x / y;
	} else if (op == OP_RELU) {
		r = x < 0.0 ? 0.0 : x;
	} else if (op == OP_CLAMP) {
		r = x;
		if ((flags & F_HAS_LO) != 0u && r < pf(P_LO))
			r = pf(P_LO);
		if ((flags & F_HAS_HI) != 0u && r > pf(P_HI))
			r = pf(P_HI);
	} else if (op == OP_SIGMOID) {
		r = 1.0 / (1.0 + exp(-x));
	} else if (op == OP_TANH) {
		r = tanh_stable(x);
	} else if (op == OP_GELU) {
		r = x * 0.5 * (1.0 + erf_as(x * 0.70710678118654752));
	} else if (op == OP_GELU_TANH) {
		r = 0.5 * x * (1.0 + tanh_stable(0.7978845608028654 * (x + 0.044715 * (x * x * x))));
	} else if (op == OP_SILU) {
		r = x / (1.0 + exp(-x));
	} else {
		r = x * clamp(x + 3.0, 0.0, 6.0) / 6.0;
	}
	st_o(oi, r);
}
