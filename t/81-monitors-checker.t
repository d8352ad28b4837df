#!/usr/bin/perl
# The uptime checker (SPEC §9): two checker processes against a
# loopback target (t/monitor-target.pl, allow_private: true).  Due
# times follow each other by exactly the interval (no drift) and each
# check starts within a tolerance of its due time; a missed due time is
# run once, not in a burst; two checkers never run the same check; each
# error kind is recorded with its timing phases; state changes follow
# the thresholds both ways with one alert row each; latency
# percentiles from the roll-up histograms agree with the exact ones
# from the raw results within the bucket error.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use Time::HiRes qw(sleep time);
use DashTest;

# Two self-signed certificates for 127.0.0.1: "trusted" (the checkers'
# CA bundle, SSL_CERT_FILE) expiring in 5 days, and "untrusted".
my $pki = tempdir(CLEANUP => 1);
for my $c (qw(trusted untrusted)) {
	local *STDERR;
	open(STDERR, '>', '/dev/null');
	system('openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
	    'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', "$pki/$c.key",
	    '-out', "$pki/$c.pem", '-days', '5', '-subj', '/CN=127.0.0.1',
	    '-addext', 'subjectAltName=IP:127.0.0.1') == 0
	    or BAIL_OUT("openssl req failed for $c");
}

my $t = DashTest->new(workers => 2, env => { SSL_CERT_FILE => "$pki/trusted.pem" },
    config => {
    log => { level => 'debug' },
    monitors => { checkers => 2, concurrency => 64, min_interval => '1s',
	allow_private => JSON::PP::true } });

$t->psql(<<'SQL');
INSERT INTO project (name, created_by, updated_by) VALUES ('p1', 't', 't');
INSERT INTO project_member (project, user_name, role, created_by, updated_by)
    VALUES ('p1', 'carol', 'editor', 't', 't');
SQL
my $P = '/api/v1/projects/p1';

