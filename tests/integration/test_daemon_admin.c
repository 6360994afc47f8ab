/* Operating the real daemon: configuration errors with line and field, SIGHUP,
 * unload and reload while clients keep running requests, access control from
 * peer credentials, systemd readiness, and infctl on top of it all. */
#include "check.h"
#include <jansson.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "infd/infd.h"
#include "tests/common.h"

static struct daemon_proc dp;

static void stop_fini(void)
{
	if (dp.pid > 0)
		daemon_stop(&dp);
}

TestSuite(admin, .fini = stop_fini, .timeout = 90);

/* Run a command, capture stdout+stderr; returns the exit status. */
static int run_cmd(const char *cmd, char *out, size_t out_size)
{
	char full[4096];
	snprintf(full, sizeof full, "%s 2>&1", cmd);
	FILE *p = popen(full, "r");
	cr_assert_not_null(p);
	size_t n = fread(out, 1, out_size - 1, p);
	out[n] = 0;
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

Test(admin, bad_config_names_line_and_field)
{
	char path[] = "/tmp/infd-badcfg-XXXXXX.json";
	int fd = mkstemps(path, 5);
	cr_assert(fd >= 0);
	const char *text = "{\n"
			   "  \"workers\": 2,\n"
			   "  \"models\": [\n"
			   "    { \"name\": \"a\", \"path\": \"/x/a.pte\" },\n"
			   "    { \"name\": \"b\",\n"
			   "      \"path\": 17 }\n"
			   "  ]\n"
			   "}\n";
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	char cmd[1024], out[4096];
	snprintf(cmd, sizeof cmd, "%s/daemon/infd --check-config --config %s", t_build_root(), path);
	int rc = run_cmd(cmd, out, sizeof out);
	cr_assert_eq(rc, 2, "exit %d: %s", rc, out);
	char want[512];
	snprintf(want, sizeof want, "%s:6: field 'models[1].path'", path);
	cr_assert(strstr(out, want), "'%s' not in: %s", want, out);
	/* A syntax error points at its line and column. */
	FILE *f = fopen(path, "w");
	fputs("{\n  \"workers\": 2,\n  \"queue_depth\": ,\n}\n", f);
	fclose(f);
	rc = run_cmd(cmd, out, sizeof out);
	cr_assert_eq(rc, 2);
	snprintf(want, sizeof want, "%s:3:", path);
	cr_assert(strstr(out, want), "'%s' not in: %s", want, out);
	/* Unknown settings are refused, not ignored. */
	f = fopen(path, "w");
	fputs("{\n  \"wrokers\": 2\n}\n", f);
	fclose(f);
	rc = run_cmd(cmd, out, sizeof out);
	cr_assert_eq(rc, 2);
	cr_assert(strstr(out, ":2: field 'wrokers': unknown setting"), "%s", out);
	unlink(path);
}

Test(admin, sighup_reloads_and_keeps_a_good_config)
{
	daemon_start(&dp, "{ \"models\": [ { \"name\": \"sample\", \"path\": \"builtin:sample\" } ] }", NULL);
	const char *extra = daemon_path(&dp, "extra.pte");
	write_affine_program(extra, 16, 2.0f, 1.0f);
	/* A bad config first: reported, the old one stays. */
	FILE *f = fopen(dp.config, "w");
	fputs("{ \"models\": [ { \"name\": \"sample\" } ] }\n", f);
	fclose(f);
	kill(dp.pid, SIGHUP);
	usleep(300 * 1000);
	cr_assert(strstr(daemon_log(&dp), "keeping the current configuration"), "%s", daemon_log(&dp));
	infd_client *c;
	cr_assert_eq(infd_client_open(dp.socket, &c), INFD_OK);
	infd_session *s;
	cr_assert_eq(infd_session_open(c, "sample", NULL, &s), INFD_OK, "still serving after a bad reload");
	infd_session_close(s);
	/* A good one adds a model. */
	f = fopen(dp.config, "w");
	fprintf(f, "{ \"models\": [ { \"name\": \"sample\", \"path\": \"builtin:sample\" },\n"
		   "  { \"name\": \"extra\", \"path\": \"%s\" } ] }\n", extra);
	fclose(f);
	kill(dp.pid, SIGHUP);
	infd_status st = INFD_UNKNOWN_MODEL;
	for (int i = 0; i < 100 && st != INFD_OK; i++) {
		usleep(20 * 1000);
		st = infd_session_open(c, "extra", NULL, &s);
	}
	cr_assert_eq(st, INFD_OK, "model from the reloaded config: %s\n%s", infd_client_last_error(c), daemon_log(&dp));
	infd_session_close(s);
	infd_client_close(c);
	cr_assert_eq(daemon_stop(&dp), 0);
}

struct loader {
	const char *socket;
	const char *model;
	atomic_bool stop;
	atomic_int ok, failed_after_unload, other;
	float scale_seen[2];
};

static void *hammer(void *arg)
{
	struct loader *l = arg;
	infd_client *c;
	infd_session *s;
	if (infd_client_open(l->socket, &c) || infd_session_open(c, l->model, NULL, &s)) {
		atomic_fetch_add(&l->other, 1000);
		return NULL;
	}
	infd_tensor_view in, out;
	infd_session_input(s, 0, &in);
	infd_session_output(s, 0, &out);
	while (!atomic_load(&l->stop)) {
		for (int i = 0; i < 16; i++)
			((float *)in.data)[i] = 1.0f;
		infd_status st = infd_session_run(s, 10000);
		if (st == INFD_OK) {
			float y = ((float *)out.data)[0]; /* 1 * scale + 0 */
			if (y == 2.0f || y == 3.0f)
				atomic_fetch_add(&l->ok, 1);
			else
				atomic_fetch_add(&l->other, 1);
		} else if (st == INFD_SHUTTING_DOWN || st == INFD_NOT_FOUND || st == INFD_UNKNOWN_MODEL) {
			atomic_fetch_add(&l->failed_after_unload, 1);
			break;
		} else {
			atomic_fetch_add(&l->other, 1);
			break;
		}
	}
	infd_session_close(s);
	infd_client_close(c);
	return NULL;
}

Test(admin, reload_and_unload_under_load_lose_nothing)
{
	daemon_start(&dp, NULL, NULL);
	const char *path = daemon_path(&dp, "m.pte");
	write_affine_program(path, 16, 2.0f, 0.0f);
	infd_client *c;
	cr_assert_eq(infd_client_open(dp.socket, &c), INFD_OK);
	cr_assert_eq(infd_load(c, "m", path), INFD_OK, "%s", infd_client_last_error(c));
	struct loader l = {.socket = dp.socket, .model = "m"};
	pthread_t th[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, hammer, &l);
	usleep(200 * 1000);
	/* A changed file: the instance is swapped while requests keep flowing. */
	write_affine_program(path, 16, 3.0f, 0.0f);
	cr_assert_eq(infd_reload(c, "m"), INFD_OK, "%s", infd_client_last_error(c));
	usleep(200 * 1000);
	int before_unload = atomic_load(&l.ok);
	cr_assert_gt(before_unload, 10, "requests ran");
	cr_assert_eq(atomic_load(&l.other), 0, "no request failed or saw a wrong result during the reload");
	/* After the reload, runs see the new weights. */
	infd_session *s;
	cr_assert_eq(infd_session_open(c, "m", NULL, &s), INFD_OK);
	infd_tensor_view in, out;
	infd_session_input(s, 0, &in);
	infd_session_output(s, 0, &out);
	((float *)in.data)[0] = 1.0f;
	cr_assert_eq(infd_session_run(s, 5000), INFD_OK);
	cr_assert_eq(((float *)out.data)[0], 3.0f);
	infd_session_close(s);
	/* Unload: waits for running requests; later ones are refused with a status. */
	cr_assert_eq(infd_unload(c, "m"), INFD_OK, "%s", infd_client_last_error(c));
	atomic_store(&l.stop, true);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	cr_assert_eq(atomic_load(&l.other), 0, "every request got OK or a clear refusal");
	cr_assert_eq(infd_session_open(c, "m", NULL, &s), INFD_UNKNOWN_MODEL);
	char *json;
	cr_assert_eq(infd_status_json(c, &json), INFD_OK);
	json_t *st = json_loads(json, 0, NULL);
	infd_free(json);
	cr_assert_eq(json_integer_value(json_object_get(st, "instances")), 1, "only the sample is left: memory returned");
	json_decref(st);
	infd_client_close(c);
	cr_assert_eq(daemon_stop(&dp), 0, "%s", daemon_log(&dp));
}

Test(admin, access_control_from_peer_credentials)
{
	if (geteuid() != 0)
		cr_skip_test("needs root to act as another user");
	struct passwd *nobody = getpwnam("nobody");
	if (!nobody)
		cr_skip_test("no 'nobody' user");
	daemon_start(&dp, "{ \"access\": { \"run\": { \"users\": [], \"groups\": [] } },"
			  "  \"models\": [ { \"name\": \"sample\", \"path\": \"builtin:sample\" } ] }",
		     NULL);
	client_proc_copy_to(dp.dir); /* the build tree may be private (/root/...) */
	const char *args[] = {dp.socket, "denied", NULL};
	pid_t kid = client_spawn(args, NULL, NULL, 1);
	cr_assert_eq(child_wait(kid), 0, "the client as 'nobody' was not refused as expected");
	cr_assert_eq(daemon_stop(&dp), 0);
}

Test(admin, systemd_ready_notification)
{
	char sock_path[] = "/tmp/infd-notify-XXXXXX";
	cr_assert_not_null(mkdtemp(sock_path));
	char addr[100];
	snprintf(addr, sizeof addr, "%s/notify", sock_path);
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", addr);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	char env[300];
	snprintf(env, sizeof env, "NOTIFY_SOCKET=%s", addr);
	const char *extra[] = {env, "WATCHDOG_USEC=200000", NULL};
	daemon_start(&dp, NULL, extra);
	char all[8192] = "";
	struct timeval tv = {.tv_sec = 0, .tv_usec = 400000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	for (int i = 0; i < 20; i++) {
		char buf[1024];
		ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
		if (n <= 0)
			break;
		buf[n] = 0;
		strncat(all, buf, sizeof all - strlen(all) - 2);
		strcat(all, "\n");
		if (strstr(all, "READY=1") && strstr(all, "WATCHDOG=1"))
			break;
	}
	cr_assert(strstr(all, "READY=1"), "notifications: %s", all);
	cr_assert(strstr(all, "STATUS="), "notifications: %s", all);
	cr_assert(strstr(all, "WATCHDOG=1"), "watchdog pings: %s", all);
	cr_assert_eq(daemon_stop(&dp), 0);
	close(fd);
	unlink(addr);
	rmdir(sock_path);
}

Test(admin, infctl_commands)
{
	daemon_start(&dp, NULL, NULL);
	const char *path = daemon_path(&dp, "m.pte");
	write_affine_program(path, 4, 2.0f, 0.5f);
	char cmd[2048], out[16384];
	const char *infctl = "build/client/infctl";
	char tool[1024];
	snprintf(tool, sizeof tool, "%s/client/infctl --socket %s", t_build_root(), dp.socket);
	(void)infctl;
	snprintf(cmd, sizeof cmd, "%s status", tool);
	cr_assert_eq(run_cmd(cmd, out, sizeof out), 0, "%s", out);
	cr_assert(strstr(out, "sample") || strstr(out, "model"), "%s", out);
	snprintf(cmd, sizeof cmd, "%s load m %s", tool, path);
	cr_assert_eq(run_cmd(cmd, out, sizeof out), 0, "%s", out);
	snprintf(cmd, sizeof cmd, "%s models", tool);
	cr_assert_eq(run_cmd(cmd, out, sizeof out), 0, "%s", out);
	cr_assert(strstr(out, "sample") && strstr(out, "m"), "%s", out);
	snprintf(cmd, sizeof cmd, "%s run m -i values:1,2,3,4", tool);
	cr_assert_eq(run_cmd(cmd, out, sizeof out), 0, "%s", out);
	cr_assert(strstr(out, "2.5") && strstr(out, "8.5"), "2x+0.5: %s", out);
	snprintf(cmd, sizeof cmd, "%s --json models", tool);
	cr_assert_eq(run_cmd(cmd, out, sizeof out), 0, "%s", out);
	json_t *j = json_loads(out, 0, NULL);
	cr_assert_not_null(j, "--json prints JSON: %s", out);
	json_decref(j);
	snprintf(cmd, sizeof cmd, "%s unload m", tool);
	cr_assert_eq(run_cmd(cmd, out, sizeof out), 0, "%s", out);
	snprintf(cmd, sizeof cmd, "%s run m -i zeros", tool);
	cr_assert_neq(run_cmd(cmd, out, sizeof out), 0);
	cr_assert(strstr(out, "m"), "names the unknown model: %s", out);
	cr_assert_eq(daemon_stop(&dp), 0);
	/* With the daemon gone, a clear message. */
	snprintf(cmd, sizeof cmd, "%s status", tool);
	cr_assert_neq(run_cmd(cmd, out, sizeof out), 0);
	cr_assert(strstr(out, "running"), "says the daemon is not running: %s", out);
}

/* Device preference lists from the config: per model and global, shown back in the
 * model info with the placement they produced; a malformed list is refused. */
Test(admin, device_preferences_from_the_config)
{
	char path[] = "/tmp/infd-devcfg-XXXXXX.json";
	int fd = mkstemps(path, 5);
	cr_assert(fd >= 0);
	const char *bad = "{\n  \"devices\": [\"gpu\", 7]\n}\n";
	cr_assert_eq(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
	close(fd);
	char cmd[1024], out[4096];
	snprintf(cmd, sizeof cmd, "%s/daemon/infd --check-config --config %s", t_build_root(), path);
	int rc = run_cmd(cmd, out, sizeof out);
	cr_assert_eq(rc, 2, "exit %d: %s", rc, out);
	cr_assert(strstr(out, ":2: field 'devices[1]'"), "%s", out);
	unlink(path);

	char dir[] = "/tmp/infd-devmodels-XXXXXX";
	cr_assert(mkdtemp(dir));
	char affine[300], text[1024];
	snprintf(affine, sizeof affine, "%s/affine.pte", dir);
	write_affine_program(affine, 16, 2.0f, 1.0f);
	snprintf(text, sizeof text,
		 "{ \"devices\": [\"cpu\"], \"vulkan\": {\"enabled\": false},\n"
		 "  \"models\": [ { \"name\": \"sample\", \"path\": \"builtin:sample\" },\n"
		 "               { \"name\": \"affine\", \"path\": \"%s\", \"devices\": [\"portable\"] } ] }\n",
		 affine);
	daemon_start(&dp, text, NULL);
	infd_client *c;
	cr_assert_eq(infd_client_open(dp.socket, &c), INFD_OK);
	char *js = NULL;
	cr_assert_eq(infd_model_info_json(c, "affine", &js), INFD_OK);
	json_t *m = json_loads(js, 0, NULL);
	cr_assert_not_null(m, "%s", js);
	json_t *devs = json_object_get(m, "devices");
	cr_assert_eq(json_array_size(devs), 1, "%s", js);
	cr_assert_str_eq(json_string_value(json_array_get(devs, 0)), "portable");
	const char *mp = json_string_value(json_object_get(json_array_get(json_object_get(m, "methods"), 0), "placement"));
	cr_assert(mp && strncmp(mp, "portable 0", 10) == 0, "placement: %s", mp ? mp : "(none)");
	json_decref(m);
	free(js);
	cr_assert_eq(infd_model_info_json(c, "sample", &js), INFD_OK);
	m = json_loads(js, 0, NULL);
	devs = json_object_get(m, "devices");
	cr_assert_str_eq(json_string_value(json_array_get(devs, 0)), "cpu", "the global default applies: %s", js);
	json_decref(m);
	free(js);
	infd_client_close(c);
	cr_assert_eq(daemon_stop(&dp), 0, "%s", daemon_log(&dp));
	unlink(affine);
	rmdir(dir);
}
