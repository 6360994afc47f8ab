/* infctl: the command-line client of the infd daemon — status, models, load /
 * unload / reload, stats and a live `top`, configuration; `run` and `verify` are
 * in infctl_run.c. Built on the public libinfd API only. */
#include "infctl.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- Help ------------------------------------------------------------------------- */

static const char usage_text[] =
    "NAME\n"
    "    infctl - control and use the infd inference daemon\n"
    "\n"
    "SYNOPSIS\n"
    "    infctl [--socket PATH] [--json] COMMAND [ARGUMENTS]\n"
    "    infctl help COMMAND\n"
    "\n"
    "COMMANDS\n"
    "    status                    the daemon: version, uptime, socket, config, devices\n"
    "    models [NAME]             loaded models; with NAME its methods, inputs, outputs\n"
    "    load NAME PATH            load the program file PATH (.pte) as model NAME\n"
    "    unload NAME               unload a model once its running requests finished\n"
    "    reload NAME               load a model's file again (after replacing it)\n"
    "    run MODEL [OPTIONS]       run a method on generated or file inputs, show outputs\n"
    "    verify [MODEL] FILE.bpte  run a bundled program's test cases through the daemon\n"
    "    stats [MODEL]             requests, errors, latencies, queues, sessions\n"
    "    top                       a live view of the stats, refreshed every second\n"
    "    config show               the daemon's configuration and where it came from\n"
    "    config check FILE         have the daemon validate a configuration file\n"
    "    version                   versions of infctl, libinfd and the daemon\n"
    "\n"
    "GLOBAL OPTIONS\n"
    "    -s, --socket PATH   the daemon's control socket. Default: $INFD_SOCKET, else\n"
    "                        $XDG_RUNTIME_DIR/infd/infd.sock when that socket exists,\n"
    "                        else /run/infd/infd.sock\n"
    "    -j, --json          print the daemon's JSON answer (pretty) instead of text\n"
    "    -h, --help          this text; `infctl help COMMAND` or `infctl COMMAND --help`\n"
    "                        for a command's options\n"
    "\n"
    "EXIT STATUS\n"
    "    0 on success, 1 on failure (the message says why), 2 on a usage error.\n"
    "\n"
    "ENVIRONMENT\n"
    "    INFD_SOCKET         default control socket\n"
    "    INFD_NO_DOORBELL=1  run requests over nng instead of the shared-memory doorbell\n";

struct cmd_help {
	const char *name, *synopsis, *text;
};

static const struct cmd_help helps[] = {
    {"status", "infctl status [--json]",
     "Show the daemon's version, pid, uptime, socket, configuration source, number of\n"
     "models, sessions and workers, and the devices it found (for a GPU or an NPU,\n"
     "--json adds its lane: partitions run, busy time, queue).\n"},
    {"models", "infctl models [NAME] [--json]",
     "Without NAME: one line per loaded model (state, generation, sessions, requests,\n"
     "errors, file size, placement, path). With NAME: the device preference list it\n"
     "was placed with, and the model's methods with their placement (which backend\n"
     "runs which instructions) and the dtype and shape of every input and output.\n"},
    {"load", "infctl load NAME PATH",
     "Load the ExecuTorch program file PATH under NAME. A relative PATH is taken from\n"
     "the current directory; the daemon must be able to read the file. Needs the 'load'\n"
     "permission. The daemon verifies the whole file first and refuses a bad one.\n"},
    {"unload", "infctl unload NAME", "Unload a model once its running requests have finished. Needs 'load'.\n"},
    {"reload", "infctl reload NAME", "Load a model's file again (same path), e.g. after replacing it. Needs 'load'.\n"},
    {"run", "infctl run MODEL [-m METHOD] [-i SPEC]... [-o DIR] [-n N] [--full] [--nng] [--timeout MS]",
     "Open a session on METHOD (default: forward) of MODEL, fill its inputs in shared\n"
     "memory, run it and print the outputs.\n"
     "    -m, --method NAME     the method (default: forward)\n"
     "    -i, --input SPEC      one per input, in order. SPEC is a file of raw little-\n"
     "                          endian elements (exactly the input's size), or a generator:\n"
     "                          zeros | ones | rand[:SEED] | seq | fill:V | values:V1,V2,...\n"
     "                          Inputs not given default to 'seq'.\n"
     "    -o, --output-dir DIR  write output K to DIR/outputK.bin (raw bytes) instead of\n"
     "                          printing it\n"
     "    -n, --repeat N        run N times and print latency statistics\n"
     "    -f, --full            print every element (default: the first 16)\n"
     "        --nng             send the runs as nng messages, not through the doorbell\n"
     "        --timeout MS      give up a run after MS milliseconds (default 60000, 0: none)\n"},
    {"verify", "infctl verify [MODEL] FILE.bpte [-m METHOD] [--rtol X] [--atol Y]",
     "Run every test case of a bundled program through the daemon and compare the\n"
     "outputs with the expected ones: floating-point values within |a-b| <= atol +\n"
     "rtol*|b| (defaults rtol 1e-5, atol 1e-8; NaN equals NaN), other types exactly.\n"
     "With MODEL, the cases run on that loaded model (which should be the bundle's\n"
     "program). Without it, the bundle's embedded program is loaded under a temporary\n"
     "name and unloaded afterwards (needs 'load'). Exit status 0 only if every case\n"
     "passes.\n"
     "    -m, --method NAME     only the test suite of this method\n"
     "The temporary copy of the program goes to $INFCTL_TMPDIR, else /dev/shm (a daemon\n"
     "under systemd has a private /tmp), else $TMPDIR or /tmp.\n"},
    {"stats", "infctl stats [MODEL] [--json]",
     "The daemon's counters: per model requests, errors and latencies, the queues and\n"
     "the open sessions.\n"},
    {"top", "infctl top [--iterations N] [--interval MS]",
     "A live view: per model requests per second, latency p50/p99, queue depth,\n"
     "sessions and memory, redrawn every second until Ctrl-C.\n"
     "        --iterations N    stop after N refreshes\n"
     "        --interval MS     refresh period (default 1000)\n"},
    {"config", "infctl config show [--json] | infctl config check FILE",
     "show: the configuration the daemon runs with and its source. check: ask the daemon\n"
     "whether FILE is a valid configuration (reported with line and field when not).\n"
     "Both need the 'admin' permission.\n"},
    {"version", "infctl version", "Versions of infctl, libinfd and, when reachable, the daemon.\n"},
    {"help", "infctl help [COMMAND]", "Help on infctl or on one command.\n"},
};

