#!/usr/bin/perl
# Uptime monitors, the API (SPEC §9): Monitor CRUD with every refusal
# naming its field, locking (412, 409 from another user, 428) and one
# audit row per change; notification channels whose secret and header
# values are write-only; a check run on demand (and the address guard
# refusing loopback when allow_private is false); uptime and latency
# percentiles from hand-written roll-ups checked against hand-computed
# figures; the status page; alerts; retention by partition.  The
# checker process is t/81-monitors-checker.t.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep time);
use DashTest;

my $t = DashTest->new(workers => 2, config => {
    monitors => { checkers => 0, min_interval => '1s' } });

$t->psql(<<'SQL');
INSERT INTO project (name, created_by, updated_by) VALUES ('p1', 't', 't'), ('p2', 't', 't');
INSERT INTO project_member (project, user_name, role, created_by, updated_by)
    VALUES ('p1', 'alice', 'admin', 't', 't'), ('p1', 'carol', 'editor', 't', 't'),
	   ('p1', 'dave', 'editor', 't', 't'), ('p1', 'bob', 'viewer', 't', 't');
SQL

my $P = '/api/v1/projects/p1';

sub body { my $j = eval { JSON::PP->new->decode($_[0]{content} // '') }; $j }

sub monitor {
	my ($name, %spec) = @_;
	return { kind => 'Monitor', metadata => { name => $name },
	    spec => { url => 'http://example.com/', %spec } };
}

sub audit_count {
	my ($action, $resource) = @_;
	return $t->psql("SELECT count(*) FROM audit_log WHERE action = '$action'"
	    . " AND resource = '$resource' AND result = 'success'");
}

# --- channels ------------------------------------------------------------

subtest 'channels: create, list, get never return the secret or header values' => sub {
	my $r = $t->request(POST => "$P/channels", user => 'alice', json => {
	    kind => 'NotificationChannel', metadata => { name => 'ops-webhook' },
	    spec => { type => 'webhook', url => 'https://hooks.example/x',
		headers => { Authorization => 'Bearer s3cr3t-h' },
		secret => 's3cr3t-s' } });
	is($r->{status}, 200, 'created') or diag $r->{content};
	unlike($r->{content}, qr/s3cr3t/, 'the answer carries no secret');
	my $c = body($r);
	is($c->{spec}{type}, 'webhook', 'type');
	is_deeply($c->{spec}{headers}, { Authorization => undef },
	    'header names only');
	ok($c->{spec}{secretSet}, 'secretSet says one is stored');
	ok(!$c->{spec}{allIncidents}, 'allIncidents false: it hears only of '
	    . 'the monitors that list it');
	is($t->psql("SELECT count(*) FROM hub_channel WHERE name = 'ops-webhook'"),
	    1, 'one table: the hub\'s');
	is($t->header($r, 'ETag'), '"0"', 'ETag 0');
	for my $path ("$P/channels", "$P/channels/ops-webhook") {
		my $g = $t->request(GET => $path, user => 'bob');
		is($g->{status}, 200, "GET $path by a viewer");
		unlike($g->{content}, qr/s3cr3t/, "GET $path shows no secret");
	}
	is(audit_count('channel.create', 'ops-webhook'), 1, 'one audit row');
	unlike($t->log, qr/s3cr3t/, 'the log never saw the secrets');
	is($t->request(POST => "$P/channels", user => 'carol', json => {
	    kind => 'NotificationChannel', metadata => { name => 'x' },
	    spec => { type => 'slack', url => 'https://hooks.slack.com/x' } })->{status},
	    403, 'an editor may not create channels (admin)');
	$r = $t->request(POST => "$P/channels", user => 'alice', json => {
	    kind => 'NotificationChannel', metadata => { name => 'slack' },
	    spec => { type => 'slack', url => 'https://hooks.slack.com/x' } });
	is($r->{status}, 200, 'a second channel');
	is($t->request(POST => "$P/channels", user => 'alice', json => {
	    kind => 'NotificationChannel', metadata => { name => 'slack' },
	    spec => { type => 'slack', url => 'https://hooks.slack.com/x' } })->{status},
	    409, 'the name is taken: 409');
};

subtest 'channels: each bad field is a 400 naming it' => sub {
	my @cases = (
	    [ { type => 'email', url => 'https://x/' }, qr/^spec\.type:/ ],
	    [ { type => 'webhook' }, qr/^spec\.url: required/ ],
	    [ { type => 'webhook', url => 'ftp://x/' }, qr/^spec\.url: .*http/ ],
	    [ { type => 'webhook', url => 'https://x/', headers => { 'a b' => 'x' } },
		qr/^spec\.headers: .*header name/ ],
	    [ { type => 'webhook', url => 'https://x/', headers => { A => "x\r\ny" } },
		qr/^spec\.headers\.A:/ ],
	    [ { type => 'webhook', url => 'https://x/', secret => 5 }, qr/^spec\.secret:/ ],
	    [ { type => 'webhook', url => 'https://x/', allIncidents => 'yes' },
		qr/^spec\.allIncidents:/ ],
	    [ { type => 'webhook', url => 'https://x/', colour => 'red' },
		qr/^spec\.colour: unknown field/ ],
	);
	for my $c (@cases) {
		my $r = $t->request(POST => "$P/channels", user => 'alice', json => {
		    kind => 'NotificationChannel', metadata => { name => 'bad' },
		    spec => $c->[0] });
		is($r->{status}, 400, "400 for $c->[1]");
		like(body($r)->{message} // '', $c->[1], 'the message names the field');
	}
};

subtest 'channels: PUT keeps the secret and header values unless sent' => sub {
	my $g = body($t->request(GET => "$P/channels/ops-webhook", user => 'alice'));
	# Send back what GET gave (header values null), with a new URL.
	$g->{spec}{url} = 'https://hooks.example/y';
	my $r = $t->request(PUT => "$P/channels/ops-webhook", user => 'alice',
	    json => $g);
	is($r->{status}, 200, 'PUT with metadata.version') or diag $r->{content};
	is($t->psql("SELECT secret || ' ' || (headers ->> 'Authorization') FROM"
	    . " hub_channel WHERE name = 'ops-webhook'"),
	    's3cr3t-s Bearer s3cr3t-h', 'the secret and the header value are kept');
	$g = body($r);
	$g->{spec}{secret} = '';
	$g->{spec}{headers} = {};
	$r = $t->request(PUT => "$P/channels/ops-webhook", user => 'alice',
	    headers => { 'If-Match' => '"1"' }, json => $g);
	is($r->{status}, 200, 'PUT with If-Match');
	is($t->psql("SELECT coalesce(secret, 'none') || ' ' || headers::text FROM"
	    . " hub_channel WHERE name = 'ops-webhook'"),
	    'none {}', 'an empty secret and empty headers remove them');
	$r = $t->request(PUT => "$P/channels/ops-webhook", user => 'alice',
	    headers => { 'If-Match' => '"1"' }, json => $g);
	is($r->{status}, 412, 'a stale If-Match: 412');
	is(body($r)->{currentVersion}, 2, 'with currentVersion');
	delete $g->{metadata}{version};
	is($t->request(PUT => "$P/channels/ops-webhook", user => 'alice',
	    json => $g)->{status}, 428, 'no version at all: 428');
};

# --- monitors ------------------------------------------------------------

subtest 'monitor create: defaults filled, status pending, audited' => sub {
	my $r = $t->request(POST => "$P/monitors", user => 'carol',
	    json => monitor('shop-home', channels => ['ops-webhook']));
	is($r->{status}, 200, 'created') or diag $r->{content};
	my $m = body($r);
	is($m->{kind}, 'Monitor', 'kind');
	is($m->{metadata}{version}, 0, 'version 0');
	is_deeply($m->{spec}, { url => 'http://example.com/', method => 'GET',
	    headers => {}, body => '', interval => '60s', timeout => '10000ms',
	    followRedirects => JSON::PP::true,
	    expect => { status => ['2xx'], bodyContains => '', maxLatency => '' },
	    failureThreshold => 3, successThreshold => 1,
	    tlsExpiryWarning => '14d', paused => JSON::PP::false,
	    channels => ['ops-webhook'] }, 'every default is in the stored spec');
	is($m->{status}{state}, 'pending', 'a new monitor is pending');
	is(audit_count('monitor.create', 'shop-home'), 1, 'one audit row');
	is($t->request(POST => "$P/monitors", user => 'carol',
	    json => monitor('shop-home'))->{status}, 409, 'the name is taken: 409');
	is($t->request(POST => "$P/monitors", user => 'bob',
	    json => monitor('by-viewer'))->{status}, 403, 'a viewer may not create');
	my $l = body($t->request(GET => "$P/monitors", user => 'bob'));
	is(ref $l, 'ARRAY', 'the list is an array');
	is(scalar @$l, 1, 'of one monitor');
	is($t->request(GET => '/api/v1/projects/p2/monitors', user => 'bob')->{status},
	    404, 'a project without a role: 404');
};

subtest 'monitor validation: each refusal names its field' => sub {
	my @cases = (
	    [ { url => 'ftp://example.com/' }, qr/^spec\.url: .*http:\/\/ or https/ ],
	    [ { url => 'file:///etc/passwd' }, qr/^spec\.url:/ ],
	    [ { url => 'not a url' }, qr/^spec\.url:/ ],
	    [ { url => 'http://example.com/', interval => '500ms' },
		qr/^spec\.interval: .*min_interval/ ],
	    [ { url => 'http://example.com/', interval => 'soon' }, qr/^spec\.interval:/ ],
	    [ { url => 'http://example.com/', interval => '10s', timeout => '10s' },
		qr/^spec\.timeout: .*shorter than spec\.interval/ ],
	    [ { url => 'http://example.com/', interval => '10s', timeout => '20s' },
		qr/^spec\.timeout:/ ],
	    [ { url => 'http://example.com/', expect => { status => ['2x'] } },
		qr/^spec\.expect\.status\[0\]:/ ],
	    [ { url => 'http://example.com/', expect => { status => ['200', '2x5'] } },
		qr/^spec\.expect\.status\[1\]:/ ],
	    [ { url => 'http://example.com/', expect => { status => ['600'] } },
		qr/^spec\.expect\.status\[0\]:/ ],
	    [ { url => 'http://example.com/', expect => { status => [] } },
		qr/^spec\.expect\.status:/ ],
	    [ { url => 'http://example.com/', channels => ['nope'] },
		qr/^spec\.channels\[0\]: channel "nope" does not exist/ ],
	    [ { url => 'http://example.com/', channels => ['slack', 'nope'] },
		qr/^spec\.channels\[1\]:/ ],
	    [ { url => 'http://example.com/', method => 'BREW' }, qr/^spec\.method:/ ],
	    [ { url => 'http://example.com/', failureThreshold => 0 },
		qr/^spec\.failureThreshold:/ ],
	    [ { url => 'http://example.com/', successThreshold => 'two' },
		qr/^spec\.successThreshold:/ ],
	    [ { url => 'http://example.com/', headers => { 'X-A' => 1 } },
		qr/^spec\.headers\.X-A:/ ],
	    [ { url => 'http://example.com/', colour => 'red' },
		qr/^spec\.colour: unknown field/ ],
	    [ { url => 'http://example.com/', expect => { maxLatency => 'x' } },
		qr/^spec\.expect\.maxLatency:/ ],
	    [ { }, qr/^spec\.url: required/ ],
	);
	for my $c (@cases) {
		my $r = $t->request(POST => "$P/monitors", user => 'carol', json => {
		    kind => 'Monitor', metadata => { name => 'bad' }, spec => $c->[0] });
		is($r->{status}, 400, "400 for $c->[1]");
		like(body($r)->{message} // '', $c->[1], 'the message names the field')
		    or diag $r->{content};
	}
	my $r = $t->request(POST => "$P/monitors", user => 'carol', json => {
	    kind => 'Monitor', metadata => { name => 'x..y' }, spec => { url => 'http://a/' } });
	like(body($r)->{message}, qr/^metadata\.name:/, 'a bad name');
	$r = $t->request(POST => "$P/monitors", user => 'carol', json => {
	    kind => 'Monitor', metadata => { name => 'x', project => 'p2' },
	    spec => { url => 'http://a/' } });
	like(body($r)->{message}, qr/^metadata\.project:/, 'another project');
	$r = $t->request(POST => "$P/monitors", user => 'carol', json => {
	    kind => 'Dashboard', metadata => { name => 'x' }, spec => { url => 'http://a/' } });
	like(body($r)->{message}, qr/^kind:/, 'another kind');
	is($t->psql("SELECT count(*) FROM monitor WHERE name = 'bad'"), 0,
	    'nothing was stored');
};

subtest 'monitor update: locking like dashboards, audited' => sub {
	my $m = body($t->request(GET => "$P/monitors/shop-home", user => 'carol'));
	$m->{spec}{interval} = '30s';
	my $r = $t->request(PUT => "$P/monitors/shop-home", user => 'carol', json => $m);
	is($r->{status}, 200, 'PUT with metadata.version 0') or diag $r->{content};
	is(body($r)->{metadata}{version}, 1, 'version 1');
	is($t->header($r, 'ETag'), '"1"', 'ETag "1"');
	# carol again from the same stale version: her own change, no conflict
	$r = $t->request(PUT => "$P/monitors/shop-home", user => 'carol', json => $m);
	is($r->{status}, 200, 'the same user from version 0 again: no conflict');
	# dave from version 0: another user wrote since
	$r = $t->request(PUT => "$P/monitors/shop-home", user => 'dave', json => $m);
	is($r->{status}, 409, 'another user from a stale version: 409');
	my $b = body($r);
	is($b->{code}, 'version_conflict', 'version_conflict');
	is($b->{changedBy}, 'carol', 'changedBy');
	is($b->{currentVersion}, 2, 'currentVersion');
	$r = $t->request(PUT => "$P/monitors/shop-home", user => 'dave',
	    headers => { 'If-Match' => '"1"' }, json => $m);
	is($r->{status}, 412, 'If-Match not current: 412');
	$r = $t->request(PUT => "$P/monitors/shop-home", user => 'dave',
	    headers => { 'If-Match' => '"2"' }, json => $m);
	is($r->{status}, 200, 'If-Match current: 200');
	delete $m->{metadata}{version};
	is($t->request(PUT => "$P/monitors/shop-home", user => 'dave', json => $m)->{status},
	    428, 'neither: 428');
	$m->{metadata}{name} = 'other';
	$r = $t->request(PUT => "$P/monitors/shop-home", user => 'dave',
	    headers => { 'If-Match' => '*' }, json => $m);
	is($r->{status}, 400, 'a name differing from the path: 400');
	is($t->request(PUT => "$P/monitors/nope", user => 'dave',
	    headers => { 'If-Match' => '*' }, json => monitor('nope'))->{status},
	    404, 'an unknown monitor: 404');
	is(audit_count('monitor.update', 'shop-home'), 3, 'three updates audited');
	is($t->psql("SELECT every FROM monitor WHERE name = 'shop-home'"), '00:00:30',
	    'the interval column follows the spec');
	$r = $t->request(DELETE => "$P/channels/ops-webhook", user => 'alice');
	is($r->{status}, 409, 'a channel in use cannot be deleted');
	like(body($r)->{message}, qr/shop-home/, 'the answer names the monitor');
};

# --- check on demand and the address guard -------------------------------

my $dir = $t->tmpdir;
my $tpid = $t->spawn([$^X, $t->srcdir . '/t/monitor-target.pl', "$dir/target.port", $dir]);
my $deadline = time + 10;
sleep 0.05 while !-s "$dir/target.port" && time < $deadline;
my $port = do { local (@ARGV) = ("$dir/target.port"); my $l = <>; chomp $l; $l };
ok($port, "the loopback target listens on $port");

subtest 'POST …/check with allow_private false: loopback is blocked_address' => sub {
	my $r = $t->request(POST => "$P/monitors", user => 'carol',
	    json => monitor('local', url => "http://127.0.0.1:$port/"));
	is($r->{status}, 200, 'a loopback monitor may be created');
	for my $u ("http://127.0.0.1:$port/", "http://localhost:$port/",
	    "http://[::1]:$port/", "http://10.1.2.3:$port/",
	    "http://169.254.169.254/latest/meta-data/",
	    "http://0.0.0.0:$port/") {
		my $m = body($t->request(GET => "$P/monitors/local", user => 'carol'));
		$m->{spec}{url} = $u;
		is($t->request(PUT => "$P/monitors/local", user => 'carol', json => $m)->{status},
		    200, "url $u");
		$r = $t->request(POST => "$P/monitors/local/check", user => 'carol');
		is($r->{status}, 200, 'the check ran') or diag $r->{content};
		my $c = body($r);
		is($c->{error}, 'blocked_address', "$u: blocked_address");
		ok(!$c->{ok}, 'not ok');
	}
	$r = $t->request(POST => "$P/monitors/local/check", user => 'bob');
	is($r->{status}, 403, 'a viewer may not run a check');
	is(audit_count('monitor.check', 'local'), 6, 'each check audited');
	my $log = "$dir/requests.log";
	ok(!-e $log, 'the target never saw a request');
};

# --- uptime and percentiles from hand-written roll-ups -------------------

subtest 'uptime and percentiles against hand-computed roll-ups' => sub {
	my $r = $t->request(POST => "$P/monitors", user => 'carol',
	    json => monitor('calc'));
	is($r->{status}, 200, 'monitor calc');
	# Hour roll-ups: the current hour 10 checks / 9 ok, 20 hours ago
	# 10 / 10, 30 hours ago (outside 24h) 10 / 0.  Latencies: 100 in
	# the 100 ms bucket (28), one in 1000 ms (41), one in 5000 ms (50).
	# Day roll-ups: today 20 / 19, 5 days ago 100 / 90, 20 days ago
	# 100 / 50, 60 days ago 1000 / 1000, 100 days ago (outside) 10 / 0.
	$t->psql(<<'SQL');
CREATE FUNCTION pg_temp.h(VARIADIC kv int[]) RETURNS int[] LANGUAGE sql AS $$
	SELECT array_agg(coalesce((SELECT kv[2*i+2] FROM generate_series(0, array_length(kv,1)/2 - 1) i
	    WHERE kv[2*i+1] = k), 0) ORDER BY k) FROM generate_series(1, 64) k $$;
INSERT INTO monitor_rollup_hour
SELECT m.id, date_trunc('hour', now(), 'UTC') - v.back * interval '1 hour', v.c, v.o, v.c, v.c * 100, 100, v.mx, v.hist
  FROM monitor m, (VALUES (0, 10, 9, 5000, pg_temp.h(28, 8, 41, 1, 50, 1)),
		      (20, 10, 10, 100, pg_temp.h(28, 10)),
		      (30, 10, 0, 100, pg_temp.h(28, 10))) v(back, c, o, mx, hist)
 WHERE m.name = 'calc';
INSERT INTO monitor_rollup_day
SELECT m.id, date_trunc('day', now(), 'UTC') - v.back * interval '1 day', v.c, v.o, v.c, v.c * 100, 100, 100, pg_temp.h(28, v.c)
  FROM monitor m, (VALUES (0, 20, 19), (5, 100, 90), (20, 100, 50), (60, 1000, 1000), (100, 10, 0)) v(back, c, o)
 WHERE m.name = 'calc';
SELECT monitor_rollup_rebase(id) FROM monitor WHERE name = 'calc';
SQL
	$r = $t->request(GET => "$P/monitors/calc/uptime", user => 'bob');
	is($r->{status}, 200, 'uptime') or diag $r->{content};
	my $u = body($r);
	is($u->{'24h'}{checks}, 20, '24h: the hour roll-ups of the last 24 hours');
	is($u->{'24h'}{uptime}, 0.95, '24h: 19/20');
	is($u->{'7d'}{checks}, 120, '7d: today and 5 days ago');
	is($u->{'7d'}{uptime}, 0.908333, '7d: 109/120');
	is($u->{'30d'}{uptime}, sprintf('%.6f', 159 / 220) + 0, '30d: 159/220');
	is($u->{'90d'}{checks}, 1220, '90d: 1220 checks');
	is($u->{'90d'}{uptime}, sprintf('%.6f', 1159 / 1220) + 0, '90d: 1159/1220');
	# 24h histogram: 18 in element 28, 1 in 41, 1 in 50.  Nearest
	# ranks: p50 the 10th (element 28), p95 the 19th (41), p99 the
	# 20th (50); each is the geometric middle of its bucket,
	# 2^((k - 1.5) / 4) ms, inside [min 100, max 5000].
	# p50's bucket middle (98.7) is below the window's min: clamped.
	my %want = (p50 => 100, p95 => 2 ** (39.5 / 4),
	    p99 => 2 ** (48.5 / 4));
	for my $q (sort keys %want) {
		cmp_ok(abs($u->{'24h'}{latency}{$q} - $want{$q}), '<', 0.001,
		    "$q: $want{$q}");
	}
	is(scalar @{ $u->{daily} }, 90, '90 daily entries');
	is($u->{daily}[89]{uptime}, 0.95, 'the newest is today');
	is($u->{daily}[84]{uptime}, 0.9, '5 days ago');
	is($u->{daily}[0]{checks}, 0, 'an empty day: 0 checks');
	ok(!defined $u->{daily}[0]{uptime}, 'and uptime null, not NaN');

	my $s = body($t->request(GET => "$P/status", user => 'bob'));
	my ($c) = grep { $_->{name} eq 'calc' } @{ $s->{monitors} };
	is($c->{uptime}{'24h'}, 0.95, 'status page: 24h');
	is($c->{uptime}{'30d'}, sprintf('%.6f', 159 / 220) + 0, 'status page: 30d');
	is($c->{uptime}{'90d'}, sprintf('%.6f', 1159 / 1220) + 0, 'status page: 90d');
	cmp_ok(abs($c->{p95} - 2 ** (39.5 / 4)), '<', 0.001, 'status page: p95 of 24h');
	is($c->{state}, 'pending', 'state');
	# The daily bars: per monitor 90 {date, uptime}, oldest first,
	# uptime null without checks.  calc has 4 of the 90 days (the join
	# that leaves gaps); full has all 90, day k (k days ago) 10 checks
	# with 10 - k % 3 ok (the index-only path).
	my @days = map { $_->{date} } @{ $c->{daily} };
	is(scalar @days, 90, 'calc: 90 bars');
	is($days[89], $t->psql("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD')"),
	    'the last is today (UTC)');
	is($days[0], $t->psql("SELECT to_char(now() AT TIME ZONE 'UTC' - interval '89 days',"
	    . " 'YYYY-MM-DD')"), 'the first 89 days ago');
	is(join(',', map { $days[$_ + 1] gt $days[$_] ? 1 : 0 } 0 .. 88), join(',', (1) x 89),
	    'one a day, oldest first');
	my %want_bar = (89 => 0.95, 84 => 0.9, 69 => 0.5, 29 => 1);
	is_deeply([ map { $c->{daily}[$_]{uptime} } sort { $a <=> $b } keys %want_bar ],
	    [ map { $want_bar{$_} } sort { $a <=> $b } keys %want_bar ],
	    'calc: today 19/20, 5 days ago 90/100, 20 days ago 50/100, 60 days ago 1000/1000');
	is(scalar(grep { defined $_->{uptime} } @{ $c->{daily} }), 4,
	    'the other 86 days are null (100 days ago is outside)');
	is($t->request(POST => "$P/monitors", user => 'carol',
	    json => monitor('full'))->{status}, 200, 'monitor full');
	$t->psql(<<'SQL');
INSERT INTO monitor_rollup_day (monitor_id, bucket, checks, ok, lat_count, lat_sum, hist)
SELECT m.id, date_trunc('day', now(), 'UTC') - k * interval '1 day', 10, 10 - k % 3,
       0, 0, array_fill(0, ARRAY[64])
  FROM monitor m, generate_series(0, 89) k WHERE m.name = 'full';
SELECT monitor_rollup_rebase(id) FROM monitor WHERE name = 'full';
SQL
	$s = body($t->request(GET => "$P/status", user => 'bob'));
	my ($f) = grep { $_->{name} eq 'full' } @{ $s->{monitors} };
	is_deeply([ map { $_->{uptime} } @{ $f->{daily} } ],
	    [ map { (10 - (89 - $_) % 3) / 10 } 0 .. 89 ],
	    'full: 90 bars, k days ago (10 - k % 3) / 10');
	is_deeply([ map { $_->{date} } @{ $f->{daily} } ], \@days, 'on the same days');
	my $sum = 0;
	$sum += $s->{summary}{$_} for qw(up down paused pending);
	is($sum, scalar @{ $s->{monitors} }, 'the summary counts every monitor');
	is($s->{summary}{down}, 1, 'one down (local, blocked)');
	is($t->request(GET => "$P/monitors/nope/uptime", user => 'bob')->{status}, 404,
	    'uptime of an unknown monitor: 404');
};

subtest 'results and alerts: newest first, paged, 400 on bad input' => sub {
	my $r = $t->request(GET => "$P/monitors/local/results?limit=2", user => 'bob');
	is($r->{status}, 200, 'results');
	my $l = body($r);
	is(scalar @$l, 2, 'a page of 2');
	ok($l->[0]{at} gt $l->[1]{at}, 'newest first');
	my $link = $t->header($r, 'Link');
	like($link, qr/rel="next"/, 'a Link to the next page');
	my ($next) = $link =~ /<([^>]+)>/;
	my $l2 = body($t->request(GET => $next, user => 'bob'));
	is(scalar @$l2, 2, 'the next page');
	ok($l2->[0]{at} lt $l->[1]{at}, 'older than the first');
	is($t->request(GET => "$P/monitors/local/results?since=yesterday",
	    user => 'bob')->{status}, 400, 'a bad since: 400');
	is($t->request(GET => "$P/monitors/local/results?cursor=zzz",
	    user => 'bob')->{status}, 400, 'a bad cursor: 400');
	is($t->request(GET => "$P/monitors/nope/results", user => 'bob')->{status},
	    404, 'an unknown monitor: 404');
	$r = $t->request(GET => "$P/alerts?monitor=local", user => 'bob');
	is($r->{status}, 200, 'alerts');
	my $a = body($r);
	is(scalar @$a, 1, 'one state change for the 6 blocked checks (threshold 3)');
	is($a->[0]{to}, 'down', 'pending → down');
	is($a->[0]{dedupKey}, 'monitor:p1/local', 'the hub\'s dedup key');
	is($t->request(GET => "$P/alerts?since=x", user => 'bob')->{status}, 400,
	    'a bad since: 400');
};

subtest 'delete: cascades, If-Match honoured, audited' => sub {
	is($t->request(DELETE => "$P/monitors/local", user => 'carol',
	    headers => { 'If-Match' => '"0"' })->{status}, 412, 'stale If-Match: 412');
	is($t->request(DELETE => "$P/monitors/local", user => 'bob')->{status}, 403,
	    'a viewer may not delete');
	is($t->request(DELETE => "$P/monitors/local", user => 'carol')->{status}, 204,
	    'deleted');
	is($t->request(GET => "$P/monitors/local", user => 'carol')->{status}, 404,
	    'gone');
	is($t->psql("SELECT (SELECT count(*) FROM check_result) + (SELECT count(*) FROM alert a"
	    . " WHERE a.monitor = 'local')"), 0, 'its results and alerts went with it');
	is(audit_count('monitor.delete', 'local'), 1, 'audited');
	is($t->request(DELETE => "$P/monitors/shop-home", user => 'carol')->{status}, 204,
	    'shop-home deleted');
	is($t->request(DELETE => "$P/channels/ops-webhook", user => 'alice')->{status}, 204,
	    'now the channel can go');
};

subtest 'maintenance: partitions ahead, results dropped by partition past retention' => sub {
	$t->psql(q{CREATE TABLE check_result_2020_01 PARTITION OF check_result
	    FOR VALUES FROM ('2020-01-01') TO ('2020-02-01')});
	my ($rc, $out, $err) = $t->run_dashcgi('maintenance');
	is($rc, 0, 'maintenance ran') or diag $err;
	like($err, qr/job=monitor_partitions/, 'the partition job ran');
	like($err, qr/job=monitor_retention[^\n]*dropped_partitions=1/,
	    'one partition past retention dropped');
	is($t->psql("SELECT to_regclass('check_result_2020_01') IS NULL"), 't',
	    'the old partition is gone');
	my $next = $t->psql("SELECT to_char(date_trunc('month', now()) + interval '1 month', 'YYYY_MM')");
	is($t->psql("SELECT to_regclass('check_result_$next') IS NOT NULL"), 't',
	    'next month\'s partition exists');
};

subtest 'deleting a project takes its monitors and channels' => sub {
	$t->psql(q{INSERT INTO monitor (project, name, spec, every, created_by, updated_by)
	    VALUES ('p2', 'm', '{}', '60s', 't', 't')});
	$t->psql(q{DELETE FROM project WHERE name = 'p2'});
	is($t->psql("SELECT count(*) FROM monitor WHERE project = 'p2'"), 0, 'cascade');
};

$t->stop_spawned($tpid);
done_testing;
