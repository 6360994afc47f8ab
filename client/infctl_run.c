/* infctl run (inputs from files or generators, outputs printed or saved, latency
 * statistics over repeated runs) and infctl verify (a bundled program's test
 * cases run through the daemon and compared with tolerances). */
#include "infctl.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bundle.h"

/* ---- Elements ---------------------------------------------------------------------- */

static uint16_t float_to_half(float f)
{
	uint32_t x;
	memcpy(&x, &f, 4);
	uint32_t sign = (x >> 16) & 0x8000, e = (x >> 23) & 0xff, m = x & 0x7fffff;
	if (e == 0xff)
		return (uint16_t)(sign | 0x7c00 | (m ? 0x200 : 0));
	int exp = (int)e - 127 + 15;
	if (exp >= 31)
		return (uint16_t)(sign | 0x7c00);
	if (exp <= 0) {
		if (exp < -10)
			return (uint16_t)sign;
		m |= 0x800000;
		uint32_t shift = (uint32_t)(14 - exp);
		uint32_t h = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
		if (rem > half || (rem == half && (h & 1)))
			h++;
		return (uint16_t)(sign | h);
	}
	uint32_t h = sign | ((uint32_t)exp << 10) | (m >> 13), rem = m & 0x1fff;
	if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
		h++;
	return (uint16_t)h;
}

static uint16_t float_to_bf16(float f)
{
	uint32_t x;
	memcpy(&x, &f, 4);
	if ((x & 0x7fffffff) > 0x7f800000)
		return (uint16_t)((x >> 16) | 0x40);
	x += 0x7fff + ((x >> 16) & 1);
	return (uint16_t)(x >> 16);
}

static void element_set(void *data, int dtype, size_t k, double v)
{
	uint8_t *p = data;
	switch (dtype) {
	case INFD_DTYPE_FLOAT32: {
		float f = (float)v;
		memcpy(p + 4 * k, &f, 4);
		break;
	}
	case INFD_DTYPE_FLOAT64:
		memcpy(p + 8 * k, &v, 8);
		break;
	case INFD_DTYPE_FLOAT16: {
		uint16_t h = float_to_half((float)v);
		memcpy(p + 2 * k, &h, 2);
		break;
	}
	case INFD_DTYPE_BFLOAT16: {
		uint16_t h = float_to_bf16((float)v);
		memcpy(p + 2 * k, &h, 2);
		break;
	}
	case INFD_DTYPE_BOOL:
		p[k] = v != 0;
		break;
	case INFD_DTYPE_UINT8:
	case INFD_DTYPE_QUINT8:
		p[k] = (uint8_t)(int64_t)v;
		break;
	case INFD_DTYPE_INT8:
	case INFD_DTYPE_QINT8:
		p[k] = (uint8_t)(int8_t)(int64_t)v;
		break;
	case INFD_DTYPE_INT16:
	case INFD_DTYPE_UINT16: {
		uint16_t h = (uint16_t)(int64_t)v;
		memcpy(p + 2 * k, &h, 2);
		break;
	}
	case INFD_DTYPE_INT32:
	case INFD_DTYPE_UINT32:
	case INFD_DTYPE_QINT32: {
		uint32_t w = (uint32_t)(int64_t)v;
		memcpy(p + 4 * k, &w, 4);
		break;
	}
	case INFD_DTYPE_INT64:
	case INFD_DTYPE_UINT64: {
		int64_t w = (int64_t)v;
		memcpy(p + 8 * k, &w, 8);
		break;
	}
	default: {
		size_t es = infd_dtype_size(dtype);
		memset(p + k * es, 0, es);
	}
	}
}

static bool dtype_is_float(int dtype)
{
	return dtype == INFD_DTYPE_FLOAT32 || dtype == INFD_DTYPE_FLOAT64 || dtype == INFD_DTYPE_FLOAT16 ||
	       dtype == INFD_DTYPE_BFLOAT16;
}

