/* libinfd and infctl's bundle reader without the real daemon: socket path
 * resolution, clear errors when nothing listens, the protocol version check,
 * and a whole session (arena hand-over with SCM_RIGHTS, doorbell, nng and async
 * runs) against a small fake daemon written here; then the BP08 reader on
 * writer-made bundles, hostile ones included. */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/futex.h>
#include <math.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bundle.h"
#include "common.h"
#include "infd/infd.h"
#include "runtime/pte_writer.h"

/* ---- helpers ------------------------------------------------------------------------ */

static char tmpdir[256];

static void make_tmpdir(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/infd-client-test-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

/* A bound Unix socket at `path`, listening or not. Returns the fd. */
static int bind_socket(const char *path, bool listening)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert(fd >= 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0, "bind %s: %s", path, strerror(errno));
	if (listening)
		cr_assert_eq(listen(fd, 8), 0);
	return fd;
}

/* ---- socket path resolution ------------------------------------------------------------- */

Test(client_path, explicit_then_env_then_xdg_then_system)
{
	char *p = NULL;
	setenv("INFD_SOCKET", "/tmp/from-env.sock", 1);
	cr_assert_eq(infd_socket_path("/tmp/explicit.sock", &p), INFD_OK);
	cr_assert_str_eq(p, "/tmp/explicit.sock");
	infd_free(p);

	cr_assert_eq(infd_socket_path(NULL, &p), INFD_OK);
	cr_assert_str_eq(p, "/tmp/from-env.sock");
	infd_free(p);
	cr_assert_eq(infd_socket_path("", &p), INFD_OK, "an empty path means: not given");
	cr_assert_str_eq(p, "/tmp/from-env.sock");
	infd_free(p);

	/* XDG_RUNTIME_DIR only counts when the socket is there. */
	make_tmpdir();
	setenv("INFD_SOCKET", "", 1);
	setenv("XDG_RUNTIME_DIR", tmpdir, 1);
	cr_assert_eq(infd_socket_path(NULL, &p), INFD_OK);
	cr_assert_str_eq(p, "/run/infd/infd.sock");
	infd_free(p);

	char dir[512], sock[600];
	snprintf(dir, sizeof dir, "%s/infd", tmpdir);
	cr_assert_eq(mkdir(dir, 0700), 0);
	snprintf(sock, sizeof sock, "%s/infd.sock", dir);
	int fd = bind_socket(sock, false);
	cr_assert_eq(infd_socket_path(NULL, &p), INFD_OK);
	cr_assert_str_eq(p, sock);
	infd_free(p);

	/* INFD_SOCKET still wins over XDG_RUNTIME_DIR. */
	setenv("INFD_SOCKET", "/tmp/from-env.sock", 1);
	cr_assert_eq(infd_socket_path(NULL, &p), INFD_OK);
	cr_assert_str_eq(p, "/tmp/from-env.sock");
	infd_free(p);

	unsetenv("INFD_SOCKET");
	unsetenv("XDG_RUNTIME_DIR");
	cr_assert_eq(infd_socket_path(NULL, &p), INFD_OK);
	cr_assert_str_eq(p, "/run/infd/infd.sock");
	infd_free(p);

	close(fd);
	unlink(sock);
	rmdir(dir);
	rmdir(tmpdir);
}

Test(client_path, too_long_and_null)
{
	char longp[300], *p = (char *)1;
	memset(longp, 'a', sizeof longp - 1);
	longp[0] = '/';
	longp[sizeof longp - 1] = '\0';
	cr_assert_eq(infd_socket_path(longp, &p), INFD_INVALID_ARGUMENT);
	cr_assert_null(p);
	cr_assert_eq(infd_socket_path(NULL, NULL), INFD_INVALID_ARGUMENT);

	infd_client *c = (infd_client *)1;
	cr_assert_eq(infd_client_open(longp, &c), INFD_INVALID_ARGUMENT);
	cr_assert_null(c);
	cr_assert(strstr(infd_client_last_error(NULL), "too long"), "%s", infd_client_last_error(NULL));
}

/* ---- no daemon -------------------------------------------------------------------------- */

