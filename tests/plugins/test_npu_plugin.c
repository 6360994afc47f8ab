/* A pretend NPU plugin for the tests, written only against the public
 * include/infd/npu_plugin.h, as a vendor would. One source builds several
 * variants (TNPU_* defines): the working plugin and ones that fail each check.
 *
 * The working plugin ("testnpu") claims delegate id "InfdTestNpu". Its payload
 * is a 4-byte magic then float32 a, float32 b (little-endian, 12 bytes):
 *   ITN1: args (x, y)      y  = a*x + b
 *   ITN2: args (x, y, z)   y  = a*x + b, z = x*x   (two outputs)
 *   ITNH: args (x, y)      y  = a*x + b over the first half of x; y's shape
 *                          becomes half of x's (a dynamic output shape)
 *   ITNG: args (x, y)      claims an output twice x's size (which cannot fit)
 * Compile spec "activation" = "relu" applies max(0, .) to y; "none" or absent
 * leaves it; anything else makes init fail. A NaN input makes execute fail.
 * It also runs operator "aten::mul.out" for float32 tensors of equal shape. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infd/npu_plugin.h"

struct tnpu {
	float a, b;
	int relu;
	int kind; /* 1, 2: ITN1 / ITN2; 3: aten::mul.out; 4, 5: ITNH / ITNG */
};

static int live_handles;

/* Instances not yet destroyed, for the tests' leak checks. */
INFD_NPU_PLUGIN_EXPORT int infd_test_npu_live(void);
int infd_test_npu_live(void)
{
	return live_handles;
}

static int fail(char *err, size_t err_size, const char *msg)
{
	snprintf(err, err_size, "%s", msg);
	return 1;
}

static int is_f32(const struct infd_npu_tensor *t)
{
	return t->dtype == INFD_DTYPE_FLOAT32 && !(t->flags & (INFD_NPU_TENSOR_SCALAR | INFD_NPU_TENSOR_LIST));
}

static uint64_t numel(const struct infd_npu_tensor *t)
{
	uint64_t n = 1;
	for (uint32_t r = 0; r < t->rank; r++)
		n *= (uint64_t)t->sizes[r];
	return n;
}

static int same_shape(const struct infd_npu_tensor *x, const struct infd_npu_tensor *y)
{
	return x->rank == y->rank && memcmp(x->sizes, y->sizes, x->rank * sizeof x->sizes[0]) == 0;
}

static bool tnpu_available(char *err, size_t err_size)
{
#ifdef TNPU_UNAVAILABLE
	snprintf(err, err_size, "no /dev/infd-test-npu device (test plugin built unavailable)");
	return false;
#else
	(void)err;
	(void)err_size;
	return true;
#endif
}

static bool tnpu_supports(const char *key, const struct infd_npu_tensor *args, uint32_t n_args)
{
	/* aten::mul.out: self, other, out, return slot */
	return strcmp(key, "aten::mul.out") == 0 && n_args == 4 && is_f32(&args[0]) && is_f32(&args[1]) &&
	       is_f32(&args[2]) && same_shape(&args[0], &args[1]) && same_shape(&args[0], &args[2]);
}

static int tnpu_init(const struct infd_npu_init_info *info, void **handle_out, uint32_t *n_outputs_out, char *err,
		     size_t err_size)
{
#ifdef TNPU_FAIL_INIT
	(void)info;
	(void)handle_out;
	(void)n_outputs_out;
	return fail(err, err_size, "failnpu: the firmware refused the graph (compile error 42, test plugin)");
#else
	struct tnpu t = {0};
	if (info->operator_key) {
		if (!tnpu_supports(info->operator_key, info->args, info->n_args))
			return fail(err, err_size, "testnpu: operator call it cannot run");
		t.kind = 3;
	} else {
		const unsigned char *p = info->payload;
		static const char magics[] = "ITN1ITN2----ITNHITNG";
		for (int k = 0; k < 5 && info->payload_size == 12; k++)
			if (k != 2 && memcmp(p, magics + 4 * k, 4) == 0)
				t.kind = k + 1;
		if (!t.kind)
			return fail(err, err_size, "testnpu: payload is not a 12-byte ITN1/ITN2/ITNH/ITNG blob");
		memcpy(&t.a, p + 4, 4);
		memcpy(&t.b, p + 8, 4);
		for (uint32_t k = 0; k < info->n_specs; k++) {
			const struct infd_npu_compile_spec *s = &info->specs[k];
			if (strcmp(s->key, "activation") != 0)
				continue;
			if (s->size == 4 && memcmp(s->value, "relu", 4) == 0)
				t.relu = 1;
			else if (!(s->size == 4 && memcmp(s->value, "none", 4) == 0)) {
				snprintf(err, err_size, "testnpu: unknown activation '%.*s'", (int)s->size,
					 (const char *)s->value);
				return 1;
			}
		}
		uint32_t want = t.kind == 2 ? 3 : 2;
		if (info->n_args != want)
			return fail(err, err_size, "testnpu: wrong number of delegate arguments");
		for (uint32_t k = 0; k < want; k++)
			if (!is_f32(&info->args[k]) || numel(&info->args[k]) != numel(&info->args[0]))
				return fail(err, err_size, "testnpu: arguments must be float32 of one size");
		*n_outputs_out = want - 1;
	}
	struct tnpu *h = malloc(sizeof *h);
	if (!h)
		return fail(err, err_size, "testnpu: out of memory");
	*h = t;
	*handle_out = h;
	live_handles++;
	return 0;
#endif
}

