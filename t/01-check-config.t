#!/usr/bin/perl
# check-config prints every key with its source and masks secrets; a
# bad file is exit 2 with file:line:col; version, help, unknown command.
use strict;
use warnings;
use Test::More;
use DashTest;

my $t = DashTest->new(pg => 0, nginx => 0, migrate => 0, start => 0,
    config => { database => { password => 'file-s3cret-pw' } });
my $cfg = $t->config_path;

# Every key of SPEC §3, dotted.
my @KEYS = qw(listen socket_mode workers max_requests shutdown_timeout
    max_body log.level log.format database.url database.host database.port
    database.name database.user database.password database.password_file
    database.sslmode database.connect_timeout database.statement_timeout
    database.max_lifetime auth.mode auth.anonymous_role auth.admins
    dashboards.require_version dashboards.history_limit
    dashboards.trash_retention shares.default_ttl shares.max_ttl
    shares.url_prefix audit.retention);

sub key_line {
	my ($out, $key) = @_;
	my ($l) = $out =~ /^(\s*\Q$key\E\s*[:=].*)$/m;
	return $l;
}

subtest 'a good file: every key, sources, password masked' => sub {
	my ($rc, $out, $err) = $t->run_dashcgi('check-config');
	is($rc, 0, 'exit 0') or diag $err;
	for my $k (@KEYS) {
		ok(defined key_line($out, $k), "prints $k");
	}
	unlike("$out$err", qr/file-s3cret-pw/, 'the password is not shown');
	like(key_line($out, 'database.password') // '', qr/\*/,
	    'database.password is shown masked');
	like(key_line($out, 'workers') // '', qr/\b2\b.*dashcgi\.yaml/,
	    'workers: value and its file as the source');
	like(key_line($out, 'database.name') // '', qr/dashcgi\.yaml:\d+:\d+/,
	    'file source carries line:col');
	like(key_line($out, 'audit.retention') // '', qr/default/,
	    'an unset key says it is the default');
};

subtest 'environment overrides are shown with their source' => sub {
	my ($rc, $out, $err) = $t->run_dashcgi({ env => {
	    DB_HOST => 'db.example.internal', DB_MAX_OPEN_CONNS => '7',
	    DB_QUERY_TIMEOUT => '45s' } }, 'check-config');
	is($rc, 0, 'exit 0') or diag $err;
	like(key_line($out, 'database.host') // '',
	    qr/db\.example\.internal.*DB_HOST/, 'database.host from DB_HOST');
	like(key_line($out, 'workers') // '', qr/\b7\b.*DB_MAX_OPEN_CONNS/,
	    'workers from DB_MAX_OPEN_CONNS');
	like(key_line($out, 'database.statement_timeout') // '',
	    qr/DB_QUERY_TIMEOUT/, 'statement_timeout from DB_QUERY_TIMEOUT');

	($rc, $out, $err) = $t->run_dashcgi({ env => { DATABASE_URL =>
	    'postgresql://dash:url-s3cret@db.example:5432/dashcgi' } },
	    'check-config');
	is($rc, 0, 'DATABASE_URL: exit 0') or diag $err;
	unlike("$out$err", qr/url-s3cret/, 'the password in DATABASE_URL is masked');
	like(key_line($out, 'database.url') // '', qr/db\.example.*DATABASE_URL/,
	    'database.url from DATABASE_URL, host still visible');
};

subtest 'bad files: exit 2 with file:line:col' => sub {
	my @cases = (
		[ "listen: \"unix:/tmp/x.sock\"\nsocket_mode: \"0660\"\nworkers: four\n",
		    qr/dashcgi\.yaml:3:\d+:.*workers/, 'workers: four' ],
		[ "workers: 2\nwrokers: 3\n",
		    qr/dashcgi\.yaml:2:\d+:.*wrokers/, 'unknown key' ],
		[ "workers: 2\ndatabase:\n  port: 99999999\n",
		    qr/dashcgi\.yaml:3:\d+:.*port/, 'port out of range' ],
		[ "workers: 2\nshutdown_timeout: 10 parsecs\n",
		    qr/dashcgi\.yaml:2:\d+:.*shutdown_timeout/, 'bad duration' ],
		[ "workers: 2\nlog: {level: loud}\n",
		    qr/dashcgi\.yaml:2:\d+:.*level/, 'bad log level' ],
		[ "workers: [2\nmax_body: 1KiB\n",
		    qr/dashcgi\.yaml:\d+:\d+:/, 'YAML syntax error' ],
	);
	for my $c (@cases) {
		$t->write_config_raw($c->[0]);
		my ($rc, $out, $err) = $t->run_dashcgi('check-config');
		is($rc, 2, "$c->[2]: exit 2");
		like($err, $c->[1], "$c->[2]: the message names file:line:col and the key")
		    or diag "stderr: $err";
	}
	my ($rc, $out, $err) = $t->run_dashcgi({ no_config => 1 }, '-c',
	    $t->tmpdir . '/does-not-exist.yaml', 'check-config');
	is($rc, 2, 'missing file: exit 2');
	like($err, qr/does-not-exist\.yaml/, 'missing file: named');
	$t->write_config;
};

subtest 'version, help, unknown command' => sub {
	for my $v ('version', '--version') {
		my ($rc, $out) = $t->run_dashcgi({ no_config => 1 }, $v);
		is($rc, 0, "$v: exit 0");
		like($out, qr/^dashcgi \d+\.\d+\.\d+\s*$/, "$v: prints dashcgi X.Y.Z");
	}
	my ($rc, $out, $err) = $t->run_dashcgi({ no_config => 1 }, '--help');
	is($rc, 0, '--help: exit 0');
	like($out, qr/check-config/, '--help: lists the commands');
	($rc, $out, $err) = $t->run_dashcgi('frobnicate');
	is($rc, 2, 'unknown command: exit 2');
	like($err, qr/frobnicate/, 'unknown command: named');
	($rc, $out, $err) = $t->run_dashcgi('migrate', 'sideways');
	is($rc, 2, 'unknown migrate subcommand: exit 2');
};

done_testing;
