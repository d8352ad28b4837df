#!/usr/bin/perl
# The evaluator's other rule types (SPEC §10): slo_burn rules follow
# the SLO's multiwindow burn-rate alerts (SPEC §8) over a hand-made SLI
# series -- no incident while only the short or only the long window of
# an alert burns faster than its factor, a medium incident for a ticket
# alert, raised to critical when a page alert fires, resolved when no
# alert fires -- and monitor_down rules open rule:<project>/<name> when
# a monitor their selector matches has been down for "for" (its own
# down time counts, so a monitor down before the rule fires at once),
# and resolve it when the monitors are up.  Notifications go with the
# incident changes.
use strict;
use warnings;
use Test::More;
use POSIX qw(floor strftime);
use Time::HiRes qw(sleep time);
use DashTest;

my $t = DashTest->new(workers => 1,
    config => { hub => { evaluators => 1, interval => '1s' },
    monitors => { checkers => 0 } });

$t->psql(<<'SQL');
INSERT INTO project (name, created_by, updated_by) VALUES ('p1', 't', 't');
INSERT INTO project_member (project, user_name, role, created_by, updated_by)
    VALUES ('p1', 'carol', 'editor', 't', 't'), ('p1', 'bob', 'viewer', 't', 't');
SQL
my $P = '/api/v1/projects/p1';

