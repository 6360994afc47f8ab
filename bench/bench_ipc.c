/* Per-request overhead of the daemon, side by side in one run: a raw futex
 * ping-pong and a raw nng REQ/REP round trip between two processes (the floors),
 * a trivial method run in-process, through the daemon's doorbell and over nng;
 * throughput with 1, 2 and 8 client processes; and the daemon's memory growth
 * with 8 sessions on one model next to 8 in-process copies.
 * Usage: bench_ipc [ROUND_TRIPS]   (run from the build directory's parent or set
 * INFD_BUILD_ROOT; starts build/daemon/infd on a temporary socket). */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "infd/infd.h"
#include "runtime/pte_writer.h"
#include "runtime/runtime.h"

extern char **environ;

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void futex_wait(_Atomic uint32_t *w, uint32_t v)
{
	syscall(SYS_futex, w, FUTEX_WAIT, v, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE, 1, NULL, NULL, 0);
}

/* Two processes bounce a counter through futexes in shared memory. */
static double bench_futex(long n)
{
	_Atomic uint32_t *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	w[0] = 0; /* ping */
	w[1] = 0; /* pong */
	pid_t kid = fork();
	if (kid == 0) {
		for (uint32_t i = 1; i <= (uint32_t)n; i++) {
			while (atomic_load(&w[0]) != i)
				futex_wait(&w[0], i - 1);
			atomic_store(&w[1], i);
			futex_wake(&w[1]);
		}
		_exit(0);
	}
	double t0 = now_ns();
	for (uint32_t i = 1; i <= (uint32_t)n; i++) {
		atomic_store(&w[0], i);
		futex_wake(&w[0]);
		while (atomic_load(&w[1]) != i)
			futex_wait(&w[1], i - 1);
	}
	double t = (now_ns() - t0) / (double)n;
	waitpid(kid, NULL, 0);
	munmap((void *)w, 4096);
	return t;
}

/* Two fresh processes (nng must not cross a fork) exchange 16-byte messages. */
static double bench_nng(long n, const char *dir)
{
	char url[600];
	snprintf(url, sizeof url, "ipc://%s/raw.sock", dir);
	int fds[2];
	if (pipe(fds))
		return -1;
	pid_t server = fork();
	if (server == 0) {
		nng_socket s;
		nng_rep0_open(&s);
		nng_listen(s, url, NULL, 0);
		char ok = 1;
		if (write(fds[1], &ok, 1) != 1)
			_exit(1);
		for (long i = 0; i < n; i++) {
			nng_msg *m;
			if (nng_recvmsg(s, &m, 0) || nng_sendmsg(s, m, 0))
				_exit(1);
		}
		usleep(100000);
		_exit(0);
	}
	char ok;
	if (read(fds[0], &ok, 1) != 1)
		return -1;
	int res[2];
	if (pipe(res))
		return -1;
	pid_t client = fork();
	if (client == 0) {
		nng_socket s;
		nng_req0_open(&s);
		nng_dial(s, url, NULL, 0);
		char buf[16] = {0};
		double t0 = now_ns();
		for (long i = 0; i < n; i++) {
			nng_msg *m;
			nng_msg_alloc(&m, 0);
			nng_msg_append(m, buf, sizeof buf);
			if (nng_sendmsg(s, m, 0) || nng_recvmsg(s, &m, 0))
				_exit(1);
			nng_msg_free(m);
		}
		double t = (now_ns() - t0) / (double)n;
		if (write(res[1], &t, sizeof t) != sizeof t)
			_exit(1);
		_exit(0);
	}
	double t = -1;
	if (read(res[0], &t, sizeof t) != sizeof t)
		t = -1;
	waitpid(client, NULL, 0);
	waitpid(server, NULL, 0);
	return t;
}

/* The sample's "blend" (a + 0.5 b on float32[4]) run in-process, as the floor of
 * the work itself. */
