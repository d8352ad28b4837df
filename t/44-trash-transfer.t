#!/usr/bin/perl
# The trash (delete, list, restore, name clashes, purge by `dashcgi
# maintenance`), export and import (NDJSON; all or nothing; dry_run
# writes nothing) and a 1 MiB dashboard of 500 panels that survives
# every path intact.
use strict;
use warnings;
use utf8;
use Test::More;
use DashTest;
use DashTest::Fixtures;

my $t = DashTest->new(workers => 2);

$t->psql(<<'SQL');
INSERT INTO project (name, created_by, updated_by) VALUES
    ('demo', 't', 't'), ('src', 't', 't'), ('dst', 't', 't'), ('bad', 't', 't');
INSERT INTO project_member (project, user_name, role, created_by, updated_by)
SELECT p, 'alice', 'editor', 't', 't' FROM unnest(ARRAY['demo', 'src', 'dst', 'bad']) p
UNION ALL
SELECT p, 'bob', 'viewer', 't', 't' FROM unnest(ARRAY['demo', 'dst']) p;
SQL

my $P = '/api/v1/projects';
my $RFC3339 = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
my $JSON = JSON::PP->new->utf8->canonical;

sub dash {
	my ($name, %o) = @_;
	my (%panels, @items);
	for my $i (1 .. ($o{panels} // 1)) {
		$panels{"p$i"} = { kind => 'Panel', spec => {
		    display => { name => "panel $i" },
		    plugin => { kind => 'TimeSeriesChart', spec => {
			queries => [ { kind => 'TimeSeriesQuery', spec => { plugin => {
			    kind => 'PrometheusTimeSeriesQuery', spec => {
			    query => $o{query} // 'sum(rate(http_requests_total[5m]))' } } } } ] } } } };
		push @items, { x => ($i % 2) * 12, y => 6 * int(($i - 1) / 2),
		    width => 12, height => 6,
		    content => { '$ref' => "#/spec/panels/p$i" } };
	}
	my %meta = (name => $name);
	$meta{project} = $o{project} if defined $o{project};
	$meta{tags} = $o{tags} if $o{tags};
	return { kind => 'Dashboard', metadata => \%meta, spec => {
	    display => { name => $o{display} // "Dashboard $name" },
	    duration => '6h', variables => [], panels => \%panels,
	    layouts => [ { kind => 'Grid', spec => { items => \@items } } ] } };
}

sub req {
	my ($m, $path, %o) = @_;
	$o{user} //= 'alice';
	return $t->request($m, $path, %o);
}

sub ok_req {
	my ($r, $what) = @_;
	die "$what: $r->{status} $r->{content}" unless $r->{status} =~ /^20[04]$/;
	return $r;
}

sub trash { $t->json(req(GET => "$P/$_[0]/trash")) }

sub import_ndjson {
	my ($project, $body, $query) = @_;
	return req(POST => "$P/$project/import" . ($query // ''), body => $body,
	    content_type => 'application/x-ndjson');
}

# Everything the database holds for a project, to prove "nothing written".
sub snapshot {
	my ($project) = @_;
	return $t->psql("SELECT count(*) || ':' || coalesce(string_agg(d.name || '\@' "
	    . "|| d.version || '/' || md5(d.spec::text) || '/' || d.state || '/' "
	    . "|| (SELECT count(*) FROM dashboard_version v WHERE v.dashboard_id = d.id), "
	    . "',' ORDER BY d.id), '') FROM dashboard d WHERE d.project = '$project'");
}

# ---------------------------------------------------------------------
# The trash

subtest 'DELETE moves to the trash: version and history kept' => sub {
	ok_req(req(POST => "$P/demo/dashboards", json => dash('t1')), 'create');
	ok_req(req(PUT => "$P/demo/dashboards/t1", json => dash('t1', display => 'T1 v1'),
	    headers => { 'If-Match' => '"0"' }), 'update');
	is(req(DELETE => "$P/demo/dashboards/t1")->{status}, 204, 'DELETE: 204');
	my $tr = trash('demo');
	is(scalar @$tr, 1, 'one entry in the trash');
	is_deeply([ sort keys %{ $tr->[0] } ], [qw(deletedAt deletedBy name version)],
	    'entry keys');
	is($tr->[0]{name}, 't1', 'name');
	is($tr->[0]{version}, 1, 'version unchanged by the delete');
	is($tr->[0]{deletedBy}, 'alice', 'deletedBy');
	like($tr->[0]{deletedAt}, $RFC3339, 'deletedAt RFC 3339 UTC');
	is($t->psql("SELECT count(*) FROM dashboard_version v JOIN dashboard d ON "
	    . "d.id = v.dashboard_id WHERE d.name = 't1'") + 0, 1, 'history kept');
	is(req(GET => "$P/demo/dashboards/t1")->{status}, 404, 'no longer readable');
	is(req(GET => "$P/demo/trash", user => 'bob')->{status}, 200, 'a viewer lists the trash');
	is($t->psql("SELECT count(*) FROM audit_log WHERE action = 'dashboard.delete' "
	    . "AND resource = 't1' AND resource_version = 1") + 0, 1, 'audited');
};

subtest 'POST trash/{name}/restore' => sub {
	is_error(req(POST => "$P/demo/trash/t1/restore", user => 'bob'), 403, 'forbidden',
	    'a viewer may not restore');
	my $r = req(POST => "$P/demo/trash/t1/restore");
	is($r->{status}, 200, 'restore: 200') or diag $r->{content};
	my $d = $t->json($r);
	is($d->{metadata}{name}, 't1', 'the restored document');
	is($d->{metadata}{version}, 1, 'at the version it had');
	is($t->header($r, 'ETag'), '"1"', 'ETag');
	is($d->{spec}{display}{name}, 'T1 v1', 'with its spec');
	is_deeply($t->json(req(GET => "$P/demo/dashboards/t1")), $d, 'live again');
	is_deeply(trash('demo'), [], 'the trash is empty');
	is(scalar @{ $t->json(req(GET => "$P/demo/dashboards/t1/versions")) }, 2,
	    'history came back with it');
	is_error(req(POST => "$P/demo/trash/t1/restore"), 404, 'not_found',
	    'restore what is not in the trash');
	is_error(req(POST => "$P/demo/trash/never/restore"), 404, 'not_found',
	    'restore a name never used');
	is($t->psql("SELECT count(*) FROM audit_log WHERE action = 'dashboard.untrash' "
	    . "AND resource = 't1'") + 0, 1, 'audited as dashboard.untrash');
};

subtest 'restore: 409 while a live dashboard has the name; the newest generation' => sub {
	is(req(DELETE => "$P/demo/dashboards/t1")->{status}, 204, 'delete t1 again');
	ok_req(req(POST => "$P/demo/dashboards", json => dash('t1', display => 'second')),
	    'a new t1');
	my $j = is_error(req(POST => "$P/demo/trash/t1/restore"), 409, 'conflict',
	    'restore over a live t1');
	like($j->{message}, qr/t1/, 'names the dashboard');
	is(scalar @{ trash('demo') }, 1, 'still in the trash');
	is($t->json(req(GET => "$P/demo/dashboards/t1"))->{spec}{display}{name}, 'second',
	    'the live one untouched');

	sleep 1.1;	# deletedAt is shown to the second
	is(req(DELETE => "$P/demo/dashboards/t1")->{status}, 204, 'delete the new t1 too');
	my $tr = trash('demo');
	is_deeply([ map { "$_->{name}\@$_->{version}" } @$tr ], ['t1@0', 't1@1'],
	    'two generations, newest first');
	isnt($tr->[0]{deletedAt}, $tr->[1]{deletedAt}, 'each with its own deletedAt');
	my $r = req(POST => "$P/demo/trash/t1/restore");
	is($r->{status}, 200, 'restore: 200');
	is($t->json($r)->{spec}{display}{name}, 'second', 'the most recently deleted one');
	is_deeply([ map { "$_->{name}\@$_->{version}" } @{ trash('demo') } ], ['t1@1'],
	    'the older generation stays in the trash');
};

subtest 'trash paging' => sub {
	for my $n (1 .. 5) {
		ok_req(req(POST => "$P/demo/dashboards", json => dash("tp$n")), 'create');
		ok_req(req(DELETE => "$P/demo/dashboards/tp$n"), 'delete');
	}
	my @all = map { $_->{name} } @{ trash('demo') };
	is(scalar @all, 6, '6 in the trash');
	my (@paged, $pages);
	my $path = "$P/demo/trash?limit=2";
	while (defined $path && $pages++ < 10) {
		my $r = req(GET => $path);
		push @paged, map { $_->{name} } @{ $t->json($r) };
		($path) = ($t->header($r, 'Link') // '') =~ /^<([^>]+)>; rel="next"$/;
	}
	is_deeply(\@paged, \@all, 'pages of 2: every entry once, same order');
	is($pages, 3, 'three pages');
	is_deeply([ @all[0 .. 4] ], [qw(tp5 tp4 tp3 tp2 tp1)], 'newest first');
	is_error(req(GET => "$P/demo/trash?cursor=eA"), 400, 'bad_request', 'a bad cursor');
	is_error(req(GET => "$P/demo/trash?limit=abc"), 400, 'bad_request', 'a bad limit');
};

subtest 'maintenance purges trash older than trash_retention' => sub {
	my $before = scalar @{ trash('demo') };
	# The old generation of t1 was deleted 31 days ago (retention 30d).
	$t->psql("UPDATE dashboard SET deleted_at = now() - interval '31 days' "
	    . "WHERE project = 'demo' AND name = 't1' AND deleted_at IS NOT NULL");
	my $hist = $t->psql("SELECT count(*) FROM dashboard_version") + 0;
	my ($rc, $out, $err) = $t->run_dashcgi('maintenance');
	is($rc, 0, 'dashcgi maintenance: exit 0') or diag "$out$err";
	like("$out$err", qr/job=trash_purge.*purged=1/, 'it says one was purged');
	my @names = map { $_->{name} } @{ trash('demo') };
	is(scalar @names, $before - 1, 'one gone from the trash');
	ok(!grep({ $_ eq 't1' } @names), 'the old t1');
	is($t->psql("SELECT count(*) FROM dashboard WHERE name = 't1'") + 0, 1,
	    'only the live t1 remains');
	is($t->psql("SELECT count(*) FROM dashboard_version") + 0, $hist - 1,
	    'its history went with it');
	is($t->psql("SELECT count(*) FROM audit_log WHERE action = 'dashboard.purge' "
	    . "AND resource = 't1'") + 0, 1, 'the purge is audited');
	is_error(req(POST => "$P/demo/trash/t1/restore"), 404, 'not_found',
	    'no t1 left in the trash (the live one is not in the way)');
};

# ---------------------------------------------------------------------
# Export and import

my @SRC = (dash('alpha', tags => ['a', 'b']), dash('beta', display => 'Beta "quoted" ünïcode'),
    dash('gamma', panels => 3, tags => ['g']), dash('delta'));
for my $d (@SRC) {
	ok_req(req(POST => "$P/src/dashboards", json => $d), "create $d->{metadata}{name}");
}
ok_req(req(PUT => "$P/src/dashboards/gamma/state", json => { state => 'archived' }),
    'archive gamma');
ok_req(req(DELETE => "$P/src/dashboards/delta"), 'delete delta');

sub export_docs {
	my ($project) = @_;
	my $r = req(GET => "$P/$project/export");
	return ($r, [ map { $JSON->decode($_) } grep { length } split /\n/, $r->{content} ]);
}

# What must survive a transfer: everything but project, version and times.
sub portable {
	my ($d) = @_;
	return { kind => $d->{kind}, name => $d->{metadata}{name},
	    tags => $d->{metadata}{tags}, spec => $d->{spec} };
}

subtest 'export: NDJSON, one document a line, every live dashboard' => sub {
	my ($r, $docs) = export_docs('src');
	is($r->{status}, 200, 'GET export: 200');
	like($t->header($r, 'Content-Type'), qr{^application/x-ndjson}, 'NDJSON');
	like($r->{content}, qr/\n\z/, 'every line ends in a newline');
	is(scalar(() = $r->{content} =~ /\n/g), 3, 'three lines');
	is_deeply([ map { $_->{metadata}{name} } @$docs ], [qw(alpha beta gamma)],
	    'every live one, archived too, not the trashed one, by name');
	for my $d (@$docs) {
		is_deeply($d, $t->json(req(GET => "$P/src/dashboards/$d->{metadata}{name}")),
		    "$d->{metadata}{name}: the document GET returns");
	}
	is(req(GET => "$P/src/export", user => 'carol')->{status}, 404, 'no role: 404');
	($r, $docs) = export_docs('dst');
	is($r->{status}, 200, 'an empty project exports');
	is($r->{content}, '', 'nothing');
};

subtest 'import into an empty project reproduces the export' => sub {
	my ($r) = export_docs('src');
	my $exported = $r->{content};
	my $j = is_error(import_ndjson('dst', $exported), 400, 'bad_request',
	    'documents of another project');
	like($j->{message}, qr/^line 1: metadata\.project/, 'names line 1 and the field');
	is(snapshot('dst'), '0:', 'nothing written');

	# As percli apply --project does: the documents move to dst.
	my $moved = join '', map {
		my $d = $JSON->decode($_);
		$d->{metadata}{project} = 'dst';
		$JSON->encode($d) . "\n";
	} split /\n/, $exported;
	$r = import_ndjson('dst', $moved);
	is($r->{status}, 200, 'import: 200') or diag $r->{content};
	is_deeply($t->json($r), { created => 3, updated => 0, unchanged => 0 }, 'three created');
	my (undef, $src) = export_docs('src');
	my (undef, $dst) = export_docs('dst');
	is_deeply([ map { portable($_) } @$dst ], [ map { portable($_) } @$src ],
	    'the export of dst equals the export of src');
	ok(!grep({ $_->{metadata}{project} ne 'dst' || $_->{metadata}{version} != 0 } @$dst),
	    'in dst, at version 0');
	is($t->psql("SELECT count(*) FROM audit_log WHERE action = 'dashboard.import' "
	    . "AND project = 'dst' AND details = '{\"dryRun\": false, \"created\": 3, "
	    . "\"updated\": 0, \"unchanged\": 0}'::jsonb") + 0, 1,
	    'one audit row with the counts');

	$r = import_ndjson('dst', $moved);
	is_deeply($t->json($r), { created => 0, updated => 0, unchanged => 3 },
	    'the same again: all unchanged');
	is(snapshot('dst') =~ tr/@//, 3, 'still three');
	unlike(snapshot('dst'), qr/@[1-9]/, 'no new versions');
	is(import_ndjson('dst', $moved, '', )->{status}, 200, 'idempotent');
	is_error(req(POST => "$P/dst/import", body => $moved, user => 'bob',
	    content_type => 'application/x-ndjson'), 403, 'forbidden', 'a viewer');
	is_error(req(POST => "$P/dst/import", body => $moved), 415,
	    'unsupported_media_type', 'application/json');
	$r = import_ndjson('dst', "\n \n");
	is_deeply($t->json($r), { created => 0, updated => 0, unchanged => 0 },
	    'blank lines only: nothing to do');
};

subtest 'import: creates, updates (a new version with history), leaves the rest' => sub {
	my (undef, $dst) = export_docs('dst');
	my ($alpha) = grep { $_->{metadata}{name} eq 'alpha' } @$dst;
	my ($beta) = grep { $_->{metadata}{name} eq 'beta' } @$dst;
	$alpha->{spec}{display}{name} = 'Alpha, imported again';
	$beta->{metadata}{tags} = ['new-tag'];
	my $body = join "\n", map { $JSON->encode($_) } $alpha, $beta,
	    dash('epsilon', project => 'dst'), (grep { $_->{metadata}{name} eq 'gamma' } @$dst);
	my $r = import_ndjson('dst', "$body\r\n", '');
	is($r->{status}, 200, 'import: 200') or diag $r->{content};
	is_deeply($t->json($r), { created => 1, updated => 2, unchanged => 1 },
	    'one new, spec or tags changed on two, one as it was');
	my $a = $t->json(req(GET => "$P/dst/dashboards/alpha"));
	is($a->{metadata}{version}, 1, 'alpha: version 1');
	is($a->{spec}{display}{name}, 'Alpha, imported again', 'alpha: the new spec');
	is_deeply([ map { $_->{version} } @{ $t->json(req(GET => "$P/dst/dashboards/alpha/versions")) } ],
	    [1, 0], 'alpha: version 0 in history');
	is_deeply($t->json(req(GET => "$P/dst/dashboards/beta"))->{metadata}{tags},
	    ['new-tag'], 'beta: a tags change is an update');
	is($t->json(req(GET => "$P/dst/dashboards/gamma"))->{metadata}{version}, 0,
	    'gamma: unchanged, no new version');
	is(req(GET => "$P/dst/dashboards/epsilon")->{status}, 200, 'epsilon created');
};

subtest 'import is all or nothing: a bad line anywhere imports nothing' => sub {
	my $good1 = $JSON->encode(dash('one'));
	my $good2 = $JSON->encode(dash('two'));
	my $badref = dash('three');
	$badref->{spec}{layouts}[0]{spec}{items}[0]{content}{'$ref'} = '#/spec/panels/nope';
	my @cases = (
	    [ "$good1\n{\"kind\": \"Dashboard\",\n$good2\n", qr/^line 2: invalid JSON/,
	      'invalid_json', 'malformed JSON on line 2 of 3' ],
	    [ "$good1\n\n$good2\n" . $JSON->encode($badref) . "\n",
	      qr/^line 4: spec\.layouts\[0\]\.spec\.items\[0\]\.content\.\$ref: /,
	      'validation_failed', 'a rule broken on line 4 (blank lines counted)' ],
	    [ "$good1\n" . $JSON->encode(dash('x', project => 'demo')) . "\n$good2\n",
	      qr/^line 2: metadata\.project/, 'bad_request', 'another project on line 2' ],
	    [ "$good2\n$good1\n$good2\n$good1\n", qr/^line 3: .*"two".*line 1$/,
	      'bad_request', 'the same dashboards twice: the first repeat' ],
	    [ "$good1\n[1, 2]\n", qr/^line 2: /, 'validation_failed', 'not an object' ],
	);
	for my $c (@cases) {
		my ($body, $re, $code, $name) = @$c;
		my $j = is_error(import_ndjson('bad', $body), 400, $code, $name);
		like($j->{message}, $re, "$name: the message names the line");
		is(snapshot('bad'), '0:', "$name: nothing written");
	}
	is($t->psql("SELECT count(*) FROM audit_log WHERE action = 'dashboard.import' "
	    . "AND project = 'bad'") + 0, 0, 'no audit row for a refused import');
	is_deeply($t->json(import_ndjson('bad', "$good1\n$good2")),
	    { created => 2, updated => 0, unchanged => 0 },
	    'the good lines alone import (no final newline needed)');
};

subtest 'import ?dry_run=true: the same checks and counts, nothing written' => sub {
	my $before = snapshot('dst');
	my (undef, $dst) = export_docs('dst');
	$dst->[0]{spec}{display}{name} = 'changed in a dry run';
	my $body = join('', map { $JSON->encode($_) . "\n" } @$dst,
	    dash('zeta', project => 'dst'));
	my $r = import_ndjson('dst', $body, '?dry_run=true');
	is($r->{status}, 200, 'dry run: 200') or diag $r->{content};
	is_deeply($t->json($r), { created => 1, updated => 1, unchanged => scalar(@$dst) - 1 },
	    'the counts a real import would give');
	is(snapshot('dst'), $before, 'nothing written: dashboards, versions, history');
	is(req(GET => "$P/dst/dashboards/zeta")->{status}, 404, 'zeta not created');
	is($t->psql("SELECT count(*) FROM audit_log WHERE action = 'dashboard.import' "
	    . "AND project = 'dst' AND details @> '{\"dryRun\": true, \"created\": 1}'") + 0,
	    1, 'the dry run is audited as one');
	my $j = is_error(import_ndjson('dst', "$body\n{", '?dry_run=true'), 400,
	    'invalid_json', 'a dry run with a bad line');
	like($j->{message}, qr/^line \d+: /, 'names the line');
	is_error(import_ndjson('dst', $body, '?dry_run=maybe'), 400, 'bad_request',
	    'dry_run=maybe');
	$r = import_ndjson('dst', $body, '?dry_run=false');
	is_deeply($t->json($r), { created => 1, updated => 1, unchanged => scalar(@$dst) - 1 },
	    'dry_run=false imports');
	isnt(snapshot('dst'), $before, 'and writes');
};

# ---------------------------------------------------------------------

subtest 'a 1 MiB dashboard with 500 panels round-trips intact' => sub {
	my $q = 'sum by (le) (rate(http_request_duration_seconds_bucket{job="api",'
	    . 'handler=~"/v1/.+"}[5m])) # ' . ('x' x 1900);
	my $big = dash('big', panels => 500, query => $q, tags => ['big']);
	my $text = $JSON->encode($big);
	cmp_ok(length($text), '>=', 1024 * 1024, 'the document is over 1 MiB ('
	    . length($text) . ' bytes)');
	my $r = req(POST => "$P/demo/dashboards", body => $text, timeout => 60);
	is($r->{status}, 200, 'POST: 200') or diag substr($r->{content}, 0, 300);
	my $got = $t->json(req(GET => "$P/demo/dashboards/big", timeout => 60));
	is(scalar keys %{ $got->{spec}{panels} }, 500, '500 panels');
	is(scalar @{ $got->{spec}{layouts}[0]{spec}{items} }, 500, '500 layout items');
	ok($JSON->encode($got->{spec}) eq $JSON->encode($big->{spec}),
	    'GET: the spec, byte for byte in canonical form');

	my $v1 = dash('big', panels => 500, query => "$q#v1", tags => ['big']);
	$r = req(PUT => "$P/demo/dashboards/big", json => $v1,
	    headers => { 'If-Match' => '"0"' }, timeout => 60);
	is($r->{status}, 200, 'PUT: 200');
	ok($JSON->encode($t->json($r)->{spec}) eq $JSON->encode($v1->{spec}),
	    'PUT answers the new spec intact');
	$got = $t->json(req(GET => "$P/demo/dashboards/big?version=0", timeout => 60));
	ok($JSON->encode($got->{spec}) eq $JSON->encode($big->{spec}),
	    'version 0 in history, intact');
	my (undef, $docs) = export_docs('demo');
	my ($e) = grep { $_->{metadata}{name} eq 'big' } @$docs;
	ok($e && $JSON->encode($e->{spec}) eq $JSON->encode($v1->{spec}),
	    'export carries it intact');
	$e->{metadata}{project} = 'dst';
	$r = import_ndjson('dst', $JSON->encode($e) . "\n");
	is_deeply($t->json($r), { created => 1, updated => 0, unchanged => 0 },
	    'import takes it');
	$got = $t->json(req(GET => "$P/dst/dashboards/big", timeout => 60));
	ok($JSON->encode($got->{spec}) eq $JSON->encode($v1->{spec}),
	    'and stores it intact');
};

is($t->stop_dashcgi, 0, 'SIGTERM: master exits 0');
unlike($t->log, qr/level=error|runtime error|Sanitizer/,
    'no errors or sanitizer reports in the log');

done_testing;
