/* The daemon with its devices: a model placed on the Vulkan GPU backend runs on
 * that device's own worker (lane) while clients share it, and a program whose
 * delegate an NPU plugin claims is served through the plugin. Both start the
 * real infd with a config naming the device. */
#include "check.h"
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "infd/infd.h"
#include "runtime/pte_writer.h"
#include "tests/common.h"

static struct daemon_proc dp;

static void stop_fini(void)
{
	if (dp.pid > 0)
		daemon_stop(&dp);
}

TestSuite(devices, .fini = stop_fini, .timeout = 120);

/* The entry of `backend` in the daemon's device list (a new reference), or NULL. */
static json_t *device_entry(infd_client *c, const char *backend)
{
	char *js = NULL;
	cr_assert_eq(infd_status_json(c, &js), INFD_OK);
	json_t *root = json_loads(js, 0, NULL), *found = NULL;
	cr_assert_not_null(root, "%s", js);
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(root, "devices"), i, d)
	{
		if (strcmp(json_string_value(json_object_get(d, "backend")), backend) == 0)
			found = json_incref(d);
	}
	json_decref(root);
	free(js);
	return found;
}

static char *model_placement(infd_client *c, const char *model)
{
	char *js = NULL;
	cr_assert_eq(infd_model_info_json(c, model, &js), INFD_OK);
	json_t *m = json_loads(js, 0, NULL);
	cr_assert_not_null(m, "%s", js);
	const char *p = json_string_value(json_object_get(json_array_get(json_object_get(m, "methods"), 0), "placement"));
	char *out = strdup(p ? p : "");
	json_decref(m);
	free(js);
	return out;
}

struct runner {
	const char *socket, *model;
	int runs;
	float scale, bias;
	int bad;
	char why[256];
};

/* Runs y = forward(x) `runs` times on a session of its own, checking y = x*scale + bias. */
static void *run_many(void *arg)
{
	struct runner *r = arg;
	infd_client *c;
	infd_session *s;
	if (infd_client_open(r->socket, &c) != INFD_OK) {
		snprintf(r->why, sizeof r->why, "connect: %s", infd_client_last_error(NULL));
		r->bad = 1;
		return NULL;
	}
	if (infd_session_open(c, r->model, "forward", &s) != INFD_OK) {
		snprintf(r->why, sizeof r->why, "session: %s", infd_client_last_error(c));
		r->bad = 1;
		infd_client_close(c);
		return NULL;
	}
	infd_tensor_view in, out;
	infd_session_input(s, 0, &in);
	size_t n = in.nbytes / sizeof(float);
	for (int k = 0; k < r->runs && !r->bad; k++) {
		for (size_t i = 0; i < n; i++)
			((float *)in.data)[i] = (float)k - (float)i * 0.25f;
		if (infd_session_run(s, 10000) != INFD_OK) {
			snprintf(r->why, sizeof r->why, "run %d: %s", k, infd_session_last_error(s));
			r->bad = 1;
			break;
		}
		infd_session_output(s, 0, &out);
		for (size_t i = 0; i < n; i++) {
			float x = (float)k - (float)i * 0.25f, want = x * r->scale + r->bias, got = ((float *)out.data)[i];
			if (got - want > 1e-4f || want - got > 1e-4f) {
				snprintf(r->why, sizeof r->why, "run %d, element %zu: %g, expected %g", k, i, got, want);
				r->bad = 1;
				break;
			}
		}
	}
	infd_session_close(s);
	infd_client_close(c);
	return NULL;
}

