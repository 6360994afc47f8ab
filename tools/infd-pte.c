/* infd-pte: look inside ExecuTorch programs and run them in-process, without the
 * daemon. `inspect` shows methods, tensors, operators, delegates, the memory plan
 * and placement; `run` executes one method on inputs from files or generated;
 * `verify` runs the test cases of a bundled program (.bpte). */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/backends.h"
#include "runtime/bundled.h"
#include "runtime/runtime.h"

#define MAX_INPUTS 64

static const char usage_text[] =
	"usage: infd-pte <command> [options] FILE\n"
	"\n"
	"commands:\n"
	"  inspect FILE            methods, inputs/outputs, operators, delegates, memory plan,\n"
	"                          constants and placement of a .pte (or the program in a .bpte)\n"
	"  run FILE                run one method in-process and print (or save) its outputs\n"
	"  verify FILE.bpte        run every test case of a bundled program and compare\n"
	"\n"
	"options:\n"
	"  -m, --method NAME       method to run or inspect (default: forward, or the only one)\n"
	"  -i, --input SPEC        one per input, in order; SPEC is a file of raw little-endian\n"
	"                          elements, or zeros | ones | rand[:SEED] | seq | fill:V |\n"
	"                          values:V1,V2,... ; scalar inputs take the number itself.\n"
	"                          Missing inputs default to 'seq'.\n"
	"  -o, --output-dir DIR    write output K to DIR/outputK.bin (raw bytes)\n"
	"  -n, --repeat N          execute N times and report the time per execute\n"
	"  -f, --full              print every element (default: the first 16)\n"
	"      --rtol X --atol Y   verify tolerances (defaults 1e-5 and 1e-8)\n"
	"  -j, --json              machine-readable output\n"
	"  -d, --devices LIST      device preference, most preferred first, comma-separated\n"
	"                          backend names or kinds (default npu,gpu,cpu)\n"
	"  -t, --threads N         CPU threads for kernels and XNNPACK (default 1)\n"
	"      --vulkan-device S   use the Vulkan device whose name contains S (even a\n"
	"                          software one such as llvmpipe)\n"
	"      --plugin-dir DIR    load NPU delegate plugins from DIR\n"
	"      --no-xnnpack        do not lower operators to XNNPACK\n"
	"      --no-vulkan         do not use a Vulkan device\n"
	"  -h, --help              this text\n";

struct opts {
	const char *cmd, *file, *method, *outdir;
	const char *inputs[MAX_INPUTS];
	uint32_t n_inputs;
	long repeat;
	bool full, json;
	double rtol, atol;
	uint32_t threads;
	char devices_buf[256];
	const char *devices[INFD_MAX_BACKENDS];
	uint32_t n_devices;
	const char *vulkan_device, *plugin_dir;
	bool no_xnnpack, no_vulkan;
};

/* Method options carrying the device preference list (set in main). */
static struct infd_method_options g_mopt;

static int die(const char *what, const struct infd_error *e)
{
	fprintf(stderr, "infd-pte: %s: %s\n", what, e->msg[0] ? e->msg : infd_strerror(e->status));
	return e->status == INFD_MISSING_OPERATOR ? 3 : 1;
}

static void shape_str(uint32_t rank, const int32_t *sizes, char *buf, size_t n)
{
	size_t used = (size_t)snprintf(buf, n, "[");
	for (uint32_t i = 0; i < rank && used < n; i++)
		used += (size_t)snprintf(buf + used, n - used, "%s%d", i ? "," : "", sizes[i]);
	if (used < n)
		snprintf(buf + used, n - used, "]");
}

static const char *storage_name(int s)
{
	switch (s) {
	case INFD_STORAGE_CONSTANT:
		return "constant";
	case INFD_STORAGE_PLANNED:
		return "planned";
	case INFD_STORAGE_EXTERNAL:
		return "external";
	default:
		return "unplanned";
	}
}

