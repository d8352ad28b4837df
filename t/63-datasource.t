#!/usr/bin/perl
# dashcgi as its own Prometheus-compatible datasource: the API subset
# Perses's Prometheus plugin reads, Prometheus's envelope and errors,
# the query language subset, snapping to the step, aggregation, the
# 11,000-point cap and who sees which project's series.  The series
# here are the core's own (dashcgi_dashboards, dashcgi_audit_events),
# made by real API calls.
use strict;
use warnings;
use Test::More;
use JSON::PP ();
use DashTest;

my $t = DashTest->new(config => { auth => { admins => ['admin'] } });
my $G = '/proxy/globaldatasources/dashcgi';
my $P = '/proxy/projects/p1/datasources/dashcgi';

$t->psql(<<'SQL');
INSERT INTO project (name, display, created_by, updated_by)
    VALUES ('p1', '{"name":"P one"}', 'test', 'test'),
           ('p2', '{"name":"P two"}', 'test', 'test');
INSERT INTO project_member (project, user_name, role, created_by, updated_by)
    VALUES ('p1', 'alice', 'editor', 'test', 'test'),
           ('p2', 'bob', 'viewer', 'test', 'test');
SQL
my $SPEC = '{"display":{"name":"d"},"duration":"1h","panels":{},"layouts":[]}';
for my $n (qw(a b c)) {
	my $r = $t->request(POST => '/api/v1/projects/p1/dashboards', user => 'alice',
	    body => qq({"kind":"Dashboard","metadata":{"name":"$n","project":"p1"},"spec":$SPEC}));
	is($r->{status}, 200, "dashboard $n created") or diag $r->{content};
}
$t->psql(q{UPDATE dashboard SET state = 'archived' WHERE name = 'c'});

sub esc { my $s = shift; $s =~ s/([^A-Za-z0-9\-_.~])/sprintf('%%%02X', ord $1)/ge; $s }
sub form { join '&', map { esc($_->[0]) . '=' . esc($_->[1]) } @_ }

sub prom {
	my ($method, $path, $user, @kv) = @_;
	my $q = form(@kv);
	my $r = $method eq 'GET'
	    ? $t->request(GET => $q ? "$path?$q" : $path, user => $user)
	    : $t->request(POST => $path, user => $user, body => $q,
		headers => { 'Content-Type' => 'application/x-www-form-urlencoded' });
	my $j = eval { JSON::PP->new->decode($r->{content}) };
	return ($r, $j);
}

my $now = time;
my ($start, $end) = ($now - 600, $now);

subtest 'query_range: a matrix snapped to the step, GET and form POST alike' => sub {
	for my $m (qw(GET POST)) {
		my ($r, $j) = prom($m, "$G/api/v1/query_range", 'alice',
		    [query => 'dashcgi_dashboards{state="active"}'],
		    [start => $start], [end => $end], [step => '60s']);
		is($r->{status}, 200, "$m: 200") or diag $r->{content};
		is($j->{status}, 'success', 'status success');
		is($j->{data}{resultType}, 'matrix', 'resultType matrix');
		is(scalar @{ $j->{data}{result} }, 1, 'one series');
		my $s = $j->{data}{result}[0];
		is_deeply($s->{metric}, { __name__ => 'dashcgi_dashboards',
		    project => 'p1', state => 'active' }, 'its labels');
		is(scalar @{ $s->{values} }, 11, '11 steps in 10 minutes at 60s');
		is($s->{values}[0][0], $start, 'the first at start, unix seconds');
		is($s->{values}[-1][0], $end, 'the last at end');
		is($s->{values}[5][1], '2', 'values are strings: "2"');
	}
};