Test(devices, vulkan_model_runs_on_the_gpu_lane)
{
	char dir[] = "/tmp/infd-vkmodel-XXXXXX";
	cr_assert(mkdtemp(dir));
	char affine[300], text[1024];
	snprintf(affine, sizeof affine, "%s/affine.pte", dir);
	write_affine_program(affine, 64, 3.0f, -2.0f);
	/* "software": lavapipe counts, so the test runs on machines without a GPU too. */
	snprintf(text, sizeof text,
		 "{ \"vulkan\": {\"software\": true}, \"workers\": 2, \"cache_dir\": \"%s\",\n"
		 "  \"models\": [ { \"name\": \"affine\", \"path\": \"%s\", \"devices\": [\"gpu\", \"cpu\"] },\n"
		 "               { \"name\": \"cpu\", \"path\": \"%s\", \"devices\": [\"cpu\"] } ] }\n",
		 dir, affine, affine);
	daemon_start(&dp, text, NULL);
	infd_client *c;
	cr_assert_eq(infd_client_open(dp.socket, &c), INFD_OK);
	json_t *vk = device_entry(c, "vulkan");
	if (!vk) {
		infd_client_close(c);
		daemon_stop(&dp);
		cr_skip_test("no Vulkan device on this machine (daemon log: %s)", daemon_log(&dp));
	}
	cr_assert_str_eq(json_string_value(json_object_get(vk, "kind")), "gpu");
	json_decref(vk);
	char *place = model_placement(c, "affine");
	cr_assert(strncmp(place, "vulkan 0-1", 10) == 0, "both operators on the GPU: %s", place);
	free(place);
	place = model_placement(c, "cpu");
	cr_assert(strstr(place, "vulkan") == NULL, "the cpu-only model stays off the GPU: %s", place);
	free(place);

	/* Three clients of the GPU model and one of the CPU model at once. */
	struct runner r[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		r[i] = (struct runner){.socket = dp.socket, .model = i < 3 ? "affine" : "cpu", .runs = 40,
				       .scale = 3.0f, .bias = -2.0f};
		cr_assert_eq(pthread_create(&th[i], NULL, run_many, &r[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		cr_assert(!r[i].bad, "client %d: %s", i, r[i].why);
	}
	vk = device_entry(c, "vulkan");
	json_t *lane = json_object_get(vk, "lane");
	cr_assert_not_null(lane, "the GPU has a lane of its own");
	cr_assert(json_integer_value(json_object_get(lane, "runs")) >= 120, "GPU lane ran %lld partitions",
		  (long long)json_integer_value(json_object_get(lane, "runs")));
	cr_assert_eq(json_integer_value(json_object_get(lane, "queued")), 0);
	json_decref(vk);
	infd_client_close(c);
	cr_assert_eq(daemon_stop(&dp), 0, "%s", daemon_log(&dp));
	char cache[400];
	snprintf(cache, sizeof cache, "%s/vulkan-pipelines.bin", dir);
	cr_assert_eq(access(cache, R_OK), 0, "the pipeline cache was saved in cache_dir");
	unlink(cache);
	unlink(affine);
	rmdir(dir);
}

/* forward(x: f32[16]) -> y = InfdTestNpu(x) = a*x + b, a and b in the payload. */
static void write_npu_program(const char *path, float a, float b)
{
	struct infd_pte_writer *w = infd__pte_writer_create(NULL);
	struct infd_pte_method *pm = infd__pte_method(w, "forward");
	const int32_t s16[1] = {16};
	int32_t x = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s16);
	int32_t y = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s16);
	uint8_t blob[12];
	memcpy(blob, "ITN1", 4);
	memcpy(blob + 4, &a, 4);
	memcpy(blob + 8, &b, 4);
	int32_t d = infd__pte_delegate(pm, "InfdTestNpu", blob, sizeof blob, 0, NULL);
	infd__pte_inputs(pm, 1, &x);
	infd__pte_outputs(pm, 1, &y);
	infd__pte_delegate_call(pm, d, 2, (const int32_t[]){x, y});
	struct infd_error e = {0};
	cr_assert_eq(infd__pte_writer_save(w, path, &e), INFD_OK, "%s", e.msg);
	infd__pte_writer_destroy(w);
}

Test(devices, npu_plugin_serves_its_delegate)
{
	char dir[] = "/tmp/infd-npumodel-XXXXXX", plugins[320], prog[320], link[400], text[1024];
	cr_assert(mkdtemp(dir));
	snprintf(plugins, sizeof plugins, "%s/plugins", dir);
	cr_assert_eq(mkdir(plugins, 0755), 0);
	snprintf(link, sizeof link, "%s/infd_test_npu_good.so", plugins);
	cr_assert_eq(symlink(INFD_TEST_PLUGIN_DIR "/infd_test_npu_good.so", link), 0);
	snprintf(prog, sizeof prog, "%s/npu.pte", dir);
	write_npu_program(prog, 0.5f, 4.0f);

	/* Without the plugin the program is refused, naming the delegate. */
	snprintf(text, sizeof text, "{ \"models\": [] }\n");
	daemon_start(&dp, text, NULL);
	infd_client *c;
	cr_assert_eq(infd_client_open(dp.socket, &c), INFD_OK);
	cr_assert_eq(infd_load(c, "npu", prog), INFD_MISSING_OPERATOR);
	cr_assert(strstr(infd_client_last_error(c), "InfdTestNpu"), "%s", infd_client_last_error(c));
	infd_client_close(c);
	cr_assert_eq(daemon_stop(&dp), 0, "%s", daemon_log(&dp));

	snprintf(text, sizeof text,
		 "{ \"plugin_dir\": \"%s\",\n"
		 "  \"models\": [ { \"name\": \"npu\", \"path\": \"%s\" } ] }\n",
		 plugins, prog);
	daemon_start(&dp, text, NULL);
	cr_assert_eq(infd_client_open(dp.socket, &c), INFD_OK);
	json_t *npu = NULL;
	char *st = NULL;
	cr_assert_eq(infd_status_json(c, &st), INFD_OK);
	json_t *root = json_loads(st, 0, NULL);
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(root, "devices"), i, d)
	{
		if (strcmp(json_string_value(json_object_get(d, "kind")), "npu") == 0)
			npu = d;
	}
	cr_assert_not_null(npu, "the plugin is a device: %s\nlog: %s", st, daemon_log(&dp));
	char backend[64];
	snprintf(backend, sizeof backend, "%s", json_string_value(json_object_get(npu, "backend")));
	json_decref(root);
	free(st);
	char *place = model_placement(c, "npu");
	cr_assert(strncmp(place, backend, strlen(backend)) == 0, "the delegate runs on '%s': %s", backend, place);
	free(place);
	struct runner r[2];
	pthread_t th[2];
	for (int k = 0; k < 2; k++) {
		r[k] = (struct runner){.socket = dp.socket, .model = "npu", .runs = 30, .scale = 0.5f, .bias = 4.0f};
		cr_assert_eq(pthread_create(&th[k], NULL, run_many, &r[k]), 0);
	}
	for (int k = 0; k < 2; k++) {
		pthread_join(th[k], NULL);
		cr_assert(!r[k].bad, "client %d: %s", k, r[k].why);
	}
	json_t *dev = device_entry(c, backend);
	cr_assert(json_integer_value(json_object_get(json_object_get(dev, "lane"), "runs")) >= 60,
		  "the plugin's lane ran every request");
	json_decref(dev);
	infd_client_close(c);
	cr_assert_eq(daemon_stop(&dp), 0, "%s", daemon_log(&dp));
	unlink(link);
	rmdir(plugins);
	unlink(prog);
	rmdir(dir);
}

