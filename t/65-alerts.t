#!/usr/bin/perl
# The dashcgi-alerts datasource: Alertmanager's v2 read API over the
# incident hub, as Perses's AlertManagerDatasource reads it.  Open and
# investigating incidents are active alerts; resolved ones are not.
use strict;
use warnings;
use Test::More;
use JSON::PP ();
use DashTest;

my $t = DashTest->new(config => { auth => { admins => ['admin'] } });
my $G = '/proxy/globaldatasources/dashcgi-alerts/api/v2';
my $PD = '/proxy/projects/shop/datasources/dashcgi-alerts/api/v2';
my $P = '/api/v1/projects/shop';
$t->psql(q{INSERT INTO project (name, display, created_by, updated_by)
    VALUES ('shop', '{}', 't', 't');
    INSERT INTO project_member (project, user_name, role, created_by, updated_by)
    VALUES ('shop', 'alice', 'editor', 't', 't')});
sub body { my $j = eval { JSON::PP->new->decode($_[0]{content} // '') }; $j }

my %id;
for my $c ([ 'checkout 5xx', 'critical', 'co' ], [ 'slow search', 'low', 'se' ],
    [ 'old', 'high', 'old' ]) {
	my $r = $t->request(POST => "$P/incidents", user => 'alice',
	    json => { title => $c->[0], severity => $c->[1], dedupKey => $c->[2],
	    source => 'api' });
	is($r->{status}, 201, "incident $c->[2]") or diag $r->{content};
	$id{ $c->[2] } = body($r);
}
my $r = $t->request(PUT => "$P/incidents/$id{old}{id}/status", user => 'alice',
    json => { status => 'resolved', note => 'fixed' },
    headers => { 'If-Match' => qq("$id{old}{version}") });
is($r->{status}, 200, 'one resolved') or diag $r->{content};

subtest 'alerts: the open incidents, shaped as Alertmanager answers' => sub {
	my $r = $t->request(GET => "$G/alerts", user => 'alice');
	is($r->{status}, 200, '200');
	my $a = body($r);
	is(scalar @$a, 2, 'two active alerts; the resolved one is not');
	my ($co) = grep { $_->{labels}{dedup_key} eq 'co' } @$a;
	is_deeply($co->{labels}, { alertname => 'api', severity => 'critical',
	    project => 'shop', dedup_key => 'co' }, 'labels');
	is($co->{annotations}{summary}, 'checkout 5xx', 'summary: the title');
	is($co->{status}{state}, 'active', 'state active');
	is_deeply($co->{status}{silencedBy}, [], 'silencedBy []');
	like($co->{fingerprint}, qr/^[0-9a-f]{16}$/, 'a 16-hex fingerprint');
	like($co->{startsAt}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'startsAt');
	is($co->{receivers}[0]{name}, 'dashcgi', 'receiver');
};

subtest 'filter= takes Alertmanager matchers' => sub {
	my $r = $t->request(GET => "$G/alerts?filter=" . 'severity%3D%22critical%22',
	    user => 'alice');
	is(scalar @{ body($r) }, 1, 'severity="critical": one');
	$r = $t->request(GET => "$G/alerts?filter=" . 'severity%3D~%22crit.%2A%7Clow%22',
	    user => 'alice');
	is(scalar @{ body($r) }, 2, 'a regex');
	$r = $t->request(GET => "$G/alerts?filter=" . 'oops', user => 'alice');
	is($r->{status}, 400, 'not a matcher: 400');
	like(body($r)->{message}, qr/^filter: "oops" is not one matcher/, 'naming it');
};

subtest 'groups, silences, status, scoping' => sub {
	my $g = body($t->request(GET => "$PD/alerts/groups", user => 'alice'));
	is(scalar @$g, 1, 'one group (alertname api)');
	is(scalar @{ $g->[0]{alerts} }, 2, 'with both alerts');
	is($t->request(GET => "$G/silences", user => 'alice')->{content}, '[]',
	    'silences: []');
	my $s = body($t->request(GET => "$G/status", user => 'alice'));
	is($s->{cluster}{status}, 'disabled', 'status: no cluster');
	like($s->{versionInfo}{version}, qr/^\d+\.\d+/, 'a version');
	is(scalar @{ body($t->request(GET => "$G/alerts", user => 'bob')) }, 0,
	    'bob sees no alert of a project he has no role in');
	is($t->request(GET => "$PD/alerts", user => 'bob')->{status}, 404,
	    'and the project datasource is 404 for him');
	is($t->request(GET => "$G/alerts")->{status}, 401, 'no user: 401');
};

is($t->stop_dashcgi, 0, 'SIGTERM: master exits 0');
done_testing();
