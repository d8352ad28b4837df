#!/usr/bin/perl
# t/bench/dbscale.pl -- `make bench-db`: dashboard GET throughput (wrk
# through nginx, random dashboards among BENCH_DASHBOARDS) with dashcgi
#   direct    straight to PostgreSQL (named prepared statements),
#   unnamed   the same with prepared_statements: unnamed (what the
#             pooler setup costs without the pooler),
#   pgbouncer through PgBouncer 1.18, transaction mode, pool = workers
#             (prepared_statements: unnamed, as 1.18 requires),
#   replica   direct, plus a streaming replica serving the reads,
# the three alternating in BENCH_ROUNDS rounds so that load from outside
# falls on all alike.  Prints req/s per setup and connection count and
# the ratios to direct.  Everything runs on this one machine: a replica
# shares its CPUs with the primary, nginx, wrk and dashcgi.
#
# Environment: BENCH_DURATION (s per setup and count, 9), BENCH_ROUNDS
# (3), BENCH_CONNECTIONS (8,32), BENCH_WORKERS (2), BENCH_DASHBOARDS
# (2000), BENCH_PGB_INI (more pgbouncer.ini settings, "pkt_buf=16384");
# DASHCGI_BIN etc. as for the tests.  After the table: the CPU time
# PgBouncer's own process took per request, and its share of a core.
use strict;
use warnings;
use MIME::Base64 qw(encode_base64);
use POSIX ();
use Time::HiRes qw(sleep time);
use DashTest;
use DashScale;

my $DURATION = $ENV{BENCH_DURATION} // 9;
my $ROUNDS = $ENV{BENCH_ROUNDS} // 3;
my @CONNS = split /,/, $ENV{BENCH_CONNECTIONS} // '8,32';
my $WORKERS = $ENV{BENCH_WORKERS} // 2;
my $N = $ENV{BENCH_DASHBOARDS} // 2000;
my $wrk = -x '/usr/bin/wrk' ? '/usr/bin/wrk' : die "no wrk\n";

my $t = DashTest->new(workers => $WORKERS, start => 0, watchdog => 1800,
    config => { log => { level => 'warn' } });
$t->psql(<<"SQL", timeout => 600);
INSERT INTO project (name, created_by, updated_by) VALUES ('bench', 's', 's');
INSERT INTO project_member (project, user_name, role, created_by, updated_by)
    VALUES ('bench', 'alice', 'viewer', 's', 's');
INSERT INTO dashboard (project, name, spec, tags, version, created_by, updated_by)
SELECT 'bench', 'd' || g, jsonb_build_object('display',
    jsonb_build_object('name', 'Dashboard ' || g), 'duration', '1h',
    'panels', (SELECT jsonb_object_agg('p' || i, jsonb_build_object('kind',
	'Panel', 'spec', jsonb_build_object('display', jsonb_build_object(
	'name', 'panel ' || i || ' of ' || g), 'plugin', jsonb_build_object(
	'kind', 'TimeSeriesChart', 'spec', '{}'::jsonb))))
	FROM generate_series(1, 14) AS i),
    'layouts', '[]'::jsonb), ARRAY['bench'], 0, 's', 's'
FROM generate_series(1, $N) AS g;
VACUUM ANALYZE;
SQL
my $size = $t->psql("SELECT round(avg(octet_length(dashboard_doc(d)::text))) "
    . "FROM dashboard d");
# BENCH_PGB_INI: more pgbouncer.ini settings, "pkt_buf=16384,..." (to try).
my %ini = map { split /=/, $_, 2 } grep { /=/ } split /,/, $ENV{BENCH_PGB_INI} // '';
my $B = DashScale::pgbouncer($t, pool_size => $WORKERS, ini => \%ini);
my $R = DashScale::replica($t);
DashScale::caught_up($t, $R) or die "replica did not catch up\n";

my $DIRECT = 'host=' . $t->pg_socket_dir . ' port=' . $t->pg_port
    . ' dbname=dashcgi user=postgres';
my %SETUP = (
	direct => {},
	unnamed => { prepared_statements => 'unnamed' },
	pgbouncer => { host => $B->{dir}, port => $B->{port},
	    pooler => 'pgbouncer', prepared_statements => 'unnamed',
	    direct_url => $DIRECT },
	replica => { replicas => [ "host=$R->{dir} port=$R->{port} "
	    . 'dbname=dashcgi user=postgres' ] },
);
my @ORDER = qw(direct unnamed pgbouncer replica);

