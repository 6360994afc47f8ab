/* Conformance of the Vulkan backend (backends/vulkan): every operator it claims,
 * as a one-op program placed on "vulkan", against the same program on the
 * portable kernels, on random inputs of several shapes, with fp32 storage (suite
 * "vulkan") and again with fp16 storage (suite "vulkan_fp16"); programs split
 * between Vulkan and the CPU; weights on the device once for all sessions of a
 * program; the host fp32 <-> fp16 conversions; the pipeline
 * cache files; device choice by name and the refusal of a device that does not
 * exist. Skips only where no Vulkan device exists at all (no loader, or the
 * loader lists none). */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/backends.h"
#include "backends/factories.h"
#include "runtime/pte_writer.h"
#include "runtime/runtime.h"
#ifdef INFD_HAVE_VULKAN
#include "backends/vulkan/vk_half.h"
#include "backends/vulkan/vulkan_backend.h"
#endif

#ifndef INFD_HAVE_VULKAN
Test(vulkan, not_built)
{
	cr_skip_test("the Vulkan backend is not compiled in (no Vulkan headers, volk or glslc at build time)");
}
#else

/* ---- Backend set-up ---------------------------------------------------------------- */

static struct infd_runtime *rt;
static struct infd_backend vk;
static bool fp16_mode; /* the suite's backend stores activations as fp16 */

/* True when `msg` says that no Vulkan device exists at all. */
static bool no_device(const char *msg)
{
	return strstr(msg, "no Vulkan loader") || strstr(msg, "no Vulkan device found");
}

/* A Vulkan backend with config `cfg` (NULL: defaults); skips the test when the
 * machine has no Vulkan device at all, fails on any other error. */
static struct infd_backend vk_create(const struct infd_backends_config *cfg)
{
	struct infd_backends_config def;
	if (cfg)
		def = *cfg;
	else
		infd__backends_config_default(&def);
	def.vulkan_software = true; /* the tests run on lavapipe where there is no GPU */
	struct infd_backend be = {0};
	struct infd_error e = {0};
	infd_status st = infd__backend_vulkan_create(rt, &def, &be, &e);
	if (st != INFD_OK && no_device(e.msg))
		cr_skip_test("no Vulkan device on this machine: %s", e.msg);
	cr_assert_eq(st, INFD_OK, "vulkan backend: %s", e.msg);
	return be;
}

static void setup(void)
{
	struct infd_error e = {0};
	cr_assert_eq(infd__runtime_create(NULL, &rt, &e), INFD_OK, "runtime: %s", e.msg);
}

static void setup_vk(void)
{
	setup();
	vk = vk_create(NULL);
	cr_assert_eq(infd__runtime_add_backend(rt, vk), INFD_OK);
}

/* The same with vulkan_fp16; skips where the device lacks 16-bit storage
 * (vulkan_device.fp16_option checks that fallback). */
static void setup_vk_fp16(void)
{
	setup();
	struct infd_backends_config cfg;
	infd__backends_config_default(&cfg);
	cfg.vulkan_fp16 = true;
	vk = vk_create(&cfg);
	struct infd_vulkan_stats st;
	cr_assert(infd__vulkan_stats(&vk, &st));
	if (!st.fp16) {
		vk.ops->destroy(vk.ctx);
		cr_skip_test("'%s' has no 16-bit storage buffers; fp16 runs as fp32 there", st.device);
	}
	fp16_mode = true;
	cr_assert_eq(infd__runtime_add_backend(rt, vk), INFD_OK);
}

static void teardown(void)
{
	infd__runtime_destroy(rt);
	rt = NULL;
}

TestSuite(vulkan, .init = setup_vk, .fini = teardown, .timeout = 60);
TestSuite(vulkan_fp16, .init = setup_vk_fp16, .fini = teardown, .timeout = 60);
TestSuite(vulkan_device, .init = setup, .fini = teardown, .timeout = 60);

/* An operator case run in both storage modes. */
#define CONFORMANCE(name)                                                                                  \
	static void case_##name(void);                                                                     \
	Test(vulkan, name)                                                                                 \
	{                                                                                                  \
		case_##name();                                                                             \
	}                                                                                                  \
	Test(vulkan_fp16, name)                                                                            \
	{                                                                                                  \
		case_##name();                                                                             \
	}                                                                                                  \
	static void case_##name(void)

/* ---- One-op (and small) programs run on both backends --------------------------------- */

static uint64_t rng = 0x243f6a8885a308d3ull;

static double rnd_uniform(double lo, double hi)
{
	rng = rng * 6364136223846793005ull + 1442695040888963407ull;
	return lo + (hi - lo) * (double)(rng >> 11) / 9007199254740992.0;
}

#define MAX_IO 8
struct prog {
	struct infd_pte_writer *w;
	struct infd_pte_method *m;
	uint32_t n_in, n_out;
	int32_t in[MAX_IO], out[MAX_IO];
	uint32_t in_rank[MAX_IO];
	int32_t in_sizes[MAX_IO][8];
	double lo[MAX_IO], hi[MAX_IO];
	const char *what;
};

static void prog_begin(struct prog *p, const char *what)
{
	memset(p, 0, sizeof *p);
	p->what = what;
	p->w = infd__pte_writer_create(NULL);
	cr_assert_not_null(p->w);
	p->m = infd__pte_method(p->w, "forward");
}

static uint64_t numel(uint32_t rank, const int32_t *sizes)
{
	uint64_t n = 1;
	for (uint32_t d = 0; d < rank; d++)
		n *= (uint64_t)sizes[d];
	return n;
}

/* A float32 input with values uniform in [lo, hi]. */
static int32_t in_range(struct prog *p, uint32_t rank, const int32_t *sizes, double lo, double hi)
{
	cr_assert_lt(p->n_in, MAX_IO);
	int32_t v = infd__pte_planned(p->m, INFD_DTYPE_FLOAT32, rank, sizes);
	p->in[p->n_in] = v;
	p->in_rank[p->n_in] = rank;
	memcpy(p->in_sizes[p->n_in], sizes, rank * sizeof *sizes);
	p->lo[p->n_in] = lo;
	p->hi[p->n_in] = hi;
	p->n_in++;
	return v;
}

static int32_t in_t(struct prog *p, uint32_t rank, const int32_t *sizes)
{
	return in_range(p, rank, sizes, -2.0, 2.0);
}

/* A constant float32 tensor of random values in [-1, 1]. */
static int32_t const_t(struct prog *p, uint32_t rank, const int32_t *sizes)
{
	uint64_t n = numel(rank, sizes);
	float *v = malloc((n ? n : 1) * sizeof *v);
	for (uint64_t k = 0; k < n; k++)
		v[k] = (float)rnd_uniform(-1, 1);
	int32_t t = infd__pte_const_tensor(p->m, INFD_DTYPE_FLOAT32, rank, sizes, v);
	free(v);
	return t;
}

/* A planned tensor (an op's out, or an intermediate). */
static int32_t tmp_t(struct prog *p, uint32_t rank, const int32_t *sizes)
{
	return infd__pte_planned(p->m, INFD_DTYPE_FLOAT32, rank, sizes);
}

static int32_t out_t(struct prog *p, uint32_t rank, const int32_t *sizes)
{
	int32_t v = tmp_t(p, rank, sizes);
	p->out[p->n_out++] = v;
	return v;
}

#define SZ(...) (uint32_t)(sizeof((int32_t[]){__VA_ARGS__}) / sizeof(int32_t)), ((const int32_t[]){__VA_ARGS__})
#define IL(...)                                                                                            \
	infd__pte_int_list(p.m, (uint32_t)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)),            \
			   (const int64_t[]){__VA_ARGS__})
#define CALL(p, name, overload, ...)                                                                       \
	infd__pte_call((p)->m, name, overload, (uint32_t)(sizeof((int32_t[]){__VA_ARGS__}) / sizeof(int32_t)), \
		       (const int32_t[]){__VA_ARGS__})

static struct infd_program *prog_finish(struct prog *p)
{
	infd__pte_inputs(p->m, p->n_in, p->in);
	infd__pte_outputs(p->m, p->n_out, p->out);
	uint8_t *data = NULL;
	size_t size = 0;
	struct infd_error e = {0};
	infd_status st = infd__pte_writer_finish(p->w, &data, &size, &e);
	infd__pte_writer_destroy(p->w);
	cr_assert_eq(st, INFD_OK, "%s: writer: %s", p->what, e.msg);
	struct infd_program *prog = NULL;
	st = infd__program_open_copy(data, size, &prog, &e);
	free(data);
	cr_assert_eq(st, INFD_OK, "%s: reader: %s", p->what, e.msg);
	return prog;
}

