#!/usr/bin/perl
# t/bench/datasource.pl -- dashcgi as a Prometheus datasource (issue 14)
# against a real Prometheus holding the same points, in the same run:
#
#   1. query_range of one SLI ratio (slo_sli_ratio{slo="…"}) over 28 days
#      at step 5m: 8,065 steps.  Goal: <= 10 ms server time.
#   2. slo_error_budget_remaining over all 124 demo SLOs, 28 days at
#      step 1h.  Goal: <= 100 ms server time.  dashcgi computes each
#      budget over its SLO's window from the SLI points (one point per
#      series, now); Prometheus reads 124 series of hourly samples
#      recorded beforehand (673 points each): its usual way to serve it.
#
# The yardstick: Debian's prometheus, loaded with `promtool tsdb
# create-blocks-from openmetrics` from dashcgi's own points (every SLI
# ratio of the fleet at 5m, every budget series hourly), answering the
# same query_range on loopback.  Goal: dashcgi within 2x of it.
# Server time is dashcgi's own duration_ms (its log); wall time is the
# client's, through nginx for dashcgi, direct for Prometheus, and for
# Prometheus through dashcgi's HTTPProxy (nginx proxies it).
#
# Run from a build tree (a release build: no sanitizers):
#   cd _rel && perl -I../t/lib ../t/bench/datasource.pl
# Environment: BENCH_RUNS (30 per row), BENCH_WORKERS (2).  Every wait
# is bounded.
use strict;
use warnings;
use HTTP::Tiny;
use JSON::PP ();
use Time::HiRes qw(time sleep);
use DashTest;

my $RUNS = $ENV{BENCH_RUNS} // 30;
my $WORKERS = $ENV{BENCH_WORKERS} // 2;

my $t = DashTest->new(workers => $WORKERS, watchdog => 3600,
    config => { auth => { admins => ['admin'] } });
my $tmp = $t->tmpdir;
my $JSON = JSON::PP->new->utf8->canonical;
my $http = HTTP::Tiny->new(timeout => 60);

print "datasource bench: generating the demo fleet (124 SLOs, 28 days) ...\n";
my ($rc, $out, $err) = $t->run_dashcgi({ timeout => 600 }, 'demo-data',
    '--project', 'demo');
die "demo-data failed ($rc): $err\n" unless $rc == 0;
$t->psql("INSERT INTO project_member (project, user_name, role, created_by,"
    . " updated_by) VALUES ('demo', 'bob', 'viewer', 't', 't')");
# On the hour: Prometheus sees an hourly budget sample only within its
# 5-minute lookback, so the 1h steps must fall on the samples.
my $end = int(time / 3600) * 3600;
my $start = $end - 28 * 86400;
my $slo = $t->psql("SELECT name FROM slo WHERE project = 'demo' ORDER BY name LIMIT 1");
my $nslo = $t->psql("SELECT count(*) FROM slo WHERE project = 'demo'");

# The same points for Prometheus, as OpenMetrics.
my $t0 = time;
print "datasource bench: exporting the points and building TSDB blocks ...\n";
my $om = "$tmp/fleet.om";
$t->psql(<<"SQL", timeout => 900);
\\o $om
\\pset format unaligned
\\pset tuples_only on
SELECT '# TYPE slo_sli_ratio gauge';
SELECT format('slo_sli_ratio{project="%s",sli="%s",slo="%s",window="5m"} %s %s',
       labels->>'project', labels->>'sli', labels->>'slo', v,
       extract(epoch FROM t)::bigint)
  FROM ds_slo_ratio_points(ARRAY['demo'], to_timestamp($start) - interval '5 minutes',
       to_timestamp($end), interval '5 minutes')
 ORDER BY labels->>'slo', labels->>'sli', t;
SELECT '# TYPE slo_error_budget_remaining gauge';
SELECT format('slo_error_budget_remaining{project="%s",sli="%s",slo="%s"} %s %s',
       labels->>'project', labels->>'sli', labels->>'slo', v,
       extract(epoch FROM t)::bigint)
  FROM ds_slo_ratio_points(ARRAY['demo'], to_timestamp($start) - interval '5 minutes',
       to_timestamp($end), interval '5 minutes')
 WHERE extract(minute FROM t) = 0
 ORDER BY labels->>'slo', labels->>'sli', t;
