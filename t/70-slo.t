#!/usr/bin/perl
# SLOs (SPEC §8): SLO documents (create, read, list with filters,
# update and delete with If-Match / metadata.version locking, audit
# rows, roles, and every refusal naming its field), SLI point ingest
# (JSON array and NDJSON, upsert, all-or-nothing with the bad line
# named, roll-ups kept right when a point is replaced), the status
# arithmetic checked against figures this file computes itself from a
# handcrafted data set (zero traffic, burn rates per window, the alert
# factors for 7d, 28d and 30d, firing only when both windows burn, a
# calendar window), the tree, the seed-compatible /api/seed,
# /api/series, /api/series/{id}, /api/series/batch and /health in their
# shapes, and retention dropping whole partitions.
use strict;
use warnings;
use Test::More;
use POSIX qw(floor strftime);
use Time::Local qw(timegm);
use DashTest;

my $t = DashTest->new(workers => 2);

$t->psql(<<'SQL');
INSERT INTO project (name, created_by, updated_by) VALUES ('shop', 't', 't'),
    ('default', 't', 't');
INSERT INTO project_member (project, user_name, role, created_by, updated_by)
    VALUES ('shop', 'carol', 'editor', 't', 't'), ('shop', 'bob', 'viewer', 't', 't'),
	   ('default', 'bob', 'viewer', 't', 't');
SQL

my $P = '/api/v1/projects/shop';

