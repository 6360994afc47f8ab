/* NPU delegate plugins end to end: the loader reading a plugin directory (ABI
 * check, availability, bad files), delegate calls and operator calls running in
 * the test plugin (tests/plugins), and failures surfacing with the plugin's own
 * words while other programs and plugins keep working. */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/backends.h"
#include "common.h"
#include "infd/npu_plugin.h"
#include "runtime/pte_writer.h"
#include "runtime/runtime.h"

#ifndef INFD_TEST_PLUGIN_DIR
#error "meson passes INFD_TEST_PLUGIN_DIR (where tests/plugins builds its modules)"
#endif

/* ---- a temporary plugin directory and a runtime that loads it ------------------ */

struct npu_env {
	char dir[64];
	char log[8192];
	struct infd_runtime *rt;
};

static const char *plugin_path(const char *variant)
{
	static char path[4][512];
	static int turn;
	char *p = path[turn++ % 4];
	snprintf(p, sizeof path[0], "%s/infd_test_npu_%s.so", INFD_TEST_PLUGIN_DIR, variant);
	return p;
}

static void collect_log(void *ud, const char *line)
{
	struct npu_env *env = ud;
	size_t used = strlen(env->log);
	snprintf(env->log + used, sizeof env->log - used, "%s\n", line);
}

static void env_dir(struct npu_env *env)
{
	snprintf(env->dir, sizeof env->dir, "/tmp/infd-npu-test-XXXXXX");
	cr_assert_not_null(mkdtemp(env->dir), "mkdtemp: %s", strerror(errno));
}

/* Link the built plugin `variant` into the directory as `as` (NULL: its own name). */
static void env_link(struct npu_env *env, const char *variant, const char *as)
{
	char link[512];
	const char *target = plugin_path(variant);
	cr_assert_eq(access(target, R_OK), 0, "test plugin %s was not built", target);
	snprintf(link, sizeof link, "%s/%s", env->dir, as ? as : strrchr(target, '/') + 1);
	cr_assert_eq(symlink(target, link), 0, "symlink %s: %s", link, strerror(errno));
}

static void env_write(struct npu_env *env, const char *name, const void *data, size_t n, mode_t mode)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", env->dir, name);
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f, "create %s", path);
	cr_assert_eq(fwrite(data, 1, n, f), n);
	fclose(f);
	cr_assert_eq(chmod(path, mode), 0);
}

/* A runtime with only the portable kernels plus the plugins of env->dir (none
 * when `with_plugins` is false). */
static void env_start(struct npu_env *env, bool with_plugins)
{
	struct infd_error e = {0};
	cr_assert_eq(infd__runtime_create(NULL, &env->rt, &e), INFD_OK, "runtime: %s", e.msg);
	struct infd_backends_config cfg;
	infd__backends_config_default(&cfg);
	cfg.xnnpack = false;
	cfg.vulkan = false;
	cfg.plugin_dir = with_plugins ? env->dir : NULL;
	cfg.log = collect_log;
	cfg.log_ud = env;
	infd__backends_setup(env->rt, &cfg);
}

static void env_end(struct npu_env *env)
{
	infd__runtime_destroy(env->rt);
	if (!env->dir[0])
		return;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", env->dir);
	cr_assert_eq(system(cmd), 0);
}

static int backend_index(const struct infd_runtime *rt, const char *name)
{
	for (uint32_t b = 0; b < rt->n_backends; b++)
		if (strcmp(rt->backends[b].ops->name, name) == 0)
			return (int)b;
	return -1;
}

/* Instances the working test plugin has not destroyed yet. */
static int live_instances(void)
{
	void *dl = dlopen(plugin_path("good"), RTLD_NOW | RTLD_NOLOAD);
	cr_assert_not_null(dl, "the test plugin should be loaded");
	int (*live)(void);
	void *sym = dlsym(dl, "infd_test_npu_live");
	cr_assert_not_null(sym);
	memcpy(&live, &sym, sizeof live);
	int n = live();
	dlclose(dl);
	return n;
}

