#!/usr/bin/perl
# The worker's connection after trouble (issue 16):
#  - item 18: after PostgreSQL restarts, the first request of every
#    worker succeeds (an idle connection is checked before use) instead
#    of failing on the dead socket;
#  - item 6: a change whose COMMIT answer is lost is answered with its
#    true outcome.  The answer is lost for real: COMMIT waits for a
#    synchronous standby that does not exist (the transaction is then
#    committed locally) and the backend is terminated.  Reconnected,
#    txid_status() says "committed": 200.  With PostgreSQL stopped
#    instead, the outcome cannot be learnt: 503 commit_outcome_unknown,
#    never "it has not been applied" for a change that was.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep time);
use DashTest;

my $t = DashTest->new(workers => 2);
$t->psql(<<'SQL');
INSERT INTO project (name, created_by, updated_by) VALUES ('p1', 't', 't');
INSERT INTO project_member (project, user_name, role, created_by, updated_by)
    VALUES ('p1', 'alice', 'editor', 't', 't');
SQL
my $P = '/api/v1/projects/p1/dashboards';

sub dash {
	my ($name, $title) = @_;
	return { kind => 'Dashboard', metadata => { name => $name },
	    spec => { display => { name => $title }, duration => '1h',
	    panels => {}, layouts => [] } };
}

for my $d (qw(d1 d2 d3)) {
	my $r = $t->request(POST => $P, user => 'alice', json => dash($d, $d));
	is($r->{status}, 200, "create $d") or diag $r->{content};
}
# Every worker has used its connection.
$t->request(GET => "$P/d1", user => 'alice') for 1 .. 6;

# --- item 18 --------------------------------------------------------
subtest 'after a PostgreSQL restart the first request of each worker succeeds' => sub {
	$t->pg_stop('fast');
	$t->pg_start;
	sleep 1.2;	# idle longer than the check's threshold
	my @st = map { $t->request(GET => "$P/d1", user => 'alice')->{status} } 1 .. 6;
	is_deeply(\@st, [(200) x 6], 'six reads in a row: all 200 (' . "@st" . ')');
	$t->pg_stop('fast');
	$t->pg_start;
	sleep 1.2;
	my $r = $t->request(PUT => "$P/d1", user => 'alice', json => dash('d1', 'x'),
	    headers => { 'If-Match' => '"0"' });
	is($r->{status}, 200, 'the first change after a restart: 200') or diag $r->{content};
};

# --- item 6 ---------------------------------------------------------
# COMMIT waits for a standby that never comes: ALTER SYSTEM on the
# postgres database (synchronous_commit off there: no wait), and
# synchronous_commit on for dashcgi's sessions only.
$t->psql("ALTER DATABASE dashcgi SET synchronous_commit = on", db => 'postgres');
$t->stop_dashcgi('TERM', 20);
$t->start_dashcgi;

sub sync_rep {
	my ($on) = @_;
	$t->psql(($on ? "ALTER SYSTEM SET synchronous_standby_names = 'nobody'"
	    : 'ALTER SYSTEM RESET synchronous_standby_names'), db => 'postgres');
	$t->psql('SELECT pg_reload_conf()', db => 'postgres');
	sleep 0.3;
}

# A PUT in the background; -> (pid, file its "status code" goes to).
my $N = 0;
sub put_bg {
	my ($name, $title, $ver) = @_;
	my $f = $t->tmpdir . '/put-' . ++$N;
	my $pid = $t->bg(sub {
		my $r = $t->request(PUT => "$P/$name", user => 'alice',
		    json => dash($name, $title), headers => { 'If-Match' => qq("$ver") },
		    timeout => 30);
		my $code = eval { JSON::PP->new->decode($r->{content})->{code} } // '';
		open(my $fh, '>', $f) or return 1;
		print $fh "$r->{status} $code";
		close $fh;
		return 0;
	});
	return ($pid, $f);
}

# The backend of dashcgi's that waits in COMMIT for the standby.
sub waiting_backend {
	my $deadline = time + 15;
	while (time < $deadline) {
		my $pid = $t->psql("SELECT pid FROM pg_stat_activity WHERE "
		    . "wait_event = 'SyncRep' AND datname = 'dashcgi' LIMIT 1",
		    db => 'postgres');
		return $pid if $pid;
		sleep 0.1;
	}
	return undef;
}

sub slurp { open(my $fh, '<', $_[0]) or return ''; local $/; my $s = <$fh>; $s }

subtest 'a lost COMMIT answer of a committed change: 200' => sub {
	my $m = $t->log_mark;
	sync_rep(1);
	my ($pid, $f) = put_bg('d2', 'committed while the answer was lost', 0);
	my $be = waiting_backend();
	ok($be, 'COMMIT is waiting for the standby') or return;
	$t->psql("SELECT pg_terminate_backend($be)", db => 'postgres');
	is($t->wait_pid($pid, 30), 0, 'the request finished');
	sync_rep(0);
	is(slurp($f), '200 ', 'answered 200: the change was applied');
	is($t->psql("SELECT version || ' ' || (spec->'display'->>'name') FROM dashboard "
	    . "WHERE name = 'd2'"), '1 committed while the answer was lost',
	    'and it is in the database');
	ok($t->wait_log(qr/COMMIT answer was lost; transaction \d+ committed/, 5, $m),
	    'the log says how the outcome was learnt');
};

subtest 'outcome that cannot be learnt: 503 commit_outcome_unknown' => sub {
	sync_rep(1);
	my ($pid, $f) = put_bg('d3', 'committed, database then down', 0);
	my $be = waiting_backend();
	ok($be, 'COMMIT is waiting for the standby') or return;
	$t->pg_stop('fast');
	is($t->wait_pid($pid, 30), 0, 'the request finished');
	is(slurp($f), '503 commit_outcome_unknown',
	    'answered 503 commit_outcome_unknown, not "not applied"');
	$t->pg_start;
	sync_rep(0);
	is($t->psql("SELECT version FROM dashboard WHERE name = 'd3'"), 1,
	    'the change had in fact been applied: "not applied" would have been false');
};

subtest 'a COMMIT PostgreSQL refuses is still "not applied"' => sub {
	# A deferred constraint fails at COMMIT: the answer arrives, the
	# transaction rolled back.
	$t->psql(<<'SQL');
CREATE FUNCTION t38_refuse() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN IF NEW.spec->'display'->>'name' = 'refused at commit' THEN
    RAISE EXCEPTION 'refused at commit' USING ERRCODE = '40001'; END IF;
  RETURN NULL; END$$;
CREATE CONSTRAINT TRIGGER t38_refuse AFTER UPDATE ON dashboard
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION t38_refuse();
SQL
	sleep 1.2;
	my $r = $t->request(PUT => "$P/d1", user => 'alice',
	    json => dash('d1', 'refused at commit'), headers => { 'If-Match' => '"1"' });
	is($r->{status}, 503, '503');
	is(eval { $t->json($r)->{code} }, 'database_unavailable',
	    'database_unavailable: not applied');
	is($t->psql("SELECT version FROM dashboard WHERE name = 'd1'"), 1,
	    'and indeed not applied');
	$t->psql('DROP TRIGGER t38_refuse ON dashboard; DROP FUNCTION t38_refuse()');
};

$t->stop_dashcgi('TERM', 20);
done_testing;
