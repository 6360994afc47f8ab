/* The Vulkan backend against the portable CPU kernels, in one run: start-up of
 * the backend with a cold and a warm pipeline cache, then time per run of single
 * operators and of two small networks built with the writer (a CNN and a
 * transformer-style block), each on the portable kernels and on the Vulkan
 * device (named in the output), with the largest difference of the results;
 * then the same on Vulkan with fp16 storage (an "fp16" line under each case)
 * where the device has 16-bit storage buffers.
 * Usage: bench_vulkan [DEVICE-NAME-PART [CASE-NAME-PART]]   (default: the best
 * device, every case; "" for the best device) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backends/backends.h"
#include "backends/factories.h"
#include "runtime/pte_writer.h"
#include "runtime/runtime.h"
#ifdef INFD_HAVE_VULKAN
#include "backends/vulkan/vulkan_backend.h"
#endif

#ifndef INFD_HAVE_VULKAN
int main(void)
{
	printf("bench_vulkan: the Vulkan backend is not compiled in\n");
	return 0;
}
#else

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float rnd(void)
{
	rng = rng * 6364136223846793005ull + 1442695040888963407ull;
	return (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

/* ---- Program building ------------------------------------------------------------- */

struct net {
	struct infd_pte_writer *w;
	struct infd_pte_method *m;
	int32_t in[4], out[4];
	uint32_t n_in, n_out;
	double flops; /* per run, 0 when not counted */
};

static void net_begin(struct net *n)
{
	memset(n, 0, sizeof *n);
	n->w = infd__pte_writer_create(NULL);
	n->m = infd__pte_method(n->w, "forward");
}

static int32_t input(struct net *n, uint32_t rank, const int32_t *s)
{
	int32_t v = infd__pte_planned(n->m, INFD_DTYPE_FLOAT32, rank, s);
	n->in[n->n_in++] = v;
	return v;
}

static int32_t tmp(struct net *n, uint32_t rank, const int32_t *s)
{
	return infd__pte_planned(n->m, INFD_DTYPE_FLOAT32, rank, s);
}

static int32_t weight(struct net *n, uint32_t rank, const int32_t *s, float scale)
{
	uint64_t k = 1;
	for (uint32_t d = 0; d < rank; d++)
		k *= (uint64_t)s[d];
	float *v = malloc(k * sizeof *v);
	for (uint64_t i = 0; i < k; i++)
		v[i] = rnd() * scale;
	int32_t t = infd__pte_const_tensor(n->m, INFD_DTYPE_FLOAT32, rank, s, v);
	free(v);
	return t;
}

#define S(...) (uint32_t)(sizeof((int32_t[]){__VA_ARGS__}) / sizeof(int32_t)), ((const int32_t[]){__VA_ARGS__})
#define L(n, ...)                                                                                                  \
	infd__pte_int_list((n)->m, (uint32_t)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)),                 \
			   (const int64_t[]){__VA_ARGS__})
#define CALL(n, name, ov, ...)                                                                                     \
	infd__pte_call((n)->m, name, ov, (uint32_t)(sizeof((int32_t[]){__VA_ARGS__}) / sizeof(int32_t)),           \
		       (const int32_t[]){__VA_ARGS__})

static struct infd_program *net_finish(struct net *n, int32_t out)
{
	n->out[n->n_out++] = out;
	infd__pte_inputs(n->m, n->n_in, n->in);
	infd__pte_outputs(n->m, n->n_out, n->out);
	uint8_t *data;
	size_t size;
	struct infd_error e = {0};
	struct infd_program *p = NULL;
	if (infd__pte_writer_finish(n->w, &data, &size, &e) == INFD_OK) {
		if (infd__program_open_copy(data, size, &p, &e))
			p = NULL;
		free(data);
	}
	if (!p)
		fprintf(stderr, "bench_vulkan: building a program: %s\n", e.msg);
	infd__pte_writer_destroy(n->w);
	return p;
}

static int32_t conv(struct net *n, int32_t x, int32_t c_in, int32_t c_out, int32_t hw_out, int64_t k, int64_t s,
		    int64_t groups, int32_t batch)
{
	int32_t w = weight(n, S(c_out, (int32_t)(c_in / groups), (int32_t)k, (int32_t)k), 0.2f);
	int32_t b = weight(n, S(c_out), 0.1f);
	int32_t y = tmp(n, S(batch, c_out, hw_out, hw_out));
	CALL(n, "aten::convolution", "out", x, w, b, L(n, s, s), L(n, k / 2, k / 2), L(n, 1, 1),
	     infd__pte_bool(n->m, false), L(n, 0, 0), infd__pte_int(n->m, groups), y, y);
	n->flops += 2.0 * batch * c_out * hw_out * hw_out * (double)(c_in / groups) * (double)(k * k);
	return y;
}

