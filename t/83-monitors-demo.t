#!/usr/bin/perl
# dashcgi demo-data --monitors N --monitor-target URL (SPEC §8, §9): N
# monitors of the demo's loopback target, of every kind (always up,
# flapping, down, slow), with 90 days of day roll-ups and 7 of hour
# roll-ups whose running totals and bases agree; the same --seed and
# --at give the same monitors and history, another seed another; a
# second run replaces the monitors the first made and no others; each
# kind's URL makes the target answer as the kind says; the status page
# and uptime show the history at once; bad flags exit 2.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep time);
use DashTest;

my $t = DashTest->new(workers => 1, config => { auth => { admins => ['admin'] },
    monitors => { checkers => 0, allow_private => 'true' } });

my $dir = $t->tmpdir;
my $tpid = $t->spawn([$^X, $t->srcdir . '/t/monitor-target.pl', "$dir/target.port", $dir]);
my $deadline = time + 10;
sleep 0.05 while !-s "$dir/target.port" && time < $deadline;
my $port = do { local (@ARGV) = ("$dir/target.port"); my $l = <>; chomp $l; $l };
my $TARGET = "http://127.0.0.1:$port";
my $AT = '2026-11-30T12:30:00Z';

sub demo {
	my ($project, @more) = @_;
	my ($rc, $out, $err) = $t->run_dashcgi({ timeout => 300 }, 'demo-data',
	    '--project', $project, '--slos', '1', '--days', '1', @more);
	is($rc, 0, "demo-data --project $project @more") or diag $err;
	return $out;
}
sub q1 { $t->psql($_[0]) }

# Everything a run makes in a project, with times relative to --at.
sub digest {
	my ($p) = @_;
	return q1(<<"SQL");
SELECT md5(concat_ws('|',
    (SELECT string_agg(m.name || (m.spec - 'url')::text || replace(m.spec ->> 'url',
	'$TARGET', ''), ',' ORDER BY m.name) FROM monitor m WHERE m.project = '$p'),
    (SELECT string_agg(concat_ws(':', m.name, r.bucket - '$AT'::timestamptz, r.checks,
	r.ok, r.lat_count, r.lat_sum, r.hist, r.base_checks), ',' ORDER BY m.name, r.bucket)
       FROM monitor_rollup_day r JOIN monitor m ON m.id = r.monitor_id WHERE m.project = '$p'),
    (SELECT string_agg(concat_ws(':', m.name, r.bucket - '$AT'::timestamptz, r.checks,
	r.ok, r.hist), ',' ORDER BY m.name, r.bucket)
       FROM monitor_rollup_hour r JOIN monitor m ON m.id = r.monitor_id WHERE m.project = '$p')))
SQL
}