static struct infd_method *load_on(const struct infd_program *prog, const char *const *devices, uint32_t n,
				   const char *what)
{
	struct infd_method_options opt = {.devices = devices, .n_devices = n};
	struct infd_method *m = NULL;
	struct infd_error e = {0};
	infd_status st = infd__method_load(rt, prog, "forward", &opt, &m, &e);
	cr_assert_eq(st, INFD_OK, "%s: load on %s: %s", what, devices[0], e.msg);
	return m;
}

static void bind_inputs(struct prog *p, struct infd_method *a, struct infd_method *b)
{
	for (uint32_t i = 0; i < p->n_in; i++) {
		uint64_t n = numel(p->in_rank[i], p->in_sizes[i]);
		float *v = malloc((n ? n : 1) * sizeof *v);
		for (uint64_t k = 0; k < n; k++)
			v[k] = (float)rnd_uniform(p->lo[i], p->hi[i]);
		if (fp16_mode) {
			/* inputs fp16 holds exactly: a one-op program then differs from the
			 * reference only by the rounding of its result (and ties in max
			 * pooling stay ties); the conversion itself is tested apart */
			uint16_t *h = malloc((n ? n : 1) * sizeof *h);
			infd__vk_f32_to_f16_portable(h, v, n);
			infd__vk_f16_to_f32_portable(v, h, n);
			free(h);
		}
		struct infd_error e = {0};
		cr_assert_eq(infd__method_set_input_tensor(a, i, INFD_DTYPE_FLOAT32, p->in_rank[i], p->in_sizes[i], v,
							   n * sizeof *v, &e),
			     INFD_OK, "%s: input %u: %s", p->what, i, e.msg);
		cr_assert_eq(infd__method_set_input_tensor(b, i, INFD_DTYPE_FLOAT32, p->in_rank[i], p->in_sizes[i], v,
							   n * sizeof *v, &e),
			     INFD_OK, "%s: input %u: %s", p->what, i, e.msg);
		free(v);
	}
}

static void compare(const struct prog *p, struct infd_method *got, struct infd_method *want, double rtol,
		    double atol)
{
	for (uint32_t i = 0; i < p->n_out; i++) {
		const struct infd_tensor *g = infd__method_output(got, i)->u.t, *w = infd__method_output(want, i)->u.t;
		cr_assert_eq(g->numel, w->numel, "%s: output %u has %llu elements, expected %llu", p->what, i,
			     (unsigned long long)g->numel, (unsigned long long)w->numel);
		cr_assert_eq(g->dtype, w->dtype);
		double rt_i = rtol, at_i = atol;
		if (fp16_mode && w->dtype == INFD_DTYPE_FLOAT32) {
			/* results rounded to 11 significant bits (relative 4.9e-4), and
			 * intermediates of several-op programs too, whose error then
			 * scales with the size of the values: relative 2e-3, plus 1e-3
			 * of the output's largest magnitude */
			double mag = 0;
			for (uint64_t k = 0; k < w->numel; k++)
				mag = fmax(mag, fabs(((const float *)w->data)[k]));
			rt_i = fmax(rtol, 2e-3);
			at_i = fmax(atol, 1e-3 * mag);
		}
		for (uint64_t k = 0; k < w->numel; k++) {
			if (w->dtype == INFD_DTYPE_INT64) {
				int64_t a = ((const int64_t *)g->data)[k], b = ((const int64_t *)w->data)[k];
				cr_assert_eq(a, b, "%s: output %u element %llu: %lld, expected %lld", p->what, i,
					     (unsigned long long)k, (long long)a, (long long)b);
				continue;
			}
			double a = ((const float *)g->data)[k], b = ((const float *)w->data)[k];
			cr_assert(fabs(a - b) <= at_i + rt_i * fabs(b) || (isnan(a) && isnan(b)),
				  "%s: output %u element %llu: %.9g, expected %.9g", p->what, i, (unsigned long long)k, a,
				  b);
		}
	}
}

/* Run the program on Vulkan (every kernel instruction must be placed there,
 * unless `placement` lists the expected backend of each) and on the portable
 * kernels, twice with fresh random inputs, and compare. */
static void run_check_placed(struct prog *p, double rtol, double atol, const char *const *placement)
{
	struct infd_program *prog = prog_finish(p);
	static const char *const on_vk[] = {"vulkan", "cpu"}, *const on_cpu[] = {"portable"};
	struct infd_method *a = load_on(prog, on_vk, 2, p->what), *b = load_on(prog, on_cpu, 1, p->what);
	const struct infd_chain_def *ch = &prog->methods[0].chains[0];
	for (uint32_t k = 0; k < ch->n_instrs; k++) {
		const char *where = infd__method_placement(a, 0, k);
		const char *want = placement ? placement[k] : "vulkan";
		cr_assert(where && strcmp(where, want) == 0, "%s: instruction %u (%s) placed on %s, expected %s", p->what,
			  k, prog->methods[0].operators[ch->instrs[k].a].key, where ? where : "(none)", want);
		cr_assert_str_eq(infd__method_placement(b, 0, k), "portable");
	}
	for (int run = 0; run < 2; run++) {
		bind_inputs(p, a, b);
		struct infd_error e = {0};
		cr_assert_eq(infd__method_execute(a, &e), INFD_OK, "%s: vulkan run: %s", p->what, e.msg);
		cr_assert_eq(infd__method_execute(b, &e), INFD_OK, "%s: portable run: %s", p->what, e.msg);
		compare(p, a, b, rtol, atol);
	}
	infd__method_free(a);
	infd__method_free(b);
	infd__program_close(prog);
}

static void run_check(struct prog *p, double rtol, double atol)
{
	run_check_placed(p, rtol, atol, NULL);
}

/* ---- Elementwise ------------------------------------------------------------------------- */

struct bshape {
	uint32_t ra, rb, ro;
	int32_t a[4], b[4], o[4];
};

static const struct bshape bshapes[] = {
	{2, 2, 2, {3, 5}, {3, 5}, {3, 5}},
	{3, 1, 3, {2, 3, 4}, {4}, {2, 3, 4}},
	{3, 2, 3, {2, 1, 4}, {3, 1}, {2, 3, 4}},
	{1, 2, 2, {1}, {5, 6}, {5, 6}},
	{4, 4, 4, {4, 1, 1, 3}, {1, 5, 2, 1}, {4, 5, 2, 3}},
	{0, 2, 2, {0}, {3, 4}, {3, 4}},
	{1, 1, 1, {1000}, {1000}, {1000}},
};

CONFORMANCE(binary_tensor)
{
	static const struct {
		const char *name;
		bool alpha;
		double lo;
	} ops[] = {{"aten::add", true, -2}, {"aten::sub", true, -2}, {"aten::mul", false, -2}, {"aten::div", false, 0.5}};
	for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++)
		for (size_t s = 0; s < sizeof bshapes / sizeof bshapes[0]; s++) {
			const struct bshape *sh = &bshapes[s];
			char what[96];
			snprintf(what, sizeof what, "%s.out shape case %zu", ops[o].name, s);
			struct prog p;
			prog_begin(&p, what);
			int32_t a = in_t(&p, sh->ra, sh->a), b = in_range(&p, sh->rb, sh->b, ops[o].lo, 2.0);
			int32_t y = out_t(&p, sh->ro, sh->o);
			if (ops[o].alpha)
				CALL(&p, ops[o].name, "out", a, b, s % 2 ? infd__pte_int(p.m, 2) : infd__pte_double(p.m, 0.5), y,
				     y);
			else
				CALL(&p, ops[o].name, "out", a, b, y, y);
			run_check(&p, 1e-6, 1e-6);
		}
}

CONFORMANCE(binary_scalar)
{
	static const char *names[] = {"aten::add", "aten::sub", "aten::mul", "aten::div"};
	for (int o = 0; o < 4; o++) {
		struct prog p;
		prog_begin(&p, names[o]);
		int32_t a = in_t(&p, SZ(4, 9)), y = out_t(&p, SZ(4, 9));
		int32_t s = infd__pte_double(p.m, o == 3 ? 4.0 : 1.5);
		if (o < 2)
			CALL(&p, names[o], "Scalar_out", a, s, infd__pte_int(p.m, 2), y, y);
		else
			CALL(&p, names[o], "Scalar_out", a, s, y, y);
		run_check(&p, 1e-6, 1e-6);
	}
}

