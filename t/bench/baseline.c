/*
 * baseline.c -- the yardstick for the benchmark: the least a libfcgi
 * program can do to answer GET /live, pre-forked like dashcgi.
 *
 * usage: baseline SOCKET_PATH WORKERS
 * No routing, logging, metrics or database: whatever dashcgi costs
 * beyond this is the price of its features.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcgiapp.h>

static void
serve(int sock)
{
	static const char	 body[] = "{\"alive\":true}";
	char			 head[128];
	int			 hlen;
	FCGX_Request		 req;

	/* Built once with the C library: libfcgi's own FCGX_FPrintF
	 * knows no %zu and would drop the rest of the header. */
	hlen = snprintf(head, sizeof(head), "Status: 200 OK\r\n"
	    "Content-Type: application/json\r\n"
	    "Content-Length: %zu\r\n\r\n", sizeof(body) - 1);
	FCGX_InitRequest(&req, sock, 0);
	while (FCGX_Accept_r(&req) >= 0) {
		FCGX_PutStr(head, hlen, req.out);
		FCGX_PutStr(body, sizeof(body) - 1, req.out);
		FCGX_Finish_r(&req);
	}
	exit(0);
}

int
main(int argc, char *argv[])
{
	int	 sock, n, i;

	if (argc != 3 || (n = atoi(argv[2])) < 1) {
		fprintf(stderr, "usage: baseline SOCKET_PATH WORKERS\n");
		return 2;
	}
	FCGX_Init();
	unlink(argv[1]);
	if ((sock = FCGX_OpenSocket(argv[1], 1024)) < 0) {
		fprintf(stderr, "baseline: cannot listen on %s\n", argv[1]);
		return 1;
	}
	chmod(argv[1], 0666);
	for (i = 0; i < n; i++)
		if (fork() == 0) {
			/* Stopping the parent stops the workers. */
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			serve(sock);
		}
	while (wait(NULL) > 0)
		;
	return 0;
}