/* Fill a view from a generator spec. Returns 1 when `spec` is not a generator
 * (then it names a file), 0 when filled, -1 (after a message) on a bad spec. */
static int generate(const char *spec, const infd_tensor_view *t, uint32_t index)
{
	size_t es = infd_dtype_size(t->dtype), n = es ? t->nbytes / es : 0;
	if (strcmp(spec, "zeros") == 0 || strcmp(spec, "ones") == 0 || strncmp(spec, "fill:", 5) == 0) {
		double v = spec[0] == 'z' ? 0.0 : spec[0] == 'o' ? 1.0 : 0.0;
		if (spec[0] == 'f') {
			char *end;
			v = strtod(spec + 5, &end);
			if (end == spec + 5 || *end) {
				infctl_error("input %u: bad number in '%s'", index, spec);
				return -1;
			}
		}
		for (size_t k = 0; k < n; k++)
			element_set(t->data, t->dtype, k, v);
		return 0;
	}
	if (strcmp(spec, "seq") == 0) {
		for (size_t k = 0; k < n; k++)
			element_set(t->data, t->dtype, k, (double)(k % 1000));
		return 0;
	}
	if (strncmp(spec, "rand", 4) == 0 && (spec[4] == '\0' || spec[4] == ':')) {
		uint64_t s = 1;
		if (spec[4]) {
			char *end;
			s = strtoull(spec + 5, &end, 10);
			if (end == spec + 5 || *end) {
				infctl_error("input %u: bad seed in '%s'", index, spec);
				return -1;
			}
		}
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		for (size_t k = 0; k < n; k++) {
			s = s * 6364136223846793005ULL + 1442695040888963407ULL;
			double u = (double)(s >> 11) / 9007199254740992.0; /* [0,1) */
			element_set(t->data, t->dtype, k, dtype_is_float(t->dtype) ? u * 2.0 - 1.0 : floor(u * 10.0));
		}
		return 0;
	}
	if (strncmp(spec, "values:", 7) == 0) {
		const char *p = spec + 7;
		size_t k = 0;
		while (*p) {
			char *end;
			double v = strtod(p, &end);
			if (end == p || (*end && *end != ',')) {
				infctl_error("input %u: bad number list in '%s'", index, spec);
				return -1;
			}
			if (k == n) {
				infctl_error("input %u: '%s' has more than the %zu values the input takes", index, spec,
					     n);
				return -1;
			}
			element_set(t->data, t->dtype, k++, v);
			p = *end ? end + 1 : end;
		}
		if (k != n) {
			infctl_error("input %u: '%s' gives %zu values, the input takes %zu", index, spec, k, n);
			return -1;
		}
		return 0;
	}
	return 1;
}

static int fill_input(const infd_tensor_view *t, uint32_t i, const char *spec)
{
	int g = generate(spec, t, i);
	if (g <= 0)
		return g ? INFCTL_USAGE : INFCTL_OK;
	FILE *f = fopen(spec, "rb");
	if (!f)
		return infctl_error("input %u: '%s' is neither a generator (zeros, ones, rand[:SEED], seq, fill:V, "
				    "values:...) nor a readable file: %s",
				    i, spec, strerror(errno));
	size_t got = fread(t->data, 1, t->nbytes, f);
	int extra = fgetc(f);
	fclose(f);
	if (got != t->nbytes || extra != EOF) {
		char shape[160];
		infctl_shape(shape, sizeof shape, t->rank, t->shape);
		return infctl_error("input %u: '%s' does not hold exactly %zu bytes (%s%s)", i, spec, t->nbytes,
				    infd_dtype_name(t->dtype), shape);
	}
	return INFCTL_OK;
}

