#!/usr/bin/perl
# t/bench/slo.pl -- the SLO module's numbers (issue 11) and the dashboard
# GET against the Fastify peer (issue 16 item 23), wrk through nginx
# against dashcgi under DashTest (its own PostgreSQL 15 cluster):
#
#   - `dashcgi demo-data` (124 SLOs, ~1M points): wall time and
#     PostgreSQL CPU; the budget bands it produced; one SLO's status;
#   - GET /api/seed of that fleet, one connection (server time);
#   - GET …/slos/{name}/status, one connection;
#   - GET /api/series/{sliId}?days=28 (8,065 points), 1 and 8
#     connections, against the seed's own stack measured in the same
#     run: t/bench/peer (Fastify 5 + postgres.js, node:cluster over the
#     CPUs) serving the same route from the same PostgreSQL behind the
#     same nginx with HTTP/1.1 upstream keep-alive;
#   - POST …/sli-points, JSON batches of 1,000 new points (points/s), on
#     the cluster as DashTest makes it (fsync off) and then durable;
#   - GET …/dashboards/{name} against the peer's
#     /peer/dashboards/{project}/{name} (the same stored document, the
#     same role check), 8 and 32 connections.
# The pairs alternate, BENCH_ROUNDS rounds each, so a neighbour's load
# falls on both sides; the table shows every round.
#
# Run from a build tree (a release build: no sanitizers), or `make bench`:
#   cd _rel && perl -I../t/lib ../t/bench/slo.pl
# Environment: BENCH_DURATION (10 s per run), BENCH_WARMUP (2 s),
# BENCH_ROUNDS (2), BENCH_WORKERS (dashcgi workers, 4), BENCH_THREADS
# (wrk threads, 2), BENCH_INGEST_CONNECTIONS (4), PEER_PROCESSES (the
# CPU count), BENCH_PEER_DIR (where the peer is installed with `npm ci`,
# default t/bench/peer in the build tree).  Every wait is bounded.
use strict;
use warnings;
use Cwd qw(abs_path getcwd);
use File::Copy qw(copy);
use File::Path qw(make_path);
use File::Temp ();
use HTTP::Tiny;
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use POSIX qw(floor);
use Time::HiRes qw(time sleep);
use DashTest;

my $DUR = $ENV{BENCH_DURATION} // 10;
my $WARMUP = $ENV{BENCH_WARMUP} // 2;
my $ROUNDS = $ENV{BENCH_ROUNDS} // 2;
my $WORKERS = $ENV{BENCH_WORKERS} // 4;
my $THREADS = $ENV{BENCH_THREADS} // 2;
my $ICONNS = $ENV{BENCH_INGEST_CONNECTIONS} // 4;
my $USER = 'carol';
my $PROJECT = 'default';	# slo.default_project: the seed paths read it
my $RES = 300;			# slo.resolution (5m), the default

