#!/usr/bin/perl
# PostgreSQL goes away under load: /ready and /api/v1/health answer 503,
# /live stays 200; it comes back: workers reconnect by themselves (no
# restart) and /ready is 200 again within 5 s.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep time);
use DashTest;

my $N = 3;
my $t = DashTest->new(workers => $N, durable => 1);

# GET $path until it answers $status; -> seconds taken, undef on timeout.
sub wait_status {
	my ($path, $status, $timeout) = @_;
	my $t0 = time;
	while (time - $t0 < $timeout) {
		return time - $t0 if $t->request(GET => $path, timeout => 5)->{status} == $status;
		sleep 0.1;
	}
	return undef;
}

# The workers' own sessions, by the application_name they set.
sub worker_sessions {
	my ($ok, $out) = $t->psql_ok("SELECT application_name FROM " .
	    "pg_stat_activity WHERE application_name LIKE 'dashcgi worker %'");
	return $ok ? sort(map { /(\d+)$/ ? $1 : () } split /\n/, $out) : ();
}

my @w = $t->wait_workers($N, 10);
is(scalar @w, $N, "$N workers: @w");
is($t->request(GET => '/ready')->{status}, 200, '/ready 200 to begin with');
# Each worker connects right after fork; under load that can lag the
# fork by a moment, so give it (bounded) time.
{
	my $t0 = time;
	sleep 0.1 while time - $t0 < 10 &&
	    join(',', worker_sessions()) ne join(',', sort @w);
}
is_deeply([ worker_sessions() ], [ sort @w ], 'each worker holds a session');

# Down long enough (8 s) for the reconnect backoff to reach its cap.
my $DOWN = 8;
my $load = $t->load_start(clients => 3, duration => $DOWN + 8, path => '/live');
sleep 0.5;
my $mark = $t->log_mark;
$t->pg_stop;
my $down_at = time;
pass('PostgreSQL stopped');

subtest 'while the database is down' => sub {
	ok(defined wait_status('/ready', 503, 10), '/ready turns 503');
	my $r = $t->request(GET => '/ready');
	is($r->{status}, 503, '/ready 503');
	is_deeply($t->json($r) // {}, { ready => JSON::PP::false,
	    reason => 'database unreachable' },
	    '{"ready":false,"reason":"database unreachable"}');

	$r = $t->request(GET => '/api/v1/health');
	is($r->{status}, 503, '/api/v1/health 503');
	my $j = $t->json($r) // {};
	is($j->{status}, 'unhealthy', 'status unhealthy');
	is($j->{checks}{database}{status}, 'fail', 'database check fail');
	is($j->{checks}{workers}{total}, $N, 'workers still reported');

	# Every worker, for the whole outage: nothing but 503 and 200.
	my %seen;
	while (time - $down_at < $DOWN) {
		$seen{ready}{ $t->request(GET => '/ready')->{status} }++;
		$seen{live}{ $t->request(GET => '/live')->{status} }++;
		$seen{metrics}{ $t->request(GET => '/metrics')->{status} }++;
		sleep 0.05;
	}
	is_deeply([ keys %{ $seen{ready} } ], [ 503 ], '/ready 503 throughout')
	    or diag explain $seen{ready};
	is_deeply([ keys %{ $seen{live} } ], [ 200 ], '/live 200 throughout')
	    or diag explain $seen{live};
	is_deeply([ keys %{ $seen{metrics} } ], [ 200 ], '/metrics 200 throughout')
	    or diag explain $seen{metrics};
};

$t->pg_start;
my $up_at = time;
pass('PostgreSQL started');

subtest 'when it comes back' => sub {
	my $took = wait_status('/ready', 200, 5);
	ok(defined $took, sprintf('/ready 200 again within 5 s (%.1f s)', $took // -1));

	# Every worker reconnects by itself, backoff capped at 2 s.
	my $all;
	while (time - $up_at < 4) {
		if (join(' ', worker_sessions()) eq join(' ', sort @w)) {
			$all = time - $up_at;
			last;
		}
		sleep 0.1;
	}
	ok(defined $all, sprintf('all %d workers reconnected within 3.5 s (%.1f s)',
	    $N, $all // -1)) and cmp_ok($all, '<=', 3.5, 'in time');
	my $streak = 0;
	for (1 .. 30) {
		my $s = $t->request(GET => '/ready')->{status};
		$streak = $s == 200 ? $streak + 1 : 0;
		last if $streak == 10;
		sleep 0.05;
	}
	is($streak, 10, '/ready answers 200 from every worker');
	my $r = $t->request(GET => '/api/v1/health');
	is($r->{status}, 200, '/api/v1/health 200');
	is_deeply([ $t->worker_pids ], \@w, 'the same workers: reconnected, not restarted');
	unlike(substr($t->log, $mark), qr/msg="worker exited"/, 'no worker exited');
};

my $r = $t->load_wait($load);
diag(sprintf('/live under load: %d requests, %d failed', $r->{total}, $r->{fail}));
cmp_ok($r->{total}, '>=', 100, 'the load ran through the outage');
is($r->{fail}, 0, '/live never failed') or diag explain $r;

is($t->stop_dashcgi, 0, 'SIGTERM: master exits 0');
is($t->{stragglers} // 0, 0, 'no worker outlives the master');

done_testing;
