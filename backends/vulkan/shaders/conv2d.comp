#version 450
// Direct 2-d convolution, NCHW, any stride / padding / dilation / groups. Each
// invocation computes one output pixel for OCB (1 or 4) output channels of one
// group, so every input tap it reads feeds OCB products.
#include "common.glsl"
layout(local_size_x = 64) in;
TENSOR_WO(1, Out, o)
TENSOR_RO(2, X, x)
TENSOR_RO(3, W, w)
TENSOR_RO(4, Bias, bias)

#define P_N 0
#define P_CIN 1
#define P_H 2
#define P_W 3
#define P_COUT 4
#define P_OH 5
#define P_OW 6
#define P_KH 7
#define P_KW 8
#define P_SH 9
#define P_SW 10
#define P_PH 11
#define P_PW 12
#define P_DH 13
#define P_DW 14
#define P_GROUPS 15
#define P_OCB 16
#define P_HAS_BIAS 17
#define P_TOTAL 18

void main()
{
	uint id = flat_id(64u);
	if (id >= pu(P_TOTAL))
		return;
	const int H = pi(P_H), W = pi(P_W), OH = pi(P_OH), OW = pi(P_OW);
	const int KH = pi(P_KH), KW = pi(P_KW), CIN = pi(P_CIN), COUT = pi(P_COUT);
	const int ocb = pi(P_OCB);
	const int n_ocblk = COUT / ocb;
	int ow = int(id % uint(OW));
	uint r = id / uint(OW);
	int oh = int(r % uint(OH));
	r /= uint(OH);
	int ob = int(r % uint(n_ocblk));
	int n = int(r / uint(n_ocblk));
	int oc0 = ob * ocb;
	int cin_g = CIN / pi(P_GROUPS), cout_g = COUT / pi(P_GROUPS);
	int g = oc0 / cout_g;
	float acc[4] = float[4](0.0, 0.0, 0.0, 0.0);
	int ih0 = oh * pi(P_SH) - pi(P_PH), iw0 = ow * pi(P_SW) - pi(P_PW);
	int dh = pi(P_DH), dw = pi(P_DW);
	int wstride = cin_g * KH * KW; // per output channel
	for (int ic = 0; ic < cin_g; ic++) {
		int xbase = ((n * CIN + g * cin_g + ic) * H) * W;
		int wbase = (oc0 * cin_g + ic) * KH * KW;
		for (int kh = 0; kh < KH; kh++) {
			int ih = ih0 + kh * dh;
			if (ih < 0 || ih >= H)
				continue;
			for (int kw = 0; kw < KW; kw++) {
				int iw = iw0 + kw * dw;
				if (iw < 0 || iw >= W)
					continue;
				float v = ld_x(xbase + ih * W + iw);
				int wi = wbase + kh * KW + kw;
				acc[0] += v * ld_w(wi);
				if (ocb == 4) {
					acc[1] += v * ld_w(wi + wstride);
					acc[2] += v * ld_w(wi + 2 * wstride);
					acc[3] += v * ld_w(wi + 3 * wstride);
				}
			}
		}
	}
	bool hb = pu(P_HAS_BIAS) != 0u;
	[[unroll]] for (int j = 0; j < 4; j++) {
		if (j < ocb) {
			int oc = oc0 + j;
			st_o(((n * COUT + oc) * OH + oh) * OW + ow, acc[j] + (hb ? ld_bias(oc) : 0.0));
		}
	}
}
