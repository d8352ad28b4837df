#!/usr/bin/perl
# Read replicas (database.replicas) against a real streaming replica made
# with pg_basebackup from DashTest's PostgreSQL, a second postmaster on
# its own socket directory:
#  - reads that tolerate lag (dashboard GET, lists) run on the replica;
#  - a user's reads right after the user's own change run on the primary
#    (read_your_writes), other users may read the replica;
#  - with replay paused (pg_wal_replay_pause()) and writes arriving, a
#    replica beyond replica_max_lag is skipped: reads see the primary;
#  - the replica stopped mid-run: reads fall back, none fails.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep time);
use DashTest;
use DashScale;

my $t = DashTest->new(workers => 2, start => 0);
my $R = DashScale::replica($t);
my ($rdir, $rport) = @$R{qw(dir port)};
sub rpsql { DashScale::psql_at($t, $rdir, $rport, $_[0]) }
sub replica_stop { DashScale::replica_stop($t, $R, @_) }
sub caught_up { DashScale::caught_up($t, $R) }
is(rpsql('SELECT pg_is_in_recovery()'), 't', 'the replica is in recovery');

$t->psql(<<'SQL');
INSERT INTO project (name, created_by, updated_by) VALUES ('p1', 't', 't');
INSERT INTO project_member (project, user_name, role, created_by, updated_by)
    VALUES ('p1', 'alice', 'editor', 't', 't'), ('p1', 'bob', 'viewer', 't', 't');
SQL

my $REPLICA = "host=$rdir port=$rport dbname=dashcgi user=postgres";
sub start {
	my (%db) = @_;
	$t->stop_dashcgi('TERM', 20) if $t->dashcgi_running;
	$t->write_config({ database => { replicas => [$REPLICA], %db } });
	$t->start_dashcgi;
}

sub dash {
	my ($name, $title) = @_;
	return { kind => 'Dashboard', metadata => { name => $name },
	    spec => { display => { name => $title }, duration => '1h',
	    panels => {}, layouts => [] } };
}
my $P = '/api/v1/projects/p1/dashboards';

sub title {
	my ($user) = @_;
	my $r = $t->request(GET => "$P/d1", user => $user);
	return "$r->{status}" unless $r->{status} == 200;
	return $t->json($r)->{spec}{display}{name};
}

sub on_replica {
	my ($stmt) = @_;
	return $t->metric_value($t->metrics_text,
	    'dashcgi_db_replica_statements_total', { statement => $stmt }) // 0;
}

# --- reads on the replica, read-your-writes ---------------------------
start(replica_max_lag => '1h', read_your_writes => '2s');
my $r = $t->request(POST => $P, user => 'alice', json => dash('d1', 'v0'));
is($r->{status}, 200, 'create d1 (on the primary)') or diag $r->{content};
ok(caught_up(), 'the replica caught up');
sleep 2.2;	# alice's read-your-writes window is over

subtest 'reads run on the replica' => sub {
	my $before = on_replica('dash_get_cur');
	is(title('bob'), 'v0', 'bob reads d1') for 1 .. 4;
	cmp_ok(on_replica('dash_get_cur') - $before, '>=', 4, 'dash_get_cur (a GET) ran on the replica');
	my $n = rpsql("SELECT count(*) FROM pg_stat_activity WHERE "
	    . "application_name LIKE 'dashcgi worker % replica'");
	cmp_ok($n, '>=', 1, "workers hold replica connections ($n)");
	$r = $t->request(GET => $P, user => 'bob');
	is($r->{status}, 200, 'a list');
	cmp_ok(on_replica('dash_list'), '>=', 1, 'dash_list ran on the replica');
	$r = $t->request(GET => '/api/v1/health');
	is_deeply(eval { $t->json($r)->{checks}{database_replicas} },
	    { status => 'pass', configured => 1, usable => 1 },
	    'health reports the replica usable');
};

subtest 'read-your-writes: the writer reads the primary, others the replica' => sub {
	rpsql('SELECT pg_wal_replay_pause()');
	my $r = $t->request(PUT => "$P/d1", user => 'alice', json => dash('d1', 'v1'),
	    headers => { 'If-Match' => '"0"' });
	is($r->{status}, 200, 'alice changes d1') or diag $r->{content};
	is(title('alice'), 'v1', 'alice at once reads her change (primary)');
	is(title('alice'), 'v1', 'and again, from the other worker too');
	is(title('bob'), 'v0', 'bob reads the paused replica: the old title');
	sleep 2.2;
	is(title('alice'), 'v0', 'once read_your_writes is over alice reads the replica too');
	rpsql('SELECT pg_wal_replay_resume()');
	ok(caught_up(), 'replay resumed');
	is(title('bob'), 'v1', 'and the replica serves the change');
};

# --- lag --------------------------------------------------------------
subtest 'a replica beyond replica_max_lag is skipped' => sub {
	start(replica_max_lag => '1s', read_your_writes => '0');
	is(title('bob'), 'v1', 'bob reads');
	my $m = $t->log_mark;
	rpsql('SELECT pg_wal_replay_pause()');
	$t->psql("UPDATE dashboard SET spec = jsonb_set(spec, '{display,name}', "
	    . "'\"v2\"') WHERE name = 'd1'");
	sleep 2.5;	# lag > 1s, and each worker's once-a-second check ran
	my $before = on_replica('dash_get_cur');
	is(title('bob'), 'v2', 'a read sees the primary') for 1 .. 4;
	is(on_replica('dash_get_cur'), $before, 'none ran on the lagging replica');
	ok($t->wait_log(qr/replica 1 lags \d+ ms/, 5, $m), 'the lag is logged');
	rpsql('SELECT pg_wal_replay_resume()');
	ok(caught_up(), 'replay resumed');
	sleep 1.2;
	is(title('bob'), 'v2', 'bob reads') for 1 .. 4;
	cmp_ok(on_replica('dash_get_cur'), '>', $before, 'the replica serves again');
};

# --- the replica stops mid-run ---------------------------------------
subtest 'the replica stopped mid-run: reads fall back' => sub {
	my $h = $t->load_start(clients => 3, duration => 4, method => 'GET',
	    path => "$P/d1", user => 'bob', max => 2000);
	sleep 1.5;
	replica_stop('immediate');
	my $res = $t->load_wait($h);
	cmp_ok($res->{total}, '>', 20, "requests during the run ($res->{total})");
	is($res->{fail}, 0, 'none failed') or diag explain $res;
	is(title('bob'), 'v2', 'reads go on without the replica');
	$r = $t->request(GET => '/ready');
	is($r->{status}, 200, '/ready stays ready');
	$r = $t->request(GET => '/api/v1/health');
	is($r->{status}, 200, 'health: 200 (the primary serves)');
	is_deeply(eval { $t->json($r)->{checks}{database_replicas} },
	    { status => 'warn', configured => 1, usable => 0 },
	    'health reports the replica unusable');
};

$t->stop_dashcgi('TERM', 20);
done_testing;