static int help(const char *cmd, FILE *to)
{
	if (cmd) {
		for (size_t i = 0; i < sizeof helps / sizeof helps[0]; i++) {
			if (strcmp(helps[i].name, cmd) == 0) {
				fprintf(to, "usage: %s\n\n%s", helps[i].synopsis, helps[i].text);
				return INFCTL_OK;
			}
		}
		fprintf(stderr, "infctl: unknown command '%s' (see infctl --help)\n", cmd);
		return INFCTL_USAGE;
	}
	fputs(usage_text, to);
	return INFCTL_OK;
}

/* ---- Shared helpers ---------------------------------------------------------------- */

int infctl_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("infctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return INFCTL_FAIL;
}

int infctl_fail(infd_client *c, infd_status st, const char *what)
{
	const char *msg = infd_client_last_error(c);
	if (!*msg)
		msg = infd_strerror(st);
	if (what)
		return infctl_error("%s: %s", what, msg);
	return infctl_error("%s", msg);
}

int infctl_connect(const struct infctl_opts *o, infd_client **out)
{
	infd_client_options co = infd_client_options_default();
	co.socket_path = o->socket;
	co.client_name = "infctl";
	infd_status st = infd_client_open_ex(&co, out);
	if (st)
		return infctl_fail(NULL, st, NULL);
	return INFCTL_OK;
}

void infctl_shape(char *buf, size_t size, uint32_t rank, const int64_t *shape)
{
	size_t used = (size_t)snprintf(buf, size, "[");
	for (uint32_t i = 0; i < rank && used < size; i++)
		used += (size_t)snprintf(buf + used, size - used, "%s%lld", i ? "," : "", (long long)shape[i]);
	if (used < size)
		snprintf(buf + used, size - used, "]");
}

static void print_pretty(const char *text)
{
	json_error_t e;
	json_t *obj = json_loads(text, 0, &e);
	char *out = obj ? json_dumps(obj, JSON_INDENT(2)) : NULL;
	puts(out ? out : text);
	free(out);
	json_decref(obj);
}

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *obj = json_loads(text, 0, &e);
	if (!obj)
		infctl_error("the daemon's answer is not JSON: %s", e.text);
	return obj;
}

