/* infd: the inference daemon. Parses the command line and runs the daemon. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "daemon.h"

static const char usage[] =
	"usage: infd [--config FILE] [--socket PATH] [--check-config] [--version]\n"
	"\n"
	"Serves ExecuTorch programs to local clients (libinfd, infctl).\n"
	"  -c, --config FILE    JSON configuration (default: the built-in one, which\n"
	"                       serves the bundled sample model as 'sample')\n"
	"  -s, --socket PATH    listen here (default: config \"socket\", else\n"
	"                       /run/infd/infd.sock as root, $XDG_RUNTIME_DIR/infd/infd.sock\n"
	"                       otherwise); arenas are handed out on PATH.fd\n"
	"      --check-config   validate the configuration and exit\n"
	"  -V, --version        print the version\n"
	"Signals: SIGHUP reloads the configuration, SIGTERM/SIGINT finish accepted\n"
	"requests and exit.\n";

int main(int argc, char **argv)
{
	static const struct option longs[] = {
		{"config", required_argument, NULL, 'c'}, {"socket", required_argument, NULL, 's'},
		{"check-config", no_argument, NULL, 'k'}, {"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
	};
	const char *config = NULL, *socket = NULL;
	bool check = false;
	int c;
	while ((c = getopt_long(argc, argv, "c:s:Vh", longs, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 's':
			socket = optarg;
			break;
		case 'k':
			check = true;
			break;
		case 'V':
			printf("infd %s (protocol %d)\n", INFD_VERSION_STRING, INFD_PROTO_VERSION);
			return 0;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fputs(usage, stderr);
		return 2;
	}
	return infd__daemon_run(config, socket, check);
}