sub body { my $j = eval { JSON::PP->new->decode($_[0]{content} // '') }; $j }

my $dir = $t->tmpdir;
my $tpid = $t->spawn([$^X, $t->srcdir . '/t/monitor-target.pl', "$dir/target.port", $dir]);
my $deadline = time + 10;
sleep 0.05 while !-s "$dir/target.port" && time < $deadline;
my $port = do { local (@ARGV) = ("$dir/target.port"); my $l = <>; chomp $l; $l };
ok($port, "the target listens on $port");
my $T = "http://127.0.0.1:$port";

sub create {
	my ($name, %spec) = @_;
	my $r = $t->request(POST => "$P/monitors", user => 'carol', json => {
	    kind => 'Monitor', metadata => { name => $name }, spec => \%spec });
	is($r->{status}, 200, "monitor $name created") or diag $r->{content};
	return body($r);
}

sub rows {
	my ($sql) = @_;
	return map { [ split /\|/ ] } grep { length } split /\n/, $t->psql($sql);
}

# Wait (bounded) until the SQL count reaches n.
sub wait_count {
	my ($sql, $n, $timeout) = @_;
	my $end = time + $timeout;
	my $c = 0;
	while (time < $end) {
		$c = $t->psql($sql);
		return $c if $c >= $n;
		sleep 0.2;
	}
	return $c;
}

my $CHECKERS = 2;
{
	my $end = time + 10;
	sleep 0.1 while time < $end && (() = $t->log =~ /msg="checker started;/g) < $CHECKERS;
	is(scalar(() = $t->log =~ /msg="checker started;/g), $CHECKERS,
	    'two checker processes run');
}

subtest 'due times: exactly the interval apart, each check started on time' => sub {
	create('tick', url => "$T/", interval => '1s', timeout => '500ms');
	my $n = wait_count("SELECT count(*) FROM check_result c JOIN monitor m"
	    . " ON m.id = c.monitor_id WHERE m.name = 'tick'", 8, 20);
	cmp_ok($n, '>=', 8, "$n checks in time");
	my @r = rows("SELECT extract(epoch FROM c.due) * 1000, extract(epoch FROM c.at - c.due) * 1000"
	    . " FROM check_result c JOIN monitor m ON m.id = c.monitor_id WHERE m.name = 'tick'"
	    . " ORDER BY c.due");
	my @gaps = map { $r[$_][0] - $r[$_ - 1][0] } 1 .. $#r;
	is_deeply([ grep { abs($_ - 1000) > 0.001 } @gaps ], [],
	    'consecutive due times are exactly 1000 ms apart (no drift)')
	    or diag "gaps: @gaps";
	my @late = map { $_->[1] } @r[1 .. $#r];	# the first is due at creation
	my ($worst) = sort { $b <=> $a } @late;
	cmp_ok($worst, '<', 1000, "every check started within 1 s of its due time (worst $worst ms)");
	cmp_ok(scalar(grep { $_ < -1 } @late), '==', 0, 'none started early');
	diag sprintf('start delay: worst %.1f ms, median %.1f ms', $worst,
	    (sort { $a <=> $b } @late)[@late / 2]);
	$t->psql("UPDATE monitor SET paused = true WHERE name = 'tick'");
};

subtest 'a missed due time is run once, and the phase is kept' => sub {
	create('missed', url => "$T/", interval => '2s', timeout => '1s');
	wait_count("SELECT count(*) FROM check_result c JOIN monitor m ON m.id = c.monitor_id"
	    . " WHERE m.name = 'missed'", 1, 10);
	# Paused, nothing of it is claimed or waiting in a checker; then
	# as if no checker had run for 11 s: 5 due times were missed.
	$t->psql("UPDATE monitor SET paused = true WHERE name = 'missed'");
	sleep 2.5;
	my ($old, $now) = split /\|/, $t->psql("UPDATE monitor SET next_due = now() - interval '11 seconds',"
	    . " paused = false WHERE name = 'missed' RETURNING next_due::text, now()::text");
	sleep 4;
	# Due times of the checks since, as ms after the missed one.
	my @r = map { $_->[0] } rows("SELECT round(extract(epoch FROM c.due - '$old'::timestamptz) * 1000)"
	    . " FROM check_result c JOIN monitor m ON m.id = c.monitor_id WHERE m.name = 'missed'"
	    . " AND c.at >= '$now'::timestamptz ORDER BY c.due");
	is($r[0], 0, 'the missed due time ran');
	is_deeply([ grep { $_ > 0 && $_ < 11000 } @r ], [],
	    'the due times missed after it were not run (no burst)') or diag "@r";
	is($r[1], 12000, 'the next is the first due time on the phase after now')
	    or diag "@r";
	is_deeply([ grep { $_ % 2000 } @r ], [], 'every due time keeps the 2 s phase')
	    or diag "@r";
	$t->psql("UPDATE monitor SET paused = true WHERE name = 'missed'");
};

subtest 'two checkers never run the same check' => sub {
	for my $i (1 .. 20) {
		create("fleet$i", url => "$T/?delay=50", interval => '1s', timeout => '900ms');
	}
	my $since = $t->psql('SELECT now()');
	sleep 6;
	my $dup = $t->psql("SELECT count(*) FROM (SELECT c.monitor_id, c.due FROM check_result c"
	    . " JOIN monitor m ON m.id = c.monitor_id WHERE m.name LIKE 'fleet%'"
	    . " GROUP BY 1, 2 HAVING count(*) > 1) d");
	my $total = $t->psql("SELECT count(*) FROM check_result c JOIN monitor m"
	    . " ON m.id = c.monitor_id WHERE m.name LIKE 'fleet%'");
	cmp_ok($total, '>=', 80, "$total checks of 20 monitors in 6 s");
	is($dup, 0, 'no (monitor, due time) was checked twice');
	my %pids;
	for my $l ($t->log_lines(qr/msg="check done"/)) {
		$pids{ $l->{pid} // $l->{worker_pid} // '' }++;
	}
	cmp_ok(scalar(keys %pids), '>=', 2, 'both checkers took checks: '
	    . join(', ', map { "$_=$pids{$_}" } sort keys %pids));
	$t->psql("UPDATE monitor SET paused = true WHERE name LIKE 'fleet%'");
};

subtest 'results waiting on the database do not hold up the checks' => sub {
	# The record statements wait on a lock for 4 s; the checks due
	# meanwhile still start on time (claims go on their own session)
	# and their results are recorded once the lock is gone.
	for my $i (1 .. 20) {
		create("held$i", url => "$T/", interval => '1s', timeout => '900ms');
	}
	my $cnt = "SELECT count(*) FROM check_result c JOIN monitor m"
	    . " ON m.id = c.monitor_id WHERE m.name LIKE 'held%'";
	wait_count($cnt, 40, 20);
	my $bg = $t->psql_bg("BEGIN; LOCK TABLE monitor_rollup_hour IN EXCLUSIVE MODE;"
	    . " SELECT pg_sleep(4); COMMIT;");
	my $end = time + 10;
	sleep 0.05 while time < $end && !$t->psql("SELECT count(*) FROM pg_locks"
	    . " WHERE relation = 'monitor_rollup_hour'::regclass AND mode = 'ExclusiveLock'"
	    . " AND granted");
	my $from = $t->psql("SELECT now() + interval '1 second'");
	my $waiting = 0;
	$end = time + 3;
	while (time < $end && !$waiting) {
		$waiting = $t->psql("SELECT count(*) FROM pg_stat_activity"
		    . " WHERE wait_event_type = 'Lock' AND application_name = 'dashcgi-checker'");
		sleep 0.1;
	}
	cmp_ok($waiting, '>=', 1, 'a checker\'s record statement waits on the lock');
	is($t->wait_pid($bg, 20), 0, 'the lock was held 4 s and let go');
	my $to = $t->psql("SELECT now() - interval '1 second'");
	my $in = "c.due > '$from'::timestamptz AND c.due < '$to'::timestamptz";
	sleep 3;	# the held results are recorded
	my ($n, $ontime) = split /\|/, $t->psql("SELECT count(*), count(*) FILTER"
	    . " (WHERE c.at - c.due <= interval '1 second') FROM check_result c"
	    . " JOIN monitor m ON m.id = c.monitor_id WHERE m.name LIKE 'held%' AND $in");
	cmp_ok($n, '>=', 10, "$n checks due while the results waited were recorded after");
	cmp_ok($ontime, '>=', $n / 2, "$ontime of them started within 1 s of their due time"
	    . ' (the monitors of the held batch wait for it; the others do not)');
	is($t->psql("SELECT count(*) FROM (SELECT 1 FROM check_result c JOIN monitor m"
	    . " ON m.id = c.monitor_id WHERE m.name LIKE 'held%' GROUP BY c.monitor_id, c.due"
	    . " HAVING count(*) > 1) d"), 0, 'no result recorded twice');
	# A monitor row held elsewhere: the batches skip its results (sent
	# again later), the others go on.  Statements that update many
	# monitors at once never deadlock with a batch.
	my $held = $t->psql("SELECT count(*) FROM check_result c JOIN monitor m"
	    . " ON m.id = c.monitor_id WHERE m.name = 'held1'");
	my $others = $t->psql("$cnt AND m.name <> 'held1'");
	$bg = $t->psql_bg("BEGIN; SELECT 1 FROM monitor WHERE name = 'held1' FOR UPDATE;"
	    . " SELECT pg_sleep(3); COMMIT;");
	sleep 2;
	cmp_ok($t->psql("$cnt AND m.name <> 'held1'"), '>=', $others + 19,
	    'the other monitors\' results are recorded while one monitor row is held');
	is($t->wait_pid($bg, 20), 0, 'the monitor row was let go');
	cmp_ok(wait_count("SELECT count(*) FROM check_result c JOIN monitor m"
	    . " ON m.id = c.monitor_id WHERE m.name = 'held1'", $held + 3, 10), '>=', $held + 3,
	    'the held monitor\'s results are recorded after');
	my $fails = 0;
	for (1 .. 30) {
		my ($ok) = $t->psql_ok("UPDATE monitor SET updated_by = 'bulk' WHERE name LIKE 'held%'");
		$fails++ unless $ok;
		sleep 0.1;
	}
	is($fails, 0, '30 updates of all 20 monitors while batches record: no deadlock');
	is($t->psql("SELECT count(*) FROM (SELECT 1 FROM check_result c JOIN monitor m"
	    . " ON m.id = c.monitor_id WHERE m.name LIKE 'held%' GROUP BY c.monitor_id, c.due"
	    . " HAVING count(*) > 1) d"), 0, 'still no result recorded twice');
	$t->psql("UPDATE monitor SET paused = true WHERE name LIKE 'held%'");
};

subtest 'each error kind, with its timing phases' => sub {
	# Timeouts are generous: the test machine may be loaded.
	create('probe', url => "$T/", interval => '60s', timeout => '3s',
	    paused => JSON::PP::true);
	my @cases = (
	    [ "$T/?delay=100", {}, undef ],
	    [ "$T/?status=500", {}, 'status' ],
	    [ "$T/?status=301", {}, 'status' ],
	    [ "$T/?status=301", { status => ['3xx'] }, undef ],
	    [ "$T/?body=hello", { bodyContains => 'bye' }, 'body' ],
	    [ "$T/?body=hello+world", { bodyContains => 'world' }, undef ],
	    [ "$T/?delay=300", { maxLatency => '100ms' }, 'latency' ],
	    [ "$T/?delay=6000", {}, 'timeout' ],
	    [ "$T/close", {}, 'connect' ],
	    [ "http://127.0.0.1:1/", {}, 'connect' ],
	    [ "http://no-such-host.invalid/", {}, 'dns' ],
	    [ "$T/redirect?to=/?status=204", {}, undef ],
	);
	for my $c (@cases) {
		my ($url, $expect, $err) = @$c;
		my $m = body($t->request(GET => "$P/monitors/probe", user => 'carol'));
		$m->{spec}{url} = $url;
		$m->{spec}{expect} = $expect;
		my $r = $t->request(PUT => "$P/monitors/probe", user => 'carol', json => $m);
		is($r->{status}, 200, "PUT $url") or diag $r->{content};
		$r = $t->request(POST => "$P/monitors/probe/check", user => 'carol');
		my $res = body($r);
		is($res->{error}, $err, "$url: " . ($err // 'ok'))
		    or diag $r->{content};
		if (!defined $err) {
			ok($res->{ok}, 'ok');
			for my $ph (qw(dnsMs connectMs firstByteMs totalMs)) {
				ok(defined $res->{timings}{$ph}, "timing $ph recorded");
			}
			ok(!defined $res->{timings}{tlsMs}, 'no TLS phase over http');
		}
		if ($url =~ /delay=100$/) {
			cmp_ok($res->{latencyMs}, '>=', 100, 'total includes the delay');
			cmp_ok($res->{timings}{firstByteMs}, '>=', 95, 'first byte after the delay');
		}
		if (($err // '') eq 'timeout') {
			cmp_ok($res->{latencyMs}, '<', 5000, 'the timeout cut it short');
		}
	}
};

subtest 'thresholds both ways, one alert per change' => sub {
	open(my $fh, '>', "$dir/flip") or die;
	print $fh "200 0 ok\n";
	close $fh;
	create('flip', url => "$T/file/flip", interval => '2s', timeout => '1500ms',
	    failureThreshold => 3, successThreshold => 2);
	my $end = time + 20;
	sleep 0.2 while time < $end && $t->psql("SELECT state FROM monitor WHERE name = 'flip'") ne 'up';
	is($t->psql("SELECT state FROM monitor WHERE name = 'flip'"), 'up', 'up');
	open($fh, '>', "$dir/flip") or die;
	print $fh "503 0 down\n";
	close $fh;
	$end = time + 30;
	sleep 0.2 while time < $end && $t->psql("SELECT state FROM monitor WHERE name = 'flip'") ne 'down';
	open($fh, '>', "$dir/flip") or die;
	print $fh "200 0 ok\n";
	close $fh;
	$end = time + 30;
	sleep 0.2 while time < $end && $t->psql("SELECT state FROM monitor WHERE name = 'flip'") ne 'up';
	$t->psql("UPDATE monitor SET paused = true WHERE name = 'flip'");
	sleep 1;
	my @a = rows("SELECT from_state, to_state, rfc3339_ms(at) FROM alert WHERE monitor = 'flip' ORDER BY id");
	# The results, oldest first.  A loaded machine may time a check
	# out anywhere, so the expected changes come from running the
	# state machine over the results actually recorded.
	my @r = rows("SELECT c.ok, rfc3339_ms(c.at) FROM check_result c JOIN monitor m"
	    . " ON m.id = c.monitor_id WHERE m.name = 'flip' ORDER BY c.at");
	my ($state, $okn, $failn, @want) = ('pending', 0, 0);
	for my $x (@r) {
		if ($x->[0] eq 't') { $okn++; $failn = 0 } else { $failn++; $okn = 0 }
		my $to = $state ne 'up' && $okn >= 2 ? 'up'
		    : $state ne 'down' && $failn >= 3 ? 'down' : $state;
		push @want, "$state>$to\@$x->[1]" if $to ne $state;
		$state = $to;
	}
	my $seq = join '', map { $_->[0] eq 't' ? 'u' : 'd' } @r;
	is_deeply([ map { "$_->[0]>$_->[1]\@$_->[2]" } @a ], \@want,
	    "one alert on each result that completed a streak ($seq)");
	like(join(' ', map { "$_->[0]>$_->[1]" } @a), qr/pending>up up>down down>up/,
	    'pending → up → down → up');
	my $al = body($t->request(GET => "$P/alerts?monitor=flip", user => 'carol'));
	is(scalar @$al, scalar @a, 'GET alerts lists the changes');
	is($al->[0]{to}, 'up', 'newest first');
};

subtest 'percentiles from the histogram vs exact percentiles of the raw results' => sub {
	create('lat', url => "$T/random?min=5&max=400", interval => '60s',
	    timeout => '5s', paused => JSON::PP::true);
	for (1 .. 60) {
		$t->request(POST => "$P/monitors/lat/check", user => 'carol');
	}
	my $u = body($t->request(GET => "$P/monitors/lat/uptime", user => 'carol'));
	is($u->{'24h'}{checks}, 60, '60 checks in the roll-ups');
	for my $q ([ p50 => 0.5 ], [ p95 => 0.95 ], [ p99 => 0.99 ]) {
		my $exact = $t->psql("SELECT percentile_disc($q->[1]) WITHIN GROUP"
		    . " (ORDER BY latency_ms) FROM check_result c JOIN monitor m"
		    . " ON m.id = c.monitor_id WHERE m.name = 'lat'");
		my $est = $u->{'24h'}{latency}{$q->[0]};
		my $ratio = $est / $exact;
		cmp_ok(abs(log($ratio) / log(2)), '<=', 1 / 8 + 1e-6,
		    sprintf('%s: %.1f ms from the histogram, %.1f ms exact (within 2^(1/8))',
			$q->[0], $est, $exact));
	}
	is($u->{'24h'}{latency}{p95}, $u->{'7d'}{latency}{p95},
	    'hour and day roll-ups agree');
};

subtest 'TLS: the certificate\'s expiry is read; an untrusted one is a tls error' => sub {
	my %port;
	for my $c (qw(trusted untrusted)) {
		$port{$c} = DashTest::free_port();
		$t->spawn(['openssl', 's_server', '-accept', "127.0.0.1:$port{$c}",
		    '-cert', "$pki/$c.pem", '-key', "$pki/$c.key", '-www', '-quiet']);
	}
	sleep 1;
	create('tls', url => "https://127.0.0.1:$port{trusted}/", interval => '60s',
	    timeout => '5s', paused => JSON::PP::true);
	my $r = body($t->request(POST => "$P/monitors/tls/check", user => 'carol'));
	ok($r->{ok}, 'a trusted certificate: ok') or diag explain $r;
	ok(defined $r->{timings}{tlsMs}, 'the TLS phase is timed');
	my $want = $t->psql("SELECT to_char((now() + interval '5 days') AT TIME ZONE 'UTC', 'YYYY-MM-DD')");
	like($r->{tlsExpiresAt} // '', qr/^\Q$want\ET/, "it expires on $want");
	like($r->{message} // '', qr/certificate expires/,
	    'within tlsExpiryWarning (14d): the result says so');
	my $m = body($t->request(GET => "$P/monitors/tls", user => 'carol'));
	$m->{spec}{url} = "https://127.0.0.1:$port{untrusted}/";
	$t->request(PUT => "$P/monitors/tls", user => 'carol', json => $m);
	$r = body($t->request(POST => "$P/monitors/tls/check", user => 'carol'));
	is($r->{error}, 'tls', 'an untrusted certificate: tls') or diag explain $r;
};

subtest 'PostgreSQL restarted: checks in between are lost, then resume on the phase' => sub {
	create('outage', url => "$T/", interval => '1s', timeout => '800ms');
	my $cnt = "SELECT count(*) FROM check_result c JOIN monitor m ON m.id = c.monitor_id"
	    . " WHERE m.name = 'outage'";
	wait_count($cnt, 2, 15);
	my $phase = $t->psql("SELECT extract(epoch FROM next_due) * 1000 FROM monitor WHERE name = 'outage'");
	my $mark = $t->log_mark;
	$t->pg_stop;
	my $down = time;
	sleep 6;
	$t->pg_start;
	my $up = time;
	my $end = time + 30;
	my $after = 0;
	while (time < $end) {
		$after = $t->psql("SELECT count(*) FROM check_result c JOIN monitor m ON m.id = c.monitor_id"
		    . " WHERE m.name = 'outage' AND c.at > to_timestamp($up)");
		last if $after >= 3;
		sleep 0.5;
	}
	cmp_ok($after, '>=', 3, 'checks resumed after the restart');
	like(substr($t->log, $mark), qr/checker: (lost the database connection|connected to the database)/,
	    'the checker noticed and reconnected');
	$t->psql("UPDATE monitor SET paused = true WHERE name = 'outage'");
	my @due = map { $_->[0] } rows("SELECT extract(epoch FROM c.due) * 1000 FROM check_result c"
	    . " JOIN monitor m ON m.id = c.monitor_id WHERE m.name = 'outage' ORDER BY c.due");
	my %seen;
	is(scalar(grep { $seen{$_}++ } @due), 0, 'no due time checked twice');
	my @off = grep { my $k = ($_ - $phase) / 1000; abs($k - sprintf('%.0f', $k)) > 0.001 } @due;
	is(scalar @off, 0, 'every due time keeps the 1 s phase');
	# Checks claimed before the stop (up to 2 s ahead of their due
	# time) still run and are recorded once it is back; due times past
	# that look-ahead were never claimed, so they are lost.
	my $ahead = 2;
	my $gap = grep { $_ / 1000 > $down + $ahead + 1 && $_ / 1000 < $up - 1 } @due;
	cmp_ok($gap, '<=', 1, "due times while the database was away: $gap recorded (lost, not replayed)");
	diag sprintf('outage %.1f s; %d checks after it', $up - $down, $after);
};

$t->stop_spawned($tpid);
done_testing;
