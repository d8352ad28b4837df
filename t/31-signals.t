#!/usr/bin/perl
# Signals to the master: SIGTERM lets the request in hand finish and
# exits 0; SIGHUP with a broken file keeps the old configuration, with a
# good one replaces the workers and the new values take effect.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep time);
use DashTest;

my $t = DashTest->new(workers => 2);

# Poll a SQL query until it returns a true value; bounded.
sub wait_sql {
	my ($sql, $timeout) = @_;
	my $deadline = time + $timeout;
	while (time < $deadline) {
		my ($ok, $out) = $t->psql_ok($sql);
		return 1 if $ok && $out && $out ne '0' && $out ne 'f';
		sleep 0.1;
	}
	return 0;
}

subtest 'SIGTERM during a slow request: it completes, then exit 0' => sub {
	my $HOLD = 4;
	my $lock = $t->psql_bg("BEGIN;\nLOCK TABLE schema_migrations IN ACCESS " .
	    "EXCLUSIVE MODE;\nSELECT pg_sleep($HOLD);\nCOMMIT;\n");
	ok(wait_sql("SELECT count(*) FROM pg_locks l JOIN pg_class c ON " .
	    "c.oid = l.relation WHERE c.relname = 'schema_migrations' AND " .
	    "l.mode = 'AccessExclusiveLock' AND l.granted", 10),
	    'schema_migrations is locked');

	my $out = $t->tmpdir . '/slow-ready.txt';
	my $t0 = time;
	my $client = $t->bg(sub {
		my $r = $t->request(GET => '/ready', timeout => 30);
		DashTest::_spew($out, "$r->{status} " . time . " $r->{content}");
		return 0;
	});
	ok(wait_sql("SELECT count(*) FROM pg_stat_activity WHERE " .
	    "datname = 'dashcgi' AND wait_event_type = 'Lock'", 10),
	    'GET /ready is blocked on the lock in a worker');

	my $master = $t->master_pid;
	ok($t->signal_master('TERM'), 'SIGTERM the master');
	is($t->wait_pid($client, 30), 0, 'the client finished');
	my ($status, $done, $body) = split(/ /, DashTest::_slurp($out), 3);
	is($status, 200, 'the request in hand completed with 200')
	    or diag $body;
	like($body // '', qr/"ready"\s*:\s*true/, '{"ready":true}');
	cmp_ok(($done // 0) - $t0, '>=', $HOLD - 1.5,
	    'it really waited for the lock');
	my $rc = $t->wait_dashcgi_exit(20);
	is($rc, 0, 'then the master exits 0');
	is($t->{stragglers} // 0, 0, 'no worker left behind');
	ok(!kill(0, $master), 'master gone');
	is($t->wait_pid($lock, 15), 0, 'the locking session committed');
};

subtest 'SIGHUP with a broken file keeps the old configuration' => sub {
	$t->write_config({ max_body => '1KiB' });
	$t->start_dashcgi;
	my @old = $t->wait_workers(2, 10);
	is(scalar @old, 2, "2 workers: @old");
	my $body2k = '{"kind":"Dashboard","metadata":{"name":"d1","project":"p"},'
	    . '"spec":{"display":{"name":"' . ('x' x 2048) . '"},"panels":{},'
	    . '"layouts":[]}}';
	my $r = $t->request(POST => '/api/validate/dashboards', user => 'alice',
	    body => $body2k);
	is($r->{status}, 413, '2 KiB body over max_body 1KiB: 413');

	my $mark = $t->log_mark;
	$t->write_config({ max_body => '4KiB', workers => 'four' });
	ok($t->signal_master('HUP'), 'SIGHUP');
	ok($t->wait_log(qr/reload failed, keeping the old configuration/, 10, $mark),
	    'the log says the reload failed');
	my ($line) = $t->log_lines(qr/reload failed/, $mark);
	like($line->{_} // '', qr/workers/, 'and names the bad key') if $line;
	sleep 0.5;
	ok($t->dashcgi_running, 'the master still runs');
	is_deeply([ $t->worker_pids ], \@old, 'the same workers serve');
	is($t->request(GET => '/live')->{status}, 200, 'still serving');
	is($t->request(POST => '/api/validate/dashboards', user => 'alice',
	    body => $body2k)->{status}, 413, 'the old max_body still applies');

	# A good file: new workers with the new values.
	$mark = $t->log_mark;
	$t->write_config({ max_body => '4KiB' });
	ok($t->signal_master('HUP'), 'SIGHUP with a good file');
	ok($t->wait_log(qr/msg="configuration reloaded"/, 10, $mark),
	    'configuration reloaded');
	my @new = $t->wait_workers(2, 15, exclude => \@old);
	is(scalar @new, 2, "new workers replaced the old ones: @new");
	$r = $t->request(POST => '/api/validate/dashboards', user => 'alice',
	    body => $body2k);
	is($r->{status}, 200, 'a 2 KiB body is accepted under max_body 4KiB')
	    or diag $r->{content};

	# log.format json takes effect in the new workers.
	$mark = $t->log_mark;
	$t->write_config({ max_body => '4KiB', log => { format => 'json' } });
	ok($t->signal_master('HUP'), 'SIGHUP: log.format json');
	ok($t->wait_log(qr/configuration reloaded/, 10, $mark), 'reloaded');
	my @json = $t->wait_workers(2, 15, exclude => [ @old, @new ]);
	is(scalar @json, 2, "new workers again: @json");
	my $id = "hup-json-$$";
	is($t->request(GET => '/live', headers => { 'X-Request-Id' => $id })->{status},
	    200, 'request');
	ok($t->wait_log(qr/^\{[^\n]*"request_id"\s*:\s*"\Q$id\E"/m, 5, $mark),
	    'its log line is JSON');
	my ($jl) = grep { /\Q$id\E/ } split /\n/, substr($t->log, $mark);
	my $parsed = eval { JSON::PP->new->decode($jl // '') };
	is(ref $parsed, 'HASH', 'and parses as JSON') or diag $jl;
	is($parsed->{status}, 200, 'with the status') if ref $parsed eq 'HASH';
};

is($t->stop_dashcgi, 0, 'SIGTERM: master exits 0');
is($t->{stragglers} // 0, 0, 'no worker outlives the master');

done_testing;
