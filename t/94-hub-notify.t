#!/usr/bin/perl
# Notification delivery (SPEC §10) to a loopback receiver of our own
# (t/lib/hub-receiver.pl): one alert_notification per channel on open,
# reopen and resolve, enqueued with the change; delivered by the
# evaluator with Idempotency-Key = the row id and the webhook and Slack
# body shapes; a failing receiver is retried after 10 s, a receiver that
# times out is given up after hub.notify_max_attempts, neither delays
# the others; no duplicate after success; an evaluator killed
# mid-delivery loses nothing (the row is sent again after its lease).
use strict;
use warnings;
use Test::More;
use JSON::PP;
use Time::HiRes qw(sleep time);
use DashTest;

my $t = DashTest->new(workers => 2, config => { hub => { evaluators => 1,
    interval => '1s', notify_timeout => '2s', notify_max_attempts => 2 } });

my $dir = $t->tmpdir;
my $rx = $t->spawn([ $^X, $t->srcdir . '/t/lib/hub-receiver.pl', "$dir/rx.port", "$dir/rx.log" ]);
my $end = time + 10;
sleep 0.1 while !-s "$dir/rx.port" && time < $end;
open(my $pf, '<', "$dir/rx.port") or BAIL_OUT('the receiver did not start');
chomp(my $port = <$pf>);
my $U = "http://127.0.0.1:$port";

$t->psql(<<"SQL");
INSERT INTO project (name, created_by, updated_by) VALUES ('p1', 't', 't');
INSERT INTO project_member (project, user_name, role, created_by, updated_by)
    VALUES ('p1', 'carol', 'editor', 't', 't'), ('p1', 'bob', 'viewer', 't', 't');
SQL

my $C = '/api/v1/projects/p1/hub-channels';
subtest 'channels: PUT creates or replaces, list, delete, refusals' => sub {
	my $r = $t->request(PUT => "$C/ok", user => 'carol', json => { type => 'slack', url => "$U/x/" });
	is($r->{status}, 201, 'created: 201') or diag $r->{content};
	$r = $t->request(PUT => "$C/ok", user => 'carol', json => { type => 'webhook', url => "$U/ok/" });
	is($r->{status}, 200, 'replaced: 200');
	is($t->json($r)->{type}, 'webhook', 'the new type');
	for my $c ([ chat => 'slack', "$U/ok-slack/" ], [ flaky => 'webhook', "$U/fail-1/" ],
	    [ slow => 'webhook', "$U/slow-5/" ]) {
		is($t->request(PUT => "$C/$c->[0]", user => 'carol',
		    json => { type => $c->[1], url => $c->[2] })->{status}, 201, "channel $c->[0]");
	}
	is($t->request(PUT => "$C/x", user => 'carol', json => { type => 'pager', url => "$U/" })->{status},
	    400, 'an unknown type: 400');
	$r = $t->request(PUT => "$C/x", user => 'carol', json => { type => 'webhook', url => 'ftp://h/' });
	like($t->json($r)->{message}, qr/^url:/, 'not http(s): 400 naming url');
	is($t->request(PUT => "$C/x", user => 'bob', json => { type => 'webhook', url => "$U/" })->{status},
	    403, 'a viewer cannot');
	$r = $t->request(GET => $C, user => 'bob');
	is_deeply([ map { $_->{name} } @{ $t->json($r) } ], [qw(chat flaky ok slow)], 'a viewer lists them');
	is($t->request(PUT => "$C/gone", user => 'carol', json => { type => 'webhook', url => "$U/" })->{status}, 201, 'one more');
	is($t->request(DELETE => "$C/gone", user => 'carol')->{status}, 204, 'deleted');
	is($t->request(DELETE => "$C/gone", user => 'carol')->{status}, 404, 'again: 404');
};

sub rx_log {
	open(my $fh, '<', "$dir/rx.log") or return ();
	return map { decode_json($_) } grep { /\S/ } <$fh>;
}
sub wait_for {
	my ($cond, $timeout) = @_;
	my $end = time + $timeout;
	while (time < $end) { return 1 if $cond->(); sleep 0.2 }
	return 0;
}
sub rows {
	my ($inc) = @_;
	my %r;
	for my $l (split /\n/, $t->psql("SELECT channel, event, status, attempts, id, coalesce(last_error, ''), "
	    . "jsonb_array_length(history) FROM alert_notification WHERE incident_id = '$inc' ORDER BY created_at")) {
		my @f = split /\|/, $l;
		$r{"$f[0]:$f[1]"} = { status => $f[2], attempts => $f[3], id => $f[4], error => $f[5], history => $f[6] };
	}
	return \%r;
}

my $t0 = time;
my $r = $t->request(POST => '/api/v1/projects/p1/incidents', user => 'carol',
    json => { title => 'Checkout down', severity => 'critical', dedupKey => 'checkout' });
is($r->{status}, 201, 'an incident opens') or diag $r->{content};
my $inc = $t->json($r);

subtest 'one row per channel, enqueued with the incident' => sub {
	my $n = rows($inc->{id});
	is_deeply([ sort keys %$n ], [ 'chat:open', 'flaky:open', 'ok:open', 'slow:open' ], 'four rows');
};