static json_t *value_json(const struct infd_method_def *m, int32_t idx)
{
	const struct infd_value_def *v = &m->values[idx];
	json_t *o = json_pack("{s:i, s:s}", "value", idx, "kind", infd__value_kind_name(v->kind));
	if (v->kind == INFD_VALUE_TENSOR) {
		const struct infd_tensor_def *t = v->u.tensor;
		json_t *shape = json_array();
		for (uint32_t d = 0; d < t->rank; d++)
			json_array_append_new(shape, json_integer(t->sizes[d]));
		json_object_set_new(o, "dtype", json_string(infd_dtype_name(t->dtype)));
		json_object_set_new(o, "shape", shape);
		json_object_set_new(o, "storage", json_string(storage_name(t->storage)));
		json_object_set_new(o, "dynamic", json_boolean(t->dynamism != INFD_SHAPE_STATIC));
		if (t->storage == INFD_STORAGE_PLANNED) {
			json_object_set_new(o, "memory_id", json_integer(t->memory_id));
			json_object_set_new(o, "offset", json_integer((json_int_t)t->memory_offset));
		}
	} else if (v->kind == INFD_VALUE_INT) {
		json_object_set_new(o, "int", json_integer(v->u.i));
	} else if (v->kind == INFD_VALUE_DOUBLE) {
		json_object_set_new(o, "double", json_real(v->u.d));
	} else if (v->kind == INFD_VALUE_BOOL) {
		json_object_set_new(o, "bool", json_boolean(v->u.b));
	} else if (v->kind == INFD_VALUE_STRING) {
		json_object_set_new(o, "string", json_stringn(v->u.str.ptr, v->u.str.len));
	}
	return o;
}

static void value_text(const struct infd_method_def *m, int32_t idx, char *buf, size_t n)
{
	const struct infd_value_def *v = &m->values[idx];
	char shape[160];
	switch (v->kind) {
	case INFD_VALUE_TENSOR: {
		const struct infd_tensor_def *t = v->u.tensor;
		shape_str(t->rank, t->sizes, shape, sizeof shape);
		if (t->storage == INFD_STORAGE_PLANNED)
			snprintf(buf, n, "%s%s%s  planned: buffer %u @ %llu", infd_dtype_name(t->dtype), shape,
				 t->dynamism ? " (dynamic bound)" : "", t->memory_id,
				 (unsigned long long)t->memory_offset);
		else
			snprintf(buf, n, "%s%s%s  %s", infd_dtype_name(t->dtype), shape,
				 t->dynamism ? " (dynamic bound)" : "", storage_name(t->storage));
		return;
	}
	case INFD_VALUE_INT:
		snprintf(buf, n, "int = %lld", (long long)v->u.i);
		return;
	case INFD_VALUE_DOUBLE:
		snprintf(buf, n, "double = %g", v->u.d);
		return;
	case INFD_VALUE_BOOL:
		snprintf(buf, n, "bool = %s", v->u.b ? "true" : "false");
		return;
	case INFD_VALUE_STRING:
		snprintf(buf, n, "string = \"%.*s\"", (int)v->u.str.len, v->u.str.ptr);
		return;
	default:
		snprintf(buf, n, "%s", infd__value_kind_name(v->kind));
	}
}

/* Count how many KERNEL instructions use each operator. */
static uint32_t op_uses(const struct infd_method_def *m, uint32_t op)
{
	uint32_t n = 0;
	for (uint32_t c = 0; c < m->n_chains; c++)
		for (uint32_t k = 0; k < m->chains[c].n_instrs; k++)
			n += m->chains[c].instrs[k].kind == INFD_INSTR_KERNEL && m->chains[c].instrs[k].a == (int32_t)op;
	return n;
}