sub slurp { my $f = shift; open(my $fh, '<', $f) or return; local $/; <$fh> }
sub which { my $n = shift; for (split /:/, $ENV{PATH}) { return "$_/$n" if -x "$_/$n" } return }
sub uptime { my $u = `uptime`; chomp $u; $u =~ s/^\s+//; return $u }

# --------------------------------------------------------------------
# preconditions

for my $p (qw(wrk node npm)) {
	which($p) or die "slo.pl: $p not found (Debian: apt-get install -y " .
	    ($p eq 'wrk' ? 'wrk' : 'nodejs npm') . ")\n";
}
my ($node_major) = `node --version` =~ /^v(\d+)/;
die "slo.pl: Fastify 5 needs Node.js 20 or later\n" unless ($node_major // 0) >= 20;

my $srcdir = abs_path($ENV{DASHCGI_SRCDIR} // (__FILE__ =~ s{/t/bench/[^/]+$}{}r));
my $builddir = abs_path($ENV{DASHCGI_BUILDDIR} // getcwd());
my $peerdir = $ENV{BENCH_PEER_DIR} // "$builddir/t/bench/peer";
make_path($peerdir);
# The peer from its lock file, once per change of the lock file.
for my $f (qw(package.json package-lock.json server.js)) {
	copy("$srcdir/t/bench/peer/$f", "$peerdir/$f")
	    or die "slo.pl: copy t/bench/peer/$f: $!\n"
	    unless abs_path("$srcdir/t/bench/peer") eq abs_path($peerdir);
}
my $lock = slurp("$peerdir/package-lock.json") // die "slo.pl: no package-lock.json\n";
if ((slurp("$peerdir/node_modules/.dashcgi-lock") // '') ne $lock) {
	print "installing the peer: npm ci in $peerdir\n";
	system("cd '$peerdir' && timeout 300 npm ci --no-audit --no-fund " .
	    "--loglevel=error") == 0 or die "slo.pl: npm ci failed\n";
	open(my $fh, '>', "$peerdir/node_modules/.dashcgi-lock") or die;
	print $fh $lock;
	close $fh;
}
my $fastify = (slurp("$peerdir/node_modules/fastify/package.json") // '') =~
    /"version":\s*"([^"]+)"/ ? $1 : '?';
my $pgjs = (slurp("$peerdir/node_modules/postgres/package.json") // '') =~
    /"version":\s*"([^"]+)"/ ? $1 : '?';

# --------------------------------------------------------------------
# dashcgi, and the peer's server in the same nginx

my $peer_port = DashTest::free_port();
my $aux = File::Temp::tempdir('dashcgi-slobench-XXXXXX', TMPDIR => 1,
    CLEANUP => 1);
my $peer_sock = "$aux/peer.sock";
open(my $hp, '>', "$aux/htpasswd") or die;
print $hp map { "$_:{PLAIN}pw-$_\n" } @DashTest::USERS;
close $hp;
chmod 0644, "$aux/htpasswd";

my $uptime_before = uptime();
my $t = DashTest->new(workers => $WORKERS, auth => 1, watchdog => 3600,
    config => { log => { level => 'warn' } },
    nginx_http_filter => sub {
	my ($c) = @_;
	# The peer: the same nginx, the same basic auth, HTTP/1.1 with
	# upstream keep-alive.
	return $c . <<"EOF";
upstream dashcgi_bench_peer {
    server unix:$peer_sock;
    keepalive 64;
}
server {
    listen 127.0.0.1:$peer_port;
    auth_basic "dashcgi";
    auth_basic_user_file $aux/htpasswd;
    location /peer/ {
        proxy_pass http://dashcgi_bench_peer;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header X-Remote-User \$remote_user;
    }
}
EOF
    });
die "slo.pl: dashcgi is a sanitizer build (" . $t->bin . "); benchmark a " .
    "plain build: ../configure without --enable-sanitizers\n"
    if (slurp($t->bin) // '') =~ /__asan_init|__ubsan_handle/;

my $peer = $t->spawn(['node', "$peerdir/server.js"], log => "$aux/peer.log",
    cwd => $peerdir, env => { PEER_SOCKET => $peer_sock,
    PGHOST => $t->pg_socket_dir, PGPORT => $t->pg_port,
    PGDATABASE => 'dashcgi', PGUSER => 'postgres',
    PEER_RESOLUTION => $RES, PEER_DEFAULT_PROJECT => $PROJECT });
my $peer_url = "http://127.0.0.1:$peer_port";
# A request to the peer's server in nginx (DashTest's request() knows
# only dashcgi's).
sub peer_get {
	my ($path, $user) = @_;
	return HTTP::Tiny->new(timeout => 10, keep_alive => 0)->get("$peer_url$path",
	    { headers => { Authorization => 'Basic ' .
	    encode_base64("$user:pw-$user", '') } });
}
{
	my $deadline = time + 30;
	for (;;) {
		my $r = peer_get('/peer/live', $USER);
		last if $r->{status} == 200;
		die "slo.pl: the peer is not answering after 30 s ($r->{status})\n" .
		    (slurp("$aux/peer.log") // '') if time > $deadline;
		sleep 0.2;
	}
}

# --------------------------------------------------------------------
# the data: the demo fleet, a dashboard, an empty project to ingest into

my ($pgpid) = (slurp($t->pg_socket_dir . '/data/postmaster.pid') // '') =~ /^(\d+)/;
sub pg_cpu {
	my @f = split ' ', ((slurp("/proc/$pgpid/stat") // '') =~ s/^.*\)\s+//sr);
	return (($f[11] // 0) + ($f[12] // 0) + ($f[13] // 0) + ($f[14] // 0)) / 100;
}
my ($c0, $t0, $l0) = (pg_cpu(), time, (split ' ', slurp('/proc/loadavg'))[0]);
my ($rc, $out, $err) = $t->run_dashcgi({ timeout => 300 }, 'demo-data',
    '--project', $PROJECT, '--seed', '1');
my $demo_wall = time - $t0;
sleep 0.5;
my $demo_cpu = pg_cpu() - $c0;
die "slo.pl: demo-data failed ($rc): $err\n" if $rc != 0;
my $npoints = $t->psql("SELECT count(*) FROM sli_point p JOIN sli i ON " .
    "i.key = p.sli WHERE i.project = '$PROJECT'");
$t->psql(<<"SQL");
INSERT INTO project (name, created_by, updated_by) VALUES ('ingest', 't', 't');
INSERT INTO project_member (project, user_name, role, created_by, updated_by)
    VALUES ('$PROJECT', '$USER', 'editor', 't', 't'),
	   ('ingest', '$USER', 'editor', 't', 't');
VACUUM ANALYZE;
SQL

# The budget bands and one SLO's status.
my $seed = $t->json($t->request(GET => '/api/seed', user => $USER, timeout => 60));
my (%band, @slos);
for my $e (@{ $seed->{experiences} }) {
	for my $j (@{ $e->{journeys} }) {
		for my $o (@{ $j->{slos} }) {
			my $x = $o->{errorBudget}{remaining} // -1;
			push @slos, [ $o->{id}, $x, $o->{indicators}[0]{id} ];
			$band{ $x >= 0.85 ? 'healthy' : $x >= 0.70 ? 'minor' :
			    $x >= 0.50 ? 'moderate' : $x >= 0.10 ? 'critical' :
			    'breached' }++;
		}
	}
}
my @sorted = sort { $a->[1] <=> $b->[1] } @slos;
my $one = $sorted[int(@sorted * 0.15)];	# one of the smaller budgets
my $status = $t->request(GET => "/api/v1/projects/$PROJECT/slos/$one->[0]/status",
    user => $USER);
die "slo.pl: status of $one->[0]: $status->{status}\n" if $status->{status} != 200;
my $sli = $one->[2];
my @sli_ids = map { $_->[2] } @slos;

# 200 SLOs with no points for each ingest row: "in-" for the cluster as
# DashTest makes it, "du-" for the durable one.
my $NSLI = 200;
for my $pfx (qw(in du)) {
	for my $i (1 .. $NSLI) {
		my $r = $t->request(POST => '/api/v1/projects/ingest/slos', user => $USER,
		    json => { kind => 'SLO', metadata => { name => "$pfx-$i" },
		    spec => { experience => 'Bench', journey => 'Ingest', target => 0.999,
		    window => '28d', indicators => [ { id => "$pfx-$i" } ] } });
		die "slo.pl: ingest SLO $pfx-$i: $r->{status} $r->{content}\n"
		    if $r->{status} != 201;
	}
}

# A dashboard for the GET pair: 12 panels, about 8 KB.
my %panels = map { ("p$_" => { kind => 'Panel', spec => {
    display => { name => "Panel $_ of the checkout service" },
    plugin => { kind => 'TimeSeriesChart', spec => { legend => { position => 'bottom' },
	yAxis => { format => { unit => 'requests/sec' } } } },
    queries => [ { kind => 'TimeSeriesQuery', spec => { plugin => {
	kind => 'PrometheusTimeSeriesQuery', spec => { seriesNameFormat => '{{route}}',
	query => "sum by (route) (rate(http_requests_total{job=\"checkout\"," .
	    "panel=\"$_\",code=~\"5..\"}[5m])) / sum by (route) " .
	    "(rate(http_requests_total{job=\"checkout\",panel=\"$_\"}[5m]))" } } } } ] } }) }
    1 .. 12;
my $r = $t->request(POST => "/api/v1/projects/$PROJECT/dashboards", user => $USER,
    json => { kind => 'Dashboard', metadata => { name => 'bench', project => $PROJECT },
    spec => { display => { name => 'Checkout overview' }, duration => '1h',
    panels => \%panels, layouts => [ { kind => 'Grid', spec => { items => [
	map { { x => ($_ % 2) * 12, y => int($_ / 2) * 8, width => 12, height => 8,
	    content => { '$ref' => "#/spec/panels/p$_" } } } 1 .. 12 ] } } ] } });
die "slo.pl: dashboard: $r->{status} " . substr($r->{content}, 0, 300) . "\n"
    unless $r->{status} == 200 || $r->{status} == 201;

# --------------------------------------------------------------------
# checks: each pair answers the same thing

my $DASH = "/api/v1/projects/$PROJECT/dashboards/bench";
my $PDASH = "/peer/dashboards/$PROJECT/bench";
{
	my $a = $t->request(GET => "/api/series/$sli?days=28", user => $USER);
	my $b = peer_get("/peer/api/series/$sli?days=28", $USER);
	my ($ja, $jb) = ($t->json($a), $t->json($b));
	die "slo.pl: the series differ: dashcgi $a->{status} " .
	    scalar(@{ $ja || [] }) . " points, peer $b->{status} " .
	    scalar(@{ $jb || [] }) . " points\n"
	    unless $a->{status} == 200 && $b->{status} == 200 &&
	    JSON::PP->new->canonical->encode($ja) eq JSON::PP->new->canonical->encode($jb);
	printf "series check: both answer the same %d points (%d and %d bytes)\n",
	    scalar @$ja, length $a->{content}, length $b->{content};
	$a = $t->request(GET => $DASH, user => $USER);
	$b = peer_get($PDASH, $USER);
	die "slo.pl: the dashboards differ ($a->{status}, $b->{status})\n"
	    unless $a->{status} == 200 && $b->{status} == 200 &&
	    $a->{content} eq $b->{content};
	printf "dashboard check: both answer the same %d bytes\n", length $a->{content};
	$b = peer_get($PDASH, 'alice');
	die "slo.pl: the peer's role check lets alice in\n" if $b->{status} != 404;
}

# --------------------------------------------------------------------
# wrk

my $auth = 'Basic ' . encode_base64("$USER:pw-$USER", '');

# wrk -cN with a Lua script against base; (requests/s, p50 ms, p99 ms,
# errors, requests).
sub wrk {
	my ($base, $conns, $lua, $dur) = @_;
	my $f = "$aux/wrk-" . int(rand(1e9)) . '.lua';
	open(my $fh, '>', $f) or die;
	print $fh qq(wrk.headers["Authorization"] = "$auth"\n), $lua, <<'LUA';
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %.3f %.3f %.3f %d\n", summary.requests,
    summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.errors.status + summary.errors.connect
    + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
LUA
	close $fh;
	my $th = $conns < $THREADS ? $conns : $THREADS;
	my $o = `timeout @{[ $dur + 60 ]} wrk -t$th -c$conns -d${dur}s --timeout 10s -s $f $base/ 2>&1`;
	my ($n, $secs, $p50, $p99, $e) = $o =~ /RESULT (\d+) ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/
	    or die "slo.pl: wrk: $o";
	return ($n / $secs, $p50, $p99, $e, $n);
}

# CPU ticks (utime+stime+cutime+cstime, USER_HZ) of the servers: the
# trees of dashcgi's master, nginx, the peer and the postmaster (its
# exited backends count in its cutime), wrk left out.  On a shared
# machine the CPU a request takes is the figure neighbours distort least.
my $HZ = `getconf CLK_TCK` + 0 || 100;
sub server_ticks {
	my (%ppid, %cpu, %kids);
	opendir(my $d, '/proc') or return 0;
	for my $p (grep { /^\d+$/ } readdir $d) {
		my ($rest) = (slurp("/proc/$p/stat") // '') =~ /\)\s+(.*)$/s or next;
		my @f = split ' ', $rest;
		$ppid{$p} = $f[1];
		$cpu{$p} = $f[11] + $f[12] + $f[13] + $f[14];
	}
	closedir $d;
	push @{ $kids{ $ppid{$_} } }, $_ for keys %ppid;
	my ($sum, %seen) = (0);
	my @todo = grep { defined } ($t->master_pid, $t->{nginx_pid}, $peer, $pgpid);
	while (defined(my $p = shift @todo)) {
		next if $seen{$p}++;
		$sum += $cpu{$p} // 0;
		push @todo, @{ $kids{$p} || [] };
	}
	return $sum;
}

# wrk after a warm-up; (requests/s, p50, p99, errors, requests, server
# CPU ms per request).
sub measure {
	my ($base, $conns, $lua, $dur) = @_;
	wrk($base, $conns, $lua, $WARMUP) if $WARMUP > 0;
	my $c0 = server_ticks();
	my @r = wrk($base, $conns, $lua, $dur // $DUR);
	my $ms = (server_ticks() - $c0) * 1000 / $HZ;
	return (@r, $r[4] ? $ms / $r[4] : 0);
}

sub get_lua { my $p = shift; return qq(wrk.path = "$p"\n) }

# A random SLI of the fleet per request.
my $ids = join(',', map { qq("$_") } @sli_ids);
sub series_lua {
	my $prefix = shift;
	return "local ids = { $ids }\nrequest = function()\n" .
	    "  return wrk.format('GET', '$prefix/api/series/' .. ids[math.random(#ids)] .. '?days=28')\nend\n";
}

my @rows;
sub row {
	my ($what, $conns, $rps, $p50, $p99, $e, $n, $cpu, $extra) = @_;
	push @rows, sprintf('| %s | %d | %.0f | %.1f | %.1f | %.2f | %d | %s |',
	    $what, $conns, $rps, $p50, $p99, $cpu, $e, $extra // '');
}

my $base = $t->url('');
my ($rps, $p50, $p99, $e, $n, $cpu);

row('GET /api/seed (124 SLOs, every budget and status)', 1,
    measure($base, 1, get_lua('/api/seed')), 'target: <= 50 ms');
row('GET …/slos/{name}/status', 1, measure($base, 1,
    get_lua("/api/v1/projects/$PROJECT/slos/$one->[0]/status")), 'target: <= 10 ms');

my %pair;
for my $c (1, 8) {
	for my $round (1 .. $ROUNDS) {
		for my $side (['dashcgi', $base, ''], ['peer', $peer_url, '/peer']) {
			my @m = measure($side->[1], $c, series_lua($side->[2]));
			push @{ $pair{"series $c"}{ $side->[0] } }, [ $m[0], $m[5] ];
			row(($side->[0] eq 'dashcgi' ? 'dashcgi' : 'peer (Fastify + postgres.js)') .
			    " GET /api/series/{sliId}?days=28, round $round", $c, @m,
			    $side->[0] eq 'dashcgi' ? 'target: <= 10 ms, >= 3x the peer' : '');
		}
	}
}

# Ingest: request n writes 1,000 new points: 50 SLIs (group n mod 4 of
# the 200) x 20 consecutive steps, going back in time from an hour ago;
# a thread's consecutive requests (its connections) and the threads
# take different groups, so requests in flight seldom wait for each
# other's SLI locks; 489 blocks x 4 groups before a point repeats.
# Twice: on the cluster as DashTest makes it (fsync and synchronous_commit
# off: the CPU cost), then durable (both on, every commit waits for its
# WAL flush, as on a production server), each into its own 200 SLIs.
for my $mode (['in', 'fsync off'], ['du', 'durable']) {
	my ($pfx, $how) = @$mode;
	if ($pfx eq 'du') {
		$t->psql("ALTER SYSTEM SET fsync = on;\nALTER SYSTEM SET synchronous_commit = on;\n"
		    . "ALTER SYSTEM SET full_page_writes = on;\nSELECT pg_reload_conf();\nCHECKPOINT;");
		my $d = $t->psql("SHOW fsync") . '/' . $t->psql("SHOW synchronous_commit");
		die "slo.pl: the cluster is not durable ($d)\n" unless $d eq 'on/on';
	}
	my $top = floor((time - 3600) / $RES) * $RES;
	my $lua = <<"LUA";
wrk.method = "POST"
wrk.path = "/api/v1/projects/ingest/sli-points"
wrk.headers["Content-Type"] = "application/json"
local threads, counter = 0, 0
setup = function(thread)
  thread:set("id", threads)
  threads = threads + 1
end
request = function()
  local n = $THREADS * counter + (id or 0)
  counter = counter + 1
  local group = (n + math.floor(n / 4)) % 4
  local block = math.floor(n / 4) % 489
  local parts = {}
  for s = 0, 19 do
    local t = os.date("!%Y-%m-%dT%H:%M:%SZ", $top - (block * 20 + s) * $RES)
    for k = 1, 50 do
      parts[#parts + 1] = '{"sli":"$pfx-' .. (group * 50 + k) .. '","t":"' .. t ..
        '","good":' .. (900 + k) .. ',"bad":' .. (k % 7) .. '}'
    end
  end
  return wrk.format(nil, nil, nil, "[" .. table.concat(parts, ",") .. "]")
end
LUA
	# No warm-up: every point it wrote would be one fewer new point.
	my $w = $WARMUP;
	$WARMUP = 0;
	($rps, $p50, $p99, $e, $n, $cpu) = measure($base, $ICONNS, $lua);
	$WARMUP = $w;
	my $stored = $t->psql("SELECT count(*) FROM sli_point p JOIN sli i ON " .
	    "i.key = p.sli WHERE i.project = 'ingest' AND i.id LIKE '$pfx-%'");
	row("POST …/sli-points, JSON batches of 1,000 new points ($how)", $ICONNS, $rps, $p50,
	    $p99, $e, $n, $cpu, sprintf('%.0f points/s; %.0f points per server CPU ' .
	    'second; %d points stored; target >= 100,000/s', $rps * 1000,
	    $cpu > 0 ? 1000 * 1000 / $cpu : 0, $stored));
}

for my $c (8, 32) {
	for my $round (1 .. $ROUNDS) {
		for my $side (['dashcgi', $base, $DASH], ['peer', $peer_url, $PDASH]) {
			my @m = measure($side->[1], $c, get_lua($side->[2]));
			push @{ $pair{"dashboard $c"}{ $side->[0] } }, [ $m[0], $m[5] ];
			row(($side->[0] eq 'dashcgi' ? "dashcgi GET $DASH" :
			    "peer GET $PDASH") . ", round $round", $c, @m);
		}
	}
}

# --------------------------------------------------------------------
# the report

sub mean { my $s = 0; $s += $_ for @_; return @_ ? $s / @_ : 0 }
my $cpuname = (slurp("/proc/cpuinfo") // '') =~ /^model name\s*:\s*(.+)$/m ? $1 : '?';
my $nproc = `nproc`; chomp $nproc;
my ($ver) = ($t->run_dashcgi({ no_config => 1 }, 'version'))[1] =~ /(\S.*\S)/;
print "\nSLO benchmark: $ver, $WORKERS dashcgi workers; peer: Fastify $fastify + " .
    "postgres.js $pgjs on Node.js " . `node --version` =~ s/\s+//r .
    ", " . ($ENV{PEER_PROCESSES} // $nproc) . " processes; wrk -t$THREADS, " .
    "${DUR}s runs after ${WARMUP}s warm-ups; $nproc CPUs ($cpuname), shared with " .
    "other users of the machine\n";
print "uptime before: $uptime_before\nuptime after:  " . uptime() . "\n\n";
printf "demo-data: %d SLOs, %d points in %.1f s wall, %.1f s of PostgreSQL CPU " .
    "(target <= 15 s; load average %s before)\n", scalar @slos, $npoints,
    $demo_wall, $demo_cpu, $l0;
print 'budget bands (remaining): ' . join(', ', map { "$_->[0] $_->[1]: " .
    ($band{ $_->[0] } // 0) } [healthy => '>= 85 %'], [minor => '70-85 %'],
    [moderate => '50-70 %'], [critical => '10-50 %'], [breached => '< 10 %']) . "\n\n";
print "| row | connections | requests/s | p50 ms | p99 ms | server CPU ms/request | errors | notes |\n" .
    "|---|---|---|---|---|---|---|---|\n";
print "$_\n" for @rows;
print "\n";
for my $k ('series 1', 'series 8', 'dashboard 8', 'dashboard 32') {
	my ($d, $p) = map { my $x = $pair{$k}{$_}; [ mean(map { $_->[0] } @$x),
	    mean(map { $_->[1] } @$x) ] } qw(dashcgi peer);
	printf "%s connections: dashcgi %.0f req/s (%.2f CPU ms/request), peer %.0f " .
	    "req/s (%.2f CPU ms/request): %.2fx the requests/s, %.2fx less CPU per request\n",
	    $k, $d->[0], $d->[1], $p->[0], $p->[1], $p->[0] > 0 ? $d->[0] / $p->[0] : 0,
	    $d->[1] > 0 ? $p->[1] / $d->[1] : 0;
}
print "\nstatus of SLO $one->[0] (GET /api/v1/projects/$PROJECT/slos/$one->[0]/status):\n" .
    JSON::PP->new->pretty->canonical->encode($t->json($status));