subtest 'a slow channel does not delay the others; shapes and Idempotency-Key' => sub {
	ok(wait_for(sub { rows($inc->{id})->{'ok:open'}{status} eq 'sent' }, 5), 'ok: sent');
	my $dt = time - $t0;
	cmp_ok($dt, '<', 4, sprintf('within %.1f s, while the slow channel hangs 5 s', $dt));
	ok(wait_for(sub { rows($inc->{id})->{'chat:open'}{status} eq 'sent' }, 5), 'chat: sent');
	my $n = rows($inc->{id});
	my ($hook) = grep { $_->{path} eq '/ok/' } rx_log();
	is($hook->{key}, $n->{'ok:open'}{id}, 'Idempotency-Key is the row id');
	my $b = decode_json($hook->{body});
	is($b->{event}, 'open', 'webhook body: event');
	is($b->{project}, 'p1', 'project');
	is($b->{incident}{id}, $inc->{id}, 'the incident');
	is($b->{url}, "/api/v1/projects/p1/incidents/$inc->{id}", 'its url');
	my ($slack) = grep { $_->{path} eq '/ok-slack/' } rx_log();
	my $s = decode_json($slack->{body});
	is_deeply([ keys %$s ], ['text'], 'Slack body: {"text"}');
	like($s->{text}, qr/CRITICAL incident opened: Checkout down/, 'says what happened');
};

subtest 'failures: retried after 10 s, recovered; a timeout given up after notify_max_attempts' => sub {
	my $n = rows($inc->{id});
	ok(wait_for(sub { rows($inc->{id})->{'flaky:open'}{attempts} >= 1 &&
	    rows($inc->{id})->{'flaky:open'}{error} ne '' }, 5), 'flaky: the first attempt failed');
	$n = rows($inc->{id});
	is($n->{'flaky:open'}{error}, 'HTTP 500', 'last_error says why');
	is($n->{'flaky:open'}{status}, 'pending', 'still pending');
	# Measured from the attempt's own record (its history entry, whole
	# seconds), not from now: a loaded machine may look much later.
	my $next = $t->psql("SELECT extract(epoch FROM next_attempt_at - (history -> -1 ->> 'at')::timestamptz) "
	    . "FROM alert_notification WHERE id = '$n->{'flaky:open'}{id}'");
	ok($next > 9 && $next <= 11, sprintf('the next attempt %.1f s after the first (10 s backoff)', $next));
	ok(wait_for(sub { rows($inc->{id})->{'flaky:open'}{status} eq 'sent' }, 20), 'flaky: sent on the second attempt');
	$n = rows($inc->{id});
	is($n->{'flaky:open'}{attempts}, 2, 'two attempts');
	is($n->{'flaky:open'}{history}, 2, 'both recorded');
	ok(wait_for(sub { rows($inc->{id})->{'slow:open'}{status} eq 'failed' }, 25), 'slow: failed after 2 attempts');
	$n = rows($inc->{id});
	is($n->{'slow:open'}{attempts}, 2, 'notify_max_attempts attempts');
	like($n->{'slow:open'}{error}, qr/timed out|Timeout/i, 'each timed out');
	my @gaps = map { $_->{at} } grep { $_->{path} eq '/slow-5/' } rx_log();
	cmp_ok($gaps[1] - $gaps[0], '>=', 10, sprintf('%.1f s between the attempts', $gaps[1] - $gaps[0]));
};

subtest 'no duplicate after success' => sub {
	sleep 2;
	my %seen;
	$seen{ $_->{key} }++ for grep { $_->{path} =~ m{^/(ok|ok-slack)/} } rx_log();
	is_deeply([ values %seen ], [ 1, 1 ], 'each sent row reached the receiver once');
	my $j = $t->json($t->request(GET => "/api/v1/projects/p1/incidents/$inc->{id}", user => 'carol'));
	is_deeply([ sort map { "$_->{channel}:$_->{status}:$_->{attempts}" } @{ $j->{notifications} } ],
	    [ 'chat:sent:1', 'flaky:sent:2', 'ok:sent:1', 'slow:failed:2' ], 'the incident shows them all');
};

subtest 'an evaluator killed mid-delivery loses nothing' => sub {
	$t->psql("DELETE FROM hub_channel WHERE project = 'p1';"
	    . "INSERT INTO hub_channel (project, name, type, url, created_by) VALUES ('p1', 'stall', 'webhook', '$U/stall-1/', 't')");
	my $v = $t->json($t->request(GET => "/api/v1/projects/p1/incidents/$inc->{id}", user => 'carol'))->{version};
	$r = $t->request(PUT => "/api/v1/projects/p1/incidents/$inc->{id}/status", user => 'carol',
	    json => { status => 'resolved' }, headers => { 'If-Match' => qq("$v") });
	is($r->{status}, 200, 'resolved: a resolve notification is enqueued');
	ok(wait_for(sub { grep { $_->{path} eq '/stall-1/' } rx_log() }, 5), 'the delivery reached the receiver');
	my ($l) = reverse $t->log_lines(qr/msg="evaluator started"/);
	my $pid = $l->{worker_pid};
	ok($pid && kill('KILL', $pid), "SIGKILL the evaluator ($pid) before the answer");
	ok(wait_for(sub { rows($inc->{id})->{'stall:resolve'}{status} eq 'sent' }, 20),
	    'a new evaluator sends it after the lease');
	my @got = grep { $_->{path} eq '/stall-1/' } rx_log();
	is(scalar @got, 2, 'the receiver saw it twice (at least once)');
	is($got[0]{key}, $got[1]{key}, 'with the same Idempotency-Key both times');
	is(decode_json($got[1]{body})->{event}, 'resolve', 'the resolve event');
};

$t->stop_spawned($rx);
done_testing;
