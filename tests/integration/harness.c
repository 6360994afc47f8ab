/* Integration-test harness (see harness.h). */
#include "harness.h"

#include "check.h"
#include <dirent.h>
#include <ftw.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "infd/dtype.h"
#include "runtime/pte_writer.h"
#include "tests/common.h"

extern char **environ;

const char *daemon_path(const struct daemon_proc *dp, const char *name)
{
	static char bufs[8][512];
	static unsigned next;
	char *b = bufs[next++ % 8];
	snprintf(b, sizeof bufs[0], "%s/%s", dp->dir, name);
	return b;
}

static bool socket_ready(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

const char *daemon_log(const struct daemon_proc *dp)
{
	static char buf[16384];
	buf[0] = 0;
	FILE *f = fopen(dp->log, "r");
	if (f) {
		size_t n = fread(buf, 1, sizeof buf - 1, f);
		buf[n] = 0;
		fclose(f);
	}
	return buf;
}

void daemon_start(struct daemon_proc *dp, const char *config_text, const char *const *extra_env)
{
	memset(dp, 0, sizeof *dp);
	snprintf(dp->dir, sizeof dp->dir, "/tmp/infd-test-XXXXXX");
	cr_assert_not_null(mkdtemp(dp->dir), "mkdtemp: %s", strerror(errno));
	chmod(dp->dir, 0755);
	snprintf(dp->socket, sizeof dp->socket, "%s/infd.sock", dp->dir);
	snprintf(dp->log, sizeof dp->log, "%s/infd.log", dp->dir);
	char exe[1024];
	snprintf(exe, sizeof exe, "%s/daemon/infd", t_build_root());
	const char *argv[8] = {exe, "--socket", dp->socket};
	int argc = 3;
	if (config_text) {
		snprintf(dp->config, sizeof dp->config, "%s/infd.json", dp->dir);
		FILE *f = fopen(dp->config, "w");
		cr_assert_not_null(f);
		fputs(config_text, f);
		fclose(f);
		argv[argc++] = "--config";
		argv[argc++] = dp->config;
	}
	argv[argc] = NULL;
	const char *env[256];
	int n = 0;
	for (char **e = environ; *e && n < 200; e++)
		if (strncmp(*e, "NOTIFY_SOCKET=", 14) != 0 && strncmp(*e, "WATCHDOG_", 9) != 0)
			env[n++] = *e;
	for (int i = 0; extra_env && extra_env[i] && n < 250; i++)
		env[n++] = extra_env[i];
	env[n] = NULL;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 2, dp->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	int rc = posix_spawn(&dp->pid, exe, &fa, NULL, (char *const *)argv, (char *const *)env);
	posix_spawn_file_actions_destroy(&fa);
	cr_assert_eq(rc, 0, "cannot start %s: %s", exe, strerror(rc));
	for (int i = 0; i < 1000; i++) {
		/* Ready once it says so: probing the socket with a bare connection
		 * would make nng's listener back off for a while. */
		if (strstr(daemon_log(dp), "listening on") && socket_ready(dp->socket))
			return;
		int st;
		if (waitpid(dp->pid, &st, WNOHANG) == dp->pid)
			cr_assert_fail("infd exited at start (status %d):\n%s", st, daemon_log(dp));
		struct timespec ts = {0, 10 * 1000000};
		nanosleep(&ts, NULL);
	}
	kill(dp->pid, SIGKILL);
	cr_assert_fail("infd did not listen on %s within 10 s:\n%s", dp->socket, daemon_log(dp));
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* Remove the temporary directory once the daemon is gone (kept when a test
 * fails, since the failure path never gets here: its log stays for reading). */
static void remove_dir(struct daemon_proc *dp)
{
	if (dp->dir[0])
		nftw(dp->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int daemon_stop(struct daemon_proc *dp)
{
	if (dp->pid <= 0)
		return -1;
	kill(dp->pid, SIGTERM);
	int st = 0;
	for (int i = 0; i < 1000; i++) {
		if (waitpid(dp->pid, &st, WNOHANG) == dp->pid) {
			dp->pid = 0;
			int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			if (code == 0)
				remove_dir(dp);
			return code;
		}
		struct timespec ts = {0, 10 * 1000000};
		nanosleep(&ts, NULL);
	}
	kill(dp->pid, SIGKILL);
	waitpid(dp->pid, &st, 0);
	dp->pid = 0;
	return 999;
}

int daemon_memfd_count(pid_t pid)
{
	char dir[64], link[512], target[512];
	snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
	DIR *d = opendir(dir);
	int n = 0;
	if (!d)
		return -1;
	struct dirent *e;
	while ((e = readdir(d))) {
		snprintf(link, sizeof link, "%s/%s", dir, e->d_name);
		ssize_t len = readlink(link, target, sizeof target - 1);
		if (len > 0) {
			target[len] = 0;
			n += strstr(target, "memfd:infd-session") != NULL;
		}
	}
	closedir(d);
	return n;
}

long proc_rss_kib(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	long kib = -1;
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kib = strtol(line + 6, NULL, 10);
	if (f)
		fclose(f);
	return kib;
}

static void save(struct infd_pte_writer *w, const char *path)
{
	struct infd_error e = {0};
	cr_assert_eq(infd__pte_writer_save(w, path, &e), INFD_OK, "%s", e.msg);
	infd__pte_writer_destroy(w);
}

void write_affine_program(const char *path, int n, float scale, float bias)
{
	struct infd_pte_writer *w = infd__pte_writer_create(NULL);
	struct infd_pte_method *m = infd__pte_method(w, "forward");
	float *s = malloc((size_t)n * sizeof *s), *b = malloc((size_t)n * sizeof *b);
	for (int i = 0; i < n; i++) {
		s[i] = scale;
		b[i] = bias;
	}
	int32_t shape[1] = {n};
	int32_t x = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 1, shape);
	int32_t cs = infd__pte_const_tensor(m, INFD_DTYPE_FLOAT32, 1, shape, s);
	int32_t cb = infd__pte_const_tensor(m, INFD_DTYPE_FLOAT32, 1, shape, b);
	int32_t t = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 1, shape);
	int32_t y = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 1, shape);
	int32_t one = infd__pte_int(m, 1);
	infd__pte_inputs(m, 1, &x);
	infd__pte_outputs(m, 1, &y);
	infd__pte_call(m, "aten::mul", "out", 4, (const int32_t[]){x, cs, t, t});
	infd__pte_call(m, "aten::add", "out", 5, (const int32_t[]){t, cb, one, y, y});
	free(s);
	free(b);
	save(w, path);
}

void write_slow_program(const char *path, int n, int steps)
{
	struct infd_pte_writer *w = infd__pte_writer_create(NULL);
	struct infd_pte_method *m = infd__pte_method(w, "forward");
	int32_t shape[1] = {n};
	int32_t x = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 1, shape);
	int32_t a = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 1, shape);
	int32_t b = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 1, shape);
	int32_t one = infd__pte_int(m, 1);
	infd__pte_inputs(m, 1, &x);
	int32_t cur = x;
	for (int k = 0; k < steps; k++) {
		int32_t out = k % 2 ? b : a;
		if (out == cur)
			out = out == a ? b : a;
		infd__pte_call(m, "aten::add", "out", 5, (const int32_t[]){cur, cur, one, out, out});
		cur = out;
	}
	infd__pte_outputs(m, 1, &cur);
	save(w, path);
}

