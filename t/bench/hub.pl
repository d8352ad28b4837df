#!/usr/bin/perl
# t/bench/hub.pl -- the incident hub's numbers (issue 13): wrk through
# nginx against dashcgi under DashTest (its own PostgreSQL 15 cluster):
#
#   - event ingest, NDJSON batches of 500 (events/s, latency per batch);
#   - event ingest, one event per request;
#   - PagerDuty Events v2 single triggers (1,000 dedup keys: new
#     incidents and counted ones mixed), beside their yardstick: pgbench
#     running the very statement dashcgi runs for one (hub_pd_event(),
#     read from src/api/hub.c: the whole change, audit row included, in
#     one round trip) on as many connections as dashcgi has workers --
#     what the database alone does with the same work.  Twice: on the
#     cluster as DashTest makes it (fsync and synchronous_commit off: the
#     CPU cost), then durable (both on, as a production server runs);
#   - 50 concurrent triggers of one dedup key (one incident, count 50?);
#   - 200 threshold rules evaluated in one hub_evaluate() pass;
#   - 200 rules of the three types (threshold, slo_burn over a 65-SLO
#     fleet, monitor_down over 100 monitors) in one pass.
#
# Run from a build tree (a release build: no sanitizers):
#   cd _rel && perl -I../t/lib ../t/bench/hub.pl
# Environment: BENCH_DURATION (10 s per row), BENCH_CONNECTIONS (4),
# BENCH_THREADS (2), BENCH_WORKERS (2).  Every wait is bounded.
use strict;
use warnings;
use MIME::Base64 qw(encode_base64);
use Time::HiRes qw(time sleep);
use DashTest;

my $DUR = $ENV{BENCH_DURATION} // 10;
my $CONNS = $ENV{BENCH_CONNECTIONS} // 4;
my $THREADS = $ENV{BENCH_THREADS} // 2;
my $WORKERS = $ENV{BENCH_WORKERS} // 2;

my $t = DashTest->new(workers => $WORKERS,
    config => { log => { level => 'warn' }, hub => { evaluators => 0 } });
$t->psql(<<'SQL');
INSERT INTO project (name, created_by, updated_by) VALUES ('p1', 't', 't');
INSERT INTO project_member (project, user_name, role, created_by, updated_by)
    VALUES ('p1', 'carol', 'editor', 't', 't'), ('p1', 'dave', 'admin', 't', 't');
SQL
my $key = $t->json($t->request(POST => '/api/v1/projects/p1/integrations', user => 'dave',
    json => { name => 'bench' }))->{key} or die "no integration key\n";
my $auth = 'Basic ' . encode_base64('carol:pw-carol', '');
my $tmp = $t->tmpdir;

sub lq { my $s = shift; $s =~ s/\\/\\\\/g; $s =~ s/"/\\"/g; $s =~ s/\n/\\n/g; return qq("$s") }

# wrk with a Lua script; returns (requests/s, p50 ms, p99 ms, non-2xx).
sub wrk {
	my ($name, $lua) = @_;
	my $f = "$tmp/$name.lua";
	open(my $fh, '>', $f) or die;
	print $fh $lua, <<'LUA';
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %.3f %.3f %.3f %d\n", summary.requests,
    summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.errors.status + summary.errors.connect
    + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
LUA
	close $fh;
	my $out = `timeout @{[ $DUR + 30 ]} wrk -t$THREADS -c$CONNS -d${DUR}s --timeout 10s -s $f @{[ $t->url('/') ]} 2>&1`;
	my ($n, $secs, $p50, $p99, $err) = $out =~ /RESULT (\d+) ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/
	    or die "wrk: $out";
	return ($n / $secs, $p50, $p99, $err, $n);
}

