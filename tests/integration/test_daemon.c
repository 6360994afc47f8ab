/* The real daemon, started on a temporary socket, used through libinfd: shared
 * models, shared-memory sessions over the doorbell and over nng, clients that
 * die mid-request, hostile messages, bad configs, unload/reload under load,
 * access control and systemd readiness. */
#include "check.h"
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"
#include "infd/infd.h"
#include "protocol/wire.h"
#include "runtime/runtime.h"
#include "tests/common.h"

static struct daemon_proc dp;

static void stop_fini(void)
{
	if (dp.pid > 0)
		daemon_stop(&dp);
}

TestSuite(daemon, .fini = stop_fini, .timeout = 60);

static infd_client *connect_ok(void)
{
	infd_client *c = NULL;
	infd_status st = infd_client_open(dp.socket, &c);
	cr_assert_eq(st, INFD_OK, "connect: %s (%s)", infd_strerror(st), infd_client_last_error(NULL));
	return c;
}

static json_t *request(infd_client *c, const char *type, const char *body, infd_status want)
{
	char *reply = NULL;
	infd_status st = infd_request_json(c, type, body, &reply);
	cr_assert_eq(st, want, "%s: %s, expected %s (%s)", type, infd_status_name(st), infd_status_name(want),
		     infd_client_last_error(c));
	if (st != INFD_OK)
		return NULL;
	json_t *j = json_loads(reply, 0, NULL);
	infd_free(reply);
	cr_assert_not_null(j);
	return j;
}

/* forward of the built-in sample: y = x * [0.5, 1, 2, -1] + [1, 0, -1, 0.25] over [2,4] */
static void check_sample_run(infd_session *s, float base)
{
	static const float scale[4] = {0.5f, 1.0f, 2.0f, -1.0f}, bias[4] = {1.0f, 0.0f, -1.0f, 0.25f};
	infd_tensor_view in, out;
	cr_assert_eq(infd_session_input(s, 0, &in), INFD_OK);
	cr_assert_eq(in.dtype, INFD_DTYPE_FLOAT32);
	cr_assert_eq(in.nbytes, 32);
	float x[8];
	for (int k = 0; k < 8; k++)
		x[k] = base + (float)k;
	memcpy(in.data, x, sizeof x);
	infd_status st = infd_session_run(s, 5000);
	cr_assert_eq(st, INFD_OK, "run: %s: %s", infd_strerror(st), infd_session_last_error(s));
	cr_assert_eq(infd_session_output(s, 0, &out), INFD_OK);
	const float *y = out.data;
	for (int k = 0; k < 8; k++)
		cr_assert_float_eq(y[k], x[k] * scale[k % 4] + bias[k % 4], 1e-6, "element %d: %g", k, y[k]);
}

Test(daemon, builtin_sample_over_doorbell_and_nng)
{
	daemon_start(&dp, NULL, NULL);
	infd_client *c = connect_ok();
	json_t *models = request(c, "LIST_MODELS", "{}", INFD_OK);
	json_t *list = json_object_get(models, "models");
	cr_assert_eq(json_array_size(list), 1);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "name")), "sample");
	json_decref(models);
	infd_session *s;
	cr_assert_eq(infd_session_open(c, "sample", "forward", &s), INFD_OK, "%s", infd_client_last_error(c));
	cr_assert_eq(infd_session_transport(s), INFD_TRANSPORT_DOORBELL, "the daemon listens on the doorbell");
	for (int i = 0; i < 50; i++)
		check_sample_run(s, (float)i);
	infd_run_info info;
	cr_assert_eq(infd_session_run_info(s, &info), INFD_OK);
	cr_assert_eq(info.transport, INFD_TRANSPORT_DOORBELL);
	cr_assert_eq(infd_session_set_transport(s, INFD_TRANSPORT_NNG), INFD_OK);
	for (int i = 0; i < 20; i++)
		check_sample_run(s, -3.5f * (float)i);
	cr_assert_eq(infd_session_run_info(s, &info), INFD_OK);
	cr_assert_eq(info.transport, INFD_TRANSPORT_NNG);
	cr_assert_eq(info.sequence, 70, "daemon counted %llu requests", (unsigned long long)info.sequence);
	infd_session_close(s);
	infd_client_close(c);
	cr_assert_eq(daemon_stop(&dp), 0, "exit status; log:\n%s", daemon_log(&dp));
}

