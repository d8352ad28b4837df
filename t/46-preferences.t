#!/usr/bin/perl
# GET/PUT /api/v1/me/preferences (SPEC §4): defaults, full replace, one
# row per user, and every refusal -- 401, 415, 400 for a timezone
# PostgreSQL does not know, a bad theme, too many favorites or recent
# entries, a bad entry (named by index and field) -- with exactly one
# audit row per successful PUT and none for a refused one.
use strict;
use warnings;
use Test::More;
use DashTest;

my $t = DashTest->new(auth => 0);
my $P = '/api/v1/me/preferences';
my %DEFAULTS = (timezone => 'UTC', theme => 'system', favorites => [],
    recent => []);

sub put { $t->request(PUT => $P, user => $_[0], json => $_[1]) }
sub get_prefs {
	my $r = $t->request(GET => $P, user => $_[0]);
	is($r->{status}, 200, "GET as $_[0] answers 200") or diag $r->{content};
	return $t->json($r);
}

sub is_error {
	my ($r, $status, $code, $name) = @_;
	my $j = length($r->{content} // '') ? $t->json($r) : undef;
	$j = {} unless ref $j eq 'HASH';
	my $ok = is($r->{status}, $status, "$name: $status");
	$ok &&= is($j->{code}, $code, "$name: error $code");
	$ok &&= is($j->{status}, $status, "$name: body status");
	diag "body: $r->{content}" unless $ok;
	return $j;
}

sub audit_rows {
	my ($r) = @_;
	my $id = $t->header($r, 'X-Request-Id') // 'none';
	die "unsafe request id $id" unless $id =~ /^[\w.:-]+$/;
	my $out = $t->psql("SELECT actor, action, coalesce(resource, ''), result, "
	    . "details::text FROM audit_log WHERE request_id = '$id'");
	return [ map { [ split /\|/, $_, 5 ] } grep { length } split /\n/, $out ];
}

sub refs { [ map { { project => "p$_", name => "d$_" } } 1 .. $_[0] ] }

subtest '401 without an identity' => sub {
	for my $m (qw(GET PUT)) {
		my $r = $t->request($m => $P, $m eq 'PUT' ? (json => {}) : ());
		is_error($r, 401, 'unauthorized', "$m without a user");
	}
};

subtest 'GET: defaults before anything is stored' => sub {
	is_deeply(get_prefs('alice'), \%DEFAULTS,
	    'timezone UTC, theme system, no favorites, no recent');
	is($t->psql(q{SELECT count(*) FROM user_preferences}), 0,
	    'reading stores nothing');
};

subtest 'PUT stores the whole document; GET reads it back' => sub {
	my $want = { timezone => 'Europe/Paris', theme => 'dark',
	    favorites => [ { project => 'demo', name => 'api-latency' } ],
	    recent => [ { project => 'demo', name => 'api-latency' },
	    { project => 'ops', name => 'disk.io' } ] };
	my $r = put(alice => $want);
	is($r->{status}, 200, 'PUT answers 200') or diag $r->{content};
	like($t->header($r, 'Content-Type') // '', qr{^application/json}, 'JSON');
	is_deeply($t->json($r), $want, 'the stored preferences');
	is_deeply(get_prefs('alice'), $want, 'GET reads them back');
	is_deeply(get_prefs('bob'), \%DEFAULTS, "another user's stay default");

	my $rows = audit_rows($r);
	is(scalar @$rows, 1, 'one audit row');
	is_deeply([ @{ $rows->[0] || [] }[0 .. 3] ],
	    [ 'alice', 'preferences.update', 'alice', 'success' ],
	    'preferences.update by alice');
	is_deeply($t->json($rows->[0][4] // 'null'), { timezone => 'Europe/Paris',
	    theme => 'dark', favorites => 1, recent => 2 }, 'details summarise it');

	# Full replace: what is left out takes its default.
	$r = put(alice => { theme => 'light' });
	is($r->{status}, 200, 'a partial PUT answers 200') or diag $r->{content};
	is_deeply($t->json($r), { %DEFAULTS, theme => 'light' },
	    'the missing fields took their defaults');
	is_deeply(get_prefs('alice'), { %DEFAULTS, theme => 'light' }, 'GET agrees');
	$r = put(alice => {});
	is_deeply($t->json($r), \%DEFAULTS, 'an empty object resets everything');
	is($t->psql(q{SELECT count(*) FROM user_preferences
	    WHERE user_name = 'alice'}), 1, 'still one row for alice');

	for my $tz ('UTC', 'America/Argentina/Buenos_Aires', 'Asia/Kolkata') {
		$r = put(bob => { timezone => $tz });
		is($r->{status}, 200, "timezone $tz is known") or diag $r->{content};
		is($t->json($r)->{timezone}, $tz, "$tz stored");
	}
	for my $theme (qw(light dark system)) {
		is(put(bob => { theme => $theme })->{status}, 200, "theme $theme");
	}
};

subtest 'the limits: 100 favorites, 20 recent' => sub {
	my $r = put(carol => { favorites => refs(100), recent => refs(20) });
	is($r->{status}, 200, '100 favorites and 20 recent fit') or diag $r->{content};
	my $j = $t->json($r);
	is(scalar @{ $j->{favorites} }, 100, '100 favorites stored');
	is(scalar @{ $j->{recent} }, 20, '20 recent stored');
	is_deeply($j->{favorites}, refs(100), 'in the order given');

	$j = is_error(put(carol => { favorites => refs(101) }), 400,
	    'validation_failed', '101 favorites');
	like($j->{message} // '', qr/^favorites: at most 100 entries, got 101/,
	    'names favorites and the limit');
	$j = is_error(put(carol => { recent => refs(21) }), 400,
	    'validation_failed', '21 recent');
	like($j->{message} // '', qr/^recent: at most 20 entries, got 21/,
	    'names recent and the limit');
	is(scalar @{ get_prefs('carol')->{favorites} }, 100,
	    'the refused PUTs changed nothing');
};

subtest '400: each refusal names its field' => sub {
	my $e = refs(5);
	my @cases = (
	    [ { timezone => 'Mars/Olympus_Mons' },
	      qr/^timezone: "Mars\/Olympus_Mons" is not a time zone PostgreSQL knows/,
	      'an unknown timezone' ],
	    [ { timezone => 'europe/paris' }, qr/^timezone: "europe\/paris"/,
	      'a timezone in the wrong case' ],
	    [ { timezone => "UTC'; DROP TABLE user_preferences; --" },
	      qr/^timezone:/, 'SQL in a timezone is just an unknown zone' ],
	    [ { timezone => '' }, qr/^timezone: must be a non-empty string/,
	      'an empty timezone' ],
	    [ { timezone => 1 }, qr/^timezone: must be a non-empty string/,
	      'a numeric timezone' ],
	    [ { theme => 'blue' }, qr/^theme: must be "light", "dark" or "system"/,
	      'theme blue' ],
	    [ { theme => undef }, qr/^theme:/, 'theme null' ],
	    [ { favorites => {} }, qr/^favorites: must be an array/,
	      'favorites an object' ],
	    [ { recent => 'x' }, qr/^recent: must be an array/, 'recent a string' ],
	    [ { favorites => [ @$e[0 .. 2], 'demo/x' ] },
	      qr/^favorites\[3\]: must be an object/, 'favorites[3] a string' ],
	    [ { favorites => [ @$e[0 .. 2], { project => 'demo', name => 'a b' } ] },
	      qr/^favorites\[3\]\.name: must be a valid name/, 'favorites[3].name' ],
	    [ { favorites => [ { name => 'x' } ] },
	      qr/^favorites\[0\]\.project: required/, 'favorites[0] without project' ],
	    [ { recent => [ @$e[0 .. 1], { project => '..', name => 'x' } ] },
	      qr/^recent\[2\]\.project: must be a valid name/, 'recent[2].project' ],
	    [ { recent => [ { project => 'p', name => 7 } ] },
	      qr/^recent\[0\]\.name: must be a valid name/, 'recent[0].name a number' ],
	    [ { recent => [ { project => 'p', name => 'd', pinned => JSON::PP::true } ] },
	      qr/^recent\[0\]\.pinned: unknown field/, 'an unknown entry field' ],
	    [ { colour => 'red' }, qr/^colour: unknown field/, 'an unknown field' ],
	    [ [ 'UTC' ], qr/JSON object/, 'an array body' ],
	);
	my $before = get_prefs('dave');
	for my $c (@cases) {
		my $r = put(dave => $c->[0]);
		my $j = is_error($r, 400, 'validation_failed', $c->[2]);
		like($j->{message} // '', $c->[1], "$c->[2]: the message names it");
		is(scalar(grep { $_->[3] eq 'success' } @{ audit_rows($r) }), 0,
		    "$c->[2]: not audited as a change");
	}
	is_deeply(get_prefs('dave'), $before, 'nothing was stored for dave');
	is($t->psql(q{SELECT count(*) FROM user_preferences
	    WHERE user_name = 'dave'}), 0, 'no row at all');
};

subtest '415 unless the body is JSON' => sub {
	is_error($t->request(PUT => $P, user => 'dave', body => '{}',
	    content_type => 'text/plain'), 415, 'unsupported_media_type',
	    'text/plain');
};

subtest 'one audit row per successful PUT' => sub {
	my $n = $t->psql(q{SELECT count(*) FROM audit_log
	    WHERE action = 'preferences.update' AND result = 'success'});
	# alice 3, bob 3 timezones + 3 themes, carol 1.
	is($n, 10, 'ten PUTs succeeded, ten rows');
	is($t->psql(q{SELECT string_agg(DISTINCT actor || '=' || resource, ',')
	    FROM audit_log WHERE action = 'preferences.update'}),
	    'alice=alice,bob=bob,carol=carol', 'each row names its user');
};

subtest 'the zone list is read once per worker, not scanned per PUT' => sub {
	# While log_statement is 'all' PostgreSQL logs every statement a
	# worker executes: the PUTs themselves are the yardstick.
	my $log = $t->pg_socket_dir . '/postgresql.log';
	$t->psql(q{ALTER SYSTEM SET log_statement = 'all'});
	$t->psql(q{SELECT pg_reload_conf()});
	my $from = -s $log // 0;
	my $n = 24;
	my $ok = 0;
	$ok += put(erin => { timezone => 'Europe/Paris' })->{status} == 200
	    for 1 .. $n;
	is($ok, $n, "$n PUTs answered 200");
	$t->psql(q{ALTER SYSTEM RESET log_statement});
	$t->psql(q{SELECT pg_reload_conf()});
	open(my $fh, '<', $log) or die "$log: $!";
	seek($fh, $from, 0);
	my @lines = grep { /LOG:\s+execute / } <$fh>;
	close $fh;
	my $puts = grep { /execute preferences_put/ } @lines;
	my $scans = grep { /pg_timezone_names/ } @lines;
	my $workers = () = $t->worker_pids;
	cmp_ok($puts, '>=', $n / 2, "the log saw the PUTs ($puts of $n)");
	cmp_ok($scans, '<=', $workers, "pg_timezone_names read $scans times "
	    . "for $puts PUTs: at most once per worker ($workers)");
};

is($t->stop_dashcgi, 0, 'SIGTERM: master exits 0');

done_testing;
