#!/usr/bin/perl
# dashcgi migrate and maintenance against a real PostgreSQL 15: up, down,
# round trips, the advisory lock (two concurrent migrators apply each
# file once), verify catching an edited file, errors naming file:line:col,
# the append-only audit log (even for the superuser), monthly partitions,
# retention, and the maintenance jobs and lock.
use strict;
use warnings;
use Test::More;
use Digest::SHA qw(sha256_hex);
use File::Copy qw(copy);
use DashTest;

my $t = DashTest->new(nginx => 0, migrate => 0, start => 0);
my $dir = $t->tmpdir . '/migrations';
mkdir $dir or die "mkdir $dir: $!";
# The migrator's mechanics are tested on the first migration alone;
# every other test file applies the whole directory.
for my $f (glob($t->srcdir . '/migrations/0001_*.sql')) {
	copy($f, $dir) or die "copy $f: $!";
}
$t->{migrations_dir} = $dir;

sub migrate { $t->run_dashcgi('migrate', @_) }
sub slurp { open(my $fh, '<', $_[0]) or die "$_[0]: $!"; local $/; <$fh> }
sub spew { open(my $fh, '>', $_[0]) or die "$_[0]: $!"; print $fh $_[1]; close $fh or die }
sub refused {
	my ($sql, $name) = @_;
	my ($ok, $out) = $t->psql_ok($sql);
	ok(!$ok, "$name is refused") or diag($out);
	like($out, qr/append-only/, "$name: the audit guard says why") unless $ok;
}

my @TABLES = qw(project project_member dashboard dashboard_version
    dashboard_template share_token user_preferences audit_log);

# Everything the schema consists of, to compare across round trips.
my $CATALOG = <<'SQL';
SELECT string_agg(x, ',' ORDER BY x) FROM (
  SELECT c.relkind::text || ':' || c.relname AS x FROM pg_class c
   WHERE c.relnamespace = 'public'::regnamespace
     AND c.relname NOT LIKE 'schema_migrations%'
     AND c.relname NOT LIKE 'audit_log_2%'
  UNION ALL SELECT 'f:' || p.oid::regprocedure::text FROM pg_proc p
   WHERE p.pronamespace = 'public'::regnamespace
  UNION ALL SELECT 'c:' || conname FROM pg_constraint
   WHERE connamespace = 'public'::regnamespace
     AND conrelid::regclass::text NOT LIKE 'audit_log_2%'
  UNION ALL SELECT 't:' || tgname || '@' || tgrelid::regclass::text FROM pg_trigger
   WHERE NOT tgisinternal AND tgrelid::regclass::text NOT LIKE 'audit_log_2%') s
SQL

subtest 'up on an empty database' => sub {
	my ($rc, $out, $err) = migrate('status');
	is($rc, 0, 'status exits 0') or diag($err);
	like($out, qr/^0001\s+init\s+pending/m, 'status: 0001 init pending');

	($rc, $out, $err) = migrate('up');
	is($rc, 0, 'migrate up exits 0') or diag($err);
	like($err, qr/migration applied.*0001_init\.up\.sql/, 'logs the file');
	is($t->psql('SELECT version, name FROM schema_migrations'), '1|init',
	    'schema_migrations has 0001 init');
	is($t->psql('SELECT checksum FROM schema_migrations'),
	    sha256_hex(slurp("$dir/0001_init.up.sql")),
	    'checksum is the SHA-256 of the file');
	like($t->psql('SELECT duration_ms >= 0 AND applied_at <= now() FROM schema_migrations'),
	    qr/^t$/, 'duration and applied_at recorded');
	for my $tb (@TABLES) {
		is($t->psql("SELECT to_regclass('$tb') IS NOT NULL"), 't',
		    "table $tb exists");
	}
	is($t->psql("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'"),
	    1, 'pg_trgm installed');
	my $parts = $t->psql(<<'SQL');
SELECT string_agg(c.relname, ',' ORDER BY c.relname)
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'audit_log'::regclass
SQL
	my $cur = $t->psql("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY_MM')");
	my $nxt = $t->psql("SELECT to_char((now() AT TIME ZONE 'UTC') + interval '1 month', 'YYYY_MM')");
	is($parts, "audit_log_$cur,audit_log_$nxt",
	    'audit partitions for this month and the next, no default');

	($rc, $out, $err) = migrate('up');
	is($rc, 0, 'up again exits 0');
	like($err, qr/nothing to do/, 'and has nothing to do');

	($rc, $out, $err) = migrate('status');
	like($out, qr/^0001\s+init\s+applied\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s*$/m,
	    'status: applied with its time, no mismatch mark');
	($rc, $out) = migrate('verify');
	is($rc, 0, 'verify exits 0');
};