Test(client_connect, nothing_at_the_path)
{
	make_tmpdir();
	char sock[512];
	snprintf(sock, sizeof sock, "%s/infd.sock", tmpdir);
	infd_client *c = (infd_client *)1;
	cr_assert_eq(infd_client_open(sock, &c), INFD_NOT_CONNECTED);
	cr_assert_null(c);
	const char *msg = infd_client_last_error(NULL);
	cr_assert(strstr(msg, "cannot reach the infd daemon at") && strstr(msg, sock) && strstr(msg, "is it running?"),
		  "%s", msg);
	rmdir(tmpdir);
}

Test(client_connect, connection_refused)
{
	make_tmpdir();
	char sock[512];
	snprintf(sock, sizeof sock, "%s/infd.sock", tmpdir);
	int fd = bind_socket(sock, false); /* bound, nobody listening: ECONNREFUSED */
	infd_client *c = NULL;
	cr_assert_eq(infd_client_open(sock, &c), INFD_NOT_CONNECTED);
	char want[700];
	snprintf(want, sizeof want, "cannot reach the infd daemon at %s: is it running? (connection refused)", sock);
	cr_assert_str_eq(infd_client_last_error(NULL), want);
	cr_assert_str_eq(infd_strerror(INFD_NOT_CONNECTED), "daemon not reachable");
	close(fd);
	unlink(sock);
	rmdir(tmpdir);
}

Test(client_connect, env_socket_used)
{
	make_tmpdir();
	char sock[512];
	snprintf(sock, sizeof sock, "%s/env.sock", tmpdir);
	setenv("INFD_SOCKET", sock, 1);
	infd_client *c = NULL;
	cr_assert_eq(infd_client_open(NULL, &c), INFD_NOT_CONNECTED);
	cr_assert(strstr(infd_client_last_error(NULL), sock), "%s", infd_client_last_error(NULL));
	rmdir(tmpdir);
}

Test(client_api, null_handles_are_safe)
{
	infd_client_close(NULL);
	infd_session_close(NULL);
	infd_model_list_free(NULL);
	infd_free(NULL);
	cr_assert_str_eq(infd_session_last_error(NULL), "");
	cr_assert_eq(infd_model_count(NULL), 0);
	cr_assert_str_eq(infd_version(), INFD_VERSION_STRING);
	char *j = NULL;
	cr_assert_eq(infd_status_json(NULL, &j), INFD_INVALID_ARGUMENT);
	infd_client_options o = infd_client_options_default();
	cr_assert_eq(o.connect_timeout_ms, 2000);
}

/* ---- a fake daemon ------------------------------------------------------------------------ */

#define ARENA_BYTES (4096 + 64)
#define IN_OFF      4096
#define OUT_OFF     (4096 + 16)

/* The control block as protocol/wire.h lays it out (offsets only). */
struct ctl {
	uint32_t magic, version, req_seq, done_seq, status, timeout_ms, priority, doorbell;
	uint64_t exec_ns, queue_ns;
	uint32_t client_waiting, reserved[3];
};

struct fake {
	char sock[512], fdsock[520];
	int protocol; /* what HELLO answers */
	bool doorbell;
	nng_socket rep;
	int listen_fd, memfd;
	uint8_t *arena;
	pthread_t rep_thread, fd_thread, bell_thread;
	volatile int stop;
	volatile int bell_delay_ms; /* the doorbell thread takes this long per request */
	int runs_nng, runs_bell, closes;
};

static void wr32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void reply(struct fake *f, uint32_t type, uint32_t status, const void *body, size_t len)
{
	nng_msg *m;
	cr_assert_eq(nng_msg_alloc(&m, 16 + len), 0);
	uint8_t *p = nng_msg_body(m);
	wr32(p, 0x44464e49u);
	p[4] = 1;
	p[5] = 0;
	p[6] = (uint8_t)type;
	p[7] = 0;
	wr32(p + 8, status);
	wr32(p + 12, (uint32_t)len);
	if (len)
		memcpy(p + 16, body, len);
	if (nng_sendmsg(f->rep, m, 0))
		nng_msg_free(m);
}

static void compute(struct fake *f)
{
	float *in = (float *)(f->arena + IN_OFF), *out = (float *)(f->arena + OUT_OFF);
	for (int i = 0; i < 4; i++)
		out[i] = in[i] * 2.0f;
}