static int32_t relu(struct net *n, int32_t x, uint32_t rank, const int32_t *s)
{
	int32_t y = tmp(n, rank, s);
	CALL(n, "aten::relu", "out", x, y, y);
	return y;
}

static int32_t linear(struct net *n, int32_t x, int32_t rows, int32_t k, int32_t out, bool bias)
{
	int32_t w = weight(n, S(out, k), 1.0f / sqrtf((float)k));
	int32_t b = bias ? weight(n, S(out), 0.1f) : infd__pte_null(n->m);
	int32_t y = tmp(n, S(rows, out));
	CALL(n, "aten::linear", "out", x, w, b, y, y);
	n->flops += 2.0 * rows * k * out;
	return y;
}

static int32_t layer_norm(struct net *n, int32_t x, int32_t rows, int32_t d)
{
	int32_t y = tmp(n, S(rows, d)), mean = tmp(n, S(rows, 1)), rstd = tmp(n, S(rows, 1));
	int32_t ret = infd__pte_tensor_list(n->m, 3, (const int32_t[]){y, mean, rstd});
	CALL(n, "aten::native_layer_norm", "out", x, L(n, d), weight(n, S(d), 1.0f), weight(n, S(d), 0.1f),
	     infd__pte_double(n->m, 1e-5), y, mean, rstd, ret);
	return y;
}

/* ---- Operators ---------------------------------------------------------------------- */

static struct infd_program *op_add(struct net *n)
{
	int32_t a = input(n, S(1, 64, 56, 56)), b = weight(n, S(64, 1, 1), 1), y = tmp(n, S(1, 64, 56, 56));
	CALL(n, "aten::add", "out", a, b, infd__pte_int(n->m, 1), y, y);
	return net_finish(n, y);
}

/* A tiny op: what one run costs beyond the work (submit, wait, copies). */
static struct infd_program *op_tiny(struct net *n)
{
	int32_t a = input(n, S(64)), y = tmp(n, S(64));
	CALL(n, "aten::relu", "out", a, y, y);
	return net_finish(n, y);
}

static struct infd_program *op_gelu(struct net *n)
{
	int32_t a = input(n, S(256, 1024)), y = tmp(n, S(256, 1024));
	CALL(n, "aten::gelu", "out", a, infd__pte_string(n->m, "none"), y, y);
	return net_finish(n, y);
}

static struct infd_program *op_mm(struct net *n)
{
	int32_t a = input(n, S(256, 256)), b = weight(n, S(256, 256), 1), y = tmp(n, S(256, 256));
	CALL(n, "aten::mm", "out", a, b, y, y);
	n->flops = 2.0 * 256 * 256 * 256;
	return net_finish(n, y);
}

static struct infd_program *op_linear(struct net *n)
{
	int32_t x = input(n, S(128, 512));
	return net_finish(n, linear(n, x, 128, 512, 512, true));
}

static struct infd_program *op_conv3x3(struct net *n)
{
	int32_t x = input(n, S(1, 32, 56, 56));
	return net_finish(n, conv(n, x, 32, 32, 56, 3, 1, 1, 1));
}

static struct infd_program *op_dwconv(struct net *n)
{
	int32_t x = input(n, S(1, 64, 56, 56));
	return net_finish(n, conv(n, x, 64, 64, 28, 3, 2, 64, 1));
}

static struct infd_program *op_maxpool(struct net *n)
{
	int32_t x = input(n, S(1, 64, 56, 56)), y = tmp(n, S(1, 64, 28, 28));
	int32_t ind = infd__pte_planned(n->m, INFD_DTYPE_INT64, S(1, 64, 28, 28));
	int32_t ret = infd__pte_tensor_list(n->m, 2, (const int32_t[]){y, ind});
	CALL(n, "aten::max_pool2d_with_indices", "out", x, L(n, 3, 3), L(n, 2, 2), L(n, 1, 1), L(n, 1, 1),
	     infd__pte_bool(n->m, false), y, ind, ret);
	return net_finish(n, y);
}

static struct infd_program *op_softmax(struct net *n)
{
	int32_t x = input(n, S(256, 1024)), y = tmp(n, S(256, 1024));
	CALL(n, "aten::_softmax", "out", x, infd__pte_int(n->m, -1), infd__pte_bool(n->m, false), y, y);
	return net_finish(n, y);
}