CONFORMANCE(unary)
{
	static const char *names[] = {"aten::relu", "aten::sigmoid", "aten::tanh", "aten::silu", "aten::hardswish"};
	static const struct {
		uint32_t r;
		int32_t s[3];
	} shapes[] = {{2, {7, 33}}, {1, {1000}}, {3, {2, 1, 5}}};
	for (int o = 0; o < 5; o++)
		for (int s = 0; s < 3; s++) {
			struct prog p;
			prog_begin(&p, names[o]);
			int32_t a = in_range(&p, shapes[s].r, shapes[s].s, -6, 6), y = out_t(&p, shapes[s].r, shapes[s].s);
			CALL(&p, names[o], "out", a, y, y);
			run_check(&p, 1e-5, 1e-6);
		}
	for (int approx = 0; approx < 2; approx++) {
		struct prog p;
		prog_begin(&p, approx ? "gelu tanh" : "gelu none");
		int32_t a = in_range(&p, SZ(5, 40), -6, 6), y = out_t(&p, SZ(5, 40));
		CALL(&p, "aten::gelu", "out", a, infd__pte_string(p.m, approx ? "tanh" : "none"), y, y);
		run_check(&p, 1e-5, 1e-6);
	}
}

CONFORMANCE(clamp_family)
{
	struct prog p;
	prog_begin(&p, "hardtanh");
	int32_t a = in_t(&p, SZ(6, 7)), y = out_t(&p, SZ(6, 7));
	CALL(&p, "aten::hardtanh", "out", a, infd__pte_double(p.m, -1), infd__pte_double(p.m, 1), y, y);
	run_check(&p, 0, 0);
	static const double lims[3][2] = {{-0.5, NAN}, {NAN, 0.7}, {-0.3, 0.4}};
	for (int k = 0; k < 3; k++) {
		prog_begin(&p, "clamp");
		a = in_t(&p, SZ(3, 50));
		y = out_t(&p, SZ(3, 50));
		int32_t lo = isnan(lims[k][0]) ? infd__pte_null(p.m) : infd__pte_double(p.m, lims[k][0]);
		int32_t hi = isnan(lims[k][1]) ? infd__pte_null(p.m) : infd__pte_double(p.m, lims[k][1]);
		CALL(&p, "aten::clamp", "out", a, lo, hi, y, y);
		run_check(&p, 0, 0);
	}
}

/* ---- Matrix products -------------------------------------------------------------------- */

static double gemm_tol(int32_t k)
{
	return 2e-6 * (k + 4);
}

CONFORMANCE(mm_bmm)
{
	static const int32_t shapes[][3] = {{1, 1, 1}, {7, 13, 17}, {64, 64, 64}, {65, 33, 70}, {3, 200, 5}, {130, 9, 1}};
	for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
		int32_t m = shapes[i][0], k = shapes[i][1], n = shapes[i][2];
		struct prog p;
		prog_begin(&p, "mm");
		int32_t a = in_range(&p, SZ(m, k), -1, 1), b = i % 2 ? const_t(&p, SZ(k, n)) : in_range(&p, SZ(k, n), -1, 1);
		int32_t y = out_t(&p, SZ(m, n));
		CALL(&p, "aten::mm", "out", a, b, y, y);
		run_check(&p, 1e-5, gemm_tol(k));
	}
	struct prog p;
	prog_begin(&p, "bmm");
	int32_t a = in_range(&p, SZ(3, 17, 9), -1, 1), b = in_range(&p, SZ(3, 9, 31), -1, 1);
	int32_t y = out_t(&p, SZ(3, 17, 31));
	CALL(&p, "aten::bmm", "out", a, b, y, y);
	run_check(&p, 1e-5, gemm_tol(9));
}

CONFORMANCE(addmm_linear)
{
	static const struct {
		uint32_t r;
		int32_t s[2];
	} selfs[] = {{1, {23}}, {2, {19, 23}}, {2, {1, 23}}, {2, {19, 1}}, {0, {0}}};
	for (size_t i = 0; i < sizeof selfs / sizeof selfs[0]; i++) {
		struct prog p;
		prog_begin(&p, "addmm");
		int32_t c = in_range(&p, selfs[i].r, selfs[i].s, -1, 1);
		int32_t a = in_range(&p, SZ(19, 11), -1, 1), b = const_t(&p, SZ(11, 23)), y = out_t(&p, SZ(19, 23));
		CALL(&p, "aten::addmm", "out", c, a, b, infd__pte_double(p.m, 0.5), infd__pte_int(p.m, 2), y, y);
		run_check(&p, 1e-5, gemm_tol(11) * 2);
	}
	struct prog p;
	prog_begin(&p, "linear with bias");
	int32_t x = in_range(&p, SZ(5, 7), -1, 1), w = const_t(&p, SZ(9, 7)), bias = const_t(&p, SZ(9));
	int32_t y = out_t(&p, SZ(5, 9));
	CALL(&p, "aten::linear", "out", x, w, bias, y, y);
	run_check(&p, 1e-5, gemm_tol(7));
	prog_begin(&p, "linear rank 3, no bias");
	x = in_range(&p, SZ(2, 3, 70), -1, 1);
	w = const_t(&p, SZ(66, 70));
	y = out_t(&p, SZ(2, 3, 66));
	CALL(&p, "aten::linear", "out", x, w, infd__pte_null(p.m), y, y);
	run_check(&p, 1e-5, gemm_tol(70));
}

/* ---- Convolution and pooling ---------------------------------------------------------------- */

struct conv_case {
	const char *what;
	uint32_t rank;
	int32_t x[4], w[4], y[4];
	int64_t s[2], pad[2], dil[2], groups;
	bool bias;
};

CONFORMANCE(convolution)
{
	static const struct conv_case cases[] = {
		{"3x3 same", 4, {1, 3, 8, 8}, {8, 3, 3, 3}, {1, 8, 8, 8}, {1, 1}, {1, 1}, {1, 1}, 1, true},
		{"grouped strided dilated", 4, {2, 4, 9, 7}, {6, 2, 3, 2}, {2, 6, 5, 5}, {2, 1}, {1, 0}, {1, 2}, 2, false},
		{"depthwise", 4, {1, 8, 10, 10}, {8, 1, 3, 3}, {1, 8, 5, 5}, {2, 2}, {1, 1}, {1, 1}, 8, true},
		{"1x1", 4, {2, 16, 5, 6}, {12, 16, 1, 1}, {2, 12, 5, 6}, {1, 1}, {0, 0}, {1, 1}, 1, true},
		{"1-d", 3, {2, 4, 20}, {8, 4, 5}, {2, 8, 10}, {2, 2}, {2, 2}, {1, 1}, 1, true},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct conv_case *c = &cases[i];
		uint32_t nd = c->rank - 2;
		struct prog p;
		prog_begin(&p, c->what);
		int32_t x = in_range(&p, c->rank, c->x, -1, 1), w = const_t(&p, c->rank, c->w);
		int32_t b = c->bias ? const_t(&p, SZ(c->w[0])) : infd__pte_null(p.m);
		int32_t y = out_t(&p, c->rank, c->y);
		int64_t zero[2] = {0, 0};
		int32_t s = infd__pte_int_list(p.m, nd, c->s), pad = infd__pte_int_list(p.m, nd, c->pad);
		int32_t dil = infd__pte_int_list(p.m, nd, c->dil), opad = infd__pte_int_list(p.m, nd, zero);
		CALL(&p, "aten::convolution", "out", x, w, b, s, pad, dil, infd__pte_bool(p.m, false), opad,
		     infd__pte_int(p.m, c->groups), y, y);
		run_check(&p, 1e-5, 1e-5);
	}
}