static double bench_inprocess(long n, const char *sample)
{
	struct infd_error e = {0};
	struct infd_runtime *rt;
	struct infd_program *p;
	struct infd_method *m;
	if (infd__runtime_create(NULL, &rt, &e) || infd__program_open_file(sample, &p, &e) ||
	    infd__method_load(rt, p, "blend", NULL, &m, &e)) {
		fprintf(stderr, "bench: %s\n", e.msg);
		return -1;
	}
	for (uint32_t i = 0; i < 2; i++)
		m->input_set[i] = true;
	double t0 = now_ns();
	for (long i = 0; i < n; i++)
		infd__method_execute(m, &e);
	double t = (now_ns() - t0) / (double)n;
	infd__method_free(m);
	infd__program_close(p);
	infd__runtime_destroy(rt);
	return t;
}

static double bench_session(infd_client *c, long n, infd_transport tr)
{
	infd_session *s;
	if (infd_session_open(c, "sample", "blend", &s)) {
		fprintf(stderr, "bench: %s\n", infd_client_last_error(c));
		return -1;
	}
	infd_session_set_transport(s, tr);
	for (int i = 0; i < 100; i++)
		infd_session_run(s, 0);
	double t0 = now_ns();
	for (long i = 0; i < n; i++)
		if (infd_session_run(s, 0)) {
			fprintf(stderr, "bench: %s\n", infd_session_last_error(s));
			break;
		}
	double t = (now_ns() - t0) / (double)n;
	infd_session_close(s);
	return t;
}

static pid_t spawn(const char *const *argv, const char *log)
{
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (log)
		posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	pid_t pid = -1;
	posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	return pid;
}

/* K infctl processes, each running blend n times over the doorbell. */
static double bench_throughput(const char *build, const char *sock, int k, long n)
{
	char tool[1024], count[32];
	snprintf(tool, sizeof tool, "%s/client/infctl", build);
	snprintf(count, sizeof count, "%ld", n);
	const char *argv[] = {tool, "--socket", sock, "run", "sample", "-m", "blend", "-n", count, NULL};
	pid_t kids[8];
	double t0 = now_ns();
	for (int i = 0; i < k; i++)
		kids[i] = spawn(argv, NULL);
	for (int i = 0; i < k; i++)
		waitpid(kids[i], NULL, 0);
	return (double)k * (double)n / ((now_ns() - t0) / 1e9);
}

static long rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kib = strtol(line + 6, NULL, 10);
	if (f)
		fclose(f);
	return kib;
}