/* A JSON number as double (NAN when absent). */
static double num(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

/* The first of several keys present as a number (dotted keys go one level down). */
static double num_any(const json_t *o, const char *const *keys)
{
	for (; *keys; keys++) {
		const char *dot = strchr(*keys, '.');
		double v;
		if (dot) {
			char head[64];
			snprintf(head, sizeof head, "%.*s", (int)(dot - *keys), *keys);
			v = num(json_object_get(o, head), dot + 1);
		} else {
			v = num(o, *keys);
		}
		if (!isnan(v))
			return v;
	}
	return NAN;
}

/* A MODEL counter: at the top level (PROTOCOL.md) or inside its "stats" object. */
static double counter(const json_t *m, const char *key)
{
	double v = num(m, key);
	return isnan(v) ? num(json_object_get(m, "stats"), key) : v;
}

/* A number for a table cell with `prec` decimals and a unit: "-" when absent. */
static const char *cellu(char *buf, size_t size, double v, int prec, const char *unit)
{
	if (isnan(v))
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%.*f%s", prec, v, unit);
	return buf;
}

static const char *cell(char *buf, size_t size, double v)
{
	return cellu(buf, size, v, 0, "");
}

static const char *str(const json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : dflt;
}

static void human_bytes(char *buf, size_t size, double b)
{
	if (isnan(b))
		snprintf(buf, size, "-");
	else if (b < 1024)
		snprintf(buf, size, "%.0f B", b);
	else if (b < 1024.0 * 1024)
		snprintf(buf, size, "%.1f KiB", b / 1024);
	else if (b < 1024.0 * 1024 * 1024)
		snprintf(buf, size, "%.1f MiB", b / (1024.0 * 1024));
	else
		snprintf(buf, size, "%.2f GiB", b / (1024.0 * 1024 * 1024));
}

static void human_duration(char *buf, size_t size, double s)
{
	if (isnan(s))
		snprintf(buf, size, "-");
	else if (s < 60)
		snprintf(buf, size, "%.1f s", s);
	else if (s < 3600)
		snprintf(buf, size, "%dm %02ds", (int)s / 60, (int)s % 60);
	else if (s < 86400)
		snprintf(buf, size, "%dh %02dm", (int)s / 3600, (int)s % 3600 / 60);
	else
		snprintf(buf, size, "%dd %02dh", (int)(s / 86400), (int)fmod(s, 86400) / 3600);
}

static void join_strings(char *buf, size_t size, const json_t *arr)
{
	size_t used = 0, i;
	json_t *v;
	buf[0] = '\0';
	json_array_foreach(arr, i, v)
	{
		if (json_is_string(v) && used < size)
			used +=
			    (size_t)snprintf(buf + used, size - used, "%s%s", used ? "," : "", json_string_value(v));
	}
	if (!used)
		snprintf(buf, size, "-");
}

static bool want_args(const struct infctl_opts *o, int lo, int hi, const char *cmd)
{
	if (o->argc >= lo && o->argc <= hi)
		return true;
	fprintf(stderr, "infctl: %s: wrong number of arguments\n", cmd);
	help(cmd, stderr);
	return false;
}

/* ---- status / models / load / unload / reload ---------------------------------------- */

static int cmd_status(const struct infctl_opts *o)
{
	if (!want_args(o, 0, 0, "status"))
		return INFCTL_USAGE;
	infd_client *c;
	int rc = infctl_connect(o, &c);
	if (rc)
		return rc;
	char *text = NULL;
	infd_status st = infd_status_json(c, &text);
	if (st) {
		rc = infctl_fail(c, st, "status");
		goto out;
	}
	if (o->json) {
		print_pretty(text);
		goto out;
	}
	json_t *s = parse(text);
	if (!s) {
		rc = INFCTL_FAIL;
		goto out;
	}
	char up[32];
	human_duration(up, sizeof up, num(s, "uptime_s"));
	printf("infd %s (pid %.0f), up %s\n", str(s, "daemon", "?"), num(s, "pid"), up);
	printf("  socket:   %s\n", str(s, "socket", infd_client_socket_path(c)));
	printf("  config:   %s\n", str(s, "config", "?"));
	printf("  models:   %.0f\n  sessions: %.0f\n  workers:  %.0f\n", num(s, "models"), num(s, "sessions"),
	       num(s, "workers"));
	const json_t *devs = json_object_get(s, "devices");
	if (json_array_size(devs)) {
		printf("  devices:\n");
		size_t i;
		json_t *d;
		json_array_foreach(devs, i, d)
		{
			const json_t *av = json_object_get(d, "available");
			printf("    %-8s %s (%s%s%s)\n", str(d, "kind", "?"), str(d, "name", "?"),
			       json_is_true(av) ? "available" : "not available",
			       json_string_value(json_object_get(d, "backend")) ? ", backend " : "",
			       str(d, "backend", ""));
		}
	}
	printf("  client:   libinfd %s, permissions:%s%s%s\n", infd_version(),
	       infd_client_has_permission(c, "run") ? " run" : "", infd_client_has_permission(c, "load") ? " load" : "",
	       infd_client_has_permission(c, "admin") ? " admin" : "");
	json_decref(s);
out:
	infd_free(text);
	infd_client_close(c);
	return rc;
}

static void print_tensors(const json_t *arr, const char *what)
{
	size_t i;
	json_t *t;
	json_array_foreach(arr, i, t)
	{
		char shape[160] = "[";
		size_t used = 1, d;
		json_t *dim;
		json_array_foreach(json_object_get(t, "shape"), d, dim)
		{
			if (used < sizeof shape)
				used += (size_t)snprintf(shape + used, sizeof shape - used, "%s%lld", d ? "," : "",
							 (long long)json_integer_value(dim));
		}
		if (used < sizeof shape)
			snprintf(shape + used, sizeof shape - used, "]");
		char bytes[32];
		human_bytes(bytes, sizeof bytes, num(t, "nbytes"));
		printf("    %-6s %zu: %s%s (%s)\n", what, i, str(t, "dtype", "?"), shape, bytes);
	}
}

static void print_model(const json_t *m)
{
	char fb[32], cb[32], place[128];
	human_bytes(fb, sizeof fb, num(m, "file_bytes"));
	human_bytes(cb, sizeof cb, num(m, "constant_bytes"));
	join_strings(place, sizeof place, json_object_get(m, "placement"));
	printf("model %s (%s, generation %.0f)\n", str(m, "name", "?"), str(m, "state", "?"), num(m, "generation"));
	printf("  path:      %s\n", str(m, "path", "?"));
	printf("  size:      %s file, %s constants\n", fb, cb);
	printf("  placement: %s\n", place);
	char prefs[128];
	join_strings(prefs, sizeof prefs, json_object_get(m, "devices"));
	if (prefs[0])
		printf("  devices:   %s (preference)\n", prefs);
	char c1[32], c2[32], c3[32];
	printf("  sessions:  %s   requests: %s   errors: %s\n", cell(c1, sizeof c1, num(m, "sessions")),
	       cell(c2, sizeof c2, counter(m, "requests")), cell(c3, sizeof c3, counter(m, "errors")));
	size_t i;
	json_t *meth;
	json_array_foreach(json_object_get(m, "methods"), i, meth)
	{
		printf("  method %s (placement: %s)\n", str(meth, "name", "?"), str(meth, "placement", "?"));
		print_tensors(json_object_get(meth, "inputs"), "input");
		print_tensors(json_object_get(meth, "outputs"), "output");
	}
}

static int cmd_models(const struct infctl_opts *o)
{
	if (!want_args(o, 0, 1, "models"))
		return INFCTL_USAGE;
	infd_client *c;
	int rc = infctl_connect(o, &c);
	if (rc)
		return rc;
	char *text = NULL;
	infd_status st = o->argc ? infd_model_info_json(c, o->argv[0], &text) : infd_list_models_json(c, &text);
	if (st) {
		rc = infctl_fail(c, st, o->argc ? o->argv[0] : "models");
		goto out;
	}
	if (o->json) {
		print_pretty(text);
		goto out;
	}
	json_t *r = parse(text);
	if (!r) {
		rc = INFCTL_FAIL;
		goto out;
	}
	if (o->argc) {
		print_model(r);
	} else {
		const json_t *models = json_object_get(r, "models");
		if (!json_array_size(models)) {
			printf("no models loaded\n");
		} else {
			printf("%-20s %-9s %4s %8s %10s %7s %10s %-12s %s\n", "NAME", "STATE", "GEN", "SESSIONS",
			       "REQUESTS", "ERRORS", "SIZE", "PLACEMENT", "PATH");
			size_t i;
			json_t *m;
			json_array_foreach(models, i, m)
			{
				char fb[32], place[128];
				human_bytes(fb, sizeof fb, num(m, "file_bytes"));
				join_strings(place, sizeof place, json_object_get(m, "placement"));
				char c1[32], c2[32], c3[32], c4[32];
				printf("%-20s %-9s %4s %8s %10s %7s %10s %-12s %s\n", str(m, "name", "?"),
				       str(m, "state", "?"), cell(c1, sizeof c1, num(m, "generation")),
				       cell(c2, sizeof c2, num(m, "sessions")),
				       cell(c3, sizeof c3, counter(m, "requests")),
				       cell(c4, sizeof c4, counter(m, "errors")), fb, place, str(m, "path", "?"));
			}
		}
	}
	json_decref(r);
out:
	infd_free(text);
	infd_client_close(c);
	return rc;
}

/* After load/reload: show the model (or its JSON). */
static int show_loaded(infd_client *c, const struct infctl_opts *o, const char *name, const char *verb)
{
	char *text = NULL;
	infd_status st = infd_model_info_json(c, name, &text);
	if (st) {
		printf("%s %s\n", verb, name);
		return INFCTL_OK;
	}
	if (o->json) {
		print_pretty(text);
	} else {
		json_t *m = parse(text);
		char fb[32], place[128];
		human_bytes(fb, sizeof fb, num(m, "file_bytes"));
		join_strings(place, sizeof place, json_object_get(m, "placement"));
		printf("%s %s from %s (%s, generation %.0f, placement %s)\n", verb, name, str(m, "path", "?"), fb,
		       num(m, "generation"), place);
		json_decref(m);
	}
	infd_free(text);
	return INFCTL_OK;
}

static int cmd_load(const struct infctl_opts *o, const char *verb)
{
	bool load = strcmp(verb, "load") == 0;
	if (!want_args(o, load ? 2 : 1, load ? 2 : 1, verb))
		return INFCTL_USAGE;
	infd_client *c;
	int rc = infctl_connect(o, &c);
	if (rc)
		return rc;
	const char *name = o->argv[0];
	infd_status st = load                          ? infd_load(c, name, o->argv[1])
			 : strcmp(verb, "reload") == 0 ? infd_reload(c, name)
						       : infd_unload(c, name);
	if (st) {
		rc = infctl_fail(c, st, name);
	} else if (strcmp(verb, "unload") == 0) {
		if (o->json) {
			json_t *j = json_pack("{s:s, s:b}", "model", name, "unloaded", 1);
			char *t = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
			puts(t ? t : "{}");
			free(t);
			json_decref(j);
		} else
			printf("unloaded %s\n", name);
	} else {
		rc = show_loaded(c, o, name, load ? "loaded" : "reloaded");
	}
	infd_client_close(c);
	return rc;
}

/* ---- stats / top ------------------------------------------------------------------------ */

static void latency(char *buf, size_t size, double us)
{
	if (isnan(us))
		snprintf(buf, size, "-");
	else if (us < 1000)
		snprintf(buf, size, "%.1f us", us);
	else if (us < 1e6)
		snprintf(buf, size, "%.2f ms", us / 1000);
	else
		snprintf(buf, size, "%.2f s", us / 1e6);
}

static void print_stats(const json_t *s)
{
	char up[32], q1[32], q2[32], q3[32], q4[32];
	human_duration(up, sizeof up, num(s, "uptime_s"));
	const json_t *queue = json_object_get(s, "queue");
	if (!queue)
		queue = json_object_get(s, "queues");
	printf("infd up %s; queue: depth %s of %s, submitted %s, rejected %s\n", up,
	       cell(q1, sizeof q1, num(queue, "depth")), cell(q2, sizeof q2, num(queue, "max_depth")),
	       cell(q3, sizeof q3, num(queue, "submitted")), cell(q4, sizeof q4, num(queue, "rejected")));
	size_t i;
	json_t *m;
	const json_t *models = json_object_get(s, "models");
	printf("\n%-20s %9s %7s %6s %9s %9s %9s %9s %9s %8s\n", "MODEL", "REQUESTS", "ERRORS", "BUSY", "MEAN", "P50",
	       "P90", "P99", "MAX", "SESSIONS");
	json_array_foreach(models, i, m)
	{
		char c[4][32], l[5][32];
		latency(l[0], sizeof l[0], counter(m, "mean_us"));
		latency(l[1], sizeof l[1], counter(m, "p50_us"));
		latency(l[2], sizeof l[2], counter(m, "p90_us"));
		latency(l[3], sizeof l[3], counter(m, "p99_us"));
		latency(l[4], sizeof l[4], counter(m, "max_us"));
		printf("%-20s %9s %7s %6s %9s %9s %9s %9s %9s %8s\n", str(m, "name", "?"),
		       cell(c[0], sizeof c[0], counter(m, "requests")), cell(c[1], sizeof c[1], counter(m, "errors")),
		       cell(c[2], sizeof c[2], counter(m, "busy")), l[0], l[1], l[2], l[3], l[4],
		       cell(c[3], sizeof c[3], num(m, "sessions")));
	}
	if (!json_array_size(models))
		printf("(no models)\n");
	const json_t *sessions = json_object_get(s, "sessions");
	if (json_array_size(sessions)) {
		printf("\n%-8s %-28s %6s %8s %9s %7s %9s %9s %9s\n", "SESSION", "MODEL.METHOD", "UID", "PID",
		       "REQUESTS", "ERRORS", "MEAN", "P50", "P99");
		json_array_foreach(sessions, i, m)
		{
			char id[32], what[160], c[4][32], l[3][32];
			snprintf(what, sizeof what, "%s.%s", str(m, "model", "?"), str(m, "method", "?"));
			latency(l[0], sizeof l[0], counter(m, "mean_us"));
			latency(l[1], sizeof l[1], counter(m, "p50_us"));
			latency(l[2], sizeof l[2], counter(m, "p99_us"));
			printf("%-8s %-28s %6s %8s %9s %7s %9s %9s %9s\n", cell(id, sizeof id, num(m, "session")), what,
			       cell(c[0], sizeof c[0], num(m, "uid")), cell(c[1], sizeof c[1], num(m, "pid")),
			       cell(c[2], sizeof c[2], counter(m, "requests")),
			       cell(c[3], sizeof c[3], counter(m, "errors")), l[0], l[1], l[2]);
		}
	}
}

static int cmd_stats(const struct infctl_opts *o)
{
	if (!want_args(o, 0, 1, "stats"))
		return INFCTL_USAGE;
	infd_client *c;
	int rc = infctl_connect(o, &c);
	if (rc)
		return rc;
	char *text = NULL;
	json_t *s = NULL;
	infd_status st = infd_stats_json(c, o->argc ? o->argv[0] : NULL, &text);
	if (st) {
		rc = infctl_fail(c, st, o->argc ? o->argv[0] : "stats");
	} else if (!(s = parse(text))) {
		rc = INFCTL_FAIL;
	} else if (o->argc && !json_array_size(json_object_get(s, "models"))) {
		rc = infctl_error("%s: no model named '%s' is loaded", o->argv[0], o->argv[0]);
	} else if (o->json) {
		print_pretty(text);
	} else {
		print_stats(s);
	}
	json_decref(s);
	infd_free(text);
	infd_client_close(c);
	return rc;
}

static volatile sig_atomic_t top_stop;

static void on_sigint(int sig)
{
	(void)sig;
	top_stop = 1;
}

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Requests seen per model at the previous refresh, for the rate. */
struct top_prev {
	char name[128];
	double requests;
};

/* The daemon's latency fields: "p50_us" in a model's "stats" (other spellings accepted). */
static const char *const k_p50[] = {"stats.p50_us", "p50_us", "latency_p50_us", NULL};
static const char *const k_p99[] = {"stats.p99_us", "p99_us", "latency_p99_us", NULL};

static void draw_top(const json_t *s, struct top_prev *prev, size_t *n_prev, double dt, bool tty)
{
	if (tty)
		fputs("\033[H\033[2J", stdout);
	char up[32];
	human_duration(up, sizeof up, num(s, "uptime_s"));
	time_t now = time(NULL);
	char clock[32];
	strftime(clock, sizeof clock, "%H:%M:%S", localtime(&now));
	const json_t *models = json_object_get(s, "models"), *sessions = json_object_get(s, "sessions");
	const json_t *queue = json_object_get(s, "queue");
	if (!queue)
		queue = json_object_get(s, "queues");
	printf("infd top - %s, up %s, %zu models, %zu sessions\n", clock, up, json_array_size(models),
	       json_array_size(sessions));
	char q1[32], q2[32], q3[32], q4[32];
	printf("queue: depth %s of %s, submitted %s, rejected %s\n\n", cell(q1, sizeof q1, num(queue, "depth")),
	       cell(q2, sizeof q2, num(queue, "max_depth")), cell(q3, sizeof q3, num(queue, "submitted")),
	       cell(q4, sizeof q4, num(queue, "rejected")));
	printf("%-20s %9s %10s %10s %8s %8s %6s %10s\n", "MODEL", "REQ/S", "P50", "P99", "SESSIONS", "ERRORS", "BUSY",
	       "MEMORY");
	size_t i;
	json_t *m;
	struct top_prev next[64];
	size_t n_next = 0;
	json_array_foreach(models, i, m)
	{
		const char *name = str(m, "name", str(m, "model", "?"));
		double req = counter(m, "requests"), rate = NAN;
		for (size_t k = 0; k < *n_prev; k++)
			if (strcmp(prev[k].name, name) == 0 && dt > 0 && !isnan(req))
				rate = (req - prev[k].requests) / dt;
		if (n_next < 64) {
			snprintf(next[n_next].name, sizeof next[n_next].name, "%s", name);
			next[n_next++].requests = req;
		}
		/* Memory: the shared constants plus one planned arena per session. */
		double mem = num(m, "constant_bytes"), per = num(m, "planned_bytes_per_session"),
		       ns = num(m, "sessions");
		if (!isnan(per) && !isnan(ns))
			mem = (isnan(mem) ? 0 : mem) + per * ns;
		char r[32], p50[32], p99[32], q[32], se[32], er[32], mb[32];
		human_bytes(mb, sizeof mb, mem);
		printf("%-20s %9s %10s %10s %8s %8s %6s %10s\n", name, cellu(r, sizeof r, rate, 1, ""),
		       cellu(p50, sizeof p50, num_any(m, k_p50), 0, " us"),
		       cellu(p99, sizeof p99, num_any(m, k_p99), 0, " us"), cell(se, sizeof se, ns),
		       cell(er, sizeof er, counter(m, "errors")), cell(q, sizeof q, counter(m, "busy")), mb);
	}
	memcpy(prev, next, n_next * sizeof *next);
	*n_prev = n_next;
	if (tty)
		printf("\n(Ctrl-C to quit)\n");
	else
		printf("--\n");
	fflush(stdout);
}

static int cmd_top(const struct infctl_opts *o)
{
	if (!want_args(o, 0, 0, "top"))
		return INFCTL_USAGE;
	infd_client *c;
	int rc = infctl_connect(o, &c);
	if (rc)
		return rc;
	struct sigaction sa = {.sa_handler = on_sigint};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	bool tty = isatty(STDOUT_FILENO);
	struct top_prev prev[64];
	size_t n_prev = 0;
	double last = 0;
	long interval = o->interval_ms > 0 ? o->interval_ms : 1000;
	for (long it = 0; !top_stop && (o->iterations <= 0 || it < o->iterations); it++) {
		if (it) {
			struct timespec ts = {.tv_sec = interval / 1000, .tv_nsec = interval % 1000 * 1000000L};
			while (!top_stop && nanosleep(&ts, &ts) != 0 && errno == EINTR)
				;
			if (top_stop)
				break;
		}
		char *text = NULL;
		infd_status st = infd_stats_json(c, NULL, &text);
		if (st) {
			rc = infctl_fail(c, st, "stats");
			break;
		}
		double t = mono_s();
		if (o->json) {
			json_t *s = parse(text);
			char *line = s ? json_dumps(s, JSON_COMPACT) : NULL;
			puts(line ? line : text);
			fflush(stdout);
			free(line);
			json_decref(s);
		} else {
			json_t *s = parse(text);
			if (s)
				draw_top(s, prev, &n_prev, last > 0 ? t - last : 0, tty);
			json_decref(s);
		}
		last = t;
		infd_free(text);
	}
	infd_client_close(c);
	return rc;
}

/* ---- config / version -------------------------------------------------------------------- */

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		infctl_error("cannot open '%s': %s", path, strerror(errno));
		return NULL;
	}
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	while (buf) {
		size_t got = fread(buf + len, 1, cap - len - 1, f);
		len += got;
		if (len + 1 < cap)
			break;
		char *nb = cap < (64u << 20) ? realloc(buf, cap *= 2) : NULL;
		if (!nb)
			free(buf);
		buf = nb;
	}
	bool err = ferror(f);
	fclose(f);
	if (!buf || err) {
		free(buf);
		infctl_error("cannot read '%s'%s", path, buf ? "" : " (too large or out of memory)");
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

static int cmd_config(const struct infctl_opts *o)
{
	if (o->argc < 1 || (strcmp(o->argv[0], "show") != 0 && strcmp(o->argv[0], "check") != 0)) {
		fprintf(stderr, "infctl: config: say 'show' or 'check FILE'\n");
		help("config", stderr);
		return INFCTL_USAGE;
	}
	bool check = strcmp(o->argv[0], "check") == 0;
	if ((check && o->argc != 2) || (!check && o->argc != 1)) {
		help("config", stderr);
		return INFCTL_USAGE;
	}
	char *file = NULL;
	if (check && !(file = read_text(o->argv[1])))
		return INFCTL_FAIL;
	infd_client *c;
	int rc = infctl_connect(o, &c);
	if (rc) {
		free(file);
		return rc;
	}
	if (check) {
		char *why = NULL;
		infd_status st = infd_config_check(c, file, &why);
		if (st == INFD_OK) {
			if (o->json)
				printf("{\"ok\": true}\n");
			else
				printf("%s: ok\n", o->argv[1]);
		} else if (st == INFD_BAD_CONFIG) {
			if (o->json) {
				json_t *j = json_pack("{s:b, s:s}", "ok", 0, "error", why ? why : "");
				char *t = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
				puts(t ? t : "{\"ok\": false}");
				free(t);
				json_decref(j);
			}
			rc = infctl_error("%s: %s", o->argv[1], why ? why : infd_client_last_error(c));
		} else {
			rc = infctl_fail(c, st, "config check");
		}
		infd_free(why);
	} else {
		char *text = NULL;
		infd_status st = infd_config_json(c, &text);
		if (st) {
			rc = infctl_fail(c, st, "config");
		} else if (o->json) {
			print_pretty(text);
		} else {
			json_t *r = parse(text);
			char *cfg = r ? json_dumps(json_object_get(r, "config"), JSON_INDENT(2)) : NULL;
			printf("# source: %s\n%s\n", str(r, "source", "?"), cfg ? cfg : "{}");
			free(cfg);
			json_decref(r);
		}
		infd_free(text);
	}
	free(file);
	infd_client_close(c);
	return rc;
}

static int cmd_version(const struct infctl_opts *o)
{
	printf("infctl %s, libinfd %s, protocol %d\n", INFD_VERSION_STRING, infd_version(), INFD_PROTOCOL_VERSION);
	infd_client *c;
	infd_status st = infd_client_open(o->socket, &c);
	if (st) {
		printf("daemon: not reachable (%s)\n", infd_client_last_error(NULL));
		return INFCTL_OK;
	}
	printf("daemon: infd %s (pid %lld) at %s\n", infd_client_daemon_version(c),
	       (long long)infd_client_daemon_pid(c), infd_client_socket_path(c));
	infd_client_close(c);
	return INFCTL_OK;
}

/* ---- main ------------------------------------------------------------------------------ */

enum { OPT_NNG = 256, OPT_ITER, OPT_INTERVAL, OPT_TIMEOUT, OPT_RTOL, OPT_ATOL };

static bool parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {"method", required_argument, NULL, 'm'},
	    {"input", required_argument, NULL, 'i'},
	    {"output-dir", required_argument, NULL, 'o'},
	    {"repeat", required_argument, NULL, 'n'},
	    {"full", no_argument, NULL, 'f'},
	    {"nng", no_argument, NULL, OPT_NNG},
	    {"iterations", required_argument, NULL, OPT_ITER},
	    {"interval", required_argument, NULL, OPT_INTERVAL},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"rtol", required_argument, NULL, OPT_RTOL},
	    {"atol", required_argument, NULL, OPT_ATOL},
	    {NULL, 0, NULL, 0},
	};
	struct infctl_opts o = {.repeat = 1, .rtol = 1e-5, .atol = 1e-8, .timeout_ms = 60000};
	bool want_help = false;
	long v;
	int ch;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":s:jhm:i:o:n:f", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			o.socket = optarg;
			break;
		case 'j':
			o.json = true;
			break;
		case 'h':
			want_help = true;
			break;
		case 'm':
			o.method = optarg;
			break;
		case 'i':
			if (o.n_inputs == INFCTL_MAX_INPUTS) {
				fprintf(stderr, "infctl: at most %d -i options\n", INFCTL_MAX_INPUTS);
				return INFCTL_USAGE;
			}
			o.inputs[o.n_inputs++] = optarg;
			break;
		case 'o':
			o.outdir = optarg;
			break;
		case 'n':
			if (!parse_long(optarg, 1, 100000000, &o.repeat)) {
				fprintf(stderr, "infctl: -n wants a count >= 1, not '%s'\n", optarg);
				return INFCTL_USAGE;
			}
			break;
		case 'f':
			o.full = true;
			break;
		case OPT_NNG:
			o.nng = true;
			break;
		case OPT_ITER:
			if (!parse_long(optarg, 0, 100000000, &o.iterations)) {
				fprintf(stderr, "infctl: --iterations wants a count, not '%s'\n", optarg);
				return INFCTL_USAGE;
			}
			break;
		case OPT_INTERVAL:
			if (!parse_long(optarg, 10, 3600000, &o.interval_ms)) {
				fprintf(stderr, "infctl: --interval wants milliseconds (10..3600000), not '%s'\n",
					optarg);
				return INFCTL_USAGE;
			}
			break;
		case OPT_TIMEOUT:
			if (!parse_long(optarg, 0, 86400000, &v)) {
				fprintf(stderr, "infctl: --timeout wants milliseconds, not '%s'\n", optarg);
				return INFCTL_USAGE;
			}
			o.timeout_ms = (uint32_t)v;
			break;
		case OPT_RTOL:
		case OPT_ATOL: {
			char *end;
			double d = strtod(optarg, &end);
			if (end == optarg || *end || !(d >= 0)) {
				fprintf(stderr, "infctl: --%s wants a number >= 0, not '%s'\n",
					ch == OPT_RTOL ? "rtol" : "atol", optarg);
				return INFCTL_USAGE;
			}
			*(ch == OPT_RTOL ? &o.rtol : &o.atol) = d;
			break;
		}
		case ':':
			fprintf(stderr, "infctl: option '%s' needs a value (see infctl --help)\n", argv[optind - 1]);
			return INFCTL_USAGE;
		default:
			fprintf(stderr, "infctl: unknown option '%s' (see infctl --help)\n", argv[optind - 1]);
			return INFCTL_USAGE;
		}
	}
	if (optind >= argc) {
		if (want_help)
			return help(NULL, stdout);
		fputs(usage_text, stderr);
		return INFCTL_USAGE;
	}
	const char *cmd = argv[optind];
	o.argc = argc - optind - 1;
	o.argv = argv + optind + 1;
	if (strcmp(cmd, "help") == 0)
		return help(o.argc ? o.argv[0] : NULL, stdout);
	if (want_help)
		return help(cmd, stdout);

	if (strcmp(cmd, "status") == 0)
		return cmd_status(&o);
	if (strcmp(cmd, "models") == 0 || strcmp(cmd, "list") == 0)
		return cmd_models(&o);
	if (strcmp(cmd, "load") == 0 || strcmp(cmd, "unload") == 0 || strcmp(cmd, "reload") == 0)
		return cmd_load(&o, cmd);
	if (strcmp(cmd, "run") == 0)
		return infctl_cmd_run(&o);
	if (strcmp(cmd, "verify") == 0)
		return infctl_cmd_verify(&o);
	if (strcmp(cmd, "stats") == 0)
		return cmd_stats(&o);
	if (strcmp(cmd, "top") == 0)
		return cmd_top(&o);
	if (strcmp(cmd, "config") == 0)
		return cmd_config(&o);
	if (strcmp(cmd, "version") == 0)
		return cmd_version(&o);
	fprintf(stderr, "infctl: unknown command '%s' (see infctl --help)\n", cmd);
	return INFCTL_USAGE;
}