subtest 'matchers and aggregations' => sub {
	my $q = sub {
		my ($query) = @_;
		my ($r, $j) = prom('GET', "$G/api/v1/query_range", 'alice',
		    [query => $query], [start => $start], [end => $end], [step => 300]);
		is($r->{status}, 200, "$query: 200") or diag $r->{content};
		return $j->{data}{result} // [];
	};
	is(scalar @{ $q->('dashcgi_dashboards') }, 2, 'two states, two series');
	is(scalar @{ $q->('dashcgi_dashboards{state!="active"}') }, 1, '!=');
	is(scalar @{ $q->('dashcgi_dashboards{state=~"act.*"}') }, 1, '=~ anchored');
	is(scalar @{ $q->('dashcgi_dashboards{state=~"act"}') }, 0, '=~ is anchored: "act" matches nothing');
	is(scalar @{ $q->('dashcgi_dashboards{state!~"arch.*"}') }, 1, '!~');
	is(scalar @{ $q->('{__name__=~"dashcgi_dash.*"}') }, 2, '__name__ regex');
	my $sum = $q->('sum by (project) (dashcgi_dashboards)');
	is_deeply([ map { $_->{metric} } @$sum ], [ { project => 'p1' } ], 'sum by (project)');
	is($sum->[0]{values}[0][1], '3', 'sums 2 active and 1 archived');
	my $cnt = $q->('count(dashcgi_dashboards)');
	is_deeply($cnt->[0]{metric}, {}, 'count(): no labels');
	is($cnt->[0]{values}[0][1], '2', 'two series counted');
	my $wo = $q->('max without (state) (dashcgi_dashboards)');
	is_deeply($wo->[0]{metric}, { project => 'p1' }, 'without drops the label and the name');
	is($wo->[0]{values}[0][1], '2', 'max');
	my $avg = $q->('avg(dashcgi_dashboards) by (project)');
	is($avg->[0]{values}[0][1], '1.5', 'avg, grouping after the argument');
	is(scalar @{ $q->('no_such_metric') }, 0, 'an unknown metric: empty, not an error');
};

subtest 'the audit log as a series' => sub {
	my ($r, $j) = prom('GET', "$G/api/v1/query_range", 'alice',
	    [query => 'sum by (action) (dashcgi_audit_events{project="p1"})'],
	    [start => $now - 3600], [end => $now + 60], [step => 3660]);
	is($r->{status}, 200, '200') or diag $r->{content};
	my %by = map { $_->{metric}{action} => $_->{values} } @{ $j->{data}{result} };
	is($by{'dashboard.create'}[-1][1], '3', 'three dashboard.create rows in the step');
};

subtest 'query: an instant vector' => sub {
	my ($r, $j) = prom('POST', "$G/api/v1/query", 'alice',
	    [query => 'dashcgi_dashboards{state="archived"}'], [time => $now]);
	is($r->{status}, 200, '200') or diag $r->{content};
	is($j->{data}{resultType}, 'vector', 'resultType vector');
	is_deeply($j->{data}{result}[0]{value}, [ $now, '1' ], 'value [time, "1"]');
	($r, $j) = prom('GET', "$G/api/v1/query", 'alice', [query => 'dashcgi_dashboards'],
	    [time => '2026-01-01T00:00:00Z']);
	is($r->{status}, 200, 'an RFC 3339 time');
};

subtest 'a wrong method on a path of dashcgi\'s own datasource is 405, not the proxy\'s' => sub {
	for my $c ([ POST => "$G/api/v1/metadata", 'GET, HEAD' ],
	    [ POST => "$P/-/healthy", 'GET, HEAD' ],
	    [ DELETE => "$P/api/v1/query_range", 'GET, POST, HEAD' ],
	    [ PUT => '/proxy/globaldatasources/dashcgi-alerts/api/v2/silences',
	      'GET, HEAD' ]) {
		my ($m, $path, $allow) = @$c;
		my $r = $t->request($m => $path, user => 'alice', body => '');
		is($r->{status}, 405, "$m $path: 405") or diag $r->{content};
		is($r->{headers}{allow}, $allow, "Allow: $allow");
		like($r->{content}, qr/"method_not_allowed"/, 'the error code');
	}
	my $r = $t->request(POST => "$G/api/v1/nope", user => 'alice', body => '');
	is($r->{status}, 404, 'a path dashcgi\'s datasource does not have: 404')
	    or diag $r->{content};
	like($r->{content}, qr/dashcgi's own datasource dashcgi has no such endpoint/,
	    'said by the proxy, which never takes dashcgi\'s names');
};

