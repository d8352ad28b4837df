#!/usr/bin/perl
# t/bench/run.pl -- `make bench`: wrk through nginx against dashcgi,
# each measurement beside its yardstick measured in the same run:
#
#   - t/bench/baseline, a bare pre-forked libfcgi (+ libpq) responder
#     behind an identical nginx: for GET /live it answers a constant,
#     for GET of a dashboard it sends the stored bytes: one statement
#     reading the caller's role and the dashboard's stored text
#     (checked here to render nothing), the least a libfcgi+libpq
#     program that serves documents can do;
#   - pgbench running the very SQL transaction dashcgi runs for a PUT
#     (the statement texts are taken from src/ by the C preprocessor,
#     not copied), at the same concurrency, against the same database;
#   - another row (a share link beside the dashboard GET).
#
# What dashcgi costs beyond the yardstick is the price of its features.
#
# Both backends run under DashTest: the same generated nginx.conf, the
# shipped nginx/dashcgi.conf snippet verbatim, the same basic-auth
# users; only the upstream socket differs (and, for dashcgi, the share
# link rate limit is lifted, see $SHARED_UNLIMITED).  dashcgi gets its
# own throwaway PostgreSQL 15 cluster with the migrations applied; the
# baseline and pgbench use that cluster too.  The dashboard rows run on
# ~10,000 generated dashboards of ~2.5 KB (bench_data below).
#
# Adding a measurement is adding a row to @ENDPOINTS below.
#
# Environment:
#   BENCH_DURATION     seconds measured per row, server and connection
#                      count (default 10), after a discarded warm-up of
#                      BENCH_WARMUP (2) s
#   BENCH_ROUNDS       a row with a yardstick alternates with it in this
#                      many rounds of BENCH_DURATION / BENCH_ROUNDS s (5):
#                      load from outside the benchmark falls on both alike
#   BENCH_CONNECTIONS  comma-separated wrk connection counts (8,32)
#   BENCH_THREADS      wrk threads and pgbench -j (2)
#   BENCH_WORKERS      dashcgi and baseline workers (2)
#   BENCH_DASHBOARDS   dashboards generated for the dashboard rows (10000)
#   BENCH_ONLY         regex: only the rows whose name matches
#   BENCH_JSON         also write the results to this file as JSON
#   DASHCGI_BIN, DASHCGI_SRCDIR, DASHCGI_BUILDDIR as for the tests (by
#   default the build tree is the current directory, as under make).
#
# Core Perl only; every wait is bounded; DashTest stops every process
# it started (also on error or Ctrl-C).
use strict;
use warnings;

use Cwd qw(abs_path getcwd);
use File::Basename qw(dirname);
use JSON::PP ();
use MIME::Base64 qw(encode_base64);
use POSIX qw(strftime);
use Time::HiRes qw(time sleep);

use DashTest;

my $DURATION = _posint('BENCH_DURATION', 10);
my $WARMUP = _nonneg('BENCH_WARMUP', 2);
my $THREADS = _posint('BENCH_THREADS', 2);
my $WORKERS = _posint('BENCH_WORKERS', 2);
my $NDASH = _posint('BENCH_DASHBOARDS', 10000);
# A row with a yardstick alternates with it in rounds of the duration.
my $ROUNDS = _posint('BENCH_ROUNDS', 5);
$ROUNDS = $DURATION if $ROUNDS > $DURATION;
my $ROUND_SECS = int($DURATION / $ROUNDS);
my @CONNS = split /\s*,\s*/, $ENV{BENCH_CONNECTIONS} // '8,32';
die "run.pl: BENCH_CONNECTIONS must be positive integers, comma-separated\n"
    if !@CONNS || grep { !/^[1-9][0-9]*$/ } @CONNS;
die "run.pl: every BENCH_CONNECTIONS count must be at least BENCH_THREADS " .
    "($THREADS): wrk gives each thread its share of the connections\n"
    if grep { $_ < $THREADS } @CONNS;
# wrk's per-request timeout: a slower answer counts as an error.
my $WRK_TIMEOUT = '5s';
# The production default (conf/dashcgi.yaml): one line per request.
my $LOG_LEVEL = 'info';
# Resident memory a dashcgi worker should stay under after the runs.
my $RSS_TARGET_KB = 10 * 1024;

# The dashboard rows' world: project "bench", where $USER is an editor.
my $USER = 'alice';
my $PROJECT = 'bench';
my $P = "/api/v1/projects/$PROJECT";
# The dashboard the GET rows read (one from the middle).
my $GET_NAME = 'dash-' . int(($NDASH + 1) / 2);
# pgbench client n (0-based) updates the dashboard named $PGB_BASE + n:
# a number, so that pgbench can pass it as a parameter (its \set makes
# numbers only) and the statement texts stay exactly dashcgi's.
my $PGB_BASE = 100001;
# nginx/dashcgi-http.conf limits share links to 5 requests/s per client
# address (burst 10), which would measure nginx's limiter, not dashcgi:
# for dashcgi's nginx the zone's key is made empty, and nginx does not
# account requests with an empty key.  (Raising the rate is not enough:
# more than `burst` requests in one millisecond are still refused.)
my $SHARED_UNLIMITED = "map \$remote_addr \$dashcgi_bench_nolimit { default \"\"; }\n";

# --------------------------------------------------------------------
# The endpoints.  A row:
#   name        label in the table
#   method      GET, POST, ... (default GET)
#   path        request path (query string allowed)
#   user        basic-auth user through nginx (password pw-<user>),
#               one of @DashTest::USERS; undef = anonymous
#   body        request body (sent with Content-Type: content_type,
#               default application/json)
#   headers     { Name => value } extra request headers
#   expect      the status every request must get (default 200); checked
#               once before the runs, and wrk's non-2xx count is shown
#   baseline    undef = dashcgi alone; 'live' = the same request to
#               the baseline, which answers {"alive":true} to anything;
#               'db' = the same request to the baseline, which serves
#               the stored text of .../dashboards/{name} (and must
#               answer the same bytes)
#   pgbench     sub ($t, $row, $conns) -> { script => text, vars =>
#               {name => value} }: the yardstick is pgbench running the
#               script with as many clients as wrk has connections;
#               called before every pgbench invocation
#   pgbench_clients  pgbench's clients instead of wrk's connection count
#   versus      the name of another row: the yardstick is dashcgi
#               answering that row's request
#   target      the least req/s ratio to the yardstick the row must reach
#   lua         sub ($srv, $row, $conns) -> wrk script text, instead of
#               one built from method, headers and body; called before
#               every wrk invocation (warm-up and measured run)
#   check       sub ($srv, $row, $what) instead of the one-request check
#   setup       sub ($t, $row) run once before the row is measured,
#               e.g. create 10,000 dashboards with $t->psql; $t is the
#               dashcgi DashTest (PostgreSQL, migrations, dashcgi, nginx).
#               It may set $row->{skip} to a reason: the row is then
#               reported as not measured
#   setup_timeout  seconds the setup may take (default 300)
#   connections [counts] instead of BENCH_CONNECTIONS
#   growth      N: no yardstick; wrk runs back to back in windows of
#               BENCH_DURATION / BENCH_ROUNDS s, on the same dashcgi
#               connections, until N requests succeeded (at most 200
#               windows); the yardstick is the first window, the row's
#               figures the last: a drop as the data grows shows as a
#               ratio under 1
my @ENDPOINTS = (
	{ name => 'GET /live', path => '/live', baseline => 'live' },
	{ name => 'GET /api/v1/health', path => '/api/v1/health' },
	{ name => 'GET /metrics', path => '/metrics' },
	{ name => 'GET dashboard', path => "$P/dashboards/$GET_NAME",
	    user => $USER, baseline => 'db', target => 0.9,
	    setup => \&bench_data },
	# Path and token come from share_setup.
	{ name => 'GET shared/{token}', versus => 'GET dashboard',
	    target => 0.9, setup => \&share_setup },
	# Issue 16, item 19: the share view's own statement (a durable
	# commit of its audit row) run by pgbench with as many clients as
	# dashcgi has workers: what is left when dashcgi costs nothing.
	{ name => 'GET shared/{token} vs SQL', pgbench => \&share_pgbench,
	    pgbench_clients => $WORKERS, setup => \&share_setup },
	{ name => 'PUT dashboard', method => 'PUT', path => "$P/dashboards/*",
	    user => $USER, setup => \&bench_data, check => \&put_check,
	    lua => \&put_lua, pgbench => \&put_pgbench, target => 0.5 },
	{ name => 'GET list metadata_only',
	    path => "$P/dashboards?metadata_only=true&limit=100",
	    user => $USER, setup => \&bench_data },
	# The Perses UI's home page: every dashboard, never paged, streamed.
	{ name => 'GET list complete metadata_only',
	    path => "$P/dashboards?metadata_only=true",
	    user => $USER, setup => \&bench_data },
	# Issue 16, item 20: PUT from an empty history through 10,000
	# versions on the same connections, their statements prepared
	# while dashboard_version was empty (put_growth_setup); a plan
	# fit for an empty table and kept would slow it down as it grows.
	{ name => 'PUT from empty history', method => 'PUT',
	    path => "$P/dashboards/*", user => $USER, setup => \&put_growth_setup,
	    check => \&put_check, lua => \&put_lua, growth => 10000,
	    connections => [8], target => 0.9 },
	# 50 matches among ~1,500 trigram candidates.
	{ name => 'GET search ?q=',
	    path => "$P/dashboards?q=checkout+latency&metadata_only=true" .
	    "&limit=100", user => $USER, setup => \&bench_data },
);

