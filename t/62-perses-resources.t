#!/usr/bin/perl
# What the Perses UI needs besides dashboards (SPEC §4, §11): the
# public ConfigModel, view reports counted in /metrics, Perses's health
# fields, and the Datasource, GlobalDatasource, Variable and
# GlobalVariable resources: their documents, the built-in datasources
# (always listed, never changed), roles, locking, the Perses rules with
# 400s that name the field, at most one default per plugin kind, paging
# and filters, cascading with the project, and one audit row per change.
use strict;
use warnings;
use Test::More;
use JSON::PP ();
use DashTest;

# auth => 0: a request without a user reaches dashcgi, which decides.
# Pages of lists up to 16 KiB (max_page_bytes).
my $MAX_PAGE = 16 * 1024;
my $t = DashTest->new(auth => 0, config => { max_page_bytes => '16KiB',
    auth => { admins => ['admin', 'root2'] } });
my $JSON = JSON::PP->new->utf8->canonical;

# p1: bob viewer, carol editor, dave admin; p2: bob viewer; p3: nobody.
# Dashboard d1 in p1 for the view reports.
my $SPEC = '{"display":{"name":"D one"},"duration":"1h","variables":[],'
    . '"panels":{},"layouts":[]}';
$t->psql(<<"SQL");
INSERT INTO project (name, created_by, updated_by)
    VALUES ('p1', 'test', 'test'), ('p2', 'test', 'test'),
           ('p3', 'test', 'test');
INSERT INTO project_member (project, user_name, role, created_by, updated_by)
    VALUES ('p1', 'bob', 'viewer', 'test', 'test'),
           ('p1', 'carol', 'editor', 'test', 'test'),
           ('p1', 'dave', 'admin', 'test', 'test'),
           ('p2', 'bob', 'viewer', 'test', 'test');
INSERT INTO dashboard (project, name, spec, created_by, updated_by)
    VALUES ('p1', 'd1', '$SPEC', 'test', 'test');
SQL

sub req {
	my ($method, $path, $user, $body, %o) = @_;
	return $t->request($method, $path, (defined $user ? (user => $user)
	    : ()), (defined $body ? (ref $body ? (json => $body)
	    : (body => $body)) : ()), %o);
}

sub body {
	my ($r) = @_;
	my $j = length($r->{content} // '') ? $t->json($r) : undef;
	return $j;
}

# The answer is an error with this status and code; returns the body.
sub is_error {
	my ($r, $status, $code, $name) = @_;
	my $j = body($r);
	$j = {} unless ref $j eq 'HASH';
	my $ok = is($r->{status}, $status, "$name: $status");
	$ok &&= is($j->{code}, $code, "$name: $code") if defined $code;
	ok(!exists $j->{error}, "$name: no \"error\" member") if $ok;
	diag $r->{content} unless $ok;
	return $j;
}

sub audit_of {
	my ($r) = @_;
	my $rid = $t->header($r, 'X-Request-Id') // '';
	die "unexpected request id \"$rid\"" unless $rid =~ /^[\w.:-]+$/;
	my $out = $t->psql("SELECT json_build_object('action', action,"
	    . " 'result', result, 'project', project, 'resource', resource,"
	    . " 'version', resource_version, 'actor', actor,"
	    . " 'details', details) FROM audit_log"
	    . " WHERE request_id = '$rid' ORDER BY id");
	return [ map { $JSON->decode($_) } grep { length } split /\n/, $out ];
}

sub one_audit_row {
	my ($r, $want, $name) = @_;
	my $rows = audit_of($r);
	is(scalar @$rows, 1, "$name: exactly one audit row")
	    or diag explain $rows;
	my $row = $rows->[0] // {};
	for my $k (sort keys %$want) {
		is($row->{$k}, $want->{$k}, "$name: audit $k");
	}
	return $row;
}

sub names { [ map { $_->{metadata}{name} } @{ $_[0] } ] }

sub gds {
	my ($name, %o) = @_;
	return { kind => $o{kind} // 'GlobalDatasource',
	    metadata => { name => $name, %{ $o{meta} // {} } },
	    spec => $o{spec} // { default => $o{default} ? JSON::PP::true
		: JSON::PP::false, plugin => { kind => $o{plugin}
		// 'PrometheusDatasource', spec => { proxy => { kind =>
		'HTTPProxy', spec => { url => 'http://prom:9090' } } } } } };
}

