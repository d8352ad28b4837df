#!/usr/bin/perl
# The permission matrix: every route of `dashcgi routes` x {no identity,
# stranger, viewer, editor, project admin, global admin} answers what
# the route's role column promises.  The matrix is generated from the
# route table, so a new route is tested the moment it exists, and a
# role value this file has no rule for fails it.  Then: identity comes
# from REMOTE_USER alone, never from a client header.
#
# "Allowed" means past authorization: not 401, not 403, not the 404 a
# caller without a role gets ('project "p1" not found'), and not a 500.
# A handler that is still a stub answers 501, which is past the check.
use strict;
use warnings;
use Test::More;
use JSON::PP ();
use DashTest;

# auth => 0: no auth_basic in nginx, so a request without a user reaches
# dashcgi (which must answer 401 itself), while nginx still takes the
# user name of an Authorization: Basic header as $remote_user.
my $t = DashTest->new(auth => 0, workers => 2,
    config => { auth => { admins => ['admin'] } });

# The identities, and their role in project p1 (0 none .. 3 admin).
my @WHO = (
	[ none		=> undef,	0 ],
	[ stranger	=> 'alice',	0 ],
	[ viewer	=> 'bob',	1 ],
	[ editor	=> 'carol',	2 ],
	[ 'project admin' => 'dave',	3 ],
	[ 'global admin' => 'admin',	4 ],
);
my %RANK = (viewer => 1, editor => 2, admin => 3);

# Path parameters, filled with fixture names.
my %PARAM = (project => 'p1', name => 'd1', user => 'bob', id => 't1',
    version => '0', token => 'dsh_' . ('A' x 43), label => 'project',
    sliId => 'sli-1', ds => 'prom', dashboard => 'd1');

# An SLO document (section 8) for the SLO routes.
sub slo_doc {
	my ($name, $sli) = @_;
	return qq({"kind":"SLO","metadata":{"name":"$name"},"spec":{)
	    . qq("experience":"E","journey":"J","target":0.99,"window":"28d",)
	    . qq("indicators":[{"id":"$sli"}]}});
}

my $SPEC = '{"display":{"name":"D one"},"duration":"1h","variables":[],'
    . '"panels":{"a":{"kind":"Panel","spec":{"display":{"name":"a"},'
    . '"plugin":{"kind":"TimeSeriesChart","spec":{}}}}},'
    . '"layouts":[{"kind":"Grid","spec":{"items":[{"x":0,"y":0,'
    . '"width":12,"height":6,"content":{"$ref":"#/spec/panels/a"}}]}}]}';
sub dash_doc {
	my ($name, $version) = @_;
	my $v = defined $version ? qq{,"version":$version} : '';
	return qq({"kind":"Dashboard","metadata":{"name":"$name",)
	    . qq("project":"p1"$v},"spec":$SPEC});
}

# Datasource and variable documents (src/api/perses.c).
my $DS_SPEC = '{"plugin":{"kind":"PrometheusDatasource",'
    . '"spec":{"directUrl":"http://prom:9090"}}}';
my $VAR_SPEC = '{"kind":"TextVariable","spec":{"value":"x"}}';
sub res_doc {
	my ($kind, $name, $version) = @_;
	my $v = defined $version ? qq{,"version":$version} : '';
	my $spec = $kind =~ /Variable$/ ? $VAR_SPEC : $DS_SPEC;
	return qq({"kind":"$kind","metadata":{"name":"$name"$v},)
	    . qq("spec":$spec});
}

