#!/usr/bin/perl
# Reload and supervision that keep the service up:
# - SIGHUP with valid YAML that the database refuses (a role that does
#   not exist) used to retire every worker and leave the master to exit
#   2: now the new generation starts beside the old one, fails, and the
#   old generation keeps serving (issue "hardening" item 2);
# - a good reload switches only once a new worker reached the database;
# - a crash-looping worker slot rests and is retried, and health says
#   "degraded" while fewer workers run than configured (item 7).
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep time);
use DashTest;

my $t = DashTest->new(workers => 2, config => { auth => { admins => ['admin'] } });

sub db_route_ok {
	my $r = $t->request(GET => '/api/v1/projects', user => 'admin');
	return $r->{status} == 200;
}

subtest 'a reload the database refuses keeps the old generation' => sub {
	my @old = $t->wait_workers(2, 10);
	is(scalar @old, 2, "two workers: @old");
	ok(db_route_ok(), 'a database route answers 200');
	my $mark = $t->log_mark;
	$t->write_config({ database => { user => 'no_such_role' } });
	ok($t->signal_master('HUP'), 'SIGHUP with a login the database refuses');
	ok($t->wait_log(qr/level=error[^\n]*reload failed: no worker of the new configuration could start/,
	    20, $mark), 'the master says the reload failed and why');
	my @exits = $t->log_lines(qr/msg="worker exited"[^\n]*status=2/, $mark);
	is(scalar @exits, 2, 'the two new workers exited 2');
	ok($t->dashcgi_running, 'the master is still running');
	my @now = $t->wait_workers(2, 5);
	is_deeply(\@now, \@old, 'the old workers still run');
	my $ok = 0;
	$ok += db_route_ok() ? 1 : 0 for 1 .. 10;
	is($ok, 10, 'and serve database routes');
	unlike(substr($t->log, $mark), qr/msg="configuration reloaded"/,
	    'no "configuration reloaded"');
};

subtest 'a good reload switches once a new worker is connected' => sub {
	my @old = $t->wait_workers(2, 5);
	my $mark = $t->log_mark;
	$t->write_config({ workers => 3 });
	ok($t->signal_master('HUP'), 'SIGHUP with a good file');
	ok($t->wait_log(qr/msg="configuration reloaded"/, 15, $mark),
	    'configuration reloaded');
	my $log = substr($t->log, $mark);
	my ($starting) = $log =~ /^(.*msg="reload: new generation starting".*)$/m;
	my ($connected) = $log =~ /^(.*proc=worker[^\n]*msg="database connected".*)$/m;
	my ($reloaded) = $log =~ /^(.*msg="configuration reloaded".*)$/m;
	ok(defined $starting && defined $connected && defined $reloaded,
	    'the log shows start, connection, switch');
	ok(index($log, $connected // '') < index($log, $reloaded // ''),
	    'a new worker connected before the switch');
	my @new = $t->wait_workers(3, 15, exclude => \@old);
	is(scalar @new, 3, "three new workers: @new");
	ok(db_route_ok(), 'they serve');
};

subtest 'a crash-looping slot rests, is retried, and health is degraded meanwhile' => sub {
	my @w = $t->wait_workers(3, 10);
	my $mark = $t->log_mark;
	# Kill every worker of one slot as soon as it starts, past the budget.
	my $victim = $w[0];
	my ($slot) = map { $_->{slot} } grep { $_->{worker_pid} == $victim }
	    $t->log_lines(qr/msg="worker started"/);
	ok(defined $slot, "worker $victim is in slot $slot");
	kill 'KILL', $victim;
	my %seen = ($victim => 1);
	my $deadline = time + 30;
	while (time < $deadline) {
		last if substr($t->log, $mark) =~ /crash loop: worker slot $slot\b/;
		for my $l ($t->log_lines(qr/msg="worker started"[^\n]*slot=$slot\b/, $mark)) {
			next if $seen{$l->{worker_pid}}++;
			kill 'KILL', $l->{worker_pid};
		}
		sleep 0.02;
	}
	ok($t->wait_log(qr/crash loop: worker slot $slot died \d+ times[^\n]*not respawning it for \d+ ms/,
	    5, $mark), 'the slot rests after too many fast failures');
	sleep 0.5;
	my $h = $t->json($t->request(GET => '/api/v1/health'));
	is($h->{checks}{workers}{total}, 2, 'two workers run');
	is($h->{checks}{workers}{expected}, 3, 'three are configured');
	is($h->{status}, 'degraded', 'health: degraded');
	ok(db_route_ok(), 'the others serve');
	my $rest = $t->log_mark;
	ok($t->wait_log(qr/msg="worker started"[^\n]*slot=$slot\b/, 20, $rest),
	    'after the rest the slot is retried');
	my @back = $t->wait_workers(3, 10);
	is(scalar @back, 3, 'three workers again');
	sleep 0.5;
	$h = $t->json($t->request(GET => '/api/v1/health'));
	is($h->{status}, 'healthy', 'health: healthy again');
};

is($t->stop_dashcgi, 0, 'SIGTERM: master exits 0');
done_testing();