subtest 'errors in Prometheus\'s envelope' => sub {
	my @cases = (
	    [ 'no query', [[start => $start], [end => $end], [step => 60]],
	      qr/invalid parameter "query": the query is empty/ ],
	    [ 'a parse error names the position', [[query => 'rate(x[5m])'],
	      [start => $start], [end => $end], [step => 60]],
	      qr/invalid parameter "query": 1:5: parse error: unexpected character '\('/ ],
	    [ 'a bad regex', [[query => 'dashcgi_dashboards{state=~"("}'],
	      [start => $start], [end => $end], [step => 60]], qr/invalid parameter "query": .*regular expression/ ],
	    [ 'a bad start', [[query => 'x'], [start => 'yesterday'], [end => $end], [step => 60]],
	      qr/invalid parameter "start": cannot parse "yesterday"/ ],
	    [ 'end before start', [[query => 'x'], [start => $end], [end => $start], [step => 60]],
	      qr/end timestamp must not be before start time/ ],
	    [ 'a zero step', [[query => 'x'], [start => $start], [end => $end], [step => 0]],
	      qr/zero or negative query resolution step/ ],
	    [ 'more than 11,000 points', [[query => 'x'], [start => 0], [end => 11001], [step => 1]],
	      qr/exceeded maximum resolution of 11,000 points per timeseries/ ],
	    [ 'a step below the millisecond', [[query => 'x'], [start => $start],
	      [end => $start], [step => '0.0001']], qr/invalid parameter "step": at least 1ms/ ],
	    [ 'a start past what a timestamp holds', [[query => 'x'], [start => '1e13'],
	      [end => '1e13'], [step => 60]], qr/invalid parameter "start": out of the range/ ],
	);
	for my $c (@cases) {
		my ($name, $kv, $re) = @$c;
		my ($r, $j) = prom('GET', "$G/api/v1/query_range", 'alice', @$kv);
		is($r->{status}, 400, "$name: 400");
		is($j->{status}, 'error', 'status error');
		is($j->{errorType}, 'bad_data', 'errorType bad_data');
		like($j->{error} // '', $re, 'the message');
	}
	my ($r) = prom('GET', "$G/api/v1/query_range", 'alice', [query => 'x'],
	    [start => 0], [end => 11000], [step => 1]);
	is($r->{status}, 200, 'exactly 11,000 steps are allowed');
	$r = $t->request(POST => "$G/api/v1/query", user => 'alice', body => '{"query":"x"}');
	is($r->{status}, 415, 'a POST body must be a form');
};

subtest 'who sees which project' => sub {
	my @args = ([query => 'dashcgi_dashboards'], [start => $start], [end => $end], [step => 300]);
	my ($r, $j) = prom('GET', "$G/api/v1/query_range", 'bob', @args);
	is($r->{status}, 200, 'bob: 200 on the global datasource');
	is(scalar @{ $j->{data}{result} }, 0, 'but nothing of p1, where he has no role');
	($r, $j) = prom('GET', "$G/api/v1/query_range", 'admin', @args);
	is(scalar @{ $j->{data}{result} }, 2, 'a global admin sees p1');
	($r, $j) = prom('GET', "$P/api/v1/query_range", 'alice', @args);
	is(scalar @{ $j->{data}{result} }, 2, 'alice on the project datasource');
	($r) = prom('GET', "$P/api/v1/query_range", 'bob', @args);
	is($r->{status}, 404, 'bob on p1\'s datasource: 404, as for any project he cannot read');
	($r) = prom('GET', "$G/api/v1/query_range", undef, @args);
	is($r->{status}, 401, 'no user: 401');
};

subtest 'series, labels, label values, metadata, healthy' => sub {
	my ($r, $j) = prom('GET', "$G/api/v1/series", 'alice', ['match[]' => 'dashcgi_dashboards']);
	is($r->{status}, 200, 'series: 200') or diag $r->{content};
	is_deeply([ sort map { $_->{state} } @{ $j->{data} } ], [qw(active archived)],
	    'series: the label sets');
	is($j->{data}[0]{__name__}, 'dashcgi_dashboards', 'with __name__');
	($r, $j) = prom('GET', "$G/api/v1/series", 'alice');
	is($r->{status}, 400, 'series without match[]: 400');
	is($j->{error}, 'no match[] parameter provided', 'as Prometheus says');
	($r, $j) = prom('GET', "$G/api/v1/labels", 'alice');
	is($r->{status}, 200, 'labels: 200');
	ok((grep { $_ eq 'state' } @{ $j->{data} }) && (grep { $_ eq '__name__' } @{ $j->{data} }),
	    'labels: state and __name__ among them');
	($r, $j) = prom('GET', "$G/api/v1/label/__name__/values", 'alice');
	is_deeply($j->{data}, [qw(dashcgi_audit_events dashcgi_dashboards)],
	    'label values of __name__: the families with data');
	($r, $j) = prom('GET', "$P/api/v1/label/state/values", 'alice',
	    ['match[]' => 'dashcgi_dashboards']);
	is_deeply($j->{data}, [qw(active archived)], 'label values with match[]');
	($r, $j) = prom('GET', "$G/api/v1/metadata", 'alice');
	is($j->{data}{dashcgi_dashboards}[0]{type}, 'gauge', 'metadata: type');
	$r = $t->request(GET => "$G/-/healthy", user => 'alice');
	is($r->{status}, 200, '-/healthy');
};

is($t->stop_dashcgi, 0, 'SIGTERM: master exits 0');
done_testing();