static void *rep_main(void *arg)
{
	struct fake *f = arg;
	while (!f->stop) {
		nng_msg *m;
		if (nng_recvmsg(f->rep, &m, 0))
			break;
		const uint8_t *p = nng_msg_body(m);
		uint32_t type = p[6];
		char body[1024];
		switch (type) {
		case 1:
			snprintf(body, sizeof body,
				 "{\"daemon\":\"9.9.9\",\"protocol\":%d,\"pid\":%d,\"uid\":0,\"permissions\":[\"run\","
				 "\"load\"]}",
				 f->protocol, (int)getpid());
			reply(f, type, 0, body, strlen(body));
			break;
		case 2:
			snprintf(body, sizeof body,
				 "{\"models\":[{\"name\":\"twice\",\"path\":\"/x.pte\",\"state\":\"ready\","
				 "\"file_bytes\":100,\"constant_bytes\":0,\"sessions\":1,\"requests\":7,"
				 "\"errors\":0,\"placement\":[\"portable\"],\"generation\":1}]}");
			reply(f, type, 0, body, strlen(body));
			break;
		case 3:
			snprintf(body, sizeof body, "{\"error\":\"no model named 'nope' is loaded\"}");
			reply(f, type, 12, body, strlen(body));
			break;
		case 7:
			snprintf(body, sizeof body,
				 "{\"session\":5,\"token\":\"00112233445566778899aabbccddeeff\",\"arena_bytes\":%d,"
				 "\"inputs\":[{\"dtype\":\"float32\",\"shape\":[4],\"nbytes\":16,\"offset\":%d}],"
				 "\"outputs\":[{\"dtype\":\"float32\",\"shape\":[2,2],\"nbytes\":16,\"offset\":%d}]}",
				 ARENA_BYTES, IN_OFF, OUT_OFF);
			reply(f, type, 0, body, strlen(body));
			break;
		case 8:
			f->closes++;
			reply(f, type, 0, "{}", 2);
			break;
		case 9: {
			uint8_t rr[24] = {0};
			compute(f);
			f->runs_nng++;
			wr32(rr, 1000);
			wr32(rr + 16, (uint32_t)f->runs_nng);
			reply(f, type, 0, rr, sizeof rr);
			break;
		}
		case 12:
			snprintf(body, sizeof body, "{\"error\":\"line 3: field 'workers' must be a number\"}");
			reply(f, type, 21, body, strlen(body));
			break;
		default:
			snprintf(body, sizeof body, "{\"uptime_s\":1.5}");
			reply(f, type, 0, body, strlen(body));
		}
		nng_msg_free(m);
	}
	return NULL;
}

static void *fd_main(void *arg)
{
	struct fake *f = arg;
	for (;;) {
		int c = accept(f->listen_fd, NULL, NULL);
		if (c < 0)
			return NULL;
		uint8_t hello[24];
		ssize_t got = recv(c, hello, sizeof hello, MSG_WAITALL);
		uint8_t ok =
		    got == 24 && hello[0] == 5 && hello[8] == 0x00 && hello[9] == 0x11 && hello[23] == 0xff ? 0 : 16;
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(int))];
		} cm;
		memset(&cm, 0, sizeof cm);
		struct iovec iov = {.iov_base = &ok, .iov_len = 1};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
		if (ok == 0) {
			mh.msg_control = cm.buf;
			mh.msg_controllen = sizeof cm.buf;
			struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
			h->cmsg_level = SOL_SOCKET;
			h->cmsg_type = SCM_RIGHTS;
			h->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(h), &f->memfd, sizeof(int));
		}
		sendmsg(c, &mh, MSG_NOSIGNAL);
		close(c);
	}
}

