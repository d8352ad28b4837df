#!/usr/bin/perl
# What real Perses clients do, against dashcgi unchanged (SPEC §4,
# /work/shared/PERSES-NOTES.md): the Perses UI saves twice from one tab
# with the version it loaded (both 200) while another user's stale copy
# gets 409 naming who changed it and when; percli applies with version
# 0 every time (create by POST, then PUT: all 200); the home page's
# metadata_only list carries "spec":{}; lists are complete without
# ?limit= -- 1,500 dashboards -- and streamed, so the worker's memory
# does not grow with them; projects carry metadata.version, createdAt,
# updatedAt; deleting a project takes everything in it, with one audit
# row counting what went.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep time);
use DashTest;

# One worker, so the one that answers is the one measured.  ASan's
# quarantine would hold every freed block for a while and look like a
# leak; a small one keeps the figures about the program.
my $asan = join(':', grep { length } $ENV{ASAN_OPTIONS} // '',
    'quarantine_size_mb=1');
my $t = DashTest->new(workers => 1, config => { auth => { admins => ['admin'] } },
    env => { ASAN_OPTIONS => $asan });

$t->psql(<<'SQL');
INSERT INTO project (name, created_by, updated_by) VALUES
    ('demo', 't', 't'), ('big', 't', 't');
INSERT INTO project_member (project, user_name, role, created_by, updated_by) VALUES
    ('demo', 'alice', 'editor', 't', 't'), ('demo', 'bob', 'editor', 't', 't'),
    ('big', 'alice', 'viewer', 't', 't');
SQL

my $P = '/api/v1/projects';
my $D = "$P/demo/dashboards";
my $RFC3339 = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

