/*
 * replay.c -- run a fuzz target over files, without libFuzzer, as a
 * TAP test: `make check` replays every seed and every reproducer of a
 * fixed crash under whatever compiler built the tree.
 *
 *	replay_<name> [file-or-directory ...]
 *
 * With no arguments it replays $DASHCGI_SRCDIR/t/fuzz/corpus/<name>
 * (DASHCGI_SRCDIR defaults to "."), <name> coming from FUZZ_TARGET at
 * compile time.  Directories are read one level deep in name order, so
 * that the TAP numbering is the same on every run.  Each input runs in
 * a child process and gets one "ok" or "not ok" line.
 *
 * Owns: reading the inputs into exactly-sized buffers (so that the
 * address sanitizer sees any read past the end), one child per input.
 * Never: skip an unreadable input or pass with nothing replayed.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

#ifndef FUZZ_TARGET
#error "FUZZ_TARGET must name the target, e.g. -DFUZZ_TARGET='\"json\"'"
#endif

/* Optional in a target: weak, so that its absence links to NULL. */
extern int	LLVMFuzzerInitialize(int *, char ***) __attribute__((weak));

/* Inputs above this are a mistake in the corpus, not a test. */
#define REPLAY_MAX	(16 * 1024 * 1024)
/* Seconds one input may take, sanitizers included. */
#define REPLAY_TIMEOUT	30

static int	 ntests, nfailed;

static void
result(int pass, const char *path, const char *why)
{
	const char	*rel;

	/* "json/null.json" reads better than an absolute path. */
	if ((rel = strstr(path, "t/fuzz/corpus/")) != NULL)
		path = rel + strlen("t/fuzz/corpus/");
	ntests++;
	if (!pass)
		nfailed++;
	printf("%sok %d - %s%s%s\n", pass ? "" : "not ", ntests, path,
	    why != NULL ? ": " : "", why != NULL ? why : "");
	fflush(stdout);
}

/*
 * One input in a child of its own: a crash, a sanitizer report or a
 * leak (LeakSanitizer checks at the child's exit) fails that input
 * alone and the rest still run; a hang ends at the alarm.
 */
static void
run(const char *path, const uint8_t *buf, size_t len)
{
	char	 why[128];
	pid_t	 pid;
	int	 status;

	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		result(0, path, strerror(errno));
		return;
	}
	if (pid == 0) {
		alarm(REPLAY_TIMEOUT);
		status = LLVMFuzzerTestOneInput(buf, len);
		fflush(stderr);
		exit(status == 0 ? 0 : 1);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			result(0, path, strerror(errno));
			return;
		}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		result(1, path, NULL);
	else {
		if (WIFSIGNALED(status))
			snprintf(why, sizeof(why), "killed by signal %d%s",
			    WTERMSIG(status), WTERMSIG(status) == SIGALRM ?
			    " (timeout)" : "");
		else
			snprintf(why, sizeof(why), "exit status %d (a "
			    "sanitizer report or a violated property, "
			    "above)", WEXITSTATUS(status));
		result(0, path, why);
	}
}

static void
replay_file(const char *path)
{
	FILE		*fp;
	struct stat	 st;
	uint8_t		*buf = NULL;
	size_t		 len;

	if ((fp = fopen(path, "rb")) == NULL) {
		result(0, path, strerror(errno));
		return;
	}
	if (fstat(fileno(fp), &st) == -1 || st.st_size > REPLAY_MAX) {
		result(0, path, "cannot stat, or larger than 16 MiB");
		goto out;
	}
	len = (size_t)st.st_size;
	/* Exactly len bytes (malloc(0) may be NULL: keep one spare). */
	if ((buf = malloc(len > 0 ? len : 1)) == NULL) {
		result(0, path, "out of memory");
		goto out;
	}
	if (len > 0 && fread(buf, 1, len, fp) != len) {
		result(0, path, "short read");
		goto out;
	}
	run(path, buf, len);
out:
	free(buf);
	fclose(fp);
}

static int
visible(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

static void
replay_path(const char *path)
{
	struct dirent	**ents;
	struct stat	  st;
	char		 *sub;
	size_t		  len;
	int		  n, i;

	if (stat(path, &st) == -1) {
		result(0, path, strerror(errno));
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		replay_file(path);
		return;
	}
	if ((n = scandir(path, &ents, visible, alphasort)) == -1) {
		result(0, path, strerror(errno));
		return;
	}
	if (n == 0)
		result(0, path, "empty corpus directory");
	for (i = 0; i < n; i++) {
		len = strlen(path) + strlen(ents[i]->d_name) + 2;
		if ((sub = malloc(len)) == NULL)
			abort();
		snprintf(sub, len, "%s/%s", path, ents[i]->d_name);
		if (stat(sub, &st) == 0 && S_ISREG(st.st_mode))
			replay_file(sub);
		free(sub);
		free(ents[i]);
	}
	free(ents);
}

int
main(int argc, char *argv[])
{
	const char	*srcdir;
	char		 def[4096];
	int		 i;

	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	printf("# fuzz target %s\n", FUZZ_TARGET);
	if (argc > 1)
		for (i = 1; i < argc; i++)
			replay_path(argv[i]);
	else {
		if ((srcdir = getenv("DASHCGI_SRCDIR")) == NULL ||
		    *srcdir == '\0')
			srcdir = ".";
		snprintf(def, sizeof(def), "%s/t/fuzz/corpus/%s", srcdir,
		    FUZZ_TARGET);
		replay_path(def);
	}
	if (ntests == 0)
		result(0, "(no inputs)", "nothing replayed");
	printf("1..%d\n", ntests);
	return nfailed > 0 ? 1 : 0;
}