my $catalog = $t->psql($CATALOG);
like($catalog, qr/(?=.*\br:dashboard\b)(?=.*\bf:audit_ensure_partitions\(integer\))(?=.*\bt:audit_log_no_truncate\@audit_log\b)/,
    'the catalog snapshot sees tables, functions and triggers');

subtest 'down and up round-trip' => sub {
	my ($rc, $out, $err) = migrate('down');
	is($rc, 0, 'down exits 0') or diag($err);
	is($t->psql('SELECT count(*) FROM schema_migrations'), 0, 'unrecorded');
	is($t->psql(<<'SQL'), 0, 'nothing of the schema is left');
SELECT count(*) FROM pg_class
 WHERE relnamespace = 'public'::regnamespace
   AND relname NOT LIKE 'schema_migrations%'
SQL
	is($t->psql("SELECT count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace"),
	    0, 'no functions left');

	($rc, $out, $err) = migrate('down');
	is($rc, 0, 'down with nothing applied exits 0');

	($rc, $out, $err) = migrate('up');
	is($rc, 0, 'up again exits 0') or diag($err);
	is($t->psql($CATALOG), $catalog, 'the same schema as the first time');
};

subtest 'two concurrent migrators apply each file once' => sub {
	spew("$dir/0002_slow.up.sql",
	    "CREATE TABLE slow_marker (n int);\nSELECT pg_sleep(2);\n" .
	    "INSERT INTO slow_marker VALUES (1);\n");
	spew("$dir/0002_slow.down.sql", "DROP TABLE slow_marker;\n");
	my $tmp = $t->tmpdir;
	my @pids = map {
		my $i = $_;
		$t->bg(sub {
			my ($rc, $out, $err) = migrate('up');
			spew("$tmp/concurrent-$i.log", $err);
			return $rc;
		});
	} 1, 2;
	my @rc = map { $t->wait_pid($_, 60) } @pids;
	is_deeply(\@rc, [0, 0], 'both exit 0');
	is($t->psql("SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations"),
	    '1,2', 'each version recorded once');
	is($t->psql('SELECT count(*) FROM slow_marker'), 1, 'the body ran once');
	my $logs = join('', map { slurp("$tmp/concurrent-$_.log") } 1, 2);
	my $n = () = $logs =~ /nothing to do/g;
	is($n, 1, 'the second found nothing to do');
	like($logs, qr/another migrate holds the lock.*waiting/,
	    'the second waited for the lock');

	my ($rc, $out, $err) = migrate('down');
	is($rc, 0, 'down reverts the newest only');
	is($t->psql("SELECT to_regclass('slow_marker') IS NULL"), 't', 'slow_marker gone');
	unlink "$dir/0002_slow.up.sql", "$dir/0002_slow.down.sql";
};