/* ---- programs -------------------------------------------------------------------- */

static struct infd_program *finish(struct infd_pte_writer *w)
{
	uint8_t *data = NULL;
	size_t size = 0;
	struct infd_error e = {0};
	infd_status st = infd__pte_writer_finish(w, &data, &size, &e);
	infd__pte_writer_destroy(w);
	cr_assert_eq(st, INFD_OK, "writer: %s", e.msg);
	struct infd_program *p = NULL;
	st = infd__program_open_copy(data, size, &p, &e);
	free(data);
	cr_assert_eq(st, INFD_OK, "reader: %s", e.msg);
	return p;
}

static const int32_t s4[1] = {4};

/* The test plugin's payload: magic, a, b. */
static void payload(uint8_t out[12], const char *magic, float a, float b)
{
	memcpy(out, magic, 4);
	memcpy(out + 4, &a, 4);
	memcpy(out + 8, &b, 4);
}

/* forward(x: f32[4]) -> y = delegate `id`(x): one DelegateCall (x, y). */
static struct infd_program *delegate_prog(const char *id, float a, float b, const char *activation)
{
	struct infd_pte_writer *w = infd__pte_writer_create(NULL);
	struct infd_pte_method *pm = infd__pte_method(w, "forward");
	int32_t x = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s4);
	int32_t y = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s4);
	uint8_t blob[12];
	payload(blob, "ITN1", a, b);
	struct infd_pte_compile_spec spec = {.key = "activation", .value = activation,
					     .size = activation ? strlen(activation) : 0};
	int32_t d = infd__pte_delegate(pm, id, blob, sizeof blob, activation ? 1 : 0, &spec);
	infd__pte_inputs(pm, 1, &x);
	infd__pte_outputs(pm, 1, &y);
	infd__pte_delegate_call(pm, d, 2, (const int32_t[]){x, y});
	return finish(w);
}

static struct infd_method *load_ok(struct infd_runtime *rt, const struct infd_program *p,
				   const struct infd_method_options *opt)
{
	struct infd_method *m = NULL;
	struct infd_error e = {0};
	infd_status st = infd__method_load(rt, p, "forward", opt, &m, &e);
	cr_assert_eq(st, INFD_OK, "load: %s (%s)", e.msg, infd_status_name(st));
	return m;
}

/* Load that must fail with `status`; returns the message (static). */
static const char *load_fails(struct infd_runtime *rt, const struct infd_program *p, infd_status status)
{
	static struct infd_error e;
	struct infd_method *m = NULL;
	infd__error_clear(&e);
	infd_status st = infd__method_load(rt, p, "forward", NULL, &m, &e);
	cr_assert_eq(st, status, "load gave %s (%s), expected %s", infd_status_name(st), e.msg,
		     infd_status_name(status));
	cr_assert_null(m);
	return e.msg;
}

static void set_f32(struct infd_method *m, uint32_t i, const float *v, size_t n)
{
	struct infd_error e = {0};
	int32_t size = (int32_t)n;
	infd_status st = infd__method_set_input_tensor(m, i, INFD_DTYPE_FLOAT32, 1, &size, v, n * sizeof *v, &e);
	cr_assert_eq(st, INFD_OK, "set input %u: %s", i, e.msg);
}

static void execute_ok(struct infd_method *m)
{
	struct infd_error e = {0};
	infd_status st = infd__method_execute(m, &e);
	cr_assert_eq(st, INFD_OK, "execute: %s (%s)", e.msg, infd_status_name(st));
}

static void expect_out(struct infd_method *m, uint32_t k, const float *want, size_t n)
{
	const struct infd_evalue *v = infd__method_output(m, k);
	cr_assert_not_null(v);
	cr_assert_eq(v->kind, INFD_VALUE_TENSOR);
	const struct infd_tensor *t = v->u.t;
	cr_assert_eq(t->numel, n, "output %u numel %llu, expected %zu", k, (unsigned long long)t->numel, n);
	for (size_t i = 0; i < n; i++)
		cr_assert_float_eq(((const float *)t->data)[i], want[i], 1e-6, "output %u element %zu: %g, expected %g",
				   k, i, ((const float *)t->data)[i], want[i]);
}