# --------------------------------------------------------------------
# The dashboard rows' data

# A Perses dashboard spec of ~2.5 KB as a format() template: %1$s the
# service, %2$s the display name, %3$s the environment, %4$s the
# region, %5$s the team.  A variable, four panels with PromQL (three
# time series charts, one stat), one grid.
my $SPEC_TEMPLATE = <<'EOF';
{"display": {"name": "%2$s", "description": "%1$s in %3$s (%4$s), owned by the %5$s team"},
 "duration": "1h", "refreshInterval": "30s",
 "variables": [
  {"kind": "ListVariable", "spec": {"name": "instance", "display": {"name": "Instance"},
   "allowAllValue": true, "allowMultiple": true,
   "plugin": {"kind": "PrometheusLabelValuesVariable", "spec": {"labelName": "instance",
    "matchers": ["up{job=\"%1$s\",env=\"%3$s\"}"]}}}}],
 "panels": {
  "rate": {"kind": "Panel", "spec": {"display": {"name": "Request rate"},
   "plugin": {"kind": "TimeSeriesChart", "spec": {"legend": {"position": "bottom"}, "yAxis": {"format": {"unit": "requests/sec"}}}},
   "queries": [{"kind": "TimeSeriesQuery", "spec": {"plugin": {"kind": "PrometheusTimeSeriesQuery", "spec": {
    "query": "sum by (route) (rate(http_requests_total{job=\"%1$s\",env=\"%3$s\",instance=~\"$instance\"}[5m]))",
    "seriesNameFormat": "{{route}}"}}}}]}},
  "errors": {"kind": "Panel", "spec": {"display": {"name": "Error ratio"},
   "plugin": {"kind": "TimeSeriesChart", "spec": {"yAxis": {"format": {"unit": "percent-decimal"}}}},
   "queries": [{"kind": "TimeSeriesQuery", "spec": {"plugin": {"kind": "PrometheusTimeSeriesQuery", "spec": {
    "query": "sum(rate(http_requests_total{job=\"%1$s\",env=\"%3$s\",code=~\"5..\"}[5m])) / sum(rate(http_requests_total{job=\"%1$s\",env=\"%3$s\"}[5m]))"}}}}]}},
  "p99": {"kind": "Panel", "spec": {"display": {"name": "Latency p99"},
   "plugin": {"kind": "TimeSeriesChart", "spec": {"yAxis": {"format": {"unit": "seconds"}}}},
   "queries": [{"kind": "TimeSeriesQuery", "spec": {"plugin": {"kind": "PrometheusTimeSeriesQuery", "spec": {
    "query": "histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{job=\"%1$s\",env=\"%3$s\"}[5m])))",
    "seriesNameFormat": "{{route}}"}}}}]}},
  "up": {"kind": "Panel", "spec": {"display": {"name": "Instances up"},
   "plugin": {"kind": "StatChart", "spec": {"calculation": "last-number"}},
   "queries": [{"kind": "TimeSeriesQuery", "spec": {"plugin": {"kind": "PrometheusTimeSeriesQuery", "spec": {
    "query": "sum(up{job=\"%1$s\",env=\"%3$s\"})"}}}}]}}},
 "layouts": [{"kind": "Grid", "spec": {"display": {"title": "Overview"}, "items": [
  {"x": 0, "y": 0, "width": 12, "height": 8, "content": {"$ref": "#/spec/panels/rate"}},
  {"x": 12, "y": 0, "width": 12, "height": 8, "content": {"$ref": "#/spec/panels/errors"}},
  {"x": 0, "y": 8, "width": 12, "height": 8, "content": {"$ref": "#/spec/panels/p99"}},
  {"x": 12, "y": 8, "width": 12, "height": 8, "content": {"$ref": "#/spec/panels/up"}}]}}]}
EOF

# Project "bench" with $USER as editor, $NDASH dashboards "dash-N" with
# varied display names ("Checkout latency (prod, eu-west-1)": 20
# services x 10 aspects x 4 environments x 5 regions, then numbered),
# and the pgbench clients' dashboards $PGB_BASE + n, each at version
# $HISTORY with its past versions in history; then VACUUM ANALYZE.
# Once for all rows.
#
# The history is not decoration: with an empty dashboard_version the
# plan PostgreSQL caches for DS_UPDATE in dashcgi's long-lived
# connections trims history with a sequential scan, which it keeps
# while the table grows (until autovacuum happens to ANALYZE it), and
# PUT then measures that instead of a steady state.
my $HISTORY = 2;
my $bench_data_done;
sub bench_data {
	my ($t) = @_;
	return if $bench_data_done++;
	my $npgb = 0;
	for my $row (@ENDPOINTS) {
		next unless $row->{pgbench};
		for (@{ $row->{connections} || \@CONNS }) {
			$npgb = $_ if $_ > $npgb;
		}
	}
	$t->psql(<<"EOF", timeout => 600);
INSERT INTO project (name, display, created_by, updated_by)
    VALUES ('$PROJECT', '{"name": "Benchmark"}', 'system', 'system');
INSERT INTO project_member (project, user_name, role, created_by, updated_by)
    VALUES ('$PROJECT', '$USER', 'editor', 'system', 'system');
INSERT INTO dashboard (project, name, spec, tags, version, created_by,
    updated_by)
SELECT '$PROJECT', w.name,
    format(\$tpl\$$SPEC_TEMPLATE\$tpl\$, w.svc, w.display, w.env, w.region,
        w.team)::jsonb,
    ARRAY[w.svc, w.env, w.team], $HISTORY, 'system', 'system'
FROM (
    SELECT CASE WHEN g <= $NDASH THEN 'dash-' || g
            ELSE ($PGB_BASE + g - $NDASH - 1)::text END AS name,
        s.svc, s.env, s.region, s.team,
        initcap(s.svc) || ' ' || s.aspect || ' (' || s.env || ', ' ||
            s.region || ')' || CASE WHEN g > 4000 THEN ' #' || g / 4000
            ELSE '' END AS display
    FROM generate_series(1, $NDASH + $npgb) AS g,
    LATERAL (SELECT
        (ARRAY['checkout', 'payments', 'search', 'inventory', 'auth',
            'gateway', 'billing', 'orders', 'shipping', 'catalog',
            'recommendations', 'notifications', 'ledger', 'profile',
            'cart', 'pricing', 'fraud', 'reporting', 'ingest',
            'scheduler'])[1 + g % 20] AS svc,
        (ARRAY['latency', 'errors', 'throughput', 'saturation',
            'SLO burn rate', 'capacity', 'cache hit ratio', 'queue depth',
            'GC pauses', 'connection pool'])[1 + g / 20 % 10] AS aspect,
        (ARRAY['prod', 'staging', 'dev', 'canary'])[1 + g / 200 % 4] AS env,
        (ARRAY['eu-west-1', 'us-east-1', 'ap-south-1', 'us-west-2',
            'eu-central-1'])[1 + g / 800 % 5] AS region,
        (ARRAY['platform', 'commerce', 'data', 'identity', 'sre',
            'mobile', 'growth'])[1 + g % 7] AS team) AS s
) AS w;
INSERT INTO dashboard_version (dashboard_id, version, spec, tags, state,
    updated_at, updated_by)
SELECT d.id, v, d.spec, d.tags, d.state, d.created_at, 'system'
FROM dashboard d, generate_series(0, $HISTORY - 1) AS v
WHERE d.project = '$PROJECT';
VACUUM ANALYZE;
EOF
	my $st = $t->psql("SELECT count(*), round(avg(octet_length(spec::text))), " .
	    "round(avg(octet_length(dashboard_doc(d)::text))), " .
	    "count(DISTINCT display_name) FROM dashboard d " .
	    "WHERE project = '$PROJECT'");
	my ($n, $spec, $doc, $names) = split /\|/, $st;
	print "  $n dashboards in project $PROJECT: spec $spec bytes, " .
	    "document $doc bytes on average, $names distinct display names, " .
	    "$HISTORY past versions each\n";
}