/* Several processes share one model instance and get the expected results. */
Test(daemon, client_processes_share_one_instance)
{
	daemon_start(&dp, NULL, NULL);
	enum { N = 3 };
	pid_t kids[N];
	int to[N], from[N];
	char kbuf[N][8];
	for (int k = 0; k < N; k++) {
		snprintf(kbuf[k], sizeof kbuf[k], "%d", k);
		const char *args[] = {dp.socket, "blend", kbuf[k], "200", NULL};
		kids[k] = client_spawn(args, &to[k], &from[k], 0);
	}
	for (int k = 0; k < N; k++) {
		char line[16] = "";
		cr_assert_gt(read(from[k], line, sizeof line - 1), 0, "client %d did not open its session", k);
		cr_assert(strncmp(line, "ready", 5) == 0, "client %d: %s", k, line);
	}
	/* All three hold sessions now: one model, one program instance, three sessions. */
	infd_client *c = connect_ok();
	json_t *st = request(c, "STATUS", "{}", INFD_OK);
	cr_assert_eq(json_integer_value(json_object_get(st, "instances")), 1, "one program instance");
	cr_assert_eq(json_integer_value(json_object_get(st, "sessions")), N);
	json_decref(st);
	json_t *info = request(c, "MODEL_INFO", "{\"model\": \"sample\"}", INFD_OK);
	cr_assert_eq(json_integer_value(json_object_get(info, "sessions")), N);
	json_decref(info);
	for (int k = 0; k < N; k++)
		close(to[k]); /* go */
	for (int k = 0; k < N; k++) {
		cr_assert_eq(child_wait(kids[k]), 0, "client %d failed", k);
		close(from[k]);
	}
	json_t *m = request(c, "MODEL_INFO", "{\"model\": \"sample\"}", INFD_OK);
	json_t *stats = json_object_get(m, "stats");
	cr_assert_eq(json_integer_value(json_object_get(stats, "requests")), N * 200, "every request counted");
	cr_assert_eq(json_integer_value(json_object_get(m, "sessions")), 0);
	json_decref(m);
	infd_client_close(c);
	cr_assert_eq(daemon_stop(&dp), 0, "%s", daemon_log(&dp));
}

/* Results through the daemon equal the in-process runtime's on a real program. */
Test(daemon, results_equal_in_process_runtime)
{
	daemon_start(&dp, NULL, NULL);
	const char *prog_path = daemon_path(&dp, "affine.pte");
	write_affine_program(prog_path, 1000, 1.25f, -0.5f);
	infd_client *c = connect_ok();
	cr_assert_eq(infd_load(c, "affine", prog_path), INFD_OK, "%s", infd_client_last_error(c));
	infd_session *s;
	cr_assert_eq(infd_session_open(c, "affine", NULL, &s), INFD_OK, "%s", infd_client_last_error(c));
	infd_tensor_view in, out;
	infd_session_input(s, 0, &in);
	float *x = in.data;
	for (int i = 0; i < 1000; i++)
		x[i] = sinf((float)i);
	float ref_in[1000];
	memcpy(ref_in, x, sizeof ref_in);
	cr_assert_eq(infd_session_run(s, 5000), INFD_OK, "%s", infd_session_last_error(s));
	infd_session_output(s, 0, &out);

	struct infd_error e = {0};
	struct infd_runtime *rt;
	struct infd_program *p;
	struct infd_method *m;
	cr_assert_eq(infd__runtime_create(NULL, &rt, &e), INFD_OK);
	cr_assert_eq(infd__program_open_file(prog_path, &p, &e), INFD_OK, "%s", e.msg);
	cr_assert_eq(infd__method_load(rt, p, "forward", NULL, &m, &e), INFD_OK, "%s", e.msg);
	const int32_t shape[1] = {1000};
	cr_assert_eq(infd__method_set_input_tensor(m, 0, INFD_DTYPE_FLOAT32, 1, shape, ref_in, sizeof ref_in, &e),
		     INFD_OK);
	cr_assert_eq(infd__method_execute(m, &e), INFD_OK, "%s", e.msg);
	cr_assert_eq(memcmp(infd__method_output(m, 0)->u.t->data, out.data, 4000), 0, "bit-identical outputs");
	infd__method_free(m);
	infd__program_close(p);
	infd__runtime_destroy(rt);
	infd_session_close(s);
	infd_client_close(c);
	cr_assert_eq(daemon_stop(&dp), 0, "%s", daemon_log(&dp));
}