static void print_element(FILE *to, int dtype, const void *data, size_t k)
{
	double v = infctl__element(dtype, data, k);
	if (dtype == INFD_DTYPE_INT64) {
		int64_t w;
		memcpy(&w, (const uint8_t *)data + 8 * k, 8);
		fprintf(to, "%lld", (long long)w);
	} else if (dtype == INFD_DTYPE_UINT64) {
		uint64_t w;
		memcpy(&w, (const uint8_t *)data + 8 * k, 8);
		fprintf(to, "%llu", (unsigned long long)w);
	} else if (dtype_is_float(dtype)) {
		fprintf(to, "%.7g", v);
	} else {
		fprintf(to, "%.0f", v);
	}
}

static json_t *element_json(int dtype, const void *data, size_t k)
{
	double v = infctl__element(dtype, data, k);
	if (dtype_is_float(dtype))
		return isfinite(v) ? json_real(v) : json_string(isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
	if (dtype == INFD_DTYPE_INT64 || dtype == INFD_DTYPE_UINT64) {
		int64_t w;
		memcpy(&w, (const uint8_t *)data + 8 * k, 8);
		return json_integer(w);
	}
	return json_integer((json_int_t)v);
}

/* ---- run ----------------------------------------------------------------------------- */

static double mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double percentile(const double *sorted, size_t n, double p)
{
	size_t k = (size_t)ceil(p / 100.0 * (double)n);
	return sorted[k ? k - 1 : 0];
}

static int write_outputs(const struct infctl_opts *o, infd_session *s)
{
	if (mkdir(o->outdir, 0777) != 0 && errno != EEXIST)
		return infctl_error("cannot create '%s': %s", o->outdir, strerror(errno));
	for (uint32_t k = 0; k < infd_session_output_count(s); k++) {
		infd_tensor_view t;
		infd_session_output(s, k, &t);
		char path[4096];
		snprintf(path, sizeof path, "%s/output%u.bin", o->outdir, k);
		FILE *f = fopen(path, "wb");
		if (!f || fwrite(t.data, 1, t.nbytes, f) != t.nbytes || fclose(f) != 0) {
			int e = errno;
			if (f)
				fclose(f);
			return infctl_error("cannot write '%s': %s", path, strerror(e));
		}
		if (!o->json) {
			char shape[160];
			infctl_shape(shape, sizeof shape, t.rank, t.shape);
			printf("output %u: %s%s -> %s (%zu bytes)\n", k, infd_dtype_name(t.dtype), shape, path,
			       t.nbytes);
		}
	}
	return INFCTL_OK;
}

static void print_outputs(const struct infctl_opts *o, infd_session *s)
{
	for (uint32_t k = 0; k < infd_session_output_count(s); k++) {
		infd_tensor_view t;
		infd_session_output(s, k, &t);
		size_t es = infd_dtype_size(t.dtype), n = es ? t.nbytes / es : 0;
		size_t show = o->full || n <= 16 ? n : 16;
		char shape[160];
		infctl_shape(shape, sizeof shape, t.rank, t.shape);
		printf("output %u: %s%s = [", k, infd_dtype_name(t.dtype), shape);
		for (size_t e = 0; e < show; e++) {
			if (e)
				fputs(", ", stdout);
			print_element(stdout, t.dtype, t.data, e);
		}
		if (show < n)
			printf(", ... (%zu more)", n - show);
		printf("]\n");
	}
}

static json_t *outputs_json(const struct infctl_opts *o, infd_session *s)
{
	json_t *arr = json_array();
	for (uint32_t k = 0; k < infd_session_output_count(s); k++) {
		infd_tensor_view t;
		infd_session_output(s, k, &t);
		size_t es = infd_dtype_size(t.dtype), n = es ? t.nbytes / es : 0;
		size_t show = o->full || n <= 16 ? n : 16;
		json_t *shape = json_array(), *vals = json_array();
		for (uint32_t d = 0; d < t.rank; d++)
			json_array_append_new(shape, json_integer(t.shape[d]));
		for (size_t e = 0; e < show; e++)
			json_array_append_new(vals, element_json(t.dtype, t.data, e));
		json_array_append_new(arr, json_pack("{s:s, s:o, s:I, s:o, s:b}", "dtype", infd_dtype_name(t.dtype),
						     "shape", shape, "nbytes", (json_int_t)t.nbytes, "values", vals,
						     "truncated", show < n));
	}
	return arr;
}

static const char *transport_name(infd_transport t)
{
	return t == INFD_TRANSPORT_DOORBELL ? "doorbell" : "nng";
}

int infctl_cmd_run(const struct infctl_opts *o)
{
	if (o->argc != 1) {
		fprintf(stderr,
			"infctl: run: name one model\nusage: infctl run MODEL [-m METHOD] [-i SPEC]... [-o DIR] "
			"[-n N] [--full] [--nng]\n");
		return INFCTL_USAGE;
	}
	const char *model = o->argv[0], *method = o->method ? o->method : "forward";
	infd_client *c;
	int rc = infctl_connect(o, &c);
	if (rc)
		return rc;
	infd_session *s = NULL;
	double *lat = NULL, exec_sum = 0, queue_sum = 0;
	infd_status st = infd_session_open(c, model, method, &s);
	if (st) {
		char what[256];
		snprintf(what, sizeof what, "%s.%s", model, method);
		rc = infctl_fail(c, st, what);
		goto out;
	}
	if (o->nng)
		infd_session_set_transport(s, INFD_TRANSPORT_NNG);
	uint32_t n_in = infd_session_input_count(s);
	if (o->n_inputs > n_in) {
		rc = infctl_error("%s.%s takes %u input%s, %u given", model, method, n_in, n_in == 1 ? "" : "s",
				  o->n_inputs);
		goto out;
	}
	for (uint32_t i = 0; i < n_in; i++) {
		infd_tensor_view t;
		infd_session_input(s, i, &t);
		if ((rc = fill_input(&t, i, i < o->n_inputs ? o->inputs[i] : "seq")) != INFCTL_OK)
			goto out;
	}

	lat = calloc((size_t)o->repeat, sizeof *lat);
	if (!lat) {
		rc = infctl_error("out of memory");
		goto out;
	}
	infd_run_info info = {0};
	for (long r = 0; r < o->repeat; r++) {
		double t0 = mono_us();
		st = infd_session_run(s, o->timeout_ms);
		lat[r] = mono_us() - t0;
		if (st) {
			rc = infctl_error("run %ld of %s.%s: %s", r + 1, model, method,
					  *infd_session_last_error(s) ? infd_session_last_error(s) : infd_strerror(st));
			goto out;
		}
		infd_session_run_info(s, &info);
		exec_sum += (double)info.exec_ns * 1e-3;
		queue_sum += (double)info.queue_ns * 1e-3;
	}

	if (o->outdir && (rc = write_outputs(o, s)) != INFCTL_OK)
		goto out;
	qsort(lat, (size_t)o->repeat, sizeof *lat, cmp_double);
	double sum = 0;
	for (long r = 0; r < o->repeat; r++)
		sum += lat[r];
	size_t n = (size_t)o->repeat;
	if (o->json) {
		json_t *j = json_pack("{s:s, s:s, s:s, s:I}", "model", model, "method", method, "transport",
				      transport_name(info.transport), "runs", (json_int_t)o->repeat);
		if (!o->outdir)
			json_object_set_new(j, "outputs", outputs_json(o, s));
		json_object_set_new(j, "latency_us",
				    json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "min", lat[0], "mean",
					      sum / (double)n, "p50", percentile(lat, n, 50), "p99",
					      percentile(lat, n, 99), "max", lat[n - 1], "exec_mean",
					      exec_sum / (double)n, "queue_mean", queue_sum / (double)n));
		char *text = json_dumps(j, JSON_INDENT(2));
		puts(text ? text : "{}");
		free(text);
		json_decref(j);
	} else {
		if (!o->outdir)
			print_outputs(o, s);
		if (o->repeat > 1)
			printf("%ld runs over %s: min %.1f us, mean %.1f us, p50 %.1f us, p99 %.1f us, max %.1f us "
			       "(daemon: exec %.1f us, queue %.1f us on average)\n",
			       o->repeat, transport_name(info.transport), lat[0], sum / (double)n,
			       percentile(lat, n, 50), percentile(lat, n, 99), lat[n - 1], exec_sum / (double)n,
			       queue_sum / (double)n);
	}
out:
	free(lat);
	infd_session_close(s);
	infd_client_close(c);
	return rc;
}