CONFORMANCE(pooling)
{
	/* max: [self, kernel, stride, padding, dilation, ceil_mode, out, indices, ret] */
	static const struct {
		uint32_t r;
		int32_t x[4], y[4];
		int64_t k, s, pad, dil;
		bool ceil;
	} maxc[] = {
		{4, {1, 3, 9, 9}, {1, 3, 5, 5}, 3, 2, 1, 1, false},
		{4, {2, 2, 10, 11}, {2, 2, 5, 5}, 3, 2, 1, 2, true},
		{3, {3, 8, 8}, {3, 4, 4}, 2, 2, 0, 1, false},
	};
	for (size_t i = 0; i < sizeof maxc / sizeof maxc[0]; i++) {
		struct prog p;
		prog_begin(&p, "max_pool2d_with_indices");
		int32_t x = in_t(&p, maxc[i].r, maxc[i].x), y = out_t(&p, maxc[i].r, maxc[i].y);
		int32_t ind = infd__pte_planned(p.m, INFD_DTYPE_INT64, maxc[i].r, maxc[i].y);
		p.out[p.n_out++] = ind;
		int32_t ret = infd__pte_tensor_list(p.m, 2, (const int32_t[]){y, ind});
		CALL(&p, "aten::max_pool2d_with_indices", "out", x, IL(maxc[i].k), IL(maxc[i].s), IL(maxc[i].pad),
		     IL(maxc[i].dil), infd__pte_bool(p.m, maxc[i].ceil), y, ind, ret);
		run_check(&p, 0, 0);
	}
	/* avg: [self, kernel, stride, padding, ceil_mode, count_include_pad, divisor?, out, ret] */
	static const struct {
		int32_t y[4];
		bool ceil, count_pad;
		int64_t divisor;
	} avgc[] = {
		{{2, 3, 4, 4}, false, true, 0},
		{{2, 3, 4, 4}, false, false, 0},
		{{2, 3, 4, 4}, false, true, 5},
		{{2, 3, 5, 4}, true, false, 0},
	};
	for (size_t i = 0; i < sizeof avgc / sizeof avgc[0]; i++) {
		struct prog p;
		prog_begin(&p, "avg_pool2d");
		int32_t x = in_t(&p, SZ(2, 3, 8, 7)), y = out_t(&p, 4, avgc[i].y);
		int32_t div = avgc[i].divisor ? infd__pte_int(p.m, avgc[i].divisor) : infd__pte_null(p.m);
		CALL(&p, "aten::avg_pool2d", "out", x, IL(3, 2), IL(2, 2), IL(1, 1), infd__pte_bool(p.m, avgc[i].ceil),
		     infd__pte_bool(p.m, avgc[i].count_pad), div, y, y);
		run_check(&p, 1e-6, 1e-6);
	}
}

/* ---- Reductions and normalizations ------------------------------------------------------- */

CONFORMANCE(mean)
{
	struct prog p;
	prog_begin(&p, "mean last, keepdim");
	int32_t x = in_t(&p, SZ(2, 3, 4, 5)), y = out_t(&p, SZ(2, 3, 4, 1));
	CALL(&p, "aten::mean", "out", x, IL(-1), infd__pte_bool(p.m, true), infd__pte_null(p.m), y, y);
	run_check(&p, 1e-5, 1e-6);
	prog_begin(&p, "mean over H, W");
	x = in_t(&p, SZ(2, 3, 4, 5));
	y = out_t(&p, SZ(2, 3));
	CALL(&p, "aten::mean", "out", x, IL(2, 3), infd__pte_bool(p.m, false), infd__pte_null(p.m), y, y);
	run_check(&p, 1e-5, 1e-6);
	prog_begin(&p, "mean over 0, 2");
	x = in_t(&p, SZ(6, 3, 70));
	y = out_t(&p, SZ(3));
	CALL(&p, "aten::mean", "out", x, IL(0, 2), infd__pte_bool(p.m, false), infd__pte_null(p.m), y, y);
	run_check(&p, 1e-5, 1e-6);
	prog_begin(&p, "mean over all");
	x = in_t(&p, SZ(33, 31));
	y = out_t(&p, 0, NULL);
	CALL(&p, "aten::mean", "out", x, infd__pte_null(p.m), infd__pte_bool(p.m, false), infd__pte_null(p.m), y, y);
	run_check(&p, 1e-5, 1e-6);
}

CONFORMANCE(softmax)
{
	static const struct {
		uint32_t r;
		int32_t s[3];
		int64_t dim;
	} cases[] = {{2, {4, 37}, -1}, {3, {2, 5, 3}, 1}, {2, {3, 300}, 1}, {1, {1}, 0}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct prog p;
		prog_begin(&p, "_softmax");
		int32_t x = in_range(&p, cases[i].r, cases[i].s, -5, 5), y = out_t(&p, cases[i].r, cases[i].s);
		CALL(&p, "aten::_softmax", "out", x, infd__pte_int(p.m, cases[i].dim), infd__pte_bool(p.m, false), y, y);
		run_check(&p, 1e-5, 1e-7);
	}
}

CONFORMANCE(layer_norm)
{
	for (int k = 0; k < 2; k++) {
		struct prog p;
		prog_begin(&p, k ? "layer norm over 2 dims, no affine" : "layer norm with weight and bias");
		int32_t x, w, b, y, mean, rstd;
		if (k == 0) {
			x = in_t(&p, SZ(4, 10));
			w = const_t(&p, SZ(10));
			b = const_t(&p, SZ(10));
			y = out_t(&p, SZ(4, 10));
			mean = out_t(&p, SZ(4, 1));
			rstd = out_t(&p, SZ(4, 1));
		} else {
			x = in_t(&p, SZ(2, 3, 200));
			w = infd__pte_null(p.m);
			b = infd__pte_null(p.m);
			y = out_t(&p, SZ(2, 3, 200));
			mean = out_t(&p, SZ(2, 1, 1));
			rstd = out_t(&p, SZ(2, 1, 1));
		}
		int32_t ret = infd__pte_tensor_list(p.m, 3, (const int32_t[]){y, mean, rstd});
		int32_t shape = k ? IL(3, 200) : IL(10);
		CALL(&p, "aten::native_layer_norm", "out", x, shape, w, b, infd__pte_double(p.m, 1e-5), y, mean, rstd, ret);
		run_check(&p, 1e-4, 1e-5);
	}
}

/* ---- Copy / view family ------------------------------------------------------------------- */

CONFORMANCE(views_and_copies)
{
	struct prog p;
	int32_t x, y;
	prog_begin(&p, "view_copy");
	x = in_t(&p, SZ(2, 3, 4));
	y = out_t(&p, SZ(6, 4));
	CALL(&p, "aten::view_copy", "out", x, IL(6, -1), y, y);
	run_check(&p, 0, 0);
	prog_begin(&p, "unsqueeze_copy");
	x = in_t(&p, SZ(2, 3));
	y = out_t(&p, SZ(2, 1, 3));
	CALL(&p, "aten::unsqueeze_copy", "out", x, infd__pte_int(p.m, 1), y, y);
	run_check(&p, 0, 0);
	prog_begin(&p, "squeeze_copy.dim");
	x = in_t(&p, SZ(2, 1, 3));
	y = out_t(&p, SZ(2, 3));
	CALL(&p, "aten::squeeze_copy", "dim_out", x, infd__pte_int(p.m, -2), y, y);
	run_check(&p, 0, 0);
	prog_begin(&p, "squeeze_copy.dims");
	x = in_t(&p, SZ(1, 4, 1, 3));
	y = out_t(&p, SZ(4, 3));
	CALL(&p, "aten::squeeze_copy", "dims_out", x, IL(0, 2), y, y);
	run_check(&p, 0, 0);
	prog_begin(&p, "squeeze_copy");
	x = in_t(&p, SZ(1, 4, 1, 3));
	y = out_t(&p, SZ(4, 3));
	CALL(&p, "aten::squeeze_copy", "out", x, y, y);
	run_check(&p, 0, 0);
	prog_begin(&p, "clone");
	x = in_t(&p, SZ(5, 3));
	y = out_t(&p, SZ(5, 3));
	CALL(&p, "aten::clone", "out", x, infd__pte_null(p.m), y, y);
	run_check(&p, 0, 0);
	prog_begin(&p, "permute_copy");
	x = in_t(&p, SZ(2, 3, 4, 5));
	y = out_t(&p, SZ(5, 3, 2, 4));
	CALL(&p, "aten::permute_copy", "out", x, IL(3, 1, 0, 2), y, y);
	run_check(&p, 0, 0);
	prog_begin(&p, "transpose_copy");
	x = in_t(&p, SZ(2, 3, 4));
	y = out_t(&p, SZ(4, 3, 2));
	CALL(&p, "aten::transpose_copy", "int_out", x, infd__pte_int(p.m, 0), infd__pte_int(p.m, -1), y, y);
	run_check(&p, 0, 0);
	prog_begin(&p, "t_copy");
	x = in_t(&p, SZ(7, 3));
	y = out_t(&p, SZ(3, 7));
	CALL(&p, "aten::t_copy", "out", x, y, y);
	run_check(&p, 0, 0);
}

