#!/usr/bin/perl
# A configuration the database refuses (no such database: 3D000; no such
# role: 28000) makes workers exit 2; the master does not respawn them
# (no fork bomb) and, with no worker left, exits 2 itself.
use strict;
use warnings;
use Test::More;
use DashTest;

my $N = 2;
my $t = DashTest->new(workers => $N, start => 0, migrate => 0, nginx => 0);

for my $case (
    [ 'a database that does not exist', { database => { name => 'no_such_db' } } ],
    [ 'a role that does not exist', { database => { user => 'no_such_role' } } ],
) {
	my ($name, $cfg) = @$case;
	subtest $name => sub {
		$t->write_config($cfg);
		my $mark = $t->log_mark;
		$t->start_dashcgi(wait => 0);
		my $rc = $t->wait_dashcgi_exit(30);
		is($rc, 2, 'the master exits 2');
		my $log = substr($t->log, $mark);

		my @exited = $t->log_lines(qr/msg="worker exited"/, $mark);
		is(scalar @exited, $N, "$N workers exited");
		is(scalar(grep { ($_->{status} // '') eq '2' } @exited), $N,
		    'each with status=2');
		like($log, qr/msg="not respawning worker: fatal configuration \(exit status 2\)"/,
		    'the master says it will not respawn');
		my $started = () = $log =~ /msg="worker started"/g;
		is($started, $N, "worker started $N times, no respawn loop");
		like($log, qr/\b(?:3D000|28000|28P01|does not exist)\b/,
		    'the log shows what the database said');
		is($t->{stragglers} // 0, 0, 'no worker left behind');
	};
}

done_testing;