/* ---- verify ------------------------------------------------------------------------------ */

/* Indexes of the tensor values of a case's list that correspond, in order, to the
 * session's `n` tensors; NULL message on success. */
static const char *map_values(const struct infctl__bundle_value *v, uint32_t nv, uint32_t n, uint32_t *idx)
{
	uint32_t tensors = 0, scalars = 0;
	for (uint32_t i = 0; i < nv; i++) {
		if (v[i].kind == INFCTL_BUNDLE_TENSOR) {
			if (tensors < n)
				idx[tensors] = i;
			tensors++;
		} else {
			scalars++;
		}
	}
	if (tensors != n)
		return "count";
	if (scalars)
		return "scalar";
	return NULL;
}

static bool same_shape(const struct infctl__bundle_value *v, const infd_tensor_view *t)
{
	if (v->dtype != t->dtype || v->rank != t->rank || v->nbytes != t->nbytes)
		return false;
	for (uint32_t d = 0; d < v->rank; d++)
		if (v->shape[d] != t->shape[d])
			return false;
	return true;
}

static void describe(char *buf, size_t size, int dtype, uint32_t rank, const int64_t *shape)
{
	char s[160];
	infctl_shape(s, sizeof s, rank, shape);
	snprintf(buf, size, "%s%s", infd_dtype_name(dtype), s);
}

