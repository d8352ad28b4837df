#!/usr/bin/perl
# Supervision: a worker SIGKILLed under load is replaced while requests
# keep succeeding; max_requests recycles workers without a failed request.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep);
use DashTest;

my $N = 3;
my $t = DashTest->new(workers => $N);

subtest 'a worker killed under load is replaced' => sub {
	my @w = $t->wait_workers($N, 10);
	is(scalar @w, $N, "$N workers: @w");
	my $restarts0 = $t->metric_value($t->metrics_text,
	    'dashcgi_worker_restarts_total') // 0;
	my $mark = $t->log_mark;

	my $load = $t->load_start(clients => 4, duration => 5, path => '/live');
	sleep 1.5;
	my $victim = $w[0];
	ok(kill('KILL', $victim), "SIGKILL worker $victim");

	my @after = $t->wait_workers($N, 10, exclude => [$victim]);
	is(scalar @after, $N, "back to $N workers: @after");
	my %old = map { $_ => 1 } @w;
	my @new = grep { !$old{$_} } @after;
	is(scalar @new, 1, "one new worker: @new");
	ok($t->wait_log(qr/msg="worker exited"[^\n]*worker_pid=$victim\b[^\n]*signal=9/,
	    5, $mark), 'the master logs why it exited (signal=9)');
	ok($t->wait_log(qr/msg="worker started"[^\n]*worker_pid=$new[0]\b/, 5, $mark),
	    'and that it started a replacement') if @new;

	my $r = $t->load_wait($load);
	diag(sprintf('%d requests, %d failed: %s', $r->{total}, $r->{fail},
	    join(' ', map { "$_=$r->{statuses}{$_}" } sort keys %{ $r->{statuses} })));
	cmp_ok($r->{total}, '>=', 200, 'the load ran');
	cmp_ok($r->{ok}, '>=', 0.99 * $r->{total}, '>= 99% succeeded');
	cmp_ok($r->{fail}, '<=', 2, 'at most the request in flight failed')
	    or diag explain $r->{errors};
	is(scalar(() = $t->log =~ /msg="worker started"/g), $N + 1,
	    'exactly one respawn, no more');

	my $ok = 0;
	$ok += $t->request(GET => '/live')->{status} == 200 for 1 .. 20;
	is($ok, 20, 'every request succeeds afterwards');
	my $restarts = $t->metric_value($t->metrics_text,
	    'dashcgi_worker_restarts_total') // 0;
	cmp_ok($restarts - $restarts0, '>=', 1, 'dashcgi_worker_restarts_total counts it');
};

subtest 'max_requests recycles workers' => sub {
	is($t->stop_dashcgi, 0, 'restart with max_requests: 5');
	$t->write_config({ workers => 2, max_requests => 5 });
	$t->start_dashcgi;
	my @before = $t->wait_workers(2, 10);
	is(scalar @before, 2, "2 workers: @before");
	my $mark = $t->log_mark;

	my $ok = 0;
	for (1 .. 30) {
		my $r = $t->request(GET => '/live');
		$ok++ if $r->{status} == 200;
	}
	is($ok, 30, 'all 30 requests succeed while workers recycle');
	ok($t->wait_log(qr/msg="worker exited"[^\n]*reason=max_requests/, 10, $mark),
	    'a worker exits with reason=max_requests');
	my @exits = $t->log_lines(qr/msg="worker exited"[^\n]*reason=max_requests/,
	    $mark);
	cmp_ok(scalar @exits, '>=', 4, scalar(@exits) . ' recycles for 30 requests');
	ok(!grep({ ($_->{status} // 0) != 0 || defined $_->{signal} } @exits),
	    'each of them a clean exit');

	my @now = $t->wait_workers(2, 10);
	is(scalar @now, 2, 'still 2 workers');
	my %b = map { $_ => 1 } @before;
	ok(scalar(grep { !$b{$_} } @now), "new pids: @now (were @before)");
	unlike(substr($t->log, $mark), qr/not respawning|crash loop/,
	    'recycling is not mistaken for crashing');
};

is($t->stop_dashcgi, 0, 'SIGTERM: master exits 0');
is($t->{stragglers} // 0, 0, 'no worker outlives the master');

done_testing;