# A share link to the dashboard the GET row reads, if shares.c makes
# them yet; otherwise the row is reported as not measured.
sub share_setup {
	my ($t, $row) = @_;
	bench_data($t);
	my $r = $t->request(POST => "$P/dashboards/$GET_NAME/shares",
	    user => $USER, json => { expiresIn => '24h' }, timeout => 30);
	my $j = $r->{status} == 201 ? $t->json($r) : undef;
	if (!$j || !defined $j->{token}) {
		$row->{skip} = "POST .../shares answered $r->{status}" .
		    ($r->{status} == 201 ? ' without a token' : ', not 201') .
		    ': ' . substr($r->{content} // '', 0, 120);
		return;
	}
	$row->{path} = "/api/v1/shared/$j->{token}";
	$row->{token} = $j->{token};
}

# SH_OPEN as dashcgi runs it for a view of the row's link (autocommit,
# no client request id): the token, 127.0.0.1, a request id, not
# malformed.
sub share_pgbench {
	my ($t, $row, $conns) = @_;
	my $sql = stmt_sql($t, 'src/api/shares.c', 'SH_OPEN');
	# pgbench cannot bind a NULL: the client's request id is a literal.
	$sql =~ s/\$5::text\b/NULL::text/g or die "run.pl: SH_OPEN has no \$5\n";
	return { script => "\\set rid random(1, 1000000000)\n" .
	    _pgbench_sql($sql, qw(token ip rid malformed)) . ";\n",
	    vars => { token => $row->{token}, ip => '127.0.0.1',
	    malformed => 'false' } };
}

# --- PUT: the current versions, the wrk script, the pgbench script

# Empty history, then a new generation of workers (SIGHUP): every
# statement is prepared again while dashboard_version is empty, and
# ANALYZE records it so.
sub put_growth_setup {
	my ($t, $row) = @_;
	bench_data($t);
	$t->psql("DELETE FROM dashboard_version; VACUUM ANALYZE dashboard_version",
	    timeout => 300);
	my @old = $t->worker_pids;
	$t->signal_master('HUP');
	$t->wait_workers(scalar @old, 30, exclude => \@old)
	    or die "run.pl: no new generation of workers 30s after SIGHUP\n";
	my $deadline = time + 30;
	until ($t->request(GET => '/ready', timeout => 5)->{status} == 200) {
		die "run.pl: not ready 30s after SIGHUP\n" if time > $deadline;
		sleep 0.1;
	}
}

# name -> version of the live dashboards named.
sub versions {
	my ($t, @names) = @_;
	my $list = join(',', map { qq{"$_"} } @names);
	my %v = map { split /\|/ } split /\n/, $t->psql("SELECT name, version " .
	    "FROM dashboard WHERE project = '$PROJECT' AND deleted_at IS NULL " .
	    "AND name = ANY ('{$list}'::text[])");
	die "run.pl: dashboards missing: " . join(' ', grep { !exists $v{$_} }
	    @names) . "\n" if grep { !exists $v{$_} } @names;
	return \%v;
}

# The document a PUT sends, as the text before and after its name:
# dash-1's spec and tags.
my $put_doc_parts;
sub put_doc_parts {
	my ($t) = @_;
	$put_doc_parts //= do {
		my $out = $t->psql("SELECT to_jsonb(tags)::text || E'\\t' || " .
		    "spec::text FROM dashboard WHERE project = '$PROJECT' " .
		    "AND name = 'dash-1'");
		my ($tags, $spec) = split /\t/, $out, 2;
		[ '{"kind":"Dashboard","metadata":{"name":"',
		  '","project":"' . $PROJECT . '","tags":' . $tags .
		  '},"spec":' . $spec . '}' ];
	};
	return @$put_doc_parts;
}

sub put_doc {
	my ($t, $name) = @_;
	my ($head, $tail) = put_doc_parts($t);
	return $head . $name . $tail;
}

sub put_check {
	my ($srv, $row, $what) = @_;
	my $v = versions($srv, 'dash-1')->{'dash-1'};
	my $r = $srv->request(PUT => "$P/dashboards/dash-1", user => $USER,
	    headers => { 'If-Match' => qq{"$v"}, 'X-Change-Message' => 'bench' },
	    body => put_doc($srv, 'dash-1'), timeout => 30);
	my $etag = $srv->header($r, 'ETag') // '';
	die "run.pl: $what: $row->{name} answered $r->{status}" .
	    " (ETag $etag), not 200 with ETag \"" . ($v + 1) . '": ' .
	    substr($r->{content} // '', 0, 300) . "\n"
	    if $r->{status} != 200 || $etag ne '"' . ($v + 1) . '"';
}

# Lua's long brackets: any text, verbatim.
sub _lua_str {
	my ($s) = @_;
	my $eq = '=';
	$eq .= '=' while $s =~ /\]$eq\]/;
	return "[$eq\[$s]$eq]";
}

# wrk for PUT with real locking.  Each wrk thread owns dashboards of
# its own, one per connection and two spares, with their current
# versions read just before the run; a request takes a dashboard no
# request in flight holds and sends If-Match with its version; the
# answer gives the new version (ETag) and frees the dashboard.  wrk's
# Lua API has no connection identity, hence a per-thread pool rather
# than one dashboard per connection: the effect is the same, no two
# requests in flight ever write one dashboard, so a 412 is a real
# failure.  (One spare is for wrk itself: it calls request() once on
# the first thread to check the script, and never sends that one.)
sub put_lua {
	my ($srv, $row, $conns) = @_;
	my $per = int($conns / $THREADS) + 2;
	my @names = map { "dash-$_" } 1 .. $THREADS * $per;
	my $v = versions($srv, @names);
	my ($head, $tail) = put_doc_parts($srv);
	my $auth = 'Basic ' . encode_base64("$USER:pw-$USER", '');
	my $lua = "-- PUT with If-Match, written by t/bench/run.pl\n";
	$lua .= "local names = {" . join(', ', map { qq{"$_"} } @names) . "}\n";
	$lua .= "local vers = {" . join(', ', map { $v->{$_} } @names) . "}\n";
	$lua .= "local per = $per\n";
	$lua .= "local path = " . _lua_str("$P/dashboards/") . "\n";
	$lua .= "local auth = " . _lua_str($auth) . "\n";
	$lua .= "local body_a = " . _lua_str($head) . "\n";
	$lua .= "local body_b = " . _lua_str($tail) . "\n";
	$lua .= <<'EOF';
local nthreads = 0
function setup(thread)
	thread:set("tid", nthreads)
	nthreads = nthreads + 1
end
local free, ver = {}, {}
function init(args)
	for i = tid * per + 1, (tid + 1) * per do
		free[#free + 1] = names[i]
		ver[names[i]] = vers[i]
	end
end
function request()
	-- Empty only after answers were lost (socket errors): then a
	-- dashboard in flight, which shows as 412s.
	local n = table.remove(free, 1) or names[tid * per + 1]
	return wrk.format("PUT", path .. n, {
		["Authorization"] = auth,
		["Content-Type"] = "application/json",
		["If-Match"] = '"' .. ver[n] .. '"',
		["X-Change-Message"] = "bench",
	}, body_a .. n .. body_b)
end
function response(status, headers, body)
	local n, v
	if status == 200 then
		-- jsonb prints "metadata" last and "name" first in it.
		n = body:match('"metadata": {"name": "([^"]+)"')
		v = tonumber((headers["ETag"] or headers["etag"] or ""):match("%d+"))
	elseif status == 412 then
		n = body:match('dashboard \\"([^\\"]+)\\"')
		v = tonumber(body:match('"currentVersion": ?(%d+)'))
	end
	if n ~= nil and v ~= nil and ver[n] ~= nil then
		ver[n] = v
		free[#free + 1] = n
	end
end
EOF
	return $lua;
}

# The SQL text of statement $enum in the statement table of a source
# file, as the compiler sees it: the file (its #includes dropped)
# through the C preprocessor, which expands the SQL macros, then the
# adjacent string literals of "[$enum] = { "name", ... }" joined.
my %cpp_out;
sub _c_literals {
	my ($lits) = @_;
	my $s = '';
	while ($lits =~ /"((?:[^"\\]|\\.)*)"/g) {
		(my $l = $1) =~ s/\\(.)/$1 eq 'n' ? "\n" : $1 eq 't' ? "\t" : $1/ge;
		$s .= $l;
	}
	return $s;
}