/* Run one case; prints its line. Returns true when it passed. */
static bool verify_case(const struct infctl_opts *o, infd_session *s, const char *method, uint32_t ci,
			const struct infctl__bundle_case *tc, json_t *jcases)
{
	uint32_t n_in = infd_session_input_count(s), n_out = infd_session_output_count(s);
	uint32_t idx[INFCTL_MAX_INPUTS > 256 ? INFCTL_MAX_INPUTS : 256];
	char why[512] = "";
	double worst = 0;
	bool ok = false;
	const char *m;
	if (n_in > 256 || n_out > 256) {
		snprintf(why, sizeof why, "the method has too many inputs or outputs for infctl");
		goto report;
	}
	if ((m = map_values(tc->inputs, tc->n_inputs, n_in, idx)) != NULL) {
		if (strcmp(m, "scalar") == 0)
			snprintf(why, sizeof why, "the case has scalar inputs, which a session cannot set");
		else
			snprintf(why, sizeof why, "the case has %u inputs, the method %u tensor inputs", tc->n_inputs,
				 n_in);
		goto report;
	}
	for (uint32_t i = 0; i < n_in; i++) {
		infd_tensor_view t;
		infd_session_input(s, i, &t);
		const struct infctl__bundle_value *v = &tc->inputs[idx[i]];
		if (!same_shape(v, &t)) {
			char a[200], b[200];
			describe(a, sizeof a, v->dtype, v->rank, v->shape);
			describe(b, sizeof b, t.dtype, t.rank, t.shape);
			snprintf(why, sizeof why, "input %u is %s in the bundle, %s in the method", i, a, b);
			goto report;
		}
		if (!v->contiguous) {
			snprintf(why, sizeof why, "input %u has a non-contiguous dim order (unsupported)", i);
			goto report;
		}
		memcpy(t.data, v->data, v->nbytes);
	}
	infd_status st = infd_session_run(s, o->timeout_ms);
	if (st) {
		snprintf(why, sizeof why, "run failed: %s",
			 *infd_session_last_error(s) ? infd_session_last_error(s) : infd_strerror(st));
		goto report;
	}
	if (tc->n_outputs == 0) {
		ok = true;
		snprintf(why, sizeof why, "ran (no expected outputs)");
		goto report;
	}
	if ((m = map_values(tc->outputs, tc->n_outputs, n_out, idx)) != NULL) {
		snprintf(why, sizeof why, "the case expects %u outputs, the method has %u tensor outputs",
			 tc->n_outputs, n_out);
		goto report;
	}
	for (uint32_t k = 0; k < n_out; k++) {
		infd_tensor_view t;
		infd_session_output(s, k, &t);
		const struct infctl__bundle_value *v = &tc->outputs[idx[k]];
		if (!same_shape(v, &t) || !v->contiguous) {
			char a[200], b[200];
			describe(a, sizeof a, v->dtype, v->rank, v->shape);
			describe(b, sizeof b, t.dtype, t.rank, t.shape);
			snprintf(why, sizeof why, "output %u is %s, expected %s", k, b, a);
			goto report;
		}
		size_t bad;
		double err;
		bool match = infctl__bundle_compare(t.dtype, t.data, v->data, t.nbytes, o->rtol, o->atol, &bad, &err);
		if (err > worst)
			worst = err;
		if (!match) {
			snprintf(why, sizeof why, "output %u element %zu is %.9g, expected %.9g (max abs error %.3g)",
				 k, bad, infctl__element(t.dtype, t.data, bad), infctl__element(v->dtype, v->data, bad),
				 err);
			goto report;
		}
	}
	ok = true;
	snprintf(why, sizeof why, "max abs error %.3g", worst);
report:
	if (o->json)
		json_array_append_new(jcases, json_pack("{s:s, s:i, s:b, s:s, s:f}", "method", method, "case", (int)ci,
							"ok", ok, "detail", why, "max_abs_error", worst));
	else
		printf("%s case %u: %s (%s)\n", method, ci, ok ? "ok" : "FAIL", why);
	return ok;
}