CONFORMANCE(cat_and_slice)
{
	struct prog p;
	prog_begin(&p, "cat dim 1");
	int32_t a = in_t(&p, SZ(2, 3, 4)), b = in_t(&p, SZ(2, 1, 4)), c = in_t(&p, SZ(2, 5, 4));
	int32_t y = out_t(&p, SZ(2, 9, 4));
	CALL(&p, "aten::cat", "out", infd__pte_tensor_list(p.m, 3, (const int32_t[]){a, b, c}), infd__pte_int(p.m, 1), y, y);
	run_check(&p, 0, 0);
	prog_begin(&p, "cat dim -1");
	a = in_t(&p, SZ(3, 2));
	b = in_t(&p, SZ(3, 5));
	y = out_t(&p, SZ(3, 7));
	CALL(&p, "aten::cat", "out", infd__pte_tensor_list(p.m, 2, (const int32_t[]){a, b}), infd__pte_int(p.m, -1), y, y);
	run_check(&p, 0, 0);
	prog_begin(&p, "slice step 2");
	a = in_t(&p, SZ(3, 10, 2));
	y = out_t(&p, SZ(3, 4, 2));
	CALL(&p, "aten::slice_copy", "Tensor_out", a, infd__pte_int(p.m, 1), infd__pte_int(p.m, 1), infd__pte_int(p.m, -1),
	     infd__pte_int(p.m, 2), y, y);
	run_check(&p, 0, 0);
	prog_begin(&p, "slice open end");
	a = in_t(&p, SZ(6, 5));
	y = out_t(&p, SZ(4, 5));
	CALL(&p, "aten::slice_copy", "Tensor_out", a, infd__pte_int(p.m, 0), infd__pte_int(p.m, -4), infd__pte_null(p.m),
	     infd__pte_int(p.m, 1), y, y);
	run_check(&p, 0, 0);
}

/* ---- Programs of several ops ------------------------------------------------------------- */

CONFORMANCE(split_with_cpu)
{
	/* add (vulkan) -> exp (not claimed: portable) -> mul, relu (vulkan) */
	struct prog p;
	prog_begin(&p, "vulkan / cpu / vulkan");
	int32_t x = in_t(&p, SZ(4, 6)), c = const_t(&p, SZ(6));
	int32_t t1 = tmp_t(&p, SZ(4, 6)), t2 = tmp_t(&p, SZ(4, 6)), t3 = tmp_t(&p, SZ(4, 6)), y = out_t(&p, SZ(4, 6));
	CALL(&p, "aten::add", "out", x, c, infd__pte_int(p.m, 1), t1, t1);
	CALL(&p, "aten::exp", "out", t1, t2, t2);
	CALL(&p, "aten::mul", "Scalar_out", t2, infd__pte_double(p.m, 0.25), t3, t3);
	CALL(&p, "aten::relu", "out", t3, y, y);
	static const char *const placed[] = {"vulkan", "portable", "vulkan", "vulkan"};
	run_check_placed(&p, 1e-5, 1e-6, placed);
}

CONFORMANCE(mlp_block)
{
	/* linear -> gelu -> linear -> + residual -> layer norm -> softmax; the
	 * first linear's result is also a method output (it escapes mid-partition) */
	struct prog p;
	prog_begin(&p, "mlp block");
	int32_t x = in_range(&p, SZ(8, 32), -1, 1);
	int32_t w1 = const_t(&p, SZ(64, 32)), b1 = const_t(&p, SZ(64)), w2 = const_t(&p, SZ(32, 64));
	int32_t h = out_t(&p, SZ(8, 64)), g = tmp_t(&p, SZ(8, 64)), o = tmp_t(&p, SZ(8, 32)), r = tmp_t(&p, SZ(8, 32));
	int32_t n = tmp_t(&p, SZ(8, 32)), mean = tmp_t(&p, SZ(8, 1)), rstd = tmp_t(&p, SZ(8, 1)), y = out_t(&p, SZ(8, 32));
	CALL(&p, "aten::linear", "out", x, w1, b1, h, h);
	CALL(&p, "aten::gelu", "out", h, infd__pte_string(p.m, "none"), g, g);
	CALL(&p, "aten::linear", "out", g, w2, infd__pte_null(p.m), o, o);
	CALL(&p, "aten::add", "out", o, x, infd__pte_int(p.m, 1), r, r);
	int32_t ret = infd__pte_tensor_list(p.m, 3, (const int32_t[]){n, mean, rstd});
	CALL(&p, "aten::native_layer_norm", "out", r, IL(32), infd__pte_null(p.m), infd__pte_null(p.m),
	     infd__pte_double(p.m, 1e-5), n, mean, rstd, ret);
	CALL(&p, "aten::_softmax", "out", n, infd__pte_int(p.m, -1), infd__pte_bool(p.m, false), y, y);
	run_check(&p, 1e-4, 1e-5);
}

/* ---- Constants shared by the sessions of a model ---------------------------------------- */

/* x [4, 256] -> linear (W1 [128, 256], b1 [128]) -> relu -> linear (W2 [32, 128]):
 * 147,968 bytes of fp32 weights in three constants, one Vulkan partition. */
#define SH_ROWS 4
#define SH_IN 256
#define SH_HID 128
#define SH_OUT 32
#define SH_BYTES ((uint64_t)4 * (SH_HID * SH_IN + SH_HID + SH_OUT * SH_HID))

static struct infd_program *shared_prog(struct prog *p, const char *what)
{
	prog_begin(p, what);
	int32_t x = in_range(p, SZ(SH_ROWS, SH_IN), -1, 1);
	int32_t w1 = const_t(p, SZ(SH_HID, SH_IN)), b1 = const_t(p, SZ(SH_HID)), w2 = const_t(p, SZ(SH_OUT, SH_HID));
	int32_t h = tmp_t(p, SZ(SH_ROWS, SH_HID)), r = tmp_t(p, SZ(SH_ROWS, SH_HID));
	int32_t y = out_t(p, SZ(SH_ROWS, SH_OUT));
	CALL(p, "aten::linear", "out", x, w1, b1, h, h);
	CALL(p, "aten::relu", "out", h, r, r);
	CALL(p, "aten::linear", "out", r, w2, infd__pte_null(p->m), y, y);
	return prog_finish(p);
}

static const double sh_rtol = 1e-5, sh_atol = 2e-6 * (SH_IN + 4) * 4;

/* The backend's resident constants are exactly these. */
static void expect_consts(uint32_t n, uint64_t bytes, uint64_t uses, const char *when)
{
	struct infd_vulkan_stats st;
	cr_assert(infd__vulkan_stats(&vk, &st));
	cr_assert(st.n_consts == n && st.const_bytes == bytes && st.const_uses == uses,
		  "%s: %u constants of %llu bytes with %llu uses on the device, expected %u of %llu with %llu", when,
		  st.n_consts, (unsigned long long)st.const_bytes, (unsigned long long)st.const_uses, n,
		  (unsigned long long)bytes, (unsigned long long)uses);
}

static struct infd_method *load_vk_only(const struct infd_program *prog, const char *what)
{
	static const char *const on_vk[] = {"vulkan"};
	struct infd_method *m = load_on(prog, on_vk, 1, what);
	for (uint32_t k = 0; k < prog->methods[0].chains[0].n_instrs; k++)
		cr_assert_str_eq(infd__method_placement(m, 0, k), "vulkan", "%s: instruction %u", what, k);
	return m;
}

static void exec_ok(struct infd_method *m, const char *what)
{
	struct infd_error e = {0};
	cr_assert_eq(infd__method_execute(m, &e), INFD_OK, "%s: %s", what, e.msg);
}

/* Sessions `a` (of pa) and `b` (of pb), with references ra and rb on the CPU:
 * different inputs bound to both before either runs, run in the order given,
 * each compared with its reference. */
static void run_interleaved(struct prog *pa, struct infd_method *a, struct infd_method *ra, struct prog *pb,
			    struct infd_method *b, struct infd_method *rb, bool b_first)
{
	bind_inputs(pa, a, ra);
	bind_inputs(pb, b, rb);
	exec_ok(b_first ? b : a, "first session");
	exec_ok(b_first ? a : b, "second session");
	exec_ok(ra, "reference");
	exec_ok(rb, "reference");
	compare(pa, a, ra, sh_rtol, sh_atol);
	compare(pb, b, rb, sh_rtol, sh_atol);
	const float *ya = infd__method_output(a, 0)->u.t->data, *yb = infd__method_output(b, 0)->u.t->data;
	cr_assert(memcmp(ya, yb, SH_ROWS * SH_OUT * sizeof *ya) != 0, "the two sessions gave the same results");
}

/* Two sessions (method instances) of one program share the weights on the
 * device: counted once, both right with their own inputs, the survivor still
 * right after the other is freed, nothing left after both. In fp16 mode the
 * weights stay fp32: the same bytes. */