sub _cpp {
	my ($t, $file) = @_;
	return $cpp_out{$file} //= do {
		my $src = _slurp($t->srcdir . "/$file");
		die "run.pl: cannot read " . $t->srcdir . "/$file\n" unless length $src;
		$src =~ s/^[ \t]*#[ \t]*include\b.*$//mg;
		my $tmp = $t->tmpdir . '/cpp-' . ($file =~ tr{/}{_}r);
		open(my $fh, '>', $tmp) or die "run.pl: $tmp: $!\n";
		print $fh $src;
		close($fh) or die "run.pl: $tmp: $!\n";
		my $cpp = $ENV{CPP} // 'cpp';
		my ($rc, $out, $err) = $t->run_cmd([split(' ', $cpp), '-P', '-w',
		    '-undef', $tmp], timeout => 60);
		die "run.pl: $cpp on $file failed (exit $rc): $err\n" if $rc != 0;
		$out;
	};
}

sub stmt_sql {
	my ($t, $file, $enum) = @_;
	my ($lits) = _cpp($t, $file) =~ /\[\Q$enum\E\]\s*=\s*\{\s*"[^"]*"\s*,\s*
	    ((?:"(?:[^"\\]|\\.)*"\s*)+),\s*\d+\s*(?:,[^}]*)?\}/x
	    or die "run.pl: no statement [$enum] in $file\n";
	return _c_literals($lits);
}

