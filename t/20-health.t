#!/usr/bin/perl
# Health, readiness and metrics through nginx: shapes, request ids,
# Prometheus format (promtool), and counters shared by every worker.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep time);
use DashTest;

my $WORKERS = 3;
my $t = DashTest->new(workers => $WORKERS);

my $RFC3339 = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z$/;

subtest '/live' => sub {
	my $r = $t->request(GET => '/live');
	is($r->{status}, 200, 'answers 200');
	like($t->header($r, 'Content-Type') // '', qr{^application/json}, 'JSON');
	my $j = $t->json($r);
	is_deeply($j, { alive => JSON::PP::true }, '{"alive":true}');

	$r = $t->request(HEAD => '/live');
	is($r->{status}, 200, 'HEAD /live 200');
	is($r->{content} // '', '', 'HEAD has no body');
};

subtest 'X-Request-Id: generated, unique, echoed, logged' => sub {
	my $a = $t->request(GET => '/live');
	my $b = $t->request(GET => '/live');
	my ($ia, $ib) = map { $t->header($_, 'X-Request-Id') // '' } $a, $b;
	like($ia, qr/^[\x21-\x7e]{8,}$/, "generated: $ia");
	isnt($ia, $ib, 'two requests, two ids');

	my $id = "dashtest-$$-" . int(rand(1e9));
	my $mark = $t->log_mark;
	my $r = $t->request(GET => '/ready', headers => { 'X-Request-Id' => $id });
	is($t->header($r, 'X-Request-Id'), $id, 'the client id is echoed');
	ok($t->wait_log(qr/msg="?request"?.*request_id="?\Q$id\E/, 5, $mark),
	    'the request line carries it');
	my ($line) = $t->log_lines(qr/\Q$id\E/, $mark);
	is($line->{route}, '/ready', 'request line: route') if $line;
	is($line->{status}, 200, 'request line: status') if $line;

	$r = $t->request(GET => '/api/v1/nope', user => 'alice',
	    headers => { 'X-Request-Id' => "$id-err" });
	is($t->header($r, 'X-Request-Id'), "$id-err", 'echoed on errors too');
};

subtest '/ready' => sub {
	my $r = $t->request(GET => '/ready');
	is($r->{status}, 200, '200 with the database up and migrated');
	is_deeply($t->json($r), { ready => JSON::PP::true }, '{"ready":true}');
};

subtest '/api/v1/health' => sub {
	my $r = $t->request(GET => '/api/v1/health');
	is($r->{status}, 200, '200, no login needed');
	my $j = $t->json($r) // {};
	like($j->{status} // '', qr/^(?:healthy|degraded)$/, "status $j->{status}");
	like($j->{timestamp} // '', $RFC3339, 'timestamp is RFC 3339 UTC');
	like($j->{version} // '', qr/^\d+\.\d+\.\d+/, 'version');
	my $db = $j->{checks}{database} // {};
	like($db->{status} // '', qr/^(?:pass|warn)$/, 'database pass|warn');
	ok(defined $db->{response_time_ms} && $db->{response_time_ms} >= 0,
	    'database response_time_ms');
	my $w = $j->{checks}{workers} // {};
	is($w->{total}, $WORKERS, "workers.total = $WORKERS");
	ok(defined $w->{busy} && $w->{busy} >= 0 && $w->{busy} <= $WORKERS,
	    'workers.busy within 0..total');
};

subtest '/metrics: format and families' => sub {
	# Each worker connects and prepares every module's statements
	# before it reports itself up: give a busy host a few seconds.
	my $deadline = time + 10;
	sleep 0.1 until time > $deadline ||
	    ($t->metric_value($t->metrics_text, 'dashcgi_db_up') // 0) == 1;
	my $r = $t->request(GET => '/metrics');
	is($r->{status}, 200, '200, no login needed');
	like($t->header($r, 'Content-Type') // '', qr{^text/plain;\s*version=0\.0\.4},
	    'Prometheus text content type');
	my $m = $r->{content};
	my ($ok, $out) = $t->promtool_check($m);
	ok($ok, 'promtool check metrics passes') or diag $out;

	for my $f (qw(dashcgi_http_requests_total dashcgi_http_request_duration_seconds
	    dashcgi_db_errors_total dashcgi_db_up dashcgi_workers
	    dashcgi_worker_restarts_total dashcgi_build_info)) {
		like($m, qr/^# TYPE \Q$f\E (?:counter|gauge|histogram)$/m, "# TYPE $f");
	}
	like($m, qr/^# TYPE dashcgi_http_request_duration_seconds histogram$/m,
	    'duration is a histogram');
	ok(defined $t->metric_value($m, 'dashcgi_http_request_duration_seconds_bucket',
	    { route => '/live', le => '+Inf' }), 'histogram buckets by route');
	is($t->metric_value($m, 'dashcgi_db_up'), 1, 'dashcgi_db_up 1');
	my $idle = $t->metric_value($m, 'dashcgi_workers', { state => 'idle' });
	my $busy = $t->metric_value($m, 'dashcgi_workers', { state => 'busy' });
	ok(defined $idle && defined $busy, 'dashcgi_workers{state=idle|busy}');
	is(($idle // 0) + ($busy // 0), $WORKERS, 'idle + busy = workers');
	like($m, qr/^dashcgi_build_info\{[^}]*version="\d+\.\d+\.\d+[^"]*"[^}]*\} 1$/m,
	    'dashcgi_build_info{version} 1');
};

subtest 'counters are shared by all workers' => sub {
	my $label = { route => '/live', method => 'GET', code => '200' };
	my $before = $t->metric_value($t->metrics_text,
	    'dashcgi_http_requests_total', $label) // 0;
	my $hbefore = $t->metric_value($t->metrics_text,
	    'dashcgi_http_request_duration_seconds_count', { route => '/live' }) // 0;
	my $mark = $t->log_mark;

	# Concurrent clients so that every worker gets some of the work.
	my $load = $t->load_wait($t->load_start(clients => 6, duration => 2,
	    path => '/live'));
	my $k = $load->{ok};
	ok($k >= 50, "$k requests to /live served") or diag explain $load;
	is($load->{fail}, 0, 'none failed') or diag explain $load;

	my $m = $t->metrics_text;	# one scrape, from whichever worker
	my $after = $t->metric_value($m, 'dashcgi_http_requests_total', $label) // 0;
	cmp_ok($after - $before, '>=', $k,
	    "requests_total{route=/live,code=200} grew by >= $k in one scrape");
	my $hafter = $t->metric_value($m,
	    'dashcgi_http_request_duration_seconds_count', { route => '/live' }) // 0;
	cmp_ok($hafter - $hbefore, '>=', $k, 'the histogram count too');

	my %pids;
	for my $l ($t->log_lines(qr/route="?\/live\b/, $mark)) {
		next unless ($l->{msg} // '') eq 'request';
		$pids{ $l->{pid} }++ if defined $l->{pid};
	}
	cmp_ok(scalar(keys %pids), '>', 1,
	    'more than one worker served them: ' . join(' ', sort keys %pids));
	my %workers = map { $_ => 1 } $t->worker_pids;
	ok(!grep({ !$workers{$_} } keys %pids), 'all of them are workers of this master');
};

subtest '/metrics/health' => sub {
	my $r = $t->request(GET => '/metrics/health');
	is($r->{status}, 200, 'answers 200');
	like($t->header($r, 'Content-Type') // '', qr{^application/json}, 'JSON');
	my $j = $t->json($r) // {};
	is(ref $j, 'HASH', 'an object');
	is($j->{workers}{total}, $WORKERS, 'workers.total');
	ok(defined $j->{workers}{busy} && defined $j->{workers}{idle},
	    'workers busy and idle');
	cmp_ok($j->{http_requests_total} // 0, '>=', 50,
	    'http_requests_total counts every worker');
	ok(exists $j->{db_up} && $j->{db_up}, 'db_up');
	ok(exists $j->{db_errors_total}, 'db_errors_total');
	ok(exists $j->{worker_restarts_total}, 'worker_restarts_total');
	like($j->{version} // '', qr/^\d+\.\d+\.\d+/, 'version');
};

is($t->stop_dashcgi, 0, 'SIGTERM: master exits 0');
is($t->{stragglers} // 0, 0, 'no worker outlives the master');

done_testing;
