#!/usr/bin/perl
# Without this month's audit partition no change can commit.  That used
# to answer 400 (SQLSTATE 23514 mapped as bad input) while /ready and
# health stayed green.  Now: a change answers 503 partition_missing,
# /ready is 503 and health unhealthy; a missing next month is a health
# warning well before it is needed; maintenance repairs both.
use strict;
use warnings;
use Test::More;
use POSIX qw(strftime);
use DashTest;

my $t = DashTest->new(config => { auth => { admins => ['admin'] } });
my @now = gmtime;
my $this = strftime('%Y_%m', @now);
my ($y, $m) = ($now[5] + 1900, $now[4] + 1);
my $next = sprintf('%04d_%02d', $m == 12 ? $y + 1 : $y, $m == 12 ? 1 : $m + 1);

sub change {
	return $t->request(PUT => '/api/v1/me/preferences', user => 'admin',
	    body => '{"timezone":"UTC","theme":"dark","favorites":[],"recent":[]}');
}

is(change()->{status}, 200, 'a change commits');
my $h = $t->json($t->request(GET => '/api/v1/health'));
is($h->{checks}{audit}{status}, 'pass', 'health: audit partitions pass');

subtest 'no partition for next month: a warning' => sub {
	$t->psql("ALTER TABLE audit_log DETACH PARTITION audit_log_$next; DROP TABLE audit_log_$next");
	my $h = $t->json($t->request(GET => '/api/v1/health'));
	is($h->{status}, 'degraded', 'health: degraded');
	is($h->{checks}{audit}{status}, 'warn', 'audit: warn');
	like($h->{checks}{audit}{message}, qr/next month/, 'saying what is missing');
	is($t->request(GET => '/ready')->{status}, 200, '/ready: still 200');
	is(change()->{status}, 200, 'changes still commit');
};

subtest 'no partition for this month: changes fail as a server error' => sub {
	$t->psql("ALTER TABLE audit_log DETACH PARTITION audit_log_$this; DROP TABLE audit_log_$this");
	my $r = change();
	is($r->{status}, 503, 'a change: 503, not 400');
	my $j = $t->json($r);
	is($j->{code}, 'partition_missing', 'code partition_missing');
	like($j->{message}, qr/no partition of relation "audit_log/, 'naming the table');
	my $ready = $t->request(GET => '/ready');
	is($ready->{status}, 503, '/ready: 503');
	like($ready->{content}, qr/audit log has no partition for this month/, 'saying why');
	my $hr = $t->request(GET => '/api/v1/health');
	is($hr->{status}, 503, 'health: 503');
	my $h = $t->json($hr);
	is($h->{status}, 'unhealthy', 'unhealthy');
	is($h->{checks}{audit}{status}, 'fail', 'audit: fail');
	is($t->request(GET => '/api/v1/projects', user => 'admin')->{status},
	    200, 'reads still answer');
};

subtest 'maintenance repairs both' => sub {
	my ($rc, $out, $err) = $t->run_dashcgi('maintenance');
	is($rc, 0, 'dashcgi maintenance') or diag $err;
	is(change()->{status}, 200, 'a change commits again');
	is($t->request(GET => '/ready')->{status}, 200, '/ready: 200');
	my $h = $t->json($t->request(GET => '/api/v1/health'));
	is($h->{checks}{audit}{status}, 'pass', 'health: pass');
	is($h->{checks}{audit}{partitionsAhead}, 2, 'two months ahead');
};

is($t->stop_dashcgi, 0, 'SIGTERM: master exits 0');
done_testing();