sub dash {
	my ($name, %o) = @_;
	my $d = { kind => 'Dashboard', metadata => { name => $name, project => 'demo' },
	    spec => { display => { name => $o{display} // "Dashboard $name" },
	    duration => '1h', variables => [],
	    panels => { p1 => { kind => 'Panel', spec => {
		display => { name => 'p99' },
		plugin => { kind => 'TimeSeriesChart', spec => {} } } } },
	    layouts => [ { kind => 'Grid', spec => { items => [ { x => 0, y => 0,
		width => 12, height => 6,
		content => { '$ref' => '#/spec/panels/p1' } } ] } } ] } };
	$d->{metadata}{version} = $o{version} if defined $o{version};
	return $d;
}

sub req {
	my ($m, $path, %o) = @_;
	$o{user} //= 'alice';
	return $t->request($m, $path, %o);
}

sub ok_json {
	my ($r, $name) = @_;
	is($r->{status}, 200, "$name: 200") or diag $r->{content};
	return $t->json($r) // {};
}

sub is_error {
	my ($r, $status, $code, $name) = @_;
	is($r->{status}, $status, "$name: $status") or diag $r->{content};
	my $j = eval { JSON::PP->new->decode($r->{content} // '') } // {};
	is($j->{code}, $code, "$name: code $code");
	ok(!exists $j->{error}, "$name: no \"error\" member (the UI would show it "
	    . 'instead of the message)');
	return $j;
}

# ---------------------------------------------------------------------

subtest 'the Perses UI: two saves from one tab, and another user\'s stale copy' => sub {
	ok_json(req(POST => $D, json => dash('ui'), user => 'bob'), 'bob creates ui');
	# Both open the dashboard; the UI keeps what it loaded.
	my $tab = ok_json(req(GET => "$D/ui"), 'alice loads it');
	my $bobs = ok_json(req(GET => "$D/ui", user => 'bob'), 'bob loads it');
	is($tab->{metadata}{version}, 0, 'version 0 loaded');

	$tab->{spec}{display}{name} = 'first save';
	my $j = ok_json(req(PUT => "$D/ui", json => $tab), 'alice saves');
	is($j->{metadata}{version}, 1, 'version 1');
	$tab->{spec}{display}{name} = 'second save';
	$j = ok_json(req(PUT => "$D/ui", json => $tab),
	    'alice saves again, still with the version she loaded (0)');
	is($j->{metadata}{version}, 2, 'version 2');
	my $at = $j->{metadata}{updatedAt};

	$bobs->{spec}{display}{name} = 'bob was here';
	my $e = is_error(req(PUT => "$D/ui", json => $bobs, user => 'bob'), 409,
	    'version_conflict', 'bob saves his copy of version 0');
	is($e->{currentVersion}, 2, 'currentVersion 2');
	is($e->{changedBy}, 'alice', 'changedBy alice');
	is($e->{changedAt}, $at, 'changedAt: when she wrote version 2');
	like($e->{message}, qr/changed by alice at \Q$at\E/,
	    'the message the UI shows says who and when');
	is($t->json(req(GET => "$D/ui"))->{spec}{display}{name}, 'second save',
	    'alice\'s save stands');

	# Bob reloads and saves; now alice's tab is the stale one.
	$bobs = ok_json(req(GET => "$D/ui", user => 'bob'), 'bob reloads');
	$bobs->{spec}{display}{name} = 'bob after reload';
	ok_json(req(PUT => "$D/ui", json => $bobs, user => 'bob'), 'bob saves');
	$e = is_error(req(PUT => "$D/ui", json => $tab), 409, 'version_conflict',
	    'alice\'s tab, still at version 0');
	is($e->{changedBy}, 'bob', 'changedBy bob');
	is($e->{currentVersion}, 3, 'currentVersion 3');

	# If-Match stays exact, whoever wrote the versions in between.
	$e = is_error(req(PUT => "$D/ui", json => dash('ui'),
	    headers => { 'If-Match' => '"2"' }, user => 'bob'), 412,
	    'version_mismatch', 'If-Match "2" at 3, by the author of 3');
	is($e->{currentVersion}, 3, 'currentVersion 3');
};

subtest 'percli apply: version 0 on every apply, create then update' => sub {
	my $j = ok_json(req(POST => $D, json => dash('cli', version => 0)),
	    'first apply creates (POST, version 0)');
	is($j->{metadata}{version}, 0, 'version 0');
	for my $n (1 .. 3) {
		$j = ok_json(req(PUT => "$D/cli", json => dash('cli', version => 0,
		    display => "apply $n")), "apply $n (PUT, version 0)");
		is($j->{metadata}{version}, $n, "version $n");
	}
	is($t->psql(q{SELECT count(*) FROM dashboard_version v JOIN dashboard d
	    ON d.id = v.dashboard_id WHERE d.name = 'cli'}), 3,
	    'each apply kept the one before in history');
	my $e = is_error(req(PUT => "$D/cli", json => dash('cli', version => 0),
	    user => 'bob'), 409, 'version_conflict',
	    'another user\'s apply over alice\'s versions');
	is($e->{changedBy}, 'alice', 'names alice');
	is($t->json(req(GET => "$D/cli"))->{spec}{display}{name}, 'apply 3',
	    'alice\'s last apply stands');
};

subtest 'metadata_only: every item carries "spec":{}' => sub {
	for my $path ("$D?metadata_only=true", '/api/v1/dashboards?metadata_only=true',
	    "$D?metadata_only=true&limit=1", "$D?metadata_only=true&q=apply") {
		my $r = req(GET => $path);
		my $rows = $t->json($r) // [];
		ok(@$rows > 0, "$path: items") or diag $r->{content};
		is(scalar(grep { ref $_->{spec} eq 'HASH' && !%{ $_->{spec} } &&
		    $_->{kind} eq 'Dashboard' && defined $_->{metadata}{version} }
		    @$rows), scalar @$rows, "$path: kind, metadata and spec {}");
	}
};

subtest 'projects carry metadata.version, createdAt, updatedAt' => sub {
	my $p = ok_json(req(POST => $P, user => 'admin', json => { kind => 'Project',
	    metadata => { name => 'proj' }, spec => { display => { name => 'P' } } }),
	    'create');
	is($p->{metadata}{version}, 0, 'version 0');
	like($p->{metadata}{createdAt} // '', $RFC3339, 'createdAt');
	like($p->{metadata}{updatedAt} // '', $RFC3339, 'updatedAt');
	# The UI sends back what it got, server-owned metadata and all.
	$p->{spec}{display}{name} = 'P2';
	$p = ok_json(req(PUT => "$P/proj", user => 'admin', json => $p), 'update');
	is($p->{metadata}{version}, 1, 'version 1');
	$p = ok_json(req(PUT => "$P/proj", user => 'admin', json => $p), 'update again');
	is($p->{metadata}{version}, 2, 'version 2');
	my ($listed) = grep { $_->{metadata}{name} eq 'proj' }
	    @{ $t->json(req(GET => $P, user => 'admin')) // [] };
	is_deeply($listed, $p, 'the list shows the same document');
};

subtest 'DELETE a project: everything in it, one transaction, one audit row' => sub {
	my $A = "$P/doomed";
	ok_json(req(POST => $P, user => 'admin', json => { kind => 'Project',
	    metadata => { name => 'doomed' } }), 'create doomed');
	for my $u (qw(alice bob)) {
		ok_json(req(PUT => "$A/members/$u", user => 'admin',
		    json => { role => 'editor' }), "member $u");
	}
	for my $n (qw(d1 d2 d3)) {
		my $d = dash($n);
		$d->{metadata}{project} = 'doomed';
		ok_json(req(POST => "$A/dashboards", json => $d), "dashboard $n");
	}
	for my $v (0 .. 2) {	# three versions of d1 in history
		my $d = dash('d1', version => $v);
		$d->{metadata}{project} = 'doomed';
		ok_json(req(PUT => "$A/dashboards/d1", json => $d), "d1 update $v");
	}
	my $token;
	for my $n (qw(d1 d2)) {
		my $r = req(POST => "$A/dashboards/$n/shares", json => { expiresIn => '1h' });
		is($r->{status}, 201, "a share link of $n") or diag $r->{content};
		$token //= ($t->json($r) // {})->{token};
	}
	is($t->request(GET => "/api/v1/shared/$token")->{status}, 200,
	    'the link works');
	is(req(DELETE => "$A/dashboards/d3")->{status}, 204, 'd3 to the trash');
	my $before = $t->psql(q{SELECT count(*) FROM dashboard WHERE project = 'demo'});

	my $r = req(DELETE => $A, user => 'admin');
	is($r->{status}, 204, 'DELETE: 204') or diag $r->{content};
	my $rid = $t->header($r, 'X-Request-Id');
	my @rows = split /\n/, $t->psql("SELECT action || '|' || result || '|' "
	    . "|| details::text FROM audit_log WHERE request_id = '$rid'");
	is(scalar @rows, 1, 'one audit row');
	my ($action, $result, $det) = split /\|/, $rows[0] // '||{}', 3;
	is("$action $result", 'project.delete success', 'project.delete, success');
	my $d = JSON::PP->new->decode($det);
	is_deeply({ map { $_ => $d->{$_} } qw(dashboards trashed versions shares members) },
	    { dashboards => 3, trashed => 1, versions => 3, shares => 2, members => 2 },
	    'details count what went');
	is($t->psql(q{SELECT (SELECT count(*) FROM dashboard WHERE project = 'doomed')
	    + (SELECT count(*) FROM project_member WHERE project = 'doomed')
	    + (SELECT count(*) FROM dashboard_version v WHERE NOT EXISTS
	       (SELECT 1 FROM dashboard d WHERE d.id = v.dashboard_id))
	    + (SELECT count(*) FROM share_token s WHERE NOT EXISTS
	       (SELECT 1 FROM dashboard d WHERE d.id = s.dashboard_id))}), 0,
	    'no dashboard, member, version or share link of it is left');
	is($t->psql(q{SELECT count(*) FROM dashboard WHERE project = 'demo'}), $before,
	    'another project is untouched');
	is(req(GET => $A, user => 'admin')->{status}, 404, 'GET: 404');
	is($t->request(GET => "/api/v1/shared/$token")->{status}, 404,
	    'its share link is dead');
	is(req(DELETE => $A, user => 'admin')->{status}, 404, 'a second DELETE: 404');
};

# ---------------------------------------------------------------------
# 1,500 dashboards of about 4 KB each: about 6 MB a full list.

my $N = 1500;
$t->psql(<<"SQL");
INSERT INTO dashboard (project, name, spec, created_by, updated_by)
SELECT 'big', 'd' || lpad(i::text, 4, '0'),
       jsonb_build_object('display', jsonb_build_object('name', 'Big ' || i,
           'description', repeat('lorem ipsum ', 340)), 'duration', '1h'),
       't', 't'
  FROM generate_series(1, $N) i;
SQL

# The worker that served r, from its request log line.
sub served_by {
	my ($r) = @_;
	my $rid = $t->header($r, 'X-Request-Id') // '';
	my $deadline = time + 5;
	while (time < $deadline) {
		my ($l) = grep { ($_->{request_id} // '') eq $rid }
		    $t->log_lines(qr/\Q$rid\E/);
		return $l->{pid} if $l && $l->{pid};
		sleep 0.05;
	}
	return undef;
}

# VmRSS and VmHWM of a process, in KiB.
sub mem {
	my ($pid) = @_;
	open(my $f, '<', "/proc/$pid/status") or return (0, 0);
	my %m = map { /^(Vm\w+):\s+(\d+)/ ? ($1 => $2) : () } <$f>;
	return ($m{VmRSS} // 0, $m{VmHWM} // 0);
}

# First, while the worker has never held a big answer, so that its
# high-water mark shows whether one was ever held whole.
subtest 'a full list is streamed: the worker\'s memory does not grow with it' => sub {
	# Warm up on small lists: statements, buffers, first-use allocations.
	for (1 .. 3) {
		req(GET => "$P/big/dashboards?limit=10");
		req(GET => "$P/demo/dashboards");
	}
	my $r = req(GET => "$P/big/dashboards?limit=10");
	my $pid = served_by($r);
	ok($pid, "served by worker $pid") or return;
	my ($rss0, $hwm0) = mem($pid);
	my ($size, $ok) = (0, 0);
	my $t0 = time;
	for my $i (1 .. 8) {
		$r = req(GET => "$P/big/dashboards", timeout => 60);
		$ok++ if $r->{status} == 200 && served_by($r) == $pid;
		$size = length($r->{content} // '');
		last if time - $t0 > 120;
	}
	is($ok, 8, 'eight full lists from that worker');
	my ($rss1, $hwm1) = mem($pid);
	ok($size > 4 * 1024 * 1024, sprintf('a full list is %.1f MiB', $size / 1048576));
	cmp_ok($rss1 - $rss0, '<=', 2048, sprintf('VmRSS grew by %d KiB (%d -> %d) '
	    . 'across eight full lists: at most 2 MiB', $rss1 - $rss0, $rss0, $rss1));
	cmp_ok(($hwm1 - $hwm0) * 1024, '<', $size / 2, sprintf('VmHWM grew by %d KiB '
	    . '(%d -> %d), well under one list (%d KiB): never held whole',
	    $hwm1 - $hwm0, $hwm0, $hwm1, $size / 1024));
	diag sprintf('worker %d: VmRSS %d -> %d KiB, VmHWM %d -> %d KiB, list %d KiB',
	    $pid, $rss0, $rss1, $hwm0, $hwm1, $size / 1024);
};

subtest "lists are complete without ?limit=: $N dashboards" => sub {
	# Whole documents once (JSON::PP takes seconds on 6 MB), then the
	# other routes with metadata_only, as the UI's home page asks.
	for my $path ("$P/big/dashboards", "$P/big/dashboards?metadata_only=true",
	    '/api/v1/dashboards?project=big&metadata_only=true',
	    '/api/v1/dashboards?metadata_only=true',
	    "$P/big/dashboards?q=Big&metadata_only=true") {
		my $r = req(GET => $path, timeout => 60);
		is($r->{status}, 200, "$path: 200") or next;
		ok(!defined $t->header($r, 'Link'), "$path: no Link");
		my @big = grep { $_->{metadata}{project} eq 'big' }
		    @{ $t->json($r) // [] };
		my %names = map { $_->{metadata}{name} => 1 } @big;
		is(scalar keys %names, $N, "$path: all $N, each once");
		next if $path =~ /q=/;
		is_deeply([ map { $_->{metadata}{name} } @big ],
		    [ map { sprintf 'd%04d', $_ } 1 .. $N ], "$path: in name order");
	}
	my $r = req(GET => "$P/big/dashboards?limit=1000");
	is(scalar @{ $t->json($r) }, 1000, '?limit=1000: a page of 1000');
	like($t->header($r, 'Link') // '', qr/^<[^>]+cursor=[\w-]+>; rel="next"$/,
	    'and the Link to the rest');
};

# Once the 200 is out, a failure can only cut the answer short: the
# array stays unclosed, so no client takes it for a complete list.
subtest 'a failure in mid-stream: the list is cut short, never passed off as whole' => sub {
	# Dashboards are rendered when written (0020), so their lists run no
	# function per row to break; the projects list renders each row with
	# project_doc(), which is made to fail at the 900th of 1000 projects.
	$t->psql(q{INSERT INTO project (name, created_by, updated_by)
	    SELECT format('m%s', to_char(g, 'FM0000')), 't', 't' FROM generate_series(1, 1000) g});
	my $before = $t->psql(q{SELECT count(*) FROM project WHERE name < 'm0900'});
	my $fn = $t->psql(q{SELECT pg_get_functiondef('project_doc(project)'::regprocedure)});
	(my $orig = $fn) =~ s/\.project_doc\(/.project_doc_orig(/ or return fail('renamed');
	$t->psql($orig);
	$t->psql(<<'SQL');
CREATE OR REPLACE FUNCTION project_doc(p project) RETURNS jsonb
	LANGUAGE plpgsql STABLE AS $$
BEGIN
	IF p.name = 'm0900' THEN
		RAISE EXCEPTION 'test: the 900th project fails';
	END IF;
	RETURN project_doc_orig(p);
END $$;
SQL
	my $mark = length $t->log;
	my $r = req(GET => '/api/v1/projects', user => 'admin', timeout => 60);
	is($r->{status}, 200, 'the 200 went out with the first row');
	my $body = $r->{content} // '';
	like($body, qr/^\[\{/, 'the rows before the failure');
	unlike($body, qr/\]\s*$/, 'no closing bracket');
	ok(!defined eval { JSON::PP->new->decode($body) }, 'not valid JSON');
	ok(scalar $t->log_lines(qr/level=error.*failed after $before rows, the answer is cut short/,
	    $mark), "logged: which statement, after how many rows ($before)");
	$t->psql(q{CREATE OR REPLACE FUNCTION project_doc(p project) RETURNS jsonb
	    LANGUAGE plpgsql STABLE AS $$ BEGIN RAISE EXCEPTION 'test: the 900th project fails'; END $$});
	is(req(GET => '/api/v1/projects', user => 'admin')->{status}, 500,
	    'failing before the first row: a plain error answer');
	is(req(GET => "$P/big/dashboards?limit=5&metadata_only=true")->{status}, 200,
	    'the worker serves on');
	$t->psql($fn);
	$t->psql(q{DROP FUNCTION project_doc_orig(project); DELETE FROM project WHERE name LIKE 'm%'});
	is(scalar @{ $t->json(req(GET => "$P/big/dashboards?metadata_only=true")) // [] },
	    $N, 'the dashboards: complete');
	ok(scalar @{ $t->json(req(GET => '/api/v1/projects', user => 'admin')) // [] } > 0,
	    'the function restored: the projects list is whole again');
};

is($t->stop_dashcgi, 0, 'SIGTERM: master exits 0');
unlike(join("\n", grep { !/the answer is cut short|test: the 900th project fails/ }
    split /\n/, $t->log), qr/level=error|runtime error|Sanitizer/,
    'no other errors, no sanitizer reports in the log');

done_testing;