/* A directory the daemon can read too: $INFCTL_TMPDIR, else /dev/shm (a daemon
 * under systemd has a private /tmp), else $TMPDIR, else /tmp. */
static const char *temp_dir(void)
{
	const char *dir = getenv("INFCTL_TMPDIR");
	if (dir && *dir)
		return dir;
	if (access("/dev/shm", W_OK | X_OK) == 0)
		return "/dev/shm";
	dir = getenv("TMPDIR");
	return dir && *dir ? dir : "/tmp";
}

/* Write the embedded program to a temporary file the daemon can read. */
static int write_temp_program(const struct infctl__bundle *b, char *path, size_t size)
{
	snprintf(path, size, "%s/infctl-verify-XXXXXX.pte", temp_dir());
	int fd = mkstemps(path, 4);
	if (fd < 0)
		return infctl_error("cannot create a temporary file for the bundle's program: %s", strerror(errno));
	bool ok = fchmod(fd, 0644) == 0;
	size_t off = 0;
	while (ok && off < b->program_size) {
		ssize_t w = write(fd, b->program + off, b->program_size - off);
		if (w <= 0 && errno != EINTR)
			ok = false;
		else if (w > 0)
			off += (size_t)w;
	}
	if (close(fd) != 0)
		ok = false;
	if (!ok) {
		unlink(path);
		return infctl_error("cannot write '%s': %s", path, strerror(errno));
	}
	return INFCTL_OK;
}

