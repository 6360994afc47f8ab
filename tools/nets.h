/* Programs that mirror real networks, for tests and benchmarks: MobileNetV2 and a
 * transformer encoder block, with weights from a seeded RNG, written with the
 * project's .pte writer the way ExecuTorch's default export writes them:
 * portable out-variant operators, batch norm left unfolded, linear layers as a
 * run-time permute_copy of the weight plus addmm, activations memory-planned in
 * one arena with lifetime reuse, static reshapes aliasing their base tensor
 * (no instruction), weights as constants.
 *
 * A network is first made as a description (shapes plus weights, PyTorch's own
 * layouts), which other code may walk too (a reference forward pass, a driver
 * that builds the same network with XNNPACK's subgraph API); the program is then
 * written from the description. */
#ifndef INFD_TOOLS_NETS_H
#define INFD_TOOLS_NETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/error.h"

/* ---- MobileNetV2 -------------------------------------------------------------
 * conv[0] reads the image; conv[i] reads conv[i-1]'s output. Each conv has no
 * bias and is followed by a batch norm, then relu6 (hardtanh 0..6) when `relu6`;
 * when `add_from` >= 0 the output of conv[add_from] is added after that (the
 * inverted-residual shortcut). Then the mean over H and W, and a linear layer. */
struct infd_net_conv {
	uint32_t in_c, out_c, kernel, stride, groups; /* padding kernel / 2 */
	uint32_t in_hw, out_hw;                       /* square feature maps */
	bool relu6;
	int32_t add_from;     /* index of an earlier conv whose output is added, or -1 */
	float *weight;        /* [out_c, in_c / groups, kernel, kernel] */
	float *bn;            /* [4][out_c]: gamma, beta, running mean, running var */
};

struct infd_net_mobilenet_v2 {
	uint32_t batch, hw, in_c; /* input [batch, in_c, hw, hw] */
	float width_mult;
	float bn_eps;
	uint32_t n_convs;
	struct infd_net_conv *convs;
	uint32_t features, classes; /* linear: [classes, features] weight, [classes] bias */
	float *fc_w, *fc_b;
};

/* MobileNetV2 (torchvision's block table and channel rounding) for square
 * inputs of `hw` pixels (a multiple of 32 keeps every stage whole; at least 32),
 * width multiplier `width_mult` (> 0), `classes` outputs, weights drawn from
 * `seed`. Free with infd__net_mobilenet_v2_free. Returns INFD_INVALID_ARGUMENT
 * for bad parameters, INFD_NO_MEMORY. */
infd_status infd__net_mobilenet_v2_make(uint32_t hw, float width_mult, uint32_t classes, uint64_t seed,
					struct infd_net_mobilenet_v2 *out, struct infd_error *err);
void infd__net_mobilenet_v2_free(struct infd_net_mobilenet_v2 *net);

/* ---- Transformer encoder block (post-norm, as nn.TransformerEncoderLayer) ------
 *   a  = softmax(q kᵀ / sqrt(width / heads)) v, per head; q, k, v = x Wqᵀ + bq, ...
 *   x1 = layer_norm(x + a Woᵀ + bo)
 *   y  = layer_norm(x1 + gelu(x1 W1ᵀ + b1) W2ᵀ + b2)
 * Linear weights are PyTorch's [out, in]. */
struct infd_net_transformer {
	uint32_t seq, width, heads, hidden; /* input and output [1, seq, width]; hidden = 4 * width */
	float ln_eps;
	float *wq, *bq, *wk, *bk, *wv, *bv, *wo, *bo; /* [width, width], [width] */
	float *ln1_w, *ln1_b;                         /* [width] */
	float *w1, *b1;                               /* [hidden, width], [hidden] */
	float *w2, *b2;                               /* [width, hidden], [width] */
	float *ln2_w, *ln2_b;                         /* [width] */
};

/* `heads` must divide `width`. Free with infd__net_transformer_free. */
infd_status infd__net_transformer_make(uint32_t seq, uint32_t width, uint32_t heads, uint64_t seed,
				       struct infd_net_transformer *out, struct infd_error *err);
void infd__net_transformer_free(struct infd_net_transformer *net);

/* ---- Writing programs ------------------------------------------------------- */

struct infd_net_write_options {
	/* Static reshapes as aten::view_copy instructions with their own planned
	 * output, instead of tensors aliasing their base (ExecuTorch's default). */
	bool view_copy;
	/* Linear layers as one aten::linear.out, instead of permute_copy of the
	 * weight plus aten::addmm.out (ExecuTorch's default decomposition). */
	bool linear_op;
};

void infd__net_write_options_default(struct infd_net_write_options *opt);

/* A written program: method "forward", one float32 input, one float32 output. */
struct infd_net_program {
	uint8_t *pte; /* malloc'd .pte bytes (infd__net_program_free frees them) */
	size_t size;
	uint32_t in_rank, out_rank;
	int32_t in_sizes[4], out_sizes[4];
	uint32_t n_instructions;  /* kernel calls written */
	uint64_t arena_bytes;     /* planned arena 1 */
	uint64_t planned_bytes;   /* all planned tensors together, as if none shared memory */
	uint64_t weight_bytes;    /* constant tensor bytes */
};

void infd__net_program_free(struct infd_net_program *p);

/* Write the network (borrowed; only read) as a program. opt may be NULL for
 * defaults. */
infd_status infd__net_mobilenet_v2_write(const struct infd_net_mobilenet_v2 *net,
					 const struct infd_net_write_options *opt, struct infd_net_program *out,
					 struct infd_error *err);
infd_status infd__net_transformer_write(const struct infd_net_transformer *net,
					const struct infd_net_write_options *opt, struct infd_net_program *out,
					struct infd_error *err);

/* Floating-point operations of one inference (multiply-add = 2), counting
 * convolutions and matrix products only. */
double infd__net_mobilenet_v2_flops(const struct infd_net_mobilenet_v2 *net);
double infd__net_transformer_flops(const struct infd_net_transformer *net);

/* Deterministic inputs: n floats in [-1, 1) from `seed`. */
void infd__net_fill(float *x, size_t n, uint64_t seed);

#endif