/* ---- delegate calls ----------------------------------------------------------------- */

Test(npu, delegate_call_runs_in_the_plugin)
{
	struct npu_env env = {0};
	env_dir(&env);
	env_link(&env, "good", NULL);
	env_start(&env, true);
	cr_assert(strstr(env.log, "npu plugin infd_test_npu_good.so: using infd test NPU (testnpu)"), "log: %s",
		  env.log);
	int b = backend_index(env.rt, "testnpu");
	cr_assert_eq(b, 0, "the plugin goes ahead of the portable kernels");
	cr_assert_str_eq(env.rt->kinds[b], "npu");

	struct infd_program *p = delegate_prog("InfdTestNpu", 2.0f, 1.0f, NULL);
	struct infd_method *m = load_ok(env.rt, p, NULL);
	cr_assert_str_eq(infd__method_placement(m, 0, 0), "testnpu");
	cr_assert_eq(live_instances(), 1);
	set_f32(m, 0, (const float[]){1, -2, 0.5f, 3}, 4);
	execute_ok(m);
	expect_out(m, 0, (const float[]){3, -3, 2, 7}, 4);
	/* again, with other numbers: the plugin reads the current inputs */
	set_f32(m, 0, (const float[]){0, 10, -1, 0.25f}, 4);
	execute_ok(m);
	expect_out(m, 0, (const float[]){1, 21, -1, 1.5f}, 4);
	infd__method_free(m);
	cr_assert_eq(live_instances(), 0, "freeing the method destroys the plugin instance");
	infd__program_close(p);
	env_end(&env);
}

/* The daemon loads one method instance per client session: they share one plugin
 * instance (init once per model, not per session), each with its own tensors. */
Test(npu, method_instances_share_one_plugin_instance)
{
	struct npu_env env = {0};
	env_dir(&env);
	env_link(&env, "good", NULL);
	env_start(&env, true);
	struct infd_program *p = delegate_prog("InfdTestNpu", 2.0f, 1.0f, NULL);
	struct infd_method *m1 = load_ok(env.rt, p, NULL), *m2 = load_ok(env.rt, p, NULL);
	cr_assert_eq(live_instances(), 1, "two method instances, one plugin instance");
	set_f32(m1, 0, (const float[]){1, 2, 3, 4}, 4);
	set_f32(m2, 0, (const float[]){-1, 0, 1, 2}, 4);
	execute_ok(m1);
	execute_ok(m2);
	expect_out(m1, 0, (const float[]){3, 5, 7, 9}, 4);
	expect_out(m2, 0, (const float[]){-1, 1, 3, 5}, 4);
	infd__method_free(m1);
	cr_assert_eq(live_instances(), 1, "the other method still uses it");
	execute_ok(m2);
	expect_out(m2, 0, (const float[]){-1, 1, 3, 5}, 4);
	infd__method_free(m2);
	cr_assert_eq(live_instances(), 0, "the last method instance destroys it");
	/* another program with the same layout gets its own instance */
	struct infd_program *q = delegate_prog("InfdTestNpu", 1.0f, 0.0f, NULL);
	m1 = load_ok(env.rt, p, NULL);
	m2 = load_ok(env.rt, q, NULL);
	cr_assert_eq(live_instances(), 2);
	infd__method_free(m1);
	infd__method_free(m2);
	infd__program_close(q);
	infd__program_close(p);
	env_end(&env);
}