/* A machine where the Vulkan loader finds no driver at all: the daemon starts,
 * says so, and serves a model that prefers the GPU on the CPU. */
Test(devices, no_vulkan_device_means_cpu)
{
	char dir[] = "/tmp/infd-novk-XXXXXX";
	cr_assert(mkdtemp(dir));
	char affine[300], text[1024];
	snprintf(affine, sizeof affine, "%s/affine.pte", dir);
	write_affine_program(affine, 16, 2.0f, 0.5f);
	snprintf(text, sizeof text,
		 "{ \"vulkan\": {\"software\": true},\n"
		 "  \"models\": [ { \"name\": \"affine\", \"path\": \"%s\", \"devices\": [\"vulkan\", \"cpu\"] } ] }\n",
		 affine);
	/* The loader reads only the driver list given here, which names nothing. */
	const char *env[] = {"VK_ICD_FILENAMES=/nonexistent/none.json", "VK_DRIVER_FILES=/nonexistent/none.json", NULL};
	daemon_start(&dp, text, env);
	infd_client *c;
	cr_assert_eq(infd_client_open(dp.socket, &c), INFD_OK);
	json_t *vk = device_entry(c, "vulkan");
	cr_assert(vk == NULL, "no Vulkan backend without a driver");
	char *place = model_placement(c, "affine");
	cr_assert(strstr(place, "vulkan") == NULL && place[0], "placed on the CPU: %s", place);
	free(place);
	struct runner r = {.socket = dp.socket, .model = "affine", .runs = 5, .scale = 2.0f, .bias = 0.5f};
	run_many(&r);
	cr_assert(!r.bad, "%s", r.why);
	infd_client_close(c);
	cr_assert(strstr(daemon_log(&dp), "vulkan: not used"), "the log says why: %s", daemon_log(&dp));
	cr_assert_eq(daemon_stop(&dp), 0, "%s", daemon_log(&dp));
	unlink(affine);
	rmdir(dir);
}