CONFORMANCE(constants_shared_by_sessions)
{
	static const char *const on_cpu[] = {"portable"};
	struct prog p;
	struct infd_program *prog = shared_prog(&p, "shared weights");
	expect_consts(0, 0, 0, "before any session");
	struct infd_method *a = load_vk_only(prog, p.what);
	expect_consts(3, SH_BYTES, 3, "one session");
	struct infd_method *b = load_vk_only(prog, p.what);
	expect_consts(3, SH_BYTES, 6, "two sessions");
	struct infd_method *ra = load_on(prog, on_cpu, 1, p.what), *rb = load_on(prog, on_cpu, 1, p.what);
	for (int run = 0; run < 3; run++)
		run_interleaved(&p, a, ra, &p, b, rb, run % 2);
	infd__method_free(a);
	expect_consts(3, SH_BYTES, 3, "one session closed");
	for (int run = 0; run < 2; run++) {
		bind_inputs(&p, b, rb);
		exec_ok(b, "the remaining session");
		exec_ok(rb, "reference");
		compare(&p, b, rb, sh_rtol, sh_atol);
	}
	infd__method_free(b);
	expect_consts(0, 0, 0, "both sessions closed");
	/* a new session after all were closed uploads them again */
	a = load_vk_only(prog, p.what);
	expect_consts(3, SH_BYTES, 3, "a session again");
	bind_inputs(&p, a, ra);
	exec_ok(a, "the new session");
	exec_ok(ra, "reference");
	compare(&p, a, ra, sh_rtol, sh_atol);
	infd__method_free(a);
	infd__method_free(ra);
	infd__method_free(rb);
	infd__program_close(prog);
	expect_consts(0, 0, 0, "at the end");
}

/* Another program with weights of the same sizes (other values) shares
 * nothing: the key is the program's data, not the shape. */
CONFORMANCE(constants_of_other_programs_apart)
{
	static const char *const on_cpu[] = {"portable"};
	struct prog p1, p2;
	struct infd_program *prog1 = shared_prog(&p1, "program 1"), *prog2 = shared_prog(&p2, "program 2");
	struct infd_method *a = load_vk_only(prog1, p1.what), *b = load_vk_only(prog2, p2.what);
	expect_consts(6, 2 * SH_BYTES, 6, "two programs");
	struct infd_method *ra = load_on(prog1, on_cpu, 1, p1.what), *rb = load_on(prog2, on_cpu, 1, p2.what);
	for (int run = 0; run < 2; run++)
		run_interleaved(&p1, a, ra, &p2, b, rb, run % 2);
	infd__method_free(b);
	expect_consts(3, SH_BYTES, 3, "program 2 closed");
	bind_inputs(&p1, a, ra);
	exec_ok(a, "program 1");
	exec_ok(ra, "reference");
	compare(&p1, a, ra, sh_rtol, sh_atol);
	infd__method_free(a);
	expect_consts(0, 0, 0, "both closed");
	infd__method_free(ra);
	infd__method_free(rb);
	infd__program_close(prog1);
	infd__program_close(prog2);
}

/* Sessions opened, run and closed on several threads at once: the ones that
 * find a constant another thread is still uploading wait for it. Threads only
 * record what they saw; the test thread checks. */
#define SH_THREADS 4
#define SH_ROUNDS 6
struct sh_worker {
	const struct infd_program *prog;
	const float *x, *want; /* [SH_ROWS * SH_IN], [SH_ROWS * SH_OUT] */
	pthread_barrier_t *start;
	char fail[256];
};

static void *sh_work(void *arg)
{
	struct sh_worker *w = arg;
	static const char *const dev[] = {"vulkan"};
	static const int32_t xs[2] = {SH_ROWS, SH_IN};
	struct infd_method_options opt = {.devices = dev, .n_devices = 1};
	pthread_barrier_wait(w->start);
	for (int round = 0; round < SH_ROUNDS && !w->fail[0]; round++) {
		struct infd_method *m = NULL;
		struct infd_error e = {0};
		if (infd__method_load(rt, w->prog, "forward", &opt, &m, &e) ||
		    infd__method_set_input_tensor(m, 0, INFD_DTYPE_FLOAT32, 2, xs, w->x, SH_ROWS * SH_IN * sizeof *w->x,
						  &e) ||
		    infd__method_execute(m, &e)) {
			snprintf(w->fail, sizeof w->fail, "round %d: %.200s", round, e.msg);
		} else {
			const float *y = infd__method_output(m, 0)->u.t->data;
			for (int k = 0; k < SH_ROWS * SH_OUT && !w->fail[0]; k++)
				if (!(fabs(y[k] - w->want[k]) <= sh_atol + sh_rtol * fabs(w->want[k])))
					snprintf(w->fail, sizeof w->fail, "round %d: element %d is %.9g, expected %.9g",
						 round, k, y[k], w->want[k]);
		}
		infd__method_free(m);
	}
	return NULL;
}

Test(vulkan, constants_shared_across_threads)
{
	static const char *const on_cpu[] = {"portable"};
	static const int32_t xs[2] = {SH_ROWS, SH_IN};
	struct prog p;
	struct infd_program *prog = shared_prog(&p, "threads");
	struct infd_method *ref = load_on(prog, on_cpu, 1, p.what);
	static float x[SH_THREADS][SH_ROWS * SH_IN], want[SH_THREADS][SH_ROWS * SH_OUT];
	struct sh_worker w[SH_THREADS];
	pthread_t th[SH_THREADS];
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, SH_THREADS);
	for (int i = 0; i < SH_THREADS; i++) {
		for (int k = 0; k < SH_ROWS * SH_IN; k++)
			x[i][k] = (float)rnd_uniform(-1, 1);
		struct infd_error e = {0};
		cr_assert_eq(infd__method_set_input_tensor(ref, 0, INFD_DTYPE_FLOAT32, 2, xs, x[i], sizeof x[i], &e),
			     INFD_OK, "%s", e.msg);
		exec_ok(ref, "reference");
		memcpy(want[i], infd__method_output(ref, 0)->u.t->data, sizeof want[i]);
		w[i] = (struct sh_worker){.prog = prog, .x = x[i], .want = want[i], .start = &start};
	}
	for (int i = 0; i < SH_THREADS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, sh_work, &w[i]), 0);
	for (int i = 0; i < SH_THREADS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&start);
	for (int i = 0; i < SH_THREADS; i++)
		cr_assert(!w[i].fail[0], "thread %d: %s", i, w[i].fail);
	expect_consts(0, 0, 0, "every session closed");
	infd__method_free(ref);
	infd__program_close(prog);
}

Test(vulkan, refuses_what_it_does_not_run)
{
	/* int32 add, a channels-last tensor and transposed convolution stay on the CPU */
	struct prog p;
	prog_begin(&p, "refusals");
	int32_t a = infd__pte_planned(p.m, INFD_DTYPE_INT32, SZ(4));
	int32_t y = infd__pte_planned(p.m, INFD_DTYPE_INT32, SZ(4));
	p.in[p.n_in++] = a;
	p.out[p.n_out++] = y;
	CALL(&p, "aten::add", "out", a, a, infd__pte_int(p.m, 1), y, y);
	static const uint8_t cl[4] = {0, 2, 3, 1};
	struct infd_pte_tensor td = {.dtype = INFD_DTYPE_FLOAT32, .rank = 4, .sizes = (const int32_t[]){1, 2, 3, 3},
				     .dim_order = cl};
	int32_t xc = infd__pte_tensor(p.m, &td), yc = infd__pte_tensor(p.m, &td);
	CALL(&p, "aten::relu", "out", xc, yc, yc);
	struct infd_program *prog = prog_finish(&p);
	static const char *const dev[] = {"vulkan"};
	struct infd_method *m = load_on(prog, dev, 1, p.what);
	cr_assert_str_eq(infd__method_placement(m, 0, 0), "portable");
	cr_assert_str_eq(infd__method_placement(m, 0, 1), "portable");
	infd__method_free(m);
	infd__program_close(prog);
}

/* ---- Device choice and the pipeline cache ------------------------------------------------- */

