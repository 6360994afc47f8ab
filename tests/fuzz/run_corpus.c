/* Replays fuzz corpora without libFuzzer: every regular file in the directories
 * (or the files) named on the command line goes through LLVMFuzzerTestOneInput,
 * so the corpus and the crash reproducers kept in it run as a regression test. */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECONDS_PER_INPUT 30

static const char *current; /* the input being run, for the watchdog */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An input that hangs fails the test at once, naming the file. */
static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "run_corpus: input did not finish within the time limit: ";
	if (write(2, msg, sizeof msg - 1) < 0 || write(2, current, strlen(current)) < 0 || write(2, "\n", 1) < 0)
		_exit(3);
	_exit(2);
}

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return -1;
	}
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	/* Exactly `n` bytes, so that a sanitizer sees any read past the end. */
	uint8_t *buf = n > 0 ? malloc((size_t)n) : NULL;
	if (n < 0 || (n > 0 && (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n))) {
		fprintf(stderr, "%s: cannot read\n", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	current = path;
	fprintf(stderr, "%s\n", path); /* the last name printed is the culprit of a crash */
	alarm(SECONDS_PER_INPUT);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	alarm(0);
	free(buf);
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv)
{
	unsigned files = 0, errors = 0;
	signal(SIGALRM, on_alarm);
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			perror(argv[i]);
			errors++;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			errors += run_file(argv[i]) != 0;
			files++;
			continue;
		}
		struct dirent **list;
		int n = scandir(argv[i], &list, NULL, by_name);
		if (n < 0) {
			perror(argv[i]);
			errors++;
			continue;
		}
		for (int k = 0; k < n; k++) {
			char path[4096];
			snprintf(path, sizeof path, "%s/%s", argv[i], list[k]->d_name);
			if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && list[k]->d_name[0] != '.') {
				errors += run_file(path) != 0;
				files++;
			}
			free(list[k]);
		}
		free(list);
	}
	printf("run_corpus: %u inputs, %u unreadable\n", files, errors);
	/* An empty corpus means the test is not testing anything. */
	return files == 0 || errors ? 1 : 0;
}