static json_t *inspect_method_json(struct infd_runtime *rt, const struct infd_program *prog,
				   const struct infd_method_def *m)
{
	json_t *o = json_object(), *arr;
	json_object_set_new(o, "name", json_string(m->name));
	arr = json_array();
	for (uint32_t i = 0; i < m->n_inputs; i++)
		json_array_append_new(arr, value_json(m, m->inputs[i]));
	json_object_set_new(o, "inputs", arr);
	arr = json_array();
	for (uint32_t i = 0; i < m->n_outputs; i++)
		json_array_append_new(arr, value_json(m, m->outputs[i]));
	json_object_set_new(o, "outputs", arr);
	arr = json_array();
	for (uint32_t i = 0; i < m->n_operators; i++)
		json_array_append_new(arr, json_pack("{s:s, s:i}", "name", m->operators[i].key, "uses",
						     op_uses(m, i)));
	json_object_set_new(o, "operators", arr);
	arr = json_array();
	for (uint32_t i = 0; i < m->n_delegates; i++)
		json_array_append_new(arr, json_pack("{s:s, s:I, s:s, s:i}", "id", m->delegates[i].id, "payload_bytes",
						     (json_int_t)m->delegates[i].payload_size, "location",
						     m->delegates[i].inline_data ? "inline" : "segment",
						     "compile_specs", m->delegates[i].n_specs));
	json_object_set_new(o, "delegates", arr);
	arr = json_array();
	uint64_t planned = 0;
	for (uint32_t i = 0; i < m->n_buffers; i++) {
		json_array_append_new(arr, json_integer((json_int_t)m->buffer_sizes[i]));
		planned += m->buffer_sizes[i];
	}
	json_object_set_new(o, "planned_buffers", arr);
	json_object_set_new(o, "planned_bytes", json_integer((json_int_t)planned));
	json_object_set_new(o, "constant_bytes", json_integer((json_int_t)m->constant_bytes));
	json_object_set_new(o, "values", json_integer(m->n_values));
	uint32_t n_instr = 0;
	for (uint32_t c = 0; c < m->n_chains; c++)
		n_instr += m->chains[c].n_instrs;
	json_object_set_new(o, "instructions", json_integer(n_instr));

	struct infd_method *lm;
	struct infd_error e = {0};
	if (infd__method_load(rt, prog, m->name, &g_mopt, &lm, &e) == INFD_OK) {
		json_t *pl = json_array();
		for (uint32_t s = 0; s < lm->n_steps; s++) {
			const struct infd_step *st = &lm->steps[s];
			json_array_append_new(pl, json_pack("{s:s, s:i, s:i, s:i}", "backend",
							    rt->backends[st->backend].ops->name, "chain", st->chain,
							    "first", st->first, "count", st->count));
		}
		json_object_set_new(o, "placement", pl);
		infd__method_free(lm);
	} else {
		json_object_set_new(o, "load_error", json_string(e.msg));
	}
	return o;
}

static void inspect_method_text(struct infd_runtime *rt, const struct infd_program *prog,
				const struct infd_method_def *m)
{
	char buf[256];
	uint32_t n_instr = 0;
	for (uint32_t c = 0; c < m->n_chains; c++)
		n_instr += m->chains[c].n_instrs;
	printf("method %s: %u values, %u instructions\n", m->name, m->n_values, n_instr);
	for (uint32_t i = 0; i < m->n_inputs; i++) {
		value_text(m, m->inputs[i], buf, sizeof buf);
		printf("  input  %u: %s\n", i, buf);
	}
	for (uint32_t i = 0; i < m->n_outputs; i++) {
		value_text(m, m->outputs[i], buf, sizeof buf);
		printf("  output %u: %s\n", i, buf);
	}
	for (uint32_t i = 0; i < m->n_operators; i++)
		printf("  operator %-44s x%u\n", m->operators[i].key, op_uses(m, i));
	for (uint32_t i = 0; i < m->n_delegates; i++)
		printf("  delegate %s: %llu-byte payload (%s), %u compile specs\n", m->delegates[i].id,
		       (unsigned long long)m->delegates[i].payload_size, m->delegates[i].inline_data ? "inline" : "segment",
		       m->delegates[i].n_specs);
	uint64_t planned = 0;
	for (uint32_t i = 0; i < m->n_buffers; i++)
		planned += m->buffer_sizes[i];
	printf("  memory plan: %u buffer%s, %llu bytes", m->n_buffers, m->n_buffers == 1 ? "" : "s",
	       (unsigned long long)planned);
	for (uint32_t i = 0; i < m->n_buffers && m->n_buffers > 1; i++)
		printf("%s%llu", i ? " + " : " (", (unsigned long long)m->buffer_sizes[i]);
	printf("%s\n", m->n_buffers > 1 ? ")" : "");
	printf("  constants: %llu bytes\n", (unsigned long long)m->constant_bytes);
	struct infd_method *lm;
	struct infd_error e = {0};
	if (infd__method_load(rt, prog, m->name, &g_mopt, &lm, &e) != INFD_OK) {
		printf("  placement: cannot load: %s\n", e.msg);
		return;
	}
	printf("  placement:");
	for (uint32_t s = 0; s < lm->n_steps; s++) {
		const struct infd_step *st = &lm->steps[s];
		if (st->count == 1)
			printf(" [%u] %s", st->first, rt->backends[st->backend].ops->name);
		else
			printf(" [%u-%u] %s", st->first, st->first + st->count - 1, rt->backends[st->backend].ops->name);
	}
	printf("%s\n", lm->n_steps ? "" : " (no instructions)");
	for (const char *p = lm->fallback_notes; p && *p;) {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);
		printf("  fallback: %.*s\n", len, p);
		p += len + (nl ? 1 : 0);
	}
	infd__method_free(lm);
}