sub body { my $j = eval { JSON::PP->new->decode($_[0]{content} // '') }; $j }

sub slo {
	my ($name, %o) = @_;
	return { kind => 'SLO', metadata => { name => $name,
	    (defined $o{version} ? (version => $o{version}) : ()) },
	    spec => { experience => $o{experience} // 'E-commerce',
	    journey => $o{journey} // 'Checkout',
	    display => { name => "SLO $name" },
	    target => $o{target} // 0.99, window => $o{window} // '28d',
	    owner => 'payments', description => '',
	    indicators => $o{indicators} // [ { id => "sli-$name",
		display => { name => 'ratio' } } ] } };
}

sub create {
	my ($name, %o) = @_;
	return $t->request(POST => "$P/slos", user => 'carol',
	    json => slo($name, %o));
}

# 400 validation_failed whose message starts with the field's path.
sub refused {
	my ($r, $field, $what) = @_;
	my $j = body($r) // {};
	ok($r->{status} == 400 && ($j->{code} // '') eq 'validation_failed' &&
	    index($j->{message} // '', $field) == 0,
	    "$what: 400 naming $field") or diag "$r->{status} $r->{content}";
}

sub audit_actions {
	my ($resource) = @_;
	return $t->psql("SELECT string_agg(action || ':' || result, ',' " .
	    "ORDER BY id) FROM audit_log WHERE project = 'shop' AND resource = " .
	    "'$resource'");
}

# ---------------------------------------------------------------------
subtest 'SLO documents: create, read, list, update, delete' => sub {
	my $r = create('checkout');
	is($r->{status}, 201, 'create: 201') or diag $r->{content};
	my $d = body($r);
	is($d->{kind}, 'SLO', 'the document is an SLO');
	is($d->{metadata}{version}, 0, 'version 0');
	is($d->{metadata}{project}, 'shop', 'its project');
	is($t->header($r, 'ETag'), '"0"', 'ETag "0"');
	is($d->{spec}{indicators}[0]{id}, 'sli-checkout', 'the indicator');
	is($d->{spec}{window}, '28d', 'the window');

	$r = $t->request(GET => "$P/slos/checkout", user => 'bob');
	is($r->{status}, 200, 'a viewer reads it');
	is_deeply(body($r)->{spec}, $d->{spec}, 'the same spec');

	ok(create('search', journey => 'Search')->{status} == 201 &&
	    create('login', experience => 'Mobile', journey => 'Auth')->{status}
	    == 201, 'two more SLOs');
	$r = $t->request(GET => "$P/slos", user => 'bob');
	is_deeply([ map { $_->{metadata}{name} } @{ body($r) } ],
	    [qw(checkout login search)], 'the list, by name');
	$r = $t->request(GET => "$P/slos?experience=E-commerce&journey=Search",
	    user => 'bob');
	is_deeply([ map { $_->{metadata}{name} } @{ body($r) } ], ['search'],
	    '?experience=&journey= filter');
	$r = $t->request(GET => "$P/slos?status=no_data", user => 'bob');
	is(scalar @{ body($r) }, 3, '?status=no_data: all (no points yet)');
	$r = $t->request(GET => "$P/slos?status=healthy", user => 'bob');
	is_deeply(body($r), [], '?status=healthy: none');
	$r = $t->request(GET => "$P/slos?status=fine", user => 'bob');
	is($r->{status}, 400, '?status=fine: 400');
	$r = $t->request(GET => "$P/slos?limit=2", user => 'bob');
	is(scalar @{ body($r) }, 2, '?limit=2: a page of two');
	like($t->header($r, 'Link') // '', qr/rel="next"/, 'and a Link to the next');
	$r = $t->request(GET => "$P/slos?experience=E-commerce&limit=1",
	    user => 'bob');
	my ($next) = ($t->header($r, 'Link') // '') =~ /<([^>]+)>/;
	like($next // '', qr/experience=E-commerce&limit=1&cursor=/,
	    'the next page keeps the filter');
	$r = $t->request(GET => $next, user => 'bob');
	is_deeply([ map { $_->{metadata}{name} } @{ body($r) } ], ['search'],
	    'and is the second SLO of E-commerce');

	# Update: If-Match, metadata.version, neither.
	my $new = slo('checkout', target => 0.995);
	$r = $t->request(PUT => "$P/slos/checkout", user => 'carol',
	    json => $new, headers => { 'If-Match' => '"0"' });
	is($r->{status}, 200, 'PUT with If-Match "0": 200') or diag $r->{content};
	is(body($r)->{metadata}{version}, 1, 'now version 1');
	is(body($r)->{spec}{target}, 0.995, 'the new target');
	is($t->header($r, 'ETag'), '"1"', 'ETag "1"');
	$r = $t->request(PUT => "$P/slos/checkout", user => 'carol',
	    json => $new, headers => { 'If-Match' => '"0"' });
	is($r->{status}, 412, 'a stale If-Match: 412');
	is(body($r)->{code}, 'version_mismatch', 'version_mismatch');
	$r = $t->request(PUT => "$P/slos/checkout", user => 'carol',
	    json => slo('checkout', version => 0));
	is($r->{status}, 409, 'a stale metadata.version: 409');
	is(body($r)->{code}, 'version_conflict', 'version_conflict');
	$r = $t->request(PUT => "$P/slos/checkout", user => 'carol',
	    json => slo('checkout'));
	is($r->{status}, 428, 'no version at all: 428');
	$r = $t->request(PUT => "$P/slos/checkout", user => 'carol',
	    json => slo('checkout', version => 1, target => 0.999));
	is($r->{status}, 200, 'the current metadata.version: 200');
	$r = $t->request(PUT => "$P/slos/nope", user => 'carol',
	    json => slo('nope', version => 0));
	is($r->{status}, 404, 'PUT of an unknown SLO: 404');

	$r = $t->request(DELETE => "$P/slos/search", user => 'carol',
	    headers => { 'If-Match' => '"7"' });
	is($r->{status}, 412, 'DELETE with a stale If-Match: 412');
	$r = $t->request(DELETE => "$P/slos/search", user => 'carol');
	is($r->{status}, 204, 'DELETE: 204');
	$r = $t->request(GET => "$P/slos/search", user => 'bob');
	is($r->{status}, 404, 'gone: 404');
	is($t->psql("SELECT count(*) FROM sli WHERE id = 'sli-search'"), 0,
	    'its SLI went with it');

	is(audit_actions('checkout'),
	    'slo.create:success,slo.update:success,slo.update:success',
	    'audit rows: create and two updates (the refused ones roll back)');
	is(audit_actions('search'), 'slo.create:success,slo.delete:success',
	    'audit rows: create and delete');

	$r = $t->request(POST => "$P/slos", user => 'bob', json => slo('x'));
	is($r->{status}, 403, 'a viewer cannot create: 403');
	$r = $t->request(GET => "$P/slos", user => 'alice');
	is($r->{status}, 404, 'a stranger does not see the project: 404');
};

subtest 'SLO documents: each refusal names its field' => sub {
	refused(create('t1', target => 1), 'spec.target', 'target 1');
	refused(create('t0', target => 0), 'spec.target', 'target 0');
	refused(create('ts', target => '0.9'), 'spec.target', 'target a string');
	refused(create('w', window => '14d'), 'spec.window', 'window 14d');
	refused(create('i', indicators => [ { id => 'Bad_Id' } ]),
	    'spec.indicators[0].id', 'an SLI id with capitals');
	refused(create('i2', indicators => [ { id => 'x' x 76 } ]),
	    'spec.indicators[0].id', 'an SLI id of 76 characters');
	refused(create('i3', indicators => [ { id => 'a' }, { id => 'a' } ]),
	    'spec.indicators[1].id', 'an SLI id twice');
	refused(create('i4', indicators => []), 'spec.indicators',
	    'no indicators');
	refused(create('e', experience => ''), 'spec.experience',
	    'an empty experience');
	my $doc = slo('u');
	$doc->{spec}{colour} = 'red';
	refused($t->request(POST => "$P/slos", user => 'carol', json => $doc),
	    'spec.colour', 'an unknown member');
	$doc = slo('k');
	$doc->{kind} = 'Dashboard';
	refused($t->request(POST => "$P/slos", user => 'carol', json => $doc),
	    'kind', 'kind Dashboard');
	$doc = slo('bad name!');
	refused($t->request(POST => "$P/slos", user => 'carol', json => $doc),
	    'metadata.name', 'a bad name');
	$doc = slo('checkout', version => 2);
	$doc->{metadata}{project} = 'other';
	refused($t->request(PUT => "$P/slos/checkout", user => 'carol',
	    json => $doc), 'metadata.project', 'another project in the body');

	my $r = create('checkout');
	is($r->{status}, 409, 'a name that exists: 409');
	$r = create('dup', indicators => [ { id => 'sli-login' } ]);
	is($r->{status}, 409, 'an SLI id another SLO has: 409');
	like(body($r)->{message} // '', qr/sli-login.*login/,
	    'the message names the SLI and its SLO');
	$r = $t->request(POST => "$P/slos", user => 'carol', body => '{"kind":',
	    content_type => 'application/json');
	is($r->{status}, 400, 'malformed JSON: 400');
	$r = $t->request(POST => "$P/slos", user => 'carol', body => '{}',
	    content_type => 'text/plain');
	is($r->{status}, 415, 'not JSON: 415');
	is($t->psql("SELECT count(*) FROM slo WHERE project = 'shop'"), 2,
	    'nothing refused was stored');
};

# ---------------------------------------------------------------------
# Points.  Times are relative to a0, the 5-minute step holding now.

my $A0 = floor(time / 300) * 300;
sub ts { strftime('%Y-%m-%dT%H:%M:%SZ', gmtime($_[0])) }
sub pts_post {
	my ($body, %o) = @_;
	return $t->request(POST => "$P/sli-points", user => $o{user} // 'carol',
	    body => $body, content_type => $o{ct} // 'application/json');
}
sub sums {
	my ($id) = @_;
	return $t->psql("SELECT coalesce(sum(p.good), 0) || '/' || " .
	    "coalesce(sum(p.bad), 0) || ' ' || (SELECT coalesce(sum(h.good), 0) " .
	    "|| '/' || coalesce(sum(h.bad), 0) FROM sli_hourly h JOIN sli i ON " .
	    "i.key = h.sli WHERE i.id = '$id') FROM sli_point p JOIN sli i ON " .
	    "i.key = p.sli WHERE i.id = '$id'");
}

subtest 'points: upsert, NDJSON, all or nothing' => sub {
	my @p = map { { sli => 'sli-login', t => ts($A0 - 300 * $_),
	    good => 100, bad => $_ } } 1 .. 5;
	my $r = pts_post($t->encode_json(\@p));
	is($r->{status}, 200, 'a JSON array: 200') or diag $r->{content};
	is_deeply(body($r), { written => 5 }, '{"written":5}');
	is(sums('sli-login'), '500/15 500/15', 'points and hourly sums agree');

	$r = pts_post($t->encode_json(\@p));
	is(sums('sli-login'), '500/15 500/15', 'the same points again: no change');
	$p[0]{bad} = 11;		# was 1
	$p[0]{t} = ts($A0 - 300 + 7);	# aligned down to the same step
	$r = pts_post(join("\n", map { $t->encode_json($_) } $p[0]) . "\n",
	    ct => 'application/x-ndjson');
	is($r->{status}, 200, 'NDJSON: 200') or diag $r->{content};
	is(sums('sli-login'), '500/25 500/25',
	    'a replaced point: the hour takes the difference');
	is($t->psql("SELECT count(*) FROM sli_point"), 5, 'still five points');

	my $nd = join("\n", map { $t->encode_json($_) } (
	    { sli => 'sli-login', t => ts($A0 - 3600), good => 1, bad => 0 },
	    { sli => 'sli-login', t => ts($A0 - 7200), good => 1, bad => 0 },
	    { sli => 'sli-nope', t => ts($A0), good => 1, bad => 0 })) . "\n";
	$r = pts_post($nd, ct => 'application/x-ndjson');
	is($r->{status}, 400, 'an unknown SLI on line 3: 400');
	like(body($r)->{message}, qr/^line 3: sli "sli-nope" is not an SLI/,
	    'the message names line 3 and the SLI');
	is($t->psql("SELECT count(*) FROM sli_point"), 5,
	    'nothing of the request was written');
	$r = pts_post($t->encode_json([ $p[1], { %{ $p[1] }, sli => 'sli-zz' } ]));
	like(body($r)->{message} // '', qr/^\[1\]: sli "sli-zz"/,
	    'in a JSON array the element is named');
	refused(pts_post($t->encode_json([ { %{ $p[1] }, good => -1 } ])),
	    '[0]: good', 'a negative count');
	refused(pts_post($t->encode_json([ { %{ $p[1] }, t => 'yesterday' } ])),
	    '[0]: t', 'a time that is not RFC 3339');
	refused(pts_post("{\"sli\":\"sli-login\"}\nnot json\n",
	    ct => 'application/x-ndjson'), 'line 1', 'NDJSON line 1 incomplete');
	refused(pts_post($t->encode_json([ { %{ $p[1] },
	    t => ts($A0 - 40 * 86400) } ])), '[0]: t: older',
	    'a time older than raw_retention');
	refused(pts_post('{"sli":"x"}'), 'the body', 'an object, not an array');
	$r = pts_post('[]', user => 'bob');
	is($r->{status}, 403, 'a viewer cannot write points');
	$r = pts_post('[]', ct => 'text/csv');
	is($r->{status}, 415, 'text/csv: 415');
	like(audit_actions(''), qr/^$/, 'no resource-less rows for project');
	is($t->psql("SELECT count(*) FROM audit_log WHERE action = 'slo.points' " .
	    "AND result = 'success'"), 3, 'an audit row per accepted request');

	# C turns t into seconds: an offset and a fraction count, the step
	# is the UTC one, and a date that does not exist is refused.
	my $when = strftime('%Y-%m-%dT%H:%M:%S', gmtime($A0 - 600 + 7200 + 42)) .
	    '.5+02:00';
	$r = pts_post($t->encode_json([ { sli => 'sli-login', t => $when,
	    good => 100, bad => 2 } ]));
	is_deeply(body($r), { written => 1 }, "t $when: written");
	is($t->psql("SELECT count(*) FROM sli_point WHERE t = to_timestamp(" .
	    ($A0 - 600) . ")"), 1, 'as the point of its UTC step');
	is($t->psql("SELECT count(*) FROM sli_point"), 5, 'which it replaced');
	for my $bad ('2026-02-29T00:00:00Z', '2026-04-31T00:00:00Z',
	    '2026-12-01T24:00:00Z', '2026-12-01T10:00:00+24:00') {
		refused(pts_post($t->encode_json([ { %{ $p[1] }, t => $bad } ])),
		    '[0]: t', "t $bad");
	}

	# Eight requests at once write the same new points (retries that
	# overlap): the hour must hold the points as stored, not the sum
	# of every request's.
	my @new = map { { sli => 'sli-login', t => ts($A0 - 86400 - 300 * $_),
	    good => 10 + $_, bad => 1 } } 0 .. 49;
	my $body = $t->encode_json(\@new);
	my @kids = map { $t->bg(sub { my $r = pts_post($body);
	    $r->{status} == 200 ? 0 : 1 }) } 1 .. 8;
	is(scalar(grep { ($t->wait_pid($_, 60) // -1) == 0 } @kids), 8,
	    'eight concurrent writes of the same new points: all 200');
	is($t->psql("SELECT count(*) FROM (SELECT h.sli, h.t, h.good, h.bad " .
	    "FROM sli_hourly h EXCEPT SELECT p.sli, date_trunc('hour', p.t, " .
	    "'UTC'), sum(p.good), sum(p.bad) FROM sli_point p GROUP BY 1, 2) x"),
	    0, 'and the hourly roll-ups are the sums of the points');
	is($t->psql("SELECT count(*) FROM (SELECT d.sli, d.t, d.good, d.bad " .
	    "FROM sli_daily d EXCEPT SELECT h.sli, date_trunc('day', h.t, " .
	    "'UTC'), sum(h.good), sum(h.bad) FROM sli_hourly h GROUP BY 1, 2) x"),
	    0, 'and the daily ones the sums of the hours');
	$t->psql("DELETE FROM sli_point; DELETE FROM sli_hourly; " .
	    "DELETE FROM sli_daily");
};

# ---------------------------------------------------------------------
# The arithmetic, against figures computed here.

my @WINDOWS = ([ '5m', 300 ], [ '30m', 1800 ], [ '1h', 3600 ], [ '2h', 7200 ],
    [ '6h', 21600 ], [ '1d', 86400 ], [ '3d', 259200 ]);

# Sums of [t, good, bad] over lo <= t < hi.
sub window_sums {
	my ($pts, $lo, $hi) = @_;
	my ($g, $b) = (0, 0);
	for (@$pts) { next if $_->[0] < $lo || $_->[0] >= $hi;
		$g += $_->[1]; $b += $_->[2] }
	return ($g, $b);
}

sub epoch_of { my ($y, $m, $d, $H, $M, $S) = $_[0] =~
    /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)Z$/ or return;
    timegm($S, $M, $H, $d, $m - 1, $y) }

sub near { my ($got, $want, $name) = @_;
	if (!defined $want) { ok(!defined $got, "$name: null") or
	    diag "got $got"; return }
	ok(defined $got && abs($got - $want) <= 1e-9 * (1 + abs($want)),
	    "$name: $want") or diag 'got ' . ($got // 'null') }

my %FACTORS = ('7d' => [3.36, 1.4, 0.7, 0.7 / 3],
    '28d' => [13.44, 5.6, 2.8, 2.8 / 3], '30d' => [14.4, 6, 3, 1]);

# A calendar window ending at e: its start, its length, the start of
# the period before (UTC; weeks start on Monday).
sub calendar {
	my ($win, $e) = @_;
	my @g = gmtime($e - 1);
	if ($win eq 'calendar-week') {
		my $lo = timegm(0, 0, 0, $g[3], $g[4], $g[5]) -
		    (($g[6] + 6) % 7) * 86400;
		return ($lo, 7 * 86400, $lo - 7 * 86400);
	}
	my $lo = timegm(0, 0, 0, 1, $g[4], $g[5]);
	my ($ny, $nm) = $g[4] == 11 ? ($g[5] + 1, 0) : ($g[5], $g[4] + 1);
	my ($py, $pm) = $g[4] == 0 ? ($g[5] - 1, 11) : ($g[5], $g[4] - 1);
	return ($lo, timegm(0, 0, 0, 1, $nm, $ny) - $lo,
	    timegm(0, 0, 0, 1, $pm, $py));
}

# Check one status answer against the points, the target and the window.
sub check_status {
	my ($name, $st, $pts, $target, $win) = @_;
	my $e = epoch_of($st->{evaluatedAt});
	ok(defined $e, "$name: evaluatedAt is RFC 3339") or return;
	my ($lo, $len, $ref);
	if ($win =~ /^(\d+)d$/) { ($lo, $len) = ($e - $1 * 86400, $1 * 86400) }
	else {
		# A calendar window's budget is a share of the period
		# before's events (scaled to this period), when it had any.
		my ($plo);
		($lo, $len, $plo) = calendar($win, $e);
		my ($pg, $pb) = window_sums($pts, $plo, $lo);
		$ref = ($pg + $pb) * $len / ($lo - $plo) if $pg + $pb;
	}
	my ($g, $b) = window_sums($pts, $lo, $e);
	my $n = $g + $b;
	my $base = $ref // $n;
	near($st->{sli}, $n ? $g / $n : undef, "$name: sli");
	near($st->{errorBudget}{allowed}, $n ? (1 - $target) * $base : undef,
	    "$name: allowed");
	near($st->{errorBudget}{spent}, $n ? $b : undef, "$name: spent");
	my $rem = $n ? 1 - $b / ((1 - $target) * $base) : undef;
	near($st->{errorBudget}{remaining}, $rem, "$name: remaining");
	is($st->{status}, !defined $rem ? 'no_data' : $rem >= 0.7 ? 'healthy' :
	    $rem >= 0.2 ? 'at_risk' : $rem > 0 ? 'critical' : 'breached',
	    "$name: status");
	my %rate;
	for my $w (@WINDOWS) {
		my ($wg, $wb) = window_sums($pts, $e - $w->[1], $e);
		$rate{ $w->[0] } = $wg + $wb ? $wb / ($wg + $wb) / (1 - $target)
		    : undef;
		near($st->{burnRates}{ $w->[0] }, $rate{ $w->[0] },
		    "$name: burn rate $w->[0]");
	}
	my @rules = ([ page => '1h', '5m', 0.02 ], [ page => '6h', '30m', 0.05 ],
	    [ ticket => '1d', '2h', 0.1 ], [ ticket => '3d', '6h', 0.1 ]);
	is(scalar @{ $st->{alerts} }, 4, "$name: four alerts");
	for my $i (0 .. 3) {
		my ($sev, $long, $short, $share) = @{ $rules[$i] };
		my $a = $st->{alerts}[$i];
		my %sec = map { $_->[0] => $_->[1] } @WINDOWS;
		is("$a->{severity} $a->{long} $a->{short}", "$sev $long $short",
		    "$name: alert $i is $long/$short");
		near($a->{factor}, $share * $len / $sec{$long},
		    "$name: alert $long/$short factor");
		near($a->{factor}, $FACTORS{$win}[$i],
		    "$name: the $win factor of $long/$short")
		    if $FACTORS{$win};
		my $fire = defined $rate{$long} && defined $rate{$short} &&
		    $rate{$long} > $a->{factor} && $rate{$short} > $a->{factor};
		is($a->{firing} ? 1 : 0, $fire ? 1 : 0,
		    "$name: alert $long/$short firing is " . ($fire ? 'true' :
		    'false'));
	}
}

subtest 'status: budget, burn rates and alerts against hand figures' => sub {
	my %sets = (
	    # Mixed history: a recent incident, quiet hours, old days,
	    # one point outside 28 days.
	    mixed => [ 0.99, '28d', [ [ -600, 900, 100 ], [ -2700, 1000, 0 ],
		[ -10800, 5000, 50 ], [ -2 * 86400, 100000, 200 ],
		[ -20 * 86400, 200000, 100 ], [ -29 * 86400 + 300, 1000, 1000 ] ] ],
	    # Burning now: every alert fires.
	    burning => [ 0.999, '30d', [ [ 0, 900, 100 ], [ -3600, 900, 100 ],
		[ -5 * 86400, 10000, 0 ] ] ],
	    # The long windows burn, the short ones saw only good events:
	    # no page fires although 1h and 6h are far over their factors.
	    longonly => [ 0.999, '7d', [ [ 0, 1000, 0 ], [ -300, 1000, 0 ],
		[ -600, 1000, 0 ], [ -3000, 100, 900 ] ] ],
	    # A breach.
	    breach => [ 0.9, '28d', [ [ -86400, 100, 900 ] ] ],
	    # This month only: points before its first day do not count.
	    calendar => [ 0.99, 'calendar-month', [ [ 0, 100, 1 ],
		[ -3600, 1000, 1 ], [ -40 * 86400, 10, 10 ] ] ],
	    # No events at all.
	    empty => [ 0.99, '28d', [] ],
	);
	for my $name (sort keys %sets) {
		my ($target, $win, $rel) = @{ $sets{$name} };
		my $r = create("st-$name", target => $target, window => $win,
		    journey => 'Status');
		is($r->{status}, 201, "SLO st-$name") or diag $r->{content};
		# Points older than the retention are refused: keep those
		# out of the request and count them as absent.
		my @pts = map { [ $A0 + $_->[0], $_->[1], $_->[2] ] }
		    grep { $_->[0] > -35 * 86400 } @$rel;
		next unless @pts;
		$r = pts_post($t->encode_json([ map { { sli => "sli-st-$name",
		    t => ts($_->[0]), good => $_->[1], bad => $_->[2] } } @pts ]));
		is($r->{status}, 200, "points of st-$name") or diag $r->{content};
		$sets{$name}[3] = \@pts;
	}
	for my $name (sort keys %sets) {
		my ($target, $win, undef, $pts) = @{ $sets{$name} };
		my $r = $t->request(GET => "$P/slos/st-$name/status", user => 'bob');
		is($r->{status}, 200, "status of st-$name") or next;
		unlike($r->{content}, qr/NaN|Infinity/i, "st-$name: no NaN");
		my $st = body($r);
		is($st->{slo}, "st-$name", 'the SLO');
		check_status("st-$name", $st, $pts // [], $target, $win);
		is(scalar @{ $st->{indicators} }, 1, 'one indicator');
		is($st->{indicators}[0]{id}, "sli-st-$name", 'its id');
		is($st->{indicators}[0]{status}, $st->{status},
		    'the SLO has its only SLI\'s status');
	}
	my $r = $t->request(GET => "$P/slos/nope/status", user => 'bob');
	is($r->{status}, 404, 'status of an unknown SLO: 404');

	# The worst SLI decides: an SLO with a breached and a healthy SLI.
	$r = create('two', journey => 'Status', target => 0.99, indicators => [
	    { id => 'two-good' }, { id => 'two-bad' } ]);
	is($r->{status}, 201, 'an SLO with two SLIs');
	pts_post($t->encode_json([ { sli => 'two-good', t => ts($A0 - 600),
	    good => 1000, bad => 0 }, { sli => 'two-bad', t => ts($A0 - 600),
	    good => 100, bad => 50 } ]));
	my $st = body($t->request(GET => "$P/slos/two/status", user => 'bob'));
	is($st->{status}, 'breached', 'the SLO takes its worst SLI');
	is_deeply([ map { $_->{status} } @{ $st->{indicators} } ],
	    [qw(healthy breached)], 'each SLI has its own status, in order');
};

subtest 'a calendar window: no new bad events, the budget never rises' => sub {
	my $r = create('cal-week', journey => 'Calendar', target => 0.99,
	    window => 'calendar-week');
	is($r->{status}, 201, 'a calendar-week SLO');
	my ($lo) = calendar('calendar-week', $A0 + 300);
	my @pts = ([ $lo - 86400, 10000, 0 ], [ $A0 - 600, 1000, 20 ]);
	my $post = sub { pts_post($t->encode_json([ map { { sli => 'sli-cal-week',
	    t => ts($_->[0]), good => $_->[1], bad => $_->[2] } } @_ ])) };
	is($post->(@pts)->{status}, 200, 'last week 10,000 events, this week ' .
	    '1,000 good and 20 bad');
	my $status = sub { body($t->request(GET => "$P/slos/cal-week/status",
	    user => 'bob')) };
	my $st = $status->();
	check_status('cal-week', $st, \@pts, 0.99, 'calendar-week');
	near($st->{errorBudget}{allowed}, 100, 'the allowance: 1 % of last ' .
	    'week\'s 10,000');
	my $before = $st->{errorBudget}{remaining};
	push @pts, [ $A0 - 900, 5000, 0 ];
	$post->($pts[-1]);
	$st = $status->();
	check_status('cal-week + good', $st, \@pts, 0.99, 'calendar-week');
	cmp_ok($st->{errorBudget}{remaining}, '<=', $before,
	    '5,000 more good events: the remaining budget did not rise');
	push @pts, [ $A0 - 1200, 0, 10 ];
	$post->($pts[-1]);
	$st = $status->();
	cmp_ok($st->{errorBudget}{remaining}, '<', $before,
	    '10 more bad events: it fell');
	$t->psql("DELETE FROM slo WHERE name = 'cal-week'");
};

subtest 'the tree: experiences, journeys, roll-ups' => sub {
	my $r = $t->request(GET => "$P/slo-tree", user => 'bob');
	is($r->{status}, 200, 'slo-tree: 200') or diag $r->{content};
	my $tree = body($r);
	is_deeply([ map { $_->{name} } @{ $tree->{experiences} } ],
	    ['E-commerce', 'Mobile'], 'experiences by name');
	my ($ec) = grep { $_->{name} eq 'E-commerce' } @{ $tree->{experiences} };
	is_deeply([ map { $_->{name} } @{ $ec->{journeys} } ],
	    ['Checkout', 'Status'], 'journeys by name');
	my ($js) = grep { $_->{name} eq 'Status' } @{ $ec->{journeys} };
	is($js->{status}, 'breached', 'a journey shows its least healthy SLO');
	my %want;
	$want{ $_->{status} }++ for @{ $js->{slos} };
	is_deeply({ map { $_ => $js->{counts}{$_} } grep { $js->{counts}{$_} }
	    keys %{ $js->{counts} } }, \%want, 'and the count per status');
	is($tree->{status}, 'breached', 'the project rolls up too');
	ok(exists $js->{slos}[0]{errorBudget}{remaining}, 'SLOs carry budgets');
};

# ---------------------------------------------------------------------
subtest 'the seed-compatible API' => sub {
	my $r = $t->request(GET => '/api/seed?project=shop', user => 'bob');
	is($r->{status}, 200, '/api/seed: 200') or diag $r->{content};
	my $s = body($r);
	is_deeply([ sort keys %$s ], ['experiences'], '{"experiences":[…]}');
	my $e = $s->{experiences}[0];
	is_deeply([ sort keys %$e ], [qw(journeys name)], 'an experience');
	is_deeply([ sort keys %{ $e->{journeys}[0] } ], [qw(name slos)],
	    'a journey');
	my $slo = $e->{journeys}[0]{slos}[0];
	for my $k (qw(id name target owner indicators status errorBudget)) {
		ok(exists $slo->{$k}, "an SLO has $k");
	}
	is_deeply([ sort keys %{ $slo->{errorBudget} } ],
	    [qw(allowed remaining spent)], 'errorBudget {allowed, spent, remaining}');
	# /api/seed sums days, hours and points in one plan for the fleet
	# (sli_range_counts()); its figures are slo_eval()'s, to the byte,
	# for every window kind here (rolling, calendar month and week),
	# SLOs of several SLIs and none with data.
	my ($bad, $n);
	for my $try (1 .. 3) {
		my $s0 = $t->psql("SELECT slo_now(interval '300 s')");
		my $seed = $t->request(GET => '/api/seed?project=shop', user => 'bob');
		($bad, $n) = split /\|/, $t->psql(<<"SQL");
WITH got AS (SELECT o ->> 'id' AS name,
	jsonb_build_object('sli', o -> 'sli', 'status', o -> 'status',
	    'errorBudget', o -> 'errorBudget', 'indicators', o -> 'indicators') AS f
	FROM jsonb_path_query(\$seed\$$seed->{content}\$seed\$::jsonb,
	    '\$.experiences[*].journeys[*].slos[*]') o),
want AS (SELECT s.name, jsonb_build_object('sli', j -> 'sli', 'status',
	j -> 'status', 'errorBudget', j -> 'errorBudget', 'indicators',
	(SELECT jsonb_agg(jsonb_build_object('id', x -> 'id', 'name',
	    coalesce(x -> 'display' ->> 'name', x ->> 'id'), 'sli', x -> 'sli',
	    'status', x -> 'status', 'errorBudget', x -> 'errorBudget') ORDER BY o)
	 FROM jsonb_array_elements(j -> 'indicators') WITH ORDINALITY y (x, o))) AS f
	FROM slo s, slo_eval(s, slo_now(interval '300 s'), false) j
	WHERE s.project = 'shop')
SELECT count(*) FILTER (WHERE got.f IS DISTINCT FROM want.f), count(*)
  FROM got FULL JOIN want USING (name)
SQL
		last if $t->psql("SELECT slo_now(interval '300 s')") eq $s0;
	}
	is($bad, 0, "every SLO's and SLI's figures are slo_eval()'s");
	cmp_ok($n, '>=', 5, "over the project's SLOs ($n)");
	$r = $t->request(GET => '/api/seed', user => 'bob');
	is_deeply(body($r), { experiences => [] },
	    'without ?project=: slo.default_project (empty)');
	$r = $t->request(GET => '/api/seed?project=shop', user => 'alice');
	is($r->{status}, 404, 'a stranger: 404');
	$r = $t->request(GET => '/api/seed?project=../x', user => 'bob');
	is($r->{status}, 400, 'a bad project name: 400');

	$r = $t->request(GET => '/api/series?project=shop&days=2', user => 'bob');
	is($r->{status}, 200, '/api/series: 200') or diag $r->{content};
	my $series = body($r);
	ok(ref $series eq 'HASH' && exists $series->{'sli-st-mixed'},
	    'an object keyed by SLI id');
	is_deeply([ sort keys %$series ], [ sort split /\n/, $t->psql(
	    "SELECT id FROM sli WHERE project = 'shop'") ], 'every SLI');
	my $arr = $series->{'sli-st-mixed'};
	is_deeply([ sort keys %{ $arr->[0] } ], [qw(bad good t)],
	    'a point is {t, good, bad}');
	like($arr->[0]{t}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 't is RFC 3339');
	is_deeply([ map { $_->{t} } @$arr ], [ sort map { $_->{t} } @$arr ],
	    'oldest first');
	# The one from exactly 2 days ago is in while the current step is
	# the one the test began in.
	is(scalar(grep { $_->{t} ge ts($A0 - 10800) } @$arr), 3,
	    'the last 2 days: the three recent points of st-mixed');
	ok(@$arr == 3 || @$arr == 4, 'and nothing older than 2 days');

	$r = $t->request(GET => '/api/series/sli-st-mixed?project=shop&days=28',
	    user => 'bob');
	is($r->{status}, 200, '/api/series/{id}: 200');
	$arr = body($r);
	is(ref $arr, 'ARRAY', 'an array');
	is(scalar @$arr, 5, '28 days: five points');
	$r = $t->request(GET => '/api/series/sli-st-mixed?project=shop&days=28&step=1h',
	    user => 'bob');
	my $h = body($r);
	my ($g1, $g2) = (0, 0);
	$g1 += $_->{good} for @$arr;
	$g2 += $_->{good} for @$h;
	is($g2, $g1, '?step=1h: hourly sums of the same points');
	ok(!grep({ $_->{t} !~ /:00:00Z$/ } @$h), 'on whole hours');
	$r = $t->request(GET => '/api/series/sli-none?project=shop', user => 'bob');
	is($r->{status}, 404, 'an unknown SLI: 404');
	$r = $t->request(GET => '/api/series?project=shop&days=0', user => 'bob');
	is($r->{status}, 400, 'days=0: 400');
	$r = $t->request(GET => '/api/series?project=shop&days=401', user => 'bob');
	is($r->{status}, 400, 'days=401: 400');
	$r = $t->request(GET => '/api/series?project=shop&step=2h', user => 'bob');
	is($r->{status}, 400, 'step=2h: 400');

	$r = $t->request(POST => '/api/series/batch?project=shop', user => 'bob',
	    json => { sliIds => [ 'sli-st-mixed', 'sli-st-breach' ], days => 28 });
	is($r->{status}, 200, 'batch: 200') or diag $r->{content};
	is_deeply([ sort keys %{ body($r) } ], [ 'sli-st-breach', 'sli-st-mixed' ],
	    'the object for those SLIs');
	$r = $t->request(POST => '/api/series/batch?project=shop', user => 'bob',
	    json => { sliIds => [ 'sli-st-mixed', 'zz-1', 'aa-2' ] });
	is($r->{status}, 400, 'unknown ids: 400');
	like(body($r)->{message}, qr/^sliIds: .*aa-2, zz-1$/, 'naming them');
	$r = $t->request(POST => '/api/series/batch?project=shop', user => 'bob',
	    json => { sliIds => [], days => 28 });
	is($r->{status}, 400, 'no ids: 400');

	$r = $t->request(GET => '/health');
	is($r->{status}, 200, '/health: 200 without a user');
	is_deeply(body($r), { status => 'ok', database => 'connected' },
	    '{"status":"ok","database":"connected"}');
};

# ---------------------------------------------------------------------
subtest 'retention drops whole partitions' => sub {
	my $before = $t->psql("SELECT count(*) FROM pg_inherits " .
	    "WHERE inhparent = 'sli_point'::regclass");
	my $old = $t->psql("SELECT count(*) FROM pg_inherits i JOIN pg_class c " .
	    "ON c.oid = i.inhrelid WHERE i.inhparent = 'sli_point'::regclass " .
	    "AND c.relname < 'sli_point_' || to_char(now() AT TIME ZONE 'UTC', " .
	    "'YYYY_MM')");
	cmp_ok($old, '>=', 1, 'partitions behind the current month exist');
	my $rows = $t->psql("SELECT count(*) FROM sli_point WHERE t >= " .
	    "date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'");
	$t->write_config({ slo => { raw_retention => '1d',
	    rollup_retention => '1d' } });
	my ($rc, $out, $err) = $t->run_dashcgi('maintenance');
	is($rc, 0, 'maintenance runs') or diag $err;
	like($err, qr/job=slo_raw_retention dropped_partitions=\d+/,
	    'the raw retention job reports partitions');
	my $now_day = (gmtime)[3];
	my $left = $t->psql("SELECT count(*) FROM pg_inherits i JOIN pg_class c " .
	    "ON c.oid = i.inhrelid WHERE i.inhparent = 'sli_point'::regclass " .
	    "AND c.relname < 'sli_point_' || to_char(now() AT TIME ZONE 'UTC', " .
	    "'YYYY_MM')");
	# The month before this one ends before now - 1d unless today is
	# the 1st.
	cmp_ok($left, '<=', $now_day == 1 ? 1 : 0, 'old partitions dropped');
	is($t->psql("SELECT count(*) FROM sli_point WHERE t >= " .
	    "date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"),
	    $rows, 'the rows of this month are all there');
	cmp_ok($t->psql("SELECT count(*) FROM pg_inherits WHERE inhparent = " .
	    "'sli_point'::regclass"), '>=', 3, 'this month and two ahead remain');
	$t->write_config({});
};

is($t->stop_dashcgi, 0, 'SIGTERM: master exits 0');
done_testing;