static void *bell_main(void *arg)
{
	struct fake *f = arg;
	struct ctl *ctl = (struct ctl *)f->arena;
	uint32_t seen = 0;
	while (!f->stop) {
		uint32_t req = __atomic_load_n(&ctl->req_seq, __ATOMIC_ACQUIRE);
		if (req == seen) {
			struct timespec ts = {0, 20 * 1000000};
			syscall(SYS_futex, &ctl->req_seq, FUTEX_WAIT, seen, &ts, NULL, 0);
			continue;
		}
		seen = req;
		if (f->bell_delay_ms)
			usleep((useconds_t)f->bell_delay_ms * 1000);
		compute(f);
		f->runs_bell++;
		ctl->exec_ns = 2000;
		__atomic_store_n(&ctl->status, 0, __ATOMIC_RELEASE);
		__atomic_store_n(&ctl->done_seq, req, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&ctl->client_waiting, __ATOMIC_SEQ_CST))
			syscall(SYS_futex, &ctl->done_seq, FUTEX_WAKE, 1, NULL, NULL, 0);
	}
	return NULL;
}

static void fake_start(struct fake *f, int protocol, bool doorbell)
{
	memset(f, 0, sizeof *f);
	make_tmpdir();
	f->protocol = protocol;
	f->doorbell = doorbell;
	snprintf(f->sock, sizeof f->sock, "%s/infd.sock", tmpdir);
	snprintf(f->fdsock, sizeof f->fdsock, "%s.fd", f->sock);
	char url[600];
	snprintf(url, sizeof url, "ipc://%s", f->sock);
	cr_assert_eq(nng_rep0_open(&f->rep), 0);
	cr_assert_eq(nng_listen(f->rep, url, NULL, 0), 0);
	f->listen_fd = bind_socket(f->fdsock, true);
	f->memfd = (int)syscall(SYS_memfd_create, "fake-arena", 0);
	cr_assert(f->memfd >= 0);
	cr_assert_eq(ftruncate(f->memfd, ARENA_BYTES), 0);
	f->arena = mmap(NULL, ARENA_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd, 0);
	cr_assert(f->arena != MAP_FAILED);
	struct ctl *ctl = (struct ctl *)f->arena;
	ctl->magic = 0x4d485349u;
	ctl->version = 1;
	ctl->doorbell = doorbell;
	pthread_create(&f->rep_thread, NULL, rep_main, f);
	pthread_create(&f->fd_thread, NULL, fd_main, f);
	if (doorbell)
		pthread_create(&f->bell_thread, NULL, bell_main, f);
}

static void fake_stop(struct fake *f)
{
	f->stop = 1;
	if (f->rep.id)
		nng_close(f->rep);
	shutdown(f->listen_fd, SHUT_RDWR);
	close(f->listen_fd);
	pthread_join(f->rep_thread, NULL);
	pthread_join(f->fd_thread, NULL);
	if (f->doorbell)
		pthread_join(f->bell_thread, NULL);
	unlink(f->sock);
	unlink(f->fdsock);
	rmdir(tmpdir);
}

Test(client_fake, version_mismatch)
{
	struct fake f;
	fake_start(&f, 2, false);
	infd_client *c = NULL;
	cr_assert_eq(infd_client_open(f.sock, &c), INFD_VERSION_MISMATCH);
	cr_assert_null(c);
	const char *msg = infd_client_last_error(NULL);
	cr_assert(strstr(msg, "protocol version 2") && strstr(msg, "speaks version 1"), "%s", msg);
	fake_stop(&f);
}