static int cmd_inspect(struct infd_runtime *rt, const struct opts *o)
{
	struct infd_error e = {0};
	struct infd_program *prog = NULL;
	struct infd_bundled *b = NULL;
	int rc = 0;
	if (infd__bundled_open_file(o->file, &b, &e) == INFD_OK) {
		if (infd__program_open_copy(b->program, (size_t)b->program_size, &prog, &e) != INFD_OK) {
			rc = die("embedded program", &e);
			goto out;
		}
	} else if (infd__program_open_file(o->file, &prog, &e) != INFD_OK) {
		rc = die("inspect", &e);
		goto out;
	}
	if (o->json) {
		json_t *root = json_pack("{s:s, s:I, s:b, s:i, s:I}", "file", o->file, "bytes", (json_int_t)prog->size,
					 "extended_header", prog->has_ext_header, "segments", prog->n_segments,
					 "constant_bytes", (json_int_t)prog->constant_segment_bytes);
		json_t *methods = json_array();
		for (uint32_t i = 0; i < prog->n_methods; i++)
			if (!o->method || strcmp(o->method, prog->methods[i].name) == 0)
				json_array_append_new(methods, inspect_method_json(rt, prog, &prog->methods[i]));
		json_object_set_new(root, "methods", methods);
		if (b) {
			json_t *suites = json_array();
			for (uint32_t s = 0; s < b->n_suites; s++)
				json_array_append_new(suites, json_pack("{s:s, s:i}", "method", b->suites[s].method,
									"test_cases", b->suites[s].n_cases));
			json_object_set_new(root, "test_suites", suites);
		}
		json_dumpf(root, stdout, JSON_INDENT(2));
		printf("\n");
		json_decref(root);
		goto out;
	}
	printf("%s: %s program, %zu bytes, %u method%s, %u segment%s, %llu constant bytes%s\n", o->file,
	       b ? "bundled" : "ExecuTorch", prog->size, prog->n_methods, prog->n_methods == 1 ? "" : "s",
	       prog->n_segments, prog->n_segments == 1 ? "" : "s", (unsigned long long)prog->constant_segment_bytes,
	       prog->constants_legacy ? " (legacy inline)" : "");
	if (b)
		for (uint32_t s = 0; s < b->n_suites; s++)
			printf("test suite for %s: %u test case%s\n", b->suites[s].method, b->suites[s].n_cases,
			       b->suites[s].n_cases == 1 ? "" : "s");
	for (uint32_t i = 0; i < prog->n_methods; i++)
		if (!o->method || strcmp(o->method, prog->methods[i].name) == 0)
			inspect_method_text(rt, prog, &prog->methods[i]);
out:
	infd__program_close(prog);
	infd__bundled_close(b);
	return rc;
}

/* ---- run ------------------------------------------------------------------------- */

static double element_get(const struct infd_tensor *t, uint64_t k)
{
	const uint8_t *p = (const uint8_t *)t->data;
	switch (t->dtype) {
	case INFD_DTYPE_FLOAT32:
		return ((const float *)p)[k];
	case INFD_DTYPE_FLOAT64:
		return ((const double *)p)[k];
	case INFD_DTYPE_INT8:
		return ((const int8_t *)p)[k];
	case INFD_DTYPE_UINT8:
	case INFD_DTYPE_BOOL:
		return p[k];
	case INFD_DTYPE_INT16:
		return ((const int16_t *)p)[k];
	case INFD_DTYPE_INT32:
		return ((const int32_t *)p)[k];
	case INFD_DTYPE_INT64:
		return (double)((const int64_t *)p)[k];
	case INFD_DTYPE_UINT16:
		return ((const uint16_t *)p)[k];
	case INFD_DTYPE_UINT32:
		return ((const uint32_t *)p)[k];
	default:
		return NAN;
	}
}

static void element_set(void *data, int dtype, uint64_t k, double v)
{
	switch (dtype) {
	case INFD_DTYPE_FLOAT32:
		((float *)data)[k] = (float)v;
		break;
	case INFD_DTYPE_FLOAT64:
		((double *)data)[k] = v;
		break;
	case INFD_DTYPE_INT8:
		((int8_t *)data)[k] = (int8_t)v;
		break;
	case INFD_DTYPE_UINT8:
		((uint8_t *)data)[k] = (uint8_t)v;
		break;
	case INFD_DTYPE_BOOL:
		((uint8_t *)data)[k] = v != 0;
		break;
	case INFD_DTYPE_INT16:
		((int16_t *)data)[k] = (int16_t)v;
		break;
	case INFD_DTYPE_INT32:
		((int32_t *)data)[k] = (int32_t)v;
		break;
	case INFD_DTYPE_INT64:
		((int64_t *)data)[k] = (int64_t)v;
		break;
	case INFD_DTYPE_UINT16:
		((uint16_t *)data)[k] = (uint16_t)v;
		break;
	case INFD_DTYPE_UINT32:
		((uint32_t *)data)[k] = (uint32_t)v;
		break;
	default:
		memset((uint8_t *)data + k * infd_dtype_size(dtype), 0, infd_dtype_size(dtype));
	}
}