# A small valid body per change route; any other JSON route gets "{}"
# (a 400 from its handler is still "allowed").
my %BODY = (
	'POST /api/validate/dashboards' => dash_doc('d-valid'),
	'PUT /api/v1/me/preferences' =>
	    '{"timezone":"UTC","theme":"dark","favorites":[],"recent":[]}',
	'POST /api/v1/projects' =>
	    '{"kind":"Project","metadata":{"name":"p-matrix"},'
	    . '"spec":{"display":{"name":"matrix"}}}',
	'PUT /api/v1/projects/{project}' =>
	    '{"kind":"Project","metadata":{"name":"p1"},'
	    . '"spec":{"display":{"name":"P one"}}}',
	'PUT /api/v1/projects/{project}/members/{user}' => '{"role":"viewer"}',
	'POST /api/v1/projects/{project}/dashboards' => dash_doc('d-new'),
	'POST /api/v1/projects/{project}/dashboards/from-template' =>
	    '{"template":"t1","name":"d-tpl"}',
	'PUT /api/v1/projects/{project}/dashboards/{name}' => dash_doc('d1', 0),
	'PUT /api/v1/projects/{project}/dashboards/{name}/state' =>
	    '{"state":"archived"}',
	'POST /api/v1/projects/{project}/import' => dash_doc('d-imp') . "\n",
	'POST /api/v1/templates' =>
	    qq({"id":"t-new","name":"T new","category":"general",)
	    . qq("dashboard":$SPEC}),
	'PUT /api/v1/templates/{id}' =>
	    qq({"name":"T one","category":"general","dashboard":$SPEC}),
	'POST /api/v1/view' => '{"project":"p1","dashboard":"d1"}',
	'POST /api/v1/globaldatasources' => res_doc('GlobalDatasource', 'ds-new'),
	'PUT /api/v1/globaldatasources/{name}' =>
	    res_doc('GlobalDatasource', 'd1', 0),
	'POST /api/v1/projects/{project}/datasources' =>
	    res_doc('Datasource', 'ds-new'),
	'PUT /api/v1/projects/{project}/datasources/{name}' =>
	    res_doc('Datasource', 'd1', 0),
	'POST /api/v1/globalvariables' => res_doc('GlobalVariable', 'v_new'),
	'PUT /api/v1/globalvariables/{name}' =>
	    res_doc('GlobalVariable', 'd1', 0),
	'POST /api/v1/projects/{project}/variables' =>
	    res_doc('Variable', 'v_new'),
	'PUT /api/v1/projects/{project}/variables/{name}' =>
	    res_doc('Variable', 'd1', 0),
	'POST /api/v1/projects/{project}/incidents' =>
	    '{"title":"matrix","severity":"low","dedupKey":"matrix"}',
	'POST /api/v1/projects/{project}/alertmanager' =>
	    '{"version":"4","status":"firing","alerts":[{"status":"firing",'
	    . '"labels":{"alertname":"M"},"fingerprint":"f1"}]}',
	'POST /api/v1/projects/{project}/alert-rules' =>
	    '{"kind":"AlertRule","metadata":{"name":"r-new"},"spec":'
	    . '{"type":"threshold","metric":"m","op":">","threshold":1}}',
	'PUT /api/v1/projects/{project}/alert-rules/{name}' =>
	    '{"kind":"AlertRule","metadata":{"name":"d1"},"spec":'
	    . '{"type":"threshold","metric":"m","op":">","threshold":1}}',
	'POST /api/v1/projects/{project}/integrations' => '{"name":"matrix"}',
	'PUT /api/v1/projects/{project}/hub-channels/{name}' =>
	    '{"type":"webhook","url":"http://127.0.0.1:9/hook"}',
	'POST /api/v1/projects/{project}/slos' => slo_doc('s-new', 'sli-new'),
	'PUT /api/v1/projects/{project}/slos/{name}' => slo_doc('d1', 'sli-d1'),
	'POST /api/series/batch' => '{"sliIds":["sli-1"],"days":1}',
	'POST /api/v1/projects/{project}/monitors' =>
	    '{"kind":"Monitor","metadata":{"name":"m-new"},'
	    . '"spec":{"url":"http://127.0.0.1:9/"}}',
	'PUT /api/v1/projects/{project}/monitors/{name}' =>
	    '{"kind":"Monitor","metadata":{"name":"d1","version":0},'
	    . '"spec":{"url":"http://127.0.0.1:9/","paused":true}}',
	'POST /api/v1/projects/{project}/channels' =>
	    '{"kind":"NotificationChannel","metadata":{"name":"c-new"},'
	    . '"spec":{"type":"webhook","url":"https://hooks.example/"}}',
	'PUT /api/v1/projects/{project}/channels/{name}' =>
	    '{"kind":"NotificationChannel","metadata":{"name":"d1","version":0},'
	    . '"spec":{"type":"slack","url":"https://hooks.example/"}}',
);