subtest 'verify catches an edited or missing file' => sub {
	my $f = "$dir/0001_init.up.sql";
	my $orig = slurp($f);
	spew($f, "$orig\n-- an innocent edit\n");
	my ($rc, $out, $err) = migrate('verify');
	is($rc, 1, 'verify exits 1 after an edit');
	like($err, qr/0001_init\.up\.sql: changed since it was applied/,
	    'names the file');
	($rc, $out) = migrate('status');
	is($rc, 0, 'status still exits 0');
	like($out, qr/^0001\s+init\s+applied\s+\S+\s+CHANGED/m, 'status marks it');

	unlink $f;
	rename("$dir/0001_init.down.sql", "$dir/keep") or die;
	($rc, $out, $err) = migrate('verify');
	is($rc, 1, 'verify exits 1 when the file is missing');
	like($err, qr/0001_init\.up\.sql: applied, but the file is missing/,
	    'says so');
	spew($f, $orig);
	rename("$dir/keep", "$dir/0001_init.down.sql") or die;
	($rc) = migrate('verify');
	is($rc, 0, 'verify passes again with the file restored');
};

subtest 'a failing file is rolled back and located' => sub {
	spew("$dir/0002_broken.up.sql",
	    "-- déjà vu\nCREATE TABLE broken_a (id int);\n\n" .
	    "CREATE TABLE broken_b (\n\tid int,\n\tx  no_such_type\n);\n");
	spew("$dir/0002_broken.down.sql", "SELECT 1;\n");
	my ($rc, $out, $err) = migrate('up');
	is($rc, 1, 'exit 1');
	like($err, qr{0002_broken\.up\.sql:6:5: type \\?"no_such_type\\?" does not exist},
	    'file:line:col and PostgreSQL\'s message');
	like($err, qr/sqlstate=42704/, 'with the SQLSTATE');
	is($t->psql("SELECT to_regclass('broken_a') IS NULL"), 't', 'rolled back');
	is($t->psql('SELECT max(version) FROM schema_migrations'), 1, 'not recorded');

	spew("$dir/0002_broken.up.sql", "SELECT 1;\nCOMMIT;\n");
	($rc, $out, $err) = migrate('up');
	is($rc, 1, 'a COMMIT inside a file is refused');
	like($err, qr/ended the migration's transaction/, 'and explained');
	unlink "$dir/0002_broken.up.sql", "$dir/0002_broken.down.sql";
};

subtest 'the directory is checked' => sub {
	spew("$dir/2_bad.up.sql", "SELECT 1;\n");
	my ($rc, $out, $err) = migrate('status');
	is($rc, 1, 'a malformed name: exit 1');
	like($err, qr{2_bad\.up\.sql: not a migration file name}, 'names it');
	unlink "$dir/2_bad.up.sql";

	spew("$dir/0001_other.up.sql", "SELECT 1;\n");
	($rc, $out, $err) = migrate('up');
	is($rc, 1, 'a duplicate version: exit 1');
	like($err, qr/version 0001 is already used/, 'says which');
	unlink "$dir/0001_other.up.sql";

	spew("$dir/README", "not SQL\n");
	($rc) = migrate('status');
	is($rc, 0, 'other files are ignored');
	unlink "$dir/README";
};

subtest 'new writes the next pair' => sub {
	my ($rc, $out, $err) = migrate('new', 'add_widgets');
	is($rc, 0, 'exit 0') or diag($err);
	is($out, "$dir/0002_add_widgets.up.sql\n$dir/0002_add_widgets.down.sql\n",
	    'prints both paths');
	ok(-f "$dir/0002_add_widgets.up.sql" && -f "$dir/0002_add_widgets.down.sql",
	    'both exist');
	($rc, $out, $err) = migrate('up');
	is($rc, 0, 'the empty pair applies');
	($rc, $out, $err) = migrate('down');
	is($rc, 0, 'and reverts');
	unlink glob("$dir/0002_add_widgets.*");

	($rc) = migrate('new', 'Bad-Name');
	is($rc, 2, 'a bad name is a usage error');
};

subtest 'usage and runtime errors' => sub {
	my @cases = (
		[[], 2, 'no subcommand'],
		[['frob'], 2, 'unknown subcommand'],
		[['up', '--to', 'x'], 2, '--to not a number'],
		[['up', '--to', '99'], 2, '--to an unknown version'],
		[['down', '--steps', '0'], 2, '--steps 0'],
		[['status', 'extra'], 2, 'extra argument'],
	);
	for my $c (@cases) {
		my ($rc) = migrate(@{ $c->[0] });
		is($rc, $c->[1], "$c->[2]: exit $c->[1]");
	}
	my ($rc, $out, $err) = $t->run_dashcgi({ env => {
	    DASHCGI_MIGRATIONS_DIR => $t->tmpdir . '/nope' } }, 'migrate', 'status');
	is($rc, 1, 'a missing directory: exit 1');
	($rc, $out, $err) = $t->run_dashcgi({ env => { DB_HOST => $t->tmpdir .
	    '/no-postgresql' } }, 'migrate', 'up');
	is($rc, 1, 'database unreachable: exit 1');
};

subtest 'the audit log is append-only, for the superuser too' => sub {
	# The harness connects as the superuser postgres.
	$t->psql(q{INSERT INTO audit_log (actor, action, result, client_ip, request_id)
	    VALUES ('alice', 'dashboard.create', 'success', '10.0.0.1', 'r1')});
	my $cur = $t->psql("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY_MM')");
	refused('UPDATE audit_log SET actor = $$mallory$$', 'UPDATE');
	refused('DELETE FROM audit_log', 'DELETE');
	refused('TRUNCATE audit_log', 'TRUNCATE');
	refused("UPDATE audit_log_$cur SET actor = 'x'", 'UPDATE on a partition');
	refused("DELETE FROM audit_log_$cur", 'DELETE on a partition');
	refused("TRUNCATE audit_log_$cur", 'TRUNCATE on a partition');
	refused("SET session_replication_role = replica; DELETE FROM audit_log",
	    'DELETE under session_replication_role = replica');
	is($t->psql('SELECT count(*) FROM audit_log'), 1, 'the row is still there');

	$t->psql(q{INSERT INTO audit_log (at, actor, action, result) VALUES
	    (date_trunc('month', now()) + interval '1 month 2 days', 'bob', 'x', 'success')});
	pass('a row for next month has its partition');
	my ($ok) = $t->psql_ok(q{INSERT INTO audit_log (at, actor, action, result) VALUES
	    (date_trunc('month', now()) + interval '4 months', 'bob', 'x', 'success')});
	ok(!$ok, 'a row with no partition fails: there is no default partition');
};

subtest 'maintenance' => sub {
	$t->write_config({ audit => { retention => '400d' },
	    dashboards => { trash_retention => '30d' } });
	$t->psql(<<'SQL');
INSERT INTO project (name, created_by, updated_by) VALUES ('demo', 'alice', 'alice');
INSERT INTO dashboard (project, name, spec, created_by, updated_by, deleted_at, deleted_by)
  VALUES ('demo', 'old', '{"display":{"name":"Old"}}', 'alice', 'alice', now() - interval '31 days', 'alice'),
         ('demo', 'recent', '{"display":{"name":"Recent"}}', 'alice', 'alice', now() - interval '1 day', 'alice'),
         ('demo', 'live', '{"display":{"name":"Live"}}', 'alice', 'alice', NULL, NULL);
INSERT INTO share_token (dashboard_id, token_hash, expires_at, created_by)
  SELECT id, sha256(convert_to(name, 'UTF8')), now() - interval '8 days', 'alice' FROM dashboard WHERE name = 'live';
INSERT INTO share_token (dashboard_id, token_hash, expires_at, created_by)
  SELECT id, sha256('fresh'), now() + interval '1 day', 'alice' FROM dashboard WHERE name = 'live';
INSERT INTO dashboard_template (id, name, dashboard, created_by, updated_by)
  VALUES ('model-serving', 'Model serving', '{"display":{"name":"Model serving"}}', 'system', 'system');
INSERT INTO template_usage (template_id, project, dashboard, used_by)
  VALUES ('model-serving', 'demo', 'a', 'alice'), ('model-serving', 'demo', 'b', 'bob');
CREATE TABLE audit_log_2020_01 PARTITION OF audit_log
  FOR VALUES FROM ('2020-01-01 00:00Z') TO ('2020-02-01 00:00Z');
INSERT INTO audit_log (at, actor, action, result) VALUES ('2020-01-15Z', 'old', 'x', 'success');
SQL
	my ($rc, $out, $err) = $t->run_dashcgi('maintenance');
	is($rc, 0, 'exit 0') or diag($err);
	like($err, qr/job=audit_partitions created=1/, 'one partition created (two months ahead)');
	like($err, qr/job=expired_tokens deleted=1/, 'one expired token deleted');
	like($err, qr/job=template_usage updated=1/, 'one template\'s stats updated');
	like($err, qr/job=audit_retention dropped_partitions=1/, 'one old partition dropped');
	# The purge writes its audit rows through audit_write() (0014).
	like($err, qr/maintenance job skipped.*job=trash_purge reason="?waits for its migration"? requires=14 schema=1/,
	    'the trash purge waits for migration 0014, and says so');
	unlike($err, qr/job=trash_purge purged=/, 'and does not run');
	is($t->psql("SELECT string_agg(name, ',' ORDER BY name) FROM dashboard"),
	    'live,old,recent', 'so the trash is kept');
	is($t->psql('SELECT usage_count FROM dashboard_template'), 2, 'usage_count');
	is($t->psql("SELECT to_regclass('audit_log_2020_01') IS NULL"), 't',
	    'the expired partition is gone');

	# The whole directory (0003 brings its own model-serving template,
	# so the fixture's goes first): the purge runs.
	$t->psql('DELETE FROM template_usage; DELETE FROM dashboard_template');
	for my $f (glob($t->srcdir . '/migrations/*.sql')) {
		copy($f, $dir) or die "copy $f: $!";
	}
	($rc, $out, $err) = migrate('up');
	is($rc, 0, 'migrate up to the last migration') or diag($err);
	($rc, $out, $err) = $t->run_dashcgi('maintenance');
	is($rc, 0, 'exit 0') or diag($err);
	like($err, qr/job=trash_purge purged=1/, 'one old dashboard purged');
	is($t->psql("SELECT string_agg(name, ',' ORDER BY name) FROM dashboard"),
	    'live,recent', 'the trash within its retention stays');
	is($t->psql("SELECT actor || ' ' || result || ' ' || resource_version || ' ' || "
	    . "(details->>'reason') || ' ' || (details->>'deletedBy') FROM audit_log "
	    . "WHERE action = 'dashboard.purge' AND resource = 'old' AND project = 'demo'"),
	    'system success 0 trash_retention alice', 'the purge is audited, once');
	is($t->psql("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'audit_log_no_%' AND tgenabled <> 'A'"),
	    0, 'every guard on every partition fires always');

	($rc, $out, $err) = $t->run_dashcgi('maintenance');
	is($rc, 0, 'a second run exits 0');
	like($err, qr/job=trash_purge purged=0/, 'and finds nothing more');

	my $pid = $t->psql_bg('SELECT pg_advisory_lock(-8119138536527048995); SELECT pg_sleep(4);');
	sleep 1;
	($rc, $out, $err) = $t->run_dashcgi('maintenance');
	is($rc, 0, 'with another run holding the lock: exit 0');
	like($err, qr/another run holds the lock/, 'and says so');
	$t->wait_pid($pid, 30);

	($rc) = $t->run_dashcgi('maintenance', 'extra');
	is($rc, 2, 'an argument is a usage error');
};

done_testing();
