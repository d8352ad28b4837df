#!/usr/bin/perl
# Readiness per module: a statement that cannot be prepared takes down
# its own module's routes (503, logged at ERROR with its name and the
# server's message) while every other module keeps serving; and
# `dashcgi check-sql` prepares every statement of every module and
# fails loudly on a broken one.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep time);
use DashTest;

my $t = DashTest->new(workers => 1, config => { auth => { admins => ['admin'] } });

subtest 'check-sql passes on a migrated database' => sub {
	my ($rc, $out, $err) = $t->run_dashcgi('check-sql');
	is($rc, 0, 'exit 0') or diag "$out$err";
	like($out, qr/^(\d+) statements in \d+ sets, 0 failed to prepare$/m,
	    'it says how many it prepared');
	my ($n) = $out =~ /^(\d+) statements/m;
	cmp_ok($n // 0, '>=', 40, "every module's statements ($n)");
};

# Break one module: the preferences statements read user_preferences.theme.
$t->psql('ALTER TABLE user_preferences RENAME COLUMN theme TO theme_gone');

subtest 'check-sql fails on a broken statement and names it' => sub {
	my ($rc, $out, $err) = $t->run_dashcgi('check-sql');
	is($rc, 1, 'exit 1');
	like($out, qr/^FAIL preferences preferences_get: .*theme/m,
	    'the module, the statement and the server\'s message');
	like($out, qr/[1-9]\d* failed to prepare/, 'the count of failures');
	like($err, qr/level=error[^\n]*cannot prepare statement[^\n]*statement=preferences_get/,
	    'logged at ERROR');
};

subtest 'only the broken module answers 503' => sub {
	$t->stop_dashcgi;
	my $mark = $t->log_mark;
	$t->start_dashcgi;
	my $r = $t->request(GET => '/api/v1/me/preferences', user => 'admin');
	is($r->{status}, 503, 'preferences: 503');
	my $j = $t->json($r);
	is($j->{code}, 'migrations_pending', 'code migrations_pending');
	like($j->{message}, qr/the preferences module is unavailable/,
	    'the message names the module');
	is($t->request(GET => '/api/v1/projects', user => 'admin')->{status},
	    200, 'projects: 200');
	is($t->request(GET => '/api/v1/me', user => 'admin')->{status}, 200,
	    '/api/v1/me: 200');
	is($t->request(GET => '/api/v1/templates', user => 'admin')->{status},
	    200, 'templates: 200');
	is($t->request(GET => '/ready')->{status}, 200,
	    '/ready: the core is whole');
	ok($t->wait_log(qr/level=error[^\n]*cannot prepare statement[^\n]*statement=preferences_get[^\n]*theme/,
	    5, $mark), 'the worker logs the statement at ERROR with the server\'s message');
	my $re = qr/level=error[^\n]*cannot prepare statement[^\n]*statement=preferences_get/;
	my @e = $t->log_lines($re, $mark);
	sleep 2.5;
	my @again = $t->log_lines($re, $mark);
	is(scalar @again, scalar @e, 'once per connection, not every retry');
};

subtest 'the module comes back once its statement prepares' => sub {
	$t->psql('ALTER TABLE user_preferences RENAME COLUMN theme_gone TO theme');
	my $deadline = time + 10;
	my $st = 0;
	while (time < $deadline) {
		$st = $t->request(GET => '/api/v1/me/preferences',
		    user => 'admin')->{status};
		last if $st == 200;
		sleep 0.2;
	}
	is($st, 200, 'preferences: 200 again, without a restart');
	my ($rc) = $t->run_dashcgi('check-sql');
	is($rc, 0, 'check-sql passes again');
};

is($t->stop_dashcgi, 0, 'SIGTERM: master exits 0');
done_testing();