/* Fill `data` (a tensor of numel elements) according to a generator spec.
 * Returns false when the spec is not a generator (then it names a file). */
static bool generate(const char *spec, void *data, int dtype, uint64_t numel, bool *bad)
{
	*bad = false;
	if (strcmp(spec, "zeros") == 0 || strcmp(spec, "ones") == 0 || strncmp(spec, "fill:", 5) == 0) {
		double v = spec[0] == 'z' ? 0.0 : spec[0] == 'o' ? 1.0 : strtod(spec + 5, NULL);
		for (uint64_t k = 0; k < numel; k++)
			element_set(data, dtype, k, v);
		return true;
	}
	if (strcmp(spec, "seq") == 0) {
		for (uint64_t k = 0; k < numel; k++)
			element_set(data, dtype, k, (double)(k % 1000));
		return true;
	}
	if (strncmp(spec, "rand", 4) == 0 && (spec[4] == '\0' || spec[4] == ':')) {
		uint64_t s = spec[4] ? strtoull(spec + 5, NULL, 10) : 1;
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		for (uint64_t k = 0; k < numel; k++) {
			s = s * 6364136223846793005ULL + 1442695040888963407ULL;
			double u = (double)(s >> 11) / 9007199254740992.0; /* [0,1) */
			bool is_float = dtype == INFD_DTYPE_FLOAT32 || dtype == INFD_DTYPE_FLOAT64;
			element_set(data, dtype, k, is_float ? u * 2.0 - 1.0 : floor(u * 10.0));
		}
		return true;
	}
	if (strncmp(spec, "values:", 7) == 0) {
		const char *p = spec + 7;
		for (uint64_t k = 0; k < numel; k++) {
			char *end;
			double v = strtod(p, &end);
			if (end == p) {
				*bad = true;
				return true;
			}
			element_set(data, dtype, k, v);
			p = *end == ',' ? end + 1 : end;
		}
		return true;
	}
	return false;
}

static int load_input(struct infd_method *m, uint32_t i, const char *spec, void **buf_out)
{
	struct infd_error e = {0};
	struct infd_evalue *in = infd__method_input(m, i);
	char what[64];
	snprintf(what, sizeof what, "input %u", i);
	if (in->kind != INFD_VALUE_TENSOR) {
		struct infd_evalue v = *in;
		if (strcmp(spec, "seq") != 0) {
			if (in->kind == INFD_VALUE_INT)
				v.u.i = strtoll(spec, NULL, 0);
			else if (in->kind == INFD_VALUE_DOUBLE)
				v.u.d = strtod(spec, NULL);
			else if (in->kind == INFD_VALUE_BOOL)
				v.u.b = strcmp(spec, "true") == 0 || strcmp(spec, "1") == 0;
		}
		return infd__method_set_input(m, i, &v, &e) ? die(what, &e) : 0;
	}
	const struct infd_tensor_def *td = in->u.t->def;
	uint64_t nbytes = td->nbytes;
	void *buf = aligned_alloc(64, (nbytes + 63) & ~(uint64_t)63);
	if (!buf) {
		fprintf(stderr, "infd-pte: out of memory\n");
		return 1;
	}
	*buf_out = buf;
	bool bad;
	if (!generate(spec, buf, td->dtype, td->numel, &bad)) {
		FILE *f = fopen(spec, "rb");
		if (!f) {
			fprintf(stderr, "infd-pte: input %u: cannot open '%s': %s\n", i, spec, strerror(errno));
			return 1;
		}
		size_t got = fread(buf, 1, nbytes, f);
		int extra = fgetc(f);
		fclose(f);
		if (got != nbytes || extra != EOF) {
			char shape[128];
			shape_str(td->rank, td->sizes, shape, sizeof shape);
			fprintf(stderr, "infd-pte: input %u: '%s' does not hold exactly %llu bytes (%s%s)\n", i, spec,
				(unsigned long long)nbytes, infd_dtype_name(td->dtype), shape);
			return 1;
		}
	} else if (bad) {
		fprintf(stderr, "infd-pte: input %u: bad number list in '%s'\n", i, spec);
		return 1;
	}
	if (infd__method_set_input_tensor(m, i, td->dtype, td->rank, td->sizes, buf, nbytes, &e))
		return die(what, &e);
	return 0;
}