static char client_copy_dir[512];

static void copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	cr_assert(in && out, "copy %s -> %s", from, to);
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		cr_assert_eq(fwrite(buf, 1, n, out), n);
	fclose(in);
	fclose(out);
	chmod(to, 0755);
}

void client_proc_copy_to(const char *dir)
{
	char from[1024], to[1024];
	snprintf(from, sizeof from, "%s/tests/integration/client_proc", t_build_root());
	snprintf(to, sizeof to, "%s/client_proc", dir);
	copy_file(from, to);
	snprintf(from, sizeof from, "%s/client/libinfd.so.0", t_build_root());
	snprintf(to, sizeof to, "%s/libinfd.so.0", dir);
	copy_file(from, to);
	snprintf(client_copy_dir, sizeof client_copy_dir, "%s", dir);
}

pid_t client_spawn(const char *const *args, int *to_child, int *from_child, int as_nobody)
{
	char exe[1024];
	if (client_copy_dir[0])
		snprintf(exe, sizeof exe, "%s/client_proc", client_copy_dir);
	else
		snprintf(exe, sizeof exe, "%s/tests/integration/client_proc", t_build_root());
	const char *argv[16];
	int n = 0;
	if (as_nobody) {
		argv[n++] = "setpriv";
		argv[n++] = "--reuid=nobody";
		argv[n++] = "--regid=nogroup";
		argv[n++] = "--clear-groups";
	}
	argv[n++] = exe;
	for (int i = 0; args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	int in[2] = {-1, -1}, out[2] = {-1, -1};
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	if (to_child) {
		cr_assert_eq(pipe(in), 0);
		posix_spawn_file_actions_adddup2(&fa, in[0], 0);
		posix_spawn_file_actions_addclose(&fa, in[1]);
	}
	if (from_child) {
		cr_assert_eq(pipe(out), 0);
		posix_spawn_file_actions_adddup2(&fa, out[1], 1);
		posix_spawn_file_actions_addclose(&fa, out[0]);
	}
	/* With a copy, its libinfd comes from the same directory. */
	const char *env[256];
	int ne = 0;
	char ld[600];
	for (char **e = environ; *e && ne < 250; e++)
		if (strncmp(*e, "LD_LIBRARY_PATH=", 16) != 0)
			env[ne++] = *e;
	if (client_copy_dir[0]) {
		snprintf(ld, sizeof ld, "LD_LIBRARY_PATH=%s", client_copy_dir);
		env[ne++] = ld;
	}
	env[ne] = NULL;
	pid_t pid;
	int rc = as_nobody ? posix_spawnp(&pid, "setpriv", &fa, NULL, (char *const *)argv, (char *const *)env)
			   : posix_spawn(&pid, exe, &fa, NULL, (char *const *)argv, (char *const *)env);
	posix_spawn_file_actions_destroy(&fa);
	cr_assert_eq(rc, 0, "cannot start %s: %s", exe, strerror(rc));
	if (to_child) {
		close(in[0]);
		*to_child = in[1];
	}
	if (from_child) {
		close(out[1]);
		*from_child = out[0];
	}
	return pid;
}

int child_wait(pid_t pid)
{
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