my $auth = encode_base64('alice:pw-alice', '');
my $lua = $t->tmpdir . '/get.lua';
open(my $fh, '>', $lua) or die $!;
print $fh <<"LUA";
wrk.headers["Authorization"] = "Basic $auth"
math.randomseed(os.time())
request = function()
	return wrk.format("GET", "/api/v1/projects/bench/dashboards/d" .. math.random(1, $N))
end
LUA
close $fh;

# CPU seconds (user + system) that processes have used so far.
my $HZ = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;
sub cpu_secs {
	my $sum = 0;
	for my $pid (@_) {
		open(my $fh, '<', "/proc/$pid/stat") or next;
		my $st = <$fh>;
		close $fh;
		# Fields after the command's closing parenthesis: utime, stime
		# are the 12th and 13th.
		my @f = split ' ', substr($st, rindex($st, ')') + 2);
		$sum += ($f[11] + $f[12]) / $HZ;
	}
	return $sum;
}
my ($PGB_PID) = do {
	open(my $fh, '<', "$B->{dir}/pgbouncer.pid") or die "no pgbouncer.pid: $!\n";
	<$fh> =~ /(\d+)/;
};

sub run_wrk {
	my ($conns, $secs) = @_;
	my ($rc, $out, $err) = $t->run_cmd([$wrk, '-t2', "-c$conns", '-d',
	    "${secs}s", '-s', $lua, $t->url('/')], timeout => $secs + 60);
	die "wrk: $rc $err" if $rc != 0;
	my ($rps) = $out =~ /Requests\/sec:\s+([\d.]+)/;
	my ($non2xx) = $out =~ /Non-2xx or 3xx responses:\s+(\d+)/;
	die "wrk: $non2xx non-2xx answers\n$out" if $non2xx;
	return $rps;
}

my (%sum, %pgb_cpu, %pgb_req);
for my $round (1 .. $ROUNDS) {
	for my $s (@ORDER) {
		$t->stop_dashcgi('TERM', 20) if $t->dashcgi_running;
		$t->write_config({ database => $SETUP{$s} });
		$t->start_dashcgi;
		run_wrk(8, 1);	# warm-up: connections, plans, caches
		for my $c (@CONNS) {
			my $cpu0 = cpu_secs($PGB_PID);
			my $rps = run_wrk($c, $DURATION / $ROUNDS);
			if ($s eq 'pgbouncer') {
				$pgb_cpu{$c} += cpu_secs($PGB_PID) - $cpu0;
				$pgb_req{$c} += $rps * $DURATION / $ROUNDS;
			}
			$sum{$s}{$c} += $rps;
			printf "  round %d %-9s c=%-3d %8.0f req/s\n", $round, $s, $c, $rps;
		}
	}
}
my $load = `cat /proc/loadavg`;
chomp $load;
printf "\nDashboard GET, %d dashboards (document %d bytes), %d workers, "
    . "%d rounds of %.1f s, loadavg at end: %s\n", $N, $size, $WORKERS,
    $ROUNDS, $DURATION / $ROUNDS, $load;
printf "%-10s %s\n", 'setup', join('', map { sprintf '%12s', "c=$_ req/s" } @CONNS)
    . join('', map { sprintf '%14s', "c=$_ ×direct" } @CONNS);
for my $s (@ORDER) {
	printf "%-10s %s%s\n", $s,
	    join('', map { sprintf '%12.0f', $sum{$s}{$_} / $ROUNDS } @CONNS),
	    join('', map { sprintf '%14.2f', $sum{$s}{$_} / $sum{direct}{$_} } @CONNS);
}
# What PgBouncer's own process takes of the two cores it shares.
for my $c (@CONNS) {
	next unless $pgb_req{$c};
	printf "PgBouncer process, c=%d: %.1f us CPU per request, %.0f%% of one "
	    . "core while serving (of the machine's 2)\n", $c,
	    1e6 * $pgb_cpu{$c} / $pgb_req{$c},
	    100 * $pgb_cpu{$c} / ($ROUNDS * $DURATION / $ROUNDS);
}
$t->stop_dashcgi('TERM', 20);