Test(npu, compile_specs_reach_the_plugin)
{
	struct npu_env env = {0};
	env_dir(&env);
	env_link(&env, "good", NULL);
	env_start(&env, true);
	struct infd_program *p = delegate_prog("InfdTestNpu", 1.0f, -1.0f, "relu");
	struct infd_method *m = load_ok(env.rt, p, NULL);
	set_f32(m, 0, (const float[]){3, 0.5f, -4, 1}, 4);
	execute_ok(m);
	expect_out(m, 0, (const float[]){2, 0, 0, 0}, 4);
	infd__method_free(m);
	infd__program_close(p);
	env_end(&env);
}

Test(npu, delegate_with_two_outputs)
{
	struct npu_env env = {0};
	env_dir(&env);
	env_link(&env, "good", NULL);
	env_start(&env, true);
	struct infd_pte_writer *w = infd__pte_writer_create(NULL);
	struct infd_pte_method *pm = infd__pte_method(w, "forward");
	int32_t x = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s4);
	int32_t y = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s4);
	int32_t z = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s4);
	uint8_t blob[12];
	payload(blob, "ITN2", -1.0f, 0.5f);
	int32_t d = infd__pte_delegate(pm, "InfdTestNpu", blob, sizeof blob, 0, NULL);
	infd__pte_inputs(pm, 1, &x);
	infd__pte_outputs(pm, 2, (const int32_t[]){y, z});
	infd__pte_delegate_call(pm, d, 3, (const int32_t[]){x, y, z});
	struct infd_program *p = finish(w);
	struct infd_method *m = load_ok(env.rt, p, NULL);
	set_f32(m, 0, (const float[]){1, 2, -3, 0}, 4);
	execute_ok(m);
	expect_out(m, 0, (const float[]){-0.5f, -1.5f, 3.5f, 0.5f}, 4);
	expect_out(m, 1, (const float[]){1, 4, 9, 0}, 4);
	infd__method_free(m);
	infd__program_close(p);
	env_end(&env);
}

/* forward(x: f32[4]) -> y: f32[<=4] (dynamic bound) through delegate payload `magic`. */
static struct infd_program *dynamic_out_prog(const char *magic)
{
	struct infd_pte_writer *w = infd__pte_writer_create(NULL);
	struct infd_pte_method *pm = infd__pte_method(w, "forward");
	int32_t x = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s4);
	int32_t y = infd__pte_tensor(pm, &(struct infd_pte_tensor){.dtype = INFD_DTYPE_FLOAT32, .rank = 1, .sizes = s4,
								  .dynamism = INFD_SHAPE_DYNAMIC_BOUND, .memory_id = 1,
								  .memory_offset = 64});
	infd__pte_arena(pm, 1, 128);
	uint8_t blob[12];
	payload(blob, magic, 2.0f, 0.0f);
	int32_t d = infd__pte_delegate(pm, "InfdTestNpu", blob, sizeof blob, 0, NULL);
	infd__pte_inputs(pm, 1, &x);
	infd__pte_outputs(pm, 1, &y);
	infd__pte_delegate_call(pm, d, 2, (const int32_t[]){x, y});
	return finish(w);
}

Test(npu, plugin_sets_a_dynamic_output_shape)
{
	struct npu_env env = {0};
	env_dir(&env);
	env_link(&env, "good", NULL);
	env_start(&env, true);
	struct infd_program *p = dynamic_out_prog("ITNH");
	struct infd_method *m = load_ok(env.rt, p, NULL);
	set_f32(m, 0, (const float[]){1, 2, 3, 4}, 4);
	execute_ok(m);
	expect_out(m, 0, (const float[]){2, 4}, 2);
	cr_assert_eq(infd__method_output(m, 0)->u.t->sizes[0], 2);
	infd__method_free(m);
	infd__program_close(p);

	/* a shape beyond the output's bound fails the run, naming the plugin */
	p = dynamic_out_prog("ITNG");
	m = load_ok(env.rt, p, NULL);
	set_f32(m, 0, (const float[]){1, 2, 3, 4}, 4);
	struct infd_error e = {0};
	cr_assert_eq(infd__method_execute(m, &e), INFD_KERNEL_FAILED, "%s", e.msg);
	cr_assert(strstr(e.msg, "NPU plugin 'testnpu'") && strstr(e.msg, "exceeds its bound"), "%s", e.msg);
	infd__method_free(m);
	infd__program_close(p);
	env_end(&env);
}

