#!/usr/bin/perl
# The audit log as the database keeps it: append-only for every role
# (the superuser, the table's owner, a role granted everything);
# monthly partitions made at migrate time and ahead by maintenance, no
# default partition; retention drops whole old partitions and keeps the
# current one; rows land on either side of a month boundary.  And a
# worker SIGKILLed in the middle of a change leaves the change and its
# row together: both or neither.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep time);
use DashTest;

my $t = DashTest->new(auth => 0, workers => 2,
    config => { auth => { admins => ['admin'] } });

# The partition name of the month $n months from now (UTC).
sub part {
	my ($n) = @_;
	return $t->psql("SELECT 'audit_log_' || to_char(date_trunc('month', " .
	    "now() AT TIME ZONE 'UTC') + make_interval(months => $n), " .
	    "'YYYY_MM')");
}
sub exists_rel { $t->psql("SELECT to_regclass('$_[0]') IS NOT NULL") eq 't' }
sub count_rows { $t->psql('SELECT count(*) FROM audit_log') }

# ====================================================================
# Partitions

subtest 'migrate made this month and the next, and no default' => sub {
	ok(exists_rel(part(0)), part(0) . ' exists');
	ok(exists_rel(part(1)), part(1) . ' exists');
	is($t->psql("SELECT partdefid FROM pg_partitioned_table " .
	    "WHERE partrelid = 'audit_log'::regclass"), 0,
	    'audit_log has no default partition');
};

# Rows in the current partition to refuse changes to.
$t->psql(q{INSERT INTO audit_log (actor, action, result) SELECT 'seed',
    'access', 'denied' FROM generate_series(1, 5)});
my $rows0 = count_rows();
cmp_ok($rows0, '>=', 5, "rows to protect ($rows0)");

# ====================================================================
# Append-only

sub refused {
	my ($sql, $name, %o) = @_;
	my ($ok, $out) = $t->psql_ok($sql, %o);
	ok(!$ok, "$name: refused");
	like($out, qr/append-only/, "$name: by the audit_log guard")
	    or diag $out;
}

subtest 'UPDATE, DELETE, TRUNCATE refused for the superuser' => sub {
	my $cur = part(0);
	refused("UPDATE audit_log SET actor = 'x'", 'UPDATE audit_log');
	refused('DELETE FROM audit_log', 'DELETE FROM audit_log');
	refused('TRUNCATE audit_log', 'TRUNCATE audit_log');
	refused("UPDATE $cur SET actor = 'x'", "UPDATE $cur");
	refused("DELETE FROM $cur", "DELETE FROM $cur");
	refused("TRUNCATE $cur", "TRUNCATE $cur");
	refused("UPDATE audit_log SET at = at + interval '1 month'",
	    'moving a row to another partition');
	refused("SET session_replication_role = replica;\n" .
	    "DELETE FROM audit_log", 'DELETE as a replica (triggers still fire)');
	is(count_rows(), $rows0, 'every row is still there');
};

subtest 'refused for the owner, and for a role granted everything' => sub {
	my $cur = part(0);
	my $nxt = part(1);
	$t->psql(<<"SQL");
CREATE ROLE t52_owner;
CREATE ROLE t52_writer;
ALTER TABLE audit_log OWNER TO t52_owner;
ALTER TABLE $cur OWNER TO t52_owner;
ALTER TABLE $nxt OWNER TO t52_owner;
GRANT ALL ON audit_log, $cur, $nxt TO t52_writer;
SQL
	is($t->psql("SELECT tableowner FROM pg_tables WHERE tablename = '$cur'"),
	    't52_owner', "t52_owner owns audit_log and $cur");
	for my $role (qw(t52_owner t52_writer)) {
		my $as = "SET ROLE $role;\n";
		refused("${as}UPDATE audit_log SET actor = 'x'", "$role: UPDATE");
		refused("${as}DELETE FROM audit_log", "$role: DELETE");
		refused("${as}TRUNCATE audit_log", "$role: TRUNCATE");
		refused("${as}DELETE FROM $cur", "$role: DELETE FROM $cur");
		refused("${as}TRUNCATE $cur", "$role: TRUNCATE $cur");
	}
	my ($ok, $out) = $t->psql_ok("SET ROLE t52_writer;\nINSERT INTO " .
	    "audit_log (actor, action, result) VALUES ('w', 'access', 'denied')");
	ok($ok, 'INSERT still works for them') or diag $out;
	$rows0++;
	is(count_rows(), $rows0, 'every row is still there');
	$t->psql(<<"SQL");
ALTER TABLE audit_log OWNER TO postgres;
ALTER TABLE $cur OWNER TO postgres;
ALTER TABLE $nxt OWNER TO postgres;
REVOKE ALL ON audit_log, $cur, $nxt FROM t52_writer;
DROP ROLE t52_writer;
DROP ROLE t52_owner;
SQL
};