SELECT '# EOF';
\\o
SQL
my $samples = `grep -vc '^#' $om`;
chomp $samples;
my $promtool = DashTest::_which('promtool', '/usr/bin') or die "no promtool\n";
my $prom_bin = DashTest::_which('prometheus', '/usr/bin') or die "no prometheus\n";
mkdir "$tmp/prom-data";
# One block for the 28 days (a hidden flag of promtool 2.42; without it
# promtool reads the whole input again for every 2-hour block).
my ($brc, $bout, $berr) = $t->run_cmd([$promtool, 'tsdb',
    'create-blocks-from', 'openmetrics', '--max-block-duration=840h', '-q',
    $om, "$tmp/prom-data"], timeout => 900);
die "promtool failed ($brc): $berr$bout\n" unless $brc == 0;
unlink $om;
printf "datasource bench: %d samples exported and loaded in %.0f s\n",
    $samples, time - $t0;

my $pport = DashTest::free_port();
open(my $fh, '>', "$tmp/prometheus.yml") or die $!;
print $fh "global:\n  scrape_interval: 1m\nscrape_configs: []\n";
close $fh;
my $prom = $t->spawn([$prom_bin, "--config.file=$tmp/prometheus.yml",
    "--storage.tsdb.path=$tmp/prom-data", '--storage.tsdb.retention.time=90d',
    "--web.listen-address=127.0.0.1:$pport"], log => "$tmp/prometheus.log");
my $PROM = "http://127.0.0.1:$pport";
my $ready;
for (1 .. 600) {
	my $r = $http->get("$PROM/-/ready");
	if ($r->{success}) { $ready = 1; last }
	sleep 0.5;
}
die "Prometheus not ready in 300 s\n" unless $ready;

my $r = $t->request(POST => '/api/v1/globaldatasources', user => 'admin',
    json => { kind => 'GlobalDatasource', metadata => { name => 'prom' },
    spec => { plugin => { kind => 'PrometheusDatasource', spec => {
    proxy => { kind => 'HTTPProxy', spec => { url => $PROM,
    allowedEndpoints => [ { endpointPattern => '/api/v1/query_range',
    method => 'POST' } ] } } } } } });
die "global datasource prom: $r->{content}\n" unless $r->{status} == 200;

