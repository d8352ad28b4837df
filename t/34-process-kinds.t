#!/usr/bin/perl
# Process kinds: the master supervises kinds other than the FastCGI
# worker under the same rules.  The proof is the maintenance kind
# (maintenance.interval): it runs every module's jobs on a timer, a
# crash is respawned within the crash-loop budget without disturbing
# the workers, a crash loop stops only that kind, /metrics shows the
# processes by kind and state, and SIGTERM stops it with the rest.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep time);
use DashTest;

my $t = DashTest->new(workers => 2, config => { maintenance => { interval => '1s' } });

# The children of the master by kind, from the log of who started.
sub kind_pids {
	my ($kind) = @_;
	my %live = map { $_ => 1 } $t->worker_pids;
	my %pid;
	for my $l ($t->log_lines(qr/msg="$kind started"/)) {
		$pid{$l->{worker_pid}} = 1 if $live{$l->{worker_pid}};
	}
	return sort { $a <=> $b } keys %pid;
}

sub nkind { my @p = kind_pids($_[0]); return scalar @p }

sub wait_kind {
	my ($kind, $n, $timeout, %o) = @_;
	my %ex = map { $_ => 1 } @{ $o{exclude} || [] };
	my $deadline = time + $timeout;
	while (time < $deadline) {
		my @p = kind_pids($kind);
		return @p if @p == $n && !grep { $ex{$_} } @p;
		sleep 0.05;
	}
	return kind_pids($kind);
}

subtest 'a maintenance process runs every module\'s jobs on a timer' => sub {
	my @m = wait_kind('maintenance', 1, 10);
	is(scalar @m, 1, "one maintenance process: @m");
	my @w = wait_kind('worker', 2, 10);
	is(scalar @w, 2, "two workers: @w");
	ok($t->wait_log(qr/proc=maintenance[^\n]*msg="maintenance: (\d+) jobs done"/, 10),
	    'a pass ran');
	my $deadline = time + 10;
	my @passes;
	while (time < $deadline) {
		@passes = $t->log_lines(qr/msg="maintenance: \d+ jobs done"/);
		last if @passes >= 2;
		sleep 0.1;
	}
	cmp_ok(scalar @passes, '>=', 2, 'and another one an interval later');
	for my $job (qw(audit_partitions audit_retention trash_purge template_usage expired_tokens)) {
		ok($t->log =~ /msg="maintenance job (done|skipped)"[^\n]*job=$job\b/,
		    "job $job ran");
	}
	my $m = $t->metrics_text;
	is($t->metric_value($m, 'dashcgi_processes', { kind => 'maintenance' }),
	    1, '/metrics: one maintenance process');
	is($t->metric_value($m, 'dashcgi_processes', { kind => 'worker' }),
	    2, '/metrics: two workers (busy, idle and retiring summed)');
	is($t->metric_value($m, 'dashcgi_workers'), 2,
	    'dashcgi_workers counts the workers alone');
	my $h = $t->json($t->request(GET => '/api/v1/health'));
	is($h->{checks}{workers}{total}, 2, '/api/v1/health counts the workers alone');
};

subtest 'a crashed maintenance process is respawned; the workers are not touched' => sub {
	my @w = kind_pids('worker');
	my ($m) = kind_pids('maintenance');
	my $mark = $t->log_mark;
	ok(kill('KILL', $m), "SIGKILL maintenance $m");
	my @m2 = wait_kind('maintenance', 1, 10, exclude => [$m]);
	is(scalar @m2, 1, "a new maintenance process: @m2");
	isnt($m2[0], $m, 'with a new pid');
	ok($t->wait_log(qr/msg="maintenance exited"[^\n]*worker_pid=$m\b[^\n]*signal=9[^\n]*reason=crashed/,
	    5, $mark), 'the master logs why it exited');
	is_deeply([kind_pids('worker')], \@w, 'the workers are the same processes');
	is($t->request(GET => '/live')->{status}, 200, 'and serve');
};

subtest 'a crash loop stops that kind only' => sub {
	my @w = kind_pids('worker');
	my $mark = $t->log_mark;
	# Kill each new maintenance process right after it starts: more
	# fast failures than the budget allows.
	my %seen;
	my $deadline = time + 40;
	while (time < $deadline) {
		last if $t->log =~ /crash loop: maintenance slot/;
		for my $p (kind_pids('maintenance')) {
			next if $seen{$p}++;
			kill 'KILL', $p;
		}
		sleep 0.02;
	}
	ok($t->wait_log(qr/level=error[^\n]*crash loop: maintenance slot \d+ died \d+ times/, 5, $mark),
	    'the master gives up on the maintenance slot, and says so');
	# The budget is 5 fast failures; the kill of the subtest before may
	# count as the first.
	cmp_ok(scalar keys %seen, '>=', 5, scalar(keys %seen) . ' fast failures here');
	sleep 1;
	is(nkind('maintenance'), 0, 'no maintenance process any more');
	is_deeply([kind_pids('worker')], \@w, 'the workers are the same processes');
	my $ok = 0;
	$ok += $t->request(GET => '/live')->{status} == 200 for 1 .. 10;
	is($ok, 10, 'and serve every request');
	ok($t->dashcgi_running, 'the master stays up');
};

subtest 'SIGTERM stops every kind' => sub {
	is($t->stop_dashcgi, 0, 'restart');
	$t->start_dashcgi;
	my @m = wait_kind('maintenance', 1, 10);
	is(scalar @m, 1, 'maintenance runs again after a restart');
	my $mark = $t->log_mark;
	is($t->stop_dashcgi, 0, 'SIGTERM: master exits 0');
	ok($t->log =~ /msg="maintenance exited"[^\n]*reason=stopped/,
	    'the maintenance process stopped with the rest');
	is(scalar(my @left = $t->worker_pids), 0, 'no child outlives the master');
};

subtest 'maintenance.interval 0 runs no maintenance process' => sub {
	$t->write_config({ workers => 2, maintenance => { interval => '0' } });
	$t->start_dashcgi;
	$t->wait_workers(2, 10);
	sleep 0.5;
	is(nkind('maintenance'), 0, 'none started');
	like($t->metrics_text, qr/dashcgi_processes\{kind="worker",state="idle"\}/,
	    'only workers in /metrics');
	unlike($t->metrics_text, qr/kind="maintenance"/, 'no maintenance kind');
	is($t->stop_dashcgi, 0, 'SIGTERM: master exits 0');
};

done_testing();
