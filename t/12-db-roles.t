#!/usr/bin/perl
# Two database roles, as the README installs them: dashcgi_owner owns
# the schema and runs `dashcgi migrate` (database.migrate_url), dashcgi
# is the service.  What the README promises is what PostgreSQL
# enforces: logged in as the service, audit rows cannot be updated,
# deleted, truncated or back-dated (at and id are the database's), no
# trigger can be dropped or disabled, no partition created or dropped
# other than through the owner's SECURITY DEFINER functions (the audit
# log's never within 30 days), nothing created in the schema; and the
# service still works: requests, audit rows, maintenance (partitions
# ahead, retention), and a migration written after 0019 (a new table,
# a new audit_log column) needs no GRANT of its own.
use strict;
use warnings;
use Test::More;
use File::Copy qw(copy);
use DashTest;
use DashTest::Fixtures;

my $t = DashTest->new(roles => 1, workers => 2,
    config => { auth => { admins => ['admin'] } });
my ($OWNER, $SERVICE) = ('dashcgi_owner', $t->db_user);
is($SERVICE, 'dashcgi', 'the service logs in as dashcgi');

sub as_service { $t->psql_ok($_[0], user => $SERVICE) }
sub as_owner { $t->psql($_[0], user => $OWNER) }
sub refused {
	my ($sql, $why, $name) = @_;
	my ($ok, $out) = as_service($sql);
	ok(!$ok, "refused: $name") or diag $out;
	like($out, $why, "$name: PostgreSQL says why") unless $ok;
}
sub part { $t->psql("SELECT 'audit_log_' || to_char(date_trunc('month', " .
    "now() AT TIME ZONE 'UTC') + interval '$_[0] month', 'YYYY_MM')") }
my $DENIED = qr/permission denied|must be owner/;

subtest 'who owns what' => sub {
	is($t->psql("SELECT count(*) FROM pg_class WHERE relnamespace = " .
	    "'public'::regnamespace AND relowner <> '$OWNER'::regrole"), 0,
	    'the owner owns every table, index, sequence and partition');
	is($t->psql("SELECT count(*) FROM pg_class WHERE relowner = " .
	    "'$SERVICE'::regrole"), 0, 'the service owns nothing');
	is($t->psql("SELECT rolsuper FROM pg_roles WHERE rolname = '$SERVICE'"),
	    'f', 'the service is no superuser');
	is($t->psql("SELECT string_agg(proname, ',' ORDER BY proname) FROM " .
	    "pg_proc WHERE prosecdef"), 'audit_drop_partitions_before,' .
	    'audit_ensure_partitions,audit_guard_partitions,' .
	    'hub_event_partitions,partition_drop_before,partition_ensure,' .
	    'slo_partitions_ensure', 'the SECURITY DEFINER functions are the '
	    . 'partition maintenance ones');
	is($t->psql("SELECT count(*) FROM pg_proc WHERE prosecdef AND NOT " .
	    "coalesce(proconfig::text LIKE '%search_path=public, pg_temp%', " .
	    "false)"), 0, 'each with a fixed search_path');
};

# ====================================================================
# What the service role cannot do

subtest 'audit rows stay as written' => sub {
	my ($ok, $out) = as_service("INSERT INTO audit_log (actor, action, " .
	    "result) VALUES ('t12', 'access', 'denied') RETURNING at = now()");
	ok($ok, 'the service inserts an audit row') or diag $out;
	is($out, 't', 'stamped with the time of its transaction');
	my $n = $t->psql('SELECT count(*) FROM audit_log');
	my $cur = part(0);
	refused("UPDATE audit_log SET actor = 'x'", $DENIED, 'UPDATE');
	refused("DELETE FROM audit_log", $DENIED, 'DELETE');
	refused("TRUNCATE audit_log", $DENIED, 'TRUNCATE');
	refused("UPDATE $cur SET actor = 'x'", $DENIED, "UPDATE $cur");
	refused("DELETE FROM $cur", $DENIED, "DELETE FROM $cur");
	refused("TRUNCATE $cur", $DENIED, "TRUNCATE $cur");
	refused("SET session_replication_role = replica",
	    qr/permission denied/, 'session_replication_role = replica');
	is($t->psql('SELECT count(*) FROM audit_log'), $n, 'every row is there');
};