static struct infd_program *op_layer_norm(struct net *n)
{
	int32_t x = input(n, S(256, 768));
	return net_finish(n, layer_norm(n, x, 256, 768));
}

static struct infd_program *op_permute(struct net *n)
{
	int32_t x = input(n, S(8, 64, 32, 32)), y = tmp(n, S(8, 32, 64, 32));
	CALL(n, "aten::permute_copy", "out", x, L(n, 0, 2, 1, 3), y, y);
	return net_finish(n, y);
}

/* ---- Networks ------------------------------------------------------------------------ */

/* conv-relu-pool, conv-relu, depthwise + pointwise conv, global mean, classifier */
static struct infd_program *net_cnn(struct net *n)
{
	const int32_t B = 2;
	int32_t x = input(n, S(B, 3, 64, 64));
	int32_t c1 = relu(n, conv(n, x, 3, 32, 64, 3, 1, 1, B), S(B, 32, 64, 64));
	int32_t p1 = tmp(n, S(B, 32, 32, 32)), ind = infd__pte_planned(n->m, INFD_DTYPE_INT64, S(B, 32, 32, 32));
	CALL(n, "aten::max_pool2d_with_indices", "out", c1, L(n, 2, 2), L(n, 2, 2), L(n, 0, 0), L(n, 1, 1),
	     infd__pte_bool(n->m, false), p1, ind, infd__pte_tensor_list(n->m, 2, (const int32_t[]){p1, ind}));
	int32_t c2 = relu(n, conv(n, p1, 32, 64, 16, 3, 2, 1, B), S(B, 64, 16, 16));
	int32_t dw = relu(n, conv(n, c2, 64, 64, 16, 3, 1, 64, B), S(B, 64, 16, 16));
	int32_t pw = relu(n, conv(n, dw, 64, 128, 16, 1, 1, 1, B), S(B, 128, 16, 16));
	int32_t g = tmp(n, S(B, 128));
	CALL(n, "aten::mean", "out", pw, L(n, 2, 3), infd__pte_bool(n->m, false), infd__pte_null(n->m), g, g);
	return net_finish(n, linear(n, g, B, 128, 10, true));
}

/* attention (4 heads) and an MLP, each with a residual and a layer norm */
static struct infd_program *net_transformer(struct net *n)
{
	const int32_t T = 128, D = 256, H = 4, HD = 64, F = 1024;
	int32_t x = input(n, S(T, D));
	int32_t qkv[3];
	for (int i = 0; i < 3; i++) {
		int32_t lin = linear(n, x, T, D, D, true), v = tmp(n, S(T, H, HD)), p = tmp(n, S(H, T, HD));
		CALL(n, "aten::view_copy", "out", lin, L(n, T, H, HD), v, v);
		CALL(n, "aten::permute_copy", "out", v, L(n, 1, 0, 2), p, p);
		qkv[i] = p;
	}
	int32_t kt = tmp(n, S(H, HD, T)), s = tmp(n, S(H, T, T)), ss = tmp(n, S(H, T, T)), pr = tmp(n, S(H, T, T));
	CALL(n, "aten::transpose_copy", "int_out", qkv[1], infd__pte_int(n->m, 1), infd__pte_int(n->m, 2), kt, kt);
	CALL(n, "aten::bmm", "out", qkv[0], kt, s, s);
	CALL(n, "aten::mul", "Scalar_out", s, infd__pte_double(n->m, 1.0 / sqrt((double)HD)), ss, ss);
	CALL(n, "aten::_softmax", "out", ss, infd__pte_int(n->m, -1), infd__pte_bool(n->m, false), pr, pr);
	int32_t o = tmp(n, S(H, T, HD)), ot = tmp(n, S(T, H, HD)), of = tmp(n, S(T, D));
	CALL(n, "aten::bmm", "out", pr, qkv[2], o, o);
	CALL(n, "aten::permute_copy", "out", o, L(n, 1, 0, 2), ot, ot);
	CALL(n, "aten::view_copy", "out", ot, L(n, T, D), of, of);
	n->flops += 2.0 * 2.0 * H * T * T * HD;
	int32_t proj = linear(n, of, T, D, D, true), r1 = tmp(n, S(T, D));
	CALL(n, "aten::add", "out", x, proj, infd__pte_int(n->m, 1), r1, r1);
	int32_t n1 = layer_norm(n, r1, T, D);
	int32_t h = linear(n, n1, T, D, F, true), g = tmp(n, S(T, F));
	CALL(n, "aten::gelu", "out", h, infd__pte_string(n->m, "tanh"), g, g);
	int32_t m2 = linear(n, g, T, F, D, true), r2 = tmp(n, S(T, D));
	CALL(n, "aten::add", "out", n1, m2, infd__pte_int(n->m, 1), r2, r2);
	return net_finish(n, layer_norm(n, r2, T, D));
}

