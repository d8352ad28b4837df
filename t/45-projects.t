#!/usr/bin/perl
# Projects and members (SPEC §4): every endpoint's success case and each
# refusal the contract names -- 400, 401, 403, 404 (a project the caller
# has no role in is indistinguishable from a missing one), 409 (exists,
# last admin) -- metadata.version, DELETE taking the project's contents
# with it, /api/v1/me following membership, complete lists and keyset
# paging, and exactly one audit row per change.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep);
use DashTest;

# auth => 0: nginx passes any Basic user through as REMOTE_USER, and a
# request without one reaches dashcgi, which answers 401 itself.
my $t = DashTest->new(auth => 0, config => { auth => { admins => ['admin'] } });

my $RFC3339 = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

sub req {
	my ($method, $path, $user, $json) = @_;
	return $t->request($method, $path, defined $user ? (user => $user) : (),
	    defined $json ? (ref $json ? (json => $json) : (body => $json)) : ());
}

sub body { my $j = $t->json($_[0]); return $j }

sub project_doc {
	my ($name, %display) = @_;
	return { kind => 'Project', metadata => { name => $name },
	    spec => { display => {%display} } };
}

# The one error shape; returns the decoded body.
sub is_error {
	my ($r, $status, $code, $name) = @_;
	my $j = length($r->{content} // '') ? $t->json($r) : undef;
	$j = {} unless ref $j eq 'HASH';
	my $ok = is($r->{status}, $status, "$name: $status");
	$ok &&= is($j->{code}, $code, "$name: error $code");
	$ok &&= is($j->{status}, $status, "$name: body status");
	$ok &&= ok(length($j->{message} // ''), "$name: a message");
	diag "body: $r->{content}" unless $ok;
	return $j;
}

sub rid { $t->header($_[0], 'X-Request-Id') // 'none' }

# The audit rows a response's request wrote: [actor, action, project,
# resource, result, details] each.
sub audit_rows {
	my ($r) = @_;
	my $id = rid($r);
	die "unsafe request id $id" unless $id =~ /^[\w.:-]+$/;
	my $out = $t->psql("SELECT actor, action, coalesce(project, ''), "
	    . "coalesce(resource, ''), result, details::text FROM audit_log "
	    . "WHERE request_id = '$id' ORDER BY id");
	return [ map { [ split /\|/, $_, 6 ] } grep { length } split /\n/, $out ];
}

# Exactly one row, a success of $action by $actor on $project/$resource.
sub audited {
	my ($r, $action, $actor, $project, $resource, $name) = @_;
	my $rows = audit_rows($r);
	is(scalar @$rows, 1, "$name: one audit row") or diag explain $rows;
	my $row = $rows->[0] || [];
	is_deeply([ @$row[0 .. 4] ], [ $actor, $action, $project,
	    $resource // '', 'success' ], "$name: audit row $action by $actor");
	return $row->[5] ? $t->json($row->[5]) : undef;
}

sub not_audited {
	my ($r, $name) = @_;
	my @s = grep { $_->[4] eq 'success' } @{ audit_rows($r) };
	is(scalar @s, 0, "$name: no change audited") or diag explain \@s;
}

sub me { body(req(GET => '/api/v1/me', $_[0])) }

sub names { [ map { $_->{metadata}{name} } @{ $_[0] } ] }

subtest '401 without an identity' => sub {
	for my $c ([ GET => '/api/v1/projects' ], [ GET => '/api/v1/me' ],
	    [ POST => '/api/v1/projects', project_doc('x') ],
	    [ GET => '/api/v1/projects/x' ], [ GET => '/api/v1/projects/x/members' ],
	    [ PUT => '/api/v1/projects/x/members/bob', { role => 'viewer' } ],
	    [ DELETE => '/api/v1/projects/x' ]) {
		is_error(req($c->[0], $c->[1], undef, $c->[2]), 401,
		    'unauthorized', "$c->[0] $c->[1]");
	}
};

subtest 'POST /api/v1/projects: a global admin creates a Perses Project' => sub {
	my $r = req(POST => '/api/v1/projects', 'admin',
	    project_doc('demo', name => 'Demo', description => 'the demo'));
	is($r->{status}, 200, 'answers 200') or diag $r->{content};
	my $j = body($r);
	is($j->{kind}, 'Project', 'kind Project');
	is($j->{metadata}{name}, 'demo', 'metadata.name');
	like($j->{metadata}{createdAt} // '', $RFC3339, 'createdAt RFC 3339');
	like($j->{metadata}{updatedAt} // '', $RFC3339, 'updatedAt RFC 3339');
	is($j->{metadata}{version}, 0, 'metadata.version 0');
	is_deeply($j->{spec}, { display => { name => 'Demo',
	    description => 'the demo' } }, 'spec.display stored');
	my $d = audited($r, 'project.create', 'admin', 'demo', undef, 'create');
	is_deeply($d, { display => { name => 'Demo', description => 'the demo' } },
	    'audit details: the display');

	my $g = req(GET => '/api/v1/projects/demo', 'admin');
	is($g->{status}, 200, 'GET it back');
	is_deeply(body($g), $j, 'GET answers the stored document');

	# The creator is not made a member: global admins see everything.
	is_deeply(me('admin')->{projects}, {}, 'the creator is not a member');
	is_deeply(body(req(GET => '/api/v1/projects/demo/members', 'admin')), [],
	    'no members yet');

	$r = req(POST => '/api/v1/projects', 'admin',
	    { kind => 'Project', metadata => { name => 'bare' } });
	is($r->{status}, 200, 'spec is optional') or diag $r->{content};
	is_deeply(body($r)->{spec}, { display => {} }, 'an empty display');
};

subtest 'POST /api/v1/projects refusals' => sub {
	my $r = req(POST => '/api/v1/projects', 'alice', project_doc('mine'));
	is_error($r, 403, 'forbidden', 'a non-admin');
	my $rows = audit_rows($r);
	is_deeply([ map { [ @$_[0, 1, 4] ] } @$rows ],
	    [ [ 'alice', 'project.create', 'denied' ] ], 'the denial is audited');
	is(req(GET => '/api/v1/projects/mine', 'admin')->{status}, 404,
	    'and nothing was created');

	$r = req(POST => '/api/v1/projects', 'admin', project_doc('demo'));
	my $j = is_error($r, 409, 'conflict', 'an existing name');
	like($j->{message}, qr/"demo" already exists/, 'the message names it');
	not_audited($r, 'conflict');

	for my $c (
	    [ { metadata => { name => 'k1' } }, qr/^kind:/, 'no kind' ],
	    [ { kind => 'Dashboard', metadata => { name => 'k2' } },
	      qr/^kind: must be "Project", got "Dashboard"/, 'kind Dashboard' ],
	    [ { kind => 'Project' }, qr/^metadata:/, 'no metadata' ],
	    [ { kind => 'Project', metadata => {} }, qr/^metadata\.name: required/,
	      'no metadata.name' ],
	    [ { kind => 'Project', metadata => { name => 7 } },
	      qr/^metadata\.name: must be a string/, 'a numeric name' ],
	    (map { [ { kind => 'Project', metadata => { name => $_ } },
	      qr/^metadata\.name: ".*" is not a valid name/, "name \"$_\"" ] }
	      ('', 'has space', 'a/b', '.dot', 'dot.', 'a..b', 'x' x 76, "caf\x{e9}")),
	    [ { kind => 'Project', metadata => { name => 's1' }, spec => [] },
	      qr/^spec: must be an object/, 'spec an array' ],
	    [ { kind => 'Project', metadata => { name => 's2' },
	      spec => { display => 'x' } }, qr/^spec\.display: must be an object/,
	      'display a string' ],
	    [ { kind => 'Project', metadata => { name => 's3' },
	      spec => { display => { name => 1 } } },
	      qr/^spec\.display\.name: must be a string/, 'display.name a number' ],
	    [ { kind => 'Project', metadata => { name => 's4' },
	      spec => { display => { colour => 'red' } } },
	      qr/^spec\.display\.colour: unknown field/, 'an unknown display field' ],
	    [ [ 'Project' ], qr/JSON object/, 'an array body' ],
	) {
		$r = req(POST => '/api/v1/projects', 'admin', $c->[0]);
		$j = is_error($r, 400, 'validation_failed', $c->[2]);
		like($j->{message} // '', $c->[1], "$c->[2]: the message names the field");
	}
	is_deeply(names(body(req(GET => '/api/v1/projects', 'admin'))),
	    [ 'bare', 'demo' ], 'no refused project was stored');
	is(req(POST => '/api/v1/projects', 'admin', project_doc('x' x 75))->{status},
	    200, 'a 75-character name is fine');
	is(req(DELETE => '/api/v1/projects/' . ('x' x 75), 'admin')->{status}, 204,
	    'and goes again');
};

subtest 'members: PUT adds and changes, GET lists sorted by user' => sub {
	my $r = req(PUT => '/api/v1/projects/demo/members/carol', 'admin',
	    { role => 'viewer' });
	is($r->{status}, 200, 'add a viewer') or diag $r->{content};
	is_deeply(body($r), { user => 'carol', role => 'viewer' }, '{"user","role"}');
	my $d = audited($r, 'member.update', 'admin', 'demo', 'carol', 'add');
	is($d->{role}, 'viewer', 'details: role');
	ok(exists $d->{oldRole} && !defined $d->{oldRole}, 'details: no oldRole');

	$r = req(PUT => '/api/v1/projects/demo/members/bob', 'admin',
	    { role => 'viewer' });
	is($r->{status}, 200, 'add bob as viewer');
	$r = req(PUT => '/api/v1/projects/demo/members/bob', 'admin',
	    { role => 'editor', user => 'bob' });
	is($r->{status}, 200, 'promote bob to editor (body may echo the user)')
	    or diag $r->{content};
	$d = audited($r, 'member.update', 'admin', 'demo', 'bob', 'promote');
	is_deeply($d, { user => 'bob', role => 'editor', oldRole => 'viewer' },
	    'details: role and oldRole');

	$r = req(PUT => '/api/v1/projects/demo/members/alice', 'admin',
	    { role => 'admin' });
	is($r->{status}, 200, 'alice becomes project admin');
	$r = req(PUT => "/api/v1/projects/demo/members/jos%C3%A9", 'alice',
	    { role => 'viewer' });
	is($r->{status}, 200, 'a project admin adds a UTF-8 user name')
	    or diag $r->{content};
	is(body($r)->{user}, "jos\x{e9}", 'the name is decoded');

	$r = req(GET => '/api/v1/projects/demo/members', 'carol');
	is($r->{status}, 200, 'a viewer lists members');
	is_deeply(body($r), [ { user => 'alice', role => 'admin' },
	    { user => 'bob', role => 'editor' }, { user => 'carol', role => 'viewer' },
	    { user => "jos\x{e9}", role => 'viewer' } ], 'sorted by user');
};

subtest '/api/v1/me follows membership' => sub {
	my $m = me('bob');
	is_deeply($m, { user => 'bob', admin => JSON::PP::false,
	    projects => { demo => 'editor' } }, 'bob: editor in demo');
	is_deeply(me('dave'), { user => 'dave', admin => JSON::PP::false,
	    projects => {} }, 'dave: nothing');
	my $a = me('admin');
	ok($a->{admin}, 'admin: admin true');
	is_deeply($a->{projects}, {}, 'a global admin sees only explicit memberships');

	req(PUT => '/api/v1/projects/bare/members/bob', 'admin', { role => 'admin' });
	is_deeply(me('bob')->{projects}, { demo => 'editor', bare => 'admin' },
	    'a new membership shows');
	my $r = req(DELETE => '/api/v1/projects/bare/members/bob', 'admin');
	is($r->{status}, 204, 'a global admin removes the last admin of bare');
	is($r->{content} // '', '', '204 has no body');
	my $d = audited($r, 'member.delete', 'admin', 'bare', 'bob', 'remove');
	is($d->{oldRole}, 'admin', 'details: oldRole');
	is_deeply(me('bob')->{projects}, { demo => 'editor' }, 'and it is gone');
};

subtest 'GET /api/v1/projects: only projects the caller has a role in' => sub {
	is_deeply(names(body(req(GET => '/api/v1/projects', 'admin'))),
	    [ 'bare', 'demo' ], 'a global admin: all, sorted by name');
	is_deeply(names(body(req(GET => '/api/v1/projects', 'carol'))), [ 'demo' ],
	    'a viewer: its project');
	my $r = req(GET => '/api/v1/projects', 'dave');
	is($r->{status}, 200, 'no role anywhere: 200');
	is($r->{content}, '[]', 'an empty array');
	my $l = body(req(GET => '/api/v1/projects', 'carol'))->[0];
	is_deeply($l, body(req(GET => '/api/v1/projects/demo', 'carol')),
	    'list items are the same Project documents as GET');
};

subtest 'paging: ?limit and the Link cursor' => sub {
	my @want = map { sprintf 'pg%02d', $_ } 1 .. 7;
	for my $n (@want) {
		is(req(POST => '/api/v1/projects', 'admin', project_doc($n))->{status},
		    200, "create $n");
		req(PUT => "/api/v1/projects/$n/members/dave", 'admin',
		    { role => 'viewer' });
	}
	my ($path, @got, $pages) = ('/api/v1/projects?limit=3');
	while (defined $path && ++$pages <= 10) {
		my $r = req(GET => $path, 'dave');
		is($r->{status}, 200, "page $pages") or last;
		push @got, @{ names(body($r)) };
		my $link = $t->header($r, 'Link');
		$path = undef;
		if (defined $link) {
			like($link, qr/^<[^>]+>; rel="next"$/, "page $pages: Link rel=next");
			($path) = $link =~ /^<([^>]+)>/;
		}
	}
	is($pages, 3, '7 projects, 3 a page: 3 pages');
	is_deeply(\@got, \@want, 'every project once, in order');

	my $r = req(GET => '/api/v1/projects?limit=7', 'dave');
	is(scalar @{ body($r) }, 7, 'a page that holds everything');
	ok(!defined $t->header($r, 'Link'), 'has no Link');
	is(scalar @{ body(req(GET => '/api/v1/projects', 'dave')) }, 7,
	    'without ?limit= the list is complete');

	for my $bad ('0', '1001', '-1', 'ten', '5x', '') {
		my $j = is_error(req(GET => "/api/v1/projects?limit=$bad", 'dave'),
		    400, 'bad_request', "limit=$bad");
		like($j->{message} // '', qr/^limit:/, "limit=$bad: names limit");
	}
	is(req(GET => '/api/v1/projects?limit=1000', 'dave')->{status}, 200,
	    'limit=1000 is allowed');
	my $j = is_error(req(GET => '/api/v1/projects?cursor=!!!', 'dave'), 400,
	    'bad_request', 'a forged cursor');
	like($j->{message} // '', qr/^cursor:/, 'names the cursor');

	# Members page the same way.
	for my $u (qw(m1 m2 m3)) {
		req(PUT => "/api/v1/projects/pg01/members/$u", 'admin',
		    { role => 'viewer' });
	}
	$r = req(GET => '/api/v1/projects/pg01/members?limit=2', 'dave');
	is_deeply([ map { $_->{user} } @{ body($r) } ], [qw(dave m1)],
	    'members page 1');
	my ($next) = ($t->header($r, 'Link') // '') =~ /^<([^>]+)>/;
	like($next // '', qr{^/api/v1/projects/pg01/members\?}, 'members Link');
	$r = req(GET => $next // '/none', 'dave');
	is_deeply([ map { $_->{user} } @{ body($r) } ], [qw(m2 m3)],
	    'members page 2');
	ok(!defined $t->header($r, 'Link'), 'the last page has no Link');

	for my $n (@want) {
		req(DELETE => "/api/v1/projects/$n", 'admin');
	}
};

subtest '404: no role looks exactly like no project' => sub {
	for my $c ([ GET => '' ], [ GET => '/members' ],
	    [ PUT => '', project_doc('demo') ],
	    [ PUT => '/members/dave', { role => 'admin' } ],
	    [ DELETE => '/members/carol' ]) {
		my $json = $c->[2];
		my $hidden = req($c->[0], "/api/v1/projects/demo$c->[1]", 'dave', $json);
		$json = project_doc('nosuch') if ref $json eq 'HASH' && $json->{kind};
		my $missing = req($c->[0], "/api/v1/projects/nosuch$c->[1]", 'dave',
		    $json);
		is_error($hidden, 404, 'not_found', "$c->[0] demo$c->[1] without a role");
		is_error($missing, 404, 'not_found', "$c->[0] nosuch$c->[1]");
		(my $b = $hidden->{content}) =~ s/demo/nosuch/g;
		is($b, $missing->{content}, "$c->[0] …$c->[1]: the same body but the name");
	}
	is_deeply(me('dave')->{projects}, {}, 'and dave gained nothing');
	is_error(req(GET => '/api/v1/projects/nosuch', 'admin'), 404, 'not_found',
	    'a global admin: a missing project');
	is_error(req(DELETE => '/api/v1/projects/nosuch', 'admin'), 404,
	    'not_found', 'DELETE a missing project');
};

subtest '403: a role too weak, audited' => sub {
	my $r = req(PUT => '/api/v1/projects/demo', 'carol',
	    project_doc('demo', name => 'Hijacked'));
	is_error($r, 403, 'forbidden', 'a viewer PUTs the project');
	is_deeply([ map { [ @$_[0, 1, 2, 4] ] } @{ audit_rows($r) } ],
	    [ [ 'carol', 'project.update', 'demo', 'denied' ] ], 'denial audited');
	$r = req(PUT => '/api/v1/projects/demo/members/dave', 'bob',
	    { role => 'viewer' });
	is_error($r, 403, 'forbidden', 'an editor PUTs a member');
	is_deeply([ map { [ @$_[0, 1, 4] ] } @{ audit_rows($r) } ],
	    [ [ 'bob', 'member.update', 'denied' ] ], 'denial audited');
	is_error(req(DELETE => '/api/v1/projects/demo/members/carol', 'bob'), 403,
	    'forbidden', 'an editor removes a member');
	is_error(req(DELETE => '/api/v1/projects/demo', 'alice'), 403, 'forbidden',
	    'a project admin deletes the project');
	is(body(req(GET => '/api/v1/projects/demo', 'carol'))->{spec}{display}{name},
	    'Demo', 'nothing changed');
	is_deeply(me('dave')->{projects}, {}, 'dave is still no member');
};

subtest 'PUT /api/v1/projects/{p}: a project admin updates display' => sub {
	my $before = body(req(GET => '/api/v1/projects/demo', 'alice'));
	sleep 1.1;	# updatedAt has one-second resolution
	my $r = req(PUT => '/api/v1/projects/demo', 'alice',
	    project_doc('demo', name => 'Demo 2', description => 'new'));
	is($r->{status}, 200, 'answers 200') or diag $r->{content};
	my $j = body($r);
	is_deeply($j->{spec}, { display => { name => 'Demo 2', description => 'new' } },
	    'the new display');
	is($j->{metadata}{createdAt}, $before->{metadata}{createdAt},
	    'createdAt kept');
	isnt($j->{metadata}{updatedAt}, $before->{metadata}{updatedAt},
	    'updatedAt moves');
	is_deeply(body(req(GET => '/api/v1/projects/demo', 'carol')), $j,
	    'GET shows it');
	is($j->{metadata}{version}, $before->{metadata}{version} + 1,
	    'metadata.version +1');
	my $d = audited($r, 'project.update', 'alice', 'demo', undef, 'update');
	is_deeply($d, { display => { name => 'Demo 2', description => 'new' },
	    oldDisplay => { name => 'Demo', description => 'the demo' },
	    oldVersion => $before->{metadata}{version},
	    newVersion => $before->{metadata}{version} + 1 },
	    'details: old and new display and version');

	# A fetched document goes back unchanged (server-owned metadata).
	$r = req(PUT => '/api/v1/projects/demo', 'alice', $j);
	is($r->{status}, 200, 'the GET document round-trips') or diag $r->{content};

	$r = req(PUT => '/api/v1/projects/demo', 'alice', project_doc('other'));
	my $e = is_error($r, 400, 'validation_failed', 'metadata.name differs');
	like($e->{message} // '', qr/^metadata\.name: "other" differs/,
	    'names metadata.name');
	not_audited($r, 'name differs');
	$e = is_error(req(PUT => '/api/v1/projects/demo', 'alice',
	    { kind => 'Dashboard', metadata => { name => 'demo' } }), 400,
	    'validation_failed', 'kind Dashboard');
	like($e->{message} // '', qr/^kind:/, 'names kind');
	is(body(req(GET => '/api/v1/projects/demo', 'alice'))->{spec}{display}{name},
	    'Demo 2', 'refused updates changed nothing');
};

subtest 'member refusals: 400 role and user, 404 not a member' => sub {
	my $M = '/api/v1/projects/demo/members';
	for my $c ([ { role => 'owner' }, 'role owner' ], [ {}, 'no role' ],
	    [ { role => 'Admin' }, 'role Admin' ], [ { role => 1 }, 'role 1' ],
	    [ { role => undef }, 'role null' ]) {
		my $r = req(PUT => "$M/dave", 'alice', $c->[0]);
		my $j = is_error($r, 400, 'validation_failed', $c->[1]);
		like($j->{message} // '', qr/^role: must be "viewer", "editor" or "admin"/,
		    "$c->[1]: names role");
		not_audited($r, $c->[1]);
	}
	my $j = is_error(req(PUT => "$M/dave", 'alice', { role => 'viewer',
	    user => 'erin' }), 400, 'validation_failed', 'body user differs');
	like($j->{message} // '', qr/^user:/, 'names user');
	$j = is_error(req(PUT => "$M/dave", 'alice', { role => 'viewer',
	    colour => 'red' }), 400, 'validation_failed', 'an unknown field');
	like($j->{message} // '', qr/^colour: unknown field/, 'names it');
	for my $c ([ 'a%20b', 'a space' ], [ 'a%09b', 'a tab' ],
	    [ 'a%01b', 'a control character' ], [ 'a%7Fb', 'DEL' ],
	    [ 'a%C2%A0b', 'a no-break space' ], [ 'a%E3%80%80b', 'U+3000 space' ],
	    [ 'a%FFb', 'invalid UTF-8' ], [ 'a%C0%AFb', 'overlong UTF-8' ],
	    [ 'u' x 129, '129 characters' ]) {
		for my $m (qw(PUT DELETE)) {
			my $r = req($m => "$M/$c->[0]", 'alice',
			    $m eq 'PUT' ? { role => 'viewer' } : undef);
			$j = is_error($r, 400, 'validation_failed', "$m user with $c->[1]");
			like($j->{message} // '', qr/^user: not a valid user name/,
			    "$m $c->[1]: names user");
		}
	}
	is(req(PUT => "$M/" . ('u' x 128), 'alice', { role => 'viewer' })->{status},
	    200, '128 characters are fine');
	is(req(DELETE => "$M/" . ('u' x 128), 'alice')->{status}, 204, 'and go');

	my $r = req(DELETE => "$M/dave", 'alice');
	$j = is_error($r, 404, 'not_found', 'DELETE a non-member');
	like($j->{message} // '', qr/"dave" is not a member of project "demo"/,
	    'says who is not a member');
	not_audited($r, 'non-member');
	is_deeply(me('dave')->{projects}, {}, 'no member was created');
};

subtest '409: the last project admin stays unless a global admin acts' => sub {
	my $M = '/api/v1/projects/demo/members';
	my $r = req(PUT => "$M/alice", 'alice', { role => 'editor' });
	my $j = is_error($r, 409, 'conflict', 'the last admin demotes herself');
	like($j->{message} // '', qr/last admin/, 'says why');
	not_audited($r, 'demote refused');
	is_error(req(DELETE => "$M/alice", 'alice'), 409, 'conflict',
	    'the last admin removes herself');
	is(me('alice')->{projects}{demo}, 'admin', 'alice is still admin');

	is(req(PUT => "$M/alice", 'alice', { role => 'admin' })->{status}, 200,
	    're-stating the admin role is fine');
	is(req(PUT => "$M/carol", 'alice', { role => 'admin' })->{status}, 200,
	    'a second admin');
	$r = req(PUT => "$M/carol", 'alice', { role => 'viewer' });
	is($r->{status}, 200, 'with two admins, one may be demoted');
	is(req(PUT => "$M/carol", 'alice', { role => 'admin' })->{status}, 200,
	    'and promoted again');
	$r = req(DELETE => "$M/alice", 'alice');
	is($r->{status}, 204, 'then alice may leave');
	audited($r, 'member.delete', 'alice', 'demo', 'alice', 'leave');
	ok(!exists me('alice')->{projects}{demo}, 'and /me forgets demo');
	is_error(req(GET => '/api/v1/projects/demo', 'alice'), 404, 'not_found',
	    'alice can no longer see demo');

	$r = req(PUT => "$M/carol", 'admin', { role => 'viewer' });
	is($r->{status}, 200, 'a global admin may demote the last admin');
	audited($r, 'member.update', 'admin', 'demo', 'carol', 'forced demote');
	is(req(PUT => "$M/carol", 'admin', { role => 'admin' })->{status}, 200,
	    'carol admin again');
};

subtest 'two admins demoting each other at once leave one admin' => sub {
	is(req(POST => '/api/v1/projects', 'admin', project_doc('race'))->{status},
	    200, 'create race');
	for my $u (qw(alice carol)) {
		is(req(PUT => "/api/v1/projects/race/members/$u", 'admin',
		    { role => 'admin' })->{status}, 200, "$u admin of race");
	}
	# Hold both member rows so the two demotions are in flight together:
	# each must wait, and each would see two admins in its own snapshot
	# if member changes did not take turns on the project.
	my $hold = $t->psql_bg(q{BEGIN;
	    SELECT 1 FROM project_member WHERE project = 'race' FOR UPDATE;
	    SELECT pg_sleep(1.5); COMMIT;});
	my $until = time + 10;
	until ($t->psql(q{SELECT count(*) FROM pg_stat_activity
	    WHERE query LIKE '%pg_sleep(1.5)%' AND state = 'active'
	    AND pid <> pg_backend_pid()}) > 0 || time > $until) {
		sleep 0.05;
	}
	my @kids = map {
		my ($me, $other) = @$_;
		$t->bg(sub {
			my $r = req(PUT => "/api/v1/projects/race/members/$other", $me,
			    { role => 'viewer' });
			return $r->{status} == 200 ? 0 : $r->{status} == 409 ? 9 : 1;
		});
	} ([ 'alice', 'carol' ], [ 'carol', 'alice' ]);
	my @rc = sort map { $t->wait_pid($_, 20) // -1 } @kids;
	is($t->wait_pid($hold, 20), 0, 'the lock holder finished');
	is_deeply(\@rc, [ 0, 9 ], 'one demotion succeeds, the other is 409');
	is($t->psql(q{SELECT count(*) FROM project_member
	    WHERE project = 'race' AND role = 'admin'}), 1, 'one admin remains');
	is(req(DELETE => '/api/v1/projects/race', 'admin')->{status}, 204,
	    'race goes');
};

subtest 'DELETE /api/v1/projects/{p}: the project and everything in it' => sub {
	is(req(POST => '/api/v1/projects', 'admin', project_doc('gone'))->{status},
	    200, 'create gone');
	req(PUT => '/api/v1/projects/gone/members/bob', 'admin', { role => 'admin' });
	$t->psql(q{INSERT INTO dashboard (project, name, spec, created_by,
	    updated_by) VALUES ('gone', 'live1', '{"display":{"name":"x"}}',
	    'test', 'test'), ('gone', 'trashed1', '{"display":{"name":"y"}}',
	    'test', 'test')});
	$t->psql(q{UPDATE dashboard SET deleted_at = now(), deleted_by = 'test'
	    WHERE project = 'gone' AND name = 'trashed1'});
	my $r = req(DELETE => '/api/v1/projects/gone', 'admin');
	is($r->{status}, 204, 'with a live dashboard and one in the trash: 204')
	    or diag $r->{content};
	is($r->{content} // '', '', 'no body');
	my $d = audited($r, 'project.delete', 'admin', 'gone', undef, 'delete');
	is($d->{members}, 1, 'details: the members it had');
	is($d->{dashboards}, 2, 'details: the dashboards it held');
	is($d->{trashed}, 1, 'details: one of them in the trash');
	is($t->psql(q{SELECT count(*) FROM dashboard WHERE project = 'gone'}),
	    0, 'its dashboards went with it');
	is($t->psql(q{SELECT count(*) FROM project_member WHERE project = 'gone'}),
	    0, 'members went with it');
	is_error(req(GET => '/api/v1/projects/gone', 'admin'), 404, 'not_found',
	    'GET after DELETE');
	is_deeply(me('bob')->{projects}, { demo => 'editor' },
	    "bob's /me no longer lists it");
	is_error(req(DELETE => '/api/v1/projects/gone', 'admin'), 404, 'not_found',
	    'a second DELETE');
};

subtest 'every change wrote exactly one success row' => sub {
	# Per request: at most one success row, and only for change routes.
	my $out = $t->psql(q{SELECT request_id, count(*) FROM audit_log
	    WHERE result = 'success' GROUP BY request_id HAVING count(*) > 1});
	is($out, '', 'no request wrote two success rows');
	$out = $t->psql(q{SELECT DISTINCT action FROM audit_log
	    WHERE result = 'success' ORDER BY 1});
	is_deeply([ split /\n/, $out ], [ qw(member.delete member.update
	    project.create project.delete project.update) ],
	    'only the change actions of this module');
};

is($t->stop_dashcgi, 0, 'SIGTERM: master exits 0');

done_testing;