Test(client_fake, control_requests)
{
	struct fake f;
	fake_start(&f, 1, false);
	infd_client *c = NULL;
	cr_assert_eq(infd_client_open(f.sock, &c), INFD_OK, "%s", infd_client_last_error(NULL));
	cr_assert_str_eq(infd_client_daemon_version(c), "9.9.9");
	cr_assert_eq(infd_client_daemon_pid(c), getpid());
	cr_assert(infd_client_has_permission(c, "run"));
	cr_assert(!infd_client_has_permission(c, "admin"));
	cr_assert_str_eq(infd_client_socket_path(c), f.sock);

	infd_model_list *l = NULL;
	cr_assert_eq(infd_list_models(c, &l), INFD_OK, "%s", infd_client_last_error(c));
	cr_assert_eq(infd_model_count(l), 1);
	infd_model_info mi;
	cr_assert_eq(infd_model_info_at(l, 0, &mi), INFD_OK);
	cr_assert_str_eq(mi.name, "twice");
	cr_assert_eq(mi.requests, 7);
	cr_assert_eq(infd_model_info_at(l, 1, &mi), INFD_INVALID_ARGUMENT);
	infd_model_list_free(l);

	char *j = NULL;
	cr_assert_eq(infd_model_info_json(c, "nope", &j), INFD_UNKNOWN_MODEL);
	cr_assert_null(j);
	cr_assert_str_eq(infd_client_last_error(c), "no model named 'nope' is loaded");

	char *why = NULL;
	cr_assert_eq(infd_config_check(c, "{}", &why), INFD_BAD_CONFIG);
	cr_assert_str_eq(why, "line 3: field 'workers' must be a number");
	infd_free(why);

	cr_assert_eq(infd_request_json(c, "status", NULL, &j), INFD_OK);
	cr_assert_str_eq(j, "{\"uptime_s\":1.5}");
	infd_free(j);
	cr_assert_eq(infd_request_json(c, "13", "{}", &j), INFD_OK);
	infd_free(j);
	cr_assert_eq(infd_request_json(c, "NOPE", NULL, &j), INFD_INVALID_ARGUMENT);
	cr_assert_eq(infd_request_json(c, "RUN", NULL, &j), INFD_INVALID_ARGUMENT);
	cr_assert_eq(infd_request_json(c, "STATS", "[1]", &j), INFD_INVALID_ARGUMENT);
	infd_client_close(c);
	fake_stop(&f);
}

static void check_session(infd_session *s, float base)
{
	infd_tensor_view in, out;
	cr_assert_eq(infd_session_input(s, 0, &in), INFD_OK);
	cr_assert_eq(infd_session_output(s, 0, &out), INFD_OK);
	float *x = in.data, *y = out.data;
	for (int i = 0; i < 4; i++)
		x[i] = base + (float)i;
	cr_assert_eq(infd_session_run(s, 2000), INFD_OK, "%s", infd_session_last_error(s));
	for (int i = 0; i < 4; i++)
		cr_assert_float_eq(y[i], 2.0f * (base + (float)i), 0.0f);
}

static void on_done(void *ud, infd_status st)
{
	*(infd_status *)ud = st + 100;
}

Test(client_fake, session_over_nng_and_async)
{
	struct fake f;
	fake_start(&f, 1, false);
	infd_client *c = NULL;
	cr_assert_eq(infd_client_open(f.sock, &c), INFD_OK, "%s", infd_client_last_error(NULL));
	infd_session *s = NULL;
	cr_assert_eq(infd_session_open(c, "twice", NULL, &s), INFD_OK, "%s", infd_client_last_error(c));
	cr_assert_str_eq(infd_session_method(s), "forward");
	cr_assert_eq(infd_session_id(s), 5);
	cr_assert_eq(infd_session_input_count(s), 1);
	cr_assert_eq(infd_session_output_count(s), 1);
	infd_tensor_view v;
	cr_assert_eq(infd_session_output(s, 0, &v), INFD_OK);
	cr_assert_eq(v.dtype, INFD_DTYPE_FLOAT32);
	cr_assert_eq(v.rank, 2);
	cr_assert_eq(v.shape[1], 2);
	cr_assert_eq(v.nbytes, 16);
	cr_assert_eq(infd_session_input(s, 1, &v), INFD_INVALID_ARGUMENT);
	cr_assert_eq(infd_session_transport(s), INFD_TRANSPORT_NNG, "no doorbell: nng");
	cr_assert_eq(infd_session_set_transport(s, INFD_TRANSPORT_DOORBELL), INFD_OK);
	cr_assert_eq(infd_session_run(s, 100), INFD_UNSUPPORTED);
	cr_assert_eq(infd_session_set_transport(s, INFD_TRANSPORT_AUTO), INFD_OK);

	check_session(s, 1.0f);
	infd_run_info ri;
	cr_assert_eq(infd_session_run_info(s, &ri), INFD_OK);
	cr_assert_eq(ri.transport, INFD_TRANSPORT_NNG);
	cr_assert_eq(ri.exec_ns, 1000);
	cr_assert_eq(f.runs_nng, 1);

	infd_status got = INFD_INTERNAL;
	cr_assert_eq(infd_session_run_async(s, 2000, on_done, &got), INFD_OK);
	cr_assert_eq(infd_session_wait(s), INFD_OK);
	cr_assert_eq(got, 100, "the callback ran before wait returned");
	cr_assert_eq(f.runs_nng, 2);
	infd_session_close(s);
	cr_assert_eq(f.closes, 1);
	infd_client_close(c);
	fake_stop(&f);
}