subtest 'counts, kinds and history of 12 monitors' => sub {
	my $out = demo('d1', '--seed', '5', '--at', $AT, '--monitors', '12',
	    '--monitor-target', "$TARGET/");
	like($out, qr/12 monitors of \Q$TARGET\E \((\d+) up, (\d+) flapping, 1 down, 1 slow\)/,
	    'the summary line') or diag $out;
	is(q1("SELECT count(*) FROM monitor WHERE project = 'd1'"), 12, '12 monitors');
	my %kind = map { split /\|/ } split /\n/, q1(<<'SQL');
SELECT name, CASE WHEN spec ->> 'url' ~ 'status=500$' THEN 'down'
    WHEN spec ->> 'url' ~ 'delay=1200$' THEN 'slow'
    WHEN spec ->> 'url' ~ '/flap[?]up=[0-9]+&down=[0-9]+$' THEN 'flapping'
    WHEN spec ->> 'url' ~ '/[?]delay=[0-9]+$' THEN 'up' END
  FROM monitor WHERE project = 'd1'
SQL
	is_deeply([ @kind{qw(shop-home payments search checkout-api)} ],
	    [ qw(up down slow flapping) ], 'the first four: up, down, slow, flapping');
	ok(!grep({ !defined } values %kind), 'every monitor is one of the kinds');
	is(q1("SELECT count(*) FROM monitor WHERE project = 'd1' AND spec ->> 'url' NOT LIKE '$TARGET/%'"),
	    0, 'all of them check the target (the trailing / dropped)');
	is(q1("SELECT count(DISTINCT state) || state FROM monitor WHERE project = 'd1' GROUP BY state"),
	    '1pending', 'all pending until the checker checks them');
	is(q1("SELECT spec -> 'expect' ->> 'maxLatency' FROM monitor WHERE project = 'd1' AND name = 'search'"),
	    '3s', 'the slow one answers within its maxLatency');
	# --at 12:30: 89 whole days and today's 12 hours; hour rows for the
	# last 6 days and today (6 * 24 + 12).
	is(q1("SELECT string_agg(DISTINCT n::text, ',') FROM (SELECT count(*) n FROM monitor_rollup_day r"
	    . " JOIN monitor m ON m.id = r.monitor_id WHERE m.project = 'd1' GROUP BY m.id) x"), '90',
	    '90 day roll-ups per monitor');
	is(q1("SELECT string_agg(DISTINCT n::text, ',') FROM (SELECT count(*) n FROM monitor_rollup_hour r"
	    . " JOIN monitor m ON m.id = r.monitor_id WHERE m.project = 'd1' GROUP BY m.id) x"), 156,
	    '156 hour roll-ups per monitor');
	is(q1("SELECT to_char(min(bucket) AT TIME ZONE 'UTC', 'YYYY-MM-DD') || ' '"
	    . " || to_char(max(bucket) AT TIME ZONE 'UTC', 'YYYY-MM-DD') FROM monitor_rollup_day r"
	    . " JOIN monitor m ON m.id = r.monitor_id WHERE m.project = 'd1'"),
	    '2026-09-02 2026-11-30', 'the days end at --at');
	is(q1("SELECT to_char(max(bucket) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') FROM"
	    . " monitor_rollup_hour r JOIN monitor m ON m.id = r.monitor_id WHERE m.project = 'd1'"),
	    '2026-11-30 11:00', 'the last hour is the one before --at');
	is(q1(<<'SQL'), 0, 'each day is the sum of its hours where both exist');
SELECT count(*) FROM monitor_rollup_day d JOIN monitor m ON m.id = d.monitor_id,
       LATERAL (SELECT sum(h.checks) AS c, sum(h.ok) AS o FROM monitor_rollup_hour h
	 WHERE h.monitor_id = d.monitor_id AND date_trunc('day', h.bucket, 'UTC') = d.bucket) x
 WHERE m.project = 'd1' AND d.bucket >= '2026-11-24' AND (d.checks <> x.c OR d.ok <> x.o
       OR x.c IS NULL)
SQL
	is(q1(<<'SQL'), 0, 'totals and bases agree (a window = total - base)');
SELECT count(*) FROM monitor m WHERE m.project = 'd1' AND (
    m.total_checks <> (SELECT sum(checks) FROM monitor_rollup_day WHERE monitor_id = m.id)
    OR EXISTS (SELECT 1 FROM monitor_rollup_day r WHERE r.monitor_id = m.id AND r.base_checks
	+ (SELECT sum(x.checks) FROM monitor_rollup_day x WHERE x.monitor_id = m.id
	   AND x.bucket >= r.bucket) <> m.total_checks)
    OR EXISTS (SELECT 1 FROM monitor_rollup_day r WHERE r.monitor_id = m.id
	AND r.lat_count <> (SELECT sum(c) FROM unnest(r.hist) c)))
SQL
	my %up = map { split /\|/ } split /\n/, q1(<<'SQL');
SELECT m.name, round(sum(r.ok)::numeric / sum(r.checks), 4) FROM monitor m
  JOIN monitor_rollup_day r ON r.monitor_id = m.id WHERE m.project = 'd1' GROUP BY m.name
SQL
	cmp_ok($up{'shop-home'}, '>=', 0.99, "always up: 90-day uptime $up{'shop-home'}");
	cmp_ok($up{'checkout-api'}, '<', 0.99, "flapping: $up{'checkout-api'}, below 99 %");
	cmp_ok($up{'checkout-api'}, '>', 0.80, 'but mostly up');
	is(q1(<<'SQL'), '36|0', 'down: no success in the last 36 hours');
SELECT count(*) || '|' || sum(h.ok) FROM monitor_rollup_hour h JOIN monitor m ON m.id = h.monitor_id
 WHERE m.project = 'd1' AND m.name = 'payments' AND h.bucket >= '2026-11-30 12:00+00'::timestamptz - interval '36 hours'
SQL
	cmp_ok(q1(<<'SQL'), '>', 1000, 'slow: a 90-day p95 over a second (ms)');
SELECT monitor_hist_quantile_diff(m.total_hist, NULL, 0.95) FROM monitor m
 WHERE m.project = 'd1' AND m.name = 'search'
SQL
};