sub pds {
	my ($name, %o) = @_;
	my $d = gds($name, %o, kind => $o{kind} // 'Datasource');
	return $d;
}

# --------------------------------------------------------------------

subtest 'GET /api/config: the Perses ConfigModel, public' => sub {
	my $r = req(GET => '/api/config');
	is($r->{status}, 200, 'no identity needed (Perses reads it before login)')
	    or diag $r->{content};
	my $c = body($r) // {};
	ok(JSON::PP::is_bool($c->{security}{enable_auth})
	    && !$c->{security}{enable_auth}, 'security.enable_auth false');
	ok(JSON::PP::is_bool($c->{security}{readonly})
	    && !$c->{security}{readonly}, 'security.readonly false');
	ok(!$c->{security}{authentication}{providers}{enable_native},
	    'no native login provider');
	is_deeply($c->{database}, {}, 'database {}');
	for my $res (qw(datasource variable)) {
		is_deeply($c->{$res}, { global => { disable => JSON::PP::false },
		    project => { disable => JSON::PP::false },
		    disable_local => JSON::PP::false }, "$res: everything on");
	}
	ok(JSON::PP::is_bool($c->{ephemeral_dashboard}{enable})
	    && !$c->{ephemeral_dashboard}{enable}, 'ephemeral dashboards off');
	ok(JSON::PP::is_bool($c->{frontend}{explorer}{enable}),
	    'frontend.explorer.enable is a boolean');
	my $tr = $c->{frontend}{time_range} // {};
	ok(!$tr->{disable_custom} && !$tr->{disable_zoom},
	    'custom ranges and zoom on');
	is_deeply($tr->{options}, [qw(5m 15m 30m 1h 6h 12h 1d 1w 2w)],
	    'the time-range options Perses ships');
	like($t->header($r, 'Content-Type'), qr{^application/json}, 'JSON');
};

subtest 'GET /api/v1/health carries Perses\'s fields' => sub {
	my $r = req(GET => '/api/v1/health');
	is($r->{status}, 200, 'answers 200 with the database up');
	my $j = body($r) // {};
	like($j->{version} // '', qr/^\d+\.\d+\.\d+/, 'version');
	like($j->{buildTime} // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
	    'buildTime, RFC 3339 UTC');
	ok(defined $j->{commit} && !ref $j->{commit}, 'commit (a string)');
	ok(JSON::PP::is_bool($j->{database}) && $j->{database},
	    'database: true');
	is($j->{status}, 'healthy', 'our status is still there');
	ok($j->{checks}{database}, 'and our checks');
};

subtest 'POST /api/v1/view: 204, counted in /metrics' => sub {
	my $m0 = $t->metrics_text;
	my $v0 = $t->metric_value($m0, 'dashcgi_dashboard_views_total') // -1;
	my $e0 = $t->metric_value($m0,
	    'dashcgi_dashboard_render_errors_total') // -1;
	cmp_ok($v0, '>=', 0, 'the views counter exists');
	my $r = req(POST => '/api/v1/view', 'bob', { project => 'p1',
	    dashboard => 'd1', render_time => 0.42, render_errors => 2 });
	is($r->{status}, 204, 'a viewer reports a view: 204') or diag $r->{content};
	is($r->{content} // '', '', 'no body');
	$r = req(POST => '/api/v1/view', 'admin', { project => 'p1',
	    name => 'd1', renderTimeSecs => 1 });
	is($r->{status}, 204, '"name" and "renderTimeSecs" are understood too');
	my $m1 = $t->metrics_text;
	is($t->metric_value($m1, 'dashcgi_dashboard_views_total'), $v0 + 2,
	    'dashcgi_dashboard_views_total +2');
	is($t->metric_value($m1, 'dashcgi_dashboard_render_errors_total'),
	    $e0 + 2, 'dashcgi_dashboard_render_errors_total +2');
	like($m1, qr/^# TYPE dashcgi_dashboard_views_total counter$/m,
	    'a counter');

	my $j = is_error(req(POST => '/api/v1/view', 'bob',
	    { project => 'p1', dashboard => 'nope' }), 404, 'not_found',
	    'an unknown dashboard');
	like($j->{message}, qr/"nope"/, 'the message names it');
	my $a = is_error(req(POST => '/api/v1/view', 'alice',
	    { project => 'p1', dashboard => 'd1' }), 404, 'not_found',
	    'a stranger');
	my $b = is_error(req(POST => '/api/v1/view', 'alice',
	    { project => 'p9', dashboard => 'd1' }), 404, 'not_found',
	    'a project that does not exist');
	(my $ma = $a->{message} // '') =~ s/p1/X/;
	(my $mb = $b->{message} // '') =~ s/p9/X/;
	is($ma, $mb, 'a project without a role looks like no project');

	for my $c ([ { dashboard => 'd1' }, qr/^project: / ],
	    [ { project => 'p1' }, qr/^dashboard: / ],
	    [ { project => 'p1', dashboard => '' }, qr/^dashboard: / ],
	    [ { project => 'p1', dashboard => 'd1', render_time => -1 },
	      qr/^render_time: / ],
	    [ { project => 'p1', dashboard => 'd1', render_time => 'x' },
	      qr/^render_time: / ],
	    [ { project => 'p1', dashboard => 'd1', render_errors => -1 },
	      qr/^render_errors: / ],
	    [ { project => 'p1', dashboard => 'd1', render_errors => 1.5 },
	      qr/^render_errors: / ], [ [], qr/body must be/ ]) {
		my $j = is_error(req(POST => '/api/v1/view', 'bob', $c->[0]),
		    400, 'validation_failed', 'bad view ' .
		    $JSON->encode($c->[0]));
		like($j->{message}, $c->[1], 'the message names the field');
	}
	is_error(req(POST => '/api/v1/view', undef, { project => 'p1',
	    dashboard => 'd1' }), 401, 'unauthorized', 'no identity');
	is_error(req(POST => '/api/v1/view', 'bob',
	    '{"project":"p1","dashboard":"d1"}', content_type => 'text/plain'),
	    415, undef, 'not JSON');
	is($t->metric_value($t->metrics_text, 'dashcgi_dashboard_views_total'),
	    $v0 + 2, 'refused reports are not counted');
};

# --------------------------------------------------------------------
# The built-in datasources

subtest 'built-in datasources: always listed, in every scope' => sub {
	my $r = req(GET => '/api/v1/globaldatasources', 'alice');
	is($r->{status}, 200, 'any user lists the global datasources');
	my $l = body($r) // [];
	is_deeply(names($l), ['dashcgi', 'dashcgi-alerts'],
	    'dashcgi and dashcgi-alerts, with nothing stored');
	my ($p, $a) = @$l;
	is($p->{kind}, 'GlobalDatasource', 'kind GlobalDatasource');
	is($p->{metadata}{version}, 0, 'version 0');
	like($p->{metadata}{createdAt} // '', qr/Z$/, 'createdAt');
	ok(!exists $p->{metadata}{project}, 'no project in a global one');
	ok($p->{spec}{default}, 'dashcgi is the default');
	is($p->{spec}{plugin}{kind}, 'PrometheusDatasource', 'Prometheus');
	is_deeply($p->{spec}{plugin}{spec}, { proxy => { kind => 'HTTPProxy',
	    spec => { url => '/proxy/globaldatasources/dashcgi' } } },
	    'an HTTPProxy to where dashcgi serves it');
	is($a->{spec}{plugin}{kind}, 'AlertManagerDatasource',
	    'dashcgi-alerts: Alertmanager');
	ok(JSON::PP::is_bool($a->{spec}{default}) && !$a->{spec}{default},
	    'not a default');

	$r = req(GET => '/api/v1/projects/p1/datasources', 'bob');
	is($r->{status}, 200, 'a viewer lists the project\'s');
	$l = body($r) // [];
	is_deeply(names($l), ['dashcgi', 'dashcgi-alerts'], 'both, in p1');
	is($l->[0]{kind}, 'Datasource', 'kind Datasource');
	is($l->[0]{metadata}{project}, 'p1', 'metadata.project');
	is($l->[0]{spec}{plugin}{spec}{proxy}{spec}{url},
	    '/proxy/projects/p1/datasources/dashcgi', 'the project proxy path');
	is($l->[1]{spec}{plugin}{spec}{proxy}{spec}{url},
	    '/proxy/projects/p1/datasources/dashcgi-alerts',
	    'dashcgi-alerts too');

	$r = req(GET => '/api/v1/projects/p1/datasources/dashcgi', 'bob');
	is($r->{status}, 200, 'one built-in by name');
	is($t->header($r, 'ETag'), '"0"', 'ETag "0"');
	$r = req(GET => '/api/v1/globaldatasources/dashcgi-alerts', 'alice');
	is((body($r) // {})->{metadata}{name}, 'dashcgi-alerts', 'global too');

	$r = req(GET => '/api/v1/datasources', 'bob');
	my @pn = map { "$_->{metadata}{project}/$_->{metadata}{name}" }
	    @{ body($r) // [] };
	is_deeply(\@pn, [qw(p1/dashcgi p1/dashcgi-alerts p2/dashcgi
	    p2/dashcgi-alerts)], '/api/v1/datasources: every project bob reads');
	$r = req(GET => '/api/v1/datasources', 'admin');
	is(scalar @{ body($r) // [] }, 6, 'a global admin reads all three');
	$r = req(GET => '/api/v1/datasources?project=p2', 'bob');
	is(scalar @{ body($r) // [] }, 2, '?project= narrows it');
	$r = req(GET => '/api/v1/datasources', 'alice');
	is_deeply(body($r), [], 'a stranger: none');
	is_error(req(GET => '/api/v1/projects/p3/datasources', 'bob'), 404,
	    'not_found', 'a project bob cannot read');
};

subtest 'built-in datasources cannot be changed' => sub {
	for my $c (['PUT', '/api/v1/globaldatasources/dashcgi', 'admin',
	    gds('dashcgi')], ['DELETE', '/api/v1/globaldatasources/dashcgi',
	    'admin'], ['PUT', '/api/v1/projects/p1/datasources/dashcgi-alerts',
	    'dave', pds('dashcgi-alerts')], ['DELETE',
	    '/api/v1/projects/p1/datasources/dashcgi', 'dave']) {
		my ($m, $path, $u, $b) = @$c;
		my $r = req($m, $path, $u, $b);
		my $j = is_error($r, 403, 'forbidden', "$m $path");
		like($j->{message}, qr/built into dashcgi/, 'a clear message');
		one_audit_row($r, { result => 'denied', actor => $u },
		    "$m $path");
	}
	for my $n ('dashcgi', 'DashCGI', 'dashcgi-ALERTS') {
		my $j = is_error(req(POST => '/api/v1/globaldatasources',
		    'admin', gds($n)), 409, 'conflict', "POST $n");
		like($j->{message}, qr/built into dashcgi/, 'says why');
	}
	is_error(req(POST => '/api/v1/projects/p1/datasources', 'dave',
	    pds('dashcgi')), 409, 'conflict', 'POST dashcgi in a project');
	is($t->psql('SELECT count(*) FROM datasource'), 0, 'nothing stored');
};

# --------------------------------------------------------------------
# Global datasources

subtest 'global datasources: create, read, update, delete' => sub {
	my $r = req(POST => '/api/v1/globaldatasources', 'admin', gds('prom',
	    meta => { version => 7, project => 'ignored' }));
	is($r->{status}, 200, 'a global admin creates one') or diag $r->{content};
	my $d = body($r) // {};
	is($d->{kind}, 'GlobalDatasource', 'kind');
	is($d->{metadata}{version}, 0, 'version 0 on create, whatever was sent');
	is($t->header($r, 'ETag'), '"0"', 'ETag "0"');
	is_deeply($d->{spec}, { default => JSON::PP::false, plugin => {
	    kind => 'PrometheusDatasource', spec => { proxy => { kind =>
	    'HTTPProxy', spec => { url => 'http://prom:9090' } } } } },
	    'the spec as Perses stores it');
	one_audit_row($r, { action => 'globaldatasource.create',
	    result => 'success', project => undef, resource => 'prom',
	    version => 0, actor => 'admin' }, 'create');

	is_error(req(POST => '/api/v1/globaldatasources', 'admin', gds('prom')),
	    409, 'conflict', 'the same name again');
	is_error(req(POST => '/api/v1/globaldatasources', 'bob', gds('x')),
	    403, 'forbidden', 'a project user');
	is_error(req(POST => '/api/v1/globaldatasources', undef, gds('x')),
	    401, 'unauthorized', 'no identity');
	is_error(req(POST => '/api/v1/globaldatasources', 'admin',
	    $JSON->encode(gds('x')), content_type => 'text/plain'), 415, undef,
	    'not JSON');

	$r = req(GET => '/api/v1/globaldatasources/prom', 'alice');
	is($r->{status}, 200, 'any user reads it');
	is_deeply(names(body(req(GET => '/api/v1/globaldatasources', 'bob'))),
	    [qw(dashcgi dashcgi-alerts prom)], 'listed with the built-ins');

	my $new = gds('prom', spec => { display => { name => 'Prom' },
	    default => JSON::PP::false, plugin => { kind =>
	    'PrometheusDatasource', spec => { directUrl => 'http://p:9090' } },
	    junk => 1 });
	$r = req(PUT => '/api/v1/globaldatasources/prom', 'admin', $new,
	    headers => { 'If-Match' => '"0"' });
	is($r->{status}, 200, 'PUT with If-Match "0"') or diag $r->{content};
	$d = body($r) // {};
	is($d->{metadata}{version}, 1, 'version 1');
	is($t->header($r, 'ETag'), '"1"', 'ETag "1"');
	is($d->{spec}{display}{name}, 'Prom', 'the new spec');
	ok(!exists $d->{spec}{junk}, 'members Perses does not know are dropped');
	one_audit_row($r, { action => 'globaldatasource.update',
	    resource => 'prom', version => 1 }, 'update');

	my $j = is_error(req(PUT => '/api/v1/globaldatasources/prom', 'admin',
	    $new, headers => { 'If-Match' => '"0"' }), 412, 'version_mismatch',
	    'If-Match of an old version');
	is($j->{currentVersion}, 1, 'currentVersion');
	is_error(req(PUT => '/api/v1/globaldatasources/prom', 'admin', $new,
	    headers => { 'If-Match' => 'soon' }), 400, 'bad_request',
	    'If-Match that is not a version');
	$j = is_error(req(PUT => '/api/v1/globaldatasources/prom', 'admin',
	    $new), 428, 'version_required', 'neither If-Match nor version');
	like($j->{message}, qr/If-Match/, 'says what to send');

	# metadata.version: the caller's own later versions are no conflict.
	$new->{metadata}{version} = 0;
	$r = req(PUT => '/api/v1/globaldatasources/prom', 'admin', $new);
	is($r->{status}, 200, 'version 0 after my own change: fine (percli)')
	    or diag $r->{content};
	is((body($r) // {})->{metadata}{version}, 2, 'version 2');
	$j = is_error(req(PUT => '/api/v1/globaldatasources/prom', 'root2',
	    $new), 409, 'version_conflict', 'another admin based on version 0');
	is($j->{currentVersion}, 2, 'currentVersion');
	is($j->{changedBy}, 'admin', 'changedBy');
	like($j->{changedAt} // '', qr/Z$/, 'changedAt');
	$new->{metadata}{version} = 2;
	$r = req(PUT => '/api/v1/globaldatasources/prom', 'root2', $new);
	is($r->{status}, 200, 'based on the current version: fine');
	$new->{metadata}{version} = 9;
	$j = is_error(req(PUT => '/api/v1/globaldatasources/prom', 'root2',
	    $new), 409, 'version_conflict', 'a version from the future');
	like($j->{message}, qr/never had version 9/, 'says so');

	is_error(req(PUT => '/api/v1/globaldatasources/nope', 'admin',
	    gds('nope', meta => { version => 0 })), 404, 'not_found',
	    'PUT of an unknown one');
	is_error(req(PUT => '/api/v1/globaldatasources/prom', 'admin',
	    gds('other', meta => { version => 3 })), 400, 'validation_failed',
	    'PUT with another name in the body');
	is_error(req(PUT => '/api/v1/globaldatasources/prom', 'bob',
	    gds('prom', meta => { version => 3 })), 403, 'forbidden',
	    'PUT by a project user');

	$j = is_error(req(DELETE => '/api/v1/globaldatasources/prom', 'admin',
	    undef, headers => { 'If-Match' => '"1"' }), 412, 'version_mismatch',
	    'DELETE with an old If-Match');
	is($j->{currentVersion}, 3, 'currentVersion');
	is_error(req(DELETE => '/api/v1/globaldatasources/prom', 'carol'), 403,
	    'forbidden', 'DELETE by a project user');
	$r = req(DELETE => '/api/v1/globaldatasources/prom', 'admin', undef,
	    headers => { 'If-Match' => '"3"' });
	is($r->{status}, 204, 'DELETE: 204');
	one_audit_row($r, { action => 'globaldatasource.delete',
	    resource => 'prom', version => 3 }, 'delete');
	is_error(req(GET => '/api/v1/globaldatasources/prom', 'admin'), 404,
	    'not_found', 'gone');
	is_error(req(DELETE => '/api/v1/globaldatasources/prom', 'admin'), 404,
	    'not_found', 'DELETE again');
	is($t->psql('SELECT count(*) FROM datasource_edit'), 0,
	    'its version authors went with it');
};

subtest 'datasource documents: the Perses rules, 400 naming the field' => sub {
	my @bad = (
	    [ [], qr/^the body must be a GlobalDatasource document/ ],
	    [ { %{ gds('x') }, kind => 'Datasource' },
	      qr/^kind: invalid kind "Datasource" for a GlobalDatasource/ ],
	    [ { %{ gds('x') }, kind => undef }, qr/^kind: cannot be empty/ ],
	    [ gds('bad name'), qr/^metadata\.name: "bad name" is not a valid/ ],
	    [ gds('a..b'), qr/^metadata\.name: / ],
	    [ gds(''), qr/^metadata\.name: cannot be empty/ ],
	    [ { kind => 'GlobalDatasource', spec => {} }, qr/^metadata: / ],
	    [ gds('x', meta => { version => -1 }), qr/^metadata\.version: / ],
	    [ gds('x', meta => { version => 'one' }), qr/^metadata\.version: / ],
	    [ gds('x', spec => {}), qr/^spec: cannot be empty/ ],
	    [ gds('x', spec => { default => JSON::PP::true }),
	      qr/^spec\.plugin: required/ ],
	    [ gds('x', spec => { plugin => 'Prometheus' }),
	      qr/^spec\.plugin: must be an object/ ],
	    [ gds('x', spec => { plugin => { kind => '', spec => {} } }),
	      qr/^spec\.plugin\.kind: cannot be empty/ ],
	    [ gds('x', spec => { default => 'yes', plugin => { kind => 'P' } }),
	      qr/^spec\.default: must be true or false/ ],
	    [ gds('x', spec => { display => 'X', plugin => { kind => 'P' } }),
	      qr/^spec\.display: must be an object/ ],
	    [ gds('x', spec => { display => { name => 1 }, plugin => {
	      kind => 'P' } }), qr/^spec\.display\.name: must be a string/ ],
	    [ gds('x', spec => { plugin => { kind => 'P', spec => { proxy => {
	      kind => 'HTTPProxy', spec => { url => '' } } } } }),
	      qr/^spec\.plugin\.spec\.proxy\.spec\.url: url cannot be empty/ ],
	    [ gds('x', spec => { plugin => { kind => 'P', spec => { proxy => {
	      kind => 'httpproxy', spec => { url => 'http://x',
	      allowedEndpoints => [ { endpointPattern => '/api', method =>
	      'FETCH' } ] } } } } }),
	      qr/^spec\.plugin\.spec\.proxy\.spec\.allowedEndpoints\[0\]\.method: "FETCH" is not a valid http method/ ],
	    [ gds('x', spec => { plugin => { kind => 'P', spec => { proxy => {
	      kind => 'HTTPProxy', spec => { url => 'http://x',
	      allowedEndpoints => [ { method => 'GET' } ] } } } } }),
	      qr/endpointPattern: HTTP endpoint pattern cannot be empty/ ],
	);
	for my $c (@bad) {
		my $r = req(POST => '/api/v1/globaldatasources', 'admin', $c->[0]);
		my $j = is_error($r, 400, 'validation_failed',
		    'refused: ' . substr($JSON->encode($c->[0]), 0, 90));
		like($j->{message} // '', $c->[1], 'names the field')
		    or diag $j->{message};
	}
	my $r = req(POST => '/api/v1/globaldatasources', 'admin',
	    gds('lower', kind => 'globaldatasource'));
	is($r->{status}, 200, 'kind in another letter case is accepted');
	is((body($r) // {})->{kind}, 'GlobalDatasource', 'and stored as Perses names it');
	req(DELETE => '/api/v1/globaldatasources/lower', 'admin');
	is($t->psql('SELECT count(*) FROM datasource'), 0, 'nothing else stored');
};

subtest 'at most one default datasource per plugin kind in a scope' => sub {
	my $r = req(POST => '/api/v1/globaldatasources', 'admin',
	    gds('prom', default => 1));
	is($r->{status}, 200, 'an admin makes a stored Prometheus the default')
	    or diag $r->{content};
	my %by = map { $_->{metadata}{name} => $_ }
	    @{ body(req(GET => '/api/v1/globaldatasources', 'bob')) // [] };
	ok($by{prom}{spec}{default}, 'prom is the default');
	ok(!$by{dashcgi}{spec}{default},
	    'built-in dashcgi yields: one default per kind is listed');
	%by = map { $_->{metadata}{name} => $_ }
	    @{ body(req(GET => '/api/v1/projects/p1/datasources', 'bob')) // [] };
	ok(!$by{dashcgi}{spec}{default}, 'in the projects too, so the UI '
	    . '(project first, then global) finds the global choice');
	ok(!$t->psql("SELECT count(*) FROM datasource_scope('p1', now()) "
	    . "WHERE is_default"), 'no project default left');
	my $d = body(req(GET => '/api/v1/globaldatasources?default=true', 'bob'));
	is_deeply(names($d), ['prom'], '?default=true: just prom');

	my $j = is_error(req(POST => '/api/v1/globaldatasources', 'admin',
	    gds('prom2', default => 1)), 400, 'validation_failed',
	    'a second default Prometheus');
	is($j->{message}, 'spec.default: datasource "prom2" cannot be a '
	    . 'default "PrometheusDatasource" because there is already one '
	    . 'defined named "prom"', 'Perses\'s message, naming the other');
	$r = req(POST => '/api/v1/globaldatasources', 'admin', gds('prom2'));
	is($r->{status}, 200, 'not a default: fine');
	$j = is_error(req(PUT => '/api/v1/globaldatasources/prom2', 'admin',
	    gds('prom2', default => 1, meta => { version => 0 })), 400,
	    'validation_failed', 'turning the second into a default');
	like($j->{message}, qr/named "prom"/, 'names the other');
	$r = req(POST => '/api/v1/globaldatasources', 'admin',
	    gds('loki', default => 1, plugin => 'LokiDatasource'));
	is($r->{status}, 200, 'a default of another kind: fine');
	$r = req(PUT => '/api/v1/globaldatasources/prom', 'admin',
	    gds('prom', default => 1, meta => { version => 0 }));
	is($r->{status}, 200, 'the default itself may be saved again');
	$r = req(POST => '/api/v1/projects/p1/datasources', 'dave',
	    pds('prom', default => 1));
	is($r->{status}, 200, 'a project has its own scope') or diag $r->{content};
	my @def = map { "$_->{metadata}{project}/$_->{metadata}{name}" }
	    @{ body(req(GET => '/api/v1/datasources?default=true&kind='
	    . 'PrometheusDatasource', 'bob')) // [] };
	is_deeply(\@def, ['p1/prom'], 'the project\'s own default');

	$d = body(req(GET => '/api/v1/globaldatasources?kind=AlertManagerDatasource',
	    'bob'));
	is_deeply(names($d), ['dashcgi-alerts'], '?kind= filters');
	is_error(req(GET => '/api/v1/globaldatasources?default=maybe', 'bob'),
	    400, 'bad_request', '?default= that is not a boolean');
	$d = body(req(GET => '/api/v1/globaldatasources?name=pro', 'bob'));
	is_deeply(names($d), ['prom', 'prom2'], '?name= is a prefix');

	for my $n (qw(prom prom2 loki)) {
		req(DELETE => "/api/v1/globaldatasources/$n", 'admin');
	}
	req(DELETE => '/api/v1/projects/p1/datasources/prom', 'dave');
	%by = map { $_->{metadata}{name} => $_ }
	    @{ body(req(GET => '/api/v1/globaldatasources', 'bob')) // [] };
	ok($by{dashcgi}{spec}{default}, 'dashcgi is the default again');
};

# --------------------------------------------------------------------
# Project datasources

subtest 'project datasources: project admins write, viewers read' => sub {
	my $r = req(POST => '/api/v1/projects/p1/datasources', 'dave',
	    pds('tempo', plugin => 'TempoDatasource'));
	is($r->{status}, 200, 'a project admin creates one') or diag $r->{content};
	my $d = body($r) // {};
	is($d->{kind}, 'Datasource', 'kind Datasource');
	is($d->{metadata}{project}, 'p1', 'metadata.project from the path');
	one_audit_row($r, { action => 'datasource.create', project => 'p1',
	    resource => 'tempo', version => 0, actor => 'dave' }, 'create');

	is_error(req(POST => '/api/v1/projects/p1/datasources', 'carol',
	    pds('x')), 403, 'forbidden', 'an editor');
	is_error(req(POST => '/api/v1/projects/p1/datasources', 'bob',
	    pds('x')), 403, 'forbidden', 'a viewer');
	is_error(req(POST => '/api/v1/projects/p1/datasources', 'alice',
	    pds('x')), 404, 'not_found', 'a stranger');
	is_error(req(POST => '/api/v1/projects/p1/datasources', undef,
	    pds('x')), 401, 'unauthorized', 'no identity');
	my $j = is_error(req(POST => '/api/v1/projects/p1/datasources', 'dave',
	    pds('x', meta => { project => 'p2' })), 400, 'validation_failed',
	    'metadata.project of another project');
	like($j->{message}, qr/^metadata\.project: /, 'names the field');
	is_error(req(POST => '/api/v1/projects/p1/datasources', 'dave',
	    gds('x')), 400, 'validation_failed', 'a GlobalDatasource in a project');
	is_error(req(POST => '/api/v1/projects/p1/datasources', 'dave',
	    pds('tempo')), 409, 'conflict', 'the name again');

	$r = req(POST => '/api/v1/projects/p2/datasources', 'admin',
	    pds('tempo', plugin => 'TempoDatasource',
	    meta => { project => 'p2' }));
	is($r->{status}, 200, 'the same name in another project');

	$r = req(GET => '/api/v1/projects/p1/datasources/tempo', 'bob');
	is($r->{status}, 200, 'a viewer reads it');
	is($t->header($r, 'ETag'), '"0"', 'ETag');
	$r = req(GET => '/api/v1/projects/p1/datasources/tempo', 'bob',
	    undef, headers => { 'If-None-Match' => '"7", W/"0"' });
	is($r->{status}, 304, 'If-None-Match naming the version: 304');
	is($t->header($r, 'ETag'), '"0"', 'with its ETag');
	$r = req(GET => '/api/v1/projects/p1/datasources/tempo', 'bob',
	    undef, headers => { 'If-None-Match' => '"1"' });
	is($r->{status}, 200, 'another version: 200');
	is_error(req(GET => '/api/v1/projects/p1/datasources/nope', 'bob'), 404,
	    'not_found', 'an unknown one');
	is_deeply(names(body(req(GET => '/api/v1/projects/p1/datasources',
	    'bob'))), [qw(dashcgi dashcgi-alerts tempo)], 'listed');
	my @pn = map { "$_->{metadata}{project}/$_->{metadata}{name}" }
	    @{ body(req(GET => '/api/v1/datasources?kind=TempoDatasource',
	    'bob')) // [] };
	is_deeply(\@pn, ['p1/tempo', 'p2/tempo'], '/api/v1/datasources with ?kind=');

	$r = req(PUT => '/api/v1/projects/p1/datasources/tempo', 'dave',
	    pds('tempo', plugin => 'TempoDatasource', meta => { version => 0,
	    project => 'p1' }));
	is($r->{status}, 200, 'PUT by the project admin');
	is((body($r) // {})->{metadata}{version}, 1, 'version 1');
	one_audit_row($r, { action => 'datasource.update', project => 'p1',
	    resource => 'tempo', version => 1 }, 'update');
	is_error(req(PUT => '/api/v1/projects/p1/datasources/tempo', 'carol',
	    pds('tempo', meta => { version => 1 })), 403, 'forbidden',
	    'PUT by an editor');
	is_error(req(PUT => '/api/v1/projects/p1/datasources/tempo', 'dave',
	    pds('tempo', meta => { version => 1, project => 'p2' })), 400,
	    'validation_failed', 'PUT with another project in the body');
	is_error(req(DELETE => '/api/v1/projects/p1/datasources/tempo', 'bob'),
	    403, 'forbidden', 'DELETE by a viewer');
	$r = req(DELETE => '/api/v1/projects/p1/datasources/tempo', 'dave');
	is($r->{status}, 204, 'DELETE by the project admin');
	one_audit_row($r, { action => 'datasource.delete', project => 'p1',
	    resource => 'tempo' }, 'delete');
};

# --------------------------------------------------------------------
# Variables

sub gvar {
	my ($name, $spec, %o) = @_;
	return { kind => $o{kind} // 'GlobalVariable',
	    metadata => { name => $name, %{ $o{meta} // {} } },
	    spec => $spec // { kind => 'TextVariable', spec => {
		value => 'eu-west' } } };
}

my $LIST = { kind => 'ListVariable', spec => { allowMultiple =>
    JSON::PP::false, defaultValue => ['a'], plugin => { kind =>
    'PrometheusLabelValuesVariable', spec => { labelName => 'job' } } } };

subtest 'global and project variables' => sub {
	my $r = req(POST => '/api/v1/globalvariables', 'admin', gvar('region'));
	is($r->{status}, 200, 'a global admin creates a text variable')
	    or diag $r->{content};
	my $v = body($r) // {};
	is($v->{kind}, 'GlobalVariable', 'kind');
	is_deeply($v->{spec}, { kind => 'TextVariable', spec => {
	    value => 'eu-west' } }, 'spec');
	one_audit_row($r, { action => 'globalvariable.create', project => undef,
	    resource => 'region', version => 0 }, 'create');

	$r = req(POST => '/api/v1/globalvariables', 'admin', gvar('job', $LIST));
	is($r->{status}, 200, 'a list variable') or diag $r->{content};
	$v = body($r) // {};
	is($v->{spec}{spec}{defaultValue}, 'a',
	    'one default of a single-value variable is kept as a string');
	ok(JSON::PP::is_bool($v->{spec}{spec}{allowAllValue}),
	    'allowAllValue is always there, as Perses writes it');

	is_error(req(POST => '/api/v1/globalvariables', 'bob', gvar('x')), 403,
	    'forbidden', 'a project user');
	is_deeply(names(body(req(GET => '/api/v1/globalvariables', 'alice'))),
	    ['job', 'region'], 'any user lists them');
	$r = req(GET => '/api/v1/globalvariables/region', 'alice');
	is($r->{status}, 200, 'and reads one');
	$r = req(PUT => '/api/v1/globalvariables/region', 'admin',
	    gvar('region', { kind => 'TextVariable', spec => { value => 'x',
	    constant => JSON::PP::true } }), headers => { 'If-Match' => '0' });
	is($r->{status}, 200, 'PUT with a bare If-Match');
	is((body($r) // {})->{metadata}{version}, 1, 'version 1');
	is_error(req(PUT => '/api/v1/globalvariables/region', 'admin',
	    gvar('region'), headers => { 'If-Match' => '"0"' }), 412,
	    'version_mismatch', 'stale If-Match');
	is_error(req(PUT => '/api/v1/globalvariables/region', 'admin',
	    gvar('region')), 428, 'version_required', 'no version');
	is_error(req(PUT => '/api/v1/globalvariables/region', 'root2',
	    gvar('region', undef, meta => { version => 0 })), 409,
	    'version_conflict', 'based on a version another admin replaced');
	$r = req(DELETE => '/api/v1/globalvariables/region', 'admin');
	is($r->{status}, 204, 'DELETE');
	one_audit_row($r, { action => 'globalvariable.delete',
	    resource => 'region', version => 1 }, 'delete');
	is_error(req(GET => '/api/v1/globalvariables/region', 'admin'), 404,
	    'not_found', 'gone');

	$r = req(POST => '/api/v1/projects/p1/variables', 'dave',
	    gvar('env', undef, kind => 'Variable'));
	is($r->{status}, 200, 'a project admin creates a project variable')
	    or diag $r->{content};
	is((body($r) // {})->{metadata}{project}, 'p1', 'in p1');
	one_audit_row($r, { action => 'variable.create', project => 'p1',
	    resource => 'env' }, 'create');
	is_error(req(POST => '/api/v1/projects/p1/variables', 'carol',
	    gvar('x', undef, kind => 'Variable')), 403, 'forbidden', 'an editor');
	is_error(req(GET => '/api/v1/projects/p3/variables', 'bob'), 404,
	    'not_found', 'a project bob cannot read');
	req(POST => '/api/v1/projects/p2/variables', 'admin',
	    gvar('env', undef, kind => 'Variable'));
	my @pn = map { "$_->{metadata}{project}/$_->{metadata}{name}" }
	    @{ body(req(GET => '/api/v1/variables', 'bob')) // [] };
	is_deeply(\@pn, ['p1/env', 'p2/env'], '/api/v1/variables across projects');
	is_deeply(body(req(GET => '/api/v1/variables', 'alice')), [],
	    'a stranger: none');
	$r = req(PUT => '/api/v1/projects/p1/variables/env', 'dave',
	    gvar('', undef, kind => 'Variable', meta => { version => 0 }));
	is($r->{status}, 200, 'PUT with the name left empty takes the path\'s');
	$r = req(DELETE => '/api/v1/projects/p1/variables/env', 'dave');
	is($r->{status}, 204, 'DELETE');
};

subtest 'variable documents: the Perses rules, 400 naming the field' => sub {
	my @bad = (
	    [ gvar('123'), qr/^metadata\.name: variable name '123' is not valid/ ],
	    [ gvar('a-b-c'), qr/^metadata\.name: variable name 'a-b-c'/ ],
	    [ gvar('__x'), qr/^metadata\.name: .*builtin variable prefix: __/ ],
	    [ gvar('x', {}), qr/^spec: cannot be empty/ ],
	    [ gvar('x', { spec => {} }), qr/^spec\.kind: variable\.kind cannot be empty/ ],
	    [ gvar('x', { kind => 'Slider', spec => {} }),
	      qr/^spec\.kind: unknown variable\.kind "Slider"/ ],
	    [ gvar('x', { kind => 'TextVariable' }), qr/^spec\.spec: required/ ],
	    [ gvar('x', { kind => 'TextVariable', spec => { value => 3 } }),
	      qr/^spec\.spec\.value: must be a string/ ],
	    [ gvar('x', { kind => 'TextVariable', spec => { constant =>
	      JSON::PP::true } }),
	      qr/^spec\.spec\.value: value for a constant text variable cannot be empty/ ],
	    [ gvar('x', { kind => 'TextVariable', spec => { value => 'v',
	      display => { hidden => 'no' } } }),
	      qr/^spec\.spec\.display\.hidden: must be true or false/ ],
	    [ gvar('x', { kind => 'ListVariable', spec => {} }),
	      qr/^spec\.spec\.plugin: required/ ],
	    [ gvar('x', { kind => 'ListVariable', spec => { customAllValue => '*',
	      plugin => { kind => 'P' } } }),
	      qr/^spec\.spec\.customAllValue: customAllValue cannot be set if allowAllValue is not set to true/ ],
	    [ gvar('x', { kind => 'ListVariable', spec => { defaultValue =>
	      ['a', 'b'], plugin => { kind => 'P' } } }),
	      qr/^spec\.spec\.defaultValue: you can not use a list of default values if allowMultiple is set to false/ ],
	    [ gvar('x', { kind => 'ListVariable', spec => { defaultValue => 3,
	      plugin => { kind => 'P' } } }),
	      qr/^spec\.spec\.defaultValue: .*Only string or array of string/ ],
	    [ gvar('x', { kind => 'ListVariable', spec => { sort => 'random',
	      plugin => { kind => 'P' } } }),
	      qr/^spec\.spec\.sort: unknown sort method "random"/ ],
	    [ gvar('x', undef, kind => 'Variable'),
	      qr/^kind: invalid kind "Variable" for a GlobalVariable/ ],
	);
	for my $c (@bad) {
		my $r = req(POST => '/api/v1/globalvariables', 'admin', $c->[0]);
		my $j = is_error($r, 400, 'validation_failed',
		    'refused: ' . substr($JSON->encode($c->[0]), 0, 90));
		like($j->{message} // '', $c->[1], 'names the field')
		    or diag $j->{message};
	}
	my $r = req(POST => '/api/v1/globalvariables', 'admin', gvar('a-b',
	    { kind => 'ListVariable', spec => { allowMultiple => JSON::PP::true,
	    allowAllValue => JSON::PP::true, customAllValue => '.*',
	    defaultValue => ['a', 'b'], sort => 'alphabetical-asc',
	    plugin => { kind => 'P' } } }));
	is($r->{status}, 200, 'a full list variable, one "-" in its name')
	    or diag $r->{content};
	is_deeply((body($r) // {})->{spec}{spec}{defaultValue}, ['a', 'b'],
	    'several defaults of a multi-value variable');
	req(DELETE => '/api/v1/globalvariables/a-b', 'admin');
	req(DELETE => '/api/v1/globalvariables/job', 'admin');
	is($t->psql('SELECT count(*) FROM variable WHERE project IS NULL'), 0,
	    'nothing else stored');
};

# --------------------------------------------------------------------

subtest 'paging: complete without ?limit=, Link with it' => sub {
	for my $n (qw(a1 a2 a3)) {
		req(POST => '/api/v1/globaldatasources', 'admin', gds($n));
	}
	my $r = req(GET => '/api/v1/globaldatasources', 'bob');
	is(scalar @{ body($r) // [] }, 5, 'all five without ?limit=');
	ok(!defined $t->header($r, 'Link'), 'no Link');
	my (@seen, $next) = ();
	my $path = '/api/v1/globaldatasources?limit=2';
	for my $i (1 .. 5) {
		$r = req(GET => $path, 'bob');
		is($r->{status}, 200, "page $i") or last;
		push @seen, @{ names(body($r) // []) };
		my $link = $t->header($r, 'Link') // last;
		($path) = $link =~ /^<([^>]+)>; rel="next"$/ or last;
	}
	is_deeply(\@seen, [qw(a1 a2 a3 dashcgi dashcgi-alerts)],
	    'the pages together are the list, in order');
	$r = req(GET => '/api/v1/datasources?limit=3', 'bob');
	my $link = $t->header($r, 'Link') // '';
	like($link, qr/cursor=/, 'the cross-project list pages too');
	($path) = $link =~ /^<([^>]+)>/;
	is_deeply([ map { "$_->{metadata}{project}/$_->{metadata}{name}" }
	    @{ body(req(GET => $path, 'bob')) // [] } ],
	    ['p2/dashcgi-alerts', 'p2/tempo'], 'its second page');
	is_error(req(GET => '/api/v1/globaldatasources?limit=0', 'bob'), 400,
	    'bad_request', '?limit=0');
	is_error(req(GET => '/api/v1/globalvariables?cursor=%25%25', 'bob'),
	    400, 'bad_request', 'a cursor this list never made');
	req(DELETE => "/api/v1/globaldatasources/$_", 'admin') for qw(a1 a2 a3);
};

# Issue 16, item 1: a page of a Perses resource list stops before the
# item that would take it past max_page_bytes; its Link goes on after
# the last item it holds; the first item always goes.
subtest 'paging: a page is at most max_page_bytes' => sub {
	my $big = 'x' x 6000;
	for my $n (map { "big$_" } 1 .. 5) {
		my $r = req(POST => '/api/v1/globalvariables', 'admin', gvar($n,
		    { kind => 'TextVariable', spec => { value => $big } }));
		is($r->{status}, 200, "$n created") or diag $r->{content};
		$r = req(POST => '/api/v1/projects/p2/variables', 'admin', gvar($n,
		    { kind => 'TextVariable', spec => { value => $big } },
		    kind => 'Variable'));
		is($r->{status}, 200, "p2/$n created") or diag $r->{content};
	}
	for my $c (['/api/v1/globalvariables?limit=5', 'a scope'],
	    ['/api/v1/variables?project=p2&name=big&limit=5', 'across projects']) {
		my ($path, $what) = @$c;
		my (@seen, @sizes);
		for my $i (1 .. 6) {
			my $r = req(GET => $path, 'bob');
			is($r->{status}, 200, "$what: page $i") or last;
			ok(length($r->{content}) <= $MAX_PAGE,
			    "$what: page $i within max_page_bytes ("
			    . length($r->{content}) . ' bytes)');
			my $items = body($r) // [];
			push @seen, @{ names($items) };
			push @sizes, scalar @$items;
			my $link = $t->header($r, 'Link') // last;
			($path) = $link =~ /^<([^>]+)>; rel="next"$/ or last;
		}
		is_deeply(\@sizes, [2, 2, 1], "$what: pages of 2 (three would pass 16 KiB)");
		is_deeply(\@seen, [ map { "big$_" } 1 .. 5 ], "$what: every item once, in order");
	}
	is(scalar @{ body(req(GET => '/api/v1/globalvariables', 'bob')) // [] }, 5,
	    'without ?limit= the list is complete, not cut');
	my $huge = 'y' x 20000;
	$t->psql("UPDATE variable SET spec = jsonb_set(spec, '{spec,value}', to_jsonb('$huge'::text))"
	    . " WHERE project IS NULL AND name = 'big2'");
	my ($path, @sizes) = ('/api/v1/globalvariables?limit=5');
	for my $i (1 .. 6) {
		my $r = req(GET => $path, 'bob');
		push @sizes, scalar @{ body($r) // [] };
		my $link = $t->header($r, 'Link') // last;
		($path) = $link =~ /^<([^>]+)>; rel="next"$/ or last;
	}
	is_deeply(\@sizes, [1, 1, 2, 1], 'an item over the budget is a page by itself');
	for my $n (map { "big$_" } 1 .. 5) {
		req(DELETE => "/api/v1/globalvariables/$n", 'admin');
		req(DELETE => "/api/v1/projects/p2/variables/$n", 'admin');
	}
};

subtest 'POST /api/validate/{kind}: the same rules, nothing stored' => sub {
	my $r = req(POST => '/api/validate/globaldatasources', 'alice',
	    gds('check'));
	is($r->{status}, 200, 'a valid GlobalDatasource: 200') or diag $r->{content};
	is($r->{content}, '', 'empty body');
	$r = req(POST => '/api/validate/datasources', 'alice',
	    pds('check', meta => { project => 'any' }));
	is($r->{status}, 200, 'a valid Datasource of any project');
	$r = req(POST => '/api/validate/globalvariables', 'alice', gvar('check'));
	is($r->{status}, 200, 'a valid GlobalVariable');
	$r = req(POST => '/api/validate/variables', 'alice',
	    gvar('check', undef, kind => 'Variable'));
	is($r->{status}, 200, 'a valid Variable');
	my $j = is_error(req(POST => '/api/validate/variables', 'alice',
	    gvar('42', undef, kind => 'Variable')), 400, 'validation_failed',
	    'an invalid Variable');
	like($j->{message}, qr/^metadata\.name: /, 'names the field');
	$j = is_error(req(POST => '/api/validate/datasources', 'alice',
	    pds('x', spec => { plugin => {} })), 400, 'validation_failed',
	    'an invalid Datasource');
	like($j->{message}, qr/^spec\.plugin\.kind: /, 'names the field');
	is_error(req(POST => '/api/validate/datasources', undef, pds('x')), 401,
	    'unauthorized', 'no identity');
	is($t->psql("SELECT count(*) FROM datasource WHERE name = 'check'")
	    + $t->psql("SELECT count(*) FROM variable WHERE name = 'check'"), 0,
	    'nothing stored');
};

subtest 'concurrency: of 8 writers at one version exactly one wins, 5 rounds' => sub {
	$t->psql("INSERT INTO project_member (project, user_name, role,"
	    . " created_by, updated_by) SELECT 'p1', 'w' || i, 'admin', 'test',"
	    . " 'test' FROM generate_series(1, 8) i");
	my $P = '/api/v1/projects/p1/datasources';
	my $r = req(POST => $P, 'dave', pds('race'));
	is($r->{status}, 200, 'the datasource to race on');
	my $dir = $t->tmpdir;
	for my $round (1 .. 5) {
		my $v = $round - 1;
		my $go = time + 0.5;
		my @pids;
		for my $c (1 .. 8) {
			push @pids, $t->bg(sub {
				# Bounded: $go is half a second away.
				select(undef, undef, undef, 0.002) while time < $go;
				# Odd writers send If-Match, even ones metadata.version;
				# each is another user, so each stale one conflicts.
				my $d = pds('race', $c % 2 ? () : (meta => {
				    version => $v }), spec => { display => { name =>
				    "r$round c$c" }, plugin => { kind => 'P' } });
				my $r = $t->request(PUT => "$P/race", user => "w$c",
				    json => $d, timeout => 30, headers => $c % 2
				    ? { 'If-Match' => qq{"$v"} } : {});
				open(my $f, '>', "$dir/race-$round-$c") or return 1;
				print $f "$r->{status}\n";
				close $f;
				return 0;
			});
		}
		my (%st, $wrong);
		for my $c (1 .. 8) {
			$t->wait_pid($pids[$c - 1], 60);
			my $s = 'none';
			if (open(my $f, '<', "$dir/race-$round-$c")) {
				chomp($s = <$f> // 'none');
			}
			$st{$s}++;
			$wrong++ unless $s eq '200' || $s eq ($c % 2 ? '412' : '409');
		}
		is($st{200} // 0, 1, "round $round: exactly one 200")
		    or diag explain \%st;
		ok(!$wrong, "round $round: the others 412 (If-Match) or 409 "
		    . "(metadata.version)") or diag explain \%st;
	}
	is($t->psql("SELECT version FROM datasource WHERE name = 'race'"), 5,
	    'five rounds, five versions');
	is($t->psql("SELECT count(*) FROM datasource_edit e JOIN datasource d"
	    . " ON d.id = e.datasource_id WHERE d.name = 'race'"), 6,
	    'an author row per version');
	req(DELETE => "$P/race", 'dave');
};

subtest 'a deleted project takes its datasources and variables along' => sub {
	is($t->psql("SELECT count(*) FROM datasource WHERE project = 'p2'"), 1,
	    'p2 has a datasource');
	my $r = req(DELETE => '/api/v1/projects/p2', 'admin');
	is($r->{status}, 204, 'DELETE /api/v1/projects/p2') or diag $r->{content};
	is($t->psql("SELECT count(*) FROM datasource WHERE project = 'p2'")
	    + $t->psql("SELECT count(*) FROM variable WHERE project = 'p2'"), 0,
	    'its datasources and variables are gone');
	is($t->psql('SELECT count(*) FROM datasource_edit e LEFT JOIN datasource d'
	    . ' ON d.id = e.datasource_id WHERE d.id IS NULL'), 0,
	    'and their version authors');
};

is($t->stop_dashcgi, 0, 'SIGTERM: master exits 0');
done_testing;
