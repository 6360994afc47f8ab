#version 450
// 2-d max pooling (with int64 indices) and average pooling over NCHW planes, one
// invocation per output element, following PyTorch's window rules.
#include "common.glsl"
layout(local_size_x = 64) in;
TENSOR_WO(1, Out, o)
TENSOR_RO(2, X, x)
layout(std430, set = 0, binding = 3) writeonly buffer Ind { uint ind[]; };

#define P_MODE 0
#define P_TOTAL 1
#define P_H 2
#define P_W 3
#define P_OH 4
#define P_OW 5
#define P_KH 6
#define P_KW 7
#define P_SH 8
#define P_SW 9
#define P_PH 10
#define P_PW 11
#define P_DH 12
#define P_DW 13
#define P_COUNT_PAD 14
#define P_DIVISOR 15
#define P_HAS_IND 16

void main()
{
	uint id = flat_id(64u);
	if (id >= pu(P_TOTAL))
		return;
	const int H = pi(P_H), W = pi(P_W), OH = pi(P_OH), OW = pi(P_OW);
	int ow = int(id % uint(OW));
	uint r = id / uint(OW);
	int oh = int(r % uint(OH));
	int plane = int(r / uint(OH));
	int xb = plane * H * W;
	int hs = oh * pi(P_SH) - pi(P_PH), ws = ow * pi(P_SW) - pi(P_PW);
	int KH = pi(P_KH), KW = pi(P_KW);
	if (pu(P_MODE) == 0u) {
		int dh = pi(P_DH), dw = pi(P_DW);
		float mv = uintBitsToFloat(0xff800000u); // -inf
		int mi = -1;
		for (int kh = 0; kh < KH; kh++) {
			int h = hs + kh * dh;
			if (h < 0 || h >= H)
				continue;
			for (int kw = 0; kw < KW; kw++) {
				int w = ws + kw * dw;
				if (w < 0 || w >= W)
					continue;
				float v = ld_x(xb + h * W + w);
				if (mi < 0)
					mi = h * W + w;
				if (v > mv || isnan(v)) {
					mv = v;
					mi = h * W + w;
				}
			}
		}
		st_o(id, mv);
		if (pu(P_HAS_IND) != 0u) {
			ind[2u * id] = uint(mi);
			ind[2u * id + 1u] = 0u;
		}
	} else {
		int he = min(hs + KH, H + pi(P_PH)), we = min(ws + KW, W + pi(P_PW));
		int pool_size = (he - hs) * (we - ws);
		int h0 = max(hs, 0), w0 = max(ws, 0);
		he = min(he, H);
		we = min(we, W);
		float s = 0.0;
		for (int h = h0; h < he; h++)
			for (int w = w0; w < we; w++)
				s += ld_x(xb + h * W + w);
		int div = pi(P_DIVISOR);
		if (div == 0)
			div = pu(P_COUNT_PAD) != 0u ? pool_size : (he - h0) * (we - w0);
		st_o(id, s / float(div));
	}
}