# ====================================================================
# Month boundaries

# Insert one row at an offset from the start of this month (UTC);
# -> (ok, partition or error).
sub insert_at {
	my ($offset) = @_;
	return $t->psql_ok("INSERT INTO audit_log (at, actor, action, result) " .
	    "VALUES ((date_trunc('month', now() AT TIME ZONE 'UTC') + " .
	    "interval '$offset') AT TIME ZONE 'UTC', 'edge', 'access', " .
	    "'denied') RETURNING tableoid::regclass");
}

subtest 'inserting across a month boundary' => sub {
	my ($ok, $p) = insert_at('1 month - 1 microsecond');
	ok($ok, 'the last microsecond of this month') or diag $p;
	is($p, part(0), "lands in $p");
	($ok, $p) = insert_at('1 month');
	ok($ok, 'the first microsecond of next month') or diag $p;
	is($p, part(1), "lands in $p");
	($ok, $p) = insert_at('3 months');
	ok(!$ok, 'three months ahead: no partition yet, refused');
	like($p, qr/no partition of relation "audit_log" found/,
	    'refused for want of a partition (there is no default)');
	$rows0 += 2;
};

# ====================================================================
# Maintenance: partitions ahead, retention

# An old month's partition, made by hand, with one row.
sub old_partition {
	my ($n) = @_;
	my $name = part(-$n);
	$t->psql(<<"SQL");
DO \$\$
DECLARE m timestamp := date_trunc('month', now() AT TIME ZONE 'UTC')
    - make_interval(months => $n);
BEGIN
	EXECUTE format('CREATE TABLE %I PARTITION OF audit_log FOR VALUES '
	    'FROM (%L) TO (%L)', '$name', m AT TIME ZONE 'UTC',
	    (m + interval '1 month') AT TIME ZONE 'UTC');
END \$\$;
INSERT INTO audit_log (at, actor, action, result)
    VALUES ((date_trunc('month', now() AT TIME ZONE 'UTC')
    - make_interval(months => $n) + interval '1 day') AT TIME ZONE 'UTC',
    'old', 'access', 'denied');
SQL
	return $name;
}

subtest 'audit.retention 0 keeps everything' => sub {
	my $old = old_partition(3);
	$t->write_config({ audit => { retention => '0' } });
	my ($rc, $out, $err) = $t->run_dashcgi('maintenance');
	is($rc, 0, 'maintenance exits 0') or diag $err;
	like($err, qr/job=audit_retention.*audit log kept forever/,
	    'the retention job says it kept everything') or diag $err;
	ok(exists_rel($old), "$old is still there");
	ok(exists_rel(part(2)), 'and ' . part(2) . ' was made ahead');
	my ($ok, $p) = insert_at('2 months');
	ok($ok, 'two months ahead now inserts') or diag $p;
	is($p, part(2), "lands in $p");
};

