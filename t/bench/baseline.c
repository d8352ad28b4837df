/*
 * baseline.c -- the yardstick for the benchmark: the least a libfcgi
 * program can do, pre-forked like dashcgi.
 *
 * usage: baseline SOCKET_PATH WORKERS [CONNINFO]
 *
 * Without CONNINFO every request gets {"alive":true}.  With it, each
 * worker connects after fork and prepares the least statement that
 * serves a stored document: the caller's role and the dashboard's
 * stored text (dashboard.doc, the bytes dashcgi serves, rendered when
 * written: migrations/0020), one index lookup each, nothing rendered
 * (run.pl refuses a statement that renders).  A request for
 * .../projects/{p}/dashboards/{name} runs it for p, name and
 * REMOTE_USER: 200 with the document, 404 when the caller's role or
 * the dashboard is missing.  Other paths still get {"alive":true}.
 *
 * No routing table, logging, metrics, validation or configuration:
 * whatever dashcgi costs beyond this is the price of its features.
 * Never used outside the benchmark.
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
#include <libpq-fe.h>

/* Stored bytes: the role, the version and the text, nothing rendered. */
static const char get_sql[] =
	    "SELECT (SELECT role FROM project_member"
	    " WHERE project = $1::text AND user_name = $3::text),"
	    " d.version, d.doc FROM dashboard d"
	    " WHERE d.project = $1::text AND d.name = $2::text"
	    " AND d.deleted_at IS NULL";

static const char alive[] = "{\"alive\":true}";
static char	 alive_head[128];	/* built once: the bare baseline */
static int	 alive_hlen;

static void
answer(FCGX_Request *req, const char *status, const char *etag,
    const char *body, size_t len)
{
	char	 head[256];
	int	 n;

	/* The C library's snprintf: libfcgi's FCGX_FPrintF knows no %zu. */
	n = snprintf(head, sizeof(head), "Status: %s\r\n"
	    "Content-Type: application/json\r\n%s%s%s"
	    "Content-Length: %zu\r\n\r\n", status,
	    etag != NULL ? "ETag: \"" : "", etag != NULL ? etag : "",
	    etag != NULL ? "\"\r\n" : "", len);
	FCGX_PutStr(head, n, req->out);
	FCGX_PutStr(body, (int)len, req->out);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode s in place; -1 on a malformed escape or %00. */
static int
urldecode(char *s)
{
	char	*o = s;
	int	 h, l;

	for (; *s != '\0'; s++) {
		if (*s == '%') {
			if ((h = hexval(s[1])) < 0 || (l = hexval(s[2])) < 0 ||
			    (h == 0 && l == 0))
				return -1;	/* as dashcgi: no NUL */
			*o++ = (char)(h << 4 | l);
			s += 2;
		} else
			*o++ = *s;
	}
	*o = '\0';
	return 0;
}

/*
 * ".../projects/{p}/dashboards/{name}[?query]": p and name, decoded,
 * in buf.  0, or -1 for any other path.
 */
static int
dashboard_path(const char *uri, char *buf, size_t len, char **p, char **name)
{
	const char	*s;
	char		*sl;
	size_t		 n;

	if (uri == NULL || (s = strstr(uri, "/projects/")) == NULL)
		return -1;
	s += strlen("/projects/");
	if ((n = strcspn(s, "?")) >= len)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if ((sl = strchr(buf, '/')) == NULL ||
	    strncmp(sl, "/dashboards/", strlen("/dashboards/")) != 0)
		return -1;
	*sl = '\0';
	*p = buf;
	*name = sl + strlen("/dashboards/");
	if (**p == '\0' || **name == '\0' || strchr(*name, '/') != NULL ||
	    urldecode(*p) == -1 || urldecode(*name) == -1)
		return -1;
	return 0;
}

static void
get_dashboard(FCGX_Request *req, PGconn *db, char *project, char *name)
{
	static const char	 nf[] = "{\"status\":404,\"error\":"
	    "\"not_found\",\"message\":\"not found\"}";
	static const char	 unav[] = "{\"status\":503,\"error\":"
	    "\"database_unavailable\",\"message\":\"database error\"}";
	const char		*p[3];
	PGresult		*res;

	p[0] = project;
	p[1] = name;
	p[2] = FCGX_GetParam("REMOTE_USER", req->envp);
	res = PQexecPrepared(db, "dash_get", 3, p, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		answer(req, "503 Service Unavailable", NULL, unav,
		    sizeof(unav) - 1);
		if (PQstatus(db) != CONNECTION_OK)
			PQreset(db);
	} else if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
		answer(req, "404 Not Found", NULL, nf, sizeof(nf) - 1);
	else
		answer(req, "200 OK", PQgetvalue(res, 0, 1),
		    PQgetvalue(res, 0, 2), (size_t)PQgetlength(res, 0, 2));
	PQclear(res);
}

static void
serve(int sock, const char *conninfo)
{
	FCGX_Request	 req;
	PGconn		*db = NULL;
	PGresult	*res;
	char		 buf[512], *project, *name;

	if (conninfo != NULL) {
		db = PQconnectdb(conninfo);
		if (PQstatus(db) != CONNECTION_OK) {
			fprintf(stderr, "baseline: %s", PQerrorMessage(db));
			exit(1);
		}
		res = PQprepare(db, "dash_get", get_sql, 3, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			fprintf(stderr, "baseline: prepare: %s",
			    PQresultErrorMessage(res));
			exit(1);
		}
		PQclear(res);
	}
	alive_hlen = snprintf(alive_head, sizeof(alive_head), "Status: 200 OK"
	    "\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
	    "\r\n", sizeof(alive) - 1);
	FCGX_InitRequest(&req, sock, 0);
	while (FCGX_Accept_r(&req) >= 0) {
		if (db != NULL && dashboard_path(FCGX_GetParam("REQUEST_URI",
		    req.envp), buf, sizeof(buf), &project, &name) == 0)
			get_dashboard(&req, db, project, name);
		else {
			FCGX_PutStr(alive_head, alive_hlen, req.out);
			FCGX_PutStr(alive, sizeof(alive) - 1, req.out);
		}
		FCGX_Finish_r(&req);
	}
	exit(0);
}

int
main(int argc, char *argv[])
{
	int	 sock, n, i;

	if (argc < 3 || argc > 4 || (n = atoi(argv[2])) < 1) {
		fprintf(stderr, "usage: baseline SOCKET_PATH WORKERS "
		    "[CONNINFO]\n");
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
			serve(sock, argc == 4 ? argv[3] : NULL);
		}
	while (wait(NULL) > 0)
		;
	return 0;
}