Test(client_fake, session_over_doorbell)
{
	struct fake f;
	fake_start(&f, 1, true);
	infd_client *c = NULL;
	cr_assert_eq(infd_client_open(f.sock, &c), INFD_OK, "%s", infd_client_last_error(NULL));
	infd_session *s = NULL;
	cr_assert_eq(infd_session_open(c, "twice", "forward", &s), INFD_OK, "%s", infd_client_last_error(c));
	cr_assert_eq(infd_session_transport(s), INFD_TRANSPORT_DOORBELL);
	for (int r = 0; r < 50; r++)
		check_session(s, (float)r);
	cr_assert_eq(f.runs_bell, 50);
	cr_assert_eq(f.runs_nng, 0);
	infd_run_info ri;
	cr_assert_eq(infd_session_run_info(s, &ri), INFD_OK);
	cr_assert_eq(ri.transport, INFD_TRANSPORT_DOORBELL);
	cr_assert_eq(ri.sequence, 50);

	/* The nng path still works beside it. */
	cr_assert_eq(infd_session_set_transport(s, INFD_TRANSPORT_NNG), INFD_OK);
	check_session(s, 7.0f);
	cr_assert_eq(f.runs_nng, 1);
	infd_session_close(s);
	infd_client_close(c);
	fake_stop(&f);
}

Test(client_fake, no_doorbell_env)
{
	struct fake f;
	fake_start(&f, 1, true);
	setenv("INFD_NO_DOORBELL", "1", 1);
	infd_client *c = NULL;
	cr_assert_eq(infd_client_open(f.sock, &c), INFD_OK, "%s", infd_client_last_error(NULL));
	infd_session *s = NULL;
	cr_assert_eq(infd_session_open(c, "twice", "forward", &s), INFD_OK, "%s", infd_client_last_error(c));
	cr_assert_eq(infd_session_transport(s), INFD_TRANSPORT_NNG);
	check_session(s, 3.0f);
	cr_assert_eq(f.runs_nng, 1);
	cr_assert_eq(f.runs_bell, 0);
	infd_session_close(s);
	infd_client_close(c);
	fake_stop(&f);
}

/* ---- the BP08 reader ---------------------------------------------------------------------- */

static uint8_t *make_bundle(size_t *size)
{
	static const uint8_t fake_pte[40] = {16, 0, 0, 0, 'E', 'T', '1', '2'};
	struct infd_bpte_writer *w = infd__bpte_writer_create(fake_pte, sizeof fake_pte);
	cr_assert_not_null(w);
	const int32_t s24[2] = {2, 4}, s4[1] = {4};
	float x[8], y[4];
	for (int i = 0; i < 8; i++)
		x[i] = (float)i * 0.5f;
	for (int i = 0; i < 4; i++)
		y[i] = (float)i - 1.0f;
	struct infd_bpte_value in[2] = {
	    {.kind = INFD_BPTE_TENSOR, .dtype = INFD_DTYPE_FLOAT32, .rank = 2, .sizes = s24, .data = x, .nbytes = 32},
	    {.kind = INFD_BPTE_INT, .i = -42},
	};
	struct infd_bpte_value out[1] = {
	    {.kind = INFD_BPTE_TENSOR, .dtype = INFD_DTYPE_FLOAT32, .rank = 1, .sizes = s4, .data = y, .nbytes = 16},
	};
	infd__bpte_test_case(w, "forward", 2, in, 1, out);
	infd__bpte_test_case(w, "forward", 1, in, 1, out);
	struct infd_bpte_value dbl = {.kind = INFD_BPTE_DOUBLE, .d = 2.5};
	struct infd_bpte_value bl = {.kind = INFD_BPTE_BOOL, .b = true};
	infd__bpte_test_case(w, "blend", 1, &dbl, 1, &bl);
	uint8_t *data = NULL;
	struct infd_error e = {0};
	cr_assert_eq(infd__bpte_writer_finish(w, &data, size, &e), INFD_OK, "%s", e.msg);
	infd__bpte_writer_destroy(w);
	return data;
}

