#!/usr/bin/perl
# t/bench/monitors.pl -- uptime monitors at scale (SPEC §9, issue 12):
#
#   1. the status page of BENCH_MONITORS (1000) monitors with 90 days of
#      day roll-ups and BENCH_HOUR_DAYS (7) days of hour roll-ups, all
#      generated in SQL: server time of GET /api/v1/projects/{p}/status
#      (dashcgi's own request log, duration_ms) over BENCH_REQUESTS (30)
#      requests, beside a yardstick measured in the same run;
#   2. one monitor's uptime with its 90-day daily series;
#   3. the checker against the loopback target, one run per entry of
#      BENCH_CHECKER ("2000:60s:180,10000:5m:330": monitors, interval,
#      seconds measured): share of the checks due in the window that
#      started within 2 s of their due time, checks missed (due, never
#      run), duplicates, and the checker's CPU (utime + stime from
#      /proc) as a share of one core;
#   4. PostgreSQL restarted under load (BENCH_RESTART "2000:60s:150:45:10":
#      monitors, interval, seconds, restart after, seconds down): checks
#      due while it was down (missed), the first result after it came
#      back, and the share on time after it.
#
#   perl -It/lib t/bench/monitors.pl      (from the build tree, as make bench)
use strict;
use warnings;
use Time::HiRes qw(sleep time);
use DashTest;

my $N = $ENV{BENCH_MONITORS} // 1000;
my $HOUR_DAYS = $ENV{BENCH_HOUR_DAYS} // 7;
my $REQ = $ENV{BENCH_REQUESTS} // 30;
my @RUNS = map { [ split /:/ ] } split /,/,
    $ENV{BENCH_CHECKER} // '2000:60s:180,10000:5m:330';