sub wait_for {
	my ($cond, $timeout) = @_;
	my $end = time + $timeout;
	while (time < $end) { return 1 if $cond->(); sleep 0.2 }
	return 0;
}
sub post_rule {
	my ($name, %spec) = @_;
	my $r = $t->request(POST => "$P/alert-rules", user => 'carol',
	    json => { kind => 'AlertRule', metadata => { name => $name }, spec => \%spec });
	is($r->{status}, 201, "rule $name stored") or diag $r->{content};
	return $t->json($r);
}
# The rule's incidents, newest first: "status|severity|count" each.
sub incidents {
	my ($rule) = @_;
	return [ split /\n/, $t->psql("SELECT status || '|' || severity || '|' || count FROM incident "
	    . "WHERE dedup_key = 'rule:p1/$rule' ORDER BY first_seen DESC") ];
}
sub state { (incidents($_[0])->[0] // '') =~ /^(\w+)\|(\w+)/ ? "$1/$2" : 'none' }
# Wait until the evaluator has evaluated rule $name on what was written
# before now (a pass that started after this call).
sub evaluated {
	my ($name) = @_;
	my $mark = $t->psql('SELECT clock_timestamp()');
	return wait_for(sub { $t->psql("SELECT evaluated_at > '$mark' FROM alert_rule "
	    . "WHERE project = 'p1' AND name = '$name'") eq 't' }, 30);
}

# ---------------------------------------------------------------------
# slo_burn.  An SLO of 99.9 % over 28 days: the factors are 13.44
# (1h/5m, page), 5.6 (6h/30m, page), 2.8 (1d/2h, ticket), 0.933 (3d/6h,
# ticket); a burn rate is bad / (good + bad) / 0.001.  Points are
# written for every 5-minute step from 3 days back to the step after
# the one holding now, so the figures below hold when a step boundary
# passes during the test (the windows move by one step: at most one
# step of each pattern leaves or joins a window, which no factor is
# near enough to notice).

my $S = 300;
my $T0 = floor(time / $S) * $S;
# $bad->($k): the bad events of the step $k steps from T0 (of 1000).
sub series {
	my ($bad) = @_;
	my $body = '';
	for my $k (-864 .. 1) {
		my $b = $bad->($k) // 0;
		$body .= sprintf(qq({"sli":"sli-checkout","t":"%s","good":%d,"bad":%d}\n),
		    strftime('%Y-%m-%dT%H:%M:%SZ', gmtime($T0 + $k * $S)), 1000 - $b, $b);
	}
	my $r = $t->request(POST => "$P/sli-points", user => 'carol', body => $body,
	    content_type => 'application/x-ndjson');
	is($r->{status}, 200, 'the series is written') or diag $r->{content};
}
sub slo_status { $t->json($t->request(GET => "$P/slos/checkout/status", user => 'bob')) }
sub firing { join(',', map { "$_->{long}/$_->{short}" } grep { $_->{firing} } @{ $_[0]{alerts} }) }

subtest 'slo_burn: fires only when both windows of an alert burn; ticket medium, page critical; resolves' => sub {
	my $r = $t->request(POST => "$P/slos", user => 'carol', json => { kind => 'SLO',
	    metadata => { name => 'checkout' }, spec => { experience => 'E-commerce',
	    journey => 'Checkout', target => 0.999, window => '28d',
	    indicators => [ { id => 'sli-checkout' } ] } });
	is($r->{status}, 201, 'an SLO of 99.9 % over 28 days') or diag $r->{content};
	$r = $t->request(PUT => "$P/hub-channels/ops", user => 'carol',
	    json => { type => 'webhook', url => 'http://127.0.0.1:9/hook', allIncidents => JSON::PP::false });
	is($r->{status}, 201, 'a channel');
	my $rule = post_rule('checkout-burn', type => 'slo_burn', slo => 'checkout', channels => ['ops']);
	ok(!exists $rule->{spec}{severity}, 'no severity filled in: page and ticket alerts choose it');

	# Only the short windows: 60 bad of 1000 in the newest two steps.
	# 5m burns at 60 (> 13.44), 1h at 5 or 10; 30m at 10 or 20 (> 5.6),
	# 6h below 2; 2h above 2.8, 1d below 0.5; 3d below 0.2.
	series(sub { $_[0] >= 0 ? 60 : 0 });
	my $s = slo_status();
	cmp_ok($s->{burnRates}{'5m'}, '>', 13.44, 'the 5-minute window burns faster than 13.44');
	cmp_ok($s->{burnRates}{'1h'}, '<', 13.44, 'the hour does not');
	is(firing($s), '', 'the SLO API fires no alert');
	ok(evaluated('checkout-burn'), 'the rule was evaluated on that data');
	is(state('checkout-burn'), 'none', 'no incident when only short windows burn');

	# A ticket alert: 100 bad in the steps from 115 to 30 minutes ago
	# (1d at 6.25, 2h at 75; 3d at 2.1, 6h at 25), the last 30 minutes
	# clean (so 5m and 30m do not burn: no page).
	series(sub { $_[0] >= -23 && $_[0] <= -6 ? 100 : 0 });
	$s = slo_status();
	like(firing($s), qr{^1d/2h,3d/6h$}, 'the SLO API fires the ticket alerts');
	ok(wait_for(sub { state('checkout-burn') eq 'open/medium' }, 30), 'a medium incident opens')
	    or diag explain incidents('checkout-burn');
	my $inc = $t->psql("SELECT id FROM incident WHERE dedup_key = 'rule:p1/checkout-burn'");
	my $meta = $t->json($t->psql("SELECT metadata FROM incident WHERE id = '$inc'"));
	is_deeply([ map { "$_->{severity} $_->{long}/$_->{short}" } @{ $meta->{alerts} } ],
	    [ 'ticket 1d/2h', 'ticket 3d/6h' ], 'its metadata names the alerts that fire');
	is($t->psql("SELECT string_agg(channel || ':' || event, ',') FROM alert_notification WHERE incident_id = '$inc'"),
	    'ops:open', 'the open notification was enqueued with it');

	# A page alert as well: 50 bad in the last 30 minutes too.
	series(sub { $_[0] >= -23 && $_[0] <= -6 ? 100 : $_[0] > -6 ? 50 : 0 });
	like(firing(slo_status()), qr{^1h/5m,6h/30m,}, 'the SLO API fires the page alerts');
	ok(wait_for(sub { state('checkout-burn') eq 'open/critical' }, 30), 'the incident is raised to critical')
	    or diag explain incidents('checkout-burn');
	is(scalar @{ incidents('checkout-burn') }, 1, 'the same incident, not a second one');
	is($t->psql("SELECT note FROM incident_timeline WHERE incident_id = '$inc' ORDER BY id DESC LIMIT 1"),
	    'severity medium -> critical', 'the timeline says so');

	# Clean the last 30 minutes again: the hour still burns at 50 (its
	# long window) but 5m does not: no page alert; the tickets fire on.
	series(sub { $_[0] >= -23 && $_[0] <= -6 ? 100 : 0 });
	$s = slo_status();
	cmp_ok($s->{burnRates}{'1h'}, '>', 13.44, 'the hour burns faster than 13.44');
	is(firing($s), '1d/2h,3d/6h', 'yet the page alert does not fire (5m is clean)');
	ok(evaluated('checkout-burn'), 'evaluated');
	is(state('checkout-burn'), 'open/critical', 'the incident stays open and critical');

	# All clean: no alert fires, the incident is resolved.
	series(sub { 0 });
	is(firing(slo_status()), '', 'no alert fires');
	ok(wait_for(sub { state('checkout-burn') eq 'resolved/critical' }, 30), 'the incident is resolved');
	is($t->psql("SELECT actor || ':' || note FROM incident_timeline WHERE incident_id = '$inc' "
	    . "AND to_status = 'resolved'"), 'evaluator:the rule stopped firing', 'by the evaluator');
	is($t->psql("SELECT string_agg(event, ',' ORDER BY created_at) FROM alert_notification WHERE incident_id = '$inc'"),
	    'open,resolve', 'open and resolve notified');
	my $doc = $t->json($t->request(GET => "$P/alert-rules/checkout-burn", user => 'bob'));
	is($doc->{status}{pendingSince}, undef, 'the rule is not pending');
	is($doc->{status}{lastValue}, 0, 'its value: no burn');
};

subtest 'slo_burn: an unknown SLO never fires; a named severity wins' => sub {
	post_rule('ghost-burn', type => 'slo_burn', slo => 'no-such-slo');
	post_rule('pinned-burn', type => 'slo_burn', slo => 'checkout', severity => 'low');
	series(sub { $_[0] >= -11 ? 50 : 0 });	# the page alerts fire
	ok(wait_for(sub { state('pinned-burn') eq 'open/low' }, 30), 'the pinned rule opens a low incident');
	ok(evaluated('ghost-burn'), 'the ghost rule was evaluated');
	is(state('ghost-burn'), 'none', 'and opened nothing');
	is($t->psql("SELECT last_value IS NULL FROM alert_rule WHERE name = 'ghost-burn'"), 't', 'its value is null');
	$t->request(DELETE => "$P/alert-rules/$_", user => 'carol') for qw(ghost-burn pinned-burn checkout-burn);
	series(sub { 0 });
};

# ---------------------------------------------------------------------
# monitor_down.  No checker runs: the monitors' states are set here.

sub monitor {
	my ($name, $state, $ago) = @_;
	$t->psql("INSERT INTO monitor (project, name, spec, every, created_by, updated_by, state, state_since) "
	    . "VALUES ('p1', '$name', '{}', '1 minute', 't', 't', '$state', now() - interval '$ago seconds') "
	    . "ON CONFLICT (project, name) DO UPDATE SET state = excluded.state, state_since = excluded.state_since");
}

subtest 'monitor_down: a matching monitor down for "for" opens the incident; up resolves it' => sub {
	monitor($_, 'up', 600) for qw(shop-home shop-api payments);
	post_rule('shop-down', type => 'monitor_down', monitors => ['shop-*'], for => '3s',
	    severity => 'critical', channels => ['ops']);
	monitor('payments', 'down', 0);
	ok(evaluated('shop-down'), 'evaluated with payments down');
	is(state('shop-down'), 'none', 'a monitor the selector does not match: nothing');
	my $t0 = time;
	monitor('shop-api', 'down', 0);
	ok(wait_for(sub { state('shop-down') eq 'open/critical' }, 30), 'shop-api down: the incident opens');
	my $after = $t->psql("SELECT extract(epoch FROM first_seen - (SELECT state_since FROM monitor "
	    . "WHERE name = 'shop-api')) FROM incident WHERE dedup_key = 'rule:p1/shop-down'");
	cmp_ok($after, '>=', 3, sprintf('not before "for" (%.1f s after the monitor went down)', $after));
	my $meta = $t->json($t->psql("SELECT metadata FROM incident WHERE dedup_key = 'rule:p1/shop-down'"));
	is_deeply($meta->{monitors}, ['shop-api'], 'its metadata names the monitor');
	is($t->psql("SELECT title FROM incident WHERE dedup_key = 'rule:p1/shop-down'"),
	    'shop-down: monitors down (shop-*)', 'its title names the selector');
	monitor('shop-home', 'down', 0);
	ok(evaluated('shop-down'), 'evaluated with two down');
	is($t->psql("SELECT count(*) || '/' || max(count) FROM incident WHERE dedup_key = 'rule:p1/shop-down'"),
	    '1/1', 'one incident kept open');
	is($t->psql("SELECT last_value FROM alert_rule WHERE name = 'shop-down'"), 2, 'the value: two monitors down');
	monitor('shop-api', 'up', 0);
	ok(evaluated('shop-down'), 'evaluated with one down');
	is(state('shop-down'), 'open/critical', 'still open while shop-home is down');
	monitor('shop-home', 'up', 0);
	ok(wait_for(sub { state('shop-down') eq 'resolved/critical' }, 30), 'all up: resolved');
	is($t->psql("SELECT string_agg(a.channel || ':' || a.event, ',' ORDER BY a.created_at) FROM alert_notification a "
	    . "JOIN incident i ON i.id = a.incident_id WHERE i.dedup_key = 'rule:p1/shop-down'"),
	    'ops:open,ops:resolve', 'notified on open and resolve');
};

subtest 'monitor_down: the time a monitor has been down counts towards "for"' => sub {
	monitor('legacy', 'down', 900);
	monitor('fresh', 'down', 0);
	post_rule('legacy-down', type => 'monitor_down', monitors => ['legacy'], for => '10m');
	post_rule('fresh-down', type => 'monitor_down', monitors => ['fresh'], for => '10m');
	ok(wait_for(sub { state('legacy-down') eq 'open/high' }, 30), 'down for 15 minutes, for 10m: opens at once');
	ok(evaluated('fresh-down'), 'fresh-down evaluated');
	is(state('fresh-down'), 'none', 'down just now, for 10m: pending, no incident');
	is($t->psql("SELECT pending_since = (SELECT state_since FROM monitor WHERE name = 'fresh') "
	    . "FROM alert_rule WHERE name = 'fresh-down'"), 't', 'pending since the monitor went down');
	$t->psql("UPDATE monitor SET paused = true WHERE name = 'legacy'");
	ok(wait_for(sub { state('legacy-down') eq 'resolved/high' }, 30), 'a paused monitor is not down: resolved');
};

subtest 'refusals name the field' => sub {
	for my $b ([ { type => 'monitor_down', monitors => ['shop home'] }, qr/^spec\.monitors\[0\]/ ],
	    [ { type => 'monitor_down', monitors => ['*'], for => 'soon' }, qr/^spec\.for/ ],
	    [ { type => 'slo_burn', slo => 'checkout', for => '1 week' }, qr/^spec\.for/ ],
	    [ { type => 'slo_burn', slo => 'checkout', metric => 'x' }, qr/^spec\.metric: unknown field/ ]) {
		my $r = $t->request(POST => "$P/alert-rules", user => 'carol',
		    json => { kind => 'AlertRule', metadata => { name => 'bad' }, spec => $b->[0] });
		is($r->{status}, 400, "refused: $b->[1]");
		like($t->json($r)->{message} // '', $b->[1], 'the message names the field');
	}
};

done_testing;