Test(npu, without_plugins_the_delegate_is_refused_by_name)
{
	struct npu_env env = {0};
	env_start(&env, false);
	struct infd_program *p = delegate_prog("InfdTestNpu", 2.0f, 1.0f, NULL);
	const char *msg = load_fails(env.rt, p, INFD_MISSING_OPERATOR);
	cr_assert(strstr(msg, "InfdTestNpu"), "message should name the delegate: %s", msg);
	infd__program_close(p);
	env_end(&env);

	/* an empty plugin directory is the same */
	struct npu_env env2 = {0};
	env_dir(&env2);
	env_start(&env2, true);
	cr_assert_eq(env2.rt->n_backends, 1, "only the portable kernels");
	p = delegate_prog("InfdTestNpu", 2.0f, 1.0f, NULL);
	msg = load_fails(env2.rt, p, INFD_MISSING_OPERATOR);
	cr_assert(strstr(msg, "InfdTestNpu"), "message should name the delegate: %s", msg);
	infd__program_close(p);
	env_end(&env2);
}

Test(npu, a_device_preference_without_the_npu_refuses_the_delegate)
{
	struct npu_env env = {0};
	env_dir(&env);
	env_link(&env, "good", NULL);
	env_start(&env, true);
	struct infd_program *p = delegate_prog("InfdTestNpu", 2.0f, 1.0f, NULL);
	struct infd_method *m = NULL;
	struct infd_error e = {0};
	const char *cpu_only[] = {"cpu"};
	struct infd_method_options opt = {.devices = cpu_only, .n_devices = 1};
	cr_assert_eq(infd__method_load(env.rt, p, "forward", &opt, &m, &e), INFD_MISSING_OPERATOR);
	cr_assert(strstr(e.msg, "InfdTestNpu"), "%s", e.msg);
	const char *npu_first[] = {"npu", "cpu"};
	opt.devices = npu_first;
	opt.n_devices = 2;
	m = load_ok(env.rt, p, &opt);
	cr_assert_str_eq(infd__method_placement(m, 0, 0), "testnpu");
	infd__method_free(m);
	infd__program_close(p);
	env_end(&env);
}

/* ---- plugins the loader refuses or skips ------------------------------------------ */

Test(npu, abi_mismatch_is_refused_naming_file_and_versions)
{
	struct npu_env env = {0};
	env_dir(&env);
	env_link(&env, "badabi", NULL);
	env_link(&env, "good", NULL);
	env_start(&env, true);
	char want[256];
	snprintf(want, sizeof want, "infd_test_npu_badabi.so: plugin ABI version %u, this infd speaks version %u",
		 INFD_NPU_PLUGIN_ABI_VERSION + 98, INFD_NPU_PLUGIN_ABI_VERSION);
	cr_assert(strstr(env.log, want), "log should say '%s': %s", want, env.log);
	cr_assert(strstr(env.log, "npu plugin infd_test_npu_badabi.so: not used"), "%s", env.log);
	cr_assert_lt(backend_index(env.rt, "badabi"), 0);
	cr_assert_geq(backend_index(env.rt, "testnpu"), 0, "the other plugin is unaffected");
	struct infd_program *p = delegate_prog("InfdBadAbiNpu", 1.0f, 0.0f, NULL);
	const char *msg = load_fails(env.rt, p, INFD_MISSING_OPERATOR);
	cr_assert(strstr(msg, "InfdBadAbiNpu"), "%s", msg);
	infd__program_close(p);
	env_end(&env);
}