Test(vulkan_device, probe_and_override)
{
	struct infd_backend be = vk_create(NULL);
	struct infd_device_info info = {0};
	cr_assert_eq(be.ops->probe(be.ctx, &info), INFD_OK);
	cr_assert_str_eq(info.kind, "gpu");
	cr_assert_str_eq(be.ops->name, "vulkan");
	struct infd_vulkan_stats st;
	cr_assert(infd__vulkan_stats(&be, &st));
	cr_assert(strstr(info.name, st.device), "probe name '%s' lacks the device name '%s'", info.name, st.device);
	cr_assert_eq(st.n_pipelines, 7u);
	/* choose the same device again by a piece of its name */
	char piece[8];
	snprintf(piece, sizeof piece, "%.5s", st.device);
	struct infd_backends_config cfg;
	infd__backends_config_default(&cfg);
	cfg.vulkan_device = piece;
	struct infd_backend be2 = vk_create(&cfg);
	struct infd_vulkan_stats st2;
	cr_assert(infd__vulkan_stats(&be2, &st2));
	cr_assert(strstr(st2.device, piece), "asked for '%s', got '%s'", piece, st2.device);
	be2.ops->destroy(be2.ctx);
	be.ops->destroy(be.ctx);
	struct infd_backend portable = rt->backends[0];
	cr_assert_not(infd__vulkan_stats(&portable, &st), "the portable backend is not a Vulkan one");
}

/* Software devices are used only when allowed or named: by default the backend
 * refuses before creating a device, saying why. */
Test(vulkan_device, software_device_needs_consent)
{
	struct infd_backend be = vk_create(NULL);
	struct infd_device_info info = {0};
	cr_assert_eq(be.ops->probe(be.ctx, &info), INFD_OK);
	be.ops->destroy(be.ctx);
	struct infd_backends_config cfg;
	infd__backends_config_default(&cfg);
	cr_assert(!cfg.vulkan_software, "software devices are off by default");
	struct infd_error e = {0};
	infd_status st = infd__backend_vulkan_create(rt, &cfg, &be, &e);
	if (!info.software) {
		cr_assert_eq(st, INFD_OK, "a hardware device needs no consent: %s", e.msg);
		be.ops->destroy(be.ctx);
		return;
	}
	cr_assert_eq(st, INFD_UNSUPPORTED, "a software device without consent must be refused");
	cr_assert(strstr(e.msg, "software"), "%s", e.msg);
	if (strstr(info.name, "llvmpipe")) {
		cfg.vulkan_device = "llvmpipe"; /* naming it is consent */
		st = infd__backend_vulkan_create(rt, &cfg, &be, &e);
		cr_assert_eq(st, INFD_OK, "named: %s", e.msg);
		be.ops->destroy(be.ctx);
	}
}

Test(vulkan_device, refuses_unknown_device)
{
	struct infd_backend be = vk_create(NULL); /* skips when no device exists at all */
	be.ops->destroy(be.ctx);
	struct infd_backends_config cfg;
	infd__backends_config_default(&cfg);
	cfg.vulkan_device = "no-such-gpu-9000";
	struct infd_error e = {0};
	infd_status st = infd__backend_vulkan_create(rt, &cfg, &be, &e);
	cr_assert_neq(st, INFD_OK, "a device that does not exist was accepted");
	cr_assert(strstr(e.msg, "no-such-gpu-9000"), "message '%s' does not name the device asked for", e.msg);
	cr_assert(strstr(e.msg, "devices:"), "message '%s' does not list the devices there are", e.msg);
}

Test(vulkan_device, pipeline_cache)
{
	char dir[] = "/tmp/infd-vk-cacheXXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof path, "%s/vulkan-pipelines.bin", dir);
	struct infd_backends_config cfg;
	infd__backends_config_default(&cfg);
	cfg.cache_dir = dir;
	struct infd_backend be = vk_create(&cfg);
	struct infd_vulkan_stats cold, warm, bad;
	cr_assert(infd__vulkan_stats(&be, &cold));
	be.ops->destroy(be.ctx);
	cr_assert_not(cold.cache_loaded, "a cache was loaded from an empty directory");
	cr_assert(cold.cache_saved, "the pipeline cache was not written");
	struct stat sb;
	cr_assert_eq(stat(path, &sb), 0, "%s is missing", path);
	cr_assert_gt(sb.st_size, 64);
	be = vk_create(&cfg);
	cr_assert(infd__vulkan_stats(&be, &warm));
	be.ops->destroy(be.ctx);
	cr_assert(warm.cache_loaded, "the second start did not use the cache file");
	cr_assert_not(warm.cache_saved, "an unchanged cache was rewritten");
	/* a file for another device (header UUID changed) is ignored and replaced */
	FILE *f = fopen(path, "r+b");
	cr_assert_not_null(f);
	fseek(f, 24, SEEK_SET); /* the first byte of the device UUID */
	int byte = fgetc(f);
	fseek(f, 24, SEEK_SET);
	fputc(byte ^ 0xff, f);
	fclose(f);
	be = vk_create(&cfg);
	cr_assert(infd__vulkan_stats(&be, &bad));
	be.ops->destroy(be.ctx);
	cr_assert_not(bad.cache_loaded, "a cache file with another device's UUID was used");
	cr_assert(bad.cache_saved);
	fprintf(stderr, "vulkan pipelines on %s: cold %.1f ms, warm %.1f ms\n", cold.device, cold.pipeline_ns / 1e6,
		warm.pipeline_ns / 1e6);
	/* the fp16 shaders keep a file of their own beside the fp32 one */
	char path16[128];
	snprintf(path16, sizeof path16, "%s/vulkan-pipelines-fp16.bin", dir);
	struct stat before, after;
	cr_assert_eq(stat(path, &before), 0);
	cfg.vulkan_fp16 = true;
	struct infd_vulkan_stats cold16, warm16;
	be = vk_create(&cfg);
	cr_assert(infd__vulkan_stats(&be, &cold16));
	be.ops->destroy(be.ctx);
	if (cold16.fp16) {
		cr_assert_not(cold16.cache_loaded, "the fp32 pipeline cache was taken for the fp16 shaders");
		cr_assert(cold16.cache_saved);
		cr_assert_eq(stat(path16, &sb), 0, "%s is missing", path16);
		be = vk_create(&cfg);
		cr_assert(infd__vulkan_stats(&be, &warm16));
		be.ops->destroy(be.ctx);
		cr_assert(warm16.cache_loaded && !warm16.cache_saved, "the fp16 cache file was not reused");
		cr_assert_eq(stat(path, &after), 0);
		cr_assert(after.st_size == before.st_size && after.st_mtime == before.st_mtime,
			  "the fp16 start touched the fp32 cache file");
	}
	remove(path16);
	remove(path);
	rmdir(dir);
}

/* ---- fp16 storage ---------------------------------------------------------------------- */

static uint32_t f32_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	return u;
}