my @rows;
my $at = '';
my $batch = join('', map { qq({"topic":"bench","data":{"metric":"latency_ms","value":$_,"windowKey":"k) . ($_ % 20) . qq(","level":") . ($_ % 50 ? 'info' : 'error') . qq("}}\n) } 1 .. 500);
{
	my ($rps, $p50, $p99, $err) = wrk('batch', qq(wrk.method = "POST"\nwrk.path = "/api/v1/projects/p1/events"\n)
	    . qq(wrk.headers["Authorization"] = "$auth"\nwrk.headers["Content-Type"] = "application/x-ndjson"\n)
	    . 'wrk.body = ' . lq($batch) . "\n");
	push @rows, sprintf('| events, NDJSON batches of 500 | %.0f events/s (%.1f batches/s) | %.1f ms | %.1f ms | %d |',
	    $rps * 500, $rps, $p50, $p99, $err);
}
{
	my ($rps, $p50, $p99, $err) = wrk('single', qq(wrk.method = "POST"\nwrk.path = "/api/v1/projects/p1/events"\n)
	    . qq(wrk.headers["Authorization"] = "$auth"\nwrk.headers["Content-Type"] = "application/x-ndjson"\n)
	    . 'wrk.body = ' . lq(qq({"topic":"one","data":{"metric":"one","value":1}}\n)) . "\n");
	push @rows, sprintf('| events, one per request | %.0f events/s | %.1f ms | %.1f ms | %d |', $rps, $p50, $p99, $err);
}
# PagerDuty triggers through nginx and dashcgi, then the yardstick:
# pgbench -M prepared running dashcgi's own statement for the same
# events (its $n as pgbench variables; $11, the client's request id,
# is NULL as for wrk's requests, and pgbench cannot bind a NULL).
my $pgbin = $ENV{DASHCGI_PGBIN} // '/usr/lib/postgresql/15/bin';
my $pgbench = -x "$pgbin/pgbench" ? "$pgbin/pgbench" : die "hub.pl: $pgbin/pgbench not found\n";
my ($pd_sql) = do {
	open(my $fh, '<', $t->srcdir . '/src/api/hub.c') or die "hub.pl: hub.c: $!\n";
	local $/;
	my $c = <$fh>;
	$c =~ /\[HB_PD_EVENT\]\s*=\s*\{\s*"hub_pd_event",\s*((?:"(?:[^"\\]|\\.)*"\s*)+),\s*11\s*\}/
	    or die "hub.pl: no statement [HB_PD_EVENT] in src/api/hub.c\n";
	(join('', $1 =~ /"((?:[^"\\]|\\.)*)"/g));
};
my %pd_var = (1 => ':rk', 2 => "'trigger'", 3 => "('k' || :k)", 4 => "'bench'",
    5 => "'high'", 6 => "'bench'", 7 => ':meta', 8 => "'incident.enqueue'",
    9 => "'127.0.0.1'", 10 => ':rid', 11 => 'NULL');
