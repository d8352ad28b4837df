#!/usr/bin/perl
# dashcgi behind a real PgBouncer (Debian's, 1.18) in transaction mode,
# with a pool smaller than the workers (2 workers, default_pool_size 1):
#  - database.pooler: none (startup parameter "options") is refused by
#    PgBouncer: the log names the remedy;
#  - named prepared statements through PgBouncer < 1.21 fail with a log
#    error and a 503 code naming database.prepared_statements;
#  - with pooler: pgbouncer and prepared_statements: unnamed, dashboards
#    (create, read, list, If-Match locking, history), audit, shares
#    (create, list, the login-free read), templates and export/import
#    all work;
#  - statement_timeout is SET LOCAL inside change transactions (a change
#    stuck on a lock is cancelled) and leaks into no other pooled
#    session; a role setting covers single statements;
#  - migrate (a session advisory lock) refuses to run through the pooler
#    without database.direct_url and runs with it;
#  - /metrics carries per-statement durations and errors.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep time);
use DashTest;
use DashScale;

plan skip_all => 'no pgbouncer (t/deps installs it)'
    unless DashScale::have_pgbouncer();

my $t = DashTest->new(workers => 2, start => 0,
    config => { auth => { admins => ['admin'] } });
my $B = DashScale::pgbouncer($t, pool_size => 1);
ok(-S "$B->{dir}/.s.PGSQL.$B->{port}", 'pgbouncer listens on its unix socket');
my ($pgb, $PORT, $bouncer) = @$B{qw(dir port pid)};
my ($pgsock, $pgport) = ($t->pg_socket_dir, $t->pg_port);

# psql through the pooler.
sub bounced { DashScale::psql_at($t, $pgb, $PORT, $_[0]) }

my $DIRECT = "host=$pgsock port=$pgport dbname=dashcgi user=postgres";
my %VIA = (host => $pgb, port => $PORT);

$t->psql(<<'SQL');
INSERT INTO project (name, created_by, updated_by)
    VALUES ('p1', 't', 't'), ('p2', 't', 't');
INSERT INTO project_member (project, user_name, role, created_by, updated_by)
    VALUES ('p1', 'alice', 'editor', 't', 't'), ('p1', 'bob', 'viewer', 't', 't'),
	   ('p2', 'alice', 'editor', 't', 't');
SQL

sub restart {
	my (%db) = @_;
	$t->stop_dashcgi('TERM', 20) if $t->dashcgi_running;
	$t->write_config({ database => { %VIA, %db } });
	$t->start_dashcgi;
}

sub dash {
	my ($name, $title) = @_;
	return { kind => 'Dashboard', metadata => { name => $name },
	    spec => { display => { name => $title }, duration => '1h',
	    panels => { p1 => { kind => 'Panel', spec => {
		plugin => { kind => 'TimeSeriesChart', spec => {} } } } },
	    layouts => [ { kind => 'Grid', spec => { items => [ { x => 0,
		y => 0, width => 12, height => 6,
		content => { '$ref' => '#/spec/panels/p1' } } ] } } ] } };
}

my $P = '/api/v1/projects/p1/dashboards';

# --- 1. the default (options at connect) through PgBouncer -----------
subtest 'pooler none through pgbouncer: refused, the log names the remedy' => sub {
	my $m = $t->log_mark;
	$t->write_config({ database => { %VIA } });
	$t->start_dashcgi;
	ok($t->wait_log(qr/unsupported startup parameter.*database\.pooler: pgbouncer/s,
	    15, $m), 'the refusal is logged with database.pooler: pgbouncer as the remedy');
	my $r = $t->request(GET => $P, user => 'alice');
	is($r->{status}, 503, 'a database route answers 503');
	$t->stop_dashcgi('TERM', 20);
};