Test(npu, unavailable_plugin_is_skipped_with_its_reason)
{
	struct npu_env env = {0};
	env_dir(&env);
	env_link(&env, "unavailable", NULL);
	env_start(&env, true);
	cr_assert(strstr(env.log, "reports its device unavailable: no /dev/infd-test-npu device"), "%s", env.log);
	cr_assert_eq(env.rt->n_backends, 1, "only the portable kernels remain");
	struct infd_program *p = delegate_prog("InfdOfflineNpu", 1.0f, 0.0f, NULL);
	const char *msg = load_fails(env.rt, p, INFD_MISSING_OPERATOR);
	cr_assert(strstr(msg, "InfdOfflineNpu"), "%s", msg);
	infd__program_close(p);
	env_end(&env);
}

Test(npu, files_that_are_not_plugins_are_refused_or_ignored)
{
	struct npu_env env = {0};
	env_dir(&env);
	env_link(&env, "noentry", NULL);
	static const char junk[] = "this is not an ELF file\n";
	env_write(&env, "junk.so", junk, sizeof junk - 1, 0644);
	env_write(&env, "README.txt", junk, sizeof junk - 1, 0644);
	env_write(&env, "loose.so", junk, sizeof junk - 1, 0666);
	env_link(&env, "good", NULL);
	env_link(&env, "good", "zz_same_name_again.so");
	env_start(&env, true);
	cr_assert(strstr(env.log, "infd_test_npu_noentry.so exports no infd_npu_plugin_entry()"), "%s", env.log);
	cr_assert(strstr(env.log, "npu plugin junk.so: not used (cannot load "), "%s", env.log);
	cr_assert(strstr(env.log, "loose.so is writable by group or others (mode 666)"), "%s", env.log);
	cr_assert(strstr(env.log, "zz_same_name_again.so: a backend named 'testnpu' is already present"), "%s",
		  env.log);
	cr_assert_null(strstr(env.log, "README"), "only *.so files are plugins: %s", env.log);
	cr_assert_eq(env.rt->n_backends, 2, "testnpu once, then the portable kernels");
	struct infd_program *p = delegate_prog("InfdTestNpu", 2.0f, 1.0f, NULL);
	struct infd_method *m = load_ok(env.rt, p, NULL);
	set_f32(m, 0, (const float[]){1, 1, 1, 1}, 4);
	execute_ok(m);
	expect_out(m, 0, (const float[]){3, 3, 3, 3}, 4);
	infd__method_free(m);
	infd__program_close(p);
	env_end(&env);
}

Test(npu, plugin_order_follows_file_names)
{
	struct npu_env env = {0};
	env_dir(&env);
	env_link(&env, "good", "20-testnpu.so");
	env_link(&env, "failinit", "10-failnpu.so");
	env_start(&env, true);
	cr_assert_eq(env.rt->n_backends, 3);
	cr_assert_str_eq(env.rt->backends[0].ops->name, "failnpu", "the first file by name is most preferred");
	cr_assert_str_eq(env.rt->backends[1].ops->name, "testnpu");
	cr_assert_str_eq(env.rt->backends[2].ops->name, "portable");
	env_end(&env);
}

/* ---- failures inside a plugin --------------------------------------------------------- */

