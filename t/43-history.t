#!/usr/bin/perl
# Version history: every change keeps the version it replaced; the
# versions list (newest first, the current one included), past
# documents by /versions/{v} and ?version=, restore (a new version with
# an old spec, restoredFrom), history_limit trimming, and the state
# machine draft/active/archived, each change a version of its own.
use strict;
use warnings;
use Test::More;
use DashTest;
use DashTest::Fixtures;

my $t = DashTest->new(workers => 2);

$t->psql(<<'SQL');
INSERT INTO project (name, created_by, updated_by) VALUES ('demo', 't', 't');
INSERT INTO project_member (project, user_name, role, created_by, updated_by) VALUES
    ('demo', 'alice', 'editor', 't', 't'), ('demo', 'bob', 'viewer', 't', 't');
SQL

my $D = '/api/v1/projects/demo/dashboards';
my $RFC3339 = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

sub dash {
	my ($name, %o) = @_;
	return { kind => 'Dashboard', metadata => { name => $name,
	    tags => $o{tags} // [] }, spec => {
	    display => { name => $o{display} // "Dashboard $name" },
	    duration => $o{duration} // '1h',
	    panels => { p1 => { kind => 'Panel', spec => {
		plugin => { kind => 'TimeSeriesChart', spec => {} } } } },
	    layouts => [ { kind => 'Grid', spec => { items => [ { x => 0, y => 0,
		width => 12, height => 6,
		content => { '$ref' => '#/spec/panels/p1' } } ] } } ] } };
}

sub req {
	my ($m, $path, %o) = @_;
	$o{user} //= 'alice';
	return $t->request($m, $path, %o);
}

sub history_rows {
	my ($name) = @_;
	return $t->psql("SELECT count(*) FROM dashboard_version v JOIN dashboard d "
	    . "ON d.id = v.dashboard_id WHERE d.project = 'demo' AND d.name = '$name'") + 0;
}

# PUT version $v of $name with display "v<v+1>" and a change message.
sub update {
	my ($name, $v, %o) = @_;
	my $r = req(PUT => "$D/$name", json => dash($name, display => "v" . ($v + 1),
	    %o), headers => { 'If-Match' => qq{"$v"}, 'X-Change-Message' => "change $v" });
	die "update $name at $v: $r->{status} $r->{content}" unless $r->{status} == 200;
	return $t->json($r);
}

sub create {
	my ($name, %o) = @_;
	my $r = req(POST => "$D", json => dash($name, display => 'v0', %o));
	die "create $name: $r->{status} $r->{content}" unless $r->{status} == 200;
	return $t->json($r);
}

# ---------------------------------------------------------------------

subtest 'N updates give N history entries; the list is newest first' => sub {
	create('h', tags => ['t0']);
	update('h', $_, tags => ["t" . ($_ + 1)]) for 0 .. 4;
	is(history_rows('h'), 5, '5 updates: 5 history rows');
	my $r = req(GET => "$D/h/versions");
	is($r->{status}, 200, 'GET versions: 200');
	my $l = $t->json($r);
	is_deeply([ map { $_->{version} } @$l ], [5, 4, 3, 2, 1, 0],
	    'the current version first, then every one before it');
	is_deeply([ sort keys %{ $l->[0] } ],
	    [qw(message restoredFrom updatedAt updatedBy version)], 'entry keys');
	is($l->[0]{message}, 'change 4', 'the current version\'s message');
	is($l->[4]{message}, 'change 0', 'version 1 carries the message of its change');
	ok(!defined $l->[5]{message}, 'version 0 has none');
	ok(!grep({ defined $_->{restoredFrom} } @$l), 'no restoredFrom yet');
	ok(!grep({ $_->{updatedBy} ne 'alice' } @$l), 'updatedBy');
	ok(!grep({ $_->{updatedAt} !~ $RFC3339 } @$l), 'updatedAt RFC 3339 UTC');

	is(req(GET => "$D/h/versions", user => 'bob')->{status}, 200, 'a viewer reads it');
	is_error(req(GET => "$D/nope/versions"), 404, 'not_found', 'unknown dashboard');
	is_error(req(GET => "$D/h/versions", user => 'carol'), 404, 'not_found',
	    'no role');

	my @all;
	my ($path, $pages) = ("$D/h/versions?limit=4", 0);
	while (defined $path && $pages++ < 10) {
		$r = req(GET => $path);
		push @all, map { $_->{version} } @{ $t->json($r) };
		($path) = ($t->header($r, 'Link') // '') =~ /^<([^>]+)>/;
	}
	is_deeply(\@all, [5, 4, 3, 2, 1, 0], 'paged by 4: every version exactly once');
	is($pages, 2, 'in two pages');
	is_error(req(GET => "$D/h/versions?limit=0"), 400, 'bad_request', 'limit 0');
	is_error(req(GET => "$D/h/versions?cursor=eA"), 400, 'bad_request', 'a bad cursor');
};

subtest 'past versions: /versions/{v} and ?version=' => sub {
	for my $v (0 .. 5) {
		my $r = req(GET => "$D/h/versions/$v");
		is($r->{status}, 200, "versions/$v: 200");
		my $d = $t->json($r);
		is($d->{spec}{display}{name}, "v$v", "versions/$v: that version's spec");
		is_deeply($d->{metadata}{tags}, ["t$v"], "versions/$v: its tags");
		is($d->{metadata}{version}, $v, "versions/$v: metadata.version");
		is($t->header($r, 'ETag'), qq{"$v"}, "versions/$v: ETag");
		is_deeply($t->json(req(GET => "$D/h?version=$v")), $d, "?version=$v: the same");
	}
	my $cur = $t->json(req(GET => "$D/h"));
	is_deeply($t->json(req(GET => "$D/h?version=5")), $cur,
	    '?version= of the current one is the current document');
	is_error(req(GET => "$D/h?version=6"), 404, 'not_found', '?version=6');
	is_error(req(GET => "$D/h/versions/99"), 404, 'not_found', 'versions/99');
	for my $bad (qw(-1 abc 1.0 99999999999)) {
		my $j = is_error(req(GET => "$D/h?version=$bad"), 400, 'bad_request',
		    "?version=$bad");
		like($j->{message}, qr/^version: /, 'names version');
		is_error(req(GET => "$D/h/versions/$bad"), 400, 'bad_request',
		    "versions/$bad");
	}
};

subtest 'restore: a new version with the old spec, restoredFrom' => sub {
	my $r = req(POST => "$D/h/versions/2/restore",
	    headers => { 'X-Change-Message' => 'back to 2' });
	is($r->{status}, 200, 'restore version 2: 200') or diag $r->{content};
	is($t->header($r, 'ETag'), '"6"', 'ETag "6"');
	my $d = $t->json($r);
	is($d->{metadata}{version}, 6, 'a new version 6');
	my $old = $t->json(req(GET => "$D/h/versions/2"));
	is_deeply($d->{spec}, $old->{spec}, 'whose spec is version 2\'s');
	is_deeply($d->{metadata}{tags}, ['t2'], 'and tags');
	is_deeply($t->json(req(GET => "$D/h")), $d, 'now current');
	my $l = $t->json(req(GET => "$D/h/versions"));
	is($l->[0]{version}, 6, 'first in the list');
	is($l->[0]{restoredFrom}, 2, 'restoredFrom 2');
	is($l->[0]{message}, 'back to 2', 'with its message');
	is(history_rows('h'), 6, 'version 5 went to history');
	is($t->json(req(GET => "$D/h/versions/5"))->{spec}{display}{name}, 'v5',
	    'version 5 kept intact');
	is($t->psql("SELECT details->>'restoredFrom' FROM audit_log WHERE action = "
	    . "'dashboard.restore' AND resource = 'h'"), '2', 'audited as dashboard.restore');

	my $j = is_error(req(POST => "$D/h/versions/3/restore",
	    headers => { 'If-Match' => '"5"' }), 412, 'version_mismatch',
	    'restore with a stale If-Match');
	is($j->{currentVersion}, 6, 'currentVersion 6');
	$r = req(POST => "$D/h/versions/3/restore", headers => { 'If-Match' => '"6"' });
	is($r->{status}, 200, 'restore with the current If-Match: 200');
	is($t->json($r)->{spec}{display}{name}, 'v3', 'version 3\'s spec');
	is_error(req(POST => "$D/h/versions/42/restore"), 404, 'not_found',
	    'restore an unknown version');
	is_error(req(POST => "$D/h/versions/x/restore"), 400, 'bad_request',
	    'restore version x');
	is_error(req(POST => "$D/nope/versions/0/restore"), 404, 'not_found',
	    'restore on an unknown dashboard');
	is_error(req(POST => "$D/h/versions/0/restore", user => 'bob'), 403,
	    'forbidden', 'a viewer may not restore');
	is($t->json(req(GET => "$D/h"))->{metadata}{version}, 7, 'two restores, version 7');
};

subtest 'states: every allowed transition, every refused one' => sub {
	create('s');
	my $r = req(GET => "$D/s/state");
	is($r->{status}, 200, 'GET state: 200');
	is_deeply($t->json($r), { state => 'active', version => 0 }, 'new dashboards are active');
	my $v = 0;
	my $to = sub {
		my ($state, %o) = @_;
		return req(PUT => "$D/s/state", json => { state => $state }, %o);
	};
	my $ok = sub {
		my ($state, $name) = @_;
		my $r = $to->($state);
		is($r->{status}, 200, "$name: 200") or diag $r->{content};
		$v++;
		is_deeply($t->json($r), { state => $state, version => $v },
		    "$name: the new state and version");
		is($t->header($r, 'ETag'), qq{"$v"}, "$name: ETag");
		is(history_rows('s'), $v, "$name: a history row");
	};
	my $refused = sub {
		my ($state, $from) = @_;
		my $j = is_error($to->($state), 409, 'invalid_transition', "$from → $state");
		like($j->{message}, qr/"\Q$from\E".*"\Q$state\E"/, 'names from and to');
		is($t->json(req(GET => "$D/s/state"))->{version}, $v, 'no new version');
	};

	$refused->('active', 'active');
	$refused->('draft', 'active');
	$ok->('archived', 'active → archived');
	my @l = map { $_->{metadata}{name} } @{ $t->json(req(GET => $D)) };
	ok(!grep({ $_ eq 's' } @l), 'archived: out of the default list');
	$refused->('archived', 'archived');
	$refused->('draft', 'archived');
	$ok->('active', 'archived → active');

	$t->psql("UPDATE dashboard SET state = 'draft' WHERE name = 's'");
	$refused->('draft', 'draft');
	$ok->('active', 'draft → active');
	$t->psql("UPDATE dashboard SET state = 'draft' WHERE name = 's'");
	$ok->('archived', 'draft → archived');

	my $j = is_error($to->('deleted'), 400, 'bad_request', 'an unknown state');
	like($j->{message}, qr/^state: /, 'names state');
	is_error(req(PUT => "$D/s/state", json => { status => 'active' }), 400,
	    'bad_request', 'no state member');
	is_error(req(PUT => "$D/s/state", json => ['active']), 400, 'bad_request',
	    'not an object');
	$j = is_error($to->('active', headers => { 'If-Match' => '"0"' }), 412,
	    'version_mismatch', 'a stale If-Match');
	is($j->{currentVersion}, $v, 'currentVersion');
	$r = $to->('active', headers => { 'If-Match' => qq{"$v"} });
	is($r->{status}, 200, 'the current If-Match: 200');
	$v++;
	is_error($to->('archived', user => 'bob'), 403, 'forbidden', 'a viewer');
	is_error(req(PUT => "$D/nope/state", json => { state => 'active' }), 404,
	    'not_found', 'unknown dashboard');
	is_error(req(GET => "$D/nope/state"), 404, 'not_found', 'GET state of none');

	my @vl = @{ $t->json(req(GET => "$D/s/versions")) };
	is(scalar @vl, $v + 1, 'every state change is in the versions list');
	is($t->psql("SELECT string_agg(details->>'from' || '>' || (details->>'to'), ',' "
	    . "ORDER BY id) FROM audit_log WHERE action = 'dashboard.state' "
	    . "AND resource = 's'"),
	    'active>archived,archived>active,draft>active,draft>archived,archived>active',
	    'each change audited with from and to');
};

subtest 'history_limit: 3 keeps the newest three' => sub {
	my @old = $t->worker_pids;
	$t->write_config({ dashboards => { history_limit => 3 } });
	$t->signal_master('HUP');
	ok(scalar $t->wait_workers(2, 30, exclude => \@old), 'workers replaced after SIGHUP');

	create('lim');
	update('lim', $_) for 0 .. 5;
	is(history_rows('lim'), 3, '6 updates, 3 history rows kept');
	is_deeply([ map { $_->{version} } @{ $t->json(req(GET => "$D/lim/versions")) } ],
	    [6, 5, 4, 3], 'the current one and the newest three');
	is_error(req(GET => "$D/lim/versions/2"), 404, 'not_found', 'version 2 trimmed');
	is($t->json(req(GET => "$D/lim/versions/3"))->{spec}{display}{name}, 'v3',
	    'version 3 kept');
	is_error(req(POST => "$D/lim/versions/0/restore"), 404, 'not_found',
	    'a trimmed version cannot be restored');
	my $r = req(POST => "$D/lim/versions/4/restore");
	is($r->{status}, 200, 'a kept one can');
	is(history_rows('lim'), 3, 'restore trims too');
	$r = req(PUT => "$D/lim/state", json => { state => 'archived' });
	is($r->{status}, 200, 'a state change');
	is(history_rows('lim'), 3, 'trims too');
	is(history_rows('h'), 7, 'other dashboards are trimmed only when they change');
};

subtest 'a dashboard can start as a draft' => sub {
	my $r = req(POST => "$D?state=draft", json => dash('drafty'));
	is($r->{status}, 200, 'POST ?state=draft') or diag $r->{content};
	is($t->json(req(GET => "$D/drafty/state"))->{state}, 'draft',
	    'it is a draft');
	$r = req(PUT => "$D/drafty/state", json => { state => 'active' },
	    headers => { 'If-Match' => '"0"' });
	is($r->{status}, 200, 'draft → active') or diag $r->{content};
	is_error(req(POST => "$D?state=archived", json => dash('arch')), 400,
	    'bad_request', 'a new dashboard cannot start archived');
	is($t->psql("SELECT count(*) FROM dashboard WHERE name = 'arch'"), 0,
	    'and nothing was written');
};

is($t->stop_dashcgi, 0, 'SIGTERM: master exits 0');
unlike($t->log, qr/level=error|runtime error|Sanitizer/,
    'no errors or sanitizer reports in the log');

done_testing;