# --- 2. named prepared statements through PgBouncer 1.18 -------------
subtest 'named statements through pgbouncer 1.18: a clear error' => sub {
	my $m = $t->log_mark;
	restart(pooler => 'pgbouncer', prepared_statements => 'named',
	    direct_url => $DIRECT);
	ok($t->wait_log(qr/prepared_statements: unnamed/, 15, $m),
	    'the log names database.prepared_statements: unnamed');
	my (%codes, %status);
	# The worker that clashes logs the remedy at its first statement
	# and only then accepts, once it has tried them all (every
	# module's, a few hundred): ask until it answers, within bounds.
	my $until = time + 20;
	for (my $n = 0; $n < 400 && time < $until; $n++) {
		last if $status{503} && $n >= 30;
		my $r = $t->request(GET => $P, user => 'alice');
		$status{$r->{status}}++;
		if ($r->{status} == 503) {
			my $j = eval { $t->json($r) } || {};
			$codes{$j->{code} // ''}++;
			like($j->{message} // '', qr/prepared_statements: unnamed/,
			    '503 message names the remedy') if $codes{$j->{code} // ''} == 1;
		}
	}
	ok($status{503}, 'a worker whose statements clash answers 503 (' .
	    join(',', map { "$_=$status{$_}" } sort keys %status) . ')');
	is_deeply([keys %codes], ['prepared_statements_unsupported'],
	    'every 503 says prepared_statements_unsupported');
};

# --- 3. unnamed statements: every route works -----------------------
my $m = $t->log_mark;
restart(pooler => 'pgbouncer', prepared_statements => 'unnamed',
    direct_url => $DIRECT, statement_timeout => '700ms');
ok($t->wait_log(qr/without statement_timeout.*ALTER ROLE/, 10, $m),
    'a role without statement_timeout is warned about');

my ($r, $j);
for my $d (qw(d1 d2 d3)) {
	$r = $t->request(POST => $P, user => 'alice', json => dash($d, "$d v0"));
	is($r->{status}, 200, "create $d") or diag $r->{content};
}
$r = $t->request(GET => "$P/d1", user => 'bob');
is($r->{status}, 200, 'GET a dashboard');
is($t->header($r, 'ETag'), '"0"', 'its ETag');
$r = $t->request(PUT => "$P/d1", user => 'alice', json => dash('d1', 'd1 v1'),
    headers => { 'If-Match' => '"0"' });
is($r->{status}, 200, 'PUT with the current If-Match') or diag $r->{content};
$r = $t->request(PUT => "$P/d1", user => 'alice', json => dash('d1', 'd1 v2'),
    headers => { 'If-Match' => '"0"' });
is($r->{status}, 412, 'PUT with a stale If-Match: 412');
$r = $t->request(GET => "$P/d1", user => 'bob', headers => { 'If-None-Match' => '"1"' });
is($r->{status}, 304, 'If-None-Match the current version: 304');
$r = $t->request(GET => $P, user => 'bob');
is($r->{status}, 200, 'list');
$j = $t->json($r);
is(scalar @{ $j->{items} // $j->{dashboards} // $j // [] }, 3, 'three dashboards listed')
    if ref $j eq 'HASH';
$r = $t->request(GET => "$P/d1/versions", user => 'bob');
is($r->{status}, 200, 'history') or diag $r->{content};

$r = $t->request(POST => "$P/d2/shares", user => 'alice', json => {});
is($r->{status}, 201, 'create a share link') or diag $r->{content};
my $token = eval { $t->json($r)->{token} } // '';
$r = $t->request(GET => "$P/d2/shares", user => 'alice');
is($r->{status}, 200, 'list share links');
$r = $t->request(GET => "/api/v1/shared/$token");
is($r->{status}, 200, 'the login-free read of a share link') or diag $r->{content};

$r = $t->request(GET => '/api/v1/templates', user => 'bob');
is($r->{status}, 200, 'list templates');
$r = $t->request(POST => '/api/v1/templates', user => 'admin', json => {
    id => 'pooled', name => 'Pooled', description => 'x', category => 'ops',
    dashboard => dash('t', 'T')->{spec} });
is($r->{status}, 201, 'create a template') or diag $r->{content};

$r = $t->request(GET => '/api/v1/projects/p1/export', user => 'alice');
is($r->{status}, 200, 'export') or diag $r->{content};
(my $ndjson = $r->{content}) =~ s/"project"\s*:\s*"p1"/"project":"p2"/g;
$r = $t->request(POST => '/api/v1/projects/p2/import', user => 'alice',
    body => $ndjson, content_type => 'application/x-ndjson');
is($r->{status}, 200, 'import into another project') or diag $r->{content};
is($t->psql("SELECT count(*) FROM dashboard WHERE project = 'p2'"), 3,
    'the import wrote three dashboards');

$r = $t->request(GET => '/api/v1/audit?project=p1', user => 'admin');
is($r->{status}, 200, 'read the audit log') or diag $r->{content};
cmp_ok($t->psql("SELECT count(*) FROM audit_log WHERE project = 'p1'"), '>=', 5,
    'every change wrote its audit row');

# --- 4. statement_timeout through the pooler -------------------------
subtest 'statement_timeout: SET LOCAL in changes, no leak' => sub {
	# Hold the row lock of d3 for 4 s; the PUT waits and is cancelled
	# after 700ms by the SET LOCAL inside its transaction.
	my $before = bounced('SHOW statement_timeout');
	my $bg = $t->psql_bg("BEGIN; SELECT 1 FROM dashboard WHERE project = 'p1' "
	    . "AND name = 'd3' FOR UPDATE; SELECT pg_sleep(4); COMMIT;");
	sleep 0.5;
	my $t0 = time;
	my $r = $t->request(PUT => "$P/d3", user => 'alice',
	    json => dash('d3', 'd3 v1'), headers => { 'If-Match' => '"0"' });
	my $dt = time - $t0;
	is($r->{status}, 503, 'a change stuck on a lock: 503');
	is(eval { $t->json($r)->{code} }, 'database_timeout', 'database_timeout');
	cmp_ok($dt, '<', 3, sprintf('cancelled by statement_timeout (%.2fs)', $dt));
	$t->wait_pid($bg, 10);
	# The only server connection (pool size 1) served that transaction:
	# a new client through the pooler sees the role's setting.
	my $after = bounced('SHOW statement_timeout');
	isnt($after, '700ms', 'our SET LOCAL did not stay on the server connection');
	is($after, $before, "the pooled session keeps its own setting ($before)");
	$r = $t->request(PUT => "$P/d3", user => 'alice',
	    json => dash('d3', 'd3 v1'), headers => { 'If-Match' => '"0"' });
	is($r->{status}, 200, 'the same change once the lock is gone');
};

# --- 5. session holders need a direct connection ---------------------
subtest 'migrate: refused through the pooler, fine with direct_url' => sub {
	$t->write_config({ database => { %VIA, pooler => 'pgbouncer',
	    prepared_statements => 'unnamed' } });
	my ($rc, $out, $err) = $t->run_dashcgi('migrate', 'status');
	isnt($rc, 0, 'migrate status without direct_url fails');
	like("$out$err", qr/database\.direct_url/, 'and names database.direct_url');
	$t->write_config({ database => { %VIA, pooler => 'pgbouncer',
	    prepared_statements => 'unnamed', direct_url => $DIRECT } });
	($rc, $out, $err) = $t->run_dashcgi('migrate', 'up');
	is($rc, 0, 'migrate up with direct_url') or diag "$out$err";
	($rc, $out, $err) = $t->run_dashcgi('maintenance');
	is($rc, 0, 'maintenance with direct_url') or diag "$out$err";
	is($t->psql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"), 0,
	    'no advisory lock is left behind');
};

# --- 6. per-statement metrics ---------------------------------------
subtest 'per-statement metrics' => sub {
	my $text = $t->metrics_text;
	cmp_ok($t->metric_value($text, 'dashcgi_db_statement_duration_seconds_count',
	    { statement => 'dash_get' }), '>=', 2, 'dash_get counted');
	cmp_ok($t->metric_value($text, 'dashcgi_db_statement_duration_seconds_sum',
	    { statement => 'dash_create' }), '>', 0, 'dash_create time summed');
	cmp_ok($t->metric_value($text, 'dashcgi_db_statement_errors_total',
	    { statement => 'dash_update', sqlstate_class => '57' }), '>=', 1,
	    'the cancelled dash_update counted as an error of class 57');
	is($t->metric_value($text, 'dashcgi_db_statement_errors_total',
	    { statement => 'dash_get', sqlstate_class => 'none' }), 0,
	    'a statement without errors shows 0');
	my ($ok, $msg) = $t->promtool_check($text);
	ok($ok, 'promtool accepts /metrics') or diag $msg;
};

$t->stop_dashcgi('TERM', 20);
$t->stop_spawned($bouncer, 10);
done_testing;