static int tnpu_execute(void *handle, const struct infd_npu_tensor *inputs, uint32_t n_inputs,
			struct infd_npu_tensor *outputs, uint32_t n_outputs, char *err, size_t err_size)
{
	const struct tnpu *h = handle;
	if (h->kind == 3) {
		/* inputs: self, other, out; output: the return slot (out again) */
		if (n_inputs != 3 || n_outputs != 1)
			return fail(err, err_size, "testnpu: mul called with the wrong split");
		const float *x = inputs[0].data, *y = inputs[1].data;
		float *o = outputs[0].data;
		for (uint64_t i = 0, n = numel(&inputs[0]); i < n; i++)
			o[i] = x[i] * y[i];
		return 0;
	}
	if (n_inputs != 1 || n_outputs != (h->kind == 2 ? 2u : 1u))
		return fail(err, err_size, "testnpu: delegate called with the wrong split");
	const float *x = inputs[0].data;
	float *y = outputs[0].data;
	float *z = h->kind == 2 ? outputs[1].data : NULL;
	uint64_t n = numel(&inputs[0]);
	if (h->kind == 5) {
		outputs[0].sizes[0] = (int32_t)(2 * n);
		return 0;
	}
	if (h->kind == 4) {
		n /= 2;
		outputs[0].rank = 1;
		outputs[0].sizes[0] = (int32_t)n;
	}
	for (uint64_t i = 0; i < n; i++)
		if (isnan(x[i])) {
			snprintf(err, err_size, "testnpu: input element %llu is NaN", (unsigned long long)i);
			return 1;
		}
	for (uint64_t i = 0; i < n; i++) {
		float v = h->a * x[i] + h->b;
		y[i] = h->relu && v < 0 ? 0.0f : v;
		if (z)
			z[i] = x[i] * x[i];
	}
	return 0;
}

static void tnpu_destroy(void *handle)
{
	free(handle);
	live_handles--;
}

#if defined(TNPU_FAIL_INIT)
#define TNPU_NAME "failnpu"
#define TNPU_ID "InfdFailNpu"
#elif defined(TNPU_BAD_ABI)
#define TNPU_NAME "badabi"
#define TNPU_ID "InfdBadAbiNpu"
#elif defined(TNPU_UNAVAILABLE)
#define TNPU_NAME "offlinenpu"
#define TNPU_ID "InfdOfflineNpu"
#else
#define TNPU_NAME "testnpu"
#define TNPU_ID "InfdTestNpu"
#endif

#ifdef TNPU_FAIL_INIT
/* also the working plugin's id: infd must fall back to it when this one fails */
static const char *const tnpu_ids[] = {TNPU_ID, "InfdTestNpu", NULL};
#else
static const char *const tnpu_ids[] = {TNPU_ID, NULL};
#endif
#if !defined(TNPU_FAIL_INIT)
static const char *const tnpu_ops[] = {"aten::mul.out", NULL};
#endif

static const struct infd_npu_plugin tnpu_desc = {
#ifdef TNPU_BAD_ABI
    .abi_version = INFD_NPU_PLUGIN_ABI_VERSION + 98,
#else
    .abi_version = INFD_NPU_PLUGIN_ABI_VERSION,
#endif
    .struct_size = sizeof(struct infd_npu_plugin),
    .name = TNPU_NAME,
    .device_name = "infd test NPU (" TNPU_NAME ")",
    .flags = INFD_NPU_PLUGIN_SERIAL,
    .delegate_ids = tnpu_ids,
#if !defined(TNPU_FAIL_INIT)
    .operators = tnpu_ops,
#endif
    .is_available = tnpu_available,
    .supports_operator = tnpu_supports,
    .init = tnpu_init,
    .execute = tnpu_execute,
    .destroy = tnpu_destroy,
};

#ifndef TNPU_NO_ENTRY
INFD_NPU_PLUGIN_EXPORT const struct infd_npu_plugin *infd_npu_plugin_entry(uint32_t host_abi_version)
{
	(void)host_abi_version;
	return &tnpu_desc;
}
#else
/* Without the entry symbol infd must refuse the file; keep the table referenced. */
INFD_NPU_PLUGIN_EXPORT const void *infd_test_npu_not_an_entry(void);
const void *infd_test_npu_not_an_entry(void)
{
	return &tnpu_desc;
}
#endif