int infctl_cmd_verify(const struct infctl_opts *o)
{
	if (o->argc != 1 && o->argc != 2) {
		fprintf(stderr, "infctl: verify: usage: infctl verify [MODEL] FILE.bpte [-m METHOD]\n");
		return INFCTL_USAGE;
	}
	const char *file = o->argv[o->argc - 1];
	char why[1024], temp_path[4096] = "", temp_name[64] = "";
	struct infctl__bundle *b;
	infd_status st = infctl__bundle_load(file, &b, why, sizeof why);
	if (st)
		return infctl_error("%s", why);
	if (o->method && !infctl__bundle_suite(b, o->method)) {
		infctl__bundle_free(b);
		return infctl_error("%s has no test suite for method '%s'", file, o->method);
	}
	infd_client *c;
	int rc = infctl_connect(o, &c);
	if (rc) {
		infctl__bundle_free(b);
		return rc;
	}
	const char *model = o->argc == 2 ? o->argv[0] : NULL;
	json_t *jcases = json_array();
	uint32_t passed = 0, total = 0;
	if (!model) {
		if ((rc = write_temp_program(b, temp_path, sizeof temp_path)) != INFCTL_OK)
			goto out;
		snprintf(temp_name, sizeof temp_name, "infctl-verify-%ld", (long)getpid());
		if ((st = infd_load(c, temp_name, temp_path)) != INFD_OK) {
			rc = infctl_fail(c, st, "loading the bundle's program");
			if (st != INFD_PERMISSION_DENIED)
				fprintf(stderr,
					"infctl: (if the daemon cannot see %s, set INFCTL_TMPDIR to a directory it can "
					"read, or load the program yourself and run: infctl verify MODEL %s)\n",
					temp_path, file);
			temp_name[0] = '\0';
			goto out;
		}
		model = temp_name;
	} else {
		char *info = NULL;
		if ((st = infd_model_info_json(c, model, &info)) != INFD_OK) {
			rc = infctl_fail(c, st, model);
			goto out;
		}
		json_t *mi = json_loads(info, 0, NULL);
		json_t *fb = json_object_get(mi, "file_bytes");
		if (json_is_integer(fb) && (size_t)json_integer_value(fb) != b->program_size && !o->json)
			fprintf(stderr,
				"infctl: warning: model %s is a %lld-byte file, the bundle's program has %zu bytes "
				"(is it the same program?)\n",
				model, (long long)json_integer_value(fb), b->program_size);
		json_decref(mi);
		infd_free(info);
	}

	for (uint32_t si = 0; si < b->n_suites; si++) {
		const struct infctl__bundle_suite *su = &b->suites[si];
		if (o->method && strcmp(o->method, su->method) != 0)
			continue;
		infd_session *s;
		if ((st = infd_session_open(c, model, su->method, &s)) != INFD_OK) {
			char what[256];
			snprintf(what, sizeof what, "%s.%s", model, su->method);
			infctl_fail(c, st, what);
			total += su->n_cases;
			continue;
		}
		if (o->nng)
			infd_session_set_transport(s, INFD_TRANSPORT_NNG);
		for (uint32_t ci = 0; ci < su->n_cases; ci++, total++)
			passed += verify_case(o, s, su->method, ci, &su->cases[ci], jcases);
		infd_session_close(s);
	}
	if (o->json) {
		json_t *j = json_pack("{s:s, s:s, s:i, s:i, s:O}", "file", file, "model", model, "passed", (int)passed,
				      "total", (int)total, "cases", jcases);
		char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
		puts(text ? text : "{}");
		free(text);
		json_decref(j);
	} else {
		printf("%u of %u case%s passed\n", passed, total, total == 1 ? "" : "s");
	}
	if (passed != total || total == 0)
		rc = INFCTL_FAIL;
	if (total == 0 && !o->json)
		fprintf(stderr, "infctl: %s has no test cases%s\n", file, o->method ? " for that method" : "");
out:
	if (temp_name[0] && infd_unload(c, temp_name) != INFD_OK)
		infctl_fail(c, INFD_INTERNAL, "unloading the temporary model");
	if (temp_path[0])
		unlink(temp_path);
	json_decref(jcases);
	infd_client_close(c);
	infctl__bundle_free(b);
	return rc;
}