/* ---- Timing --------------------------------------------------------------------------- */

static struct infd_method *load(struct infd_runtime *rt, const struct infd_program *p, const char *dev,
				uint32_t *n_vk)
{
	const char *devs[] = {dev, "cpu"};
	struct infd_method_options opt = {.devices = devs, .n_devices = 2};
	struct infd_method *m = NULL;
	struct infd_error e = {0};
	if (infd__method_load(rt, p, "forward", &opt, &m, &e)) {
		fprintf(stderr, "bench_vulkan: load on %s: %s\n", dev, e.msg);
		return NULL;
	}
	*n_vk = 0;
	for (uint32_t k = 0; k < p->methods[0].chains[0].n_instrs; k++) {
		const char *w = infd__method_placement(m, 0, k);
		*n_vk += w && strcmp(w, "vulkan") == 0;
	}
	return m;
}

static void bind_random(struct infd_method *m)
{
	for (uint32_t i = 0; i < m->def->n_inputs; i++) {
		struct infd_tensor *t = infd__method_input(m, i)->u.t;
		float *v = t->data;
		rng = 0x1234 + i; /* the same inputs on both backends */
		for (uint64_t k = 0; k < t->numel; k++)
			v[k] = rnd();
		m->input_set[i] = true;
	}
}

/* Median seconds per run over runs filling ~0.4 s (at least 3, at most 50). */
static double time_runs(struct infd_method *m)
{
	struct infd_error e = {0};
	if (infd__method_execute(m, &e)) { /* warm-up */
		fprintf(stderr, "bench_vulkan: %s\n", e.msg);
		return -1;
	}
	double t[50];
	int n = 0;
	double start = now_s();
	while (n < 50 && (n < 3 || now_s() - start < 0.4)) {
		double t0 = now_s();
		infd__method_execute(m, &e);
		t[n++] = now_s() - t0;
	}
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
			double x = t[j];
			t[j] = t[j - 1];
			t[j - 1] = x;
		}
	return t[n / 2];
}

static double max_diff(struct infd_method *a, struct infd_method *b)
{
	const struct infd_tensor *x = infd__method_output(a, 0)->u.t, *y = infd__method_output(b, 0)->u.t;
	double d = 0;
	for (uint64_t k = 0; k < x->numel && k < y->numel; k++) {
		double e = fabs((double)((const float *)x->data)[k] - ((const float *)y->data)[k]);
		d = e > d ? e : d;
	}
	return d;
}

/* rt16: a runtime whose Vulkan backend stores activations as fp16, or NULL */
static void bench_one(struct infd_runtime *rt, struct infd_runtime *rt16, const char *name,
		      struct infd_program *(*build)(struct net *))
{
	struct net n;
	net_begin(&n);
	struct infd_program *p = build(&n);
	if (!p)
		return;
	uint32_t n_vk = 0, n_cpu;
	struct infd_method *mc = load(rt, p, "portable", &n_cpu), *mv = load(rt, p, "vulkan", &n_vk);
	if (mc && mv) {
		bind_random(mc);
		bind_random(mv);
		double tc = time_runs(mc), tv = time_runs(mv);
		uint32_t total = p->methods[0].chains[0].n_instrs;
		printf("%-22s portable %9.3f ms   vulkan %9.3f ms  (%5.2fx, %u/%u ops on vulkan, max |diff| %.2g)", name,
		       tc * 1e3, tv * 1e3, tv > 0 ? tc / tv : 0, n_vk, total, max_diff(mv, mc));
		if (n.flops > 0)
			printf("  %.2f / %.2f GFLOP/s", n.flops / tc * 1e-9, n.flops / tv * 1e-9);
		printf("\n");
		struct infd_method *mh = rt16 ? load(rt16, p, "vulkan", &n_vk) : NULL;
		if (mh) {
			bind_random(mh);
			double th = time_runs(mh);
			printf("%-22s %21s   fp16   %9.3f ms  (%5.2fx, %u/%u ops on vulkan, max |diff| %.2g)", "", "",
			       th * 1e3, th > 0 ? tc / th : 0, n_vk, total, max_diff(mh, mc));
			if (n.flops > 0)
				printf("  %.2f GFLOP/s", n.flops / th * 1e-9);
			printf("\n");
			infd__method_free(mh);
		}
	}
	infd__method_free(mc);
	infd__method_free(mv);
	infd__program_close(p);
}