(my $pd_bench = $pd_sql) =~ s/\$(\d+)\b/$pd_var{$1} \/\/ die "hub.pl: \$$1?\n"/ge;
sub pgbench_pd {
	my ($tag) = @_;
	my $script = "$tmp/pd-$tag.sql";
	open(my $fh, '>', $script) or die;
	print $fh "\\set k random(1, 1000)\n\\set rid random(1, 1000000000)\n$pd_bench;\n";
	close $fh;
	my $prefix = "$tmp/pgbench-$tag";
	my $out = `timeout @{[ $DUR + 60 ]} $pgbench -n -M prepared -c$WORKERS -j1 -T$DUR -l --log-prefix=$prefix -h @{[ $t->pg_socket_dir ]} -p @{[ $t->pg_port ]} -U postgres -f $script -D rk=$key -D 'meta={"payload":{"summary":"bench","source":"bench","severity":"error"}}' dashcgi 2>&1`;
	my ($tps) = $out =~ /^tps = ([0-9.]+) \(without initial connection time\)/m
	    or die "hub.pl: pgbench: $out";
	my ($failed) = ($out =~ /^number of failed transactions: (\d+)/m, 0);
	my @lat;
	for my $f (glob("$prefix.*")) {
		open(my $l, '<', $f) or die;
		while (<$l>) {
			my @x = split ' ';
			push @lat, $x[2] / 1000 if @x >= 3 && $x[2] =~ /^\d+$/;
		}
		close $l;
		unlink $f;
	}
	@lat = sort { $a <=> $b } @lat;
	die "hub.pl: pgbench logged no transaction\n" unless @lat;
	return ($tps, $lat[int($#lat * 0.5)], $lat[int($#lat * 0.99)], $failed);
}
my $pd_lua = <<"LUA";
request = function()
  local body = '{"routing_key":"$key","event_action":"trigger","dedup_key":"k' .. math.random(1, 1000) ..
    '","payload":{"summary":"bench","source":"bench","severity":"error"}}'
  return wrk.format("POST", "/v2/enqueue", { ["Content-Type"] = "application/json" }, body)
end
LUA
sub pd_rows {
	my ($tag, $what) = @_;
	my ($rps, $p50, $p99, $err) = wrk("pd-$tag", $pd_lua);
	my ($ytps, $y50, $y99, $yerr) = pgbench_pd($tag);
	push @rows, sprintf('| PagerDuty v2 single triggers, %s | %.0f events/s | %.1f ms | %.1f ms | %d |',
	    $what, $rps, $p50, $p99, $err);
	push @rows, sprintf('| yardstick: pgbench, the same statement, %d connections, %s | %.0f tx/s (dashcgi %.0f%%) | %.1f ms | %.1f ms | %d |',
	    $WORKERS, $what, $ytps, 100 * $rps / $ytps, $y50, $y99, $yerr);
}
my $pd_load = `cat /proc/loadavg`;
chomp $pd_load;
pd_rows('fast', 'fsync off');
my $ev = $t->psql("SELECT count(*) FROM raw_event");
my $inc = $t->psql("SELECT count(*) || ' incidents, ' || sum(count) || ' triggers' FROM incident");

# The same, durable: every commit waits for its WAL flush (group
# commit across the workers' connections), as on a production server.
$t->psql("ALTER SYSTEM SET fsync = on;\nALTER SYSTEM SET synchronous_commit = on;\n"
    . "ALTER SYSTEM SET full_page_writes = on;\nSELECT pg_reload_conf();\nCHECKPOINT;");
my $durable = $t->psql("SHOW fsync") . '/' . $t->psql("SHOW synchronous_commit");
die "hub.pl: the cluster is not durable ($durable)\n" unless $durable eq 'on/on';
pd_rows('durable', 'durable');

# 50 concurrent triggers of one key.
my @pids;
for my $i (1 .. 50) {
	push @pids, $t->bg(sub {
		my $r = $t->request(POST => '/v2/enqueue', json => { routing_key => $key,
		    event_action => 'trigger', dedup_key => 'storm',
		    payload => { summary => "storm $i", source => 'b', severity => 'critical' } });
		return $r->{status} == 202 ? 0 : 1;
	});
}
my $fails = 0;
$fails += ($t->wait_pid($_, 60) // 1) for @pids;
my $storm = $t->psql("SELECT count(*) || ' incident(s), count ' || max(count) FROM incident WHERE dedup_key = 'storm'");

# 200 rules over metrics_agg, one evaluation pass.
$t->psql(<<'SQL');
INSERT INTO alert_rule (project, name, spec, created_by, updated_by)
SELECT 'p1', 'r' || i, jsonb_build_object('type', 'threshold', 'metric', 'latency_ms',
    'windowKey', 'k' || (i % 20), 'window', '5m', 'aggregate', (ARRAY['avg','max','sum','count'])[i % 4 + 1],
    'op', '>', 'threshold', CASE WHEN i % 2 = 0 THEN 1e12 ELSE 0 END, 'for', '0s',
    'severity', 'high', 'channels', '[]', 'enabled', true), 't', 't'
FROM generate_series(1, 200) i;
SQL
# One evaluation pass, as the evaluator runs it (slo.resolution 5m); ms.
sub passes {
	my @ms;
	for (1 .. 3) {
		my $out = $t->psql("\\timing on\nSELECT hub_evaluate(-4602630268110497039, interval '5 minutes');");
		push @ms, $1 if $out =~ /Time: ([\d.]+) ms/;
	}
	return @ms;
}
my @passes = passes();
my $opened = $t->psql("SELECT count(*) FROM incident WHERE source = 'rule'");

# 200 rules of the three types: 70 threshold (as above), 65 slo_burn
# over an SLO fleet of 65 SLOs with 3 days of 5-minute points (dashcgi
# demo-data), 65 monitor_down over 100 monitors (20 down) with names,
# wildcards and "*".
my ($drc, undef, $derr) = $t->run_dashcgi({ timeout => 300 }, 'demo-data', '--project', 'p1',
    '--slos', 65, '--days', 3, '--seed', 1);
die "demo-data: $derr" if $drc != 0;
$t->psql(<<'SQL');
DELETE FROM incident WHERE source = 'rule';
DELETE FROM alert_rule WHERE project = 'p1' AND name::text ~ '^r[0-9]+$' AND substring(name FROM 2)::int > 70;
INSERT INTO monitor (project, name, spec, every, created_by, updated_by, state, state_since)
SELECT 'p1', (ARRAY['shop','api','db','edge'])[i % 4 + 1] || '-' || i, '{}', '1 minute', 't', 't',
    CASE WHEN i % 5 = 0 THEN 'down' ELSE 'up' END, now() - interval '10 minutes'
FROM generate_series(1, 100) i;
INSERT INTO alert_rule (project, name, spec, created_by, updated_by)
SELECT 'p1', 'b' || row_number() OVER (ORDER BY name), jsonb_build_object('type', 'slo_burn', 'slo', name,
    'for', '0s', 'channels', '[]', 'enabled', true), 't', 't'
FROM slo WHERE project = 'p1';
INSERT INTO alert_rule (project, name, spec, created_by, updated_by)
SELECT 'p1', 'm' || i, jsonb_build_object('type', 'monitor_down', 'monitors', CASE i % 3
    WHEN 0 THEN jsonb_build_array((ARRAY['shop','api','db','edge'])[i % 4 + 1] || '-' || i)
    WHEN 1 THEN jsonb_build_array((ARRAY['shop','api','db','edge'])[i % 4 + 1] || '-*')
    ELSE '["*"]' END, 'for', '1m', 'severity', 'high', 'channels', '[]', 'enabled', true), 't', 't'
FROM generate_series(1, 65) i;
SQL
my $mixed = $t->psql("SELECT string_agg(t || '=' || n, ' ' ORDER BY t) FROM (SELECT spec ->> 'type' AS t, "
    . "count(*) AS n FROM alert_rule WHERE project = 'p1' GROUP BY 1) x");
my @mixed = passes();
my $mopened = $t->psql("SELECT count(*) FROM incident WHERE source = 'rule'");

my $cpu = `nproc`; chomp $cpu;
my $load = `cat /proc/loadavg`; chomp $load;
print "\nhub benchmark: $WORKERS workers, wrk -t$THREADS -c$CONNS -d${DUR}s, $cpu CPUs (shared), loadavg $load\n";
print "loadavg before the PagerDuty rows: $pd_load\n";
print "yardstick: pgbench -M prepared -c$WORKERS running dashcgi's statement for one PagerDuty event:\n  $pd_sql\n\n";
print "| row | throughput | p50 | p99 | errors |\n|---|---|---|---|---|\n";
print "$_\n" for @rows;
print "\nstored: $ev events; $inc\n";
print "50 concurrent PagerDuty triggers of one key: $storm ($fails failed requests)\n";
printf "200 threshold rules (100 firing): hub_evaluate() passes of %s ms; %s rule incidents opened\n",
    join(', ', @passes), $opened;
printf "200 rules of every type (%s): hub_evaluate() passes of %s ms; %s rule incidents opened\n",
    $mixed, join(', ', @mixed), $mopened;