Test(client_bundle, reads_writer_output)
{
	size_t size;
	uint8_t *data = make_bundle(&size);
	struct infctl__bundle *b = NULL;
	char why[512];
	cr_assert_eq(infctl__bundle_read(data, size, &b, why, sizeof why), INFD_OK, "%s", why);
	cr_assert_eq(b->version, 2);
	cr_assert_eq(b->program_size, 40);
	cr_assert_eq(memcmp(b->program + 4, "ET12", 4), 0);
	cr_assert_eq(b->n_suites, 2);
	const struct infctl__bundle_suite *fw = infctl__bundle_suite(b, "forward");
	cr_assert_not_null(fw);
	cr_assert_eq(fw->n_cases, 2);
	const struct infctl__bundle_case *tc = &fw->cases[0];
	cr_assert_eq(tc->n_inputs, 2);
	cr_assert_eq(tc->inputs[0].kind, INFCTL_BUNDLE_TENSOR);
	cr_assert_eq(tc->inputs[0].dtype, INFD_DTYPE_FLOAT32);
	cr_assert_eq(tc->inputs[0].rank, 2);
	cr_assert_eq(tc->inputs[0].shape[0], 2);
	cr_assert_eq(tc->inputs[0].shape[1], 4);
	cr_assert(tc->inputs[0].contiguous);
	cr_assert_eq(tc->inputs[0].nbytes, 32);
	cr_assert_float_eq(infctl__element(INFD_DTYPE_FLOAT32, tc->inputs[0].data, 3), 1.5, 0);
	cr_assert_eq(tc->inputs[1].kind, INFCTL_BUNDLE_INT);
	cr_assert_eq(tc->inputs[1].i, -42);
	cr_assert_eq(tc->n_outputs, 1);
	cr_assert_float_eq(infctl__element(INFD_DTYPE_FLOAT32, tc->outputs[0].data, 0), -1.0, 0);
	cr_assert_eq(fw->cases[1].n_inputs, 1);
	const struct infctl__bundle_suite *bl = infctl__bundle_suite(b, "blend");
	cr_assert_not_null(bl);
	cr_assert_eq(bl->cases[0].inputs[0].kind, INFCTL_BUNDLE_DOUBLE);
	cr_assert_float_eq(bl->cases[0].inputs[0].d, 2.5, 0);
	cr_assert_eq(bl->cases[0].outputs[0].kind, INFCTL_BUNDLE_BOOL);
	cr_assert(bl->cases[0].outputs[0].b);
	cr_assert_null(infctl__bundle_suite(b, "nope"));
	infctl__bundle_free(b);
	free(data);
}

Test(client_bundle, hostile_bytes_fail_cleanly)
{
	size_t size;
	uint8_t *data = make_bundle(&size);
	struct infctl__bundle *b = NULL;
	char why[512];
	/* Every truncation is refused (or, at worst, parsed) without reading past the end. */
	for (size_t cut = 0; cut < size; cut += 1 + cut / 16) {
		uint8_t *copy = malloc(cut ? cut : 1);
		memcpy(copy, data, cut);
		infd_status st = infctl__bundle_read(copy, cut, &b, why, sizeof why);
		if (st == INFD_OK)
			infctl__bundle_free(b);
		else
			cr_assert(why[0], "a refusal says why (cut %zu)", cut);
		free(copy);
	}
	/* Every single-byte corruption. */
	for (size_t at = 0; at < size; at++) {
		uint8_t *copy = malloc(size);
		memcpy(copy, data, size);
		copy[at] ^= 0xa5;
		if (infctl__bundle_read(copy, size, &b, why, sizeof why) == INFD_OK)
			infctl__bundle_free(b);
		free(copy);
	}
	memcpy(data + 4, "ET12", 4);
	cr_assert_eq(infctl__bundle_read(data, size, &b, why, sizeof why), INFD_BAD_FORMAT);
	cr_assert(strstr(why, "plain .pte"), "%s", why);
	free(data);
}