/* Start the backend twice with the same cache directory: cold, then warm. */
static void bench_startup(const char *device, bool fp16)
{
	char dir[] = "/tmp/infd-vk-benchXXXXXX";
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return;
	}
	struct infd_backends_config cfg;
	infd__backends_config_default(&cfg);
	cfg.cache_dir = dir;
	cfg.vulkan_device = device;
	cfg.vulkan_software = true; /* lavapipe is measured too */
	cfg.vulkan_fp16 = fp16;
	for (int pass = 0; pass < 2; pass++) {
		struct infd_backend be;
		struct infd_error e = {0};
		double t0 = now_s();
		if (infd__backend_vulkan_create(NULL, &cfg, &be, &e)) {
			printf("vulkan start: %s\n", e.msg);
			break;
		}
		double t = now_s() - t0;
		struct infd_vulkan_stats st;
		infd__vulkan_stats(&be, &st);
		printf("vulkan start (%s%s cache): %.1f ms total, %u pipelines created in %.1f ms%s\n",
		       st.fp16 ? "fp16, " : "", pass ? "warm" : "cold", t * 1e3, st.n_pipelines, st.pipeline_ns / 1e6,
		       st.cache_loaded ? " (cache file used)" : "");
		be.ops->destroy(be.ctx);
	}
	char path[128];
	snprintf(path, sizeof path, "%s/vulkan-pipelines%s.bin", dir, fp16 ? "-fp16" : "");
	remove(path);
	rmdir(dir);
}

int main(int argc, char **argv)
{
	const char *device = argc > 1 && argv[1][0] ? argv[1] : NULL;
	const char *only = argc > 2 ? argv[2] : NULL;
	struct infd_runtime *rt;
	struct infd_error e = {0};
	if (infd__runtime_create(NULL, &rt, &e)) {
		fprintf(stderr, "bench_vulkan: %s\n", e.msg);
		return 1;
	}
	struct infd_backends_config cfg;
	infd__backends_config_default(&cfg);
	cfg.vulkan_device = device;
	cfg.vulkan_software = true;
	struct infd_backend be;
	if (infd__backend_vulkan_create(rt, &cfg, &be, &e)) {
		printf("bench_vulkan: no Vulkan backend (%s); nothing to compare\n", e.msg);
		infd__runtime_destroy(rt);
		return 0;
	}
	struct infd_device_info info;
	be.ops->probe(be.ctx, &info);
	infd__runtime_add_backend(rt, be);
	printf("devices: portable CPU kernels (1 thread) vs Vulkan '%s'\n", info.name);
	/* a second runtime whose Vulkan backend stores activations as fp16 */
	struct infd_runtime *rt16 = NULL;
	cfg.vulkan_fp16 = true;
	if (infd__runtime_create(NULL, &rt16, &e) == INFD_OK &&
	    infd__backend_vulkan_create(rt16, &cfg, &be, &e) == INFD_OK) {
		struct infd_vulkan_stats st;
		infd__vulkan_stats(&be, &st);
		be.ops->probe(be.ctx, &info);
		infd__runtime_add_backend(rt16, be);
		if (st.fp16) {
			printf("fp16 storage: Vulkan '%s', host conversion %s\n", info.name, st.conversion);
		} else {
			printf("fp16 storage: not on this device ('%s')\n", info.name);
			infd__runtime_destroy(rt16);
			rt16 = NULL;
		}
	} else if (rt16) {
		infd__runtime_destroy(rt16);
		rt16 = NULL;
	}
	bench_startup(device, false);
	if (rt16)
		bench_startup(device, true);
	static const struct {
		const char *name;
		struct infd_program *(*build)(struct net *);
	} cases[] = {
		{"relu 64 (per-run cost)", op_tiny},
		{"add bcast 64x56x56", op_add},
		{"gelu 256x1024", op_gelu},
		{"mm 256^3", op_mm},
		{"linear 128x512x512", op_linear},
		{"conv3x3 32->32 56^2", op_conv3x3},
		{"dwconv3x3 s2 64 56^2", op_dwconv},
		{"maxpool3x3 s2 64 56^2", op_maxpool},
		{"softmax 256x1024", op_softmax},
		{"layer_norm 256x768", op_layer_norm},
		{"permute 8x64x32x32", op_permute},
		{"net: small CNN b2 64^2", net_cnn},
		{"net: transformer T128", net_transformer},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (!only || strstr(cases[i].name, only))
			bench_one(rt, rt16, cases[i].name, cases[i].build);
	if (rt16)
		infd__runtime_destroy(rt16);
	infd__runtime_destroy(rt);
	return 0;
}
#endif
