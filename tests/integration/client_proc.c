/* A client process for the integration tests (started with posix_spawn, never
 * fork, since nng must not be used across fork):
 *   client_proc SOCKET blend K ROUNDS   open sample/blend, print "ready", wait for
 *                                       stdin to close, run ROUNDS checked requests
 *   client_proc SOCKET hold MODEL       open MODEL/forward, print "ready", run once
 *                                       (the test kills it meanwhile)
 *   client_proc SOCKET denied           expect PERMISSION_DENIED for sessions and LOAD
 * Exit status 0 on success; other values name the failed step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "infd/infd.h"

static int blend(infd_client *c, int k, int rounds)
{
	infd_session *s;
	if (infd_session_open(c, "sample", "blend", &s)) {
		fprintf(stderr, "open: %s\n", infd_client_last_error(c));
		return 20;
	}
	infd_tensor_view a, b, out;
	infd_session_input(s, 0, &a);
	infd_session_input(s, 1, &b);
	infd_session_output(s, 0, &out);
	printf("ready\n");
	fflush(stdout);
	char buf[16];
	while (read(0, buf, sizeof buf) > 0)
		;
	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < 4; i++) {
			((float *)a.data)[i] = (float)(k * 1000 + r + i);
			((float *)b.data)[i] = (float)(i - r);
		}
		if (infd_session_run(s, 10000)) {
			fprintf(stderr, "run: %s\n", infd_session_last_error(s));
			return 21;
		}
		for (int i = 0; i < 4; i++)
			if (((float *)out.data)[i] != (float)(k * 1000 + r + i) + 0.5f * (float)(i - r))
				return 22;
	}
	infd_session_close(s);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	infd_client *c;
	if (infd_client_open(argv[1], &c)) {
		fprintf(stderr, "connect: %s\n", infd_client_last_error(NULL));
		return 10;
	}
	int rc = 2;
	if (strcmp(argv[2], "blend") == 0 && argc == 5) {
		rc = blend(c, atoi(argv[3]), atoi(argv[4]));
	} else if (strcmp(argv[2], "hold") == 0 && argc == 4) {
		infd_session *s;
		if (infd_session_open(c, argv[3], NULL, &s))
			return 30;
		printf("ready\n");
		fflush(stdout);
		infd_session_run(s, 0);
		rc = 31; /* should have been killed */
	} else if (strcmp(argv[2], "denied") == 0) {
		infd_session *s;
		rc = 0;
		if (infd_session_open(c, "sample", NULL, &s) != INFD_PERMISSION_DENIED)
			rc = 40;
		else if (!strstr(infd_client_last_error(c), "permission"))
			rc = 41;
		else if (infd_load(c, "x", "/tmp/x.pte") != INFD_PERMISSION_DENIED)
			rc = 42;
	}
	infd_client_close(c);
	return rc;
}