Test(npu, failing_init_refuses_only_that_program)
{
	struct npu_env env = {0};
	env_dir(&env);
	env_link(&env, "failinit", NULL);
	env_link(&env, "good", NULL);
	env_start(&env, true);
	cr_assert_geq(backend_index(env.rt, "failnpu"), 0, "%s", env.log);

	struct infd_program *bad = delegate_prog("InfdFailNpu", 1.0f, 0.0f, NULL);
	const char *msg = load_fails(env.rt, bad, INFD_UNSUPPORTED);
	cr_assert(strstr(msg, "the firmware refused the graph (compile error 42"), "plugin's words: %s", msg);
	cr_assert(strstr(msg, "NPU plugin 'failnpu'"), "names the plugin: %s", msg);
	cr_assert(strstr(msg, "InfdFailNpu"), "names the delegate: %s", msg);

	/* the same runtime still loads and runs another program. failnpu claims
	 * InfdTestNpu too and comes first (file order); its init fails, so the
	 * delegate falls back to the next plugin that claims it */
	cr_assert_lt(backend_index(env.rt, "failnpu"), backend_index(env.rt, "testnpu"));
	struct infd_program *good = delegate_prog("InfdTestNpu", 3.0f, 0.0f, NULL);
	struct infd_method *m = load_ok(env.rt, good, NULL);
	cr_assert_str_eq(infd__method_placement(m, 0, 0), "testnpu");
	cr_assert(m->fallback_notes && strstr(m->fallback_notes, "failnpu") &&
		      strstr(m->fallback_notes, "they run on 'testnpu'"),
		  "the fallback is recorded: %s", m->fallback_notes ? m->fallback_notes : "(none)");
	set_f32(m, 0, (const float[]){1, 2, 3, 4}, 4);
	execute_ok(m);
	expect_out(m, 0, (const float[]){3, 6, 9, 12}, 4);

	/* an init failure of the working plugin (bad compile spec) says what it was */
	struct infd_program *gelu = delegate_prog("InfdTestNpu", 1.0f, 0.0f, "gelu");
	msg = load_fails(env.rt, gelu, INFD_UNSUPPORTED);
	cr_assert(strstr(msg, "unknown activation 'gelu'"), "%s", msg);
	cr_assert(strstr(msg, "the firmware refused the graph"), "every refusal is reported: %s", msg);
	cr_assert_eq(live_instances(), 1, "the failed load left no instance behind");

	/* and the first method is still fine */
	execute_ok(m);
	expect_out(m, 0, (const float[]){3, 6, 9, 12}, 4);
	infd__method_free(m);
	infd__program_close(good);
	infd__program_close(gelu);
	infd__program_close(bad);
	env_end(&env);
}

Test(npu, execute_failure_carries_the_plugin_message)
{
	struct npu_env env = {0};
	env_dir(&env);
	env_link(&env, "good", NULL);
	env_start(&env, true);
	struct infd_program *p = delegate_prog("InfdTestNpu", 2.0f, 1.0f, NULL);
	struct infd_method *m = load_ok(env.rt, p, NULL);
	set_f32(m, 0, (const float[]){1, NAN, 0, 0}, 4);
	struct infd_error e = {0};
	cr_assert_eq(infd__method_execute(m, &e), INFD_KERNEL_FAILED);
	cr_assert(strstr(e.msg, "input element 1 is NaN"), "%s", e.msg);
	cr_assert(strstr(e.msg, "testnpu"), "%s", e.msg);
	/* the method recovers on good input */
	set_f32(m, 0, (const float[]){1, 1, 0, 0}, 4);
	execute_ok(m);
	expect_out(m, 0, (const float[]){3, 3, 1, 1}, 4);
	infd__method_free(m);
	infd__program_close(p);
	env_end(&env);
}

/* ---- mixing plugin work with portable kernels ----------------------------------------- */

Test(npu, delegate_and_portable_kernels_in_one_program)
{
	struct npu_env env = {0};
	env_dir(&env);
	env_link(&env, "good", NULL);
	env_start(&env, true);
	/* t = 2x + 1 (plugin); u = t + 3x (aten::add.out, alpha 3); y = relu(u) */
	struct infd_pte_writer *w = infd__pte_writer_create(NULL);
	struct infd_pte_method *pm = infd__pte_method(w, "forward");
	int32_t x = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s4);
	int32_t t = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s4);
	int32_t u = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s4);
	int32_t y = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s4);
	int32_t three = infd__pte_int(pm, 3);
	uint8_t blob[12];
	payload(blob, "ITN1", 2.0f, 1.0f);
	int32_t d = infd__pte_delegate(pm, "InfdTestNpu", blob, sizeof blob, 0, NULL);
	infd__pte_inputs(pm, 1, &x);
	infd__pte_outputs(pm, 1, &y);
	infd__pte_delegate_call(pm, d, 2, (const int32_t[]){x, t});
	infd__pte_call(pm, "aten::add", "out", 5, (const int32_t[]){t, x, three, u, u});
	infd__pte_call(pm, "aten::relu", "out", 3, (const int32_t[]){u, y, y});
	struct infd_program *p = finish(w);
	struct infd_method *m = load_ok(env.rt, p, NULL);
	cr_assert_str_eq(infd__method_placement(m, 0, 0), "testnpu");
	cr_assert_str_eq(infd__method_placement(m, 0, 1), "portable");
	cr_assert_str_eq(infd__method_placement(m, 0, 2), "portable");
	set_f32(m, 0, (const float[]){1, -1, 0, -0.5f}, 4);
	execute_ok(m);
	/* 5x + 1, then relu */
	expect_out(m, 0, (const float[]){6, 0, 1, 0}, 4);
	infd__method_free(m);
	infd__program_close(p);
	env_end(&env);
}