sub esc { my $s = shift; $s =~ s/([^A-Za-z0-9\-_.~])/sprintf('%%%02X', ord $1)/ge; $s }
sub median { my @s = sort { $a <=> $b } @_; return $s[$#s / 2] }
sub p90 { my @s = sort { $a <=> $b } @_; return $s[int($#s * 0.9)] }

# One row: the form of a query_range; runs it $RUNS times (after 3
# warm-up runs) through each path; returns the measured figures.
sub row {
	my ($name, $q, $step) = @_;
	my $form = 'query=' . esc($q) . "&start=$start&end=$end&step=$step";
	my %res;
	for my $path (
	    [ 'dashcgi', sub { $t->request(POST =>
		'/proxy/globaldatasources/dashcgi/api/v1/query_range',
		user => 'bob', body => $form,
		content_type => 'application/x-www-form-urlencoded') } ],
	    [ 'prometheus', sub { my $x = $http->post("$PROM/api/v1/query_range",
		{ headers => { 'Content-Type' =>
		'application/x-www-form-urlencoded' }, content => $form });
		{ status => $x->{status}, content => $x->{content} } } ],
	    [ 'proxied', sub { $t->request(POST =>
		'/proxy/globaldatasources/prom/api/v1/query_range',
		user => 'bob', body => $form,
		content_type => 'application/x-www-form-urlencoded') } ]) {
		my ($who, $call) = @$path;
		my (@wall, $body);
		for my $i (1 .. $RUNS + 3) {
			my $mark = $t->log_mark;
			my $t0 = time;
			my $x = $call->();
			my $dt = (time - $t0) * 1000;
			die "$name, $who: $x->{status} $x->{content}\n"
			    unless $x->{status} == 200;
			$body = $x->{content};
			push @wall, $dt if $i > 3;
		}
		my $j = $JSON->decode($body);
		my $points = 0;
		$points += @{ $_->{values} } for @{ $j->{data}{result} };
		$res{$who} = { wall => median(@wall), wall90 => p90(@wall),
		    series => scalar @{ $j->{data}{result} }, points => $points,
		    bytes => length $body };
	}
	# dashcgi's server time: duration_ms of its query_range requests.
	my @srv = map { $_->{duration_ms} } grep { ($_->{route} // '') eq
	    '/proxy/globaldatasources/dashcgi/api/v1/query_range' }
	    $t->log_lines(qr/query_range/);
	@srv = @srv[-$RUNS .. -1] if @srv > $RUNS;
	$res{server} = median(@srv);
	$res{server90} = p90(@srv);
	$res{explain} = explain($q, $step);
	return { name => $name, %res };
}

# PostgreSQL's own time for the statement dashcgi runs (EXPLAIN ANALYZE
# without per-node timing: its Execution Time), median of $RUNS, in one
# session as a worker's: what the shared machine's load adds to the
# server time shows beside it.
sub explain {
	my ($q, $step) = @_;
	my $json = JSON::PP->new->canonical->encode({ metric => undef,
	    matchers => [], agg => undef, grouping => undef, labels => [] });
	my $parsed = $q =~ /^(\w+)\{(\w+)="([^"]*)"\}$/
	    ? JSON::PP->new->canonical->encode({ metric => $1,
		matchers => [[$2, '=', $3]], agg => undef, grouping => undef,
		labels => [] })
	    : JSON::PP->new->canonical->encode({ metric => $q, matchers => [],
		agg => undef, grouping => undef, labels => [] });
	my $sql = "EXPLAIN (ANALYZE, TIMING OFF) SELECT labels, t, v FROM"
	    . " ds_eval(ds_projects('bob', false, NULL), '$parsed'::jsonb,"
	    . " ${start}000000, ${end}000000, ${step}000000, false);\n";
	my $out = $t->psql($sql x ($RUNS + 3), timeout => 600);
	my @ms = $out =~ /Execution Time: ([\d.]+) ms/g;
	splice(@ms, 0, 3);
	return { median => median(@ms), p90 => p90(@ms) };
}

my @rows = (
    row("1. slo_sli_ratio{slo=\"$slo\"}, 28d at 5m", "slo_sli_ratio{slo=\"$slo\"}", 300),
    row("2. slo_error_budget_remaining, $nslo SLOs, 28d at 1h",
	'slo_error_budget_remaining', 3600),
);

my $cpu = `nproc`; chomp $cpu;
my $up = `uptime`; chomp $up;
my $load = `cat /proc/loadavg`; chomp $load;
print "\ndatasource benchmark: $WORKERS workers, $RUNS runs a row after 3 warm-ups,"
    . " $cpu CPUs (a shared machine: other work ran at the same time)\n"
    . "uptime: $up\n/proc/loadavg at the end: $load\nPrometheus: $samples samples loaded from dashcgi's own points"
    . " (promtool tsdb create-blocks-from openmetrics)\n\n";
print "| query | dashcgi server (median / p90) | its SQL, EXPLAIN ANALYZE (median / p90) | dashcgi wall via nginx | Prometheus wall, direct | ratio (dashcgi wall / Prometheus) | Prometheus via dashcgi's HTTPProxy | answers (series x points) |\n";
print "|---|---|---|---|---|---|---|---|\n";
for my $x (@rows) {
	printf "| %s | %.1f / %.1f ms | %.1f / %.1f ms | %.1f ms (p90 %.1f) | %.1f ms (p90 %.1f) | %.2fx | %.1f ms | dashcgi %d x %d, Prometheus %d x %d |\n",
	    $x->{name}, $x->{server}, $x->{server90},
	    $x->{explain}{median}, $x->{explain}{p90},
	    $x->{dashcgi}{wall}, $x->{dashcgi}{wall90},
	    $x->{prometheus}{wall}, $x->{prometheus}{wall90},
	    $x->{dashcgi}{wall} / $x->{prometheus}{wall},
	    $x->{proxied}{wall},
	    $x->{dashcgi}{series}, $x->{dashcgi}{points} / ($x->{dashcgi}{series} || 1),
	    $x->{prometheus}{series}, $x->{prometheus}{points} / ($x->{prometheus}{series} || 1);
}
print "\ngoals: row 1 <= 10 ms server, row 2 <= 100 ms server; dashcgi within 2x of Prometheus\n";
$t->stop_spawned($prom, 10);