/* A client killed in the middle of a request: the daemon finishes it, frees the
 * session, leaks no shared memory and keeps serving the others. */
Test(daemon, client_killed_mid_request)
{
	daemon_start(&dp, NULL, NULL);
	const char *slow = daemon_path(&dp, "slow.pte");
	write_slow_program(slow, 1 << 20, 1000); /* a third of a second of adds (seconds under ASan) */
	infd_client *c = connect_ok();
	cr_assert_eq(infd_load(c, "slow", slow), INFD_OK, "%s", infd_client_last_error(c));
	const char *args[] = {dp.socket, "hold", "slow", NULL};
	int from;
	pid_t kid = client_spawn(args, NULL, &from, 0);
	char line[16] = "";
	cr_assert_gt(read(from, line, sizeof line - 1), 0, "the client did not open its session");
	usleep(50 * 1000); /* the request is running now */
	int held = daemon_memfd_count(dp.pid);
	cr_assert_eq(held, 1, "the client's arena: %d memfds held", held);
	kill(kid, SIGKILL);
	cr_assert_eq(child_wait(kid), 128 + SIGKILL);
	close(from);
	/* Others are served meanwhile. */
	infd_session *s;
	cr_assert_eq(infd_session_open(c, "sample", NULL, &s), INFD_OK, "%s", infd_client_last_error(c));
	check_sample_run(s, 1.0f);
	infd_session_close(s);
	/* The dead client's session goes once its request has finished. */
	int left = -1;
	for (int i = 0; i < 1500 && left != 0; i++) { /* up to 30 s: sanitizer builds are slow */
		usleep(20 * 1000);
		left = daemon_memfd_count(dp.pid);
	}
	cr_assert_eq(left, 0, "session arenas still held: %d", left);
	json_t *st = request(c, "STATUS", "{}", INFD_OK);
	cr_assert_eq(json_integer_value(json_object_get(st, "sessions")), 0);
	json_decref(st);
	infd_client_close(c);
	cr_assert_eq(daemon_stop(&dp), 0, "%s", daemon_log(&dp));
}

/* Send raw bytes on a REQ socket; return the reply's status and copy its body. */
static infd_status raw_request(const void *msg, size_t len, char *body, size_t body_size)
{
	nng_socket s;
	char url[512];
	snprintf(url, sizeof url, "ipc://%s", dp.socket);
	cr_assert_eq(nng_req0_open(&s), 0);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 5000);
	nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, 4u << 20);
	cr_assert_eq(nng_dial(s, url, NULL, 0), 0);
	cr_assert_eq(nng_send(s, (void *)msg, len, 0), 0);
	char *rep;
	size_t rlen;
	int rv = nng_recv(s, &rep, &rlen, NNG_FLAG_ALLOC);
	cr_assert_eq(rv, 0, "no reply: %s", nng_strerror(rv));
	struct infd_msg_header h;
	char why[256];
	cr_assert_eq(infd__proto_get_header((uint8_t *)rep, rlen, &h, why, sizeof why), INFD_OK, "reply: %s", why);
	size_t n = rlen - INFD_PROTO_HEADER_SIZE < body_size - 1 ? rlen - INFD_PROTO_HEADER_SIZE : body_size - 1;
	memcpy(body, rep + INFD_PROTO_HEADER_SIZE, n);
	body[n] = 0;
	nng_free(rep, rlen);
	nng_close(s);
	return (infd_status)h.status;
}