Test(npu, listed_operators_are_placed_on_the_plugin)
{
	struct npu_env env = {0};
	env_dir(&env);
	env_link(&env, "good", NULL);
	env_start(&env, true);
	/* y = (x * w) + x: mul on the plugin (float32, equal shapes), add on the CPU;
	 * an int32 mul, which the plugin declines, stays on the CPU */
	struct infd_pte_writer *w = infd__pte_writer_create(NULL);
	struct infd_pte_method *pm = infd__pte_method(w, "forward");
	int32_t x = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s4);
	int32_t wt = infd__pte_const_tensor(pm, INFD_DTYPE_FLOAT32, 1, s4, (const float[]){1, 2, 3, 4});
	int32_t t = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s4);
	int32_t y = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s4);
	int32_t one = infd__pte_int(pm, 1);
	int32_t i = infd__pte_planned(pm, INFD_DTYPE_INT32, 1, s4);
	int32_t j = infd__pte_planned(pm, INFD_DTYPE_INT32, 1, s4);
	infd__pte_inputs(pm, 2, (const int32_t[]){x, i});
	infd__pte_outputs(pm, 2, (const int32_t[]){y, j});
	infd__pte_call(pm, "aten::mul", "out", 4, (const int32_t[]){x, wt, t, t});
	infd__pte_call(pm, "aten::add", "out", 5, (const int32_t[]){t, x, one, y, y});
	infd__pte_call(pm, "aten::mul", "out", 4, (const int32_t[]){i, i, j, j});
	struct infd_program *p = finish(w);
	struct infd_method *m = load_ok(env.rt, p, NULL);
	cr_assert_str_eq(infd__method_placement(m, 0, 0), "testnpu");
	cr_assert_str_eq(infd__method_placement(m, 0, 1), "portable");
	cr_assert_str_eq(infd__method_placement(m, 0, 2), "portable", "the plugin declined int32");
	set_f32(m, 0, (const float[]){1, -1, 0.5f, 2}, 4);
	struct infd_error e = {0};
	int32_t n = 4;
	cr_assert_eq(infd__method_set_input_tensor(m, 1, INFD_DTYPE_INT32, 1, &n, (const int32_t[]){2, -3, 4, 0},
						   16, &e),
		     INFD_OK, "%s", e.msg);
	execute_ok(m);
	expect_out(m, 0, (const float[]){2, -3, 2, 10}, 4);
	const int32_t *jv = infd__method_output(m, 1)->u.t->data;
	cr_assert(jv[0] == 4 && jv[1] == 9 && jv[2] == 16 && jv[3] == 0, "int32 squares: %d %d %d %d", jv[0], jv[1],
		  jv[2], jv[3]);
	infd__method_free(m);

	/* a model that prefers the CPU keeps the mul there */
	const char *cpu_only[] = {"cpu"};
	struct infd_method_options opt = {.devices = cpu_only, .n_devices = 1};
	m = load_ok(env.rt, p, &opt);
	cr_assert_str_eq(infd__method_placement(m, 0, 0), "portable");
	infd__method_free(m);
	infd__program_close(p);
	env_end(&env);
}