static float f32_of(uint32_t u)
{
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

static uint16_t to_half(float f)
{
	uint16_t h;
	infd__vk_f32_to_f16_portable(&h, &f, 1);
	return h;
}

/* The host conversions: exact round trip of every half, rounding to nearest
 * even, overflow, subnormals, signed zeros, inf and NaN; and the variant the
 * backend picks (F16C on x86) gives the same bits as the portable loops. */
Test(vulkan_device, half_conversion)
{
	static uint16_t all[65536];
	static float back[65536];
	for (uint32_t i = 0; i < 65536; i++)
		all[i] = (uint16_t)i;
	infd__vk_f16_to_f32_portable(back, all, 65536);
	for (uint32_t i = 0; i < 65536; i++) {
		bool nan = (i & 0x7c00) == 0x7c00 && (i & 0x3ff);
		cr_assert_eq(isnan(back[i]), nan, "half 0x%04x -> %g", i, back[i]);
		if (!nan)
			cr_assert_eq(to_half(back[i]), i, "half 0x%04x -> %g -> 0x%04x", i, back[i], to_half(back[i]));
		else
			cr_assert_eq(to_half(back[i]), i | 0x200, "NaN 0x%04x does not come back quiet", i);
	}
	static const struct {
		float f;
		uint16_t h;
	} edges[] = {
		{0.0f, 0x0000}, {-0.0f, 0x8000}, {1.0f, 0x3c00}, {-2.0f, 0xc000}, {65504.0f, 0x7bff},
		{65519.99f, 0x7bff}, {65520.0f, 0x7c00}, {-1e30f, 0xfc00}, {INFINITY, 0x7c00}, {-INFINITY, 0xfc00},
		{0x1p-14f, 0x0400}, {0x1p-24f, 0x0001}, {0x1p-25f, 0x0000}, {0x1.8p-25f, 0x0001}, {0x1.8p-24f, 0x0002},
		{0x1p-15f, 0x0200}, {0x1.ff8p-15f, 0x03ff}, {0x1.ffcp-15f, 0x0400}, {0x1.ff4p-15f, 0x03fe},
		{1e-40f, 0x0000}, {-1e-40f, 0x8000},
		{1.0f + 0x1p-11f, 0x3c00}, {1.0f + 0x3p-11f, 0x3c02}, {1.0f + 0x1p-11f + 0x1p-20f, 0x3c01},
		{0.1f, 0x2e66}, {-3.14159265f, 0xc248},
	};
	for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
		cr_assert_eq(to_half(edges[i].f), edges[i].h, "%a -> 0x%04x, expected 0x%04x", edges[i].f,
			     to_half(edges[i].f), edges[i].h);
	cr_assert_eq(to_half(f32_of(0x7fc00001u)), 0x7e00, "quiet NaN");
	cr_assert_eq(to_half(f32_of(0xff800001u)) & 0xfe00, 0xfe00, "a signalling NaN becomes a quiet one");
	/* the picked variant against the portable one: a sweep of float bit patterns */
	struct infd_vk_half_kernels k;
	infd__vk_half_pick(&k);
	enum { N = 1 << 16 };
	static float f[N];
	static uint16_t a[N], b[N];
	static float fa[N], fb[N];
	for (uint64_t base = 0; base < (1ull << 32); base += (uint64_t)N * 4099) {
		for (uint32_t i = 0; i < N; i++)
			f[i] = f32_of((uint32_t)(base + (uint64_t)i * 4099));
		infd__vk_f32_to_f16_portable(a, f, N - 3); /* an odd count: the vector loops' tails */
		k.to_f16(b, f, N - 3);
		cr_assert_eq(memcmp(a, b, (N - 3) * sizeof *a), 0, "%s and portable differ (fp32 -> fp16)", k.name);
	}
	infd__vk_f16_to_f32_portable(fa, all, 65536 - 5);
	k.to_f32(fb, all, 65536 - 5);
	for (uint32_t i = 0; i < 65536 - 5; i++)
		cr_assert_eq(f32_bits(fa[i]), f32_bits(fb[i]), "%s and portable differ on half 0x%04x", k.name, i);
}

/* The option's state in stats and probe: off by default with the fp32 path;
 * asked for, in use where the device has 16-bit storage (lavapipe does) or
 * said to be unavailable. */
Test(vulkan_device, fp16_option)
{
	struct infd_backend be = vk_create(NULL);
	struct infd_vulkan_stats st;
	struct infd_device_info info = {0};
	cr_assert(infd__vulkan_stats(&be, &st));
	cr_assert_eq(be.ops->probe(be.ctx, &info), INFD_OK);
	be.ops->destroy(be.ctx);
	cr_assert(!st.fp16 && !st.fp16_requested && !st.conversion[0]);
	cr_assert(!strstr(info.name, "fp16") && !strstr(info.name, "fp32"), "probe name '%s'", info.name);
	struct infd_backends_config cfg;
	infd__backends_config_default(&cfg);
	cr_assert(!cfg.vulkan_fp16, "fp16 storage is off by default");
	cfg.vulkan_fp16 = true;
	be = vk_create(&cfg);
	cr_assert(infd__vulkan_stats(&be, &st));
	cr_assert_eq(be.ops->probe(be.ctx, &info), INFD_OK);
	be.ops->destroy(be.ctx);
	cr_assert(st.fp16_requested);
	cr_assert_eq(st.n_pipelines, 7u);
	if (st.fp16) {
		cr_assert(strstr(info.name, ", fp16)"), "probe name '%s' does not say fp16", info.name);
		cr_assert(st.conversion[0]);
	} else {
		cr_assert(strstr(info.name, "fp32: no 16-bit storage"), "probe name '%s' does not say why", info.name);
	}
	if (strstr(st.device, "llvmpipe"))
		cr_assert(st.fp16, "lavapipe has storageBuffer16BitAccess, yet fp16 storage is off");
	fprintf(stderr, "vulkan fp16 storage on %s: %s (host conversion: %s)\n", st.device, st.fp16 ? "yes" : "no",
		st.conversion[0] ? st.conversion : "-");
}

/* Run `prog` once on a fresh runtime with a Vulkan backend made from `cfg`
 * (every instruction must land there); copies output `o` into out. */
static void run_on(const struct infd_program *prog, const struct infd_backends_config *cfg, const float *x,
		   uint32_t nx, uint32_t o, float *out, uint32_t n_out)
{
	struct infd_runtime *r = NULL;
	struct infd_error e = {0};
	cr_assert_eq(infd__runtime_create(NULL, &r, &e), INFD_OK);
	cr_assert_eq(infd__runtime_add_backend(r, vk_create(cfg)), INFD_OK);
	static const char *const dev[] = {"vulkan"};
	struct infd_method_options opt = {.devices = dev, .n_devices = 1};
	struct infd_method *m = NULL;
	cr_assert_eq(infd__method_load(r, prog, "forward", &opt, &m, &e), INFD_OK, "%s", e.msg);
	for (uint32_t k = 0; k < prog->methods[0].chains[0].n_instrs; k++)
		cr_assert_str_eq(infd__method_placement(m, 0, k), "vulkan");
	const int32_t shape[1] = {(int32_t)nx};
	cr_assert_eq(infd__method_set_input_tensor(m, 0, INFD_DTYPE_FLOAT32, 1, shape, x, nx * sizeof *x, &e), INFD_OK,
		     "%s", e.msg);
	cr_assert_eq(infd__method_execute(m, &e), INFD_OK, "%s", e.msg);
	const struct infd_tensor *t = infd__method_output(m, o)->u.t;
	cr_assert_eq(t->numel, n_out);
	memcpy(out, t->data, n_out * sizeof *out);
	infd__method_free(m);
	infd__runtime_destroy(r);
}

/* What reaches memory really is fp16 with the option (values past 65504 become
 * inf, small ones subnormal or zero, 11 significant bits), weights stay fp32,
 * and without it every value comes back exactly. */
Test(vulkan_device, fp16_storage_is_real)
{
	struct infd_backends_config cfg;
	infd__backends_config_default(&cfg);
	cfg.vulkan_fp16 = true;
	struct infd_backend probe = vk_create(&cfg);
	struct infd_vulkan_stats st;
	cr_assert(infd__vulkan_stats(&probe, &st));
	probe.ops->destroy(probe.ctx);
	if (!st.fp16)
		cr_skip_test("'%s' has no 16-bit storage buffers", st.device);
	static const float x[8] = {1.0f + 0x1p-12f, 70000.0f, 1e-8f, -3.0f, 0x1p-20f, 65519.0f, -0.0f, 0.1f};
	static const float half16[8] = {1.0f, INFINITY, 0.0f, -3.0f, 0x1p-20f, 65504.0f, -0.0f, 0x1.998p-4f};
	struct prog p;
	prog_begin(&p, "fp16 storage: clone");
	int32_t xi = in_t(&p, SZ(8)), y = out_t(&p, SZ(8));
	CALL(&p, "aten::clone", "out", xi, infd__pte_null(p.m), y, y);
	struct infd_program *prog = prog_finish(&p);
	float got[8];
	run_on(prog, &cfg, x, 8, 0, got, 8);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(f32_bits(got[i]), f32_bits(half16[i]), "fp16: %a came back as %a, expected %a", x[i], got[i],
			     half16[i]);
	cfg.vulkan_fp16 = false;
	run_on(prog, &cfg, x, 8, 0, got, 8);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(f32_bits(got[i]), f32_bits(x[i]), "fp32: %a came back as %a", x[i], got[i]);
	infd__program_close(prog);
	/* [1, -1] x W, W a constant [1 + 2^-12, 1]: 2^-12 with fp32 weights, 0 had
	 * W been rounded to fp16 */
	prog_begin(&p, "fp16 storage: fp32 weights");
	xi = in_t(&p, SZ(2));
	int32_t row = tmp_t(&p, SZ(1, 2)), z = out_t(&p, SZ(1, 1));
	int32_t w = infd__pte_const_tensor(p.m, INFD_DTYPE_FLOAT32, SZ(2, 1), (const float[]){1.0f + 0x1p-12f, 1.0f});
	CALL(&p, "aten::view_copy", "out", xi, IL(1, 2), row, row);
	CALL(&p, "aten::mm", "out", row, w, z, z);
	prog = prog_finish(&p);
	for (int mode = 0; mode < 2; mode++) {
		cfg.vulkan_fp16 = mode;
		run_on(prog, &cfg, (const float[]){1.0f, -1.0f}, 2, 0, got, 1);
		cr_assert_eq(got[0], 0x1p-12f, "%s: weights lost precision: %a", mode ? "fp16" : "fp32", got[0]);
	}
	infd__program_close(prog);
}

#endif