subtest 'no back-dated or renumbered audit row' => sub {
	my $cur = part(0);
	refused("INSERT INTO audit_log (at, actor, action, result) VALUES " .
	    "(now() - interval '1 day', 'forger', 'access', 'denied')",
	    $DENIED, 'an INSERT naming at');
	refused("INSERT INTO audit_log (id, actor, action, result) " .
	    "OVERRIDING SYSTEM VALUE VALUES (1, 'forger', 'access', 'denied')",
	    $DENIED, 'an INSERT naming id');
	refused("INSERT INTO $cur (actor, action, result) VALUES " .
	    "('forger', 'access', 'denied')", $DENIED,
	    "an INSERT into the partition $cur");
	is($t->psql("SELECT count(*) FROM audit_log WHERE actor = 'forger'"),
	    0, 'no forged row');
};

subtest 'no DDL on the audit log' => sub {
	refused('DROP TRIGGER audit_log_no_update ON audit_log', $DENIED,
	    'DROP TRIGGER');
	refused('ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_delete',
	    $DENIED, 'DISABLE TRIGGER');
	refused('ALTER TABLE audit_log DISABLE TRIGGER ALL', $DENIED,
	    'DISABLE TRIGGER ALL');
	my $cur = part(0);
	refused("ALTER TABLE audit_log DETACH PARTITION $cur", $DENIED,
	    'DETACH PARTITION');
	refused("DROP TABLE $cur", $DENIED, 'DROP TABLE of a partition');
	refused("CREATE TABLE audit_log_2001_01 PARTITION OF audit_log FOR " .
	    "VALUES FROM ('2001-01-01') TO ('2001-02-01')", $DENIED,
	    'CREATE TABLE ... PARTITION OF audit_log (a back-dated month)');
	refused('CREATE TABLE mine (a int)', $DENIED,
	    'CREATE TABLE in the schema');
	refused('CREATE FUNCTION now2() RETURNS int LANGUAGE sql AS $$ ' .
	    'SELECT 1 $$', $DENIED, 'CREATE FUNCTION in the schema');
	refused("SELECT partition_drop_before('audit_log', now())",
	    qr/only through audit_drop_partitions_before/,
	    "partition_drop_before('audit_log')");
	refused("SELECT audit_drop_partitions_before(now() - interval '29 days')",
	    qr/less than 30 days ago/, 'audit retention under 30 days');
	refused('SELECT partition_detach_drop(\'audit_log\', now())', $DENIED,
	    'the owner\'s partition_detach_drop');
	refused("SELECT dashcgi_grant_service('$SERVICE')", $DENIED,
	    'dashcgi_grant_service');
	refused("INSERT INTO schema_migrations (version, name, checksum) " .
	    "VALUES (9999, 'x', 'x')", $DENIED, 'recording a migration');
	is($t->psql("SELECT count(*) FROM pg_trigger WHERE tgname LIKE " .
	    "'audit_log_no_%' AND tgenabled = 'A'"),
	    $t->psql("SELECT 3 + 3 * count(*) FROM pg_inherits WHERE " .
	    "inhparent = 'audit_log'::regclass"),
	    'every guard on the log and its partitions, enabled always');
};

# ====================================================================
# What it still does

subtest 'the service works: a change and its audit row' => sub {
	$t->psql(project_sql('p12', alice => 'editor'));
	my $r = $t->request(POST => '/api/v1/projects/p12/dashboards',
	    user => 'alice', json => dashboard_doc('d1'));
	is($r->{status}, 200, 'create a dashboard') or diag $r->{content};
	is($t->psql("SELECT count(*) FROM audit_log WHERE actor = 'alice' " .
	    "AND action = 'dashboard.create' AND at = (SELECT max(at) FROM " .
	    "audit_log)"), 1, 'its audit row, the newest');
	$r = $t->request(GET => '/api/v1/audit?limit=5', user => 'admin');
	is($r->{status}, 200, 'the audit log reads') or diag $r->{content};
	$r = $t->request(GET => '/ready', user => 'alice');
	is($r->{status}, 200, '/ready (reads schema_migrations)')
	    or diag $r->{content};
};

subtest 'maintenance as the service: partitions ahead, retention' => sub {
	my $nxt = part(1);
	as_owner("ALTER TABLE audit_log DETACH PARTITION $nxt;\n" .
	    "DROP TABLE $nxt");
	# An old month with a row, as the owner would have kept it.
	my $old = part(-3);
	as_owner(<<"SQL");
DO \$\$
DECLARE m timestamp := date_trunc('month', now() AT TIME ZONE 'UTC')
    - interval '3 months';
BEGIN
	EXECUTE format('CREATE TABLE %I PARTITION OF audit_log FOR VALUES '
	    'FROM (%L) TO (%L)', '$old', m AT TIME ZONE 'UTC',
	    (m + interval '1 month') AT TIME ZONE 'UTC');
END \$\$;
INSERT INTO audit_log (at, actor, action, result) VALUES
    (now() - interval '3 months', 'old', 'access', 'denied');
SQL
	$t->write_config({ audit => { retention => '30d' } });
	my ($rc, $out, $err) = $t->run_dashcgi('maintenance');
	is($rc, 0, 'dashcgi maintenance exits 0') or diag $err;
	unlike($err, qr/level=(?:error|warn)/, 'no job failed') or diag $err;
	is($t->psql("SELECT to_regclass('$nxt') IS NOT NULL"), 't',
	    "$nxt made again");
	is($t->psql("SELECT relowner::regrole FROM pg_class WHERE relname = " .
	    "'$nxt'"), $OWNER, 'owned by the owner');
	is($t->psql("SELECT count(*) FROM pg_class c, aclexplode(c.relacl) a " .
	    "WHERE c.relname = '$nxt' AND a.grantee <> c.relowner"), 0,
	    'with no privilege for the service');
	is($t->psql("SELECT to_regclass('$old') IS NULL"), 't',
	    "$old dropped by retention");
	$t->write_config;
};