# Routes whose handler makes the role decision itself (R_ROLE_INLINE),
# for a `dashcgi routes` that does not print the "inline" flag yet.
my %INLINE_FALLBACK = map { $_ => 1 }
    ('GET /api/v1/projects/{project}/dashboards/{name}');

# Routes whose handler narrows "any caller" further, by contract:
# the audit log is for global admins and project admins only.
my %HANDLER_DENIES = (
	'GET /api/v1/audit' => { alice => 1, bob => 1, carol => 1 },
);

# Fixture: p1 with bob viewer, carol editor, dave admin; dashboard d1,
# a trashed dashboard "old", template t1; datasource and variable d1,
# global and in p1; monitor and channel d1.  Re-made after every change
# that succeeded, so each case starts from the same state.
my $FIXTURE = <<"SQL";
BEGIN;
TRUNCATE project, project_member, dashboard, dashboard_version, share_token,
    template_usage, user_preferences, datasource, variable CASCADE;
DELETE FROM dashboard_template WHERE NOT is_system;
INSERT INTO project (name, display, created_by, updated_by)
    VALUES ('p1', '{"name":"P one"}', 'test', 'test');
INSERT INTO project_member (project, user_name, role, created_by, updated_by)
    VALUES ('p1', 'bob', 'viewer', 'test', 'test'),
           ('p1', 'carol', 'editor', 'test', 'test'),
           ('p1', 'dave', 'admin', 'test', 'test');
INSERT INTO dashboard (project, name, spec, created_by, updated_by)
    VALUES ('p1', 'd1', '$SPEC', 'test', 'test');
INSERT INTO dashboard (project, name, spec, created_by, updated_by,
    deleted_at, deleted_by)
    VALUES ('p1', 'old', '$SPEC', 'test', 'test', now(), 'test');
INSERT INTO dashboard_template (id, name, category, dashboard, created_by,
    updated_by)
    VALUES ('t1', 'T one', 'general', '$SPEC', 'test', 'test');
INSERT INTO datasource (project, name, spec, created_by, updated_by)
    VALUES (NULL, 'd1', '$DS_SPEC', 'test', 'test'),
           ('p1', 'd1', '$DS_SPEC', 'test', 'test');
INSERT INTO variable (project, name, spec, created_by, updated_by)
    VALUES (NULL, 'd1', '$VAR_SPEC', 'test', 'test'),
           ('p1', 'd1', '$VAR_SPEC', 'test', 'test');
INSERT INTO monitor (project, name, spec, every, paused, created_by, updated_by)
    VALUES ('p1', 'd1', '{"url":"http://127.0.0.1:9/","timeout":"1s"}', '60s',
	true, 'test', 'test');
INSERT INTO hub_channel (project, name, type, url, created_by,
    updated_by) VALUES ('p1', 'd1', 'webhook', 'https://hooks.example/',
    'test', 'test');
COMMIT;
SQL
$t->psql($FIXTURE);