subtest 'the same seed and --at: the same data; another seed: other data' => sub {
	demo('d2', '--seed', '5', '--at', $AT, '--monitors', '12', '--monitor-target', $TARGET);
	demo('d3', '--seed', '6', '--at', $AT, '--monitors', '12', '--monitor-target', $TARGET);
	is(digest('d2'), digest('d1'), 'seed 5 twice: identical monitors and roll-ups');
	isnt(digest('d3'), digest('d1'), 'seed 6: different');
};

subtest 'a second run replaces what the first made, nothing else' => sub {
	$t->psql(q{INSERT INTO monitor (project, name, spec, every, created_by, updated_by)
	    VALUES ('d1', 'mine', '{"url":"http://127.0.0.1:9/"}', '60s', 'alice', 'alice')});
	demo('d1', '--seed', '5', '--at', $AT, '--monitors', '5', '--monitor-target', $TARGET);
	is(q1("SELECT count(*) FROM monitor WHERE project = 'd1' AND created_by = 'demo-data'"),
	    5, 'the 12 made before are replaced by 5');
	is(q1("SELECT count(*) FROM monitor WHERE project = 'd1' AND name = 'mine'"), 1,
	    'a monitor demo-data did not make is kept');
};

subtest 'each kind\'s URL makes the target answer as the kind says' => sub {
	my %want = ('shop-home' => [ 1, undef ], payments => [ 0, 'status' ],
	    search => [ 1, undef ]);
	for my $n (sort keys %want) {
		my $r = $t->request(POST => "/api/v1/projects/d1/monitors/$n/check",
		    user => 'admin');
		is($r->{status}, 200, "check $n") or diag $r->{content};
		my $c = $t->json($r);
		is(($c->{ok} ? 1 : 0) . '/' . ($c->{error} // '-'),
		    "$want{$n}[0]/" . ($want{$n}[1] // '-'), "$n: ok and error");
		cmp_ok($c->{latencyMs}, '>=', 1200, 'search: the slow answer took 1.2 s')
		    if $n eq 'search';
	}
	my $r = $t->json($t->request(POST => '/api/v1/projects/d1/monitors/checkout-api/check',
	    user => 'admin'));
	my $sc = $r->{statusCode} // 0;
	ok(($sc == 200 && $r->{ok}) || ($sc == 503 && ($r->{error} // '') eq 'status'),
	    "flapping: 200 or 503 as its cycle stands ($sc)");
};

subtest 'history at once: status page and uptime' => sub {
	demo('live', '--seed', '1', '--monitors', '4', '--monitor-target', $TARGET);
	my $s = $t->json($t->request(GET => '/api/v1/projects/live/status', user => 'admin'));
	is(scalar @{ $s->{monitors} }, 4, 'four monitors on the status page');
	for my $m (@{ $s->{monitors} }) {
		ok(defined $m->{uptime}{'30d'} && defined $m->{uptime}{'90d'},
		    "$m->{name}: 30d and 90d uptime");
		is(scalar(grep { defined $_->{uptime} } @{ $m->{daily} }[0 .. 88]), 89,
		    "$m->{name}: 89 past days with a bar");
	}
	my $u = $t->json($t->request(GET => '/api/v1/projects/live/monitors/payments/uptime',
	    user => 'admin'));
	cmp_ok($u->{'90d'}{checks}, '>', 89 * 2880 - 1, 'uptime: 90 days of checks');
	ok(defined $u->{'24h'}{latency}{p95}, 'a 24h p95 from the hour roll-ups');
};

subtest 'bad flags: exit 2 with a message' => sub {
	for my $c ([ [ '--monitors', '3' ], qr/--monitor-target/ ],
	    [ [ '--monitor-target', $TARGET ], qr/without --monitors/ ],
	    [ [ '--monitors', '3', '--monitor-target', 'ftp://x' ], qr/--monitor-target: expected/ ],
	    [ [ '--monitors', '3', '--monitor-target', "$TARGET/?a=b" ], qr/without query/ ],
	    [ [ '--monitors', '10001', '--monitor-target', $TARGET ], qr/--monitors: expected/ ]) {
		my ($rc, $out, $err) = $t->run_dashcgi('demo-data', @{ $c->[0] });
		is($rc, 2, "@{ $c->[0] }: exit 2");
		like($err, $c->[1], 'says why');
	}
	is(q1("SELECT count(*) FROM project WHERE name = 'default'"), 0, 'and wrote nothing');
};

$t->stop_spawned($tpid);
done_testing;