Test(client_bundle, build_sample_bundle)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/tools/sample.bpte", t_build_root());
	if (access(path, R_OK) != 0)
		cr_skip_test("%s not built", path);
	struct infctl__bundle *b = NULL;
	char why[512];
	cr_assert_eq(infctl__bundle_load(path, &b, why, sizeof why), INFD_OK, "%s", why);
	cr_assert_not_null(infctl__bundle_suite(b, "forward"));
	cr_assert_not_null(infctl__bundle_suite(b, "blend"));
	infctl__bundle_free(b);
}

Test(client_bundle, compare_rules)
{
	float a[4] = {1.0f, NAN, INFINITY, 0.0f}, e[4] = {1.0f + 1e-7f, NAN, INFINITY, 1e-9f};
	size_t bad;
	double err;
	cr_assert(infctl__bundle_compare(INFD_DTYPE_FLOAT32, a, e, sizeof a, 1e-5, 1e-8, &bad, &err));
	e[2] = -INFINITY;
	cr_assert(!infctl__bundle_compare(INFD_DTYPE_FLOAT32, a, e, sizeof a, 1e-5, 1e-8, &bad, &err));
	cr_assert_eq(bad, 2);
	e[2] = INFINITY;
	e[3] = 1e-3f;
	cr_assert(!infctl__bundle_compare(INFD_DTYPE_FLOAT32, a, e, sizeof a, 1e-5, 1e-8, &bad, &err));
	cr_assert_eq(bad, 3);
	int32_t i1[3] = {1, 2, 3}, i2[3] = {1, 2, 4};
	cr_assert(!infctl__bundle_compare(INFD_DTYPE_INT32, i1, i2, sizeof i1, 1, 1, &bad, &err));
	cr_assert_eq(bad, 2);
	cr_assert(infctl__bundle_compare(INFD_DTYPE_INT32, i1, i1, sizeof i1, 0, 0, &bad, &err));
	uint16_t h[1] = {0x3c00}; /* float16 1.0 */
	cr_assert_float_eq(infctl__element(INFD_DTYPE_FLOAT16, h, 0), 1.0, 0);
}

Test(client_fake, doorbell_timeout_then_busy_then_ok)
{
	struct fake f;
	fake_start(&f, 1, true);
	infd_client *c = NULL;
	cr_assert_eq(infd_client_open(f.sock, &c), INFD_OK, "%s", infd_client_last_error(NULL));
	infd_session *s = NULL;
	cr_assert_eq(infd_session_open(c, "twice", "forward", &s), INFD_OK, "%s", infd_client_last_error(c));
	f.bell_delay_ms = 400;
	cr_assert_eq(infd_session_run(s, 50), INFD_TIMEOUT);
	cr_assert(strstr(infd_session_last_error(s), "50 ms"), "%s", infd_session_last_error(s));
	cr_assert_eq(infd_session_run(s, 50), INFD_BUSY, "the timed-out request is still running");
	f.bell_delay_ms = 0;
	usleep(600 * 1000);
	check_session(s, 4.0f);
	infd_session_close(s);
	infd_client_close(c);
	fake_stop(&f);
}

Test(client_fake, daemon_gone_during_a_doorbell_wait)
{
	struct fake f;
	fake_start(&f, 1, true);
	infd_client *c = NULL;
	cr_assert_eq(infd_client_open(f.sock, &c), INFD_OK, "%s", infd_client_last_error(NULL));
	infd_session *s = NULL;
	cr_assert_eq(infd_session_open(c, "twice", "forward", &s), INFD_OK, "%s", infd_client_last_error(c));
	f.bell_delay_ms = 1500; /* does not answer in time */
	nng_close(f.rep);       /* ... and its connection goes away */
	f.rep.id = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(infd_session_run(s, 0), INFD_NOT_CONNECTED, "a wait without timeout still ends");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	cr_assert_lt(ms, 1000.0, "noticed within a few slices (%.0f ms), not when the daemon answers", ms);
	cr_assert(strstr(infd_session_last_error(s), "did it exit?"), "%s", infd_session_last_error(s));
	char *j = NULL;
	cr_assert_eq(infd_status_json(c, &j), INFD_NOT_CONNECTED, "control requests fail at once too");
	infd_session_close(s);
	infd_client_close(c);
	f.stop = 1;
	fake_stop(&f);
}