subtest 'a migration after 0019 needs no GRANT' => sub {
	my $dir = $t->tmpdir . '/migrations';
	mkdir $dir or die "mkdir $dir: $!";
	for my $f (glob($t->srcdir . '/migrations/*.sql')) {
		copy($f, $dir) or die "copy $f: $!";
	}
	open(my $fh, '>', "$dir/9001_later.up.sql") or die;
	print $fh "CREATE TABLE later (id bigint GENERATED ALWAYS AS IDENTITY, " .
	    "n bigserial, note text);\nALTER TABLE audit_log ADD COLUMN later " .
	    "text;\n";
	close $fh or die;
	open($fh, '>', "$dir/9001_later.down.sql") or die;
	print $fh "ALTER TABLE audit_log DROP COLUMN later;\nDROP TABLE later;\n";
	close $fh or die;
	$t->{migrations_dir} = $dir;
	my ($rc, $out, $err) = $t->run_dashcgi('migrate', 'up');
	is($rc, 0, 'migrate up exits 0') or diag $err;
	like($err, qr/service role dashcgi: granted/, 'and grants the service')
	    or diag $err;
	my ($ok, $o2) = as_service("INSERT INTO later (note) VALUES ('x');\n" .
	    "UPDATE later SET note = 'y';\nSELECT count(*) FROM later;\n" .
	    "DELETE FROM later");
	ok($ok, 'the service reads and writes the new table') or diag $o2;
	($ok, $o2) = as_service("INSERT INTO audit_log (actor, action, " .
	    "result, later) VALUES ('t12', 'access', 'denied', 'x')");
	ok($ok, 'and writes the new audit_log column') or diag $o2;
	refused('DROP TABLE later', $DENIED, 'DROP of the new table');
	($rc, $out, $err) = $t->run_dashcgi('migrate', 'down');
	is($rc, 0, 'migrate down reverts it') or diag $err;
	$t->{migrations_dir} = $t->srcdir . '/migrations';
};

subtest '0019 down and up again' => sub {
	# 0019 and every migration after it.
	my $steps = $t->psql('SELECT count(*) FROM schema_migrations WHERE version >= 19');
	my ($rc, $out, $err) = $t->run_dashcgi('migrate', 'down', '--steps', $steps);
	is($rc, 0, "down $steps steps reverts 0019") or diag $err;
	is($t->psql("SELECT count(*) FROM pg_proc WHERE prosecdef"), 0,
	    'no SECURITY DEFINER function left');
	is($t->psql("SELECT has_table_privilege('$SERVICE', 'dashboard', " .
	    "'INSERT')"), 'f', 'the service\'s grants are gone');
	($rc, $out, $err) = $t->run_dashcgi('migrate', 'up');
	is($rc, 0, 'up again') or diag $err;
	is($t->psql("SELECT has_table_privilege('$SERVICE', 'dashboard', " .
	    "'INSERT')"), 't', 'granted again');
	refused("INSERT INTO audit_log (at, actor, action, result) VALUES " .
	    "(now(), 'forger', 'access', 'denied')", $DENIED,
	    'at is still the database\'s');
};

subtest 'migrate refuses a service role that could act as the owner' => sub {
	$t->psql("GRANT $OWNER TO $SERVICE");
	my ($rc, $out, $err) = $t->run_dashcgi('migrate', 'up');
	isnt($rc, 0, 'a member of the owner: migrate up fails');
	like($err, qr/is a member of the owner/, 'and says why') or diag $err;
	$t->psql("REVOKE $OWNER FROM $SERVICE");
	($rc, $out, $err) = $t->run_dashcgi('migrate', 'up');
	is($rc, 0, 'revoked: migrate up passes') or diag $err;
};

is($t->stop_dashcgi, 0, 'SIGTERM: master exits 0');

done_testing;
