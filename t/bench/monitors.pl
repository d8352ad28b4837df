#!/usr/bin/perl
# t/bench/monitors.pl -- uptime monitors at scale (SPEC §9, issue 12):
#
#   1. the status page of BENCH_MONITORS (1000) monitors with 90 days of
#      day roll-ups and BENCH_HOUR_DAYS (7) days of hour roll-ups, all
#      generated in SQL: server time of GET /api/v1/projects/{p}/status
#      (dashcgi's own request log, duration_ms) over BENCH_REQUESTS (30)
#      requests;
#   2. one monitor's uptime with its 90-day daily series;
#   3. the checker: BENCH_CHECK_MONITORS (600) monitors at a
#      BENCH_CHECK_INTERVAL (10s) interval against the loopback target
#      for BENCH_CHECK_SECONDS (60) s: share of checks started within
#      2 s of their due time, and the checker's CPU (utime + stime from
#      /proc) as a share of one core.
#
#   perl -It/lib t/bench/monitors.pl      (from the build tree, as make bench)
use strict;
use warnings;
use Time::HiRes qw(sleep time);
use DashTest;

my $N = $ENV{BENCH_MONITORS} // 1000;
my $HOUR_DAYS = $ENV{BENCH_HOUR_DAYS} // 7;
my $REQ = $ENV{BENCH_REQUESTS} // 30;
my $CN = $ENV{BENCH_CHECK_MONITORS} // 600;
my $CI = $ENV{BENCH_CHECK_INTERVAL} // '10s';
my $CS = $ENV{BENCH_CHECK_SECONDS} // 60;

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
	return ($ms[@ms / 2], $ms[int(@ms * 0.95)], $ms[0], $wall[@wall / 2], $bytes);
}

my $path = '/api/v1/projects/bench/status';
server_ms($path, 3);	# warm-up
my ($med, $p95, $min, $wall, $bytes) = server_ms($path, $REQ);
printf "status page, %d monitors: server time median %.1f ms, p95 %.1f ms, "
    . "min %.1f ms (through nginx: median %.1f ms); %d bytes\n",
    $N, $med, $p95, $min, $wall, $bytes;
my $uptime = '/api/v1/projects/bench/monitors/mon-00001/uptime';
server_ms($uptime, 3);
($med, $p95, $min, $wall, $bytes) = server_ms($uptime, $REQ);
printf "# yardstick now: %.0f ms\n", yardstick();
printf "one monitor's uptime with the 90-day series: server time median %.1f ms, "
    . "p95 %.1f ms; %d bytes\n", $med, $p95, $bytes;

# --- the checker -----------------------------------------------------------
exit 0 if !$CN;
my $dir = $t->tmpdir;
my $tpid = $t->spawn([$^X, $t->srcdir . '/t/monitor-target.pl', "$dir/target.port", $dir]);
my $end = time + 10;
sleep 0.05 while !-s "$dir/target.port" && time < $end;
my $port = do { local (@ARGV) = ("$dir/target.port"); my $l = <>; chomp $l; $l };
$t->psql(<<"SQL");
UPDATE monitor SET paused = true;
INSERT INTO monitor (project, name, spec, every, created_by, updated_by, next_due)
SELECT 'bench', 'chk-' || i, jsonb_build_object('url',
       'http://127.0.0.1:$port/?delay=' || (i % 50), 'interval', '$CI', 'timeout', '5s'),
       interval '$CI', 'b', 'b',
       now() + interval '3 seconds' + (i % 100) * (interval '$CI' / 100)
  FROM generate_series(1, $CN) i;
SQL
$t->stop_dashcgi('TERM', 10);
$t->write_config({ monitors => { checkers => 1 } });
$t->start_dashcgi(wait => 1);
sleep 2;
my ($cpid) = map { $_->{pid} } $t->log_lines(qr/msg="checker started;/);
sub cpu { my @f = split / /, `cat /proc/$_[0]/stat`; return ($f[13] + $f[14]) / 100 }
my ($c0, $w0) = (cpu($cpid), time);
my $since = $t->psql('SELECT now()');
sleep $CS;
my ($c1, $w1) = (cpu($cpid), time);
my ($n, $late2, $p99, $max) = split /\|/, $t->psql(<<"SQL");
SELECT count(*), count(*) FILTER (WHERE at - due > interval '2 seconds'),
       round(percentile_disc(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM at - due) * 1000)),
       round(max(extract(epoch FROM at - due) * 1000))
  FROM check_result WHERE due >= '$since'::timestamptz AND due IS NOT NULL
SQL
my $dups = $t->psql("SELECT count(*) FROM (SELECT 1 FROM check_result WHERE due IS NOT NULL"
    . " GROUP BY monitor_id, due HAVING count(*) > 1) d");
printf "checker: %d monitors at %s for %d s: %d checks, %.3f %% started within 2 s "
    . "of their due time (p99 %s ms, max %s ms late), %d duplicates; checker CPU %.1f %% of one core\n",
    $CN, $CI, $CS, $n, $n ? 100 * ($n - $late2) / $n : 0, $p99, $max, $dups,
    100 * ($c1 - $c0) / ($w1 - $w0);
printf "# load average at the end: %s", `cat /proc/loadavg`;
$t->stop_spawned($tpid);