my ($rc, $out, $err) = $t->run_dashcgi('routes');
is($rc, 0, '`dashcgi routes` runs') or diag $err;
my @routes;
for my $line (split /\n/, $out) {
	my ($method, $pattern, $role, $flags, $action) = split /\t/, $line, -1;
	push @routes, { method => $method, pattern => $pattern, role => $role,
	    flags => { map { $_ => 1 } grep { length } split /,/, $flags // '' },
	    action => $action };
}
cmp_ok(scalar @routes, '>=', 30, 'the route table lists every route')
    or diag $out;
my $PRINTS_INLINE = grep { $_->{flags}{inline} } @routes;

my %RULES = map { $_ => 1 } qw(public any viewer editor admin global-admin);
subtest 'every route has a rule here' => sub {
	for my $rt (@routes) {
		ok($RULES{ $rt->{role} }, "$rt->{method} $rt->{pattern}: role " .
		    "\"$rt->{role}\" has a rule in this test");
		my @p = $rt->{pattern} =~ /\{(\w+)\}/g;
		ok(!grep({ !exists $PARAM{$_} } @p),
		    "$rt->{method} $rt->{pattern}: every {param} can be filled")
		    or diag "unknown: @p";
		ok($rt->{pattern} =~ /\{project\}/,
		    "$rt->{method} $rt->{pattern}: a project role has {project}")
		    if $RANK{ $rt->{role} };
		ok($rt->{role} eq 'public' || $rt->{flags}{auth},
		    "$rt->{method} $rt->{pattern}: a role implies auth");
	}
};

sub path_of {
	my ($rt) = @_;
	(my $p = $rt->{pattern}) =~ s/\{(\w+)\}/$PARAM{$1} \/\/ 'x'/ge;
	$p =~ s{\{\*\w+\}}{api/v1/query};	# the rest of a path
	$p =~ s{/trash/d1/}{/trash/old/};	# the trash holds "old"
	return $p;
}

sub send_case {
	my ($rt, $user) = @_;
	my $key = "$rt->{method} $rt->{pattern}";
	my %o = (defined $user ? (user => $user) : ());
	if ($rt->{flags}{json}) {
		$o{body} = $BODY{$key} // '{}';
	} elsif ($rt->{flags}{ndjson}) {
		$o{body} = $BODY{$key} // "{}\n";
		$o{content_type} = 'application/x-ndjson';
	}
	$o{headers} = { 'If-Match' => '"0"' }
	    if $rt->{pattern} =~ m{/dashboards/\{name\}} && $rt->{method} ne 'GET';
	return $t->request($rt->{method}, path_of($rt), %o);
}

sub err_of {
	my ($r) = @_;
	my $j = ($r->{content} // '') =~ /^\s*\{/ ? eval {
		JSON::PP->new->decode($r->{content}) } : undef;
	return ref $j eq 'HASH' ? $j : {};
}

# What the route's role column promises for one identity.
sub expect {
	my ($rt, $who, $user, $rank) = @_;
	my $role = $rt->{role};
	return 'allowed' if $role eq 'public';
	return 401 unless defined $user;
	return 403 if $HANDLER_DENIES{"$rt->{method} $rt->{pattern}"}{$user};
	return 'allowed' if $role eq 'any' || $rank == 4;
	return 403 if $role eq 'global-admin';
	die "no rule for role $role\n" unless $RANK{$role};
	return 404 if $rank == 0;
	return $rank >= $RANK{$role} ? 'allowed' : 403;
}

my $AUTHZ_404 = qr/^project "p1" not found$/;

sub verdict {
	my ($r, $want) = @_;
	my $e = err_of($r);
	my $st = $r->{status};
	if ($want eq 'allowed') {
		return $st != 401 && $st != 403 && $st != 500 &&
		    !($st == 404 && ($e->{message} // '') =~ $AUTHZ_404);
	}
	return $st == 401 && ($e->{code} // '') eq 'unauthorized'
	    if $want == 401;
	return $st == 403 && ($e->{code} // '') eq 'forbidden'
	    if $want == 403;
	return $st == 404 && ($e->{code} // '') eq 'not_found' &&
	    ($e->{message} // '') =~ $AUTHZ_404;
}

my $cases = 0;
subtest 'the matrix: route x identity' => sub {
	for my $rt (@routes) {
		next unless $RULES{ $rt->{role} };
		my $key = "$rt->{method} $rt->{pattern}";
		my $inline = $rt->{flags}{inline} ||
		    (!$PRINTS_INLINE && $INLINE_FALLBACK{$key});
		for my $w (@WHO) {
			my ($who, $user, $rank) = @$w;
			my $want = expect($rt, $who, $user, $rank);
			my $r = send_case($rt, $user);
			$cases++;
			my $name = sprintf('%s as %s%s: %s (got %d)', $key, $who,
			    defined $user ? " ($user)" : '',
			    $want eq 'allowed' ? 'allowed' : $want, $r->{status});
			# A handler that decides the role itself cannot refuse
			# before it exists.
			local $TODO = "the handler decides the role (inline) " .
			    "and is not written yet"
			    if $inline && $r->{status} == 501 && $want ne 'allowed';
			ok(verdict($r, $want), $name) or diag $r->{content};
			$t->psql($FIXTURE)
			    if $rt->{method} ne 'GET' && $r->{status} < 400;
		}
	}
};
diag "permission matrix: $cases route x identity cases checked over " .
    scalar(@routes) . ' routes';
cmp_ok($cases, '==', 6 * scalar(@routes), 'six identities for every route');

subtest 'no role and no project look the same' => sub {
	my $a = $t->request(GET => '/api/v1/projects/p1/members', user => 'alice');
	my $b = $t->request(GET => '/api/v1/projects/p-none/members',
	    user => 'dave');
	is($a->{status}, 404, 'a stranger: 404');
	is($b->{status}, 404, 'a project that does not exist: 404');
	my ($ea, $eb) = (err_of($a), err_of($b));
	is($ea->{code}, $eb->{code}, 'the same error code');
	(my $ma = $ea->{message} // '') =~ s/p1/X/;
	(my $mb = $eb->{message} // '') =~ s/p-none/X/;
	is($ma, $mb, 'the same message, but for the name');
	like($ea->{message} // '', qr/"p1"/, 'the message names the project');
};

# --------------------------------------------------------------------
# Identity from REMOTE_USER alone.

my %FORGED = ('X-Remote-User' => 'admin', 'X-Forwarded-User' => 'admin',
    'Remote-User' => 'admin');

subtest 'forged identity headers change nothing' => sub {
	my $r = $t->request(GET => '/api/v1/projects/p1', user => 'alice',
	    headers => \%FORGED);
	is($r->{status}, 404, 'stranger + forged headers: project still hidden');
	like(err_of($r)->{message} // '', $AUTHZ_404, 'the authz 404');

	$r = $t->request(DELETE => '/api/v1/projects/p1', user => 'alice',
	    headers => \%FORGED);
	is($r->{status}, 403, 'stranger + forged headers: global-admin route 403');
	is(err_of($r)->{code}, 'forbidden', 'forbidden');

	$r = $t->request(PUT => '/api/v1/projects/p1/members/bob', user => 'bob',
	    headers => { %FORGED, 'X-Request-Id' => 'forged-viewer' },
	    body => '{"role":"admin"}');
	is($r->{status}, 403, 'viewer + forged headers: admin route 403');
	my $row = $t->psql("SELECT actor || ' ' || result FROM audit_log " .
	    "WHERE client_request_id = 'forged-viewer'");
	is($row, 'bob denied', 'the denial is audited as bob, not admin');
	is($t->psql("SELECT role FROM project_member WHERE project = 'p1' " .
	    "AND user_name = 'bob'"), 'viewer', 'bob is still a viewer');

	$r = $t->request(GET => '/api/v1/me', user => 'alice',
	    headers => \%FORGED);
	if ($r->{status} == 501) {
		pass('/api/v1/me not written yet (501): nothing to compare');
	} else {
		is($r->{status}, 200, '/api/v1/me answers') or diag $r->{content};
		my $j = err_of($r);
		is($j->{user}, 'alice', '/api/v1/me: still alice');
		ok(!$j->{admin}, '/api/v1/me: not an administrator');
	}

	for my $path ('/api/v1/me', '/api/v1/projects/p1', '/api/v1/audit') {
		$r = $t->request(GET => $path, headers => \%FORGED);
		is($r->{status}, 401, "no basic auth + forged headers: $path 401");
		is(err_of($r)->{code}, 'unauthorized', 'dashcgi\'s own 401');
	}
	# Straight over FastCGI: the headers arrive as HTTP_* params.
	$r = $t->fcgi_request(GET => '/api/v1/projects/p1',
	    params => { HTTP_X_REMOTE_USER => 'admin', HTTP_REMOTE_USER => 'admin',
	    HTTP_X_FORWARDED_USER => 'admin' });
	is($r->{status}, 401, 'FastCGI HTTP_* identity params: still 401');
};

is($t->stop_dashcgi, 0, 'SIGTERM: master exits 0');

done_testing;