subtest 'retention drops whole old months, keeps the current one' => sub {
	my $old = part(-3);
	my $older = old_partition(5);
	my $cur = part(0);
	my $cur_rows = $t->psql("SELECT count(*) FROM $cur");
	my $recent = $t->psql("SELECT count(*) FROM audit_log WHERE actor <> 'old'");
	$t->write_config({ audit => { retention => '30d' } });
	my ($rc, $out, $err) = $t->run_dashcgi('maintenance');
	is($rc, 0, 'maintenance exits 0') or diag $err;
	like($err, qr/job=audit_retention dropped_partitions=2/,
	    'the log counts two partitions dropped') or diag $err;
	ok(!exists_rel($old), "$old dropped");
	ok(!exists_rel($older), "$older dropped");
	is($t->psql("SELECT count(*) FROM audit_log WHERE actor = 'old'"), 0,
	    'their rows are gone');
	ok(exists_rel($cur), "$cur kept");
	is($t->psql("SELECT count(*) FROM $cur"), $cur_rows,
	    "$cur keeps its $cur_rows rows");
	ok(exists_rel(part(1)) && exists_rel(part(2)), 'the months ahead kept');
	is($t->psql("SELECT count(*) FROM audit_log WHERE actor <> 'old'"),
	    $recent, "the $recent recent rows are all still there");
	# A second run finds nothing more to do.
	($rc, $out, $err) = $t->run_dashcgi('maintenance');
	like($err, qr/job=audit_retention dropped_partitions=0/,
	    'a second run drops nothing');
	$t->write_config({ audit => { retention => '400d' } });
};

# ====================================================================
# SIGKILL in the middle of a change