/* A model with 8 MiB of weights and a tiny activation plan: y[1,2048] = x[1,1024] @ W. */
static void write_big_model(const char *path)
{
	struct infd_pte_writer *w = infd__pte_writer_create(NULL);
	struct infd_pte_method *m = infd__pte_method(w, "forward");
	float *weights = malloc(1024u * 2048u * sizeof *weights);
	for (size_t i = 0; i < 1024u * 2048u; i++)
		weights[i] = (float)(i % 7) * 0.01f;
	int32_t x = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 2, (const int32_t[]){1, 1024});
	int32_t wt = infd__pte_const_tensor(m, INFD_DTYPE_FLOAT32, 2, (const int32_t[]){1024, 2048}, weights);
	int32_t y = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 2, (const int32_t[]){1, 2048});
	infd__pte_inputs(m, 1, &x);
	infd__pte_outputs(m, 1, &y);
	infd__pte_call(m, "aten::mm", "out", 4, (const int32_t[]){x, wt, y, y});
	struct infd_error e = {0};
	if (infd__pte_writer_save(w, path, &e))
		fprintf(stderr, "bench: %s\n", e.msg);
	infd__pte_writer_destroy(w);
	free(weights);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 20000;
	const char *build = getenv("INFD_BUILD_ROOT");
	if (!build || !*build)
		build = "build";
	char dir[] = "/tmp/infd-bench-XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	char sock[256], log[256], sample[1024], big[256], exe[1024];
	snprintf(sock, sizeof sock, "%s/infd.sock", dir);
	snprintf(log, sizeof log, "%s/infd.log", dir);
	snprintf(sample, sizeof sample, "%s/tools/sample.pte", build);
	snprintf(big, sizeof big, "%s/big.pte", dir);
	snprintf(exe, sizeof exe, "%s/daemon/infd", build);

	/* The floors first: nng must not be initialised in this process before forks. */
	double t_futex = bench_futex(n), t_nng = bench_nng(n, dir);
	double t_local = bench_inprocess(n * 10, sample);

	const char *dargv[] = {exe, "--socket", sock, NULL};
	pid_t daemon = spawn(dargv, log);
	infd_client *c = NULL;
	for (int i = 0; i < 200 && !c; i++) {
		usleep(20000);
		if (access(sock, F_OK) == 0 && infd_client_open(sock, &c) != INFD_OK)
			c = NULL;
	}
	if (!c) {
		fprintf(stderr, "bench: the daemon (%s) did not start; see %s\n", exe, log);
		return 1;
	}
	double t_bell = bench_session(c, n, INFD_TRANSPORT_DOORBELL);
	double t_msg = bench_session(c, n / 4, INFD_TRANSPORT_NNG);

	printf("round trip of a trivial method (sample.blend, float32[4]), %ld round trips, ns\n", n);
	printf("  %-34s %10.0f\n", "raw futex ping-pong (2 processes)", t_futex);
	printf("  %-34s %10.0f\n", "raw nng REQ/REP over ipc", t_nng);
	printf("  %-34s %10.0f\n", "in-process execute", t_local);
	printf("  %-34s %10.0f   %.2fx the futex floor (target <= 2)\n", "daemon, doorbell", t_bell, t_bell / t_futex);
	printf("  %-34s %10.0f   %.2fx raw nng (target <= 1.3)\n", "daemon, nng RUN", t_msg, t_msg / t_nng);

	printf("throughput over the doorbell, runs/s (client processes each running blend)\n");
	long per = n / 4 > 1000 ? n / 4 : 1000;
	for (int k = 1; k <= 8; k *= 2) {
		if (k == 4)
			continue;
		printf("  %d client%s %24s %10.0f\n", k, k == 1 ? " " : "s", "", bench_throughput(build, sock, k, per));
	}

	/* Memory: one model instance, 8 sessions. */
	write_big_model(big);
	if (infd_load(c, "big", big) != INFD_OK) {
		fprintf(stderr, "bench: %s\n", infd_client_last_error(c));
		return 1;
	}
	usleep(100000);
	long before = rss_kib(daemon);
	infd_session *ss[8];
	for (int i = 0; i < 8; i++) {
		if (infd_session_open(c, "big", NULL, &ss[i]) != INFD_OK) {
			fprintf(stderr, "bench: %s\n", infd_client_last_error(c));
			return 1;
		}
		infd_session_run(ss[i], 0);
	}
	usleep(100000);
	long after = rss_kib(daemon);
	size_t arena = infd_session_arena_bytes(ss[0]);
	/* In-process: each app loads the program and runs it once. */
	long self0 = rss_kib(getpid());
	struct infd_error e = {0};
	struct infd_runtime *rt;
	struct infd_program *p;
	struct infd_method *m;
	infd__runtime_create(NULL, &rt, &e);
	infd__program_read_file(big, &p, &e);
	infd__method_load(rt, p, "forward", NULL, &m, &e);
	m->input_set[0] = true;
	infd__method_execute(m, &e);
	long one_copy = rss_kib(getpid()) - self0;
	printf("memory with 8 sessions on one model with 8 MiB of weights\n");
	printf("  %-34s %10ld KiB (8 arenas of %zu B each, plus bookkeeping)\n", "daemon growth", after - before, arena);
	printf("  %-34s %10ld KiB (8 x %ld KiB for one in-process copy)\n", "8 in-process copies", 8 * one_copy,
	       one_copy);
	infd__method_free(m);
	infd__program_close(p);
	infd__runtime_destroy(rt);
	for (int i = 0; i < 8; i++)
		infd_session_close(ss[i]);
	infd_client_close(c);
	kill(daemon, SIGTERM);
	waitpid(daemon, NULL, 0);
	unlink(big);
	unlink(log);
	rmdir(dir);
	return 0;
}