static void print_output(uint32_t k, const struct infd_evalue *v, bool full)
{
	if (v->kind != INFD_VALUE_TENSOR) {
		switch (v->kind) {
		case INFD_VALUE_INT:
			printf("output %u: int %lld\n", k, (long long)v->u.i);
			break;
		case INFD_VALUE_DOUBLE:
			printf("output %u: double %.9g\n", k, v->u.d);
			break;
		case INFD_VALUE_BOOL:
			printf("output %u: bool %s\n", k, v->u.b ? "true" : "false");
			break;
		case INFD_VALUE_STRING:
			printf("output %u: string \"%.*s\"\n", k, (int)v->u.str.len, v->u.str.ptr);
			break;
		default:
			printf("output %u: %s\n", k, infd__value_kind_name(v->kind));
		}
		return;
	}
	const struct infd_tensor *t = v->u.t;
	char desc[160];
	printf("output %u: %s =", k, infd__tensor_describe(t, desc, sizeof desc));
	if (!t->data && t->numel) {
		printf(" (no data)\n");
		return;
	}
	uint64_t n = full || t->numel <= 16 ? t->numel : 16;
	for (uint64_t i = 0; i < n; i++)
		printf(" %.6g", element_get(t, i));
	printf("%s\n", n < t->numel ? " ..." : "");
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmd_run(struct infd_runtime *rt, const struct opts *o)
{
	struct infd_error e = {0};
	struct infd_program *prog = NULL;
	struct infd_method *m = NULL;
	void *bufs[MAX_INPUTS] = {0};
	int rc = 0;
	if (infd__program_open_file(o->file, &prog, &e) != INFD_OK)
		return die("run", &e);
	const char *name = o->method;
	if (!name)
		name = prog->n_methods == 1 || infd__program_method(prog, "forward") == NULL ? prog->methods[0].name
											       : "forward";
	double t0 = now_s();
	if (infd__method_load(rt, prog, name, &g_mopt, &m, &e) != INFD_OK) {
		rc = die("load", &e);
		goto out;
	}
	double t_load = now_s() - t0;
	uint32_t n_in = infd__method_n_inputs(m);
	if (o->n_inputs > n_in) {
		fprintf(stderr, "infd-pte: %u inputs given, method '%s' takes %u\n", o->n_inputs, name, n_in);
		rc = 2;
		goto out;
	}
	for (uint32_t i = 0; i < n_in && i < MAX_INPUTS && rc == 0; i++)
		rc = load_input(m, i, i < o->n_inputs ? o->inputs[i] : "seq", &bufs[i]);
	if (rc)
		goto out;
	long repeat = o->repeat > 0 ? o->repeat : 1;
	double t_run = 0, best = INFINITY;
	for (long r = 0; r < repeat; r++) {
		double t1 = now_s();
		if (infd__method_execute(m, &e) != INFD_OK) {
			rc = die("execute", &e);
			goto out;
		}
		double dt = now_s() - t1;
		t_run += dt;
		best = dt < best ? dt : best;
	}
	if (o->json) {
		json_t *root = json_pack("{s:s, s:f, s:f, s:f, s:i}", "method", name, "load_ms", t_load * 1e3,
					 "execute_us_mean", t_run / (double)repeat * 1e6, "execute_us_min", best * 1e6,
					 "repeat", (int)repeat);
		json_t *outs = json_array();
		for (uint32_t k = 0; k < infd__method_n_outputs(m); k++) {
			const struct infd_evalue *v = infd__method_output(m, k);
			json_t *ov = json_object();
			if (v->kind == INFD_VALUE_TENSOR && (v->u.t->data || !v->u.t->numel)) {
				const struct infd_tensor *t = v->u.t;
				json_t *shape = json_array(), *data = json_array();
				for (uint32_t d = 0; d < t->rank; d++)
					json_array_append_new(shape, json_integer(t->sizes[d]));
				uint64_t n = o->full || t->numel <= 16 ? t->numel : 16;
				for (uint64_t q = 0; q < n; q++)
					json_array_append_new(data, json_real(element_get(t, q)));
				json_object_set_new(ov, "dtype", json_string(infd_dtype_name(t->dtype)));
				json_object_set_new(ov, "shape", shape);
				json_object_set_new(ov, "data", data);
			} else {
				double d;
				json_object_set_new(ov, "kind", json_string(infd__value_kind_name(v->kind)));
				if (infd__evalue_to_double(v, &d))
					json_object_set_new(ov, "value", json_real(d));
			}
			json_array_append_new(outs, ov);
		}
		json_object_set_new(root, "outputs", outs);
		json_dumpf(root, stdout, JSON_INDENT(2));
		printf("\n");
		json_decref(root);
	} else {
		printf("%s: method %s, loaded in %.3f ms\n", o->file, name, t_load * 1e3);
		for (uint32_t k = 0; k < infd__method_n_outputs(m); k++)
			print_output(k, infd__method_output(m, k), o->full);
		if (o->repeat > 0)
			printf("execute: %.3f us mean, %.3f us best over %ld runs\n", t_run / (double)repeat * 1e6,
			       best * 1e6, repeat);
	}
	if (o->outdir) {
		for (uint32_t k = 0; k < infd__method_n_outputs(m); k++) {
			const struct infd_evalue *v = infd__method_output(m, k);
			if (v->kind != INFD_VALUE_TENSOR || (!v->u.t->data && v->u.t->nbytes))
				continue;
			char path[4096];
			snprintf(path, sizeof path, "%s/output%u.bin", o->outdir, k);
			FILE *f = fopen(path, "wb");
			if (!f || fwrite(v->u.t->data, 1, v->u.t->nbytes, f) != v->u.t->nbytes) {
				fprintf(stderr, "infd-pte: cannot write '%s': %s\n", path, strerror(errno));
				rc = 1;
			}
			if (f)
				fclose(f);
		}
	}
out:
	infd__method_free(m);
	for (uint32_t i = 0; i < MAX_INPUTS; i++)
		free(bufs[i]);
	infd__program_close(prog);
	return rc;
}

/* ---- verify ---------------------------------------------------------------------- */

struct verify_ctx {
	json_t *cases;
};

static void verify_report(void *ud, const struct infd_bundled_result *r)
{
	struct verify_ctx *vc = ud;
	if (vc->cases) {
		json_array_append_new(vc->cases, json_pack("{s:s, s:i, s:b, s:s, s:f, s:s}", "method", r->method, "case",
							   r->case_index, "passed", r->status == INFD_OK, "status",
							   infd_status_name(r->status), "max_abs_error", r->max_abs_error,
							   "message", r->msg));
		return;
	}
	if (r->status == INFD_OK)
		printf("  %s test case %u: ok (max abs error %.3g)\n", r->method, r->case_index, r->max_abs_error);
	else
		printf("  %s test case %u: FAILED: %s\n", r->method, r->case_index, r->msg);
}

static int cmd_verify(struct infd_runtime *rt, const struct opts *o)
{
	struct infd_error e = {0};
	struct infd_bundled *b;
	if (infd__bundled_open_file(o->file, &b, &e) != INFD_OK)
		return die("verify", &e);
	struct verify_ctx vc = {.cases = o->json ? json_array() : NULL};
	uint32_t failed = 0, total = 0;
	for (uint32_t s = 0; s < b->n_suites; s++)
		total += b->suites[s].n_cases;
	if (!o->json)
		printf("%s: %u test suite%s, %u test case%s\n", o->file, b->n_suites, b->n_suites == 1 ? "" : "s", total,
		       total == 1 ? "" : "s");
	infd_status st = infd__bundled_verify(rt, b, o->rtol, o->atol, verify_report, &vc, &failed, &e);
	int rc = 0;
	if (st) {
		rc = die("verify", &e);
	} else if (o->json) {
		json_t *root = json_pack("{s:s, s:i, s:i, s:o}", "file", o->file, "passed", total - failed, "failed",
					 failed, "cases", vc.cases);
		vc.cases = NULL;
		json_dumpf(root, stdout, JSON_INDENT(2));
		printf("\n");
		json_decref(root);
	} else {
		printf("%u of %u test cases passed\n", total - failed, total);
	}
	json_decref(vc.cases);
	infd__bundled_close(b);
	return rc ? rc : failed ? 4 : 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longs[] = {
		{"method", required_argument, NULL, 'm'}, {"input", required_argument, NULL, 'i'},
		{"output-dir", required_argument, NULL, 'o'}, {"repeat", required_argument, NULL, 'n'},
		{"full", no_argument, NULL, 'f'},          {"json", no_argument, NULL, 'j'},
		{"rtol", required_argument, NULL, 'R'},    {"atol", required_argument, NULL, 'A'},
		{"help", no_argument, NULL, 'h'},          {"devices", required_argument, NULL, 'd'},
		{"threads", required_argument, NULL, 't'}, {"vulkan-device", required_argument, NULL, 'V'},
		{"plugin-dir", required_argument, NULL, 'P'}, {"no-xnnpack", no_argument, NULL, 'X'},
		{"no-vulkan", no_argument, NULL, 'K'},     {NULL, 0, NULL, 0},
	};
	o->rtol = 1e-5;
	o->atol = 1e-8;
	int c;
	while ((c = getopt_long(argc, argv, "m:i:o:n:fjhd:t:", longs, NULL)) != -1) {
		switch (c) {
		case 'm':
			o->method = optarg;
			break;
		case 'i':
			if (o->n_inputs >= MAX_INPUTS) {
				fprintf(stderr, "infd-pte: at most %d inputs\n", MAX_INPUTS);
				return 2;
			}
			o->inputs[o->n_inputs++] = optarg;
			break;
		case 'o':
			o->outdir = optarg;
			break;
		case 'n':
			o->repeat = strtol(optarg, NULL, 10);
			break;
		case 'f':
			o->full = true;
			break;
		case 'j':
			o->json = true;
			break;
		case 'R':
			o->rtol = strtod(optarg, NULL);
			break;
		case 'A':
			o->atol = strtod(optarg, NULL);
			break;
		case 'd': {
			snprintf(o->devices_buf, sizeof o->devices_buf, "%s", optarg);
			o->n_devices = 0;
			for (char *save = NULL, *tok = strtok_r(o->devices_buf, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save)) {
				if (o->n_devices == INFD_MAX_BACKENDS) {
					fprintf(stderr, "infd-pte: at most %d devices\n", INFD_MAX_BACKENDS);
					return 2;
				}
				o->devices[o->n_devices++] = tok;
			}
			break;
		}
		case 't': {
			long t = strtol(optarg, NULL, 10);
			if (t < 1 || t > 256) {
				fprintf(stderr, "infd-pte: --threads takes 1 to 256\n");
				return 2;
			}
			o->threads = (uint32_t)t;
			break;
		}
		case 'V':
			o->vulkan_device = optarg;
			break;
		case 'P':
			o->plugin_dir = optarg;
			break;
		case 'X':
			o->no_xnnpack = true;
			break;
		case 'K':
			o->no_vulkan = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		default:
			fputs(usage_text, stderr);
			return 2;
		}
	}
	if (argc - optind != 2) {
		fputs(usage_text, stderr);
		return 2;
	}
	o->cmd = argv[optind];
	o->file = argv[optind + 1];
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = {0};
	int rc = parse_args(argc, argv, &o);
	if (rc)
		return rc;
	struct infd_runtime *rt;
	struct infd_error e = {0};
	struct infd_runtime_options ropt;
	infd__runtime_options_default(&ropt);
	if (o.threads)
		ropt.n_threads = o.threads;
	if (infd__runtime_create(&ropt, &rt, &e) != INFD_OK)
		return die("runtime", &e);
	struct infd_backends_config bc;
	infd__backends_config_default(&bc);
	bc.xnnpack = !o.no_xnnpack;
	bc.vulkan = !o.no_vulkan;
	bc.vulkan_device = o.vulkan_device;
	bc.plugin_dir = o.plugin_dir;
	infd__backends_setup(rt, &bc);
	if (o.n_devices) {
		g_mopt.devices = o.devices;
		g_mopt.n_devices = o.n_devices;
	} else {
		g_mopt.devices = infd__default_devices;
		g_mopt.n_devices = INFD_DEFAULT_DEVICES;
	}
	if (strcmp(o.cmd, "inspect") == 0)
		rc = cmd_inspect(rt, &o);
	else if (strcmp(o.cmd, "run") == 0)
		rc = cmd_run(rt, &o);
	else if (strcmp(o.cmd, "verify") == 0)
		rc = cmd_verify(rt, &o);
	else {
		fprintf(stderr, "infd-pte: unknown command '%s'\n\n%s", o.cmd, usage_text);
		rc = 2;
	}
	infd__runtime_destroy(rt);
	return rc;
}
