#!/usr/bin/perl
# Optimistic locking (SPEC §4): If-Match → 412, a body metadata.version
# after which another user wrote a version → 409 naming who and when
# (the caller's own versions in between are no conflict), neither → 428
# (while require_version), and If-None-Match → 304; 20 writers (20
# users) holding the same version at once, ten rounds: exactly one wins
# each round and nothing is lost; the same when the one user among
# them holds an older version that only they changed since; with
# require_version: false the last write wins.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use DashTest;
use DashTest::Fixtures;

# Enough workers that the 20 writers really meet in the database.
my $t = DashTest->new(workers => 8);

$t->psql(<<'SQL');
INSERT INTO project (name, created_by, updated_by) VALUES ('demo', 't', 't');
INSERT INTO project_member (project, user_name, role, created_by, updated_by) VALUES
    ('demo', 'alice', 'editor', 't', 't'), ('demo', 'bob', 'editor', 't', 't'),
    ('demo', 'dave', 'admin', 't', 't');
-- The concurrent writers, one user each (REMOTE_USER through nginx).
INSERT INTO project_member (project, user_name, role, created_by, updated_by)
SELECT 'demo', 'w' || i, 'editor', 't', 't' FROM generate_series(1, 20) i;
SQL

my $D = '/api/v1/projects/demo/dashboards';

# nginx reads its htpasswd on every request: w1..w20 may log in too.
open(my $pw, '>>', $t->tmpdir . '/htpasswd') or die "htpasswd: $!";
print $pw map { "w$_:{PLAIN}pw-w$_\n" } 1 .. 20;
close $pw or die "htpasswd: $!";

sub dash { return dashboard_doc(@_) }

sub req {
	my ($m, $path, %o) = @_;
	$o{user} //= 'alice';
	return $t->request($m, $path, %o);
}

sub create {
	my ($name) = @_;
	my $r = req(POST => $D, json => dash($name));
	die "create $name: $r->{status} $r->{content}" unless $r->{status} == 200;
}

sub version_of {
	my ($name) = @_;
	return $t->psql("SELECT version FROM dashboard WHERE project = 'demo' "
	    . "AND name = '$name' AND deleted_at IS NULL") + 0;
}

# A background writer leaves its answer in a file for the parent.
sub put_result {
	my ($path, $r) = @_;
	open(my $f, '>', $path) or return 1;
	print $f "$r->{status}\n$r->{content}";
	close $f;
	return 0;
}