# Statement $sql with $n replaced by pgbench variables :$vars->[n-1].
sub _pgbench_sql {
	my ($sql, @vars) = @_;
	# A ':' that ends a string literal ('share:') is no variable.
	die "run.pl: a statement for pgbench holds a ':' of its own: $sql\n"
	    if $sql =~ /(?<!:):(?![:'])/;
	$sql =~ s/\$(\d+)/':' . ($vars[$1 - 1] \/\/ die "run.pl: no variable for \$$1\n")/ge;
	return $sql;
}

# What dashcgi runs for PUT .../dashboards/{name} with If-Match (read
# from src/worker.c's change() and the handler): authz_route()'s role
# lookup, BEGIN, DS_UPDATE, audit_change()'s insert, COMMIT; pgbench
# prepares all five (-M prepared), dashcgi all but BEGIN and COMMIT.
# The parameters are dashcgi's: the project, the name, the version held,
# the document wrk sends, the user, the X-Change-Message both send,
# history_limit 100 (the default dashcgi runs with); for the audit row
# the action, the new version, 127.0.0.1, a request id; only details is
# a constant here (a 2-key JSON object).  pgbench binds each $n
# occurrence as a parameter of its own: the document goes over the
# socket three times, which costs pgbench, not dashcgi.
#
# The version: DS_UPDATE returns the old and the new one, both named
# "version"; \gset keeps the last, the new one, for the next
# transaction.  Before each run every client's dashboard is put at one
# version, so that one -D gives each client the version it holds.
sub put_pgbench {
	my ($t, $row, $conns) = @_;
	my @names = map { $PGB_BASE + $_ } 0 .. $conns - 1;
	my $list = join(',', @names);
	my $ver = $t->psql("WITH m AS (SELECT max(version) AS v FROM dashboard " .
	    "WHERE project = '$PROJECT' AND deleted_at IS NULL AND name = ANY " .
	    "('{$list}'::text[])), u AS (UPDATE dashboard d SET version = m.v " .
	    "FROM m WHERE d.project = '$PROJECT' AND d.deleted_at IS NULL AND " .
	    "d.name = ANY ('{$list}'::text[]) AND d.version <> m.v RETURNING 1) " .
	    "SELECT v, (SELECT count(*) FROM u) FROM m");
	($ver) = split /\|/, $ver;
	die "run.pl: the pgbench dashboards $names[0].. are missing\n"
	    unless defined $ver && $ver =~ /^\d+$/;
	my $role = stmt_sql($t, 'src/authz.c', 'AZ_ROLE');
	my $upd = stmt_sql($t, 'src/api/dashboards.c', 'DS_UPDATE');
	# $8, the body's base version, is NULL under If-Match; pgbench
	# cannot bind a NULL, so the yardstick gets it as a literal.
	$upd =~ s/\$8::int\b/NULL::int/g or die "run.pl: DS_UPDATE has no \$8\n";
	my $aud = stmt_sql($t, 'src/audit.c', 'AU_INSERT');
	my $script = "\\set name :client_id + $PGB_BASE\n" .
	    "\\set rid random(1, 1000000000)\n" .
	    _pgbench_sql($role, qw(project actor)) . ";\n" .
	    "BEGIN;\n" .
	    _pgbench_sql($upd, qw(project name u_version doc actor msg limit)) .
	    " \\gset u_\n" .
	    _pgbench_sql($aud, qw(actor action project name u_version result ip
	        rid details)) . ";\n" .
	    "COMMIT;\n";
	return { script => $script, vars => {
		project => $PROJECT, actor => $USER, u_version => $ver,
		doc => put_doc($t, $names[0]), msg => 'bench',
		limit => 100,
		action => 'dashboard.update', result => 'success',
		ip => '127.0.0.1',
		details => '{"oldVersion":' . $ver . ',"newVersion":' .
		    ($ver + 1) . '}',
	} };
}

# The baseline is the stored-bytes yardstick (issue 16, item 22): its
# statement reads stored text and renders nothing -- no *_doc()
# function, no json building, no cast of a jsonb to text.
sub check_baseline_sql {
	my ($t) = @_;
	my ($lits) = _slurp($t->srcdir . '/t/bench/baseline.c') =~
	    /\bget_sql\[\]\s*=\s*((?:"(?:[^"\\]|\\.)*"\s*)+);/
	    or die "run.pl: no get_sql[] in t/bench/baseline.c\n";
	my $sql = _c_literals($lits);
	die "run.pl: t/bench/baseline.c's get_sql renders a document; the " .
	    "yardstick serves stored bytes:\n  $sql\n"
	    if $sql =~ /_doc\s*\(|json|::text\s+FROM|\bspec\b/i;
}

# --------------------------------------------------------------------

sub _posint {
	my ($var, $def) = @_;
	my $v = $ENV{$var} // $def;
	$v =~ s/s$// if $var eq 'BENCH_DURATION';
	die "run.pl: $var must be a positive integer (got '$v')\n"
	    unless $v =~ /^[1-9][0-9]*$/;
	return $v;
}

sub _nonneg {
	my ($var, $def) = @_;
	my $v = $ENV{$var} // $def;
	$v =~ s/s$//;
	die "run.pl: $var must be a whole number of seconds (got '$v')\n"
	    unless $v =~ /^[0-9]+$/;
	return $v;
}

sub _slurp {
	my ($p) = @_;
	open(my $fh, '<', $p) or return '';
	local $/;
	return <$fh> // '';
}

sub _which {
	my ($name) = @_;
	for my $d (split(/:/, $ENV{PATH} // ''), '/usr/bin', '/usr/local/bin') {
		return "$d/$name" if $d ne '' && -x "$d/$name";
	}
	return undef;
}

# "1.23ms" -> milliseconds
sub _ms {
	my ($s) = @_;
	return undef unless defined $s;
	my ($n, $u) = $s =~ /^([0-9.]+)(us|ms|s|m)$/ or return undef;
	return $n / 1000 if $u eq 'us';
	return $n if $u eq 'ms';
	return $n * 1000 if $u eq 's';
	return $n * 60000;
}

# wrk's output, with the quantiles our done() prints (_lua_done).
sub _parse_wrk {
	my ($out) = @_;
	my %r;
	my ($n, $t) = $out =~ /^\s*(\d+) requests in ([0-9.]+\w+)/m or return undef;
	$r{requests} = $n;
	$r{seconds} = _ms($t) / 1000;
	$r{non2xx} = ($out =~ /Non-2xx or 3xx responses:\s+(\d+)/)[0] // 0;
	$r{sock} = [0, 0, 0, 0];
	if ($out =~ /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/) {
		$r{sock} = [$1, $2, $3, $4];
	}
	my ($q) = $out =~ /^-- quantiles\n((?:[0-9.]+\n)+)/m or return undef;
	my @q = split /\n/, $q;
	# Each quantile stands for an equal share of the requests.
	$r{samples} = [ map { [ $_ / 1000, $n / @q ] } @q ];
	return \%r;
}

# --- how busy the machine was with things other than the benchmark
# (other sessions, builds): the machine's user, system and steal time
# from /proc/stat minus the CPU time of our own processes: this
# script's descendants (nginx, dashcgi, the baseline, wrk, pgbench),
# the PostgreSQL cluster (with backends that already exited, such as
# pgbench's: a process's reaped children count in its cutime), and
# kernel threads (ksoftirqd and kworkers mostly carry our loopback
# traffic).  irq and softirq time, which the kernel charges to no
# process, is left out.  /proc counts in USER_HZ ticks throughout.

sub _machine_jiffies {
	my ($l) = _slurp('/proc/stat') =~ /^cpu\s+(.*)$/m or return (0, 0);
	my @f = map { $_ // 0 } (split ' ', $l)[0 .. 7];
	my $total = 0;
	$total += $_ for @f;
	# user nice system idle iowait irq softirq steal
	return ($f[0] + $f[1] + $f[2] + $f[7], $total);
}

# pid -> utime+stime+cutime+cstime (clock ticks) of our processes.
sub _our_procs {
	my (@roots) = @_;
	my (%ppid, %cpu);
	opendir(my $d, '/proc') or return {};
	for my $p (grep { /^\d+$/ } readdir $d) {
		my ($rest) = _slurp("/proc/$p/stat") =~ /\)\s+(.*)$/s or next;
		my @f = split ' ', $rest;	# f[0] = field 3 (state)
		$ppid{$p} = $f[1];
		$cpu{$p} = $f[11] + $f[12] + $f[13] + $f[14];
	}
	closedir $d;
	my (%kids, %r);
	push @{ $kids{ $ppid{$_} } }, $_ for keys %ppid;
	my @todo = (2, grep { defined } @roots);	# 2 = kthreadd
	while (defined(my $p = shift @todo)) {
		next if exists $r{$p};
		$r{$p} = $cpu{$p} // 0;
		push @todo, @{ $kids{$p} || [] };
	}
	return \%r;
}

my @PG_ROOTS;	# postmaster pids, set once the servers run

sub cpu_sample {
	my ($busy, $total) = _machine_jiffies();
	return { busy => $busy, total => $total,
	    procs => _our_procs($$, @PG_ROOTS) };
}

# -> [jiffies used outside the benchmark, all jiffies] of the whole
# machine (all CPUs) between two samples (a few percent of noise
# either way); _merge makes it a percentage.
sub other_cpu {
	my ($s0, $s1) = @_;
	my $total = $s1->{total} - $s0->{total};
	my $ours = 0;
	for my $p (keys %{ $s1->{procs} }) {
		$ours += $s1->{procs}{$p} - ($s0->{procs}{$p} // 0);
	}
	my $other = ($s1->{busy} - $s0->{busy}) - $ours;
	return [$other > 0 ? $other : 0, $total > 0 ? $total : 0];
}

# A Lua script carrying the row's method, headers and body.
sub _lua_script {
	my ($row, $user) = @_;
	my $q = \&_lua_str;
	my %h = %{ $row->{headers} || {} };
	if (defined $user) {
		$h{Authorization} = 'Basic ' . encode_base64("$user:pw-$user", '');
	}
	if (defined $row->{body} && !grep { lc $_ eq 'content-type' } keys %h) {
		$h{'Content-Type'} = $row->{content_type} // 'application/json';
	}
	my $lua = "wrk.method = " . $q->($row->{method} // 'GET') . "\n";
	# "[ [": "[[" would open a Lua long string.
	$lua .= "wrk.headers[ " . $q->($_) . " ] = " . $q->($h{$_}) . "\n"
	    for sort keys %h;
	$lua .= "wrk.body = " . $q->($row->{body}) . "\n" if defined $row->{body};
	return $lua;
}

# Appended to every wrk script: the latency distribution as $NQUANT
# evenly spaced quantiles, so that rounds can be merged (_merge).
# (This wrk's Lua reads percentiles, not its histogram's buckets.)
my $NQUANT = 1000;
sub _lua_done {
	return <<"LUA";
function done(summary, latency, requests)
	io.write("-- quantiles\\n")
	for k = 1, $NQUANT do
		io.write(latency:percentile((k - 0.5) * 100 / $NQUANT), "\\n")
	end
end
LUA
}

sub _fmt_ms {
	my ($v) = @_;
	return '-' unless defined $v;
	return sprintf('%.3f', $v) if $v < 10;
	return sprintf('%.2f', $v) if $v < 100;
	return sprintf('%.1f', $v);
}

# --------------------------------------------------------------------
# preconditions, before anything starts

my $wrk = _which('wrk')
    or die "run.pl: wrk not found; install it (Debian: apt-get install -y wrk)\n";
my $builddir = abs_path($ENV{DASHCGI_BUILDDIR} // getcwd());
my $baseline = "$builddir/t/bench/baseline";
die "run.pl: $baseline not found; build it with `make t/bench/baseline` " .
    "(or `make bench`) in the build tree, or set DASHCGI_BUILDDIR\n"
    unless -x $baseline;

my %ROW = map { $_->{name} => $_ } @ENDPOINTS;
for my $row (grep { $_->{versus} } @ENDPOINTS) {
	die "run.pl: $row->{name}: no row named $row->{versus}\n"
	    unless $ROW{ $row->{versus} };
}
@ENDPOINTS = grep { $_->{name} =~ /$ENV{BENCH_ONLY}/ } @ENDPOINTS
    if defined $ENV{BENCH_ONLY};
die "run.pl: no endpoint matches BENCH_ONLY=$ENV{BENCH_ONLY}\n" unless @ENDPOINTS;

my $pgbench;
if (grep { $_->{pgbench} } @ENDPOINTS) {
	my $pgbin = $ENV{DASHCGI_PGBIN} // '/usr/lib/postgresql/15/bin';
	$pgbench = -x "$pgbin/pgbench" ? "$pgbin/pgbench" : _which('pgbench');
	die "run.pl: pgbench not found in $pgbin or PATH; install " .
	    "postgresql-15 (Debian: it is in postgresql-15's contrib)\n"
	    unless $pgbench;
}

# The watchdog: every run and warm-up with a margin, plus the setups.
my $budget = 300;
for my $row (@ENDPOINTS) {
	my $n = @{ $row->{connections} || \@CONNS };
	my $pair = $row->{baseline} || $row->{pgbench} || $row->{versus}
	    ? 2 : 1;
	# A growth row: its windows, each with a margin.
	$budget += 200 * ($ROUND_SECS + 30) if $row->{growth};
	my $runs = $pair * (($WARMUP > 0) + ($pair == 2 ? $ROUNDS : 1));
	$budget += $n * ($pair * ($WARMUP + $DURATION) + 30 * $runs);
	$budget += $row->{setup_timeout} // 300 if $row->{setup};
}

my @load_before = (split ' ', _slurp('/proc/loadavg'))[0 .. 2];

# --------------------------------------------------------------------
# start the servers

my $t = DashTest->new(workers => $WORKERS, auth => 1, watchdog => $budget, durable => 1,
    config => { log => { level => $LOG_LEVEL } },
    nginx_http_filter => sub {
	my ($c) = @_;
	my $key = '$dashcgi_bench_nolimit';
	$c =~ s/^(\s*limit_req_zone\s+)\S+(\s+zone=dashcgi_shared:)/$SHARED_UNLIMITED$1$key$2/m
	    or die "run.pl: no limit_req_zone ... zone=dashcgi_shared in " .
	    "nginx/dashcgi-http.conf\n";
	# The per-network zone too (one client address here).
	$c =~ s/^(\s*limit_req_zone\s+)\S+(\s+zone=dashcgi_shared_net:)/$1$key$2/m;
	return $c;
    });
die "run.pl: dashcgi is a sanitizer build (" . $t->bin . "); benchmark " .
    "a plain build: ../configure without --enable-sanitizers\n"
    if _slurp($t->bin) =~ /__asan_init|__ubsan_handle/;

# The baseline: with a database row, its workers connect to dashcgi's
# cluster and prepare dashcgi's GET statement.
my $needs_base = grep { $_->{baseline} } @ENDPOINTS;
my $base_db = grep { ($_->{baseline} // '') eq 'db' } @ENDPOINTS;
my $conninfo = 'host=' . $t->pg_socket_dir . ' port=' . $t->pg_port .
    ' dbname=dashcgi user=postgres application_name=baseline';
my ($bt, $bpid);
if ($needs_base) {
	check_baseline_sql($t) if $base_db;
	$bt = DashTest->new(pg => 0, migrate => 0, start => 0, auth => 1);
	$bpid = $bt->spawn([$baseline, $bt->socket_path, $WORKERS,
	    $base_db ? $conninfo : ()], log => $bt->tmpdir . '/baseline.log');
	my $deadline = time + 15;
	for (;;) {
		my $r = $bt->request(GET => '/live', timeout => 2);
		last if $r->{status} == 200;
		die "run.pl: the baseline is not answering GET /live after 15s " .
		    "($r->{status} $r->{content})\n" . _slurp($bt->tmpdir .
		    '/baseline.log') if time > $deadline;
		sleep 0.05;
	}
}

# The PostgreSQL cluster is not our descendant (pg_ctl detaches it).
if (my ($pm) = _slurp($t->pg_socket_dir . '/data/postmaster.pid') =~ /^(\d+)/) {
	push @PG_ROOTS, $pm;
}

my ($nginx_workers) = _slurp($t->tmpdir . '/nginx.conf') =~
    /^\s*worker_processes\s+(\S+);/m;
my ($vrc, $version) = $t->run_dashcgi({ no_config => 1 }, 'version');
$version =~ s/\s+$//;
my $wrk_version = (`$wrk -v 2>&1` =~ /^(wrk \S+)/)[0] // 'wrk';
my $pgbench_version = $pgbench ? (`$pgbench --version 2>&1` =~
    /^pgbench \(PostgreSQL\) (\S+)/)[0] // '?' : undef;
my ($cpu) = _slurp('/proc/cpuinfo') =~ /^model name\s*:\s*(.+)$/m;
my $nproc = `nproc 2>/dev/null`;
chomp $nproc;
$nproc ||= scalar(() = _slurp('/proc/cpuinfo') =~ /^processor\s*:/mg);
my ($memtotal) = _slurp('/proc/meminfo') =~ /^MemTotal:\s+(\d+)/m;

print "dashcgi benchmark, " . strftime('%Y-%m-%d %H:%M:%S %Z', localtime) . "\n";
print "  host          " . ((POSIX::uname())[1]) . ", " . join(' ',
    (POSIX::uname())[0, 2, 4]) . "\n";
print "  cpu           $nproc x " . ($cpu // 'unknown') . " (nproc)\n";
printf "  memory        %.1f GiB\n", ($memtotal // 0) / 1048576;
print "  load average  @load_before (1, 5, 15 min, before the runs)\n";
print "  dashcgi       $version, " . $t->bin . "\n";
print "                $WORKERS workers, log.level $LOG_LEVEL (the production " .
    "default: one log line per request)\n";
print "  baseline      $baseline, $WORKERS workers" . ($base_db ?
    ", one libpq connection each (stored bytes: role and stored text)" : '') . "\n"
    if $bt;
print "  pgbench       $pgbench_version, -M prepared -j$THREADS, the same " .
    "database, the statements of dashcgi's PUT and share view\n" if $pgbench;
print "  nginx         worker_processes " . ($nginx_workers // '?') .
    ", the shipped nginx/dashcgi.conf, no FastCGI keepalive; identical " .
    "for both backends\n                (but dashcgi's share-link " .
    "limit_req zone has an empty key: not limited)\n";
print "  database      PostgreSQL 15, private cluster on a unix socket " .
    "(fsync and synchronous_commit on, shared_buffers 16MB)\n";
print "  load          $wrk_version -t$THREADS -c{" . join(',', @CONNS) .
    "} --timeout $WRK_TIMEOUT, ${DURATION}s per row, server and " .
    "connection count\n                after a ${WARMUP}s warm-up; a row " .
    "with a yardstick alternates with it in $ROUNDS rounds of " .
    "${ROUND_SECS}s\n                wrk, pgbench, nginx, dashcgi and " .
    "PostgreSQL share this machine\n";
print "\n";

# --------------------------------------------------------------------
# the runs

# A load generator as a DashTest-tracked process: stopped with
# everything else when the run is interrupted.  -> (exit code, output)
my $run_n = 0;
sub run_tool {
	my ($srv, $cmd, $timeout, $what) = @_;
	my $log = $srv->tmpdir . "/$what-" . ++$run_n . '.out';
	my $pid = $srv->spawn($cmd, log => $log);
	my $rc = $srv->wait_spawned($pid, $timeout);
	if (!defined $rc) {
		$srv->stop_spawned($pid, 5);
		die "run.pl: $what did not finish within ${timeout}s\n";
	}
	my $out = _slurp($log);
	unlink $log;
	return ($rc, $out);
}

my $script_n = 0;
sub _write_script {
	my ($srv, $ext, $text) = @_;
	my $f = $srv->tmpdir . '/bench-' . ++$script_n . ".$ext";
	open(my $fh, '>', $f) or die "run.pl: $f: $!\n";
	print $fh $text;
	close($fh) or die "run.pl: $f: $!\n";
	return $f;
}

# One wrk run of $secs seconds (a warm-up when $warm): -> {requests,
# seconds, non2xx, sock, samples, cpu}, see _merge.
sub wrk_once {
	my ($srv, $row, $conns, $secs, $warm) = @_;
	my $lua = _write_script($srv, 'lua', ($row->{lua} ? $row->{lua}->($srv,
	    $row, $conns) : _lua_script($row, $row->{user})) . _lua_done());
	my @cmd = ($wrk, "-t$THREADS", "-c$conns", '--timeout', $WRK_TIMEOUT,
	    '-s', $lua, "-d${secs}s", $srv->url($row->{path}));
	my $c0 = cpu_sample();
	my ($rc, $out) = run_tool($srv, \@cmd, $secs + 30, 'wrk');
	my $c1 = cpu_sample();
	unlink $lua;
	die "run.pl: wrk" . ($warm ? ' warm-up' : '') . " failed (exit $rc): " .
	    "$out\n" if $rc != 0;
	my $r = _parse_wrk($out) or die "run.pl: cannot read wrk's output:\n$out\n";
	$r->{cpu} = other_cpu($c0, $c1);
	return $r;
}

# One pgbench -M prepared -cC -jT run of the row's script, with a
# per-transaction log for the latencies: -> as wrk_once.
sub pgbench_once {
	my ($srv, $row, $conns, $secs, $warm) = @_;
	my $s = $row->{pgbench}->($srv, $row, $conns);
	my $script = _write_script($srv, 'sql', $s->{script});
	my $prefix = $srv->tmpdir . '/pgbench-log-' . ($run_n + 1);
	my $clients = $row->{pgbench_clients} // $conns;
	my @cmd = ($pgbench, '-n', '-M', 'prepared', "-c$clients",
	    '-j' . ($THREADS < $clients ? $THREADS : $clients),
	    '-h', $srv->pg_socket_dir, '-p', $srv->pg_port, '-U', 'postgres',
	    '-f', $script,
	    (map { ('-D', "$_=$s->{vars}{$_}") } sort keys %{ $s->{vars} }),
	    "-T$secs", '-l', "--log-prefix=$prefix", 'dashcgi');
	my $c0 = cpu_sample();
	my ($rc, $out) = run_tool($srv, \@cmd, $secs + 60, 'pgbench');
	my $c1 = cpu_sample();
	unlink $script;
	# Log lines: client, transaction, latency in us, script, epoch, us.
	my @samples;
	my $dir = dirname($prefix);
	opendir(my $d, $dir) or die "run.pl: $dir: $!\n";
	for my $f (grep { index("$dir/$_", "$prefix.") == 0 } readdir $d) {
		for (split /\n/, _slurp("$dir/$f")) {
			my @f = split ' ';
			push @samples, [$f[2] / 1000, 1] if @f >= 3 && $f[2] =~ /^\d+$/;
		}
		unlink "$dir/$f";
	}
	closedir $d;
	die "run.pl: pgbench" . ($warm ? ' warm-up' : '') . " failed " .
	    "(exit $rc): $out\n" if $rc != 0;
	my ($tps) = $out =~ /^tps = ([0-9.]+) \(without initial connection time\)/m;
	my ($n) = $out =~ /^number of transactions actually processed: (\d+)/m;
	die "run.pl: cannot read pgbench's output:\n$out\n"
	    unless defined $tps && defined $n && $tps > 0;
	return { requests => $n, seconds => $n / $tps, samples => \@samples,
	    non2xx => ($out =~ /^number of failed transactions: (\d+)/m)[0] // 0,
	    sock => [0, 0, 0, 0], cpu => other_cpu($c0, $c1) };
}

# Runs of one server -> its figures: req/s over all of them, the
# latency percentiles of all their requests together, errors, and
# the other load on the machine meanwhile.
sub _merge {
	my (@runs) = @_;
	my %r = (requests => 0, seconds => 0, non2xx => 0);
	my (@sock, @samples, $other, $total) = (0, 0, 0, 0);
	for my $x (@runs) {
		$r{$_} += $x->{$_} for qw(requests seconds non2xx);
		$sock[$_] += $x->{sock}[$_] for 0 .. 3;
		push @samples, @{ $x->{samples} };
		$other += $x->{cpu}[0];
		$total += $x->{cpu}[1];
	}
	$r{rps} = $r{seconds} > 0 ? $r{requests} / $r{seconds} : 0;
	$r{errors} = $r{non2xx} + $sock[0] + $sock[1] + $sock[2] + $sock[3];
	$r{socket_errors} = "connect $sock[0], read $sock[1], write $sock[2], " .
	    "timeout $sock[3]" if grep { $_ } @sock;
	$r{other_cpu} = 100 * $other / $total if $total;
	$r{rounds} = scalar @runs;
	@samples = sort { $a->[0] <=> $b->[0] } @samples;
	my $weight = 0;
	$weight += $_->[1] for @samples;
	for my $p (50, 75, 90, 99) {
		my ($acc, $want) = (0, $weight * $p / 100);
		for (@samples) {
			$acc += $_->[1];
			if ($acc >= $want) {
				$r{"p$p"} = $_->[0];
				last;
			}
		}
	}
	return \%r;
}

# A row at $conns connections -> (dashcgi's figures, the yardstick's
# or undef, the yardstick's name).  With a yardstick the two alternate
# in $ROUNDS rounds, so that whatever else the machine does falls on
# both alike; each warms up first.
sub measure {
	my ($row, $conns) = @_;
	my ($bname, $bsrv, $brow, $bonce) = (undef, $t, $row, \&wrk_once);
	if ($row->{baseline}) {
		($bname, $bsrv) = ('baseline', $bt);
	} elsif ($row->{pgbench}) {
		($bname, $bonce) = ('pgbench', \&pgbench_once);
	} elsif ($row->{versus}) {
		($bname, $brow) = ("($row->{versus})", $ROW{ $row->{versus} });
	}
	my $rounds = $bname ? $ROUNDS : 1;
	my $secs = $bname ? $ROUND_SECS : $DURATION;
	if ($WARMUP > 0) {
		wrk_once($t, $row, $conns, $WARMUP, 1);
		$bonce->($bsrv, $brow, $conns, $WARMUP, 1) if $bname;
	}
	my (@mine, @theirs);
	for (1 .. $rounds) {
		push @mine, wrk_once($t, $row, $conns, $secs);
		push @theirs, $bonce->($bsrv, $brow, $conns, $secs) if $bname;
	}
	return (_merge(@mine), $bname ? _merge(@theirs) : undef, $bname);
}

# A growth row: windows back to back until $row->{growth} requests
# succeeded -> (the last window, the first, "first window").
sub measure_growth {
	my ($row, $conns) = @_;
	my ($done, @w) = (0);
	my $secs = $ROUND_SECS > 0 ? $ROUND_SECS : 1;
	while ($done < $row->{growth} && @w < 200) {
		push @w, wrk_once($t, $row, $conns, $secs);
		$done += $w[-1]{requests} - $w[-1]{non2xx};
	}
	printf STDERR "# %-24s %d windows of %ds, %d successful requests, " .
	    "history now %s rows\n", $row->{name}, scalar @w, $secs, $done,
	    $t->psql('SELECT count(*) FROM dashboard_version');
	return (_merge($w[-1]), _merge($w[0]), 'first window');
}

# One request first: a row that does not answer what it expects is a
# broken benchmark, not a fast one.  -> the response
sub check_row {
	my ($srv, $row, $what) = @_;
	return $row->{check}->($srv, $row, $what) if $row->{check};
	my $r = $srv->request($row->{method} // 'GET', $row->{path},
	    defined $row->{user} ? (user => $row->{user}) : (),
	    headers => $row->{headers} || {},
	    defined $row->{body} ? (body => $row->{body}) : (),
	    exists $row->{content_type} ? (content_type => $row->{content_type}) : (),
	    timeout => 30);
	my $want = $row->{expect} // 200;
	die "run.pl: $what: $row->{name} answered $r->{status}, not $want: " .
	    substr($r->{content} // '', 0, 300) . "\n" if $r->{status} != $want;
	return $r;
}

my @results;
my @skipped;
my $started = time;
for my $row (@ENDPOINTS) {
	if ($row->{setup}) {
		my $t0 = time;
		print "setup for $row->{name} ...\n";
		my $limit = $row->{setup_timeout} // 300;
		my $ok = eval {
			local $SIG{ALRM} = sub { die "setup exceeded ${limit}s\n" };
			alarm($limit);
			$row->{setup}->($t, $row);
			alarm(0);
			1;
		};
		my $e = $@;
		# Re-arm the whole-run watchdog with what is left of it.
		alarm(0);
		DashTest::_set_watchdog(int($budget - (time - $started)) + 1);
		die "run.pl: setup for $row->{name} failed: $e" unless $ok;
		printf "setup for %s took %.1fs\n", $row->{name}, time - $t0;
	}
	if ($row->{skip}) {
		print "not measured: $row->{name}: $row->{skip}\n";
		push @skipped, $row;
		next;
	}
	my $mine = check_row($t, $row, 'dashcgi');
	if (($row->{baseline} // '') eq 'db') {
		my $theirs = check_row($bt, $row, 'baseline');
		die "run.pl: $row->{name}: the baseline's document differs from " .
		    "dashcgi's:\n  dashcgi:  " . substr($mine->{content}, 0, 200) .
		    "\n  baseline: " . substr($theirs->{content}, 0, 200) . "\n"
		    if $theirs->{content} ne $mine->{content};
	} elsif ($row->{baseline}) {
		check_row($bt, $row, 'baseline');
	}
	for my $c (@{ $row->{connections} || \@CONNS }) {
		my ($d, $base, $bname) = $row->{growth} ?
		    measure_growth($row, $c) : measure($row, $c);
		push @results, { name => $row->{name}, server => 'dashcgi',
		    connections => $c, target => $row->{target},
		    versus => $row->{versus}, %$d };
		push @results, { name => $row->{name}, server => $bname,
		    connections => $c, %$base } if $base;
		ratio($results[-2], $base) if $base;
		printf STDERR "# %-24s %-8s c=%-3d %9.0f req/s\n", $row->{name},
		    'dashcgi', $c, $d->{rps};
		printf STDERR "# %-24s %-8s c=%-3d %9.0f %s\n", $row->{name},
		    $bname, $c, $base->{rps}, $bname eq 'pgbench' ? 'tps' : 'req/s'
		    if $base;
	}
}

sub ratio {
	my ($r, $base) = @_;
	$r->{rps_ratio} = $r->{rps} / $base->{rps} if $base->{rps};
	$r->{p50_ratio} = $r->{p50} / $base->{p50} if $base->{p50};
}

my @load_after = (split ' ', _slurp('/proc/loadavg'))[0 .. 2];

# Memory after the runs.
sub _status_kb {
	my ($pid, $key) = @_;
	my ($v) = _slurp("/proc/$pid/status") =~ /^$key:\s+(\d+)\s+kB/m;
	return $v;
}
my @mem;
push @mem, ['dashcgi master', $t->master_pid] if $t->master_pid;
my $i = 0;
push @mem, ['dashcgi worker ' . ++$i, $_, $RSS_TARGET_KB] for $t->worker_pids;
if ($bt) {
	my @kids = grep { ((_slurp("/proc/$_/stat") =~ /\)\s+\S\s+(\d+)/)[0] // 0) == $bpid }
	    grep { /^\d+$/ } do { opendir(my $d, '/proc'); readdir $d };
	$i = 0;
	push @mem, ['baseline worker ' . ++$i, $_] for sort { $a <=> $b } @kids;
}

# --------------------------------------------------------------------
# the report

# "0.93 ok" / "0.71 MISSED by 21%" against the row's target.
sub _verdict {
	my ($r) = @_;
	return '' unless defined $r->{target};
	return "no yardstick" unless defined $r->{rps_ratio};
	return sprintf('>=%.2f ok', $r->{target})
	    if $r->{rps_ratio} >= $r->{target};
	return sprintf('>=%.2f MISSED by %.0f%%', $r->{target},
	    100 * (1 - $r->{rps_ratio} / $r->{target}));
}

print "\n";
my @hdr = ('endpoint', 'server', 'conns', 'req/s', 'p50 ms', 'p90 ms',
    'p99 ms', 'errors', 'rps/base', 'p50/base', 'target', 'other cpu');
my @rows;
for my $r (@results) {
	push @rows, [ $r->{name}, $r->{server}, $r->{connections},
	    sprintf('%.0f', $r->{rps}), _fmt_ms($r->{p50}), _fmt_ms($r->{p90}),
	    _fmt_ms($r->{p99}), $r->{errors},
	    defined $r->{rps_ratio} ? sprintf('%.2f', $r->{rps_ratio}) : '',
	    defined $r->{p50_ratio} ? sprintf('%.2f', $r->{p50_ratio}) : '',
	    _verdict($r),
	    defined $r->{other_cpu} ? sprintf('%.0f%%', $r->{other_cpu}) : '?' ];
}
my @w = map { length } @hdr;
for my $row (@rows) {
	for my $k (0 .. $#$row) {
		$w[$k] = length $row->[$k] if length $row->[$k] > $w[$k];
	}
}
my $line = sub {
	my ($cells) = @_;
	return join('  ', map {
		$_ <= 1 || $_ == 10 ? sprintf('%-*s', $w[$_], $cells->[$_])
		    : sprintf('%*s', $w[$_], $cells->[$_])
	} 0 .. $#$cells) . "\n";
};
print $line->(\@hdr);
print join('  ', map { '-' x $_ } @w), "\n";
my $prev = '';
for my $row (@rows) {
	print "\n" if $prev ne '' && $row->[0] ne $prev;
	$prev = $row->[0];
	print $line->($row);
}
print "\n";
for my $row (@skipped) {
	print "not measured: $row->{name}: $row->{skip}\n";
}
print "rps/base, p50/base: dashcgi divided by its yardstick at the same " .
    "connection count, the two\n  alternating in $ROUNDS rounds of " .
    "${ROUND_SECS}s; the yardstick is\n" .
    "  baseline  a bare libfcgi responder behind an identical nginx: a " .
    "constant body for /live;\n" .
    "            for GET dashboard, the stored bytes over libpq: role " .
    "and stored text (no routing, logging, metrics)\n" .
    "  first window  a growth row's first window on the same " .
    "connections (its figures are the last window's)\n" .
    "  pgbench   dashcgi's PUT transaction straight to PostgreSQL, one " .
    "client per connection;\n" .
    "            the share view's statement, one client per dashcgi worker\n" .
    "            (req/s is its tps, latency per transaction)\n" .
    "  (row)     dashcgi answering that row's request\n";
print "errors: non-2xx answers plus socket errors (connect, read, write, " .
    "timeout > $WRK_TIMEOUT); pgbench: failed transactions.\n";
print "other cpu: share of the whole machine ($nproc CPUs) busy with " .
    "processes outside the benchmark\n  during the run; " .
    "more than a few percent means the figures are disturbed.\n";
for my $r (grep { $_->{socket_errors} } @results) {
	print "  $r->{name} $r->{server} c=$r->{connections}: socket errors " .
	    "$r->{socket_errors}\n";
}
print "load average  @load_after after the runs (was @load_before)\n";
print "\nresident memory after the runs (VmRSS, peak VmHWM):\n";
for my $m (@mem) {
	my ($rss, $hwm) = map { _status_kb($m->[1], $_) } qw(VmRSS VmHWM);
	my $verdict = '';
	if (defined $m->[2] && defined $rss) {
		$verdict = sprintf('  target < %d kB: %s', $m->[2],
		    $rss < $m->[2] ? 'ok' : 'OVER');
	}
	printf "  %-18s pid %-7d %7s kB  (peak %s kB)%s\n", $m->[0], $m->[1],
	    $rss // '?', $hwm // '?', $verdict;
}

if (my $f = $ENV{BENCH_JSON}) {
	my $doc = {
		time => strftime('%Y-%m-%dT%H:%M:%SZ', gmtime),
		conditions => { nproc => $nproc, cpu => $cpu,
		    loadavg_before => \@load_before, loadavg_after => \@load_after,
		    dashcgi_workers => $WORKERS, nginx_worker_processes => $nginx_workers,
		    log_level => $LOG_LEVEL, duration => $DURATION, warmup => $WARMUP,
		    threads => $THREADS, version => $version,
		    rounds => $ROUNDS, round_seconds => $ROUND_SECS,
		    dashboards => $NDASH },
		results => [ map { my %h = %$_; delete $h{raw}; \%h } @results ],
		skipped => { map { $_->{name} => $_->{skip} } @skipped },
		memory_kb => { map { $_->[0] => _status_kb($_->[1], 'VmRSS') } @mem },
	};
	open(my $fh, '>', $f) or die "run.pl: $f: $!\n";
	print $fh JSON::PP->new->canonical->pretty->encode($doc);
	close($fh) or die "run.pl: $f: $!\n";
	print "results written to $f\n";
}

$bt->cleanup if $bt;
$t->cleanup;
exit 0;
