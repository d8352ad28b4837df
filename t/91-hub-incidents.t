#!/usr/bin/perl
# Incidents (SPEC §10): create (201 new, 200 the open one counted),
# exact dedup under concurrency, list with filters and paging, get with
# timeline and notifications, status transitions under If-Match with
# every invalid one refused (409 invalid_transition), reopen after
# resolve and a new incident after close, audit rows and timeline
# entries for each transition, roles.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep time);
use DashTest;

my $t = DashTest->new(workers => 4, config => { hub => { evaluators => 0 } });

$t->psql(<<'SQL');
INSERT INTO project (name, created_by, updated_by) VALUES ('p1', 't', 't');
INSERT INTO project_member (project, user_name, role, created_by, updated_by)
    VALUES ('p1', 'carol', 'editor', 't', 't'), ('p1', 'bob', 'viewer', 't', 't');
INSERT INTO hub_channel (project, name, type, url, created_by)
    VALUES ('p1', 'ops', 'webhook', 'http://127.0.0.1:9/hook', 't'),
           ('p1', 'chat', 'slack', 'http://127.0.0.1:9/slack', 't');
SQL

my $I = '/api/v1/projects/p1/incidents';

sub create {
	my ($body, %o) = @_;
	return $t->request(POST => $I, user => $o{user} // 'carol', json => $body);
}

sub status {
	my ($id, $st, $version, %o) = @_;
	return $t->request(PUT => "$I/$id/status", user => $o{user} // 'carol',
	    json => { status => $st, defined $o{note} ? (note => $o{note}) : () },
	    headers => defined $version ? { 'If-Match' => qq("$version") } : {});
}

my $inc;
subtest 'create: 201 new, then 200 the open one with count + 1' => sub {
	my $r = create({ title => 'DB down', severity => 'critical', dedupKey => 'db',
	    source => 'pager', metadata => { host => 'db1' } });
	is($r->{status}, 201, 'answered 201') or diag $r->{content};
	$inc = $t->json($r);
	like($inc->{id}, qr/^[0-9a-f-]{36}$/, 'a uuid id');
	is($t->header($r, 'Location'), "$I/$inc->{id}", 'Location');
	is($t->header($r, 'ETag'), '"1"', 'ETag version 1');
	is_deeply([ @$inc{qw(title severity status source dedupKey count version)} ],
	    [ 'DB down', 'critical', 'open', 'pager', 'db', 1, 1 ], 'the document');
	is_deeply($inc->{metadata}, { host => 'db1' }, 'metadata');
	$r = create({ title => 'DB down again', severity => 'critical', dedupKey => 'db',
	    metadata => { again => JSON::PP::true } });
	is($r->{status}, 200, 'same key while open: 200');
	my $j = $t->json($r);
	is($j->{id}, $inc->{id}, 'the same incident');
	is($j->{count}, 2, 'count 2');
	is($j->{title}, 'DB down', 'the title stays the first one');
	ok($j->{metadata}{again} && $j->{metadata}{host}, 'metadata merged');
	$r = create({ title => 'no key', severity => 'low' });
	is($r->{status}, 201, 'without a dedupKey: a new incident');
	like($t->json($r)->{dedupKey}, qr/^[0-9a-f-]{36}$/, 'with a generated key');
};

subtest 'create refusals name the field' => sub {
	my @bad = (
		[ {}, qr/^title: required/ ],
		[ { title => 'x' }, qr/^severity: must be "low", "medium", "high" or "critical"$/ ],
		[ { title => 'x', severity => 'urgent' }, qr/^severity/ ],
		[ { title => 'x', severity => 'low', metadata => [] }, qr/^metadata: must be an object/ ],
		[ { title => 'x', severity => 'low', dedupKey => '' }, qr/^dedupKey: must be a non-empty string$/ ],
		[ { title => 'x', severity => 'low', colour => 'red' }, qr/^colour: unknown field/ ],
		[ [], qr/must be an incident/ ],
	);
	for my $b (@bad) {
		my $r = create($b->[0]);
		is($r->{status}, 400, '400 for ' . JSON::PP->new->canonical->encode($b->[0]));
		like($t->json($r)->{message}, $b->[1], 'names the field');
	}
	is(create({ title => 'x', severity => 'low' }, user => 'bob')->{status}, 403, 'a viewer cannot create');
	is(create({ title => 'x', severity => 'low' }, user => 'alice')->{status}, 404, 'a stranger sees no project');
};

subtest 'dedup is exact under concurrency: 50 triggers, one incident, count 50' => sub {
	my @pids;
	for my $i (1 .. 50) {
		push @pids, $t->bg(sub {
			my $r = create({ title => "race $i", severity => 'high', dedupKey => 'race' });
			return $r->{status} == 201 ? 1 : $r->{status} == 200 ? 2 : 3;
		});
	}
	my %rc;
	$rc{ $t->wait_pid($_, 60) // 'timeout' }++ for @pids;
	is($rc{1}, 1, 'exactly one 201');
	is($rc{2}, 49, 'forty-nine 200');
	is($t->psql("SELECT count(*) || '/' || max(count) FROM incident WHERE dedup_key = 'race'"),
	    '1/50', 'one row, count 50');
};

subtest 'get: the incident with its timeline and notifications' => sub {
	my $r = $t->request(GET => "$I/$inc->{id}", user => 'bob');
	is($r->{status}, 200, 'a viewer reads it');
	my $j = $t->json($r);
	is($t->header($r, 'ETag'), qq("$j->{version}"), 'ETag is the version');
	is(scalar @{ $j->{timeline} }, 1, 'one timeline entry');
	is_deeply([ @{ $j->{timeline}[0] }{qw(actor from to)} ], [ 'carol', undef, 'open' ],
	    'opened by carol');
	is_deeply([ sort map { "$_->{channel}:$_->{event}:$_->{status}" } @{ $j->{notifications} } ],
	    [ 'chat:open:pending', 'ops:open:pending' ], 'one notification per channel, pending');
	is($t->request(GET => "$I/00000000-0000-0000-0000-000000000000", user => 'bob')->{status},
	    404, 'unknown id: 404');
	is($t->request(GET => "$I/not-a-uuid", user => 'bob')->{status}, 404, 'not a uuid: 404');
};

subtest 'transitions: If-Match, allowed ones, every other refused' => sub {
	my $id = $inc->{id};
	my $v = $t->json($t->request(GET => "$I/$id", user => 'bob'))->{version};
	my $r = status($id, 'investigating');
	is($r->{status}, 428, 'without If-Match: 428');
	$r = status($id, 'investigating', $v + 5);
	is($r->{status}, 412, 'a stale version: 412');
	is($t->header($r, 'ETag'), qq("$v"), 'with the current ETag');
	$r = status($id, 'bogus', $v);
	is($r->{status}, 400, 'an unknown status: 400');
	$r = status($id, 'investigating', $v, user => 'bob');
	is($r->{status}, 403, 'a viewer cannot change it');

	# From open: investigating, resolved allowed; closed, open refused.
	for my $bad (qw(closed open)) {
		$r = status($id, $bad, $v);
		is($r->{status}, 409, "open -> $bad: 409");
		is($t->json($r)->{code}, 'invalid_transition', 'invalid_transition');
	}
	$r = status($id, 'investigating', $v, note => 'looking');
	is($r->{status}, 200, 'open -> investigating') or diag $r->{content};
	$v = $t->json($r)->{version};
	is($t->header($r, 'ETag'), qq("$v"), 'the new ETag');
	for my $bad (qw(open closed investigating)) {
		$r = status($id, $bad, $v);
		is($r->{status}, 409, "investigating -> $bad: 409");
	}
	$r = status($id, 'resolved', $v, note => 'fixed');
	is($r->{status}, 200, 'investigating -> resolved');
	$v = $t->json($r)->{version};
	ok($t->json($r)->{resolvedAt}, 'resolvedAt set');
	for my $bad (qw(investigating resolved)) {
		is(status($id, $bad, $v)->{status}, 409, "resolved -> $bad: 409");
	}
	$r = status($id, 'open', $v, note => 'back');
	is($r->{status}, 200, 'resolved -> open (reopen)');
	$v = $t->json($r)->{version};
	$r = status($id, 'resolved', $v);
	is($r->{status}, 200, 'open -> resolved');
	$v = $t->json($r)->{version};
	$r = status($id, 'closed', $v);
	is($r->{status}, 200, 'resolved -> closed');
	$v = $t->json($r)->{version};
	for my $bad (qw(open investigating resolved closed)) {
		is(status($id, $bad, $v)->{status}, 409, "closed -> $bad: 409");
	}

	my $j = $t->json($t->request(GET => "$I/$id", user => 'bob'));
	is_deeply([ map { ($_->{from} // '-') . '>' . $_->{to} } @{ $j->{timeline} } ],
	    [ '->open', 'open>investigating', 'investigating>resolved', 'resolved>open',
	      'open>resolved', 'resolved>closed' ], 'the timeline has every transition');
	is($j->{timeline}[2]{note}, 'fixed', 'with its note');
	is_deeply([ map { "$_->{channel}:$_->{event}" } grep { $_->{channel} eq 'ops' } @{ $j->{notifications} } ],
	    [ 'ops:open', 'ops:resolve', 'ops:reopen', 'ops:resolve' ],
	    'notifications on open, resolve, reopen, resolve; none for investigating or closed');
	is($t->psql("SELECT count(*) FROM audit_log WHERE action = 'incident.status' AND resource = '$id' AND result = 'success'"),
	    5, 'five audit rows for five transitions');
	is($t->psql("SELECT string_agg(details->>'from' || '>' || (details->>'to'), ',' ORDER BY at) FROM audit_log "
	    . "WHERE action = 'incident.status' AND resource = '$id'"),
	    'open>investigating,investigating>resolved,resolved>open,open>resolved,resolved>closed',
	    'each with from and to');
};

subtest 'after resolve a new trigger opens a new incident; reopening then conflicts' => sub {
	my $r = create({ title => 'flappy', severity => 'medium', dedupKey => 'flap' });
	my $a = $t->json($r);
	$r = status($a->{id}, 'resolved', $a->{version});
	is($r->{status}, 200, 'resolved');
	my $av = $t->json($r)->{version};
	$r = create({ title => 'flappy', severity => 'medium', dedupKey => 'flap' });
	is($r->{status}, 201, 'the same key after resolve: 201, a new incident');
	isnt($t->json($r)->{id}, $a->{id}, 'with a new id');
	$r = status($a->{id}, 'open', $av);
	is($r->{status}, 409, 'reopening the old one while a new one is open: 409');
	is($t->psql("SELECT count(*) FROM incident WHERE dedup_key = 'flap' AND status IN ('open','investigating')"),
	    1, 'still one open per key');
};

subtest 'list: newest first, filters, cursor paging' => sub {
	my $r = $t->request(GET => $I, user => 'bob');
	is($r->{status}, 200, 'a viewer lists');
	my $all = $t->json($r);
	cmp_ok(scalar @$all, '>=', 5, 'every incident');
	my @fs = map { $_->{firstSeen} } @$all;
	is_deeply(\@fs, [ sort { $b cmp $a } @fs ], 'newest first');
	my $open = $t->json($t->request(GET => "$I?status=open", user => 'bob'));
	ok(!grep({ $_->{status} ne 'open' } @$open), 'status=open: only open ones');
	my $crit = $t->json($t->request(GET => "$I?severity=critical", user => 'bob'));
	is(scalar @$crit, 1, 'severity=critical: one');
	is($t->request(GET => "$I?status=nope", user => 'bob')->{status}, 400, 'a bad status filter: 400');
	is($t->request(GET => "$I?severity=nope", user => 'bob')->{status}, 400, 'a bad severity filter: 400');
	is($t->request(GET => "$I?since=x", user => 'bob')->{status}, 400, 'a bad since: 400');
	my (@paged, $url);
	$url = "$I?limit=2";
	for (1 .. 20) {
		$r = $t->request(GET => $url, user => 'bob');
		push @paged, @{ $t->json($r) };
		my $l = $t->header($r, 'Link') or last;
		($url) = $l =~ /<([^>]+)>/;
	}
	is_deeply([ map { $_->{id} } @paged ], [ map { $_->{id} } @$all ], 'pages of two give the same list');
};

subtest 'a deleted project takes its incidents along' => sub {
	$t->psql("INSERT INTO project (name, created_by, updated_by) VALUES ('p9', 't', 't');"
	    . "SELECT hub_trigger('p9', 'k', 'T', 'low', 'api', '{}', 't');"
	    . "DELETE FROM project WHERE name = 'p9'");
	is($t->psql("SELECT (SELECT count(*) FROM incident WHERE project = 'p9') + "
	    . "(SELECT count(*) FROM incident_timeline WHERE project = 'p9')"), 0, 'cascaded');
};

done_testing;