Test(daemon, hostile_messages_get_error_replies)
{
	daemon_start(&dp, NULL, NULL);
	char body[2048];
	uint8_t msg[64];
	/* Truncated: shorter than a header. */
	cr_assert_eq(raw_request("INF", 3, body, sizeof body), INFD_PROTOCOL);
	cr_assert(strstr(body, "shorter than"), "%s", body);
	/* Bad magic. */
	memset(msg, 0xab, 16);
	cr_assert_eq(raw_request(msg, 16, body, sizeof body), INFD_PROTOCOL);
	cr_assert(strstr(body, "magic"), "%s", body);
	/* Wrong protocol version. */
	infd__proto_put_header(msg, INFD_MSG_STATUS, 0, 0);
	msg[4] = 7;
	cr_assert_eq(raw_request(msg, 16, body, sizeof body), INFD_VERSION_MISMATCH);
	cr_assert(strstr(body, "version 7"), "%s", body);
	/* Length that disagrees with the message. */
	infd__proto_put_header(msg, INFD_MSG_STATUS, 0, 40);
	cr_assert_eq(raw_request(msg, 20, body, sizeof body), INFD_PROTOCOL);
	/* Unknown type. */
	infd__proto_put_header(msg, 999, 0, 0);
	cr_assert_eq(raw_request(msg, 16, body, sizeof body), INFD_PROTOCOL);
	cr_assert(strstr(body, "unknown message type"), "%s", body);
	/* Malformed JSON and a mistyped field. */
	const char *bad_json = "{\"model\": ";
	infd__proto_put_header(msg, INFD_MSG_MODEL_INFO, 0, (uint32_t)strlen(bad_json));
	memcpy(msg + 16, bad_json, strlen(bad_json));
	cr_assert_eq(raw_request(msg, 16 + strlen(bad_json), body, sizeof body), INFD_PROTOCOL);
	const char *mistyped = "{\"model\": 12}";
	infd__proto_put_header(msg, INFD_MSG_MODEL_INFO, 0, (uint32_t)strlen(mistyped));
	memcpy(msg + 16, mistyped, strlen(mistyped));
	cr_assert_eq(raw_request(msg, 16 + strlen(mistyped), body, sizeof body), INFD_PROTOCOL);
	cr_assert(strstr(body, "'model'"), "%s", body);
	/* A RUN with a short body, and for a session that does not exist. */
	infd__proto_put_header(msg, INFD_MSG_RUN, 0, 5);
	cr_assert_eq(raw_request(msg, 21, body, sizeof body), INFD_PROTOCOL);
	struct infd_run_request rq = {.session = 424242};
	infd__proto_put_header(msg, INFD_MSG_RUN, 0, INFD_RUN_REQUEST_SIZE);
	infd__proto_put_run_request(msg + 16, &rq);
	cr_assert_eq(raw_request(msg, 16 + INFD_RUN_REQUEST_SIZE, body, sizeof body), INFD_NOT_FOUND);
	/* Oversized: 2 MiB. */
	size_t big = 2u << 20;
	uint8_t *huge = calloc(1, big);
	infd__proto_put_header(huge, INFD_MSG_LOAD, 0, (uint32_t)(big - 16));
	cr_assert_eq(raw_request(huge, big, body, sizeof body), INFD_PROTOCOL);
	cr_assert(strstr(body, "limit"), "%s", body);
	free(huge);
	/* HELLO from a client of another protocol version. */
	const char *hello = "{\"client\": \"future\", \"version\": 2}";
	infd__proto_put_header(msg, INFD_MSG_HELLO, 0, (uint32_t)strlen(hello));
	memcpy(msg + 16, hello, strlen(hello));
	cr_assert_eq(raw_request(msg, 16 + strlen(hello), body, sizeof body), INFD_VERSION_MISMATCH);
	/* And the daemon still serves. */
	infd_client *c = connect_ok();
	infd_session *s;
	cr_assert_eq(infd_session_open(c, "sample", NULL, &s), INFD_OK);
	check_sample_run(s, 2.0f);
	infd_session_close(s);
	infd_client_close(c);
	cr_assert_eq(daemon_stop(&dp), 0, "%s", daemon_log(&dp));
}

/* A bare connection that hangs up during the handshake must not stop the daemon
 * from accepting clients (nng 1.5.2 issue #1518; the daemon opens a new listener). */
Test(daemon, bare_connection_does_not_stop_the_listener)
{
	daemon_start(&dp, NULL, NULL);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path, dp.socket, strlen(dp.socket) + 1);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	close(fd);
	infd_client *c = NULL;
	infd_status st = INFD_NOT_CONNECTED;
	for (int i = 0; i < 10 && st != INFD_OK; i++)
		st = infd_client_open(dp.socket, &c);
	cr_assert_eq(st, INFD_OK, "clients are served again: %s", infd_client_last_error(NULL));
	infd_session *s;
	cr_assert_eq(infd_session_open(c, "sample", NULL, &s), INFD_OK);
	check_sample_run(s, 4.0f);
	infd_session_close(s);
	infd_client_close(c);
	cr_assert_eq(daemon_stop(&dp), 0, "%s", daemon_log(&dp));
}