# (status, decoded body) of a writer; "none" if it left nothing.
sub get_result {
	my ($path) = @_;
	my $out = "none\n";
	if (open(my $f, '<', $path)) {
		local $/;
		$out = <$f>;
	}
	my ($s, $body) = split(/\n/, $out, 2);
	return ($s, eval { JSON::PP->new->decode($body) } // {});
}

sub history_rows {
	my ($name) = @_;
	return $t->psql("SELECT count(*) FROM dashboard_version v JOIN dashboard d "
	    . "ON d.id = v.dashboard_id WHERE d.project = 'demo' AND d.name = '$name'") + 0;
}

# ---------------------------------------------------------------------

subtest '412: If-Match names a version that is not current' => sub {
	create('im');
	my $r = req(PUT => "$D/im", json => dash('im'), headers => { 'If-Match' => '"0"' });
	is($r->{status}, 200, 'If-Match "0" at version 0: 200');
	my $j = is_error(req(PUT => "$D/im", json => dash('im'),
	    headers => { 'If-Match' => '"0"' }), 412, 'version_mismatch',
	    'If-Match "0" at version 1');
	is($j->{currentVersion}, 1, 'currentVersion 1');
	is($j->{status}, 412, 'body status');
	like($j->{message}, qr/version 1/, 'the message says which version is current');
	is(version_of('im'), 1, 'nothing written');
	is(history_rows('im'), 1, 'no history row for the refused write');

	$j = is_error(req(PUT => "$D/im", json => dash('im'), headers => { 'If-Match' => 'W/"1"' }),
	    412, 'version_mismatch', 'a weak tag W/"1" never matches If-Match, even the current version');
	is($j->{currentVersion}, 1, 'currentVersion 1');
	like($j->{message}, qr/weak/, 'the message says why');
	$r = req(PUT => "$D/im", json => dash('im'), headers => { 'If-Match' => '"1"' });
	is($r->{status}, 200, 'the strong tag "1" matches') or diag $r->{content};
	is($t->header($r, 'ETag'), '"2"', 'ETag "2"');
	$r = req(PUT => "$D/im", json => dash('im', version => 0),
	    headers => { 'If-Match' => '"2"' });
	is($r->{status}, 200, 'If-Match wins over a stale metadata.version');
	$j = is_error(req(PUT => "$D/im", json => dash('im', version => 3),
	    headers => { 'If-Match' => '"1"' }), 412, 'version_mismatch',
	    'a stale If-Match loses even with a current metadata.version');
	for my $bad ('"abc"', 'v1', '"1", "2"', '"-1"') {
		$j = is_error(req(PUT => "$D/im", json => dash('im'),
		    headers => { 'If-Match' => $bad }), 400, 'bad_request',
		    "If-Match: $bad");
		like($j->{message}, qr/If-Match/, 'the message names If-Match');
	}
	for my $never ('"2147483648"', '"99999999999999999999"', '4294967297') {
		$j = is_error(req(PUT => "$D/im", json => dash('im'),
		    headers => { 'If-Match' => $never }), 412, 'version_mismatch',
		    "If-Match: $never, beyond the integer range, names no version: 412");
		is($j->{currentVersion}, 3, 'with currentVersion');
	}
	is(version_of('im'), 3, 'four writes, three successful');
	is($t->psql("SELECT count(*) FROM audit_log WHERE action = 'dashboard.update' "
	    . "AND resource = 'im'") + 0, 3, 'one audit row per successful write');
	is($t->psql("SELECT details->>'oldVersion' || '>' || (details->>'newVersion') "
	    . "FROM audit_log WHERE action = 'dashboard.update' AND resource = 'im' "
	    . "ORDER BY id"), "0>1\n1>2\n2>3", 'each with its old and new version');
};

subtest '409: without If-Match, a version after metadata.version by another user' => sub {
	create('bv');
	my $r = req(PUT => "$D/bv", json => dash('bv', version => 0));
	is($r->{status}, 200, 'metadata.version 0 at version 0: 200') or diag $r->{content};
	$r = req(PUT => "$D/bv", json => dash('bv', version => 0));
	is($r->{status}, 200, 'alice again with 0 at version 1 (her own): 200')
	    or diag $r->{content};
	my $j = is_error(req(PUT => "$D/bv", json => dash('bv', version => 0),
	    user => 'bob'), 409, 'version_conflict',
	    'bob with 0 at version 2 (alice wrote 1 and 2)');
	is($j->{currentVersion}, 2, 'currentVersion 2');
	is($j->{changedBy}, 'alice', 'changedBy: who wrote the newest version after 0');
	like($j->{changedAt} // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
	    'changedAt: when, RFC 3339');
	like($j->{message}, qr/changed by alice at \S+ \(version 2\) after version 0/,
	    'the message (what the Perses UI shows) says who and when');
	is(version_of('bv'), 2, 'nothing written');
	# What an unmodified Perses UI does: send back what it loaded.
	my $doc = $t->json(req(GET => "$D/bv", user => 'bob'));
	$doc->{spec}{display}{name} = 'edited in the UI';
	$r = req(PUT => "$D/bv", json => $doc, user => 'bob');
	is($r->{status}, 200, 'the loaded document sent back: 200');
	is($t->json($r)->{metadata}{version}, 3, 'version 3');
	$r = req(PUT => "$D/bv", json => $doc, user => 'bob');
	is($r->{status}, 200, 'the same document again, by its author: 200');
	$j = is_error(req(PUT => "$D/bv", json => dash('bv', version => 2)), 409,
	    'version_conflict', 'alice based on version 2, bob wrote 3 and 4');
	is($j->{changedBy}, 'bob', 'changedBy bob');
	is($j->{currentVersion}, 4, 'currentVersion 4');
	$j = is_error(req(PUT => "$D/bv", json => dash('bv', version => 9)), 409,
	    'version_conflict', 'a version the dashboard never had (9 at 4)');
	like($j->{message}, qr/has no version 9/, 'says so');
	for my $bad ('"1"', '1.5', '-1', 'true') {
		my $d = dash('bv');
		$d->{metadata}{version} = JSON::PP->new->allow_nonref->decode($bad);
		$j = is_error(req(PUT => "$D/bv", json => $d), 400, 'bad_request',
		    "metadata.version $bad");
		like($j->{message}, qr/metadata\.version/, 'names metadata.version');
	}
};

subtest '428: neither If-Match nor metadata.version' => sub {
	create('nv');
	my $j = is_error(req(PUT => "$D/nv", json => dash('nv')), 428,
	    'version_required', 'a PUT without a version');
	like($j->{message}, qr/If-Match/, 'the message says what to send');
	my $d = dash('nv');
	$d->{metadata}{version} = undef;
	is_error(req(PUT => "$D/nv", json => $d), 428, 'version_required',
	    'metadata.version null');
	is(version_of('nv'), 0, 'nothing written');
	my $r = req(PUT => "$D/nv", json => dash('nv'), headers => { 'If-Match' => '*' });
	is($r->{status}, 200, 'If-Match: * is an explicit last write wins');
};

subtest '304: If-None-Match names the current version' => sub {
	create('cache');
	my $r = req(GET => "$D/cache");
	my $etag = $t->header($r, 'ETag');
	is($etag, '"0"', 'ETag "0"');
	for my $inm ($etag, 'W/"0"', '*', '"7", "0"', ' "0" ') {
		$r = req(GET => "$D/cache", headers => { 'If-None-Match' => $inm });
		is($r->{status}, 304, "If-None-Match: $inm → 304");
		is($r->{content} // '', '', 'no body');
		is($t->header($r, 'ETag'), '"0"', 'the ETag is sent');
	}
	for my $inm ('"1"', 'W/"10"', '"abc"', '') {
		$r = req(GET => "$D/cache", headers => { 'If-None-Match' => $inm });
		is($r->{status}, 200, "If-None-Match: $inm → 200");
		is($t->json($r)->{metadata}{name}, 'cache', 'with the document');
	}
	req(PUT => "$D/cache", json => dash('cache'), headers => { 'If-Match' => '"0"' });
	$r = req(GET => "$D/cache", headers => { 'If-None-Match' => '"0"' });
	is($r->{status}, 200, 'after a change the old ETag no longer matches');
	is($t->header($r, 'ETag'), '"1"', 'ETag "1"');
	$r = req(GET => "$D/cache?version=0", headers => { 'If-None-Match' => '"0"' });
	is($r->{status}, 304, 'a past version cached under its own ETag: 304');
	$r = req(GET => "$D/cache", headers => { 'If-None-Match' => '*' }, user => 'carol');
	is($r->{status}, 404, 'no role: 404 even with If-None-Match');
};

subtest 'DELETE honours If-Match, and does not require it' => sub {
	create('del');
	req(PUT => "$D/del", json => dash('del'), headers => { 'If-Match' => '"0"' });
	my $j = is_error(req(DELETE => "$D/del", headers => { 'If-Match' => '"0"' }),
	    412, 'version_mismatch', 'DELETE with a stale If-Match');
	is($j->{currentVersion}, 1, 'currentVersion');
	is(req(GET => "$D/del")->{status}, 200, 'still there');
	is(req(DELETE => "$D/del", headers => { 'If-Match' => '"1"' })->{status}, 204,
	    'DELETE with the current If-Match: 204');
	create('del2');
	is(req(DELETE => "$D/del2")->{status}, 204, 'DELETE without If-Match: 204');
};

# RFC 9110 13.1.1: If-Match uses the strong comparison, so a weak tag
# never matches, whatever version it names; If-None-Match the weak one.
subtest 'a weak tag never matches If-Match, on every versioned write' => sub {
	create('weak');
	my %weak = ('If-Match' => 'W/"0"');
	for my $w (['PUT', "$D/weak", dash('weak')],
	    ['PUT', "$D/weak/state", { state => 'archived' }],
	    ['POST', "$D/weak/versions/0/restore", undef],
	    ['DELETE', "$D/weak", undef]) {
		my ($m, $path, $json) = @$w;
		my $j = is_error(req($m => $path, ($json ? (json => $json) : ()),
		    headers => \%weak), 412, 'version_mismatch',
		    "$m $path with If-Match: W/\"0\" at version 0");
		is($j->{currentVersion}, 0, 'currentVersion 0');
	}
	is(version_of('weak'), 0, 'nothing written');
	my $r = req(GET => "$D/weak", headers => { 'If-None-Match' => 'W/"0"' });
	is($r->{status}, 304, 'If-None-Match: W/"0" matches (weak comparison)');

	my $PDS = '/api/v1/projects/demo/datasources';
	my $ds = { kind => 'Datasource', metadata => { name => 'prom',
	    project => 'demo' }, spec => { default => JSON::PP::false,
	    plugin => { kind => 'PrometheusDatasource', spec => { directUrl =>
	    'http://prom:9090' } } } };
	$r = req(POST => $PDS, json => $ds, user => 'dave');
	is($r->{status}, 200, 'a project datasource at version 0')
	    or diag $r->{content};
	my $j = is_error(req(PUT => "$PDS/prom", json => $ds, user => 'dave',
	    headers => \%weak), 412, 'version_mismatch',
	    'datasource PUT with If-Match: W/"0" at version 0');
	like($j->{message}, qr/weak/, 'the message says why');
	is_error(req(DELETE => "$PDS/prom", user => 'dave',
	    headers => { 'If-Match' => '"2147483648"' }), 412, 'version_mismatch',
	    'datasource DELETE with a version beyond the integer range: 412');
	is_error(req(PUT => "$PDS/prom", json => $ds, user => 'dave',
	    headers => { 'If-Match' => 'soon' }), 400, 'bad_request',
	    'If-Match that is no version tag at all: 400');
	$r = req(PUT => "$PDS/prom", json => $ds, user => 'dave',
	    headers => { 'If-Match' => '"0"' });
	is($r->{status}, 200, 'the strong "0" matches') or diag $r->{content};
	$r = req(GET => "$PDS/prom", user => 'dave',
	    headers => { 'If-None-Match' => 'W/"1"' });
	is($r->{status}, 304, 'datasource If-None-Match: W/"1" matches');
};

subtest 'X-Change-Message: at most 1000 characters' => sub {
	create('msg');
	my $j = is_error(req(PUT => "$D/msg", json => dash('msg'), headers => {
	    'If-Match' => '"0"', 'X-Change-Message' => 'x' x 1001 }), 400,
	    'bad_request', '1001 characters');
	like($j->{message}, qr/X-Change-Message/, 'names the header');
	my $r = req(PUT => "$D/msg", json => dash('msg'), headers => {
	    'If-Match' => '"0"', 'X-Change-Message' => 'y' x 1000 });
	is($r->{status}, 200, '1000 characters: 200');
	is($t->psql("SELECT length(message) FROM dashboard WHERE name = 'msg'") + 0,
	    1000, 'stored as the version\'s message');
};

# ---------------------------------------------------------------------
# 20 writers, one version, ten rounds.

subtest 'concurrency: of 20 writers at one version exactly one wins, 10 rounds' => sub {
	create('race');
	my $dir = $t->tmpdir;
	my %winner = (0 => 'Dashboard race');	# version => display name
	my $t0 = time;
	for my $round (1 .. 10) {
		my $v = $round - 1;
		my $go = time + 0.5;
		my @pids;
		for my $c (1 .. 20) {
			push @pids, $t->bg(sub {
				# Bounded: $go is half a second away.
				sleep 0.002 while time < $go;
				# Odd clients use If-Match, even ones metadata.version.
				my $d = dash('race', display => "round $round client $c",
				    version => $c % 2 ? undef : $v);
				my $r = $t->request(PUT => "$D/race", user => "w$c",
				    json => $d, timeout => 30, headers => $c % 2
				    ? { 'If-Match' => qq{"$v"} } : {});
				return put_result("$dir/race-$round-$c", $r);
			});
		}
		my %st;
		my ($won, $wrong) = (undef, 0);
		for my $c (1 .. 20) {
			$t->wait_pid($pids[$c - 1], 60);
			my ($s, $j) = get_result("$dir/race-$round-$c");
			$st{$s}++;
			if ($s eq '200') {
				$won = $c;
			} else {
				my $want = $c % 2 ? 412 : 409;
				$wrong++ unless $s == $want && $j->{currentVersion} == $round;
			}
		}
		is($st{200} // 0, 1, "round $round: exactly one 200")
		    or diag explain \%st;
		is($wrong, 0, "round $round: every other writer got 412 (If-Match) "
		    . "or 409 (metadata.version) with currentVersion $round")
		    or diag explain \%st;
		is(history_rows('race'), $round, "round $round: exactly one new history row");
		$winner{$round} = "round $round client $won" if defined $won;
		last if time - $t0 > 240;
	}
	is(version_of('race'), 10, 'final version 10');
	# Nothing lost: each version holds the winner of the round that made it.
	my @lost;
	for my $v (0 .. 10) {
		my $r = req(GET => "$D/race?version=$v");
		my $name = $r->{status} == 200 ? $t->json($r)->{spec}{display}{name} : '';
		push @lost, "v$v: $name" unless $name eq ($winner{$v} // '?');
	}
	is_deeply(\@lost, [], 'every version holds what its winner wrote');
	is($t->psql("SELECT count(*) FROM audit_log WHERE action = 'dashboard.update' "
	    . "AND resource = 'race'") + 0, 10, 'ten audit rows, one per win');
};

# ---------------------------------------------------------------------
# The base may be older than the current version: the one user who
# wrote every version since holds it, 19 others hold the current one.
# The check reads the locked row, so still exactly one wins.

subtest 'concurrency: an older base by the only author since, 20 writers, 5 rounds' => sub {
	create('race2');
	my $dir = $t->tmpdir;
	my $t0 = time;
	for my $round (1 .. 5) {
		my $owner = "w$round";
		my $base = version_of('race2');
		for my $v ($base, $base + 1) {
			my $r = req(PUT => "$D/race2", user => $owner,
			    json => dash('race2', display => "$owner at $v"),
			    headers => { 'If-Match' => qq{"$v"} });
			die "round $round: $r->{status} $r->{content}"
			    unless $r->{status} == 200;
		}
		my $cur = $base + 2;
		my $go = time + 0.5;
		my @pids;
		for my $c (1 .. 20) {
			my $user = "w$c";
			push @pids, $t->bg(sub {
				sleep 0.002 while time < $go;
				my $d = dash('race2', display => "round $round $user",
				    version => $user eq $owner ? $base : $cur);
				my $r = $t->request(PUT => "$D/race2", user => $user,
				    json => $d, timeout => 30);
				return put_result("$dir/race2-$round-$c", $r);
			});
		}
		my (%st, %res, $won, @wrong);
		for my $c (1 .. 20) {
			$t->wait_pid($pids[$c - 1], 60);
			my ($s, $j) = get_result("$dir/race2-$round-$c");
			$st{$s}++;
			$won = "w$c" if $s eq '200';
			$res{"w$c"} = [ $s, $j ];
		}
		# Each loser is told the winner wrote the version after its base.
		for my $u (sort keys %res) {
			my ($s, $j) = @{ $res{$u} };
			next if $s eq '200';
			push @wrong, "$u: $s" unless $s == 409 &&
			    ($j->{code} // '') eq 'version_conflict' &&
			    ($j->{currentVersion} // -1) == $cur + 1 &&
			    ($j->{changedBy} // '') eq ($won // '?');
		}
		is($st{200} // 0, 1, "round $round: exactly one 200") or diag explain \%st;
		is_deeply(\@wrong, [], "round $round: every other writer got 409 "
		    . "with currentVersion " . ($cur + 1) . ", changedBy the winner");
		my $by = $t->psql("SELECT updated_by FROM dashboard WHERE name = 'race2' "
		    . "AND deleted_at IS NULL");
		is($by, $won // '?', "round $round: the stored version is the winner's");
		last if time - $t0 > 120;
	}
};

# ---------------------------------------------------------------------

subtest 'require_version: false: last write wins' => sub {
	create('lww');
	my @old = $t->worker_pids;
	$t->write_config({ dashboards => { require_version => 'false' } });
	$t->signal_master('HUP');
	ok(scalar $t->wait_workers(8, 30, exclude => \@old), 'workers replaced after SIGHUP');

	my $r = req(PUT => "$D/lww", json => dash('lww', display => 'alice wrote'));
	is($r->{status}, 200, 'a PUT without any version: 200') or diag $r->{content};
	$r = req(PUT => "$D/lww", json => dash('lww', display => 'bob wrote'), user => 'bob');
	is($r->{status}, 200, 'a second one: 200');
	is($t->json(req(GET => "$D/lww"))->{spec}{display}{name}, 'bob wrote',
	    'the last write won');
	is(version_of('lww'), 2, 'each made a version');
	is(history_rows('lww'), 2, 'and a history row');
	is_error(req(PUT => "$D/lww", json => dash('lww'), headers => { 'If-Match' => '"0"' }),
	    412, 'version_mismatch', 'a stale If-Match still fails');
	is_error(req(PUT => "$D/lww", json => dash('lww', version => 0)), 409,
	    'version_conflict', 'a stale metadata.version still fails');
};

is($t->stop_dashcgi, 0, 'SIGTERM: master exits 0');
unlike($t->log, qr/level=error|runtime error|Sanitizer/,
    'no errors or sanitizer reports in the log');

done_testing;