# Wait (bounded) until $sql returns a non-empty value.
sub poll {
	my ($sql, $timeout) = @_;
	my $deadline = time + ($timeout // 15);
	for (;;) {
		my $v = $t->psql($sql);
		return $v if length $v;
		return undef if time > $deadline;
		sleep 0.05;
	}
}

# Hold $lock_sql in a background transaction until released.
sub hold {
	my ($lock_sql) = @_;
	my $pid = $t->psql_bg("SET application_name = 't52_locker';\n" .
	    "BEGIN;\n$lock_sql;\nSELECT pg_sleep(60);\nCOMMIT;\n");
	poll("SELECT 1 FROM pg_stat_activity WHERE application_name = " .
	    "'t52_locker' AND wait_event = 'PgSleep'", 15)
	    or die "the locker never held its lock:\n" . $t->psql_bg_output($pid);
	return $pid;
}

sub release {
	my ($pid) = @_;
	$t->psql("SELECT pg_cancel_backend(pid) FROM pg_stat_activity " .
	    "WHERE application_name = 't52_locker'");
	my $rc = $t->wait_pid($pid, 20);
	ok(defined $rc, 'the lock is released');
}

# PUT preferences as carol in the background; the status goes to a file.
sub put_prefs_bg {
	my ($rid, $theme) = @_;
	my $file = $t->tmpdir . "/status-$rid";
	my $pid = $t->bg(sub {
		my $r = $t->request(PUT => '/api/v1/me/preferences', user => 'carol',
		    headers => { 'X-Request-Id' => $rid }, timeout => 60,
		    body => qq({"timezone":"UTC","theme":"$theme",) .
		    '"favorites":[],"recent":[]}');
		open(my $fh, '>', $file) or return 1;
		print $fh $r->{status};
		close $fh;
		return 0;
	});
	return ($pid, $file);
}

sub slurp { open(my $fh, '<', $_[0]) or return ''; local $/; <$fh> // '' }

# The state after: does the change exist, does its row?
sub outcome {
	my ($rid, $theme) = @_;
	my $changed = $t->psql("SELECT count(*) FROM user_preferences WHERE " .
	    "user_name = 'carol' AND theme = '$theme'");
	my $rows = $t->psql("SELECT count(*) FROM audit_log " .
	    "WHERE client_request_id = '$rid' AND result = 'success'");
	return ($changed, $rows);
}

my $probe = $t->request(PUT => '/api/v1/me/preferences', user => 'carol',
    body => '{"timezone":"UTC","theme":"light","favorites":[],"recent":[]}');
SKIP: {
	skip 'PUT /api/v1/me/preferences is not written yet (501)', 1
	    if $probe->{status} == 501;
	is($probe->{status}, 200, 'carol has preferences (theme light)')
	    or diag $probe->{content};

	# $where: the lock that stops the change; $query: what the worker
	# must be waiting in; $kill: SIGKILL it there or let it finish.
	my @cases = (
		[ 'SIGKILL before the write (row lock on the preferences): neither',
		  "SELECT 1 FROM user_preferences WHERE user_name = 'carol' " .
		  'FOR UPDATE', qr/user_preferences/, 1, 'dark' ],
		[ 'SIGKILL between the write and its audit row (audit_log locked): '
		  . 'neither',
		  'LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE',
		  qr/audit_write\(/, 1, 'system' ],
		[ 'control: blocked the same way, not killed: both',
		  'LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE',
		  qr/audit_write\(/, 0, 'dark' ],
	);
	my $n = 0;
	for my $c (@cases) {
		my ($name, $lock, $query, $kill, $theme) = @$c;
		subtest $name => sub {
			$t->request(PUT => '/api/v1/me/preferences', user => 'carol',
			    body => '{"timezone":"UTC","theme":"light",' .
			    '"favorites":[],"recent":[]}');
			my $rid = 'kill-' . ++$n;
			my @workers = $t->worker_pids;
			my $locker = hold($lock);
			my ($req, $file) = put_prefs_bg($rid, $theme);
			my $app = poll("SELECT application_name || '|' || query " .
			    "FROM pg_stat_activity WHERE wait_event_type = 'Lock' " .
			    "AND application_name LIKE 'dashcgi worker %'", 15);
			ok(defined $app, 'a worker is blocked in the change')
			    or do { release($locker); return };
			my ($wpid, $sql) = $app =~ /^dashcgi worker (\d+)\|(.*)$/s;
			like($sql, $query, 'blocked at the expected statement');
			if ($kill) {
				ok((grep { $_ == $wpid } @workers),
				    "$wpid is one of our workers");
				ok(kill('KILL', $wpid), "SIGKILL worker $wpid");
				is($t->wait_pid($req, 20), 0, 'the client got an answer');
				isnt(slurp($file), '200', 'and it is no success (' .
				    slurp($file) . ')');
			}
			release($locker);
			if ($kill) {
				# The orphaned backend ends once it sees the
				# connection gone: only then is the outcome final.
				ok(poll("SELECT CASE WHEN count(*) = 0 THEN 'gone' END " .
				    'FROM pg_stat_activity WHERE application_name = ' .
				    "'dashcgi worker $wpid'", 20),
				    "the killed worker's session ended");
			} else {
				is($t->wait_pid($req, 20), 0, 'the client got an answer');
				is(slurp($file), '200', 'the change succeeded');
			}
			my ($changed, $rows) = outcome($rid, $theme);
			is($changed, $rows, "change and row together ($changed, $rows)");
			is($changed, $kill ? 0 : 1, $kill ? 'neither exists'
			    : 'both exist');
			ok(scalar($t->wait_workers(2, 15)), 'two workers run again');
		};
	}
}

subtest 'migrate up makes this month and the next again' => sub {
	# A database migrated long ago, whose maintenance never ran: the
	# next deploy's "migrate up" must leave the coming month ready.
	my $nxt = part(1);
	is($t->psql("SELECT count(*) FROM $nxt"), 1, "$nxt holds one row");
	$t->psql("ALTER TABLE audit_log DETACH PARTITION $nxt;\n" .
	    "ALTER TABLE $nxt RENAME TO t52_detached");
	my ($rc, $out, $err) = $t->run_dashcgi('migrate', 'up');
	is($rc, 0, 'migrate up (nothing pending) exits 0') or diag $err;
	ok(exists_rel($nxt), "$nxt made again by migrate up");
};

is($t->stop_dashcgi, 0, 'SIGTERM: master exits 0');

done_testing;