my $RESTART = [ split /:/, $ENV{BENCH_RESTART} // '2000:60s:150:45:10' ];

my $t = DashTest->new(workers => 2, watchdog => 1800, config => {
    log => { level => 'info' },
    monitors => { checkers => 0, min_interval => '1s',
	allow_private => JSON::PP::true, concurrency => 256 } });

printf "# machine: %s, load average %s", `nproc` =~ s/\s+//r . ' cores',
    `cat /proc/loadavg`;
# A yardstick for how busy the machine is: PostgreSQL counting a
# million rows (about 60 ms on an idle core of a current x86).
sub yardstick {
	my $w = time;
	$t->psql('SELECT count(*) FROM generate_series(1, 1000000)');
	return (time - $w) * 1000;
}
printf "# yardstick: count(*) of 1e6 generated rows took %.0f ms\n", yardstick();
# The same yardstick in CPU time of its PostgreSQL backend (utime +
# stime from /proc): a loaded machine stretches wall time far more than
# CPU time, so the read paths are also given in backend CPU ms.
my $TICK = 100;	# USER_HZ
my $CPU;	# the workers' backends' CPU ms a request, of the last server_ms
sub ticks { my @f = split / /, (DashTest::_slurp("/proc/$_[0]/stat") // '') =~ s/^.*\)\s+//sr;
	return ($f[11] // 0) + ($f[12] // 0) }
sub yardstick_cpu {
	my $out = $t->psql("SELECT pg_backend_pid() AS pid \\gset\n\\setenv BPID :pid\n"
	    . "\\! awk '{print \"ticks\", \$14 + \$15}' /proc/\$BPID/stat\n"
	    . "SELECT count(*) FROM generate_series(1, 1000000);\n"
	    . "\\! awk '{print \"ticks\", \$14 + \$15}' /proc/\$BPID/stat\n");
	my @t = $out =~ /^ticks (\d+)$/mg;
	return @t == 2 ? ($t[1] - $t[0]) * 1000 / $TICK : -1;
}

my $t0 = time;
$t->psql(<<"SQL", timeout => 1200);
INSERT INTO project (name, created_by, updated_by) VALUES ('bench', 'b', 'b');
INSERT INTO project_member (project, user_name, role, created_by, updated_by)
    VALUES ('bench', 'bob', 'viewer', 'b', 'b');
INSERT INTO monitor (project, name, spec, every, paused, created_by, updated_by,
    state, state_since, last_check)
SELECT 'bench', 'mon-' || lpad(i::text, 5, '0'),
       jsonb_build_object('url', 'http://127.0.0.1:9/', 'interval', '60s'),
       '60s', true, 'b', 'b', CASE WHEN i % 50 = 0 THEN 'down' ELSE 'up' END,
       now() - interval '3 days', now()
  FROM generate_series(1, $N) i;
-- A latency histogram around 100 ms (element 28) with a slow tail.
CREATE FUNCTION pg_temp.hist(n int) RETURNS int[] LANGUAGE sql VOLATILE AS \$\$
	SELECT array_agg(CASE WHEN k BETWEEN 24 AND 32
	    THEN (n * exp(-((k - 28) ^ 2) / 4.0) / 3.5449)::int
	    WHEN k = 45 THEN (random() * 3)::int ELSE 0 END ORDER BY k)
	  FROM generate_series(1, 64) k \$\$;
INSERT INTO monitor_rollup_day
SELECT m.id, date_trunc('day', now(), 'UTC') - d * interval '1 day', 1440,
       1440 - (random() * random() * 20)::int, 1440, 1440 * 105.0, 40, 1500,
       pg_temp.hist(1440)
  FROM monitor m, generate_series(0, 89) d WHERE m.project = 'bench';
INSERT INTO monitor_rollup_hour
SELECT m.id, date_trunc('hour', now(), 'UTC') - h * interval '1 hour', 60,
       60 - (random() * random() * 2)::int, 60, 60 * 105.0, 40, 1500,
       pg_temp.hist(60)
  FROM monitor m, generate_series(0, $HOUR_DAYS * 24 - 1) h WHERE m.project = 'bench';
SELECT sum(monitor_rollup_rebase(id)) FROM monitor WHERE project = 'bench';
ANALYZE monitor, monitor_rollup_day, monitor_rollup_hour;
SQL
# The rebase rewrote every roll-up row: vacuum as autovacuum would.
$t->psql("VACUUM ANALYZE $_", timeout => 600) for qw(monitor monitor_rollup_day monitor_rollup_hour);
printf "# generated %d monitors, %s day and %s hour roll-ups in %.1f s\n", $N,
    $t->psql('SELECT count(*) FROM monitor_rollup_day'),
    $t->psql('SELECT count(*) FROM monitor_rollup_hour'), time - $t0;

sub server_ms {
	my ($path, $n) = @_;
	my $mark = $t->log_mark;
	my ($bytes, @wall);
	my @be = split /,/, $t->psql("SELECT string_agg(pid::text, ',') FROM pg_stat_activity"
	    . " WHERE application_name LIKE 'dashcgi worker %'");
	my $c0 = 0;
	$c0 += ticks($_) for @be;
	for (1 .. $n) {
		my $w = time;
		my $r = $t->request(GET => $path, user => 'bob', timeout => 30);
		push @wall, (time - $w) * 1000;
		die "GET $path: $r->{status} $r->{content}\n" if $r->{status} != 200;
		$bytes = length $r->{content};
	}
	my @ms = sort { $a <=> $b } map { $_->{duration_ms} }
	    $t->log_lines(qr/msg=request[^\n]*path=\Q$path\E /, $mark);
	@wall = sort { $a <=> $b } @wall;
	my $c1 = 0;
	$c1 += ticks($_) for @be;
	$CPU = ($c1 - $c0) * 1000 / $TICK / $n;
	return ($ms[@ms / 2], $ms[int(@ms * 0.95)], $ms[0], $wall[@wall / 2], $bytes);
}

my $path = '/api/v1/projects/bench/status';
server_ms($path, 3);	# warm-up
my ($med, $p95, $min, $wall, $bytes) = server_ms($path, $REQ);
printf "status page, %d monitors: server time median %.1f ms, p95 %.1f ms, "
    . "min %.1f ms (through nginx: median %.1f ms); %d bytes; PostgreSQL CPU "
    . "%.0f ms a page (yardstick in CPU: %.0f ms)\n",
    $N, $med, $p95, $min, $wall, $bytes, $CPU, yardstick_cpu();
my $uptime = '/api/v1/projects/bench/monitors/mon-00001/uptime';
server_ms($uptime, 3);
($med, $p95, $min, $wall, $bytes) = server_ms($uptime, $REQ);
printf "# yardstick now: %.0f ms\n", yardstick();
printf "one monitor's uptime with the 90-day series: server time median %.1f ms, "
    . "p95 %.1f ms; %d bytes; PostgreSQL CPU %.1f ms a request (yardstick in "
    . "CPU: %.0f ms)\n", $med, $p95, $bytes, $CPU, yardstick_cpu();
printf "# load average: %s", `cat /proc/loadavg`;

# --- the checker -----------------------------------------------------------
exit 0 if !@RUNS && !@$RESTART;
my $dir = $t->tmpdir;
my $tpid = $t->spawn([$^X, $t->srcdir . '/t/monitor-target.pl', "$dir/target.port", $dir]);
my $end = time + 10;
sleep 0.05 while !-s "$dir/target.port" && time < $end;
my $port = do { local (@ARGV) = ("$dir/target.port"); my $l = <>; chomp $l; $l };
$t->psql('UPDATE monitor SET paused = true');
$t->stop_dashcgi('TERM', 10);
$t->write_config({ monitors => { checkers => 1 } });
$t->start_dashcgi(wait => 1);

sub cpu_of { my @f = split / /, (DashTest::_slurp("/proc/$_[0]/stat") // '') =~ s/^.*\)\s+//sr;
	return (($f[11] // 0) + ($f[12] // 0)) / 100 }
sub checker_pid {
	my @p = map { $_->{pid} } $t->log_lines(qr/msg="checker started;/);
	return $p[-1];
}

# One run: $n monitors at $iv, first checks spread over one interval
# from 5 s on; the window is the $secs seconds from then.  With
# $restart: PostgreSQL stops $restart s into the window for $down s.
sub checker_run {
	my ($n, $iv, $secs, $restart, $down) = @_;
	$t->psql(<<"SQL", timeout => 600);
DELETE FROM monitor WHERE name LIKE 'chk-%';
DROP TABLE IF EXISTS bench_due;
INSERT INTO monitor (project, name, spec, every, created_by, updated_by, next_due)
SELECT 'bench', 'chk-' || i, jsonb_build_object('url',
       'http://127.0.0.1:$port/?delay=' || (i % 50), 'interval', '$iv', 'timeout', '5s'),
       interval '$iv', 'b', 'b',
       now() + interval '5 seconds' + (i % 100) * (interval '$iv' / 100)
  FROM generate_series(1, $n) i;
CREATE TABLE bench_due AS SELECT id, next_due AS first_due, every FROM monitor
 WHERE name LIKE 'chk-%';
ANALYZE monitor;
SQL
	my $t0 = $t->psql("SELECT min(first_due) FROM bench_due");
	my $wait = $t->psql("SELECT extract(epoch FROM '$t0'::timestamptz - now())");
	sleep $wait if $wait > 0;
	my $pid = checker_pid();
	my ($c0, $w0) = (cpu_of($pid), time);
	my ($stop_at, $up_at);
	if (defined $restart) {
		sleep $restart;
		$stop_at = $t->psql('SELECT now()');
		$t->pg_stop('fast');
		sleep $down;
		$t->pg_start;
		$up_at = $t->psql('SELECT now()');
		sleep $secs - $restart - $down;
	} else {
		sleep $secs;
	}
	my ($c1, $w1) = (cpu_of($pid), time);
	my $pid1 = checker_pid();
	my $t1 = $t->psql("SELECT '$t0'::timestamptz + interval '$secs seconds'");
	$t->psql("UPDATE monitor SET paused = true WHERE name LIKE 'chk-%'");
	sleep 7;	# the last checks' timeout (5 s) and their records
	my $q = <<"SQL";
WITH due AS (SELECT b.id, g AS due FROM bench_due b,
	generate_series(b.first_due, '$t1'::timestamptz - interval '1 microsecond', b.every) g),
r AS (SELECT c.monitor_id, c.due, c.at FROM check_result c
       WHERE c.due >= '$t0' AND c.due < '$t1')
SELECT (SELECT count(*) FROM due), (SELECT count(*) FROM r),
       (SELECT count(*) FROM r WHERE at - due <= interval '2 seconds'),
       (SELECT round(percentile_disc(0.99) WITHIN GROUP
	   (ORDER BY extract(epoch FROM at - due) * 1000)) FROM r),
       (SELECT round(max(extract(epoch FROM at - due) * 1000)) FROM r),
       (SELECT count(*) FROM (SELECT 1 FROM r GROUP BY monitor_id, due
	   HAVING count(*) > 1) d),
       (SELECT count(*) FROM due d WHERE NOT EXISTS (SELECT 1 FROM r
	   WHERE r.monitor_id = d.id AND r.due = d.due))
SQL
	my ($exp, $got, $ontime, $p99, $max, $dups, $missed) = split /\|/, $t->psql($q);
	printf "checker: %d monitors at %s, %d s measured: %d checks due, %d run, "
	    . "%.3f %% of those due started within 2 s (p99 %s ms, max %s ms late), "
	    . "%d missed, %d duplicates; checker CPU %s\n", $n, $iv, $secs, $exp, $got,
	    $exp ? 100 * $ontime / $exp : 0, $p99 // '-', $max // '-', $missed, $dups,
	    $pid1 == $pid ? sprintf('%.1f %% of one core', 100 * ($c1 - $c0) / ($w1 - $w0))
	    : "not measured (the checker was restarted: pid $pid, then $pid1)";
	return unless defined $restart;
	my ($dmiss, $dgot, $first, $after, $after_ok) = split /\|/, $t->psql(<<"SQL");
WITH due AS (SELECT b.id, g AS due FROM bench_due b,
	generate_series(b.first_due, '$t1'::timestamptz - interval '1 microsecond', b.every) g),
r AS (SELECT c.monitor_id, c.due, c.at FROM check_result c
       WHERE c.due >= '$t0' AND c.due < '$t1')
SELECT (SELECT count(*) FROM due d WHERE d.due BETWEEN '$stop_at' AND '$up_at'
	 AND NOT EXISTS (SELECT 1 FROM r WHERE r.monitor_id = d.id AND r.due = d.due)),
       (SELECT count(*) FROM r WHERE r.due BETWEEN '$stop_at' AND '$up_at'),
       (SELECT round(extract(epoch FROM min(at) - '$up_at'::timestamptz)::numeric, 1)
	  FROM r WHERE r.at > '$up_at'),
       (SELECT count(*) FROM due WHERE due > '$up_at'::timestamptz + interval '5 seconds'),
       (SELECT count(*) FROM r WHERE due > '$up_at'::timestamptz + interval '5 seconds'
	 AND at - due <= interval '2 seconds')
SQL
	printf "restart: PostgreSQL down from %s to %s (%d s asked): %d checks due then "
	    . "were missed, %d due then were recorded; first result %s s after it was back; "
	    . "from 5 s after: %d of %d due (%.2f %%) on time\n", $stop_at, $up_at, $down,
	    $dmiss, $dgot, $first // '-', $after_ok, $after, $after ? 100 * $after_ok / $after : 0;
}

for my $r (@RUNS) {
	checker_run(@$r);
	printf "# load average: %s", `cat /proc/loadavg`;
}
if (@$RESTART) {
	checker_run(@$RESTART);
	printf "# load average: %s", `cat /proc/loadavg`;
}
$t->stop_spawned($tpid);
